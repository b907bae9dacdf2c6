"""Lookup rates of the generic match structures (exact, LPM, ternary).

    python bench/match.py            # full run (a 1M-entry exact table; about a minute)
    python bench/match.py --quick    # smaller tables, a few seconds

Lookups go through each table's lookup_batch, i.e. the nogil C lookup functions of the .pxd
files (exact: exact_lookup_bulk, and exact_lookup one key at a time for comparison), over keys
laid end to end in one buffer. Rates are the best of a few runs. The last
line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import gzip
import ipaddress
import itertools
import json
import random
import sys
import time
from array import array
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from target.pipeline.match_exact import ExactTable  # noqa: E402
from target.pipeline.match_lpm import LpmTable  # noqa: E402
from target.pipeline.match_ternary import TernaryTable  # noqa: E402

RIB_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "rib"
IPV4_RIB = RIB_DIR / "routeviews-ipv4-20140513.dat.gz"
IPV6_RIB = RIB_DIR / "routeviews-ipv6-20151101.dat.gz"
LOOKUPS = 1_000_000
RUNS = 3


def lookup_rate(lookup_batch: Callable[[bytes, array], int], keys: bytes,
                count: int) -> tuple[float, int]:
    """(lookups per second, hits) for `count` keys, best of RUNS."""
    out = array("q", [0]) * count
    best, hits = float("inf"), 0
    for _ in range(RUNS):
        start = time.perf_counter()
        hits = lookup_batch(keys, out)
        best = min(best, time.perf_counter() - start)
    return count / best, hits


def bench_exact(rng: random.Random, entries: int, key_bytes: int) -> dict:
    keys = list({rng.randbytes(key_bytes) for _ in range(entries)})
    table = ExactTable(key_bytes, 64)
    start = time.perf_counter()
    for i, key in enumerate(keys):
        table.add(key, i)
    add_seconds = time.perf_counter() - start
    hit_keys = b"".join(rng.choice(keys) for _ in range(LOOKUPS))
    miss_keys = rng.randbytes(key_bytes * LOOKUPS)
    hit_rate, hits = lookup_rate(table.lookup_batch, hit_keys, LOOKUPS)
    single_rate, _ = lookup_rate(table.lookup_batch_single, hit_keys, LOOKUPS)
    miss_rate, misses_hit = lookup_rate(table.lookup_batch, miss_keys, LOOKUPS)
    mean_probe, max_probe = table.probe_stats()
    return {
        "entries": len(table), "key_bytes": key_bytes,
        "adds_per_s": len(keys) / add_seconds,
        "hit_lookups_per_s": hit_rate, "hit_fraction": hits / LOOKUPS,
        "hit_lookups_per_s_one_at_a_time": single_rate,
        "miss_lookups_per_s": miss_rate, "random_key_hits": misses_hit,
        "memory_bytes": table.memory_bytes, "capacity": table.capacity,
        "mean_probe": mean_probe, "max_probe": max_probe,
    }


def read_rib(path: Path, version: int) -> list[tuple[int, int]]:
    """(network as int, prefix length) of every route of one address family."""
    routes = []
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith(";") or not line.strip():
                continue
            net = ipaddress.ip_network(line.split()[0], strict=False)
            if net.version == version:
                routes.append((int(net.network_address), net.prefixlen))
    return routes


def bench_lpm_rib(rng: random.Random, routes: list[tuple[int, int]], bits: int) -> dict:
    nbytes = bits // 8
    table = LpmTable(nbytes, 0, nbytes)
    start = time.perf_counter()
    duplicates = 0
    for i, (net, length) in enumerate(routes):
        try:
            table.add(net.to_bytes(nbytes, "big"), length, i)
        except KeyError:
            duplicates += 1
    add_seconds = time.perf_counter() - start
    # Destinations inside routed space (a random route, random host bits) and uniform ones.
    routed = bytearray()
    for _ in range(LOOKUPS):
        net, length = rng.choice(routes)
        host = rng.getrandbits(bits - length) if length < bits else 0
        routed += (net | host).to_bytes(nbytes, "big")
    uniform = rng.randbytes(nbytes * LOOKUPS)
    routed_rate, routed_hits = lookup_rate(table.lookup_batch, bytes(routed), LOOKUPS)
    uniform_rate, uniform_hits = lookup_rate(table.lookup_batch, uniform, LOOKUPS)
    return {
        "routes": len(table), "duplicates": duplicates, "key_bytes": nbytes,
        "prefix_lengths": len(table.prefix_lengths),
        "adds_per_s": len(routes) / add_seconds,
        "routed_lookups_per_s": routed_rate, "routed_hit_fraction": routed_hits / LOOKUPS,
        "uniform_lookups_per_s": uniform_rate, "uniform_hit_fraction": uniform_hits / LOOKUPS,
        "memory_bytes": table.memory_bytes,
    }


# 5-tuple ACL key: src IPv4 (lpm-style mask), dst IPv4, proto (optional), sport (range),
# dport (ternary: exact or wildcard), 13 bytes.
ACL_FIELDS = [(0, 4, "ternary"), (4, 4, "ternary"), (8, 1, "optional"), (9, 2, "range"),
              (11, 2, "ternary")]
ACL_PREFIXES = [0, 8, 16, 16, 24, 24, 24, 32, 32]
ACL_PORTS = [22, 53, 80, 123, 179, 443, 8080]


def acl_rules(rng: random.Random, count: int) -> list[tuple]:
    """Synthetic ACL rules (value, mask, ranges, priority) in the spirit of ClassBench: few
    prefix lengths, a handful of protocols and ports, some source-port ranges."""
    rules = []
    for priority in range(count, 0, -1):
        src_len, dst_len = rng.choice(ACL_PREFIXES), rng.choice(ACL_PREFIXES)
        src_mask = ((1 << src_len) - 1) << (32 - src_len)
        dst_mask = ((1 << dst_len) - 1) << (32 - dst_len)
        src = rng.getrandbits(32) & src_mask
        dst = (0x0A000000 | rng.getrandbits(16)) & dst_mask
        proto, proto_mask = rng.choice([(6, 0xFF), (17, 0xFF), (0, 0)])
        dport, dport_mask = rng.choice([(p, 0xFFFF) for p in ACL_PORTS] + [(0, 0)] * 3)
        value = (src.to_bytes(4, "big") + dst.to_bytes(4, "big") + bytes([proto]) + bytes(2)
                 + dport.to_bytes(2, "big"))
        mask = (src_mask.to_bytes(4, "big") + dst_mask.to_bytes(4, "big") + bytes([proto_mask])
                + bytes(2) + dport_mask.to_bytes(2, "big"))
        ranges = []
        if rng.random() < 0.2:
            lo = rng.choice([0, 1024, 49152])
            ranges.append((3, lo.to_bytes(2, "big"), (lo + 1023).to_bytes(2, "big")))
        rules.append((value, mask, ranges, priority))
    return rules


def acl_key_for(rng: random.Random, rule: tuple) -> bytes:
    """A packet header that the rule matches (random bits wherever the rule does not care)."""
    value, mask, ranges, _ = rule
    key = bytearray(v | (r & ~m & 0xFF) for v, m, r in zip(value, mask, rng.randbytes(13),
                                                              strict=True))
    for _, lo, _ in ranges:
        key[9:11] = (int.from_bytes(lo, "big") + rng.randrange(1024)).to_bytes(2, "big")
    return bytes(key)


def bench_ternary(rng: random.Random, count: int, strategy: str) -> dict:
    rules = acl_rules(random.Random(count), count)
    table = TernaryTable(13, ACL_FIELDS, strategy)
    start = time.perf_counter()
    for i, (value, mask, ranges, priority) in enumerate(rules):
        table.add(value, mask, ranges, priority, i)
    add_seconds = time.perf_counter() - start
    matching = b"".join(acl_key_for(rng, rng.choice(rules)) for _ in range(LOOKUPS // 10))
    uniform = rng.randbytes(13 * (LOOKUPS // 10))
    matching_rate, matching_hits = lookup_rate(table.lookup_batch, matching, LOOKUPS // 10)
    uniform_rate, uniform_hits = lookup_rate(table.lookup_batch, uniform, LOOKUPS // 10)
    return {
        "entries": len(table), "groups": table.group_count, "key_bytes": 13,
        "strategy": strategy, "lookup_strategy": table.lookup_strategy,
        "adds_per_s": count / add_seconds,
        "matching_lookups_per_s": matching_rate,
        "matching_hit_fraction": matching_hits / (LOOKUPS // 10),
        "uniform_lookups_per_s": uniform_rate,
        "uniform_hit_fraction": uniform_hits / (LOOKUPS // 10),
        "memory_bytes": table.memory_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tables only")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sizes = [1_000, 10_000] if args.quick else [1_000, 100_000, 1_000_000]
    results: dict = {"exact": [], "lpm": {}, "ternary": []}

    for entries in sizes:
        for key_bytes in (4, 13):
            r = bench_exact(rng, entries, key_bytes)
            results["exact"].append(r)
            print(f"exact  {r['entries']:>9,} x {key_bytes:>2} B: "
                  f"hit {r['hit_lookups_per_s'] / 1e6:6.1f} M/s "
                  f"(one at a time {r['hit_lookups_per_s_one_at_a_time'] / 1e6:5.1f}), "
                  f"miss {r['miss_lookups_per_s'] / 1e6:6.1f} M/s, "
                  f"add {r['adds_per_s'] / 1e6:5.2f} M/s, {r['memory_bytes'] / 2**20:7.1f} MiB, "
                  f"probe mean {r['mean_probe']:.2f} max {r['max_probe']}")

    for name, path, version, bits in (("ipv4", IPV4_RIB, 4, 32), ("ipv6", IPV6_RIB, 6, 128)):
        if not path.exists():
            print(f"lpm    {name}: {path} missing, skipped")
            continue
        routes = read_rib(path, version)
        if args.quick:
            routes = routes[:20_000]
        r = bench_lpm_rib(rng, routes, bits)
        results["lpm"][name] = r
        print(f"lpm    {name} {r['routes']:>9,} routes, {r['prefix_lengths']} lengths: "
              f"routed {r['routed_lookups_per_s'] / 1e6:5.2f} M/s "
              f"({r['routed_hit_fraction']:.0%} hit), "
              f"uniform {r['uniform_lookups_per_s'] / 1e6:5.2f} M/s "
              f"({r['uniform_hit_fraction']:.0%} hit), "
              f"{r['memory_bytes'] / 2**20:.1f} MiB")

    for count, strategy in itertools.product(
            (100, 1_000) if args.quick else (100, 1_000, 10_000), ("auto", "tuple", "linear")):
        r = bench_ternary(rng, count, strategy)
        results["ternary"].append(r)
        print(f"ternary ACL {r['entries']:>6,} rules, {r['groups']:>3} masks, "
              f"{strategy:>6} ({r['lookup_strategy']:>6}): "
              f"matching {r['matching_lookups_per_s'] / 1e6:5.2f} M/s, "
              f"uniform {r['uniform_lookups_per_s'] / 1e6:5.2f} M/s "
              f"({r['uniform_hit_fraction']:.0%} hit), add {r['adds_per_s'] / 1e3:.0f} k/s")

    print(json.dumps(results))


if __name__ == "__main__":
    main()
