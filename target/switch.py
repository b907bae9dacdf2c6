"""The one target API: load a program, write tables and externs, move packets.

Everything outside the data path — the command line, the P4Runtime server, the STF runner,
tests and benchmarks — drives the switch through this class (docs/target-api.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from target import bulk, priority
from target import workers as workers_mod
from target.entries import TableEntries, encoded_from_stored, reclaim_id, unpack_params
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
from target.pipeline import build, constants, native_build
from target.pipeline.engine import Pipeline
from target.pipeline.loader import Program, compile_program
from target.program_info import ProgramInfo, read_p4info
from target.trace import TraceFormatter
from target.workers import MAX_WORKERS

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


class Switch:
    """A kvick switch instance. Thread-safe for one control-plane writer at a time."""

    def __init__(self, *, batch_size: int = 256, cpu_port: int | None = None, device_id: int = 0,
                 pool_size: int = 16384, buf_size: int = 10240 + 256,
                 pool: PacketPool | None = None, busy_poll: bool = False, native: str = "off",
                 workers: int = 1, drop_port: int = constants.V1_DEFAULT_DROP_PORT,
                 priority_queues: int = 1, control_nice: int = 0,
                 pools: Sequence[PacketPool] | None = None):
        """`pool`: packet buffers to use instead of a fresh malloc'd pool — e.g. DMA memory of
        a NIC driver or an AF_XDP UMEM, so that drivers and pipeline share buffers (zero copy).
        `pools`: one such pool per worker (instead of `pool`), so that every worker's share
        of a port is zero copy (Intel: [dev.make_pool(4096) for _ in range(workers)]).
        `busy_poll`: the engine polls its ports even when idle instead of sleeping (benchmarks).
        `native`: each loaded program compiled to C (target/pipeline/native_build.py): "on"
        builds it in the background while the interpreter forwards, "wait" before load()
        returns, "off" never.
        `workers`: engine threads, each with its own pool (the first is `pool`) and its share
        of the ports' RX queues (target/workers.py).
        `drop_port`, `priority_queues`: simple_switch's --drop-port (the egress_spec that drops,
        which mark_to_drop writes; no port may have that number) and --priority-queues (strict
        priority queues per egress port, chosen by standard_metadata.priority).
        `control_nice`: 1..19 moves each thread that writes into the engine (the control
        plane) to SCHED_BATCH at that nice value, below the workers (target/priority.py);
        0 leaves threads as they are.
        """
        if native not in native_build.MODES:
            raise InvalidArgument(f"native must be one of {', '.join(native_build.MODES)}, "
                                  f"not {native!r}")
        self.native = native
        self._native_thread: threading.Thread | None = None
        check_int("drop port", drop_port, 0, MAX_PORT)
        check_int("priority queues", priority_queues, 1, constants.V1_MAX_PRIORITY_QUEUES)
        self.drop_port = drop_port
        self.priority_queues = priority_queues
        check_int("control nice", control_nice, 0, priority.MAX_NICE)
        self.control_nice = control_nice
        self._lowered: set[int] = set()       # native ids of control threads moved down
        # simple_switch_grpc's --max-mc-groups / --max-l1-entries / --max-l2-entries: None is
        # no bound but the group id's. BMv2's PRE holds one L1 and one L2 entry per node, and
        # its P4Runtime layer makes one node per replication id of a group.
        self.max_mc_groups: int | None = None
        self.max_l1_entries: int | None = None
        self.max_l2_entries: int | None = None
        if cpu_port is not None:
            self._check_port("CPU port", cpu_port)
        check_int("batch size", batch_size, 1, MAX_U32)
        check_int("workers", workers, 1, MAX_WORKERS)
        self.batch_size = batch_size
        self.cpu_port = cpu_port
        self.device_id = device_id
        self.busy_poll = busy_poll
        self.workers = workers
        if pools is not None:
            self._pools = _worker_pools(pools, pool, workers)
            self.pool = self._pools[0]
        else:
            self.pool = pool if pool is not None else PacketPool(pool_size, buf_size)
            self._pools = [self.pool] + [PacketPool(pool_size, self.pool.buf_size)
                                         for _ in range(workers - 1)]
        self._processed = 0              # process() calls: they take the workers in turn
        self._deliver_lock = threading.RLock()  # callbacks see one worker's events at a time
        self.pipeline: Pipeline | None = None
        self.compiled: Program | None = None
        self.program: ProgramInfo | None = None
        self._tables: dict[str, TableEntries] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self._packet_in: list[Callable[[bytes], None]] = []
        self._digest: list[Callable[[str, list[tuple[int, ...]]], None]] = []
        self._mc: dict[int, list[tuple[int, int]]] = {}
        self._clone: dict[int, tuple[list[tuple[int, int]], int, int]] = {}
        self._vsets: dict[str, list[tuple[int, int]]] = {}
        self._trace_sink: Callable[[str], None] | None = None
        self._trace_leveled: Callable[[int, str], None] | None = None
        self._trace_fmt: TraceFormatter | None = None
        self._write_lock = threading.RLock()
        self.ports: dict[int, Any] = {}
        self._queues: dict[int, list[Any]] = {}      # per port: its queue per worker, or [port]
        self._owners: dict[int, int] = {}            # per port: the worker it was opened for
        self._next_owner = 0
        self._relay_drops: dict[int, int] = {}      # per port: relay drops of past engine runs
        self._plan: list[Any] = []
        self._disabled_ports: set[int] = set()
        self._loop: Any = None

    # ------------------------------------------------------------------ program
    def load(self, source: str | bytes | dict[str, Any], p4info: Any = None) -> None:
        """Compile and install a BMv2 JSON program; replaces any program (and its state)."""
        compiled = compile_program(source)
        info = ProgramInfo.from_compiled(compiled, read_p4info(p4info) if p4info is not None else None)
        pipeline = Pipeline(compiled, self.pool)
        for pool in self._pools[1:]:
            pipeline.add_worker(pool)
        pipeline.cpu_port = -1 if self.cpu_port is None else self.cpu_port
        pipeline.drop_port = self.drop_port
        pipeline.priority_queues = self.priority_queues
        self._native_thread = native_build.start(pipeline, self.native, "the program")
        tables = {}
        matchers = pipeline.matchers
        for i, t in enumerate(compiled.tables):
            tables[t.name] = TableEntries(info.tables[t.name], i, build.table_kind(t),
                                          matchers[i])
        with self._write_lock:
            running = self._loop is not None
            if running:
                self.stop()
            # The new program is filled (defaults, const entries, PRE) before anyone uses it;
            # if that fails the old program, with its entries, is put back untouched.
            before = (self.pipeline, self.compiled, self.program, self._tables, self._profiles,
                      self._vsets, self._trace_fmt)
            try:
                self._install(compiled, info, pipeline, tables)
            except BaseException:
                (self.pipeline, self.compiled, self.program, self._tables, self._profiles,
                 self._vsets, self._trace_fmt) = before
                raise
            finally:
                if running:
                    self.start()

    def _install(self, compiled: Program, info: ProgramInfo, pipeline: Pipeline,
                 tables: dict[str, TableEntries]) -> None:
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
        if self._trace_sink is not None or self._trace_leveled is not None:
            pipeline.set_trace(True)

    def native_ready(self, timeout: float | None = None) -> bool:
        """Wait up to `timeout` s for a background native build; True when native code runs."""
        if self._native_thread is not None:
            self._native_thread.join(timeout)
        return self.pipeline is not None and native_build.native_active(self.pipeline)

    def _require(self) -> Pipeline:
        if self.pipeline is None:
            raise FailedPrecondition("no program loaded")
        return self.pipeline

    @contextmanager
    def _engine_write(self, required: bool = True) -> Iterator[Pipeline | None]:
        """The one way into the running engine for a control-plane change.

        Holds the switch's write lock and opens a write section of the engine: the body's
        changes go to the copy of the tables no worker reads and are published to every
        worker at once when the body ends, however it ends (the engine's commit.pxi);
        forwarding never waits. Callers validate the whole request before entering (a refused
        request changes nothing) and only apply inside. How writers and the data path are
        kept apart is decided here alone. Without `required`, the body runs with None when no
        program is loaded.
        """
        with self._write_lock:
            if self.control_nice and threading.get_native_id() not in self._lowered:
                self._lowered.add(threading.get_native_id())
                priority.lower_thread(self.control_nice)
            pl = self.pipeline
            if pl is None:
                if required:
                    raise FailedPrecondition("no program loaded")
                yield None
                return
            pl.begin_write()
            try:
                yield pl
            finally:
                pl.commit()
                for st in self._tables.values():
                    if st.held or st.held_all:
                        st.release_held()

    # ------------------------------------------------------------------ names
    def _table(self, table: str | int) -> TableEntries:
        self._require()
        assert self.program is not None
        name = self.program.table_name(table)
        return self._tables[name]

    def _action_id(self, st: TableEntries, action: str | int) -> int:
        # The control plane names the same few actions over and over: remember the answer.
        aid = st.action_ids.get(action)
        if aid is None:
            aid = st.action_ids[action] = self._lookup_action_id(st, action)
        return aid

    def _lookup_action_id(self, st: TableEntries, action: str | int) -> int:
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
            values = params if type(params) is list else list(params)
        if len(values) != len(decl):
            raise InvalidArgument(f"action {name} takes {len(decl)} parameters, got {len(values)}")
        for (pname, width), v in zip(decl, values, strict=True):
            if type(v) is not int or v < 0 or v >> width:
                raise InvalidArgument(f"action {name} parameter {pname}: {v!r} does not fit {width} bits")
        return values

    # ------------------------------------------------------------------ table entries
    def table_add(self, table: str | int, match: list[Any], action: str | int | None = None,
                  params: Iterable[int] | dict[str, int] | None = None, priority: int | None = None,
                  *, member: int | None = None, group: int | None = None) -> int:
        """Insert one entry; returns its handle. A failed insert changes nothing."""
        with self._write_lock:
            self._require()
            st = self._table(table)
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            prepared = self._prepare(st, match, action, params, priority, member, group)
            with self._engine_write() as pl:
                return self._apply_add(pl, st, prepared)

    def table_add_many(self, table: str | int, entries: list[tuple[Any, ...]]) -> list[int]:
        """Insert a batch atomically: all entries or none, visible to traffic at once.

        Each entry is (match, action, params, priority) or, for indirect tables,
        (match, {"member": id} or {"group": id}, None, priority). On a failure the error has
        `index`, the position of the offending entry, and nothing was inserted.
        """
        with self._write_lock:
            self._require()
            st = self._table(table)
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            prepared = []
            for i, e in enumerate(entries):
                match, action, params, priority = (tuple(e) + (None,) * 4)[:4]
                member = group = None
                if isinstance(action, dict):
                    member, group, action = action.get("member"), action.get("group"), None
                try:
                    prepared.append(self._prepare(st, match, action, params, priority, member,
                                                  group))
                except TargetError as err:
                    err.index = i
                    raise
            done: list[int] = []
            with self._engine_write() as pl:
                for i, p in enumerate(prepared):
                    try:
                        done.append(self._apply_add(pl, st, p))
                    except TargetError as err:
                        for h in reversed(done):
                            self._apply_delete(pl, st, h)
                        err.index = i
                        raise
            return done

    def _prepare(self, st: TableEntries, match: list[Any], action: Any, params: Any,
                 priority: int | None, member: int | None, group: int | None) -> tuple[Any, ...]:
        enc = st.encode(match, priority)
        ref, pvals = self._resolve_action(st, action, params, member, group)
        return (enc, ref, pvals)

    def _apply_add(self, pl: Pipeline, st: TableEntries, prepared: tuple[Any, ...]) -> int:
        enc, ref, pvals = prepared
        eid = st.reserve_id(enc)
        try:
            st.matcher_add(enc, eid)
        except TargetError:
            st.release_id(eid)
            raise
        try:
            pl.entry_set(st.index, eid, ref, pvals)
        except BaseException:
            # Out of memory for the record: take the key back out, as if never inserted.
            st.matcher_delete(eid)
            st.release_id(eid)
            raise
        return eid

    def _apply_delete(self, pl: Pipeline, st: TableEntries, handle: int) -> None:
        st.matcher_delete(handle)
        pl.entry_clear(st.index, handle)
        st.release_id(handle)

    def _resolve_action(self, st: TableEntries, action: Any, params: Any, member: int | None,
                        group: int | None) -> tuple[int, list[int]]:
        assert self.compiled is not None
        if st.info.action_profile is None:
            if member is not None or group is not None:
                raise InvalidArgument(f"table {st.info.name} has no action profile")
            if action is None:
                raise InvalidArgument("an action is required")
            aid = self._action_id(st, action)
            if st.info.action_scopes.get(self.compiled.actions[aid][0]) == "default_only":
                raise InvalidArgument(f"action {self.compiled.actions[aid][0]} is default-only")
            return aid, self._params(aid, params)
        prof = self._profiles[st.info.action_profile]
        if member is not None:
            if member not in prof["members"]:
                raise NotFound(f"member {member} of {st.info.action_profile}")
            return member, []
        if group is not None:
            if group not in prof["groups"]:
                raise NotFound(f"group {group} of {st.info.action_profile}")
            return -group - 2, []
        raise InvalidArgument(f"table {st.info.name} is indirect: give a member or group")

    def table_modify(self, table: str | int, handle: int, action: str | int | None = None,
                     params: Iterable[int] | dict[str, int] | None = None, *,
                     member: int | None = None, group: int | None = None) -> None:
        with self._write_lock:
            self._require()
            st = self._table(table)
            if not st.exists(handle):
                raise NotFound(f"table {st.info.name}: no entry {handle}")
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            ref, pvals = self._resolve_action(st, action, params, member, group)
            with self._engine_write() as pl:
                pl.entry_set(st.index, handle, ref, pvals, False)

    def table_delete(self, table: str | int, handle: int) -> None:
        with self._write_lock:
            self._require()
            st = self._table(table)
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            if not st.exists(handle):
                raise NotFound(f"table {st.info.name}: no entry {handle}")
            with self._engine_write() as pl:
                self._apply_delete(pl, st, handle)

    def table_find(self, table: str | int, match: list[Any], priority: int | None = None) -> int | None:
        st = self._table(table)
        return st.find(st.encode(match, priority))

    def table_entries(self, table: str | int) -> list[Entry]:
        st = self._table(table)
        return [self.table_entry(table, h) for h in st.ids()]

    def table_size(self, table: str | int) -> int:
        """Entries in the table (const entries included)."""
        return self._table(table).count

    def table_entry(self, table: str | int, handle: int) -> Entry:
        pl = self._require()
        st = self._table(table)
        if not st.exists(handle):
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        ref, values = pl.entry_get(st.index, handle)
        action = None
        params: list[int] = []
        member = group = None
        if st.info.action_profile is None:
            name, decl, _code = self.compiled.actions[ref]
            action, params = name, values[:len(decl)]
        elif ref <= -2:
            group = -ref - 2
        else:
            member = ref
        return Entry(handle, st.match(handle), st.priority(handle), action, params, member,
                     group, pl.entry_counter(st.index, handle))

    def table_clear(self, table: str | int) -> None:
        """Delete every entry, in one step: traffic sees the full table or the empty one."""
        with self._write_lock:
            st = self._table(table)
            if not st.count:
                return
            if st.info.is_const:
                raise InvalidArgument(f"table {st.info.name} is const")
            with self._engine_write() as pl:
                if st.kind != build.TBL_KEYLESS:
                    st.matcher.clear()
                pl.table_clear_entries(st.index)
                st.clear()

    def table_set_default(self, table: str | int, action: str | int,
                          params: Iterable[int] | dict[str, int] | None = None) -> None:
        with self._write_lock:
            self._require()
            st = self._table(table)
            if st.info.default_is_const:
                raise InvalidArgument(f"table {st.info.name}: the default action is const")
            aid = self._action_id(st, action)
            if st.info.action_scopes.get(self.compiled.actions[aid][0]) == "table_only":
                raise InvalidArgument(f"action {self.compiled.actions[aid][0]} cannot be a default")
            pvals = self._params(aid, params)
            with self._engine_write() as pl:
                pl.default_set(st.index, aid, pvals)
                st.default = (self.compiled.actions[aid][0], pvals)

    def table_get_default(self, table: str | int) -> tuple[str | None, list[int]]:
        st = self._table(table)
        if st.default is None:
            return (None, [])
        return (st.default[0], list(st.default[1]))

    def table_reset_default(self, table: str | int) -> None:
        with self._write_lock:
            self._require()
            st = self._table(table)
            assert self.compiled is not None
            t = self.compiled.tables[st.index]
            with self._engine_write() as pl:
                pl.default_set(st.index, t.default_action, list(t.default_params))
                st.default = ((self.compiled.actions[t.default_action][0],
                               list(t.default_params)) if t.default_action >= 0 else None)

    def _add_const_entry(self, name: str, ce: dict[str, Any], k: int) -> None:
        from target.pipeline.loader import parse_int
        self._require()
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
        prepared = self._prepare(st, match, self.compiled.actions[aid][0], params, prio, None, None)
        with self._engine_write() as pl:
            self._apply_add(pl, st, prepared)

    # ------------------------------------------------------------------ action profiles
    def _profile(self, prof: str | int) -> tuple[str, dict[str, Any], int]:
        self._require()
        assert self.program is not None
        name = self.program.profile_name(prof)
        idx = [ap["name"] for ap in self.compiled.action_profiles].index(name)
        return name, self._profiles[name], idx

    def act_prof_add_member(self, prof: str | int, member_id: int, action: str | int,
                            params: Iterable[int] | dict[str, int] | None = None) -> None:
        _check_profile_id("member", member_id)
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
        with self._engine_write() as pl:
            pl.profile_member_set(idx, member_id, aid, pvals)
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
        _check_profile_id("group", group_id)
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
        with self._engine_write() as pl:
            pl.profile_group_set(idx, group_id, members)
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
        pl = self._require()
        ref = member if member is not None else -group - 2
        for st in self._tables.values():
            if st.info.action_profile != name:
                continue
            for h in st.ids():
                if pl.entry_get(st.index, h)[0] == ref:
                    return True
        return False

    # ------------------------------------------------------------------ PRE
    def mc_group_set(self, group_id: int, replicas: list[tuple[int, int]]) -> None:
        """Create or replace a multicast group; a refused group changes nothing."""
        check_int("multicast group id", group_id, 1, MAX_MC_GROUP)
        nodes = _replicas(f"multicast group {group_id}", replicas, self._check_port)
        self._check_mc_room(group_id, nodes)
        with self._engine_write(required=False) as pl:
            if pl is not None:
                pl.mc_group_set(group_id, nodes)
            self._mc[group_id] = nodes

    def _check_mc_room(self, group_id: int, nodes: list[tuple[int, int]]) -> None:
        """Refuse a group beyond the PRE's bounds, in BMv2's words (simple_pre.cpp)."""
        others = {g: v for g, v in self._mc.items() if g != group_id}
        if self.max_mc_groups is not None and len(others) >= self.max_mc_groups:
            raise ResourceExhausted(f"mgrp create failed, mgid table full "
                                    f"({self.max_mc_groups} groups)")
        used = sum(len({rid for _, rid in v}) for v in others.values())
        for level, bound in (("l1", self.max_l1_entries), ("l2", self.max_l2_entries)):
            if bound is not None and used + len({rid for _, rid in nodes}) > bound:
                raise ResourceExhausted(f"node create failed, {level} table full "
                                        f"({bound} entries)")

    def mc_group_delete(self, group_id: int) -> None:
        with self._engine_write(required=False) as pl:
            if group_id not in self._mc:
                raise NotFound(f"multicast group {group_id}")
            if pl is not None:
                pl.mc_group_set(group_id, None)
            del self._mc[group_id]

    def mc_group_get(self, group_id: int) -> list[tuple[int, int]]:
        if group_id not in self._mc:
            raise NotFound(f"multicast group {group_id}")
        return list(self._mc[group_id])

    def mc_groups(self) -> dict[int, list[tuple[int, int]]]:
        return {g: list(v) for g, v in self._mc.items()}

    def clone_session_set(self, session_id: int, replicas: list[tuple[int, int]],
                          class_of_service: int = 0, packet_length_bytes: int = 0) -> None:
        """Create or replace a clone session; a refused session changes nothing."""
        check_int("clone session id", session_id, 1, MAX_CLONE_SESSION)
        check_int(f"clone session {session_id}: class of service", class_of_service, 0,
                  MAX_U32)
        check_int(f"clone session {session_id}: packet length", packet_length_bytes, 0, MAX_U32)
        nodes = _replicas(f"clone session {session_id}", replicas, self._check_port)
        with self._engine_write(required=False) as pl:
            if pl is not None:
                pl.clone_session_set(session_id, nodes, class_of_service, packet_length_bytes)
            self._clone[session_id] = (nodes, class_of_service, packet_length_bytes)

    def clone_session_delete(self, session_id: int) -> None:
        with self._engine_write(required=False) as pl:
            if session_id not in self._clone:
                raise NotFound(f"clone session {session_id}")
            if pl is not None:
                pl.clone_session_set(session_id, None)
            del self._clone[session_id]

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
        check_int(f"{n}: index", index, 0, info.size - 1)
        return info.index, index

    def counter_read(self, name: str | int, index: int) -> tuple[int, int]:
        ci, i = self._extern_index("counters", name, index)
        return self._require().counter_get(ci, i)

    def counter_write(self, name: str | int, index: int, packets: int = 0, nbytes: int = 0) -> None:
        ci, i = self._extern_index("counters", name, index)
        check_int("packet count", packets, 0, MAX_U64)
        check_int("byte count", nbytes, 0, MAX_U64)
        with self._engine_write() as pl:
            pl.counter_set(ci, i, packets, nbytes)

    def direct_counter_read(self, table: str | int, handle: int) -> tuple[int, int]:
        st = self._table(table)
        if not st.exists(handle):
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        return self._require().entry_counter(st.index, handle)

    def direct_counter_write(self, table: str | int, handle: int, packets: int, nbytes: int) -> None:
        st = self._table(table)
        if not st.exists(handle):
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        check_int("packet count", packets, 0, MAX_U64)
        check_int("byte count", nbytes, 0, MAX_U64)
        with self._engine_write() as pl:
            pl.entry_counter_set(st.index, handle, packets, nbytes)

    def register_read(self, name: str | int, index: int) -> int:
        ri, i = self._extern_index("registers", name, index)
        return self._require().register_get(ri, i)

    def register_write(self, name: str | int, index: int, value: int) -> None:
        """Set one cell; a value wider than the register is refused, not cut."""
        ri, i = self._extern_index("registers", name, index)
        assert self.program is not None
        width = self.program.registers[self.program.extern_name("registers", name)].bitwidth
        check_int(f"register {name}[{index}] value", value, 0, (1 << width) - 1)
        with self._engine_write() as pl:
            pl.register_set(ri, i, value)

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
        if not st.exists(handle):
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        mi = self.compiled.meter_by_name[st.info.direct_meter]
        try:
            self._require().meter_arrays_by_index[mi].set_rates(
                handle, [(cir / 1e6, int(cburst)), (pir / 1e6, int(pburst))])
        except ValueError as e:
            raise InvalidArgument(str(e)) from None

    def value_set_set(self, name: str | int, members: list[tuple[int, int]]) -> None:
        self._require()
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
        with self._engine_write() as pl:
            pl.vset_set(vi, [v for v, _m in members], [m for _v, m in members])
            self._vsets[name] = list(members)

    def value_set_get(self, name: str) -> list[tuple[int, int]]:
        return list(self._vsets.get(name, []))

    # ------------------------------------------------------------------ packets
    def on_packet_in(self, callback: Callable[[bytes], None]) -> None:
        self._packet_in.append(callback)

    def on_digest(self, callback: Callable[[str, list[tuple[int, ...]]], None]) -> None:
        self._digest.append(callback)

    def process(self, packets: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
        """Run packets synchronously; return what is transmitted (CPU-port packets excluded).

        Every (port, frame) is checked first: a refused batch runs no packet.
        """
        pl = self._require()
        batch = list(packets)
        for i, item in enumerate(batch):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise InvalidArgument(f"packet {i}: {item!r:.60} is not a (port, frame) pair")
            self._check_packet(f"packet {i}", item[0], item[1])
        # With several workers each call runs on the next one, so every worker context is
        # used (the engine loop, when it runs, is the only user of the workers).
        worker = self._processed % self.workers
        self._processed += 1
        outs = pl.process(batch, worker)
        self._after_batch(worker)
        result = []
        for port, frame in outs:
            if self.cpu_port is not None and port == self.cpu_port:
                for cb in self._packet_in:
                    cb(frame)
            else:
                result.append((port, frame))
        return result

    def _check_port(self, what: str, port: Any) -> None:
        """A port number the engine can carry: 9 bits, and not the drop port."""
        check_int(what, port, 0, MAX_PORT)
        if port == self.drop_port:
            raise InvalidArgument(f"{what} {port} is the drop port (simple_switch's --drop-port)")

    def _check_packet(self, what: str, port: Any, frame: Any) -> None:
        self._check_port(f"{what}: port", port)
        if not isinstance(frame, (bytes, bytearray)):
            raise InvalidArgument(f"{what}: frame is {type(frame).__name__}, not bytes")
        if len(frame) > self.pool.max_frame:
            raise InvalidArgument(f"{what}: frame of {len(frame)} bytes exceeds the "
                                  f"{self.pool.max_frame}-byte buffers")

    def packet_out(self, frame: bytes) -> list[tuple[int, bytes]]:
        """Inject a frame as if received on the CPU port."""
        if self.cpu_port is None:
            raise FailedPrecondition("no CPU port configured")
        if self._loop is not None:
            self._check_packet("packet-out", self.cpu_port, frame)
            self._loop.inject(self.cpu_port, frame)
            return []
        return self.process([(self.cpu_port, frame)])

    def inject(self, port: int, frame: bytes) -> None:
        """Queue a frame as received on `port` (when the engine loop runs), else process it."""
        if self._loop is not None:
            self._check_packet("injected packet", port, frame)
            self._loop.inject(port, frame)
        else:
            self.process([(port, frame)])

    def _after_batch(self, worker: int = -1) -> None:
        """Hand `worker`'s digests and trace (-1: every worker's) to the callbacks; a running
        worker calls this for itself from its own thread."""
        pl = self.pipeline
        if pl is None:
            return
        if self._digest:
            digests = pl.take_digests(worker)
            if digests:
                with self._deliver_lock:
                    self._deliver_digests(digests)
        if pl.trace_on:
            records = pl.take_trace(worker)
            with self._deliver_lock:
                lines = self._trace_fmt.format_levels(records) if self._trace_fmt else []
                for level, line in lines:
                    if self._trace_leveled is not None:
                        self._trace_leveled(level, line)
                    elif self._trace_sink is not None:
                        self._trace_sink(line)
                    else:
                        trace_log.info(line)

    def _deliver_digests(self, digests: list[tuple[int, list[int]]]) -> None:
        for list_id, values in digests:
            name = self.compiled.learn_lists[list_id][0]
            for cb in self._digest:
                cb(name, [tuple(values)])

    def set_trace(self, on: bool, sink: Callable[[str], None] | None = None,
                  leveled: Callable[[int, str], None] | None = None) -> None:
        """Per-packet trace lines (BMv2's log messages) to `sink(text)`, or to
        `leveled(logging level, text)` (BMv2's level of each message), or to the log."""
        self._trace_sink = sink if on else None
        self._trace_leveled = leveled if on else None
        if on and sink is None and leveled is None:
            self._trace_sink = trace_log.info
        if self.pipeline is not None:
            self.pipeline.set_trace(on)

    def stats(self) -> dict[str, int]:
        return self._require().stats()

    # ------------------------------------------------------------------ ports and loop
    def add_port(self, num: int, port: Any) -> None:
        self._check_port("port number", num)
        if num in self.ports:
            raise AlreadyExists(f"port {num} exists")
        # A port that cannot be split goes to the workers in turn, by the order ports come.
        owner = self._next_owner % self.workers
        self._queues[num] = workers_mod.open_queues(port, self._pools, owner)
        if len(self._queues[num]) == 1:
            self._next_owner += 1
        self._owners[num] = owner
        self.ports[num] = port

    def remove_port(self, num: int) -> None:
        port = self.ports.pop(num)
        self._disabled_ports.discard(num)
        self._owners.pop(num, None)
        self._relay_drops.pop(num, None)
        for queue in reversed(self._queues.pop(num, [port])):
            queue.close()

    def port_stats(self, num: int) -> dict[str, int]:
        """The port's counters, summed over its queues (one per worker when it is split)."""
        if num not in self.ports:
            raise NotFound(f"port {num}")
        queues = self._queues.get(num, [self.ports[num]])
        total = queues[0].stats()
        for queue in queues[1:]:
            for key, value in queue.stats().items():
                if key in PER_QUEUE_COUNTERS:
                    total[key] += value
        total["tx_dropped"] += (self._relay_drops.get(num, 0)
                                + workers_mod.relay_drops(self._plan).get(num, 0))
        return total

    def queue_stats(self, num: int) -> list[dict[str, int]]:
        """The counters of each of the port's queues: one per worker, in worker order, when
        the port is split; else one, its owner's."""
        if num not in self.ports:
            raise NotFound(f"port {num}")
        return [queue.stats() for queue in self._queues.get(num, [self.ports[num]])]

    def set_port_enabled(self, num: int, enabled: bool) -> None:
        """Administrative state: a disabled port neither receives nor transmits (its frames
        are dropped and counted in rx_dropped / tx_dropped); kept across program loads."""
        if num not in self.ports:
            raise NotFound(f"port {num}")
        if enabled:
            self._disabled_ports.discard(num)
        else:
            self._disabled_ports.add(num)
        if self._loop is not None:
            self._loop.set_port_enabled(num, enabled)

    def port_enabled(self, num: int) -> bool:
        if num not in self.ports:
            raise NotFound(f"port {num}")
        return num not in self._disabled_ports

    def start(self) -> None:
        from target.loop import EngineLoop
        pl = self._require()
        if self._loop is not None:
            return
        self._plan = workers_mod.plan(self._queues, self._owners, self._pools,
                                      [pl.worker_handle(k) for k in range(self.workers)])
        self._loop = EngineLoop(pl, self._plan, self.batch_size,
                                -1 if self.cpu_port is None else self.cpu_port,
                                self._deliver_packet_in, self._after_batch,
                                tuple(self._disabled_ports), self.busy_poll)
        self._loop.start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.stop()
            self._loop = None
            for num, dropped in workers_mod.relay_drops(self._plan).items():
                self._relay_drops[num] = self._relay_drops.get(num, 0) + dropped
            workers_mod.close_plan(self._plan)
            self._plan = []

    def _deliver_packet_in(self, frame: bytes) -> None:
        with self._deliver_lock:        # workers deliver from their threads, one at a time
            for cb in self._packet_in:
                cb(frame)

    # ---- bulk control-plane path
    # Runs of updates that arrive already encoded (the P4Runtime server's wire decoder writes
    # the stored row form of target.entries): no match objects, one engine write section per call.

    UPDATE_INSERT = constants.UPDATE_INSERT
    UPDATE_MODIFY = constants.UPDATE_MODIFY
    UPDATE_DELETE = constants.UPDATE_DELETE
    UNDO_INSERTED = 4        # undo record of target.bulk: (4, entries, [handles inserted])

    def table_action_ref(self, table: str | int, action: str | int) -> int:
        """The engine's id of `action` as an action of `table` (what table_write_encoded takes)."""
        with self._write_lock:
            return self._action_id(self._table(table), action)

    def table_key_layout(self, table: str | int) -> list[tuple[int, int]]:
        """(byte offset, bytes) of each key field in a stored row's value half."""
        return list(self._table(table).layout)

    def table_param_stride(self, table: str | int) -> int:
        """Parameter slots per entry in the packed form table_write_encoded takes."""
        return self._require().param_stride(self._table(table).index)

    def table_write_encoded(self, runs: list[tuple[Any, ...]], atomic: bool = False
                            ) -> list[tuple[int, int, TargetError]]:
        """Apply runs of encoded updates, in order, in one engine write section.

        Each run is (table, kinds, stored, priorities, actions, params): kinds[j] is
        UPDATE_INSERT / UPDATE_MODIFY / UPDATE_DELETE, stored holds one row (2 * key bytes)
        per update, actions the engine action ids (table_action_ref) and params the packed
        parameters: table_param_stride(table) values of 16 little-endian bytes per update
        (both ignored for DELETE). MODIFY and DELETE find their entry by the row.
        Without `atomic` every update stands alone: the result lists (run, position, error)
        of those that failed, each having changed nothing. With `atomic` the first failure
        undoes everything before it, so traffic sees all of the call or none of it; the
        result is then that one failure.
        """
        with self._write_lock:
            self._require()
            # A table named as the program names it is found without a lookup by alias (the
            # P4Runtime server's runs name it so): few frames on a one-entry write's path.
            tables = self._tables
            resolved = []
            for run in runs:
                st = tables.get(run[0]) if type(run[0]) is str else None
                resolved.append((st if st is not None else self._table(run[0]),) +
                                tuple(run[1:]))
            errors: list[tuple[int, int, TargetError]] = []
            undo: list[tuple[Any, ...]] | None = [] if atomic else None
            with self._engine_write() as pl:
                for ri, run in enumerate(resolved):
                    st = run[0]
                    if st.kind == build.TBL_LPM24 and not st.info.is_const:  # in C (bulk.pyx)
                        failed = bulk.apply_dir24_run(st, pl, run[1], run[2], run[4], run[5],
                                                      undo)
                        if failed:
                            errors.extend((ri, j, self._bulk_error(st, code))
                                          for j, code in failed)
                    else:
                        self._write_encoded_run(pl, ri, run, errors, undo)
                    if atomic and errors:
                        break
                if atomic and errors:
                    self._undo_encoded(pl, undo)
            return errors

    def _write_encoded_run(self, pl: Pipeline, ri: int, run: tuple[Any, ...],
                           errors: list[tuple[int, int, TargetError]],
                           undo: list[tuple[Any, ...]] | None) -> None:
        st = run[0]
        kinds = run[1]
        if st.info.is_const:
            err = InvalidArgument(f"table {st.info.name} is const")
            errors.extend((ri, j, err) for j in range(len(kinds)))
            return
        self._write_encoded_each(pl, ri, run, errors, undo)

    def _bulk_error(self, st: TableEntries, code: int) -> TargetError:
        name = st.info.name
        if code == bulk.FAIL_EXISTS:
            return AlreadyExists(f"table {name}: an entry with this match exists")
        if code == bulk.FAIL_MISSING:
            return NotFound(f"table {name}: no entry with this match")
        if code == bulk.FAIL_FULL:
            return ResourceExhausted(f"table {name} is full ({st.info.size} entries)")
        if code == bulk.FAIL_NO_MEMORY:
            return ResourceExhausted(f"table {name}: out of memory or tbl8 groups for a "
                                     "prefix longer than /24")
        return InvalidArgument(f"unknown update kind in table {name}")

    def _write_encoded_each(self, pl: Pipeline, ri: int, run: tuple[Any, ...],
                            errors: list[tuple[int, int, TargetError]],
                            undo: list[tuple[Any, ...]] | None) -> None:
        """One update at a time through the TableEntries methods (every table kind)."""

        st, kinds, stored, priorities, actions, params = run
        stride = 2 * st.key_bytes
        ti = st.index
        param_stride = pl.param_stride(ti)
        entry_set = pl.entry_set
        needs_priority = st.info.needs_priority
        view = memoryview(stored)
        for j in range(len(kinds)):
            kind = kinds[j]
            row = view[j * stride:(j + 1) * stride]
            try:
                if kind == self.UPDATE_INSERT:
                    enc = encoded_from_stored(st, bytes(row),
                                              priorities[j] if needs_priority else None)
                    eid = st.reserve_id(enc)
                    try:
                        st.matcher_add(enc, eid)
                    except TargetError:
                        st.release_id(eid)
                        raise
                    entry_set(ti, eid, actions[j], unpack_params(params, param_stride, j))
                    if undo is not None:
                        undo.append((kind, st, eid))
                    continue
                eid = self._find_stored(st, bytes(row), priorities[j])
                if kind == self.UPDATE_MODIFY:
                    if undo is not None:
                        undo.append((kind, st, eid, pl.entry_get(ti, eid)))
                    entry_set(ti, eid, actions[j], unpack_params(params, param_stride, j),
                              False)
                elif kind == self.UPDATE_DELETE:
                    if undo is not None:
                        undo.append((kind, st, eid, bytes(row), priorities[j],
                                     pl.entry_get(ti, eid), pl.entry_counter(ti, eid)))
                    self._apply_delete(pl, st, eid)
                else:
                    raise InvalidArgument(f"unknown update kind {kind}")
            except TargetError as err:
                errors.append((ri, j, err))
                if undo is not None:
                    return

    def _find_stored(self, st: TableEntries, row: bytes, priority: int) -> int:

        eid = st.find(encoded_from_stored(st, row, priority))
        if eid is None:
            raise NotFound(f"table {st.info.name}: no entry with this match")
        return eid

    def _undo_encoded(self, pl: Pipeline, undo: list[tuple[Any, ...]]) -> None:
        """Reverse applied updates, newest first, so every entry gets its old handle back."""

        for item in reversed(undo):
            kind, st = item[0], item[1]
            if kind == self.UPDATE_INSERT:
                self._apply_delete(pl, st, item[2])
            elif kind == self.UNDO_INSERTED:
                for eid in reversed(item[2]):
                    self._apply_delete(pl, st, eid)
            elif kind == self.UPDATE_MODIFY:
                eid, (action, values) = item[2], item[3]
                pl.entry_set(st.index, eid, action, values, False)
            else:
                eid, row, priority, (action, values), (packets, octets) = item[2:]
                reclaim_id(st, eid)
                st.matcher_add(encoded_from_stored(st, row, priority), eid)
                pl.entry_set(st.index, eid, action, values)
                pl.entry_counter_set(st.index, eid, packets, octets)

    def table_read_encoded(self, table: str | int) -> tuple[Any, bytes, Any, Any, bytes]:
        """Every entry of `table` as columns, consistent with one moment between writes:
        (handles array('I'), stored rows, priorities array('q'), engine action refs
        array('i'), packed parameters: table_param_stride(table) 16-byte little-endian
        values per entry)."""
        with self._write_lock:
            return bulk.read_entries(self._table(table), self._require())

    def table_find_stored(self, table: str | int, row: bytes, priority: int) -> int | None:
        """The handle of the entry with this stored row and priority, if there is one."""

        st = self._table(table)
        return st.find(encoded_from_stored(st, row, priority))

    def direct_meter_reset(self, table: str | int, handle: int) -> None:
        """Back to the unconfigured meter: every packet is green."""
        st = self._table(table)
        if st.info.direct_meter is None:
            raise InvalidArgument(f"table {st.info.name} has no direct meter")
        if not st.exists(handle):
            raise NotFound(f"table {st.info.name}: no entry {handle}")
        mi = self.compiled.meter_by_name[st.info.direct_meter]
        self._require().meter_arrays_by_index[mi].reset(handle)

    def table_last_hits(self, table: str | int, handles: list[int]) -> list[int]:
        """CLOCK_MONOTONIC ns of each entry's last hit (or insertion); 0 for every entry of a
        table that does not track hits (the program's support_timeout)."""
        pl = self._require()
        ti = self._table(table).index
        return [pl.entry_last_hit(ti, h) for h in handles]

    def table_idle_handles(self, table: str | int, handles: list[int],
                           older_than_ns: int) -> list[int]:
        """Those of `handles` whose last hit (or insertion) is before `older_than_ns`
        (CLOCK_MONOTONIC); none for a table that does not track hits."""
        return self._require().entries_idle(self._table(table).index, handles, older_than_ns)

    def table_read_handles(self, table: str | int) -> list[int]:
        """The handles of every entry of `table`, in handle order."""
        return self._table(table).ids()


# Port numbers are v1model's 9-bit egress_spec, less the drop port (Switch._check_port): the
# same bound for attached ports, the CPU port, packets given to process() and replica ports, so
# that no port reaches the engine's narrower or wider slots cut to another one.
MAX_PORT = 511
MAX_MC_GROUP = 65535         # the engine indexes groups by 16 bits
MAX_CLONE_SESSION = 32767    # and clone sessions by 15
MAX_INSTANCE = 65535         # v1model's egress_rid
MAX_U32 = (1 << 32) - 1
# Port counters each queue of a split port keeps for itself (summed); the others (FCS errors)
# are the interface's, read through any queue.
PER_QUEUE_COUNTERS = frozenset(("rx_packets", "rx_bytes", "rx_dropped", "rx_errors", "tx_packets",
                                "tx_bytes", "tx_dropped", "rx_multicast", "rx_broadcast",
                                "tx_multicast", "tx_broadcast", "rx_zero_copy", "rx_copied",
                                "tx_zero_copy", "tx_copied"))
MAX_U64 = (1 << 64) - 1


def _worker_pools(pools: Sequence[PacketPool], pool: PacketPool | None,
                  workers: int) -> list[PacketPool]:
    """Switch(pools=...): one pool per worker, each its own, all of one buffer size (a frame
    fits every worker's buffers alike)."""
    pools = list(pools)
    if pool is not None:
        raise InvalidArgument("give pool or pools, not both")
    if len(pools) != workers or not all(isinstance(p, PacketPool) for p in pools):
        raise InvalidArgument(f"pools: one PacketPool per worker ({workers}), got {len(pools)}")
    if len({id(p) for p in pools}) != len(pools):
        raise InvalidArgument("pools: each worker needs a pool of its own (a pool is not "
                              "thread-safe)")
    if len({p.buf_size for p in pools}) != 1:
        raise InvalidArgument("pools: every worker's pool needs the same buffer size")
    return pools


def check_int(what: str, value: Any, lo: int, hi: int) -> None:
    """Refuse anything but an int in lo..hi (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidArgument(f"{what} {value!r} not in {lo}..{hi}")


def _replicas(what: str, replicas: Iterable[tuple[int, int]],
              check_port: Callable[[str, Any], None]) -> list[tuple[int, int]]:
    """(port, instance) pairs, each checked to fit what the engine stores."""
    try:
        items = list(replicas)
    except TypeError:
        raise InvalidArgument(f"{what}: replicas must be a list of (port, instance)") from None
    nodes = []
    for i, pair in enumerate(items):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise InvalidArgument(f"{what}: replica {i} {pair!r} is not a (port, instance) pair")
        check_port(f"{what}: replica {i} port", pair[0])
        check_int(f"{what}: replica {i} instance", pair[1], 0, MAX_INSTANCE)
        nodes.append((int(pair[0]), int(pair[1])))
    return nodes


# Member and group ids index dense arrays in the engine (the P4Runtime server maps a
# controller's arbitrary 32-bit ids onto small ones).
MAX_PROFILE_ID = 1 << 24


def _check_profile_id(kind: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value < MAX_PROFILE_ID:
        raise InvalidArgument(f"{kind} id {value!r} not in 0..{MAX_PROFILE_ID - 1}")
