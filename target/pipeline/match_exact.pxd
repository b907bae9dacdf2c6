# Exact match: an open-addressing hash table over fixed-length byte keys.
#
# A key is what the engine's key builder writes: the table's key fields concatenated, each in
# ceil(bitwidth / 8) big-endian bytes. The table maps a key to a uint32 entry id chosen by the
# caller; a lookup returns that id or -1.
#
# Keys are compared as 64-bit words, never byte by byte. exact_load_key turns key_bytes bytes
# into key_words words by reading whole words, the last one overlapping its predecessor when
# key_bytes is not a multiple of 8 (for keys shorter than 8 bytes, two overlapping halves). For a
# fixed key length this is a selection of bytes, so it is injective, and masking the bytes before
# loading equals masking the words after loading with the mask loaded the same way; the LPM and
# ternary structures rely on that to mask once per probe in words.
#
# Layout: linear probing with backward-shift deletion (no tombstones, so probe sequences never
# degrade after deletes). Each slot has one meta word and key_words key words. For keys of up to
# 16 bytes the meta and key words of a slot are adjacent (a hit touches one cache line); for wider
# keys the meta words form their own array, so a miss scans dense meta words and only reads a key
# when its 31-bit hash tag matches.
#
# Concurrency: one writer. The engine keeps two copies of each table and changes only the one no
# worker reads (engine commit.pxi), so a lookup never runs while a write (insert, delete,
# rehash) is in progress; nothing here is atomic.

from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

cdef enum:
    EXACT_MAX_KEY_BYTES = 512       # widest key a table accepts
    EXACT_MAX_KEY_WORDS = 64        # EXACT_MAX_KEY_BYTES / 8: size of on-stack word buffers
    EXACT_INLINE_MAX_WORDS = 2      # keys of at most this many words sit beside their meta word
    EXACT_BULK = 16                 # keys exact_lookup_bulk hashes and prefetches ahead
    EXACT_PREFETCH_MIN_BYTES = 262144   # smaller tables are looked up without prefetching

# Result codes of the write functions (they never raise; the Python layer turns them into errors).
cdef enum:
    EXACT_OK = 0
    EXACT_EXISTS = 1                # insert: the key is already present (nothing changed)
    EXACT_MISSING = 2               # set_id / delete: the key is not present
    EXACT_NOMEM = -1                # allocation failed (the table is unchanged)

# meta word of a slot: 0 when empty; otherwise bit 63 set, bits 32..62 the high bits of the key's
# hash (a tag that rejects most non-matching slots without reading the key), bits 0..31 the id.
cdef enum:
    EXACT_MIN_CAPACITY = 8

cdef struct exact_table_t:
    uint64_t *block                 # the one allocation holding every slot's meta and key words
    uint64_t *meta                  # meta word of slot i at meta[i * meta_stride]
    uint64_t *keys                  # key words of slot i at keys[i * key_stride]
    uint64_t meta_stride            # 1 + key_words when interleaved, else 1
    uint64_t key_stride             # 1 + key_words when interleaved, else key_words
    uint64_t mask                   # capacity - 1; capacity is a power of two
    uint64_t count                  # occupied slots (= entries)
    uint64_t grow_at                # an insert that would exceed this count doubles the capacity
    uint64_t min_capacity           # capacity chosen at creation; clear() returns to it
    uint32_t key_bytes              # length of every key
    uint32_t key_words              # words a loaded key occupies: max(1, ceil(key_bytes / 8))


cdef inline uint64_t _load_u64(const uint8_t *p) noexcept nogil:
    cdef uint64_t w
    memcpy(&w, p, 8)
    return w


cdef inline uint64_t _load_u32(const uint8_t *p) noexcept nogil:
    cdef uint32_t w
    memcpy(&w, p, 4)
    return w


cdef inline uint64_t _load_u16(const uint8_t *p) noexcept nogil:
    cdef uint16_t w
    memcpy(&w, p, 2)
    return w


cdef inline uint32_t exact_key_words(uint32_t key_bytes) noexcept nogil:
    if key_bytes <= 8:
        return 1
    return (key_bytes + 7) >> 3


cdef inline void exact_load_key(uint32_t key_bytes, const uint8_t *key,
                                uint64_t *words) noexcept nogil:
    """Words of a key (see the file comment); reads exactly key_bytes bytes."""
    cdef uint32_t i, last
    if key_bytes >= 8:
        last = (key_bytes - 1) >> 3
        for i in range(last):
            words[i] = _load_u64(key + 8 * i)
        words[last] = _load_u64(key + key_bytes - 8)
    elif key_bytes >= 4:
        words[0] = _load_u32(key) | (_load_u32(key + key_bytes - 4) << 32)
    elif key_bytes >= 2:
        words[0] = _load_u16(key) | (_load_u16(key + key_bytes - 2) << 16)
    else:
        words[0] = key[0]


cdef inline uint64_t _hash_round(uint64_t h, uint64_t word) noexcept nogil:
    h = (h ^ word) * 0x9E3779B97F4A7C15ULL
    return h ^ (h >> 32)


cdef inline uint64_t exact_hash_words(const uint64_t *words, uint32_t nwords) noexcept nogil:
    """Multiply-xorshift over the words, then a final avalanche so the low (index) bits and the
    high (tag) bits both depend on every input bit."""
    cdef uint64_t h = 0x243F6A8885A308D3ULL ^ nwords
    cdef uint32_t i
    # One- and two-word keys (up to 16 bytes: MACs, IPv4/IPv6 addresses, 5-tuples) skip the
    # loop; the result is the same as the loop's.
    if nwords == 1:
        h = _hash_round(h, words[0])
    elif nwords == 2:
        h = _hash_round(_hash_round(h, words[0]), words[1])
    else:
        for i in range(nwords):
            h = _hash_round(h, words[i])
    h ^= h >> 29
    h *= 0xD6E8FEB86659FD93ULL
    h ^= h >> 32
    return h


cdef inline void exact_mask_words(uint64_t *out, const uint64_t *words, const uint64_t *mask,
                                  uint32_t nwords) noexcept nogil:
    """out = words & mask, with the same short-key fast paths as the hash."""
    cdef uint32_t i
    if nwords == 1:
        out[0] = words[0] & mask[0]
    elif nwords == 2:
        out[0] = words[0] & mask[0]
        out[1] = words[1] & mask[1]
    else:
        for i in range(nwords):
            out[i] = words[i] & mask[i]


cdef inline uint64_t exact_tag(uint64_t h) noexcept nogil:
    """The meta bits 32..63 a key with hash h carries (bit 63 marks the slot occupied)."""
    return (h & 0xFFFFFFFF00000000ULL) | (<uint64_t>1 << 63)


cdef inline int64_t exact_find_slot(const exact_table_t *t, const uint64_t *words,
                                    uint64_t h) noexcept nogil:
    """Slot index holding the key whose words (hash h) are given, or -1."""
    cdef uint64_t tag = exact_tag(h)
    cdef uint64_t i = h & t.mask
    cdef uint64_t m
    cdef const uint64_t *k
    cdef uint32_t j, n = t.key_words
    while True:
        m = t.meta[i * t.meta_stride]
        if m == 0:
            return -1
        if (m & 0xFFFFFFFF00000000ULL) == tag:
            k = t.keys + i * t.key_stride
            j = 0
            while j < n and k[j] == words[j]:
                j += 1
            if j == n:
                return <int64_t>i
        i = (i + 1) & t.mask


cdef inline int64_t exact_lookup_words(const exact_table_t *t,
                                       const uint64_t *words) noexcept nogil:
    """Entry id of the key given as loaded words, or -1."""
    cdef int64_t slot = exact_find_slot(t, words, exact_hash_words(words, t.key_words))
    if slot < 0:
        return -1
    return <int64_t>(t.meta[<uint64_t>slot * t.meta_stride] & 0xFFFFFFFFULL)


cdef inline int64_t exact_lookup(const exact_table_t *t, const uint8_t *key) noexcept nogil:
    """Entry id of the key_bytes-long key, or -1. The per-packet entry point."""
    cdef uint64_t words[EXACT_MAX_KEY_WORDS]
    exact_load_key(t.key_bytes, key, words)
    return exact_lookup_words(t, words)


cdef extern from *:
    void __builtin_prefetch(const void *addr) nogil


cdef inline void exact_lookup_bulk(const exact_table_t *t, const uint8_t *keys, uint64_t stride,
                                   uint32_t n, int64_t *out) noexcept nogil:
    """out[i] = exact_lookup(t, keys + i * stride) for i < n.

    Hashes EXACT_BULK keys first and prefetches their home slots, then probes them: on a table
    bigger than the caches the memory latencies overlap instead of adding up (2-2.5x faster at
    100k-1M entries). Tables under EXACT_PREFETCH_MIN_BYTES take the plain per-key path."""
    cdef uint64_t words[EXACT_BULK * EXACT_MAX_KEY_WORDS]
    cdef uint64_t hashes[EXACT_BULK]
    cdef uint32_t done = 0, chunk, i, nw = t.key_words
    cdef uint64_t home
    cdef int64_t slot
    if (t.mask + 1) * (1 + nw) * sizeof(uint64_t) <= EXACT_PREFETCH_MIN_BYTES:
        # A table this small stays in cache: prefetching would only add work.
        for i in range(n):
            out[i] = exact_lookup(t, keys + i * stride)
        return
    while done < n:
        chunk = n - done if n - done < EXACT_BULK else EXACT_BULK
        for i in range(chunk):
            exact_load_key(t.key_bytes, keys + (done + i) * stride, words + i * nw)
            hashes[i] = exact_hash_words(words + i * nw, nw)
            home = hashes[i] & t.mask
            __builtin_prefetch(t.meta + home * t.meta_stride)
            if t.meta_stride == 1:
                __builtin_prefetch(t.keys + home * t.key_stride)
        for i in range(chunk):
            slot = exact_find_slot(t, words + i * nw, hashes[i])
            out[done + i] = -1 if slot < 0 else <int64_t>(
                t.meta[<uint64_t>slot * t.meta_stride] & 0xFFFFFFFFULL)
        done += chunk


# Write side and lifetime (in match_exact.pyx). None of them raise or take the GIL.
cdef int exact_init(exact_table_t *t, uint32_t key_bytes, uint64_t capacity_hint) noexcept nogil
cdef void exact_release(exact_table_t *t) noexcept nogil
cdef exact_table_t *exact_create(uint32_t key_bytes, uint64_t capacity_hint) noexcept nogil
cdef void exact_destroy(exact_table_t *t) noexcept nogil
cdef int exact_insert_words(exact_table_t *t, const uint64_t *words,
                            uint32_t entry_id) noexcept nogil
cdef int exact_set_id_words(exact_table_t *t, const uint64_t *words,
                            uint32_t entry_id) noexcept nogil
cdef int exact_delete_words(exact_table_t *t, const uint64_t *words) noexcept nogil
cdef int exact_clear(exact_table_t *t) noexcept nogil
cdef uint64_t exact_memory_bytes(const exact_table_t *t) noexcept nogil

# Python-level helper for the write paths of the table modules.
cdef int exact_load_checked(uint32_t key_bytes, object key, uint64_t *words) except -1


cdef class ExactTable:
    cdef exact_table_t *c
