"""One index over a P4Info: names <-> ids per entity kind, aliases, and the per-table and
per-action facts that request validation needs, built once per pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from runtime_server.bytestrings import encode_unsigned
from runtime_server.proto import p4data_pb2, p4info_pb2


class Kind(Enum):
    """P4Info entity kinds; the value is the P4Info repeated field that holds them."""

    TABLE = "tables"
    ACTION = "actions"
    ACTION_PROFILE = "action_profiles"
    COUNTER = "counters"
    DIRECT_COUNTER = "direct_counters"
    METER = "meters"
    DIRECT_METER = "direct_meters"
    CONTROLLER_PACKET_METADATA = "controller_packet_metadata"
    VALUE_SET = "value_sets"
    REGISTER = "registers"
    DIGEST = "digests"


MatchType = p4info_pb2.MatchField.MatchType
Scope = p4info_pb2.ActionRef.Scope


@dataclass(frozen=True)
class MatchFieldInfo:
    id: int
    name: str
    bitwidth: int
    match_type: int  # p4info MatchField.MatchType value


@dataclass(frozen=True)
class ParamInfo:
    id: int
    name: str
    bitwidth: int


@dataclass(frozen=True)
class ActionInfo:
    id: int
    name: str
    params: tuple[ParamInfo, ...]
    params_by_id: dict[int, ParamInfo]


@dataclass(frozen=True)
class TableInfo:
    id: int
    name: str
    match_fields: tuple[MatchFieldInfo, ...]
    match_fields_by_id: dict[int, MatchFieldInfo]
    action_scopes: dict[int, int]  # action id -> ActionRef.Scope
    const_default_action_id: int
    implementation_id: int  # action profile id, 0 for a direct table
    direct_counter_id: int
    direct_meter_id: int
    is_const_table: bool
    supports_idle_timeout: bool
    size: int
    needs_priority: bool


@dataclass(frozen=True)
class MetadataFieldInfo:
    id: int
    name: str
    bitwidth: int


@dataclass
class P4InfoIndex:
    """Name/id maps for one P4Info.  Aliases: every dotted suffix of a name that is unique
    within its kind resolves to that entity (as p4runtime-shell does), plus the P4Info alias."""

    p4info: p4info_pb2.P4Info
    by_id: dict[int, tuple[Kind, object]] = field(default_factory=dict)
    by_name: dict[Kind, dict[str, object]] = field(default_factory=dict)
    tables: dict[int, TableInfo] = field(default_factory=dict)
    actions: dict[int, ActionInfo] = field(default_factory=dict)
    packet_in: tuple[MetadataFieldInfo, ...] = ()
    packet_out: tuple[MetadataFieldInfo, ...] = ()

    @classmethod
    def build(cls, p4info: p4info_pb2.P4Info) -> P4InfoIndex:
        index = cls(p4info)
        for kind in Kind:
            names: dict[str, object] = {}
            suffix_owner: dict[str, object | None] = {}
            for entity in getattr(p4info, kind.value):
                preamble = entity.preamble
                if preamble.id in index.by_id:
                    raise ValueError(f"P4Info id {preamble.id:#x} is used twice")
                index.by_id[preamble.id] = (kind, entity)
                names[preamble.name] = entity
                parts = preamble.name.split(".")
                suffixes = {".".join(parts[i:]) for i in range(1, len(parts))}
                if preamble.alias and preamble.alias != preamble.name:
                    suffixes.add(preamble.alias)
                for suffix in suffixes:
                    # A suffix claimed by two entities is ambiguous and resolves to neither.
                    suffix_owner[suffix] = None if suffix in suffix_owner else entity
            for suffix, owner in suffix_owner.items():
                if owner is not None and suffix not in names:
                    names[suffix] = owner
            index.by_name[kind] = names
        for action in p4info.actions:
            params = tuple(ParamInfo(p.id, p.name, p.bitwidth) for p in action.params)
            index.actions[action.preamble.id] = ActionInfo(
                action.preamble.id, action.preamble.name, params, {p.id: p for p in params}
            )
        direct_counter_of = {dc.direct_table_id: dc.preamble.id for dc in p4info.direct_counters}
        direct_meter_of = {dm.direct_table_id: dm.preamble.id for dm in p4info.direct_meters}
        for table in p4info.tables:
            index.tables[table.preamble.id] = _table_info(table, direct_counter_of, direct_meter_of)
        for header in p4info.controller_packet_metadata:
            fields = tuple(MetadataFieldInfo(m.id, m.name, m.bitwidth) for m in header.metadata)
            if header.preamble.name == "packet_in":
                index.packet_in = fields
            elif header.preamble.name == "packet_out":
                index.packet_out = fields
        return index

    def get(self, kind: Kind, name_or_id: str | int) -> object:
        """The P4Info message of an entity of `kind`, by id, full name or unique alias."""
        if isinstance(name_or_id, int):
            found = self.by_id.get(name_or_id)
            if found is None or found[0] is not kind:
                raise KeyError(f"no {kind.name.lower()} with id {name_or_id:#x}")
            return found[1]
        try:
            return self.by_name[kind][name_or_id]
        except KeyError:
            raise KeyError(f"no {kind.name.lower()} named {name_or_id!r}") from None

    def get_action_info(self, name: str) -> ActionInfo | None:
        """An action's facts by full name (as the target names it) or alias."""
        action = self.by_name[Kind.ACTION].get(name)
        return None if action is None else self.actions[action.preamble.id]

    def get_digest(self, digest_id: int) -> p4info_pb2.Digest:
        return self.get(Kind.DIGEST, digest_id)  # type: ignore[return-value]

    @staticmethod
    def digest_data(digest: p4info_pb2.Digest, values: tuple[int, ...]) -> p4data_pb2.P4Data:
        """One digest message as P4Data: a struct or tuple of bitstrings, or one bitstring."""
        data = p4data_pb2.P4Data()
        spec = digest.type_spec
        if spec.HasField("struct"):
            for value in values:
                data.struct.members.add().bitstring = encode_unsigned(value)
        elif spec.HasField("tuple"):
            for value in values:
                data.tuple.members.add().bitstring = encode_unsigned(value)
        else:
            data.bitstring = encode_unsigned(values[0])
        return data

    def kind_of(self, entity_id: int) -> Kind | None:
        found = self.by_id.get(entity_id)
        return None if found is None else found[0]

    def name_of(self, entity_id: int) -> str:
        return self.by_id[entity_id][1].preamble.name  # type: ignore[attr-defined]

    def entities(self, kind: Kind) -> list:
        return list(getattr(self.p4info, kind.value))


def _table_info(
    table: p4info_pb2.Table, direct_counter_of: dict[int, int], direct_meter_of: dict[int, int]
) -> TableInfo:
    fields = tuple(
        MatchFieldInfo(m.id, m.name, m.bitwidth, m.match_type) for m in table.match_fields
    )
    priority_kinds = {MatchType.TERNARY, MatchType.RANGE, MatchType.OPTIONAL}
    table_id = table.preamble.id
    return TableInfo(
        id=table_id,
        name=table.preamble.name,
        match_fields=fields,
        match_fields_by_id={f.id: f for f in fields},
        action_scopes={ref.id: ref.scope for ref in table.action_refs},
        const_default_action_id=table.const_default_action_id,
        implementation_id=table.implementation_id,
        direct_counter_id=direct_counter_of.get(table_id, 0),
        direct_meter_id=direct_meter_of.get(table_id, 0),
        is_const_table=table.is_const_table,
        supports_idle_timeout=(
            table.idle_timeout_behavior == p4info_pb2.Table.IdleTimeoutBehavior.NOTIFY_CONTROL
        ),
        size=table.size,
        needs_priority=any(f.match_type in priority_kinds for f in fields),
    )
