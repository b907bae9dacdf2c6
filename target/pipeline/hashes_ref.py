"""Slow, obviously-correct versions of the hash algorithms and the field packer in `hashes`.

Everything here works one bit (or one word) at a time straight from the definition of each
algorithm, with no tables and no shortcuts, so that the table-driven C code in hashes.pyx can be
checked against it on random input. Nothing in the data path uses this module.
"""

from __future__ import annotations

MASK64 = (1 << 64) - 1


def reflect(value: int, width: int) -> int:
    """The low `width` bits of value in reverse order."""
    out = 0
    for i in range(width):
        if value >> i & 1:
            out |= 1 << (width - 1 - i)
    return out


def crc_bitwise(
    data: bytes,
    width: int,
    polynomial: int,
    init: int,
    xor_out: int,
    data_reflected: bool,
    remainder_reflected: bool,
) -> int:
    """A CRC in the Rocksoft parameter model, shifting one message bit at a time.

    `polynomial` omits the x^width term; `init` is the register before the first bit (not
    reflected); `data_reflected` feeds each byte least significant bit first;
    `remainder_reflected` reverses the register before the final xor.
    """
    mask = (1 << width) - 1
    register = init & mask
    for byte in data:
        if data_reflected:
            byte = reflect(byte, 8)
        for bit_index in range(7, -1, -1):
            message_bit = byte >> bit_index & 1
            top_bit = register >> (width - 1) & 1
            register = (register << 1) & mask
            if top_bit ^ message_bit:
                register ^= polynomial & mask
    if remainder_reflected:
        register = reflect(register, width)
    return register ^ (xor_out & mask)


def crc16(data: bytes) -> int:
    """BMv2 "crc16": CRC-16/ARC."""
    return crc_bitwise(data, 16, 0x8005, 0x0000, 0x0000, True, True)


def crc32(data: bytes) -> int:
    """BMv2 "crc32": the CRC-32 of Ethernet and zlib."""
    return crc_bitwise(data, 32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True)


def crc_ccitt(data: bytes) -> int:
    """BMv2 "crcCCITT": CRC-16/CCITT-FALSE (not reflected, init 0xFFFF)."""
    return crc_bitwise(data, 16, 0x1021, 0xFFFF, 0x0000, False, False)


def csum16(data: bytes) -> int:
    """RFC 1071 Internet checksum: ones' complement of the ones' complement sum of big-endian
    16-bit words, an odd last byte padded with a zero byte after it."""
    if len(data) % 2:
        data = data + b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += data[i] << 8 | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)  # end-around carry
    return ~total & 0xFFFF


def xor_words(data: bytes, word_bytes: int) -> int:
    """XOR of big-endian words of `word_bytes` bytes; a short last word is padded with zero
    bytes after it (so its bytes stay the most significant)."""
    result = 0
    for i in range(0, len(data), word_bytes):
        chunk = data[i : i + word_bytes].ljust(word_bytes, b"\x00")
        result ^= int.from_bytes(chunk, "big")
    return result


def xor16(data: bytes) -> int:
    return xor_words(data, 2)


def xor32(data: bytes) -> int:
    return xor_words(data, 4)


def identity(data: bytes) -> int:
    """The first (at most) 8 bytes as a big-endian number; later bytes are ignored."""
    return int.from_bytes(data[:8], "big")


# XXH64, from the xxHash specification (doc/xxhash_spec.md), seed 0 as BMv2 uses it.
_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5


def _rotl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & MASK64


def _xxh_round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & MASK64
    acc = _rotl64(acc, 31)
    return (acc * _P1) & MASK64


def _xxh_merge(acc: int, lane_acc: int) -> int:
    acc ^= _xxh_round(0, lane_acc)
    return (acc * _P1 + _P4) & MASK64


def xxh64(data: bytes, seed: int = 0) -> int:
    n = len(data)
    pos = 0
    if n >= 32:
        v = [
            (seed + _P1 + _P2) & MASK64,
            (seed + _P2) & MASK64,
            seed & MASK64,
            (seed - _P1) & MASK64,
        ]
        while n - pos >= 32:
            for lane in range(4):
                word = int.from_bytes(data[pos + 8 * lane : pos + 8 * lane + 8], "little")
                v[lane] = _xxh_round(v[lane], word)
            pos += 32
        acc = (
            _rotl64(v[0], 1) + _rotl64(v[1], 7) + _rotl64(v[2], 12) + _rotl64(v[3], 18)
        ) & MASK64
        for lane in range(4):
            acc = _xxh_merge(acc, v[lane])
    else:
        acc = (seed + _P5) & MASK64
    acc = (acc + n) & MASK64
    while n - pos >= 8:
        acc ^= _xxh_round(0, int.from_bytes(data[pos : pos + 8], "little"))
        acc = (_rotl64(acc, 27) * _P1 + _P4) & MASK64
        pos += 8
    if n - pos >= 4:
        acc ^= (int.from_bytes(data[pos : pos + 4], "little") * _P1) & MASK64
        acc = (_rotl64(acc, 23) * _P2 + _P3) & MASK64
        pos += 4
    while pos < n:
        acc ^= (data[pos] * _P5) & MASK64
        acc = (_rotl64(acc, 11) * _P1) & MASK64
        pos += 1
    acc ^= acc >> 33
    acc = (acc * _P2) & MASK64
    acc ^= acc >> 29
    acc = (acc * _P3) & MASK64
    acc ^= acc >> 32
    return acc


def toeplitz(data: bytes, key: bytes) -> int:
    """Toeplitz (RSS) hash: for every set input bit i (most significant bit of the first byte is
    bit 0), XOR in the 32 key bits starting at key bit i. The key repeats when the input runs
    past it, and the input is padded with zero bytes to whole 32-bit words."""
    if len(key) < 4 or len(key) % 4:
        raise ValueError("a Toeplitz key is a non-empty multiple of 4 bytes")
    key_bits = len(key) * 8
    key_value = int.from_bytes(key, "big")

    def key_bit(i: int) -> int:
        i %= key_bits
        return key_value >> (key_bits - 1 - i) & 1

    padded = data + b"\x00" * (-len(data) % 4)
    result = 0
    for i in range(len(padded) * 8):
        if padded[i // 8] >> (7 - i % 8) & 1:
            window = 0
            for j in range(32):
                window = window << 1 | key_bit(i + j)
            result ^= window
    return result


class RoundRobin:
    """BMv2 "round_robin": ignores its input and returns 0, 1, 2, ... per instance."""

    def __init__(self) -> None:
        self.next_value = 0

    def __call__(self, data: bytes) -> int:
        value = self.next_value
        self.next_value += 1
        return value


def pack_fields(fields: list[tuple[int, int]]) -> bytes:
    """Concatenate (value, width) fields as bits, most significant first, and pad the last byte
    with zero bits on its right: BMv2's buffer for a field list."""
    bits = "".join(format(value & ((1 << width) - 1), f"0{width}b") if width else ""
                   for value, width in fields)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
