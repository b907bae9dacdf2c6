"""Fill a Pipeline's C arrays from a compiled Program (loader.py).

Kept apart from engine.pyx so the executor file holds only what runs per packet; this is
layout and bookkeeping, done once per program load.
"""

from __future__ import annotations

from typing import Any

from target.errors import ProgramError
from target.pipeline.constants import (  # noqa: F401  (TBL_* are read as build.TBL_*)
    NODE_CALL,
    NODE_COND,
    NODE_TABLE,
    TBL_EXACT,
    TBL_KEYLESS,
    TBL_LPM,
    TBL_LPM24,
    TBL_TERNARY,
    TRANS_DEFAULT,
    TRANS_VALUE,
    TRANS_VSET,
)
from target.pipeline.loader import Program, TableInfoC
from target.pipeline.lpm_dir24 import Dir24Lpm, dir24_pair
from target.pipeline.match_exact import ExactTable
from target.pipeline.match_lpm import LpmTable
from target.pipeline.match_ternary import TernaryTable
from target.pipeline.meter import MeterArray


def key_layout(prog: Program, t: TableInfoC) -> tuple[list[tuple[Any, ...]], int]:
    """Per key field (src, width, nbytes, byte offset, is_valid, mask) and the key length."""
    out = []
    off = 0
    for k in t.keys:
        nbytes = (k.bitwidth + 7) // 8
        out.append((k.field, k.bitwidth, nbytes, off, k.is_valid, k.mask))
        off += nbytes
    return out, off


def table_kind(t: TableInfoC) -> int:
    kinds = [k.match_type for k in t.keys]
    if not kinds:
        return TBL_KEYLESS
    if all(k in ("exact", "valid") for k in kinds):
        return TBL_EXACT
    if kinds.count("lpm") == 1 and all(k in ("exact", "valid", "lpm") for k in kinds):
        if len(kinds) == 1 and t.keys[0].bitwidth == 32 and t.keys[0].mask is None:
            return TBL_LPM24
        return TBL_LPM
    return TBL_TERNARY


def make_matcher(kind: int, t: TableInfoC, layout: list[tuple[Any, ...]], key_bytes: int) -> Any:
    if kind == TBL_KEYLESS:
        return None
    if kind == TBL_EXACT:
        return ExactTable(key_bytes, min(max(t.max_size, 16), 1 << 16))
    if kind == TBL_LPM24:
        return Dir24Lpm()
    if kind == TBL_LPM:
        i = next(i for i, k in enumerate(t.keys) if k.match_type == "lpm")
        return LpmTable(key_bytes, layout[i][3], layout[i][2], t.keys[i].bitwidth)
    fields = []
    for k, lay in zip(t.keys, layout, strict=True):
        mt = "exact" if k.match_type == "valid" else k.match_type
        fields.append((lay[3], lay[2], mt))
    return TernaryTable(key_bytes, fields)


def calc_segments(prog: Program, inputs: list[tuple[str, int]]) -> tuple[list[tuple[int, int, int]], bool]:
    segs: list[tuple[int, int, int]] = []
    payload = False
    for kind, v in inputs:
        if kind == "payload":
            payload = True
            continue
        if payload:
            raise ProgramError("calculations", "fields after the payload in a calculation")
        if kind == "const":
            segs.append((0, v & 0xFFFF, v >> 16))
            continue
        f = prog.fields[v]
        if segs and segs[-1][2] < 0 and segs[-1][0] + segs[-1][1] == f.bitoff and not f.varbit:
            segs[-1] = (segs[-1][0], segs[-1][1] + f.width, -1)   # adjacent: one copy
        else:
            segs.append((f.bitoff, f.width, -1))
    return segs, payload


# Standard metadata the engine sets on every packet; a program that never reads one of them
# does not pay for the store.
_SKIPPABLE_STD = ("ingress_global_timestamp", "egress_global_timestamp", "packet_length",
                  "egress_port", "instance_type")


def fields_read(prog: Program, calcs: list[dict[str, Any]]) -> set[int]:
    """Every field id the program can observe."""
    from target.pipeline.opcodes import OP
    read: set[int] = set()
    for op, _a, _b, _c, d, e in prog.code:
        if op in (OP["LDF"], OP["CMPFK"]):
            read.add(d)
        elif op in (OP["CPF"], OP["STVL"]):
            read.add(e)
    for t in prog.tables:
        read.update(k.field for k in t.keys if not k.is_valid)
    for c in calcs:
        read.update(v for kind, v in c["inputs"] if kind == "field")
    for ids in prog.field_lists.values():
        read.update(ids)
    for _name, ids in prog.learn_lists.values():
        read.update(ids)
    read.update(c["target"] for c in prog.checksums)
    return read


def std_fields_to_write(prog: Program, calcs: list[dict[str, Any]]) -> dict[str, int]:
    read = fields_read(prog, calcs)
    std = dict(prog.std)
    for name in _SKIPPABLE_STD:
        if std.get(name, -1) not in read:
            std[name] = -1
    return std


def build_pipeline(pl: Any, prog: Program) -> None:
    calcs = list(prog.calculations)
    # Action selectors hash their own inputs: give each one a calculation of its own.
    selector_calc: dict[str, int] = {}
    for ap in prog.action_profiles:
        if ap["selector_inputs"] is not None:
            selector_calc[ap["name"]] = len(calcs)
            calcs.append({"name": ap["name"] + ".selector", "algo": ap["selector_algo"],
                          "inputs": ap["selector_inputs"], "path": "action_profiles"})
    seg_lists = [calc_segments(prog, c["inputs"]) for c in calcs]
    sizes = {
        "code": len(prog.code), "consts": len(prog.consts), "headers": len(prog.headers),
        "fields": len(prog.fields), "stacks": len(prog.stacks),
        "stack_hdrs": sum(len(s[1]) for s in prog.stacks), "unions": len(prog.unions),
        "union_members": sum(len(u[1]) + 1 for u in prog.unions),
        "pstates": len(prog.parser_states),
        "pcomps": sum(len(s["comps"]) for s in prog.parser_states),
        "ptrans": sum(len(s["transitions"]) for s in prog.parser_states),
        "nodes": len(prog.nodes), "tables": len(prog.tables),
        "profiles": len(prog.action_profiles), "calcs": len(calcs),
        "segs": sum(len(s[0]) for s in seg_lists), "cksums": len(prog.checksums),
        "counters": len(prog.counters), "registers": len(prog.registers),
        "meters": len(prog.meters), "actions": len(prog.actions),
        "deparser": len(prog.deparser), "vsets": len(prog.parse_vsets),
        "field_lists": max(prog.field_lists, default=-1) + 1,
        "learn_lists": max(prog.learn_lists, default=-1) + 1,
        "phv_bytes": prog.phv_bytes,
    }
    pl._alloc(sizes)
    pl._set_code(prog.code, prog.consts)
    for i, h in enumerate(prog.headers):
        pl._set_header(i, h.byteoff, h.fixed_bits, h.nbytes, h.varbit_max, h.union, h.first_field,
                       len(h.fields), h.metadata)
    for i, f in enumerate(prog.fields):
        pl._set_field(i, f.bitoff, f.width, f.signed, f.varbit, f.header)
    first = 0
    for i, (_name, hdrs) in enumerate(prog.stacks):
        pl._set_stack(i, first, hdrs, prog.stack_counter[i])
        first += len(hdrs)
    first = 0
    for i, (_name, hdrs) in enumerate(prog.unions):
        pl._set_union(i, first, hdrs)
        first += len(hdrs) + 1
    comp0 = trans0 = 0
    for i, st in enumerate(prog.parser_states):
        trans = []
        for kind, value, mask, target in st["transitions"]:
            bits = sum(((w + 7) // 8) * 8 for _r, w in st["comps"])
            full = (1 << bits) - 1 if bits else 0
            m = full if mask == -1 else mask & full
            if kind == "default":
                trans.append((TRANS_DEFAULT, 0, 0, target, 0))
            elif kind == "value":
                trans.append((TRANS_VALUE, value & full, m, target, 0))
            else:
                trans.append((TRANS_VSET, 0, m, target, value))
        pl._set_pstate(i, st["code"], st["keycode"], st["comps"], comp0, trans, trans0)
        comp0 += len(st["comps"])
        trans0 += len(trans)
    for i, n in enumerate(prog.nodes):
        if n[0] == "table":
            pl._set_node(i, NODE_TABLE, n[1], -1, -1)
        elif n[0] == "cond":
            pl._set_node(i, NODE_COND, n[1], n[2], n[3])
        else:
            pl._set_node(i, NODE_CALL, n[1], n[2], -1)
    pl._set_roots(prog.parser_init, prog.ingress_init, prog.egress_init, prog.deparser,
                  std_fields_to_write(prog, calcs))
    for i, (_name, params, code) in enumerate(prog.actions):
        pl._set_action(i, code, len(params))
    seg0 = 0
    for i, c in enumerate(calcs):
        segs, payload = seg_lists[i]
        try:
            pl._set_calc(i, c["algo"], segs, seg0, payload)
        except ValueError as e:
            raise ProgramError(f"{c['path']}.algo", str(e)) from None
        seg0 += len(segs)
    for i, c in enumerate(prog.checksums):
        pl._set_cksum(i, c["calc"], c["target"], c["cond"], c["verify"], c["update"])
    for i, c in enumerate(prog.counters):
        pl._set_counter(i, c["size"])
    for i, r in enumerate(prog.registers):
        pl._set_register(i, r["size"], r["bitwidth"])
    pl.meter_arrays_by_index = {}
    direct_size = {t.direct_meters: t.max_size for t in prog.tables if t.direct_meters}
    for i, m in enumerate(prog.meters):
        # A direct meter has one cell per entry id; entry ids stay below the table's size.
        size = direct_size.get(m["name"], m["size"]) if m["is_direct"] else m["size"]
        arr = MeterArray(max(1, size), m["type"])
        pl.meter_arrays_by_index[i] = arr
        pl._set_meter(i, arr, m["type"] == "packets")
    for fl_id, ids in prog.field_lists.items():
        pl._set_list("field_list", fl_id, ids)
    for ll_id, (_name, ids) in prog.learn_lists.items():
        pl._set_list("learn_list", ll_id, ids)
    for i, (_name, _bits, size) in enumerate(prog.parse_vsets):
        pl._set_vset(i, size)
    profile_by_name = {ap["name"]: i for i, ap in enumerate(prog.action_profiles)}
    for i, t in enumerate(prog.tables):
        layout, key_bytes = key_layout(prog, t)
        kind = table_kind(t)
        # two match structures: one per copy of the control-plane state (commit.pxi); a
        # DIR-24-8 table's two share their tbl24 pages (lpm_dir24.dir24_pair)
        matchers = (dir24_pair() if kind == TBL_LPM24 else
                    (make_matcher(kind, t, layout, key_bytes),
                     make_matcher(kind, t, layout, key_bytes)))
        stride = max([len(prog.actions[a][1]) for a in t.actions] + [1])
        indirect = 0
        profile = -1
        if t.impl != "simple":
            if t.action_profile not in profile_by_name:
                raise ProgramError(f"pipelines.tables[{t.name}].action_profile",
                                   f"unknown action profile {t.action_profile!r}")
            profile = profile_by_name[t.action_profile]
            indirect = 2 if t.impl == "indirect_ws" else 1
        dmeter, mdst = -1, 0
        if t.direct_meters:
            dmeter = prog.meter_by_name.get(t.direct_meters, -1)
            if dmeter < 0:
                raise ProgramError(f"tables[{t.name}].direct_meters", "unknown meter")
            tgt = prog.meters[dmeter]["result_target"]
            mdst = prog.field_by_name[f"{tgt[0]}.{tgt[1]}"]
        pl._set_table(i, kind, matchers, layout, key_bytes, stride, t.max_size, t.next_by_action,
                      t.base_default_next, t.hit_next, t.miss_next, t.has_hit_miss,
                      t.with_counters, indirect, profile, dmeter, mdst)
        if t.support_timeout:
            pl.track_hits(i)
    for i, ap in enumerate(prog.action_profiles):
        users = [t for t in prog.tables if t.action_profile == ap["name"]]
        stride = max([len(prog.actions[a][1]) for t in users for a in t.actions] + [1])
        pl.profile_init(i, stride, selector_calc.get(ap["name"], -1))
