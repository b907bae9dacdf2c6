"""A keyless table's const entry `_: action;` (p4-guide's table-size-tests/
keyless-table-with-entries-bmv2.p4): an entry with no key, which every packet hits, on both
engines; any other keyset for a keyless table is still refused."""

from __future__ import annotations

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> et; }
struct headers_t { eth_t eth; }
struct meta_t { }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control V(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    action send(bit<9> p) { sm.egress_spec = p; }
    action my_drop() { mark_to_drop(sm); }
    table t {
        actions = { send; my_drop; }
        const entries = {
            _: send(3);
        }
        default_action = my_drop;
    }
    apply {
        if (t.apply().hit) {
            h.eth.src = 0x0A;
        }
    }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


@pytest.mark.parametrize("engine", ["off", "wait"])
def test_keyless_const_entry_is_hit(engine: str) -> None:
    document, p4info = compile_text(PROGRAM, "keyless.p4")
    table = next(t for t in document["pipelines"][0]["tables"] if t["name"] == "I.t")
    assert [e["match_key"] for e in table["entries"]] == [[]]
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    if engine == "wait":
        assert sw.native_ready()
    out = sw.process([(1, bytes(12) + b"\x08\x00" + bytes(46))])
    assert [(port, data[6:12]) for port, data in out] == [(3, bytes(5) + b"\x0a")]


def test_keyless_entry_with_a_value_is_refused() -> None:
    with pytest.raises(CompileError) as err:
        compile_text(PROGRAM.replace("_: send(3);", "5: send(3);"), "keyless.p4")
    assert "entry has 1 key values, table I.t has 0 keys" in str(err.value).splitlines()[0]
