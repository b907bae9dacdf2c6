"""P4Runtime behaviour where clients depend on details: per-update errors that a default
client receives, packet-out metadata left out, arbitration after the primary leaves, clients
without an election id, and the log line of a refused request."""

from __future__ import annotations

import logging
import queue
import threading
import time

import grpc
import pytest
from test_p4runtime_server import Client, batch_errors, lpm_entry, update

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.proto import p4runtime_pb2_grpc
from runtime_server.server import P4RuntimeServer

OK, BACKUP, NO_PRIMARY = 0, 6, 5  # google.rpc codes in arbitration notices


@pytest.fixture
def server():
    from target import Switch

    running = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0")
    yield running
    running.stop(grace=0)


@pytest.fixture
def primary(server):
    client = Client(server.port, election_id=10)
    assert client.next_message().arbitration.status.code == 0
    client.set_pipeline()
    yield client
    client.close()


def test_thousands_of_failed_updates_reach_a_default_client(primary) -> None:
    too_wide = [update(pb.Update.INSERT, lpm_entry(bytes([10, i // 256, i % 256, 0]), 24,
                                                   port=b"\x02\x00"))
                for i in range(5000)]
    good = update(pb.Update.INSERT, lpm_entry(b"\x0b\x00\x00\x00", 8))
    with pytest.raises(grpc.RpcError) as err:
        primary.write(good, *too_wide)  # a channel with gRPC's default limits
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    details = batch_errors(err.value)
    assert 10 < len(details) < 5001
    assert details[0] == (0, "")
    assert all(code == grpc.StatusCode.OUT_OF_RANGE.value[0] and message
               for code, message in details[1:])
    summary = err.value.details()
    assert "5000 of 5001 updates failed (OUT_OF_RANGE x5000)" in summary
    assert "the first at index 1" in summary
    assert f"details of the first {len(details)} updates only" in summary


def test_a_small_batch_keeps_every_detail(primary) -> None:
    updates = [update(pb.Update.DELETE, lpm_entry(bytes([10, i, 0, 0]), 16)) for i in range(30)]
    with pytest.raises(grpc.RpcError) as err:
        primary.write(*updates)
    assert [code for code, _ in batch_errors(err.value)] == [5] * 30
    assert err.value.details() == "Write failure."


def test_refused_requests_are_logged_at_info(server, primary, caplog) -> None:
    backup = Client(server.port, election_id=5)
    backup.next_message()
    with caplog.at_level(logging.INFO, logger="kvick.p4runtime"):
        with pytest.raises(grpc.RpcError):
            backup.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    [line] = [r.getMessage() for r in caplog.records if "refused Write" in r.getMessage()]
    assert "ipv4:127.0.0.1:" in line and "PERMISSION_DENIED" in line
    assert "not the primary" in line
    backup.close()


def test_the_error_trailer_stays_under_a_default_clients_limit() -> None:
    from runtime_server.errors import P4RuntimeError, StatusCode, batch_status

    long_errors = [P4RuntimeError(StatusCode.INVALID_ARGUMENT, "x" * 1000)] * 100_000
    status = batch_status(long_errors)
    [(key, value)] = status.trailing_metadata
    encoded = len(key) + (len(value) + 2) // 3 * 4  # binary metadata travels in base64
    assert encoded + len(status.details.encode()) < 7 * 1024  # gRPC's default: 8 KiB


def entry_update(prefix: int) -> pb.Update:
    return update(pb.Update.INSERT, lpm_entry(bytes([10, prefix, 0, 0]), 16))


def test_when_the_primary_leaves_the_highest_backup_takes_over(server) -> None:
    first = Client(server.port, election_id=40)
    assert first.next_message().arbitration.status.code == OK
    first.set_pipeline()
    second = Client(server.port, election_id=20)
    notice = second.next_message().arbitration
    assert (notice.status.code, notice.election_id.low) == (BACKUP, 40)
    with pytest.raises(grpc.RpcError) as err:
        second.write(entry_update(1))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    first.close()
    notice = second.next_message().arbitration
    assert (notice.status.code, notice.election_id.low) == (OK, 20)
    second.write(entry_update(1))
    # A controller arriving later with a lower id is a backup of the new primary.
    third = Client(server.port, election_id=10)
    notice = third.next_message().arbitration
    assert (notice.status.code, notice.election_id.low) == (BACKUP, 20)
    second.close()
    third.close()


def test_a_new_client_after_the_primary_left_becomes_primary(server) -> None:
    first = Client(server.port, election_id=40)
    assert first.next_message().arbitration.status.code == OK
    first.set_pipeline()
    first.close()
    deadline = time.monotonic() + 10
    while server.service.arbitrator.primary(0) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    second = Client(server.port, election_id=20)
    assert second.next_message().arbitration.status.code == OK
    second.write(entry_update(2))
    second.close()


def _start(unset_election_id: str) -> P4RuntimeServer:
    from target import Switch

    return P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0",
                           unset_election_id=unset_election_id)


def test_clients_without_election_id_as_pi_by_default(server) -> None:
    # PI's PTF tests (l3_host_fwd): no election id anywhere.
    nobody = p4runtime_pb2_grpc.P4RuntimeStub(grpc.insecure_channel(f"127.0.0.1:{server.port}"))
    client = Client(server.port, election_id=None)
    assert client.next_message().arbitration.status.code == OK
    client.set_pipeline()
    client.write(entry_update(3))
    other = Client(server.port, election_id=None)  # unset twice is id 0 twice, as in PI
    with pytest.raises(grpc.RpcError) as err:
        other.next_message()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    other.close()
    client.close()
    deadline = time.monotonic() + 10
    while server.service.arbitrator.controllers(0):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # With no stream open at all, a Write without an election id is accepted (PI, grpc_cli).
    request = pb.WriteRequest(device_id=0)
    request.updates.append(entry_update(4))
    nobody.Write(request)
    request.election_id.low = 1
    with pytest.raises(grpc.RpcError) as err:
        nobody.Write(request)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_clients_without_election_id_per_the_spec() -> None:
    server = _start("lowest")
    try:
        client = Client(server.port, election_id=None)
        assert client.next_message().arbitration.status.code == NO_PRIMARY
        with pytest.raises(grpc.RpcError) as err:
            client.set_pipeline()
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        standby = Client(server.port, election_id=None)  # unset ids never collide
        assert standby.next_message().arbitration.status.code == NO_PRIMARY
        client.close()
        standby.close()
    finally:
        server.stop(grace=0)


def client_at(target: str, election_id: int) -> Client:
    """A Client (test_p4runtime_server) connected to `target` instead of 127.0.0.1."""
    client = Client.__new__(Client)
    client.channel = grpc.insecure_channel(target)
    client.stub = p4runtime_pb2_grpc.P4RuntimeStub(client.channel)
    client.election_id, client.device_id = election_id, 0
    client.requests = queue.Queue()
    client.responses = client.stub.StreamChannel(iter(client.requests.get, None))
    message = pb.StreamMessageRequest()
    message.arbitration.device_id = 0
    message.arbitration.election_id.low = election_id
    client.requests.put(message)
    return client


def test_a_backup_cannot_write_with_the_primarys_election_id() -> None:
    from target import Switch

    server = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="[::]:0")
    try:
        primary = Client(server.port, election_id=10)  # over IPv4
        assert primary.next_message().arbitration.status.code == OK
        primary.set_pipeline()
        backup = client_at(f"[::1]:{server.port}", election_id=5)  # another host
        notice = backup.next_message().arbitration
        assert (notice.status.code, notice.election_id.low) == (BACKUP, 10)
        backup.election_id = notice.election_id.low  # what the spec tells every backup
        with pytest.raises(grpc.RpcError) as err:
            backup.write(entry_update(5))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "not from the primary's client" in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            backup.set_pipeline()
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        primary.write(entry_update(5))
        backup.close()
        primary.close()
    finally:
        server.stop(grace=0)


ONOS = "onos_basic"
SEND_TO_CPU = 18486993


def test_packet_out_with_only_egress_port_is_sent_and_refusals_are_logged(caplog) -> None:
    from target import Switch
    from target.driver.memory import QueuePort

    switch = Switch(cpu_port=255)
    server = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    client = Client(server.port, election_id=10)
    messages: queue.Queue = queue.Queue()
    try:
        assert client.next_message().arbitration.status.code == OK
        client.set_pipeline(ONOS)
        port = QueuePort()
        switch.add_port(2, port)
        switch.start()

        def drain() -> None:
            try:
                for message in client.responses:
                    messages.put(message)
            except grpc.RpcError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        out = pb.StreamMessageRequest()  # as ONOS sends it: no _padding metadata
        out.packet.payload = b"\x07" * 60
        out.packet.metadata.add(metadata_id=1, value=b"\x02")
        client.requests.put(out)
        deadline = time.monotonic() + 5
        sent: list[bytes] = []
        while not sent and time.monotonic() < deadline:
            sent = port.pop_all()
            time.sleep(0.01)
        assert sent == [b"\x07" * 60], [messages.get_nowait() for _ in range(messages.qsize())]
        with caplog.at_level(logging.INFO, logger="kvick.p4runtime"):
            bad = pb.StreamMessageRequest()
            bad.packet.payload = b"\x07" * 60
            bad.packet.metadata.add(metadata_id=9, value=b"\x02")
            client.requests.put(bad)
            error = messages.get(timeout=5).error
            assert error.canonical_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        [line] = [r.getMessage() for r in caplog.records if "packet-out" in r.getMessage()]
        assert "ipv4:127.0.0.1:" in line and "INVALID_ARGUMENT" in line and "[9]" in line
    finally:
        switch.stop()
        client.close()
        server.stop(grace=0)
