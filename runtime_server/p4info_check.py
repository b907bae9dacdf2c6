"""The P4Info of a SetForwardingPipelineConfig, checked on its own before anything is built
from it: every id a message refers to names an entity of the right kind, every enum value is
one the server knows, every width is one it can represent. A problem is reported with the
P4Info path that holds it (`tables[2].action_refs[0].id`), as INVALID_ARGUMENT.

What the P4Info says about the program (names, shapes) is binding.py's job; this module only
makes sure the P4Info is one the index and the translators can be built from.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.proto import p4info_pb2

MatchType = p4info_pb2.MatchField.MatchType
_MATCH_TYPES = {MatchType.EXACT, MatchType.LPM, MatchType.TERNARY, MatchType.RANGE,
                MatchType.OPTIONAL}
_SCOPES = set(p4info_pb2.ActionRef.Scope.values())
_IDLE_BEHAVIOURS = set(p4info_pb2.Table.IdleTimeoutBehavior.values())
_COUNTER_UNITS = set(p4info_pb2.CounterSpec.Unit.values())
_METER_UNITS = set(p4info_pb2.MeterSpec.Unit.values())
MAX_BITWIDTH = 1 << 16  # wider than any header (BMv2 caps varbits at 2^16 bits too)

_KINDS = ("tables", "actions", "action_profiles", "counters", "direct_counters", "meters",
          "direct_meters", "controller_packet_metadata", "value_sets", "registers", "digests")


def _invalid(path: str, message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, f"P4Info {path}: {message}")


def _width(path: str, bitwidth: int) -> None:
    if not 0 < bitwidth <= MAX_BITWIDTH:
        raise _invalid(f"{path}.bitwidth", f"{bitwidth} is not a width from 1 to {MAX_BITWIDTH}")


def _unique_ids(path: str, items: Iterable, what: str) -> None:
    seen: set[int] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            raise _invalid(f"{path}[{i}].id", f"{what} id {item.id} is used twice")
        seen.add(item.id)


def check_p4info(p4info: p4info_pb2.P4Info) -> None:
    """Raise INVALID_ARGUMENT naming the first P4Info path that is wrong."""
    kind_of: dict[int, str] = {}
    for kind in _KINDS:
        names: set[str] = set()
        for i, entity in enumerate(getattr(p4info, kind)):
            preamble = entity.preamble
            path = f"{kind}[{i}].preamble"
            if preamble.id == 0:
                raise _invalid(f"{path}.id", "an entity id cannot be 0")
            if preamble.id in kind_of:
                raise _invalid(f"{path}.id", f"id {preamble.id:#x} is used twice")
            if not preamble.name:
                raise _invalid(f"{path}.name", "an entity needs a name")
            if preamble.name in names:
                raise _invalid(f"{path}.name", f"name {preamble.name!r} is used twice")
            names.add(preamble.name)
            kind_of[preamble.id] = kind

    def refers(path: str, entity_id: int, *kinds: str) -> None:
        if kind_of.get(entity_id) not in kinds:
            wanted = " or ".join(k.rstrip("s").replace("_", " ") for k in kinds)
            raise _invalid(path, f"{entity_id:#x} is not the id of a {wanted}")

    for i, action in enumerate(p4info.actions):
        _unique_ids(f"actions[{i}].params", action.params, "parameter")
        for j, param in enumerate(action.params):
            _width(f"actions[{i}].params[{j}]", param.bitwidth)
    for i, table in enumerate(p4info.tables):
        path = f"tables[{i}]"
        _unique_ids(f"{path}.match_fields", table.match_fields, "match field")
        for j, match in enumerate(table.match_fields):
            mpath = f"{path}.match_fields[{j}]"
            if match.WhichOneof("match") != "match_type" or match.match_type not in _MATCH_TYPES:
                raise _invalid(f"{mpath}.match_type",
                               f"{match.match_type} is not EXACT, LPM, TERNARY, RANGE or OPTIONAL")
            _width(mpath, match.bitwidth)
        refs: set[int] = set()
        for j, ref in enumerate(table.action_refs):
            refers(f"{path}.action_refs[{j}].id", ref.id, "actions")
            if ref.scope not in _SCOPES:
                raise _invalid(f"{path}.action_refs[{j}].scope", f"unknown scope {ref.scope}")
            if ref.id in refs:
                raise _invalid(f"{path}.action_refs[{j}].id", f"action {ref.id:#x} listed twice")
            refs.add(ref.id)
        if table.const_default_action_id and table.const_default_action_id not in refs:
            raise _invalid(f"{path}.const_default_action_id",
                           f"{table.const_default_action_id:#x} is not one of the table's actions")
        if table.implementation_id:
            refers(f"{path}.implementation_id", table.implementation_id, "action_profiles")
        for j, resource in enumerate(table.direct_resource_ids):
            refers(f"{path}.direct_resource_ids[{j}]", resource, "direct_counters",
                   "direct_meters")
        if table.idle_timeout_behavior not in _IDLE_BEHAVIOURS:
            raise _invalid(f"{path}.idle_timeout_behavior",
                           f"unknown behaviour {table.idle_timeout_behavior}")
        if table.size < 0:
            raise _invalid(f"{path}.size", f"{table.size} is negative")
    for i, profile in enumerate(p4info.action_profiles):
        for j, table_id in enumerate(profile.table_ids):
            refers(f"action_profiles[{i}].table_ids[{j}]", table_id, "tables")
        if profile.size < 0 or profile.max_group_size < 0:
            raise _invalid(f"action_profiles[{i}].size", "sizes cannot be negative")
    for kind in ("direct_counters", "direct_meters"):
        for i, direct in enumerate(getattr(p4info, kind)):
            refers(f"{kind}[{i}].direct_table_id", direct.direct_table_id, "tables")
    for kind, units in (("counters", _COUNTER_UNITS), ("direct_counters", _COUNTER_UNITS),
                        ("meters", _METER_UNITS), ("direct_meters", _METER_UNITS)):
        for i, extern in enumerate(getattr(p4info, kind)):
            if extern.spec.unit not in units:
                raise _invalid(f"{kind}[{i}].spec.unit", f"unknown unit {extern.spec.unit}")
            if kind in ("counters", "meters") and extern.size < 0:
                raise _invalid(f"{kind}[{i}].size", f"{extern.size} is negative")
    for i, header in enumerate(p4info.controller_packet_metadata):
        _unique_ids(f"controller_packet_metadata[{i}].metadata", header.metadata, "metadata")
        for j, metadata in enumerate(header.metadata):
            _width(f"controller_packet_metadata[{i}].metadata[{j}]", metadata.bitwidth)
    for i, value_set in enumerate(p4info.value_sets):
        _unique_ids(f"value_sets[{i}].match", value_set.match, "match field")
        for j, match in enumerate(value_set.match):
            _width(f"value_sets[{i}].match[{j}]", match.bitwidth)
        if value_set.size < 0:
            raise _invalid(f"value_sets[{i}].size", f"{value_set.size} is negative")
    for i, register in enumerate(p4info.registers):
        if register.size < 0:
            raise _invalid(f"registers[{i}].size", f"{register.size} is negative")
