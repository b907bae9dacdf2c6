"""Direct type invocation (P4_16 §14.1): `C.apply(...)` on a control or parser type declared
before, with no instance. Each invocation is a local instance named as the type (p4c's
@name), so a control without controllable entities may be invoked twice in one scope; one
with tables may not (its tables would share a control-plane name) and is refused."""

from __future__ import annotations

import pytest

from target import Exact, Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

HEAD = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
header tag_t { bit<8> v; }
struct headers { eth_t eth; tag_t tag; }
struct meta_t { bit<8> x; }
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); pk.emit(h.tag); } }
control AddSeven(in bit<16> x, out bit<16> y) { apply { y = x + 7; } }
control Fwd(inout headers h, inout standard_metadata_t sm) {
    action to(bit<9> p) { sm.egress_spec = p; }
    table t { key = { h.eth.type: exact; } actions = { to; NoAction; } default_action = NoAction; }
    apply { t.apply(); }
}
parser Tag(packet_in pk, inout headers h) {
    state start { pk.extract(h.tag); transition accept; }
}
"""
PARSER = """
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition select(h.eth.type) { 0x88b5: tag; default: accept; } }
    state tag { Tag.apply(pk, h); transition accept; }
}
"""
MAIN = "V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n"


def _frame(etype: int, payload: bytes = b"") -> bytes:
    return bytes(6) + bytes(5) + b"\x01" + etype.to_bytes(2, "big") + payload + bytes(46)


def test_a_stateless_control_invoked_twice_and_a_sub_parser() -> None:
    ingress = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply {
            sm.egress_spec = 1;
            AddSeven.apply(h.eth.type, h.eth.type);
            if (h.tag.isValid()) { AddSeven.apply(h.eth.type, h.eth.type); h.tag.v = h.tag.v + 1; }
        } }"""
    document, _ = compile_text(HEAD + PARSER + ingress + MAIN)
    sw = Switch()
    sw.load(document)
    ((port, out),) = sw.process([(3, _frame(0x0800))])
    assert (port, out[12:14]) == (1, (0x0807).to_bytes(2, "big"))
    ((port, out),) = sw.process([(3, _frame(0x88B5, b"\x41"))])
    assert out[12:15] == (0x88B5 + 14).to_bytes(2, "big") + b"\x42"  # the sub-parser extracted tag


def test_a_control_with_a_table_is_named_as_its_type() -> None:
    ingress = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply { Fwd.apply(h, sm); } }"""
    document, p4info = compile_text(HEAD + PARSER + ingress + MAIN)
    assert 'name: "I.Fwd.t"' in p4info and 'name: "I.Fwd.to"' in p4info
    sw = Switch()
    sw.load(document)
    sw.table_add("I.Fwd.t", [Exact(0x0800)], "I.Fwd.to", [4])
    assert [port for port, _ in sw.process([(3, _frame(0x0800))])] == [4]


def test_a_control_with_a_table_invoked_twice_in_one_scope_is_refused() -> None:
    ingress = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply { Fwd.apply(h, sm);
                Fwd.apply(h, sm); } }"""
    with pytest.raises(CompileError, match="Fwd is invoked directly more than once") as err:
        compile_text(HEAD + PARSER + ingress + MAIN)
    assert str(err.value).startswith("<input>:27:17: error:")
    assert str(err.value).endswith("\n        apply { Fwd.apply(h, sm);\n                ^")
