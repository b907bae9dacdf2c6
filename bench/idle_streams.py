"""Capabilities latency while N idle StreamChannels are open (streams that never arbitrate
and never send anything): the switch must keep answering unary calls.

    python bench/idle_streams.py [--streams 1000] [--calls 200] [--tree DIR]

starts `kvick --no-p4` from DIR (default: this repository) in another process, opens the
streams from this one (grpc.aio: no thread per stream on the client either), then times
Capabilities calls from a second process-independent channel. With --port P --hold it only
opens the streams against a running server, prints "open N" and keeps them until stdin
closes (tests use that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from runtime_server.proto import p4runtime_pb2 as pb  # noqa: E402
from runtime_server.proto import p4runtime_pb2_grpc  # noqa: E402

CALL_TIMEOUT_S = 10
STREAMS_PER_CONNECTION = 100  # gRPC's usual HTTP/2 concurrent-stream limit per connection


async def open_streams(port: int, count: int) -> tuple[list, list]:
    """`count` started StreamChannels that send nothing, over ceil(count/100) connections."""
    channels, calls = [], []
    for first in range(0, count, STREAMS_PER_CONNECTION):
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        channels.append(channel)
        batch = [stub.StreamChannel() for _ in range(min(STREAMS_PER_CONNECTION,
                                                         count - first))]
        await asyncio.gather(*(call.wait_for_connection() for call in batch))
        calls.extend(batch)
    return channels, calls


async def hold(port: int, count: int) -> None:
    channels, calls = await open_streams(port, count)
    print(f"open {len(calls)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for call in calls:
        call.cancel()
    for channel in channels:
        await channel.close()


def capabilities_times(port: int, calls: int) -> list[float]:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        grpc.channel_ready_future(channel).result(timeout=CALL_TIMEOUT_S)  # connect first
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            try:
                stub.Capabilities(pb.CapabilitiesRequest(), timeout=CALL_TIMEOUT_S)
            except grpc.RpcError as err:  # a starved server: say so, do not wait for more
                print(f"Capabilities failed: {err.code().name} after "
                      f"{time.perf_counter() - start:.1f} s")
                times.append(float("inf"))
                break
            times.append(time.perf_counter() - start)
    return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--tree", type=Path, default=REPO, help="kvick tree to run")
    parser.add_argument("--port", type=int, help="a running server's port (with --hold)")
    parser.add_argument("--hold", action="store_true", help="open the streams and hold them")
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold(args.port, args.streams))
        return 0
    port = free_port()
    switch = subprocess.Popen(
        [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
         f"127.0.0.1:{port}"], cwd=args.tree, env=dict(os.environ, PYTHONPATH=str(args.tree)),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    holder = None
    try:
        for line in switch.stdout:
            if "listening" in line:
                break
        before = capabilities_times(port, args.calls)
        holder = subprocess.Popen([sys.executable, __file__, "--port", str(port), "--hold",
                                   "--streams", str(args.streams)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        opened = holder.stdout.readline().strip()
        print(f"idle streams: {opened}")
        after = capabilities_times(port, args.calls)
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=60)
        switch.terminate()
        switch.wait(timeout=30)
    results = {}
    for name, times in (("no streams", before), (f"{args.streams} idle streams", after)):
        ordered = sorted(times)
        median = statistics.median(ordered) * 1e3
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3
        print(f"Capabilities with {name}: median {median:.2f} ms, p99 {p99:.2f} ms, "
              f"max {ordered[-1] * 1e3:.2f} ms")
        results[name] = {"median_ms": round(median, 3), "p99_ms": round(p99, 3),
                         "max_ms": round(ordered[-1] * 1e3, 3)}
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
