"""LPM over arbitrary key widths: state walks on the fast table and its reference, then
randomized cross-checks that require identical answers and identical refusals."""

from __future__ import annotations

import random
from array import array
from collections.abc import Callable

import pytest

from target.pipeline.match_lpm import LpmTable
from target.pipeline.match_ref import LpmRef

IMPLEMENTATIONS = [LpmTable, LpmRef]


def outcome(call: Callable[..., object], *args: object) -> object:
    """The call's result, or the type of the exception it raised."""
    try:
        return call(*args)
    except (KeyError, ValueError) as exc:
        return type(exc)


def ip(text: str) -> bytes:
    return bytes(int(part) for part in text.split("."))


def vrf_ip(vrf: int, text: str) -> bytes:
    """A 6-byte key: a 16-bit exact VRF id, then the IPv4 address (the LPM field)."""
    return vrf.to_bytes(2, "big") + ip(text)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_longest_prefix_wins_and_delete_restores_shorter_prefix(impl: type) -> None:
    table = impl(4, 0, 4)
    table.add(ip("10.0.0.0"), 8, 8)
    table.add(ip("10.1.0.0"), 16, 16)
    table.add(ip("10.1.2.0"), 24, 24)
    table.add(ip("10.1.2.3"), 32, 32)
    assert len(table) == 4
    assert table.prefix_lengths == [32, 24, 16, 8]
    assert table.get(ip("10.1.2.3")) == 32
    assert table.get(ip("10.1.2.4")) == 24
    assert table.get(ip("10.1.3.4")) == 16
    assert table.get(ip("10.2.3.4")) == 8
    assert table.get(ip("11.0.0.0")) is None
    assert table.delete(ip("10.1.2.0"), 24) is True
    assert table.get(ip("10.1.2.4")) == 16
    assert table.get(ip("10.1.2.3")) == 32
    assert table.prefix_lengths == [32, 16, 8]
    assert table.delete(ip("10.1.2.0"), 24) is False
    table.replace(ip("10.0.0.0"), 8, 80)
    assert table.get(ip("10.200.0.1")) == 80
    for key, length in [(ip("10.1.2.3"), 32), (ip("10.1.0.0"), 16), (ip("10.0.0.0"), 8)]:
        assert table.delete(key, length) is True
    assert len(table) == 0
    assert table.prefix_lengths == []
    assert table.get(ip("10.1.2.3")) is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_default_route_matches_everything_not_matched_longer(impl: type) -> None:
    table = impl(4, 0, 4)
    table.add(ip("0.0.0.0"), 0, 1)
    table.add(ip("192.168.0.0"), 16, 2)
    assert table.get(ip("8.8.8.8")) == 1
    assert table.get(ip("192.168.7.7")) == 2
    assert table.get(ip("255.255.255.255")) == 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_exact_fields_must_match_for_a_prefix_to_apply(impl: type) -> None:
    table = impl(6, 2, 4)
    table.add(vrf_ip(1, "10.0.0.0"), 8, 100)
    table.add(vrf_ip(2, "10.0.0.0"), 8, 200)
    table.add(vrf_ip(2, "10.9.0.0"), 16, 290)
    table.add(vrf_ip(3, "0.0.0.0"), 0, 300)
    assert table.get(vrf_ip(1, "10.9.1.1")) == 100
    assert table.get(vrf_ip(2, "10.9.1.1")) == 290
    assert table.get(vrf_ip(2, "10.8.1.1")) == 200
    assert table.get(vrf_ip(3, "10.9.1.1")) == 300
    assert table.get(vrf_ip(4, "10.9.1.1")) is None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_same_value_at_two_lengths_are_two_entries(impl: type) -> None:
    table = impl(4, 0, 4)
    table.add(ip("10.0.0.0"), 8, 1)
    table.add(ip("10.0.0.0"), 24, 2)
    with pytest.raises(KeyError):
        table.add(ip("10.0.0.0"), 24, 3)
    assert len(table) == 2
    assert table.get(ip("10.0.0.9")) == 2
    assert table.get(ip("10.0.1.9")) == 1


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_bad_entries_are_refused(impl: type) -> None:
    table = impl(4, 0, 4)
    with pytest.raises(ValueError):
        table.add(ip("10.1.0.0"), 8, 1)           # host bits below /8
    with pytest.raises(ValueError):
        table.add(ip("10.0.0.0"), 33, 1)
    with pytest.raises(ValueError):
        table.add(ip("10.0.0.0"), -1, 1)
    with pytest.raises(ValueError):
        table.add(b"\x0a\x00\x00", 8, 1)
    with pytest.raises(ValueError):
        table.add(ip("10.0.0.0"), 8, 1 << 32)
    with pytest.raises(KeyError):
        table.replace(ip("10.0.0.0"), 8, 1)
    with pytest.raises(ValueError):
        table.delete(ip("10.1.0.0"), 8)
    assert len(table) == 0
    with pytest.raises(ValueError):
        impl(4, 2, 4)
    with pytest.raises(ValueError):
        impl(4, 0, 2, 17)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_narrow_field_prefixes_count_from_its_top_bit(impl: type) -> None:
    # A 9-bit field sits in the low bits of 2 bytes; /1 is its bit 8.
    table = impl(2, 0, 2, 9)
    table.add(b"\x01\x00", 1, 1)
    table.add(b"\x01\x80", 2, 2)
    table.add(b"\x00\x00", 0, 3)
    with pytest.raises(ValueError):
        table.add(b"\x02\x00", 1, 4)              # bit above the field's 9 bits
    with pytest.raises(ValueError):
        table.add(b"\x01\x40", 2, 4)              # host bit below /2
    assert table.get(b"\x01\xff") == 2
    assert table.get(b"\x01\x7f") == 1
    assert table.get(b"\x00\xff") == 3
    table.add(b"\x01\xff", 9, 9)
    assert table.get(b"\x01\xff") == 9
    assert table.prefix_lengths == [9, 2, 1, 0]


def test_clear_empties_and_allows_reuse() -> None:
    table = LpmTable(16, 0, 16)
    rng = random.Random(5)
    for i in range(300):
        length = rng.randint(0, 128)
        value = rng.getrandbits(128) >> (128 - length) << (128 - length) if length else 0
        try:
            table.add(value.to_bytes(16, "big"), length, i)
        except KeyError:
            pass
    table.clear()
    assert len(table) == 0
    assert table.prefix_lengths == []
    assert table.get(b"\x20\x01" + bytes(14)) is None
    table.add(b"\x20\x01" + bytes(14), 16, 7)
    assert table.get(b"\x20\x01\xff" + bytes(13)) == 7


# (key bytes, LPM offset, LPM bytes, LPM bits): key widths 1..37, LPM first, middle and last.
LAYOUTS = [
    (1, 0, 1, 8),
    (1, 0, 1, 5),
    (2, 0, 2, 16),
    (2, 1, 1, 8),
    (4, 0, 4, 32),
    (6, 2, 4, 32),
    (6, 0, 2, 12),
    (13, 0, 4, 32),
    (13, 9, 4, 32),
    (16, 0, 16, 128),
    (37, 4, 16, 128),
    (37, 21, 16, 128),
]


def random_prefix(rng: random.Random, base: int, bits: int, length: int) -> int:
    """Often a prefix of a shared base (so prefixes nest), sometimes an unrelated one."""
    value = base if rng.random() < 0.7 else rng.getrandbits(bits)
    return value >> (bits - length) << (bits - length)


@pytest.mark.parametrize(("key_bytes", "offset", "lpm_bytes", "bits"), LAYOUTS)
def test_random_operations_match_the_reference(key_bytes: int, offset: int, lpm_bytes: int,
                                               bits: int) -> None:
    rng = random.Random(key_bytes * 1000 + offset * 10 + bits)
    fast = LpmTable(key_bytes, offset, lpm_bytes, bits)
    ref = LpmRef(key_bytes, offset, lpm_bytes, bits)
    exact_parts = [rng.randbytes(key_bytes - lpm_bytes) for _ in range(3)]
    base = rng.getrandbits(bits)
    lengths = sorted({rng.randint(0, bits) for _ in range(12)} | {0, bits})

    def make_key(exact: bytes, field: int) -> bytes:
        return exact[:offset] + field.to_bytes(lpm_bytes, "big") + exact[offset:]

    def probes() -> list[bytes]:
        keys = []
        for _ in range(60):
            field = base ^ (rng.getrandbits(bits) >> rng.randint(0, bits))
            keys.append(make_key(rng.choice(exact_parts), field))
        return keys

    added: list[tuple[bytes, int]] = []
    for step in range(1500):
        op = rng.random()
        if op < 0.55 or not added:
            length = rng.choice(lengths)
            field = random_prefix(rng, base, bits, length)
            if rng.random() < 0.05:
                field |= 1 << rng.randrange(bits)          # may set a host bit: refused
            key = make_key(rng.choice(exact_parts), field)
            entry_id = rng.getrandbits(32)
            result = outcome(fast.add, key, length, entry_id)
            assert result == outcome(ref.add, key, length, entry_id)
            if result is None:
                added.append((key, length))
        elif op < 0.65:
            key, length = rng.choice(added)
            entry_id = rng.getrandbits(32)
            assert outcome(fast.replace, key, length, entry_id) == outcome(
                ref.replace, key, length, entry_id)
        else:
            key, length = rng.choice(added)
            assert fast.delete(key, length) == ref.delete(key, length)
        assert len(fast) == len(ref)
        if step % 100 == 0:
            keys = probes()
            out = array("q", [0]) * len(keys)
            fast.lookup_batch(b"".join(keys), out)
            assert [None if r < 0 else r for r in out] == [ref.get(k) for k in keys]
            assert fast.prefix_lengths == ref.prefix_lengths
    for key in probes():
        assert fast.get(key) == ref.get(key)
