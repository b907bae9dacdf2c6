"""End-to-end behaviour of the engine through the target API: forwarding, traces, bad frames."""

from __future__ import annotations

import random

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, needs_corpus

from target import InvalidArgument, Lpm, ProgramError, ResourceExhausted, Switch

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"
pytestmark = needs_corpus


@pytest.fixture()
def router() -> Switch:
    sw = Switch(pool_size=4096)
    sw.load(BASIC, BASIC_P4INFO)
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000000, 8)], "MyIngress.ipv4_forward",
                 [0x0A0000000001, 1])
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000100, 24)], "MyIngress.ipv4_forward",
                 [0x0A0000000002, 2])
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000105, 32)], "MyIngress.ipv4_forward",
                 [0x0A0000000003, 3])
    return sw


def frame(dst: str, ttl: int = 64) -> bytes:
    return raw(Ether(dst="00:00:00:00:00:aa", src="00:00:00:00:00:bb") /
               IP(src="192.0.2.1", dst=dst, ttl=ttl) / UDP(sport=1, dport=2) / b"payload!")


def test_longest_prefix_wins_and_headers_are_rewritten(router: Switch) -> None:
    out = router.process([(5, frame("10.0.1.5")), (5, frame("10.0.1.6")), (5, frame("10.9.9.9"))])
    assert [p for p, _ in out] == [3, 2, 1]
    eth = Ether(out[0][1])
    assert eth.dst == "0a:00:00:00:00:03" and eth.src == "00:00:00:00:00:aa"
    ip = eth[IP]
    assert ip.ttl == 63
    expected = ip.chksum
    del ip.chksum
    assert IP(raw(ip)).chksum == expected          # the checksum was updated, and is right
    assert bytes(eth[UDP].payload) == b"payload!"   # payload preserved byte for byte


def test_unrouted_destination_is_dropped_and_counted(router: Switch) -> None:
    before = router.stats()["dropped"]
    assert router.process([(5, frame("11.0.0.1"))]) == []
    assert router.stats()["dropped"] == before + 1


def test_trace_shows_the_path_of_a_packet(router: Switch) -> None:
    lines: list[str] = []
    router.set_trace(True, lines.append)
    router.process([(7, frame("10.0.1.6"))])
    text = "\n".join(lines)
    for expected in ("Processing packet received on port 7", "entering state 'start'",
                     "Extracting header 'ethernet'", "Extracting header 'ipv4'",
                     "Table 'MyIngress.ipv4_lpm': hit", "Action MyIngress.ipv4_forward",
                     "Egress port is 2", "Transmitting packet of size 50 out of port 2"):
        assert expected in text, f"{expected!r} missing from trace:\n{text}"
    router.set_trace(False)
    lines.clear()
    router.process([(7, frame("10.0.1.6"))])
    assert lines == []


def test_declared_table_size_is_enforced() -> None:
    sw = Switch()
    sw.load(BASIC, BASIC_P4INFO)
    for i in range(1024):
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(i << 8, 24)], "MyIngress.drop", [])
    with pytest.raises(ResourceExhausted):
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0B000000, 24)], "MyIngress.drop", [])


def test_bad_entries_are_refused_and_change_nothing(router: Switch) -> None:
    with pytest.raises(InvalidArgument):
        router.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000101, 24)], "MyIngress.drop", [])
    with pytest.raises(InvalidArgument):
        router.table_add("MyIngress.ipv4_lpm", [Lpm(0x0C000000, 8)], "MyIngress.ipv4_forward",
                         [1 << 48, 1])
    assert len(router.table_entries("MyIngress.ipv4_lpm")) == 3


def test_malformed_program_names_the_json_path() -> None:
    import json
    prog = json.loads(BASIC.read_text())
    prog["pipelines"][0]["tables"][0]["key"][0]["match_type"] = "fancy"
    with pytest.raises(ProgramError) as e:
        Switch().load(prog)
    assert e.value.path == "pipelines[0].tables[0].key[0].match_type"


MALFORMED_PROGRAMS = ["tutorial_basic", "tutorial_mri", "tutorial_source_routing",
                      "header-stack-ops-bmv2", "checksum-l4-bmv2", "p4_14_parser_dc_full",
                      "tutorial_calc", "issue1879-bmv2", "equality-varbit-bmv2"]


@pytest.mark.parametrize("name", MALFORMED_PROGRAMS)
def test_malformed_frames_never_crash_the_engine(name: str) -> None:
    path = CORPUS / name / f"{name}.json"
    sw = Switch(pool_size=8192)
    try:
        sw.load(path)
    except ProgramError as e:
        pytest.xfail(f"program refused by the loader: {e}")
    rnd = random.Random(name)
    good = frame("10.0.1.5")
    frames = [b"", b"\x00", good[:13], good[:14], good[:20], good[:33]]
    for n in range(600):
        base = bytearray(good if n % 2 else bytes(rnd.getrandbits(8) for _ in range(64)))
        cut = rnd.randrange(0, len(base) + 1)
        data = bytearray(base[:cut])
        for _ in range(rnd.randrange(0, 4)):      # flip some bytes: bad lengths, versions, ihl
            if data:
                data[rnd.randrange(len(data))] = rnd.getrandbits(8)
        frames.append(bytes(data))
    pool_before = sw.pool.available
    for i in range(0, len(frames), 64):
        out = sw.process([(rnd.randrange(0, 8), f) for f in frames[i:i + 64]])
        assert all(isinstance(p, int) and isinstance(f, bytes) for p, f in out)
    assert sw.stats()["rx_packets"] == len(frames)
    assert sw.pool.available == pool_before          # every buffer came back


def test_updated_ipv4_checksums_match_a_recomputation(router: Switch) -> None:
    """The checksum update sums the header where it lies and takes the old checksum out;
    across random headers (and ones whose sum folds to 0xFFFF) it must equal a fresh one."""
    rng = random.Random(7)
    frames = []
    for i in range(300):
        ip = IP(src=f"198.18.{rng.randrange(256)}.{rng.randrange(256)}", dst="10.0.1.6",
                ttl=rng.randrange(2, 256), tos=rng.randrange(256), id=rng.randrange(65536),
                flags=rng.randrange(8), frag=rng.randrange(8192), proto=rng.randrange(256),
                chksum=rng.randrange(65536) if i % 2 else None)   # a stale checksum too
        frames.append((1, raw(Ether() / ip / (b"x" * 8))))
    # identification chosen so that the words other than the checksum sum to 0xFFFF
    base = IP(src="198.18.0.1", dst="10.0.1.6", ttl=65, id=0)
    words = raw(base)[:20]
    total = sum(int.from_bytes(words[k:k + 2], "big") for k in range(0, 20, 2) if k != 10)
    total -= 0x100                                  # the TTL the router leaves: 64
    total = (total & 0xFFFF) + (total >> 16)
    frames.append((1, raw(Ether() / IP(src="198.18.0.1", dst="10.0.1.6", ttl=65,
                                        id=(0xFFFF - total) % 0xFFFF))))
    out = router.process(frames)
    assert len(out) == len(frames)
    for _port, data in out:
        hdr = data[14:34]                           # RFC 1071 by hand: scapy rewrites some
        total = sum(int.from_bytes(hdr[k:k + 2], "big") for k in range(0, 20, 2) if k != 10)
        while total >> 16:
            total = (total & 0xFFFF) + (total >> 16)
        assert int.from_bytes(hdr[10:12], "big") == (~total & 0xFFFF)


def test_entries_share_action_records_through_adds_modifies_and_deletes() -> None:
    """Entries with equal action data share one record (records.pxi); random adds, modifies
    and deletes must leave every entry forwarding with its own data, and exactly one record
    per distinct action data still in use."""
    sw = Switch(pool_size=4096)
    sw.load(BASIC, BASIC_P4INFO)
    ti = sw._table("MyIngress.ipv4_lpm").index
    rng = random.Random(11)
    hops = [(0x020000000000 + p, p) for p in range(1, 6)]
    live: dict[int, tuple[int, tuple[int, int]]] = {}    # /24 prefix -> (handle, next hop)
    for step in range(3000):
        prefix = 0x0A000000 | (rng.randrange(200) << 8)
        op = rng.random()
        if prefix not in live:
            hop = rng.choice(hops)
            live[prefix] = (sw.table_add("MyIngress.ipv4_lpm", [Lpm(prefix, 24)],
                                         "MyIngress.ipv4_forward", list(hop)), hop)
        elif op < 0.5:
            hop = rng.choice(hops)
            sw.table_modify("MyIngress.ipv4_lpm", live[prefix][0], "MyIngress.ipv4_forward",
                            list(hop))
            live[prefix] = (live[prefix][0], hop)
        else:
            sw.table_delete("MyIngress.ipv4_lpm", live.pop(prefix)[0])
        if step % 500 == 499:
            assert sw.pipeline.records_live(ti) == len({hop for _h, hop in live.values()})
    probes = sorted(live)[:100] + [0x0A000000 | (k << 8) for k in range(200, 210)]
    out = sw.process([(1, frame(f"10.0.{(p >> 8) & 0xFF}.9")) for p in probes])
    expect = [live[p][1] for p in probes if p in live]
    assert [(int(Ether(d).dst.replace(":", ""), 16), port) for port, d in out] == expect
    for handle, _hop in list(live.values()):
        sw.table_delete("MyIngress.ipv4_lpm", handle)
    assert sw.pipeline.records_live(ti) == 0
