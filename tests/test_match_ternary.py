"""Ternary/range/optional match: state walks on the fast table and its reference, then
randomized cross-checks that require identical answers and identical refusals."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable
from functools import partial

import pytest

from target.pipeline.match_ref import TernaryRef
from target.pipeline.match_ternary import TernaryTable

STRATEGIES = ["auto", "tuple", "linear"]
IMPLEMENTATIONS = [partial(TernaryTable, strategy=s) for s in STRATEGIES] + [TernaryRef]
IMPLEMENTATION_IDS = STRATEGIES + ["reference"]

# An IPv4 ACL key: src (4, ternary), dst (4, lpm), proto (1, optional), dport (2, range).
ACL_FIELDS = [(0, 4, "ternary"), (4, 4, "lpm"), (8, 1, "optional"), (9, 2, "range")]
DPORT = 3


def outcome(call: Callable[..., object], *args: object) -> object:
    """The call's result, or the type of the exception it raised."""
    try:
        return call(*args)
    except (KeyError, ValueError) as exc:
        return type(exc)


def acl_key(src: int, dst: int, proto: int, dport: int) -> bytes:
    return (src.to_bytes(4, "big") + dst.to_bytes(4, "big") + bytes([proto])
            + dport.to_bytes(2, "big"))


def acl_mask(src: int, dst_len: int, proto: bool) -> bytes:
    dst = ((1 << dst_len) - 1) << (32 - dst_len)
    return acl_key(src, dst, 0xFF if proto else 0, 0)


def port_range(lo: int, hi: int) -> list[tuple[int, bytes, bytes]]:
    return [(DPORT, lo.to_bytes(2, "big"), hi.to_bytes(2, "big"))]


WILD = acl_key(0, 0, 0, 0)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IMPLEMENTATION_IDS)
def test_highest_priority_wins_and_delete_falls_back(impl: type) -> None:
    table = impl(11, ACL_FIELDS)
    table.add(WILD, WILD, [], 1, 100)                                   # catch-all
    table.add(acl_key(0, 0x0A000000, 0, 0), acl_mask(0, 8, False), [], 10, 200)
    table.add(acl_key(0, 0x0A010000, 6, 0), acl_mask(0, 16, True), [], 20, 300)
    table.add(acl_key(0, 0, 6, 0), acl_mask(0, 0, True), port_range(80, 80), 30, 400)
    assert len(table) == 4
    assert table.get(acl_key(1, 0x0B000001, 17, 53)) == 100
    assert table.get(acl_key(1, 0x0A020001, 17, 53)) == 200
    assert table.get(acl_key(1, 0x0A010001, 17, 53)) == 200
    assert table.get(acl_key(1, 0x0A010001, 6, 53)) == 300
    assert table.get(acl_key(1, 0x0A010001, 6, 80)) == 400
    assert table.delete(400) is True
    assert table.get(acl_key(1, 0x0A010001, 6, 80)) == 300
    assert table.delete(400) is False
    assert table.delete(300) is True
    assert table.get(acl_key(1, 0x0A010001, 6, 80)) == 200
    assert table.delete(100) is True
    assert table.get(acl_key(1, 0x0B000001, 17, 53)) is None
    assert table.delete(200) is True
    assert len(table) == 0
    assert table.get(acl_key(1, 0x0A010001, 6, 80)) is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IMPLEMENTATION_IDS)
def test_equal_priorities_go_to_the_entry_added_first(impl: type) -> None:
    table = impl(11, ACL_FIELDS)
    # Same priority, different masks (different tuple groups): first added wins.
    table.add(acl_key(0, 0x0A000000, 0, 0), acl_mask(0, 8, False), [], 5, 1)
    table.add(acl_key(0, 0x0A010000, 0, 0), acl_mask(0, 16, False), [], 5, 2)
    assert table.get(acl_key(0, 0x0A010101, 0, 0)) == 1
    # Same value and mask, ranges differ (one chain): first added wins, later ones fall in.
    table.add(acl_key(0, 0x14000000, 0, 0), acl_mask(0, 8, False), port_range(0, 1000), 7, 3)
    table.add(acl_key(0, 0x14000000, 0, 0), acl_mask(0, 8, False), port_range(500, 600), 7, 4)
    assert table.get(acl_key(0, 0x14000001, 0, 550)) == 3
    assert table.get(acl_key(0, 0x14000001, 0, 2000)) is None
    table.delete(3)
    assert table.get(acl_key(0, 0x14000001, 0, 550)) == 4
    table.delete(1)
    assert table.get(acl_key(0, 0x0A010101, 0, 0)) == 2


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IMPLEMENTATION_IDS)
def test_range_bounds_are_inclusive_and_compared_as_numbers(impl: type) -> None:
    table = impl(11, ACL_FIELDS)
    table.add(WILD, WILD, port_range(0x00FF, 0x0100), 1, 1)
    assert table.get(acl_key(0, 0, 0, 0x00FE)) is None
    assert table.get(acl_key(0, 0, 0, 0x00FF)) == 1
    assert table.get(acl_key(0, 0, 0, 0x0100)) == 1
    assert table.get(acl_key(0, 0, 0, 0x0101)) is None
    assert table.get(acl_key(0, 0, 0, 0x01FF)) is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IMPLEMENTATION_IDS)
def test_bad_entries_are_refused_and_change_nothing(impl: type) -> None:
    table = impl(11, ACL_FIELDS)
    table.add(WILD, WILD, [], 1, 1)
    bad_calls = [
        (ValueError, (acl_key(1, 0, 0, 0), WILD, [], 2, 2)),            # value outside mask
        (ValueError, (WILD, acl_key(0, 0, 0, 0xFFFF), [], 2, 2)),       # mask on a range field
        (ValueError, (WILD, WILD, [(0, b"\x00" * 4, b"\x01" * 4)], 2, 2)),   # not a range field
        (ValueError, (WILD, WILD, port_range(9, 8), 2, 2)),              # empty range
        (ValueError, (WILD, WILD, [(DPORT, b"\x00", b"\x01")], 2, 2)),   # wrong bound width
        (ValueError, (WILD, WILD, port_range(1, 2) + port_range(3, 4), 2, 2)),
        (ValueError, (WILD[:5], WILD, [], 2, 2)),                        # wrong key width
        (ValueError, (WILD, WILD, [], 2, 1 << 32)),                      # entry id not uint32
        (ValueError, (WILD, WILD, [], 1 << 63, 2)),                      # priority not int64
        (KeyError, (WILD, WILD, [], 2, 1)),                              # entry id taken
        (KeyError, (WILD, WILD, [], 1, 2)),                              # same match+priority
        (KeyError, (WILD, WILD, port_range(0, 0xFFFF), 1, 2)),           # full range = wildcard
    ]
    for error, args in bad_calls:
        with pytest.raises(error):
            table.add(*args)
    assert len(table) == 1
    assert table.get(acl_key(9, 9, 9, 9)) == 1
    # Same match at another priority, or another range at the same priority, is a new entry.
    table.add(WILD, WILD, [], 2, 2)
    table.add(WILD, WILD, port_range(0, 10), 2, 3)
    assert len(table) == 3
    assert table.get(acl_key(9, 9, 9, 9)) == 2


@pytest.mark.parametrize("impl", IMPLEMENTATIONS, ids=IMPLEMENTATION_IDS)
def test_entry_ids_are_reusable_after_delete(impl: type) -> None:
    table = impl(2, [(0, 2, "ternary")])
    table.add(b"\x12\x00", b"\xff\x00", [], 1, 42)
    table.delete(42)
    table.add(b"\x00\x34", b"\x00\xff", [], 1, 42)
    assert table.get(b"\x12\x34") == 42
    assert table.get(b"\x12\x00") is None


def test_auto_strategy_follows_the_cost_and_survives_switches() -> None:
    rng = random.Random(77)
    fields = [(0, 2, "ternary"), (2, 2, "ternary")]
    fast, ref = TernaryTable(4, fields), TernaryRef(4, fields)

    def check() -> None:
        keys = [rng.randbytes(4) for _ in range(200)]
        assert [fast.get(k) for k in keys] == [ref.get(k) for k in keys]

    # One mask, many values: one hash probe beats scanning them.
    for i in range(40):
        for table in (fast, ref):
            table.add(i.to_bytes(2, "big") + bytes(2), b"\xff\xff\x00\x00", [], i % 7, i)
    assert fast.lookup_strategy == "tuple"
    check()
    # As many masks as entries: scanning the entries beats probing every group.
    fast.clear()
    ref.clear()
    for i in range(40):
        mask = rng.randbytes(4)
        value = bytes(a & b for a, b in zip(rng.randbytes(4), mask, strict=True))
        priority = rng.randint(0, 9)
        for table in (fast, ref):
            table.add(value, mask, [], priority, i)
    assert fast.lookup_strategy == "linear"
    check()
    # Past the linear list's size limit it is dropped; shrinking far enough rebuilds it.
    for i in range(40, 4200):
        mask = rng.choice([b"\xff\xff\x00\x00", b"\xff\x00\xff\x00"])
        value = bytes(a & b for a, b in zip(rng.randbytes(4), mask, strict=True))
        priority = rng.randint(0, 9)
        assert outcome(fast.add, value, mask, [], priority, i) == outcome(
            ref.add, value, mask, [], priority, i)
    assert fast.lookup_strategy == "tuple"
    check()
    for i in range(40, 4200):
        assert fast.delete(i) == ref.delete(i)
    assert fast.lookup_strategy == "linear"
    check()


def test_groups_come_and_go_with_their_masks() -> None:
    table = TernaryTable(11, ACL_FIELDS)
    for length in range(0, 33, 4):
        table.add(acl_key(0, 0x0A000000 >> (32 - length) << (32 - length) if length else 0,
                          0, 0), acl_mask(0, length, False), [], length, length)
    assert table.group_count == 9
    assert table.get(acl_key(0, 0x0A000000, 0, 0)) == 32
    table.add(acl_key(0, 0x0A000000, 0, 0), acl_mask(0, 32, False), [], 99, 99)
    assert table.group_count == 9
    for length in range(0, 33, 4):
        table.delete(length)
    assert table.group_count == 1
    assert table.get(acl_key(0, 0x0A000000, 0, 0)) == 99
    table.clear()
    assert table.group_count == 0
    assert len(table) == 0
    table.add(WILD, WILD, [], 0, 5)
    assert table.get(acl_key(1, 2, 3, 4)) == 5


def random_layout(rng: random.Random, key_bytes: int) -> list[tuple[int, int, str]]:
    """Fields filling exactly key_bytes bytes, of random kinds and widths."""
    fields, offset = [], 0
    while offset < key_bytes:
        nbytes = min(key_bytes - offset, rng.choice([1, 1, 2, 2, 4, 6, 8, 16]))
        fields.append((offset, nbytes, rng.choice(["exact", "lpm", "ternary", "range",
                                                   "optional"])))
        offset += nbytes
    return fields


class RandomEntries:
    """Random entries and keys for one field layout: a few shared masks make several entries
    per tuple group, values near one base key make chains and overlapping matches."""

    def __init__(self, rng: random.Random, key_bytes: int) -> None:
        self.rng = rng
        self.fields = random_layout(rng, key_bytes)
        if rng.random() < 0.5 and len(self.fields) > 1:
            offset, nbytes, _ = self.fields[0]
            self.fields[0] = (offset, nbytes, "range")
        self.range_fields = [i for i, f in enumerate(self.fields) if f[2] == "range"]
        not_range = bytearray(b"\xff" * key_bytes)
        for i in self.range_fields:
            offset, nbytes, _ = self.fields[i]
            not_range[offset:offset + nbytes] = bytes(nbytes)
        self.masks = [bytes(rng.choice([0, 0, 0xFF, 0xFF, 0xF0, 0x0F]) & keep
                            for keep in not_range) for _ in range(5)]
        self.base = rng.randbytes(key_bytes)
        self.flip = min(0.15, 1.5 / key_bytes)             # about one or two bytes per key

    def near_base(self) -> bytes:
        rng = self.rng
        return bytes(b ^ (rng.getrandbits(8) if rng.random() < self.flip else 0)
                     for b in self.base)

    def ranges(self) -> list[tuple[int, bytes, bytes]]:
        rng, ranges = self.rng, []
        for i in self.range_fields:
            if rng.random() < 0.6:
                offset, nbytes, _ = self.fields[i]
                mid = int.from_bytes(self.base[offset:offset + nbytes], "big")
                top = (1 << (8 * nbytes)) - 1
                lo = max(0, mid - rng.randint(0, 3 * top // 4))
                hi = min(top, mid + rng.randint(0, 3 * top // 4))
                if rng.random() < 0.05 and lo < hi:
                    lo, hi = hi, lo                         # empty: refused
                ranges.append((i, lo.to_bytes(nbytes, "big"), hi.to_bytes(nbytes, "big")))
        return ranges

    def entry(self) -> tuple[bytes, bytes, list[tuple[int, bytes, bytes]], int, int]:
        rng = self.rng
        mask = rng.choice(self.masks)
        value = bytes(a & b for a, b in zip(self.near_base(), mask, strict=True))
        if rng.random() < 0.03:
            value = bytes([value[0] | 1]) + value[1:]      # refused when the mask lacks bit 0
        return value, mask, self.ranges(), rng.randint(0, 6), rng.randint(0, 1000)


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("key_bytes", [1, 2, 4, 6, 13, 16, 37])
def test_random_operations_match_the_reference(key_bytes: int, strategy: str) -> None:
    rng = random.Random(key_bytes * 31337)
    for _ in range(4):
        gen = RandomEntries(rng, key_bytes)
        fast = TernaryTable(key_bytes, gen.fields, strategy)
        ref = TernaryRef(key_bytes, gen.fields)
        live: list[int] = []
        for step in range(300):
            if rng.random() < 0.7 or not live:
                args = gen.entry()
                result = outcome(fast.add, *args)
                assert result == outcome(ref.add, *args)
                if result is None:
                    live.append(args[4])
            else:
                entry_id = rng.choice(live) if rng.random() < 0.9 else rng.randint(0, 1000)
                assert fast.delete(entry_id) == ref.delete(entry_id)
                if entry_id in live:
                    live.remove(entry_id)
            assert len(fast) == len(ref)
            if step % 10 == 0:
                keys = [gen.near_base() for _ in range(30)] + [rng.randbytes(key_bytes)]
                out = array("q", [0]) * len(keys)
                fast.lookup_batch(b"".join(keys), out)
                assert [None if r < 0 else r for r in out] == [ref.get(k) for k in keys]
        for entry_id in live:
            assert fast.delete(entry_id) and ref.delete(entry_id)
        assert len(fast) == 0 and fast.group_count == 0
