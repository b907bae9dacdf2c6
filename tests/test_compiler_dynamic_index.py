"""Header stack elements indexed at run time (`hdr.s[i]`): reads, writes, isValid and
setValid/setInvalid lowered to BMv2's dereference_header_stack / access_field, checked on the
engine against a model over random frames."""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header ctl_t { bit<8> i; bit<8> j; bit<8> n; bit<8> got; bit<8> valid; }
header item_t { bit<8> v; }
struct headers { ctl_t c; item_t[4] s; }
struct meta_t { bit<8> left; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.c);
        m.left = h.c.n;
        transition select(m.left) { 0: accept; default: item; }
    }
    state item {
        pk.extract(h.s.next);
        m.left = m.left - 1;
        transition select(m.left) { 0: accept; default: item; }
    }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.c.got = h.s[h.c.i].v;
        h.c.valid = h.s[h.c.i].isValid() ? 8w1 : 8w0;
        h.s[h.c.i].v = h.s[h.c.i].v + 0x10;
        h.s[h.c.j].setInvalid();
        sm.egress_spec = 1;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.c); pk.emit(h.s); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def model(i: int, j: int, items: list[int]) -> bytes:
    valid = [True] * len(items) + [False] * (4 - len(items))
    values = items + [0] * (4 - len(items))
    got, was_valid = values[i], int(valid[i])
    values[i] = (values[i] + 0x10) & 0xFF
    valid[j] = False
    kept = bytes(v for v, ok in zip(values, valid, strict=True) if ok)
    return bytes([i, j, len(items), got, was_valid]) + kept


def test_dynamic_indexes_agree_with_the_model() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    rng = random.Random(12)
    for _ in range(300):
        items = [rng.randrange(256) for _ in range(rng.randint(0, 4))]
        i, j = rng.randrange(4), rng.randrange(4)
        frame = bytes([i, j, len(items), 0, 0]) + bytes(items)
        assert sw.process([(0, frame)]) == [(1, model(i, j, items))], (i, j, items)


def test_json_form() -> None:
    document, _ = compile_text(PROGRAM)
    text = repr(document["actions"])
    assert "'dereference_header_stack'" in text and "'access_field'" in text


def test_a_whole_element_cannot_be_assigned_at_a_runtime_index() -> None:
    text = PROGRAM.replace("h.s[h.c.j].setInvalid();", "h.s[h.c.j] = h.s[0];")
    with pytest.raises(CompileError, match="cannot be assigned"):
        compile_text(text)
