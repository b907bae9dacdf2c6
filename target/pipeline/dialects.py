"""Older BMv2 JSON dialects, rewritten into the one form the loader compiles.

BMv2's loader (src/bm_sim/P4Objects.cpp) still reads JSON written by older compilers: p4c
releases before `"type": "default"` transitions, p4c-bm (P4_14) output with its
`intrinsic_metadata` header and arithmetic primitives, and JSON with no `__meta__` at all.
ONOS ships such files (its basic pipeline is p4c output of 2021) and pushes them unchanged, so
kvick reads them too. Each older form is turned here, once, into the form current p4c emits, at
the same JSON path, so that the loader keeps one dialect and its error paths still point into
the file the user gave.

What BMv2 accepts and this module rewrites:
- `__meta__.version`: absent, or [2, minor] with minor <= 24 (BMv2's bounds and wording);
- parser transitions without "type" (hexstr), and `"value": "default"` as the default case;
- `verify` with a bare error number; the `shift` parser op (a byte count);
- the P4_14 primitives add_to_field, subtract_from_field, add, subtract, bit_and, bit_or,
  bit_xor, shift_left, shift_right, copy_header and add_header_fast (no_op: the loader);
- indirect tables naming their profile with `act_prof_name` (and `selector` on the table);
- standard metadata that lacks fields p4c later added to it: they are found through
  `field_aliases` or the P4_14 `intrinsic_metadata` / `queueing_metadata` headers, and
  multicast fields no header has get a hidden metadata header (they stay 0, as in BMv2, where
  such a program cannot multicast).
"""

from __future__ import annotations

import copy
from typing import Any

from target.errors import ProgramError

JSON_MAJOR = 2
JSON_MAX_MINOR = 24          # the newest version BMv2 reads (P4Objects.cpp max_minor_version)

# A name no P4 program can declare, for fields the engine needs and the program lacks.
HIDDEN_HEADER = "kvick$intrinsic"

# standard_metadata fields the engine uses, and where P4_14-era programs kept them.
_LEGACY_HOMES = {
    "mcast_grp": "intrinsic_metadata", "egress_rid": "intrinsic_metadata",
    "ingress_global_timestamp": "intrinsic_metadata",
    "egress_global_timestamp": "intrinsic_metadata", "priority": "intrinsic_metadata",
    "enq_timestamp": "queueing_metadata", "enq_qdepth": "queueing_metadata",
    "deq_timedelta": "queueing_metadata", "deq_qdepth": "queueing_metadata",
    "qid": "queueing_metadata",
}
# Fields the engine writes unconditionally; a program without them gets hidden ones.
_HIDDEN_FIELDS = (("mcast_grp", 16), ("egress_rid", 16))

# P4_14 arithmetic primitives: (operator, whether the destination is also the left operand)
_ARITH = {
    "add_to_field": ("+", True), "subtract_from_field": ("-", True),
    "add": ("+", False), "subtract": ("-", False), "bit_and": ("&", False),
    "bit_or": ("|", False), "bit_xor": ("^", False), "shift_left": ("<<", False),
    "shift_right": (">>", False),
}


def check_version(raw: dict[str, Any]) -> None:
    """BMv2's check_json_version: untagged JSON is accepted, tagged JSON must be 2.x, x <= 24."""
    meta = raw.get("__meta__")
    if not isinstance(meta, dict) or "version" not in meta:
        return
    v = meta["version"]
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, int) for x in v):
        raise ProgramError("__meta__.version", f"expected [major, minor], got {v!r}")
    if v[0] != JSON_MAJOR:
        raise ProgramError("__meta__.version",
                           f"We require a bmv2 JSON major version number of {JSON_MAJOR} but "
                           f"this JSON input is tagged with a major version number of {v[0]}")
    if v[1] > JSON_MAX_MINOR:
        raise ProgramError("__meta__.version",
                           f"The most recent bmv2 JSON version number supported is "
                           f"{JSON_MAJOR}.{JSON_MAX_MINOR} but this JSON input is tagged with "
                           f"version number {v[0]}.{v[1]}")


def upgrade(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of raw in the current dialect (raw itself is left as it was)."""
    check_version(raw)
    j = copy.deepcopy(raw)
    for i, parser in enumerate(_dicts(j, "parsers")):
        for k, st in enumerate(_dicts(parser, "parse_states")):
            _transitions(st)
            _parser_ops(st, j, f"parsers[{i}].parse_states[{k}]")
    for a in _dicts(j, "actions"):
        if isinstance(a.get("primitives"), list):
            a["primitives"] = [_primitive(p) if isinstance(p, dict) else p for p in a["primitives"]]
    for pl in _dicts(j, "pipelines"):
        _action_profiles(pl)
    for vs in _dicts(j, "parse_vsets"):
        # BMv2 sets no bound when the JSON gives none; kvick needs one to size the set.
        vs.setdefault("max_size", 1024)
    _intrinsic_fields(j)
    return j


def _dicts(parent: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of parent[key]; anything malformed is left for the loader to name."""
    items = parent.get(key)
    return [x for x in items if isinstance(x, dict)] if isinstance(items, list) else []


def _transitions(st: dict[str, Any]) -> None:
    for tr in _dicts(st, "transitions"):
        # P4Objects.cpp: a transition without "type" is hexstr, and hexstr "default" is default.
        tr.setdefault("type", "hexstr")
        if tr["type"] == "hexstr" and tr.get("value") == "default":
            tr["type"] = "default"
            tr["value"] = None
            tr["mask"] = None


def _parser_ops(st: dict[str, Any], j: dict[str, Any], path: str) -> None:
    for n, op in enumerate(_dicts(st, "parser_ops")):
        prm = op.get("parameters")
        if not isinstance(prm, list):
            continue
        if op.get("op") == "verify" and len(prm) == 2 and isinstance(prm[1], int):
            if prm[1] not in {e[1] for e in j.get("errors", []) if isinstance(e, list) and len(e) == 2}:
                raise ProgramError(f"{path}.parser_ops[{n}].parameters[1]",
                                   f"Invalid error code {prm[1]} in verify statement")
            prm[1] = {"type": "hexstr", "value": hex(prm[1])}
        elif op.get("op") == "shift" and len(prm) == 1 and isinstance(prm[0], int):
            op["op"] = "advance"
            op["parameters"] = [{"type": "hexstr", "value": hex(prm[0] * 8)}]
        elif op.get("op") == "primitive" and prm and isinstance(prm[0], dict):
            prm[0] = _primitive(prm[0])


def _primitive(prim: dict[str, Any]) -> dict[str, Any]:
    op = prim.get("op")
    prm = prim.get("parameters", [])
    if op in _ARITH and isinstance(prm, list):
        operator, in_place = _ARITH[op]
        want = 2 if in_place else 3
        if len(prm) != want:
            return prim          # the loader names the malformed call
        left, right = (prm[0], prm[1]) if in_place else (prm[1], prm[2])
        value = {"type": "expression",
                 "value": {"op": operator, "left": _operand(left), "right": _operand(right)}}
        return {**prim, "op": "assign", "parameters": [prm[0], value]}
    if op == "copy_header":
        return {**prim, "op": "assign_header"}
    if op == "add_header_fast":
        return {**prim, "op": "add_header"}
    return prim


def _operand(p: dict[str, Any]) -> dict[str, Any]:
    # Action parameters are "runtime_data" in a primitive but "local" inside an expression.
    if isinstance(p, dict) and p.get("type") == "runtime_data":
        return {"type": "local", "value": p["value"]}
    return p


def _action_profiles(pl: dict[str, Any]) -> None:
    profiles = pl.setdefault("action_profiles", [])
    if not isinstance(profiles, list):
        return
    known = {ap.get("name") for ap in _dicts(pl, "action_profiles")}
    for t in _dicts(pl, "tables"):
        name = t.get("act_prof_name")
        if t.get("type") not in ("indirect", "indirect_ws") or "action_profile" in t or not name:
            continue
        if name not in known:
            ap: dict[str, Any] = {"name": name, "id": len(profiles), "max_size": t.get("max_size", 0)}
            if t.get("type") == "indirect_ws" and "selector" in t:
                ap["selector"] = t["selector"]
            profiles.append(ap)
            known.add(name)
        t["action_profile"] = name


def _intrinsic_fields(j: dict[str, Any]) -> None:
    """Point each missing standard_metadata field at where this program keeps it."""
    types = {ht.get("name"): ht for ht in _dicts(j, "header_types")}
    fields: set[str] = set()
    for h in _dicts(j, "headers"):
        for f in types.get(h.get("header_type"), {}).get("fields", []):
            if isinstance(f, list) and f:
                fields.add(f"{h.get('name')}.{f[0]}")
    aliases = j.setdefault("field_aliases", [])
    if not isinstance(aliases, list) or not isinstance(j.get("headers"), list) \
            or not isinstance(j.get("header_types"), list):
        return
    named = {a[0]: a[1] for a in aliases if isinstance(a, list) and len(a) == 2}
    hidden: list[list[Any]] = []
    for name, home in _LEGACY_HOMES.items():
        std = f"standard_metadata.{name}"
        if std in fields or std in named:
            continue
        legacy = f"{home}.{name}"
        if legacy in named:
            aliases.append([std, named[legacy]])
        elif legacy in fields:
            aliases.append([std, [home, name]])
    named = {a[0]: a[1] for a in aliases if isinstance(a, list) and len(a) == 2}
    for name, width in _HIDDEN_FIELDS:
        std = f"standard_metadata.{name}"
        if std not in fields and std not in named:
            hidden.append([name, width, False])
            aliases.append([std, [HIDDEN_HEADER, name]])
    if hidden:
        hid = 1 + max((h.get("id", -1) for h in _dicts(j, "headers")
                       if isinstance(h.get("id", -1), int)), default=-1)
        j["header_types"].append({"name": HIDDEN_HEADER + "_t", "fields": hidden})
        j["headers"].append({"name": HIDDEN_HEADER, "id": hid,
                             "header_type": HIDDEN_HEADER + "_t", "metadata": True})
