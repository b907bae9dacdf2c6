"""Route tables: the real-table reader, the Internet-like generator, routed-address sampling."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import numpy as np
import pytest
from shared_data import RIB, require

from target import rib


def ip(text: str) -> int:
    a, b, c, d = (int(part) for part in text.split("."))
    return a << 24 | b << 16 | c << 8 | d


def has_host_bits(routes: np.ndarray) -> np.ndarray:
    host = (np.uint64(1) << (32 - routes["length"].astype(np.uint64))) - np.uint64(1)
    return (routes["prefix"].astype(np.uint64) & host) != 0


def real_file(name: str) -> Path:
    return require(RIB / name)


def test_real_ipv4_table_is_read_whole_and_matches_the_embedded_histogram() -> None:
    routes = rib.read_ipv4_routes(real_file(rib.REAL_IPV4_TABLE))
    assert routes.dtype == rib.ROUTE_DTYPE
    assert len(routes) == 512_621
    assert routes[0].tolist() == (ip("1.0.0.0"), 24, 15169)
    assert not has_host_bits(routes).any()
    lengths, counts = np.unique(routes["length"], return_counts=True)
    assert dict(zip(lengths.tolist(), counts.tolist(), strict=True)) == (
        rib.PREFIX_LENGTH_COUNTS_2014
    )


def test_ipv6_lines_are_skipped() -> None:
    routes = rib.read_ipv4_routes(real_file("routeviews-ipv6-20151101.dat.gz"))
    assert len(routes) == 606_138


@pytest.mark.parametrize("compressed", [False, True])
def test_plain_and_gzip_files_with_comments(tmp_path: Path, compressed: bool) -> None:
    text = (
        "; a comment\n"
        "10.0.0.0/8\t64512\n"
        "\n"
        "2001:db8::/32\t64513\n"
        "192.168.1.128/25\t4200000000\n"
        "0.0.0.0/0\t1\n"
    )
    path = tmp_path / "table.dat"
    if compressed:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    assert rib.read_ipv4_routes(path).tolist() == [
        (ip("10.0.0.0"), 8, 64512),
        (ip("192.168.1.128"), 25, 4200000000),
        (0, 0, 1),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("10.0.0.1/24\t1", "host bits"),
        ("10.0.0.0/33\t1", "prefix length 33"),
        ("10.0.0/24\t1", "dotted quad"),
        ("10.0.0.300/32\t1", "illegal IP"),
        ("10.0.0.0/24", "values to unpack"),
        ("10.0.0.0/24\tAS1", "invalid literal"),
    ],
)
def test_malformed_lines_are_refused_with_their_line_number(
    tmp_path: Path, line: str, message: str
) -> None:
    path = tmp_path / "bad.dat"
    path.write_text(f"; header\n1.0.0.0/24\t1\n{line}\n")
    with pytest.raises(ValueError, match=f"bad.dat:3: .*{message}"):
        rib.read_ipv4_routes(path)


def test_generated_table_has_the_real_length_mix_and_unique_clean_prefixes() -> None:
    start = time.perf_counter()
    routes = rib.generate_internet_like(512_000, seed=5)
    elapsed = time.perf_counter() - start
    assert len(routes) == 512_000
    assert routes.dtype == rib.ROUTE_DTYPE
    assert len(np.unique(routes[["prefix", "length"]])) == 512_000
    assert not has_host_bits(routes).any()
    first_octet = routes["prefix"] >> 24
    assert first_octet.min() >= 1 and first_octet.max() <= 223
    total = sum(rib.PREFIX_LENGTH_COUNTS_2014.values())
    counts = np.bincount(routes["length"], minlength=33)
    for length in range(33):
        share = rib.PREFIX_LENGTH_COUNTS_2014.get(length, 0) / total
        # Each length gets its share rounded down; /24 takes the rounding leftovers.
        assert abs(counts[length] - share * 512_000) <= (25 if length == 24 else 1)
    assert elapsed < 10, f"generating 512k routes took {elapsed:.1f} s"


def test_generation_is_deterministic_per_seed() -> None:
    a = rib.generate_internet_like(20_000, seed=1)
    b = rib.generate_internet_like(20_000, seed=1)
    c = rib.generate_internet_like(20_000, seed=2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def routes_of(*rules: tuple[str, int]) -> np.ndarray:
    routes = np.zeros(len(rules), dtype=rib.ROUTE_DTYPE)
    routes["prefix"] = [ip(text) for text, _ in rules]
    routes["length"] = [length for _, length in rules]
    return routes


def test_routed_intervals_merge_nested_and_adjacent_routes() -> None:
    routes = routes_of(
        ("10.0.0.0", 8), ("10.1.0.0", 16), ("11.0.0.0", 8), ("20.0.0.0", 24), ("20.0.0.128", 25)
    )
    starts, ends = rib.routed_intervals(routes)
    # 10/8 and 11/8 touch, so they form one interval.
    assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == [
        (ip("10.0.0.0"), ip("12.0.0.0")),
        (ip("20.0.0.0"), ip("20.0.1.0")),
    ]
    starts, ends = rib.routed_intervals(routes_of(("0.0.0.0", 0), ("1.2.3.4", 32)))
    assert (starts.tolist(), ends.tolist()) == ([0], [1 << 32])


def test_random_routed_addresses_are_inside_routes_and_spread_by_size() -> None:
    routes = routes_of(("10.0.0.0", 8), ("10.200.0.0", 16), ("30.1.2.0", 24), ("40.0.0.7", 32))
    addrs = rib.random_routed_addresses(routes, 200_000, seed=3)
    assert addrs.dtype == np.uint32
    in_10 = (addrs >> 24) == 10
    in_30 = (addrs >> 8) == ip("30.1.2.0") >> 8
    at_40 = addrs == ip("40.0.0.7")
    assert np.all(in_10 | in_30 | at_40)
    # 2^24 of the 2^24 + 257 routed addresses are in 10/8.
    assert in_10.mean() > 0.999
    assert np.array_equal(addrs, rib.random_routed_addresses(routes, 200_000, seed=3))
    single = rib.random_routed_addresses(routes_of(("40.0.0.7", 32)), 10)
    assert set(single.tolist()) == {ip("40.0.0.7")}


def test_shared_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVICK_SHARED", "/somewhere/else")
    assert rib.real_ipv4_table_path() == Path(
        "/somewhere/else/data/rib/routeviews-ipv4-20140513.dat.gz"
    )
    monkeypatch.delenv("KVICK_SHARED")
    assert rib.shared_data_dir() == Path(rib.__file__).resolve().parents[2] / "shared"
