"""Exact-match hash table: state walks on the fast table and its reference, then randomized
cross-checks that require identical answers and identical refusals."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

import pytest

from target.pipeline.match_exact import ExactTable
from target.pipeline.match_ref import ExactRef

IMPLEMENTATIONS = [ExactTable, ExactRef]
KEY_WIDTHS = [1, 2, 4, 6, 8, 9, 13, 16, 17, 37, 100]


def outcome(call: Callable[..., object], *args: object) -> object:
    """The call's result, or the type of the exception it raised."""
    try:
        return call(*args)
    except (KeyError, ValueError) as exc:
        return type(exc)


def lookup_all(table: ExactTable, keys: list[bytes]) -> list[int | None]:
    """Look keys up through the nogil batch path (what the engine calls)."""
    out = array("q", [0]) * len(keys)
    table.lookup_batch(b"".join(keys), out)
    return [None if r < 0 else r for r in out]


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_add_replace_delete_walk_back_to_empty(impl: type) -> None:
    table = impl(4, 16)
    assert len(table) == 0
    assert table.get(b"\x0a\x00\x00\x01") is None
    table.add(b"\x0a\x00\x00\x01", 7)
    table.add(b"\x0a\x00\x00\x02", 0)
    table.add(b"\xff\xff\xff\xff", 0xFFFFFFFF)
    assert len(table) == 3
    assert table.get(b"\x0a\x00\x00\x01") == 7
    assert table.get(b"\x0a\x00\x00\x02") == 0
    assert table.get(b"\xff\xff\xff\xff") == 0xFFFFFFFF
    assert table.get(b"\x0a\x00\x00\x03") is None
    table.replace(b"\x0a\x00\x00\x01", 70)
    assert table.get(b"\x0a\x00\x00\x01") == 70
    assert len(table) == 3
    assert table.delete(b"\x0a\x00\x00\x01") is True
    assert table.delete(b"\x0a\x00\x00\x01") is False
    assert table.get(b"\x0a\x00\x00\x01") is None
    assert table.get(b"\x0a\x00\x00\x02") == 0
    assert table.delete(b"\x0a\x00\x00\x02") is True
    assert table.delete(b"\xff\xff\xff\xff") is True
    assert len(table) == 0
    table.add(b"\x0a\x00\x00\x01", 1)
    assert table.get(b"\x0a\x00\x00\x01") == 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_duplicate_add_is_refused_and_keeps_the_first(impl: type) -> None:
    table = impl(6)
    table.add(b"\x00\x11\x22\x33\x44\x55", 1)
    with pytest.raises(KeyError):
        table.add(b"\x00\x11\x22\x33\x44\x55", 2)
    assert table.get(b"\x00\x11\x22\x33\x44\x55") == 1
    assert len(table) == 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_bad_arguments_are_refused(impl: type) -> None:
    table = impl(4)
    with pytest.raises(ValueError):
        table.add(b"\x01\x02\x03", 1)
    with pytest.raises(ValueError):
        table.get(b"\x01\x02\x03\x04\x05")
    with pytest.raises(ValueError):
        table.add(b"\x01\x02\x03\x04", 1 << 32)
    with pytest.raises(ValueError):
        table.add(b"\x01\x02\x03\x04", -1)
    with pytest.raises(KeyError):
        table.replace(b"\x01\x02\x03\x04", 1)
    with pytest.raises(ValueError):
        impl(0)
    assert len(table) == 0


def test_keys_that_differ_in_any_single_byte_are_distinct() -> None:
    # The loader reads overlapping words; every byte must still count.
    for width in KEY_WIDTHS:
        table = ExactTable(width, 4)
        base = bytes(range(width))
        table.add(base, 1000)
        for i in range(width):
            variant = bytearray(base)
            variant[i] ^= 0x80
            table.add(bytes(variant), i)
        assert table.get(base) == 1000
        for i in range(width):
            variant = bytearray(base)
            variant[i] ^= 0x80
            assert table.get(bytes(variant)) == i
            variant[i] ^= 0x01
            assert table.get(bytes(variant)) is None


@pytest.mark.parametrize("width", [4, 13, 37])
def test_growth_through_several_rehashes(width: int) -> None:
    rng = random.Random(width)
    table = ExactTable(width, 1)
    first_capacity = table.capacity
    keys = list({rng.randbytes(width) for _ in range(5000)})
    capacities = []
    for i, key in enumerate(keys):
        table.add(key, i)
        if table.capacity != (capacities[-1] if capacities else first_capacity):
            capacities.append(table.capacity)
            # Right after a rehash every entry so far must still be found.
            assert all(table.get(k) == j for j, k in enumerate(keys[: i + 1]))
    assert len(capacities) >= 5
    assert len(table) == len(keys)
    assert 4 * len(table) <= 3 * table.capacity
    assert lookup_all(table, keys) == list(range(len(keys)))
    for key in keys:
        assert table.delete(key)
    assert len(table) == 0
    assert lookup_all(table, keys) == [None] * len(keys)
    table.clear()
    assert table.capacity == first_capacity


@pytest.mark.parametrize("width", [2, 8, 16, 37])
def test_deleting_inside_probe_chains_keeps_every_other_key(width: int) -> None:
    rng = random.Random(100 + width)
    for _ in range(20):
        table = ExactTable(width, 48)
        # Fill to just under the growth threshold so probe runs are long.
        count = 3 * table.capacity // 4
        keys = list({rng.randbytes(width) for _ in range(count)})[:count]
        for i, key in enumerate(keys):
            table.add(key, i)
        assert table.capacity == 64
        assert table.probe_stats()[1] > 0, "no entry was displaced: the walk tests nothing"
        present = dict(zip(keys, range(len(keys)), strict=True))
        for key in rng.sample(keys, len(keys)):
            assert table.delete(key)
            del present[key]
            assert table.get(key) is None
            assert all(table.get(k) == v for k, v in present.items())
        assert len(table) == 0


def test_clear_empties_and_allows_reuse() -> None:
    table = ExactTable(13, 8)
    keys = [bytes([i]) * 13 for i in range(200)]
    for i, key in enumerate(keys):
        table.add(key, i)
    big = table.memory_bytes
    table.clear()
    assert len(table) == 0
    assert table.memory_bytes < big
    assert all(table.get(k) is None for k in keys)
    table.add(keys[5], 55)
    assert table.get(keys[5]) == 55


@pytest.mark.parametrize("width", [1, 2, 4, 6, 13, 16, 37])
def test_random_operations_match_the_reference(width: int) -> None:
    rng = random.Random(width * 7919)
    fast, ref = ExactTable(width, 1), ExactRef(width)
    # A small key pool makes duplicates, misses and re-adds after deletes common.
    pool_size = min(256 ** width, 600)
    pool = list({rng.randbytes(width) for _ in range(pool_size)})
    for step in range(4000):
        key = rng.choice(pool)
        entry_id = rng.getrandbits(32)
        op = rng.random()
        if op < 0.45:
            assert outcome(fast.add, key, entry_id) == outcome(ref.add, key, entry_id)
        elif op < 0.55:
            assert outcome(fast.replace, key, entry_id) == outcome(ref.replace, key, entry_id)
        elif op < 0.8:
            assert fast.delete(key) == ref.delete(key)
        else:
            assert fast.get(key) == ref.get(key)
        assert len(fast) == len(ref)
        if step % 500 == 0:
            assert lookup_all(fast, pool) == [ref.get(k) for k in pool]
    assert lookup_all(fast, pool) == [ref.get(k) for k in pool]


def test_lookup_batch_rejects_a_mismatched_buffer() -> None:
    table = ExactTable(4)
    with pytest.raises(ValueError):
        table.lookup_batch(b"\x00" * 7, array("q", [0, 0]))
    assert table.lookup_batch(b"", array("q")) == 0


@pytest.mark.parametrize(("width", "entries"), [(4, 100), (4, 30_000), (13, 30_000), (37, 300)])
def test_bulk_lookup_agrees_with_one_key_at_a_time(width: int, entries: int) -> None:
    # 30k entries put the table past the size where the bulk path starts prefetching.
    rng = random.Random(width + entries)
    table = ExactTable(width, entries)
    keys = list({rng.randbytes(width) for _ in range(entries)})
    for i, key in enumerate(keys):
        table.add(key, i)
    probes = [rng.choice(keys) if rng.random() < 0.7 else rng.randbytes(width)
              for _ in range(1001)]                    # not a multiple of any batch size
    bulk, single = array("q", [0]) * len(probes), array("q", [0]) * len(probes)
    hits = table.lookup_batch(b"".join(probes), bulk)
    assert table.lookup_batch_single(b"".join(probes), single) == hits
    assert bulk == single
    index = {key: i for i, key in enumerate(keys)}
    assert list(bulk) == [index.get(k, -1) for k in probes]
