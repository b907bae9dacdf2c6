"""Role configs: what a P4Runtime role may write, read and receive.

The spec leaves the format of `role.config` (a google.protobuf.Any) to the target; kvick reads
Stratum's `stratum.P4RoleConfig`, the one format controllers use today:

    repeated uint32 exclusive_p4_ids = 1;   written by this role only
    repeated uint32 shared_p4_ids = 2;      written by this role and others
    PacketFilter packet_in_filter = 3;      {uint32 metadata_id = 1; bytes value = 2;}
    bool receives_packet_ins = 4;
    bool can_push_pipeline = 5;

A role without a config (and the default role, "") has full pipeline access, as the spec says.
A role with one writes and reads only the entities it lists (their direct counters and meters
through their tables), gets packet-ins only when it asks for them (and they pass its filter),
and pushes a pipeline only when allowed. Packet replication has no P4 id: only roles with full
access write it.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory

from runtime_server.errors import P4RuntimeError, StatusCode

TYPE_NAME = "stratum.P4RoleConfig"


def _message_class():
    """stratum.P4RoleConfig, declared here field for field (Any.Unpack needs its full name)."""
    file = descriptor_pb2.FileDescriptorProto(name="kvick/p4_role_config.proto",
                                              package="stratum", syntax="proto3")
    config = file.message_type.add(name="P4RoleConfig")
    packet_filter = config.nested_type.add(name="PacketFilter")
    F = descriptor_pb2.FieldDescriptorProto
    packet_filter.field.add(name="metadata_id", number=1, type=F.TYPE_UINT32,
                            label=F.LABEL_OPTIONAL)
    packet_filter.field.add(name="value", number=2, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    config.field.add(name="exclusive_p4_ids", number=1, type=F.TYPE_UINT32,
                     label=F.LABEL_REPEATED)
    config.field.add(name="shared_p4_ids", number=2, type=F.TYPE_UINT32, label=F.LABEL_REPEATED)
    config.field.add(name="packet_in_filter", number=3, type=F.TYPE_MESSAGE,
                     label=F.LABEL_OPTIONAL, type_name=".stratum.P4RoleConfig.PacketFilter")
    config.field.add(name="receives_packet_ins", number=4, type=F.TYPE_BOOL,
                     label=F.LABEL_OPTIONAL)
    config.field.add(name="can_push_pipeline", number=5, type=F.TYPE_BOOL,
                     label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(TYPE_NAME))


P4RoleConfig = _message_class()


@dataclass(frozen=True)
class RolePolicy:
    """What a role with a config may do."""

    exclusive_ids: frozenset[int]
    shared_ids: frozenset[int]
    receives_packet_ins: bool
    packet_in_filter: tuple[int, bytes] | None  # (metadata id, canonical value)
    can_push_pipeline: bool

    @property
    def ids(self) -> frozenset[int]:
        return self.exclusive_ids | self.shared_ids

    def accepts_packet_in(self, metadata: dict[int, bytes]) -> bool:
        if not self.receives_packet_ins:
            return False
        if self.packet_in_filter is None:
            return True
        metadata_id, value = self.packet_in_filter
        return metadata.get(metadata_id) == value


def parse_role_config(serialized_any: bytes | None) -> RolePolicy | None:
    """The policy of a MasterArbitrationUpdate's role.config (None: full access);
    INVALID_ARGUMENT for a config in another format, as the spec asks."""
    if serialized_any is None:
        return None
    packed = any_pb2.Any.FromString(serialized_any)
    if packed.type_url.rpartition("/")[2] != TYPE_NAME:
        raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                             f"role.config: kvick reads {TYPE_NAME}, not {packed.type_url!r}")
    config = P4RoleConfig()
    try:
        config.ParseFromString(packed.value)
    except Exception:
        raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                             f"role.config: not a valid {TYPE_NAME}") from None
    exclusive, shared = frozenset(config.exclusive_p4_ids), frozenset(config.shared_p4_ids)
    both = exclusive & shared
    if both:
        raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                             f"role.config: ids both exclusive and shared: {sorted(both)}")
    packet_filter = None
    if config.HasField("packet_in_filter"):
        value = config.packet_in_filter.value.lstrip(b"\0") or b"\0"
        packet_filter = (config.packet_in_filter.metadata_id, value)
    return RolePolicy(exclusive, shared, config.receives_packet_ins, packet_filter,
                      config.can_push_pipeline)


def check_exclusive(role: str, policy: RolePolicy | None,
                    others: dict[str, RolePolicy | None]) -> None:
    """INVALID_ARGUMENT when `role`'s config claims an id another role holds exclusively, or
    claims exclusively an id another role lists."""
    if policy is None:
        return
    for other, theirs in others.items():
        if other == role or theirs is None:
            continue
        clash = (policy.exclusive_ids & theirs.ids) | (policy.ids & theirs.exclusive_ids)
        if clash:
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                                 f"role.config: ids {sorted(clash)} are exclusive between "
                                 f"roles {role!r} and {other!r}")


# The P4 id an update or read names, per Entity kind; None where it has none (PRE).
def entity_p4_id(entity) -> int | None:
    which = entity.WhichOneof("entity")
    inner = getattr(entity, which) if which else None
    if which == "table_entry":
        return inner.table_id
    if which in ("action_profile_member", "action_profile_group"):
        return inner.action_profile_id
    if which == "counter_entry":
        return inner.counter_id
    if which == "meter_entry":
        return inner.meter_id
    if which in ("direct_counter_entry", "direct_meter_entry"):
        return inner.table_entry.table_id
    if which == "register_entry":
        return inner.register_id
    if which == "value_set_entry":
        return inner.value_set_id
    if which == "digest_entry":
        return inner.digest_id
    return None


def set_entity_p4_id(entity, p4_id: int) -> None:
    which = entity.WhichOneof("entity")
    inner = getattr(entity, which)
    field = {"table_entry": "table_id", "action_profile_member": "action_profile_id",
             "action_profile_group": "action_profile_id", "counter_entry": "counter_id",
             "meter_entry": "meter_id", "register_entry": "register_id",
             "value_set_entry": "value_set_id", "digest_entry": "digest_id"}.get(which)
    if field is None:  # direct counters and meters: through their table entry
        inner.table_entry.table_id = p4_id
    else:
        setattr(inner, field, p4_id)
