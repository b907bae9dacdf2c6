"""How long a Write of N updates that are all refused takes, and how long a Read issued
meanwhile waits: the cost of bad input must grow linearly and must not stall other calls.

Each update inserts a route into tutorial_basic's MyIngress.ipv4_lpm whose `port` parameter
(9 bits) is given 2 bytes of 0xFF: the Write decoder's fast path refuses it and the protobuf
path answers OUT_OF_RANGE per update. The server runs in this process on loopback.

    python bench/p4runtime_refusals.py [--sizes 5000,40000,160000]

prints one line per size: seconds for the Write, refused updates/s, the Read's wait, RSS.
Figures on a loaded machine are only comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import grpc  # noqa: E402

from runtime_server.proto import p4runtime_pb2 as pb  # noqa: E402
from tools.p4rt_config_fuzz import ELECTION_ID, Harness  # noqa: E402

LPM_FORWARD = 28792405  # MyIngress.ipv4_forward


def refused_batch(table_id: int, count: int) -> pb.WriteRequest:
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = ELECTION_ID
    for i in range(count):
        entry = request.updates.add(type=pb.Update.INSERT).entity.table_entry
        entry.table_id = table_id
        match = entry.match.add(field_id=1)
        match.lpm.value = (0x0B000000 + (i << 8)).to_bytes(4, "big")
        match.lpm.prefix_len = 24
        action = entry.action.action
        action.action_id = LPM_FORWARD
        action.params.add(param_id=1, value=b"\x00\x00\x00\x00\x00\x01")
        action.params.add(param_id=2, value=b"\xff\xff")      # 16 bits for a 9-bit port
    return request


def measure(harness: Harness, count: int) -> tuple[float, float, int]:
    table_id = harness.canary.table_id
    request = refused_batch(table_id, count)
    read = pb.ReadRequest(device_id=0)
    read.entities.add().table_entry.table_id = table_id
    read_wait: list[float] = []
    started = threading.Event()

    def reader() -> None:
        started.wait()
        time.sleep(0.05)
        t0 = time.perf_counter()
        list(harness.stub.Read(read))
        read_wait.append(time.perf_counter() - t0)

    thread = threading.Thread(target=reader)
    thread.start()
    t0 = time.perf_counter()
    started.set()
    try:
        harness.stub.Write(request, timeout=600)
    except grpc.RpcError as err:
        # UNKNOWN with per-update details; a default client refuses details this long
        assert err.code() in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED), \
            err.code()
    elapsed = time.perf_counter() - t0
    thread.join()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return elapsed, read_wait[0], rss_kib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="5000,40000,160000")
    args = parser.parse_args(argv)
    harness = Harness("tutorial_basic")
    try:
        print(f"load average {os.getloadavg()[0]:.1f}")
        for count in (int(s) for s in args.sizes.split(",")):
            elapsed, waited, rss = measure(harness, count)
            print(f"{count:>7} refused updates: write {elapsed:7.2f} s "
                  f"({count / elapsed:9.0f}/s), a Read meanwhile waited {waited:6.2f} s, "
                  f"max RSS {rss // 1024} MiB")
    finally:
        harness.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
