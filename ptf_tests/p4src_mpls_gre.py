"""p4src/mpls_gre.p4 (kvick's MPLS-over-GRE label edge router, compiled by kvick) over real
ports, programmed over P4Runtime; frames built with scapy's MPLS and GRE layers.

The router: port 1 faces customers (plain IPv4), ports 2 and 3 the IPv4 core. Its tunnel
address is 192.0.2.1; tunnel 1 leads to peer A (198.51.100.2) through port 2, tunnel 2 to
peer B (198.51.100.3) through port 3. Customer prefix 10.1/16 is behind port 1, 10.2/16 behind
peer A (label 1002). Label 2001 is popped here; label 3001 is swapped for 3002 toward peer B.
TTLs follow RFC 3443's uniform model (see the program's header comment).
"""

from __future__ import annotations

from base import P4RuntimeTest, ipv4, mac
from ptf import testutils as tu
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import GRE, Ether

ING = "MplsGreIngress."
ROUTER_MAC = "0a:00:00:00:01:02"
ROUTER_IP, PEER_A, PEER_B = "192.0.2.1", "198.51.100.2", "198.51.100.3"
CUSTOMER_MAC, HOP_A_MAC, HOP_B_MAC = "02:00:00:00:00:01", "02:00:00:00:00:0a", "02:00:00:00:00:0b"
LABEL_TO_A, LABEL_POP, LABEL_SWAP_IN, LABEL_SWAP_OUT = 1002, 2001, 3001, 3002
DROP_TTL_EXPIRED, DROP_IP_OPTIONS, DROP_NO_ROUTE, DROP_NOT_IPV4 = 0, 1, 2, 3
DROP_BAD_TUNNEL, DROP_UNKNOWN_LABEL, DROP_BAD_CHECKSUM, DROP_NESTED_TUNNEL = 4, 5, 6, 7


def port_mac(port: int) -> str:
    return f"0a:00:00:00:01:{port:02x}"


def customer(dst: str, ttl: int = 64, tos: int = 0, src: str = "10.1.0.7", size: int = 20):
    return IP(src=src, dst=dst, ttl=ttl, tos=tos, id=42) / UDP(sport=5000, dport=53) / (b"q" * size)


def tunnelled(inner, label: int, label_ttl: int, *, outer_ttl: int = 64, src: str = PEER_A,
              dst: str = ROUTER_IP, bos: int = 1, ident: int = 9, tos: int = 0, cos: int = 0):
    return (IP(src=src, dst=dst, ttl=outer_ttl, id=ident, tos=tos) / GRE()
            / MPLS(label=label, ttl=label_ttl, s=bos, cos=cos) / inner)


def frame(payload, dst: str = ROUTER_MAC, src: str = "02:00:00:00:00:99") -> bytes:
    return bytes(Ether(dst=dst, src=src) / payload)


class MplsGreTest(P4RuntimeTest):
    def setUp(self) -> None:
        super().setUp()
        self.insert(ING + "local_endpoint", {"hdr.ipv4.dst": ipv4(ROUTER_IP)}, ING + "terminate")
        self.insert(ING + "ipv4_lpm", {"hdr.ipv4.dst": (ipv4("10.1.0.0"), 16)},
                    ING + "set_next_hop", {"next_hop": 1})
        self.insert(ING + "ipv4_lpm", {"hdr.ipv4.dst": (ipv4("10.2.0.0"), 16)},
                    ING + "push_label", {"label": LABEL_TO_A, "tunnel": 1})
        self.insert(ING + "next_hop", {"meta.next_hop": 1}, ING + "forward",
                    {"port": 1, "dmac": mac(CUSTOMER_MAC)})
        for tunnel, peer, port, hop in ((1, PEER_A, 2, HOP_A_MAC), (2, PEER_B, 3, HOP_B_MAC)):
            self.insert(ING + "tunnel", {"meta.tunnel": tunnel}, ING + "encapsulate",
                        {"src": ipv4(ROUTER_IP), "dst": ipv4(peer), "port": port,
                         "dmac": mac(hop)})
        self.insert(ING + "mpls_label", {"hdr.mpls.label": LABEL_POP}, ING + "pop_label")
        self.insert(ING + "mpls_label", {"hdr.mpls.label": LABEL_SWAP_IN}, ING + "swap_label",
                    {"label": LABEL_SWAP_OUT, "tunnel": 2})
        for port in (1, 2, 3):
            self.insert("MplsGreEgress.port_mac", {"standard_metadata.egress_port": port},
                        "MplsGreEgress.set_source_mac", {"smac": mac(port_mac(port))})

    def drops(self, reason: int) -> int:
        return self.counter(ING + "drop_reasons", reason)[0]


class PushEncapsulatesTowardTheEndpoint(MplsGreTest):
    """Customer to core: label pushed (TTL and traffic class from the IP header), GRE over
    IPv4 to peer A with a valid outer checksum, out of port 2."""

    def runTest(self) -> None:
        for size, tos in ((20, 0), (1000, 0xB8)):
            tu.send_packet(self, 1, frame(customer("10.2.3.4", tos=tos, size=size),
                                          dst=port_mac(1)))
            tu.verify_packet(self, frame(
                tunnelled(customer("10.2.3.4", ttl=63, tos=tos, size=size), LABEL_TO_A, 63,
                          outer_ttl=63, src=ROUTER_IP, dst=PEER_A, ident=0, tos=tos,
                          cos=tos >> 5), dst=HOP_A_MAC, src=port_mac(2)), 2)
        tu.verify_no_other_packets(self)


class PopDecapsulatesAndRoutes(MplsGreTest):
    """Core to customer: GRE and label removed, the inner packet routed with the label's TTL
    (the smaller of label and outer TTL) less one, its checksum recomputed."""

    def runTest(self) -> None:
        for label_ttl, outer_ttl, delivered_ttl in ((50, 60, 49), (50, 20, 19), (2, 64, 1)):
            tu.send_packet(self, 2, frame(tunnelled(customer("10.1.2.3"), LABEL_POP, label_ttl,
                                                    outer_ttl=outer_ttl)))
            tu.verify_packet(self, frame(customer("10.1.2.3", ttl=delivered_ttl),
                                         dst=CUSTOMER_MAC, src=port_mac(1)), 1)
        tu.verify_no_other_packets(self)


class SwapReencapsulatesTowardTheNextEndpoint(MplsGreTest):
    def runTest(self) -> None:
        inner = customer("10.9.9.9", ttl=33)
        tu.send_packet(self, 2, frame(tunnelled(inner, LABEL_SWAP_IN, 40, ident=77)))
        tu.verify_packet(self, frame(tunnelled(inner, LABEL_SWAP_OUT, 39, outer_ttl=39,
                                               src=ROUTER_IP, dst=PEER_B, ident=77),
                                     dst=HOP_B_MAC, src=port_mac(3)), 3)
        # A deeper stack: only the top label changes.
        deeper = MPLS(label=77, ttl=9, s=1) / inner
        tu.send_packet(self, 2, frame(tunnelled(deeper, LABEL_SWAP_IN, 40, bos=0)))
        tu.verify_packet(self, frame(tunnelled(deeper, LABEL_SWAP_OUT, 39, outer_ttl=39,
                                               src=ROUTER_IP, dst=PEER_B, bos=0),
                                     dst=HOP_B_MAC, src=port_mac(3)), 3)
        tu.verify_no_other_packets(self)


class RoundTripThroughTheTunnel(MplsGreTest):
    """Both directions through one router: what it pushed toward peer A comes back from peer A
    with the label this router pops (as peer A would send it) and reaches the customer intact."""

    def runTest(self) -> None:
        sent = customer("10.2.0.6", src="10.1.0.5")
        tu.send_packet(self, 1, frame(sent, dst=port_mac(1)))
        encapsulated = Ether(tu.dp_poll(self, port_number=2, timeout=2).packet)
        self.assertEqual(encapsulated[GRE].proto, 0x8847)
        self.assertEqual((encapsulated[MPLS].label, encapsulated[MPLS].s), (LABEL_TO_A, 1))
        # Peer A answers: swap source and destination of the inner packet, pop label here.
        reply = IP(bytes(encapsulated[MPLS].payload))
        reply.src, reply.dst = reply.dst, reply.src
        del reply.chksum
        tu.send_packet(self, 2, frame(tunnelled(reply, LABEL_POP, encapsulated[MPLS].ttl - 1,
                                                outer_ttl=encapsulated[IP].ttl - 1)))
        back = Ether(tu.dp_poll(self, port_number=1, timeout=2).packet)
        self.assertEqual((back.dst, back.src), (CUSTOMER_MAC, port_mac(1)))
        self.assertEqual(back[IP].ttl, 64 - 3)   # push, peer A, pop
        self.assertEqual(bytes(back[UDP]), bytes(sent[UDP]))
        self.assertEqual((back[IP].src, back[IP].dst), ("10.2.0.6", "10.1.0.5"))
        tu.verify_no_other_packets(self)


class BadAndExpiringPacketsAreDroppedByReason(MplsGreTest):
    def runTest(self) -> None:
        cases = [
            (customer("10.1.0.1", ttl=1), DROP_TTL_EXPIRED),
            (tunnelled(customer("10.1.2.3"), LABEL_POP, 1), DROP_TTL_EXPIRED),
            (tunnelled(customer("10.1.2.3"), LABEL_SWAP_IN, 1), DROP_TTL_EXPIRED),
            (tunnelled(customer("10.1.2.3"), LABEL_POP, 64, outer_ttl=1), DROP_TTL_EXPIRED),
            (customer("172.16.0.1"), DROP_NO_ROUTE),
            (IP(dst="10.1.0.1", options=b"\x01\x01\x01\x00") / UDP(), DROP_IP_OPTIONS),
            (IPv6(dst="2001:db8::1") / UDP(), DROP_NOT_IPV4),
            (IP(dst=ROUTER_IP) / UDP(), DROP_BAD_TUNNEL),
            (IP(dst=ROUTER_IP) / GRE(key_present=1, key=5) / MPLS(label=LABEL_POP)
             / customer("10.1.0.1"), DROP_BAD_TUNNEL),
            (IP(dst=ROUTER_IP) / GRE(proto=0x0800) / customer("10.1.0.1"), DROP_BAD_TUNNEL),
            (tunnelled(MPLS(label=5, s=1) / customer("10.1.0.1"), LABEL_POP, 64, bos=0),
             DROP_BAD_TUNNEL),
            (tunnelled(IPv6(dst="2001:db8::1") / UDP(), LABEL_POP, 64), DROP_BAD_TUNNEL),
            (tunnelled(customer("10.1.0.1"), 4444, 64), DROP_UNKNOWN_LABEL),
            (IP(dst="10.1.0.1", chksum=0x1234) / UDP(), DROP_BAD_CHECKSUM),
            (IP(src=PEER_A, dst="10.2.0.1") / GRE() / MPLS(label=9) / customer("10.1.0.1"),
             DROP_NESTED_TUNNEL),
        ]
        expected: dict[int, int] = {}
        for _, reason in cases:
            expected[reason] = expected.get(reason, self.drops(reason)) + 1
        for payload, _ in cases:
            tu.send_packet(self, 2, frame(payload))
        tu.verify_no_other_packets(self)
        for reason, count in expected.items():
            got = self.wait_counter(lambda r=reason: self.counter(ING + "drop_reasons", r),
                                    count)[0]
            self.assertEqual(got, count, f"drop reason {reason}")
