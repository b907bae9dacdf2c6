"""Field reads and writes of every width and bit offset against a slow bit-packing reference.

The executor reads most fields with one 8-byte load and writes byte-aligned whole-byte fields
with plain stores of 1 to 8 bytes (bits.h); fields that straddle more go the slow way. This
program puts fields of many widths at many offsets, sets them from action parameters, copies
them into a second header and increments them in place, so every path is crossed.
"""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text

# Widths chosen so that offsets cover every bit position and the whole-byte sizes 1..8 bytes
# appear both aligned and unaligned; a 7-bit pad makes the header a whole number of bytes.
WIDTHS = [1, 7, 8, 9, 16, 3, 24, 5, 32, 40, 2, 48, 56, 6, 64, 4, 13, 11, 3, 8, 16, 64, 7, 57, 1]
PAD = 7
NBYTES = (sum(WIDTHS) + PAD) // 8
assert (sum(WIDTHS) + PAD) % 8 == 0


def program_text() -> str:
    fields = " ".join(f"bit<{w}> f{i};" for i, w in enumerate(WIDTHS)) + f" bit<{PAD}> pad;"
    params = ", ".join(f"bit<{w}> v{i}" for i, w in enumerate(WIDTHS))
    sets = " ".join(f"h.a.f{i} = v{i};" for i in range(len(WIDTHS)))
    copies = " ".join(f"h.b.f{i} = h.a.f{i};" for i in range(len(WIDTHS)))
    incs = " ".join(f"h.a.f{i} = h.a.f{i} + 1;" for i in range(len(WIDTHS)))
    return f"""
#include <core.p4>
#include <v1model.p4>
header h_t {{ {fields} }}
struct headers_t {{ h_t a; h_t b; }}
struct meta_t {{ }}
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {{
    state start {{ pk.extract(h.a); transition accept; }}
}}
control VC(inout headers_t h, inout meta_t m) {{ apply {{ }} }}
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {{
    action set({params}) {{ {sets} }}
    table t {{ key = {{ }} actions = {{ set; }} }}
    apply {{
        t.apply();
        h.b.setValid();
        {copies}
        {incs}
        sm.egress_spec = 1;
    }}
}}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {{ apply {{ }} }}
control CC(inout headers_t h, inout meta_t m) {{ apply {{ }} }}
control D(packet_out pk, in headers_t h) {{ apply {{ pk.emit(h.a); pk.emit(h.b); }} }}
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def unpack(data: bytes) -> list[int]:
    """The slow reference: split a header into its fields, most significant bit first."""
    acc = int.from_bytes(data[:NBYTES], "big") >> PAD
    values = []
    for w in reversed(WIDTHS):
        values.append(acc & ((1 << w) - 1))
        acc >>= w
    return values[::-1]


@pytest.fixture(scope="module")
def switch() -> Switch:
    raw_json, _p4info = compile_text(program_text(), "fields.p4")
    sw = Switch(pool_size=256)
    sw.load(raw_json)
    return sw


@pytest.mark.parametrize("seed", range(8))
def test_fields_of_every_width_and_offset_round_trip(switch: Switch, seed: int) -> None:
    rng = random.Random(seed)
    # Extremes as well as random values: all ones makes the increment wrap to zero.
    if seed == 0:
        values = [(1 << w) - 1 for w in WIDTHS]
    elif seed == 1:
        values = [0 for _ in WIDTHS]
    else:
        values = [rng.getrandbits(w) for w in WIDTHS]
    switch.table_set_default("I.t", "I.set", values)
    incoming = bytes(rng.getrandbits(8) for _ in range(NBYTES)) + b"tail"
    out = switch.process([(0, incoming)])
    assert len(out) == 1
    port, data = out[0]
    assert port == 1
    assert unpack(data[:NBYTES]) == [(v + 1) & ((1 << w) - 1)
                                     for v, w in zip(values, WIDTHS, strict=True)]
    assert unpack(data[NBYTES:2 * NBYTES]) == values
    assert data[2 * NBYTES:] == b"tail"


COMPARE = """
#include <core.p4>
#include <v1model.p4>
header in_t { bit<8> u; int<8> s; }
header out_t { bit<8> flags_u; bit<8> flags_s; }
struct headers_t { in_t i; out_t o; }
struct meta_t { }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.i); transition accept; }
}
control VC(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.o.setValid();
        h.o.flags_u = 0;
        h.o.flags_s = 0;
        if (h.i.u == 100) { h.o.flags_u = h.o.flags_u | 1; }
        if (h.i.u != 100) { h.o.flags_u = h.o.flags_u | 2; }
        if (h.i.u < 100) { h.o.flags_u = h.o.flags_u | 4; }
        if (h.i.u <= 100) { h.o.flags_u = h.o.flags_u | 8; }
        if (h.i.u > 100) { h.o.flags_u = h.o.flags_u | 16; }
        if (h.i.u >= 100) { h.o.flags_u = h.o.flags_u | 32; }
        if (h.i.s == -3) { h.o.flags_s = h.o.flags_s | 1; }
        if (h.i.s != -3) { h.o.flags_s = h.o.flags_s | 2; }
        sm.egress_spec = 1;
    }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.i); pk.emit(h.o); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def _flags(a: int, b: int) -> int:
    return sum(bit for bit, hold in zip((1, 2, 4, 8, 16, 32),
                                        (a == b, a != b, a < b, a <= b, a > b, a >= b),
                                        strict=True) if hold)


def test_conditions_comparing_a_field_with_a_constant_follow_its_signedness() -> None:
    raw_json, _p4info = compile_text(COMPARE, "compare.p4")
    sw = Switch(pool_size=256)
    sw.load(raw_json)
    values = [0, 1, 99, 100, 101, 127, 128, 200, 253, 255]
    out = sw.process([(0, bytes([v, v])) for v in values])
    for v, (_port, data) in zip(values, out, strict=True):
        signed = v - 256 if v >= 128 else v
        assert data[2] == _flags(v, 100), v
        assert data[3] == _flags(signed, -3) & 3, v      # kvick's compiler: == and != on int<W>
