"""Idle timeouts over gRPC on a real switch running tutorial_flowcache (its flow_cache table
supports them): one IdleTimeoutNotification per idle period, none for entries without a
timeout, a new one after the entry is hit and idles again, and time_since_last_hit in reads."""

from __future__ import annotations

import queue
import threading
import time

import grpc
import pytest
from test_p4runtime_server import Client, update

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import P4RuntimeServer

FLOWCACHE = "tutorial_flowcache"
FLOW_TABLE = 41042086       # MyIngress.flow_cache: protocol, srcAddr, dstAddr (exact)
CACHED = 33226750           # MyIngress.cached_action(port, decrement_ttl, new_dscp, dst_eth_addr)
TIMEOUT_NS = 300_000_000
A, B, C = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([10, 0, 0, 3])


def flow_entry(src: bytes, dst: bytes, idle_timeout_ns: int) -> pb.TableEntry:
    entry = pb.TableEntry(table_id=FLOW_TABLE, idle_timeout_ns=idle_timeout_ns)
    for field_id, value in ((1, b"\x11"), (2, src), (3, dst)):
        entry.match.add(field_id=field_id).exact.value = value
    action = entry.action.action
    action.action_id = CACHED
    for param_id, value in ((1, b"\x02"), (2, b"\x01"), (3, b"\x00"), (4, b"\x0a\x0b")):
        action.params.add(param_id=param_id, value=value)
    return entry


def udp_frame(src: bytes, dst: bytes) -> bytes:
    ip = bytes([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]) + src + dst
    return bytes(6) + bytes.fromhex("020000000001") + b"\x08\x00" + ip + bytes(8)


class Listener:
    """Every stream message after arbitration, queued by a thread of its own."""

    def __init__(self, client: Client) -> None:
        self.messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._drain, args=(client,), daemon=True).start()

    def _drain(self, client: Client) -> None:
        try:
            for message in client.responses:
                self.messages.put(message)
        except grpc.RpcError:
            pass

    def idle_notification(self, timeout: float) -> pb.IdleTimeoutNotification:
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
            if message.WhichOneof("update") == "idle_timeout_notification":
                return message.idle_timeout_notification


@pytest.fixture
def flowcache():
    from target import Switch

    running = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=10)
    assert client.next_message().arbitration.status.code == 0
    client.set_pipeline(FLOWCACHE)
    yield running, client, Listener(client)
    client.close()
    running.stop(grace=0)


def read_flows(client: Client, with_hit_time: bool) -> dict[bytes, pb.TableEntry]:
    entity = pb.Entity()
    entity.table_entry.table_id = FLOW_TABLE
    if with_hit_time:
        entity.table_entry.time_since_last_hit.elapsed_ns = 0
    return {e.table_entry.match[2].exact.value: e.table_entry for e in client.read(entity)}


def test_idle_entry_is_notified_once_per_idle_period(flowcache) -> None:
    server, client, listener = flowcache
    written = time.monotonic()
    client.write(update(pb.Update.INSERT, flow_entry(A, B, TIMEOUT_NS)),
                 update(pb.Update.INSERT, flow_entry(A, C, 0)))
    first = listener.idle_notification(timeout=5)
    assert time.monotonic() - written >= TIMEOUT_NS / 1e9
    assert [e.match for e in first.table_entry] == [flow_entry(A, B, 0).match]
    assert first.table_entry[0].idle_timeout_ns == TIMEOUT_NS
    assert first.timestamp > 0
    with pytest.raises(queue.Empty):           # still idle: not reported again
        listener.idle_notification(timeout=3 * TIMEOUT_NS / 1e9)

    server.service.switch.process([(1, udp_frame(A, B))])      # a hit restarts the timer
    hit = time.monotonic()
    flows = read_flows(client, with_hit_time=True)
    assert flows[B].time_since_last_hit.elapsed_ns < 0.2e9
    assert flows[C].time_since_last_hit.elapsed_ns >= (hit - written) * 1e9 * 0.9
    assert not read_flows(client, with_hit_time=False)[B].HasField("time_since_last_hit")

    second = listener.idle_notification(timeout=5)
    assert time.monotonic() - hit >= TIMEOUT_NS / 1e9 * 0.9
    assert [e.match for e in second.table_entry] == [flow_entry(A, B, 0).match]


def test_modify_restarts_the_timer_and_delete_ends_it(flowcache) -> None:
    _server, client, listener = flowcache
    client.write(update(pb.Update.INSERT, flow_entry(A, B, TIMEOUT_NS)))
    listener.idle_notification(timeout=5)
    modified = time.monotonic()
    client.write(update(pb.Update.MODIFY, flow_entry(A, B, 2 * TIMEOUT_NS)))
    again = listener.idle_notification(timeout=5)
    assert time.monotonic() - modified >= 2 * TIMEOUT_NS / 1e9 * 0.9
    assert again.table_entry[0].idle_timeout_ns == 2 * TIMEOUT_NS
    client.write(update(pb.Update.MODIFY, flow_entry(A, B, TIMEOUT_NS)))
    client.write(update(pb.Update.DELETE, flow_entry(A, B, 0)))
    with pytest.raises(queue.Empty):
        listener.idle_notification(timeout=3 * TIMEOUT_NS / 1e9)


def test_notifications_go_to_the_roles_that_own_the_table(flowcache) -> None:
    # The default role's primary (full access) and the primary of a role whose config lists
    # the table are told; a role with other entities is not.
    from test_p4runtime_roles import role_client

    server, client, listener = flowcache
    owner = role_client(server.port, 20, "flows", shared_p4_ids=[FLOW_TABLE])
    other = role_client(server.port, 30, "other", shared_p4_ids=[CACHED])
    assert owner.arbitrate().status.code == 0 and other.arbitrate().status.code == 0
    owner_listener, other_listener = Listener(owner), Listener(other)
    client.write(update(pb.Update.INSERT, flow_entry(A, B, TIMEOUT_NS)))
    assert listener.idle_notification(timeout=5).table_entry[0].table_id == FLOW_TABLE
    assert owner_listener.idle_notification(timeout=5).table_entry[0].table_id == FLOW_TABLE
    with pytest.raises(queue.Empty):
        other_listener.idle_notification(timeout=3 * TIMEOUT_NS / 1e9)
    owner.close()
    other.close()
