"""The base of kvick's PTF tests: a P4Runtime controller connected to the switch under test.

Test parameters (ptf's `--test-params`), as in p4c's and the P4 tutorials' PTF runners:
    grpcaddr=HOST:PORT   the switch's P4Runtime server
    p4info=PATH          the program's P4Info (text format)
    config=PATH          the program's BMv2 JSON, pushed as p4_device_config
    device_id=N          default 0
A test's setUp() becomes primary controller, pushes the pipeline and starts with empty
tables; helpers write entries by name, read counters, send packet-outs and collect packet-ins.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from google.protobuf import text_format
from ptf import testutils
from ptf.base_tests import BaseTest

from runtime_server.proto import p4info_pb2, p4runtime_pb2, p4runtime_pb2_grpc


def encode(value: int, bitwidth: int) -> bytes:
    """The canonical P4Runtime byte string of `value` (shortest, at least one byte)."""
    del bitwidth
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


def ipv4(text: str) -> int:
    return int.from_bytes(bytes(int(x) for x in text.split(".")), "big")


class P4RuntimeTest(BaseTest):
    """Connects, arbitrates, pushes the program; every test starts from an empty pipeline."""

    def setUp(self) -> None:
        super().setUp()
        self.dataplane = testutils.ptf.dataplane_instance
        self.dataplane.flush()
        params = testutils.test_params_get()
        self.device_id = int(params.get("device_id", 0))
        self.p4info = p4info_pb2.P4Info()
        text_format.Parse(Path(params["p4info"]).read_text(), self.p4info)
        self.channel = grpc.insecure_channel(params["grpcaddr"])
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.requests: queue.Queue = queue.Queue()
        self.packet_ins: queue.Queue = queue.Queue()
        self.arbitration: queue.Queue = queue.Queue()
        self.stream_errors: queue.Queue = queue.Queue()
        self.stream = self.stub.StreamChannel(iter(self.requests.get, None))
        self.reader = threading.Thread(target=self._read_stream, daemon=True)
        self.reader.start()
        hello = p4runtime_pb2.StreamMessageRequest()
        hello.arbitration.device_id = self.device_id
        hello.arbitration.election_id.low = 1
        self.requests.put(hello)
        reply = self.arbitration.get(timeout=5)
        assert reply.status.code == 0, f"not primary: {reply}"
        request = p4runtime_pb2.SetForwardingPipelineConfigRequest(
            device_id=self.device_id,
            action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT)
        request.election_id.low = 1
        request.config.p4info.CopyFrom(self.p4info)
        request.config.p4_device_config = Path(params["config"]).read_bytes()
        self.stub.SetForwardingPipelineConfig(request)

    def tearDown(self) -> None:
        errors = []
        while not self.stream_errors.empty():
            errors.append(self.stream_errors.get())
        self.requests.put(None)
        self.channel.close()
        super().tearDown()
        # A refused packet-out comes back as a stream error, not as an RPC failure.
        assert not errors, f"stream errors from the switch: {errors}"

    def _read_stream(self) -> None:
        try:
            for message in self.stream:
                if message.HasField("packet"):
                    self.packet_ins.put(message.packet)
                elif message.HasField("arbitration"):
                    self.arbitration.put(message.arbitration)
                elif message.HasField("error"):
                    self.stream_errors.put(message.error)
        except grpc.RpcError:
            pass

    # ------------------------------------------------------------------ P4Info lookups
    def _find(self, kind: str, name: str):
        for item in getattr(self.p4info, kind):
            if name in (item.preamble.name, item.preamble.alias):
                return item
        raise KeyError(f"no {kind} named {name!r} in the P4Info")

    # ------------------------------------------------------------------ writes
    def _write(self, *updates: p4runtime_pb2.Update) -> None:
        request = p4runtime_pb2.WriteRequest(device_id=self.device_id)
        request.election_id.low = 1
        request.updates.extend(updates)
        self.stub.Write(request)

    def table_entry(self, table: str, match: dict, action: str, params: dict | None = None,
                    priority: int = 0) -> p4runtime_pb2.TableEntry:
        """An entry: match values by field name are ints (exact), (value, prefix_len) for lpm,
        (value, mask) for ternary; a /0 prefix or a zero mask is a wildcard."""
        info = self._find("tables", table)
        entry = p4runtime_pb2.TableEntry(table_id=info.preamble.id, priority=priority)
        fields = {f.name: f for f in info.match_fields}
        for name, value in match.items():
            field = fields[name]
            kind = p4info_pb2.MatchField.MatchType.Name(field.match_type)
            if (kind == "LPM" and value[1] == 0) or (kind == "TERNARY" and value[1] == 0):
                continue  # P4Runtime: a wildcard field is omitted, never sent as /0 or mask 0
            m = entry.match.add(field_id=field.id)
            if kind == "EXACT":
                m.exact.value = encode(value, field.bitwidth)
            elif kind == "LPM":
                m.lpm.value = encode(value[0], field.bitwidth)
                m.lpm.prefix_len = value[1]
            elif kind == "TERNARY":
                m.ternary.value = encode(value[0], field.bitwidth)
                m.ternary.mask = encode(value[1], field.bitwidth)
            else:
                raise ValueError(f"match kind {kind} not supported by this helper")
        act = self._find("actions", action)
        entry.action.action.action_id = act.preamble.id
        widths = {p.name: p for p in act.params}
        for name, value in (params or {}).items():
            entry.action.action.params.add(param_id=widths[name].id,
                                           value=encode(value, widths[name].bitwidth))
        return entry

    def insert(self, table: str, match: dict, action: str, params: dict | None = None,
               priority: int = 0) -> p4runtime_pb2.TableEntry:
        """Install an entry; returns it (for reading its direct counter)."""
        entry = self.table_entry(table, match, action, params, priority)
        update = p4runtime_pb2.Update(type=p4runtime_pb2.Update.INSERT)
        update.entity.table_entry.CopyFrom(entry)
        self._write(update)
        return entry

    def multicast_group(self, group_id: int, replicas: list[int | tuple[int, int]]) -> None:
        """A group of replicas given as egress ports (instance = position + 1) or as
        (egress port, instance) pairs."""
        update = p4runtime_pb2.Update(type=p4runtime_pb2.Update.INSERT)
        group = update.entity.packet_replication_engine_entry.multicast_group_entry
        group.multicast_group_id = group_id
        for i, replica in enumerate(replicas):
            port, instance = replica if isinstance(replica, tuple) else (replica, i + 1)
            group.replicas.add(egress_port=port, instance=instance)
        self._write(update)

    def clone_session(self, session_id: int, ports: list[int]) -> None:
        update = p4runtime_pb2.Update(type=p4runtime_pb2.Update.INSERT)
        session = update.entity.packet_replication_engine_entry.clone_session_entry
        session.session_id = session_id
        for i, port in enumerate(ports):
            session.replicas.add(egress_port=port, instance=i + 1)
        self._write(update)

    # ------------------------------------------------------------------ reads, packet I/O
    def counter(self, name: str, index: int) -> tuple[int, int]:
        """(packets, bytes) of cell `index` of counter array `name`."""
        request = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        entry = request.entities.add().counter_entry
        entry.counter_id = self._find("counters", name).preamble.id
        entry.index.index = index
        for response in self.stub.Read(request):
            for entity in response.entities:
                data = entity.counter_entry.data
                return data.packet_count, data.byte_count
        raise AssertionError(f"counter {name}[{index}] not returned")

    def direct_counter(self, entry: p4runtime_pb2.TableEntry) -> tuple[int, int]:
        """(packets, bytes) of the direct counter of the installed `entry` (from table_entry)."""
        request = p4runtime_pb2.ReadRequest(device_id=self.device_id)
        request.entities.add().direct_counter_entry.table_entry.CopyFrom(entry)
        for response in self.stub.Read(request):
            for entity in response.entities:
                data = entity.direct_counter_entry.data
                return data.packet_count, data.byte_count
        raise AssertionError("direct counter not returned")

    def wait_counter(self, read: Callable[[], tuple[int, int]], packets: int,
                     timeout: float = 2.0) -> tuple[int, int]:
        """`read()` once it shows `packets` packets (a dropped packet leaves no frame to wait
        for, so its count may land a moment after the send), or its last value at `timeout`."""
        deadline = time.monotonic() + timeout
        value = read()
        while value[0] < packets and time.monotonic() < deadline:
            time.sleep(0.02)
            value = read()
        return value

    def packet_out(self, payload: bytes, **metadata: int) -> None:
        """Send a packet-out; metadata fields not named (padding, usually) are sent as 0, since
        a field without a @padding annotation must be present."""
        info = self._find("controller_packet_metadata", "packet_out")
        message = p4runtime_pb2.StreamMessageRequest()
        message.packet.payload = payload
        unknown = set(metadata) - {m.name for m in info.metadata}
        if unknown:
            raise KeyError(f"no packet_out metadata named {sorted(unknown)}")
        for field in info.metadata:
            message.packet.metadata.add(metadata_id=field.id,
                                        value=encode(metadata.get(field.name, 0), field.bitwidth))
        self.requests.put(message)

    def packet_in(self, timeout: float = 2.0) -> tuple[bytes, dict[str, int]]:
        """The next packet-in: its payload and metadata by name."""
        packet = self.packet_ins.get(timeout=timeout)
        info = self._find("controller_packet_metadata", "packet_in")
        names = {m.id: m.name for m in info.metadata}
        return packet.payload, {names[m.metadata_id]: int.from_bytes(m.value, "big")
                                for m in packet.metadata}
