"""Bind a P4Info to a BMv2 JSON program by name, and refuse a pair that does not belong
together (SetForwardingPipelineConfig answers INVALID_ARGUMENT).

Every P4Info entity must name an object of the same kind in the JSON, with the same shape:
a table's keys (names, match kinds, widths where the JSON says them) and actions, an action's
parameters, an extern's size and width.  The JSON may hold more (p4c's hidden tables).
"""

from __future__ import annotations

from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.proto import p4info_pb2

_JSON_MATCH_KIND = {
    "exact": p4info_pb2.MatchField.EXACT,
    "valid": p4info_pb2.MatchField.EXACT,
    "lpm": p4info_pb2.MatchField.LPM,
    "ternary": p4info_pb2.MatchField.TERNARY,
    "range": p4info_pb2.MatchField.RANGE,
    "optional": p4info_pb2.MatchField.OPTIONAL,
}

MAX_REPORTED_PROBLEMS = 5


def _field_widths(program: dict) -> dict[tuple[str, str], int]:
    """(header instance, field) -> bit width, from the JSON's header types."""
    type_fields = {
        header_type["name"]: {f[0]: f[1] for f in header_type.get("fields", [])}
        for header_type in program.get("header_types", [])
    }
    widths = {}
    for header in program.get("headers", []):
        for field_name, width in type_fields.get(header.get("header_type"), {}).items():
            if isinstance(width, int):
                widths[(header["name"], field_name)] = width
    return widths


def _key_width(key: dict, widths: dict[tuple[str, str], int]) -> int | None:
    target = key.get("target")
    if key.get("mask") is not None:
        return None  # a masked expression's width is not the field's
    if isinstance(target, list) and len(target) == 2:
        return widths.get((target[0], target[1]))
    return None


def binding_problems(p4info: p4info_pb2.P4Info, program: dict) -> list[str]:
    """Every way in which `p4info` does not describe `program` (empty when they match)."""
    problems: list[str] = []
    json_tables = {t["name"]: t for p in program.get("pipelines", []) for t in p.get("tables", [])}
    json_profiles = {
        a["name"]: a for p in program.get("pipelines", []) for a in p.get("action_profiles", [])
    }
    json_actions: dict[str, list[dict]] = {}
    for action in program.get("actions", []):
        json_actions.setdefault(action["name"], []).append(action)
    widths = _field_widths(program)
    action_names = {a.preamble.id: a.preamble.name for a in p4info.actions}

    for action in p4info.actions:
        name = action.preamble.name
        candidates = json_actions.get(name)
        if not candidates:
            problems.append(f"action {name!r} is not in the device config")
            continue
        wanted = [(p.name, p.bitwidth) for p in action.params]
        shapes = [[(d["name"], d["bitwidth"]) for d in c.get("runtime_data", [])]
                  for c in candidates]
        if wanted not in shapes:
            problems.append(
                f"action {name!r}: P4Info parameters {wanted} differ from the device config's "
                f"{shapes[0]}"
            )

    for table in p4info.tables:
        name = table.preamble.name
        json_table = json_tables.get(name)
        if json_table is None:
            problems.append(f"table {name!r} is not in the device config")
            continue
        keys = json_table.get("key", [])
        if len(keys) != len(table.match_fields):
            problems.append(
                f"table {name!r}: {len(table.match_fields)} match fields in P4Info, "
                f"{len(keys)} in the device config"
            )
        else:
            for field, key in zip(table.match_fields, keys, strict=True):
                kind = _JSON_MATCH_KIND.get(key.get("match_type"))
                # p4c-bm2-ss emits an optional match as "ternary" in the JSON.
                if kind == p4info_pb2.MatchField.TERNARY and \
                        field.match_type == p4info_pb2.MatchField.OPTIONAL:
                    kind = p4info_pb2.MatchField.OPTIONAL
                if key.get("name") != field.name or kind != field.match_type:
                    problems.append(
                        f"table {name!r}: match field {field.name!r} "
                        f"({p4info_pb2.MatchField.MatchType.Name(field.match_type)}) differs "
                        f"from the device config's {key.get('name')!r} ({key.get('match_type')})"
                    )
                    continue
                width = _key_width(key, widths)
                if width is not None and field.bitwidth and width != field.bitwidth:
                    problems.append(
                        f"table {name!r}: match field {field.name!r} is {field.bitwidth} bits "
                        f"in P4Info, {width} in the device config"
                    )
        table_actions = set(json_table.get("actions", []))
        for ref in table.action_refs:
            action_name = action_names.get(ref.id)
            if action_name is not None and action_name not in table_actions:
                problems.append(f"table {name!r}: action {action_name!r} is not one of its actions")
        if table.implementation_id:
            if json_table.get("action_profile") is None:
                problems.append(f"table {name!r} has no action profile in the device config")

    for profile in p4info.action_profiles:
        if profile.preamble.name not in json_profiles:
            problems.append(f"action profile {profile.preamble.name!r} is not in the device config")

    problems += _extern_problems("counter", p4info.counters, program.get("counter_arrays", []),
                                 direct=False)
    problems += _extern_problems("direct counter", p4info.direct_counters,
                                 program.get("counter_arrays", []), direct=True)
    problems += _extern_problems("meter", p4info.meters, program.get("meter_arrays", []),
                                 direct=False)
    problems += _extern_problems("direct meter", p4info.direct_meters,
                                 program.get("meter_arrays", []), direct=True)
    json_registers = {r["name"]: r for r in program.get("register_arrays", [])}
    for register in p4info.registers:
        json_register = json_registers.get(register.preamble.name)
        if json_register is None:
            problems.append(f"register {register.preamble.name!r} is not in the device config")
            continue
        if json_register.get("size") != register.size:
            problems.append(f"register {register.preamble.name!r}: size {register.size} in "
                            f"P4Info, {json_register.get('size')} in the device config")
        width = register.type_spec.bitstring.bit.bitwidth
        if width and json_register.get("bitwidth") != width:
            problems.append(f"register {register.preamble.name!r}: {width} bits in P4Info, "
                            f"{json_register.get('bitwidth')} in the device config")
    json_learn_lists = {item["name"] for item in program.get("learn_lists", [])}
    for digest in p4info.digests:
        if digest.preamble.name not in json_learn_lists:
            problems.append(f"digest {digest.preamble.name!r} is not in the device config")
    json_value_sets = {item["name"] for item in program.get("parse_vsets", [])}
    for value_set in p4info.value_sets:
        if value_set.preamble.name not in json_value_sets:
            problems.append(f"value set {value_set.preamble.name!r} is not in the device config")
    return problems


def _extern_problems(what: str, entities, json_arrays: list[dict], direct: bool) -> list[str]:
    by_name = {a["name"]: a for a in json_arrays}
    problems = []
    for entity in entities:
        name = entity.preamble.name
        array = by_name.get(name)
        if array is None or bool(array.get("is_direct")) != direct:
            problems.append(f"{what} {name!r} is not in the device config")
        elif not direct and array.get("size") != entity.size:
            problems.append(f"{what} {name!r}: size {entity.size} in P4Info, "
                            f"{array.get('size')} in the device config")
    return problems


def check_binding(p4info: p4info_pb2.P4Info, program: dict) -> None:
    """Raise INVALID_ARGUMENT naming the first mismatches between the P4Info and the JSON."""
    problems = binding_problems(p4info, program)
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED_PROBLEMS])
        more = len(problems) - MAX_REPORTED_PROBLEMS
        suffix = f" (and {more} more)" if more > 0 else ""
        raise P4RuntimeError(
            StatusCode.INVALID_ARGUMENT, f"P4Info does not match the device config: {shown}{suffix}"
        )
