"""v1model's log_msg(format, {values}): kvick's compiler writes the values into the
parameters_vector as p4c does, the loader and engine record them, and the packet log prints
the message in BMv2's words (bm_sim/core/primitives.cpp: each `{}` replaced by the next value
in decimal, at info level, without the packet prefix)."""

from __future__ import annotations

import copy
import json
import logging

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, require

from target import Exact, Lpm, Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError
from target.log_msg import format_log_msg

PROGRAM = r"""
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
header h_t { bit<8> a; int<8> s; bit<1> flag; bit<7> pad; }
struct headers { eth_t eth; h_t h; }
struct meta_t { bit<16> m; }
parser P(packet_in pk, out headers hd, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(hd.eth); pk.extract(hd.h); transition accept; }
}
control I(inout headers hd, inout meta_t m, inout standard_metadata_t sm) {
    action act(bit<16> p) {
        log_msg("action p={} a+1={}", {p, hd.h.a + 1});
    }
    table t { key = { hd.eth.type: exact; } actions = { act; } }
    apply {
        int<8> neg = hd.h.s - 3;
        log_msg("plain message");
        log_msg("a={} s={} neg={} flag={} big={}", {hd.h.a, hd.h.s, neg, hd.h.flag == 1, 48w0xffffffffffff});
        log_msg("port={}, esc=\{x\} err={}", {sm.ingress_port, sm.parser_error});
        t.apply();
        sm.egress_spec = 2;
    }
}
control E(inout headers hd, inout meta_t m, inout standard_metadata_t sm) {
    apply { log_msg("egress port {}", {sm.egress_port}); }
}
control D(packet_out pk, in headers hd) { apply { pk.emit(hd.eth); pk.emit(hd.h); } }
control VC(inout headers hd, inout meta_t m) { apply { } }
control CC(inout headers hd, inout meta_t m) { apply { } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def info_lines(sw: Switch, frames: list[tuple[int, bytes]]) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    sw.set_trace(True, leveled=lambda level, text: lines.append((level, text)))
    sw.process(frames)
    return [(level, text) for level, text in lines if level >= logging.INFO]


def test_compiled_values_are_logged_as_bmv2_prints_them() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    frame = bytes(Ether(dst="00:00:00:00:00:02", type=0x0800)) + bytes([200, 0xFE, 0x80, 0])
    sw.table_add("I.t", [Exact(0x0800)], "I.act", [4321])
    assert info_lines(sw, [(7, frame)]) == [
        (logging.INFO, "plain message"),
        (logging.INFO, "a=200 s=-2 neg=-5 flag=1 big=281474976710655"),
        (logging.INFO, "port=7, esc={x} err=0"),
        (logging.INFO, "action p=4321 a+1=201"),
        (logging.INFO, "egress port 2"),
    ]


def test_compiled_parameters_vector_is_p4cs_shape() -> None:
    document, _ = compile_text(PROGRAM)
    calls = [prim for action in document["actions"] for prim in action["primitives"]
             if prim["op"] == "log_msg"]
    by_format = {c["parameters"][0]["value"]: c["parameters"][1] for c in calls}
    assert by_format["plain message"] == {"type": "parameters_vector", "value": []}
    values = by_format["a={} s={} neg={} flag={} big={}"]["value"]
    assert values[0] == {"type": "field", "value": ["h", "a"]}
    assert values[1] == {"type": "field", "value": ["h", "s"]}
    assert values[3]["type"] == "expression" and values[3]["value"]["op"] == "b2d"


@pytest.mark.parametrize("call, message", [
    ('log_msg("x={}", m.m);', "log_msg: the values must be a list expression"),
    ('log_msg("x={}", {hd.eth});', "log_msg: only bit, int, bool, enum and error values"),
])
def test_values_that_p4c_refuses_are_refused_with_their_location(call: str, message: str) -> None:
    bad = PROGRAM.replace('log_msg("plain message");', call)
    with pytest.raises(CompileError) as e:
        compile_text(bad)
    text = str(e.value)
    assert message in text and ":18:" in text.splitlines()[0]


BASIC = CORPUS / "tutorial_basic" / "tutorial_basic"


def test_p4c_json_with_parameters_is_logged_with_its_values() -> None:
    """p4c's own JSON: a log_msg with field values (the parameters_vector p4c writes, as in
    finsy's int.json) and one without (p4c writes `"value": {}` there)."""
    document = json.loads(require(BASIC.with_suffix(".json")).read_text())
    action = next(a for a in document["actions"] if a["name"] == "MyIngress.ipv4_forward")
    action["primitives"][:0] = [
        {"op": "log_msg", "parameters": [
            {"type": "string", "value": "ttl={} port={} dst={}"},
            {"type": "parameters_vector", "value": [
                {"type": "field", "value": ["ipv4", "ttl"]},
                {"type": "runtime_data", "value": 1},
                {"type": "field", "value": ["ipv4", "dstAddr"]}]}],
         "source_info": {"filename": "basic.p4", "line": 95}},
        {"op": "log_msg", "parameters": [{"type": "string", "value": "no values"},
                                         {"type": "parameters_vector", "value": {}}]},
        {"op": "log_msg", "parameters": [{"type": "string", "value": "one {} of two {}"},
                                         {"type": "parameters_vector", "value": [
                                             {"type": "hexstr", "value": "0x05"}]}],
         "source_info": {"filename": "basic.p4", "line": 96}},
    ]
    sw = Switch()
    sw.load(copy.deepcopy(document), p4info=str(BASIC.with_suffix(".p4info.txtpb")))
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000202, 32)], "MyIngress.ipv4_forward",
                 [0x080000000202, 2])
    frame = raw(Ether() / IP(src="10.0.1.1", dst="10.0.2.2", ttl=64) / UDP())
    assert info_lines(sw, [(1, frame)]) == [
        (logging.INFO, "ttl=64 port=2 dst=167772674"),
        (logging.INFO, "no values"),
        (logging.ERROR, "Not enough arguments for format string in call to log_msg(). Format "
                        "string expected (2) argument(s) but go (1): basic.p4(96)."),
    ]


@pytest.mark.parametrize("fmt, values, expected", [
    ("p={} to {}", [3, 11], (True, "p=3 to 11")),
    ("v={}", [-5], (True, "v=-5")),
    ("no placeholder", [], (True, "no placeholder")),
    (r"a \{b\} {}", [1], (True, "a {b} 1")),
    (r"a {\}} c", [9], (True, "a 9 c")),          # a `}` after a backslash does not close
    ("{} first", [], (True, "{} first")),         # the scan starts at the second character
    ("a{} b{}", [1], (False, "Not enough arguments for format string in call to log_msg(). "
                             "Format string expected (2) argument(s) but go (1): f(3).")),
    ("a{}{}", [1], (True, "a1{}")),               # the second of adjacent pairs is not seen
    ("a{}{}", [1, 2], (False, "Not enough arguments for format string in call to log_msg(). "
                              "Format string expected (1) argument(s) but go (2): f(3).")),
    ("x={", [1], (False, 'No matching "}" in call to log_msg(): f(3).')),
])
def test_format_follows_bmv2s_scan(fmt: str, values: list[int], expected: tuple[bool, str]) -> None:
    assert format_log_msg(fmt, values, "f(3)") == expected


def test_enum_values_are_logged_as_numbers() -> None:
    """p4-guide's ptf-tests/registeraccess logs a serializable enum header field this way."""
    text = PROGRAM.replace("struct meta_t { bit<16> m; }",
                           "enum bit<8> op_t { NOP = 7, READ = 9 }\nstruct meta_t { bit<16> m; op_t op; }")
    text = text.replace('log_msg("plain message");',
                        'm.op = op_t.NOP; log_msg("op={} {}", {op_t.READ, m.op});')
    document, p4info = compile_text(text)
    sw = Switch()
    sw.load(document, p4info=p4info)
    frame = bytes(Ether(dst="00:00:00:00:00:02", type=0x0800)) + bytes([7, 0, 0, 0])
    assert info_lines(sw, [(1, frame)])[0] == (logging.INFO, "op=9 7")
