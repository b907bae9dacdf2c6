"""p4_device_config: raw BMv2 JSON and both layouts of the p4.tmp.P4DeviceConfig wrapper."""

import json

import pytest
from p4runtime_corpus import json_bytes

from runtime_server.device_config import extract_bmv2_json, length_delimited_fields
from runtime_server.errors import P4RuntimeError, StatusCode


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def test_raw_json() -> None:
    raw = json_bytes("tutorial_basic")
    assert extract_bmv2_json(raw) == json.loads(raw)
    assert extract_bmv2_json(b"  \n" + raw)["program"] == json.loads(raw)["program"]


def test_tutorial_wrapper_layout() -> None:
    raw = json_bytes("tutorial_basic")
    extras = field_bytes(1, field_bytes(1, b"port") + field_bytes(2, b"9090"))
    wrapper = varint(1 << 3 | 0) + varint(1) + field_bytes(2, extras) + field_bytes(3, raw)
    assert extract_bmv2_json(wrapper) == json.loads(raw)


def test_newer_wrapper_layout() -> None:
    raw = json_bytes("tutorial_basic")
    wrapper = field_bytes(1, field_bytes(1, b"")) + field_bytes(2, raw)
    assert extract_bmv2_json(wrapper) == json.loads(raw)


@pytest.mark.parametrize("config", [b"", b"not json", b"{broken", b"\x0a\x05{abc", b"\xff\xff"])
def test_garbage_is_invalid_argument(config: bytes) -> None:
    with pytest.raises(P4RuntimeError) as err:
        extract_bmv2_json(config)
    assert err.value.code == StatusCode.INVALID_ARGUMENT


def test_wire_walker_skips_every_wire_type() -> None:
    data = (varint(1 << 3 | 0) + varint(300) + varint(2 << 3 | 1) + bytes(8)
            + varint(3 << 3 | 5) + bytes(4) + field_bytes(4, b"abc"))
    assert length_delimited_fields(data) == [(4, b"abc")]
    with pytest.raises(ValueError):
        length_delimited_fields(field_bytes(4, b"abc")[:-1])
