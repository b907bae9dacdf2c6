# cython: language_level=3, annotation_typing=False
"""DIR-24-8 longest-prefix match for 32-bit keys: rules table, tbl19/tbl18/tbl24/tbl8 updates,
tbl19's leaf codes, range chunks (lpm_range.h), lookups.

The entry layout and the concurrency rules are documented in lpm_dir24.pxd, beside the struct.
"""

from array import array
from operator import index

from libc.errno cimport errno
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memset, strerror
from posix.mman cimport (
    MADV_HUGEPAGE,
    MAP_ANONYMOUS,
    MAP_FAILED,
    MAP_NORESERVE,
    MAP_PRIVATE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
    madvise,
    mmap,
    mprotect,
    munmap,
)

from target.pipeline.written_zeros cimport written_zeros

cdef enum:
    # Status codes of the nogil update functions.
    DIR24_OK = 0
    DIR24_ERR_NOMEM = -1            # malloc or mprotect failed
    DIR24_ERR_POOL_LIMIT = -2       # every tbl8 group allowed by tbl8_limit is in use

cdef size_t HUGE_PAGE = 2 << 20
cdef size_t GROUP_BYTES = DIR24_GROUP_ENTRIES * sizeof(uint32_t)
# Groups committed at a time: 2 MiB, one transparent huge page.
cdef uint32_t COMMIT_GROUPS = <uint32_t>((2 << 20) // (DIR24_GROUP_ENTRIES * 4))
# DIR-24-8 alone (tbl24_lookup_bulk): lookups between prefetching an address's tbl24 entry and
# reading it: enough to cover a DRAM miss. On the project's 2-core machine 16 was ~7 % slower
# than 32, and 32..128 were within a few percent of each other (bench/lpm.py, real table,
# random routed addresses).
cdef uint32_t BULK_PREFETCH_AHEAD = 64
cdef enum:
    # With tbl18: tbl24 entries are prefetched this many lookups ahead, tbl18 entries twice as
    # far (a power of two: a ring of this many chosen entries).
    BULK_HALF = 32
    # With tbl19: the leaf or tbl24 entry is prefetched this many lookups ahead, the code
    # twice as far (a power of two: a ring of chosen entries). On the project's machine (real
    # table, random routed addresses, alternating runs) 64 beat 32 and 48 by 5-10 %; 128 was
    # no better. Prefetching the codes too gained 9 % on the real table and 27 % on the
    # synthetic one (bench/lpm.py, CPU time), whose routed /19s spread over more code lines.
    TBL19_AHEAD = 64


cdef enum:
    WAY_RANGE = 0
    WAY_TBL18 = 1
    WAY_DIR24 = 2
    WAY_TBL19 = 3

WAYS = ("range", "tbl18", "dir24", "tbl19")

# The range-chunk bulk lookup for this CPU (lpm_range.h), chosen when the module loads.
cdef const char *BEST_ISA = NULL
cdef kv_rng_bulk_fn best_bulk = kv_rng_select(NULL, &BEST_ISA)


def bulk_isa() -> str:
    """The instruction set the default range bulk lookup was chosen for on this CPU."""
    return BEST_ISA.decode()


cdef int check_way(way, const dir24_t *t) except -1:
    cdef int w
    if way is None:
        return WAY_RANGE if t.rng != NULL else WAY_TBL19
    try:
        w = WAYS.index(way)
    except ValueError:
        raise ValueError(f"lookup way {way!r} is not one of {', '.join(WAYS)}") from None
    # Without chunks "range" answers as "tbl18"; a pair's tables (never with chunks) must take
    # that way, because the chunk code reads tbl24 as one array.
    return WAY_TBL18 if w == WAY_RANGE and t.tbl24_pair else w


# Seconds before a freed tbl19 leaf code is reused.
LEAF_QUARANTINE_S = DIR24_LEAF_QUARANTINE_MS / 1000.0


class Tbl8PoolExhausted(MemoryError):
    """No tbl8 group is left for a prefix longer than /24."""


# ---------------------------------------------------------------------------------------------
# Memory: huge-page-aligned anonymous mappings.

cdef void *map_aligned(size_t size, int prot) noexcept nogil:
    """size bytes of zeroed anonymous memory aligned to 2 MiB (so THP can back it), or NULL."""
    cdef size_t padded = size + HUGE_PAGE
    cdef char *raw = <char *>mmap(NULL, padded, prot,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    if raw == <char *>MAP_FAILED:
        return NULL
    cdef uintptr_t start = ((<uintptr_t>raw) + HUGE_PAGE - 1) & ~(<uintptr_t>(HUGE_PAGE - 1))
    cdef size_t head = start - <uintptr_t>raw
    if head:
        munmap(raw, head)
    cdef size_t tail = padded - head - size
    if tail:
        munmap(<char *>start + size, tail)
    madvise(<void *>start, size, MADV_HUGEPAGE)  # advisory: failure only costs TLB misses
    return <void *>start


cdef inline size_t round_to_page(size_t size) noexcept nogil:
    return (size + 4095) & ~(<size_t>4095)


# ---------------------------------------------------------------------------------------------
# Rules table: per prefix length, prefix -> value, open addressing with linear probing.

cdef inline uint32_t mix32(uint32_t x) noexcept nogil:
    # Murmur3's finalizer: prefixes have their low bits zero, so spread every bit.
    x ^= x >> 16
    x *= 0x85EBCA6BU
    x ^= x >> 13
    x *= 0xC2B2AE35U
    x ^= x >> 16
    return x


cdef dir24_rule_t *rules_find(const dir24_rules_t *r, uint32_t prefix) noexcept nogil:
    if r.capacity == 0:
        return NULL
    cdef uint32_t mask = r.capacity - 1
    cdef uint32_t i = mix32(prefix) & mask
    while r.slots[i].value:
        if r.slots[i].prefix == prefix:
            return &r.slots[i]
        i = (i + 1) & mask
    return NULL


cdef void rules_place(dir24_rules_t *r, uint32_t prefix, uint32_t used_value) noexcept nogil:
    """Put a rule known to be absent into a table known to have room."""
    cdef uint32_t mask = r.capacity - 1
    cdef uint32_t i = mix32(prefix) & mask
    while r.slots[i].value:
        i = (i + 1) & mask
    r.slots[i].prefix = prefix
    r.slots[i].value = used_value
    r.count += 1


cdef void rules_empty(dir24_rules_t *r) noexcept nogil:
    """No rule left; the slots stay allocated (and mapped) for the rules that come next."""
    if r.slots != NULL:
        memset(r.slots, 0, <size_t>r.capacity * sizeof(dir24_rule_t))
    r.count = 0


cdef int rules_reserve(dir24_rules_t *r) noexcept nogil:
    """Make room for one more rule (rehashing into a doubled table when 70 % full)."""
    if (<uint64_t>r.count + 1) * 10 <= <uint64_t>r.capacity * 7:
        return DIR24_OK
    if r.capacity >= 0x80000000U:
        return DIR24_ERR_NOMEM
    cdef uint32_t new_capacity = r.capacity * 2 if r.capacity else 4
    cdef dir24_rule_t *old_slots = r.slots
    cdef uint32_t old_capacity = r.capacity
    cdef dir24_rule_t *slots = <dir24_rule_t *>written_zeros(
        <size_t>new_capacity * sizeof(dir24_rule_t))
    if slots == NULL:
        return DIR24_ERR_NOMEM
    r.slots = slots
    r.capacity = new_capacity
    r.count = 0
    cdef uint32_t i
    for i in range(old_capacity):
        if old_slots[i].value:
            rules_place(r, old_slots[i].prefix, old_slots[i].value)
    free(old_slots)
    return DIR24_OK


cdef void rules_remove(dir24_rules_t *r, dir24_rule_t *slot) noexcept nogil:
    """Empty slot and shift later members of its probe run back so that no search breaks."""
    cdef uint32_t mask = r.capacity - 1
    cdef uint32_t hole = <uint32_t>(slot - r.slots)
    cdef uint32_t j = hole
    cdef uint32_t home
    while True:
        j = (j + 1) & mask
        if r.slots[j].value == 0:
            break
        home = mix32(r.slots[j].prefix) & mask
        # The rule at j may move back into the hole only if its home is not in (hole, j].
        if ((j - home) & mask) >= ((j - hole) & mask):
            r.slots[hole] = r.slots[j]
            hole = j
    r.slots[hole].value = 0
    r.slots[hole].prefix = 0
    r.count -= 1


cdef inline uint32_t prefix_mask(int depth) noexcept nogil:
    if depth == 0:
        return 0
    return 0xFFFFFFFFU << (32 - depth)


# ---------------------------------------------------------------------------------------------
# tbl8 group pool.

cdef void begin_update(dir24_t *t) noexcept nogil:
    """Start of a writer operation: the group and chunks freed by the previous one become
    reusable."""
    if t.rng != NULL:
        kv_rng_begin(t.rng)
    if t.tbl8_limbo >= 0:
        t.tbl8_free[t.tbl8_nfree] = <uint32_t>t.tbl8_limbo
        t.tbl8_nfree += 1
        t.tbl8_limbo = -1


cdef int64_t tbl8_alloc(dir24_t *t) noexcept nogil:
    """A group id whose contents are stale (the caller fills all 256 entries), or an error."""
    cdef uint32_t grow
    cdef uint32_t *free_stack
    if t.tbl8_nfree:
        t.tbl8_nfree -= 1
        t.tbl8_in_use += 1
        return t.tbl8_free[t.tbl8_nfree]
    if t.tbl8_high == t.tbl8_committed:
        if t.tbl8_committed == t.tbl8_limit:
            return DIR24_ERR_POOL_LIMIT
        grow = t.tbl8_limit - t.tbl8_committed
        if grow > COMMIT_GROUPS:
            grow = COMMIT_GROUPS
        free_stack = <uint32_t *>realloc(t.tbl8_free,
                                         (t.tbl8_committed + grow) * sizeof(uint32_t))
        if free_stack == NULL:
            return DIR24_ERR_NOMEM
        t.tbl8_free = free_stack
        # Commit only: the reserved range never moves, so readers' pointers stay valid.
        if mprotect(<char *>t.tbl8 + <size_t>t.tbl8_committed * GROUP_BYTES,
                    <size_t>grow * GROUP_BYTES, PROT_READ | PROT_WRITE) != 0:
            return DIR24_ERR_NOMEM
        t.tbl8_committed += grow
    t.tbl8_high += 1
    t.tbl8_in_use += 1
    return t.tbl8_high - 1


cdef inline void tbl8_release(dir24_t *t, uint32_t group) noexcept nogil:
    # Not zeroed and not reusable before the next update: a reader may still be inside it.
    t.tbl8_limbo = group
    t.tbl8_in_use -= 1


# ---------------------------------------------------------------------------------------------
# Updates. An entry may be overwritten by a rule of length d when it is a miss or was written
# by a rule of length <= d (a longer rule inside the range keeps its entries).

cdef inline uint32_t make_entry(uint32_t value, int depth) noexcept nogil:
    return value | DIR24_VALID | (<uint32_t>depth << DIR24_DEPTH_SHIFT)


cdef inline bint entry_yields_to(uint32_t e, int depth) noexcept nogil:
    return not (e & DIR24_VALID) or (e >> DIR24_DEPTH_SHIFT) <= <uint32_t>depth


cdef inline bint entry_owned_by(uint32_t e, int depth) noexcept nogil:
    return (e & DIR24_VALID) and (e >> DIR24_DEPTH_SHIFT) == <uint32_t>depth


cdef inline uint32_t *group_entries(const dir24_t *t, uint32_t tbl24_entry) noexcept nogil:
    return t.tbl8 + (<size_t>(tbl24_entry & DIR24_VALUE_MASK) << 8)


# ---------------------------------------------------------------------------------------------
# tbl19 and its leaf codes. The leaf index (a rules table keyed by entry) finds the code of an
# entry that already has one; each code counts the tbl19 codes that name it.

cdef uint32_t leaf_acquire(dir24_t *t, uint32_t key) noexcept nogil:
    """A code whose leaf is key (a non-miss entry, depth bits clear), counted once more; or
    DIR24_TBL19_EXTENDED when every code is taken (or memory ran out)."""
    cdef dir24_rule_t *slot = rules_find(&t.leaf_index, key)
    cdef uint32_t code
    if slot != NULL:
        code = slot.value & DIR24_VALUE_MASK
        t.leaf_refs[code] += 1
        return code
    if rules_reserve(&t.leaf_index) != DIR24_OK:
        return DIR24_TBL19_EXTENDED
    if t.leaf_high < DIR24_LEAF_CODES:
        code = t.leaf_high
        t.leaf_high += 1
    elif (t.leaf_freed_count and kv_rng_now_ms() - t.leaf_freed_ms[t.leaf_freed_head]
          >= DIR24_LEAF_QUARANTINE_MS):
        code = t.leaf_freed[t.leaf_freed_head]
        t.leaf_freed_head = (t.leaf_freed_head + 1) & 0xFFFF
        t.leaf_freed_count -= 1
    else:
        return DIR24_TBL19_EXTENDED
    rules_place(&t.leaf_index, key, code | DIR24_RULE_USED)
    # Before any tbl19 code names it (tbl19_set publishes with release order).
    kv_dir24_store(&t.leaf[code], key)
    t.leaf_refs[code] = 1
    return code


cdef void leaf_release(dir24_t *t, uint32_t code) noexcept nogil:
    t.leaf_refs[code] -= 1
    if t.leaf_refs[code]:
        return
    rules_remove(&t.leaf_index, rules_find(&t.leaf_index, t.leaf[code]))
    # Quarantined: a reader may have loaded the code already (DIR24_LEAF_QUARANTINE_MS).
    cdef uint32_t tail = (t.leaf_freed_head + t.leaf_freed_count) & 0xFFFF
    t.leaf_freed[tail] = <uint16_t>code
    t.leaf_freed_ms[tail] = kv_rng_now_ms()
    t.leaf_freed_count += 1


cdef void tbl19_set(dir24_t *t, uint32_t j, uint32_t summary) noexcept nogil:
    """Give /19 j the code for summary: its entry if all its tbl24 entries answer alike (depth
    aside), else DIR24_EXTENDED."""
    cdef uint32_t old = t.tbl19[j]
    cdef uint32_t code
    cdef uint32_t key = summary & (DIR24_VALUE_MASK | DIR24_VALID)
    cdef bint old_is_leaf = old != 0 and old != DIR24_TBL19_EXTENDED
    if summary & DIR24_EXTENDED:
        code = DIR24_TBL19_EXTENDED
    elif not (summary & DIR24_VALID):
        code = 0
    elif old_is_leaf and t.leaf[old] == key:
        return
    else:
        code = leaf_acquire(t, key)
    if code == old:
        return
    kv_dir24_publish16(&t.tbl19[j], <uint16_t>code)
    if old_is_leaf:
        leaf_release(t, old)


cdef inline uint32_t slash19_summary(const uint32_t *run, uint32_t start) noexcept nogil:
    """The entry all 32 tbl24 entries of run answer with (entries that differ only in their
    depth give the same answer), or DIR24_EXTENDED when they differ. Compares from run[start]
    on: the entry just written, in cache, so that a /19 that stops being uniform because of it
    shows a difference in the same cache line (an add into a uniform /19 costs no miss)."""
    cdef uint32_t e = run[start]
    cdef uint32_t k
    if e & DIR24_EXTENDED:
        return DIR24_EXTENDED
    for k in range(1, <uint32_t>DIR24_TBL19_SPAN):
        if (run[start ^ k] ^ e) & (DIR24_VALUE_MASK | DIR24_VALID | DIR24_EXTENDED):
            return DIR24_EXTENDED
    return e


cdef void refresh_tbl18(dir24_t *t, uint32_t first24, uint32_t n24) noexcept nogil:
    """Re-derive the tbl19 codes and tbl18 entries of the /19s and /18s holding tbl24 entries
    first24 .. first24+n24-1, after those changed (so a reader that sees a new code or tbl18
    entry finds tbl24 up to date)."""
    cdef uint32_t j, c0, c1, summary
    for j in range(first24 // DIR24_TBL19_SPAN, (first24 + n24 - 1) // DIR24_TBL19_SPAN + 1):
        tbl19_set(t, j, slash19_summary(&t.tbl24[dir24_i24(t, j * DIR24_TBL19_SPAN)],
                                        first24 - j * DIR24_TBL19_SPAN
                                        if first24 > j * DIR24_TBL19_SPAN else 0))
    for j in range(first24 // DIR24_TBL18_SPAN, (first24 + n24 - 1) // DIR24_TBL18_SPAN + 1):
        if t.rng != NULL:
            # With range chunks: the /18's runs, from tbl24 and its groups.
            kv_rng_refresh(t.rng, t.tbl18, t.tbl24, t.tbl8, j)
            continue
        # Without: from the codes of its two /19s, without reading tbl24 again. Equal codes
        # are one answer (an entry has one code); a /19 without a code (none left) makes the
        # /18 extended too, which is slower but right.
        c0 = t.tbl19[2 * j]
        c1 = t.tbl19[2 * j + 1]
        if c0 != c1 or c0 == DIR24_TBL19_EXTENDED:
            summary = DIR24_EXTENDED
        else:
            summary = t.leaf[c0] if c0 else 0
        if t.tbl18[j] != summary:
            kv_dir24_publish(&t.tbl18[j], summary)


cdef void add_short(dir24_t *t, uint32_t prefix, int depth, uint32_t entry) noexcept nogil:
    """Write a rule of length <= 24: a run of tbl24 entries, descending into their groups."""
    cdef uint32_t first = prefix >> 8
    cdef uint32_t n = <uint32_t>1 << (24 - depth)
    cdef uint32_t i, j, e
    cdef uint32_t *group
    cdef uint32_t *p
    for i in range(first, first + n):
        p = &t.tbl24[dir24_i24(t, i)]
        e = p[0]
        if e & DIR24_EXTENDED:
            group = group_entries(t, e)
            for j in range(<uint32_t>DIR24_GROUP_ENTRIES):
                if entry_yields_to(group[j], depth):
                    kv_dir24_store(&group[j], entry)
        elif entry_yields_to(e, depth):
            kv_dir24_store(p, entry)
    refresh_tbl18(t, first, n)


cdef int add_long(dir24_t *t, uint32_t prefix, int depth, uint32_t entry) noexcept nogil:
    """Write a rule longer than /24 into the tbl8 group of its /24, creating the group."""
    cdef uint32_t i = prefix >> 8
    cdef uint32_t e24 = t.tbl24[dir24_i24(t, i)]
    cdef uint32_t first = prefix & 0xFF
    cdef uint32_t n = <uint32_t>1 << (32 - depth)
    cdef uint32_t j, inherited
    cdef uint32_t *group
    cdef int64_t g
    if e24 & DIR24_EXTENDED:
        group = group_entries(t, e24)
        for j in range(first, first + n):
            if entry_yields_to(group[j], depth):
                kv_dir24_store(&group[j], entry)
        if t.rng != NULL:
            refresh_tbl18(t, i, 1)  # the /18's range chunk changes with the group
        return DIR24_OK
    g = tbl8_alloc(t)
    if g < 0:
        return <int>g
    group = t.tbl8 + (<size_t>g << 8)
    # The /24's current answer (a rule of length <= 24, or a miss) fills the group; then the new
    # rule's range. Only then does tbl24 point here (release store orders the fills before it).
    inherited = e24 if e24 & DIR24_VALID else 0
    for j in range(<uint32_t>DIR24_GROUP_ENTRIES):
        kv_dir24_store(&group[j], entry if first <= j < first + n else inherited)
    kv_dir24_publish(&t.tbl24[dir24_i24(t, i)], <uint32_t>g | DIR24_VALID | DIR24_EXTENDED)
    refresh_tbl18(t, i, 1)
    return DIR24_OK


cdef void delete_short(dir24_t *t, uint32_t prefix, int depth,
                       uint32_t replacement) noexcept nogil:
    """Give the entries a rule of length <= 24 owned to its replacement (or make them misses)."""
    cdef uint32_t first = prefix >> 8
    cdef uint32_t n = <uint32_t>1 << (24 - depth)
    cdef uint32_t i, j, e
    cdef uint32_t *group
    cdef uint32_t *p
    for i in range(first, first + n):
        p = &t.tbl24[dir24_i24(t, i)]
        e = p[0]
        if e & DIR24_EXTENDED:
            group = group_entries(t, e)
            for j in range(<uint32_t>DIR24_GROUP_ENTRIES):
                if entry_owned_by(group[j], depth):
                    kv_dir24_store(&group[j], replacement)
        elif entry_owned_by(e, depth):
            kv_dir24_store(p, replacement)
    refresh_tbl18(t, first, n)


cdef void delete_long(dir24_t *t, uint32_t prefix, int depth, uint32_t replacement) noexcept nogil:
    """Give a long rule's tbl8 entries to its replacement; drop the group if no long rule is left."""
    cdef uint32_t i = prefix >> 8
    cdef uint32_t e24 = t.tbl24[dir24_i24(t, i)]
    cdef uint32_t first = prefix & 0xFF
    cdef uint32_t n = <uint32_t>1 << (32 - depth)
    cdef uint32_t j
    cdef uint32_t *group = group_entries(t, e24)
    for j in range(first, first + n):
        if entry_owned_by(group[j], depth):
            kv_dir24_store(&group[j], replacement)
    for j in range(<uint32_t>DIR24_GROUP_ENTRIES):
        if (group[j] & DIR24_VALID) and (group[j] >> DIR24_DEPTH_SHIFT) > 24:
            if t.rng != NULL:
                refresh_tbl18(t, i, 1)  # the group stays; the /18's range chunk changes
            return
    # Only the /24's own answer is left, in all 256 entries: it goes back into tbl24.
    kv_dir24_publish(&t.tbl24[dir24_i24(t, i)], group[0])
    tbl8_release(t, e24 & DIR24_VALUE_MASK)
    refresh_tbl18(t, i, 1)


cdef int dir24_add(dir24_t *t, uint32_t prefix, int depth, uint32_t value) noexcept nogil:
    begin_update(t)
    cdef dir24_rules_t *r = &t.rules[depth]
    cdef dir24_rule_t *existing = rules_find(r, prefix)
    cdef int rc
    if existing == NULL and rules_reserve(r) != DIR24_OK:
        return DIR24_ERR_NOMEM
    cdef uint32_t entry = make_entry(value, depth)
    if depth <= 24:
        add_short(t, prefix, depth, entry)
    else:
        rc = add_long(t, prefix, depth, entry)
        if rc != DIR24_OK:
            return rc
    if existing != NULL:
        existing.value = value | DIR24_RULE_USED
    else:
        rules_place(r, prefix, value | DIR24_RULE_USED)
        t.rule_count += 1
    return DIR24_OK


cdef bint dir24_delete(dir24_t *t, uint32_t prefix, int depth) noexcept nogil:
    begin_update(t)
    cdef dir24_rule_t *slot = rules_find(&t.rules[depth], prefix)
    if slot == NULL:
        return False
    rules_remove(&t.rules[depth], slot)
    t.rule_count -= 1
    # The next-shorter rule covering this prefix takes over its entries. Each length's table is
    # a likely cache miss; prefetching all their probe slots first overlaps the misses.
    cdef uint32_t replacement = 0
    cdef int shorter
    cdef dir24_rule_t *cover
    cdef const dir24_rules_t *r
    cdef uint32_t covering_prefix
    for shorter in range(depth - 1, -1, -1):
        r = &t.rules[shorter]
        if r.capacity:
            covering_prefix = prefix & prefix_mask(shorter)
            kv_dir24_prefetch(&r.slots[mix32(covering_prefix) & (r.capacity - 1)])
    for shorter in range(depth - 1, -1, -1):
        cover = rules_find(&t.rules[shorter], prefix & prefix_mask(shorter))
        if cover != NULL:
            replacement = make_entry(cover.value & DIR24_VALUE_MASK, shorter)
            break
    if depth <= 24:
        delete_short(t, prefix, depth, replacement)
    else:
        delete_long(t, prefix, depth, replacement)
    return True


cdef int64_t dir24_get(const dir24_t *t, uint32_t prefix, int depth) noexcept nogil:
    """The value of exactly the rule prefix/depth, or -1 if there is none."""
    cdef dir24_rule_t *slot = rules_find(&t.rules[depth], prefix)
    if slot == NULL:
        return -1
    return slot.value & DIR24_VALUE_MASK


cdef void dir24_clear(dir24_t *t) noexcept nogil:
    cdef uint32_t i
    cdef int d
    for i in range(<uint32_t>DIR24_TBL18_ENTRIES):
        if t.tbl18[i]:
            kv_dir24_store(&t.tbl18[i], 0)
    for i in range(<uint32_t>DIR24_TBL19_ENTRIES):
        if t.tbl19[i]:
            kv_dir24_publish16(&t.tbl19[i], 0)
    # Every code is free again; the leaves keep their entries until reused (as tbl8 groups).
    memset(t.leaf_refs, 0, DIR24_LEAF_CODES * sizeof(uint32_t))
    t.leaf_high = 1
    t.leaf_freed_head = 0
    t.leaf_freed_count = 0
    rules_empty(&t.leaf_index)
    if t.rng != NULL:
        kv_rng_reset(t.rng)         # no chunk is reachable any more
    cdef uint32_t *p
    for i in range(<uint32_t>DIR24_TBL24_ENTRIES):
        # Reading untouched pages costs no memory; writing only non-misses keeps it that way.
        p = &t.tbl24[dir24_i24(t, i)]
        if p[0]:
            kv_dir24_store(p, 0)
    # All groups are unreachable now. The engine clears only the copy no worker reads
    # (commit.pxi), so the next update may reuse them (each is refilled before it is published).
    t.tbl8_high = 0
    t.tbl8_nfree = 0
    t.tbl8_in_use = 0
    t.tbl8_limbo = -1
    # The rule tables keep their size: a cleared table is usually loaded again, and growing
    # them anew would fault in fresh pages while the workers forward (written_zeros).
    for d in range(DIR24_MAX_DEPTH + 1):
        rules_empty(&t.rules[d])
    t.rule_count = 0


# ---------------------------------------------------------------------------------------------
# Lookups.

cdef void dir24_lookup_bulk(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil:
    # Range chunks where the table keeps them; otherwise tbl19, then tbl24/tbl8.
    if t.rng != NULL:
        best_bulk(t.rng_bases, t.tbl18, t.tbl24, t.tbl8, addrs, out, n)
    else:
        tbl19_lookup_bulk(t, addrs, out, n)


cdef void range_lookup_one_by_one(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                                  int n) noexcept nogil:
    cdef int i
    for i in range(n):
        out[i] = dir24_lookup(t, addrs[i])


cdef inline int64_t finish_lookup(const dir24_t *t, const uint32_t *first,
                                  uint32_t addr) noexcept nogil:
    """dir24_lookup_tbl18 from the entry dir24_first_miss chose for addr."""
    cdef uint32_t e = kv_dir24_load(first)
    if e & DIR24_EXTENDED:
        e = kv_dir24_load(&t.tbl8[(<size_t>(e & DIR24_VALUE_MASK) << 8) | (addr & 0xFF)])
    return <int64_t>(e & DIR24_VALUE_MASK) | (<int64_t>((e & DIR24_VALID) >> 24) - 1)


cdef void tbl18_lookup_bulk(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil:
    # Three stages: the tbl18 entry of the address BULK_PREFETCH_AHEAD ahead is prefetched
    # (normally an L2 hit); half as far ahead, it is read and the entry the lookup will need
    # (that tbl18 entry itself, or the tbl24 entry) is prefetched and remembered; then the
    # lookup reads the remembered entry: no branch on whether tbl18 answered (27 % of the
    # real table's addresses need tbl24, at random).
    cdef const uint32_t *chosen[BULK_HALF]
    cdef int i
    if n < 2 * BULK_HALF:
        tbl18_lookup_one_by_one(t, addrs, out, n)
        return
    for i in range(2 * BULK_HALF):
        kv_dir24_prefetch(&t.tbl18[addrs[i] >> 14])
    for i in range(BULK_HALF):
        chosen[i] = dir24_first_miss(t, addrs[i])
        kv_dir24_prefetch(chosen[i])
    for i in range(n - 2 * BULK_HALF):
        kv_dir24_prefetch(&t.tbl18[addrs[i + 2 * BULK_HALF] >> 14])
        out[i] = finish_lookup(t, chosen[i % BULK_HALF], addrs[i])
        chosen[i % BULK_HALF] = dir24_first_miss(t, addrs[i + BULK_HALF])
        kv_dir24_prefetch(chosen[i % BULK_HALF])
    for i in range(n - 2 * BULK_HALF, n - BULK_HALF):
        out[i] = finish_lookup(t, chosen[i % BULK_HALF], addrs[i])
        chosen[i % BULK_HALF] = dir24_first_miss(t, addrs[i + BULK_HALF])
        kv_dir24_prefetch(chosen[i % BULK_HALF])
    for i in range(n - BULK_HALF, n):
        out[i] = finish_lookup(t, chosen[i % BULK_HALF], addrs[i])


cdef void tbl19_lookup_bulk(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil:
    # Three stages: the code of the address 2 * TBL19_AHEAD ahead is prefetched; TBL19_AHEAD
    # ahead, the address's code is read (1 MiB of codes, normally in L2) and the entry the
    # lookup will need (its leaf, or its tbl24 entry for 19 % of the real
    # table's addresses) is prefetched and remembered; then the lookup reads that entry. No
    # branch on which it was. The tbl24 misses of up to TBL19_AHEAD lookups are in flight.
    cdef const uint32_t *chosen[TBL19_AHEAD]
    cdef int i
    if n < 2 * TBL19_AHEAD:
        tbl19_lookup_one_by_one(t, addrs, out, n)
        return
    for i in range(2 * TBL19_AHEAD):
        kv_dir24_prefetch(&t.tbl19[addrs[i] >> 13])
    for i in range(TBL19_AHEAD):
        chosen[i] = dir24_tbl19_next(t, addrs[i])
        kv_dir24_prefetch(chosen[i])
    for i in range(n - 2 * TBL19_AHEAD):
        kv_dir24_prefetch(&t.tbl19[addrs[i + 2 * TBL19_AHEAD] >> 13])
        out[i] = finish_lookup(t, chosen[i & (TBL19_AHEAD - 1)], addrs[i])
        chosen[i & (TBL19_AHEAD - 1)] = dir24_tbl19_next(t, addrs[i + TBL19_AHEAD])
        kv_dir24_prefetch(chosen[i & (TBL19_AHEAD - 1)])
    for i in range(n - 2 * TBL19_AHEAD, n - TBL19_AHEAD):
        out[i] = finish_lookup(t, chosen[i & (TBL19_AHEAD - 1)], addrs[i])
        chosen[i & (TBL19_AHEAD - 1)] = dir24_tbl19_next(t, addrs[i + TBL19_AHEAD])
        kv_dir24_prefetch(chosen[i & (TBL19_AHEAD - 1)])
    for i in range(n - TBL19_AHEAD, n):
        out[i] = finish_lookup(t, chosen[i & (TBL19_AHEAD - 1)], addrs[i])


cdef void tbl19_lookup_one_by_one(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                                  int n) noexcept nogil:
    cdef int i
    for i in range(n):
        out[i] = dir24_lookup_tbl19(t, addrs[i])


cdef void tbl18_lookup_one_by_one(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil:
    cdef int i
    for i in range(n):
        out[i] = dir24_lookup_tbl18(t, addrs[i])


cdef void tbl24_lookup_bulk(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                            int n) noexcept nogil:
    # DIR-24-8 alone. Random addresses miss the caches in tbl24 (64 MiB): prefetching the
    # entries of addresses further ahead keeps many misses in flight instead of one at a time.
    cdef int i
    cdef int ahead = n if n < <int>BULK_PREFETCH_AHEAD else <int>BULK_PREFETCH_AHEAD
    for i in range(ahead):
        kv_dir24_prefetch(&t.tbl24[dir24_i24(t, addrs[i] >> 8)])
    for i in range(n - ahead):
        kv_dir24_prefetch(&t.tbl24[dir24_i24(t, addrs[i + ahead] >> 8)])
        out[i] = dir24_lookup_tbl24(t, addrs[i])
    for i in range(n - ahead, n):
        out[i] = dir24_lookup_tbl24(t, addrs[i])


cdef void tbl24_lookup_one_by_one(const dir24_t *t, const uint32_t *addrs, int64_t *out,
                                  int n) noexcept nogil:
    cdef int i
    for i in range(n):
        out[i] = dir24_lookup_tbl24(t, addrs[i])


# ---------------------------------------------------------------------------------------------
# Python API.

def _format_prefix(prefix: int, length: int) -> str:
    return f"{prefix >> 24 & 255}.{prefix >> 16 & 255}.{prefix >> 8 & 255}.{prefix & 255}/{length}"


def dir24_pair(max_tbl8_groups: int = DIR24_MAX_GROUPS) -> tuple[Dir24Lpm, Dir24Lpm]:
    """Two tables for the engine's two copies of one table (commit.pxi): each is a whole
    table of its own, but their tbl24 arrays share one mapping, interleaved by half pages
    (DIR24_PAIR_ENTRIES in lpm_dir24.pxd says why). No range chunks."""
    first = Dir24Lpm(max_tbl8_groups, _pair=True)
    return first, Dir24Lpm(max_tbl8_groups, _pair_first=first)


def check_rule(prefix: int, length: int) -> tuple[int, int]:
    """prefix and length as ints; ValueError naming what is wrong with them."""
    prefix = index(prefix)
    length = index(length)
    if not 0 <= length <= DIR24_MAX_DEPTH:
        raise ValueError(f"prefix length {length} is outside 0..32")
    if not 0 <= prefix <= 0xFFFFFFFF:
        raise ValueError(f"prefix {prefix:#x} is not a 32-bit address")
    if prefix & ~prefix_mask(length) & 0xFFFFFFFF:
        raise ValueError(
            f"prefix {_format_prefix(prefix, length)} has host bits set below the prefix length"
        )
    return prefix, length


def check_value(value: int) -> int:
    value = index(value)
    if not 0 <= value <= DIR24_VALUE_MASK:
        raise ValueError(f"value {value} is outside 0..{DIR24_VALUE_MASK}")
    return value


cdef class Dir24Lpm:
    """IPv4 longest-prefix match: rules of prefix/length -> value (0 .. 2^24 - 1).

    max_tbl8_groups caps the pool of tbl8 groups (one per /24 that holds a prefix longer than
    /24); its address space is reserved up front (1 KiB per group) and memory is committed in
    2 MiB steps as groups are used. The default allows every group the entry format can name.

    ranges=True keeps range chunks behind tbl18 (lpm_range.h), for lookup way "range": each
    update then rebuilds the chunk of every /18 it touches. Without them, way "range" answers
    non-uniform /18s from tbl24/tbl8 like way "tbl18".
    """

    def __cinit__(self, max_tbl8_groups: int = DIR24_MAX_GROUPS, ranges: bool = False,
                  Dir24Lpm _pair_first=None, bint _pair=False):
        # _pair: the first of a pair (dir24_pair); _pair_first: the second, sharing its tbl24.
        if (_pair or _pair_first is not None) and ranges:
            raise ValueError("the tables of a pair keep no range chunks")
        if not 1 <= max_tbl8_groups <= DIR24_MAX_GROUPS:
            raise ValueError(f"max_tbl8_groups {max_tbl8_groups} is outside 1..{DIR24_MAX_GROUPS}")
        self.c = <dir24_t *>calloc(1, sizeof(dir24_t))
        if self.c == NULL:
            raise MemoryError("cannot allocate the LPM table header")
        self.c.tbl8_limbo = -1
        self.c.tbl8_limit = max_tbl8_groups
        # tbl18 (1 MiB) gets a whole 2 MiB huge page; written first, so that the kernel backs
        # it with one (a read first would map the shared zero page, and the next write would
        # split it into 4 KiB pages).
        self.c.tbl18_map_bytes = HUGE_PAGE
        self.c.tbl18 = <uint32_t *>map_aligned(self.c.tbl18_map_bytes, PROT_READ | PROT_WRITE)
        if self.c.tbl18 == NULL:
            raise MemoryError(f"cannot map tbl18 (1 MiB): {strerror(errno).decode()}")
        kv_dir24_store(self.c.tbl18, 0)
        # tbl19's codes (1 MiB) and the leaf table (256 KiB) share one 2 MiB huge page.
        self.c.tbl19_map_bytes = HUGE_PAGE
        self.c.tbl19 = <uint16_t *>map_aligned(self.c.tbl19_map_bytes, PROT_READ | PROT_WRITE)
        if self.c.tbl19 == NULL:
            raise MemoryError(f"cannot map tbl19 (1.25 MiB): {strerror(errno).decode()}")
        kv_dir24_publish16(self.c.tbl19, 0)
        self.c.leaf = <uint32_t *>(<char *>self.c.tbl19 + DIR24_TBL19_ENTRIES * sizeof(uint16_t))
        self.c.leaf_high = 1
        self.c.leaf_refs = <uint32_t *>calloc(DIR24_LEAF_CODES, sizeof(uint32_t))
        self.c.leaf_freed = <uint16_t *>calloc(1 << 16, sizeof(uint16_t))
        self.c.leaf_freed_ms = <uint32_t *>calloc(1 << 16, sizeof(uint32_t))
        if self.c.leaf_refs == NULL or self.c.leaf_freed == NULL or self.c.leaf_freed_ms == NULL:
            raise MemoryError("cannot allocate tbl19's leaf code allocator")
        self.c.rng_bases = &kv_rng_no_chunks
        if ranges:
            self.c.rng = kv_rng_new()
            if self.c.rng == NULL:
                raise MemoryError(
                    f"cannot reserve the range chunk regions: {strerror(errno).decode()}")
            self.c.rng_bases = &self.c.rng.bases
        if _pair_first is not None:
            # Its halves of the first's pages (tbl24_map_bytes 0: the first unmaps them).
            self.owner = _pair_first
            self.c.tbl24 = _pair_first.c.tbl24 + DIR24_PAIR_ENTRIES
            self.c.tbl24_pair = DIR24_PAIR_MASK
        else:
            self.c.tbl24_map_bytes = DIR24_TBL24_ENTRIES * sizeof(uint32_t) * (2 if _pair else 1)
            self.c.tbl24 = <uint32_t *>map_aligned(self.c.tbl24_map_bytes,
                                                   PROT_READ | PROT_WRITE)
            if self.c.tbl24 == NULL:
                raise MemoryError(f"cannot map tbl24 ({self.c.tbl24_map_bytes >> 20} MiB): "
                                  f"{strerror(errno).decode()}")
            if _pair:
                self.c.tbl24_pair = DIR24_PAIR_MASK
        self.c.tbl8_map_bytes = round_to_page(<size_t>max_tbl8_groups * GROUP_BYTES)
        # Reserved, not committed: PROT_NONE address space costs no memory until tbl8_alloc
        # makes a chunk of it readable and writable.
        self.c.tbl8 = <uint32_t *>map_aligned(self.c.tbl8_map_bytes, PROT_NONE)
        if self.c.tbl8 == NULL:
            raise MemoryError(
                f"cannot reserve address space for {max_tbl8_groups} tbl8 groups: "
                f"{strerror(errno).decode()}"
            )

    def __dealloc__(self):
        cdef int d
        if self.c == NULL:
            return
        if self.c.tbl18 != NULL:
            munmap(self.c.tbl18, self.c.tbl18_map_bytes)
        if self.c.tbl19 != NULL:
            munmap(self.c.tbl19, self.c.tbl19_map_bytes)
        free(self.c.leaf_refs)
        free(self.c.leaf_freed)
        free(self.c.leaf_freed_ms)
        free(self.c.leaf_index.slots)
        if self.c.tbl24 != NULL and self.c.tbl24_map_bytes:
            munmap(self.c.tbl24, self.c.tbl24_map_bytes)
        if self.c.tbl8 != NULL:
            munmap(self.c.tbl8, self.c.tbl8_map_bytes)
        free(self.c.tbl8_free)
        kv_rng_free(self.c.rng)
        for d in range(DIR24_MAX_DEPTH + 1):
            free(self.c.rules[d].slots)
        free(self.c)
        self.c = NULL

    def add(self, prefix: int, length: int, value: int) -> None:
        """Add prefix/length -> value, or replace the value of that exact prefix."""
        prefix, length = check_rule(prefix, length)
        value = check_value(value)
        cdef int rc = dir24_add(self.c, <uint32_t>prefix, <int>length, <uint32_t>value)
        if rc == DIR24_ERR_POOL_LIMIT:
            raise Tbl8PoolExhausted(
                f"cannot add {_format_prefix(prefix, length)}: all {self.c.tbl8_limit} tbl8 groups"
                " are in use (each /24 holding a prefix longer than /24 needs one); raise"
                " max_tbl8_groups"
            )
        if rc == DIR24_ERR_NOMEM:
            raise MemoryError(
                f"cannot add {_format_prefix(prefix, length)}: out of memory growing the rules"
                f" table or the tbl8 group pool ({self.c.tbl8_in_use} groups in use)"
            )

    def delete(self, prefix: int, length: int) -> bool:
        """Remove prefix/length; False if it was not there. Its addresses fall back to the
        longest shorter prefix that covers them."""
        prefix, length = check_rule(prefix, length)
        return dir24_delete(self.c, <uint32_t>prefix, <int>length)

    def get(self, prefix: int, length: int) -> int | None:
        """The value of exactly this rule, or None."""
        prefix, length = check_rule(prefix, length)
        cdef dir24_rule_t *slot = rules_find(&self.c.rules[length], <uint32_t>prefix)
        if slot == NULL:
            return None
        return slot.value & DIR24_VALUE_MASK

    def lookup(self, addr: int, way: str | None = None) -> int:
        """The value of the longest prefix containing addr, -1 if none. way (for comparisons;
        the same result): "tbl19" (tbl19's leaf code, or tbl24/tbl8), "range" (tbl18 and
        range chunks), "tbl18" (tbl18, then tbl24/tbl8) or "dir24" (tbl24/tbl8 alone);
        default "range" with ranges=True, else "tbl19"."""
        addr = index(addr)
        if not 0 <= addr <= 0xFFFFFFFF:
            raise ValueError(f"address {addr:#x} is not a 32-bit address")
        cdef int w = check_way(way, self.c)
        if w == WAY_DIR24:
            return dir24_lookup_tbl24(self.c, <uint32_t>addr)
        if w == WAY_TBL18:
            return dir24_lookup_tbl18(self.c, <uint32_t>addr)
        if w == WAY_TBL19:
            return dir24_lookup_tbl19(self.c, <uint32_t>addr)
        return dir24_lookup(self.c, <uint32_t>addr)

    def lookup_bulk(self, addrs, out=None, prefetch: bool = True, way: str | None = None,
                    isa: str | None = None):
        """Look up every address of addrs (a uint32 buffer such as array('I') or a numpy uint32
        array, or any iterable of ints). Returns out, or a new array('q'), with -1 for misses.

        prefetch=False runs the single-address lookup once per address with no prefetching, as
        a caller that looks up one address at a time would (benchmarks compare the two).
        way is as for lookup(). isa picks the instruction set of the "range" bulk lookup
        ("avx512", "avx2", "sse2"; default: the best this CPU has, bulk_isa)."""
        cdef const uint32_t[::1] keys
        cdef int64_t[::1] results
        cdef int w = check_way(way, self.c)
        cdef const char *chosen = NULL
        cdef kv_rng_bulk_fn bulk_fn = best_bulk
        if isa is not None:
            isa_bytes = str(isa).encode()
            bulk_fn = kv_rng_select(isa_bytes, &chosen)
            if bulk_fn == NULL:
                raise ValueError(f"bulk lookup for {isa!r} is not available on this CPU")
        try:
            keys = addrs
        except (TypeError, ValueError):
            keys = array("I", addrs)
        cdef Py_ssize_t n = keys.shape[0]
        if out is None:
            out = array("q", bytes(8 * n))
        results = out
        if results.shape[0] < n:
            raise ValueError(f"out holds {results.shape[0]} results, {n} are needed")
        cdef Py_ssize_t done = 0
        cdef int chunk
        cdef bint bulk = prefetch
        with nogil:
            while done < n:
                chunk = <int>min(n - done, 1 << 30)
                if w == WAY_RANGE and bulk:
                    bulk_fn(self.c.rng_bases, self.c.tbl18, self.c.tbl24, self.c.tbl8,
                            &keys[done], &results[done], chunk)
                elif w == WAY_RANGE:
                    range_lookup_one_by_one(self.c, &keys[done], &results[done], chunk)
                elif w == WAY_TBL19 and bulk:
                    tbl19_lookup_bulk(self.c, &keys[done], &results[done], chunk)
                elif w == WAY_TBL19:
                    tbl19_lookup_one_by_one(self.c, &keys[done], &results[done], chunk)
                elif w == WAY_TBL18 and bulk:
                    tbl18_lookup_bulk(self.c, &keys[done], &results[done], chunk)
                elif w == WAY_TBL18:
                    tbl18_lookup_one_by_one(self.c, &keys[done], &results[done], chunk)
                elif bulk:
                    tbl24_lookup_bulk(self.c, &keys[done], &results[done], chunk)
                else:
                    tbl24_lookup_one_by_one(self.c, &keys[done], &results[done], chunk)
                done += chunk
        return out

    def apply_ops(self, const uint32_t[::1] prefixes, const uint8_t[::1] depths,
                  const int64_t[::1] values) -> None:
        """Replay rule changes in order: add prefixes[k]/depths[k] -> values[k], or delete
        that rule where values[k] is negative. The engine logs the changes a bulk write made
        in C on one copy of a table and replays them here on the other copy (commit.pxi)."""
        cdef Py_ssize_t n = prefixes.shape[0], k
        cdef int rc = 0
        if depths.shape[0] != n or values.shape[0] != n:
            raise ValueError(f"{n} prefixes need {n} depths and {n} values")
        with nogil:
            for k in range(n):
                if depths[k] > DIR24_MAX_DEPTH or values[k] > DIR24_VALUE_MASK:
                    rc = -100
                    break
                if values[k] < 0:
                    dir24_delete(self.c, prefixes[k], depths[k])
                else:
                    rc = dir24_add(self.c, prefixes[k], depths[k], <uint32_t>values[k])
                    if rc != 0:
                        break
        if rc == -100:
            raise ValueError(f"rule change {k}: depth or value out of range")
        if rc != 0:
            raise MemoryError(f"rule change {k}: out of memory or tbl8 groups")

    def __len__(self) -> int:
        return self.c.rule_count

    def clear(self) -> None:
        """Remove every rule. Memory already committed for tbl8 groups is kept for reuse."""
        dir24_clear(self.c)

    @property
    def memory_bytes(self) -> int:
        """Bytes of memory the table holds: tbl18, tbl19 and its leaf codes, the range chunk
        pool, tbl24, committed tbl8 groups and the rules table."""
        cdef size_t total = (DIR24_TBL18_ENTRIES + DIR24_TBL24_ENTRIES) * sizeof(uint32_t)
        total += DIR24_TBL19_ENTRIES * sizeof(uint16_t)
        total += DIR24_LEAF_CODES * 2 * sizeof(uint32_t) + (1 << 16) * (2 + 4)
        total += <size_t>self.c.leaf_index.capacity * sizeof(dir24_rule_t)
        if self.c.rng != NULL:
            total += kv_rng_bytes(self.c.rng)
        total += <size_t>self.c.tbl8_committed * (GROUP_BYTES + sizeof(uint32_t))
        cdef int d
        for d in range(DIR24_MAX_DEPTH + 1):
            total += <size_t>self.c.rules[d].capacity * sizeof(dir24_rule_t)
        return total + sizeof(dir24_t)

    @property
    def range_chunks(self) -> dict[str, int]:
        """Range chunks by kind: "runs<=N" for each capacity (N = 4 .. 256) in use, and
        "none" for non-uniform /18s answered from tbl24/tbl8 (class 0)."""
        cdef uint32_t i, e
        cdef uint32_t none = 0
        if self.c.rng == NULL:
            return {}
        for i in range(<uint32_t>DIR24_TBL18_ENTRIES):
            e = self.c.tbl18[i]
            none += (e & DIR24_EXTENDED) != 0 and (e >> 26) == 0
        counts = {f"runs<={2 << c}": self.c.rng.chunks[c] for c in range(1, KV_RNG_CLASSES)
                  if self.c.rng.chunks[c]}
        counts["none"] = none
        return counts

    @property
    def range_pool_bytes(self) -> int:
        """Bytes of range chunk memory handed out (reachable chunks, free and waiting ones)."""
        return kv_rng_bytes(self.c.rng) if self.c.rng != NULL else 0

    @property
    def tbl18_uniform(self) -> int:
        """/18s whose tbl18 entry answers for the whole /18 (a value or a miss) without tbl24."""
        cdef uint32_t i
        cdef uint32_t count = 0
        for i in range(<uint32_t>DIR24_TBL18_ENTRIES):
            count += not (self.c.tbl18[i] & DIR24_EXTENDED)
        return count

    @property
    def tbl19_uniform(self) -> int:
        """/19s whose tbl19 code answers for the whole /19 (a leaf or a miss) without tbl24."""
        cdef uint32_t i
        cdef uint32_t count = 0
        for i in range(<uint32_t>DIR24_TBL19_ENTRIES):
            count += self.c.tbl19[i] != DIR24_TBL19_EXTENDED
        return count

    @property
    def leaf_codes_in_use(self) -> int:
        """Distinct leaves tbl19 names (at most 65,534; past that, /19s go to tbl24)."""
        return self.c.leaf_high - 1 - self.c.leaf_freed_count

    @property
    def paired(self) -> bool:
        """One of a pair (dir24_pair): its tbl24 shares pages with the other's."""
        return self.c.tbl24_pair != 0

    @property
    def tbl8_groups_in_use(self) -> int:
        """tbl8 groups currently reachable from tbl24 (one per /24 with a longer prefix)."""
        return self.c.tbl8_in_use

    @property
    def max_tbl8_groups(self) -> int:
        return self.c.tbl8_limit

    def rules(self):
        """Iterate over a snapshot of the rules as (prefix, length, value), by length."""
        snapshot = []
        cdef int d
        cdef uint32_t i
        cdef dir24_rules_t *r
        for d in range(DIR24_MAX_DEPTH + 1):
            r = &self.c.rules[d]
            for i in range(r.capacity):
                if r.slots[i].value:
                    snapshot.append((r.slots[i].prefix, d, r.slots[i].value & DIR24_VALUE_MASK))
        return iter(snapshot)
