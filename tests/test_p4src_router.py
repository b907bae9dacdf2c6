"""p4src/router.p4, compiled by kvick's compiler, forwarding packets in the engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.all import ARP, IP, UDP, Ether

from target import Exact, Lpm, Switch
from target.compiler.driver import compile_file

ROUTER = Path(__file__).resolve().parent.parent / "p4src" / "router.p4"
CPU_PORT = 255


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    document, p4info = compile_file(ROUTER)
    out = tmp_path_factory.mktemp("router")
    (out / "router.json").write_text(json.dumps(document))
    (out / "router.p4info.txtpb").write_text(p4info)
    return out / "router.json", out / "router.p4info.txtpb"


@pytest.fixture()
def router(compiled: tuple[Path, Path]) -> tuple[Switch, list[bytes]]:
    sw = Switch(cpu_port=CPU_PORT)
    sw.load(str(compiled[0]), p4info=str(compiled[1]))
    sw.table_add("RouterIngress.ipv4_lpm", [Lpm(0x0A000000, 8)], "RouterIngress.set_next_hop", [7])
    sw.table_add("RouterIngress.ipv4_lpm", [Lpm(0x0A010000, 16)], "RouterIngress.set_next_hop", [8])
    sw.table_add("RouterIngress.next_hop", [Exact(7)], "RouterIngress.forward", [3, 0x020000000003])
    sw.table_add("RouterIngress.next_hop", [Exact(8)], "RouterIngress.forward", [4, 0x020000000004])
    sw.table_add("RouterEgress.port_mac", [Exact(3)], "RouterEgress.set_source_mac", [0x0A0000000103])
    sw.table_add("RouterEgress.port_mac", [Exact(4)], "RouterEgress.set_source_mac", [0x0A0000000104])
    sw.table_add("RouterIngress.local_address", [Exact(0xC0A80001)], "RouterIngress.to_router", [])
    punted: list[bytes] = []
    sw.on_packet_in(punted.append)
    return sw, punted


def _udp(dst: str, ttl: int = 64, **ip: object) -> bytes:
    return bytes(Ether(dst="00:00:00:00:01:01", src="00:00:00:00:00:09") /
                 IP(src="1.1.1.1", dst=dst, ttl=ttl, **ip) / UDP() / (b"x" * 10))


def test_longest_prefix_picks_next_hop_port_and_macs(router: tuple[Switch, list[bytes]]) -> None:
    sw, _ = router
    for dst, port in (("10.9.9.9", 3), ("10.1.2.3", 4)):
        out = sw.process([(1, _udp(dst))])
        assert [p for p, _ in out] == [port]
        frame = Ether(out[0][1])
        assert frame.dst == f"02:00:00:00:00:0{port}"
        assert frame.src == f"0a:00:00:00:01:0{port}"
        assert frame[IP].ttl == 63


def test_ttl_decrement_rewrites_a_valid_checksum(router: tuple[Switch, list[bytes]]) -> None:
    sw, _ = router
    out = sw.process([(1, _udp("10.1.2.3", ttl=17))])
    ip = Ether(out[0][1])[IP]
    received = ip.chksum
    del ip.chksum
    assert IP(bytes(ip)).chksum == received


@pytest.mark.parametrize("frame,reason", [
    (_udp("11.0.0.1"), 2),                                     # no route
    (_udp("10.0.0.1", ttl=1), 0),                              # TTL expires
    (_udp("10.0.0.1", options=[b"\x01\x01\x01\x00"]), 1),      # IP options
])
def test_drops_are_counted_by_reason(router: tuple[Switch, list[bytes]], frame: bytes, reason: int) -> None:
    sw, _ = router
    assert sw.process([(1, frame)]) == []
    assert sw.counter_read("RouterIngress.drop_reasons", reason)[0] == 1


def test_arp_and_local_destinations_are_punted_with_reason(router: tuple[Switch, list[bytes]]) -> None:
    sw, punted = router
    assert sw.process([(2, bytes(Ether() / ARP()))]) == []
    assert sw.process([(5, _udp("192.168.0.1"))]) == []
    assert len(punted) == 2
    for frame, port, reason in zip(punted, (2, 5), (1, 2), strict=True):
        header = int.from_bytes(frame[:3], "big")
        assert header >> 15 == port and (header >> 7) & 0xFF == reason


def test_packet_out_goes_to_the_port_it_names(router: tuple[Switch, list[bytes]]) -> None:
    sw, _ = router
    inner = _udp("99.0.0.1")
    out = sw.process([(CPU_PORT, (6 << 7).to_bytes(2, "big") + inner)])
    assert out == [(6, inner)]


def test_port_and_route_counters(router: tuple[Switch, list[bytes]]) -> None:
    sw, _ = router
    sw.process([(1, _udp("10.9.9.9")), (1, _udp("10.9.9.9")), (2, _udp("10.1.0.1"))])
    assert sw.counter_read("RouterIngress.rx_port_counter", 1)[0] == 2
    assert sw.counter_read("RouterEgress.tx_port_counter", 3)[0] == 2
    assert sw.counter_read("RouterEgress.tx_port_counter", 4)[0] == 1
