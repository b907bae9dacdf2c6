"""Annotations as sai_p4 (p4-guide's sonic-pins-example) writes them: a string spanning lines
(@entry_restriction), unstructured bodies (@pkginfo(name = ...), @refers_to(builtin::x, y),
annotations inside annotations), a type argument (@p4runtime_translation("", string)) and a list
ending in a comma. They compile, the P4Info keeps their text (newlines escaped), and a line
number after a string of several lines is still right."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from runtime_server.proto import p4info_pb2
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>

@p4runtime_translation("", string)
@p4runtime_translation_mappings({
  {"", 0},
})
type bit<10> vrf_id_t;

header ethernet_t { bit<48> dst; bit<48> src; bit<16> etherType; }
struct headers_t { ethernet_t ethernet; }
struct metadata_t { vrf_id_t vrf; }

parser P(packet_in pk, out headers_t h, inout metadata_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.ethernet); transition accept; }
}
control V(inout headers_t h, inout metadata_t m) { apply { } }
control I(inout headers_t h, inout metadata_t m, inout standard_metadata_t sm) {
    @note("two
      lines")
    action set_port(@refers_to(builtin::multicast_group_table, multicast_group_id) bit<9> port) {
        sm.egress_spec = port;
    }
    @entry_restriction("
      // a comment inside the string
      dst != 0;
    ")
    table t {
        key = {
            h.ethernet.dst : exact @name("dst")
                @composite_field(@sai_field(WORD3), @sai_field(WORD2));
        }
        actions = { set_port; }
    }
    apply { t.apply(); }
}
control E(inout headers_t h, inout metadata_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t h, inout metadata_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.ethernet); } }

@pkginfo(name = "annotations.p4", organization = "kvick")
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def test_annotations_compile_and_reach_the_p4info() -> None:
    _document, p4info_text = compile_text(PROGRAM, "annotations.p4")
    p4info = text_format.Parse(p4info_text, p4info_pb2.P4Info())
    action = next(a for a in p4info.actions if a.preamble.name == "I.set_port")
    assert list(action.preamble.annotations) == ['@note("two\n      lines")']
    table = next(t for t in p4info.tables if t.preamble.name == "I.t")
    assert [k.name for k in table.match_fields] == ["dst"]


def test_line_numbers_after_a_string_of_several_lines() -> None:
    broken = PROGRAM.replace("apply { t.apply(); }", "apply { t.apply(); x = 1; }")
    with pytest.raises(CompileError) as err:
        compile_text(broken, "annotations.p4")
    line = next(i for i, text in enumerate(broken.split("\n"), 1) if "x = 1;" in text)
    assert str(err.value).startswith(f"annotations.p4:{line}:"), str(err.value)
