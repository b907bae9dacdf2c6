"""The seed paper's experiment: a burst through a user-space router against the kernel's own.

Three namespaces, sender — veth — router — veth — receiver, built anew for each configuration:
  kvick/AF_XDP     kvick (p4src/router.p4, compiled by kvick) on AF_XDP ports in the router
  kvick/AF_PACKET  the same on PACKET_MMAP ports
  kernel           Linux forwarding in the router (ip_forward=1, rp_filter=0)
Both routers hold the same real BGP table (../shared/data/rib), every route towards the receiver.
The sender is trafgen (netsniff-ng), sending N 60-byte frames (64 B on the wire) to destinations
drawn from the routed space as fast as it can; the receiver's stack counts and drops them.
The sender's TX and the receiver's RX counters are sampled every millisecond, from which:
packets received, loss, the time from the first packet sent to the last one received, packets/s.

    python3 bench/kernel_vs_kvick.py [--packets N] [--routes N] [--repeat K] [--configs ...]
                                     [--plot PNG]

With --repeat K each configuration runs K times (in turn, so that a busy moment of the machine
hits all of them alike) and the table shows the run with the median rate.

Prints a table and a last line of JSON, and saves a bar chart (default kernel_vs_kvick.png).
Needs root, trafgen and matplotlib (tools/install.sh installs them).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from netns import CLONE_NEWNET, TestBed, mac_of, run  # noqa: E402

from target import Exact, Lpm, rib  # noqa: E402

ROUTER_P4 = ROOT / "p4src" / "router.p4"
CONFIGS = ("kvick/AF_XDP", "kvick/AF_PACKET", "kernel")
SENDER_IP, SENDER_GW = "198.18.0.1", "198.18.0.254"
RECEIVER_IP, RECEIVER_GW = "198.19.0.1", "198.19.0.254"
BENCH_NET = (0xC6120000, 0xFFFE0000)      # 198.18.0.0/15: the test hosts' own addresses
DISTINCT_FRAMES = 1024                    # destinations the sender cycles through
SAMPLE_S = 0.001
QUIET_S = 0.5                             # no new packet for this long: the burst is over
LOAD_BATCH = 10_000
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class Result:
    config: str
    sent: int
    received: int
    loss: int
    loss_pct: float
    seconds: float
    pps: float
    router_drops: dict[str, int]


# ---------------------------------------------------------------------------------- traffic
def checksum(data: bytes) -> int:
    total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(dst_mac: str, src_mac: str, dst_ip: int) -> bytes:
    """60 bytes: Ethernet, IPv4 (TTL 64, real checksum), UDP (no checksum), zero padding."""
    ip = bytearray(20)
    ip[0], ip[8], ip[9] = 0x45, 64, 17
    ip[2:4] = (20 + 8 + 18).to_bytes(2, "big")
    ip[12:16] = bytes(int(x) for x in SENDER_IP.split("."))
    ip[16:20] = dst_ip.to_bytes(4, "big")
    ip[10:12] = checksum(bytes(ip)).to_bytes(2, "big")
    udp = (1234).to_bytes(2, "big") + (9).to_bytes(2, "big") + (8 + 18).to_bytes(2, "big") + bytes(2)
    frame = (bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
             + b"\x08\x00" + bytes(ip) + udp + bytes(18))
    assert len(frame) == 60
    return frame


def destinations(routes: np.ndarray, n: int) -> list[int]:
    """n routed addresses outside the test hosts' own /15 (those would not cross the router)."""
    drawn = rib.random_routed_addresses(routes, 4 * n, seed=11).tolist()
    picked = [a for a in drawn if a & BENCH_NET[1] != BENCH_NET[0]][:n]
    if len(picked) < n:
        raise SystemExit("the table covers too little address space outside 198.18.0.0/15")
    return picked


def trafgen_config(frames: list[bytes]) -> str:
    """trafgen's packet configuration: one `{ bytes }` block per frame, sent in turn."""
    return "\n".join("{ " + ", ".join(f"0x{b:02x}" for b in frame) + " }" for frame in frames)


# ---------------------------------------------------------------------------------- counters
class CounterSampler(threading.Thread):
    """Samples one interface counter inside a namespace: this thread enters the namespace
    for good, then reads its /proc/thread-self/net/dev every SAMPLE_S seconds."""

    def __init__(self, netns: str, ifname: str, field: str) -> None:
        super().__init__(daemon=True)
        self.netns, self.ifname = netns, ifname
        self.column = {"rx_packets": 1, "tx_packets": 9}[field]  # after the name
        self.samples: list[tuple[float, int]] = []
        self.stop_flag = threading.Event()
        self.ready = threading.Event()

    def read(self) -> int:
        with open("/proc/thread-self/net/dev") as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name.strip() == self.ifname:
                    return int(rest.split()[self.column])
        raise RuntimeError(f"{self.ifname} not in {self.netns}")

    def run(self) -> None:
        fd = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        self.samples.append((time.monotonic(), self.read()))
        self.ready.set()
        while not self.stop_flag.is_set():
            time.sleep(SAMPLE_S)
            self.samples.append((time.monotonic(), self.read()))

    def first_change(self) -> float:
        """When the counter first moved: midway between the last still and the first moved
        sample."""
        base = self.samples[0][1]
        for (t0, _), (t1, v1) in zip(self.samples, self.samples[1:], strict=False):
            if v1 != base:
                return (t0 + t1) / 2
        raise RuntimeError("the counter never moved")

    def last_change(self) -> float:
        final = self.samples[-1][1]
        for (t0, v0), (t1, v1) in zip(self.samples, self.samples[1:], strict=False):
            if v1 == final and v0 != final:
                return (t0 + t1) / 2
        raise RuntimeError("the counter never moved")

    def delta(self) -> int:
        return self.samples[-1][1] - self.samples[0][1]


# ---------------------------------------------------------------------------------- routers
def kernel_router(bed: TestBed, router: str, r_out: str, routes: np.ndarray,
                  receiver_mac: str) -> None:
    for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
                "net.ipv4.conf.default.rp_filter=0"):
        run("sysctl", "-q", "-w", key, netns=router)
    run("ip", "neigh", "replace", RECEIVER_IP, "lladdr", receiver_mac, "dev", r_out, netns=router)
    with tempfile.NamedTemporaryFile("w", suffix=".batch") as batch:
        for prefix, length in zip(routes["prefix"].tolist(), routes["length"].tolist(),
                                  strict=True):
            if prefix & BENCH_NET[1] == BENCH_NET[0] and length >= 15:
                continue  # the hosts' own subnets stay connected routes
            address = ".".join(str((prefix >> s) & 0xFF) for s in (24, 16, 8, 0))
            batch.write(f"route replace {address}/{length} via {RECEIVER_IP} dev {r_out}\n")
        batch.flush()
        t0 = time.perf_counter()
        run("ip", "-n", router, "-batch", batch.name)
        print(f"  kernel: {len(routes):,} routes installed in {time.perf_counter() - t0:.1f} s",
              flush=True)


def kvick_router_process(netns: str, driver: str, engine: str, r_in: str, r_out: str,
                         routes: np.ndarray, program: tuple[str, str], receiver_mac: str,
                         r_out_mac: str, conn) -> None:  # noqa: ANN001
    """The router: a process of its own inside the router namespace (so its sockets are
    there), running kvick until the parent says stop; sends back ready, then the drop counts."""
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)
    from target import Switch
    from target.driver.af_packet import AfPacketPort
    from target.driver.af_xdp import AfXdpPort

    sw = Switch(pool_size=16384, buf_size=2048 + 256)
    sw.load(program[0], p4info=program[1])
    t0 = time.perf_counter()
    batch: list[tuple] = []
    for prefix, length in zip(routes["prefix"].tolist(), routes["length"].tolist(), strict=True):
        batch.append(([Lpm(prefix, length)], "RouterIngress.set_next_hop", [1], None))
        if len(batch) == LOAD_BATCH:
            sw.table_add_many("RouterIngress.ipv4_lpm", batch)
            batch = []
    if batch:
        sw.table_add_many("RouterIngress.ipv4_lpm", batch)
    load_s = time.perf_counter() - t0
    mac = int(receiver_mac.replace(":", ""), 16)
    sw.table_add("RouterIngress.next_hop", [Exact(1)], "RouterIngress.forward", [2, mac])
    sw.table_add("RouterEgress.port_mac", [Exact(2)], "RouterEgress.set_source_mac",
                 [int(r_out_mac.replace(":", ""), 16)])
    for num, ifname in ((1, r_in), (2, r_out)):
        sw.add_port(num, AfXdpPort(ifname, ring_size=2048) if driver == "AF_XDP"
                    else AfPacketPort(ifname))
    mode = getattr(sw.ports[1], "mode", "PACKET_MMAP")
    if engine == "switch":
        sw.start()
    else:
        # The engine loop over the two ports and nothing else: Switch.start()'s loop also
        # takes turns serving its packet-out injection queues.
        from target.loop import Breather
        from target.pipeline.engine import batch_entry

        breather = Breather(sw.pipeline, batch_entry(), sw.pool, dict(sw.ports), dict(sw.ports),
                            sw.batch_size)
        loop = threading.Thread(target=breather.run, args=(3600.0,), daemon=True)
        loop.start()
    conn.send(("ready", load_s, mode))
    conn.recv()
    if engine == "switch":
        sw.stop()
    else:
        breather.request_stop()
        loop.join()
    drops = {"rx_dropped": sw.port_stats(1)["rx_dropped"],
             "tx_dropped": sw.port_stats(2)["tx_dropped"]}
    drops.update({k: v for k, v in sw.stats().items() if k in ("dropped", "pool_exhausted")})
    for num in (1, 2):
        sw.remove_port(num)
    conn.send(drops)


# ---------------------------------------------------------------------------------- one run
def run_config(config: str, routes: np.ndarray, packets: int, program: tuple[str, str],
               workdir: Path, engine: str) -> Result:
    print(f"{config}:", flush=True)
    with TestBed() as bed:
        sender, router, receiver = bed.namespace(), bed.namespace(), bed.namespace()
        s_if, r_in = bed.veth_between(sender, router)
        r_out, d_if = bed.veth_between(router, receiver)
        bed.address(sender, s_if, SENDER_IP + "/24")
        bed.address(receiver, d_if, RECEIVER_IP + "/24")
        r_in_mac, r_out_mac = mac_of(router, r_in), mac_of(router, r_out)
        receiver_mac = mac_of(receiver, d_if)
        child = None
        if config == "kernel":
            bed.address(router, r_in, SENDER_GW + "/24")
            bed.address(router, r_out, RECEIVER_GW + "/24")
            kernel_router(bed, router, r_out, routes, receiver_mac)
        else:
            parent_end, child_end = multiprocessing.Pipe()
            child = multiprocessing.get_context("fork").Process(
                target=kvick_router_process,
                args=(router, config.split("/")[1], engine, r_in, r_out, routes, program,
                      receiver_mac, r_out_mac, child_end))
            child.start()
            if not parent_end.poll(300):
                child.kill()
                raise SystemExit(f"{config}: the router did not come up")
            _, load_s, mode = parent_end.recv()
            print(f"  kvick: {len(routes):,} routes installed in {load_s:.1f} s; "
                  f"port mode {mode}", flush=True)
        cfg = workdir / "frames.cfg"
        cfg.write_text(trafgen_config([udp_frame(r_in_mac, mac_of(sender, s_if), d)
                                       for d in destinations(routes, DISTINCT_FRAMES)]))
        sent_counter = CounterSampler(sender, s_if, "tx_packets")
        got_counter = CounterSampler(receiver, d_if, "rx_packets")
        for sampler in (sent_counter, got_counter):
            sampler.start()
            sampler.ready.wait()
        try:
            trafgen = run("trafgen", "-o", s_if, "-i", str(cfg), "-n", str(packets), "-P", "1",
                          "-q", netns=sender, check=False)
            if trafgen.returncode != 0:
                raise SystemExit(f"trafgen failed: {trafgen.stderr.strip()}")
            last, still_since = -1, time.monotonic()
            while time.monotonic() - still_since < QUIET_S:
                time.sleep(0.05)
                now = got_counter.samples[-1][1]
                if now != last:
                    last, still_since = now, time.monotonic()
        finally:
            for sampler in (sent_counter, got_counter):
                sampler.stop_flag.set()
                sampler.join()
            router_drops: dict[str, int] = {}
            if child is not None:
                parent_end.send("stop")
                router_drops = parent_end.recv() if parent_end.poll(30) else {}
                child.join(30)
        sent, received = sent_counter.delta(), got_counter.delta()
        seconds = got_counter.last_change() - sent_counter.first_change() if received else 0.0
        return Result(config, sent, received, sent - received,
                      round(100.0 * (sent - received) / max(1, sent), 2), round(seconds, 4),
                      round(received / seconds) if seconds > 0 else 0, router_drops)


# ---------------------------------------------------------------------------------- output
def table(results: list[Result]) -> str:
    lines = [f"| {'configuration':<16} | {'sent':>9} | {'received':>9} | {'loss':>14} | "
             f"{'first sent → last received':>26} | {'packets/s':>11} |",
             f"|{'-' * 18}|{'-' * 11}|{'-' * 11}|{'-' * 16}|{'-' * 28}|{'-' * 13}|"]
    for r in results:
        lines.append(f"| {r.config:<16} | {r.sent:>9,} | {r.received:>9,} | "
                     f"{r.loss:>7,} ({r.loss_pct:>4.1f} %) | {r.seconds:>24.3f} s | "
                     f"{r.pps:>11,.0f} |")
    return "\n".join(lines)


def plot(results: list[Result], packets: int, n_routes: int, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (rate, lost) = plt.subplots(1, 2, figsize=(10, 4))
    names = [r.config for r in results]
    colors = ["tab:blue", "tab:cyan", "tab:gray"][:len(results)]
    bars = rate.bar(names, [r.pps / 1e6 for r in results], color=colors)
    rate.bar_label(bars, fmt="%.2f")
    rate.set_ylabel("delivered Mpps (first sent → last received)")
    rate.set_title("forwarding rate")
    bars = lost.bar(names, [r.loss_pct for r in results], color=colors)
    lost.bar_label(bars, fmt="%.1f %%")
    lost.set_ylabel("lost packets (%)")
    lost.set_title("loss")
    fig.suptitle(f"{packets:,} × 64 B through a router with {n_routes:,} BGP routes (veth, 2 CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--routes", type=int, default=0,
                    help="use the first N routes of the table (default: all)")
    ap.add_argument("--rib", type=Path, default=None, help="route table (default: the real one)")
    ap.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    ap.add_argument("--engine", choices=["loop", "switch"], default="loop",
                    help="kvick's data path: the engine loop over the ports alone (default), or "
                    "Switch.start(), which also serves packet-out queues")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration (median)")
    ap.add_argument("--plot", type=Path, default=Path("kernel_vs_kvick.png"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (namespaces, veth, XDP)")
    routes = rib.read_ipv4_routes(args.rib or rib.real_ipv4_table_path())
    if args.routes:
        routes = routes[:args.routes]
    from target.compiler.driver import compile_file

    with tempfile.TemporaryDirectory(prefix="kvick-bench-") as tmp:
        workdir = Path(tmp)
        document, p4info = compile_file(ROUTER_P4)
        program = (str(workdir / "router.json"), str(workdir / "router.p4info.txtpb"))
        Path(program[0]).write_text(json.dumps(document))
        Path(program[1]).write_text(p4info)
        runs: dict[str, list[Result]] = {c: [] for c in args.configs}
        for _ in range(args.repeat):
            for config in args.configs:
                runs[config].append(run_config(config, routes, args.packets, program, workdir,
                                               args.engine))
    results = [sorted(r, key=lambda x: x.pps)[len(r) // 2] for r in runs.values()]
    if args.repeat > 1:
        for config, r in runs.items():
            print(f"{config}: packets/s of each run: {', '.join(f'{x.pps:,.0f}' for x in r)}")
    print()
    print(f"{args.packets:,} frames of 64 B, {len(routes):,} routes, sender: trafgen on 1 CPU, "
          f"kvick engine: {args.engine}")
    print(table(results))
    plot(results, args.packets, len(routes), args.plot)
    print(f"plot: {args.plot}")
    print(json.dumps({"packets": args.packets, "routes": len(routes), "repeat": args.repeat,
                      "engine": args.engine,
                      "results": [asdict(r) for r in results]}))


if __name__ == "__main__":
    main()
