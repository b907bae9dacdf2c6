"""P4Runtime binary strings (spec section "Bytestrings") <-> Python ints.

Requests may carry any length as long as the value fits the P4Info bitwidth (padding with
leading zero bytes, or sign bytes for int<W>, is allowed); replies always use the shortest
string.  A value that does not fit, or an empty string, is OUT_OF_RANGE.
"""

from __future__ import annotations

from runtime_server.errors import P4RuntimeError, StatusCode


def decode_unsigned(data: bytes, bitwidth: int, what: str) -> int:
    """The value of `data` as bit<bitwidth>; OUT_OF_RANGE if empty or too wide."""
    if not data:
        raise P4RuntimeError(StatusCode.OUT_OF_RANGE, f"{what}: empty byte string")
    value = int.from_bytes(data, "big")
    if value.bit_length() > bitwidth:
        raise P4RuntimeError(
            StatusCode.OUT_OF_RANGE,
            f"Bytestring provided does not fit within {bitwidth} bits: {what}: "
            f"value 0x{value:x}",
        )
    return value


def encode_unsigned(value: int) -> bytes:
    """The canonical (shortest) string for a non-negative value; 0 is one zero byte."""
    if value < 0:
        raise ValueError(f"negative value {value} for an unsigned bytestring")
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def decode_signed(data: bytes, bitwidth: int, what: str) -> int:
    """The value of `data` as int<bitwidth> in two's complement, sign extension allowed."""
    if not data:
        raise P4RuntimeError(StatusCode.OUT_OF_RANGE, f"{what}: empty byte string")
    value = int.from_bytes(data, "big", signed=True)
    if not -(1 << (bitwidth - 1)) <= value < (1 << (bitwidth - 1)):
        raise P4RuntimeError(
            StatusCode.OUT_OF_RANGE, f"{what}: value {value} does not fit in int<{bitwidth}>"
        )
    return value


def encode_signed(value: int) -> bytes:
    """The canonical string for a two's complement value: the fewest bytes that keep the sign."""
    # A value needs bit_length() magnitude bits plus one sign bit (-2**k needs only k+1 bits,
    # which is what (~value).bit_length() gives for negatives).
    bits = (value if value >= 0 else ~value).bit_length() + 1
    return value.to_bytes((bits + 7) // 8, "big", signed=True)


def is_canonical_unsigned(data: bytes) -> bool:
    """True when `data` is already the shortest string for its value."""
    return len(data) == 1 or (len(data) > 1 and data[0] != 0)
