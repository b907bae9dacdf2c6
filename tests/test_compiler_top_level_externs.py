"""Extern instances declared at the top level of a program, outside any control (allowed by
the P4_16 specification; p4c names them as declared, with no control prefix, in the JSON and
the P4Info): one register shared by ingress and egress, counters, meters, direct counters and
action profiles used by tables, @name on them, and counter<I>/register<T, I> index types."""

from __future__ import annotations

from target import Exact, Switch
from target.compiler.driver import compile_text
from target.program_info import read_p4info

HEAD = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct headers { eth_t eth; }
struct meta_t { bit<8> x; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control D(packet_out pk, in headers h) { apply { pk.emit(h.eth); } }
control VC(inout headers h, inout meta_t m) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
"""
MAIN = "V1Switch(P(), VC(), I(), E(), CC(), D()) main;\n"


def frame(etype: int = 0x0800) -> bytes:
    return (0x0B).to_bytes(6, "big") + (0x0A).to_bytes(6, "big") + etype.to_bytes(2, "big") + bytes(46)


def p4info_names(p4info: str, kind: str) -> list[str]:
    return sorted(e["preamble"][0]["name"][0] for e in read_p4info(p4info).get(kind, []))


def test_a_top_level_register_is_shared_by_ingress_and_egress() -> None:
    text = HEAD + """
register<bit<16>, bit<8>>(4) seen;
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply { bit<16> n; seen.read(n, 1); seen.write(1, n + 1); sm.egress_spec = 2; } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply { bit<16> n; seen.read(n, 1); h.eth.type = n; seen.write(2, 0x77); } }
""" + MAIN
    document, p4info = compile_text(text)
    assert [r["name"] for r in document["register_arrays"]] == ["seen"]
    assert p4info_names(p4info, "registers") == ["seen"]
    sw = Switch()
    sw.load(document, p4info=p4info)
    out = sw.process([(1, frame()), (1, frame())])
    # Egress reads what ingress wrote into the same register.
    assert [o[12:14] for _, o in out] == [b"\x00\x01", b"\x00\x02"]
    assert (sw.register_read("seen", 1), sw.register_read("seen", 2)) == (2, 0x77)


def test_top_level_counters_meters_and_profiles_keep_their_names() -> None:
    text = HEAD + """
counter<bit<8>>(16, CounterType.packets) by_type;
@name("renamed_meter") meter(8, MeterType.packets) m0;
direct_counter(CounterType.packets_and_bytes) per_entry;
action_profile(32) prof;
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action fwd(bit<9> p) { sm.egress_spec = p; by_type.count(3); }
    table t { key = { h.eth.type: exact; } actions = { fwd; } counters = per_entry; }
    table u { key = { h.eth.src: exact; } actions = { fwd; NoAction; } implementation = prof; }
    apply { bit<2> c; m0.execute_meter(1, c); t.apply(); u.apply(); } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
""" + MAIN
    document, p4info = compile_text(text)
    assert [c["name"] for c in document["counter_arrays"] if not c["is_direct"]] == ["by_type"]
    assert [m["name"] for m in document["meter_arrays"]] == ["renamed_meter"]
    ingress = document["pipelines"][0]
    assert [p["name"] for p in ingress["action_profiles"]] == ["prof"]
    assert p4info_names(p4info, "counters") == ["by_type"]
    assert p4info_names(p4info, "meters") == ["renamed_meter"]
    assert p4info_names(p4info, "direct_counters") == ["per_entry"]
    assert p4info_names(p4info, "action_profiles") == ["prof"]
    sw = Switch()
    sw.load(document, p4info=p4info)
    handle = sw.table_add("I.t", [Exact(0x0800)], "I.fwd", [3])
    assert [p for p, _ in sw.process([(1, frame()), (1, frame())])] == [3, 3]
    assert sw.counter_read("by_type", 3)[0] == 2
    assert sw.direct_counter_read("I.t", handle) == (2, 2 * len(frame()))


def test_a_function_counting_under_if_is_inlined_into_the_apply_block() -> None:
    # BMv2 actions are straight-line code: the function's if becomes a condition of the
    # control's graph (as in p4c), with its return value and copied parameters kept.
    text = HEAD + """
counter(4, CounterType.packets) big;
bit<8> bump(in bit<8> v, inout bit<8> calls) {
    calls = calls + 1;
    if (v > 127) {
        big.count(1);
        return v - 1;
    }
    return v + 1;
}
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply { m.x = 0; h.eth.type[7:0] = bump(h.eth.type[7:0], m.x); h.eth.type[15:8] = m.x;
            sm.egress_spec = 1; } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
""" + MAIN
    document, p4info = compile_text(text)
    sw = Switch()
    sw.load(document, p4info=p4info)
    out = sw.process([(1, frame(0x0090)), (1, frame(0x0010))])
    assert [o[12:14] for _, o in out] == [b"\x01\x8f", b"\x01\x11"]
    assert sw.counter_read("big", 1)[0] == 1
