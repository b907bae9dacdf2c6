"""Batch-1 Write round trip: one table entry per WriteRequest, as ONOS sends them, from this
process to a switch in another process; reports the median and the 99th percentile.

    python bench/write_latency.py [--writes N] [--tree DIR ...] [--frontend aio|native ...]
                                  [--rounds R]

Each --tree is a kvick source tree (built in place) whose switch is measured; the default is
this repository; each --frontend (the switch's --grpc-frontend) is measured for each tree.
With several trees or front ends the runs alternate (A B A B ...) so that the machine's load
affects each the same way: on a shared machine only the ratios within one run mean anything.
`--command 'simple_switch_grpc --no-p4 -- --grpc-server-addr 127.0.0.1:{port}'` measures any
other P4Runtime server the same way (BMv2, for instance).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


from p4runtime_load import pipeline_config  # noqa: E402  (beside this script)

from runtime_server.proto import p4runtime_pb2 as pb  # noqa: E402
from runtime_server.proto import p4runtime_pb2_grpc  # noqa: E402

FORWARD = "MyIngress.ipv4_forward"
TABLE_SIZE = 65536  # room for every entry of a run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_switch(tree: Path | None, command: str | None, port: int,
                 frontend: str | None = None) -> subprocess.Popen:
    if command is not None:
        argv = shlex.split(command.format(port=port))
        env, cwd = dict(os.environ), None
    else:
        argv = [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
                f"127.0.0.1:{port}"]
        if frontend is not None:
            argv += ["--grpc-frontend", frontend]
        env, cwd = dict(os.environ, PYTHONPATH=str(tree)), tree
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the port accepts connections
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the switch did not listen on port {port}")


def write_requests(p4info, count: int) -> list[bytes]:
    table_id = p4info.tables[0].preamble.id
    action_id = next(a.preamble.id for a in p4info.actions if a.preamble.name == FORWARD)
    out = []
    for i in range(count):
        request = pb.WriteRequest(device_id=0)
        request.election_id.low = 1
        entry = request.updates.add(type=pb.Update.INSERT).entity.table_entry
        entry.table_id = table_id
        match = entry.match.add(field_id=1)
        match.lpm.value = (0x0A000000 + (i << 8)).to_bytes(4, "big")
        match.lpm.prefix_len = 24
        entry.action.action.action_id = action_id
        entry.action.action.params.add(param_id=1, value=b"\x00\x00\x00\x00\x00\x01")
        entry.action.action.params.add(param_id=2, value=bytes([i % 200 + 1]))
        out.append(request.SerializeToString())
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, writes: int, pid: int) -> tuple[list[float], float]:
    """Round-trip seconds of `writes` one-entry Writes (after 200 unmeasured ones), and the
    server's CPU seconds for them beyond its idle rate: that figure depends less on the
    machine's load than the round trip does."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
    outgoing: queue.Queue = queue.Queue()
    arbitration = pb.StreamMessageRequest()
    arbitration.arbitration.device_id = 0
    arbitration.arbitration.election_id.low = 1
    outgoing.put(arbitration)
    stream = stub.StreamChannel(iter(outgoing.get, None))
    next(stream)
    config = pipeline_config(TABLE_SIZE)
    request = pb.SetForwardingPipelineConfigRequest(
        device_id=0, action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        config=config)
    request.election_id.low = 1
    stub.SetForwardingPipelineConfig(request)
    raw_write = channel.unary_unary("/p4.v1.P4Runtime/Write",
                                    request_serializer=lambda b: b,
                                    response_deserializer=pb.WriteResponse.FromString)
    warmup = 200
    requests = write_requests(config.p4info, writes + warmup)
    times = []
    for serialized in requests[:warmup]:
        raw_write(serialized)
    # What the switch burns doing nothing (engine loop, timers) is not the Writes' cost.
    idle_start, idle_cpu = time.perf_counter(), cpu_seconds(pid)
    time.sleep(1.0)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / (time.perf_counter() - idle_start)
    start_all = time.perf_counter()
    cpu_before = cpu_seconds(pid)
    for serialized in requests[warmup:]:
        start = time.perf_counter()
        raw_write(serialized)
        times.append(time.perf_counter() - start)
    cpu = cpu_seconds(pid) - cpu_before - idle_rate * (time.perf_counter() - start_all)
    outgoing.put(None)
    channel.close()
    return times, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=3000, help="measured writes per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per switch")
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="kvick tree to measure (repeatable; default: this one)")
    parser.add_argument("--frontend", action="append", default=[], choices=["aio", "native"],
                        help="the switch's gRPC front end (repeatable; default: its default)")
    parser.add_argument("--command", action="append", default=[],
                        help="another switch's command line; {port} is replaced")
    args = parser.parse_args()
    trees = args.tree or ([] if args.command else [REPO])
    frontends = args.frontend or [None]
    subjects: list[tuple[str, Path | None, str | None, str | None]] = [
        (str(tree) + (f" ({frontend})" if frontend else ""), tree.resolve(), None, frontend)
        for tree in trees for frontend in frontends]
    subjects += [(command.split()[0], None, command, None) for command in args.command]
    samples: dict[str, list[float]] = {name: [] for name, _, _, _ in subjects}
    cpu: dict[str, float] = {name: 0.0 for name, _, _, _ in subjects}
    for _ in range(args.rounds):
        for name, tree, command, frontend in subjects:
            port = free_port()
            switch = start_switch(tree, command, port, frontend)
            try:
                times, seconds = measure(port, args.writes, switch.pid)
                samples[name].extend(times)
                cpu[name] += seconds
            finally:
                switch.terminate()
                switch.wait(timeout=30)
    load = os.getloadavg()[0]
    results = {}
    for name, times in samples.items():
        median, p99 = statistics.median(times) * 1e6, percentile(times, 0.99) * 1e6
        server_cpu = cpu[name] / len(times) * 1e6
        print(f"{name}: {len(times)} writes, median {median:.0f} us, p99 {p99:.0f} us, "
              f"server CPU {server_cpu:.0f} us per write")
        results[name] = {"writes": len(times), "median_us": round(median),
                         "p99_us": round(p99), "server_cpu_us": round(server_cpu)}
    print(f"load average (1 min) at the end: {load:.2f}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
