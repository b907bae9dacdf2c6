"""p4src/firewall.p4, compiled by kvick's compiler: flows opened from inside may answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.all import IP, TCP, UDP, Ether, raw

from target import Exact, Switch
from target.compiler.driver import compile_file

ROOT = Path(__file__).resolve().parents[1]
INSIDE, OUTSIDE = 1, 2


@pytest.fixture(scope="module")
def compiled() -> tuple[dict, str]:
    return compile_file(ROOT / "p4src" / "firewall.p4")


@pytest.fixture()
def firewall(compiled: tuple[dict, str], tmp_path: Path) -> Switch:
    program, p4info = compiled
    info = tmp_path / "firewall.p4info.txtpb"
    info.write_text(p4info)
    sw = Switch(pool_size=1024)
    sw.load(program, info)
    sw.table_add("FirewallIngress.forward_table", [Exact(INSIDE)], "FirewallIngress.forward",
                 [OUTSIDE])
    sw.table_add("FirewallIngress.forward_table", [Exact(OUTSIDE)], "FirewallIngress.forward",
                 [INSIDE])
    sw.table_add("FirewallIngress.port_direction", [Exact(INSIDE)],
                 "FirewallIngress.set_direction", [1])
    sw.table_add("FirewallIngress.port_direction", [Exact(OUTSIDE)],
                 "FirewallIngress.set_direction", [0])
    return sw


def tcp(src: str, dst: str, sport: int, dport: int) -> bytes:
    return raw(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S"))


def test_unsolicited_inbound_tcp_is_dropped_and_counted(firewall: Switch) -> None:
    assert firewall.process([(OUTSIDE, tcp("198.51.100.7", "10.0.0.5", 443, 40000))]) == []
    assert firewall.counter_read("FirewallIngress.verdicts", 1)[0] == 1


def test_reply_to_an_outbound_connection_passes(firewall: Switch) -> None:
    out = firewall.process([(INSIDE, tcp("10.0.0.5", "198.51.100.7", 40000, 443))])
    assert [p for p, _ in out] == [OUTSIDE]
    back = firewall.process([(OUTSIDE, tcp("198.51.100.7", "10.0.0.5", 443, 40000))])
    assert [p for p, _ in back] == [INSIDE]
    assert Ether(back[0][1])[TCP].sport == 443
    assert firewall.counter_read("FirewallIngress.verdicts", 0)[0] == 1
    # a different port pair from the same host was never opened from inside
    assert firewall.process([(OUTSIDE, tcp("198.51.100.7", "10.0.0.5", 443, 40001))]) == []


def test_non_tcp_and_non_ip_traffic(firewall: Switch) -> None:
    udp = raw(Ether() / IP(src="198.51.100.7", dst="10.0.0.5") / UDP(sport=53, dport=5353))
    assert [p for p, _ in firewall.process([(OUTSIDE, udp)])] == [INSIDE]
    arp_like = raw(Ether(type=0x0806) / bytes(28))
    assert firewall.process([(INSIDE, arp_like)]) == []


def test_bloom_filter_state_is_in_registers(firewall: Switch) -> None:
    firewall.process([(INSIDE, tcp("10.0.0.9", "203.0.113.1", 5555, 80))])
    set_bits = sum(firewall.register_read("FirewallIngress.bloom_one", i) for i in range(4096))
    assert set_bits == 1
