"""packet.lookahead<T>() (bit<W>, headers, their fields in select keys) and `transition reject`,
compiled by kvick and run on the engine against a per-packet Python model."""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import Unsupported

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
header calc_t { bit<8> p; bit<8> four; bit<8> ver; bit<8> op; bit<32> a; }
struct headers { eth_t eth; calc_t calc; calc_t peek; }
struct meta_t { bit<16> first; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.eth);
        transition select(h.eth.type) { 0x1234: check; 0x9999: reject; default: accept; }
    }
    state check {
        m.first = pk.lookahead<bit<16>>();
        h.peek = pk.lookahead<calc_t>();
        transition select(pk.lookahead<calc_t>().p, pk.lookahead<calc_t>().four, pk.lookahead<bit<8>>()) {
            (0x50, 0x34, 0x50): parse_calc;
            default: accept;
        }
    }
    state parse_calc { pk.extract(h.calc); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply { sm.egress_spec = 1; h.eth.type = m.first; if (h.calc.isValid()) { h.calc.op = 0xee; } }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); pk.emit(h.peek); pk.emit(h.calc); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def model(frame: bytes) -> bytes:
    """What the program does, written directly: the reference for the engine's output."""
    eth, rest = bytearray(frame[:14]), frame[14:]
    etype = int.from_bytes(eth[12:14], "big")
    if etype != 0x1234:         # accepted, or rejected (v1model: ingress runs all the same)
        eth[12:14] = b"\0\0"
        return bytes(eth) + rest
    eth[12:14] = rest[:2]
    peek = rest[:8]
    if rest[0] == 0x50 and rest[1] == 0x34:
        calc = bytearray(rest[:8])
        calc[3] = 0xEE
        return bytes(eth) + peek + bytes(calc) + rest[8:]
    return bytes(eth) + peek + rest


def _frame(rng: random.Random) -> bytes:
    etype = rng.choice([0x1234, 0x1234, 0x9999, 0x0800])
    payload = bytearray(rng.randbytes(rng.randint(8, 40)))
    if rng.random() < 0.5:
        payload[0] = 0x50
    if rng.random() < 0.6:
        payload[1] = 0x34
    return rng.randbytes(12) + etype.to_bytes(2, "big") + bytes(payload)


@pytest.fixture(scope="module")
def switch() -> Switch:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    return sw


def test_lookahead_json_form() -> None:
    document, _ = compile_text(PROGRAM)
    check = document["parsers"][0]["parse_states"][1]
    assert check["transition_key"] == [{"type": "lookahead", "value": [0, 8]},
                                       {"type": "lookahead", "value": [8, 8]},
                                       {"type": "lookahead", "value": [0, 8]}]
    sets = [op["parameters"][1] for op in check["parser_ops"] if op["op"] == "set"]
    assert sets[0] == {"type": "lookahead", "value": [0, 16]}
    assert sets[-1] == {"type": "lookahead", "value": [32, 32]}     # peek.a
    start = document["parsers"][0]["parse_states"][0]
    assert [t["next_state"] for t in start["transitions"]] == ["check", None, None]


def test_random_frames_agree_with_the_model(switch: Switch) -> None:
    rng = random.Random(6)
    frames = [_frame(rng) for _ in range(400)]
    kinds = {(f[12:14], f[14] == 0x50 and f[15] == 0x34) for f in frames}
    assert len(kinds) >= 5          # every path is exercised
    for frame in frames:
        assert switch.process([(0, frame)]) == [(1, model(frame))], frame.hex()


@pytest.mark.parametrize("decl, message", [
    ("bit<136> wide = pk.lookahead<bit<136>>();", "lookahead of 136 bits"),
    ("bool b = pk.lookahead<bool>();", "lookahead of bool"),
])
def test_lookahead_beyond_what_bmv2_reads_is_refused(decl: str, message: str) -> None:
    text = PROGRAM.replace("m.first = pk.lookahead<bit<16>>();", decl)
    with pytest.raises(Unsupported, match=message):
        compile_text(text)
