"""IPv4 LPM benchmark: Dir24Lpm on the real 2014 BGP table (512k routes) and a synthetic one.

Reports, per table: add rate, memory, tbl8 groups, the share of /19s tbl19 and of /18s tbl18
answers, lookup rates (Python lookup() calls, the C lookup one address at a time, and the
prefetching bulk lookup) on random addresses drawn uniformly from the routed space, and the
delete rate. Four C lookups are measured side by side, runs alternating: "tbl19" (the default)
reads the /19's 16-bit leaf code, then its leaf or tbl24/tbl8; "range" goes through tbl18 and
the /18's range chunk (a table built with ranges=True, whose add and delete rates are reported
beside the plain table's); "tbl18" through tbl18, then tbl24/tbl8 (the default before tbl19);
"dir24" is DIR-24-8 alone (the engine's, which prefetches each packet's tbl24 entry a stage
ahead). Rates are per second of wall-clock time and, since the project's machine is shared, per
second of the thread's CPU time (time the scheduler gave to others excluded). Every way is
checked against LpmRef on a sample first. The last line printed is a JSON object with every
figure.

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
from target.pipeline.lpm_dir24 import Dir24Lpm, bulk_isa  # noqa: E402
from target.pipeline.lpm_ref import LpmRef  # noqa: E402


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


# The lookup ways measured: (figure name, table ("plain" or "ranges"), lookup_bulk arguments).
# "bulk"/"single_c" are the default way (tbl19 since it came; tbl18 before).
WAYS = [
    ("bulk", "plain", {"prefetch": True, "way": "tbl19"}),
    ("single_c", "plain", {"prefetch": False, "way": "tbl19"}),
    ("range_bulk", "ranges", {"prefetch": True, "way": "range"}),
    ("range_single_c", "ranges", {"prefetch": False, "way": "range"}),
    ("tbl18_bulk", "plain", {"prefetch": True, "way": "tbl18"}),
    ("tbl18_single_c", "plain", {"prefetch": False, "way": "tbl18"}),
    ("dir24_bulk", "plain", {"prefetch": True, "way": "dir24"}),
    ("dir24_single_c", "plain", {"prefetch": False, "way": "dir24"}),
]
LABELS = [("tbl19 codes + DIR-24-8", ""), ("tbl18 + range chunks", "range_"),
          ("tbl18 + DIR-24-8", "tbl18_"), ("DIR-24-8 alone", "dir24_")]


def check_against_reference(tables: dict[str, Dir24Lpm], routes: np.ndarray,
                            addrs: np.ndarray) -> None:
    ref = LpmRef()
    for value, (prefix, length) in enumerate(
        zip(routes["prefix"].tolist(), routes["length"].tolist(), strict=True)
    ):
        ref.add(prefix, length, value)
    sample = addrs[:200_000]
    expected = ref.lookup_bulk(sample)
    for way, table, kwargs in WAYS:
        got = np.frombuffer(tables[table].lookup_bulk(sample, **kwargs), dtype=np.int64)
        if not np.array_equal(got, expected):
            raise SystemExit(
                f"Dir24Lpm ({way}) disagrees with LpmRef: the figures below would be meaningless"
            )


def fill(table: Dir24Lpm, prefixes: list[int], lengths: list[int]) -> float:
    """Add every route (value: its index); the add rate."""
    add = table.add
    start = time.perf_counter()
    for value, (prefix, length) in enumerate(zip(prefixes, lengths, strict=True)):
        add(prefix, length, value)
    return rate(len(prefixes), time.perf_counter() - start)


def empty(name: str, table: Dir24Lpm, doomed: list[tuple[int, int]]) -> float:
    """Delete every route (in the given order); the delete rate."""
    delete = table.delete
    start = time.perf_counter()
    for prefix, length in doomed:
        delete(prefix, length)
    seconds = time.perf_counter() - start
    if len(table) or table.tbl8_groups_in_use:
        raise SystemExit(f"{name}: table not empty after deleting every route")
    return rate(len(doomed), seconds)


def bench_table(name: str, routes: np.ndarray, n_addresses: int, repeat: int) -> dict:
    prefixes = routes["prefix"].tolist()
    lengths = routes["length"].tolist()
    tables = {"plain": Dir24Lpm(), "ranges": Dir24Lpm(ranges=True)}
    add_rates = {kind: fill(table, prefixes, lengths) for kind, table in tables.items()}

    addrs = rib.random_routed_addresses(routes, n_addresses, seed=42)
    check_against_reference(tables, routes, addrs)
    out = np.empty(n_addresses, dtype=np.int64)

    # The ways alternate within each round, so that a busy neighbour on a shared machine
    # slows all of them alike and their ratios stay meaningful.
    rates: dict[str, list[float]] = {way: [] for way, _, _ in WAYS}
    cpu_rates: dict[str, list[float]] = {way: [] for way, _, _ in WAYS}
    for _ in range(repeat):
        for way, table, kwargs in WAYS:
            start, cpu_start = time.perf_counter(), time.thread_time()
            tables[table].lookup_bulk(addrs, out, **kwargs)
            cpu_rates[way].append(rate(n_addresses, time.thread_time() - cpu_start))
            rates[way].append(rate(n_addresses, time.perf_counter() - start))
    python_addrs = addrs[:1_000_000].tolist()
    lookup = tables["plain"].lookup
    start = time.perf_counter()
    for addr in python_addrs:
        lookup(addr)
    python_rate = rate(len(python_addrs), time.perf_counter() - start)
    hit_share = float(np.count_nonzero(out >= 0)) / n_addresses

    plain, ranged = tables["plain"], tables["ranges"]
    figures = {
        "routes": len(routes),
        "add_routes_per_s": add_rates["plain"],
        "range_add_routes_per_s": add_rates["ranges"],
        "memory_bytes": plain.memory_bytes,
        "range_chunk_bytes": ranged.range_pool_bytes,
        "range_chunks": ranged.range_chunks,
        "range_bulk_isa": bulk_isa(),
        "tbl8_groups": plain.tbl8_groups_in_use,
        "tbl18_uniform_share": plain.tbl18_uniform / (1 << 18),
        "tbl19_uniform_share": plain.tbl19_uniform / (1 << 19),
        "tbl19_leaf_codes": plain.leaf_codes_in_use,
        "range_tbl18_uniform_share": ranged.tbl18_uniform / (1 << 18),
        "lookup_addresses": n_addresses,
        "lookup_hit_share": hit_share,
        "single_python_mlookups_per_s": python_rate / 1e6,
    }
    for way, _, _ in WAYS:
        for suffix, series in (("", rates[way]), ("_cpu", cpu_rates[way])):
            figures[f"{way}_mlookups_per_s{suffix}_best"] = max(series) / 1e6
            figures[f"{way}_mlookups_per_s{suffix}_median"] = statistics.median(series) / 1e6

    order = np.random.default_rng(7).permutation(len(routes))
    doomed = [(prefixes[i], lengths[i]) for i in order.tolist()]
    figures["delete_routes_per_s"] = empty(name, plain, doomed)
    figures["range_delete_routes_per_s"] = empty(name, ranged, doomed)

    print(f"{name}: {len(routes):,} routes")
    print(
        f"  add      {figures['add_routes_per_s'] / 1e6:7.2f} M routes/s (Python add() calls);"
        f" with range chunks {figures['range_add_routes_per_s'] / 1e6:.2f}"
    )
    print(
        f"  memory   {figures['memory_bytes'] / 2**20:7.1f} MiB"
        f" ({figures['tbl8_groups']:,} tbl8 groups;"
        f" tbl19 answers {figures['tbl19_uniform_share']:.1%} of the /19s with"
        f" {figures['tbl19_leaf_codes']:,} leaf codes,"
        f" tbl18 {figures['tbl18_uniform_share']:.1%} of the /18s);"
        f" range chunks {figures['range_chunk_bytes'] / 2**20:.1f} MiB more"
    )
    print(f"  lookup   [{n_addresses:,} routed addresses, {hit_share:.1%} hits; M lookups per"
          f" second, wall-clock | CPU time; range bulk: {bulk_isa()}]")
    for label, prefix in LABELS:
        cells = []
        for kind, way in (("bulk", "bulk"), ("one at a time (C)", "single_c")):
            key = f"{prefix}{way}_mlookups_per_s"
            cells.append(
                f"{kind} {figures[key + '_best']:6.1f} best, {figures[key + '_median']:6.1f}"
                f" median | {figures[key + '_cpu_median']:6.1f} median"
            )
        print(f"    {label:22s} " + "; ".join(cells))
    print(f"    Python lookup() {figures['single_python_mlookups_per_s']:5.2f}")
    print(
        f"  delete   {figures['delete_routes_per_s'] / 1e6:7.2f} M routes/s (random order);"
        f" with range chunks {figures['range_delete_routes_per_s'] / 1e6:.2f}"
    )
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
