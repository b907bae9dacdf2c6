"""P4Runtime write/read load: the 512k-route RIB into MyIngress.ipv4_lpm (size raised to
1,048,576) of tutorial_basic, over gRPC from this process to `kvick --no-p4` in another.

Reports entries/s for Write batches of 1, 100, 1000 and 10000 routes, the time to load the
whole table at batch 10000, the wildcard Read rate, and the server's RSS with the table
empty (pipeline set), loaded, and after the read.

    python bench/p4runtime_load.py [--routes N] [--frontend aio|native]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import queue
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from google.protobuf import text_format  # noqa: E402

from runtime_server.proto import p4runtime_pb2 as pb  # noqa: E402
from runtime_server.proto import p4runtime_pb2_grpc  # noqa: E402

SHARED = REPO.parent / "shared"
PROGRAM = SHARED / "corpus" / "tutorial_basic" / "tutorial_basic"
RIB = SHARED / "data" / "rib" / "routeviews-ipv4-20140513.dat.gz"
TABLE_SIZE = 1_048_576
FORWARD = "MyIngress.ipv4_forward"


def routes(limit: int | None) -> list[tuple[int, int, int]]:
    """(prefix, length, next hop) from the RIB; the next hop is the origin ASN mod 255."""
    out = []
    with gzip.open(RIB, "rt") as lines:
        for line in lines:
            if line.startswith(";"):
                continue
            prefix, asn = line.split()
            address, length = prefix.split("/")
            a, b, c, d = (int(x) for x in address.split("."))
            out.append(((a << 24) | (b << 16) | (c << 8) | d, int(length), int(asn) % 255 + 1))
            if limit is not None and len(out) == limit:
                break
    return out


def pipeline_config(table_size: int = TABLE_SIZE) -> pb.ForwardingPipelineConfig:
    """tutorial_basic with its route table sized `table_size` in both the P4Info and the JSON."""
    config = pb.ForwardingPipelineConfig()
    text_format.Parse(Path(f"{PROGRAM}.p4info.txtpb").read_text(), config.p4info)
    config.p4info.tables[0].size = table_size
    program = json.loads(Path(f"{PROGRAM}.json").read_text())
    program["pipelines"][0]["tables"][0]["max_size"] = table_size
    config.p4_device_config = json.dumps(program).encode()
    return config


def write_requests(config, table_routes, batch: int) -> list[bytes]:
    table_id = config.p4info.tables[0].preamble.id
    action = next(a for a in config.p4info.actions if a.preamble.name == FORWARD)
    requests = []
    for start in range(0, len(table_routes), batch):
        request = pb.WriteRequest(device_id=0)
        request.election_id.low = 1
        for prefix, length, hop in table_routes[start:start + batch]:
            entry = request.updates.add(type=pb.Update.INSERT).entity.table_entry
            entry.table_id = table_id
            match = entry.match.add(field_id=1)
            match.lpm.value = prefix.to_bytes(4, "big")
            match.lpm.prefix_len = length
            entry.action.action.action_id = action.preamble.id
            entry.action.action.params.add(param_id=1, value=hop.to_bytes(6, "big"))
            entry.action.action.params.add(param_id=2, value=bytes([hop % 256]))
        requests.append(request.SerializeToString())
    return requests


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=None, help="use only the first N routes")
    parser.add_argument("--frontend", choices=["aio", "native"], default=None,
                        help="the switch's --grpc-frontend (default: its default)")
    args = parser.parse_args()
    all_routes = routes(args.routes)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
         f"127.0.0.1:{port}", *(["--grpc-frontend", args.frontend] if args.frontend else [])],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "listening" in line:
                break
        channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
            ("grpc.max_send_message_length", 1 << 30),
            ("grpc.max_metadata_size", 1 << 24)])
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        arbitration = pb.StreamMessageRequest()
        arbitration.arbitration.election_id.low = 1
        outgoing: queue.Queue = queue.Queue()
        outgoing.put(arbitration)
        stream = stub.StreamChannel(iter(outgoing.get, None))  # open until None is queued
        next(stream)
        config = pipeline_config()
        raw_write = channel.unary_unary("/p4.v1.P4Runtime/Write",
                                        request_serializer=lambda b: b,
                                        response_deserializer=pb.WriteResponse.FromString)
        print(f"routes: {len(all_routes)}; server pid {server.pid}")
        results: dict[str, float] = {"routes": len(all_routes)}
        for batch, count in [(1, 2000), (100, 50_000), (1000, len(all_routes)),
                             (10000, len(all_routes))]:
            request = pb.SetForwardingPipelineConfigRequest(
                device_id=0, action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
                config=config)
            request.election_id.low = 1
            stub.SetForwardingPipelineConfig(request)
            if batch == 10000:
                results["server_rss_empty_mib"] = round(rss_mib(server.pid))
            chunk = all_routes[:count]
            requests = write_requests(config, chunk, batch)
            start = time.perf_counter()
            for serialized in requests:
                raw_write(serialized)
            elapsed = time.perf_counter() - start
            print(f"batch {batch:>5}: {len(chunk):>7} entries in {elapsed:7.2f} s = "
                  f"{len(chunk) / elapsed:9.0f} entries/s")
            results[f"batch_{batch}_entries"] = len(chunk)
            results[f"batch_{batch}_entries_per_s"] = round(len(chunk) / elapsed)
            results[f"batch_{batch}_seconds"] = round(elapsed, 3)
        results["server_rss_loaded_mib"] = round(rss_mib(server.pid))
        print(f"server RSS: {results['server_rss_empty_mib']} MiB with the table empty, "
              f"{results['server_rss_loaded_mib']} MiB loaded")
        read = pb.ReadRequest(device_id=0)
        read.entities.add().table_entry.table_id = config.p4info.tables[0].preamble.id
        start = time.perf_counter()
        got = sum(len(r.entities) for r in stub.Read(read))
        elapsed = time.perf_counter() - start
        print(f"wildcard read: {got} entries in {elapsed:.2f} s = {got / elapsed:.0f} entries/s")
        print(f"server RSS after the read: {rss_mib(server.pid):.0f} MiB")
        results.update(read_entries=got, read_seconds=round(elapsed, 3),
                       server_rss_mib=round(rss_mib(server.pid)))
        print(json.dumps(results))
        outgoing.put(None)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
