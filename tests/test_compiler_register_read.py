"""`register.read(i)` as an expression: a metadata temporary filled by register_read before the
statement that uses it (in an apply-block condition: a keyless table just before the condition)."""

from __future__ import annotations

import random

from target import Switch
from target.compiler.driver import compile_text

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> idx; bit<16> value; bit<16> seen; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    register<bit<16>>(256) last;
    action swap() {
        h.h.seen = last.read((bit<32>)h.h.idx) + 1;
        last.write((bit<32>)h.h.idx, h.h.value);
    }
    apply {
        swap();
        if (h.h.seen == 1) { h.h.value = last.read(0) ^ 0xffff; }
        COND
        sm.egress_spec = 1;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_reads_agree_with_a_model_register() -> None:
    document, p4info = compile_text(PROGRAM.replace("COND", ""))
    sw = Switch()
    sw.load(document, p4info=p4info)
    model = [0] * 256
    rng = random.Random(1)
    for _ in range(400):
        idx, value = rng.choice([0, 1, 2, rng.randrange(256)]), rng.randrange(1 << 16)
        seen = (model[idx] + 1) & 0xFFFF
        model[idx] = value
        out_value = model[0] ^ 0xFFFF if seen == 1 else value
        frame = bytes([idx]) + value.to_bytes(2, "big") + b"\0\0"
        expected = bytes([idx]) + out_value.to_bytes(2, "big") + seen.to_bytes(2, "big")
        assert sw.process([(0, frame)]) == [(1, expected)]


def test_a_read_in_an_apply_condition_is_read_before_it() -> None:
    # Register 1 holds the last value sent with idx 1 (swap() ran first): idx becomes 0xee when
    # it is 3.
    text = PROGRAM.replace("COND", "if (last.read(1) == 3) { h.h.idx = 0xee; }")
    document, p4info = compile_text(text)
    sw = Switch()
    sw.load(document, p4info=p4info)
    for idx, value, marked in ((1, 5, False), (1, 3, True), (2, 7, True), (1, 4, False)):
        out = sw.process([(0, bytes([idx]) + value.to_bytes(2, "big") + b"\0\0")])
        assert out[0][1][0] == (0xEE if marked else idx)
