"""Action profiles and selectors: BMv2 JSON (indirect / indirect_ws tables, action_profiles with
the selector's fields), P4Info (action_profiles, implementation_id), and member choice on the
engine against crc16 computed by the reference hash."""

from __future__ import annotations

import random

import pytest
from google.protobuf import text_format

from runtime_server.p4info_index import P4InfoIndex
from runtime_server.proto import p4info_pb2
from target import Exact, Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError
from target.pipeline.hashes_ref import crc16

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> grp; bit<16> flow; bit<8> tag; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action_profile(32) marks;
    action set_port(bit<9> port) { sm.egress_spec = port; }
    action mark(bit<8> v) { h.h.tag = v; }
    table ecmp {
        key = { h.h.grp: exact; h.h.flow: selector; }
        actions = { set_port; }
        IMPLEMENTATION
    }
    table marker {
        key = { h.h.grp: exact; }
        actions = { mark; }
        implementation = marks;
    }
    apply { ecmp.apply(); marker.apply(); }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""
INLINE = "implementation = action_selector(HashAlgorithm.crc16, 64, 16);"


def _compile(implementation: str = INLINE, text: str = PROGRAM) -> tuple[dict, str]:
    return compile_text(text.replace("IMPLEMENTATION", implementation))


def test_json_form() -> None:
    document, _ = _compile()
    (ingress, _egress) = document["pipelines"]
    assert ingress["action_profiles"] == [
        {"name": "I.marks", "id": 0, "max_size": 32},
        {"name": "I.ecmp", "id": 1, "max_size": 64,
         "selector": {"algo": "crc16", "input": [{"type": "field", "value": ["h", "flow"]}]}}]
    tables = {t["name"]: t for t in ingress["tables"]}
    assert (tables["I.ecmp"]["type"], tables["I.ecmp"]["action_profile"]) == ("indirect_ws", "I.ecmp")
    assert (tables["I.marker"]["type"], tables["I.marker"]["action_profile"]) == ("indirect", "I.marks")
    assert [k["name"] for k in tables["I.ecmp"]["key"]] == ["h.h.grp"]     # the selector key is not
    assert "default_entry" not in tables["I.ecmp"]


def test_p4info_form() -> None:
    _, text = _compile()
    info = text_format.Parse(text, p4info_pb2.P4Info())
    tables = {t.preamble.name: t for t in info.tables}
    profiles = {p.preamble.name: p for p in info.action_profiles}
    assert set(profiles) == {"I.ecmp", "I.marks"}
    assert profiles["I.ecmp"].with_selector and profiles["I.ecmp"].size == 64
    assert not profiles["I.marks"].with_selector and profiles["I.marks"].size == 32
    for table, profile in (("I.ecmp", "I.ecmp"), ("I.marker", "I.marks")):
        assert tables[table].implementation_id == profiles[profile].preamble.id
        assert list(profiles[profile].table_ids) == [tables[table].preamble.id]
        assert profiles[profile].preamble.id >> 24 == 0x11
    assert [m.name for m in tables["I.ecmp"].match_fields] == ["h.h.grp"]
    P4InfoIndex.build(info)


def test_named_inline_selector_has_p4c_name_and_id() -> None:
    # p4c names an inline instance by the property's @name as written: omec up4 (corpus
    # p4c_omec_up4) has `@name("hashed_selector") implementation = action_selector(...)` and
    # action_profiles { preamble { id: 297808402 name: "hashed_selector" } }.
    _, text = _compile('@name("hashed_selector") ' + INLINE)
    info = text_format.Parse(text, p4info_pb2.P4Info())
    ids = {p.preamble.name: p.preamble.id for p in info.action_profiles}
    assert ids["hashed_selector"] == 297808402


def test_declared_selector_instance() -> None:
    selector = "action_selector(HashAlgorithm.crc16, 128, 14) sel;"
    text = PROGRAM.replace("action_profile(32) marks;", "action_profile(32) marks;\n    " + selector)
    document, _ = _compile("implementation = sel;", text)
    names = [ap["name"] for ap in document["pipelines"][0]["action_profiles"]]
    assert names == ["I.marks", "I.sel"]


def test_members_are_chosen_by_crc16_of_the_selector_fields() -> None:
    document, p4info = _compile()
    sw = Switch()
    sw.load(document, p4info=p4info)
    for m in range(5):
        sw.act_prof_add_member("I.ecmp", 10 + m, "I.set_port", [m + 1])
    sw.act_prof_create_group("I.ecmp", 1)
    sw.act_prof_set_group_members("I.ecmp", 1, [10, 11, 12])
    sw.table_add("I.ecmp", [Exact(7)], group=1)
    sw.act_prof_add_member("I.marks", 3, "I.mark", [0x5A])
    sw.table_add("I.marker", [Exact(7)], member=3)
    rng = random.Random(16)
    flows = rng.sample(range(1 << 16), 300)
    for members in ([10, 11, 12], [10, 11, 12, 13, 14]):
        sw.act_prof_set_group_members("I.ecmp", 1, members)
        used = set()
        for flow in flows:
            frame = bytes([7]) + flow.to_bytes(2, "big") + b"\0"
            port = members[crc16(flow.to_bytes(2, "big")) % len(members)] - 9
            assert sw.process([(0, frame)]) == [(port, frame[:3] + b"\x5a")], flow
            used.add(port)
        assert len(used) == len(members)


@pytest.mark.parametrize("implementation, change, message", [
    ("", None, "selector keys but no action_selector"),
    ("implementation = marks;", None, "is an action_profile"),
    (INLINE, ("h.h.flow: selector;", ""), "has no selector keys"),
    ("implementation = marker;", None, "must be an action_profile"),
    ("implementation = counter(1, CounterType.packets);", None, "implementation = counter"),
])
def test_mismatched_implementations_are_errors(implementation: str, change: tuple[str, str] | None,
                                               message: str) -> None:
    text = PROGRAM if change is None else PROGRAM.replace(*change)
    with pytest.raises(CompileError, match=message):
        _compile(implementation, text)
