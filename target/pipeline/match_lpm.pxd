# Longest-prefix match over a key of any width in which exactly one field is LPM and every other
# field is exact: what a P4 `lpm` table is (the 32-bit IPv4-only case has its own DIR-24-8).
#
# One exact-match hash table per prefix length that has entries. Each holds the entries' keys
# with the LPM field masked to that length; a lookup loads the key into 64-bit words once, then
# for each present length, longest first, masks the words with that length's mask and probes its
# table. The first hit is the longest match. A miss costs one probe per present length (a real
# IPv6 table has a few dozen lengths; IPv4 ones ~25), a hit stops early.
#
# The LPM field is lpm_bytes bytes at lpm_offset; its P4 width lpm_bits may be less than
# 8 * lpm_bytes, in which case the value sits in the low bits and the pad bits above it are
# ignored in keys and must be zero in entries. A prefix length L keeps the top L of the lpm_bits.
#
# Concurrency: one writer. The engine changes only the copy of a table no worker reads (engine
# commit.pxi), so a lookup never runs while an entry is added or deleted.

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from target.pipeline.match_exact cimport (
    EXACT_MAX_KEY_WORDS,
    exact_load_key,
    exact_lookup_words,
    exact_mask_words,
    exact_table_t,
)

cdef struct lpm_table_t:
    uint32_t key_bytes              # length of every key
    uint32_t key_words              # words a loaded key occupies (exact_key_words)
    uint32_t lpm_offset             # first byte of the LPM field in the key
    uint32_t lpm_bytes              # bytes of the LPM field
    uint32_t lpm_bits               # P4 width of the LPM field; prefix lengths are 0..lpm_bits
    uint32_t nprobes                # prefix lengths that have entries
    exact_table_t **probe_tables    # their tables, longest prefix first (nprobes of them)
    const uint64_t **probe_masks    # the matching word masks, same order
    uint32_t *probe_lengths         # the matching prefix lengths, same order
    exact_table_t **by_length       # lpm_bits + 1 tables indexed by prefix length; NULL if none
    uint64_t *length_masks          # (lpm_bits + 1) * key_words words: what each length keeps
    uint64_t count                  # entries over all lengths


cdef inline int64_t lpm_lookup(const lpm_table_t *t, const uint8_t *key) noexcept nogil:
    """Entry id of the longest matching prefix for the key_bytes-long key, or -1."""
    cdef uint64_t words[EXACT_MAX_KEY_WORDS]
    cdef uint64_t masked[EXACT_MAX_KEY_WORDS]
    cdef uint32_t p, n = t.key_words
    cdef int64_t r
    exact_load_key(t.key_bytes, key, words)
    for p in range(t.nprobes):
        exact_mask_words(masked, words, t.probe_masks[p], n)
        r = exact_lookup_words(t.probe_tables[p], masked)
        if r >= 0:
            return r
    return -1


cdef class LpmTable:
    cdef lpm_table_t *c
    cdef readonly uint32_t key_bytes
    cdef readonly uint32_t lpm_offset
    cdef readonly uint32_t lpm_bytes
    cdef readonly uint32_t lpm_bits     # P4 width of the LPM field
