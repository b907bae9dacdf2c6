"""Dir24Lpm (tbl19 leaf codes, tbl18, range chunks, DIR-24-8) against LpmRef: entry-state walks,
randomized tables, the real BGP table, each with and without range chunks (ranges=True). Every
comparison runs every lookup way (tbl19 then tbl24/tbl8, range chunks, tbl18 then tbl24/tbl8,
tbl24/tbl8 alone), bulk (prefetching, and for range chunks each instruction set this CPU has) and
one address at a time."""

from __future__ import annotations

import resource
import sys
import threading
import time
from array import array

import numpy as np
import pytest
from shared_data import require

from target import rib
from target.pipeline.lpm_dir24 import (
    LEAF_QUARANTINE_S,
    WAYS,
    Dir24Lpm,
    Tbl8PoolExhausted,
    bulk_isa,
)
from target.pipeline.lpm_ref import LpmRef


def ip(text: str) -> int:
    a, b, c, d = (int(part) for part in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def mask(length: int) -> int:
    return (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF


def boundary_addresses(prefixes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """First and last address of every prefix, and the addresses just outside both ends; and
    the first and last address of the /18 (one tbl18 entry) and of the /19 (one tbl19 code)
    around each of those."""
    first = prefixes.astype(np.int64)
    last = first + (np.int64(1) << (32 - lengths.astype(np.int64))) - 1
    edges = np.concatenate([first, last, first - 1, last + 1])
    edges = edges[(edges >= 0) & (edges <= 0xFFFFFFFF)]
    slash18 = edges & ~np.int64(0x3FFF)
    slash19 = edges & ~np.int64(0x1FFF)
    return np.concatenate([edges, slash18, slash18 | 0x3FFF, slash19 | 0x1FFF]).astype(np.uint32)


def available_isas() -> list[str]:
    """The instruction sets of the range bulk lookup this CPU runs (sse2 on every x86-64)."""
    found = []
    for isa in ("avx512", "avx2", "sse2", "scalar"):
        try:
            Dir24Lpm().lookup_bulk([1], isa=isa)
        except ValueError:
            continue
        found.append(isa)
    return found


ISAS = available_isas()


def test_the_best_instruction_set_is_chosen() -> None:
    assert ISAS and bulk_isa() == ISAS[0]
    with pytest.raises(ValueError, match="not available"):
        Dir24Lpm().lookup_bulk([1], isa="mmx")
    with pytest.raises(ValueError, match="lookup way"):
        Dir24Lpm().lookup(1, way="trie")


def assert_same_lookups(fast: Dir24Lpm, ref: LpmRef, addrs: np.ndarray) -> None:
    expected = ref.lookup_bulk(addrs)
    if isinstance(fast, LpmRef):
        assert_same_results(addrs, fast.lookup_bulk(addrs), expected)
        return
    for way in WAYS:
        for prefetch in (True, False):
            assert_same_results(addrs, fast.lookup_bulk(addrs, prefetch=prefetch, way=way),
                                expected)
    for isa in ISAS:
        assert_same_results(addrs, fast.lookup_bulk(addrs, isa=isa), expected)


def assert_same_results(addrs: np.ndarray, results, expected: np.ndarray) -> None:
    got = np.frombuffer(results, dtype=np.int64)
    want = expected
    wrong = np.flatnonzero(got != want)
    if len(wrong):
        examples = [(f"{int(addrs[i]):#010x}", int(got[i]), int(want[i])) for i in wrong[:5]]
        pytest.fail(f"{len(wrong)} of {len(addrs)} lookups differ (addr, got, want): {examples}")


def ranged() -> Dir24Lpm:
    return Dir24Lpm(ranges=True)


@pytest.fixture(params=[Dir24Lpm, ranged, LpmRef], ids=["dir24", "ranges", "ref"])
def table(request: pytest.FixtureRequest) -> Dir24Lpm | LpmRef:
    return request.param()


class TestBothImplementations:
    def test_empty_table_misses(self, table: Dir24Lpm | LpmRef) -> None:
        assert len(table) == 0
        assert [table.lookup(a) for a in (0, ip("10.1.2.3"), 0xFFFFFFFF)] == [-1, -1, -1]
        assert list(table.rules()) == []

    @pytest.mark.parametrize(
        ("prefix", "length", "value", "message"),
        [
            (ip("10.0.0.1"), 24, 1, "host bits"),
            (ip("10.0.0.0"), 33, 1, "prefix length"),
            (ip("10.0.0.0"), -1, 1, "prefix length"),
            (1 << 32, 32, 1, "32-bit"),
            (ip("10.0.0.0"), 8, 1 << 24, "value"),
            (ip("10.0.0.0"), 8, -1, "value"),
        ],
    )
    def test_add_rejects_bad_rules(
        self, table: Dir24Lpm | LpmRef, prefix: int, length: int, value: int, message: str
    ) -> None:
        with pytest.raises(ValueError, match=message):
            table.add(prefix, length, value)
        assert len(table) == 0

    def test_delete_and_get_reject_host_bits(self, table: Dir24Lpm | LpmRef) -> None:
        with pytest.raises(ValueError, match="host bits"):
            table.delete(ip("10.0.0.128"), 24)
        with pytest.raises(ValueError, match="host bits"):
            table.get(ip("10.0.0.128"), 24)
        with pytest.raises(ValueError, match="32-bit"):
            table.lookup(1 << 32)

    def test_every_length_added_then_removed_longest_first(self, table: Dir24Lpm | LpmRef) -> None:
        # One nest of prefixes /0 ... /32 around addr: each add makes it the answer for addr,
        # and the address just past its range still sees the next-shorter prefix.
        addr = ip("172.16.37.201")
        for length in range(33):
            table.add(addr & mask(length), length, 100 + length)
            assert table.lookup(addr) == 100 + length
            if length:
                outside = (addr & mask(length)) ^ (1 << (32 - length))
                assert table.lookup(outside) == 100 + length - 1
        assert len(table) == 33
        for length in range(32, -1, -1):
            assert table.delete(addr & mask(length), length)
            assert table.lookup(addr) == (100 + length - 1 if length else -1)
        assert len(table) == 0
        assert table.lookup(0) == -1

    def test_every_length_removed_shortest_first(self, table: Dir24Lpm | LpmRef) -> None:
        addr = ip("8.8.4.4")
        for length in range(33):
            table.add(addr & mask(length), length, length)
        for length in range(32):
            assert table.delete(addr & mask(length), length)
            assert table.lookup(addr) == 32
            outside = (addr & mask(length + 1)) ^ (1 << (31 - length))
            # Only longer prefixes are left, none of which covers the sibling half.
            assert table.lookup(outside) == -1
        assert table.delete(addr, 32)
        assert table.lookup(addr) == -1
        assert len(table) == 0

    def test_overlapping_prefixes_longest_wins(self, table: Dir24Lpm | LpmRef) -> None:
        rules = [("10.0.0.0", 8, 1), ("10.1.0.0", 16, 2), ("10.1.2.0", 24, 3),
                 ("10.1.2.128", 25, 4), ("10.1.2.192", 26, 5), ("10.1.2.200", 32, 6)]  # fmt: skip
        for text, length, value in reversed(rules):
            table.add(ip(text), length, value)
        expected = {"10.200.0.1": 1, "10.1.200.1": 2, "10.1.2.1": 3, "10.1.2.129": 4,
                    "10.1.2.193": 5, "10.1.2.200": 6, "10.1.2.201": 5, "11.0.0.0": -1}  # fmt: skip
        assert {a: table.lookup(ip(a)) for a in expected} == expected

    def test_add_replaces_value_of_identical_prefix(self, table: Dir24Lpm | LpmRef) -> None:
        table.add(ip("10.0.0.0"), 8, 1)
        table.add(ip("10.9.9.0"), 28, 2)
        table.add(ip("10.0.0.0"), 8, 7)
        table.add(ip("10.9.9.0"), 28, 8)
        assert len(table) == 2
        assert table.get(ip("10.0.0.0"), 8) == 7
        assert table.lookup(ip("10.1.1.1")) == 7
        assert table.lookup(ip("10.9.9.1")) == 8
        assert table.lookup(ip("10.9.9.17")) == 7

    def test_delete_restores_shorter_prefix(self, table: Dir24Lpm | LpmRef) -> None:
        table.add(ip("10.0.0.0"), 8, 1)
        table.add(ip("10.1.0.0"), 16, 2)
        table.add(ip("10.1.1.0"), 24, 3)
        table.add(ip("10.1.1.64"), 26, 4)
        table.add(ip("10.1.1.64"), 30, 5)
        assert table.delete(ip("10.1.1.64"), 26)
        assert [table.lookup(ip(a)) for a in ("10.1.1.65", "10.1.1.70")] == [5, 3]
        assert table.delete(ip("10.1.0.0"), 16)
        assert [table.lookup(ip(a)) for a in ("10.1.2.1", "10.1.1.1", "10.1.1.65")] == [1, 3, 5]
        assert table.delete(ip("10.1.1.0"), 24)
        assert [table.lookup(ip(a)) for a in ("10.1.1.1", "10.1.1.65")] == [1, 5]
        assert not table.delete(ip("10.1.1.0"), 24)
        assert not table.delete(ip("10.1.1.64"), 29)
        assert len(table) == 2

    def test_get_is_exact_and_rules_lists_everything(self, table: Dir24Lpm | LpmRef) -> None:
        table.add(0, 0, 9)
        table.add(ip("192.168.0.0"), 16, 10)
        table.add(ip("192.168.1.1"), 32, 11)
        assert table.get(ip("192.168.0.0"), 16) == 10
        assert table.get(ip("192.168.0.0"), 17) is None
        assert table.get(0, 0) == 9
        expected = [(0, 0, 9), (ip("192.168.0.0"), 16, 10), (ip("192.168.1.1"), 32, 11)]
        assert sorted(table.rules()) == expected

    def test_clear_empties_and_table_is_reusable(self, table: Dir24Lpm | LpmRef) -> None:
        table.add(ip("10.0.0.0"), 8, 1)
        table.add(ip("10.0.0.7"), 32, 2)
        table.clear()
        assert len(table) == 0
        assert table.lookup(ip("10.0.0.7")) == -1
        table.add(ip("10.0.0.0"), 31, 3)
        assert table.lookup(ip("10.0.0.1")) == 3
        assert table.lookup(ip("10.0.0.7")) == -1

    def test_bulk_lookup_accepts_lists_arrays_and_numpy(self, table: Dir24Lpm | LpmRef) -> None:
        table.add(ip("10.0.0.0"), 8, 1)
        table.add(ip("10.0.0.0"), 25, 2)
        addrs = [ip("10.0.0.1"), ip("10.0.0.200"), ip("11.0.0.0")]
        for given in (addrs, array("I", addrs), np.array(addrs, dtype=np.uint32),
                      np.array(addrs, dtype=np.int64)):  # fmt: skip
            assert np.asarray(table.lookup_bulk(given)).tolist() == [2, 1, -1]
        assert len(table.lookup_bulk(np.empty(0, dtype=np.uint32))) == 0


class TestDir24Entries:
    """The states of tbl24 and tbl8 entries, watched through the group count."""

    def test_long_prefix_makes_a_group_that_inherits_the_covering_rule(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.1.1.0"), 24, 3)
        assert t.tbl8_groups_in_use == 0
        t.add(ip("10.1.1.128"), 25, 4)
        assert t.tbl8_groups_in_use == 1
        assert [t.lookup(ip("10.1.1.1")), t.lookup(ip("10.1.1.255"))] == [3, 4]

    def test_group_without_covering_rule_has_invalid_entries(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.1.1.16"), 28, 4)
        assert t.tbl8_groups_in_use == 1
        probes = ("10.1.1.15", "10.1.1.16", "10.1.1.31", "10.1.1.32")
        assert [t.lookup(ip(a)) for a in probes] == [-1, 4, 4, -1]

    def test_short_prefix_added_over_group_fills_its_free_entries(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.1.1.16"), 28, 4)
        t.add(ip("10.0.0.0"), 8, 1)
        assert [t.lookup(ip(a)) for a in ("10.1.1.15", "10.1.1.16", "10.2.0.0")] == [1, 4, 1]
        t.add(ip("10.1.1.0"), 27, 2)
        assert [t.lookup(ip(a)) for a in ("10.1.1.15", "10.1.1.16", "10.1.1.32")] == [2, 4, 1]
        assert t.tbl8_groups_in_use == 1

    def test_group_freed_when_its_last_long_prefix_goes(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.1.0.0"), 16, 1)
        t.add(ip("10.1.1.0"), 26, 2)
        t.add(ip("10.1.1.64"), 32, 3)
        t.add(ip("10.1.2.0"), 25, 4)
        assert t.tbl8_groups_in_use == 2
        assert t.delete(ip("10.1.1.0"), 26)
        assert t.tbl8_groups_in_use == 2
        assert t.delete(ip("10.1.1.64"), 32)
        assert t.tbl8_groups_in_use == 1
        assert t.lookup(ip("10.1.1.64")) == 1
        assert t.delete(ip("10.1.2.0"), 25)
        assert t.tbl8_groups_in_use == 0
        assert t.lookup(ip("10.1.2.1")) == 1
        assert t.delete(ip("10.1.0.0"), 16)
        assert t.lookup(ip("10.1.2.1")) == -1

    def test_group_pool_grows_past_its_first_chunk_and_reuses_freed_groups(self) -> None:
        t = Dir24Lpm()
        base_memory = t.memory_bytes
        # 5000 /25s in distinct /24s need 5000 groups: more than one 2 MiB commit (2048).
        slash24s = [ip("20.0.0.0") + (i << 8) for i in range(5000)]
        for i, net in enumerate(slash24s):
            t.add(net | 128, 25, i)
        assert t.tbl8_groups_in_use == 5000
        assert t.memory_bytes >= base_memory + 5000 * 1024
        assert [t.lookup(net | 200) for net in slash24s] == list(range(5000))
        for net in slash24s:
            assert t.delete(net | 128, 25)
        assert t.tbl8_groups_in_use == 0
        grown = t.memory_bytes
        for i, net in enumerate(slash24s):
            t.add(net, 25, i)
        assert t.memory_bytes == grown  # no new commit: the freed groups were reused
        assert t.tbl8_groups_in_use == 5000
        assert [t.lookup(net | 1) for net in slash24s] == list(range(5000))
        assert t.lookup(slash24s[0] | 128) == -1

    def test_exhausted_group_pool_fails_clearly_and_changes_nothing(self) -> None:
        t = Dir24Lpm(max_tbl8_groups=2)
        t.add(ip("10.0.0.0"), 25, 1)
        t.add(ip("10.0.1.0"), 25, 2)
        with pytest.raises(Tbl8PoolExhausted, match="all 2 tbl8 groups are in use"):
            t.add(ip("10.0.2.0"), 25, 3)
        assert len(t) == 2
        assert t.get(ip("10.0.2.0"), 25) is None
        assert t.lookup(ip("10.0.2.0")) == -1
        t.add(ip("10.0.1.128"), 25, 4)  # an existing group still takes more rules
        assert t.delete(ip("10.0.0.0"), 25)
        t.add(ip("10.0.2.0"), 25, 3)  # the freed group serves the next update
        assert [t.lookup(ip(a)) for a in ("10.0.0.1", "10.0.1.129", "10.0.2.1")] == [-1, 4, 3]

    def test_default_pool_can_name_every_group(self) -> None:
        assert Dir24Lpm().max_tbl8_groups == 1 << 24
        with pytest.raises(ValueError, match="max_tbl8_groups"):
            Dir24Lpm(max_tbl8_groups=0)

    def test_default_route_fills_and_leaves_every_tbl24_entry(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.1.1.1"), 32, 5)
        t.add(0, 0, 1)
        probes = (0, ip("10.1.1.1"), ip("10.1.1.2"), 0xFFFFFFFF)
        assert [t.lookup(a) for a in probes] == [1, 5, 1, 1]
        assert t.delete(0, 0)
        assert [t.lookup(a) for a in (0, ip("10.1.1.1"), ip("10.1.1.2"))] == [-1, 5, -1]

    def test_bulk_lookup_fills_given_out_and_checks_its_size(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.0.0.0"), 8, 1)
        addrs = np.array([ip("10.0.0.1"), 5], dtype=np.uint32)
        out = np.zeros(3, dtype=np.int64)
        assert t.lookup_bulk(addrs, out) is out
        assert out.tolist() == [1, -1, 0]
        with pytest.raises(ValueError, match="out holds 1"):
            t.lookup_bulk(addrs, np.zeros(1, dtype=np.int64))

    @pytest.mark.parametrize("n", [1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000])
    def test_bulk_lookup_with_and_without_prefetch_equals_single(self, n: int,
                                                                 ranges: bool) -> None:
        t = Dir24Lpm(ranges=ranges)
        t.add(ip("10.0.0.0"), 9, 1)
        t.add(ip("10.0.0.0"), 30, 2)
        addrs = (ip("10.0.0.0") + np.arange(n) * 40503).astype(np.uint32)
        single = [t.lookup(a) for a in addrs.tolist()]
        assert np.asarray(t.lookup_bulk(addrs)).tolist() == single
        assert np.asarray(t.lookup_bulk(addrs, prefetch=False)).tolist() == single
        if n == 1000:  # the probes reach the /30, the /9 and beyond it
            assert set(single) == {-1, 1, 2}

    def test_memory_includes_tbl24(self) -> None:
        assert Dir24Lpm().memory_bytes >= 64 << 20


@pytest.fixture(params=[False, True], ids=["tbl18", "ranges"])
def ranges(request: pytest.FixtureRequest) -> bool:
    return request.param


class TestTbl18:
    """The /18 directory: uniform /18s answered from tbl18, the rest sent to tbl24 or their
    range chunk, through every kind of update."""

    @staticmethod
    def check(t: Dir24Lpm, expected: dict[str, int]) -> None:
        for text, value in expected.items():
            addrs = np.array([ip(text)] * 80, dtype=np.uint32)  # long enough to prefetch
            for way in WAYS:
                assert t.lookup(ip(text), way=way) == value, (text, way)
                got = np.frombuffer(t.lookup_bulk(addrs, way=way), dtype=np.int64)
                assert got.tolist() == [value] * 80, (text, way)

    def test_a_slash18_turns_uniform_and_back_through_every_update(self, ranges: bool) -> None:
        t = Dir24Lpm(ranges=ranges)
        every = 1 << 18
        assert t.tbl18_uniform == every
        t.add(ip("10.0.0.0"), 16, 1)            # uniform /18s: tbl18 answers
        self.check(t, {"10.0.0.1": 1, "10.0.63.255": 1, "10.0.64.0": 1})
        assert t.tbl18_uniform == every
        t.add(ip("10.0.5.0"), 24, 2)            # 10.0.0.0/18 no longer uniform
        self.check(t, {"10.0.5.7": 2, "10.0.4.255": 1, "10.0.6.0": 1, "10.0.64.0": 1})
        assert t.tbl18_uniform == every - 1
        t.add(ip("10.0.5.128"), 25, 3)          # extended tbl24 entry inside it
        self.check(t, {"10.0.5.200": 3, "10.0.5.7": 2, "10.0.0.0": 1})
        t.delete(ip("10.0.5.0"), 24)            # the group stays for the /25
        self.check(t, {"10.0.5.200": 3, "10.0.5.7": 1})
        t.delete(ip("10.0.5.128"), 25)          # group released: the /18 is uniform again
        self.check(t, {"10.0.5.200": 1, "10.0.5.7": 1, "10.0.63.255": 1})
        assert t.tbl18_uniform == every
        t.add(ip("10.0.0.0"), 16, 4)            # new value for a uniform /18
        self.check(t, {"10.0.5.200": 4, "10.0.200.1": 4})
        t.add(ip("10.0.64.0"), 18, 5)           # a rule of exactly one tbl18 entry
        self.check(t, {"10.0.64.0": 5, "10.0.127.255": 5, "10.0.128.0": 4, "10.0.63.255": 4})
        t.delete(ip("10.0.64.0"), 18)
        self.check(t, {"10.0.64.0": 4, "10.0.127.255": 4})
        t.add(ip("10.0.0.0"), 25, 6)            # a long rule in a fresh group (add_long)
        self.check(t, {"10.0.0.1": 6, "10.0.0.128": 4, "10.0.1.0": 4})
        t.delete(ip("10.0.0.0"), 16)
        self.check(t, {"10.0.0.1": 6, "10.0.0.128": -1, "10.0.200.1": -1})
        t.delete(ip("10.0.0.0"), 25)
        self.check(t, {"10.0.0.1": -1, "10.0.0.128": -1})

    def test_same_value_from_rules_of_different_lengths(self, ranges: bool) -> None:
        # Entries of two rules with one value differ in their depth: the /18 is not uniform,
        # and deleting the longer rule must reach its entries through tbl24.
        t = Dir24Lpm(ranges=ranges)
        t.add(ip("10.0.0.0"), 16, 9)
        t.add(ip("10.0.0.0"), 20, 9)
        t.add(ip("10.0.16.0"), 20, 8)
        self.check(t, {"10.0.0.1": 9, "10.0.16.1": 8, "10.0.32.1": 9})
        t.delete(ip("10.0.0.0"), 20)
        t.delete(ip("10.0.16.0"), 20)
        self.check(t, {"10.0.0.1": 9, "10.0.16.1": 9, "10.0.32.1": 9})
        t.delete(ip("10.0.0.0"), 16)
        self.check(t, {"10.0.0.1": -1, "10.0.16.1": -1})

    def test_clear_empties_tbl18(self, ranges: bool) -> None:
        t = Dir24Lpm(ranges=ranges)
        t.add(0, 0, 3)
        t.add(ip("10.0.5.0"), 24, 2)
        t.clear()
        self.check(t, {"1.2.3.4": -1, "10.0.5.1": -1})
        t.add(ip("10.0.5.0"), 24, 2)
        self.check(t, {"1.2.3.4": -1, "10.0.5.1": 2, "10.0.6.1": -1})


class TestTbl19:
    """The /19 codes: leaves shared by /19s with the same answer, freed with the last of them,
    and /19s sent to tbl24 when every code is taken."""

    check = staticmethod(TestTbl18.check)
    every = 1 << 19

    def test_codes_follow_the_answers_of_each_slash19(self) -> None:
        t = Dir24Lpm()
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 0)
        t.add(ip("10.0.0.0"), 16, 1)            # eight /19s, one leaf
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 1)
        t.add(ip("10.0.5.0"), 24, 2)            # 10.0.0.0/19 goes to tbl24
        self.check(t, {"10.0.5.1": 2, "10.0.4.255": 1, "10.0.31.255": 1, "10.0.32.0": 1})
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every - 1, 1)
        t.add(ip("10.0.32.0"), 19, 3)           # a rule of exactly one /19: a second leaf
        self.check(t, {"10.0.32.0": 3, "10.0.63.255": 3, "10.0.64.0": 1})
        assert t.leaf_codes_in_use == 2
        t.add(ip("10.0.0.0"), 16, 3)            # the /16's value becomes the /19's: one leaf
        self.check(t, {"10.0.32.0": 3, "10.0.64.0": 3, "10.0.5.1": 2, "10.0.6.1": 3})
        assert t.leaf_codes_in_use == 1
        t.delete(ip("10.0.5.0"), 24)
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 1)
        t.delete(ip("10.0.0.0"), 16)
        t.delete(ip("10.0.32.0"), 19)
        self.check(t, {"10.0.32.0": -1, "10.0.5.1": -1})
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 0)

    def test_entries_that_differ_only_in_depth_share_a_leaf(self) -> None:
        t = Dir24Lpm()
        t.add(ip("10.0.0.0"), 16, 9)
        t.add(ip("10.0.0.0"), 20, 9)            # inside 10.0.0.0/19, the same answer
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 1)
        t.add(ip("10.0.0.0"), 16, 8)            # the /20 keeps 9: no longer uniform
        self.check(t, {"10.0.0.1": 9, "10.0.16.1": 8, "10.0.32.1": 8})
        assert t.tbl19_uniform == self.every - 1
        t.delete(ip("10.0.0.0"), 20)
        self.check(t, {"10.0.0.1": 8, "10.0.16.1": 8})
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 1)

    def test_when_codes_run_out_slash19s_go_to_tbl24_and_freed_codes_are_reused(self) -> None:
        t, ref = Dir24Lpm(), LpmRef()
        rules = [(i << 13, 19, 100 + i) for i in range(65_600)]   # 66 more than the codes
        for rule in rules:
            t.add(*rule)
            ref.add(*rule)
        assert t.leaf_codes_in_use == 65_534
        assert t.tbl19_uniform == self.every - 66
        prefixes = np.array([r[0] for r in rules], dtype=np.uint32)
        lengths = np.full(len(rules), 19, dtype=np.uint8)
        assert_same_lookups(t, ref, boundary_addresses(prefixes, lengths))
        for prefix, length, _ in rules[:1000]:
            t.delete(prefix, length)
            ref.delete(prefix, length)
        assert t.leaf_codes_in_use == 65_534 - 1000
        more = [(ip("100.0.0.0") + (i << 13), 19, 200_000 + i) for i in range(1000)]
        t.add(*more[0])                         # the freed codes are still in quarantine
        ref.add(*more[0])
        assert t.leaf_codes_in_use == 65_534 - 1000
        assert t.tbl19_uniform == self.every - 66 - 1
        self.check(t, {"100.0.0.0": 200_000, "100.0.31.255": 200_000, "100.0.32.0": -1})
        time.sleep(LEAF_QUARANTINE_S + 0.05)
        for rule in more:
            t.add(*rule)
            ref.add(*rule)
        assert t.leaf_codes_in_use == 65_534
        assert t.tbl19_uniform == self.every - 66
        prefixes = np.array([r[0] for r in rules + more], dtype=np.uint32)
        lengths = np.full(len(prefixes), 19, dtype=np.uint8)
        assert_same_lookups(t, ref, boundary_addresses(prefixes, lengths))
        t.clear()
        assert (t.tbl19_uniform, t.leaf_codes_in_use) == (self.every, 0)
        t.add(ip("10.0.0.0"), 19, 5)
        self.check(t, {"10.0.0.0": 5, "10.0.31.255": 5, "10.0.32.0": -1, "0.0.0.1": -1})


class TestRangeChunks:
    """Chunks of every class, the two-level ones, the /18s with too many runs for a chunk, and
    chunk memory reused after deletes."""

    @staticmethod
    def fill(t: Dir24Lpm, ref: LpmRef, hosts: int) -> list[tuple[int, int, int]]:
        # A /16 with `hosts` /32s in its first /18, 64 addresses apart: 2 * hosts + 1 runs.
        rules = [(ip("10.0.0.0"), 16, 1000)]
        rules += [(ip("10.0.0.0") + 64 * i + 1, 32, i) for i in range(hosts)]
        for rule in rules:
            t.add(*rule)
            ref.add(*rule)
        return rules

    @pytest.mark.parametrize(
        ("hosts", "kind"),
        [(1, "runs<=4"), (2, "runs<=8"), (3, "runs<=8"), (4, "runs<=16"), (7, "runs<=16"),
         (8, "runs<=32"), (15, "runs<=32"), (16, "runs<=64"), (31, "runs<=64"),
         (32, "runs<=128"), (63, "runs<=128"), (64, "runs<=256"), (127, "runs<=256"),
         (128, None)],
    )
    def test_each_class_answers_every_boundary(self, hosts: int, kind: str | None) -> None:
        t, ref = Dir24Lpm(ranges=True), LpmRef()
        rules = self.fill(t, ref, hosts)
        # 257 runs and more: no chunk, the /18 is answered from tbl24/tbl8 (class 0).
        assert t.range_chunks == ({kind: 1, "none": 0} if kind else {"none": 1})
        prefixes = np.array([r[0] for r in rules], dtype=np.uint32)
        lengths = np.array([r[1] for r in rules], dtype=np.uint8)
        every = np.arange(ip("10.0.0.0"), ip("10.0.64.0") + 8, dtype=np.uint32)
        assert_same_lookups(t, ref, np.concatenate([boundary_addresses(prefixes, lengths),
                                                    every]))

    def test_replaced_chunks_are_reused(self) -> None:
        t, ref = Dir24Lpm(ranges=True), LpmRef()
        rules = self.fill(t, ref, 20)
        used = 0
        for cycle in range(4):
            # Replaced chunks wait 100 ms (a reader may still rank them) before reuse.
            time.sleep(0.15)
            for prefix, length, _value in rules[1:]:
                assert t.delete(prefix, length)
            assert t.range_chunks == {"none": 0}
            time.sleep(0.15)
            for rule in rules[1:]:
                t.add(*rule)
            if cycle == 0:
                used = t.range_pool_bytes  # from here on, every chunk comes from a free list
        assert t.range_pool_bytes == used
        assert_same_lookups(t, ref, np.arange(ip("10.0.0.0"), ip("10.0.64.0"), dtype=np.uint32))
        t.clear()
        assert t.range_chunks == {"none": 0}
        assert t.lookup(ip("10.0.0.1")) == -1

    def test_without_ranges_no_chunk_is_made(self) -> None:
        t, ref = Dir24Lpm(), LpmRef()
        self.fill(t, ref, 20)
        assert t.range_chunks == {}
        assert t.range_pool_bytes == 0
        assert_same_lookups(t, ref, np.arange(ip("10.0.0.0"), ip("10.0.64.0"), dtype=np.uint32))


def random_rules(rng: np.random.Generator, n: int) -> list[tuple[int, int, int]]:
    """Rules of every length 0..32; half of them packed into two /20s so that they nest,
    share tbl8 groups and cover each other. Lengths under /12 are rarer (each rewrites at
    least 4096 tbl24 entries, and there are few distinct ones anyway)."""
    hot = [int(x) << 12 for x in rng.integers(0, 1 << 20, size=2)]
    rules = []
    for _ in range(n):
        length = int(rng.integers(0, 33))
        while length < 12 and rng.random() < 0.9:
            length = int(rng.integers(0, 33))
        base = hot[int(rng.integers(0, 2))] | int(rng.integers(0, 1 << 12))
        addr = base if rng.random() < 0.5 else int(rng.integers(0, 1 << 32))
        rules.append((addr & mask(length), length, int(rng.integers(0, 1 << 24))))
    return rules


def probe_addresses(rng: np.random.Generator, ref: LpmRef, extra: list[tuple[int, int, int]]):
    rules = list(ref.rules()) + extra
    prefixes = np.array([r[0] for r in rules], dtype=np.uint32)
    lengths = np.array([r[1] for r in rules], dtype=np.uint8)
    random_addrs = rng.integers(0, 1 << 32, size=20_000, dtype=np.uint32)
    near = (prefixes[rng.integers(0, len(prefixes), 20_000)] ^ rng.integers(0, 256, 20_000)).astype(
        np.uint32
    )
    return np.concatenate([boundary_addresses(prefixes, lengths), random_addrs, near])


@pytest.mark.parametrize("seed", range(6))
def test_random_updates_match_reference(seed: int, ranges: bool) -> None:
    rng = np.random.default_rng(seed)
    fast, ref = Dir24Lpm(ranges=ranges), LpmRef()
    rules = random_rules(rng, 3000)
    for prefix, length, value in rules:
        fast.add(prefix, length, value)
        ref.add(prefix, length, value)
    assert len(fast) == len(ref)
    assert_same_lookups(fast, ref, probe_addresses(rng, ref, rules))
    # Delete a random half, replace values in some of the rest, add a few more.
    order = rng.permutation(len(rules))
    for i in order[: len(rules) // 2]:
        prefix, length, _ = rules[i]
        assert fast.delete(prefix, length) == ref.delete(prefix, length)
    for prefix, length, _ in rules[::7]:
        fast.add(prefix, length, 77)
        ref.add(prefix, length, 77)
    for prefix, length, value in random_rules(rng, 500):
        fast.add(prefix, length, value)
        ref.add(prefix, length, value)
    assert sorted(fast.rules()) == sorted(ref.rules())
    probes = probe_addresses(rng, ref, rules)
    assert_same_lookups(fast, ref, probes)
    sample = probes[rng.integers(0, len(probes), 2000)].tolist()
    assert [fast.lookup(a) for a in sample] == [ref.lookup(a) for a in sample]
    # Everything deleted again: nothing left, no group kept.
    for prefix, length, _ in list(ref.rules()):
        assert fast.delete(prefix, length)
    assert len(fast) == 0
    assert fast.tbl8_groups_in_use == 0
    assert np.all(np.frombuffer(fast.lookup_bulk(probes), dtype=np.int64) == -1)


def test_readers_on_another_core_never_see_a_missing_entry(ranges: bool) -> None:
    """A reader thread (bulk lookups without the GIL) races a writer that keeps creating and
    freeing tbl8 groups (and range chunks) under a fixed /8: every lookup must still hit."""
    t = Dir24Lpm(ranges=ranges)
    t.add(ip("10.0.0.0"), 8, 1)
    rng = np.random.default_rng(7)
    addrs = (ip("10.0.0.0") + rng.integers(0, 1 << 12, size=200_000)).astype(np.uint32)
    stop = threading.Event()
    misses: list[int] = []

    def reader() -> None:
        out = np.empty(len(addrs), dtype=np.int64)
        while not stop.is_set():
            t.lookup_bulk(addrs, out)
            misses.append(int(np.count_nonzero(out < 0)))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for net in range(16):
                t.add(ip("10.0.0.0") | net << 8 | 128, 25, 2 + net)
                t.add(ip("10.0.0.0") | net << 8 | 7, 32, 20 + net)
            for net in range(16):
                t.delete(ip("10.0.0.0") | net << 8 | 128, 25)
                t.delete(ip("10.0.0.0") | net << 8 | 7, 32)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
    assert len(misses) > 5
    assert sum(misses) == 0


def test_readers_never_see_a_leaf_code_reused_for_another_slash19() -> None:
    """A reader races a writer that gives two /19s a new value on every update, so that each
    update frees a leaf code and takes one: a code freed under a reader must not come back as
    the other /19's leaf while the reader may still use it (for LEAF_QUARANTINE_S)."""
    t = Dir24Lpm()
    a, b = ip("10.0.0.0"), ip("10.0.32.0")
    t.add(a, 19, 1000)
    t.add(b, 19, 3000)
    addrs = (a + np.random.default_rng(5).integers(0, 1 << 13, size=100_000)).astype(np.uint32)
    stop = threading.Event()
    wrong: list[int] = []

    def reader() -> None:
        out = np.empty(len(addrs), dtype=np.int64)
        while not stop.is_set():
            start = time.monotonic()
            t.lookup_bulk(addrs, out)
            # The promise holds for a reader that is not stalled for the whole quarantine
            # (0.1 s) inside one call: on a loaded machine a preempted call is not evidence.
            if time.monotonic() - start < 0.05:
                wrong.append(int(np.count_nonzero((out < 1000) | (out >= 2000))))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        deadline = time.monotonic() + 1.0
        step = 0
        while time.monotonic() < deadline:
            for _ in range(100):
                step += 1
                t.add(a, 19, 1000 + step % 1000)
                t.add(b, 19, 3000 + step % 1000)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(switch)
    assert len(wrong) > 5
    assert sum(wrong) == 0
    # A writer this fast can use up the fresh codes and the quarantined ones: a /19 then goes
    # to tbl24 until its next update after the quarantine.
    assert t.leaf_codes_in_use <= 2
    time.sleep(LEAF_QUARANTINE_S * 1.5)
    t.add(a, 19, 1999)
    t.add(b, 19, 3999)
    assert t.leaf_codes_in_use == 2
    assert t.tbl19_uniform == 1 << 19
    assert t.lookup(a + 5) == 1999


@pytest.fixture(scope="module")
def real_table() -> np.ndarray:
    return rib.read_ipv4_routes(require(rib.real_ipv4_table_path()))


def test_real_internet_table_matches_reference(real_table: np.ndarray, ranges: bool) -> None:
    fast, ref = Dir24Lpm(ranges=ranges), LpmRef()
    rows = zip(
        real_table["prefix"].tolist(),
        real_table["length"].tolist(),
        (real_table["asn"] & 0xFFFFFF).tolist(),
        strict=True,
    )
    for prefix, length, value in rows:
        fast.add(prefix, length, value)
        ref.add(prefix, length, value)
    assert len(fast) == len(real_table) == 512_621
    probes = np.concatenate(
        [
            boundary_addresses(real_table["prefix"], real_table["length"]),
            rib.random_routed_addresses(real_table, 1_000_000, seed=11),
        ]
    )
    assert_same_lookups(fast, ref, probes)
    sample = probes[:: len(probes) // 5000].tolist()
    expected = [ref.lookup(a) for a in sample]
    assert [fast.lookup(a) for a in sample] == expected
    for way in WAYS:
        assert [fast.lookup(a, way=way) for a in sample] == expected
    # Withdraw a third of the table: the rest must fall back exactly as the reference does.
    withdrawn = real_table[np.random.default_rng(3).permutation(len(real_table))[::3]]
    for prefix, length in zip(
        withdrawn["prefix"].tolist(), withdrawn["length"].tolist(), strict=True
    ):
        assert fast.delete(prefix, length)
        assert ref.delete(prefix, length)
    assert_same_lookups(fast, ref, boundary_addresses(withdrawn["prefix"], withdrawn["length"]))


def minor_faults() -> int:
    """Page faults of this thread that needed no I/O: each is a page mapped (or remapped)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def test_a_table_cleared_and_loaded_again_maps_no_new_page() -> None:
    """The engine clears and reloads a table while workers forward on other CPUs. A page the
    writer maps then costs little, but one it maps first from reading (the kernel's shared
    zero page) and then writes is remapped, and that flushes it from the TLB of every CPU
    running the process: an interrupt to each worker (this cost forwarding 14 % of its rate
    during a full reload). The reload must reuse the memory of the first load."""
    rng = np.random.default_rng(11)
    depths = rng.integers(8, 25, size=200_000).astype(np.uint8)
    prefixes = (rng.integers(0, 1 << 32, size=len(depths), dtype=np.uint64).astype(np.uint32)
                & np.array([mask(int(d)) for d in depths], dtype=np.uint32))
    values = rng.integers(1, 1 << 20, size=len(depths)).astype(np.int64)
    t = Dir24Lpm()
    t.apply_ops(prefixes, depths, values)
    loaded, memory = len(t), t.memory_bytes
    addrs = rng.integers(0, 1 << 32, size=50_000, dtype=np.uint64).astype(np.uint32)
    before = np.asarray(t.lookup_bulk(addrs))
    faults = []

    def reload() -> None:       # on a thread of its own, as the engine's control plane writes
        t.clear()
        assert len(t) == 0 and not np.any(np.asarray(t.lookup_bulk(addrs)) >= 0)
        start = minor_faults()
        t.apply_ops(prefixes, depths, values)
        faults.append(minor_faults() - start)
    writer = threading.Thread(target=reload)
    writer.start()
    writer.join()
    assert (len(t), t.memory_bytes) == (loaded, memory)
    assert np.array_equal(np.asarray(t.lookup_bulk(addrs)), before)
    assert faults[0] < 16, f"the reload mapped {faults[0]} pages"
