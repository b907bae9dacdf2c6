# cython: language_level=3
"""Longest-prefix match for any key width: one exact-match table per present prefix length.

One writer; the engine writes only the copy of a table no worker reads (engine commit.pxi),
so readers never run during a write (see match_lpm.pxd for the layout).
"""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free

from target.pipeline.match_exact cimport (
    EXACT_EXISTS,
    EXACT_MAX_KEY_BYTES,
    EXACT_MAX_KEY_WORDS,
    EXACT_MISSING,
    EXACT_OK,
    exact_create,
    exact_delete_words,
    exact_destroy,
    exact_insert_words,
    exact_key_words,
    exact_load_checked,
    exact_load_key,
    exact_memory_bytes,
    exact_set_id_words,
    exact_table_t,
)
from target.pipeline.match_lpm cimport lpm_lookup

# A new prefix length starts with a small table; it doubles as entries arrive.
cdef uint64_t LENGTH_TABLE_INITIAL_ENTRIES = 8


cdef void _lpm_free(lpm_table_t *t) noexcept nogil:
    cdef uint32_t length
    if t == NULL:
        return
    if t.by_length != NULL:
        for length in range(t.lpm_bits + 1):
            exact_destroy(t.by_length[length])
    free(t.by_length)
    free(t.length_masks)
    free(t.probe_tables)
    free(t.probe_masks)
    free(t.probe_lengths)
    free(t)


cdef void _rebuild_probes(lpm_table_t *t) noexcept nogil:
    """List the present prefix lengths, longest first, for lpm_lookup."""
    cdef uint32_t n = 0
    cdef int64_t length
    for length in range(t.lpm_bits, -1, -1):
        if t.by_length[length] != NULL:
            t.probe_tables[n] = t.by_length[length]
            t.probe_masks[n] = t.length_masks + <uint64_t>length * t.key_words
            t.probe_lengths[n] = <uint32_t>length
            n += 1
    t.nprobes = n


cdef class LpmTable:
    """LPM table: (key with one LPM field, prefix length) -> uint32 entry id.

    `lpm_bits` is the LPM field's P4 width (default 8 * lpm_bytes). One writer; the engine
    writes only the copy no worker reads (commit.pxi), so lookups never run during a write.
    """

    def __cinit__(self, uint32_t key_bytes, uint32_t lpm_offset, uint32_t lpm_bytes,
                  object lpm_bits=None):
        cdef uint32_t nlengths, length
        cdef const uint8_t[::1] mask
        if key_bytes == 0 or key_bytes > EXACT_MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{EXACT_MAX_KEY_BYTES} bytes")
        if lpm_bytes == 0 or lpm_offset + lpm_bytes > key_bytes:
            raise ValueError(f"LPM field of {lpm_bytes} bytes at {lpm_offset} does not fit in "
                             f"a {key_bytes}-byte key")
        bits = 8 * lpm_bytes if lpm_bits is None else lpm_bits
        if not 8 * (lpm_bytes - 1) < bits <= 8 * lpm_bytes:
            raise ValueError(f"a {bits}-bit field does not take {lpm_bytes} bytes")
        self.key_bytes = key_bytes
        self.lpm_offset = lpm_offset
        self.lpm_bytes = lpm_bytes
        self.lpm_bits = bits
        nlengths = self.lpm_bits + 1
        self.c = <lpm_table_t *>calloc(1, sizeof(lpm_table_t))
        if self.c == NULL:
            raise MemoryError("cannot allocate the LPM table")
        self.c.key_bytes = key_bytes
        self.c.key_words = exact_key_words(key_bytes)
        self.c.lpm_offset = lpm_offset
        self.c.lpm_bytes = lpm_bytes
        self.c.lpm_bits = self.lpm_bits
        self.c.by_length = <exact_table_t **>calloc(nlengths, sizeof(exact_table_t *))
        self.c.probe_tables = <exact_table_t **>calloc(nlengths, sizeof(exact_table_t *))
        self.c.probe_masks = <const uint64_t **>calloc(nlengths, sizeof(uint64_t *))
        self.c.probe_lengths = <uint32_t *>calloc(nlengths, sizeof(uint32_t))
        self.c.length_masks = <uint64_t *>calloc(nlengths * self.c.key_words, sizeof(uint64_t))
        if (self.c.by_length == NULL or self.c.probe_tables == NULL or self.c.probe_masks == NULL
                or self.c.probe_lengths == NULL or self.c.length_masks == NULL):
            raise MemoryError("cannot allocate the LPM table")
        for length in range(nlengths):
            mask = self._key_mask(length)
            exact_load_key(key_bytes, &mask[0], self.c.length_masks + length * self.c.key_words)

    def __dealloc__(self):
        _lpm_free(self.c)

    def _key_mask(self, prefix_len: int) -> bytes:
        """Key-wide byte mask that keeps the exact fields and the top prefix_len LPM bits."""
        field_mask = ((1 << prefix_len) - 1) << (self.lpm_bits - prefix_len)
        return (b"\xff" * self.lpm_offset + field_mask.to_bytes(self.lpm_bytes, "big")
                + b"\xff" * (self.key_bytes - self.lpm_offset - self.lpm_bytes))

    def _check_entry(self, key: bytes, prefix_len: int) -> None:
        if not 0 <= prefix_len <= self.lpm_bits:
            raise ValueError(f"prefix length {prefix_len} not in 0..{self.lpm_bits}")
        if len(key) != self.key_bytes:
            raise ValueError(f"key is {len(key)} bytes, the table's keys are {self.key_bytes}")
        field = int.from_bytes(key[self.lpm_offset:self.lpm_offset + self.lpm_bytes], "big")
        if field >> self.lpm_bits:
            raise ValueError(f"LPM value {field:#x} is wider than {self.lpm_bits} bits")
        if field & ((1 << (self.lpm_bits - prefix_len)) - 1):
            raise ValueError(f"LPM value {field:#x} has bits set below the /{prefix_len} prefix")

    @property
    def memory_bytes(self) -> int:
        cdef uint64_t total = sizeof(lpm_table_t)
        cdef uint32_t length, nlengths = self.c.lpm_bits + 1
        total += nlengths * (3 * sizeof(void *) + sizeof(uint32_t))
        total += nlengths * self.c.key_words * sizeof(uint64_t)
        for length in range(nlengths):
            if self.c.by_length[length] != NULL:
                total += exact_memory_bytes(self.c.by_length[length])
        return total

    @property
    def prefix_lengths(self) -> list[int]:
        """Prefix lengths that have entries, longest first (the lookup's probe order)."""
        return [self.c.probe_lengths[i] for i in range(self.c.nprobes)]

    def __len__(self) -> int:
        return self.c.count

    def add(self, key: bytes, prefix_len: int, entry_id: int) -> None:
        """Add key/prefix_len -> entry_id. ValueError if bits below the prefix are set,
        KeyError if the same key and prefix length are present."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef exact_table_t *table
        cdef bint new_length = False
        if not 0 <= entry_id <= 0xFFFFFFFF:
            raise ValueError(f"entry id {entry_id} is not a uint32")
        self._check_entry(key, prefix_len)
        exact_load_checked(self.c.key_bytes, key, words)
        table = self.c.by_length[prefix_len]
        if table == NULL:
            table = exact_create(self.c.key_bytes, LENGTH_TABLE_INITIAL_ENTRIES)
            if table == NULL:
                raise MemoryError("cannot allocate a prefix-length table")
            new_length = True
        rc = exact_insert_words(table, words, entry_id)
        if rc != EXACT_OK:
            if new_length:
                exact_destroy(table)
            if rc == EXACT_EXISTS:
                raise KeyError(f"{bytes(key).hex()}/{prefix_len} is already in the table")
            raise MemoryError("cannot grow a prefix-length table")
        self.c.count += 1
        if new_length:
            self.c.by_length[prefix_len] = table
            _rebuild_probes(self.c)

    def replace(self, key: bytes, prefix_len: int, entry_id: int) -> None:
        """Point a present key/prefix_len at another entry id; KeyError if absent."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef exact_table_t *table
        if not 0 <= entry_id <= 0xFFFFFFFF:
            raise ValueError(f"entry id {entry_id} is not a uint32")
        self._check_entry(key, prefix_len)
        exact_load_checked(self.c.key_bytes, key, words)
        table = self.c.by_length[prefix_len]
        if table == NULL or exact_set_id_words(table, words, entry_id) == EXACT_MISSING:
            raise KeyError(f"{bytes(key).hex()}/{prefix_len} is not in the table")

    def delete(self, key: bytes, prefix_len: int) -> bool:
        """Remove key/prefix_len; False if absent."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef exact_table_t *table
        self._check_entry(key, prefix_len)
        exact_load_checked(self.c.key_bytes, key, words)
        table = self.c.by_length[prefix_len]
        if table == NULL or exact_delete_words(table, words) != EXACT_OK:
            return False
        self.c.count -= 1
        if table.count == 0:
            # An empty length would cost every lookup a probe: drop it.
            self.c.by_length[prefix_len] = NULL
            _rebuild_probes(self.c)
            exact_destroy(table)
        return True

    def get(self, key: bytes) -> int | None:
        """Entry id of the longest matching prefix, or None."""
        cdef const uint8_t[::1] view = key
        if <uint64_t>view.shape[0] != self.c.key_bytes:
            raise ValueError(f"key is {view.shape[0]} bytes, the table's keys are "
                             f"{self.c.key_bytes}")
        cdef int64_t r = lpm_lookup(self.c, &view[0])
        return None if r < 0 else r

    def clear(self) -> None:
        cdef uint32_t length
        cdef exact_table_t *table
        self.c.nprobes = 0
        for length in range(self.c.lpm_bits + 1):
            table = self.c.by_length[length]
            self.c.by_length[length] = NULL
            exact_destroy(table)
        self.c.count = 0

    def lookup_batch(self, const uint8_t[::1] keys, int64_t[::1] out) -> int:
        """Look up len(out) keys laid end to end in `keys` through the per-packet path (without
        the GIL); write each id or -1 to out and return the number of hits."""
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
                r = lpm_lookup(self.c, &keys[i * kb])
                out[i] = r
                hits += r >= 0
        return hits
