"""Bytestring codec against a bit-by-bit reference of the spec's rules, on random values."""

import random

import pytest

from runtime_server.bytestrings import (
    decode_signed,
    decode_unsigned,
    encode_signed,
    encode_unsigned,
    is_canonical_unsigned,
)
from runtime_server.errors import P4RuntimeError, StatusCode


def bits_of(data: bytes) -> str:
    return "".join(f"{byte:08b}" for byte in data)


def reference_fits_unsigned(data: bytes, width: int) -> bool:
    """Spec: strip all most significant 0 bits; what remains must be at most `width` bits."""
    return len(bits_of(data).lstrip("0")) <= width


def reference_fits_signed(data: bytes, width: int) -> bool:
    """Spec: undo sign extension (drop the top bit while it equals the next one)."""
    bits = bits_of(data)
    while len(bits) > 1 and bits[0] == bits[1]:
        bits = bits[1:]
    return len(bits) <= width


def reference_canonical_unsigned(value: int) -> bytes:
    """Spec: the fewest bits A with value <= 2**A - 1 (A = 1 for 0), in ceil(A/8) bytes."""
    needed = 1
    while value > (1 << needed) - 1:
        needed += 1
    return value.to_bytes((needed + 7) // 8, "big")


def reference_canonical_signed(value: int) -> bytes:
    needed = 1
    while not -(1 << (needed - 1)) <= value <= (1 << (needed - 1)) - 1:
        needed += 1
    return value.to_bytes((needed + 7) // 8, "big", signed=True)


def test_spec_examples_are_accepted_or_refused() -> None:
    assert decode_unsigned(b"\x63", 8, "v") == 99
    assert decode_unsigned(b"\x00\x63", 16, "v") == 99
    assert decode_unsigned(b"\x00\x00\x63", 12, "v") == 99
    assert decode_signed(b"\x9d", 8, "v") == -99
    assert decode_signed(b"\xff\x9d", 8, "v") == -99
    assert decode_signed(b"\xfd\x1d", 12, "v") == -739
    for data, width in [(b"\x01\x63", 8), (b"", 8), (b"\x01\x00\x63", 16), (b"\x10\x63", 12),
                        (b"\x00\x40\x63", 12)]:
        with pytest.raises(P4RuntimeError) as err:
            decode_unsigned(data, width, "v")
        assert err.value.code == StatusCode.OUT_OF_RANGE
    for data, width in [(b"\x00\x9d", 8), (b"\x8d\x1d", 12), (b"", 16)]:
        with pytest.raises(P4RuntimeError):
            decode_signed(data, width, "v")


def test_replies_are_canonical() -> None:
    assert encode_unsigned(0) == b"\x00"
    assert encode_unsigned(99) == b"\x63"
    assert encode_unsigned(0x3064) == b"\x30\x64"
    assert encode_signed(0) == b"\x00"
    assert encode_signed(-99) == b"\x9d"
    assert encode_signed(-739) == b"\xfd\x1d"
    assert encode_signed(128) == b"\x00\x80"
    assert encode_signed(-128) == b"\x80"


@pytest.mark.parametrize("seed", range(4))
def test_random_strings_match_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(3000):
        width = rng.randint(1, 130)
        length = rng.randint(1, 19)
        data = bytes(rng.choice([0, 0, 0xFF, rng.randrange(256)]) for _ in range(length))
        try:
            value = decode_unsigned(data, width, "v")
            assert reference_fits_unsigned(data, width)
            assert value == int.from_bytes(data, "big")
            assert encode_unsigned(value) == reference_canonical_unsigned(value)
            assert is_canonical_unsigned(data) == (data == encode_unsigned(value))
        except P4RuntimeError as err:
            assert err.code == StatusCode.OUT_OF_RANGE
            assert not reference_fits_unsigned(data, width)
        try:
            signed = decode_signed(data, width, "v")
            assert reference_fits_signed(data, width)
            assert encode_signed(signed) == reference_canonical_signed(signed)
            assert decode_signed(encode_signed(signed), width, "v") == signed
        except P4RuntimeError as err:
            assert err.code == StatusCode.OUT_OF_RANGE
            assert not reference_fits_signed(data, width)
