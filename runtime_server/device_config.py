"""Extract the BMv2 JSON from ForwardingPipelineConfig.p4_device_config.

Two forms reach a BMv2-style switch: the raw JSON bytes (what simple_switch_grpc and
p4runtime-shell send), and the older p4.tmp.P4DeviceConfig wrapper, whose field numbers changed
over time (reassign=1/extras=2/device_data=3 in the P4 tutorials' copy, extras=1/device_data=2
later).  Rather than pinning one layout, the wrapper is read as raw protobuf wire format and
the length-delimited field that holds a JSON object is taken.
"""

from __future__ import annotations

import json

from runtime_server.errors import P4RuntimeError, StatusCode


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def length_delimited_fields(data: bytes) -> list[tuple[int, bytes]]:
    """(field number, payload) for every length-delimited field at the top level of a protobuf
    message; ValueError if the bytes are not well-formed wire format."""
    fields = []
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire_type == 0:
            _, pos = _read_varint(data, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        elif wire_type == 2:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ValueError("truncated length-delimited field")
            fields.append((number, data[pos : pos + length]))
            pos += length
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    if pos != len(data):
        raise ValueError("truncated fixed-width field")
    return fields


def _looks_like_json_object(data: bytes) -> bool:
    return data.lstrip()[:1] == b"{"


def extract_bmv2_json(p4_device_config: bytes) -> dict:
    """The parsed BMv2 JSON program; INVALID_ARGUMENT when neither form holds one."""
    candidates: list[bytes] = []
    if _looks_like_json_object(p4_device_config):
        candidates.append(p4_device_config)
    else:
        try:
            fields = length_delimited_fields(p4_device_config)
        except ValueError as err:
            raise P4RuntimeError(
                StatusCode.INVALID_ARGUMENT,
                f"p4_device_config is neither BMv2 JSON nor a P4DeviceConfig message ({err})",
            ) from None
        candidates.extend(payload for _, payload in fields if _looks_like_json_object(payload))
    for candidate in candidates:
        try:
            program = json.loads(candidate)
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        except RecursionError:
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                                 "p4_device_config: the JSON is nested too deeply") from None
        if isinstance(program, dict):
            return program
    raise P4RuntimeError(
        StatusCode.INVALID_ARGUMENT, "p4_device_config holds no BMv2 JSON program"
    )
