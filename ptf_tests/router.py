"""tutorial_basic (the P4 tutorials' IPv4 LPM router) over real ports."""

from __future__ import annotations

from base import P4RuntimeTest, ipv4, mac
from ptf import testutils as tu

SWITCH_MAC = "00:00:00:00:01:00"
HOST_MAC = {1: "00:00:00:00:00:01", 2: "00:00:00:00:00:02", 3: "00:00:00:00:00:03",
            4: "00:00:00:00:00:04"}


class RouterTest(P4RuntimeTest):
    def route(self, prefix: str, length: int, port: int) -> None:
        self.insert("MyIngress.ipv4_lpm", {"hdr.ipv4.dstAddr": (ipv4(prefix), length)},
                    "MyIngress.ipv4_forward", {"dstAddr": mac(HOST_MAC[port]), "port": port})

    def routed(self, dst: str, out_port: int, ttl: int = 64, in_port: int = 1) -> None:
        sent = tu.simple_udp_packet(eth_dst=SWITCH_MAC, eth_src=HOST_MAC[in_port],
                                    ip_src="10.9.9.9", ip_dst=dst, ip_ttl=ttl)
        # ipv4_forward: source MAC <- old destination, destination MAC <- the next hop's,
        # TTL - 1, header checksum recomputed.
        expected = tu.simple_udp_packet(eth_dst=HOST_MAC[out_port], eth_src=SWITCH_MAC,
                                        ip_src="10.9.9.9", ip_dst=dst, ip_ttl=ttl - 1)
        tu.send_packet(self, in_port, sent)
        tu.verify_packet(self, expected, out_port)
        tu.verify_no_other_packets(self)


class LongestPrefixWins(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 2)
        self.route("10.1.0.0", 16, 3)
        self.route("10.1.2.3", 32, 4)
        self.routed("10.1.2.3", 4)
        self.routed("10.1.2.4", 3)
        self.routed("10.200.0.1", 2)


class DefaultRoute(RouterTest):
    def runTest(self) -> None:
        self.route("0.0.0.0", 0, 4)
        self.route("10.0.0.0", 8, 2)
        self.routed("192.0.2.1", 4)
        self.routed("10.0.0.1", 2)


class TtlDecrementAndChecksum(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 3)
        for ttl in (64, 2, 1, 255):
            self.routed("10.0.0.7", 3, ttl=ttl)


class MissIsDropped(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 2)
        tu.send_packet(self, 1, tu.simple_udp_packet(eth_dst=SWITCH_MAC, ip_dst="192.0.2.1"))
        tu.verify_no_other_packets(self)


class DropAction(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 2)
        self.insert("MyIngress.ipv4_lpm", {"hdr.ipv4.dstAddr": (ipv4("10.66.0.0"), 16)},
                    "MyIngress.drop")
        tu.send_packet(self, 1, tu.simple_udp_packet(eth_dst=SWITCH_MAC, ip_dst="10.66.1.1"))
        tu.verify_no_other_packets(self)
        self.routed("10.67.1.1", 2)


class NonIpIsNotRouted(RouterTest):
    def runTest(self) -> None:
        self.route("0.0.0.0", 0, 2)
        arp = tu.simple_arp_packet(eth_src=HOST_MAC[1], ip_snd="10.0.0.1", ip_tgt="10.0.0.2")
        tu.send_packet(self, 1, arp)
        # basic.p4 leaves egress_spec at 0 for non-IPv4 frames; port 0 is not attached.
        tu.verify_no_other_packets(self)
