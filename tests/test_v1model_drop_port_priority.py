"""simple_switch's --drop-port and --priority-queues, as BMv2's simple_switch.cpp does them.

Drop port: egress_spec equal to it drops the packet (at the end of ingress and of egress),
mark_to_drop writes it, and egress starts with egress_spec = drop port + 1 (cut to the field's
width). Priority queues: standard_metadata.priority picks one of N strict-priority queues per
egress port (a priority with no queue drops the packet), egress sees the queue in
queueing_metadata.qid (P4_14 programs; p4c's v1model has no qid), and the packets of one
batch waiting for one port leave highest priority first, in arrival order within a priority.
"""

from __future__ import annotations

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.errors import InvalidArgument

# Each frame says what ingress does: port (egress_spec), prio (standard_metadata.priority),
# drop (1: mark_to_drop, 2: egress_spec = 511 directly, 3: mark_to_drop in egress); egress
# writes back the priority it sees and the egress_spec it started with.
PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> port; bit<8> prio; bit<8> drop; bit<8> seq; bit<8> qid; bit<16> spec0; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = (bit<9>)h.h.port;
        sm.priority = (bit<3>)h.h.prio;
        if (h.h.drop == 1) { mark_to_drop(sm); }
        if (h.h.drop == 2) { sm.egress_spec = 511; }
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.h.qid = (bit<8>)sm.priority;
        h.h.spec0 = (bit<16>)sm.egress_spec;
        if (h.h.drop == 3) { mark_to_drop(sm); }
    }
}
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


@pytest.fixture(scope="module")
def program() -> dict:
    document, _ = compile_text(PROGRAM)
    return document


def frame(port: int, prio: int = 0, drop: int = 0, seq: int = 0) -> bytes:
    return port.to_bytes(2, "big") + bytes([prio, drop, seq, 0, 0, 0])


def switch(program: dict, **settings: int) -> Switch:
    sw = Switch(**settings)
    sw.load(program)
    return sw


def test_default_drop_port_is_511(program: dict) -> None:
    sw = switch(program)
    assert sw.process([(1, frame(511))]) == []
    assert sw.process([(1, frame(7, drop=1))]) == []
    [(port, out)] = sw.process([(1, frame(510))])
    assert port == 510 and out[6:8] == b"\x00\x00"      # egress starts with 511 + 1, cut to 9 bits


def test_drop_port_setting_moves_the_drop(program: dict) -> None:
    sw = switch(program, drop_port=7)
    # 511 is a port like any other now; 7 drops, and mark_to_drop writes 7.
    [(port, out)] = sw.process([(1, frame(511))])
    assert port == 511
    assert out[6:8] == (8).to_bytes(2, "big")            # egress_spec starts at drop port + 1
    assert sw.process([(1, frame(7))]) == []
    assert sw.process([(1, frame(3, drop=1))]) == []     # mark_to_drop in ingress
    assert sw.process([(1, frame(3, drop=3))]) == []     # mark_to_drop in egress
    assert [p for p, _ in sw.process([(1, frame(3, drop=2))])] == [511]


def test_drop_port_is_no_port(program: dict) -> None:
    sw = switch(program, drop_port=7)
    with pytest.raises(InvalidArgument, match="drop port"):
        sw.process([(7, frame(3))])
    with pytest.raises(InvalidArgument, match="drop port"):
        sw.mc_group_set(1, [(7, 0)])
    with pytest.raises(InvalidArgument, match="drop port"):
        Switch(cpu_port=9, drop_port=9)
    sw.process([(511, frame(3))])                       # 511 may be an ingress port now


def test_with_one_queue_a_nonzero_priority_is_dropped(program: dict) -> None:
    sw = switch(program)
    assert sw.process([(1, frame(2, prio=1))]) == []
    assert sw.pipeline.stats()["priority_drops"] == 1
    [(_, out)] = sw.process([(1, frame(2, prio=0))])
    assert out[5] == 0


def test_priority_beyond_the_queues_is_dropped(program: dict) -> None:
    sw = switch(program, priority_queues=4)
    assert sw.process([(1, frame(2, prio=4))]) == []
    [(_, out)] = sw.process([(1, frame(2, prio=3))])
    assert out[5] == 3


def test_waiting_packets_leave_in_priority_order(program: dict) -> None:
    sw = switch(program, priority_queues=8)
    prios = [0, 3, 7, 3, 0, 5, 7, 1]
    batch = [(1, frame(2, prio=p, seq=i)) for i, p in enumerate(prios)]
    batch += [(1, frame(4, prio=7 - p, seq=100 + i)) for i, p in enumerate(prios)]
    out = sw.process(batch)
    for port in (2, 4):
        got = [(f[2], f[4]) for p, f in out if p == port]      # (priority, seq)
        assert got == sorted(got, key=lambda ps: -ps[0])       # stable: seq order kept
        assert [s for _, s in got] != sorted(s for _, s in got)
    assert len(out) == 16


def test_one_queue_keeps_arrival_order(program: dict) -> None:
    sw = switch(program)
    out = sw.process([(1, frame(2, seq=i)) for i in range(8)])
    assert [f[4] for _, f in out] == list(range(8))


def test_settings_are_checked() -> None:
    for bad in ({"drop_port": 512}, {"drop_port": -1}, {"priority_queues": 0},
                {"priority_queues": 9}):
        with pytest.raises(InvalidArgument):
            Switch(**bad)


def test_multicast_bounds_refuse_in_bmv2s_words() -> None:
    from target.errors import ResourceExhausted

    sw = Switch()
    sw.max_mc_groups = 2
    sw.max_l1_entries = 3            # nodes: one per replication id of a group
    sw.mc_group_set(1, [(1, 0), (2, 0)])
    sw.mc_group_set(2, [(1, 0), (2, 1)])
    with pytest.raises(ResourceExhausted, match="mgid table full"):
        sw.mc_group_set(3, [(1, 0)])
    with pytest.raises(ResourceExhausted, match="l1 table full"):
        sw.mc_group_set(2, [(1, 0), (2, 1), (3, 2)])
    assert sw.mc_group_get(2) == [(1, 0), (2, 1)]       # refused: nothing changed
    sw.mc_group_set(2, [(3, 5), (4, 5)])                # replacing a group reuses its room
    sw.max_l2_entries = 1
    with pytest.raises(ResourceExhausted, match="l2 table full"):
        sw.mc_group_set(1, [(1, 0)])


def test_native_code_writes_the_drop_port(program: dict) -> None:
    """mark_to_drop compiled to C (Switch(native=...)) writes the switch's drop port too."""
    sw = switch(program, drop_port=7, native="wait")
    assert sw.native_ready(timeout=120), "the program did not build to native code"
    assert sw.process([(1, frame(3, drop=1))]) == []
    assert [p for p, _ in sw.process([(1, frame(511))])] == [511]
