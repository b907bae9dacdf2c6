"""p4src/mpls_gre.p4, compiled by kvick's compiler: push + GRE encapsulation, swap, pop +
decapsulation, TTL in RFC 3443's uniform model, checksums and the drops of bad packets.

The router R: port 1 faces customers (plain IPv4), ports 2 and 3 the IPv4 core; R's tunnel
address is 192.0.2.1; tunnel 1 leads to peer A (198.51.100.2) through port 2, tunnel 2 to
peer B (198.51.100.3) through port 3. Expected frames are built by scapy (its MPLS and GRE
layers, checksums computed by scapy), independently of the program.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Ether

from target import Exact, Lpm, Switch
from target.compiler.driver import compile_file

PROGRAM = Path(__file__).resolve().parent.parent / "p4src" / "mpls_gre.p4"
ING = "MplsGreIngress."

ROUTER_IP, PEER_A, PEER_B = "192.0.2.1", "198.51.100.2", "198.51.100.3"
CUSTOMER_MAC, HOP_A_MAC, HOP_B_MAC = "02:00:00:00:00:01", "02:00:00:00:00:0a", "02:00:00:00:00:0b"
LABEL_TO_A, LABEL_POP, LABEL_SWAP_IN, LABEL_SWAP_OUT = 1002, 2001, 3001, 3002
DROP_TTL_EXPIRED, DROP_IP_OPTIONS, DROP_NO_ROUTE, DROP_NOT_IPV4 = 0, 1, 2, 3
DROP_BAD_TUNNEL, DROP_UNKNOWN_LABEL, DROP_BAD_CHECKSUM, DROP_NESTED_TUNNEL = 4, 5, 6, 7


def ip_int(text: str) -> int:
    return int.from_bytes(bytes(int(x) for x in text.split(".")), "big")


def mac_int(text: str) -> int:
    return int(text.replace(":", ""), 16)


def port_mac(port: int) -> str:
    return f"0a:00:00:00:01:{port:02x}"


@pytest.fixture(scope="module")
def program() -> tuple[dict, str]:
    return compile_file(PROGRAM)


@pytest.fixture()
def sw(program: tuple[dict, str]) -> Switch:
    document, p4info = program
    switch = Switch()
    switch.load(document, p4info=p4info)
    switch.table_add(ING + "local_endpoint", [Exact(ip_int(ROUTER_IP))], ING + "terminate", [])
    switch.table_add(ING + "ipv4_lpm", [Lpm(ip_int("10.1.0.0"), 16)], ING + "set_next_hop", [1])
    switch.table_add(ING + "ipv4_lpm", [Lpm(ip_int("10.2.0.0"), 16)], ING + "push_label",
                     [LABEL_TO_A, 1])
    switch.table_add(ING + "next_hop", [Exact(1)], ING + "forward", [1, mac_int(CUSTOMER_MAC)])
    switch.table_add(ING + "tunnel", [Exact(1)], ING + "encapsulate",
                     [ip_int(ROUTER_IP), ip_int(PEER_A), 2, mac_int(HOP_A_MAC)])
    switch.table_add(ING + "tunnel", [Exact(2)], ING + "encapsulate",
                     [ip_int(ROUTER_IP), ip_int(PEER_B), 3, mac_int(HOP_B_MAC)])
    switch.table_add(ING + "mpls_label", [Exact(LABEL_POP)], ING + "pop_label", [])
    switch.table_add(ING + "mpls_label", [Exact(LABEL_SWAP_IN)], ING + "swap_label",
                     [LABEL_SWAP_OUT, 2])
    for port in (1, 2, 3):
        switch.table_add("MplsGreEgress.port_mac", [Exact(port)], "MplsGreEgress.set_source_mac",
                         [mac_int(port_mac(port))])
    return switch


def customer(dst: str, ttl: int = 64, tos: int = 0, src: str = "10.1.0.7") -> IP:
    return IP(src=src, dst=dst, ttl=ttl, tos=tos, id=42) / UDP(sport=5000, dport=53) / (b"q" * 20)


def tunnelled(inner, label: int, label_ttl: int, *, outer_ttl: int = 64, src: str = PEER_A,
              dst: str = ROUTER_IP, bos: int = 1, ident: int = 9, tos: int = 0, cos: int = 0):
    return (IP(src=src, dst=dst, ttl=outer_ttl, id=ident, tos=tos) / GRE()
            / MPLS(label=label, ttl=label_ttl, s=bos, cos=cos) / inner)


def frame(payload, dst: str = "0a:00:00:00:01:02", src: str = "02:00:00:00:00:99") -> bytes:
    return bytes(Ether(dst=dst, src=src) / payload)


def drops(sw: Switch, reason: int) -> int:
    return sw.counter_read(ING + "drop_reasons", reason)[0]


def test_push_encapsulates_in_gre_toward_the_tunnel_endpoint(sw: Switch) -> None:
    out = sw.process([(1, frame(customer("10.2.3.4", ttl=64, tos=0xB8)))])
    # Uniform model: the routed IP TTL (63) is the label's and the outer header's TTL; the
    # label's traffic class is the precedence bits, the outer header keeps the DSCP.
    want = frame(tunnelled(customer("10.2.3.4", ttl=63, tos=0xB8), LABEL_TO_A, 63,
                           outer_ttl=63, src=ROUTER_IP, dst=PEER_A, ident=0, tos=0xB8, cos=5),
                 dst=HOP_A_MAC, src=port_mac(2))
    assert out == [(2, want)]


def test_pop_decapsulates_and_routes_the_inner_packet(sw: Switch) -> None:
    inner = customer("10.1.2.3", ttl=64)
    out = sw.process([(2, frame(tunnelled(inner, LABEL_POP, 50, outer_ttl=60)))])
    # The label's TTL (the smaller of label and outer TTL) less this hop becomes the IP TTL.
    assert out == [(1, frame(customer("10.1.2.3", ttl=49), dst=CUSTOMER_MAC, src=port_mac(1)))]


def test_hops_between_endpoints_count_toward_the_label_ttl(sw: Switch) -> None:
    out = sw.process([(2, frame(tunnelled(customer("10.1.2.3"), LABEL_POP, 50, outer_ttl=20)))])
    assert out == [(1, frame(customer("10.1.2.3", ttl=19), dst=CUSTOMER_MAC, src=port_mac(1)))]


def test_swap_reencapsulates_toward_the_next_endpoint(sw: Switch) -> None:
    inner = customer("10.9.9.9", ttl=33)
    out = sw.process([(2, frame(tunnelled(inner, LABEL_SWAP_IN, 40, ident=77)))])
    want = frame(tunnelled(inner, LABEL_SWAP_OUT, 39, outer_ttl=39, src=ROUTER_IP, dst=PEER_B,
                           ident=77), dst=HOP_B_MAC, src=port_mac(3))
    assert out == [(3, want)]


def test_swap_keeps_a_deeper_label_stack(sw: Switch) -> None:
    inner = MPLS(label=77, ttl=9, s=1) / customer("10.9.9.9")
    out = sw.process([(2, frame(tunnelled(inner, LABEL_SWAP_IN, 40, bos=0)))])
    want = frame(tunnelled(inner, LABEL_SWAP_OUT, 39, outer_ttl=39, src=ROUTER_IP, dst=PEER_B,
                           bos=0), dst=HOP_B_MAC, src=port_mac(3))
    assert out == [(3, want)]


def test_plain_routing_decrements_ttl(sw: Switch) -> None:
    out = sw.process([(2, frame(customer("10.1.0.9", ttl=2, src="203.0.113.5")))])
    assert out == [(1, frame(customer("10.1.0.9", ttl=1, src="203.0.113.5"), dst=CUSTOMER_MAC,
                             src=port_mac(1)))]


def test_two_routers_carry_traffic_both_ways(program: tuple[dict, str]) -> None:
    """R1 pushes toward R2, R2 pops and delivers; and back. Each router's output is the other's
    input, so each checks what the other emitted."""
    document, p4info = program
    routers = {}
    for me, peer, local_net, remote_net, label_in, label_out in (
            ("192.0.2.1", "192.0.2.2", "10.1.0.0", "10.2.0.0", 100, 200),
            ("192.0.2.2", "192.0.2.1", "10.2.0.0", "10.1.0.0", 200, 100)):
        r = Switch()
        r.load(document, p4info=p4info)
        r.table_add(ING + "local_endpoint", [Exact(ip_int(me))], ING + "terminate", [])
        r.table_add(ING + "ipv4_lpm", [Lpm(ip_int(local_net), 16)], ING + "set_next_hop", [1])
        r.table_add(ING + "ipv4_lpm", [Lpm(ip_int(remote_net), 16)], ING + "push_label",
                    [label_out, 1])
        r.table_add(ING + "next_hop", [Exact(1)], ING + "forward", [1, mac_int(CUSTOMER_MAC)])
        r.table_add(ING + "tunnel", [Exact(1)], ING + "encapsulate",
                    [ip_int(me), ip_int(peer), 2, mac_int(HOP_A_MAC)])
        r.table_add(ING + "mpls_label", [Exact(label_in)], ING + "pop_label", [])
        routers[me] = r
    r1, r2 = routers["192.0.2.1"], routers["192.0.2.2"]
    for a, b, src, dst in ((r1, r2, "10.1.0.5", "10.2.0.6"), (r2, r1, "10.2.0.6", "10.1.0.5")):
        sent = customer(dst, ttl=64, src=src)
        (port, over_core), = a.process([(1, frame(sent))])
        assert port == 2
        (port, delivered), = b.process([(2, over_core)])
        assert port == 1
        # Two routers, two hops: the IP TTL went down by 2 and the rest arrived intact.
        assert Ether(delivered)[IP] == IP(bytes(customer(dst, ttl=62, src=src)))


@pytest.mark.parametrize("payload,reason", [
    (customer("10.1.0.1", ttl=1), DROP_TTL_EXPIRED),
    (customer("10.1.0.1", ttl=0), DROP_TTL_EXPIRED),
    (tunnelled(customer("10.1.2.3"), LABEL_POP, 1), DROP_TTL_EXPIRED),
    (tunnelled(customer("10.1.2.3"), LABEL_SWAP_IN, 1), DROP_TTL_EXPIRED),
    (tunnelled(customer("10.1.2.3"), LABEL_POP, 64, outer_ttl=1), DROP_TTL_EXPIRED),
    (customer("172.16.0.1"), DROP_NO_ROUTE),
    (tunnelled(customer("172.16.0.1"), LABEL_POP, 64), DROP_NO_ROUTE),
    (IP(dst="10.1.0.1", options=b"\x01\x01\x01\x00") / UDP(), DROP_IP_OPTIONS),
    (tunnelled(IP(dst="10.1.0.1", options=b"\x01\x01\x01\x00") / UDP(), LABEL_POP, 64),
     DROP_IP_OPTIONS),
    (IPv6(dst="2001:db8::1") / UDP(), DROP_NOT_IPV4),
    (IP(dst=ROUTER_IP) / UDP(), DROP_BAD_TUNNEL),                       # for us, not GRE
    (IP(dst=ROUTER_IP) / GRE(key_present=1, key=5) / MPLS(label=LABEL_POP) / customer("10.1.0.1"),
     DROP_BAD_TUNNEL),                                                  # GRE with a key
    (IP(dst=ROUTER_IP) / GRE(proto=0x0800) / customer("10.1.0.1"), DROP_BAD_TUNNEL),
    (tunnelled(MPLS(label=5, s=1) / customer("10.1.0.1"), LABEL_POP, 64, bos=0),
     DROP_BAD_TUNNEL),                                                  # pop, not the bottom
    (tunnelled(IPv6(dst="2001:db8::1") / UDP(), LABEL_POP, 64), DROP_BAD_TUNNEL),
    (tunnelled(customer("10.1.0.1"), 4444, 64), DROP_UNKNOWN_LABEL),
    (IP(dst="10.1.0.1", chksum=0x1234) / UDP(), DROP_BAD_CHECKSUM),
    (frame(tunnelled(customer("10.1.0.1"), LABEL_POP, 64))[:14 + 20 + 2],
     DROP_BAD_TUNNEL),                                                  # ends inside GRE
    (IP(src=PEER_A, dst="10.2.0.1") / GRE() / MPLS(label=9) / customer("10.1.0.1"),
     DROP_NESTED_TUNNEL),                                               # transit GRE into a tunnel
])
def test_bad_and_expiring_packets_are_dropped_and_counted(sw: Switch, payload, reason: int) -> None:
    before = drops(sw, reason)
    sent = payload if isinstance(payload, bytes) else frame(payload)
    assert sw.process([(2, sent)]) == []
    assert drops(sw, reason) == before + 1


def test_the_last_hop_a_ttl_allows_is_taken(sw: Switch) -> None:
    out = sw.process([(2, frame(tunnelled(customer("10.1.2.3"), LABEL_POP, 2)))])
    assert [Ether(f)[IP].ttl for _, f in out] == [1]
    out = sw.process([(2, frame(tunnelled(customer("10.1.2.3"), LABEL_SWAP_IN, 2)))])
    assert [(p, Ether(f)[MPLS].ttl, Ether(f)[IP].ttl) for p, f in out] == [(3, 1, 1)]
