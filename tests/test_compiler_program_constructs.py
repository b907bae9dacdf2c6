"""Constructs of programs written for p4c (p4-guide's demos and ptf-tests, ngsdn-tutorial's
main.p4), compiled by kvick: #if expressions and v1model's PortId_t, slice keys named as p4c
names them, a stack's lastIndex, clone3, inline direct counters, support_timeout,
serializable enums in the P4Info, tables applied inside && / || conditions, and actions
called only from other actions (not in the P4Info)."""

from __future__ import annotations

import pytest

from target import Exact, Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError
from target.compiler.pp_expr import PpExprError, evaluate
from target.program_info import read_p4info

HEAD = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
"""
TAIL = """
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""
SIMPLE = """
struct headers { eth_t eth; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); } }
"""


def program(body: str, meta: str = "struct meta_t { bit<8> x; }", parser: str = SIMPLE,
            head: str = HEAD) -> tuple[dict, str]:
    return compile_text(head + meta + parser + body + TAIL)


def frame(etype: int = 0x0800, src: int = 0x0A, payload: bytes = b"") -> bytes:
    return (0x0B).to_bytes(6, "big") + src.to_bytes(6, "big") + etype.to_bytes(2, "big") + \
        payload + bytes(max(0, 46 - len(payload)))


@pytest.mark.parametrize("text,value", [
    ("20200408 >= 20200408", 1), ("20180101 >= 20200408", 0), ("1 + 2 * 3 == 7", 1),
    ("(1 << 4) - 1", 15), ("!0 && (0 || 2)", 1), ("UNDEFINED_NAME", 0), ("0x10 | 1", 17),
    ("1 ? 5 : 6", 5), ("-7 / 2", -3),
])
def test_if_expressions_evaluate_as_cs_preprocessor(text: str, value: int) -> None:
    assert evaluate(text) == value


@pytest.mark.parametrize("text", ["1 +", "(1", "1 2", "1 / 0", "$"])
def test_bad_if_expressions_are_refused(text: str) -> None:
    with pytest.raises(PpExprError):
        evaluate(text)


def test_v1model_version_20200408_brings_port_id_t() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        action to(PortId_t p) { sm.egress_spec = p; }
        table t { key = { h.eth.type: exact; } actions = { to; } }
        apply { t.apply(); } }"""
    newer = HEAD.replace("#include <v1model.p4>", "#define V1MODEL_VERSION 20200408\n"
                         "#include <v1model.p4>")
    document, p4info = program(body, head=newer)
    assert 'name: "p"\n    bitwidth: 9' in p4info
    with pytest.raises(CompileError, match="PortId_t"):
        program(body)                      # the default version has no PortId_t
    with pytest.raises(CompileError, match="#if"):
        compile_text("#if 1 +\n#endif\n")


def test_slice_keys_are_named_as_p4c_names_them() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        table t { key = { h.eth.src[15: 8]: exact; h.eth.dst[ 3 :0 ]: ternary; } actions = { NoAction; } }
        apply { t.apply(); } }"""
    names = [f["name"][0] for f in read_p4info(program(body)[1])["tables"][0]["match_fields"]]
    assert names == ["h.eth.src[15:8]", "h.eth.dst[3:0]"]


def test_last_index_of_a_stack_in_the_parser() -> None:
    """A count header says how many elements follow; the parser stops when lastIndex reaches
    count - 1 and the ingress reports lastIndex in the count's place."""
    parser = """
header n_t { bit<8> n; }
header e_t { bit<8> v; }
struct headers { eth_t eth; n_t cnt; e_t[4] s; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); pk.extract(h.cnt); transition elements; }
    state elements {
        pk.extract(h.s.next);
        m.x = (bit<8>) h.s.lastIndex;
        bool done = (bit<32>) h.cnt.n - 1 == h.s.lastIndex;
        transition select(done) { true: accept; default: elements; }
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); pk.emit(h.cnt); pk.emit(h.s); } }
"""
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply { sm.egress_spec = 1; h.cnt.n = m.x; } }"""
    sw = Switch()
    sw.load(program(body, parser=parser)[0])
    for count in (1, 2, 4):
        sent = frame(payload=bytes([count]) + bytes(range(10, 14)))
        ((port, out),) = sw.process([(1, sent)])
        assert out[14] == count - 1
        assert out[15:15 + count] == sent[15:15 + count]


def test_clone3_preserves_the_fields_it_lists() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply { sm.egress_spec = 1; m.x = 0x5a; m.y = 0x77; clone3(CloneType.I2E, 5, { m.x }); } }
control E2(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        apply { if (sm.instance_type == 1) { h.eth.type = m.x ++ m.y; } } }"""
    parser = SIMPLE.replace("control E(", "control E_unused(")
    document, _ = compile_text(HEAD + "struct meta_t { bit<8> x; bit<8> y; }" + parser + body +
                               TAIL.replace("E()", "E2()"))
    sw = Switch()
    sw.load(document)
    sw.clone_session_set(5, [(2, 0)])
    out = dict(sw.process([(1, frame())]))
    assert out[1][12:14] == b"\x08\x00"        # the original: not a clone
    assert out[2][12:14] == b"\x5a\x00"        # the clone: x preserved, y not


def test_inline_direct_counter_is_named_by_its_annotation() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        action fwd(bit<9> p) { sm.egress_spec = p; }
        table t { key = { h.eth.type: exact; } actions = { fwd; }
                  @name("t_counter") counters = direct_counter(CounterType.packets_and_bytes); }
        table u { key = { h.eth.src: exact; } actions = { NoAction; }
                  counters = direct_counter(CounterType.packets); }
        apply { t.apply(); u.apply(); } }"""
    document, p4info = program(body)
    info = read_p4info(p4info)
    names = sorted(c["preamble"][0]["name"][0] for c in info["direct_counters"])
    assert names == ["I.u", "t_counter"]
    sw = Switch()
    sw.load(document, p4info=p4info)
    handle = sw.table_add("I.t", [Exact(0x0800)], "I.fwd", [3])
    assert [p for p, _ in sw.process([(1, frame()), (1, frame())])] == [3, 3]
    assert sw.direct_counter_read("I.t", handle) == (2, 2 * len(frame()))


def test_support_timeout_reaches_json_and_p4info() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        table t { key = { h.eth.type: exact; } actions = { NoAction; } support_timeout = true; }
        table u { key = { h.eth.src: exact; } actions = { NoAction; } support_timeout = false; }
        apply { t.apply(); u.apply(); } }"""
    document, p4info = program(body)
    tables = {t["name"]: t for p in document["pipelines"] for t in p["tables"]}
    assert (tables["I.t"]["support_timeout"], tables["I.u"]["support_timeout"]) == (True, False)
    behaviour = {t["preamble"][0]["name"][0]: t.get("idle_timeout_behavior")
                 for t in read_p4info(p4info)["tables"]}
    assert behaviour == {"I.t": ["NOTIFY_CONTROL"], "I.u": None}


def test_serializable_enums_the_control_plane_sees_are_in_type_info() -> None:
    head = HEAD + """
enum bit<8> Reason_t { NONE = 0, PUNT = 7 }
enum bit<16> Unused_t { A = 1 }
enum bit<4> Key_t { K0 = 0, K9 = 9 }
@controller_header("packet_in") header pin_t { Reason_t reason; }
"""
    parser = SIMPLE.replace("struct headers { eth_t eth; }", "struct headers { pin_t pin; eth_t eth; }")
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        action a(Reason_t r) { h.pin.reason = r; }
        table t { key = { m.k: exact; } actions = { a; } }
        apply { t.apply(); } }"""
    p4info = program(body, meta="struct meta_t { Key_t k; }", parser=parser, head=head)[1]
    enums = {e["key"][0]: e["value"][0] for e in read_p4info(p4info)["type_info"][0]["serializable_enums"]}
    assert sorted(enums) == ["Key_t", "Reason_t"]
    assert enums["Reason_t"]["underlying_type"][0]["bitwidth"] == [8]
    assert [(m["name"][0], m["value"][0]) for m in enums["Reason_t"]["members"]] == \
        [("NONE", "\x00"), ("PUNT", "\x07")]


@pytest.mark.parametrize("cond,expect", [
    # (EtherType, t has an entry) -> (port: 1 if the then branch ran, 2 if else; t applied).
    ("h.eth.type == 0x0800 && t.apply().hit",
     {(0x0800, True): (1, True), (0x0800, False): (2, True), (0x86DD, True): (2, False)}),
    ("h.eth.type == 0x0800 || t.apply().hit",
     {(0x0800, True): (1, False), (0x86DD, True): (1, True), (0x86DD, False): (2, True)}),
    ("!(t.apply().miss && h.eth.type != 0x0800)",
     {(0x0800, True): (1, True), (0x86DD, True): (1, True), (0x86DD, False): (2, True)}),
])
def test_tables_applied_inside_conditions_keep_short_circuit_order(cond: str, expect: dict) -> None:
    body = f"""control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {{
        action missed() {{ h.eth.src = h.eth.src | 0x10; }}
        action matched() {{ h.eth.src = h.eth.src | 0x20; }}
        table t {{ key = {{ h.eth.dst: exact; }} actions = {{ matched; missed; }}
                  default_action = missed(); }}
        apply {{ if ({cond}) {{ sm.egress_spec = 1; }} else {{ sm.egress_spec = 2; }} }} }}"""
    document, p4info = program(body)
    for (etype, present), (port, applied) in expect.items():
        sw = Switch()
        sw.load(document, p4info=p4info)
        if present:
            sw.table_add("I.t", [Exact(0x0B)], "I.matched", [])
        ((out_port, out),) = sw.process([(1, frame(etype))])
        # The source MAC says whether t was applied, and whether it hit (0x20) or missed (0x10).
        mark = out[11] & 0x30
        assert out_port == port, (cond, etype, present)
        assert mark == ((0x20 if present else 0x10) if applied else 0), (cond, etype, present)


def test_actions_called_only_from_actions_are_not_in_the_p4info() -> None:
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        action helper(bit<9> p) { sm.egress_spec = p; }
        action direct() { h.eth.type = 1; }
        action via_table() { helper(3); }
        table t { key = { h.eth.type: exact; } actions = { via_table; } }
        apply { t.apply(); direct(); } }"""
    actions = {a["preamble"][0]["name"][0] for a in read_p4info(program(body)[1])["actions"]}
    assert "I.helper" not in actions
    assert {"I.direct", "I.via_table"} <= actions


def test_tables_in_the_branches_of_a_run_time_conditional_expression() -> None:
    """c ? t.apply().hit : (u.apply().miss || x): only the taken branch's table is applied."""
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
        action mark_t() { h.eth.dst[7:0] = h.eth.dst[7:0] | 0x10; }
        action mark_u() { h.eth.dst[7:0] = h.eth.dst[7:0] | 0x20; }
        table t { key = { h.eth.src: exact; } actions = { mark_t; NoAction; } default_action = NoAction; }
        table u { key = { h.eth.src: exact; } actions = { mark_u; NoAction; } default_action = NoAction; }
        apply {
            sm.egress_spec = 1;
            bool b = h.eth.type == 0x0800 ? t.apply().hit : (u.apply().miss || h.eth.src == 7);
            if (b) { h.eth.dst[15:8] = 0xbb; }
        } }"""
    document, _ = program(body)
    sw = Switch()
    sw.load(document)
    for table, action in (("I.t", "I.mark_t"), ("I.u", "I.mark_u")):
        sw.table_add(table, [Exact(5)], action)
    # (ether type, source) -> (marks of the applied tables in dst's low byte, b)
    cases = {(0x0800, 5): (0x10, True), (0x0800, 6): (0, False), (0x86DD, 5): (0x20, False),
             (0x86DD, 6): (0, True), (0x86DD, 7): (0, True)}
    for (etype, src), (marks, b) in cases.items():
        ((_, out),) = sw.process([(1, frame(etype, src))])
        assert (out[5], out[4] == 0xBB) == (0x0B | marks, b), (etype, src)   # dst is 0x0b


def test_extract_with_a_size_into_a_union_stack_is_refused_with_its_location() -> None:
    parser = """
header opt_t { bit<8> kind; varbit<32> data; }
header_union u_t { opt_t opt; eth_t other; }
struct headers { eth_t eth; u_t[2] us; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); pk.extract(h.us.next.opt, 16); transition accept; }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); } }
"""
    body = """control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }"""
    with pytest.raises(CompileError, match="extract with a size into a member of a header union "
                                           "stack's next") as err:
        program(body, parser=parser)
    assert err.value.location is not None
    assert err.value.location.text.strip().startswith("state start { pk.extract(h.eth); pk.extract(h.us")
