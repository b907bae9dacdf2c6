"""Forwarding rate of p4src/mpls_gre.p4 (compiled by kvick's compiler) through the engine loop.

Compiles the program, installs --routes IPv4 routes (/24s; every other one pushes a label into
one of 64 GRE tunnels, the others go to plain next hops) and --labels label entries (half
swapped into a tunnel, half popped), checks a sample of each workload against the expected
output, then for each workload forwards frames from an in-memory generator port (a round robin
of 1,024 distinct frames with valid checksums) through the engine loop into counting in-memory
ports and prints the rate in Mpps:

    push    customer IPv4 (60-byte frames) -> label pushed, GRE/IPv4 encapsulation (88 bytes)
    pop     MPLS/GRE/IPv4 for the router (88 bytes) -> decapsulated, inner IPv4 routed
    swap    MPLS/GRE/IPv4 for the router -> label swapped, re-encapsulated toward a peer
    route   plain IPv4 routed to a next hop (the same program, no tunnel)

The last line is a JSON object. On a shared machine compare figures only within one run.

    python3 bench/mpls_gre.py [--packets N] [--batch N ...] [--routes N] [--labels N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.l2 import GRE, Ether  # noqa: E402

from bench.workers import run_workers  # noqa: E402
from target import Exact, Lpm, Switch  # noqa: E402
from target.compiler.driver import compile_file  # noqa: E402
from target.driver.memory import MemoryGenerator, MemorySink  # noqa: E402

PROGRAM = ROOT / "p4src" / "mpls_gre.p4"
ING = "MplsGreIngress."
IN_PORT = 1
OUT_PORTS = range(2, 10)          # next hops and tunnels leave on ports 2..9
TUNNELS = 64
ROUTER_IP = 0xC0000201            # 192.0.2.1
PEER_BASE = 0xC6336400            # 198.51.100.0: tunnel t's endpoint is PEER_BASE + t
FRAMES = 1024
LOAD_BATCH = 10_000


def port_of(index: int) -> int:
    return OUT_PORTS[index % len(OUT_PORTS)]


def route_prefix(i: int) -> int:
    """The i-th /24: 10.0.0.0/24, 10.0.1.0/24, ... (beyond 10/8 into 11/8 and on)."""
    return (10 << 24) + (i << 8)


def ip_text(value: int) -> str:
    return ".".join(str((value >> s) & 0xFF) for s in (24, 16, 8, 0))


def configure(sw: Switch, routes: int, labels: int) -> None:
    sw.table_add(ING + "local_endpoint", [Exact(ROUTER_IP)], ING + "terminate", [])
    for t in range(1, TUNNELS + 1):
        sw.table_add(ING + "tunnel", [Exact(t)], ING + "encapsulate",
                     [ROUTER_IP, PEER_BASE + t, port_of(t), 0x020000000000 | t])
    for hop in range(1, 9):
        sw.table_add(ING + "next_hop", [Exact(hop)], ING + "forward",
                     [port_of(hop), 0x020000000100 | hop])
    for port in OUT_PORTS:
        sw.table_add("MplsGreEgress.port_mac", [Exact(port)], "MplsGreEgress.set_source_mac",
                     [0x0A0000000100 | port])
    batch: list[tuple] = []
    for i in range(routes):
        if i % 2:
            batch.append(([Lpm(route_prefix(i), 24)], ING + "push_label",
                          [100_000 + i, 1 + i % TUNNELS], None))
        else:
            batch.append(([Lpm(route_prefix(i), 24)], ING + "set_next_hop", [1 + i % 8], None))
        if len(batch) == LOAD_BATCH or i == routes - 1:
            sw.table_add_many(ING + "ipv4_lpm", batch)
            batch = []
    for label in range(16, 16 + labels):
        if label % 2:
            batch.append(([Exact(label)], ING + "swap_label", [label + 500_000,
                                                               1 + label % TUNNELS], None))
        else:
            batch.append(([Exact(label)], ING + "pop_label", [], None))
        if len(batch) == LOAD_BATCH or label == 15 + labels:
            sw.table_add_many(ING + "mpls_label", batch)
            batch = []


def customer(dst: int) -> IP:
    return IP(src="198.18.0.1", dst=ip_text(dst), ttl=64) / UDP(sport=1234, dport=80) / bytes(18)


def workloads(routes: int, labels: int, seed: int = 7) -> dict[str, list[bytes]]:
    """FRAMES frames per workload, destinations and labels drawn at random."""
    rng = random.Random(seed)
    eth = Ether(dst="0a:00:00:00:01:01", src="02:00:00:00:00:99")
    push_routes = [i for i in range(routes) if i % 2]
    plain_routes = [i for i in range(routes) if i % 2 == 0]
    pops = [lab for lab in range(16, 16 + labels) if lab % 2 == 0]
    swaps = [lab for lab in range(16, 16 + labels) if lab % 2]

    def host(i: int) -> int:
        return route_prefix(i) + rng.randrange(1, 255)

    def tunnelled(label: int, inner: IP) -> bytes:
        return bytes(eth / IP(src=ip_text(PEER_BASE + 1), dst=ip_text(ROUTER_IP), ttl=64)
                     / GRE() / MPLS(label=label, ttl=64, s=1) / inner)

    return {
        "push": [bytes(eth / customer(host(rng.choice(push_routes)))) for _ in range(FRAMES)],
        "pop": [tunnelled(rng.choice(pops), customer(host(rng.choice(plain_routes))))
                for _ in range(FRAMES)],
        "swap": [tunnelled(rng.choice(swaps), customer(host(rng.choice(plain_routes))))
                 for _ in range(FRAMES)],
        "route": [bytes(eth / customer(host(rng.choice(plain_routes)))) for _ in range(FRAMES)],
    }


def check(sw: Switch, name: str, frames: list[bytes]) -> None:
    """Each workload's frames come out one each, as that workload says."""
    for frame in frames[:64]:
        out = sw.process([(IN_PORT, frame)])
        if len(out) != 1:
            raise SystemExit(f"{name}: frame not forwarded: {Ether(frame)!r}")
        sent, got = Ether(frame), Ether(out[0][1])
        if name == "push":
            ok = MPLS in got and got[MPLS].payload.dst == sent[IP].dst
        elif name == "pop":
            ok = GRE not in got and got[IP].dst == sent[MPLS].payload.dst
        elif name == "swap":
            ok = MPLS in got and got[MPLS].label == sent[MPLS].label + 500_000
        else:
            ok = GRE not in got and got[IP].ttl == sent[IP].ttl - 1
        if not ok:
            raise SystemExit(f"{name}: wrong output {got!r} for {sent!r}")


def forward(sw: Switch, frames: list[bytes], packets: int, batch: int) -> float:
    sinks: list[MemorySink] = []

    def rx_of(k: int, pool, count: int) -> dict:
        gen = MemoryGenerator(frames, count=count)
        gen.open(pool)
        return {IN_PORT: gen}

    def tx_of(k: int, pool) -> dict:
        ports = {port: MemorySink() for port in OUT_PORTS}
        for sink in ports.values():
            sink.open(pool)
        sinks.extend(ports.values())
        return ports

    pps, _ = run_workers(sw, 1, rx_of, tx_of, batch, packets)
    sent = sum(sink.packets for sink in sinks)
    if sent != packets:
        raise SystemExit(f"lost packets: forwarded {sent} of {packets}")
    return pps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="packets per measurement")
    ap.add_argument("--batch", type=int, nargs="+", default=[32, 256], help="engine batch sizes")
    ap.add_argument("--routes", type=int, default=100_000, help="IPv4 routes (/24s)")
    ap.add_argument("--labels", type=int, default=10_000, help="label entries")
    args = ap.parse_args()
    if args.routes < 2 or args.labels < 2:
        ap.error("--routes and --labels must be at least 2")

    document, p4info = compile_file(PROGRAM)
    sw = Switch(pool_size=8192, buf_size=2304)
    sw.load(document, p4info=p4info)
    configure(sw, args.routes, args.labels)
    loads = workloads(args.routes, args.labels)
    for name, frames in loads.items():
        check(sw, name, frames)
    print(f"{PROGRAM.relative_to(ROOT)}: {args.routes:,} routes, {args.labels:,} labels, "
          f"{TUNNELS} tunnels; outputs checked")
    result: dict[str, object] = {"program": "p4src/mpls_gre.p4", "compiler": "kvick",
                                 "routes": args.routes, "labels": args.labels}
    for name, frames in loads.items():
        for batch in args.batch:
            pps = forward(sw, frames, args.packets, batch)
            result[f"{name}_mpps_batch{batch}"] = round(pps / 1e6, 3)
            print(f"{name:>5}, batch {batch:>3}: {pps / 1e6:6.3f} Mpps "
                  f"({args.packets:,} packets of {len(frames[0])} bytes)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
