"""IPv4 LPM benchmark: Dir24Lpm on the real 2014 BGP table (512k routes) and a synthetic one.

Reports, per table: add rate, memory, tbl8 groups, the share of /18s tbl18 answers, lookup
rates (Python lookup() calls, the C lookup one address at a time, and the prefetching bulk
lookup) on random addresses drawn uniformly from the routed space, and the delete rate. The C
lookups are measured both ways side by side, runs alternating: "tbl18" goes through the /18
directory, then tbl24/tbl8 (dir24_lookup), "dir24" is DIR-24-8 alone on the same table (the
previous lookup; the engine's, which prefetches each packet's tbl24 entry a stage ahead).
Every way is checked against LpmRef on a sample first. The last line printed is a JSON
object with every figure.

    python bench/lpm.py [--addresses 10000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from target import rib  # noqa: E402
from target.pipeline.lpm_dir24 import Dir24Lpm  # noqa: E402
from target.pipeline.lpm_ref import LpmRef  # noqa: E402


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# The lookup ways measured: (figure name, lookup_bulk arguments).
WAYS = [
    ("bulk", {"prefetch": True, "tbl18": True}),
    ("single_c", {"prefetch": False, "tbl18": True}),
    ("dir24_bulk", {"prefetch": True, "tbl18": False}),
    ("dir24_single_c", {"prefetch": False, "tbl18": False}),
]


def check_against_reference(table: Dir24Lpm, routes: np.ndarray, addrs: np.ndarray) -> None:
    ref = LpmRef()
    for value, (prefix, length) in enumerate(
        zip(routes["prefix"].tolist(), routes["length"].tolist(), strict=True)
    ):
        ref.add(prefix, length, value)
    sample = addrs[:200_000]
    expected = ref.lookup_bulk(sample)
    for way, kwargs in WAYS:
        got = np.frombuffer(table.lookup_bulk(sample, **kwargs), dtype=np.int64)
        if not np.array_equal(got, expected):
            raise SystemExit(
                f"Dir24Lpm ({way}) disagrees with LpmRef: the figures below would be meaningless"
            )


def bench_table(name: str, routes: np.ndarray, n_addresses: int, repeat: int) -> dict:
    prefixes = routes["prefix"].tolist()
    lengths = routes["length"].tolist()
    table = Dir24Lpm()
    add = table.add
    start = time.perf_counter()
    for value, (prefix, length) in enumerate(zip(prefixes, lengths, strict=True)):
        add(prefix, length, value)
    add_seconds = time.perf_counter() - start

    addrs = rib.random_routed_addresses(routes, n_addresses, seed=42)
    check_against_reference(table, routes, addrs)
    out = np.empty(n_addresses, dtype=np.int64)

    # The ways alternate within each round, so that a busy neighbour on a shared machine
    # slows all of them alike and their ratios stay meaningful.
    rates: dict[str, list[float]] = {way: [] for way, _ in WAYS}
    for _ in range(repeat):
        for way, kwargs in WAYS:
            start = time.perf_counter()
            table.lookup_bulk(addrs, out, **kwargs)
            rates[way].append(rate(n_addresses, time.perf_counter() - start))
    python_addrs = addrs[:1_000_000].tolist()
    lookup = table.lookup
    start = time.perf_counter()
    for addr in python_addrs:
        lookup(addr)
    python_rate = rate(len(python_addrs), time.perf_counter() - start)
    hit_share = float(np.count_nonzero(out >= 0)) / n_addresses

    figures = {
        "routes": len(routes),
        "add_routes_per_s": rate(len(routes), add_seconds),
        "memory_bytes": table.memory_bytes,
        "tbl8_groups": table.tbl8_groups_in_use,
        "tbl18_uniform_share": table.tbl18_uniform / (1 << 18),
        "lookup_addresses": n_addresses,
        "lookup_hit_share": hit_share,
        "single_python_mlookups_per_s": python_rate / 1e6,
    }
    for way, _ in WAYS:
        figures[f"{way}_mlookups_per_s_best"] = max(rates[way]) / 1e6
        figures[f"{way}_mlookups_per_s_median"] = statistics.median(rates[way]) / 1e6

    order = np.random.default_rng(7).permutation(len(routes))
    delete = table.delete
    doomed = [(prefixes[i], lengths[i]) for i in order.tolist()]
    start = time.perf_counter()
    for prefix, length in doomed:
        delete(prefix, length)
    figures["delete_routes_per_s"] = rate(len(routes), time.perf_counter() - start)
    if len(table) or table.tbl8_groups_in_use:
        raise SystemExit(f"{name}: table not empty after deleting every route")

    print(f"{name}: {len(routes):,} routes")
    print(f"  add      {figures['add_routes_per_s'] / 1e6:7.2f} M routes/s (Python add() calls)")
    print(
        f"  memory   {figures['memory_bytes'] / 2**20:7.1f} MiB"
        f" ({figures['tbl8_groups']:,} tbl8 groups;"
        f" tbl18 answers {figures['tbl18_uniform_share']:.1%} of the /18s)"
    )
    print(f"  lookup   [{n_addresses:,} routed addresses, {hit_share:.1%} hits; M lookups/s]")
    for label, prefix in (("tbl18 + DIR-24-8", ""), ("DIR-24-8 alone ", "dir24_")):
        print(
            f"    {label}  bulk {figures[prefix + 'bulk_mlookups_per_s_best']:6.1f} best,"
            f" {figures[prefix + 'bulk_mlookups_per_s_median']:6.1f} median;"
            f" one at a time (C) {figures[prefix + 'single_c_mlookups_per_s_best']:6.1f} best,"
            f" {figures[prefix + 'single_c_mlookups_per_s_median']:6.1f} median"
        )
    print(f"    Python lookup() {figures['single_python_mlookups_per_s']:5.2f}")
    print(f"  delete   {figures['delete_routes_per_s'] / 1e6:7.2f} M routes/s (random order)")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per lookup kind")
    parser.add_argument("--synthetic-routes", type=int, default=512_000)
    args = parser.parse_args()

    path = rib.real_ipv4_table_path()
    start = time.perf_counter()
    real = rib.read_ipv4_routes(path)
    read_seconds = time.perf_counter() - start
    print(f"read {path.name}: {len(real):,} routes in {read_seconds:.2f} s")
    start = time.perf_counter()
    synthetic = rib.generate_internet_like(args.synthetic_routes, seed=1)
    generate_seconds = time.perf_counter() - start
    print(f"generated {len(synthetic):,} Internet-like routes in {generate_seconds:.2f} s")

    results = {
        "real_2014": bench_table("real 2014 table", real, args.addresses, args.repeat),
        "synthetic": bench_table("synthetic table", synthetic, args.addresses, args.repeat),
        "read_real_table_s": read_seconds,
        "generate_synthetic_s": generate_seconds,
    }
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
