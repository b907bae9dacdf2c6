"""Headers with struct-typed fields, flattened as p4c's FlattenHeaders pass does: every leaf
field, in declaration order, becomes a header field named `_` + its path joined by `_` + its
position (p4c's issue383-bmv2 midend output: bitvec_hdr { row_t row; } with
row_t { alt_t alt0; alt_t alt1; }, alt_t { bit<1> valid; bit<7> port; } becomes
_row_alt0_valid0, _row_alt0_port1, _row_alt1_valid2, _row_alt1_port3). The program still names
them by their paths (hdr.h.row.alt1.valid), and P4Info key names keep those paths.

p4-guide's issues/p4c-issue-4733/issue4733-bmv2.p4 is copied unchanged into tests/p4/p4guide/
(Apache-2.0 header kept).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import Ether

from target import Exact, Switch
from target.compiler.driver import compile_file, compile_text
from target.compiler.errors import CompileError

P4GUIDE = Path(__file__).parent / "p4" / "p4guide"

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct alt_t { bit<1> valid; bit<7> port; }
struct row_t { alt_t alt0; alt_t alt1; }
header bitvec_hdr { row_t row; bit<8> tail; }
struct headers { eth_t eth; bitvec_hdr bvh; }
struct meta_t { row_t saved; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.eth);
        pk.extract(h.bvh);
        transition select(h.bvh.row.alt0.valid) { 1: accept; default: accept; }
    }
}
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action set_port(bit<7> p) { h.bvh.row.alt1.port = p; sm.egress_spec = (bit<9>) p; }
    table t { key = { h.bvh.row.alt1.valid: exact; h.bvh.tail: exact; } actions = { set_port; } }
    apply {
        m.saved = h.bvh.row;            // a struct read out of the header
        t.apply();
        h.bvh.row.alt0 = m.saved.alt1;  // and written into it
        h.bvh.tail = (bit<8>) m.saved.alt0.port;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); pk.emit(h.bvh); } }
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_flattened_names_are_p4cs() -> None:
    document, p4info = compile_text(PROGRAM)
    bvh = next(t for t in document["header_types"] if t["name"] == "bitvec_hdr")
    assert bvh["fields"] == [["_row_alt0_valid0", 1, False], ["_row_alt0_port1", 7, False],
                             ["_row_alt1_valid2", 1, False], ["_row_alt1_port3", 7, False],
                             ["_tail4", 8, False]]
    assert 'name: "h.bvh.row.alt1.valid"' in p4info and 'name: "h.bvh.tail"' in p4info


def test_struct_fields_of_a_header_are_read_written_and_matched() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    sw.table_add("I.t", [Exact(1), Exact(0x42)], "I.set_port", [5])
    eth = bytes(Ether(dst="00:00:00:00:00:01", src="00:00:00:00:00:02", type=0x1234))
    # alt0 = (1, 0x11), alt1 = (1, 0x22), tail 0x42
    frame = eth + bytes([0x80 | 0x11, 0x80 | 0x22, 0x42]) + bytes(40)
    out = sw.process([(1, frame)])
    # alt1.port = 5 and out of port 5; alt0 = the saved alt1 (1, 0x22); tail = saved alt0.port
    assert out == [(5, eth + bytes([0x80 | 0x22, 0x80 | 0x05, 0x11]) + bytes(40))]
    # alt1.valid 0: the table misses (port 0), the rest is done all the same
    frame = eth + bytes([0x80 | 0x11, 0x22, 0x42]) + bytes(40)
    assert sw.process([(1, frame)]) == [(0, eth + bytes([0x22, 0x22, 0x11]) + bytes(40))]


def issue4733(type_: int, first: int) -> bytes:
    eth = Ether(dst="00:00:00:00:00:01", src="00:00:00:00:00:02", type=type_)
    return bytes(eth) + bytes([first, 0xAA, 0xBB]) + bytes(40)


@pytest.mark.parametrize("type_, first, status, h_valid", [
    (0x7FFF, 0b0010_0000, 5, 1),    # b.f1 = b.f2 = 0, x = 1, y = 0: state1 sets status 5
    (0x7FFF, 0b1100_0000, 0, 1),    # b.f1 = b.f2 = 1, x = 0, y = 0: accept, status stays 0
    (0x0800, 0b0010_0000, 0, 0),    # no h at all
])
def test_issue4733_parses_past_the_struct_in_its_header(type_: int, first: int, status: int,
                                                        h_valid: int) -> None:
    """h_t { s b; bool x; bool y; bit<4> z; ... } with s { bool f1; bool f2; }: x and y are the
    third and fourth bits, after b's two (a build that put the struct elsewhere reads x, y from
    other bits and takes the other branch). Ingress writes the status into the source MAC's
    first byte and h's validity into its second."""
    document, p4info = compile_file(P4GUIDE / "issue4733-bmv2.p4")
    sw = Switch()
    sw.load(document, p4info=p4info)
    out = sw.process([(1, issue4733(type_, first))])
    assert len(out) == 1 and out[0][0] == 1
    frame = Ether(out[0][1])
    src = bytes.fromhex(frame.src.replace(":", ""))
    assert (src[0], src[1]) == (status, h_valid)
    names = [f[0] for t in document["header_types"] if t["name"] == "h_t" for f in t["fields"]]
    assert names == ["_b_f10", "_b_f21", "_x2", "_y3", "_z4", "_f5", "_g6"]


def test_a_header_inside_a_struct_inside_a_header_is_refused() -> None:
    bad = PROGRAM.replace("struct alt_t { bit<1> valid; bit<7> port; }",
                          "header inner_t { bit<8> v; }\nstruct alt_t { bit<1> valid; bit<7> port; "
                          "inner_t inner; }")
    with pytest.raises(CompileError) as e:
        compile_text(bad)
    assert "bitvec_hdr.row.alt0.inner of header inner_t" in str(e.value).splitlines()[0]
