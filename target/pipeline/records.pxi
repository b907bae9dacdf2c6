# Action records shared between entries (included by engine.pyx).
#
# A table's entries point at records (an action id, then its parameters, rec_stride slots of
# 16 bytes, 64-byte aligned); entries with the same action and parameters share one record.
# A route table of 512k prefixes over a handful of next hops then has a handful of records,
# which stay in cache, instead of 512k records spread over 32 MiB: the data path's second
# random memory access per packet becomes a read of the 4-byte entry -> record array.
#
# Records are interned through an open-addressing hash (linear probing, deletion by backward
# shift) and reference counted; a record whose last entry goes is recycled. Everything here
# runs on the control plane, on the copy of the table no worker reads (commit.pxi; the
# pool can move when it grows).

cdef extern from *:
    """
    #define KV_REC_NONE 0xFFFFFFFFu
    """
    const uint32_t REC_NONE "KV_REC_NONE"      # an entry id with no record


cdef inline uint64_t rec_hash_words(const s128 *rec, uint32_t nslots) noexcept nogil:
    cdef const uint64_t *w = <const uint64_t *>rec
    cdef uint64_t h = 0x243F6A8885A308D3ULL
    cdef uint32_t k
    for k in range(2 * nslots):
        h = (h ^ w[k]) * 0x9E3779B97F4A7C15ULL
        h ^= h >> 29
    return h


cdef inline bint rec_equal(const s128 *a, const s128 *b, uint32_t nslots) noexcept nogil:
    return memcmp(a, b, nslots * sizeof(s128)) == 0


cdef int rec_grow_hash(table_t *t, uint32_t size) noexcept nogil:
    """Rebuild the hash with `size` (a power of two) slots; -1 when out of memory."""
    cdef uint32_t *slots = <uint32_t *>calloc(size, sizeof(uint32_t))
    cdef uint32_t r, i, nslots = t.param_stride + 1
    if slots == NULL:
        return -1
    for r in range(t.rec_capacity):
        if t.rec_refs[r] == 0:
            continue
        i = <uint32_t>rec_hash_words(&t.recs[<size_t>r * t.rec_stride], nslots) & (size - 1)
        while slots[i] != 0:
            i = (i + 1) & (size - 1)
        slots[i] = r + 1
    free(t.rec_hash)
    t.rec_hash = slots
    t.rec_hash_size = size
    return 0


cdef int rec_grow_pool(table_t *t) noexcept nogil:
    """Double the record pool; the new records go on the free list. -1 when out of memory."""
    cdef uint32_t old = t.rec_capacity, cap = max(16, 2 * t.rec_capacity), r
    cdef s128 *recs
    cdef uint32_t *refs
    cdef uint32_t *free_list
    recs = <s128 *>grow_aligned(t.recs, <size_t>old * t.rec_stride * sizeof(s128),
                                <size_t>cap * t.rec_stride * sizeof(s128))
    if recs == NULL:
        return -1
    t.recs = recs
    refs = <uint32_t *>realloc(t.rec_refs, cap * sizeof(uint32_t))
    if refs == NULL:
        return -1
    t.rec_refs = refs
    free_list = <uint32_t *>realloc(t.rec_free, cap * sizeof(uint32_t))
    if free_list == NULL:
        return -1
    t.rec_free = free_list
    memset(&t.recs[<size_t>old * t.rec_stride], 0, <size_t>(cap - old) * t.rec_stride * sizeof(s128))
    for r in range(cap - old):                   # lowest ids come off the free list first
        t.rec_refs[cap - 1 - r] = 0
        t.rec_free[t.rec_nfree] = cap - 1 - r
        t.rec_nfree += 1
    t.rec_capacity = cap
    return 0


cdef uint32_t rec_intern(table_t *t, const s128 *rec) noexcept nogil:
    """The id of the record equal to `rec` (param_stride + 1 slots), made if new, with one
    more reference; REC_NONE when out of memory."""
    cdef uint32_t nslots = t.param_stride + 1, i, r
    cdef uint64_t h = rec_hash_words(rec, nslots)
    if 2 * (t.rec_live + 1) > t.rec_hash_size:
        if rec_grow_hash(t, max(64, 2 * t.rec_hash_size)) < 0:
            return REC_NONE
    i = <uint32_t>h & (t.rec_hash_size - 1)
    while t.rec_hash[i] != 0:
        r = t.rec_hash[i] - 1
        if rec_equal(&t.recs[<size_t>r * t.rec_stride], rec, nslots):
            t.rec_refs[r] += 1
            return r
        i = (i + 1) & (t.rec_hash_size - 1)
    if t.rec_nfree == 0 and rec_grow_pool(t) < 0:
        return REC_NONE
    t.rec_nfree -= 1
    r = t.rec_free[t.rec_nfree]
    memcpy(&t.recs[<size_t>r * t.rec_stride], rec, nslots * sizeof(s128))
    t.rec_refs[r] = 1
    t.rec_hash[i] = r + 1
    t.rec_live += 1
    return r


cdef void rec_release(table_t *t, uint32_t r) noexcept nogil:
    """Drop one reference; the last one frees the record and takes it out of the hash."""
    cdef uint32_t nslots = t.param_stride + 1, i, j, home, mask
    if r == REC_NONE or r >= t.rec_capacity or t.rec_refs[r] == 0:
        return
    t.rec_refs[r] -= 1
    if t.rec_refs[r]:
        return
    mask = t.rec_hash_size - 1
    i = <uint32_t>rec_hash_words(&t.recs[<size_t>r * t.rec_stride], nslots) & mask
    while t.rec_hash[i] != r + 1:
        i = (i + 1) & mask
    # backward-shift deletion: pull later members of the probe run into the hole
    j = i
    while True:
        j = (j + 1) & mask
        if t.rec_hash[j] == 0:
            break
        home = <uint32_t>rec_hash_words(&t.recs[<size_t>(t.rec_hash[j] - 1) * t.rec_stride],
                                        nslots) & mask
        # move j into i unless its home lies cyclically in (i, j]
        if (j > i and (home <= i or home > j)) or (j < i and (home <= i and home > j)):
            t.rec_hash[i] = t.rec_hash[j]
            i = j
    t.rec_hash[i] = 0
    memset(&t.recs[<size_t>r * t.rec_stride], 0, nslots * sizeof(s128))
    t.rec_free[t.rec_nfree] = r
    t.rec_nfree += 1
    t.rec_live -= 1


cdef bint rec_assign(table_t *t, uint32_t eid, const s128 *rec) noexcept nogil:
    """Point entry eid at the record equal to `rec` (action, then params), letting go of the
    one it had; False (nothing changed) when out of memory."""
    cdef uint32_t r = rec_intern(t, rec)
    if r == REC_NONE:
        return False
    rec_release(t, t.entry_rec[eid])
    t.entry_rec[eid] = r
    t.entry_action[eid] = <int32_t>rec[0]
    return True


cdef void rec_free_all(table_t *t) noexcept nogil:
    free_aligned(t.recs, <size_t>t.rec_capacity * t.rec_stride * sizeof(s128))
    free(t.rec_refs)
    free(t.rec_free)
    free(t.rec_hash)
    free_aligned(t.entry_rec, <size_t>t.capacity * sizeof(uint32_t))
