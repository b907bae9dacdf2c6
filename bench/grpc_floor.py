"""The floor of a unary gRPC call in Python here: a no-op method on grpc.aio, on grpc's
threaded server, and on grpc's threaded server with a generic handler on raw bytes (no
protobuf), each in its own process, called from this one as bench/write_latency.py calls Write.

    python bench/grpc_floor.py [--calls N] [--rounds R]

Reports each server's median and 99th percentile round trip and its CPU per call beyond its
idle rate. The servers alternate (A B C A B C ...): on a shared machine only the ratios within
one run mean anything.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from write_latency import cpu_seconds, free_port, percentile  # noqa: E402

KINDS = ("aio", "sync", "sync-bytes")
METHOD = "/bench.Floor/Call"


def _identity(request: bytes, context) -> bytes:
    return b""


async def _aio_identity(request: bytes, context) -> bytes:
    return b""


def serve(kind: str, port: int) -> None:
    """Serve the no-op method until killed. The request and response are bytes in every case:
    what differs is the server and (for "sync") a protobuf-shaped round of (de)serialization."""
    def ident(data: bytes) -> bytes:
        return data

    if kind == "aio":
        handler = grpc.method_handlers_generic_handler("bench.Floor", {
            "Call": grpc.unary_unary_rpc_method_handler(_aio_identity, ident, ident)})

        async def run() -> None:
            server = grpc.aio.server(handlers=(handler,))
            server.add_insecure_port(f"127.0.0.1:{port}")
            await server.start()
            await server.wait_for_termination()

        try:
            import uvloop
            uvloop.run(run())
        except ImportError:
            asyncio.run(run())
        return
    if kind == "sync":  # as a servicer with message classes would: parse and serialize
        from google.protobuf import empty_pb2
        handler = grpc.method_handlers_generic_handler("bench.Floor", {
            "Call": grpc.unary_unary_rpc_method_handler(
                lambda request, context: empty_pb2.Empty(), empty_pb2.Empty.FromString,
                empty_pb2.Empty.SerializeToString)})
    else:
        handler = grpc.method_handlers_generic_handler("bench.Floor", {
            "Call": grpc.unary_unary_rpc_method_handler(_identity, None, None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=(handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def measure(port: int, calls: int, pid: int) -> tuple[list[float], float]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(channel).result(timeout=30)
    call = channel.unary_unary(METHOD, request_serializer=lambda b: b,
                               response_deserializer=lambda b: b)
    for _ in range(200):
        call(b"")
    idle_start, idle_cpu = time.perf_counter(), cpu_seconds(pid)
    time.sleep(1.0)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.perf_counter() - idle_start)
    start_all, cpu_before = time.perf_counter(), cpu_seconds(pid)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call(b"")
        times.append(time.perf_counter() - start)
    cpu = cpu_seconds(pid) - cpu_before - idle_rate * (time.perf_counter() - start_all)
    channel.close()
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu = dict.fromkeys(KINDS, 0.0)
    for _ in range(args.rounds):
        for kind in KINDS:
            port = free_port()
            server = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port",
                                       str(port)])
            try:
                times, seconds = measure(port, args.calls, server.pid)
                samples[kind].extend(times)
                cpu[kind] += seconds
            finally:
                server.kill()
                server.wait()
    for kind, times in samples.items():
        print(f"{kind}: {len(times)} calls, median {statistics.median(times) * 1e6:.0f} us, "
              f"p99 {percentile(times, 0.99) * 1e6:.0f} us, "
              f"server CPU {cpu[kind] / len(times) * 1e6:.0f} us per call")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
