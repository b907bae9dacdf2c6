"""TableEntry and DirectCounterEntry/DirectMeterEntry: P4Runtime requests onto the target's
table API.

The target is the truth about which entries exist: their keys, priorities, actions and
counters are read back from it, so the server holds no copy of a plain entry. What the
target does not store is kept per entry handle in a Record, only for the entries that have
it: controller metadata, metadata, the idle timeout, a direct meter's configuration, and for
indirect tables the member/group reference or the one-shot action set as written.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runtime_server.entry_codec import Key, decode_action, decode_key, encode_action, encode_key
from runtime_server.errors import P4RuntimeError, StatusCode, call_target
from runtime_server.p4info_index import MatchType, P4InfoIndex, Scope, TableInfo
from runtime_server.proto import p4runtime_pb2

# Size of the ReadResponse bodies a whole-table read is cut into: well under a default
# client's 4 MB message limit.
READ_CHUNK_BYTES = 1 << 20


class FramedEntities(bytes):
    """A ready ReadResponse body (a run of `entities` fields): Read sends it as one message
    instead of wrapping each entity itself."""


def _filters(request: p4runtime_pb2.TableEntry) -> bool:
    """A wildcard read request that filters on more than the table."""
    return bool(request.HasField("action") or request.controller_metadata or
                request.metadata or request.priority or request.HasField("time_since_last_hit"))

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


def _denied(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.PERMISSION_DENIED, message)


class Record:
    """What the target does not store about one entry (absent for plain entries)."""

    __slots__ = ("controller_metadata", "metadata", "idle_timeout_ns", "meter_config",
                 "oneshot", "profile_ref", "action_set", "idle_since", "idle_notified")

    def __init__(self) -> None:
        self.controller_metadata = 0
        self.metadata = b""
        self.idle_timeout_ns = 0
        self.meter_config: bytes | None = None  # MeterConfig bytes; None = default (green)
        self.oneshot: object | None = None  # the action profile's one-shot bookkeeping
        self.profile_ref: tuple[str, int] | None = None  # ("member" | "group", id) used
        self.action_set: bytes | None = None  # canonical TableAction of a one-shot
        self.idle_since = 0  # CLOCK_MONOTONIC ns of the write that (re)started the idle timer
        self.idle_notified = -1  # the idle timer's start when it was last notified

    def empty(self) -> bool:
        return not (self.controller_metadata or self.metadata or self.idle_timeout_ns or
                    self.meter_config is not None or self.oneshot is not None or
                    self.profile_ref is not None or self.action_set is not None)


@dataclass
class TableState:
    info: TableInfo
    target_name: str
    to_target_match: Callable[[Key], list]
    records: dict[int, Record] = dataclasses.field(default_factory=dict)  # by target handle
    read_fields: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    action_refs: dict[int, tuple[int, list[tuple[int, int]]]] = dataclasses.field(default_factory=dict)
    default_meter_config: bytes | None = None
    default_metadata: tuple[int, bytes] = (0, b"")


class Tables:
    """All tables of one committed pipeline."""

    def __init__(self, switch, index: P4InfoIndex, oneshots) -> None:
        self.switch = switch
        self.index = index
        self.oneshots = oneshots  # action_profiles.ActionProfiles, for indirect tables
        self.states: dict[int, TableState] = {}
        for table_id, info in index.tables.items():
            target_table = switch.program.tables[info.name]
            state = TableState(info, info.name, _match_builder(info, target_table))
            state.read_fields = [(f.id, f.match_type, f.bitwidth) for f in info.match_fields]
            if not info.implementation_id:
                for action_id in info.action_scopes:
                    action = index.actions[action_id]
                    ref = call_target(switch.table_action_ref, info.name, action.name)
                    state.action_refs[ref] = (action_id, [(p.id, p.bitwidth)
                                                          for p in action.params])
            self.states[table_id] = state

    # ---- writes ---------------------------------------------------------------------------

    def check(self, update_type: int, entry: p4runtime_pb2.TableEntry) -> None:
        """Every check of write() that does not look at the entries, in write()'s order:
        what refuses an update here refuses it there with the same error, so the caller can
        refuse it without the write lock."""
        state = self._state(entry)
        if not entry.is_default_action:
            self._checked(state, update_type, entry)

    def write(self, update_type: int, entry: p4runtime_pb2.TableEntry) -> None:
        state = self._state(entry)
        info = state.info
        if entry.is_default_action:
            self._write_default(state, update_type, entry)
            return
        key, priority = self._checked(state, update_type, entry)
        handle = self.find(state, key, priority)
        if update_type == INSERT:
            if handle is not None:
                raise P4RuntimeError(StatusCode.ALREADY_EXISTS, "Match entry exists, use MODIFY if "
                                     f"you wish to change action: {info.name}")
            self._insert(state, key, priority, entry)
        elif update_type == MODIFY:
            if handle is None:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"Cannot find match entry: {info.name}")
            self._modify(state, handle, entry)
        else:
            if handle is None:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"Cannot find match entry: {info.name}")
            if info.is_const_table:
                raise _denied(f"table {info.name!r} is const")
            call_target(self.switch.table_delete, state.target_name, handle)
            record = state.records.pop(handle, None)
            if record is not None:
                self._drop_profile_use(state, record)

    def _state(self, entry: p4runtime_pb2.TableEntry) -> TableState:
        state = self.states.get(entry.table_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {entry.table_id}")
        if entry.is_const:
            raise _invalid("TableEntry.is_const must be false in a write")
        return state

    def _checked(self, state: TableState, update_type: int,
                 entry: p4runtime_pb2.TableEntry) -> tuple[Key, int]:
        """The decoded key and priority of a non-default entry, after every check that
        needs no lookup."""
        info = state.info
        if entry.idle_timeout_ns < 0:
            raise _invalid(f"idle_timeout_ns must be a positive value: {entry.idle_timeout_ns}")
        if entry.idle_timeout_ns and not info.supports_idle_timeout:
            raise _invalid("idle_timeout_ns must be set to 0 for tables which do not support "
                           f"idle timeout: table {info.name!r}")
        if entry.HasField("time_since_last_hit"):
            raise _invalid("has_time_since_last_hit must not be set in WriteRequest")
        if info.is_const_table and (update_type != MODIFY or entry.HasField("action")):
            raise _denied(f"table {info.name!r} is const: its entries cannot change")
        key = decode_key(info.match_fields, info.match_fields_by_id, entry.match, info.name)
        priority = entry.priority
        if info.needs_priority:
            if priority <= 0:
                raise _invalid(f"Zero priority for ternary match: table {info.name!r} needs a "
                               f"priority above 0 (got {priority})")
        elif priority != 0:
            raise _invalid(f"Non-zero priority for non-ternary match: table {info.name!r} takes "
                           f"no priority (got {priority})")
        if update_type not in (INSERT, MODIFY, DELETE):
            raise _invalid(f"Invalid update type: {update_type} is not INSERT, MODIFY or DELETE")
        # The action and direct resources are checked before the entry is looked up, as PI
        # does: a bad action is INVALID_ARGUMENT whether or not the match exists.
        if update_type == INSERT and not entry.HasField("action"):
            raise _invalid(f"'action' field must be set for non-default entries: {info.name}")
        if update_type in (INSERT, MODIFY):
            self._check_direct_resources(state, entry)
            if entry.HasField("action") and not info.is_const_table and \
                    not info.implementation_id:
                if entry.action.WhichOneof("type") != "action":
                    raise _invalid(f"Cannot provide indirect action for direct table {info.name}")
                self._direct_action(state, entry.action.action, default=False)
        return key, priority

    def find(self, state: TableState, key: Key, priority: int) -> int | None:
        """The target handle of the entry with this key and priority, if any."""
        return call_target(self.switch.table_find, state.target_name,
                           state.to_target_match(key), priority or None)

    def forget(self, state: TableState, handle: int) -> None:
        """Drop what the server keeps for an entry the target no longer has (or that a
        plain MODIFY reset)."""
        record = state.records.pop(handle, None)
        if record is not None:
            self._drop_profile_use(state, record)

    def _insert(self, state: TableState, key: Key, priority: int, entry) -> None:
        info = state.info
        if not entry.HasField("action"):
            raise _invalid(f"'action' field must be set for non-default entries: {info.name}")
        self._check_direct_resources(state, entry)
        match = state.to_target_match(key)
        target_priority = priority or None
        oneshot = None
        record = Record()
        if info.implementation_id:
            target_kwargs, oneshot = self._indirect_action(state, entry.action)
            try:
                handle = call_target(self.switch.table_add, state.target_name, match,
                                     priority=target_priority, **target_kwargs)
            except P4RuntimeError:
                if oneshot is not None:
                    self.oneshots.release_oneshot(oneshot)
                raise
            if oneshot is not None:
                record.action_set = _canonical_table_action(self.index, entry.action) \
                    .SerializeToString()
        else:
            if entry.action.WhichOneof("type") != "action":
                raise _invalid(f"Cannot provide indirect action for direct table {info.name}")
            action, params = self._direct_action(state, entry.action.action, default=False)
            handle = call_target(self.switch.table_add, state.target_name, match, action, params,
                                 priority=target_priority)
        record.oneshot = oneshot
        self._take_profile_use(state, record, entry.action)
        self._apply_direct_resources(state, handle, record, entry, inserting=True)
        self._set_metadata(record, entry)
        if not record.empty():
            state.records[handle] = record

    @staticmethod
    def _set_metadata(record: Record, entry) -> None:
        record.controller_metadata = entry.controller_metadata
        record.metadata = entry.metadata
        record.idle_timeout_ns = entry.idle_timeout_ns
        if entry.idle_timeout_ns:   # an insert or modify restarts the idle timer
            record.idle_since = time.monotonic_ns()     # the engine's clock too
            record.idle_notified = -1

    def _modify(self, state: TableState, handle: int, entry) -> None:
        info = state.info
        self._check_direct_resources(state, entry)
        record = state.records.get(handle) or Record()
        if entry.HasField("action") and not info.is_const_table:
            if info.implementation_id:
                target_kwargs, oneshot = self._indirect_action(state, entry.action)
                try:
                    call_target(self.switch.table_modify, state.target_name, handle,
                                **target_kwargs)
                except P4RuntimeError:
                    if oneshot is not None:
                        self.oneshots.release_oneshot(oneshot)
                    raise
                self._drop_profile_use(state, record)
                record.oneshot = oneshot
                record.action_set = None if oneshot is None else \
                    _canonical_table_action(self.index, entry.action).SerializeToString()
                self._take_profile_use(state, record, entry.action)
            else:
                if entry.action.WhichOneof("type") != "action":
                    raise _invalid(f"Cannot provide indirect action for direct table {info.name}")
                action, params = self._direct_action(state, entry.action.action, default=False)
                call_target(self.switch.table_modify, state.target_name, handle, action, params)
        self._apply_direct_resources(state, handle, record, entry, inserting=False)
        self._set_metadata(record, entry)
        if record.empty():
            state.records.pop(handle, None)
        else:
            state.records[handle] = record

    def _indirect_action(self, state: TableState, action: p4runtime_pb2.TableAction):
        info = state.info
        kind = action.WhichOneof("type")
        profile_id = info.implementation_id
        if kind == "action_profile_member_id":
            return {"member": self.oneshots.check_member_reference(
                profile_id, action.action_profile_member_id)}, None
        if kind == "action_profile_group_id":
            return {"group": self.oneshots.check_group_reference(
                profile_id, action.action_profile_group_id)}, None
        if kind == "action_profile_action_set":
            allowed = set(info.action_scopes)
            oneshot = self.oneshots.create_oneshot(
                profile_id, action.action_profile_action_set, allowed, info.name
            )
            return {"group": oneshot.group_id}, oneshot
        raise _invalid(f"Cannot provide direct action for indirect table {info.name}: give a "
                       "member, a group or an action set")

    def _take_profile_use(self, state: TableState, record: Record, action) -> None:
        kind = action.WhichOneof("type")
        if kind == "action_profile_member_id":
            record.profile_ref = ("member", action.action_profile_member_id)
        elif kind == "action_profile_group_id":
            record.profile_ref = ("group", action.action_profile_group_id)
        else:
            return
        self.oneshots.add_reference(state.info.implementation_id, *record.profile_ref, 1)

    def _drop_profile_use(self, state: TableState, record: Record) -> None:
        if record.oneshot is not None:
            self.oneshots.release_oneshot(record.oneshot)
            record.oneshot = None
        if record.profile_ref is not None:
            self.oneshots.add_reference(state.info.implementation_id, *record.profile_ref, -1)
            record.profile_ref = None

    def _direct_action(self, state: TableState, action, default: bool) -> tuple[str, list[int]]:
        info = state.info
        action_info, params = decode_action(self.index, action, info.action_scopes, info.name)
        scope = info.action_scopes[action.action_id]
        if default and scope == Scope.TABLE_ONLY:
            raise _denied(f"Cannot use TABLE_ONLY action as default action: {info.name}: "
                          f"action {action_info.name!r}")
        if not default and scope == Scope.DEFAULT_ONLY:
            raise _denied(f"Cannot use DEFAULT_ONLY action in table entry: {info.name}: "
                          f"action {action_info.name!r}")
        return action_info.name, params

    def _check_direct_resources(self, state: TableState, entry) -> None:
        info = state.info
        if entry.HasField("counter_data") and not info.direct_counter_id:
            raise _invalid(f"Table has no direct counters: {info.name!r}")
        if entry.HasField("meter_config") and not info.direct_meter_id:
            raise _invalid(f"Table has no direct meters: {info.name!r}")
        if entry.HasField("meter_counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")

    def _apply_direct_resources(self, state: TableState, handle: int, record: Record, entry,
                                inserting: bool) -> None:
        info = state.info
        if info.direct_counter_id and (inserting or entry.HasField("counter_data")):
            data = entry.counter_data
            call_target(self.switch.direct_counter_write, state.target_name, handle,
                        data.packet_count, data.byte_count)
        if info.direct_meter_id:
            config = entry.meter_config if entry.HasField("meter_config") else None
            self._set_direct_meter(state, handle, config)
            record.meter_config = None if config is None else config.SerializeToString()

    def _set_direct_meter(self, state: TableState, handle: int, config) -> None:
        if config is None:
            call_target(self.switch.direct_meter_reset, state.target_name, handle)
        else:
            call_target(self.switch.direct_meter_set, state.target_name, handle,
                        config.cir, config.cburst, config.pir, config.pburst)

    def _write_default(self, state: TableState, update_type: int, entry) -> None:
        info = state.info
        if update_type != MODIFY:
            verb = {INSERT: "INSERT", DELETE: "DELETE"}.get(update_type, str(update_type))
            raise _invalid(f"Cannot use {verb} for default entry: {info.name}: the default "
                           "entry can only be modified")
        if entry.match:
            raise _invalid(f"Non-empty key for default entry: {info.name}")
        if entry.priority:
            raise _invalid(f"Non-zero priority for default entry: {info.name}")
        if entry.idle_timeout_ns or entry.HasField("time_since_last_hit"):
            raise _invalid(f"{info.name}: no idle timeout on the default entry")
        if info.const_default_action_id:
            raise _denied(f"Cannot set / reset default action for table {info.id} which has a "
                          f"const default action: {info.name}")
        if info.implementation_id and entry.HasField("action"):
            raise _denied(f"Cannot set / reset default action for indirect table {info.id}: "
                          f"{info.name}")
        self._check_direct_resources(state, entry)
        if entry.HasField("action"):
            if entry.action.WhichOneof("type") != "action":
                raise _invalid(f"{info.name}: a default entry's action must be an Action")
            action, params = self._direct_action(state, entry.action.action, default=True)
            call_target(self.switch.table_set_default, state.target_name, action, params)
            state.default_metadata = (entry.controller_metadata, entry.metadata)
        else:
            call_target(self.switch.table_reset_default, state.target_name)
            state.default_metadata = (0, b"")

    # ---- reads ----------------------------------------------------------------------------

    def read(self, request: p4runtime_pb2.TableEntry) -> Iterator[bytes]:
        """Serialized TableEntry messages matching a (possibly wildcard) read request."""
        if request.table_id == 0:
            if request.match or request.priority or request.HasField("action") or \
                    request.is_default_action:
                raise _invalid("a read of all tables takes no other filter")
            for state in self.states.values():
                yield from self._read_table(state, request)
            return
        state = self.states.get(request.table_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {request.table_id}")
        yield from self._read_table(state, request)

    def _read_table(self, state: TableState, request) -> Iterator[bytes]:
        info = state.info
        if request.is_default_action:
            yield self._read_default(state, request)
            return
        want_counter = request.HasField("counter_data") and info.direct_counter_id
        want_meter = request.HasField("meter_config") and info.direct_meter_id
        want_hit = request.HasField("time_since_last_hit") and info.supports_idle_timeout
        if request.match:
            key = decode_key(info.match_fields, info.match_fields_by_id, request.match, info.name)
            handle = self.find(state, key, request.priority)
            entries = iter(()) if handle is None else \
                iter([(handle, self.entry_bytes(state, handle))])
        else:
            if not (want_counter or want_meter or _filters(request)):
                framed = self.framed_entries(state)
                if framed is not None:
                    yield from framed
                    return
            entries = self.all_entries(state)
        action_filter = request.action.action.action_id if request.HasField("action") else 0
        filtering = bool(action_filter or request.controller_metadata or request.metadata or
                         (request.priority and not request.match))
        for handle, entry in entries:
            if filtering and not _passes_filter(entry, action_filter, request):
                continue
            if not (want_counter or want_meter or want_hit):
                yield entry
                continue
            extra = p4runtime_pb2.TableEntry()
            if want_hit:
                last_hit, = call_target(self.switch.table_last_hits, state.target_name, [handle])
                extra.time_since_last_hit.elapsed_ns = max(0, time.monotonic_ns() - last_hit)
            if want_counter:
                packets, octets = call_target(self.switch.direct_counter_read, state.target_name,
                                              handle)
                extra.counter_data.packet_count = packets
                extra.counter_data.byte_count = octets
            record = state.records.get(handle)
            if want_meter and record is not None and record.meter_config is not None:
                extra.meter_config.ParseFromString(record.meter_config)
            # Concatenated serializations merge: the stored entry plus the live fields.
            yield entry + extra.SerializeToString()

    def all_entries(self, state: TableState) -> Iterator[tuple[int, bytes]]:
        """(handle, canonical TableEntry bytes) of every entry, in handle order."""
        if state.info.implementation_id or not state.read_fields:
            for handle in call_target(self.switch.table_read_handles, state.target_name):
                yield handle, self.entry_bytes(state, handle)
            return
        from runtime_server.read_encoder import encode_table_entries

        handles, rows, priorities, refs, params = call_target(
            self.switch.table_read_encoded, state.target_name)
        try:
            encoded = encode_table_entries(state.info.id, state.read_fields, rows, priorities,
                                           refs, params, len(params) // (16 * len(handles))
                                           if handles else 1, state.action_refs)
        except (ValueError, KeyError):  # a key or action the fast encoder does not cover
            encoded = None
        records = state.records
        for k, handle in enumerate(handles):
            if encoded is None or handle in records:
                yield handle, self.entry_bytes(state, handle)
            else:
                yield handle, encoded[k]

    def framed_entries(self, state: TableState) -> list[FramedEntities] | None:
        """Every entry of the table as ready ReadResponse bodies, when all of them are
        plain (no Record) and the fast encoder covers the table; else None."""
        if state.info.implementation_id or not state.read_fields or state.records:
            return None
        from runtime_server.read_encoder import encode_entity_chunks

        handles, rows, priorities, refs, params = call_target(
            self.switch.table_read_encoded, state.target_name)
        if not handles:
            return []
        try:
            chunks = encode_entity_chunks(state.info.id, state.read_fields, rows, priorities,
                                          refs, params, len(params) // (16 * len(handles)),
                                          state.action_refs, READ_CHUNK_BYTES)
        except (ValueError, KeyError):  # a key or action the fast encoder does not cover
            return None
        return [FramedEntities(chunk) for chunk in chunks]

    def entry_bytes(self, state: TableState, handle: int) -> bytes:
        """The canonical TableEntry of one entry, from the target plus its Record."""
        info = state.info
        target_entry = call_target(self.switch.table_entry, state.target_name, handle)
        key = _key_from_target(info, target_entry.match)
        entry = p4runtime_pb2.TableEntry(table_id=info.id, priority=target_entry.priority or 0)
        entry.match.extend(encode_key(info.match_fields, key))
        record = state.records.get(handle)
        if record is not None and record.action_set is not None:
            entry.action.ParseFromString(record.action_set)
        elif target_entry.member is not None:
            entry.action.action_profile_member_id = self.oneshots.controller_member(
                info.implementation_id, target_entry.member) or 0
        elif target_entry.group is not None:
            entry.action.action_profile_group_id = self.oneshots.controller_group(
                info.implementation_id, target_entry.group) or 0
        else:
            action_info = self.index.get_action_info(target_entry.action)
            if action_info is not None:
                entry.action.action.CopyFrom(
                    encode_action(action_info, _param_list(target_entry.params, action_info)))
        if record is not None:
            entry.controller_metadata = record.controller_metadata
            entry.metadata = record.metadata
            entry.idle_timeout_ns = record.idle_timeout_ns
        return entry.SerializeToString()

    def _read_default(self, state: TableState, request) -> bytes:
        info = state.info
        entry = p4runtime_pb2.TableEntry(table_id=info.id, is_default_action=True)
        action_name, params = call_target(self.switch.table_get_default, state.target_name)
        if action_name is not None:
            action_info = self.index.get_action_info(action_name)
            if action_info is not None:
                entry.action.action.CopyFrom(encode_action(action_info, _param_list(params,
                                                                                    action_info)))
        entry.controller_metadata, entry.metadata = state.default_metadata
        return entry.SerializeToString()

    # ---- direct resources as their own entities ---------------------------------------------

    def handle_for(self, entry: p4runtime_pb2.TableEntry) -> tuple[TableState, int]:
        state = self.states.get(entry.table_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {entry.table_id}")
        info = state.info
        key = decode_key(info.match_fields, info.match_fields_by_id, entry.match, info.name)
        handle = self.find(state, key, entry.priority)
        if handle is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"{info.name}: no such entry")
        return state, handle

    def _selected(self, request: p4runtime_pb2.TableEntry, has_resource: Callable[[TableInfo], int]
                  ) -> Iterator[tuple[TableState, int, bytes]]:
        """(state, handle, entry bytes) of the entries a direct-resource read names."""
        if request.match:
            state, handle = self.handle_for(request)
            if not has_resource(state.info):
                raise _invalid(f"table {state.info.name!r} has no such direct resource")
            yield state, handle, self.entry_bytes(state, handle)
            return
        if request.table_id:
            state = self.states.get(request.table_id)
            if state is None:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {request.table_id}")
            if not has_resource(state.info):
                raise _invalid(f"table {state.info.name!r} has no such direct resource")
            states = [state]
        else:
            states = [s for s in self.states.values() if has_resource(s.info)]
        for state in states:
            for handle, entry in self.all_entries(state):
                yield state, handle, entry

    def write_direct_counter(self, update_type: int, entity) -> None:
        if update_type != MODIFY:
            raise _invalid("DirectCounterEntry can only be modified")
        state, handle = self.handle_for(entity.table_entry)
        if not state.info.direct_counter_id:
            raise _invalid(f"Table has no direct counters: {state.info.name!r}")
        if entity.HasField("data"):
            call_target(self.switch.direct_counter_write, state.target_name, handle,
                        entity.data.packet_count, entity.data.byte_count)

    def read_direct_counter(self, entity) -> Iterator[p4runtime_pb2.DirectCounterEntry]:
        for state, handle, entry in self._selected(entity.table_entry,
                                                   lambda info: info.direct_counter_id):
            packets, octets = call_target(self.switch.direct_counter_read, state.target_name,
                                          handle)
            out = p4runtime_pb2.DirectCounterEntry()
            out.table_entry.ParseFromString(entry)
            out.data.packet_count = packets
            out.data.byte_count = octets
            yield out

    def write_direct_meter(self, update_type: int, entity) -> None:
        if update_type != MODIFY:
            raise _invalid("DirectMeterEntry can only be modified")
        if entity.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        state, handle = self.handle_for(entity.table_entry)
        if not state.info.direct_meter_id:
            raise _invalid(f"Table has no direct meters: {state.info.name!r}")
        config = entity.config if entity.HasField("config") else None
        self._set_direct_meter(state, handle, config)
        record = state.records.get(handle) or Record()
        record.meter_config = None if config is None else config.SerializeToString()
        if record.empty():
            state.records.pop(handle, None)
        else:
            state.records[handle] = record

    def read_direct_meter(self, entity) -> Iterator[p4runtime_pb2.DirectMeterEntry]:
        if entity.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        for state, handle, entry in self._selected(entity.table_entry,
                                                   lambda info: info.direct_meter_id):
            out = p4runtime_pb2.DirectMeterEntry()
            out.table_entry.ParseFromString(entry)
            record = state.records.get(handle)
            if record is not None and record.meter_config is not None:
                out.config.ParseFromString(record.meter_config)
            yield out

    def entry_count(self) -> int:
        return sum(call_target(self.switch.table_size, s.target_name)
                   for s in self.states.values())


def _canonical_table_action(index: P4InfoIndex, action: p4runtime_pb2.TableAction):
    """The TableAction as it is read back: parameters canonical, in declaration order."""
    kind = action.WhichOneof("type")
    if kind == "action":
        info, params = decode_action(index, action.action, None, "action")
        return p4runtime_pb2.TableAction(action=encode_action(info, params))
    if kind == "action_profile_action_set":
        out = p4runtime_pb2.TableAction()
        out.action_profile_action_set.CopyFrom(action.action_profile_action_set)
        for item in out.action_profile_action_set.action_profile_actions:
            info, params = decode_action(index, item.action, None, "action")
            item.action.CopyFrom(encode_action(info, params))
        return out
    return action


def _passes_filter(entry_bytes: bytes, action_id: int, request) -> bool:
    entry = p4runtime_pb2.TableEntry.FromString(entry_bytes)
    if action_id and entry.action.action.action_id != action_id:
        return False
    if request.controller_metadata and entry.controller_metadata != request.controller_metadata:
        return False
    return not (request.metadata and entry.metadata != request.metadata)


def _param_list(params, action_info) -> list[int]:
    if isinstance(params, dict):
        return [params[p.name] for p in action_info.params]
    return list(params)


def _key_from_target(info: TableInfo, match: list) -> Key:
    """A decoded key from the target's match objects (entries the program brings)."""
    key = []
    for field, item in zip(info.match_fields, match, strict=True):
        if item is None:
            key.append(None)
            continue
        kind = field.match_type
        full = (1 << field.bitwidth) - 1
        if kind == MatchType.EXACT:
            key.append((item.value,))
        elif kind == MatchType.LPM:
            key.append((item.value, item.prefix_len) if item.prefix_len else None)
        elif kind == MatchType.TERNARY:
            key.append((item.value & item.mask, item.mask) if item.mask else None)
        elif kind == MatchType.RANGE:
            key.append(None if (item.low, item.high) == (0, full) else (item.low, item.high))
        else:  # optional, possibly held as a ternary by the target
            mask = getattr(item, "mask", full)
            value = getattr(item, "value", None)
            key.append(None if value is None or mask == 0 else (value,))
    return tuple(key)


def _match_builder(info: TableInfo, target_table) -> Callable[[Key], list]:
    """A function from a decoded key to the target's match list for this table."""
    from target import Exact, Lpm, Optional, Range, Ternary

    builders: list[Callable[[tuple[int, ...] | None], object]] = []
    for field, target_key in zip(info.match_fields, target_table.keys, strict=True):
        full = (1 << field.bitwidth) - 1
        kind = field.match_type
        if kind == MatchType.EXACT:
            builders.append(lambda v: Exact(v[0]))
        elif kind == MatchType.LPM:
            builders.append(lambda v: Lpm(0, 0) if v is None else Lpm(v[0], v[1]))
        elif kind == MatchType.TERNARY:
            builders.append(lambda v: None if v is None else Ternary(v[0], v[1]))
        elif kind == MatchType.RANGE:
            builders.append(lambda v: None if v is None else Range(v[0], v[1]))
        elif target_key.match_type == "optional":
            builders.append(lambda v: Optional(None) if v is None else Optional(v[0]))
        else:  # p4c gives BMv2 an optional key as a ternary one
            builders.append(lambda v, m=full: None if v is None else Ternary(v[0], m))

    def build(key: Key) -> list:
        return [builder(value) for builder, value in zip(builders, key, strict=True)]

    return build
