"""The C wire decoder and encoder of table entries against the protobuf path as reference:
random tables (every match kind, odd widths), random valid and invalid entries."""

from __future__ import annotations

import random
from array import array

import pytest

from runtime_server.entry_codec import decode_action, decode_key, encode_action, encode_key
from runtime_server.errors import P4RuntimeError
from runtime_server.p4info_index import ActionInfo, MatchFieldInfo, MatchType, ParamInfo
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.read_encoder import encode_entity_chunks, encode_table_entries
from runtime_server.write_decoder import (
    ActionLayout,
    TableLayout,
    decode_updates,
    split_write_request,
)

KINDS = [MatchType.EXACT, MatchType.LPM, MatchType.TERNARY, MatchType.RANGE, MatchType.OPTIONAL]
TABLE_ID = 77
TARGET_ACTION = 5


class Index:
    """The part of P4InfoIndex that decode_action reads."""

    def __init__(self, actions: dict[int, ActionInfo]) -> None:
        self.actions = actions


def random_table(rng: random.Random):
    nfields = rng.randint(1, 4)
    kinds = [rng.choice(KINDS) for _ in range(nfields)]
    if MatchType.LPM in kinds:       # at most one LPM field, as P4 allows
        first = kinds.index(MatchType.LPM)
        kinds = [k if k != MatchType.LPM or i == first else MatchType.EXACT
                 for i, k in enumerate(kinds)]
    fields = tuple(MatchFieldInfo(i + 1, f"f{i}", rng.choice([1, 3, 8, 9, 12, 16, 32, 48, 64,
                                                               100, 128]), k)
                   for i, k in enumerate(kinds))
    params = tuple(ParamInfo(i + 1, f"p{i}", rng.choice([1, 7, 9, 16, 48, 64, 100]))
                   for i in range(rng.randint(0, 3)))
    action = ActionInfo(9, "a", params, {p.id: p for p in params})
    needs_priority = any(k in (MatchType.TERNARY, MatchType.RANGE, MatchType.OPTIONAL)
                         for k in kinds)
    return fields, action, needs_priority


def random_value(rng: random.Random, bits: int) -> int:
    return rng.choice([0, 1, (1 << bits) - 1, rng.getrandbits(bits)])


def encode_bytes(rng: random.Random, value: int, bits: int) -> bytes:
    """Canonical, padded, or sometimes broken (too wide, empty) byte strings."""
    roll = rng.random()
    if roll < 0.03:
        return b""
    if roll < 0.06:
        value = value | (1 << bits)
    size = max(1, (value.bit_length() + 7) // 8)
    if roll > 0.8:
        size = max(size, (bits + 7) // 8) + rng.randint(0, 2)
    return value.to_bytes(size, "big")


def random_entry(rng: random.Random, fields, action: ActionInfo, needs_priority: bool):
    entry = pb.TableEntry(table_id=TABLE_ID)
    for f in fields:
        if f.match_type != MatchType.EXACT and rng.random() < 0.25:
            continue    # don't care
        m = entry.match.add(field_id=f.id if rng.random() > 0.02 else 99)
        w = f.bitwidth
        if f.match_type == MatchType.EXACT:
            m.exact.value = encode_bytes(rng, random_value(rng, w), w)
        elif f.match_type == MatchType.OPTIONAL:
            m.optional.value = encode_bytes(rng, random_value(rng, w), w)
        elif f.match_type == MatchType.LPM:
            plen = rng.randint(0 if rng.random() < 0.05 else 1, w)
            value = random_value(rng, w)
            if rng.random() > 0.1:
                value &= ~((1 << (w - plen)) - 1)
            m.lpm.value = encode_bytes(rng, value, w)
            m.lpm.prefix_len = plen
        elif f.match_type == MatchType.TERNARY:
            mask = random_value(rng, w)
            value = random_value(rng, w)
            if rng.random() > 0.1:
                value &= mask
            m.ternary.value = encode_bytes(rng, value, w)
            m.ternary.mask = encode_bytes(rng, mask, w)
        else:
            low, high = sorted([random_value(rng, w), random_value(rng, w)])
            if rng.random() < 0.05:
                low, high = high, low
            m.range.low = encode_bytes(rng, low, w)
            m.range.high = encode_bytes(rng, high, w)
    if needs_priority:
        entry.priority = rng.choice([1, 5, 1 << 20]) if rng.random() > 0.05 else 0
    elif rng.random() < 0.03:
        entry.priority = 3
    act = entry.action.action
    act.action_id = action.id if rng.random() > 0.03 else 1234
    for p in action.params:
        if rng.random() < 0.02:
            continue
        act.params.add(param_id=p.id, value=encode_bytes(rng, random_value(rng, p.bitwidth),
                                                         p.bitwidth))
    if rng.random() < 0.03:
        entry.controller_metadata = 1   # valid, but for the protobuf path
    return entry


def reference_row(fields, key) -> bytes:
    """The target's stored row for a decoded key: value bytes then mask bytes per field."""
    values, masks = b"", b""
    for f, item in zip(fields, key, strict=True):
        nb = (f.bitwidth + 7) // 8
        full = (1 << f.bitwidth) - 1
        kind = f.match_type
        if item is None:
            v, m = (0, full) if kind == MatchType.RANGE else (0, 0)
        elif kind in (MatchType.EXACT, MatchType.OPTIONAL):
            v, m = item[0], full
        elif kind == MatchType.LPM:
            v, m = item[0], full ^ ((1 << (f.bitwidth - item[1])) - 1)
        else:
            v, m = item
        values += v.to_bytes(nb, "big")
        masks += m.to_bytes(nb, "big")
    return values + masks


def reference(fields, action: ActionInfo, needs_priority: bool, entry: pb.TableEntry):
    """(row, priority, params) as the protobuf path sees the entry, or None if the
    protobuf path must decide (invalid or not plain)."""
    if entry.controller_metadata:
        return None
    try:
        key = decode_key(fields, {f.id: f for f in fields}, entry.match, "t")
        _info, params = decode_action(Index({action.id: action}), entry.action.action,
                                      {action.id: 0}, "t")
    except P4RuntimeError:
        return None
    if needs_priority != (entry.priority > 0) or entry.priority < 0:
        return None
    return reference_row(fields, key), entry.priority, params


@pytest.mark.parametrize("seed", range(40))
def test_decoder_accepts_exactly_what_the_protobuf_path_accepts(seed: int) -> None:
    rng = random.Random(seed)
    fields, action, needs_priority = random_table(rng)
    layout = TableLayout(TABLE_ID, "t", [(f.id, f.match_type, f.bitwidth) for f in fields],
                         needs_priority, {action.id: ActionLayout(
                             TARGET_ACTION, 0, [(p.id, p.bitwidth) for p in action.params])})
    entries = [random_entry(rng, fields, action, needs_priority) for _ in range(60)]
    request = pb.WriteRequest(device_id=3, atomicity=pb.WriteRequest.CONTINUE_ON_ERROR)
    request.election_id.low = 9
    for e in entries:
        request.updates.add(type=pb.Update.INSERT).entity.table_entry.CopyFrom(e)
    data = request.SerializeToString()
    device_id, election, role, atomicity, spans = split_write_request(data)
    assert (device_id, election, role, atomicity) == (3, 9, "", 0)
    stride = 2 * layout.key_bytes
    i = 0
    while i < len(entries):
        run, following = decode_updates(data, spans, i, {TABLE_ID: layout})
        if run is None:
            assert reference(fields, action, needs_priority, entries[i]) is None, entries[i]
            i += 1
            continue
        for j, position in enumerate(run.positions):
            expected = reference(fields, action, needs_priority, entries[position])
            assert expected is not None, entries[position]
            row, priority, params = expected
            assert bytes(run.stored[j * stride:(j + 1) * stride]) == row
            assert run.priorities[j] == priority
            assert run.actions[j] == TARGET_ACTION
            assert run.param_values(j) == params + [0] * (layout.param_stride - len(params))
        i = following


@pytest.mark.parametrize("seed", range(40))
def test_encoder_writes_the_canonical_entry(seed: int) -> None:
    rng = random.Random(1000 + seed)
    fields, action, needs_priority = random_table(rng)
    keys, rows, priorities, params = [], b"", [], []
    while len(keys) < 50:
        entry = random_entry(rng, fields, action, needs_priority)
        expected = reference(fields, action, needs_priority, entry)
        if expected is None:
            continue
        keys.append(decode_key(fields, {f.id: f for f in fields}, entry.match, "t"))
        rows += expected[0]
        priorities.append(expected[1])
        params.append(expected[2])
    stride = max(1, len(action.params)) + rng.randrange(2)
    packed = b"".join(b"".join(v.to_bytes(16, "little") for v in values) +
                      bytes(16 * (stride - len(values))) for values in params)
    columns = (TABLE_ID, [(f.id, f.match_type, f.bitwidth) for f in fields], rows,
               array("q", priorities), array("i", [TARGET_ACTION] * len(keys)), packed, stride,
               {TARGET_ACTION: (action.id, [(p.id, p.bitwidth) for p in action.params])})
    encoded = encode_table_entries(*columns)
    wanted = []
    for key, priority, values, got in zip(keys, priorities, params, encoded, strict=True):
        want = pb.TableEntry(table_id=TABLE_ID, priority=priority)
        want.match.extend(encode_key(fields, key))
        want.action.action.CopyFrom(encode_action(action, values))
        assert pb.TableEntry.FromString(got) == want
        assert got == want.SerializeToString()
        wanted.append(want)
    # The same entries cut into ReadResponse bodies of at most ~600 bytes, in order.
    chunks = encode_entity_chunks(*columns, 600)
    responses = [pb.ReadResponse.FromString(chunk) for chunk in chunks]
    assert [e.table_entry for r in responses for e in r.entities] == wanted
    assert all(len(c) <= 600 or len(pb.ReadResponse.FromString(c).entities) == 1
               for c in chunks)
