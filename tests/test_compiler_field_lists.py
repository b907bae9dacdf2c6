"""resubmit/recirculate/clone_preserving_field_list: @field_list(N) metadata fields become BMv2
field lists (p4c's names and ids), and the engine carries exactly those fields across."""

from __future__ import annotations

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
const bit<8> FL_RESUBMIT = 1;
header h_t { bit<8> val; bit<8> kept; bit<8> lost; bit<8> cloned; }
struct headers { h_t h; }
struct meta_t {
    @field_list(FL_RESUBMIT, 2) bit<8> keep;
    bit<8> drop_me;
    @field_list(2) bit<8> clone_keep;
}
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        if (sm.instance_type == 0) {
            m.keep = h.h.val;
            m.drop_me = h.h.val;
            m.clone_keep = h.h.val + 1;
            if (h.h.val == 1) { resubmit_preserving_field_list(FL_RESUBMIT); }
            if (h.h.val == 2) { clone_preserving_field_list(CloneType.I2E, 5, 2); }
        } else {
            h.h.kept = m.keep;
            h.h.lost = m.drop_me;
        }
        sm.egress_spec = 1;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        if (sm.instance_type == 1) { h.h.kept = m.keep; h.h.cloned = m.clone_keep; h.h.lost = m.drop_me; }
    }
}
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_json_field_lists() -> None:
    document, _ = compile_text(PROGRAM)
    keep, clone_keep = ["scalars", "meta_t.keep"], ["scalars", "meta_t.clone_keep"]
    lists = {fl["name"]: fl for fl in document["field_lists"]}
    assert lists["field_list1"]["elements"] == [{"type": "field", "value": keep}]
    assert lists["field_list2"]["elements"] == [{"type": "field", "value": keep},
                                                {"type": "field", "value": clone_keep}]
    assert sorted(fl["id"] for fl in lists.values()) == [1, 2]
    prims = {p["op"]: p["parameters"] for a in document["actions"] for p in a["primitives"]}
    assert prims["resubmit"] == [{"type": "hexstr", "value": hex(lists["field_list1"]["id"])}]
    assert prims["clone_ingress_pkt_to_egress"][1] == {"type": "hexstr",
                                                       "value": hex(lists["field_list2"]["id"])}


@pytest.fixture(scope="module")
def switch() -> Switch:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    sw.clone_session_set(5, [(3, 0)])
    return sw


def test_resubmit_keeps_only_the_listed_field(switch: Switch) -> None:
    assert switch.process([(0, bytes([1, 0, 0, 0]))]) == [(1, bytes([1, 1, 0, 0]))]


def test_clone_keeps_the_listed_fields(switch: Switch) -> None:
    out = sorted(switch.process([(0, bytes([2, 0, 0, 0]))]))
    assert out == [(1, bytes([2, 0, 0, 0])), (3, bytes([2, 2, 0, 3]))]


def test_no_resubmit_without_the_call(switch: Switch) -> None:
    assert switch.process([(0, bytes([7, 0, 0, 0]))]) == [(1, bytes([7, 0, 0, 0]))]


def test_index_must_be_constant() -> None:
    text = PROGRAM.replace("field_list(FL_RESUBMIT);", "field_list(h.h.val);")
    with pytest.raises(CompileError, match="compile-time constant"):
        compile_text(text)
