"""Expression registers are allocated as a stack: a statement needs registers for its depth.

p4c flattens big expressions into one primitive (finsy's INT sink builds a report length from
nested ?: and +); BMv2 runs them. The loader frees a node's operand registers once its value is
computed and evaluates the operand that needs more registers first, so such expressions fit in
NREGS. The generated expressions below are checked against Python arithmetic on both engines.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import SHARED, require

from target import Exact, Switch, Ternary
from target.pipeline.constants import NREGS
from target.pipeline.loader import compile_program

HERE = Path(__file__).resolve().parent
BASE = HERE / "data" / "bmv2_json" / "multicast.json"
INT_JSON = SHARED / "finsy" / "examples" / "int" / "p4" / "int_v1.0" / "int.json"
INPUTS = 8
MASK = 0xFFFFFFFF


def _fld(k: int) -> dict[str, Any]:
    return {"type": "field", "value": ["hdr", f"x{k}"]}


def _random_tree(rng: random.Random, size: int) -> tuple[dict[str, Any], Any]:
    """(BMv2 JSON expression, a Python function of the inputs) with about size nodes."""
    if size <= 1:
        if rng.random() < 0.3:
            k = rng.randrange(1 << 32)
            return {"type": "hexstr", "value": hex(k)}, lambda x, k=k: k
        i = rng.randrange(INPUTS)
        return _fld(i), lambda x, i=i: x[i]
    if rng.random() < 0.2:
        # cond ? a : b, the condition on two inputs (values in the tree may be negative
        # 128-bit numbers, whose unsigned order is not Python's)
        i, j = rng.randrange(INPUTS), rng.randrange(INPUTS)
        cut = rng.randint(1, size - 2) if size > 2 else 1
        (a, fa), (b, fb) = _random_tree(rng, cut), _random_tree(rng, max(1, size - 1 - cut))
        cond = {"type": "expression", "value": {"op": "<", "left": _fld(i), "right": _fld(j)}}
        e = {"op": "?", "cond": cond, "left": a, "right": b}
        return ({"type": "expression", "value": e},
                lambda x, fa=fa, fb=fb, i=i, j=j: fa(x) if x[i] < x[j] else fb(x))
    op = rng.choice(["+", "-", "^", "&", "|"])
    cut = rng.randint(1, size - 2) if size > 2 else 1
    (a, fa), (b, fb) = _random_tree(rng, cut), _random_tree(rng, max(1, size - 1 - cut))
    py = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "^": lambda p, q: p ^ q,
          "&": lambda p, q: p & q, "|": lambda p, q: p | q}[op]
    return ({"type": "expression", "value": {"op": op, "left": a, "right": b}},
            lambda x, fa=fa, fb=fb, py=py: py(fa(x), fb(x)))


def _chain(n: int) -> tuple[dict[str, Any], Any]:
    """x0 + (x1 + (x2 + ...)): right-nested, the shape of p4c's long sums."""
    e: dict[str, Any] = _fld((n - 1) % INPUTS)
    for k in range(n - 2, -1, -1):
        e = {"type": "expression", "value": {"op": "+", "left": _fld(k % INPUTS), "right": e}}
    return e, lambda x: sum(x[k % INPUTS] for k in range(n))


def _program(expr: dict[str, Any]) -> dict[str, Any]:
    """multicast.json with an 8 x 32-bit input header and hdr.out = expr & 0xffffffff."""
    j = copy.deepcopy(json.loads(BASE.read_text()))
    hdr = next(t for t in j["header_types"] if t["name"] == "Hdr")
    hdr["fields"] = [[f"x{k}", 32, False] for k in range(INPUTS)] + [["out", 32, False]]
    masked = {"type": "expression", "value": {
        "op": "&", "left": expr, "right": {"type": "hexstr", "value": "0xffffffff"}}}
    ingress = next(a for a in j["actions"] if a["name"] == "act")
    ingress["primitives"] = [
        {"op": "assign", "parameters": [{"type": "field", "value": ["hdr", "out"]}, masked]},
        {"op": "assign", "parameters": [{"type": "field", "value": ["standard_metadata",
                                                                    "egress_spec"]},
                                        {"type": "hexstr", "value": "0x1"}]}]
    next(a for a in j["actions"] if a["name"] == "act_0")["primitives"] = []
    return j


def _one_register_per_node(e: Any) -> int:
    """What the old allocation needed: a register for every node and leaf."""
    if not isinstance(e, dict):
        return 0
    v = e.get("value")
    if e.get("type") != "expression":
        return 1
    return 1 + sum(_one_register_per_node(v.get(k)) for k in ("cond", "left", "right"))


def _run(prog: dict[str, Any], native: str, rows: list[list[int]]) -> list[int]:
    sw = Switch(pool_size=1024, native=native)
    sw.load(prog)
    if native == "wait":
        assert sw.native_ready()
    frames = [(0, b"".join(v.to_bytes(4, "big") for v in x) + bytes(4)) for x in rows]
    out = sw.process(frames)
    assert [p for p, _ in out] == [1] * len(rows)
    return [int.from_bytes(f[INPUTS * 4:INPUTS * 4 + 4], "big") for _, f in out]


CASES = [("chain-200", lambda: _chain(200))] + [
    (f"random-{seed}", lambda seed=seed: _random_tree(random.Random(seed), 160))
    for seed in range(4)]


@pytest.mark.parametrize("name,make", CASES, ids=[c[0] for c in CASES])
def test_an_expression_of_more_nodes_than_registers_computes_its_value(name: str, make) -> None:
    expr, py = make()
    assert _one_register_per_node(expr) > NREGS   # the old loader refused every one of these
    prog = _program(expr)
    compile_program(prog)
    rng = random.Random(name)
    rows = [[rng.randrange(1 << 32) for _ in range(INPUTS)] for _ in range(40)]
    rows.append([0] * INPUTS)
    rows.append([MASK] * INPUTS)
    want = [py(x) & MASK for x in rows]
    assert _run(prog, "off", rows) == want
    assert _run(prog, "wait", rows) == want


def _int_switch(prog: dict[str, Any], native: str) -> Switch:
    sw = Switch(pool_size=1024, native=native)
    sw.load(prog)
    if native == "wait":
        assert sw.native_ready()
    sw.table_add("ingress.Forward.tb_forward", [Ternary(2, (1 << 48) - 1)],
                 "ingress.Forward.send_to_port", [2], priority=1)
    sw.table_set_default("egress.Int_transit.tb_int_transit",
                         "egress.Int_transit.configure_transit", [7, 1500])
    return sw


def _int_report(prog: dict[str, Any], native: str, frame: bytes) -> list[tuple[int, bytes]]:
    """An INT source switch, then a sink switch whose I2E clone is turned into a report."""
    source = _int_switch(prog, native)
    source.table_add("ingress.Int_source.tb_activate_source", [Exact(1)],
                     "ingress.Int_source.activate_source", [])
    source.table_add("ingress.Int_source.tb_int_source",
                     [Ternary(0x0A000001, MASK), Ternary(0x0A000002, MASK), Ternary(0, 0),
                      Ternary(0, 0)],
                     "ingress.Int_source.configure_source", [4, 2, 2, 0xC000], priority=1)
    ((port, with_int),) = source.process([(1, frame)])
    assert port == 2 and IP(with_int[14:]).tos >> 2 == 0x20      # INT's DSCP marks it
    sink = _int_switch(prog, native)
    sink.table_add("ingress.Int_sink_config.tb_int_sink", [Exact(2)],
                   "ingress.Int_sink_config.configure_sink", [3])
    sink.table_set_default("egress.Int_sink.Int_report.tb_int_reporting",
                           "egress.Int_sink.Int_report.send_report",
                           [0xAA, 0x0A0000FE, 0xBB, 0x0A0000FD, 6000])
    sink.clone_session_set(1, [(3, 0)])
    return sink.process([(1, with_int)])


def test_finsy_int_program_sends_its_report_on_both_engines() -> None:
    prog = json.loads(require(INT_JSON).read_text())
    frame = raw(Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01") /
                IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=5000, dport=5001) /
                (b"payload" * 4))
    outs = [_int_report(prog, native, frame) for native in ("off", "wait")]
    assert outs[0] == outs[1]
    reports = [f for p, f in outs[0] if p == 3]
    assert len(reports) == 1
    report = Ether(reports[0])
    assert report[IP].dst == "10.0.0.253" and report[UDP].dport == 6000
    # send_report's totalLen, the expression that needed more than 64 registers before:
    # 20 + 20 + 8 + 14 + (4 << 2) + (shim.len << 2) + 8 for UDP
    shim_len = reports[0][14 + 20 + 8 + 16 + 14 + 20 + 8 + 2]
    assert report[IP].len == 62 + 16 + 4 * shim_len + 8 == len(reports[0]) - 14
