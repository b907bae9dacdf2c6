"""BMv2 hash algorithms and the field-list packer: C against the bitwise reference, published
check values, and BMv2's own examples."""

from __future__ import annotations

import random
import socket
import struct
import zlib

import pytest

from target.pipeline import hashes
from target.pipeline import hashes_ref as ref

CHECK_INPUT = b"123456789"

# Check values of "123456789" from the CRC catalogue (reveng / crcmod) for every name BMv2 maps to
# a CRC; crc16 is CRC-16/ARC and crcCCITT is CRC-16/CCITT-FALSE.
CRC_CHECK_VALUES = {
    "crc16": 0xBB3D,
    "crc32": 0xCBF43926,
    "crcCCITT": 0x29B1,
    "crc8_custom": 0xF4,
    "crc16_custom": 0xBB3D,
    "crc32_custom": 0xCBF43926,
    "crc64_custom": 0x46A5A9388A5BEFFE,
    "crc_8": 0xF4,
    "crc_8_darc": 0x15,
    "crc_8_i_code": 0x7E,
    "crc_8_itu": 0xA1,
    "crc_8_maxim": 0xA1,
    "crc_8_rohc": 0xD0,
    "crc_8_wcdma": 0x25,
    "crc_16": 0xBB3D,
    "crc_16_buypass": 0xFEE8,
    "crc_16_dds_110": 0x9ECF,
    "crc_16_dect": 0x007E,
    "crc_16_dnp": 0xEA82,
    "crc_16_en_13757": 0xC2B7,
    "crc_16_genibus": 0xD64E,
    "crc_16_maxim": 0x44C2,
    "crc_16_mcrf4xx": 0x6F91,
    "crc_16_riello": 0x63D0,
    "crc_16_t10_dif": 0xD0DB,
    "crc_16_teledisk": 0x0FB3,
    "crc_16_usb": 0xB4C8,
    "x_25": 0x906E,
    "xmodem": 0x31C3,
    "modbus": 0x4B37,
    "kermit": 0x2189,
    "crc_ccitt_false": 0x29B1,
    "crc_aug_ccitt": 0xE5CC,
    "crc_32": 0xCBF43926,
    "crc_32_bzip2": 0xFC891918,
    "crc_32c": 0xE3069283,
    "crc_32d": 0x87315576,
    "crc_32_mpeg": 0x0376E6E7,
    "posix": 0x765E7680,
    "crc_32q": 0x3010BF7F,
    "jamcrc": 0x340BC6D9,
    "xfer": 0xBD0BE338,
    "crc_64": 0x46A5A9388A5BEFFE,
    "crc_64_we": 0x62EC59E3F1A4F00A,
    "crc_64_jones": 0xCAA717168609F281,
}

REFERENCE = {
    "crc16": ref.crc16,
    "crc32": ref.crc32,
    "crcCCITT": ref.crc_ccitt,
    "csum16": ref.csum16,
    "cksum16": ref.csum16,
    "xor16": ref.xor16,
    "xor32": ref.xor32,
    "identity": ref.identity,
    "xxh64": ref.xxh64,
}

# Microsoft's RSS verification suite: key, then (src, dst, sport, dport, hash of the addresses,
# hash of addresses and ports).
RSS_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa"
)
RSS_VECTORS = [
    ("66.9.149.187", "161.142.100.80", 2794, 1766, 0x323E8FC2, 0x51CCC178),
    ("199.92.111.2", "65.69.140.83", 14230, 4739, 0xD718262A, 0xC626B0EA),
    ("24.19.198.95", "12.22.207.184", 12898, 38024, 0xD2D0A5DE, 0x5C2B394A),
    ("38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xAFC7327F),
    ("153.39.163.191", "202.188.127.2", 44251, 1303, 0x5D1809C5, 0x10E828A2),
]


def random_buffers(rng: random.Random, count: int, max_len: int = 80) -> list[bytes]:
    lengths = list(range(0, 18)) + [rng.randrange(max_len) for _ in range(count)]
    return [rng.randbytes(n) for n in lengths]


@pytest.mark.parametrize("name", sorted(CRC_CHECK_VALUES))
def test_crc_check_value(name: str) -> None:
    assert hashes.compute(name, CHECK_INPUT) == CRC_CHECK_VALUES[name]


def test_every_preset_has_a_check_value() -> None:
    assert set(hashes.CRC_PRESETS) <= set(CRC_CHECK_VALUES)


def test_other_published_values() -> None:
    assert hashes.compute("xxh64", b"") == 0xEF46DB3751D8E999
    assert hashes.compute("xxh64", b"abc") == 0x44BC2CF5AD770999
    assert ref.xxh64(b"") == 0xEF46DB3751D8E999


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_matches_reference_on_random_input(name: str) -> None:
    rng = random.Random(name)
    for data in random_buffers(rng, 150, max_len=200):
        assert hashes.compute(name, data) == REFERENCE[name](data), data.hex()


def test_crc32_matches_zlib() -> None:
    rng = random.Random(1)
    for data in random_buffers(rng, 200, max_len=3000):
        assert hashes.compute("crc32", data) == zlib.crc32(data)


@pytest.mark.parametrize("name", sorted(hashes.CRC_PRESETS))
def test_presets_match_reference(name: str) -> None:
    rng = random.Random(name)
    config = hashes.CRC_PRESETS[name]
    calc = hashes.Calculation(name)
    assert calc.crc_config == config
    for data in random_buffers(rng, 20):
        assert calc.compute(data) == ref.crc_bitwise(data, *config)


@pytest.mark.parametrize("width", [8, 16, 32, 64])
def test_random_crc_parameters_match_reference(width: int) -> None:
    rng = random.Random(width)
    calc = hashes.Calculation(f"crc{width}_custom")
    for _ in range(40):
        config = (rng.getrandbits(width) | 1, rng.getrandbits(width), rng.getrandbits(width),
                  rng.random() < 0.5, rng.random() < 0.5)
        calc.set_crc_config(*config)
        assert calc.crc_config == (width, *config)
        for data in random_buffers(rng, 3, max_len=40)[::4]:
            assert calc.compute(data) == ref.crc_bitwise(data, width, *config)


def test_default_table_path_equals_instance_path() -> None:
    rng = random.Random(7)
    for name in ["crc16", "crc32", "crcCCITT", "csum16", "xor16", "xor32", "identity", "xxh64",
                 "crc8_custom", "crc16_custom", "crc32_custom", "crc64_custom", "toeplitz"]:
        for data in random_buffers(rng, 5):
            assert hashes.compute_default(hashes.algo_id(name), data) == hashes.compute(name, data)


def test_custom_parameter_strings() -> None:
    assert hashes.compute("poly_0x11021_init_0xffff_not_rev", CHECK_INPUT) == 0x29B1
    assert hashes.compute("poly_0x104c11db7_init_0xffffffff_xout_0xffffffff",
                          CHECK_INPUT) == 0xCBF43926
    assert hashes.compute("poly_0x107", CHECK_INPUT) == ref.crc_bitwise(
        CHECK_INPUT, 8, 0x07, 0, 0, True, True)
    # BMv2 stops reading at the first empty token, so trailing text after "__" is ignored.
    assert hashes.compute("poly_0x18005__whatever", CHECK_INPUT) == 0xBB3D
    assert hashes.Calculation("poly_0x11021_init_ffff_not_rev").crc_config == (
        16, 0x1021, 0xFFFF, 0, False, False)


@pytest.mark.parametrize("name", [
    "random", "round_robin_consistent", "bogus", "poly", "poly_0x1021", "poly_0x11021_lsb",
    "poly_0x11021_msb", "poly_0x11021_extend", "poly_0x11021_not_x", "poly_0x11021_init",
    "poly_0x1102g", "poly_0x11021_init_-1", "init_0xffff", "crc16 ", "CRC16",
])
def test_unknown_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        hashes.algo_id(name)
    with pytest.raises(ValueError):
        hashes.Calculation(name)


def test_random_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="no 'random'"):
        hashes.compute("random", b"")


def test_crc_config_only_for_custom_crcs_of_the_same_width() -> None:
    calc = hashes.Calculation("crc16_custom")
    calc.set_crc_config(0x1021, 0xFFFF, 0, False, False)
    assert calc.compute(CHECK_INPUT) == 0x29B1
    assert hashes.Calculation("crc16_custom").compute(CHECK_INPUT) == 0xBB3D  # own instance
    preset = hashes.Calculation("crc_16_usb")
    preset.set_crc_config(0x8005, 0, 0, True, True)
    assert preset.compute(CHECK_INPUT) == 0xBB3D
    with pytest.raises(ValueError):
        hashes.Calculation("crc16").set_crc_config(0x1021, 0, 0, False, False)
    with pytest.raises(ValueError):
        calc.set_crc_config(0x1_0000, 0, 0, False, False)
    with pytest.raises(ValueError):
        hashes.Calculation("xxh64").set_crc_config(0x1021, 0, 0, False, False)


def test_toeplitz_rss_verification_suite() -> None:
    calc = hashes.Calculation("toeplitz")
    calc.set_toeplitz_key(RSS_KEY)
    for src, dst, sport, dport, addr_hash, full_hash in RSS_VECTORS:
        addresses = socket.inet_aton(src) + socket.inet_aton(dst)
        ports = struct.pack(">HH", sport, dport)
        assert calc.compute(addresses) == addr_hash
        assert calc.compute(addresses + ports) == full_hash
        assert ref.toeplitz(addresses + ports, RSS_KEY) == full_hash


def test_toeplitz_default_key_gives_zero_and_short_keys_repeat() -> None:
    assert hashes.compute("toeplitz", b"\xff" * 37) == 0
    rng = random.Random(3)
    calc = hashes.Calculation("toeplitz")
    for key_len in (4, 8, 12, 40):
        key = rng.randbytes(key_len)
        calc.set_toeplitz_key(key)
        for data in random_buffers(rng, 5, max_len=60):
            assert calc.compute(data) == ref.toeplitz(data, key)
    for bad in (b"", b"abc", b"abcde", b"\0" * 260):
        with pytest.raises(ValueError):
            calc.set_toeplitz_key(bad)
    with pytest.raises(ValueError):
        hashes.Calculation("crc16").set_toeplitz_key(RSS_KEY)


def test_round_robin_counts_per_instance() -> None:
    first, second = hashes.Calculation("round_robin"), hashes.Calculation("round_robin")
    reference = ref.RoundRobin()
    assert [first.compute(b"x" * i) for i in range(5)] == [reference(b"") for _ in range(5)]
    assert second.compute(b"") == 0
    assert first.compute(b"") == 5


def test_csum16_of_a_real_ipv4_header() -> None:
    from scapy.layers.inet import IP, TCP

    rng = random.Random(5)
    for options in (b"", b"\x01\x01\x01\x00"):
        for _ in range(20):
            pkt = IP(src=f"10.0.{rng.randrange(256)}.{rng.randrange(256)}", dst="192.168.1.7",
                     ttl=rng.randrange(1, 256), id=rng.randrange(65536),
                     options=options) / TCP()
            wire = bytes(pkt)
            parsed = IP(wire)  # scapy computed ihl and the checksum while serialising
            header, expected = wire[: parsed.ihl * 4], parsed.chksum
            assert len(header) == 20 + len(options)
            zeroed = header[:10] + b"\x00\x00" + header[12:]
            assert hashes.compute("csum16", zeroed) == expected
            assert hashes.compute("csum16", header) == 0  # what verify sees on a good header


def test_csum16_edges() -> None:
    assert hashes.compute("csum16", b"") == 0xFFFF
    assert hashes.compute("csum16", b"\x00" * 7) == 0xFFFF
    assert hashes.compute("csum16", b"\xff\xff") == 0x0000   # sum is "negative zero"
    assert hashes.compute("csum16", b"\x12") == ~0x1200 & 0xFFFF  # odd byte is the high byte
    assert hashes.compute("csum16", b"\x00\x01\xff\xfe") == 0x0000


def test_identity_and_xor_tails() -> None:
    assert hashes.compute("identity", b"\x01\x02\x03") == 0x010203
    assert hashes.compute("identity", bytes(range(1, 12))) == 0x0102030405060708
    assert hashes.compute("xor16", b"\x12\x34\x56") == 0x1234 ^ 0x5600
    assert hashes.compute("xor32", b"\x12\x34\x56\x78\x9a") == 0x12345678 ^ 0x9A000000


def test_pack_follows_bmv2_examples() -> None:
    # BMv2's own unit test: 4-bit 0, 16-bit 0xffff, 12-bit 0x9fd hashed by identity.
    buf = hashes.pack([(0, 4), (0xFFFF, 16), (0x9FD, 12)])
    assert buf == bytes.fromhex("0ffff9fd")
    assert hashes.compute("identity", buf) == 0x0FFFF9FD
    assert hashes.pack([(0xABC, 12)]) == b"\xab\xc0"     # padding goes after, in the low bits
    assert hashes.pack([(1, 1)], payload=b"\x55") == b"\x80\x55"  # payload starts on a byte
    assert hashes.pack([]) == b""
    assert hashes.pack([(0, 0), (0x5, 3), (0, 0)]) == b"\xa0"


def test_pack_matches_reference_on_random_fields() -> None:
    rng = random.Random(11)
    for round_index in range(400):
        wide = round_index % 2 == 1
        fields = []
        for _ in range(rng.randrange(0, 12)):
            width = rng.choice([rng.randrange(0, 65), rng.randrange(65, 513)] if wide
                               else [rng.randrange(0, 65), 8, 16, 32, 48, 64])
            fields.append((rng.getrandbits(width) if width else 0, width))
        payload = rng.randbytes(rng.randrange(4)) if wide else b""
        assert hashes.pack(fields, payload) == ref.pack_fields(fields) + payload, fields


def test_pack_refuses_values_wider_than_their_field() -> None:
    with pytest.raises(ValueError):
        hashes.pack([(0x100, 8)])
