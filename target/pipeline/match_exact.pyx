# cython: language_level=3
"""Exact-match hash table: writes, growth, and the Python face of match_exact.pxd.

One writer; the engine writes only the copy of a table no worker reads (engine commit.pxi),
so readers never run during a write (see the .pxd for the layout).
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from target.pipeline.written_zeros cimport written_zeros
from target.pipeline.match_exact cimport (
    EXACT_EXISTS,
    EXACT_INLINE_MAX_WORDS,
    EXACT_MAX_KEY_BYTES,
    EXACT_MAX_KEY_WORDS,
    EXACT_MIN_CAPACITY,
    EXACT_MISSING,
    EXACT_NOMEM,
    EXACT_OK,
    exact_find_slot,
    exact_hash_words,
    exact_key_words,
    exact_load_key,
    exact_lookup,
    exact_lookup_bulk,
    exact_lookup_words,
    exact_tag,
)

# Largest capacity: slot indexes and the tag must not share hash bits (index bits < 32).
cdef uint64_t EXACT_MAX_CAPACITY = <uint64_t>1 << 31


cdef inline uint64_t _grow_threshold(uint64_t capacity) noexcept nogil:
    # 3/4 full at most: linear probing stays at a few probes per miss.
    return capacity - (capacity >> 2)


cdef uint64_t _capacity_for(uint64_t entries) noexcept nogil:
    """Smallest power of two that holds `entries` under the load limit."""
    cdef uint64_t cap = EXACT_MIN_CAPACITY
    while _grow_threshold(cap) < entries and cap < EXACT_MAX_CAPACITY:
        cap <<= 1
    return cap


cdef int _attach_block(exact_table_t *t, uint64_t capacity) noexcept nogil:
    """Give t a fresh zeroed block of `capacity` slots. The old block is neither freed nor
    touched; on failure t is unchanged."""
    cdef uint64_t slot_words = 1 + <uint64_t>t.key_words
    # written before it is read, not calloc'd (written_zeros.pxd says why)
    cdef uint64_t *block = <uint64_t *>written_zeros(
        <size_t>(capacity * slot_words) * sizeof(uint64_t))
    if block == NULL:
        return EXACT_NOMEM
    t.block = block
    t.meta = block
    if t.key_words <= EXACT_INLINE_MAX_WORDS:
        t.keys = block + 1
        t.meta_stride = slot_words
        t.key_stride = slot_words
    else:
        t.keys = block + capacity
        t.meta_stride = 1
        t.key_stride = t.key_words
    t.mask = capacity - 1
    t.grow_at = _grow_threshold(capacity)
    return EXACT_OK


cdef void _place(exact_table_t *t, const uint64_t *words, uint64_t h,
                 uint64_t meta) noexcept nogil:
    """Store a key known to be absent in the first free slot of its probe sequence."""
    cdef uint64_t i = h & t.mask
    while t.meta[i * t.meta_stride] != 0:
        i = (i + 1) & t.mask
    t.meta[i * t.meta_stride] = meta
    memcpy(t.keys + i * t.key_stride, words, t.key_words * sizeof(uint64_t))


cdef int _resize(exact_table_t *t, uint64_t capacity) noexcept nogil:
    """Rehash every entry into a block of `capacity` slots; on failure t is unchanged."""
    cdef uint64_t *old_block = t.block
    cdef uint64_t *old_meta = t.meta
    cdef uint64_t *old_keys = t.keys
    cdef uint64_t old_meta_stride = t.meta_stride
    cdef uint64_t old_key_stride = t.key_stride
    cdef uint64_t old_capacity = t.mask + 1
    cdef uint64_t i, m
    cdef const uint64_t *k
    if _attach_block(t, capacity) != EXACT_OK:
        return EXACT_NOMEM
    for i in range(old_capacity):
        m = old_meta[i * old_meta_stride]
        if m != 0:
            k = old_keys + i * old_key_stride
            _place(t, k, exact_hash_words(k, t.key_words), m)
    free(old_block)
    return EXACT_OK


cdef int exact_init(exact_table_t *t, uint32_t key_bytes, uint64_t capacity_hint) noexcept nogil:
    """Make *t (memory owned by the caller) an empty table sized for capacity_hint entries."""
    memset(t, 0, sizeof(exact_table_t))
    if key_bytes == 0 or key_bytes > EXACT_MAX_KEY_BYTES:
        return EXACT_NOMEM
    t.key_bytes = key_bytes
    t.key_words = exact_key_words(key_bytes)
    t.min_capacity = _capacity_for(capacity_hint)
    return _attach_block(t, t.min_capacity)


cdef void exact_release(exact_table_t *t) noexcept nogil:
    """Free what exact_init allocated and zero *t (block == NULL marks it unused)."""
    free(t.block)
    memset(t, 0, sizeof(exact_table_t))


cdef exact_table_t *exact_create(uint32_t key_bytes, uint64_t capacity_hint) noexcept nogil:
    """A table for keys of key_bytes bytes sized for capacity_hint entries; NULL on failure."""
    cdef exact_table_t *t = <exact_table_t *>malloc(sizeof(exact_table_t))
    if t == NULL:
        return NULL
    if exact_init(t, key_bytes, capacity_hint) != EXACT_OK:
        free(t)
        return NULL
    return t


cdef void exact_destroy(exact_table_t *t) noexcept nogil:
    if t != NULL:
        exact_release(t)
        free(t)


cdef int exact_insert_words(exact_table_t *t, const uint64_t *words,
                            uint32_t entry_id) noexcept nogil:
    """Add key -> entry_id. EXACT_EXISTS leaves the present entry alone."""
    cdef uint64_t h = exact_hash_words(words, t.key_words)
    cdef uint64_t capacity
    if exact_find_slot(t, words, h) >= 0:
        return EXACT_EXISTS
    if t.count + 1 > t.grow_at:
        capacity = (t.mask + 1) << 1
        if capacity > EXACT_MAX_CAPACITY or _resize(t, capacity) != EXACT_OK:
            return EXACT_NOMEM
    _place(t, words, h, exact_tag(h) | entry_id)
    t.count += 1
    return EXACT_OK


cdef int exact_set_id_words(exact_table_t *t, const uint64_t *words,
                            uint32_t entry_id) noexcept nogil:
    """Point an existing key at another entry id."""
    cdef int64_t slot = exact_find_slot(t, words, exact_hash_words(words, t.key_words))
    cdef uint64_t *meta
    if slot < 0:
        return EXACT_MISSING
    meta = t.meta + <uint64_t>slot * t.meta_stride
    meta[0] = (meta[0] & 0xFFFFFFFF00000000ULL) | entry_id
    return EXACT_OK


cdef int exact_delete_words(exact_table_t *t, const uint64_t *words) noexcept nogil:
    """Remove a key; later members of its probe run move back so no run is ever broken."""
    cdef int64_t found = exact_find_slot(t, words, exact_hash_words(words, t.key_words))
    cdef uint64_t hole, j, home, m
    cdef const uint64_t *k
    if found < 0:
        return EXACT_MISSING
    hole = <uint64_t>found
    j = hole
    while True:
        j = (j + 1) & t.mask
        m = t.meta[j * t.meta_stride]
        if m == 0:
            break
        k = t.keys + j * t.key_stride
        home = exact_hash_words(k, t.key_words) & t.mask
        # The entry at j may fill the hole only if its home is not in the cyclic range (hole, j]:
        # otherwise moving it before its home would hide it from lookups.
        if ((j - home) & t.mask) >= ((j - hole) & t.mask):
            t.meta[hole * t.meta_stride] = m
            memcpy(t.keys + hole * t.key_stride, k, t.key_words * sizeof(uint64_t))
            hole = j
    t.meta[hole * t.meta_stride] = 0
    memset(t.keys + hole * t.key_stride, 0, t.key_words * sizeof(uint64_t))
    t.count -= 1
    return EXACT_OK


cdef int exact_clear(exact_table_t *t) noexcept nogil:
    """Drop every entry and return to the creation capacity."""
    cdef uint64_t *old_block = t.block
    if t.mask + 1 == t.min_capacity:
        memset(t.block, 0, (t.mask + 1) * (1 + <uint64_t>t.key_words) * sizeof(uint64_t))
    else:
        if _attach_block(t, t.min_capacity) != EXACT_OK:
            return EXACT_NOMEM
        free(old_block)
    t.count = 0
    return EXACT_OK


cdef uint64_t exact_memory_bytes(const exact_table_t *t) noexcept nogil:
    return sizeof(exact_table_t) + (t.mask + 1) * (1 + <uint64_t>t.key_words) * sizeof(uint64_t)


cdef int exact_load_checked(uint32_t key_bytes, object key, uint64_t *words) except -1:
    """Load a Python bytes-like key into words, refusing a key of the wrong length."""
    cdef const uint8_t[::1] view = key
    if <uint64_t>view.shape[0] != key_bytes:
        raise ValueError(f"key is {view.shape[0]} bytes, the table's keys are {key_bytes}")
    exact_load_key(key_bytes, &view[0], words)
    return 0


cdef class ExactTable:
    """Exact-match table: fixed-length byte keys -> uint32 entry ids.

    One writer; the engine writes only the copy no worker reads (commit.pxi), so lookups never
    run during add/replace/delete/clear.
    """

    def __cinit__(self, uint32_t key_bytes, uint64_t capacity_hint=64):
        if key_bytes == 0 or key_bytes > EXACT_MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{EXACT_MAX_KEY_BYTES} bytes")
        self.c = exact_create(key_bytes, capacity_hint)
        if self.c == NULL:
            raise MemoryError("cannot allocate the exact-match table")

    def __dealloc__(self):
        exact_destroy(self.c)

    @property
    def key_bytes(self) -> int:
        return self.c.key_bytes

    @property
    def capacity(self) -> int:
        """Slots in the hash array (entries fit up to 3/4 of it before it doubles)."""
        return self.c.mask + 1

    @property
    def memory_bytes(self) -> int:
        return exact_memory_bytes(self.c)

    def __len__(self) -> int:
        return self.c.count

    def add(self, key: bytes, entry_id: int) -> None:
        """Map key to entry_id; KeyError if the key is present (the table is then unchanged)."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef uint32_t eid = _entry_id(entry_id)
        exact_load_checked(self.c.key_bytes, key, words)
        rc = exact_insert_words(self.c, words, eid)
        if rc == EXACT_EXISTS:
            raise KeyError(f"key {bytes(key).hex()} is already in the table")
        if rc == EXACT_NOMEM:
            raise MemoryError("cannot grow the exact-match table")

    def replace(self, key: bytes, entry_id: int) -> None:
        """Point a present key at another entry id; KeyError if the key is absent."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef uint32_t eid = _entry_id(entry_id)
        exact_load_checked(self.c.key_bytes, key, words)
        if exact_set_id_words(self.c, words, eid) == EXACT_MISSING:
            raise KeyError(f"key {bytes(key).hex()} is not in the table")

    def delete(self, key: bytes) -> bool:
        """Remove key; False if it was absent."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        exact_load_checked(self.c.key_bytes, key, words)
        return exact_delete_words(self.c, words) == EXACT_OK

    def get(self, key: bytes) -> int | None:
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        exact_load_checked(self.c.key_bytes, key, words)
        cdef int64_t r = exact_lookup_words(self.c, words)
        return None if r < 0 else r

    def clear(self) -> None:
        if exact_clear(self.c) == EXACT_NOMEM:
            raise MemoryError("cannot reallocate the exact-match table")

    def lookup_batch(self, const uint8_t[::1] keys, int64_t[::1] out) -> int:
        """Look up len(out) keys laid end to end in `keys` through the batch path
        (exact_lookup_bulk in batches of 256, without the GIL); write each id or -1 to out and
        return the number of hits."""
        cdef uint64_t n = out.shape[0]
        cdef uint64_t kb = self.c.key_bytes
        cdef uint64_t i, done, hits = 0
        cdef uint32_t chunk
        if <uint64_t>keys.shape[0] != n * kb:
            raise ValueError(f"{keys.shape[0]} key bytes for {n} keys of {kb} bytes")
        if n == 0:
            return 0
        with nogil:
            done = 0
            while done < n:
                # Engine-sized batches, so the figures are what a batch of packets would see.
                chunk = <uint32_t>(n - done if n - done < 256 else 256)
                exact_lookup_bulk(self.c, &keys[done * kb], kb, chunk, &out[done])
                done += chunk
            for i in range(n):
                hits += out[i] >= 0
        return hits

    def lookup_batch_single(self, const uint8_t[::1] keys, int64_t[::1] out) -> int:
        """lookup_batch through exact_lookup one key at a time (no prefetching): the per-key
        path, for comparison and for cross-checking the bulk one."""
        cdef uint64_t n = out.shape[0]
        cdef uint64_t kb = self.c.key_bytes
        cdef uint64_t i, hits = 0
        cdef int64_t r
        if <uint64_t>keys.shape[0] != n * kb:
            raise ValueError(f"{keys.shape[0]} key bytes for {n} keys of {kb} bytes")
        if n == 0:
            return 0
        with nogil:
            for i in range(n):
                r = exact_lookup(self.c, &keys[i * kb])
                out[i] = r
                hits += r >= 0
        return hits

    def probe_stats(self) -> tuple[float, int]:
        """(mean, max) distance of the entries from their home slots: how well the hash spreads."""
        cdef uint64_t i, home, dist, total = 0, longest = 0
        cdef const uint64_t *k
        for i in range(self.c.mask + 1):
            if self.c.meta[i * self.c.meta_stride] != 0:
                k = self.c.keys + i * self.c.key_stride
                home = exact_hash_words(k, self.c.key_words) & self.c.mask
                dist = (i - home) & self.c.mask
                total += dist
                if dist > longest:
                    longest = dist
        return (<double>total / self.c.count if self.c.count else 0.0), longest


def _entry_id(entry_id: int) -> int:
    if not 0 <= entry_id <= 0xFFFFFFFF:
        raise ValueError(f"entry id {entry_id} is not a uint32")
    return entry_id
