"""mark_to_drop under an if inside an action (an action's if is predicated: BMv2 actions are
straight-line code; the two fields mark_to_drop writes are kept in copies and put back unless
the if holds, so the engine's drop port stays its own setting), also inside a function taking
`inout standard_metadata_t stdmeta` called with the control's own `stdmeta` (the parameter hides
the argument's name, so it names the argument instead of being a copy whose copy-out would undo
the drop).

p4-guide's exit-statement/exit-3-bmv2.p4 does both, with `t1.apply().hit` after the function
call in the same expression (P4_16 evaluates left to right: the call and its effects come first);
it is copied unchanged into tests/p4/p4guide/ with the stdlib headers it includes (Apache-2.0
headers kept).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import Ether

from target import Exact, Switch
from target.compiler.driver import compile_file, compile_text

P4GUIDE = Path(__file__).parent / "p4" / "p4guide"

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct headers { eth_t eth; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action maybe_drop(bit<8> v) {
        sm.egress_spec = 3;
        if (v == 1) { mark_to_drop(sm); } else { h.eth.type = 0x0101; }
    }
    table t { key = { h.eth.dst: exact; } actions = { maybe_drop; } }
    apply { sm.mcast_grp = 0; t.apply(); }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); } }
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_mark_to_drop_under_an_if_in_an_action_drops_only_when_the_if_holds() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    sw.table_add("I.t", [Exact(1)], "I.maybe_drop", [1])
    sw.table_add("I.t", [Exact(2)], "I.maybe_drop", [0])
    drop = bytes(Ether(dst="00:00:00:00:00:01", type=0x0800)) + bytes(46)
    keep = bytes(Ether(dst="00:00:00:00:00:02", type=0x0800)) + bytes(46)
    out = sw.process([(1, drop), (1, keep)])
    assert out == [(3, keep[:12] + b"\x01\x01" + keep[14:])]


FUNCTION = PROGRAM.replace("control I(", """
bit<8> drop_if_big(in bit<8> x, inout standard_metadata_t sm) {
    if (x > 10) { mark_to_drop(sm); return 1; }
    return 0;
}
control I(""").replace("apply { sm.mcast_grp = 0; t.apply(); }",
                       "apply { sm.egress_spec = 4; h.eth.src[7:0] = drop_if_big(h.eth.dst[7:0], sm); }")


def test_mark_to_drop_in_a_function_of_the_control_s_own_standard_metadata() -> None:
    document, p4info = compile_text(FUNCTION)
    sw = Switch()
    sw.load(document, p4info=p4info)
    small = bytes(Ether(dst="00:00:00:00:00:05", src="00:00:00:00:00:ff", type=0x0800)) + bytes(46)
    big = bytes(Ether(dst="00:00:00:00:00:20", type=0x0800)) + bytes(46)
    assert sw.process([(1, small), (1, big)]) == [(4, small[:11] + b"\x00" + small[12:])]


def exit3(dst: int, src: int) -> bytes:
    return bytes(Ether(dst=dst.to_bytes(6, "big"), src=src.to_bytes(6, "big"), type=0x0800)) + bytes(46)


@pytest.fixture(scope="module")
def exit3_switch() -> Switch:
    document, p4info = compile_file(P4GUIDE / "exit-3-bmv2.p4")
    sw = Switch()
    sw.load(document, p4info=p4info)
    for key, action in ((0xA1, "t1_a1"), (0xA2, "t1_a2"), (0xA3, "t1_a3")):
        sw.table_add("ingressImpl.t1", [Exact(key)], f"ingressImpl.{action}", [])
    return sw


# src[15:8] = fn1(dst[15:8], src[23:16], stdmeta) + t1.apply().hit, where fn1 returns x and adds
# 127 to y when x < 10, else drops the packet, subtracts 1 from y and returns x + 10.
@pytest.mark.parametrize("dst_low, x, port, src", [
    (0xA1, 5, 1, 0x00_00_00_84_06_01),     # hit a1: y + 127, 5 + 1, src[7:0] = 1
    (0xA2, 5, 1, 0x00_00_00_84_33_02),     # hit a2 exits: fn1's effect stays, src[15:8] does not change
    (0xA0, 5, 1, 0x00_00_00_84_05_00),     # miss: 5 + 0
    (0xA1, 20, None, None),                # x >= 10: fn1 drops it
    (0xA3, 20, 2, 0x00_00_00_04_1F_00),    # ... unless a3 then sets egress_spec: y - 1, 30 + 1
])
def test_exit3(exit3_switch: Switch, dst_low: int, x: int, port: int | None, src: int | None) -> None:
    out = exit3_switch.process([(1, exit3((x << 8) | dst_low, 0x05_33_00))])
    if port is None:
        assert out == []
        return
    assert [p for p, _ in out] == [port]
    assert int(Ether(out[0][1]).src.replace(":", ""), 16) == src
