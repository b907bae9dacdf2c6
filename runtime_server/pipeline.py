"""One forwarding pipeline as the server sees it: the P4Info index, the program, and the
per-entity translators onto the target; Write updates and Read requests dispatch here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf import text_format

from runtime_server.action_profiles import ActionProfiles
from runtime_server.binding import check_binding
from runtime_server.controller_header import ControllerHeader
from runtime_server.device_config import extract_bmv2_json
from runtime_server.digests import DigestConfig, DigestEngine
from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.externs import Externs
from runtime_server.p4info_check import check_p4info
from runtime_server.p4info_index import Kind, P4InfoIndex
from runtime_server.pre import ReplicationEngine
from runtime_server.proto import p4runtime_pb2
from runtime_server.tables import FramedEntities, Tables

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE

# Entity oneof field numbers (p4runtime.proto), for framing serialized entities directly.
ENTITY_FIELD = {
    "table_entry": 2,
    "action_profile_member": 3,
    "action_profile_group": 4,
    "meter_entry": 5,
    "direct_meter_entry": 6,
    "counter_entry": 7,
    "direct_counter_entry": 8,
    "packet_replication_engine_entry": 9,
    "value_set_entry": 10,
    "register_entry": 11,
    "digest_entry": 12,
}


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


@dataclass
class VerifiedConfig:
    """A ForwardingPipelineConfig that passed VERIFY: everything a commit needs."""

    config: p4runtime_pb2.ForwardingPipelineConfig
    program: dict
    index: P4InfoIndex
    p4info_text: str  # the P4Info as the target's load() takes it


def verify_config(config: p4runtime_pb2.ForwardingPipelineConfig, scratch_switch) -> VerifiedConfig:
    """Check that the target can realize `config`, without touching the live switch.

    VERIFY does everything COMMIT will do, in order, on `scratch_switch`: the device config
    holds BMv2 JSON, the P4Info is well formed (p4info_check) and names that JSON's objects,
    the target's loader accepts the program, and the server's translators (tables, action
    profiles, externs, controller headers, the Write decoder's layouts) are built over it.
    A config that passes cannot fail at commit for being bad; one that fails is answered
    INVALID_ARGUMENT naming what is wrong, never with an exception's bare text."""
    if not config.HasField("p4info"):
        raise _invalid("the ForwardingPipelineConfig has no P4Info")
    program = extract_bmv2_json(config.p4_device_config)
    check_p4info(config.p4info)
    try:
        index = P4InfoIndex.build(config.p4info)
    except ValueError as err:
        raise _invalid(f"bad P4Info: {err}") from None
    p4info_text = text_format.MessageToString(config.p4info)
    _guarded("the device config cannot run", scratch_switch.load, program, p4info=p4info_text)
    _guarded("P4Info does not match the device config", check_binding, config.p4info, program)
    verified = VerifiedConfig(config, program, index, p4info_text)
    trial = _guarded("the P4Info cannot be served", Pipeline, scratch_switch, verified,
                     DigestEngine(lambda _digest_list: None))
    _guarded("the P4Info cannot be served", trial.fast_layouts)
    return verified


def _guarded(what: str, step, *args, **kwargs):
    """Run one verification step: a P4RuntimeError passes through, the target's errors
    (ProgramError names the JSON path) and anything else become INVALID_ARGUMENT."""
    try:
        return step(*args, **kwargs)
    except P4RuntimeError:
        raise
    except RecursionError:
        raise _invalid(f"{what}: nested too deeply") from None
    except Exception as err:  # every bad config is the client's error, never UNKNOWN
        detail = str(err) if type(err).__module__.startswith("target") else \
            f"{type(err).__name__}: {err}"
        raise _invalid(f"{what}: {detail}") from None


class Pipeline:
    """The committed pipeline of one switch and the state written through P4Runtime."""

    def __init__(self, switch, verified: VerifiedConfig, digests: DigestEngine) -> None:
        self.switch = switch
        self.verified = verified
        self.index = verified.index
        self.digests = digests
        self.profiles = ActionProfiles(switch, self.index)
        self.tables = Tables(switch, self.index, self.profiles)
        self.externs = Externs(switch, self.index)
        self.pre = ReplicationEngine(switch)
        self.packet_in = ControllerHeader.layout(self.index.packet_in, verified.program) \
            if self.index.packet_in else None
        self.packet_out = ControllerHeader.layout(self.index.packet_out, verified.program) \
            if self.index.packet_out else None
        self.digest_ids = {d.preamble.name: d.preamble.id for d in self.index.entities(Kind.DIGEST)}
        self._fast_layouts: dict | None = None

    def fast_layouts(self) -> dict:
        """The wire decoder's table layouts (fast_write.table_layouts), built on first use."""
        if self._fast_layouts is None:
            from runtime_server.fast_write import table_layouts

            self._fast_layouts = table_layouts(self)
        return self._fast_layouts

    @classmethod
    def commit(cls, switch, verified: VerifiedConfig, digests: DigestEngine,
               previous: Pipeline | None) -> Pipeline:
        """Load the verified program into the live switch; the forwarding state starts empty.

        The target builds the new program beside the running one and swaps it in whole
        (Switch.load), so a failure there leaves the old program and its entries running;
        nothing of the old pipeline is cleared before the new one is in place."""
        _guarded("the device config cannot run", switch.load, verified.program,
                 p4info=verified.p4info_text)
        pipeline = cls(switch, verified, digests)
        if previous is not None:
            previous.clear_replication()
        digests.clear()
        return pipeline

    def clear_replication(self) -> None:
        """The target keeps PRE state across loads; a new pipeline starts without it."""
        for gid in list(self.pre.groups):
            self.pre.write(DELETE, p4runtime_pb2.PacketReplicationEngineEntry(
                multicast_group_entry=p4runtime_pb2.MulticastGroupEntry(multicast_group_id=gid)))
        for sid in list(self.pre.sessions):
            self.pre.write(DELETE, p4runtime_pb2.PacketReplicationEngineEntry(
                clone_session_entry=p4runtime_pb2.CloneSessionEntry(session_id=sid)))

    # ---- Write ----------------------------------------------------------------------------

    def apply(self, update: p4runtime_pb2.Update) -> None:
        """Apply one update; raises P4RuntimeError and then has changed nothing."""
        entity = update.entity
        which = entity.WhichOneof("entity")
        update_type = update.type
        if update_type == p4runtime_pb2.Update.UNSPECIFIED:
            raise _invalid("Update type is not set")
        if update_type not in (INSERT, MODIFY, DELETE):
            raise _invalid(f"Invalid update type: {update_type}")
        if which == "table_entry":
            self.tables.write(update_type, entity.table_entry)
        elif which == "action_profile_member":
            self.profiles.write_member(update_type, entity.action_profile_member)
        elif which == "action_profile_group":
            self.profiles.write_group(update_type, entity.action_profile_group)
        elif which == "counter_entry":
            self.externs.write_counter(update_type, entity.counter_entry)
        elif which == "direct_counter_entry":
            self.tables.write_direct_counter(update_type, entity.direct_counter_entry)
        elif which == "meter_entry":
            self.externs.write_meter(update_type, entity.meter_entry)
        elif which == "direct_meter_entry":
            self.tables.write_direct_meter(update_type, entity.direct_meter_entry)
        elif which == "register_entry":
            self.externs.write_register(update_type, entity.register_entry)
        elif which == "value_set_entry":
            self.externs.write_value_set(update_type, entity.value_set_entry)
        elif which == "packet_replication_engine_entry":
            self.pre.write(update_type, entity.packet_replication_engine_entry)
        elif which == "digest_entry":
            self._write_digest(update_type, entity.digest_entry)
        elif which == "extern_entry":
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "v1model has no ExternEntry externs")
        else:
            raise _invalid("an update with no entity")

    def check(self, update: p4runtime_pb2.Update) -> None:
        """The checks of apply() that need no lookup in the switch, for table entries (what
        a Write refuses before taking the write lock); the same error apply() would raise."""
        update_type = update.type
        if update_type == p4runtime_pb2.Update.UNSPECIFIED:
            raise _invalid("Update type is not set")
        if update_type not in (INSERT, MODIFY, DELETE):
            raise _invalid(f"Invalid update type: {update_type}")
        if update.entity.WhichOneof("entity") == "table_entry":
            self.tables.check(update_type, update.entity.table_entry)

    def _write_digest(self, update_type: int, entry: p4runtime_pb2.DigestEntry) -> None:
        if self.index.kind_of(entry.digest_id) is not Kind.DIGEST:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown digest id {entry.digest_id}")
        configured = self.digests.config(entry.digest_id) is not None
        if update_type == DELETE:
            if not configured:
                raise P4RuntimeError(StatusCode.NOT_FOUND, "digest is not enabled")
            self.digests.disable(entry.digest_id)
            return
        if update_type == INSERT and configured:
            raise P4RuntimeError(StatusCode.ALREADY_EXISTS, "digest is already enabled")
        if update_type == MODIFY and not configured:
            raise P4RuntimeError(StatusCode.NOT_FOUND, "digest is not enabled")
        config = entry.config
        if config.max_timeout_ns < 0 or config.max_list_size < 0 or config.ack_timeout_ns < 0:
            raise _invalid("digest configuration values cannot be negative")
        self.digests.configure(entry.digest_id, DigestConfig(
            config.max_timeout_ns, config.max_list_size, config.ack_timeout_ns))

    # ---- Read -----------------------------------------------------------------------------

    def read(self, entity: p4runtime_pb2.Entity) -> Iterator[bytes]:
        """Serialized Entity messages for one (possibly wildcard) read request."""
        which = entity.WhichOneof("entity")
        if which is None:
            raise _invalid("a read request entity must have its entity set")
        field = ENTITY_FIELD.get(which)
        if field is None:
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, f"reading {which}")
        tag = bytes([field << 3 | 2])
        for inner in self._read_inner(which, getattr(entity, which)):
            if type(inner) is FramedEntities:
                yield inner
            else:
                yield tag + varint(len(inner)) + inner

    def _read_inner(self, which: str, request) -> Iterator[bytes]:
        if which == "table_entry":
            yield from self.tables.read(request)
        elif which == "action_profile_member":
            yield from self.profiles.read_members(request)
        elif which == "action_profile_group":
            yield from self.profiles.read_groups(request)
        elif which == "counter_entry":
            yield from self.externs.read_counter(request)
        elif which == "direct_counter_entry":
            for item in self.tables.read_direct_counter(request):
                yield item.SerializeToString()
        elif which == "meter_entry":
            yield from self.externs.read_meter(request)
        elif which == "direct_meter_entry":
            for item in self.tables.read_direct_meter(request):
                yield item.SerializeToString()
        elif which == "register_entry":
            yield from self.externs.read_register(request)
        elif which == "value_set_entry":
            yield from self.externs.read_value_set(request)
        elif which == "packet_replication_engine_entry":
            yield from self.pre.read(request)
        elif which == "digest_entry":
            for digest_id, config in sorted(self.digests.configured().items()):
                if request.digest_id in (0, digest_id):
                    out = p4runtime_pb2.DigestEntry(digest_id=digest_id)
                    out.config.max_timeout_ns = config.max_timeout_ns
                    out.config.max_list_size = config.max_list_size
                    out.config.ack_timeout_ns = config.ack_timeout_ns
                    yield out.SerializeToString()


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame_read_responses(entities: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    """Serialized ReadResponse messages, each holding whole entities and at most about
    `max_bytes` (a single larger entity gets a message of its own)."""
    chunk: list[bytes] = []
    size = 0
    for entity in entities:
        if type(entity) is FramedEntities:      # already a whole message body
            if chunk:
                yield b"".join(chunk)
                chunk, size = [], 0
            yield bytes(entity)
            continue
        item = b"\x0a" + varint(len(entity)) + entity
        if chunk and size + len(item) > max_bytes:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(item)
        size += len(item)
    if chunk:
        yield b"".join(chunk)
