"""Benchmark: the IPv4 LPM router (P4 tutorials' basic.p4) with a full BGP table, one core.

Loads every route of the real 512k-route table (or a generated Internet-like one) into
MyIngress.ipv4_lpm — in a copy of the program with the table's declared size raised to
1,048,576, as BMv2 needs for the same test — then pushes 64-byte frames with random routed
destinations from an in-memory generator through the engine loop into a counting sink.
Prints packets/s per batch size, the table load time and the resident memory; the last line
is a JSON object. A second case runs a ternary-heavy corpus program.

    python bench/router.py [--packets N] [--trials N] [--synthetic] [--routes N] [--workers N]
                           [--reload]

--workers N runs the pipeline on N workers, each with its own in-memory ports and packet pool
(bench/workers.py). --reload also measures forwarding on the switch's own engine threads while
the whole table is cleared and loaded again through the target API's bulk path, --reload-chunk
routes a write (bench/reload.py): the rate during the load as a share of the rate just before,
the longest gap between two batches of one worker, and each gap over 1 ms put down to the
switch (blocked, slow batch) or to the host's scheduler (preempted). A cleared table drops
packets cheaply until their routes are back, so the same figures follow for a rewrite that
MODIFYs every route in place to another next hop, the table full throughout; the ports are
checked against the rewritten routes afterwards.

Each figure is the median of --trials runs, with the best beside it: on a shared machine other
tenants only ever slow a run down, so the spread says how noisy the host was.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scapy.all import IP, UDP, Ether, raw  # noqa: E402

from bench import engines  # noqa: E402
from bench import reload as reload_mod  # noqa: E402
from bench.workers import run_workers  # noqa: E402
from target import (  # noqa: E402
    Lpm,
    Switch,
    Ternary,
    rib,  # noqa: E402
)
from target.driver.memory import MemoryGenerator, MemorySink  # noqa: E402

NEXT_HOPS = 8


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def router_program(corpus: Path) -> dict:
    prog = json.loads((corpus / "tutorial_basic" / "tutorial_basic.json").read_text())
    prog = copy.deepcopy(prog)
    for pl in prog["pipelines"]:
        for t in pl["tables"]:
            if t["name"] == "MyIngress.ipv4_lpm":
                t["max_size"] = 1_048_576
    return prog


def run_loop(sw: Switch, frames: list[bytes], offset: int | None, values, packets: int,
             batch: int, workers: int = 1, cpu_rates: list[float] | None = None) -> float:
    sinks: list[MemorySink] = []

    def rx_of(k: int, pool, count: int) -> dict:
        gen = MemoryGenerator(frames, count=count, rewrite_offset=offset, rewrite_values=values)
        gen.open(pool)
        return {1: gen}

    def tx_of(k: int, pool) -> dict:
        sink = MemorySink()
        sink.open(pool)
        sinks.append(sink)
        return {p: sink for p in range(0, NEXT_HOPS + 2)}

    pps, cpu_pps = run_workers(sw, workers, rx_of, tx_of, batch, packets)
    if cpu_rates is not None:
        cpu_rates.append(cpu_pps)
    forwarded = sum(s.packets for s in sinks)
    if forwarded != packets:
        raise SystemExit(f"lost packets: forwarded {forwarded} of {packets}")
    return pps


def check_ports(sw: Switch, routes, frame: bytes, engine_names: list[str], n: int,
                shift: int = 0) -> None:
    """Each engine sends n random routed packets out of the reference longest match's port
    (the sink of the timed runs counts packets, not where they go); `shift`: every route's
    port moved that many next hops on (reload.REWRITE_SHIFT after the rewrite)."""
    from bench.main_job import reference_next_hop
    addresses = rib.random_routed_addresses(routes, n, seed=7)
    want = reference_next_hop(routes, addresses,
                              [1 + (asn + shift) % NEXT_HOPS for asn in routes["asn"].tolist()])
    frames = []
    for addr in addresses.tolist():
        packet = bytearray(frame)
        packet[30:34] = addr.to_bytes(4, "big")
        frames.append((1, bytes(packet)))
    for e in engine_names:
        engines.use(sw, e)
        got = [port for i in range(0, n, 256) for port, _ in sw.process(frames[i:i + 256])]
        if got != want:
            bad = next(i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w)
            raise SystemExit(f"{e}: wrong port for {addresses[bad]:#010x}: got {got[bad]}, "
                             f"want {want[bad]} ({len(got)} packets out of {n})")


def load_routes(sw: Switch, routes) -> None:
    """Every route into MyIngress.ipv4_lpm, 10,000 entries a call."""
    batch = []
    for prefix, length, asn in zip(routes["prefix"].tolist(), routes["length"].tolist(),
                                   routes["asn"].tolist(), strict=True):
        port = 1 + asn % NEXT_HOPS
        batch.append(([Lpm(prefix, length)], "MyIngress.ipv4_forward",
                      [0x020000000000 | port, port], None))
        if len(batch) == 10_000:
            sw.table_add_many("MyIngress.ipv4_lpm", batch)
            batch = []
    sw.table_add_many("MyIngress.ipv4_lpm", batch)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2_000_000, help="packets per run")
    ap.add_argument("--trials", type=int, default=5, help="runs per figure (median and best)")
    ap.add_argument("--synthetic", action="store_true", help="generated table instead of the real one")
    ap.add_argument("--routes", type=int, default=512_000, help="routes of the generated table")
    ap.add_argument("--workers", type=int, default=1, help="workers forwarding at once")
    ap.add_argument("--reload", action="store_true",
                    help="also measure forwarding during a full-table reload (bench/reload.py)")
    ap.add_argument("--reload-chunk", type=int, default=10_000,
                    help="routes per write of the reload")
    ap.add_argument("--control-nice", type=int, default=19,
                    help="the reloading control-plane thread's nice value (Switch.control_nice; "
                         "0: the workers' priority)")
    ap.add_argument("--check", type=int, default=2000,
                    help="packets checked against the reference, per engine")
    engines.add_argument(ap)
    args = ap.parse_args()
    corpus = rib.shared_data_dir() / "corpus"

    if args.synthetic:
        routes = rib.generate_internet_like(args.routes)
        source = f"generated Internet-like table ({len(routes)} routes)"
    else:
        routes = rib.read_ipv4_routes(rib.real_ipv4_table_path())
        source = f"{rib.real_ipv4_table_path().name} ({len(routes)} routes)"

    sw = Switch(pool_size=8192, buf_size=2304, native=engines.switch_mode(args.engine),
                workers=args.workers)
    sw.load(router_program(corpus), corpus / "tutorial_basic" / "tutorial_basic.p4info.txtpb")
    if args.engine != "interp" and not sw.native_ready():
        raise SystemExit("no native code for the router (the log says why)")
    rss0 = rss_mib()
    t0 = time.perf_counter()
    load_routes(sw, routes)
    load_s = time.perf_counter() - t0
    rss_table = rss_mib()
    print(f"routes: {source}, loaded in {load_s:.2f} s ({len(routes) / load_s:,.0f} routes/s), "
          f"RSS {rss_table:.0f} MiB (+{rss_table - rss0:.0f} MiB for the table)")

    frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                IP(src="198.18.0.1", dst="1.1.1.1", ttl=64) / UDP(sport=1234, dport=80) /
                bytes(18))
    assert len(frame) == 60
    check_ports(sw, routes, frame, engines.engines(args.engine), args.check)
    print(f"checked {args.check:,} packets per engine against a reference longest-prefix match")
    dsts = rib.random_routed_addresses(routes, 1 << 20)
    results: dict[int, tuple[float, float]] = {}
    cpu_rates: list[float] = []
    by_engine: dict[str, dict[int, float]] = {e: {} for e in engines.engines(args.engine)}
    for batch in (1, 32, 256):
        n = args.packets if batch > 1 else max(args.packets // 4, 100_000)
        runs: dict[str, list[float]] = {e: [] for e in by_engine}
        cpus: dict[str, list[float]] = {e: [] for e in by_engine}
        for _ in range(args.trials):
            for e in by_engine:     # alternated run by run: the ratio holds on a busy host
                engines.use(sw, e)
                runs[e].append(run_loop(sw, [frame], 30, dsts, n, batch, args.workers, cpus[e]))
        for e in by_engine:
            by_engine[e][batch] = statistics.median(runs[e])
            print(f"router ({e}), {args.workers} worker(s), batch {batch:>3}: "
                  f"{by_engine[e][batch] / 1e6:6.2f} Mpps median, "
                  f"{max(runs[e]) / 1e6:.2f} best of {args.trials} runs of {n:,} packets of 64 B"
                  f" ({statistics.median(cpus[e]) / 1e6:.2f} Mpps per CPU-second)")
        last = list(by_engine)[-1]
        results[batch] = (statistics.median(runs[last]), max(runs[last]))
        cpu_rates = cpus[last]
        if len(by_engine) == 2:
            print(f"  native / interpreter, batch {batch}: "
                  f"{by_engine['native'][batch] / by_engine['interp'][batch]:.2f}x (same run)")

    reload: dict = {}
    if args.reload:
        for rewrite in (False, True):
            reload |= reload_mod.reload_figure(sw, frame, dsts, routes, NEXT_HOPS,
                                               args.reload_chunk, args.control_nice,
                                               rewrite=rewrite)
        check_ports(sw, routes, frame, engines.engines(args.engine), args.check,
                    shift=reload_mod.REWRITE_SHIFT)
        print(f"checked {args.check:,} packets per engine against the rewritten routes")

    # Ternary-heavy case: the tutorial firewall-free ACL from the corpus (p4_14 ternary ACL)
    tern = Switch(pool_size=8192, buf_size=2304, native=engines.switch_mode(args.engine))
    tern.load(corpus / "ternary2-bmv2" / "ternary2-bmv2.json")
    acl_pps = None
    try:
        tinfo = tern.program.tables["ingress.test1"]
        import random
        rnd = random.Random(1)
        for i in range(1000):
            v = rnd.getrandbits(32)
            m = rnd.choice([0xFFFFFFFF, 0xFFFF0000, 0x0000FFFF, 0xFF00FF00])
            action = tinfo.actions[0]
            tern.table_add("ingress.test1", [Ternary(v & m, m)], action, _zero_params(tern, action),
                           priority=i + 1)
        tframe = bytes(range(60))
        acl_pps = statistics.median(run_loop(tern, [tframe], 0, dsts, args.packets // 2, 256,
                                             args.workers) for _ in range(args.trials))
        print(f"ternary ACL (ternary2-bmv2, 1000 entries), batch 256: {acl_pps / 1e6:.2f} Mpps "
              "median")
    except Exception as e:  # report, but keep the router figures
        print(f"ternary case failed: {e}")

    print(json.dumps({"pps": round(results[256][0]), "pps_best": round(results[256][1]),
                      "pps_batch1": round(results[1][0]), "pps_batch32": round(results[32][0]),
                      "pps_batch256": round(results[256][0]), "trials": args.trials,
                      "routes": len(routes), "load_s": round(load_s, 3),
                      "rss_mib": round(rss_table, 1), "ternary_pps": round(acl_pps or 0),
                      "workers": args.workers, "engine": args.engine,
                      **{f"pps_{e}": round(r[256]) for e, r in by_engine.items()},
                      "pps_per_cpu_s": round(statistics.median(cpu_rates)), **reload}))


def _zero_params(sw: Switch, action: str) -> list[int]:
    return [0] * len(sw.program.actions[action].params)


if __name__ == "__main__":
    main()
