"""Differential fuzzing of the Write decoder: random and mutated WriteRequests go through the
C fast path (write_decoder.pyx + fast_write) on one switch and through protobuf alone on a
second switch with the same program. Both must read the request's head the same way, give
every update the same status code and leave the same entries.

Requests are built from the program's P4Info (every table, match kind and action; values of
fitting, padded and too wide lengths, bad prefixes, masks and priorities; INSERT, MODIFY and
DELETE over a small key space so that they meet), then often mutated on the wire: a field
repeated with another value (last one wins), a message split in two (merged), bytes flipped
or cut inside an update whose framing stays valid, unknown fields, a role that is not UTF-8.

    python tools/p4rt_write_fuzz.py [--count 20000] [--seed 1] [--program NAME ...]

prints requests/updates tried and the disagreements; exit status 1 if there was one.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from google.protobuf import text_format  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

from runtime_server.proto import p4info_pb2, p4runtime_pb2  # noqa: E402
from runtime_server.tables import FramedEntities  # noqa: E402

CORPUS = Path(os.environ.get("KVICK_CORPUS", REPO.parent / "shared" / "corpus"))
PROGRAMS = ("tutorial_basic", "p4c_fabric_20190420_fabric", "p4c_pins_pins_middleblock")
MatchType = p4info_pb2.MatchField.MatchType
Update = p4runtime_pb2.Update


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value & ((1 << 64) - 1))


class Generator:
    """Random TableEntry updates for one P4Info, over a small key space."""

    def __init__(self, p4info: p4info_pb2.P4Info, rng: random.Random) -> None:
        self.rng = rng
        self.tables = [t for t in p4info.tables if not t.is_const_table and t.match_fields]
        self.actions = {a.preamble.id: a for a in p4info.actions}

    def value(self, bitwidth: int) -> bytes:
        rng = self.rng
        nbytes = (bitwidth + 7) // 8
        roll = rng.random()
        if roll < 0.6:      # a small value, canonical
            number = rng.randrange(min(4, 1 << bitwidth))
            return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
        if roll < 0.75:     # padded to the full width
            return rng.randrange(min(4, 1 << bitwidth)).to_bytes(nbytes, "big")
        if roll < 0.85:     # the widest value that fits, or one bit more
            return ((1 << bitwidth) - 1 + rng.randrange(2)).to_bytes(nbytes + 1, "big")
        if roll < 0.92:
            return b""
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, nbytes + 3)))

    def match(self, table, entry: p4runtime_pb2.TableEntry) -> None:
        rng = self.rng
        for m in table.match_fields:
            if rng.random() < 0.05:
                continue            # left out (don't care, or missing)
            fm = entry.match.add(field_id=m.id if rng.random() > 0.03 else 99)
            kind = m.match_type if rng.random() > 0.05 else rng.choice(list(MatchType.values()))
            if kind == MatchType.EXACT:
                fm.exact.value = self.value(m.bitwidth)
            elif kind == MatchType.LPM:
                fm.lpm.value = self.value(m.bitwidth)
                fm.lpm.prefix_len = rng.choice((0, 1, m.bitwidth, m.bitwidth + 1,
                                                rng.randrange(m.bitwidth + 1)))
            elif kind == MatchType.TERNARY:
                fm.ternary.value = self.value(m.bitwidth)
                fm.ternary.mask = rng.choice((self.value(m.bitwidth), b"\xff" * 16, b"\x00"))
            elif kind == MatchType.RANGE:
                fm.range.low = self.value(m.bitwidth)
                fm.range.high = self.value(m.bitwidth)
            elif kind == MatchType.OPTIONAL:
                fm.optional.value = self.value(m.bitwidth)
            if rng.random() < 0.02:
                entry.match.add().CopyFrom(fm)  # the same field twice

    def update(self) -> Update:
        rng = self.rng
        table = rng.choice(self.tables)
        update = Update(type=rng.choice((1, 1, 1, 2, 3, 3, 0 if rng.random() < 0.02 else 1)))
        entry = update.entity.table_entry
        entry.table_id = table.preamble.id
        self.match(table, entry)
        needs_priority = any(m.match_type in (MatchType.TERNARY, MatchType.RANGE,
                                              MatchType.OPTIONAL) for m in table.match_fields)
        if needs_priority or rng.random() < 0.05:
            entry.priority = rng.choice((1, 2, 3, 0, -1, 1 << 30) if rng.random() < 0.1
                                        else (1, 2, 3))
        if table.implementation_id:
            if rng.random() < 0.5:
                entry.action.action_profile_member_id = rng.randrange(3)
        elif update.type != 3 or rng.random() < 0.3:
            refs = [r for r in table.action_refs]
            ref = rng.choice(refs)
            action = entry.action.action
            action.action_id = ref.id if rng.random() > 0.03 else rng.randrange(1 << 32)
            for p in self.actions[ref.id].params:
                if rng.random() < 0.03:
                    continue
                action.params.add(param_id=p.id, value=self.value(p.bitwidth))
            if rng.random() < 0.02:
                action.params.add(param_id=rng.randrange(5), value=b"\x01")
        if rng.random() < 0.03:
            entry.idle_timeout_ns = 1000
        if rng.random() < 0.02:
            entry.metadata = b"m"
        if rng.random() < 0.02:
            entry.is_default_action = True
        return update


def mutate_update(data: bytes, rng: random.Random, other_table: int) -> bytes:
    """One wire-level change to an Update's bytes (its framing in the request stays valid)."""
    roll = rng.randrange(9)
    if roll == 0 and data:                 # a flipped byte
        at = rng.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
    if roll == 1 and data:                 # cut short
        return data[:rng.randrange(len(data))]
    if roll == 2:                          # an unknown field
        return data + field_varint(rng.choice((7, 15, 100)), 1)
    update = Update.FromString(data)
    entry = update.entity.table_entry
    if roll == 3:                          # the update type given twice
        return data + field_varint(1, rng.choice((1, 2, 3, 0, 1 << 33)))
    if roll == 4:                          # table_id repeated: the last one counts
        inner = entry.SerializeToString() + field_varint(1, rng.choice((entry.table_id,
                                                                         other_table)))
        first = field_varint(1, update.type)
        return first + field_bytes(2, field_bytes(2, inner))
    if roll == 5:                          # the entity split in two messages (merged)
        head = p4runtime_pb2.TableEntry(table_id=entry.table_id)
        tail = p4runtime_pb2.TableEntry()
        tail.CopyFrom(entry)
        tail.ClearField("table_id")
        return (field_varint(1, update.type) + field_bytes(2, field_bytes(2, head.SerializeToString()))
                + field_bytes(2, field_bytes(2, tail.SerializeToString())))
    if roll == 6:                          # the action given twice (the second merges in)
        if entry.HasField("action"):
            extra = p4runtime_pb2.TableEntry()
            extra.action.CopyFrom(entry.action)
            if extra.action.HasField("action") and extra.action.action.params:
                extra.action.action.params[0].value = b"\x02"
            return (field_varint(1, update.type) + field_bytes(2, field_bytes(
                2, entry.SerializeToString() + extra.SerializeToString())))
    if roll == 7:                          # priority repeated
        return data + field_bytes(2, field_bytes(2, field_varint(4, rng.choice((0, 1, 7)))))
    # a negative or huge scalar spelled with a long varint
    return data + field_bytes(2, field_bytes(2, field_varint(1, entry.table_id | (1 << 40))))


def head_bytes(rng: random.Random, election_id: int) -> bytes:
    """A WriteRequest's fields other than updates, sometimes spelled oddly."""
    parts = [field_varint(1, 0)]
    roll = rng.random()
    if roll < 0.1:                         # election id split in two messages
        parts.append(field_bytes(3, field_varint(1, election_id >> 64)))
        parts.append(field_bytes(3, field_varint(2, election_id & ((1 << 64) - 1))))
    elif roll < 0.15:                      # given twice: the halves of the last one merge in
        parts.append(field_bytes(3, field_varint(2, 3)))
        parts.append(field_bytes(3, field_varint(2, election_id)))
    else:
        parts.append(field_bytes(3, field_varint(2, election_id)))
    if rng.random() < 0.05:
        parts.append(field_varint(5, rng.choice((0, 1, 2, 3, 1 << 32, (1 << 64) - 1))))
    if rng.random() < 0.03:
        parts.append(field_bytes(6, rng.choice((b"", b"\xff\xfe", b"r"))))
    if rng.random() < 0.03:
        parts.append(field_varint(1, rng.choice((0, 1 << 40))))
    rng.shuffle(parts)
    return b"".join(parts)


@dataclass
class Report:
    requests: int = 0
    updates: int = 0
    fast_updates: int = 0
    codes: Counter = field(default_factory=Counter)
    disagreements: list[str] = field(default_factory=list)


class Twins:
    """One program on two switches: `fast` is written through the decoder, `reference`
    through protobuf only."""

    def __init__(self, program: str) -> None:
        from runtime_server.digests import DigestEngine
        from runtime_server.pipeline import Pipeline, verify_config
        from target import Switch

        folder = CORPUS / program
        self.p4info = p4info_pb2.P4Info()
        text_format.Parse((folder / f"{program}.p4info.txtpb").read_text(), self.p4info)
        config = p4runtime_pb2.ForwardingPipelineConfig(
            p4_device_config=(folder / f"{program}.json").read_bytes())
        config.p4info.CopyFrom(self.p4info)
        self.pipelines = []
        for _ in range(2):
            switch = Switch()
            verified = verify_config(config, Switch())
            self.pipelines.append(Pipeline.commit(switch, verified,
                                                  DigestEngine(lambda _list: None), None))

    def state(self, pipeline) -> list[bytes]:
        entries = []
        for table in self.p4info.tables:
            entity = p4runtime_pb2.Entity()
            entity.table_entry.table_id = table.preamble.id
            for item in pipeline.read(entity):
                if type(item) is FramedEntities:   # a ReadResponse body of many entities
                    entries.extend(e.SerializeToString(deterministic=True) for e in
                                   p4runtime_pb2.ReadResponse.FromString(bytes(item)).entities)
                else:
                    entries.append(bytes(item))
        return sorted(entries)


def _reference_head(head: bytes) -> tuple:
    request = p4runtime_pb2.WriteRequest.FromString(head)
    election = request.election_id.high << 64 | request.election_id.low \
        if request.HasField("election_id") else None
    return request.device_id, election, request.role, request.atomicity


def one_request(twins: Twins, gen: Generator, rng: random.Random, report: Report) -> None:
    from runtime_server.fast_write import apply_continue, plan_updates
    from runtime_server.write_decoder import split_write_request

    head = head_bytes(rng, 10)
    updates = []
    for _ in range(rng.choice((1, 2, 5, 20))):
        data = gen.update().SerializeToString()
        if rng.random() < 0.3:
            data = mutate_update(data, rng, rng.choice(gen.tables).preamble.id)
        updates.append(data)
    body = b"".join(field_bytes(4, u) for u in updates)
    data = head + body if rng.random() < 0.8 else body + head
    report.requests += 1
    report.updates += len(updates)
    split = split_write_request(data)
    try:
        expected_head = _reference_head(head)
    except DecodeError:
        expected_head = None
    if split is None:
        if expected_head is not None:
            report.disagreements.append(f"request {report.requests}: the reader refused a head "
                                        f"protobuf reads as {expected_head}")
        return
    if expected_head is None:
        report.disagreements.append(f"request {report.requests}: the reader took a head "
                                    "protobuf refuses")
        return
    if tuple(split[:4]) != expected_head:
        report.disagreements.append(f"request {report.requests}: head {tuple(split[:4])} "
                                    f"but protobuf reads {expected_head}")
    spans = split[4]
    results = []
    for pipeline, layouts in zip(twins.pipelines, (None, {}), strict=True):
        errors: list = [None] * (len(spans) // 2)
        plan = plan_updates(pipeline, data, spans, layouts)
        if layouts is None:
            report.fast_updates += sum(len(item) for item in plan if type(item) is not tuple)
        apply_continue(pipeline, plan, errors)
        results.append([None if e is None else e.code.name for e in errors])
    fast, reference = results
    for i, (a, b) in enumerate(zip(fast, reference, strict=True)):
        report.codes[a or "OK"] += 1
        if a != b:
            report.disagreements.append(
                f"request {report.requests} update {i}: fast path {a or 'OK'}, protobuf "
                f"{b or 'OK'}: {Update.FromString(updates[i]) if _parses(updates[i]) else updates[i]!r}")
    if any(e == "INTERNAL" for e in fast):
        report.disagreements.append(f"request {report.requests}: INTERNAL")
    fast_state, reference_state = (twins.state(p) for p in twins.pipelines)
    if fast_state != reference_state:
        only_fast = sorted(set(fast_state) - set(reference_state))
        only_reference = sorted(set(reference_state) - set(fast_state))
        report.disagreements.append(
            f"request {report.requests}: the two switches differ: only after the fast path "
            f"{[_entity_text(e) for e in only_fast[:2]]}, only after protobuf "
            f"{[_entity_text(e) for e in only_reference[:2]]}; the updates were "
            f"{[_update_text(u) for u in updates]}")
        raise RuntimeError("\n".join(report.disagreements[-3:]))


def _entity_text(data: bytes) -> str:
    return text_format.MessageToString(p4runtime_pb2.Entity.FromString(data), as_one_line=True)


def _update_text(data: bytes) -> str:
    if not _parses(data):
        return repr(data)
    return text_format.MessageToString(Update.FromString(data), as_one_line=True)


def _parses(data: bytes) -> bool:
    try:
        Update.FromString(data)
    except DecodeError:
        return False
    return True


def run(count: int, seed: int, programs: tuple[str, ...] = PROGRAMS,
        time_limit: float | None = None) -> Report:
    rng = random.Random(seed)
    report = Report()
    deadline = None if time_limit is None else time.monotonic() + time_limit
    setups = []
    for program in programs:
        twins = Twins(program)
        setups.append((twins, Generator(twins.p4info, rng)))
    for k in range(count):
        if deadline is not None and time.monotonic() > deadline:
            break
        twins, gen = setups[k % len(setups)]
        try:
            one_request(twins, gen, rng, report)
        except RuntimeError:
            # the states diverged: start this program's twins afresh
            setups[k % len(setups)] = (Twins(programs[k % len(setups)]), gen)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--program", nargs="*", default=list(PROGRAMS))
    args = parser.parse_args(argv)
    start = time.monotonic()
    report = run(args.count, args.seed, tuple(args.program))
    for line in report.disagreements[:50]:
        print(line)
    codes = ", ".join(f"{code} {n}" for code, n in report.codes.most_common())
    print(f"{report.requests} requests, {report.updates} updates ({report.fast_updates} decoded "
          f"in C; {codes}); {len(report.disagreements)} disagreements "
          f"in {time.monotonic() - start:.1f} s")
    return 1 if report.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
