# Longest-prefix match for 32-bit keys, DIR-24-8 style (Gupta, Lin, McKeown 1998; DPDK rte_lpm)
# with cache-resident directories (tbl19, tbl18) and range chunks in front of it.
#
# tbl18: 2^18 entries (1 MiB, stays in L2), one per /18 (64 tbl24 entries). When a /18 is
#   uniform, tbl18 holds its answer and answers the whole /18 without touching tbl24 (uniform:
#   every address has the same answer; the entry is VALID | value, or 0 for a miss; without
#   range chunks it is derived from the /18's two tbl19 codes). Otherwise it holds DIR24_EXTENDED with a range chunk
#   in its other bits (lpm_range.h): the /18's runs of equal answers, sorted by first address,
#   one to three cache lines (4.8 MiB in all for the real 2014 table, 512k routes).
#   dir24_lookup reads tbl18 and, for the 27 % of routed addresses in non-uniform /18s, ranks
#   the address among its chunk's run starts (one SIMD compare) and reads the run's answer,
#   from about 5 MiB instead of tbl24's 64. A /18 with more than 256 runs has no chunk
#   (class 0) and is answered from tbl24/tbl8. tbl18 and the chunks are derived from
#   tbl24/tbl8 after every update (each /18 touched is rebuilt). Chunks are opt-in (Dir24Lpm
#   ranges=True): on the project's 2-core VM they were slower than tbl24 (bench/lpm.py), so
#   tables without them (the engine's) keep tbl18's cheaper refresh and every non-uniform /18
#   is class 0.
#   Three ways answer the same: dir24_lookup (tbl18 + chunks), dir24_lookup_tbl18 (tbl18, then
#   tbl24/tbl8: the previous lookup) and dir24_lookup_tbl24 (DIR-24-8 alone). The engine uses
#   dir24_lookup_tbl24: it prefetches each packet's tbl24 entry a stage before the lookup, so
#   the miss is already hidden, and reading tbl18 there only adds a load.
#
# tbl19: the default directory (way "tbl19"), beside tbl18. 2^19 16-bit leaf codes, one per /19
#   (32 tbl24 entries), 1 MiB, and the leaf table they index (code -> entry, 4 B each, 180 KiB
#   for the real 2014 table). Code 0 is a miss, DIR24_TBL19_EXTENDED (0xFFFF) sends the lookup
#   to tbl24/tbl8, any other code names a leaf: the entry every address of the /19 has (depth
#   bits cleared). Half the bits per entry buys the finer /19 grain in the same 1 MiB: it
#   answers 81 % of the real table's routed addresses (tbl18: 73 %), and with the leaf table it
#   still fits this machine's L2 (about 1.5 MiB usable), so fewer lookups pay a tbl24 miss.
#   Leaf codes are shared by every /19 with the same entry (46k distinct ones in the real
#   table) and reference counted; when all 65,534 are taken, a /19 gets DIR24_TBL19_EXTENDED
#   (slower, never wrong). A freed code is reused only when no fresh one is left, oldest
#   first, and not before DIR24_LEAF_QUARANTINE_MS: a reader that loaded it before it was
#   freed may still read its leaf (tbl8 groups are reused sooner: a group is refilled with the
#   same /24's answers, a leaf with another /19's).

# Behind it, two arrays answer a lookup with at most two more memory loads:
# - tbl24: 2^24 entries indexed by the top 24 bits of the address. An entry either holds the
#   answer for the whole /24 or points at a tbl8 group. The engine's two copies of a table
#   (dir24_pair) interleave their tbl24 arrays by half pages in one mapping: entry i is at
#   dir24_i24(t, i), which is i for a table alone.
# - tbl8: groups of 256 entries, one group per /24 that holds a prefix longer than /24, indexed
#   by the low 8 bits of the address.
# The arrays are derived from the rules table (one hash table per prefix length), which is the
# truth: deleting a prefix rewrites the entries it owned with the next-shorter covering rule.
#
# Entry layout (one uint32_t, the same in tbl24 and tbl8):
#
#   bit 31..26  depth     prefix length (0..32) of the rule that wrote the entry; unused when
#                         EXTENDED is set. Updates use it to tell whose entry this is: a rule of
#                         length d overwrites entries of length <= d and, on delete, only the
#                         entries of length exactly d inside its range.
#   bit 25      EXTENDED  tbl24 only: bits 23..0 are a tbl8 group index. Never set in tbl8.
#   bit 24      VALID     the entry holds an answer (or, with EXTENDED, a group); 0 = miss.
#   bit 23..0   value     the rule's value (a table entry id, < 2^24), or the group index.
#
# An all-zero entry is a miss, so fresh zeroed memory is an empty table.
#
# Concurrency: one writer, any number of readers on other cores, no locks.
# - Every entry is written with one aligned 32-bit atomic store, so a reader sees the old or the
#   new entry, never a mix.
# - A new tbl8 group is completely filled before the tbl24 entry that points at it is stored
#   (release order), so a reader that follows the pointer finds a whole group.
# - A group that becomes unused is not zeroed (a reader that loaded the old tbl24 entry may still
#   read it) and is not handed out again during the same update; it becomes reusable at the next
#   update. (The engine goes further: it keeps two copies of each table and only ever changes
#   the one no worker reads, engine commit.pxi; these rules make a single copy safe too.)
#   Range chunks follow the same rules (lpm_range.h).
# - tbl8 memory never moves: its whole address range is reserved up front and committed in
#   chunks as groups are needed, so growing the pool never invalidates a reader's pointer.
# - tbl18 is stored after the tbl24 entries and the chunk it summarises (release order): a
#   reader that sees the new tbl18 entry sees the tbl24 entries and chunk behind it; one that
#   sees the old entry gets the answer from before the update.
# - A tbl19 code is stored after its leaf entry and the tbl24 entries it summarises (release).
# Readers load entries with relaxed atomic loads; the tbl24 and tbl8 loads depend on the value
# loaded before them (address dependency), which orders them on every CPU the project targets.

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "pipeline/lpm_range.h" nogil:
    ctypedef struct kv_rng_bases_t:
        pass
    ctypedef struct kv_rng_t:
        kv_rng_bases_t bases
        uint32_t chunks[8]
    ctypedef void (*kv_rng_bulk_fn)(const kv_rng_bases_t *, const uint32_t *, const uint32_t *,
                                    const uint32_t *, const uint32_t *, int64_t *, int) noexcept
    enum:
        KV_RNG_CLASSES
    const kv_rng_bases_t kv_rng_no_chunks
    int64_t kv_rng_lookup(const kv_rng_bases_t *b, const uint32_t *tbl18, const uint32_t *tbl24,
                          const uint32_t *tbl8, uint32_t addr) noexcept
    uint32_t kv_rng_now_ms() noexcept
    kv_rng_bulk_fn kv_rng_select(const char *isa, const char **chosen) noexcept
    kv_rng_t *kv_rng_new() noexcept
    void kv_rng_free(kv_rng_t *r) noexcept
    void kv_rng_begin(kv_rng_t *r) noexcept
    void kv_rng_reset(kv_rng_t *r) noexcept
    size_t kv_rng_bytes(const kv_rng_t *r) noexcept
    int kv_rng_refresh(kv_rng_t *r, uint32_t *tbl18, const uint32_t *tbl24,
                       const uint32_t *tbl8, uint32_t j) noexcept


cdef extern from *:
    """
    static inline uint32_t kv_dir24_load(const uint32_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline void kv_dir24_store(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELAXED);
    }
    static inline void kv_dir24_publish(uint32_t *p, uint32_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline uint32_t kv_dir24_load16(const uint16_t *p) {
        return __atomic_load_n(p, __ATOMIC_RELAXED);
    }
    static inline void kv_dir24_publish16(uint16_t *p, uint16_t v) {
        __atomic_store_n(p, v, __ATOMIC_RELEASE);
    }
    static inline void kv_dir24_prefetch(const void *p) {
        /* Locality 3 (prefetcht0), not 0: prefetchnta fills L1 only and the line was often
           gone again by the time the lookup 64 addresses later read it, which made the bulk
           lookup slower than one at a time (92 vs 118 M/s on the real table). */
        __builtin_prefetch(p, 0, 3);
    }
    """
    uint32_t kv_dir24_load(const uint32_t *p) noexcept nogil
    void kv_dir24_store(uint32_t *p, uint32_t v) noexcept nogil
    void kv_dir24_publish(uint32_t *p, uint32_t v) noexcept nogil
    void kv_dir24_prefetch(const void *p) noexcept nogil
    uint32_t kv_dir24_load16(const uint16_t *p) noexcept nogil
    void kv_dir24_publish16(uint16_t *p, uint16_t v) noexcept nogil


cdef enum:
    DIR24_VALUE_MASK = 0x00FFFFFF
    DIR24_VALID = 0x01000000
    DIR24_EXTENDED = 0x02000000
    DIR24_DEPTH_SHIFT = 26
    DIR24_TBL24_ENTRIES = 1 << 24
    DIR24_TBL18_ENTRIES = 1 << 18
    DIR24_TBL18_SPAN = 64           # tbl24 entries one tbl18 entry summarises
    DIR24_GROUP_ENTRIES = 256       # entries in one tbl8 group
    DIR24_MAX_GROUPS = 1 << 24      # a group index must fit the 24-bit value field
    DIR24_MAX_DEPTH = 32
    DIR24_TBL19_ENTRIES = 1 << 19
    DIR24_TBL19_SPAN = 32           # tbl24 entries one tbl19 code summarises
    DIR24_TBL19_EXTENDED = 0xFFFF   # tbl19 code: look in tbl24/tbl8
    DIR24_LEAF_CODES = 0xFFFF       # codes 0 .. 0xFFFE; 0 is the miss, never handed out
    DIR24_LEAF_QUARANTINE_MS = 100  # a freed leaf code is not reused sooner


cdef enum:
    # The engine's two copies of a table (commit.pxi) share one tbl24 mapping, interleaved by
    # half pages: 512 entries (2 KiB) of the first, then 512 of the second, and so on, so that
    # entry i of either copy is in the same 4 KiB page (dir24_pair). Why: a worker moves to
    # the other copy at every commit; with two separate 64 MiB arrays, its address
    # translations for that copy had gone cold meanwhile (under nested paging a page walk per
    # lookup until they are warm again: 0.3-0.5 ms of forwarding lost per commit, measured
    # with bench/reload.py), while both copies in the same pages keep them warm.
    DIR24_PAIR_ENTRIES = 512        # entries of one copy in a row (half of a 4 KiB page)
    DIR24_PAIR_MASK = 0xFFFFFE00    # ~(DIR24_PAIR_ENTRIES - 1)


cdef struct dir24_rule_t:
    uint32_t prefix                 # network address, host bits zero
    uint32_t value                  # the rule's value | DIR24_RULE_USED; 0 = empty slot

cdef enum:
    DIR24_RULE_USED = 0x80000000

cdef struct dir24_rules_t:
    # The rules of one prefix length: open addressing, linear probing, backward-shift delete.
    dir24_rule_t *slots             # capacity slots, NULL while capacity is 0
    uint32_t capacity               # 0 or a power of two
    uint32_t count                  # used slots; kept <= 70 % of capacity

cdef struct dir24_t:
    # Read by lookups (hot):
    uint32_t *tbl18                 # DIR24_TBL18_ENTRIES entries, indexed by addr >> 14
    uint32_t *tbl24                 # DIR24_TBL24_ENTRIES entries, indexed by addr >> 8
    uint32_t *tbl8                  # group g occupies tbl8[g * 256 .. g * 256 + 255]
    uint32_t tbl24_pair             # 0, or DIR24_PAIR_MASK for one of a pair (dir24_i24)
    const kv_rng_bases_t *rng_bases # where the range chunks named by tbl18 are (lpm_range.h)
    # Written and read by the single writer only:
    uint32_t tbl8_committed         # groups with memory behind them; tbl8_limit are reserved
    uint32_t tbl8_limit             # the pool never grows past this many groups
    uint32_t tbl8_high              # groups handed out at least once: ids [0, tbl8_high)
    uint32_t tbl8_in_use            # groups a tbl24 entry points at
    uint32_t *tbl8_free             # stack of reusable group ids (room for tbl8_committed)
    uint32_t tbl8_nfree
    int64_t tbl8_limbo              # group freed by the current update, -1 if none
    uint64_t rule_count             # rules over all prefix lengths
    size_t tbl18_map_bytes          # bytes mapped for tbl18 (for munmap)
    size_t tbl24_map_bytes          # bytes mapped for tbl24 (for munmap)
    size_t tbl8_map_bytes           # bytes reserved for tbl8 (for munmap)
    dir24_rules_t rules[33]         # rules[d]: the rules of prefix length d
    kv_rng_t *rng                   # the range chunk pool and its allocator; NULL: no chunks
    # tbl19 and its leaf table (appended: native_abi.h mirrors the struct's start). Read by
    # lookups:
    uint16_t *tbl19                 # DIR24_TBL19_ENTRIES leaf codes, indexed by addr >> 13
    uint32_t *leaf                  # DIR24_LEAF_CODES entries: code -> entry
    # The leaf codes' allocator (writer only):
    size_t tbl19_map_bytes          # bytes mapped for tbl19 and leaf (one mapping)
    dir24_rules_t leaf_index        # entry -> code | DIR24_RULE_USED, for codes in use
    uint32_t *leaf_refs             # code -> tbl19 codes naming it (0: free)
    uint32_t leaf_high              # codes handed out at least once: 1 .. leaf_high - 1
    uint16_t *leaf_freed            # codes no /19 names, oldest first (a ring of 2^16)
    uint32_t *leaf_freed_ms         # when each was freed (kv_rng_now_ms)
    uint32_t leaf_freed_head
    uint32_t leaf_freed_count


cdef inline size_t dir24_i24(const dir24_t *t, uint32_t i) noexcept nogil:
    """Where tbl24 entry i (the /24 i) is: i for a table alone; for one of a pair, i plus
    the other copy's half pages before it (its tbl24 pointer is offset to its own halves)."""
    return <size_t>i + (i & t.tbl24_pair)


cdef inline int64_t dir24_lookup(const dir24_t *t, uint32_t addr) noexcept nogil:
    """The value of the longest prefix containing addr, or -1 if none does: tbl18, then the
    /18's range chunk (or tbl24/tbl8 for a /18 without one)."""
    if t.tbl24_pair:
        return dir24_lookup_tbl18(t, addr)      # a pair's tables have no chunks
    return kv_rng_lookup(t.rng_bases, t.tbl18, t.tbl24, t.tbl8, addr)


cdef inline int64_t dir24_lookup_tbl18(const dir24_t *t, uint32_t addr) noexcept nogil:
    """dir24_lookup through tbl18 and tbl24/tbl8, without range chunks (the same result; the
    previous lookup, kept for comparisons)."""
    cdef uint32_t e = kv_dir24_load(&t.tbl18[addr >> 14])
    if e & DIR24_EXTENDED:
        e = kv_dir24_load(&t.tbl24[dir24_i24(t, addr >> 8)])
        if e & DIR24_EXTENDED:
            e = kv_dir24_load(&t.tbl8[(<size_t>(e & DIR24_VALUE_MASK) << 8) | (addr & 0xFF)])
    # Branch-free miss: (VALID >> 24) - 1 is 0 for a hit and -1 (all ones) for a miss.
    return <int64_t>(e & DIR24_VALUE_MASK) | (<int64_t>((e & DIR24_VALID) >> 24) - 1)


cdef inline int64_t dir24_lookup_tbl19(const dir24_t *t, uint32_t addr) noexcept nogil:
    """The value of the longest prefix containing addr, or -1: the /19's leaf code names the
    answer, or sends the lookup to tbl24/tbl8 (the default way for tables without chunks)."""
    cdef uint32_t c = kv_dir24_load16(&t.tbl19[addr >> 13])
    cdef uint32_t e
    if c == DIR24_TBL19_EXTENDED:
        e = kv_dir24_load(&t.tbl24[dir24_i24(t, addr >> 8)])
        if e & DIR24_EXTENDED:
            e = kv_dir24_load(&t.tbl8[(<size_t>(e & DIR24_VALUE_MASK) << 8) | (addr & 0xFF)])
    else:
        e = kv_dir24_load(&t.leaf[c])
    # Branch-free miss: (VALID >> 24) - 1 is 0 for a hit and -1 (all ones) for a miss.
    return <int64_t>(e & DIR24_VALUE_MASK) | (<int64_t>((e & DIR24_VALID) >> 24) - 1)


cdef inline const uint32_t *dir24_tbl19_next(const dir24_t *t, uint32_t addr) noexcept nogil:
    """The entry a tbl19 lookup of addr reads after its code: the leaf, or the tbl24 entry."""
    cdef uint32_t c = kv_dir24_load16(&t.tbl19[addr >> 13])
    # A select rather than a branch: which way it goes is as random as the addresses.
    return (<const uint32_t *>&t.tbl24[dir24_i24(t, addr >> 8)] if c == DIR24_TBL19_EXTENDED
            else &t.leaf[c])


cdef inline const uint32_t *dir24_first_miss(const dir24_t *t, uint32_t addr) noexcept nogil:
    """The entry a lookup of addr reads after tbl18 (its tbl24 entry), or its tbl18 entry when
    that answers: what to prefetch. Reads tbl18 (normally in L2)."""
    cdef const uint32_t *d = &t.tbl18[addr >> 14]
    # A select rather than a branch: which way it goes is as random as the addresses.
    return <const uint32_t *>&t.tbl24[dir24_i24(t, addr >> 8)] if kv_dir24_load(d) & DIR24_EXTENDED else d


cdef inline void dir24_prefetch(const dir24_t *t, uint32_t addr) noexcept nogil:
    """Start loading the memory a lookup of addr will read."""
    kv_dir24_prefetch(dir24_first_miss(t, addr))


cdef inline int64_t dir24_lookup_tbl24(const dir24_t *t, uint32_t addr) noexcept nogil:
    """dir24_lookup without tbl18, as DIR-24-8 alone answers: the same result. For callers
    that prefetch the tbl24 entry well before the lookup (the engine does, a stage ahead):
    then tbl18 saves no wait and only adds a load. bench/lpm.py and the tests compare both."""
    cdef uint32_t e = kv_dir24_load(&t.tbl24[dir24_i24(t, addr >> 8)])
    if e & DIR24_EXTENDED:
        e = kv_dir24_load(&t.tbl8[(<size_t>(e & DIR24_VALUE_MASK) << 8) | (addr & 0xFF)])
    # Branch-free miss: (VALID >> 24) - 1 is 0 for a hit and -1 (all ones) for a miss.
    return <int64_t>(e & DIR24_VALUE_MASK) | (<int64_t>((e & DIR24_VALID) >> 24) - 1)


cdef void dir24_lookup_bulk(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil

# The single writer's entry points, for bulk callers in C (status: 0, or negative when memory
# or the tbl8 pool ran out, the table unchanged).
cdef int dir24_add(dir24_t *t, uint32_t prefix, int depth, uint32_t value) noexcept nogil
cdef bint dir24_delete(dir24_t *t, uint32_t prefix, int depth) noexcept nogil
cdef int64_t dir24_get(const dir24_t *t, uint32_t prefix, int depth) noexcept nogil


cdef class Dir24Lpm:
    cdef dir24_t *c
    cdef object owner               # the pair's first table, whose mapping tbl24 is in
