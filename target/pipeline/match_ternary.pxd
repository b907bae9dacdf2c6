# Ternary, range and optional match (and LPM mixed with them): tuple-space search.
#
# An entry is a per-byte value and mask over the whole key, bounds [lo, hi] on some range fields,
# a priority and the caller's entry id. A key matches when key & mask == value and every bounded
# range field lies within its bounds. The lookup returns the matching entry with the highest
# priority (P4Runtime: higher number wins); among equal priorities the entry added first wins.
# "Rank" below means that order: higher priority first, then lower insertion sequence.
#
# Entries are grouped by mask (a "tuple"; range fields are always fully masked out of the mask,
# their bounds are checked separately). Each group has an exact-match table from the masked key
# to the best-ranked entry of a chain: the entries of the group with that same value, linked in
# rank order (they differ in priority or in range bounds). Groups are kept sorted by the rank of
# their best entry, so a lookup visits groups in that order and stops as soon as the next group's
# best entry ranks below the match already found. A lookup is thus one hash probe per group
# visited, plus range checks along one chain per hit.
#
# Beside it, while the table is small enough (TERN_LINEAR_MAX_ENTRIES), the entries are also
# kept in a rank-sorted array of value and mask words: a linear scan compares 64-bit words and
# returns the first match, costing 0.3-1.3 ns per entry ranked above the match, where tuple
# space costs a hash probe (7-15 ns) per group visited, and its early stop rarely fires on real
# ACLs because nearly every group holds some high-priority rule. The writer picks, after
# each change, whichever is cheaper by that cost model (entries vs groups * TERN_GROUP_COST) and
# sets use_linear; TernaryTable(strategy=...) can pin either one (tests check both against the
# reference). bench/match.py measures both on synthetic ACLs.
#
# Concurrency: one writer. The engine changes only the copy of a table no worker reads (engine
# commit.pxi), so a lookup never runs while entries, chains or groups are changed or reallocated.

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t

from target.pipeline.match_exact cimport exact_table_t

cdef enum:
    TERN_NONE = 0x7FFFFFFF          # "no entry" in chain links (a positive int for C and Python)
    TERN_LINEAR_MAX_ENTRIES = 4096  # above this the rank-sorted array is dropped (O(n) inserts)
    TERN_AHEAD = 8                  # groups a tuple-space lookup hashes and prefetches ahead
    TERN_GROUP_COST = 16            # a group probe costs about as much as this many list compares
                                    # (measured 10-22x on full scans with 4-37 byte keys)

cdef struct tern_entry_t:
    int64_t priority                # higher wins
    uint64_t seq                    # insertion sequence: among equal priorities, lower wins
    uint32_t entry_id               # the caller's id, what a lookup returns
    uint32_t next                   # next entry slot of the same chain (lower rank) or TERN_NONE
    uint32_t group                  # group slot the entry belongs to
    uint32_t has_bounds             # 0 when no range field is constrained: skip the range checks

cdef struct tern_group_t:
    exact_table_t heads             # masked key -> entry slot of the best-ranked entry of a chain
                                    # (held by value: one fewer pointer to chase per group probe);
                                    # heads.block == NULL marks a free group slot
    int64_t best_priority           # priority of the group's best-ranked entry
    uint64_t best_seq               # its insertion sequence
    uint64_t nentries               # entries in the group; a group with none is freed

cdef struct tern_range_field_t:
    uint32_t offset                 # first byte of the field in the key
    uint32_t nbytes                 # its width; bounds are big-endian, compared as bytes
    uint32_t bounds_offset          # where its lo (then hi) sits in an entry's bounds record

cdef struct ternary_table_t:
    uint32_t key_bytes              # length of every key
    uint32_t key_words              # words a loaded key occupies (exact_key_words)
    tern_entry_t *entries           # entry slots; free slots are reused
    uint8_t *bounds                 # per entry slot, bounds_stride bytes of range bounds
    uint32_t bounds_stride          # 2 * total bytes of the range fields
    uint32_t entries_capacity       # slots allocated in entries and bounds
    tern_range_field_t *range_fields
    uint32_t nrange_fields
    tern_group_t *groups            # group slots
    uint64_t *group_masks           # key_words words per group slot: its mask, loaded like a key
    uint32_t groups_capacity
    uint32_t *order                 # slots of the live groups, best-ranked first
    uint32_t norder
    uint64_t *linear_words          # per rank position: key_words value words, key_words mask words
    uint32_t *linear_slots          # per rank position: the entry slot
    uint32_t linear_count           # entries in the rank-sorted array (0 when it is not kept)
    uint32_t linear_capacity        # positions allocated
    uint32_t use_linear             # 1: lookups scan the rank-sorted array; 0: tuple space


cdef int64_t ternary_lookup(const ternary_table_t *t, const uint8_t *key) noexcept nogil
cdef int64_t ternary_lookup_tuples(const ternary_table_t *t, const uint8_t *key) noexcept nogil
cdef int64_t ternary_lookup_linear(const ternary_table_t *t, const uint8_t *key) noexcept nogil


cdef class TernaryTable:
    cdef ternary_table_t *c
    cdef readonly uint32_t key_bytes
    cdef readonly list fields           # (byte offset, nbytes, kind) per key field
    cdef readonly str strategy          # "auto", "tuple" or "linear"
    cdef bint _keep_linear              # the rank-sorted array is maintained
    cdef dict _range_index              # field index -> position among the range fields
    cdef dict _by_id                    # entry id -> (entry slot, value, mask)
    cdef dict _group_of_mask            # mask bytes -> group slot
    cdef list _free_entries             # entry slots to reuse
    cdef list _free_groups              # group slots to reuse
    cdef uint64_t _next_seq             # insertion sequence of the next entry

    cdef int _grow_entries(self) except -1
    cdef uint32_t _new_group(self, bytes mask, int64_t priority, uint64_t seq) except? TERN_NONE
    cdef int _linear_reserve(self) except -1
    cdef void _linear_insert(self, uint32_t slot, bytes value, bytes mask)
    cdef void _linear_remove(self, uint32_t slot)
    cdef void _linear_drop(self)
    cdef int _linear_rebuild(self) except -1
    cdef int _choose_strategy(self) except -1
