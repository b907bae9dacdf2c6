"""Mutated pipeline configs against a running P4Runtime server.

A switch runs a base program with a canary table entry, a multicast group and a cookie. Each
round pushes one mutation of the base config (a value of another type or out of range, a key
or element removed or doubled, an id pointing elsewhere, deep nesting, broken bytes) with
VERIFY_AND_COMMIT. A refused config must be answered INVALID_ARGUMENT and leave the switch as
it was: GetForwardingPipelineConfig still returns the base config and the canary entry and the
group are still there. An accepted mutation is legal (it ran): the base is set up again.

    python tools/p4rt_config_fuzz.py [--count 2000] [--seed 1] [--program tutorial_basic]

prints the counts (tried, accepted, refused per code, wipes, UNKNOWN) and one line per
offence; exit status 1 if a refusal was not INVALID_ARGUMENT or changed the switch.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import grpc  # noqa: E402
from google.protobuf import text_format  # noqa: E402

from runtime_server.proto import (  # noqa: E402
    p4info_pb2,
    p4runtime_pb2,
    p4runtime_pb2_grpc,  # noqa: E402
)

CORPUS = Path(os.environ.get("KVICK_CORPUS", REPO.parent / "shared" / "corpus"))
Action = p4runtime_pb2.SetForwardingPipelineConfigRequest
BASE_COOKIE = 0x5EED
ELECTION_ID = 7
MC_GROUP = 77

# Values of the wrong type or out of range, for JSON and for P4Info fields.
_JSON_ODDITIES: tuple[object, ...] = (None, -1, 0, 1, 2**70, -(2**70), 1.5, "", "x", "0xZZ",
                                      [], {}, [None], {"x": 1}, True, False)
_NEST = "nested-value-goes-here"
_INT_ODDITIES = (0, 1, 2, 7, 0xFFFFFFFF, 2**31, 65, 129, 1 << 24)


def _paths(node: object, path: tuple = ()) -> Iterator[tuple]:
    """Every path into a JSON value (keys and list indexes)."""
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, path + (i,))


def _at(root: object, path: tuple) -> object:
    for step in path:
        root = root[step]  # type: ignore[index]
    return root


def mutate_json(program: dict, rng: random.Random) -> bytes:
    """The program's JSON with one mutation, serialized."""
    program = copy.deepcopy(program)
    paths = [p for p in _paths(program) if p]
    path = rng.choice(paths)
    parent = _at(program, path[:-1])
    last = path[-1]
    how = rng.randrange(7)
    if how == 0:                                   # remove
        del parent[last]  # type: ignore[attr-defined]
    elif how == 1 and isinstance(parent, list):    # double
        parent.insert(last, copy.deepcopy(parent[last]))
    elif how == 2:                                 # nest deeply (spliced into the text)
        depth = rng.choice((50, 5000))
        inner = json.dumps(parent[last])  # type: ignore[index]
        parent[last] = _NEST  # type: ignore[index]
        return json.dumps(program).replace(json.dumps(_NEST), "[" * depth + inner + "]" * depth,
                                           1).encode()
    elif how == 3 and isinstance(parent[last], int) and not isinstance(parent[last], bool):
        parent[last] = parent[last] + rng.choice((-1, 1, 1000, -1000))  # type: ignore[index]
    elif how == 4 and isinstance(parent[last], str):  # a name that exists elsewhere, or none
        parent[last] = rng.choice(("", "nonexistent", parent[last] + "_"))  # type: ignore[index]
    else:
        parent[last] = copy.deepcopy(rng.choice(_JSON_ODDITIES))  # type: ignore[index]
    return json.dumps(program).encode()


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    how = rng.randrange(3)
    if how == 0:
        return data[:rng.randrange(len(data))]
    if how == 1:
        at = rng.randrange(len(data))
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
    return b"[" * 100_000 + b"]" * 100_000


def _message_fields(message, path: str = "") -> Iterator[tuple[object, object, int | None, str]]:
    """(message, field descriptor, index or None, path) of every field of every message in
    the tree, set or not (only set repeated elements)."""
    for fd in message.DESCRIPTOR.fields:
        name = f"{path}.{fd.name}" if path else fd.name
        if fd.is_repeated:
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                continue  # maps (annotations): nothing the switch reads
            values = getattr(message, fd.name)
            yield message, fd, None, name
            if fd.message_type is not None:
                for i, item in enumerate(values):
                    yield message, fd, i, f"{name}[{i}]"
                    yield from _message_fields(item, f"{name}[{i}]")
            else:
                for i in range(len(values)):
                    yield message, fd, i, f"{name}[{i}]"
        elif fd.message_type is not None:
            if message.HasField(fd.name):
                yield message, fd, None, name
                yield from _message_fields(getattr(message, fd.name), name)
        else:
            yield message, fd, None, name


def mutate_p4info(p4info: p4info_pb2.P4Info, rng: random.Random) -> p4info_pb2.P4Info:
    """The P4Info with one mutation: a field set to an odd value or another entity's id, a
    repeated element removed or doubled, a message cleared."""
    p4info = copy.deepcopy(p4info)
    ids = [e.preamble.id for kind in ("tables", "actions", "action_profiles", "counters",
                                      "direct_counters", "meters", "direct_meters",
                                      "controller_packet_metadata", "registers", "digests",
                                      "value_sets")
           for e in getattr(p4info, kind)]
    fields = list(_message_fields(p4info))
    message, fd, index, _ = rng.choice(fields)
    if fd.is_repeated:
        values = getattr(message, fd.name)
        if index is None or not len(values):
            if fd.message_type is None:
                values.append(_scalar(fd, rng, ids))
            else:
                values.add()
            return p4info
        if rng.random() < 0.5:
            del values[index]
        elif fd.message_type is not None:
            values.add().CopyFrom(values[index])
        else:
            values.append(values[index])
        return p4info
    if fd.message_type is not None:
        message.ClearField(fd.name)
        return p4info
    try:
        setattr(message, fd.name, _scalar(fd, rng, ids))
    except (ValueError, TypeError):
        message.ClearField(fd.name)
    return p4info


def _scalar(fd, rng: random.Random, ids: list[int]):
    if fd.type == fd.TYPE_STRING:
        return rng.choice(("", "x", "nonexistent.name", "MyIngress"))
    if fd.type == fd.TYPE_BYTES:
        return rng.choice((b"", b"\xff" * 3))
    if fd.type == fd.TYPE_BOOL:
        return rng.random() < 0.5
    if fd.type == fd.TYPE_ENUM:
        return rng.choice((0, 1, 2, 3, 4, 5, 6, 7, 99, -1))
    if fd.name.endswith("id") and ids and rng.random() < 0.6:
        return rng.choice(ids)
    value = rng.choice(_INT_ODDITIES)
    if fd.type in (fd.TYPE_INT32, fd.TYPE_SINT32, fd.TYPE_SFIXED32):
        return rng.choice((value & 0x7FFFFFFF, -value if value < 2**31 else -1))
    if fd.type in (fd.TYPE_INT64, fd.TYPE_SINT64, fd.TYPE_SFIXED64):
        return rng.choice((value, -value))
    return value


@dataclass
class Report:
    tried: int = 0
    accepted: int = 0
    codes: Counter = field(default_factory=Counter)
    wipes: int = 0
    offences: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> int:
        return self.codes["UNKNOWN"] + self.codes["INTERNAL"]

    def summary(self) -> str:
        refused = ", ".join(f"{code} {n}" for code, n in sorted(self.codes.items()))
        return (f"tried {self.tried}, accepted {self.accepted}, refused {sum(self.codes.values())} "
                f"({refused}); wipes {self.wipes}, UNKNOWN/INTERNAL {self.unknown}")


class Harness:
    """A switch with the P4Runtime server on loopback, a primary controller, and the base
    state every refused mutation must leave in place."""

    def __init__(self, program: str) -> None:
        from runtime_server.server import P4RuntimeServer
        from target import Switch

        self.folder = CORPUS / program
        self.json_bytes = (self.folder / f"{program}.json").read_bytes()
        self.program = json.loads(self.json_bytes)
        self.p4info = p4info_pb2.P4Info()
        text_format.Parse((self.folder / f"{program}.p4info.txtpb").read_text(), self.p4info)
        self.switch = Switch(cpu_port=255)
        self.server = P4RuntimeServer(self.switch, device_id=0, address="127.0.0.1:0")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.server.port}")
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        import queue

        self._requests: queue.Queue = queue.Queue()
        self._stream = self.stub.StreamChannel(iter(self._requests.get, None))
        hello = p4runtime_pb2.StreamMessageRequest()
        hello.arbitration.device_id = 0
        hello.arbitration.election_id.low = ELECTION_ID
        self._requests.put(hello)
        next(self._stream)
        self.canary = self._canary_entry()
        self.set_base()

    def close(self) -> None:
        self._requests.put(None)
        self.channel.close()
        self.server.stop(grace=0)

    def _canary_entry(self) -> p4runtime_pb2.TableEntry | None:
        """An entry for the first table with an exact or LPM key and a direct action."""
        for table in self.p4info.tables:
            if table.implementation_id or table.is_const_table or not table.match_fields:
                continue
            if any(m.match_type not in (p4info_pb2.MatchField.EXACT, p4info_pb2.MatchField.LPM)
                   for m in table.match_fields):
                continue
            actions = [a for a in self.p4info.actions
                       if any(r.id == a.preamble.id and r.scope != 2 for r in table.action_refs)]
            if not actions:
                continue
            entry = p4runtime_pb2.TableEntry(table_id=table.preamble.id)
            for m in table.match_fields:
                fm = entry.match.add(field_id=m.id)
                if m.match_type == p4info_pb2.MatchField.EXACT:
                    fm.exact.value = b"\x01"
                else:
                    fm.lpm.value = b"\x01" + b"\x00" * ((m.bitwidth + 7) // 8 - 1)
                    fm.lpm.prefix_len = 8
            action = entry.action.action
            action.action_id = actions[0].preamble.id
            for p in actions[0].params:
                action.params.add(param_id=p.id, value=b"\x01")
            return entry
        return None

    def _request(self, action: int, config=None):
        request = Action(device_id=0, action=action)
        request.election_id.low = ELECTION_ID
        if config is not None:
            request.config.CopyFrom(config)
        return request

    def base_config(self) -> p4runtime_pb2.ForwardingPipelineConfig:
        config = p4runtime_pb2.ForwardingPipelineConfig(p4_device_config=self.json_bytes)
        config.p4info.CopyFrom(self.p4info)
        config.cookie.cookie = BASE_COOKIE
        return config

    def set_base(self) -> None:
        self.stub.SetForwardingPipelineConfig(self._request(Action.VERIFY_AND_COMMIT,
                                                            self.base_config()))
        write = p4runtime_pb2.WriteRequest(device_id=0)
        write.election_id.low = ELECTION_ID
        if self.canary is not None:
            write.updates.add(type=p4runtime_pb2.Update.INSERT).entity.table_entry.CopyFrom(
                self.canary)
        group = write.updates.add(type=p4runtime_pb2.Update.INSERT).entity
        mc = group.packet_replication_engine_entry.multicast_group_entry
        mc.multicast_group_id = MC_GROUP
        mc.replicas.add(egress_port=1, instance=1)
        self.stub.Write(write)

    def intact(self) -> str | None:
        """What changed in the running switch since set_base, or None."""
        got = self.stub.GetForwardingPipelineConfig(
            p4runtime_pb2.GetForwardingPipelineConfigRequest(device_id=0)).config
        if got.cookie.cookie != BASE_COOKIE or got.p4info != self.p4info or \
                got.p4_device_config != self.json_bytes:
            return "GetForwardingPipelineConfig returns another config"
        read = p4runtime_pb2.ReadRequest(device_id=0)
        if self.canary is not None:
            read.entities.add().table_entry.table_id = self.canary.table_id
        read.entities.add().packet_replication_engine_entry.multicast_group_entry \
            .multicast_group_id = MC_GROUP
        entities = [e for r in self.stub.Read(read) for e in r.entities]
        entries = [e.table_entry for e in entities if e.HasField("table_entry")]
        if self.canary is not None and len(entries) != 1:
            return f"the canary entry is gone ({len(entries)} entries read)"
        if not any(e.HasField("packet_replication_engine_entry") for e in entities):
            return "the multicast group is gone"
        if self.switch.mc_groups().get(MC_GROUP) is None:
            return "the target lost the multicast group"
        return None

    def mutant(self, rng: random.Random) -> tuple[str, p4runtime_pb2.ForwardingPipelineConfig]:
        config = self.base_config()
        roll = rng.random()
        if roll < 0.5:
            config.p4_device_config = mutate_json(self.program, rng)
            return "json", config
        if roll < 0.55:
            config.p4_device_config = mutate_bytes(self.json_bytes, rng)
            return "bytes", config
        config.p4info.CopyFrom(mutate_p4info(self.p4info, rng))
        return "p4info", config

    def round(self, rng: random.Random, report: Report) -> None:
        kind, config = self.mutant(rng)
        report.tried += 1
        try:
            self.stub.SetForwardingPipelineConfig(self._request(Action.VERIFY_AND_COMMIT, config),
                                                  timeout=30)
        except grpc.RpcError as err:
            code = err.code().name
            report.codes[code] += 1
            problem = self.intact()
            if problem is not None:
                report.wipes += 1
            if code != "INVALID_ARGUMENT" or problem is not None:
                report.offences.append(f"{report.tried}: {kind} -> {code}: "
                                       f"{(err.details() or '')[:200]}"
                                       + (f" [{problem}]" if problem else ""))
            if problem is not None:
                self.set_base()
            return
        report.accepted += 1
        self.set_base()


def run(count: int, seed: int, program: str = "tutorial_basic",
        time_limit: float | None = None) -> Report:
    rng = random.Random(seed)
    report = Report()
    harness = Harness(program)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    try:
        for _ in range(count):
            if deadline is not None and time.monotonic() > deadline:
                break
            harness.round(rng, report)
    finally:
        harness.close()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--program", default="tutorial_basic",
                        help="a program folder of ../shared/corpus")
    args = parser.parse_args(argv)
    start = time.monotonic()
    report = run(args.count, args.seed, args.program)
    for line in report.offences:
        print(line)
    print(f"{report.summary()} in {time.monotonic() - start:.1f} s")
    return 1 if report.offences else 0


if __name__ == "__main__":
    sys.exit(main())
