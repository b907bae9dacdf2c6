"""Parser value sets: BMv2 parse_vsets and parse_vset transitions, P4Info value_sets (p4c's id
rule), filled through the Switch API and matched on the engine."""

from __future__ import annotations

import random

import pytest
from google.protobuf import text_format

from runtime_server.proto import p4info_pb2
from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import Unsupported
from target.compiler.p4info import PREFIX, jenkins_one_at_a_time

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> type; bit<8> res; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    value_set<bit<16>>(4) tunnel_types;
    state start {
        pk.extract(h.h);
        transition select(h.h.type) { 0x0800: ip; tunnel_types: tunnel; default: accept; }
    }
    state ip { h.h.res = 1; transition accept; }
    state tunnel { h.h.res = 2; transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { sm.egress_spec = 1; } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_json_and_p4info_form() -> None:
    document, text = compile_text(PROGRAM)
    assert document["parse_vsets"] == [{"name": "P.tunnel_types", "id": 0, "compressed_bitwidth": 16,
                                        "max_size": 4}]
    transitions = document["parsers"][0]["parse_states"][0]["transitions"]
    assert transitions[1] == {"type": "parse_vset", "value": "P.tunnel_types", "mask": None,
                              "next_state": "tunnel"}
    info = text_format.Parse(text, p4info_pb2.P4Info())
    (vset,) = info.value_sets
    assert vset.preamble.name == "P.tunnel_types" and vset.size == 4
    assert vset.preamble.id == PREFIX["value_set"] << 24 | jenkins_one_at_a_time("P.tunnel_types") & 0xFFFFFF
    assert [(m.id, m.bitwidth) for m in vset.match] == [(1, 16)]


def test_members_steer_the_parser() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    rng = random.Random(3)
    for _ in range(5):
        members = set(rng.sample(range(1 << 16), 4)) - {0x0800}
        sw.value_set_set("P.tunnel_types", [(v, 0xFFFF) for v in members])
        probes = list(members) + [0x0800] + rng.sample(range(1 << 16), 20)
        for t in probes:
            frame = t.to_bytes(2, "big") + b"\0"
            expected = 1 if t == 0x0800 else 2 if t in members else 0
            assert sw.process([(0, frame)]) == [(1, frame[:2] + bytes([expected]))], hex(t)


def test_a_value_set_on_a_key_of_another_width_is_refused() -> None:
    with pytest.raises(Unsupported, match=r"value set P.tunnel_types \(8 bits\).*its keys have 16 bits"):
        compile_text(PROGRAM.replace("value_set<bit<16>>(4)", "value_set<bit<8>>(4)"))


def test_a_struct_value_set_matches_all_the_keys_of_a_select() -> None:
    """value_set<S> with S of two fields against select(a, b): the set's members are the keys'
    concatenation (p4-guide's v1model-p4runtime-most-types1 has one)."""
    text = PROGRAM.replace("value_set<bit<16>>(4)", "value_set<pair_t>(4)").replace(
        "struct meta_t { }", "struct meta_t { }\nstruct pair_t { bit<16> type; bit<8> res; }").replace(
        "transition select(h.h.type) { 0x0800: ip; tunnel_types: tunnel; default: accept; }",
        "transition select(h.h.type, h.h.res) { (0x0800, _): ip; tunnel_types: tunnel; default: accept; }")
    document, p4info = compile_text(text)
    assert document["parse_vsets"][0]["compressed_bitwidth"] == 24
    info = text_format.Parse(p4info, p4info_pb2.P4Info())
    assert [(m.name, m.bitwidth) for m in info.value_sets[0].match] == [("type", 16), ("res", 8)]
    sw = Switch()
    sw.load(document, p4info=p4info)
    sw.value_set_set("P.tunnel_types", [(0x1234_07, 0xFFFFFF)])
    # tunnel sets res to 2, ip to 1, accept leaves it as it came
    for frame, expected in ((b"\x12\x34\x07", 2), (b"\x12\x34\x08", 8), (b"\x12\x35\x07", 7),
                            (b"\x08\x00\x07", 1)):
        assert sw.process([(0, frame)]) == [(1, frame[:2] + bytes([expected]))], frame.hex()
