# cython: language_level=3
"""Ternary/range/optional match: tuple-space search, or a rank-sorted linear scan while that is
cheaper (see match_ternary.pxd for the layouts and the choice).

One writer; the engine writes only the copy of a table no worker reads (engine commit.pxi),
so readers never run during a write. Writes are Python-level code that keeps the C arrays consistent; only the lookup
runs without the GIL.
"""

from libc.stdint cimport INT64_MIN, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memcmp, memcpy, memmove, memset

from target.pipeline.match_exact cimport (
    EXACT_MAX_KEY_BYTES,
    EXACT_MAX_KEY_WORDS,
    EXACT_OK,
    __builtin_prefetch,
    exact_delete_words,
    exact_find_slot,
    exact_hash_words,
    exact_init,
    exact_insert_words,
    exact_key_words,
    exact_load_checked,
    exact_load_key,
    exact_lookup_words,
    exact_mask_words,
    exact_memory_bytes,
    exact_release,
    exact_set_id_words,
    exact_table_t,
)

FIELD_KINDS = ("exact", "lpm", "ternary", "range", "optional")
STRATEGIES = ("auto", "tuple", "linear")

# A new group starts with a small hash table; it doubles as values arrive.
cdef uint64_t GROUP_INITIAL_ENTRIES = 8


cdef inline bint _ranks_before(int64_t priority_a, uint64_t seq_a,
                               int64_t priority_b, uint64_t seq_b) noexcept nogil:
    """True when entry a wins over entry b."""
    return priority_a > priority_b or (priority_a == priority_b and seq_a < seq_b)


cdef inline bint _within_bounds(const ternary_table_t *t, const uint8_t *bounds,
                                const uint8_t *key) noexcept nogil:
    cdef uint32_t r
    cdef const tern_range_field_t *f
    cdef const uint8_t *field
    for r in range(t.nrange_fields):
        f = &t.range_fields[r]
        field = key + f.offset
        # Big-endian bytes of equal width compare like the integers they encode.
        if memcmp(field, bounds + f.bounds_offset, f.nbytes) < 0:
            return False
        if memcmp(field, bounds + f.bounds_offset + f.nbytes, f.nbytes) > 0:
            return False
    return True


cdef int64_t ternary_lookup(const ternary_table_t *t, const uint8_t *key) noexcept nogil:
    """Entry id of the best-ranked entry matching the key_bytes-long key, or -1."""
    if t.use_linear:
        return ternary_lookup_linear(t, key)
    return ternary_lookup_tuples(t, key)


cdef inline int64_t _linear_hit(const ternary_table_t *t, uint32_t position,
                                const uint8_t *key) noexcept nogil:
    """Entry id at a rank position whose value and mask matched, if its ranges hold too."""
    cdef uint32_t slot = t.linear_slots[position]
    cdef const tern_entry_t *e = &t.entries[slot]
    if not e.has_bounds or _within_bounds(t, t.bounds + <uint64_t>slot * t.bounds_stride, key):
        return e.entry_id
    return -1


cdef int64_t ternary_lookup_linear(const ternary_table_t *t, const uint8_t *key) noexcept nogil:
    """ternary_lookup by scanning the rank-sorted array: the first match is the best."""
    cdef uint64_t words[EXACT_MAX_KEY_WORDS]
    cdef uint32_t p, j, n = t.key_words
    cdef const uint64_t *value = t.linear_words
    cdef uint64_t w0, w1
    cdef int64_t r
    exact_load_key(t.key_bytes, key, words)
    # value[0..n) are an entry's value words, value[n..2n) its mask words. Keys of one or two
    # words (up to 16 bytes) get loops without an inner loop.
    if n == 1:
        w0 = words[0]
        for p in range(t.linear_count):
            if (w0 & value[1]) == value[0]:
                r = _linear_hit(t, p, key)
                if r >= 0:
                    return r
            value += 2
    elif n == 2:
        w0 = words[0]
        w1 = words[1]
        for p in range(t.linear_count):
            if (w0 & value[2]) == value[0] and (w1 & value[3]) == value[1]:
                r = _linear_hit(t, p, key)
                if r >= 0:
                    return r
            value += 4
    else:
        for p in range(t.linear_count):
            j = 0
            while j < n and (words[j] & value[n + j]) == value[j]:
                j += 1
            if j == n:
                r = _linear_hit(t, p, key)
                if r >= 0:
                    return r
            value += 2 * n
    return -1


cdef int64_t ternary_lookup_tuples(const ternary_table_t *t, const uint8_t *key) noexcept nogil:
    """ternary_lookup by tuple-space search over the rank-ordered groups.

    Groups are probed TERN_AHEAD at a time: all their masked keys are hashed and their home
    slots prefetched first, so the cache misses of several groups overlap."""
    cdef uint64_t words[EXACT_MAX_KEY_WORDS]
    cdef uint64_t masked[TERN_AHEAD * EXACT_MAX_KEY_WORDS]
    cdef uint64_t hashes[TERN_AHEAD]
    cdef uint32_t start, c, chunk, group_slot, n = t.key_words
    cdef uint32_t slot
    cdef const tern_group_t *g
    cdef const tern_entry_t *e
    cdef int64_t found_slot
    cdef bint found = False
    cdef int64_t best_priority = INT64_MIN
    cdef uint64_t best_seq = 0
    cdef uint32_t best_id = 0
    exact_load_key(t.key_bytes, key, words)
    start = 0
    while start < t.norder:
        chunk = t.norder - start if t.norder - start < TERN_AHEAD else TERN_AHEAD
        for c in range(chunk):
            group_slot = t.order[start + c]
            g = &t.groups[group_slot]
            exact_mask_words(masked + c * n, words, t.group_masks + <uint64_t>group_slot * n, n)
            hashes[c] = exact_hash_words(masked + c * n, n)
            __builtin_prefetch(g.heads.meta + (hashes[c] & g.heads.mask) * g.heads.meta_stride)
        for c in range(chunk):
            g = &t.groups[t.order[start + c]]
            # Groups are in rank order of their best entry: once one cannot beat the match
            # found, none of the following can.
            if found and not _ranks_before(g.best_priority, g.best_seq, best_priority, best_seq):
                return best_id
            found_slot = exact_find_slot(&g.heads, masked + c * n, hashes[c])
            if found_slot < 0:
                continue
            slot = <uint32_t>(g.heads.meta[<uint64_t>found_slot * g.heads.meta_stride]
                              & 0xFFFFFFFFULL)
            while slot != TERN_NONE:
                e = &t.entries[slot]
                if found and not _ranks_before(e.priority, e.seq, best_priority, best_seq):
                    break
                if not e.has_bounds or _within_bounds(
                        t, t.bounds + <uint64_t>slot * t.bounds_stride, key):
                    found = True
                    best_priority = e.priority
                    best_seq = e.seq
                    best_id = e.entry_id
                    break
                slot = e.next
        start += chunk
    return best_id if found else -1


cdef void _ternary_free(ternary_table_t *t) noexcept nogil:
    cdef uint32_t i
    if t == NULL:
        return
    if t.groups != NULL:
        for i in range(t.groups_capacity):
            exact_release(&t.groups[i].heads)
    free(t.groups)
    free(t.group_masks)
    free(t.order)
    free(t.entries)
    free(t.bounds)
    free(t.range_fields)
    free(t.linear_words)
    free(t.linear_slots)
    free(t)


cdef void _refresh_group_best(ternary_table_t *t, tern_group_t *g) noexcept nogil:
    """Recompute a group's best entry from its chain heads (each head is its chain's best)."""
    cdef const exact_table_t *heads = &g.heads
    cdef uint64_t i, m
    cdef const tern_entry_t *e
    cdef bint any_head = False
    for i in range(heads.mask + 1):
        m = heads.meta[i * heads.meta_stride]
        if m == 0:
            continue
        e = &t.entries[m & 0xFFFFFFFFULL]
        if not any_head or _ranks_before(e.priority, e.seq, g.best_priority, g.best_seq):
            g.best_priority = e.priority
            g.best_seq = e.seq
            any_head = True


cdef void _place_group(ternary_table_t *t, uint32_t group_slot) noexcept nogil:
    """Move (or insert) a group to its rank position in order."""
    cdef uint32_t i, pos = 0
    cdef const tern_group_t *g = &t.groups[group_slot]
    cdef const tern_group_t *other
    # Take it out if present.
    for i in range(t.norder):
        if t.order[i] == group_slot:
            memmove(&t.order[i], &t.order[i + 1], (t.norder - i - 1) * sizeof(uint32_t))
            t.norder -= 1
            break
    while pos < t.norder:
        other = &t.groups[t.order[pos]]
        if _ranks_before(g.best_priority, g.best_seq, other.best_priority, other.best_seq):
            break
        pos += 1
    for i in range(t.norder, pos, -1):
        t.order[i] = t.order[i - 1]
    t.order[pos] = group_slot
    t.norder += 1


cdef void _drop_group(ternary_table_t *t, uint32_t group_slot) noexcept nogil:
    cdef uint32_t i
    for i in range(t.norder):
        if t.order[i] == group_slot:
            memmove(&t.order[i], &t.order[i + 1], (t.norder - i - 1) * sizeof(uint32_t))
            t.norder -= 1
            break
    exact_release(&t.groups[group_slot].heads)
    memset(&t.groups[group_slot], 0, sizeof(tern_group_t))


cdef class TernaryTable:
    """Ternary/range/optional table: (value, mask, range bounds, priority) -> uint32 entry id.

    `fields` lists the key fields as (byte offset, nbytes, kind), kind one of exact, lpm,
    ternary, range, optional. Masks of every kind come in `mask` (the engine turns prefix
    lengths and optional wildcards into masks); range fields take bounds instead and must be
    zero in the mask. `strategy` "auto" picks tuple space or the linear scan by cost after each
    write; "tuple" and "linear" pin one (for tests and measurements). One writer; the engine
    writes only the copy no worker reads (commit.pxi), so lookups never run during a write.
    """

    def __cinit__(self, uint32_t key_bytes, list fields, str strategy="auto"):
        cdef uint32_t r = 0, bounds_offset = 0
        if key_bytes == 0 or key_bytes > EXACT_MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{EXACT_MAX_KEY_BYTES} bytes")
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}, not one of {STRATEGIES}")
        self.strategy = strategy
        self._keep_linear = strategy != "tuple"
        checked = []
        for offset, nbytes, kind in fields:
            if kind not in FIELD_KINDS:
                raise ValueError(f"unknown match kind {kind!r}")
            if nbytes < 1 or offset < 0 or offset + nbytes > key_bytes:
                raise ValueError(f"field of {nbytes} bytes at {offset} does not fit")
            checked.append((int(offset), int(nbytes), str(kind)))
        self.key_bytes = key_bytes
        self.fields = checked
        self._range_index = {i: n for n, i in enumerate(
            i for i, f in enumerate(checked) if f[2] == "range")}
        self._by_id = {}
        self._group_of_mask = {}
        self._free_entries = []
        self._free_groups = []
        self._next_seq = 0
        self.c = <ternary_table_t *>calloc(1, sizeof(ternary_table_t))
        if self.c == NULL:
            raise MemoryError("cannot allocate the ternary table")
        self.c.key_bytes = key_bytes
        self.c.key_words = exact_key_words(key_bytes)
        self.c.nrange_fields = len(self._range_index)
        self.c.range_fields = <tern_range_field_t *>calloc(
            max(1, self.c.nrange_fields), sizeof(tern_range_field_t))
        if self.c.range_fields == NULL:
            raise MemoryError("cannot allocate the ternary table")
        for index in self._range_index:
            offset, nbytes, _ = checked[index]
            self.c.range_fields[r].offset = offset
            self.c.range_fields[r].nbytes = nbytes
            self.c.range_fields[r].bounds_offset = bounds_offset
            bounds_offset += 2 * nbytes
            r += 1
        self.c.bounds_stride = bounds_offset
        self._choose_strategy()

    def __dealloc__(self):
        _ternary_free(self.c)

    @property
    def lookup_strategy(self) -> str:
        """What lookups use now: "linear" or "tuple"."""
        return "linear" if self.c.use_linear else "tuple"

    @property
    def group_count(self) -> int:
        """Distinct masks (tuples): the most hash probes a lookup makes."""
        return self.c.norder

    @property
    def memory_bytes(self) -> int:
        cdef uint64_t total = sizeof(ternary_table_t)
        cdef uint32_t i
        total += self.c.entries_capacity * (sizeof(tern_entry_t) + self.c.bounds_stride)
        total += self.c.groups_capacity * (sizeof(tern_group_t) + sizeof(uint32_t))
        for i in range(self.c.groups_capacity):
            if self.c.groups[i].heads.block != NULL:
                total += exact_memory_bytes(&self.c.groups[i].heads) - sizeof(exact_table_t)
        total += self.c.groups_capacity * self.c.key_words * sizeof(uint64_t)
        total += self.c.linear_capacity * (2 * self.c.key_words * sizeof(uint64_t)
                                           + sizeof(uint32_t))
        return total

    def __len__(self) -> int:
        return len(self._by_id)

    def _bounds_record(self, mask_int: int, ranges: list) -> tuple[bytes, bool]:
        """Validate the range part of an entry; return its bounds record and whether any range
        field is constrained (a bound covering the whole field is no constraint)."""
        for index, (offset, nbytes, kind) in enumerate(self.fields):
            field_mask = ((1 << (8 * nbytes)) - 1) << (8 * (self.key_bytes - offset - nbytes))
            if kind == "range" and mask_int & field_mask:
                raise ValueError(f"range field {index} takes a range, not a mask")
        given: dict[int, tuple[bytes, bytes]] = {}
        for index, lo, hi in ranges:
            if index not in self._range_index:
                raise ValueError(f"field {index} is not a range field")
            if index in given:
                raise ValueError(f"two ranges for field {index}")
            nbytes = self.fields[index][1]
            if len(lo) != nbytes or len(hi) != nbytes:
                raise ValueError(f"range bounds of field {index} must be {nbytes} bytes")
            if bytes(lo) > bytes(hi):
                raise ValueError(f"empty range {bytes(lo).hex()}..{bytes(hi).hex()} on field "
                                 f"{index}")
            given[index] = (bytes(lo), bytes(hi))
        record = bytearray()
        constrained = False
        for index in self._range_index:
            nbytes = self.fields[index][1]
            lo, hi = given.get(index, (b"\x00" * nbytes, b"\xff" * nbytes))
            constrained = constrained or lo != b"\x00" * nbytes or hi != b"\xff" * nbytes
            record += lo + hi
        return bytes(record), constrained

    cdef int _grow_entries(self) except -1:
        cdef uint32_t old = self.c.entries_capacity
        cdef uint32_t capacity = 16 if old == 0 else 2 * old
        cdef tern_entry_t *entries
        cdef uint8_t *bounds
        if old >= TERN_NONE // 2:
            raise MemoryError("the ternary table is full")
        entries = <tern_entry_t *>realloc(self.c.entries, capacity * sizeof(tern_entry_t))
        if entries == NULL:
            raise MemoryError("cannot grow the ternary table")
        self.c.entries = entries
        bounds = <uint8_t *>realloc(self.c.bounds, max(1, capacity * self.c.bounds_stride))
        if bounds == NULL:
            raise MemoryError("cannot grow the ternary table")
        self.c.bounds = bounds
        self.c.entries_capacity = capacity
        self._free_entries.extend(range(<int64_t>capacity - 1, <int64_t>old - 1, -1))
        return 0

    cdef uint32_t _new_group(self, bytes mask, int64_t priority, uint64_t seq) except? TERN_NONE:
        cdef uint32_t old = self.c.groups_capacity
        cdef uint32_t capacity, slot
        cdef tern_group_t *groups
        cdef uint32_t *order
        cdef uint64_t *masks
        cdef tern_group_t *g
        if not self._free_groups:
            capacity = 8 if old == 0 else 2 * old
            groups = <tern_group_t *>realloc(self.c.groups, capacity * sizeof(tern_group_t))
            if groups == NULL:
                raise MemoryError("cannot grow the ternary table's groups")
            memset(groups + old, 0, (capacity - old) * sizeof(tern_group_t))
            self.c.groups = groups
            order = <uint32_t *>realloc(self.c.order, capacity * sizeof(uint32_t))
            if order == NULL:
                raise MemoryError("cannot grow the ternary table's groups")
            self.c.order = order
            masks = <uint64_t *>realloc(self.c.group_masks,
                                        capacity * self.c.key_words * sizeof(uint64_t))
            if masks == NULL:
                raise MemoryError("cannot grow the ternary table's groups")
            self.c.group_masks = masks
            self.c.groups_capacity = capacity
            self._free_groups.extend(range(<int64_t>capacity - 1, <int64_t>old - 1, -1))
        slot = self._free_groups.pop()
        g = &self.c.groups[slot]
        if exact_init(&g.heads, self.c.key_bytes, GROUP_INITIAL_ENTRIES) != EXACT_OK:
            self._free_groups.append(slot)
            raise MemoryError("cannot allocate a ternary group")
        exact_load_key(self.c.key_bytes, <const uint8_t *><const char *>mask,
                       self.c.group_masks + <uint64_t>slot * self.c.key_words)
        g.best_priority = priority
        g.best_seq = seq
        g.nentries = 0
        self._group_of_mask[mask] = slot
        _place_group(self.c, slot)
        return slot

    cdef int _linear_reserve(self) except -1:
        """Room for one more entry in the rank-sorted array, so that inserting cannot fail."""
        cdef uint32_t capacity
        cdef uint64_t *words
        cdef uint32_t *slots
        if not self._keep_linear or self.c.linear_count < self.c.linear_capacity:
            return 0
        capacity = 16 if self.c.linear_capacity == 0 else 2 * self.c.linear_capacity
        words = <uint64_t *>realloc(self.c.linear_words,
                                    capacity * 2 * self.c.key_words * sizeof(uint64_t))
        if words == NULL:
            raise MemoryError("cannot grow the ternary table's linear list")
        self.c.linear_words = words
        slots = <uint32_t *>realloc(self.c.linear_slots, capacity * sizeof(uint32_t))
        if slots == NULL:
            raise MemoryError("cannot grow the ternary table's linear list")
        self.c.linear_slots = slots
        self.c.linear_capacity = capacity
        return 0

    cdef void _linear_insert(self, uint32_t slot, bytes value, bytes mask):
        """Put an entry at its rank position (room was reserved by _linear_reserve)."""
        cdef tern_entry_t *e = &self.c.entries[slot]
        cdef tern_entry_t *other
        cdef uint32_t lo = 0, hi = self.c.linear_count, mid
        cdef uint32_t stride = 2 * self.c.key_words
        cdef uint64_t *words
        if not self._keep_linear:
            return
        while lo < hi:                  # first position the new entry ranks before
            mid = (lo + hi) // 2
            other = &self.c.entries[self.c.linear_slots[mid]]
            if _ranks_before(e.priority, e.seq, other.priority, other.seq):
                hi = mid
            else:
                lo = mid + 1
        words = self.c.linear_words + <uint64_t>lo * stride
        memmove(words + stride, words, (self.c.linear_count - lo) * stride * sizeof(uint64_t))
        memmove(&self.c.linear_slots[lo + 1], &self.c.linear_slots[lo],
                (self.c.linear_count - lo) * sizeof(uint32_t))
        exact_load_key(self.c.key_bytes, <const uint8_t *><const char *>value, words)
        exact_load_key(self.c.key_bytes, <const uint8_t *><const char *>mask,
                       words + self.c.key_words)
        self.c.linear_slots[lo] = slot
        self.c.linear_count += 1

    cdef void _linear_remove(self, uint32_t slot):
        cdef tern_entry_t *e = &self.c.entries[slot]
        cdef tern_entry_t *other
        cdef uint32_t lo = 0, hi = self.c.linear_count, mid
        cdef uint32_t stride = 2 * self.c.key_words
        cdef uint64_t *words
        if not self._keep_linear:
            return
        while lo < hi:                  # ranks are unique: this finds the entry itself
            mid = (lo + hi) // 2
            other = &self.c.entries[self.c.linear_slots[mid]]
            if _ranks_before(other.priority, other.seq, e.priority, e.seq):
                lo = mid + 1
            else:
                hi = mid
        words = self.c.linear_words + <uint64_t>lo * stride
        memmove(words, words + stride, (self.c.linear_count - lo - 1) * stride * sizeof(uint64_t))
        memmove(&self.c.linear_slots[lo], &self.c.linear_slots[lo + 1],
                (self.c.linear_count - lo - 1) * sizeof(uint32_t))
        self.c.linear_count -= 1

    cdef void _linear_drop(self):
        self._keep_linear = False
        self.c.use_linear = 0
        self.c.linear_count = 0
        self.c.linear_capacity = 0
        free(self.c.linear_words)
        free(self.c.linear_slots)
        self.c.linear_words = NULL
        self.c.linear_slots = NULL

    cdef int _linear_rebuild(self) except -1:
        """Refill the rank-sorted array from the entries (when the table shrank back)."""
        cdef uint32_t slot
        cdef tern_entry_t *e
        self._keep_linear = True
        self.c.linear_count = 0
        by_rank = sorted(self._by_id.values(), key=lambda found: (
            -self.c.entries[<uint32_t>found[0]].priority,
            self.c.entries[<uint32_t>found[0]].seq))
        for slot, value, mask in by_rank:
            self._linear_reserve()
            self._linear_insert(slot, value, mask)
        return 0

    cdef int _choose_strategy(self) except -1:
        """After a write: keep or drop the linear array and pick what lookups use."""
        cdef uint64_t n = len(self._by_id)
        if self.strategy == "tuple":
            self.c.use_linear = 0
            return 0
        if self.strategy == "auto":
            if self._keep_linear and n > TERN_LINEAR_MAX_ENTRIES:
                self._linear_drop()
            elif not self._keep_linear and n <= TERN_LINEAR_MAX_ENTRIES // 2:
                try:
                    self._linear_rebuild()
                except MemoryError:
                    self._linear_drop()
            self.c.use_linear = self._keep_linear and n <= TERN_GROUP_COST * self.c.norder
        else:
            self.c.use_linear = 1
        return 0

    def add(self, value: bytes, mask: bytes, ranges: list[tuple[int, bytes, bytes]],
            priority: int, entry_id: int) -> None:
        """Add an entry. ValueError for a malformed one (value bits outside the mask, a mask on a
        range field, bad bounds), KeyError for a taken entry id or an entry with the same match
        and priority."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef int64_t head
        cdef uint32_t slot, group_slot, prev, cur
        cdef tern_entry_t *e
        cdef tern_group_t *g
        cdef const uint8_t *record_ptr
        if not 0 <= entry_id <= 0xFFFFFFFF:
            raise ValueError(f"entry id {entry_id} is not a uint32")
        if not -(1 << 63) <= priority < (1 << 63):
            raise ValueError(f"priority {priority} is not an int64")
        exact_load_checked(self.c.key_bytes, value, words)
        exact_load_checked(self.c.key_bytes, mask, words)
        value, mask = bytes(value), bytes(mask)
        value_int, mask_int = int.from_bytes(value, "big"), int.from_bytes(mask, "big")
        if value_int & ~mask_int:
            raise ValueError("value has bits set outside the mask")
        record, constrained = self._bounds_record(mask_int, ranges)
        record_ptr = <const uint8_t *><const char *>record
        if entry_id in self._by_id:
            raise KeyError(f"entry id {entry_id} is already in the table")
        exact_load_key(self.c.key_bytes, <const uint8_t *><const char *>value, words)

        group_slot = self._group_of_mask.get(mask, TERN_NONE)
        head = -1
        if group_slot != TERN_NONE:
            head = exact_lookup_words(&self.c.groups[group_slot].heads, words)
            cur = <uint32_t>head if head >= 0 else TERN_NONE
            while cur != TERN_NONE:
                if (self.c.entries[cur].priority == priority and memcmp(
                        self.c.bounds + <uint64_t>cur * self.c.bounds_stride, record_ptr,
                        self.c.bounds_stride) == 0):
                    raise KeyError("an entry with this match and priority is already in the "
                                   "table")
                cur = self.c.entries[cur].next

        if not self._free_entries:
            self._grow_entries()
        self._linear_reserve()
        seq = self._next_seq
        if group_slot == TERN_NONE:
            group_slot = self._new_group(mask, priority, seq)
        g = &self.c.groups[group_slot]
        slot = self._free_entries[len(self._free_entries) - 1]
        if head < 0 and exact_insert_words(&g.heads, words, slot) != EXACT_OK:
            if g.nentries == 0:
                _drop_group(self.c, group_slot)
                del self._group_of_mask[mask]
                self._free_groups.append(group_slot)
            raise MemoryError("cannot grow a ternary group")
        self._free_entries.pop()
        self._next_seq += 1

        e = &self.c.entries[slot]
        e.priority = priority
        e.seq = seq
        e.entry_id = entry_id
        e.group = group_slot
        e.has_bounds = constrained
        e.next = TERN_NONE
        if self.c.bounds_stride:
            memcpy(self.c.bounds + <uint64_t>slot * self.c.bounds_stride, record_ptr,
                   self.c.bounds_stride)
        if head >= 0:
            # The new entry has the highest sequence: it goes after every entry of its chain
            # with a priority at least its own.
            prev = TERN_NONE
            cur = <uint32_t>head
            while cur != TERN_NONE and self.c.entries[cur].priority >= priority:
                prev = cur
                cur = self.c.entries[cur].next
            e.next = cur
            if prev == TERN_NONE:
                exact_set_id_words(&g.heads, words, slot)
            else:
                self.c.entries[prev].next = slot
        g.nentries += 1
        if g.nentries == 1 or _ranks_before(priority, seq, g.best_priority, g.best_seq):
            g.best_priority = priority
            g.best_seq = seq
            _place_group(self.c, group_slot)
        self._by_id[entry_id] = (slot, value, mask)
        self._linear_insert(slot, value, mask)
        self._choose_strategy()

    def delete(self, entry_id: int) -> bool:
        """Remove the entry with this id; False if there is none."""
        cdef uint64_t words[EXACT_MAX_KEY_WORDS]
        cdef uint32_t slot, group_slot, prev, cur
        cdef tern_entry_t *e
        cdef tern_group_t *g
        found = self._by_id.pop(entry_id, None)
        if found is None:
            return False
        slot, value, mask = found
        e = &self.c.entries[slot]
        group_slot = e.group
        g = &self.c.groups[group_slot]
        exact_load_key(self.c.key_bytes, <const uint8_t *><const char *>value, words)
        prev = TERN_NONE
        cur = <uint32_t>exact_lookup_words(&g.heads, words)
        while cur != slot:
            prev = cur
            cur = self.c.entries[cur].next
        if prev != TERN_NONE:
            self.c.entries[prev].next = e.next
        elif e.next != TERN_NONE:
            exact_set_id_words(&g.heads, words, e.next)
        else:
            exact_delete_words(&g.heads, words)
        g.nentries -= 1
        self._linear_remove(slot)
        self._free_entries.append(slot)
        if g.nentries == 0:
            _drop_group(self.c, group_slot)
            del self._group_of_mask[mask]
            self._free_groups.append(group_slot)
        elif e.priority == g.best_priority and e.seq == g.best_seq:
            _refresh_group_best(self.c, g)
            _place_group(self.c, group_slot)
        self._choose_strategy()
        return True

    def get(self, key: bytes) -> int | None:
        """Entry id of the best-ranked matching entry, or None."""
        cdef const uint8_t[::1] view = key
        if <uint64_t>view.shape[0] != self.c.key_bytes:
            raise ValueError(f"key is {view.shape[0]} bytes, the table's keys are "
                             f"{self.c.key_bytes}")
        cdef int64_t r = ternary_lookup(self.c, &view[0])
        return None if r < 0 else r

    def clear(self) -> None:
        cdef uint32_t i
        for i in range(self.c.groups_capacity):
            if self.c.groups[i].heads.block != NULL:
                _drop_group(self.c, i)
        self.c.norder = 0
        self._by_id.clear()
        self._group_of_mask.clear()
        self._free_entries = list(range(<int64_t>self.c.entries_capacity - 1, -1, -1))
        self._free_groups = list(range(<int64_t>self.c.groups_capacity - 1, -1, -1))
        self._next_seq = 0
        self.c.linear_count = 0
        self._choose_strategy()

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
                r = ternary_lookup(self.c, &keys[i * kb])
                out[i] = r
                hits += r >= 0
        return hits
