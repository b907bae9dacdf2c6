"""`const entries` (every match kind, wildcards, priority by order, P4Info's const-table flags) and
mutable `entries` the control plane may change."""

from __future__ import annotations

import pytest

from target import Exact, InvalidArgument, Lpm, Range, Switch, Ternary
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> op; bit<16> t; bit<8> l; bit<8> r; bit<8> res; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action set(bit<8> v) { h.h.res = v; sm.egress_spec = 1; }
    action drop() { mark_to_drop(sm); }
    table t {
        key = { h.h.op: exact; h.h.t: ternary; h.h.l: lpm; h.h.r: range; }
        actions = { set; drop; }
        const default_action = drop();
        const entries = {
            ENTRIES
        }
    }
    apply { t.apply(); }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""

ENTRIES = """
            (0x2b, 0x1111 &&& 0x000f, 0x10 &&& 0xf0, 1 .. 8): set(1);
            (0x2b, _, _, _): set(2);
            (0x2d, 5, 0x20, 9): set(3);
"""


def _switch(entries: str = ENTRIES) -> tuple[Switch, str]:
    document, p4info = compile_text(PROGRAM.replace("ENTRIES", entries))
    sw = Switch()
    sw.load(document, p4info=p4info)
    return sw, p4info


@pytest.mark.parametrize("packet, result", [
    (bytes([0x2B, 0x22, 0x21, 0x13, 5, 0]), 1),    # first entry: every kind matches
    (bytes([0x2B, 0x22, 0x21, 0x13, 9, 0]), 2),    # range misses: the wildcard entry
    (bytes([0x2B, 0x22, 0x22, 0x23, 5, 0]), 2),    # ternary misses
    (bytes([0x2D, 0, 5, 0x20, 9, 0]), 3),
    (bytes([0x2E, 0, 5, 0x20, 9, 0]), None),       # no entry: the const default drops
])
def test_entries_match_in_order(packet: bytes, result: int | None) -> None:
    sw, _ = _switch()
    out = sw.process([(0, packet)])
    assert out == ([] if result is None else [(1, packet[:5] + bytes([result]))])


def test_earlier_entry_wins_over_a_later_overlapping_one() -> None:
    sw, _ = _switch("(0x2b, _, _, _): set(7);\n(0x2b, 0 &&& 0, 0 &&& 0, 0 .. 255): set(8);")
    assert sw.process([(0, bytes([0x2B, 1, 2, 3, 4, 0]))])[0][1][-1] == 7


def test_const_table_refuses_control_plane_entries_and_says_so_in_p4info() -> None:
    sw, p4info = _switch()
    assert "is_const_table: true" in p4info and "has_initial_entries: true" in p4info
    assert sw.program.tables["I.t"].is_const
    with pytest.raises(InvalidArgument):
        sw.table_add("I.t", [None, None, None, None], "I.set", [1], priority=1)


@pytest.mark.parametrize("entries, message", [
    ("(0x2b, _, _): set(1);", "3 key values"),
    ("(_, _, _, _): set(1);", "exact key needs a value"),
    ("(1, _, 0x10 &&& 0x0f, _): set(1);", "prefix"),
    ("(1, _, _, _): nothing();", "unknown action"),
    ("(1, _, _, _): set();", "takes 1 arguments"),
])
def test_bad_entries_are_errors_with_a_location(entries: str, message: str) -> None:
    with pytest.raises(CompileError, match=message) as err:
        _switch(entries)
    assert ":" in err.value.render()


def test_entries_without_const_are_initial_entries_the_control_plane_changes() -> None:
    text = PROGRAM.replace("ENTRIES", ENTRIES).replace("const entries", "entries")
    document, p4info = compile_text(text)
    assert "has_initial_entries: true" in p4info and "is_const_table" not in p4info
    sw = Switch()
    sw.load(document, p4info=p4info)
    assert not sw.program.tables["I.t"].is_const
    first = bytes([0x2B, 0x22, 0x21, 0x13, 5, 0])
    assert sw.process([(0, first)]) == [(1, first[:5] + b"\x01")]
    entries = sw.table_entries("I.t")
    assert len(entries) == 3
    sw.table_delete("I.t", entries[0].handle)               # the first entry: the wildcard wins now
    assert sw.process([(0, first)]) == [(1, first[:5] + b"\x02")]
    sw.table_add("I.t", [Exact(0x2E), Ternary(0, 0), Lpm(0, 0), Range(0, 255)], "I.set", [9], priority=1)
    assert sw.process([(0, bytes([0x2E, 0, 5, 0x20, 9, 0]))]) == [(1, bytes([0x2E, 0, 5, 0x20, 9, 9]))]
