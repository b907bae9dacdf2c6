"""Older BMv2 JSON dialects load and run as BMv2 runs them.

The programs: ONOS 2.7's shipped basic pipeline (p4c output of 2021, transitions without "type"),
and three files from p4lang/behavioral-model's own tests (tests/data/bmv2_json, Apache-2.0):
simple_router.json (p4c-bm, P4_14, JSON 2.0: no mcast_grp in standard_metadata, add_to_field,
drop), multicast.json (p4c, JSON 2.7) and swap_1.json (p4c-bm, no __meta__, untyped default
transitions).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, require

from target import Exact, Lpm, ProgramError, Switch, Ternary
from target.pipeline.loader import compile_program

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "bmv2_json"
ONOS = CORPUS / "onos_basic" / "extra" / "onos_shipped_p4c_2021"


def program(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text())


def switch(prog: dict[str, Any] | Path) -> Switch:
    sw = Switch(pool_size=1024)
    sw.load(prog if isinstance(prog, dict) else str(prog))
    return sw


def test_onos_shipped_basic_pipeline_loads_and_forwards() -> None:
    sw = Switch(pool_size=1024)
    sw.load(str(require(ONOS / "basic.json")), str(ONOS / "basic_p4info.txt"))
    sw.table_add("ingress.table0_control.table0",
                 [Ternary(0, 0), Ternary(0, 0), Ternary(0, 0), Ternary(0x0800, 0xFFFF),
                  Ternary(0, 0), Ternary(0x0A000001, 0xFFFFFFFF), Ternary(0, 0),
                  Ternary(0, 0), Ternary(0, 0)],
                 "ingress.table0_control.set_egress_port", [3], priority=10)
    frame = raw(Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01") /
                IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=1, dport=2) / b"x")
    assert sw.process([(1, frame)]) == [(3, frame)]
    other = raw(Ether() / IP(dst="10.0.0.9") / UDP())
    assert sw.process([(1, other)]) == []          # table0's default action drops


def test_p4_14_simple_router_routes_with_intrinsic_fields_missing() -> None:
    sw = switch(program("simple_router.json"))
    sw.table_add("ipv4_lpm", [Lpm(0x0A000000, 8)], "set_nhop", [0x0A00000A, 2])
    sw.table_add("forward", [Exact(0x0A00000A)], "set_dmac", [0x000000000A0A])
    sw.table_add("send_frame", [Exact(2)], "rewrite_mac", [0x000000000202])
    frame = raw(Ether(dst="00:00:00:00:01:01", src="00:00:00:00:00:aa") /
                IP(src="192.0.2.1", dst="10.1.2.3", ttl=64) / UDP() / b"payload")
    out = sw.process([(1, frame)])
    assert [p for p, _ in out] == [2]
    eth = Ether(out[0][1])
    assert (eth.dst, eth.src) == ("00:00:00:00:0a:0a", "00:00:00:00:02:02")
    ip = eth[IP]
    assert ip.ttl == 63                             # add_to_field(ttl, -1)
    expected = ip.chksum
    del ip.chksum
    assert IP(raw(ip)).chksum == expected
    # A miss with no default_entry runs no action, so egress_spec stays 0 (BMv2 does the same).
    assert [p for p, _ in sw.process([(1, raw(Ether() / IP(dst="11.0.0.1") / UDP()))])] == [0]
    sw.table_set_default("ipv4_lpm", "_drop")      # as its commands.txt does: the "drop" primitive
    assert sw.process([(1, raw(Ether() / IP(dst="11.0.0.1") / UDP()))]) == []


def test_json_2_7_multicast_program_replicates() -> None:
    sw = switch(program("multicast.json"))
    sw.mc_group_set(5, [(1, 11), (3, 33)])
    out = sw.process([(0, b"\x00\x05")])
    # ingress copies hdr.f1 into mcast_grp; egress writes egress_rid back into hdr.f1
    assert sorted(out) == [(1, b"\x00\x0b"), (3, b"\x00\x21")]


def test_untagged_json_with_untyped_default_transition() -> None:
    sw = switch(program("swap_1.json"))
    sw.table_add("t_ingress_1", [Exact(5)], "a12", [])
    assert sw.process([(0, b"\x05\x06")]) == [(2, b"\x05\x06")]


@pytest.mark.parametrize(("version", "message"), [
    ([3, 0], "We require a bmv2 JSON major version number of 2 but this JSON input is tagged "
             "with a major version number of 3"),
    ([2, 25], "The most recent bmv2 JSON version number supported is 2.24 but this JSON input "
              "is tagged with version number 2.25"),
    ("2.18", "expected [major, minor]"),
])
def test_json_versions_bmv2_does_not_read_are_refused(version: Any, message: str) -> None:
    prog = program("swap_1.json")
    prog["__meta__"] = {"version": version}
    with pytest.raises(ProgramError) as e:
        compile_program(prog)
    assert e.value.path == "__meta__.version" and message in e.value.message


@pytest.mark.parametrize("meta", [None, {}, {"version": [2, 0]}, {"version": [2, 24]}])
def test_json_versions_bmv2_reads_are_accepted(meta: dict[str, Any] | None) -> None:
    prog = program("swap_1.json")
    if meta is not None:
        prog["__meta__"] = meta
    compile_program(prog)


def _with_action(prims: list[dict[str, Any]]) -> dict[str, Any]:
    """swap_1 where action a11 runs prims and then forwards to port 1."""
    prog = program("swap_1.json")
    a11 = prog["actions"][0]
    a11["primitives"] = prims + a11["primitives"]
    return prog


def _field(name: str) -> dict[str, Any]:
    return {"type": "field", "value": ["hdr1", name]}


def _k(v: int) -> dict[str, Any]:
    return {"type": "hexstr", "value": hex(v)}


@pytest.mark.parametrize(("op", "params", "f1", "f2"), [
    ("add_to_field", [_field("f2"), _k(3)], 0x05, 0x09),
    ("subtract_from_field", [_field("f2"), _k(7)], 0x05, 0xFF),
    ("add", [_field("f2"), _field("f1"), _k(0x10)], 0x05, 0x15),
    ("subtract", [_field("f2"), _field("f1"), _k(1)], 0x05, 0x04),
    ("bit_and", [_field("f2"), _field("f2"), _k(0x0C)], 0x05, 0x04),
    ("bit_or", [_field("f2"), _field("f1"), _k(0x30)], 0x05, 0x35),
    ("bit_xor", [_field("f2"), _field("f2"), _k(0xFF)], 0x05, 0xF9),
    ("shift_left", [_field("f2"), _field("f2"), _k(5)], 0x05, 0xC0),
    ("shift_right", [_field("f2"), _field("f2"), _k(1)], 0x05, 0x03),
    ("no_op", [], 0x05, 0x06),
])
def test_p4_14_arithmetic_primitives(op: str, params: list[dict[str, Any]], f1: int, f2: int) -> None:
    sw = switch(_with_action([{"op": op, "parameters": params}]))
    sw.table_add("t_ingress_1", [Exact(5)], "a11", [])
    assert sw.process([(0, b"\x05\x06")]) == [(1, bytes([f1, f2]))]


def test_p4_14_arithmetic_on_action_data() -> None:
    prog = _with_action([{"op": "add_to_field",
                          "parameters": [_field("f2"), {"type": "runtime_data", "value": 0}]}])
    prog["actions"][0]["runtime_data"] = [{"name": "d", "bitwidth": 8}]
    sw = switch(prog)
    sw.table_add("t_ingress_1", [Exact(5)], "a11", [0x20])
    assert sw.process([(0, b"\x05\x06")]) == [(1, b"\x05\x26")]


def test_shift_parser_op_skips_bytes() -> None:
    prog = program("swap_1.json")
    prog["parsers"][0]["parse_states"][0]["parser_ops"].insert(0, {"op": "shift", "parameters": [1]})
    sw = switch(prog)
    sw.table_add("t_ingress_1", [Exact(7)], "a12", [])
    assert [p for p, _ in sw.process([(0, b"\x05\x07\x08")])] == [2]


def test_verify_with_a_bare_error_number() -> None:
    prog = program("swap_1.json")
    prog["errors"] = [["NoError", 0], ["PacketTooShort", 1]]
    ops = prog["parsers"][0]["parse_states"][0]["parser_ops"]
    ops.append({"op": "verify", "parameters": [{"type": "bool", "value": True}, 1]})
    sw = switch(prog)
    sw.table_add("t_ingress_1", [Exact(5)], "a12", [])
    assert [p for p, _ in sw.process([(0, b"\x05\x06")])] == [2]
    ops[-1]["parameters"][1] = 9
    with pytest.raises(ProgramError, match="Invalid error code 9"):
        compile_program(prog)


def test_indirect_table_with_act_prof_name() -> None:
    prog = program("swap_1.json")
    t = prog["pipelines"][0]["tables"][0]
    t["type"] = "indirect"
    t["act_prof_name"] = "old_profile"
    sw = switch(prog)
    sw.act_prof_add_member("old_profile", 1, "a12", [])
    sw.table_add("t_ingress_1", [Exact(5)], member=1)
    assert [p for p, _ in sw.process([(0, b"\x05\x06")])] == [2]


def test_next_tables_resolve_through_the_tables_own_actions() -> None:
    """Two actions named on_miss (as p4c's P4_14 conversion emits them): the table that uses the
    second one continues where its own next_tables say, not where the first one's would."""
    prog = program("swap_1.json")
    prog["actions"] += [{"name": "on_miss", "id": i, "runtime_data": [], "primitives": []}
                        for i in (2, 3)]
    ingress = prog["pipelines"][0]
    first = ingress["tables"][0]
    first.update(action_ids=[0, 1], default_entry={"action_id": 0, "action_const": False,
                                                   "action_data": [], "action_entry_const": False})
    ingress["tables"].insert(0, {
        "name": "t_miss", "id": 1, "match_type": "exact", "type": "simple", "max_size": 16,
        "with_counters": False, "support_timeout": False, "direct_meters": None,
        "key": [{"match_type": "exact", "target": ["hdr1", "f2"], "mask": None}],
        "actions": ["on_miss"], "action_ids": [3], "next_tables": {"on_miss": "t_ingress_1"},
        "base_default_next": None,
        "default_entry": {"action_id": 3, "action_const": True, "action_data": [],
                          "action_entry_const": True}})
    ingress["init_table"] = "t_miss"
    sw = switch(prog)
    # A miss in t_miss runs on_miss (id 3) and must continue into t_ingress_1 (egress port 1).
    assert [p for p, _ in sw.process([(0, b"\x05\x06")])] == [1]


def test_original_json_is_left_unchanged() -> None:
    prog = program("swap_1.json")
    before = copy.deepcopy(prog)
    compile_program(prog)
    assert prog == before
