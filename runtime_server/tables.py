"""TableEntry and DirectCounterEntry/DirectMeterEntry: P4Runtime requests onto the target's
table API.

The server keeps, per table, the canonical TableEntry of every entry it holds (serialized,
without direct-resource data) keyed by the decoded match key and priority.  That record is
what the target does not store (controller metadata, the idle timeout, a one-shot action
set as written) and makes reads a concatenation of bytes; counters are read live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from runtime_server.entry_codec import Key, decode_action, decode_key, encode_action, encode_key
from runtime_server.errors import P4RuntimeError, StatusCode, call_target
from runtime_server.p4info_index import MatchType, P4InfoIndex, Scope, TableInfo
from runtime_server.proto import p4runtime_pb2

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


def _denied(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.PERMISSION_DENIED, message)


class Record:
    """One entry: its target handle, canonical TableEntry bytes, and what goes with it."""

    __slots__ = ("handle", "entry", "meter_config", "oneshot", "profile_ref")

    def __init__(self, handle: int, entry: bytes) -> None:
        self.handle = handle
        self.entry = entry
        self.meter_config: bytes | None = None  # MeterConfig bytes; None = default (green)
        self.oneshot: object | None = None  # the action profile's one-shot bookkeeping
        self.profile_ref: tuple[str, int] | None = None  # ("member" | "group", id) used


@dataclass
class TableState:
    info: TableInfo
    target_name: str
    records: dict[tuple[Key, int], Record]
    to_target_match: Callable[[Key], list]
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
            self.states[table_id] = TableState(
                info, info.name, {}, _match_builder(info, target_table)
            )

    # ---- writes ---------------------------------------------------------------------------

    def write(self, update_type: int, entry: p4runtime_pb2.TableEntry) -> None:
        state = self.states.get(entry.table_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {entry.table_id}")
        if entry.is_const:
            raise _invalid("TableEntry.is_const must be false in a write")
        info = state.info
        if entry.is_default_action:
            self._write_default(state, update_type, entry)
            return
        if entry.idle_timeout_ns and not info.supports_idle_timeout:
            raise _invalid(f"table {info.name!r} does not support idle timeout")
        if entry.HasField("time_since_last_hit"):
            raise _invalid("time_since_last_hit is set in a write")
        if info.is_const_table and (update_type != MODIFY or entry.HasField("action")):
            raise _denied(f"table {info.name!r} is const: its entries cannot change")
        if not info.match_fields and update_type == INSERT:
            raise _invalid(f"table {info.name!r} has no key: only its default entry can be set")
        key = decode_key(info.match_fields, info.match_fields_by_id, entry.match, info.name)
        priority = entry.priority
        if info.needs_priority:
            if priority <= 0:
                raise _invalid(f"table {info.name!r} needs a priority above 0")
        elif priority != 0:
            raise _invalid(f"table {info.name!r} takes no priority (got {priority})")
        record_key = (key, priority)
        record = state.records.get(record_key)
        if update_type == INSERT:
            if record is not None:
                raise P4RuntimeError(StatusCode.ALREADY_EXISTS, f"{info.name}: entry exists")
            self._insert(state, record_key, entry)
        elif update_type == MODIFY:
            if record is None:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"{info.name}: no such entry")
            self._modify(state, record, entry)
        elif update_type == DELETE:
            if record is None:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"{info.name}: no such entry")
            if info.is_const_table:
                raise _denied(f"table {info.name!r} is const")
            call_target(self.switch.table_delete, state.target_name, record.handle)
            del state.records[record_key]
            self._drop_profile_use(state, record)
        else:
            raise _invalid(f"update type {update_type} is not INSERT, MODIFY or DELETE")

    def _insert(self, state: TableState, record_key: tuple[Key, int], entry) -> None:
        info = state.info
        if not entry.HasField("action"):
            raise _invalid(f"{info.name}: INSERT needs an action")
        self._check_direct_resources(state, entry)
        match = state.to_target_match(record_key[0])
        priority = record_key[1] or None
        oneshot = None
        kind = entry.action.WhichOneof("type")
        if info.implementation_id:
            target_kwargs, oneshot = self._indirect_action(state, entry.action)
            try:
                handle = call_target(self.switch.table_add, state.target_name, match,
                                    priority=priority, **target_kwargs)
            except P4RuntimeError:
                if oneshot is not None:
                    self.oneshots.release_oneshot(oneshot)
                raise
        else:
            if kind != "action":
                raise _invalid(f"{info.name} is a direct table: the action must be an Action")
            action, params = self._direct_action(state, entry.action.action, default=False)
            handle = call_target(self.switch.table_add, state.target_name, match, action, params,
                                priority=priority)
        record = Record(handle, b"")
        record.oneshot = oneshot
        self._take_profile_use(state, record, entry.action)
        self._apply_direct_resources(state, record, entry, inserting=True)
        record.entry = self._canonical_entry(state, record_key, entry)
        state.records[record_key] = record

    def _modify(self, state: TableState, record: Record, entry) -> None:
        info = state.info
        self._check_direct_resources(state, entry)
        if entry.HasField("action"):
            if info.implementation_id:
                target_kwargs, oneshot = self._indirect_action(state, entry.action)
                try:
                    call_target(self.switch.table_modify, state.target_name, record.handle,
                               **target_kwargs)
                except P4RuntimeError:
                    if oneshot is not None:
                        self.oneshots.release_oneshot(oneshot)
                    raise
                self._drop_profile_use(state, record)
                record.oneshot = oneshot
                self._take_profile_use(state, record, entry.action)
            else:
                if entry.action.WhichOneof("type") != "action":
                    raise _invalid(f"{info.name} is a direct table: the action must be an Action")
                action, params = self._direct_action(state, entry.action.action, default=False)
                call_target(self.switch.table_modify, state.target_name, record.handle, action,
                           params)
        self._apply_direct_resources(state, record, entry, inserting=False)
        old = p4runtime_pb2.TableEntry.FromString(record.entry)
        if entry.HasField("action") and not info.is_const_table:
            old.action.CopyFrom(_canonical_table_action(self.index, entry.action))
        old.controller_metadata = entry.controller_metadata
        old.metadata = entry.metadata
        old.idle_timeout_ns = entry.idle_timeout_ns
        record.entry = old.SerializeToString()

    def _indirect_action(self, state: TableState, action: p4runtime_pb2.TableAction):
        info = state.info
        kind = action.WhichOneof("type")
        profile_id = info.implementation_id
        if kind == "action_profile_member_id":
            self.oneshots.check_member_reference(profile_id, action.action_profile_member_id)
            return {"member": action.action_profile_member_id}, None
        if kind == "action_profile_group_id":
            self.oneshots.check_group_reference(profile_id, action.action_profile_group_id)
            return {"group": action.action_profile_group_id}, None
        if kind == "action_profile_action_set":
            allowed = set(info.action_scopes)
            oneshot = self.oneshots.create_oneshot(
                profile_id, action.action_profile_action_set, allowed, info.name
            )
            return {"group": oneshot.group_id}, oneshot
        raise _invalid(f"{info.name} is an indirect table: give a member, a group or an action set")

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
            raise _denied(f"{info.name}: action {action_info.name!r} cannot be the default")
        if not default and scope == Scope.DEFAULT_ONLY:
            raise _denied(f"{info.name}: action {action_info.name!r} is for the default only")
        return action_info.name, params

    def _check_direct_resources(self, state: TableState, entry) -> None:
        info = state.info
        if entry.HasField("counter_data") and not info.direct_counter_id:
            raise _invalid(f"table {info.name!r} has no direct counter")
        if entry.HasField("meter_config") and not info.direct_meter_id:
            raise _invalid(f"table {info.name!r} has no direct meter")
        if entry.HasField("meter_counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")

    def _apply_direct_resources(self, state: TableState, record: Record, entry,
                                inserting: bool) -> None:
        info = state.info
        if info.direct_counter_id and (inserting or entry.HasField("counter_data")):
            data = entry.counter_data
            call_target(self.switch.direct_counter_write, state.target_name, record.handle,
                       data.packet_count, data.byte_count)
        if info.direct_meter_id:
            config = entry.meter_config if entry.HasField("meter_config") else None
            self._set_direct_meter(state, record.handle, config)
            record.meter_config = None if config is None else config.SerializeToString()

    def _set_direct_meter(self, state: TableState, handle: int, config) -> None:
        if config is None:
            call_target(self.switch.direct_meter_reset, state.target_name, handle)
        else:
            call_target(self.switch.direct_meter_set, state.target_name, handle,
                       config.cir, config.cburst, config.pir, config.pburst)

    def _canonical_entry(self, state: TableState, record_key: tuple[Key, int], entry) -> bytes:
        info = state.info
        canonical = p4runtime_pb2.TableEntry(
            table_id=info.id,
            priority=record_key[1],
            controller_metadata=entry.controller_metadata,
            metadata=entry.metadata,
            idle_timeout_ns=entry.idle_timeout_ns,
        )
        canonical.match.extend(encode_key(info.match_fields, record_key[0]))
        canonical.action.CopyFrom(_canonical_table_action(self.index, entry.action))
        return canonical.SerializeToString()

    def _write_default(self, state: TableState, update_type: int, entry) -> None:
        info = state.info
        if update_type != MODIFY:
            raise _invalid(f"{info.name}: the default entry can only be modified")
        if entry.match or entry.priority:
            raise _invalid(f"{info.name}: a default entry has no match and no priority")
        if entry.idle_timeout_ns or entry.HasField("time_since_last_hit"):
            raise _invalid(f"{info.name}: no idle timeout on the default entry")
        if info.const_default_action_id:
            raise _denied(f"{info.name}: the default action is const")
        if info.implementation_id and entry.HasField("action"):
            raise _denied(f"{info.name}: an indirect table's default entry cannot change")
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
        if request.match:
            key = decode_key(info.match_fields, info.match_fields_by_id, request.match, info.name)
            record = state.records.get((key, request.priority))
            if record is None:
                return
            records = [record]
        else:
            records = state.records.values()
            if request.priority:
                records = [r for k, r in state.records.items() if k[1] == request.priority]
        action_filter = request.action.action.action_id if request.HasField("action") else 0
        for record in records:
            if (action_filter or request.controller_metadata or request.metadata) and \
                    not _passes_filter(record.entry, action_filter, request):
                continue
            if not (want_counter or want_meter):
                yield record.entry
                continue
            extra = p4runtime_pb2.TableEntry()
            if want_counter:
                packets, octets = call_target(self.switch.direct_counter_read, state.target_name,
                                             record.handle)
                extra.counter_data.packet_count = packets
                extra.counter_data.byte_count = octets
            if want_meter and record.meter_config is not None:
                extra.meter_config.ParseFromString(record.meter_config)
            # Concatenated serializations merge: the stored entry plus the live fields.
            yield record.entry + extra.SerializeToString()

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

    def record_for(self, entry: p4runtime_pb2.TableEntry) -> tuple[TableState, Record]:
        state = self.states.get(entry.table_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {entry.table_id}")
        info = state.info
        key = decode_key(info.match_fields, info.match_fields_by_id, entry.match, info.name)
        record = state.records.get((key, entry.priority))
        if record is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"{info.name}: no such entry")
        return state, record

    def write_direct_counter(self, update_type: int, entity) -> None:
        if update_type != MODIFY:
            raise _invalid("DirectCounterEntry can only be modified")
        state, record = self.record_for(entity.table_entry)
        if not state.info.direct_counter_id:
            raise _invalid(f"table {state.info.name!r} has no direct counter")
        if entity.HasField("data"):
            call_target(self.switch.direct_counter_write, state.target_name, record.handle,
                       entity.data.packet_count, entity.data.byte_count)

    def read_direct_counter(self, entity) -> Iterator[p4runtime_pb2.DirectCounterEntry]:
        requests = [entity.table_entry] if entity.table_entry.match else None
        tables = [self.states[entity.table_entry.table_id]] if entity.table_entry.table_id \
            else [s for s in self.states.values() if s.info.direct_counter_id]
        for state in tables:
            if state is None or not state.info.direct_counter_id:
                raise _invalid("the table has no direct counter")
            if requests is not None:
                pairs = [self.record_for(requests[0])]
            else:
                pairs = [(state, r) for r in state.records.values()]
            for state_, record in pairs:
                packets, octets = call_target(self.switch.direct_counter_read, state_.target_name,
                                             record.handle)
                out = p4runtime_pb2.DirectCounterEntry()
                out.table_entry.ParseFromString(record.entry)
                out.data.packet_count = packets
                out.data.byte_count = octets
                yield out

    def write_direct_meter(self, update_type: int, entity) -> None:
        if update_type != MODIFY:
            raise _invalid("DirectMeterEntry can only be modified")
        if entity.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        state, record = self.record_for(entity.table_entry)
        if not state.info.direct_meter_id:
            raise _invalid(f"table {state.info.name!r} has no direct meter")
        config = entity.config if entity.HasField("config") else None
        self._set_direct_meter(state, record.handle, config)
        record.meter_config = None if config is None else config.SerializeToString()

    def read_direct_meter(self, entity) -> Iterator[p4runtime_pb2.DirectMeterEntry]:
        if entity.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        if entity.table_entry.match:
            pairs = [self.record_for(entity.table_entry)]
        else:
            states = [self.states[entity.table_entry.table_id]] if entity.table_entry.table_id \
                else [s for s in self.states.values() if s.info.direct_meter_id]
            pairs = [(s, r) for s in states for r in s.records.values()]
        for state, record in pairs:
            if not state.info.direct_meter_id:
                raise _invalid(f"table {state.info.name!r} has no direct meter")
            out = p4runtime_pb2.DirectMeterEntry()
            out.table_entry.ParseFromString(record.entry)
            if record.meter_config is not None:
                out.config.ParseFromString(record.meter_config)
            yield out

    # ---- entries the program brings -------------------------------------------------------

    def adopt_program_entries(self) -> None:
        """Record the entries already in the target after a load (const and initial
        entries), so that reads return them."""
        for state in self.states.values():
            for target_entry in self.switch.table_entries(state.target_name):
                key = _key_from_target(state.info, target_entry.match)
                priority = target_entry.priority or 0
                entry = p4runtime_pb2.TableEntry(table_id=state.info.id, priority=priority)
                entry.match.extend(encode_key(state.info.match_fields, key))
                action_info = self.index.get_action_info(target_entry.action)
                if action_info is not None:
                    entry.action.action.CopyFrom(
                        encode_action(action_info, _param_list(target_entry.params, action_info))
                    )
                state.records[(key, priority)] = Record(target_entry.handle,
                                                        entry.SerializeToString())

    def entry_count(self) -> int:
        return sum(len(s.records) for s in self.states.values())


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
