"""Header stacks: parser loops over `.next` with `.last` in select (source routing), a counter in
metadata driving a loop (MRI), push_front/pop_front and constant indexes; compiled by kvick and
run on the engine against a Python model of the program."""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
header hop_t { bit<1> bos; bit<15> port; }
header trace_t { bit<32> id; }
header count_t { bit<16> n; }
struct headers { eth_t eth; hop_t[4] hops; count_t cnt; trace_t[3] traces; }
struct loop_t { bit<16> left; }
struct meta_t { loop_t loop; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.eth);
        transition select(h.eth.type) { 0x1234: hop; 0x5678: count; default: accept; }
    }
    state hop {
        pk.extract(h.hops.next);
        transition select(h.hops.last.bos) { 1: accept; default: hop; }
    }
    state count {
        pk.extract(h.cnt);
        m.loop.left = h.cnt.n;
        transition select(m.loop.left) { 0: accept; default: trace; }
    }
    state trace {
        pk.extract(h.traces.next);
        m.loop.left = m.loop.left - 1;
        transition select(m.loop.left) { 0: accept; default: trace; }
    }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action next_hop() { sm.egress_spec = (bit<9>)h.hops[0].port; h.hops.pop_front(1); }
    action add_trace(bit<32> id) {
        h.cnt.n = h.cnt.n + 1;
        h.traces.push_front(1);
        h.traces[0].setValid();
        h.traces[0].id = id;
    }
    apply {
        if (h.hops[0].isValid()) {
            next_hop();
            if (!h.hops[0].isValid()) { h.eth.type = 0x0800; }
        } else if (h.cnt.isValid()) {
            add_trace(0xabcd);
            sm.egress_spec = 2;
        } else {
            mark_to_drop(sm);
        }
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) {
    apply { pk.emit(h.eth); pk.emit(h.hops); pk.emit(h.cnt); pk.emit(h.traces); }
}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def _hop(bos: int, port: int) -> bytes:
    return (bos << 15 | port).to_bytes(2, "big")


def model(frame: bytes) -> list[tuple[int, bytes]]:
    """The program's effect, computed directly from the frame's bytes."""
    eth, rest = bytearray(frame[:14]), frame[14:]
    etype = int.from_bytes(eth[12:14], "big")
    if etype == 0x1234:
        hops = []
        while len(hops) < 4:
            hops.append(rest[:2])
            rest = rest[2:]
            if hops[-1][0] >> 7:
                break
        port = int.from_bytes(hops[0], "big") & 0x1FF
        hops = hops[1:]
        if not hops:
            eth[12:14] = b"\x08\x00"
        return [(port, bytes(eth) + b"".join(hops) + rest)]
    if etype == 0x5678:
        n = int.from_bytes(rest[:2], "big")
        traces = [rest[2 + 4 * i:6 + 4 * i] for i in range(n)]
        rest = rest[2 + 4 * n:]
        traces = [b"\x00\x00\xab\xcd"] + traces[:2]
        return [(2, bytes(eth) + (n + 1).to_bytes(2, "big") + b"".join(traces) + rest)]
    return []


def _frame(rng: random.Random) -> bytes:
    kind = rng.choice(["hops", "hops", "trace", "trace", "other"])
    head = rng.randbytes(12)
    payload = rng.randbytes(rng.randint(0, 20))
    if kind == "hops":
        n = rng.randint(1, 4)
        hops = b"".join(_hop(int(i == n - 1), rng.randint(1, 8)) for i in range(n))
        return head + b"\x12\x34" + hops + payload
    if kind == "trace":
        n = rng.randint(0, 3)
        return head + b"\x56\x78" + n.to_bytes(2, "big") + rng.randbytes(4 * n) + payload
    return head + b"\x08\x00" + payload


@pytest.fixture(scope="module")
def switch() -> Switch:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    return sw


def test_json_uses_stack_extracts_and_last_fields() -> None:
    document, _ = compile_text(PROGRAM)
    states = {s["name"]: s for s in document["parsers"][0]["parse_states"]}
    assert states["hop"]["parser_ops"][0] == {"op": "extract",
                                              "parameters": [{"type": "stack", "value": "hops"}]}
    assert states["hop"]["transition_key"] == [{"type": "stack_field", "value": ["hops", "bos"]}]
    assert states["trace"]["transitions"][-1]["next_state"] == "trace"
    ops = [p["op"] for a in document["actions"] for p in a["primitives"]]
    assert "push" in ops and "pop" in ops


def test_random_frames_agree_with_the_model(switch: Switch) -> None:
    rng = random.Random(4)
    for _ in range(500):
        frame = _frame(rng)
        assert switch.process([(0, frame)]) == model(frame), frame.hex()


@pytest.mark.parametrize("change, message", [
    (("h.hops.last.bos", "h.hops.last.isValid()"), "last element"),
    (("h.hops[0].isValid()", "h.hops[4].isValid()"), "out of range"),
])
def test_stack_misuse_is_an_error(change: tuple[str, str], message: str) -> None:
    with pytest.raises(CompileError, match=message):
        compile_text(PROGRAM.replace(*change))
