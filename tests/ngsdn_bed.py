"""A kvick switch running a build of ngsdn-tutorial's main.p4, driven over P4Runtime by name.

Used by test_compiler_ngsdn.py. The switch has memory ports 1-4 and CPU port 255 and its
engine loop runs, so packet-outs and packet-ins take the path a controller's do: the P4Runtime
stream, the server's controller headers, and the program's own CPU-port logic.
"""

from __future__ import annotations

import ipaddress
import queue
import threading
import time
from typing import Any

import grpc
from google.protobuf import text_format
from test_p4runtime_server import Client

from runtime_server.proto import p4info_pb2
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import P4RuntimeServer

PORTS = (1, 2, 3, 4)
CPU_PORT = 255
MAGIC_PREFIX = 0x5F18  # the finsy variant's packet-out marker (its MAGIC_PREFIX)


def as_int(value: int | str) -> int:
    """A MAC ("00:00:..") or IPv6 ("2001::1") address, or an int, as an int."""
    if isinstance(value, int):
        return value
    if ":" in value and "::" not in value and len(value) == 17:
        return int(value.replace(":", ""), 16)
    return int(ipaddress.IPv6Address(value))


def encode(value: int | str, bitwidth: int) -> bytes:
    return as_int(value).to_bytes((bitwidth + 7) // 8, "big")


def parse_p4info(text: str) -> p4info_pb2.P4Info:
    info = p4info_pb2.P4Info()
    text_format.Parse(text, info)
    return info


class Bed:
    """One switch, its P4Runtime server and a primary client, with name-based writes."""

    def __init__(self, device_config: bytes, p4info_text: str) -> None:
        from target import Switch
        from target.driver.memory import QueuePort

        self.info = parse_p4info(p4info_text)
        self.switch = Switch(cpu_port=CPU_PORT)
        self.server = P4RuntimeServer(self.switch, device_id=0, address="127.0.0.1:0")
        self.client = Client(self.server.port, election_id=10)
        self.stream: queue.Queue = queue.Queue()
        try:
            assert self.client.next_message().arbitration.status.code == 0
            self.client.set_pipeline(device_config=device_config, p4info=self.info)
            self.ports = {num: QueuePort() for num in PORTS}
            for num, port in self.ports.items():
                self.switch.add_port(num, port)
            self.switch.start()
            threading.Thread(target=self._drain, daemon=True).start()
        except BaseException:
            self.close()
            raise

    def _drain(self) -> None:
        try:
            for message in self.client.responses:
                self.stream.put(message)
        except grpc.RpcError:
            pass

    def close(self) -> None:
        self.switch.stop()
        self.client.close()
        self.server.stop(grace=0)

    # ----------------------------------------------------------------- P4Info names
    def _table(self, name: str) -> p4info_pb2.Table:
        [table] = [t for t in self.info.tables if t.preamble.name == name]
        return table

    def _action(self, name: str, params: dict[str, Any]) -> pb.Action:
        [action] = [a for a in self.info.actions if a.preamble.name == name]
        message = pb.Action(action_id=action.preamble.id)
        by_name = {p.name: p for p in action.params}
        assert set(params) == set(by_name), (name, params)
        for pname, value in params.items():
            param = by_name[pname]
            message.params.add(param_id=param.id, value=encode(value, param.bitwidth))
        return message

    def _write(self, *entities: pb.Entity) -> None:
        self.client.write(*(pb.Update(type=pb.Update.INSERT, entity=e) for e in entities))

    def table_entry(self, table: str, match: dict[str, Any], action: str | None = None,
                    params: dict[str, Any] | None = None, priority: int = 0,
                    group_id: int | None = None) -> None:
        """Insert an entry: exact values, (value, mask) for ternary, (value, length) for lpm."""
        info = self._table(table)
        entry = pb.TableEntry(table_id=info.preamble.id, priority=priority)
        fields = {f.name: f for f in info.match_fields}
        for fname, value in match.items():
            field = fields[fname]
            fm = entry.match.add(field_id=field.id)
            if field.match_type == p4info_pb2.MatchField.EXACT:
                fm.exact.value = encode(value, field.bitwidth)
            elif field.match_type == p4info_pb2.MatchField.TERNARY:
                fm.ternary.value = encode(value[0], field.bitwidth)
                fm.ternary.mask = encode(value[1], field.bitwidth)
            else:
                fm.lpm.value = encode(value[0], field.bitwidth)
                fm.lpm.prefix_len = value[1]
        if group_id is not None:
            entry.action.action_profile_group_id = group_id
        else:
            entry.action.action.CopyFrom(self._action(action, params or {}))
        self._write(pb.Entity(table_entry=entry))

    def selector_group(self, profile: str, group_id: int,
                       members: list[tuple[str, dict[str, Any]]]) -> None:
        """Members (numbered group_id * 100 + k) and one group holding them all."""
        [prof] = [p for p in self.info.action_profiles if p.preamble.name == profile]
        group = pb.ActionProfileGroup(action_profile_id=prof.preamble.id, group_id=group_id)
        entities = []
        for k, (action, params) in enumerate(members):
            member_id = group_id * 100 + k
            entities.append(pb.Entity(action_profile_member=pb.ActionProfileMember(
                action_profile_id=prof.preamble.id, member_id=member_id,
                action=self._action(action, params))))
            group.members.add(member_id=member_id, weight=1)
        self._write(*entities)
        self._write(pb.Entity(action_profile_group=group))

    def multicast_group(self, group_id: int, ports: list[int]) -> None:
        entity = pb.Entity()
        group = entity.packet_replication_engine_entry.multicast_group_entry
        group.multicast_group_id = group_id
        for port in ports:
            group.replicas.add(egress_port=port, instance=0)
        self._write(entity)

    def clone_session(self, session_id: int, ports: list[int]) -> None:
        entity = pb.Entity()
        session = entity.packet_replication_engine_entry.clone_session_entry
        session.session_id = session_id
        for port in ports:
            session.replicas.add(egress_port=port, instance=1)
        self._write(entity)

    # ----------------------------------------------------------------- packets
    def _metadata(self, name: str) -> p4info_pb2.ControllerPacketMetadata:
        [meta] = [m for m in self.info.controller_packet_metadata if m.preamble.name == name]
        return meta

    def packet_out(self, payload: bytes, egress_port: int) -> None:
        """A PacketOut to `egress_port`; padding is 0 and the finsy variant's magic is set."""
        message = pb.StreamMessageRequest()
        message.packet.payload = payload
        values = {"egress_port": egress_port, "_pad": 0, "magic_val": MAGIC_PREFIX}
        for field in self._metadata("packet_out").metadata:
            message.packet.metadata.add(metadata_id=field.id,
                                        value=encode(values[field.name], field.bitwidth))
        self.client.requests.put(message)

    def send(self, port: int, frame: bytes) -> None:
        assert self.ports[port].push(frame)

    def outputs(self, expected: int, settle: float = 0.15, timeout: float = 10.0
                ) -> list[tuple[int, bytes]]:
        """What the ports transmit: wait for `expected` frames, then `settle` s for extras."""
        got: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            got += self._pop()
            time.sleep(0.01)
        time.sleep(settle)
        return sorted(got + self._pop())

    def _pop(self) -> list[tuple[int, bytes]]:
        return [(num, frame) for num, port in self.ports.items() for frame in port.pop_all()]

    def packet_ins(self, expected: int, settle: float = 0.15, timeout: float = 10.0
                   ) -> list[tuple[bytes, dict[str, int]]]:
        """Packet-ins as (payload, {metadata name: value}); other stream messages fail."""
        names = {m.id: m.name for m in self._metadata("packet_in").metadata}
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic() if len(got) < expected else settle
            try:
                message = self.stream.get(timeout=max(left, 0.001))
            except queue.Empty:
                break
            assert message.WhichOneof("update") == "packet", message
            got.append((message.packet.payload,
                        {names[m.metadata_id]: int.from_bytes(m.value, "big")
                         for m in message.packet.metadata}))
        return got
