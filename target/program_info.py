"""What a loaded program exposes to the control plane: names, ids, keys, parameters, sizes.

Built from the compiled BMv2 JSON; when a P4Info is given, its ids, aliases and action scopes
are attached by name. One index serves every name-or-id lookup of the target API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target import textproto
from target.errors import NotFound
from target.pipeline.loader import Program


@dataclass
class KeyInfo:
    name: str
    match_type: str
    bitwidth: int
    mask: int | None = None


@dataclass
class ActionInfo:
    name: str
    id: int | None
    params: list[tuple[str, int]]
    param_ids: list[int] = field(default_factory=list)


@dataclass
class TableInfo:
    name: str
    id: int | None
    keys: list[KeyInfo]
    actions: list[str]
    size: int
    is_const: bool
    default_action: tuple[str | None, list[int]]
    default_is_const: bool
    action_profile: str | None
    direct_counter: bool
    direct_meter: str | None
    needs_priority: bool
    action_scopes: dict[str, str] = field(default_factory=dict)   # name -> table_only/default_only
    alias: str | None = None


@dataclass
class ExternInfo:
    name: str
    id: int | None
    index: int                    # position in the engine's arrays
    size: int
    kind: str = ""                # counters: packets/bytes/both; meters: packets/bytes
    bitwidth: int = 0
    alias: str | None = None


@dataclass
class ProfileInfo:
    name: str
    id: int | None
    size: int
    with_selector: bool
    actions: list[str]
    tables: list[str]


@dataclass
class ProgramInfo:
    tables: dict[str, TableInfo]
    actions: dict[str, ActionInfo]
    counters: dict[str, ExternInfo]
    meters: dict[str, ExternInfo]
    registers: dict[str, ExternInfo]
    action_profiles: dict[str, ProfileInfo]
    value_sets: dict[str, ExternInfo]
    digests: dict[str, list[tuple[str, int]]]
    p4info: dict[str, Any] | None = None
    _by_id: dict[int, str] = field(default_factory=dict)
    _alias: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_compiled(cls, prog: Program, p4info: dict[str, Any] | None) -> ProgramInfo:
        actions = {name: ActionInfo(name, None, list(params)) for name, params, _c in prog.actions}
        tables = {}
        for t in prog.tables:
            keys = [KeyInfo(k.name, k.match_type, k.bitwidth, k.mask) for k in t.keys]
            dname = prog.actions[t.default_action][0] if t.default_action >= 0 else None
            tables[t.name] = TableInfo(
                t.name, None, keys, list(t.action_names), t.max_size, t.is_const,
                (dname, list(t.default_params)), t.default_const,
                t.action_profile if t.impl != "simple" else None, t.with_counters,
                t.direct_meters,
                any(k.match_type in ("ternary", "range", "optional") for k in t.keys))
        counters = {c["name"]: ExternInfo(c["name"], None, i, c["size"])
                    for i, c in enumerate(prog.counters) if not c["is_direct"]}
        meters = {m["name"]: ExternInfo(m["name"], None, i, m["size"], m["type"])
                  for i, m in enumerate(prog.meters) if not m["is_direct"]}
        registers = {r["name"]: ExternInfo(r["name"], None, i, r["size"], bitwidth=r["bitwidth"])
                     for i, r in enumerate(prog.registers)}
        profiles = {}
        for ap in prog.action_profiles:
            users = [t for t in prog.tables if t.action_profile == ap["name"]]
            acts: list[str] = []
            for t in users:
                acts += [a for a in t.action_names if a not in acts]
            profiles[ap["name"]] = ProfileInfo(ap["name"], None, ap["size"],
                                               ap["selector_inputs"] is not None, acts,
                                               [t.name for t in users])
        vsets = {name: ExternInfo(name, None, i, size, bitwidth=bits)
                 for i, (name, bits, size) in enumerate(prog.parse_vsets)}
        digests = {name: [(prog.fields[f].name, prog.fields[f].width) for f in ids]
                   for name, ids in prog.learn_lists.values()}
        info = cls(tables, actions, counters, meters, registers, profiles, vsets, digests, p4info)
        if p4info is not None:
            info._attach(p4info)
        return info

    def _attach(self, p4: dict[str, Any]) -> None:
        def pre(obj: dict[str, Any]) -> tuple[int, str, str | None]:
            p = obj["preamble"][0]
            return p["id"][0], p["name"][0], (p.get("alias") or [None])[0]

        groups = [("tables", self.tables), ("actions", self.actions),
                  ("counters", self.counters), ("meters", self.meters),
                  ("registers", self.registers), ("action_profiles", self.action_profiles),
                  ("value_sets", self.value_sets)]
        for key, objs in groups:
            self._alias.setdefault(key, {})
            for o in p4.get(key, []):
                oid, name, alias = pre(o)
                if name not in objs:
                    continue
                objs[name].id = oid
                self._by_id[oid] = name
                if alias:
                    self._alias[key][alias] = name
                    if hasattr(objs[name], "alias"):
                        objs[name].alias = alias
                if key == "tables":
                    t = self.tables[name]
                    for ref in o.get("action_refs", []):
                        aname = self._by_id.get(ref["id"][0])
                        scope = (ref.get("scope") or ["TABLE_AND_DEFAULT"])[0]
                        if aname and scope == "TABLE_ONLY":
                            t.action_scopes[aname] = "table_only"
                        elif aname and scope == "DEFAULT_ONLY":
                            t.action_scopes[aname] = "default_only"
                    for k, mf in zip(t.keys, o.get("match_fields", []), strict=False):
                        k.name = mf["name"][0]
                if key == "actions":
                    self.actions[name].param_ids = [p["id"][0] for p in o.get("params", [])]
                if key == "counters":
                    unit = (o.get("spec") or [{}])[0].get("unit", ["BOTH"])[0]
                    self.counters[name].kind = str(unit).lower()
        # action refs may precede their actions in the file: resolve scopes again
        for o in p4.get("tables", []):
            _oid, name, _a = pre(o)
            if name in self.tables:
                for ref in o.get("action_refs", []):
                    aname = self._by_id.get(ref["id"][0])
                    scope = (ref.get("scope") or ["TABLE_AND_DEFAULT"])[0]
                    if aname and scope == "TABLE_ONLY":
                        self.tables[name].action_scopes[aname] = "table_only"
                    elif aname and scope == "DEFAULT_ONLY":
                        self.tables[name].action_scopes[aname] = "default_only"

    # ------------------------------------------------------------------ lookups
    def _resolve(self, key: str, objs: dict[str, Any], ref: str | int, what: str) -> str:
        if isinstance(ref, int):
            name = self._by_id.get(ref)
            if name is None or name not in objs:
                raise NotFound(f"no {what} with id {ref}")
            return name
        if ref in objs:
            return ref
        alias = self._alias.get(key, {}).get(ref)
        if alias:
            return alias
        matches = [n for n in objs if n.endswith("." + ref)]
        if len(matches) == 1:
            return matches[0]
        raise NotFound(f"no {what} named {ref!r}")

    def table_name(self, ref: str | int) -> str:
        return self._resolve("tables", self.tables, ref, "table")

    def action_name(self, ref: str | int) -> str:
        return self._resolve("actions", self.actions, ref, "action")

    def profile_name(self, ref: str | int) -> str:
        return self._resolve("action_profiles", self.action_profiles, ref, "action profile")

    def value_set_name(self, ref: str | int) -> str:
        return self._resolve("value_sets", self.value_sets, ref, "value set")

    def extern_name(self, kind: str, ref: str | int) -> str:
        return self._resolve(kind, getattr(self, kind), ref, kind.rstrip("s"))


def read_p4info(source: Any) -> dict[str, Any] | None:
    """A P4Info from a path to its text form, text, or an already parsed dict."""
    if source is None or isinstance(source, dict):
        return source
    if isinstance(source, bytes):
        source = source.decode()
    text = Path(source).read_text() if "\n" not in str(source) and Path(str(source)).exists() else str(source)
    return textproto.parse(text)
