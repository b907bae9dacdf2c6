"""The native gRPC front end (runtime_server/h2front.pyx, native_server.py) with grpcio's
client and with raw HTTP/2: large messages both ways (flow control), many streams at once, a
client that goes away mid-call, deadlines, gNMI through the asyncio bridge, and bad input
that is counted and answered, never a crash. (It is the default front end; CI runs the
P4Runtime suite on grpc.aio too: KVICK_GRPC_FRONTEND=aio.)"""

from __future__ import annotations

import socket
import struct
import threading
import time
from concurrent import futures

import grpc
import pytest
from test_p4runtime_server import BASIC, Client, load_p4info, lpm_entry, update

from runtime_server.native_server import NativeP4RuntimeServer, percent_encoded
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import Limits, P4RuntimeServer

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


@pytest.fixture
def server():
    from target import Switch

    running = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0",
                              frontend="native")
    assert isinstance(running, NativeP4RuntimeServer)
    yield running
    running.stop()


@pytest.fixture
def primary(server):
    client = Client(server.port, election_id=10)
    assert client.next_message().arbitration.status.code == 0
    client.set_pipeline()
    yield client
    client.close()


def entries(count: int) -> list[pb.Update]:
    return [update(pb.Update.INSERT, lpm_entry(i.to_bytes(3, "big") + b"\x00", 24))
            for i in range(1, count + 1)]


def test_large_messages_both_ways(primary) -> None:
    # A 3,000-entry Write is ~150 KiB (more than HTTP/2's default 64 KiB window) and its Read
    # back as much: both need WINDOW_UPDATEs.
    import json

    from p4runtime_corpus import load_json

    p4info = load_p4info(BASIC)
    p4info.tables[0].size = 4096
    program = load_json(BASIC)
    program["pipelines"][0]["tables"][0]["max_size"] = 4096
    primary.set_pipeline(p4info=p4info, device_config=json.dumps(program).encode())
    batch = entries(3000)
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = 10
    request.updates.extend(batch)
    assert request.ByteSize() > 65536
    primary.stub.Write(request, timeout=30)
    read = pb.ReadRequest(device_id=0)
    read.entities.add().table_entry.SetInParent()
    responses = list(primary.stub.Read(read, timeout=30))
    assert sum(len(r.entities) for r in responses) == 3000
    assert sum(r.ByteSize() for r in responses) > 65536


def test_pipeline_config_larger_than_the_stream_window(server) -> None:
    # The P4Info padded with 3 MiB of documentation: more than the 1 MiB stream window.
    client = Client(server.port, election_id=10)
    client.next_message()
    p4info = load_p4info(BASIC)
    p4info.pkg_info.doc.description = "x" * (3 << 20)
    client.set_pipeline(p4info=p4info)
    reply = client.stub.GetForwardingPipelineConfig(
        pb.GetForwardingPipelineConfigRequest(device_id=0), timeout=30)
    assert len(reply.config.p4info.pkg_info.doc.description) == 3 << 20
    client.close()


def test_errors_carry_status_message_and_details(primary) -> None:
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    with pytest.raises(grpc.RpcError) as failure:
        primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    assert failure.value.code() == grpc.StatusCode.UNKNOWN
    from test_p4runtime_server import batch_errors

    assert batch_errors(failure.value)[0][0] == grpc.StatusCode.ALREADY_EXISTS.value[0]
    with pytest.raises(grpc.RpcError) as failure:
        primary.stub.GetForwardingPipelineConfig(
            pb.GetForwardingPipelineConfigRequest(device_id=7), timeout=5)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    assert "unknown device id 7" in failure.value.details()
    unknown = primary.channel.unary_unary("/p4.v1.P4Runtime/Nothing",
                                          request_serializer=lambda b: b,
                                          response_deserializer=lambda b: b)
    with pytest.raises(grpc.RpcError) as failure:
        unknown(b"", timeout=5)
    assert failure.value.code() == grpc.StatusCode.UNIMPLEMENTED


def test_grpc_message_is_percent_encoded() -> None:
    assert percent_encoded("a 100% é\n") == b"a 100%25 %C3%A9%0A"


def test_many_streams_at_once(server, primary) -> None:
    # 300 StreamChannels on one connection, then unary calls from 8 threads meanwhile.
    backups = [Client(server.port, election_id=i) for i in range(1, 10)]
    for backup in backups:
        assert backup.next_message().arbitration.status.code != 0  # not the primary
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    from runtime_server.proto import p4runtime_pb2_grpc

    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    idle = [stub.StreamChannel(iter(threading.Event().wait, True)) for _ in range(300)]
    time.sleep(0.5)
    with futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: stub.Capabilities(pb.CapabilitiesRequest(), timeout=10),
                                range(200)))
    assert all(a.p4runtime_api_version for a in answers)
    for call in idle:
        call.cancel()
    channel.close()
    for backup in backups:
        backup.close()
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0b\x00\x00\x00", 8)))


def wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_client_that_goes_away_mid_call(server, primary) -> None:
    # A Read waits behind the held write lock; its client closes the connection. The server
    # hears of it, the worker gives up, and everyone else goes on.
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    from runtime_server.proto import p4runtime_pb2_grpc

    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    read = pb.ReadRequest(device_id=0)
    read.entities.add().table_entry.SetInParent()
    with server.service.write_lock:
        call = stub.Read(read)
        wait_for(lambda: server.pending_calls() == 1)
        channel.close()
        wait_for(lambda: server.stats()["cancelled"] >= 1)
    wait_for(lambda: server.pending_calls() == 0)
    assert call.code() == grpc.StatusCode.CANCELLED
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0c\x00\x00\x00", 8)))
    assert len(primary.read(pb.Entity(table_entry=pb.TableEntry()))) == 1


def test_primary_stream_closed_mid_call_ends_its_role(server, primary) -> None:
    # The primary's connection drops: a backup takes over as with grpc.aio.
    backup = Client(server.port, election_id=5)
    assert backup.next_message().arbitration.status.code != 0
    primary.close()
    message = backup.next_message()
    assert message.arbitration.status.code == 0  # now the primary
    backup.close()


def test_deadline_of_a_blocked_call(server, primary) -> None:
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = 10
    request.updates.extend(entries(100))  # big enough to go to a worker
    with server.service.write_lock:
        with pytest.raises(grpc.RpcError) as failure:
            primary.stub.Write(request, timeout=0.3)
        assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        wait_for(lambda: server.stats()["deadlines_exceeded"]
                 + server.stats()["cancelled"] >= 1)


def test_calls_in_progress_are_bounded(server, primary) -> None:
    server.calls.max_queued = 1
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = 10
    request.updates.extend(entries(100))
    with futures.ThreadPoolExecutor(1) as pool, server.service.write_lock:
        waiting = pool.submit(primary.stub.Write, request, timeout=30)
        wait_for(lambda: server.pending_calls() == 1)
        with pytest.raises(grpc.RpcError) as failure:
            primary.stub.Write(request, timeout=10)
        assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert primary.stub.Capabilities(pb.CapabilitiesRequest(), timeout=5)
    waiting.result(timeout=30)


def test_streams_per_client_are_bounded() -> None:
    from target import Switch

    server = P4RuntimeServer(Switch(), address="127.0.0.1:0", frontend="native",
                             limits=Limits(streams_per_client=2))
    try:
        first, second = Client(server.port, 1), Client(server.port, 2)
        first.next_message()
        second.next_message()
        third = Client(server.port, 3)
        with pytest.raises(grpc.RpcError) as failure:
            third.next_message()
        assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        first.close()
        wait_for(lambda: server.calls.stream_counts._open.get("ipv4:127.0.0.1", 0) < 2)
        fourth = Client(server.port, 4)
        assert fourth.next_message().arbitration.device_id == 0
        for client in (second, third, fourth):
            client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("frontend", ["aio", "native"])
def test_backup_on_the_primarys_host_cannot_write_with_its_id(frontend: str) -> None:
    # Same host, another connection (a channel with its own options gets its own connection).
    from target import Switch

    server = P4RuntimeServer(Switch(cpu_port=255), address="127.0.0.1:0", frontend=frontend)
    primary = Client(server.port, election_id=10)
    assert primary.next_message().arbitration.status.code == 0
    primary.set_pipeline()
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}",
                                    options=[("grpc.primary_user_agent", "other")])
    from runtime_server.proto import p4runtime_pb2_grpc

    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = 10
    request.updates.append(update(pb.Update.INSERT, lpm_entry(b"\x0d\x00\x00\x00", 8)))
    with pytest.raises(grpc.RpcError) as failure:
        stub.Write(request, timeout=5)
    assert failure.value.code() == grpc.StatusCode.PERMISSION_DENIED
    channel.close()
    primary.stub.Write(request, timeout=5)
    primary.close()
    server.stop()


def test_gnmi_through_the_bridge() -> None:
    from runtime_server import gnmi, gnmi_model
    from runtime_server.gen.gnmi import gnmi_pb2, gnmi_pb2_grpc
    from target import Switch

    switch = Switch()
    service = gnmi.GnmiService(gnmi_model.Interfaces(switch, {}))
    server = P4RuntimeServer(switch, address="127.0.0.1:0", frontend="native",
                             handlers=(gnmi.handler(service),))
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
        stub = gnmi_pb2_grpc.gNMIStub(channel)
        assert stub.Capabilities(gnmi_pb2.CapabilityRequest(), timeout=10).gNMI_version
        request = gnmi_pb2.SubscribeRequest()
        request.subscribe.mode = gnmi_pb2.SubscriptionList.ONCE
        request.subscribe.subscription.add().path.elem.add(name="interfaces")
        with pytest.raises(grpc.RpcError) as failure:  # a switch without ports
            list(stub.Subscribe(iter([request]), timeout=10))
        assert failure.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as failure:
            stub.Get(gnmi_pb2.GetRequest(path=[gnmi_pb2.Path(elem=[
                gnmi_pb2.PathElem(name="nowhere")])]), timeout=10)
        assert failure.value.code() in (grpc.StatusCode.NOT_FOUND,
                                        grpc.StatusCode.INVALID_ARGUMENT)
        channel.close()
    finally:
        server.stop()


# ---- raw HTTP/2 ------------------------------------------------------------------------------

def frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + \
        struct.pack(">I", stream_id) + payload


def literal(name: bytes, value: bytes) -> bytes:
    """An HPACK literal header field without indexing, no Huffman coding (lengths < 127)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def headers(path: bytes, content_type: bytes = b"application/grpc") -> bytes:
    return (literal(b":method", b"POST") + literal(b":scheme", b"http")
            + literal(b":path", path) + literal(b":authority", b"kvick")
            + literal(b"content-type", content_type) + literal(b"te", b"trailers"))


def read_frames(sock: socket.socket, seconds: float = 5.0) -> list[tuple[int, int, int, bytes]]:
    """Frames until the server closes or goes quiet."""
    sock.settimeout(seconds)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            sock.settimeout(0.5)
    except (TimeoutError, ConnectionResetError):
        pass
    frames = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        frames.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF,
                       data[9:9 + length]))
        data = data[9 + length:]
    return frames


def raw(server, payload: bytes) -> list[tuple[int, int, int, bytes]]:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(payload)
        return read_frames(sock)


HEADERS, DATA, RST_STREAM, SETTINGS, GOAWAY = 1, 0, 3, 4, 7


def test_bad_http2_is_counted_and_the_server_goes_on(server, primary) -> None:
    before = server.stats()["protocol_errors"]
    # Not HTTP/2 at all; a bad frame after a good preface; a DATA frame on stream 0.
    raw(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = raw(server, PREFACE + frame(SETTINGS, 0, 0, b"") + frame(SETTINGS, 0, 1, b"x"))
    assert any(kind == GOAWAY for kind, _, _, _ in answer)
    raw(server, PREFACE + frame(SETTINGS, 0, 0, b"") + frame(DATA, 0, 0, b"hello"))
    raw(server, PREFACE + b"\xff" * 4096)
    assert server.stats()["protocol_errors"] >= before + 3
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0e\x00\x00\x00", 8)))


def test_not_grpc_requests_are_answered(server) -> None:
    settings = PREFACE + frame(SETTINGS, 0, 0, b"")
    # A content-type that is not gRPC: HTTP 415.
    answer = raw(server, settings + frame(HEADERS, 0x5, 1, headers(
        b"/p4.v1.P4Runtime/Capabilities", b"text/plain")))
    assert any(kind == HEADERS and sid == 1 for kind, _, sid, _ in answer)
    assert server.stats()["bad_requests"] == 1
    # A compressed message (flag 1) and a length prefix that does not match: gRPC errors
    # in the trailers (HEADERS with END_STREAM) of those streams.
    body_bad_flag = b"\x01\x00\x00\x00\x00"
    body_short = b"\x00\x00\x00\x00\x09abc"
    answer = raw(server, settings
                 + frame(HEADERS, 0x4, 1, headers(b"/p4.v1.P4Runtime/Capabilities"))
                 + frame(DATA, 0x1, 1, body_bad_flag)
                 + frame(HEADERS, 0x4, 3, headers(b"/p4.v1.P4Runtime/Capabilities"))
                 + frame(DATA, 0x1, 3, body_short))
    ended = {sid for kind, flags, sid, _ in answer if kind == HEADERS and flags & 0x1}
    assert ended == {1, 3}
    # A valid call on a raw connection: one DATA frame, then the trailers.
    answer = raw(server, settings
                 + frame(HEADERS, 0x4, 1, headers(b"/p4.v1.P4Runtime/Capabilities"))
                 + frame(DATA, 0x1, 1, b"\x00\x00\x00\x00\x00"))
    data = b"".join(payload for kind, _, sid, payload in answer if kind == DATA and sid == 1)
    assert pb.CapabilitiesResponse.FromString(data[5:]).p4runtime_api_version


def test_a_client_that_resets_its_stream(server, primary) -> None:
    # HEADERS of a StreamChannel, then RST_STREAM(CANCEL), then the connection is dropped.
    settings = PREFACE + frame(SETTINGS, 0, 0, b"")
    open_before = len(server.calls.channels)  # the primary's
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(settings + frame(HEADERS, 0x4, 1, headers(b"/p4.v1.P4Runtime/StreamChannel")))
        wait_for(lambda: len(server.calls.channels) == open_before + 1)
        sock.sendall(frame(RST_STREAM, 0, 1, struct.pack(">I", 8)))
        wait_for(lambda: len(server.calls.channels) == open_before)
        # and a stream whose connection just drops
        sock.sendall(frame(HEADERS, 0x4, 3, headers(b"/p4.v1.P4Runtime/StreamChannel")))
        wait_for(lambda: len(server.calls.channels) == open_before + 1)
    wait_for(lambda: len(server.calls.channels) == open_before)
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0f\x00\x00\x00", 8)))


def test_primary_whose_deadline_passes_is_replaced_at_once(server) -> None:
    # A raw connection becomes primary on a StreamChannel with a grpc-timeout of 300 ms and
    # then stays silent: when the deadline passes, the backup is told at once that it is
    # primary now (the notice comes from the loop's own thread, with nothing else to wake it).
    backup = Client(server.port, election_id=5)
    assert backup.next_message().arbitration.status.code == 0
    arbitration = pb.StreamMessageRequest()
    arbitration.arbitration.device_id = 0
    arbitration.arbitration.election_id.low = 20
    body = arbitration.SerializeToString()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0, b"")
                     + frame(HEADERS, 0x4, 1, headers(b"/p4.v1.P4Runtime/StreamChannel")
                             + literal(b"grpc-timeout", b"300m"))
                     + frame(DATA, 0, 1, b"\x00" + struct.pack(">I", len(body)) + body))
        assert backup.next_message().arbitration.status.code != 0  # demoted
        assert backup.next_message(timeout=3).arbitration.status.code == 0
        assert server.stats()["deadlines_exceeded"] == 1
    backup.close()
