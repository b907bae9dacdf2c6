"""IPv4 route tables: read real BGP tables, generate Internet-like ones, draw routed addresses.

A route table is a numpy structured array of ROUTE_DTYPE: (prefix, length, asn), one row per
route, prefix as a host-order uint32 with no host bits set.

The file format is the one of ../shared/data/rib: gzip or plain text, one `prefix/len<TAB>asn`
a line, `;` starts a comment line.
"""

from __future__ import annotations

import gzip
import os
import socket
from pathlib import Path

import numpy as np

ROUTE_DTYPE = np.dtype([("prefix", "<u4"), ("length", "u1"), ("asn", "<u4")])

REAL_IPV4_TABLE = "routeviews-ipv4-20140513.dat.gz"

# Routes per prefix length in the RouteViews table of 2014-05-13 (512,621 routes), counted from
# ../shared/data/rib/routeviews-ipv4-20140513.dat.gz. No route is shorter than /8.
PREFIX_LENGTH_COUNTS_2014: dict[int, int] = {
    8: 16, 9: 12, 10: 30, 11: 90, 12: 259, 13: 487, 14: 974, 15: 1726, 16: 13017,
    17: 7050, 18: 11917, 19: 24936, 20: 35828, 21: 37624, 22: 57782, 23: 47385, 24: 270023,
    25: 918, 26: 1060, 27: 537, 28: 138, 29: 292, 30: 331, 31: 20, 32: 169,
}  # fmt: skip

# Generated prefixes are unicast: first octet 1..223 (as in the real table).
UNICAST_FIRST = 1 << 24
UNICAST_END = 224 << 24


def shared_data_dir() -> Path:
    """The project's shared test data: $KVICK_SHARED, else ../shared beside the repository."""
    env = os.environ.get("KVICK_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared"


def real_ipv4_table_path() -> Path:
    return shared_data_dir() / "data" / "rib" / REAL_IPV4_TABLE


def _open_text(path: Path):
    with open(path, "rb") as probe:
        is_gzip = probe.read(2) == b"\x1f\x8b"
    if is_gzip:
        return gzip.open(path, "rt", encoding="ascii")
    return open(path, encoding="ascii")


def read_ipv4_routes(path: str | Path) -> np.ndarray:
    """Every IPv4 route of a table file; IPv6 lines are skipped. ValueError names the line of
    anything malformed (bad address, length, ASN, or host bits set)."""
    prefixes: list[int] = []
    lengths: list[int] = []
    asns: list[int] = []
    inet_aton = socket.inet_aton
    from_bytes = int.from_bytes
    with _open_text(Path(path)) as lines:
        for number, line in enumerate(lines, 1):
            if line.startswith(";") or not line.strip():
                continue
            try:
                network, asn_text = line.split()
                if ":" in network:
                    continue
                address, length_text = network.split("/")
                if address.count(".") != 3:
                    raise ValueError(f"{address!r} is not a dotted quad")
                prefix = from_bytes(inet_aton(address), "big")
                length = int(length_text)
                asn = int(asn_text)
                if not 0 <= length <= 32:
                    raise ValueError(f"prefix length {length} is outside 0..32")
                if prefix & ~(0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF:
                    raise ValueError("host bits set below the prefix length")
                if not 0 <= asn <= 0xFFFFFFFF:
                    raise ValueError(f"ASN {asn} is not 32-bit")
            except (ValueError, OSError) as error:
                raise ValueError(f"{path}:{number}: {line.strip()!r}: {error}") from None
            prefixes.append(prefix)
            lengths.append(length)
            asns.append(asn)
    routes = np.empty(len(prefixes), dtype=ROUTE_DTYPE)
    routes["prefix"] = prefixes
    routes["length"] = lengths
    routes["asn"] = asns
    return routes


def _unique_prefixes(rng: np.random.Generator, length: int, count: int) -> np.ndarray:
    """count distinct unicast prefixes of one length, as uint32 network addresses."""
    shift = 32 - length
    low = -(-UNICAST_FIRST >> shift)  # first prefix index whose network is unicast
    high = UNICAST_END >> shift
    if count > high - low:
        raise ValueError(f"{count} distinct /{length} prefixes do not exist in unicast space")
    chosen = np.empty(0, dtype=np.int64)
    while len(chosen) < count:
        draw = rng.integers(low, high, size=2 * (count - len(chosen)) + 16, dtype=np.int64)
        chosen = np.unique(np.concatenate([chosen, draw]))
    chosen = rng.permutation(chosen)[:count]
    return (chosen << shift).astype(np.uint32)


def generate_internet_like(n_routes: int = 512_000, seed: int = 1) -> np.ndarray:
    """A synthetic IPv4 table of n_routes unique unicast prefixes whose length mix is the real
    2014 table's, in random order, with random 16-bit ASNs."""
    rng = np.random.default_rng(seed)
    lengths = np.array(sorted(PREFIX_LENGTH_COUNTS_2014), dtype=np.int64)
    weights = np.array([PREFIX_LENGTH_COUNTS_2014[n] for n in lengths], dtype=np.float64)
    counts = np.floor(weights / weights.sum() * n_routes).astype(np.int64)
    # Rounding leftovers go to the most common length (/24), which has room for them.
    counts[np.argmax(weights)] += n_routes - counts.sum()
    parts = []
    for length, count in zip(lengths, counts, strict=True):
        part = np.empty(count, dtype=ROUTE_DTYPE)
        part["prefix"] = _unique_prefixes(rng, int(length), int(count))
        part["length"] = length
        parts.append(part)
    routes = rng.permutation(np.concatenate(parts))
    routes["asn"] = rng.integers(1, 65536, size=len(routes), dtype=np.uint32)
    return routes


def routed_intervals(routes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The routed address space as disjoint sorted half-open intervals [starts, ends), int64."""
    starts = routes["prefix"].astype(np.int64)
    ends = starts + (np.int64(1) << (32 - routes["length"].astype(np.int64)))
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    # A new interval begins where a route starts beyond everything before it reaches.
    begins = np.ones(len(starts), dtype=bool)
    begins[1:] = starts[1:] > reach[:-1]
    first = np.flatnonzero(begins)
    last = np.append(first[1:], len(starts)) - 1
    return starts[first], reach[last]


def random_routed_addresses(routes: np.ndarray, n: int, seed: int = 2) -> np.ndarray:
    """n addresses (uint32) drawn uniformly from the address space that routes cover."""
    starts, ends = routed_intervals(routes)
    # Number the routed addresses 0..total-1 interval by interval; a pick p in interval i is
    # address starts[i] + (p - routed addresses before interval i).
    ends_numbered = np.cumsum(ends - starts)
    shift = starts - (ends_numbered - (ends - starts))
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, ends_numbered[-1], size=n, dtype=np.int64)
    interval = np.searchsorted(ends_numbered, picks, side="right")
    return (picks + shift[interval]).astype(np.uint32)
