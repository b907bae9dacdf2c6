# Counters per worker, summed when read (included by engine.pyx).
#
# Every worker adds to cells of its own (worker_t.counter_cells, worker_t.entry_cells) with
# plain adds: no atomic instruction, and no cache line that two workers write (each array is
# allocated on lines of its own), so a counter every packet touches (a per-port counter, a
# popular route's direct counter) costs the same with N workers as with one.
#
# A read is the control plane's base (counter_t.cells, table_t.entry_counters) plus every
# worker's cell, each 64-bit cell loaded whole: exact, and never torn, because only its own
# worker ever stores into a cell. A write (counter_set, a P4Runtime counter write, an entry
# id reused or reset) never stores into a worker's cell, which would race with that worker's
# add and lose it: it sets the base to the wanted value minus the workers' sum at that moment
# (modulo 2^64). A packet a worker counts while the sum is taken lands either before the read
# of its cell (cancelled by the base, so before the write) or after it (counted after the
# write): none is lost or counted twice. The bases belong to the control plane alone.
#
# Memory: 16 bytes per index or entry id and per worker, plus the base; a table's direct
# counters are sized for every entry id it may hand out (table_t.id_limit). The workers'
# cells are written at allocation (cells_alloc says why), the base is filled by the kernel as
# ids come into use: a table of 512k entries takes 8 MiB per worker at load, and up to 8 MiB
# of base (p4src/router.p4's ipv4_lpm, declared for 1M: 16 MiB per worker).

cdef extern from *:
    """
    /* A worker's add to its own cell: a relaxed load and store (plain instructions on every
       CPU kvick runs on), so that the compiler neither tears nor caches the cell that the
       control plane reads at the same time. */
    static inline void kv_count_own(uint64_t *cell, uint64_t v) {
        __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
    }
    static inline uint64_t kv_cell_load(const uint64_t *cell) {
        return __atomic_load_n(cell, __ATOMIC_RELAXED);
    }
    """
    void kv_count_own(uint64_t *cell, uint64_t v) noexcept nogil
    uint64_t kv_cell_load(const uint64_t *cell) noexcept nogil


cdef uint64_t *cells_alloc(size_t ncells) noexcept nogil:
    """ncells zeroed 64-bit cells, 64-byte aligned and padded to whole cache lines (so that no
    other worker's data shares a line); 2 MiB and more: a mapping of its own advised for huge
    pages (chelpers.pxi). Written at once, not left to the kernel to fill as touched: a
    worker's first count of a route would otherwise take a page fault, and a page the control
    plane read first (summing the cells of an entry id taken anew) would be the shared zero
    page, whose remapping at the worker's store flushes the TLB of every CPU running the
    process (commit.pxi)."""
    cdef size_t nbytes = (ncells * sizeof(uint64_t) + 63) & ~(<size_t>63)
    cdef void *p = grow_aligned(NULL, 0, nbytes)
    if p != NULL:
        memset(p, 0, nbytes)
    return <uint64_t *>p


cdef void cells_free(uint64_t *p, size_t ncells) noexcept nogil:
    free_aligned(p, (ncells * sizeof(uint64_t) + 63) & ~(<size_t>63))


cdef int worker_cells_fill(Pipeline pl, worker_t *w) noexcept nogil:
    """Allocate w's cells for every counter and every table with direct counters the program
    has so far (the builder sets them up one by one, workers are added later); -1 when out of
    memory. Only while w runs no batch."""
    cdef uint32_t i
    cdef table_t *t
    if w.counter_cells == NULL:
        w.counter_cells = <uint64_t **>calloc(max(1, pl.n_counters), sizeof(uint64_t *))
    if w.entry_cells == NULL:
        w.entry_cells = <uint64_t **>calloc(max(1, pl.n_tables), sizeof(uint64_t *))
    if w.counter_cells == NULL or w.entry_cells == NULL:
        return -1
    for i in range(pl.n_counters):
        if w.counter_cells[i] == NULL and pl.counters[i].cells != NULL:
            w.counter_cells[i] = cells_alloc(2 * <size_t>max(1, pl.counters[i].size))
            if w.counter_cells[i] == NULL:
                return -1
    for i in range(pl.n_tables):
        t = &pl.sides[0].tables[i]
        if w.entry_cells[i] == NULL and t.with_counters and t.id_limit:
            w.entry_cells[i] = cells_alloc(2 * <size_t>t.id_limit)
            if w.entry_cells[i] == NULL:
                return -1
    return 0


cdef void worker_cells_free(Pipeline pl, worker_t *w) noexcept nogil:
    """Free what worker_cells_fill allocated (before the tables go: their sizes are needed)."""
    cdef uint32_t i
    if w.counter_cells != NULL:
        for i in range(pl.n_counters):
            if w.counter_cells[i] != NULL:
                cells_free(w.counter_cells[i], 2 * <size_t>max(1, pl.counters[i].size))
        free(w.counter_cells)
        w.counter_cells = NULL
    if w.entry_cells != NULL:
        for i in range(pl.n_tables):
            if w.entry_cells[i] != NULL:
                cells_free(w.entry_cells[i], 2 * <size_t>pl.sides[0].tables[i].id_limit)
        free(w.entry_cells)
        w.entry_cells = NULL


# Packets and bytes are two cells, each read whole, but not at the same instant: a worker
# counting a packet between the two loads makes bytes include a packet that packets does not
# (normally none or one per worker; more if this thread is preempted between them). Each value
# is exact as of its own load; making the pair one snapshot would need a lock or a sequence
# count on the per-packet path, which is what per-worker cells are there to avoid.

cdef inline void workers_sum(Pipeline pl, uint32_t i, bint entries, size_t at,
                             uint64_t *out) noexcept nogil:
    """The packets and bytes every worker counted at cell pair `at` of indexed counter i, or
    (entries) of table i's direct counters."""
    cdef uint32_t k
    cdef uint64_t *cell
    out[0] = 0
    out[1] = 0
    for k in range(pl.n_workers):
        cell = (pl.workers[k].entry_cells[i] if entries else pl.workers[k].counter_cells[i]) + at
        out[0] += kv_cell_load(cell)
        out[1] += kv_cell_load(cell + 1)


cdef inline void counter_sum(Pipeline pl, uint32_t ci, uint32_t index, uint64_t *out) noexcept nogil:
    """Indexed counter ci's packets and bytes at index: base plus every worker's cells."""
    workers_sum(pl, ci, False, 2 * <size_t>index, out)
    out[0] += pl.counters[ci].cells[2 * index]
    out[1] += pl.counters[ci].cells[2 * index + 1]


cdef inline void counter_rebase(Pipeline pl, uint32_t ci, uint32_t index, uint64_t packets,
                                uint64_t nbytes) noexcept nogil:
    """Make counter ci's index read (packets, nbytes) from now on: its base moves, the
    workers' cells are left to their workers."""
    cdef uint64_t counted[2]
    workers_sum(pl, ci, False, 2 * <size_t>index, counted)
    pl.counters[ci].cells[2 * index] = packets - counted[0]
    pl.counters[ci].cells[2 * index + 1] = nbytes - counted[1]


cdef inline void entry_counter_sum(Pipeline pl, uint32_t ti, uint32_t eid, uint64_t *out) noexcept nogil:
    """Table ti's direct counter of entry id eid: base plus every worker's cells."""
    cdef table_t *t = &pl.sides[0].tables[ti]
    out[0] = 0
    out[1] = 0
    if t.with_counters:
        workers_sum(pl, ti, True, 2 * <size_t>eid, out)
    out[0] += t.entry_counters[2 * <size_t>eid]
    out[1] += t.entry_counters[2 * <size_t>eid + 1]


cdef inline void entry_counter_rebase(Pipeline pl, uint32_t ti, uint32_t eid, uint64_t packets,
                                      uint64_t nbytes) noexcept nogil:
    """Make entry eid's direct counter read (packets, nbytes) from now on (0, 0 for an entry
    id taken anew): as counter_rebase."""
    cdef table_t *t = &pl.sides[0].tables[ti]
    cdef uint64_t counted[2]
    counted[0] = 0
    counted[1] = 0
    if t.with_counters:
        workers_sum(pl, ti, True, 2 * <size_t>eid, counted)
    # stored, not added to: the base of an id never used yet is a page nobody has read
    t.entry_counters[2 * <size_t>eid] = packets - counted[0]
    t.entry_counters[2 * <size_t>eid + 1] = nbytes - counted[1]
