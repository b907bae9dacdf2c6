"""P4 functions, inlined: valued functions made of returns under if/else become one expression;
void functions run their statements in place with out/inout parameters aliasing the arguments."""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<8> b; bit<8> hi; bit<8> clamp; bit<8> sorted_lo; bit<8> sorted_hi; }
struct headers { h_t h; }
struct meta_t { }

bit<8> max8(in bit<8> x, in bit<8> y) {
    if (x > y) { return x; }
    return y;
}

bit<8> clamp8(in bit<8> x, in bit<8> lo, in bit<8> hi) {
    if (x < lo) {
        return lo;
    } else if (x > hi) {
        return hi;
    } else {
        return x;
    }
}

void order(inout bit<8> lo, inout bit<8> hi) {
    bit<8> t = lo;
    if (lo > hi) { lo = hi; hi = t; }
}

parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    bool is_small(in bit<8> x) { return x < 16; }
    apply {
        h.h.hi = max8(h.h.a, h.h.b);
        h.h.clamp = clamp8(h.h.a, 10, 200);
        h.h.sorted_lo = h.h.a;
        h.h.sorted_hi = h.h.b;
        order(h.h.sorted_lo, h.h.sorted_hi);
        if (is_small(h.h.a)) { sm.egress_spec = 2; } else { sm.egress_spec = 1; }
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_functions_agree_with_python() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    rng = random.Random(8)
    pairs = [(rng.randrange(256), rng.randrange(256)) for _ in range(300)] + [(5, 5), (0, 255), (255, 0)]
    for a, b in pairs:
        expected = bytes([a, b, max(a, b), min(max(a, 10), 200), min(a, b), max(a, b)])
        port = 2 if a < 16 else 1
        assert sw.process([(0, bytes([a, b, 0, 0, 0, 0]))]) == [(port, expected)], (a, b)


@pytest.mark.parametrize("change, message", [
    (("    if (x > y) { return x; }\n    return y;", "    if (x > y) { return x; }"),
     "can end without returning"),
    (("    if (x > y) { return x; }", "    x = x + 1;"), "in parameter x"),
])
def test_invalid_function_bodies_are_named(change: tuple[str, str], message: str) -> None:
    text = PROGRAM.replace(*change)
    assert text != PROGRAM
    with pytest.raises(CompileError, match=message):
        compile_text(text)


def test_a_return_before_the_end_of_a_void_function_skips_the_rest() -> None:
    text = PROGRAM.replace("bit<8> t = lo;", "bit<8> t = lo; if (lo == 5) { return; }")
    assert text != PROGRAM
    document, p4info = compile_text(text)
    sw = Switch()
    sw.load(document, p4info=p4info)
    for a, b, swapped in ((5, 3, False), (7, 3, True), (5, 9, False), (2, 1, True)):
        out = sw.process([(0, bytes([a, b, 0, 0, 0, 0]))])
        assert out[0][1][4:6] == (bytes([b, a]) if swapped else bytes([a, b])), (a, b)
