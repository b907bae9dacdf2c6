"""The C apply loop for encoded runs on DIR-24-8 tables (target/bulk.pyx, reached through
Switch.table_write_encoded) against the per-entry Switch API on random mixed batches:
same failures at the same positions, same entries, same forwarding, and atomic batches that
either apply whole or leave everything as it was. (Handles may differ: an id a batch deletes
is reused only after the batch is published, while each per-entry call is a write of its own.)"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.errors import AlreadyExists, NotFound, ResourceExhausted, TargetError

PROGRAM = program("tutorial_basic")
pytestmark = needs_corpus
TABLE = "MyIngress.ipv4_lpm"
FORWARD = "MyIngress.ipv4_forward"
INSERT, MODIFY, DELETE = Switch.UPDATE_INSERT, Switch.UPDATE_MODIFY, Switch.UPDATE_DELETE


def load(size: int) -> Switch:
    program = json.loads(Path(f"{PROGRAM}.json").read_text())
    for table in program["pipelines"][0]["tables"]:
        if table["name"] == TABLE:
            table["max_size"] = size
    sw = Switch(pool_size=256)
    sw.load(program)
    return sw


def random_update(rng: random.Random) -> tuple[int, int, int, list[int]]:
    """(kind, prefix, length, params) over a small space, so that duplicates, misses and
    prefixes longer than /24 (tbl8 groups) all happen."""
    kind = rng.choice([INSERT, INSERT, INSERT, MODIFY, DELETE])
    length = rng.choice([8, 16, 20, 24, 25, 28, 32])
    prefix = (rng.choice([10, 172, 192]) << 24 | rng.randrange(4) << 16 |
              rng.randrange(4) << 8 | rng.randrange(256))
    prefix &= ((1 << 32) - 1) ^ ((1 << (32 - length)) - 1)
    return kind, prefix, length, [rng.randrange(1 << 48), rng.randrange(1 << 9)]


def encode(sw: Switch, updates: list[tuple[int, int, int, list[int]]]) -> tuple:
    stride = sw.table_param_stride(TABLE)
    action = sw.table_action_ref(TABLE, FORWARD)
    kinds, rows, params = bytearray(), bytearray(), bytearray()
    for kind, prefix, length, values in updates:
        kinds.append(kind)
        mask = ((1 << 32) - 1) ^ ((1 << (32 - length)) - 1)
        rows += prefix.to_bytes(4, "big") + mask.to_bytes(4, "big")
        for k in range(stride):
            value = values[k] if k < len(values) and kind != DELETE else 0
            params += value.to_bytes(16, "little")
    actions = [action if kind != DELETE else -1 for kind, *_ in updates]
    from array import array
    return (TABLE, kinds, rows, array("q", [0] * len(updates)), array("i", actions), params)


def apply_reference(sw: Switch, updates) -> list[tuple[int, type]]:
    """The same updates, one at a time through the per-entry API. A duplicate is
    ALREADY_EXISTS even when the table is full (table_add would say full first)."""
    failed = []
    for j, (kind, prefix, length, values) in enumerate(updates):
        match = [Lpm(prefix, length)]
        try:
            if kind == INSERT:
                if sw.table_find(TABLE, match) is not None:
                    raise AlreadyExists("duplicate")
                sw.table_add(TABLE, match, FORWARD, values)
                continue
            handle = sw.table_find(TABLE, match)
            if handle is None:
                raise NotFound("no entry")
            if kind == MODIFY:
                sw.table_modify(TABLE, handle, FORWARD, values)
            else:
                sw.table_delete(TABLE, handle)
        except TargetError as err:
            failed.append((j, type(err)))
    return failed


def state(sw: Switch) -> list[tuple]:
    """(handle, match, action, params) of every entry, in match order."""
    return sorted(((e.handle, tuple((m.value, m.prefix_len) for m in e.match), e.action,
                    tuple(e.params)) for e in sw.table_entries(TABLE)), key=lambda e: e[1:])


def forwarding(sw: Switch, addrs: list[int]) -> list:
    frames = []
    for addr in addrs:
        frame = (bytes(6) + bytes.fromhex("020000000001") + b"\x08\x00" +
                 bytes.fromhex("4500001400000000400600000a000001") + addr.to_bytes(4, "big"))
        frames.append((1, frame))
    return sw.process(frames)


@pytest.mark.parametrize("seed", range(12))
def test_bulk_runs_match_the_per_entry_api(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([40, 1000])
    bulk, reference = load(size), load(size)
    addrs = [rng.choice([10, 172, 192]) << 24 | rng.randrange(1 << 18) for _ in range(64)]
    for _batch in range(6):
        updates = [random_update(rng) for _ in range(rng.randrange(1, 120))]
        got = bulk.table_write_encoded([encode(bulk, updates)])
        want = apply_reference(reference, updates)
        assert [(j, type(err)) for _ri, j, err in got] == want
        assert [e[1:] for e in state(bulk)] == [e[1:] for e in state(reference)]
        assert forwarding(bulk, addrs) == forwarding(reference, addrs)
    assert bulk.table_size(TABLE) == reference.table_size(TABLE)


@pytest.mark.parametrize("seed", range(12))
def test_atomic_runs_apply_whole_or_not_at_all(seed: int) -> None:
    rng = random.Random(100 + seed)
    bulk, reference = load(60), load(60)
    addrs = [rng.choice([10, 172, 192]) << 24 | rng.randrange(1 << 18) for _ in range(64)]
    for _batch in range(8):
        updates = [random_update(rng) for _ in range(rng.randrange(1, 30))]
        before = state(bulk)
        before_forwarding = forwarding(bulk, addrs)
        got = bulk.table_write_encoded([encode(bulk, updates)], atomic=True)
        trial = load(60)
        for entry in sorted(state(reference)):
            trial.table_add(TABLE, [Lpm(*entry[1][0])], FORWARD, list(entry[3]))
        want = apply_reference(trial, updates)
        if want:
            assert len(got) == 1 and (got[0][1], type(got[0][2])) == want[0]
            assert state(bulk) == before
            assert forwarding(bulk, addrs) == before_forwarding
        else:
            assert got == []
            apply_reference(reference, updates)
            assert sorted(e[1:] for e in state(bulk)) == sorted(e[1:] for e in state(reference))
            assert forwarding(bulk, addrs) == forwarding(reference, addrs)


def test_failures_are_the_right_kinds() -> None:
    sw = load(2)
    updates = [(INSERT, 0x0A000000, 8, [1, 1]), (INSERT, 0x0A000000, 8, [2, 2]),
               (MODIFY, 0x0B000000, 8, [3, 3]), (DELETE, 0x0C000000, 8, []),
               (INSERT, 0x0B000000, 8, [4, 4]), (INSERT, 0x0C000000, 8, [5, 5])]
    got = sw.table_write_encoded([encode(sw, updates)])
    assert [(j, type(err)) for _ri, j, err in got] == [
        (1, AlreadyExists), (2, NotFound), (3, NotFound), (5, ResourceExhausted)]
    assert [(e.match[0].value, e.params) for e in sw.table_entries(TABLE)] == [
        (0x0A000000, [1, 1]), (0x0B000000, [4, 4])]


def columns_as_entries(sw: Switch) -> list[tuple]:
    """table_read_encoded's columns turned back into (handle, match, action, params)."""
    handles, rows, _priorities, actions, params = sw.table_read_encoded(TABLE)
    stride = sw.table_param_stride(TABLE)
    names = {sw.table_action_ref(TABLE, a): a for a in sw.program.tables[TABLE].actions}
    out = []
    for j, handle in enumerate(handles):
        value = int.from_bytes(rows[8 * j:8 * j + 4], "big")
        length = int.from_bytes(rows[8 * j + 4:8 * j + 8], "big").bit_count()
        values = [int.from_bytes(params[16 * (stride * j + k):16 * (stride * j + k + 1)],
                                 "little") for k in range(stride)]
        out.append((handle, ((value, length),), names[actions[j]], tuple(values[:2])))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_read_columns_match_the_entries(seed: int) -> None:
    rng = random.Random(200 + seed)
    sw = load(1000)
    for _batch in range(4):
        sw.table_write_encoded([encode(sw, [random_update(rng) for _ in range(200)])])
        assert columns_as_entries(sw) == sorted(state(sw))
