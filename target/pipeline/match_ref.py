"""Slow, obviously correct references for the match structures.

Same Python APIs as ExactTable (match_exact), LpmTable (match_lpm) and TernaryTable
(match_ternary), written as lists and linear scans over Python ints so that each can be checked
by reading it. The randomized tests require the fast structures to give identical answers and to
refuse the same inputs with the same exception types.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_KEY_BYTES = 512
FIELD_KINDS = ("exact", "lpm", "ternary", "range", "optional")


def _check_key_len(key: bytes, key_bytes: int) -> int:
    if len(key) != key_bytes:
        raise ValueError(f"key is {len(key)} bytes, the table's keys are {key_bytes}")
    return int.from_bytes(key, "big")


def _check_entry_id(entry_id: int) -> None:
    if not 0 <= entry_id <= 0xFFFFFFFF:
        raise ValueError(f"entry id {entry_id} is not a uint32")


class ExactRef:
    """Exact match as a list of (key, entry id) pairs."""

    def __init__(self, key_bytes: int, capacity_hint: int = 64) -> None:
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{MAX_KEY_BYTES} bytes")
        self.key_bytes = key_bytes
        self._entries: list[tuple[int, int]] = []

    def _index(self, key: int) -> int | None:
        for i, (k, _) in enumerate(self._entries):
            if k == key:
                return i
        return None

    def add(self, key: bytes, entry_id: int) -> None:
        _check_entry_id(entry_id)
        k = _check_key_len(key, self.key_bytes)
        if self._index(k) is not None:
            raise KeyError(f"key {key.hex()} is already in the table")
        self._entries.append((k, entry_id))

    def replace(self, key: bytes, entry_id: int) -> None:
        _check_entry_id(entry_id)
        k = _check_key_len(key, self.key_bytes)
        i = self._index(k)
        if i is None:
            raise KeyError(f"key {key.hex()} is not in the table")
        self._entries[i] = (k, entry_id)

    def delete(self, key: bytes) -> bool:
        i = self._index(_check_key_len(key, self.key_bytes))
        if i is None:
            return False
        del self._entries[i]
        return True

    def get(self, key: bytes) -> int | None:
        i = self._index(_check_key_len(key, self.key_bytes))
        return None if i is None else self._entries[i][1]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class LpmRef:
    """LPM as a list of (prefix value, prefix length, entry id); a lookup scans them all."""

    def __init__(self, key_bytes: int, lpm_offset: int, lpm_bytes: int,
                 lpm_bits: int | None = None) -> None:
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{MAX_KEY_BYTES} bytes")
        if lpm_bytes < 1 or lpm_offset < 0 or lpm_offset + lpm_bytes > key_bytes:
            raise ValueError(f"LPM field of {lpm_bytes} bytes at {lpm_offset} does not fit")
        bits = 8 * lpm_bytes if lpm_bits is None else lpm_bits
        if not 8 * (lpm_bytes - 1) < bits <= 8 * lpm_bytes:
            raise ValueError(f"a {bits}-bit field does not take {lpm_bytes} bytes")
        self.key_bytes = key_bytes
        self.lpm_offset = lpm_offset
        self.lpm_bytes = lpm_bytes
        self.lpm_bits = bits
        # Bit position of the LPM field's least significant bit in the key as one integer.
        self._field_shift = 8 * (key_bytes - lpm_offset - lpm_bytes)
        self._entries: list[tuple[int, int, int]] = []

    def _key_mask(self, prefix_len: int) -> int:
        """Mask over the whole key: exact fields kept, the LPM field's top prefix_len bits kept."""
        all_ones = (1 << (8 * self.key_bytes)) - 1
        field_bytes_mask = ((1 << (8 * self.lpm_bytes)) - 1) << self._field_shift
        prefix = ((1 << prefix_len) - 1) << (self.lpm_bits - prefix_len)
        return (all_ones & ~field_bytes_mask) | (prefix << self._field_shift)

    def _check(self, key: bytes, prefix_len: int) -> int:
        if not 0 <= prefix_len <= self.lpm_bits:
            raise ValueError(f"prefix length {prefix_len} not in 0..{self.lpm_bits}")
        k = _check_key_len(key, self.key_bytes)
        field = (k >> self._field_shift) & ((1 << (8 * self.lpm_bytes)) - 1)
        if field >> self.lpm_bits:
            raise ValueError(f"LPM value {field:#x} is wider than {self.lpm_bits} bits")
        if k & ~self._key_mask(prefix_len):
            raise ValueError(f"LPM value {field:#x} has bits set below the /{prefix_len} prefix")
        return k

    def _index(self, k: int, prefix_len: int) -> int | None:
        for i, (value, length, _) in enumerate(self._entries):
            if value == k and length == prefix_len:
                return i
        return None

    def add(self, key: bytes, prefix_len: int, entry_id: int) -> None:
        _check_entry_id(entry_id)
        k = self._check(key, prefix_len)
        if self._index(k, prefix_len) is not None:
            raise KeyError(f"{key.hex()}/{prefix_len} is already in the table")
        self._entries.append((k, prefix_len, entry_id))

    def replace(self, key: bytes, prefix_len: int, entry_id: int) -> None:
        _check_entry_id(entry_id)
        k = self._check(key, prefix_len)
        i = self._index(k, prefix_len)
        if i is None:
            raise KeyError(f"{key.hex()}/{prefix_len} is not in the table")
        self._entries[i] = (k, prefix_len, entry_id)

    def delete(self, key: bytes, prefix_len: int) -> bool:
        i = self._index(self._check(key, prefix_len), prefix_len)
        if i is None:
            return False
        del self._entries[i]
        return True

    def get(self, key: bytes) -> int | None:
        k = _check_key_len(key, self.key_bytes)
        best_len, best_id = -1, None
        for value, length, entry_id in self._entries:
            if k & self._key_mask(length) == value and length > best_len:
                best_len, best_id = length, entry_id
        return best_id

    @property
    def prefix_lengths(self) -> list[int]:
        return sorted({length for _, length, _ in self._entries}, reverse=True)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True)
class TernaryRefEntry:
    value: int
    mask: int
    ranges: dict[int, tuple[int, int]]   # field index -> (lo, hi), wildcard fields absent
    priority: int
    entry_id: int


class TernaryRef:
    """Ternary/range match as a list in insertion order; a lookup scans every entry and keeps
    the highest priority, the earliest added among equals."""

    def __init__(self, key_bytes: int, fields: list[tuple[int, int, str]]) -> None:
        if not 1 <= key_bytes <= MAX_KEY_BYTES:
            raise ValueError(f"key length {key_bytes} not in 1..{MAX_KEY_BYTES} bytes")
        for offset, nbytes, kind in fields:
            if kind not in FIELD_KINDS:
                raise ValueError(f"unknown match kind {kind!r}")
            if nbytes < 1 or offset < 0 or offset + nbytes > key_bytes:
                raise ValueError(f"field of {nbytes} bytes at {offset} does not fit")
        self.key_bytes = key_bytes
        self.fields = list(fields)
        self._entries: list[TernaryRefEntry] = []

    def _field_value(self, key: int, index: int) -> int:
        offset, nbytes, _ = self.fields[index]
        shift = 8 * (self.key_bytes - offset - nbytes)
        return (key >> shift) & ((1 << (8 * nbytes)) - 1)

    def _field_mask(self, index: int) -> int:
        offset, nbytes, _ = self.fields[index]
        return ((1 << (8 * nbytes)) - 1) << (8 * (self.key_bytes - offset - nbytes))

    def add(self, value: bytes, mask: bytes, ranges: list[tuple[int, bytes, bytes]],
            priority: int, entry_id: int) -> None:
        _check_entry_id(entry_id)
        if not -(1 << 63) <= priority < (1 << 63):
            raise ValueError(f"priority {priority} is not an int64")
        v = _check_key_len(value, self.key_bytes)
        m = _check_key_len(mask, self.key_bytes)
        if v & ~m:
            raise ValueError("value has bits set outside the mask")
        range_map: dict[int, tuple[int, int]] = {}
        for index, (_, _, kind) in enumerate(self.fields):
            if kind == "range" and m & self._field_mask(index):
                raise ValueError(f"range field {index} takes a range, not a mask")
        for index, lo_bytes, hi_bytes in ranges:
            if not 0 <= index < len(self.fields) or self.fields[index][2] != "range":
                raise ValueError(f"field {index} is not a range field")
            if index in range_map:
                raise ValueError(f"two ranges for field {index}")
            nbytes = self.fields[index][1]
            if len(lo_bytes) != nbytes or len(hi_bytes) != nbytes:
                raise ValueError(f"range bounds of field {index} must be {nbytes} bytes")
            lo, hi = int.from_bytes(lo_bytes, "big"), int.from_bytes(hi_bytes, "big")
            if lo > hi:
                raise ValueError(f"empty range {lo:#x}..{hi:#x} on field {index}")
            if lo == 0 and hi == (1 << (8 * nbytes)) - 1:
                continue                # the whole field: the same as no constraint
            range_map[index] = (lo, hi)
        for e in self._entries:
            if e.entry_id == entry_id:
                raise KeyError(f"entry id {entry_id} is already in the table")
        for e in self._entries:
            if (e.value, e.mask, e.ranges, e.priority) == (v, m, range_map, priority):
                raise KeyError("an entry with this match and priority is already in the table")
        self._entries.append(TernaryRefEntry(v, m, range_map, priority, entry_id))

    def delete(self, entry_id: int) -> bool:
        for i, e in enumerate(self._entries):
            if e.entry_id == entry_id:
                del self._entries[i]
                return True
        return False

    def _matches(self, e: TernaryRefEntry, key: int) -> bool:
        if key & e.mask != e.value:
            return False
        for index, (lo, hi) in e.ranges.items():
            if not lo <= self._field_value(key, index) <= hi:
                return False
        return True

    def get(self, key: bytes) -> int | None:
        k = _check_key_len(key, self.key_bytes)
        best: TernaryRefEntry | None = None
        for e in self._entries:
            if self._matches(e, k) and (best is None or e.priority > best.priority):
                best = e
        return None if best is None else best.entry_id

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
