"""The slow, obviously correct longest-prefix match that Dir24Lpm is checked against.

Rules live in a dict per prefix length; a lookup tries lengths 32 down to 0 and returns the
first rule that contains the address. Nothing is derived or cached except, for bulk lookups,
a sorted copy of each length's prefixes so that numpy can run the same scan over many
addresses at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import index

import numpy as np

MAX_LENGTH = 32
MAX_VALUE = (1 << 24) - 1


def prefix_mask(length: int) -> int:
    return (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF


class LpmRef:
    """prefix/length -> value rules with the same Python API as Dir24Lpm."""

    def __init__(self) -> None:
        self._rules: list[dict[int, int]] = [{} for _ in range(MAX_LENGTH + 1)]
        self._sorted: list[tuple[np.ndarray, np.ndarray]] | None = None

    @staticmethod
    def _check_rule(prefix: int, length: int) -> tuple[int, int]:
        prefix, length = index(prefix), index(length)
        if not 0 <= length <= MAX_LENGTH:
            raise ValueError(f"prefix length {length} is outside 0..32")
        if not 0 <= prefix <= 0xFFFFFFFF:
            raise ValueError(f"prefix {prefix:#x} is not a 32-bit address")
        if prefix & ~prefix_mask(length):
            raise ValueError(
                f"prefix {prefix:#x}/{length} has host bits set below the prefix length"
            )
        return prefix, length

    def add(self, prefix: int, length: int, value: int) -> None:
        prefix, length = self._check_rule(prefix, length)
        value = index(value)
        if not 0 <= value <= MAX_VALUE:
            raise ValueError(f"value {value} is outside 0..{MAX_VALUE}")
        self._rules[length][prefix] = value
        self._sorted = None

    def delete(self, prefix: int, length: int) -> bool:
        prefix, length = self._check_rule(prefix, length)
        self._sorted = None
        return self._rules[length].pop(prefix, None) is not None

    def get(self, prefix: int, length: int) -> int | None:
        prefix, length = self._check_rule(prefix, length)
        return self._rules[length].get(prefix)

    def lookup(self, addr: int) -> int:
        addr = index(addr)
        if not 0 <= addr <= 0xFFFFFFFF:
            raise ValueError(f"address {addr:#x} is not a 32-bit address")
        for length in range(MAX_LENGTH, -1, -1):
            value = self._rules[length].get(addr & prefix_mask(length))
            if value is not None:
                return value
        return -1

    def lookup_bulk(self, addrs: Iterable[int] | np.ndarray) -> np.ndarray:
        """lookup() of every address, vectorized: lengths 0..32 in turn, each match overwriting
        the shorter ones, so the longest match is what remains."""
        keys = np.asarray(addrs, dtype=np.uint32)
        result = np.full(keys.shape, -1, dtype=np.int64)
        for length, (prefixes, values) in enumerate(self._sorted_rules()):
            if len(prefixes) == 0:
                continue
            masked = keys & np.uint32(prefix_mask(length))
            pos = np.searchsorted(prefixes, masked)
            pos[pos == len(prefixes)] = 0
            hit = prefixes[pos] == masked
            result[hit] = values[pos[hit]]
        return result

    def _sorted_rules(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if self._sorted is None:
            self._sorted = []
            for rules in self._rules:
                prefixes = np.fromiter(rules.keys(), dtype=np.uint32, count=len(rules))
                values = np.fromiter(rules.values(), dtype=np.int64, count=len(rules))
                order = np.argsort(prefixes)
                self._sorted.append((prefixes[order], values[order]))
        return self._sorted

    def __len__(self) -> int:
        return sum(len(rules) for rules in self._rules)

    def clear(self) -> None:
        for rules in self._rules:
            rules.clear()
        self._sorted = None

    @property
    def memory_bytes(self) -> int:
        """A rough figure: 100 bytes per rule for the dict slot and the two int objects."""
        return 100 * len(self)

    def rules(self) -> Iterator[tuple[int, int, int]]:
        snapshot = [
            (prefix, length, value)
            for length, rules in enumerate(self._rules)
            for prefix, value in rules.items()
        ]
        return iter(snapshot)
