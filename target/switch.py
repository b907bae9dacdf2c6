"""The one target API: load a program, write tables and externs, move packets.

Everything outside the data path — the command line, the P4Runtime server, the STF runner,
tests and benchmarks — drives the switch through this class (docs/target-api.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from target.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    TargetError,
)
from target.match import Exact, Lpm, MatchField, Optional, Range, Ternary
from target.packet import PacketPool
from target.pipeline import build
from target.pipeline.engine import Pipeline
from target.pipeline.loader import Program, compile_program
from target.program_info import ProgramInfo, TableInfo, read_p4info
from target.trace import TraceFormatter

log = logging.getLogger("kvick")
trace_log = logging.getLogger("kvick.trace")


@dataclass
class Entry:
    handle: int
    match: list[MatchField | None]
    priority: int | None
    action: str | None
    params: list[int]
    member: int | None = None
    group: int | None = None
    counter: tuple[int, int] = (0, 0)


@dataclass
class _TableState:
    info: TableInfo
    index: int
    kind: int
    matcher: Any
    entries: dict[int, tuple[Any, ...]] = field(default_factory=dict)   # handle -> stored entry
    by_key: dict[Any, int] = field(default_factory=dict)                # identity -> handle
    free: list[int] = field(default_factory=list)
    next_id: int = 0
    default: tuple[str, list[int]] | None = None


class Switch:
    """A kvick switch instance. Thread-safe for one control-plane writer at a time."""

    def __init__(self, *, batch_size: int = 256, cpu_port: int | None = None, device_id: int = 0,
                 pool_size: int = 16384, buf_size: int = 10240 + 256):
        self.batch_size = batch_size
        self.cpu_port = cpu_port
        self.device_id = device_id
        self.pool = PacketPool(pool_size, buf_size)
        self.pipeline: Pipeline | None = None
        self.compiled: Program | None = None
        self.program: ProgramInfo | None = None
        self._tables: dict[str, _TableState] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._packet_in: list[Callable[[bytes], None]] = []
        self._digest: list[Callable[[str, list[tuple[int, ...]]], None]] = []
        self._mc: dict[int, list[tuple[int, int]]] = {}
        self._clone: dict[int, tuple[list[tuple[int, int]], int, int]] = {}
        self._vsets: dict[str, list[tuple[int, int]]] = {}
        self._trace_sink: Callable[[str], None] | None = None
        self._trace_fmt: TraceFormatter | None = None
        self._write_lock = threading.RLock()
        self.ports: dict[int, Any] = {}
        self._loop: Any = None

    # ------------------------------------------------------------------ program
    def load(self, source: str | bytes | dict[str, Any], p4info: Any = None) -> None:
        """Compile and install a BMv2 JSON program; replaces any program (and its state)."""
        compiled = compile_program(source)
        info = ProgramInfo.from_compiled(compiled, read_p4info(p4info) if p4info is not None else None)
        pipeline = Pipeline(compiled, self.pool)
        pipeline.cpu_port = -1 if self.cpu_port is None else self.cpu_port
        tables = {}
        for i, t in enumerate(compiled.tables):
            tables[t.name] = _TableState(info.tables[t.name], i, build.table_kind(t),
                                         pipeline.matchers[i])
        with self._write_lock:
            running = self._loop is not None
            if running:
                self.stop()
            self.pipeline = pipeline
            self.compiled = compiled
            self.program = info
            self._tables = tables
            self._profiles = {ap: {"members": {}, "groups": {}} for ap in info.action_profiles}
            self._vsets = {}
            for name, st in tables.items():
                t = compiled.tables[st.index]
                if t.default_action >= 0:
                    params = list(t.default_params)
                    pipeline.default_set(st.index, t.default_action, params)
                    st.default = (compiled.actions[t.default_action][0], params)
                for k, ce in enumerate(t.const_entries):
                    self._add_const_entry(name, ce, k)
            for gid, nodes in self._mc.items():
                pipeline.mc_group_set(gid, nodes)
            for sid, (nodes, cos, trunc) in self._clone.items():
                pipeline.clone_session_set(sid, nodes, cos, trunc)
            self._trace_fmt = TraceFormatter(compiled)
            if self._trace_sink is not None:
                pipeline.set_trace(True)
            if running:
                self.start()

    def _require(self) -> Pipeline:
        if self.pipeline is None:
            raise FailedPrecondition("no program loaded")
        return self.pipeline

    # ------------------------------------------------------------------ names
    def _table(self, table: str | int) -> _TableState:
        self._require()
        assert self.program is not None
        name = self.program.table_name(table)
        return self._tables[name]

    def _action_id(self, st: _TableState, action: str | int) -> int:
        assert self.program is not None and self.compiled is not None
        name = self.program.action_name(action)
        # p4c may emit several actions with one name (one per call site): take this table's.
        for aid in self.compiled.tables[st.index].actions:
            if self.compiled.actions[aid][0] == name:
                return aid
        raise InvalidArgument(f"action {name} is not an action of table {st.info.name}")

    def _params(self, action_id: int, params: Iterable[int] | dict[str, int] | None) -> list[int]:
        assert self.compiled is not None
        name, decl, _code = self.compiled.actions[action_id]
        if params is None:
            params = []
        if isinstance(params, dict):
            missing = [n for n, _w in decl if n not in params]
            extra = [k for k in params if k not in {n for n, _w in decl}]
            if missing or extra:
                raise InvalidArgument(f"action {name}: missing {missing} unknown {extra} parameters")
            values = [params[n] for n, _w in decl]
        else:
            values = list(params)
        if len(values) != len(decl):
            raise InvalidArgument(f"action {name} takes {len(decl)} parameters, got {len(values)}")
        for (pname, width), v in zip(decl, values, strict=True):
            if not isinstance(v, int) or v < 0 or v >> width:
                raise InvalidArgument(f"action {name} parameter {pname}: {v!r} does not fit {width} bits")
        return values

    # ------------------------------------------------------------------ match encoding
    def _encode(self, st: _TableState, match: list[Any], priority: int | None) -> tuple[Any, ...]:
        """Validate a match; return (identity, matcher arguments)."""
        keys = st.info.keys
        if len(match) != len(keys):
            raise InvalidArgument(f"table {st.info.name} has {len(keys)} key fields, got {len(match)}")
        if st.info.needs_priority:
            if priority is None:
                raise InvalidArgument(f"table {st.info.name} needs a priority")
        elif priority is not None:
            raise InvalidArgument(f"table {st.info.name} takes no priority")
        norm: list[tuple[Any, ...]] = []
        for k, m in zip(keys, match, strict=True):
            w = k.bitwidth
            full = (1 << w) - 1
            mt = k.match_type
            if mt in ("exact", "valid"):
                if not isinstance(m, Exact):
                    raise InvalidArgument(f"key {k.name} is {mt}: expected Exact, got {m!r}")
                _fits(k.name, m.value, w)
                norm.append(("exact", m.value))
            elif mt == "lpm":
                if m is None:
                    m = Lpm(0, 0)
                if not isinstance(m, Lpm):
                    raise InvalidArgument(f"key {k.name} is lpm: expected Lpm, got {m!r}")
                _fits(k.name, m.value, w)
                if not 0 <= m.prefix_len <= w:
                    raise InvalidArgument(f"key {k.name}: prefix length {m.prefix_len} not in 0..{w}")
                pmask = full ^ ((1 << (w - m.prefix_len)) - 1)
                if m.value & ~pmask:
                    raise InvalidArgument(f"key {k.name}: host bits set below /{m.prefix_len}")
                norm.append(("lpm", m.value, m.prefix_len))
            elif mt == "ternary":
                if m is None:
                    m = Ternary(0, 0)
                if not isinstance(m, Ternary):
                    raise InvalidArgument(f"key {k.name} is ternary: expected Ternary, got {m!r}")
                _fits(k.name, m.value, w)
                _fits(k.name, m.mask, w)
                if m.value & ~m.mask:
                    raise InvalidArgument(f"key {k.name}: value has bits outside the mask")
                norm.append(("ternary", m.value, m.mask))
            elif mt == "range":
                if m is None:
                    m = Range(0, full)
                if not isinstance(m, Range):
                    raise InvalidArgument(f"key {k.name} is range: expected Range, got {m!r}")
                _fits(k.name, m.low, w)
                _fits(k.name, m.high, w)
                if m.low > m.high:
                    raise InvalidArgument(f"key {k.name}: range low {m.low} > high {m.high}")
                norm.append(("range", m.low, m.high))
            elif mt == "optional":
                if m is None:
                    m = Optional(None)
                if not isinstance(m, Optional):
                    raise InvalidArgument(f"key {k.name} is optional: expected Optional, got {m!r}")
                if m.value is not None:
                    _fits(k.name, m.value, w)
                norm.append(("optional", m.value))
            else:
                raise InvalidArgument(f"key {k.name}: unknown match type {mt}")
        return tuple(norm)

    def _key_mask_bytes(self, st: _TableState, norm: tuple[Any, ...]) -> tuple[bytes, bytes, list[Any]]:
        value = bytearray()
        mask = bytearray()
        ranges = []
        for i, (k, n) in enumerate(zip(st.info.keys, norm, strict=True)):
            w = k.bitwidth
            nb = (w + 7) // 8
            full = (1 << w) - 1
            kmask = k.mask if k.mask is not None else full
            kind = n[0]
            if kind == "exact":
                v, m = n[1], full
            elif kind == "lpm":
                v, m = n[1], full ^ ((1 << (w - n[2])) - 1)
            elif kind == "ternary":
                v, m = n[1], n[2]
            elif kind == "optional":
                v, m = (0, 0) if n[1] is None else (n[1], full)
            else:
                v, m = 0, 0
                ranges.append((i, n[1].to_bytes(nb, "big"), n[2].to_bytes(nb, "big")))
            m &= kmask
            v &= m
            value += v.to_bytes(nb, "big")
            mask += m.to_bytes(nb, "big")
        return bytes(value), bytes(mask), ranges

    def _matcher_add(self, st: _TableState, norm: tuple[Any, ...], priority: int | None, eid: int) -> None:
        kind = st.kind
        try:
            if kind == build.TBL_KEYLESS:
                raise InvalidArgument(f"table {st.info.name} has no key: only its default action")
            if kind == build.TBL_LPM24:
                st.matcher.add(norm[0][1], norm[0][2], eid)
                return
            value, mask, ranges = self._key_mask_bytes(st, norm)
            if kind == build.TBL_EXACT:
                st.matcher.add(value, eid)
            elif kind == build.TBL_LPM:
                plen = next(n[2] for n in norm if n[0] == "lpm")
                st.matcher.add(value, plen, eid)
            else:
                st.matcher.add(value, mask, ranges, priority if priority is not None else 0, eid)
        except KeyError:
            raise AlreadyExists(f"table {st.info.name}: an entry with this match exists") from None
        except ValueError as e:
            raise InvalidArgument(f"table {st.info.name}: {e}") from None

    def _matcher_delete(self, st: _TableState, norm: tuple[Any, ...], eid: int) -> None:
        kind = st.kind
        if kind == build.TBL_LPM24:
            st.matcher.delete(norm[0][1], norm[0][2])
            return
        if kind == build.TBL_TERNARY:
            st.matcher.delete(eid)
            return
        value, _mask, _r = self._key_mask_bytes(st, norm)
        if kind == build.TBL_EXACT:
            st.matcher.delete(value)
        elif kind == build.TBL_LPM:
            st.matcher.delete(value, next(n[2] for n in norm if n[0] == "lpm"))

    # ------------------------------------------------------------------ table entries
    def table_add(self, table: str | int, match: list[Any], action: str | int | None = None,
                  params: Iterable[int] | dict[str, int] | None = None, priority: int | None = None,
                  *, member: int | None = None, group: int | None = None) -> int:
        with self._write_lock:
            pl = self._require()
            st = self._table(table)
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            return self._insert(pl, st, match, action, params, priority, member, group)

    def _insert(self, pl: Pipeline, st: _TableState, match: list[Any], action: Any, params: Any,
                priority: int | None, member: int | None, group: int | None) -> int:
        norm = self._encode(st, match, priority)
        ident = (norm, priority)
        if ident in st.by_key:
            raise AlreadyExists(f"table {st.info.name}: an entry with this match exists")
        ref, pvals, aname = self._resolve_action(st, action, params, member, group)
        if not st.free and st.next_id >= st.info.size:
            raise ResourceExhausted(f"table {st.info.name} is full ({st.info.size} entries)")
        eid = st.free.pop() if st.free else st.next_id
        pl.lock()
        try:
            self._matcher_add(st, norm, priority, eid)
            pl.entry_set(st.index, eid, ref, pvals)
        except TargetError:
            pl.unlock()
            raise
        pl.unlock()
        if eid == st.next_id:
            st.next_id += 1
        st.entries[eid] = (norm, priority, aname, pvals, member, group)
        st.by_key[ident] = eid
        return eid

    def _resolve_action(self, st: _TableState, action: Any, params: Any, member: int | None,
                        group: int | None) -> tuple[int, list[int], str | None]:
        if st.info.action_profile is None:
            if member is not None or group is not None:
                raise InvalidArgument(f"table {st.info.name} has no action profile")
            if action is None:
                raise InvalidArgument("an action is required")
            aid = self._action_id(st, action)
            if st.info.action_scopes.get(self.compiled.actions[aid][0]) == "default_only":
                raise InvalidArgument(f"action {self.compiled.actions[aid][0]} is default-only")
            return aid, self._params(aid, params), self.compiled.actions[aid][0]
        prof = self._profiles[st.info.action_profile]
        if member is not None:
            if member not in prof["members"]:
                raise NotFound(f"member {member} of {st.info.action_profile}")
            return member, [], None
        if group is not None:
            if group not in prof["groups"]:
                raise NotFound(f"group {group} of {st.info.action_profile}")
            return -group - 2, [], None
        raise InvalidArgument(f"table {st.info.name} is indirect: give a member or group")

    def table_modify(self, table: str | int, handle: int, action: str | int | None = None,
                     params: Iterable[int] | dict[str, int] | None = None, *,
                     member: int | None = None, group: int | None = None) -> None:
        with self._write_lock:
            pl = self._require()
            st = self._table(table)
            if handle not in st.entries:
                raise NotFound(f"table {st.info.name}: no entry {handle}")
            ref, pvals, aname = self._resolve_action(st, action, params, member, group)
            norm, priority, *_ = st.entries[handle]
            pl.lock()
            pl.entry_set(st.index, handle, ref, pvals)
            pl.unlock()
            st.entries[handle] = (norm, priority, aname, pvals, member, group)

    def table_delete(self, table: str | int, handle: int) -> None:
        with self._write_lock:
            pl = self._require()
            st = self._table(table)
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            if handle not in st.entries:
                raise NotFound(f"table {st.info.name}: no entry {handle}")
            norm, priority, *_ = st.entries.pop(handle)
            del st.by_key[(norm, priority)]
            pl.lock()
            self._matcher_delete(st, norm, handle)
            pl.entry_clear(st.index, handle)
            pl.unlock()
            st.free.append(handle)

    def table_find(self, table: str | int, match: list[Any], priority: int | None = None) -> int | None:
        st = self._table(table)
        return st.by_key.get((self._encode(st, match, priority), priority))

    def table_entries(self, table: str | int) -> list[Entry]:
        pl = self._require()
        st = self._table(table)
        out = []
        for h, (norm, priority, aname, pvals, member, group) in sorted(st.entries.items()):
            out.append(Entry(h, [_to_match(n) for n in norm], priority, aname, list(pvals),
                             member, group, pl.entry_counter(st.index, h)))
        return out

    def table_entry(self, table: str | int, handle: int) -> Entry:
        pl = self._require()
        st = self._table(table)
        if handle not in st.entries:
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        norm, priority, aname, pvals, member, group = st.entries[handle]
        return Entry(handle, [_to_match(n) for n in norm], priority, aname, list(pvals), member,
                     group, pl.entry_counter(st.index, handle))

    def table_clear(self, table: str | int) -> None:
        with self._write_lock:
            st = self._table(table)
            for h in list(st.entries):
                self.table_delete(table, h)

    def table_set_default(self, table: str | int, action: str | int,
                          params: Iterable[int] | dict[str, int] | None = None) -> None:
        with self._write_lock:
            pl = self._require()
            st = self._table(table)
            if st.info.default_is_const:
                raise InvalidArgument(f"table {st.info.name}: the default action is const")
            aid = self._action_id(st, action)
            if st.info.action_scopes.get(self.compiled.actions[aid][0]) == "table_only":
                raise InvalidArgument(f"action {self.compiled.actions[aid][0]} cannot be a default")
            pvals = self._params(aid, params)
            pl.lock()
            pl.default_set(st.index, aid, pvals)
            pl.unlock()
            st.default = (self.compiled.actions[aid][0], pvals)

    def table_get_default(self, table: str | int) -> tuple[str | None, list[int]]:
        st = self._table(table)
        if st.default is None:
            return (None, [])
        return (st.default[0], list(st.default[1]))

    def table_reset_default(self, table: str | int) -> None:
        with self._write_lock:
            pl = self._require()
            st = self._table(table)
            assert self.compiled is not None
            t = self.compiled.tables[st.index]
            pl.lock()
            pl.default_set(st.index, t.default_action, list(t.default_params))
            pl.unlock()
            st.default = ((self.compiled.actions[t.default_action][0], list(t.default_params))
                          if t.default_action >= 0 else None)

    def _add_const_entry(self, name: str, ce: dict[str, Any], k: int) -> None:
        from target.pipeline.loader import parse_int
        pl = self._require()
        st = self._tables[name]
        match: list[Any] = []
        for key, m in zip(st.info.keys, ce["match_key"], strict=True):
            mt = m["match_type"]
            if mt in ("exact", "valid"):
                match.append(Exact(parse_int(m["key"])))
            elif mt == "lpm":
                # BMv2 masks host bits of const entries instead of refusing them
                plen = int(m["prefix_length"])
                w = key.bitwidth
                pmask = ((1 << w) - 1) ^ ((1 << (w - plen)) - 1)
                match.append(Lpm(parse_int(m["key"]) & pmask, plen))
            elif mt == "ternary":
                tmask = parse_int(m["mask"])
                match.append(Ternary(parse_int(m["key"]) & tmask, tmask))
            elif mt == "range":
                match.append(Range(parse_int(m["start"]), parse_int(m["end"])))
            elif mt == "optional":
                match.append(Optional(parse_int(m["key"])))
            else:
                raise InvalidArgument(f"const entry {k} of {name}: match type {mt}")
        prio = None
        if st.info.needs_priority:
            # BMv2: a smaller "priority" number wins; the API's rule is the opposite.
            prio = (1 << 30) - int(ce.get("priority", k))
        a = ce["action_entry"]
        aid = int(a["action_id"])
        params = [parse_int(x) for x in a.get("action_data", [])]
        self._insert(pl, st, match, self.compiled.actions[aid][0], params, prio, None, None)

    # ------------------------------------------------------------------ action profiles
    def _profile(self, prof: str | int) -> tuple[str, dict[str, Any], int]:
        self._require()
        assert self.program is not None
        name = self.program.profile_name(prof)
        idx = [ap["name"] for ap in self.compiled.action_profiles].index(name)
        return name, self._profiles[name], idx

    def act_prof_add_member(self, prof: str | int, member_id: int, action: str | int,
                            params: Iterable[int] | dict[str, int] | None = None) -> None:
        with self._write_lock:
            name, st, idx = self._profile(prof)
            if member_id in st["members"]:
                raise AlreadyExists(f"member {member_id} of {name} exists")
            self._set_member(name, st, idx, member_id, action, params)

    def act_prof_modify_member(self, prof: str | int, member_id: int, action: str | int,
                               params: Iterable[int] | dict[str, int] | None = None) -> None:
        with self._write_lock:
            name, st, idx = self._profile(prof)
            if member_id not in st["members"]:
                raise NotFound(f"member {member_id} of {name}")
            self._set_member(name, st, idx, member_id, action, params)

    def _set_member(self, name: str, st: dict[str, Any], idx: int, member_id: int,
                    action: str | int, params: Any) -> None:
        assert self.program is not None and self.compiled is not None
        aname = self.program.action_name(action)
        if aname not in self.program.action_profiles[name].actions:
            raise InvalidArgument(f"action {aname} is not an action of {name}'s tables")
        aid = self.compiled.action_by_name[aname]
        pvals = self._params(aid, params)
        pl = self._require()
        pl.lock()
        pl.profile_member_set(idx, member_id, aid, pvals)
        pl.unlock()
        st["members"][member_id] = (aname, pvals)

    def act_prof_delete_member(self, prof: str | int, member_id: int) -> None:
        with self._write_lock:
            name, st, idx = self._profile(prof)
            if member_id not in st["members"]:
                raise NotFound(f"member {member_id} of {name}")
            if any(member_id in g for g in st["groups"].values()):
                raise InvalidArgument(f"member {member_id} of {name} is in a group")
            if self._profile_in_use(name, member=member_id):
                raise InvalidArgument(f"member {member_id} of {name} is used by a table entry")
            del st["members"][member_id]

    def act_prof_create_group(self, prof: str | int, group_id: int) -> None:
        with self._write_lock:
            name, st, idx = self._profile(prof)
            if group_id in st["groups"]:
                raise AlreadyExists(f"group {group_id} of {name} exists")
            self._set_group(st, idx, group_id, [])

    def act_prof_set_group_members(self, prof: str | int, group_id: int, members: list[int]) -> None:
        with self._write_lock:
            name, st, idx = self._profile(prof)
            if group_id not in st["groups"]:
                raise NotFound(f"group {group_id} of {name}")
            for m in members:
                if m not in st["members"]:
                    raise NotFound(f"member {m} of {name}")
            self._set_group(st, idx, group_id, list(members))

    def _set_group(self, st: dict[str, Any], idx: int, group_id: int, members: list[int]) -> None:
        pl = self._require()
        pl.lock()
        pl.profile_group_set(idx, group_id, members)
        pl.unlock()
        st["groups"][group_id] = members

    def act_prof_delete_group(self, prof: str | int, group_id: int) -> None:
        with self._write_lock:
            name, st, _idx = self._profile(prof)
            if group_id not in st["groups"]:
                raise NotFound(f"group {group_id} of {name}")
            if self._profile_in_use(name, group=group_id):
                raise InvalidArgument(f"group {group_id} of {name} is used by a table entry")
            del st["groups"][group_id]

    def act_prof_members(self, prof: str | int) -> dict[int, tuple[str, list[int]]]:
        return dict(self._profile(prof)[1]["members"])

    def act_prof_groups(self, prof: str | int) -> dict[int, list[int]]:
        return {g: list(m) for g, m in self._profile(prof)[1]["groups"].items()}

    def _profile_in_use(self, name: str, member: int | None = None, group: int | None = None) -> bool:
        for st in self._tables.values():
            if st.info.action_profile != name:
                continue
            for e in st.entries.values():
                if (member is not None and e[4] == member) or (group is not None and e[5] == group):
                    return True
        return False

    # ------------------------------------------------------------------ PRE
    def mc_group_set(self, group_id: int, replicas: list[tuple[int, int]]) -> None:
        if not 0 < group_id < 65536:
            raise InvalidArgument(f"multicast group id {group_id} not in 1..65535")
        with self._write_lock:
            self._mc[group_id] = [(int(p), int(r)) for p, r in replicas]
            if self.pipeline is not None:
                self.pipeline.lock()
                self.pipeline.mc_group_set(group_id, self._mc[group_id])
                self.pipeline.unlock()

    def mc_group_delete(self, group_id: int) -> None:
        with self._write_lock:
            if group_id not in self._mc:
                raise NotFound(f"multicast group {group_id}")
            del self._mc[group_id]
            if self.pipeline is not None:
                self.pipeline.lock()
                self.pipeline.mc_group_set(group_id, None)
                self.pipeline.unlock()

    def mc_group_get(self, group_id: int) -> list[tuple[int, int]]:
        if group_id not in self._mc:
            raise NotFound(f"multicast group {group_id}")
        return list(self._mc[group_id])

    def mc_groups(self) -> dict[int, list[tuple[int, int]]]:
        return {g: list(v) for g, v in self._mc.items()}

    def clone_session_set(self, session_id: int, replicas: list[tuple[int, int]],
                          class_of_service: int = 0, packet_length_bytes: int = 0) -> None:
        if not 0 < session_id < 32768:
            raise InvalidArgument(f"clone session id {session_id} not in 1..32767")
        with self._write_lock:
            nodes = [(int(p), int(r)) for p, r in replicas]
            self._clone[session_id] = (nodes, class_of_service, packet_length_bytes)
            if self.pipeline is not None:
                self.pipeline.lock()
                self.pipeline.clone_session_set(session_id, nodes, class_of_service,
                                                packet_length_bytes)
                self.pipeline.unlock()

    def clone_session_delete(self, session_id: int) -> None:
        with self._write_lock:
            if session_id not in self._clone:
                raise NotFound(f"clone session {session_id}")
            del self._clone[session_id]
            if self.pipeline is not None:
                self.pipeline.lock()
                self.pipeline.clone_session_set(session_id, None)
                self.pipeline.unlock()

    def clone_session_get(self, session_id: int) -> tuple[list[tuple[int, int]], int, int]:
        if session_id not in self._clone:
            raise NotFound(f"clone session {session_id}")
        nodes, cos, trunc = self._clone[session_id]
        return list(nodes), cos, trunc

    def clone_sessions(self) -> dict[int, tuple[list[tuple[int, int]], int, int]]:
        return dict(self._clone)

    # ------------------------------------------------------------------ externs
    def _extern_index(self, kind: str, name: str | int, index: int) -> tuple[int, int]:
        self._require()
        assert self.program is not None
        objs = getattr(self.program, kind)
        n = self.program.extern_name(kind, name)
        info = objs[n]
        if not 0 <= index < info.size:
            raise InvalidArgument(f"{n}: index {index} out of range 0..{info.size - 1}")
        return info.index, index

    def counter_read(self, name: str | int, index: int) -> tuple[int, int]:
        ci, i = self._extern_index("counters", name, index)
        return self._require().counter_get(ci, i)

    def counter_write(self, name: str | int, index: int, packets: int = 0, nbytes: int = 0) -> None:
        ci, i = self._extern_index("counters", name, index)
        self._require().counter_set(ci, i, packets, nbytes)

    def direct_counter_read(self, table: str | int, handle: int) -> tuple[int, int]:
        st = self._table(table)
        if handle not in st.entries:
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        return self._require().entry_counter(st.index, handle)

    def direct_counter_write(self, table: str | int, handle: int, packets: int, nbytes: int) -> None:
        st = self._table(table)
        if handle not in st.entries:
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        self._require().entry_counter_set(st.index, handle, packets, nbytes)

    def register_read(self, name: str | int, index: int) -> int:
        ri, i = self._extern_index("registers", name, index)
        return self._require().register_get(ri, i)

    def register_write(self, name: str | int, index: int, value: int) -> None:
        ri, i = self._extern_index("registers", name, index)
        self._require().register_set(ri, i, value)

    def meter_set(self, name: str | int, index: int, cir: float, cburst: int, pir: float,
                  pburst: int) -> None:
        """Rates in the meter's units per second (bytes or packets), bursts in units."""
        mi, i = self._extern_index("meters", name, index)
        arr = self._require().meter_arrays_by_index[mi]
        try:
            arr.set_rates(i, [(cir / 1e6, int(cburst)), (pir / 1e6, int(pburst))])
        except ValueError as e:
            raise InvalidArgument(str(e)) from None

    def meter_get(self, name: str | int, index: int) -> tuple[float, int, float, int] | None:
        mi, i = self._extern_index("meters", name, index)
        rates = self._require().meter_arrays_by_index[mi].get_rates(i)
        if not rates:
            return None
        (c, cb), (p, pb) = rates
        return (c * 1e6, cb, p * 1e6, pb)

    def meter_reset(self, name: str | int, index: int) -> None:
        mi, i = self._extern_index("meters", name, index)
        self._require().meter_arrays_by_index[mi].reset(i)

    def direct_meter_set(self, table: str | int, handle: int, cir: float, cburst: int, pir: float,
                         pburst: int) -> None:
        st = self._table(table)
        if st.info.direct_meter is None:
            raise InvalidArgument(f"table {st.info.name} has no direct meter")
        if handle not in st.entries:
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        mi = self.compiled.meter_by_name[st.info.direct_meter]
        self._require().meter_arrays_by_index[mi].set_rates(
            handle, [(cir / 1e6, int(cburst)), (pir / 1e6, int(pburst))])

    def value_set_set(self, name: str | int, members: list[tuple[int, int]]) -> None:
        pl = self._require()
        assert self.compiled is not None
        if isinstance(name, int):
            name = self.program.value_set_name(name)
        if name not in self.compiled.vset_by_name:
            raise NotFound(f"parser value set {name}")
        vi = self.compiled.vset_by_name[name]
        _n, bits, size = self.compiled.parse_vsets[vi]
        if len(members) > size:
            raise ResourceExhausted(f"value set {name} holds at most {size} members")
        for v, m in members:
            if v >> bits or m >> bits:
                raise InvalidArgument(f"value set {name}: {v:#x}/{m:#x} does not fit {bits} bits")
        pl.lock()
        pl.vset_set(vi, [v for v, _m in members], [m for _v, m in members])
        pl.unlock()
        self._vsets[name] = list(members)

    def value_set_get(self, name: str) -> list[tuple[int, int]]:
        return list(self._vsets.get(name, []))

    # ------------------------------------------------------------------ packets
    def on_packet_in(self, callback: Callable[[bytes], None]) -> None:
        self._packet_in.append(callback)

    def on_digest(self, callback: Callable[[str, list[tuple[int, ...]]], None]) -> None:
        self._digest.append(callback)

    def process(self, packets: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Run packets synchronously; return what is transmitted (CPU-port packets excluded)."""
        pl = self._require()
        outs = pl.process(list(packets))
        self._after_batch()
        result = []
        for port, frame in outs:
            if self.cpu_port is not None and port == self.cpu_port:
                for cb in self._packet_in:
                    cb(frame)
            else:
                result.append((port, frame))
        return result

    def packet_out(self, frame: bytes) -> list[tuple[int, bytes]]:
        """Inject a frame as if received on the CPU port."""
        if self.cpu_port is None:
            raise FailedPrecondition("no CPU port configured")
        if self._loop is not None:
            self._loop.inject(self.cpu_port, frame)
            return []
        return self.process([(self.cpu_port, frame)])

    def inject(self, port: int, frame: bytes) -> None:
        """Queue a frame as received on `port` (when the engine loop runs), else process it."""
        if self._loop is not None:
            self._loop.inject(port, frame)
        else:
            self.process([(port, frame)])

    def _after_batch(self) -> None:
        pl = self.pipeline
        if pl is None:
            return
        if self._digest:
            digests = pl.take_digests()
            for list_id, values in digests:
                name = self.compiled.learn_lists[list_id][0]
                for cb in self._digest:
                    cb(name, [tuple(values)])
        if pl.trace_on:
            lines = self._trace_fmt.format(pl.take_trace()) if self._trace_fmt else []
            for line in lines:
                if self._trace_sink is not None:
                    self._trace_sink(line)
                else:
                    trace_log.info(line)

    def set_trace(self, on: bool, sink: Callable[[str], None] | None = None) -> None:
        self._trace_sink = sink if on else None
        if on and sink is None:
            self._trace_sink = trace_log.info
        if self.pipeline is not None:
            self.pipeline.set_trace(on)

    def stats(self) -> dict[str, int]:
        return self._require().stats()

    # ------------------------------------------------------------------ ports and loop
    def add_port(self, num: int, port: Any) -> None:
        if not 0 <= num < 511:
            raise InvalidArgument(f"port number {num} not in 0..510")
        if num in self.ports:
            raise AlreadyExists(f"port {num} exists")
        port.open(self.pool)
        self.ports[num] = port

    def remove_port(self, num: int) -> None:
        port = self.ports.pop(num)
        port.close()

    def port_stats(self, num: int) -> dict[str, int]:
        if num not in self.ports:
            raise NotFound(f"port {num}")
        return self.ports[num].stats()

    def start(self) -> None:
        from target.loop import EngineLoop
        pl = self._require()
        if self._loop is not None:
            return
        self._loop = EngineLoop(pl, self.ports, self.batch_size,
                                -1 if self.cpu_port is None else self.cpu_port,
                                self._deliver_packet_in, self._after_batch)
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None

    def _deliver_packet_in(self, frame: bytes) -> None:
        for cb in self._packet_in:
            cb(frame)


def _fits(name: str, value: int, width: int) -> None:
    if not isinstance(value, int) or value < 0 or value >> width:
        raise InvalidArgument(f"key {name}: {value!r} does not fit {width} bits")


def _to_match(n: tuple[Any, ...]) -> MatchField | None:
    kind = n[0]
    if kind == "exact":
        return Exact(n[1])
    if kind == "lpm":
        return Lpm(n[1], n[2])
    if kind == "ternary":
        return Ternary(n[1], n[2])
    if kind == "range":
        return Range(n[1], n[2])
    return Optional(n[1])
