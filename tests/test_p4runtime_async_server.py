"""The server under many streams and calls: idle StreamChannels never starve unary calls,
streams per client and calls in progress are bounded (RESOURCE_EXHAUSTED beyond), and a busy
address is an error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from test_p4runtime_server import Client, lpm_entry, update

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import Limits, P4RuntimeServer

REPO = Path(__file__).resolve().parents[1]
IDLE_STREAMS = 200  # far more than the threads a server could dedicate to streams


def start(limits: Limits | None = None) -> P4RuntimeServer:
    from target import Switch

    return P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0",
                           limits=limits or Limits())


def test_idle_streams_do_not_starve_unary_calls() -> None:
    server = start()
    # The streams come from another process, as an attacker's would (grpc.aio: no threads).
    holder = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "idle_streams.py"), "--port", str(server.port),
         "--hold", "--streams", str(IDLE_STREAMS)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == f"open {IDLE_STREAMS}"
        primary = Client(server.port, election_id=10)
        assert primary.next_message().arbitration.status.code == 0
        primary.set_pipeline()
        times = []
        for _ in range(20):
            begin = time.perf_counter()
            reply = primary.stub.Capabilities(pb.CapabilitiesRequest(), timeout=5)
            times.append(time.perf_counter() - begin)
            assert reply.p4runtime_api_version
        primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
        # Bounded for a loaded CI machine; bench/idle_streams.py measures 1,000 streams.
        assert sorted(times)[len(times) // 2] < 0.1
        primary.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        server.stop(grace=0)


def test_streams_per_client_are_bounded() -> None:
    server = start(Limits(streams_per_client=3))
    try:
        clients = [Client(server.port, election_id=i + 1) for i in range(3)]
        for client in clients:
            client.next_message()
        extra = Client(server.port, election_id=9)
        with pytest.raises(grpc.RpcError) as err:
            extra.next_message()
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        extra.close()
        clients.pop().close()  # a closed stream makes room
        deadline = time.monotonic() + 10
        while True:
            again = Client(server.port, election_id=9)
            try:
                again.next_message()
                break
            except grpc.RpcError as refused:
                assert refused.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline
                again.close()
                time.sleep(0.05)
        again.close()
        for client in clients:
            client.close()
    finally:
        server.stop(grace=0)


def test_calls_in_progress_are_bounded() -> None:
    server = start(Limits(workers=1, max_queued_calls=2))
    primary = Client(server.port, election_id=10)
    primary.next_message()
    primary.set_pipeline()
    # Two Writes too big to run on the event loop wait behind the held write lock; a third
    # call that needs a worker is refused at once.
    big = pb.WriteRequest(device_id=0)
    big.election_id.low = 10
    for i in range(300):
        big.updates.append(update(pb.Update.INSERT, lpm_entry(bytes([10, i // 256, i % 256, 0]),
                                                              24)))
    pool = futures.ThreadPoolExecutor(2)
    try:
        with server.service.write_lock:
            waiting = [pool.submit(primary.stub.Write, big, timeout=30)]
            deadline = time.monotonic() + 10
            while server.pending_calls() < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            waiting.append(pool.submit(primary.read, pb.Entity(table_entry=pb.TableEntry())))
            while server.pending_calls() < 2:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with pytest.raises(grpc.RpcError) as err:
                primary.set_pipeline()
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            # Calls that need no worker still answer.
            assert primary.stub.Capabilities(pb.CapabilitiesRequest(), timeout=5)
        waiting[0].result(timeout=30)
        assert len(waiting[1].result(timeout=30)) in (0, 300)
        assert len(primary.read(pb.Entity(table_entry=pb.TableEntry()))) == 300
    finally:
        pool.shutdown()
        primary.close()
        server.stop(grace=0)


def test_a_busy_address_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
            f"127.0.0.1:{port}"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    first = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        for line in first.stdout:
            if "listening" in line:
                break
        second = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=60)
        assert second.returncode == 1
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], second.stderr
        assert "listening" not in second.stdout
    finally:
        first.terminate()
        assert first.wait(timeout=10) == 0
