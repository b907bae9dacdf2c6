# Control-plane commits that never stop the data plane (included by engine.pyx).
#
# Chosen scheme: two copies of everything the control plane writes (side_t: table entries and
# their match structures, defaults, action profiles, multicast groups, clone sessions, value
# sets), published by an atomic pointer swap, with epoch-based grace periods (RCU style); the
# "left-right" pattern. Why not per-entry atomic publishing: one P4Runtime Write must become
# visible to every worker at once (DATAPLANE_ATOMIC), which per-entry stores cannot give, and
# the structures (hash tables that rehash, DIR-24-8 tbl8 groups, ternary groups, record pools
# that move when they grow) would each need their own lock-free protocol. With two copies each
# structure stays single-threaded code: the workers only ever read the live copy, the control
# plane only ever changes the other one.
#
# Workers: a batch starts by making its worker's epoch odd (a compare-and-swap, sequentially
# consistent) and then loading the live pointer; it ends by making the epoch even again. The
# batch reads only the copy it loaded. No lock is taken; nothing waits on the control plane.
# (The compare-and-swap also keeps a second thread from running the same worker context at
# once, e.g. Pipeline.process() beside an engine loop on worker 0: that one waits.)
#
# Control plane (Pipeline.begin_write / commit; Switch._engine_write is the one caller):
#   begin:  wait until every worker that was inside a batch when the last commit swapped has
#           left it (a grace period: nobody can still read the old copy), then replay the last
#           commit's logged operations into the old copy, so both copies are equal again;
#   write:  every operation is applied to the standby copy and appended to the log;
#   commit: swap the live pointer (sequentially consistent store), note each worker's epoch.
# A replay that fails (out of memory on this copy) keeps the operations not finished for the
# next begin and opens no section: that write is refused, nothing is published, and the copies
# become equal once memory allows (every operation may run twice: each either changes nothing
# when it fails or sets values). Entry ids a section deletes are reused only after it is
# published (target/entries.py): the direct counters are shared by both copies, and workers
# still on the old copy count into the old entry's cells until the grace period ends.
# The grace period and the replay are deferred to the next begin: a lone Write returns as soon
# as it is published, and by the next one the workers have long passed a quiescent state. A
# worker whose epoch is even at the swap needs no waiting: its next batch loads the new
# pointer (the two sequentially consistent operations order the swap and the epoch).
#
# Pausing (Pipeline.lock / unlock) is kept for the rare changes that are not data but the way
# a batch runs (attaching native code, turning the per-packet log on or off): those must not
# change in the middle of a batch. lock() raises a flag that a worker checks right after
# announcing its batch (it steps back and waits), and waits for the batches under way to end.
# Table writes never pause anyone.
#
# The cost: memory for two copies of every table (a 512k-route DIR-24-8 table: two 64 MiB
# tbl24 arrays), and control-plane CPU for applying each operation twice. And each commit moves
# the workers to the other copy: what they had cached of the copy they leave is no help there.
# Measured per batch (bench/reload.py) that was the reload's loss: the 100 batches after each
# publish ran slow (the first ~4x), the others no slower while the writer ran. Most of it was
# the DIR-24-8 table's tbl24: under the VM's nested paging, the address translations for the
# other copy's 64 MiB had gone cold, a page walk per lookup until warm again. So a table's two
# tbl24 arrays share their pages, interleaved by half pages (lpm_dir24.dir24_pair): whichever
# copy a worker reads, the same pages and translations serve it. The rest of the loss (the
# other batches ~13 % slower while the writer ran) was the writer remapping pages under the
# workers: a fresh calloc'd page that a probe reads is mapped to the kernel's zero page, and the
# store after it remaps the page with a TLB flush on every CPU running the process, an
# interrupt to each worker per 4 KiB (perf: ~4,700 in a 512k reload). So memory the control
# plane grows is written before it is read (written_zeros.pxd) and a cleared table keeps
# its rule tables; a reload now forwards at idle speed. Counters, registers and meters are
# not copied: registers and meters keep their cells (spinlocks), counters their cells per
# worker (counters.pxi); direct counters (their control-plane base and the workers' cells)
# and hit times are arrays indexed by entry id, shared by both copies.

cdef extern from *:
    """
    #include <sched.h>
    #include <time.h>
    static inline void kv_epoch_enter(uint64_t *epoch) {
        uint64_t e = __atomic_load_n(epoch, __ATOMIC_RELAXED);
        unsigned spins = 0;
        for (;;) {
            if (!(e & 1) && __atomic_compare_exchange_n(epoch, &e, e + 1, 0, __ATOMIC_SEQ_CST,
                                                        __ATOMIC_RELAXED))
                return;
            if (++spins > 64) sched_yield();
    #if defined(__x86_64__) || defined(__i386__)
            else __builtin_ia32_pause();
    #endif
            e = __atomic_load_n(epoch, __ATOMIC_RELAXED);
        }
    }
    /* Leave the batch just entered when the pipeline is paused, wait for the pause to end
       and enter again; 0 when there was no pause. */
    static inline int kv_epoch_paused(uint64_t *epoch, int *paused) {
        struct timespec ts = {0, 50000};
        if (!__atomic_load_n(paused, __ATOMIC_SEQ_CST)) return 0;
        __atomic_store_n(epoch, __atomic_load_n(epoch, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(paused, __ATOMIC_ACQUIRE)) nanosleep(&ts, NULL);
        return 1;
    }
    static inline void kv_pause_set(int *paused, int v) { __atomic_store_n(paused, v, __ATOMIC_SEQ_CST); }
    static inline void kv_epoch_leave(uint64_t *epoch) {
        __atomic_store_n(epoch, __atomic_load_n(epoch, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
    }
    static inline uint64_t kv_epoch_read(const uint64_t *epoch) {
        return __atomic_load_n(epoch, __ATOMIC_SEQ_CST);
    }
    static inline void *kv_load_live(void **p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
    static inline void kv_store_live(void **p, void *v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
    /* Wait for an epoch to move on: spin briefly (a batch is tens of microseconds), then
       yield, then sleep 20 us at a time so a descheduled worker gets the CPU. */
    static inline void kv_epoch_wait(const uint64_t *epoch, uint64_t seen) {
        unsigned spins = 0;
        struct timespec ts = {0, 20000};
        while (__atomic_load_n(epoch, __ATOMIC_ACQUIRE) == seen) {
            spins++;
            if (spins < 256) {
    #if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
    #endif
            } else if (spins < 512) {
                sched_yield();
            } else {
                nanosleep(&ts, NULL);
            }
        }
    }
    """
    void kv_epoch_enter(uint64_t *epoch) noexcept nogil
    void kv_epoch_leave(uint64_t *epoch) noexcept nogil
    int kv_epoch_paused(uint64_t *epoch, int *paused) noexcept nogil
    void kv_pause_set(int *paused, int v) noexcept nogil
    uint64_t kv_epoch_read(const uint64_t *epoch) noexcept nogil
    void *kv_load_live(void **p) noexcept nogil
    void kv_store_live(void **p, void *v) noexcept nogil
    void kv_epoch_wait(const uint64_t *epoch, uint64_t seen) noexcept nogil


cdef inline void worker_enter(Pipeline pl, worker_t *wk) noexcept nogil:
    """Start of a batch: announce it (odd epoch), then take the live copy for its duration."""
    kv_epoch_enter(&wk.epoch)
    while kv_epoch_paused(&wk.epoch, &pl.paused):
        kv_epoch_enter(&wk.epoch)
    wk.st = <side_t *>kv_load_live(<void **>&pl.live)
    wk.last_st = wk.st


cdef inline void worker_leave(worker_t *wk) noexcept nogil:
    """End of a batch: a quiescent state (even epoch); the batch holds nothing any more."""
    wk.st = NULL
    kv_epoch_leave(&wk.epoch)


cdef void pause_workers(Pipeline pl) noexcept nogil:
    """Keep batches out until resume_workers(): wait for those under way (Pipeline.lock)."""
    cdef uint32_t k
    cdef uint64_t e
    kv_pause_set(&pl.paused, 1)
    for k in range(pl.n_workers):
        e = kv_epoch_read(&pl.workers[k].epoch)
        if e & 1:
            kv_epoch_wait(&pl.workers[k].epoch, e)


cdef void resume_workers(Pipeline pl) noexcept nogil:
    kv_pause_set(&pl.paused, 0)


cdef void grace_wait(Pipeline pl) noexcept nogil:
    """Return once no worker can still read the copy the last commit replaced."""
    cdef uint32_t k
    for k in range(pl.n_grace):
        if pl.grace_epochs[k] & 1:
            kv_epoch_wait(&pl.workers[k].epoch, pl.grace_epochs[k])
    pl.n_grace = 0


def _matcher_call(Pipeline pl, int side, uint32_t table, str name, tuple args):
    """A logged match-structure operation, applied to one side's structure. (The log names
    the table by index: holding a TableMatchers would make the Pipeline refer to itself.)"""
    return getattr(pl.pairs[table][side], name)(*args)


cdef class TableMatchers:
    """A table's two match structures, one per copy (ExactTable, Dir24Lpm, LpmTable or
    TernaryTable). Changes go to the control plane's side through the commit log; lookups
    from the control plane read that side too (the live one outside a write)."""

    cdef readonly Pipeline pl
    cdef readonly uint32_t table
    cdef readonly tuple sides

    def __init__(self, Pipeline pl, uint32_t table):
        self.pl = pl
        self.table = table
        self.sides = pl.pairs[table]

    def writer(self):
        """The structure a write section changes (bulk code applying C operations to it must
        log them with Pipeline.log_matcher_ops)."""
        if not self.pl.writing:
            raise RuntimeError("not inside a write section (Pipeline.begin_write)")
        return self.sides[self.pl.wside]

    def reader(self):
        return self.sides[self.pl.rside()]

    def add(self, *args):
        return self.pl._write(_matcher_call, (self.table, "add", args))

    def replace(self, *args):
        return self.pl._write(_matcher_call, (self.table, "replace", args))

    def delete(self, *args):
        return self.pl._write(_matcher_call, (self.table, "delete", args))

    def clear(self):
        return self.pl._write(_matcher_call, (self.table, "clear", ()))

    def get(self, *args):
        return self.sides[self.pl.rside()].get(*args)

    def __len__(self) -> int:
        return len(self.sides[self.pl.rside()])

    def __getattr__(self, name: str):
        # Everything else a structure offers reads it (lookups, statistics, memory figures).
        return getattr(self.sides[self.pl.rside()], name)
