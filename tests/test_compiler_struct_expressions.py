"""Structure-valued expressions by field name and with default values (P4_16 8.13, 8.26):
`{a = 1, b = x}`, `(H){c = 3, a = 1, ...}` (the fields not named take their defaults) and
`{...}` (all of them): a header assigned one becomes valid with those values, on both engines.
p4-guide's p4runtime-issue-428/bit0b-bmv2.p4 writes `h.h = {...};` and p4c's dumps of it
`(H){b0a = 0, ...}`."""

from __future__ import annotations

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> et; }
header h_t { bit<8> a; bit<16> b; bit<8> c; }
struct pair_t { bit<8> x; bool y; }
struct headers_t { eth_t eth; h_t h; h_t g; }
struct meta_t { pair_t p; }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); pk.extract(h.h); transition accept; }
}
control V(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        m.p = {x = 7, y = true};
        if (h.eth.et == 1) {
            h.h = {...};
        } else if (h.eth.et == 2) {
            h.h = (h_t){c = 0x33, a = 0x11, ...};
        } else {
            h.g = {b = 0x2222, a = h.h.a, c = m.p.x};
        }
        if (m.p.y) { h.eth.src = 1; }
        sm.egress_spec = 1;
    }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); pk.emit(h.h); pk.emit(h.g); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def frame(et: int) -> bytes:
    return bytes(6) + bytes(6) + et.to_bytes(2, "big") + bytes([0xAA, 0xBB, 0xCC, 0xDD]) + bytes(10)


@pytest.mark.parametrize("engine", ["off", "wait"])
def test_named_and_default_lists(engine: str) -> None:
    document, p4info = compile_text(PROGRAM, "named.p4")
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    if engine == "wait":
        assert sw.native_ready()
    out = sw.process([(0, frame(et)) for et in (1, 2, 3)])
    src_one = (1).to_bytes(6, "big")      # m.p = {x = 7, y = true}: y is true
    assert [d[:26] for _p, d in out] == [
        bytes(6) + src_one + bytes([0, 1]) + bytes(4) + bytes(8),                  # h = {...}
        bytes(6) + src_one + bytes([0, 2, 0x11, 0, 0, 0x33]) + bytes(8),          # (h_t){c, a, ...}
        bytes(6) + src_one + bytes([0, 3, 0xAA, 0xBB, 0xCC, 0xDD, 0xAA, 0x22, 0x22, 7]) + bytes(4),
    ]


@pytest.mark.parametrize("replace, message", [
    ("{b = 0x2222, a = h.h.a}", "field c of header h_t is not given"),
    ("{b = 0x2222, a = h.h.a, d = m.p.x}", "header h_t has no field d"),
    ("{b = 0x2222, b = h.h.a, ...}", "field b is given twice"),
])
def test_named_list_errors(replace: str, message: str) -> None:
    text = PROGRAM.replace("{b = 0x2222, a = h.h.a, c = m.p.x}", replace)
    with pytest.raises(CompileError) as err:
        compile_text(text, "named.p4")
    first = str(err.value).splitlines()[0]
    assert first.startswith("named.p4:") and message in first, str(err.value)
