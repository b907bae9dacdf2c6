"""Packet-in/out metadata headers: layouts from the corpus, and pack/unpack against a
bit-string reference."""

import random

import pytest
from p4runtime_corpus import CORPUS, load_json, load_p4info
from shared_data import corpus_params

from runtime_server.controller_header import ControllerHeader
from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.p4info_index import P4InfoIndex

PROGRAMS_WITH_CPU_HEADERS = corpus_params(lambda: [
    p.name for p in sorted(CORPUS.iterdir())
    if (p / f"{p.name}.json").exists() and load_p4info(p.name).controller_packet_metadata
])


@pytest.mark.parametrize("name", PROGRAMS_WITH_CPU_HEADERS)
def test_layouts_are_whole_bytes_and_expose_every_p4info_field(name: str) -> None:
    index = P4InfoIndex.build(load_p4info(name))
    program = load_json(name)
    for metadata in (index.packet_in, index.packet_out):
        if not metadata:
            continue
        header = ControllerHeader.layout(metadata, program)
        assert sum(f.bitwidth for f in header.fields) % 8 == 0
        assert [f.metadata_id for f in header.fields if f.metadata_id] == [m.id for m in metadata]


def reference_pack(header: ControllerHeader, values: dict[int, int]) -> bytes:
    bits = "".join(format(values.get(f.metadata_id, 0), f"0{f.bitwidth}b") for f in header.fields)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


@pytest.mark.parametrize("name", PROGRAMS_WITH_CPU_HEADERS)
def test_pack_unpack_match_reference(name: str) -> None:
    rng = random.Random(name)
    index = P4InfoIndex.build(load_p4info(name))
    program = load_json(name)
    for metadata in (index.packet_in, index.packet_out):
        if not metadata:
            continue
        header = ControllerHeader.layout(metadata, program)
        for _ in range(50):
            values = {m.id: rng.getrandbits(m.bitwidth) for m in metadata}
            padded = {k: bytes(rng.randint(0, 2)) + v.to_bytes((v.bit_length() + 7) // 8 or 1,
                                                               "big")
                      for k, v in values.items()}
            packed = header.pack(padded)
            assert packed == reference_pack(header, values)
            payload = rng.randbytes(rng.randint(0, 40))
            unpacked, rest = header.unpack(packed + payload)
            assert rest == payload
            assert [(k, int.from_bytes(v, "big")) for k, v in unpacked] == list(values.items())


def test_onos_packet_out_layout_and_errors() -> None:
    index = P4InfoIndex.build(load_p4info("onos_basic"))
    header = ControllerHeader.layout(index.packet_out, load_json("onos_basic"))
    assert [(f.name, f.bitwidth) for f in header.fields] == [("egress_port", 9), ("_padding", 7)]
    assert header.pack({1: b"\x01\x02", 2: b"\x00"}) == bytes([0x81, 0x00])
    with pytest.raises(P4RuntimeError) as err:
        header.pack({1: b"\x02\x00", 2: b"\x00"})
    assert err.value.code == StatusCode.OUT_OF_RANGE
    # A field left out is zero (ONOS sends only egress_port), as in BMv2's server.
    assert header.pack({1: b"\x01\x02"}) == bytes([0x81, 0x00])
    assert header.pack({}) == bytes([0x00, 0x00])
    with pytest.raises(P4RuntimeError) as err:
        header.pack({1: b"\x01", 2: b"\x00", 9: b"\x00"})
    assert err.value.code == StatusCode.INVALID_ARGUMENT
    with pytest.raises(ValueError):
        header.unpack(b"\x01")
