"""Validation and decoding of the parts of table entries: match keys (spec "Match Format")
and action specifications, into plain ints; and the canonical encoding back.

A decoded key is a tuple with one item per P4Info match field, in P4Info order: None for a
don't-care field, else a tuple of ints - (value,) for exact and optional, (value, prefix_len)
for LPM, (value, mask) for ternary, (low, high) for range.  It is hashable, so it (with the
priority) identifies an entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from runtime_server.bytestrings import decode_unsigned, encode_unsigned
from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.p4info_index import ActionInfo, MatchFieldInfo, MatchType, P4InfoIndex
from runtime_server.proto import p4runtime_pb2

FieldKey = tuple[int, ...] | None
Key = tuple[FieldKey, ...]

_ONEOF_KIND = {
    "exact": MatchType.EXACT,
    "lpm": MatchType.LPM,
    "ternary": MatchType.TERNARY,
    "range": MatchType.RANGE,
    "optional": MatchType.OPTIONAL,
}


# PI's texts (p4lang/PI proto/frontend), which tests written against BMv2 expect; kvick's
# detail follows each after a colon.
PI_LPM_DONT_CARE = ("Invalid reprsentation of 'don't care' LPM match, omit match field instead "
                    "of using a prefix length of 0")  # sic: PI's spelling
PI_TERNARY_DONT_CARE = ("Invalid representation of 'don't care' ternary match, omit match "
                        "field instead of using 0 mask")
PI_RANGE_DONT_CARE = ("Invalid representation of 'don't care' range match, omit match field "
                      "instead of using low=0 and high=2**bitwidth-1")


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


def decode_field(field: MatchFieldInfo, match: p4runtime_pb2.FieldMatch) -> tuple[int, ...]:
    """One FieldMatch, checked against its P4Info field."""
    which = match.WhichOneof("field_match_type")
    if which is None:
        raise _invalid(f"match field {field.name!r}: no match value set")
    if _ONEOF_KIND.get(which) != field.match_type:
        raise _invalid(
            f"Invalid match type: match field {field.name!r} is "
            f"{MatchType.Name(field.match_type)}, the request gives {which}"
        )
    width = field.bitwidth
    what = f"match field {field.name!r}"
    if which == "exact":
        return (decode_unsigned(match.exact.value, width, what),)
    if which == "optional":
        return (decode_unsigned(match.optional.value, width, what),)
    if which == "lpm":
        value = decode_unsigned(match.lpm.value, width, what)
        prefix_len = match.lpm.prefix_len
        if prefix_len == 0:
            raise _invalid(f"{PI_LPM_DONT_CARE}: {what}")
        if prefix_len < 0:
            raise _invalid(f"Prefix length cannot be < 0: {what}: {prefix_len}")
        if prefix_len > width:
            raise _invalid(f"Prefix length cannot be > bitwidth: {what}: {prefix_len} > {width}")
        if value & ((1 << (width - prefix_len)) - 1):
            raise _invalid(f"Invalid LPM value, incorrect number of trailing zeros: {what}: "
                           f"bits beyond the /{prefix_len} prefix are not zero")
        return (value, prefix_len)
    if which == "ternary":
        value = decode_unsigned(match.ternary.value, width, what)
        mask = decode_unsigned(match.ternary.mask, width, what + " mask")
        if mask == 0:
            raise _invalid(f"{PI_TERNARY_DONT_CARE}: {what}")
        if value & ~mask:
            raise _invalid(f"Invalid ternary value, make sure value & mask == value: {what}")
        return (value, mask)
    low = decode_unsigned(match.range.low, width, what + " low")
    high = decode_unsigned(match.range.high, width, what + " high")
    if low > high:
        raise _invalid(f"Invalid range value, make sure low <= high: {what}: low bound {low} "
                       f"above high bound {high}")
    if low == 0 and high == (1 << width) - 1:
        raise _invalid(f"{PI_RANGE_DONT_CARE}: {what}")
    return (low, high)


def decode_key(
    fields: Sequence[MatchFieldInfo],
    fields_by_id: dict[int, MatchFieldInfo],
    matches: Iterable[p4runtime_pb2.FieldMatch],
    what: str,
) -> Key:
    """The decoded key of a `match` list; INVALID_ARGUMENT for unknown, repeated or missing
    exact fields, OUT_OF_RANGE for values too wide."""
    given: dict[int, tuple[int, ...]] = {}
    for match in matches:
        field = fields_by_id.get(match.field_id)
        if field is None:
            raise _invalid(f"Unknown field in match key: {what}: field id {match.field_id}")
        if match.field_id in given:
            raise _invalid(f"{what}: match field {field.name!r} given twice")
        given[match.field_id] = decode_field(field, match)
    key = []
    for field in fields:
        value = given.get(field.id)
        if value is None and field.match_type == MatchType.EXACT:
            raise _invalid(f"Missing non-ternary field in match key: {what}: exact match "
                           f"field {field.name!r}")
        key.append(value)
    return tuple(key)


def encode_key(fields: Sequence[MatchFieldInfo], key: Key) -> list[p4runtime_pb2.FieldMatch]:
    """Canonical FieldMatch messages for a decoded key (don't-care fields omitted)."""
    out = []
    for field, value in zip(fields, key, strict=True):
        if value is None:
            continue
        match = p4runtime_pb2.FieldMatch(field_id=field.id)
        kind = field.match_type
        if kind == MatchType.EXACT:
            match.exact.value = encode_unsigned(value[0])
        elif kind == MatchType.OPTIONAL:
            match.optional.value = encode_unsigned(value[0])
        elif kind == MatchType.LPM:
            match.lpm.value = encode_unsigned(value[0])
            match.lpm.prefix_len = value[1]
        elif kind == MatchType.TERNARY:
            match.ternary.value = encode_unsigned(value[0])
            match.ternary.mask = encode_unsigned(value[1])
        else:
            match.range.low = encode_unsigned(value[0])
            match.range.high = encode_unsigned(value[1])
        out.append(match)
    return out


def decode_action(
    index: P4InfoIndex, action: p4runtime_pb2.Action, allowed: Iterable[int] | None, what: str
) -> tuple[ActionInfo, list[int]]:
    """(action, parameter values in declaration order); INVALID_ARGUMENT for an action not
    in `allowed` or a missing, repeated or unknown parameter; OUT_OF_RANGE for a value too
    wide."""
    info = index.actions.get(action.action_id)
    if info is None:
        raise _invalid(f"Invalid action for table: {what}: unknown action id "
                       f"{action.action_id}")
    if allowed is not None and action.action_id not in allowed:
        raise _invalid(f"Invalid action for table: {what}: action {info.name!r} is not one "
                       "of its actions")
    values: dict[int, int] = {}
    for param in action.params:
        param_info = info.params_by_id.get(param.param_id)
        if param_info is None:
            raise _invalid(f"Unknown action parameter: {what}: action {info.name!r} has no "
                           f"parameter id {param.param_id}")
        if param.param_id in values:
            raise _invalid(f"{what}: parameter {param_info.name!r} given twice")
        values[param.param_id] = decode_unsigned(
            param.value, param_info.bitwidth, f"{what}: parameter {param_info.name!r}"
        )
    missing = [p.name for p in info.params if p.id not in values]
    if missing:
        raise _invalid(f"{what}: action {info.name!r} is missing parameter(s) {missing}")
    return info, [values[p.id] for p in info.params]


def encode_action(info: ActionInfo, values: Sequence[int]) -> p4runtime_pb2.Action:
    action = p4runtime_pb2.Action(action_id=info.id)
    for param, value in zip(info.params, values, strict=True):
        action.params.add(param_id=param.id, value=encode_unsigned(value))
    return action
