"""Ordering comparisons of int<W> values, computed or stored, give the signed order.

BMv2 reads signed fields and constants as signed values but computes `a + b` & mask as an
unsigned W-bit value, so kvick compares such operands with their sign bits flipped; int<W>
locals and metadata fields are declared signed in the JSON, as p4c declares them."""

from __future__ import annotations

import itertools

from target import Switch
from target.compiler.driver import compile_text

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { int<8> a; int<8> b; bit<8> r; }
struct headers { h_t h; }
struct meta_t { int<8> m; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; } }
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = 1;
        int<8> s = h.h.a + h.h.b;
        m.m = h.h.a - h.h.b;
        h.h.r = 0;
        if (h.h.a + h.h.b < 0) { h.h.r = h.h.r | 1; }
        if (h.h.a - h.h.b > h.h.b) { h.h.r = h.h.r | 2; }
        if (s >= -5) { h.h.r = h.h.r | 4; }
        if (h.h.a <= s) { h.h.r = h.h.r | 8; }
        if ((h.h.a |+| h.h.b) > 100) { h.h.r = h.h.r | 16; }
        if (m.m < h.h.b) { h.h.r = h.h.r | 32; }
    } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""
VALUES = (-128, -100, -64, -6, -5, -1, 0, 1, 5, 63, 64, 100, 127)


def _int8(x: int) -> int:
    x &= 0xFF
    return x - 256 if x & 0x80 else x


def _expected(a: int, b: int) -> int:
    s = _int8(a + b)
    return ((s < 0) | (_int8(a - b) > b) << 1 | (s >= -5) << 2 | (a <= s) << 3
            | (max(-128, min(127, a + b)) > 100) << 4 | (_int8(a - b) < b) << 5)


def test_signed_order_of_computed_and_stored_values() -> None:
    document, _ = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document)
    pairs = list(itertools.product(VALUES, VALUES))
    outputs = sw.process([(2, bytes([a & 0xFF, b & 0xFF, 0]) + bytes(60)) for a, b in pairs])
    assert [out[2] for _, out in outputs] == [_expected(a, b) for a, b in pairs]
    scalars = {f[0]: f[2] for t in document["header_types"] if t["name"] == "scalars_0"
               for f in t["fields"]}
    assert scalars == {"meta_t.m": True, "s": True}
