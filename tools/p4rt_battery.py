"""The P4Runtime bad-input battery: malformed requests of every kind against a running server,
each checked to get the code the P4Runtime specification gives it and to change nothing.

A switch runs a program (default onos_basic: ternary, LPM and exact tables, an action
profile, counters and meters) with a canary entry, a multicast group and a cookie. For every
RPC and every entity kind the battery builds requests that are wrong in one way (wrong device,
not the primary, unknown ids, values too wide, bad prefixes and masks, missing or repeated
fields, wrong update types, malformed bytes, mutated pipeline configs ...), many of them once
per table, field, action or parameter of the P4Info. After each it reads the whole switch
state back (every table, default entries, action profiles, PRE, counters, meters, registers,
the pipeline config) and compares it with the state before.

    python tools/p4rt_battery.py [--program onos_basic] [--configs 200]

prints one line per case that was not answered per spec or changed something, then
"tried N, answered per spec M, changed state K"; exit status 1 unless M == N and K == 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import grpc  # noqa: E402

from runtime_server.proto import p4info_pb2, p4runtime_pb2  # noqa: E402
from tools.p4rt_config_fuzz import ELECTION_ID, Harness  # noqa: E402
from tools.p4rt_write_fuzz import field_bytes, field_varint  # noqa: E402

pb = p4runtime_pb2
C = grpc.StatusCode
MatchType = p4info_pb2.MatchField.MatchType
INSERT, MODIFY, DELETE = pb.Update.INSERT, pb.Update.MODIFY, pb.Update.DELETE


@dataclass
class Case:
    """One bad request: `send` performs it; the answer's code must be in `codes` (for a
    Write with one update, the update's own code)."""

    name: str
    send: Callable[[], None]
    codes: frozenset


@dataclass
class Result:
    tried: int = 0
    per_spec: int = 0
    changed: int = 0
    failures: list[str] = field(default_factory=list)


class Battery:
    def __init__(self, harness: Harness, rng: random.Random) -> None:
        self.h = harness
        self.rng = rng
        self.p4info = harness.p4info
        self.stub = harness.stub
        self.actions = {a.preamble.id: a for a in self.p4info.actions}

    # ---- requests -----------------------------------------------------------------------

    def write(self, *updates: pb.Update, device_id: int = 0, election: int | None = ELECTION_ID,
              atomicity: int = 0, role: str = "") -> None:
        request = pb.WriteRequest(device_id=device_id, atomicity=atomicity, role=role)
        if election is not None:
            request.election_id.low = election
        request.updates.extend(updates)
        self.stub.Write(request, timeout=30)

    def raw_write(self, data: bytes) -> None:
        call = self.h.channel.unary_unary("/p4.v1.P4Runtime/Write",
                                          response_deserializer=pb.WriteResponse.FromString)
        call(data, timeout=30)

    def read(self, *entities: pb.Entity, device_id: int = 0) -> None:
        request = pb.ReadRequest(device_id=device_id)
        request.entities.extend(entities)
        list(self.stub.Read(request, timeout=30))

    @staticmethod
    def update(kind: int, **entity) -> pb.Update:
        result = pb.Update(type=kind)
        for name, value in entity.items():
            getattr(result.entity, name).CopyFrom(value)
        return result

    # ---- the state that must not change ------------------------------------------------

    def snapshot(self) -> list[bytes]:
        entities = []
        for table in self.p4info.tables:
            entity = pb.Entity()
            entity.table_entry.table_id = table.preamble.id
            entities.append(entity)
            default = pb.Entity()
            default.table_entry.table_id = table.preamble.id
            default.table_entry.is_default_action = True
            entities.append(default)
        for profile in self.p4info.action_profiles:
            member = pb.Entity()
            member.action_profile_member.action_profile_id = profile.preamble.id
            group = pb.Entity()
            group.action_profile_group.action_profile_id = profile.preamble.id
            entities += [member, group]
        for counter in self.p4info.counters:
            entity = pb.Entity()
            entity.counter_entry.counter_id = counter.preamble.id
            entities.append(entity)
        for meter in self.p4info.meters:
            entity = pb.Entity()
            entity.meter_entry.meter_id = meter.preamble.id
            entities.append(entity)
        for register in self.p4info.registers:
            entity = pb.Entity()
            entity.register_entry.register_id = register.preamble.id
            entities.append(entity)
        pre = pb.Entity()
        pre.packet_replication_engine_entry.multicast_group_entry.multicast_group_id = 0
        clone = pb.Entity()
        clone.packet_replication_engine_entry.clone_session_entry.session_id = 0
        entities += [pre, clone]
        state = []
        for entity in entities:
            request = pb.ReadRequest(device_id=0)
            request.entities.add().CopyFrom(entity)
            for response in self.stub.Read(request, timeout=30):
                state.extend(sorted(e.SerializeToString(deterministic=True)
                                    for e in response.entities))
        config = self.stub.GetForwardingPipelineConfig(
            pb.GetForwardingPipelineConfigRequest(device_id=0)).config
        state.append(config.SerializeToString(deterministic=True))
        return state

    # ---- running ------------------------------------------------------------------------

    def run(self, cases: Iterator[Case], result: Result) -> None:
        before = self.snapshot()
        for case in cases:
            result.tried += 1
            code = None
            try:
                case.send()
                code = C.OK
            except grpc.RpcError as err:
                code = _update_code(err)
            if code in case.codes:
                result.per_spec += 1
            else:
                wanted = "/".join(sorted(c.name for c in case.codes))
                result.failures.append(f"{case.name}: {code.name if code else code}, "
                                       f"spec: {wanted}")
            after = self.snapshot()
            if after != before:
                result.changed += 1
                result.failures.append(f"{case.name}: the request changed the switch state")
                self.h.set_base()
                before = self.snapshot()


def _update_code(err: grpc.RpcError) -> grpc.StatusCode:
    """The code of a failed RPC; for a Write batch of one update, that update's code."""
    from google.rpc import status_pb2

    details = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    if err.code() == C.UNKNOWN and details:
        status = status_pb2.Status.FromString(details)
        codes = []
        for detail in status.details:
            error = pb.Error()
            detail.Unpack(error)
            codes.append(error.canonical_code)
        failed = [c for c in codes if c]
        if len(failed) == 1:
            return next(c for c in C if c.value[0] == failed[0])
    return err.code()


def spec(*codes: grpc.StatusCode) -> frozenset:
    return frozenset(codes)


def table_cases(b: Battery) -> Iterator[Case]:
    """Per table, field, action and parameter: TableEntry writes that are wrong in one way."""
    for table in b.p4info.tables:
        tname = table.preamble.name
        if table.is_const_table:
            continue
        base = _valid_entry(b, table)
        indirect = bool(table.implementation_id)

        def insert(entry, kind=INSERT):
            return lambda: b.write(b.update(kind, table_entry=entry))

        entry = pb.TableEntry()
        entry.CopyFrom(base)
        entry.table_id = 0x0200FFFF
        yield Case(f"{tname}: unknown table id", insert(entry), spec(C.NOT_FOUND))
        entry = _copy(base, is_const=True)
        yield Case(f"{tname}: is_const in a write", insert(entry), spec(C.INVALID_ARGUMENT))
        entry = _copy(base, idle_timeout_ns=-5)
        yield Case(f"{tname}: negative idle timeout", insert(entry), spec(C.INVALID_ARGUMENT))
        if table.idle_timeout_behavior != p4info_pb2.Table.NOTIFY_CONTROL:
            entry = _copy(base, idle_timeout_ns=10**9)
            yield Case(f"{tname}: idle timeout on a table without", insert(entry),
                       spec(C.INVALID_ARGUMENT))
        entry = _copy(base)
        entry.time_since_last_hit.elapsed_ns = 5
        yield Case(f"{tname}: time_since_last_hit in a write", insert(entry),
                   spec(C.INVALID_ARGUMENT))
        for kind in (0, 4, 99):
            yield Case(f"{tname}: update type {kind}", insert(base, kind),
                       spec(C.INVALID_ARGUMENT))
        yield Case(f"{tname}: MODIFY of a missing entry", insert(base, MODIFY), spec(C.NOT_FOUND))
        yield Case(f"{tname}: DELETE of a missing entry", insert(base, DELETE), spec(C.NOT_FOUND))
        needs_priority = any(m.match_type in (MatchType.TERNARY, MatchType.RANGE,
                                              MatchType.OPTIONAL) for m in table.match_fields)
        for priority in ((0, -1) if needs_priority else (1, -1)):
            yield Case(f"{tname}: priority {priority}", insert(_copy(base, priority=priority)),
                       spec(C.INVALID_ARGUMENT))
        entry = _copy(base)
        entry.match.add(field_id=0xFFFF).exact.value = b"\x01"
        yield Case(f"{tname}: unknown match field", insert(entry), spec(C.INVALID_ARGUMENT))
        for k, m in enumerate(table.match_fields):
            what = f"{tname}.{m.name}"
            if m.match_type == MatchType.EXACT:
                entry = _copy(base)
                del entry.match[k]
                yield Case(f"{what}: exact field missing", insert(entry), spec(C.INVALID_ARGUMENT))
            entry = _copy(base)
            entry.match.add().CopyFrom(entry.match[k])
            yield Case(f"{what}: field given twice", insert(entry), spec(C.INVALID_ARGUMENT))
            entry = _copy(base)
            fm = entry.match[k]
            wide = b"\x01" + b"\x00" * ((m.bitwidth + 7) // 8)
            if m.match_type == MatchType.LPM:
                fm.lpm.value = wide
            elif m.match_type == MatchType.TERNARY:
                fm.ternary.value = wide
                fm.ternary.mask = wide
            elif m.match_type == MatchType.RANGE:
                fm.range.high = wide
            elif m.match_type == MatchType.OPTIONAL:
                fm.optional.value = wide
            else:
                fm.exact.value = wide
            yield Case(f"{what}: value too wide", insert(entry), spec(C.OUT_OF_RANGE))
            entry = _copy(base)
            fm = entry.match[k]
            fm.ClearField("field_match_type")
            yield Case(f"{what}: no match value", insert(entry), spec(C.INVALID_ARGUMENT))
            entry = _copy(base)
            fm = entry.match[k]
            if m.match_type == MatchType.EXACT:
                fm.lpm.value = b"\x00"
                fm.lpm.prefix_len = 1
            else:
                fm.exact.value = b"\x00"
            yield Case(f"{what}: wrong match kind", insert(entry), spec(C.INVALID_ARGUMENT))
            if m.match_type == MatchType.LPM:
                for plen, value in ((0, b"\x00"), (m.bitwidth + 1, b"\x01"), (-1, b"\x00"),
                                    (1, b"\x01")):
                    entry = _copy(base)
                    entry.match[k].lpm.prefix_len = plen
                    entry.match[k].lpm.value = value
                    yield Case(f"{what}: LPM /{plen} of {value!r}", insert(entry),
                               spec(C.INVALID_ARGUMENT))
            if m.match_type == MatchType.TERNARY and m.bitwidth >= 2:
                for value, mask in ((b"\x01", b"\x00"), (b"\x03", b"\x01")):
                    entry = _copy(base)
                    entry.match[k].ternary.value = value
                    entry.match[k].ternary.mask = mask
                    yield Case(f"{what}: ternary {value!r}/{mask!r}", insert(entry),
                               spec(C.INVALID_ARGUMENT))
            if m.match_type == MatchType.RANGE and m.bitwidth >= 3:
                entry = _copy(base)
                entry.match[k].range.low = b"\x05"
                entry.match[k].range.high = b"\x04"
                yield Case(f"{what}: range low > high", insert(entry), spec(C.INVALID_ARGUMENT))
            for empty in (b"",):
                entry = _copy(base)
                fm = entry.match[k]
                getattr(fm, fm.WhichOneof("field_match_type")).value = empty
                yield Case(f"{what}: empty value", insert(entry),
                           spec(C.INVALID_ARGUMENT, C.OUT_OF_RANGE))
        entry = _copy(base)
        entry.ClearField("action")
        yield Case(f"{tname}: INSERT without action", insert(entry), spec(C.INVALID_ARGUMENT))
        if indirect:
            entry = _copy(base)
            entry.action.action.action_id = next(iter(b.actions))
            yield Case(f"{tname}: direct action on an indirect table", insert(entry),
                       spec(C.INVALID_ARGUMENT))
            entry = _copy(base)
            entry.action.action_profile_member_id = 0xFFFF
            yield Case(f"{tname}: missing member", insert(entry), spec(C.NOT_FOUND))
            continue
        entry = _copy(base)
        entry.action.action_profile_member_id = 1
        yield Case(f"{tname}: member on a direct table", insert(entry), spec(C.INVALID_ARGUMENT))
        entry = _copy(base)
        entry.action.action.action_id = 0x01FFFFFF
        yield Case(f"{tname}: unknown action", insert(entry), spec(C.INVALID_ARGUMENT))
        other = [a for a in b.actions if all(r.id != a for r in table.action_refs)]
        if other:
            entry = _copy(base)
            entry.action.action.action_id = other[0]
            entry.action.action.ClearField("params")
            for p in b.actions[other[0]].params:
                entry.action.action.params.add(param_id=p.id, value=b"\x00")
            yield Case(f"{tname}: action of another table", insert(entry),
                       spec(C.INVALID_ARGUMENT))
        for ref in table.action_refs:
            action = b.actions[ref.id]
            entry = _copy(base)
            entry.action.action.action_id = ref.id
            entry.action.action.ClearField("params")
            for p in action.params:
                entry.action.action.params.add(param_id=p.id, value=b"\x00")
            if ref.scope == p4info_pb2.ActionRef.DEFAULT_ONLY:
                yield Case(f"{tname}: default-only action {action.preamble.name}", insert(entry),
                           spec(C.PERMISSION_DENIED, C.INVALID_ARGUMENT))
                continue
            for j, p in enumerate(action.params):
                what = f"{tname} {action.preamble.name}({p.name})"
                bad = _copy(entry)
                del bad.action.action.params[j]
                yield Case(f"{what}: missing", insert(bad), spec(C.INVALID_ARGUMENT))
                bad = _copy(entry)
                bad.action.action.params.add().CopyFrom(bad.action.action.params[j])
                yield Case(f"{what}: twice", insert(bad), spec(C.INVALID_ARGUMENT))
                bad = _copy(entry)
                bad.action.action.params[j].value = b"\x01" + b"\x00" * ((p.bitwidth + 7) // 8)
                yield Case(f"{what}: too wide", insert(bad), spec(C.OUT_OF_RANGE))
                bad = _copy(entry)
                bad.action.action.params[j].value = b""
                yield Case(f"{what}: empty", insert(bad), spec(C.INVALID_ARGUMENT,
                                                              C.OUT_OF_RANGE))
            bad = _copy(entry)
            bad.action.action.params.add(param_id=0xFFFF, value=b"\x00")
            yield Case(f"{tname} {action.preamble.name}: unknown parameter", insert(bad),
                       spec(C.INVALID_ARGUMENT))
        default = pb.TableEntry(table_id=table.preamble.id, is_default_action=True)
        default.action.CopyFrom(base.action)
        for kind in (INSERT, DELETE):
            yield Case(f"{tname}: default entry with update {kind}", insert(default, kind),
                       spec(C.INVALID_ARGUMENT))
        bad = _copy(default)
        bad.match.add().CopyFrom(base.match[0])
        yield Case(f"{tname}: default entry with a key", insert(bad, MODIFY),
                   spec(C.INVALID_ARGUMENT))
        if not table.direct_resource_ids:
            bad = _copy(base)
            bad.counter_data.packet_count = 1
            yield Case(f"{tname}: counter data without a direct counter", insert(bad),
                       spec(C.INVALID_ARGUMENT))
            bad = _copy(base)
            bad.meter_config.cir = 1
            yield Case(f"{tname}: meter config without a direct meter", insert(bad),
                       spec(C.INVALID_ARGUMENT))


def _copy(entry: pb.TableEntry, **changes) -> pb.TableEntry:
    out = pb.TableEntry()
    out.CopyFrom(entry)
    for name, value in changes.items():
        setattr(out, name, value)
    return out


def _valid_entry(b: Battery, table) -> pb.TableEntry:
    """An entry the table would accept (different from the canary)."""
    entry = pb.TableEntry(table_id=table.preamble.id)
    for m in table.match_fields:
        fm = entry.match.add(field_id=m.id)
        small = b"\x01" if m.bitwidth == 1 else b"\x02"
        if m.match_type == MatchType.EXACT:
            fm.exact.value = small
        elif m.match_type == MatchType.LPM:
            fm.lpm.value = (1 << (m.bitwidth - 1)).to_bytes((m.bitwidth + 7) // 8, "big")
            fm.lpm.prefix_len = 1
        elif m.match_type == MatchType.TERNARY:
            fm.ternary.value = small
            fm.ternary.mask = b"\x01" if m.bitwidth == 1 else b"\x03"
        elif m.match_type == MatchType.RANGE:
            fm.range.low = b"\x01"
            fm.range.high = small
        else:
            fm.optional.value = small
    if any(m.match_type in (MatchType.TERNARY, MatchType.RANGE, MatchType.OPTIONAL)
           for m in table.match_fields):
        entry.priority = 10
    if table.implementation_id:
        entry.action.action_profile_member_id = 1
        return entry
    refs = [r for r in table.action_refs if r.scope != p4info_pb2.ActionRef.DEFAULT_ONLY]
    action = entry.action.action
    action.action_id = refs[0].id
    for p in b.actions[refs[0].id].params:
        action.params.add(param_id=p.id, value=b"\x01")
    return entry


def request_cases(b: Battery) -> Iterator[Case]:
    """Whole requests that are wrong: device, arbitration, atomicity, framing, entities."""
    canary = b.h.canary
    insert = b.update(INSERT, table_entry=_copy(canary)) if canary is not None else None
    if insert is not None:
        yield Case("Write: wrong device id", lambda: b.write(insert, device_id=7),
                   spec(C.NOT_FOUND))
        yield Case("Write: no election id", lambda: b.write(insert, election=None),
                   spec(C.PERMISSION_DENIED))
        yield Case("Write: a backup's election id", lambda: b.write(insert, election=3),
                   spec(C.PERMISSION_DENIED))
        yield Case("Write: a higher election id than the primary's",
                   lambda: b.write(insert, election=ELECTION_ID + 1), spec(C.PERMISSION_DENIED))
        yield Case("Write: unknown role", lambda: b.write(insert, role="nobody"),
                   spec(C.PERMISSION_DENIED, C.NOT_FOUND))
        yield Case("Write: atomicity 99", lambda: b.write(insert, atomicity=99),
                   spec(C.INVALID_ARGUMENT))
        yield Case("Write: INSERT of the canary again", lambda: b.write(insert),
                   spec(C.ALREADY_EXISTS))
        good = insert.SerializeToString()
        head = field_varint(1, 0) + field_bytes(3, field_varint(2, ELECTION_ID))
        yield Case("Write: update cut short", lambda: b.raw_write(
            head + field_bytes(4, good[:-2])), spec(C.INVALID_ARGUMENT))
        yield Case("Write: request cut short", lambda: b.raw_write(
            head + field_bytes(4, good)[:-2]), spec(C.INVALID_ARGUMENT))
        yield Case("Write: wire type 7", lambda: b.raw_write(head + b"\x0f"),
                   spec(C.INVALID_ARGUMENT))
        yield Case("Write: role not UTF-8", lambda: b.raw_write(
            head + field_bytes(6, b"\xff") + field_bytes(4, good)), spec(C.INVALID_ARGUMENT))
        yield Case("Write: election id split in two messages", lambda: b.raw_write(
            field_varint(1, 0) + field_bytes(3, field_varint(1, 1)) +
            field_bytes(3, field_varint(2, ELECTION_ID)) + field_bytes(4, good)),
                   spec(C.PERMISSION_DENIED))
        entry_twice = canary.SerializeToString() + field_varint(1, 0x0200FFFF)
        yield Case("Write: table_id repeated (last wins: unknown)", lambda: b.raw_write(
            head + field_bytes(4, field_varint(1, INSERT) + field_bytes(
                2, field_bytes(2, entry_twice)))), spec(C.NOT_FOUND))
        delete_bad_action = field_varint(1, DELETE) + field_bytes(2, field_bytes(
            2, pb.TableEntry(table_id=canary.table_id, match=canary.match).SerializeToString()
            + field_bytes(3, b"\x0a\x07\x08")))
        yield Case("Write: DELETE with a malformed action", lambda: b.raw_write(
            head + field_bytes(4, delete_bad_action)), spec(C.INVALID_ARGUMENT))
    yield Case("Write: an update with no entity", lambda: b.write(pb.Update(type=INSERT)),
               spec(C.INVALID_ARGUMENT))
    ext = pb.Update(type=INSERT)
    ext.entity.extern_entry.extern_type_id = 1
    yield Case("Write: ExternEntry", lambda: b.write(ext), spec(C.UNIMPLEMENTED))
    yield Case("Read: wrong device id", lambda: b.read(pb.Entity(), device_id=7),
               spec(C.NOT_FOUND))
    yield Case("Read: entity not set", lambda: b.read(pb.Entity()), spec(C.INVALID_ARGUMENT))
    unknown_table = pb.Entity()
    unknown_table.table_entry.table_id = 0x0200FFFF
    yield Case("Read: unknown table", lambda: b.read(unknown_table), spec(C.NOT_FOUND))
    unknown_counter = pb.Entity()
    unknown_counter.counter_entry.counter_id = 0x1200FFFF
    yield Case("Read: unknown counter", lambda: b.read(unknown_counter), spec(C.NOT_FOUND))
    get = b.stub.GetForwardingPipelineConfig
    yield Case("Get config: wrong device id", lambda: get(
        pb.GetForwardingPipelineConfigRequest(device_id=7)), spec(C.NOT_FOUND))
    yield Case("Get config: response type 99", lambda: get(
        pb.GetForwardingPipelineConfigRequest(device_id=0, response_type=99)),
               spec(C.INVALID_ARGUMENT))


def extern_cases(b: Battery) -> Iterator[Case]:
    """Counters, meters, registers, PRE, action profiles, digests: one wrong thing each."""
    for counter in b.p4info.counters:
        name = counter.preamble.name
        for kind in (INSERT, DELETE):
            entry = pb.CounterEntry(counter_id=counter.preamble.id)
            entry.index.index = 0
            yield Case(f"{name}: counter update {kind}", lambda e=entry, k=kind: b.write(
                b.update(k, counter_entry=e)), spec(C.INVALID_ARGUMENT))
        for index, codes in ((-1, spec(C.INVALID_ARGUMENT)),
                             (counter.size, spec(C.OUT_OF_RANGE, C.INVALID_ARGUMENT))):
            entry = pb.CounterEntry(counter_id=counter.preamble.id)
            entry.index.index = index
            yield Case(f"{name}: index {index}", lambda e=entry: b.write(
                b.update(MODIFY, counter_entry=e)), codes)
    for meter in b.p4info.meters:
        name = meter.preamble.name
        entry = pb.MeterEntry(meter_id=meter.preamble.id)
        entry.index.index = meter.size
        yield Case(f"{name}: index past the end", lambda e=entry: b.write(
            b.update(MODIFY, meter_entry=e)), spec(C.OUT_OF_RANGE, C.INVALID_ARGUMENT))
        entry = pb.MeterEntry(meter_id=meter.preamble.id)
        entry.index.index = 0
        entry.config.cir = -1
        entry.config.cburst = 1
        entry.config.pir = 1
        entry.config.pburst = 1
        yield Case(f"{name}: negative CIR", lambda e=entry: b.write(
            b.update(MODIFY, meter_entry=e)), spec(C.INVALID_ARGUMENT))
    entry = pb.CounterEntry(counter_id=0x1200FFFF)
    yield Case("counter: unknown id", lambda: b.write(b.update(MODIFY, counter_entry=entry)),
               spec(C.NOT_FOUND))
    pre = pb.PacketReplicationEngineEntry()
    pre.multicast_group_entry.multicast_group_id = 0
    yield Case("multicast group 0", lambda: b.write(
        b.update(INSERT, packet_replication_engine_entry=pre)), spec(C.INVALID_ARGUMENT))
    from tools.p4rt_config_fuzz import MC_GROUP

    for kind, group, codes in ((INSERT, MC_GROUP, spec(C.ALREADY_EXISTS)),
                               (MODIFY, 4242, spec(C.NOT_FOUND)),
                               (DELETE, 4242, spec(C.NOT_FOUND))):
        pre = pb.PacketReplicationEngineEntry()
        pre.multicast_group_entry.multicast_group_id = group
        pre.multicast_group_entry.replicas.add(egress_port=1, instance=1)
        yield Case(f"multicast group {group} update {kind}", lambda p=pre, k=kind: b.write(
            b.update(k, packet_replication_engine_entry=p)), codes)
    pre = pb.PacketReplicationEngineEntry()
    pre.multicast_group_entry.multicast_group_id = 4243
    pre.multicast_group_entry.replicas.add(egress_port=1, instance=1)
    pre.multicast_group_entry.replicas.add(egress_port=1, instance=1)
    yield Case("multicast group: duplicate replica", lambda: b.write(
        b.update(INSERT, packet_replication_engine_entry=pre)), spec(C.INVALID_ARGUMENT))
    pre = pb.PacketReplicationEngineEntry()
    pre.multicast_group_entry.multicast_group_id = 4244
    pre.multicast_group_entry.replicas.add(port=b"\x01\x00\x00\x00\x00", instance=1)
    yield Case("multicast group: port too wide", lambda: b.write(
        b.update(INSERT, packet_replication_engine_entry=pre)),
               spec(C.OUT_OF_RANGE, C.INVALID_ARGUMENT))
    pre = pb.PacketReplicationEngineEntry()
    pre.clone_session_entry.session_id = 0
    yield Case("clone session 0", lambda: b.write(
        b.update(INSERT, packet_replication_engine_entry=pre)), spec(C.INVALID_ARGUMENT))
    yield Case("PRE entry with nothing set", lambda: b.write(b.update(
        INSERT, packet_replication_engine_entry=pb.PacketReplicationEngineEntry())),
               spec(C.INVALID_ARGUMENT))
    for profile in b.p4info.action_profiles:
        name = profile.preamble.name
        member = pb.ActionProfileMember(action_profile_id=profile.preamble.id, member_id=0)
        yield Case(f"{name}: member id 0", lambda m=member: b.write(
            b.update(INSERT, action_profile_member=m)), spec(C.INVALID_ARGUMENT))
        member = pb.ActionProfileMember(action_profile_id=profile.preamble.id, member_id=9)
        yield Case(f"{name}: member without action", lambda m=member: b.write(
            b.update(INSERT, action_profile_member=m)), spec(C.INVALID_ARGUMENT))
        yield Case(f"{name}: DELETE of a missing member", lambda m=member: b.write(
            b.update(DELETE, action_profile_member=m)), spec(C.NOT_FOUND))
        group = pb.ActionProfileGroup(action_profile_id=profile.preamble.id, group_id=5,
                                      max_size=max(1, profile.max_group_size))
        group.members.add(member_id=777, weight=1)
        yield Case(f"{name}: group of a missing member", lambda g=group: b.write(
            b.update(INSERT, action_profile_group=g)), spec(C.NOT_FOUND))
    member = pb.ActionProfileMember(action_profile_id=0x1100FFFF, member_id=1)
    yield Case("action profile: unknown id", lambda: b.write(
        b.update(INSERT, action_profile_member=member)), spec(C.NOT_FOUND))
    digest = pb.DigestEntry(digest_id=0x1800FFFF)
    yield Case("digest: unknown id", lambda: b.write(b.update(INSERT, digest_entry=digest)),
               spec(C.NOT_FOUND))


def pipeline_cases(b: Battery, configs: int) -> Iterator[Case]:
    set_config = b.stub.SetForwardingPipelineConfig
    Action = pb.SetForwardingPipelineConfigRequest

    def request(action: int, config=None, device_id: int = 0, election: int = ELECTION_ID):
        out = Action(device_id=device_id, action=action)
        out.election_id.low = election
        if config is not None:
            out.config.CopyFrom(config)
        return out

    base = b.h.base_config()
    yield Case("Set config: wrong device id", lambda: set_config(
        request(Action.VERIFY_AND_COMMIT, base, device_id=7)), spec(C.NOT_FOUND))
    yield Case("Set config: not the primary", lambda: set_config(
        request(Action.VERIFY_AND_COMMIT, base, election=2)), spec(C.PERMISSION_DENIED))
    yield Case("Set config: no config", lambda: set_config(request(Action.VERIFY_AND_COMMIT)),
               spec(C.INVALID_ARGUMENT))
    yield Case("Set config: COMMIT with a config", lambda: set_config(
        request(Action.COMMIT, base)), spec(C.INVALID_ARGUMENT))
    yield Case("Set config: action 99", lambda: set_config(request(99, base)),
               spec(C.INVALID_ARGUMENT))
    no_p4info = pb.ForwardingPipelineConfig(p4_device_config=base.p4_device_config)
    yield Case("Set config: no P4Info", lambda: set_config(
        request(Action.VERIFY_AND_COMMIT, no_p4info)), spec(C.INVALID_ARGUMENT))
    refused = 0
    while refused < configs:
        _kind, config = b.h.mutant(b.rng)
        if config.p4info == base.p4info and config.p4_device_config == base.p4_device_config:
            continue
        # A mutant the switch accepts is legal and is not part of the battery: try VERIFY
        # first and keep only the refused ones for the committing request.
        try:
            set_config(request(Action.VERIFY, config))
            continue
        except grpc.RpcError:
            pass
        refused += 1
        yield Case(f"Set config: mutated config {refused}", lambda c=config: set_config(
            request(Action.VERIFY_AND_COMMIT, c)), spec(C.INVALID_ARGUMENT))


def stream_cases(b: Battery) -> Iterator[Case]:
    """StreamChannel: the first message must arbitrate, for a device that exists."""

    def stream(*messages: pb.StreamMessageRequest) -> None:
        responses = b.stub.StreamChannel(iter(messages), timeout=10)
        for response in responses:
            if response.HasField("error"):
                code = next(c for c in C if c.value[0] == response.error.canonical_code)
                raise _StreamError(code)

    packet = pb.StreamMessageRequest()
    packet.packet.payload = b"\x00" * 14
    yield Case("Stream: packet before arbitration", lambda: stream(packet),
               spec(C.FAILED_PRECONDITION))
    arbitration = pb.StreamMessageRequest()
    arbitration.arbitration.device_id = 7
    arbitration.arbitration.election_id.low = 1
    yield Case("Stream: arbitration for an unknown device", lambda: stream(arbitration),
               spec(C.NOT_FOUND))
    backup = pb.StreamMessageRequest()
    backup.arbitration.device_id = 0
    backup.arbitration.election_id.low = 2
    yield Case("Stream: packet-out from a backup", lambda: stream(backup, packet),
               spec(C.PERMISSION_DENIED))


class _StreamError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__()
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def trailing_metadata(self):
        return ()


def run(program: str = "onos_basic", configs: int = 200, seed: int = 1,
        time_limit: float | None = None) -> Result:
    harness = Harness(program)
    battery = Battery(harness, random.Random(seed))
    result = Result()
    deadline = None if time_limit is None else time.monotonic() + time_limit

    def bounded(cases: Iterator[Case]) -> Iterator[Case]:
        for case in cases:
            if deadline is not None and time.monotonic() > deadline:
                return
            yield case

    try:
        for cases in (request_cases(battery), table_cases(battery), extern_cases(battery),
                      stream_cases(battery), pipeline_cases(battery, configs)):
            battery.run(bounded(cases), result)
    finally:
        harness.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", default="onos_basic")
    parser.add_argument("--configs", type=int, default=200,
                        help="refused mutated pipeline configs to include")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.monotonic()
    result = run(args.program, args.configs, args.seed)
    for line in result.failures:
        print(line)
    print(f"tried {result.tried}, answered per spec {result.per_spec}, changed state "
          f"{result.changed} in {time.monotonic() - start:.1f} s")
    return 0 if result.per_spec == result.tried and result.changed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
