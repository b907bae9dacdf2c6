"""p4src/router.p4 (kvick's own router, compiled by kvick) over real ports: LPM through next
hops, TTL and checksum, drops counted by reason, punts to the controller, packet-out and the
per-port counters."""

from __future__ import annotations

from base import P4RuntimeTest, ipv4, mac
from ptf import testutils as tu
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import raw

ROUTER_MAC = "02:00:00:00:01:00"
DROP_TTL_EXPIRED, DROP_IP_OPTIONS, DROP_NO_ROUTE, DROP_NOT_IPV4 = 0, 1, 2, 3
REASON_ARP, REASON_TO_ROUTER = 1, 2


def port_mac(port: int) -> str:
    return f"0a:00:00:00:01:{port:02x}"


def hop_mac(hop: int) -> str:
    return f"02:00:00:00:00:{hop:02x}"


def udp(dst: str, *, ttl: int = 64, eth_src: str = "02:00:00:00:00:aa",
        eth_dst: str = ROUTER_MAC, size: int = 0) -> bytes:
    packet = (Ether(dst=eth_dst, src=eth_src) / IP(src="198.18.0.1", dst=dst, ttl=ttl, id=7)
              / UDP(sport=1234, dport=80) / bytes(max(0, size - 42)))
    return raw(packet)


class RouterTest(P4RuntimeTest):
    def setUp(self) -> None:
        super().setUp()
        for port in (1, 2, 3, 4):  # next hop k sits behind port k
            self.insert("RouterIngress.next_hop", {"meta.next_hop": port},
                        "RouterIngress.forward", {"port": port, "dmac": mac(hop_mac(port))})
            self.insert("RouterEgress.port_mac", {"standard_metadata.egress_port": port},
                        "RouterEgress.set_source_mac", {"smac": mac(port_mac(port))})

    def route(self, prefix: str, length: int, hop: int):
        return self.insert("RouterIngress.ipv4_lpm", {"hdr.ipv4.dst": (ipv4(prefix), length)},
                           "RouterIngress.set_next_hop", {"next_hop": hop})

    def routed(self, dst: str, hop: int, *, ttl: int = 64, in_port: int = 1) -> None:
        tu.send_packet(self, in_port, udp(dst, ttl=ttl))
        # Scapy recomputes the expected header checksum for the new TTL.
        tu.verify_packet(self, udp(dst, ttl=ttl - 1, eth_dst=hop_mac(hop),
                                   eth_src=port_mac(hop)), hop)

    def assert_punted(self, frame: bytes, port: int, reason: int) -> None:
        payload, metadata = self.packet_in()
        self.assertEqual(payload, frame)
        self.assertEqual((metadata["ingress_port"], metadata["reason"]), (port, reason))

    def drops(self, reason: int) -> int:
        return self.counter("RouterIngress.drop_reasons", reason)[0]


class LongestPrefixThroughNextHops(RouterTest):
    def runTest(self) -> None:
        self.route("0.0.0.0", 0, 4)
        self.route("10.0.0.0", 8, 2)
        self.route("10.1.0.0", 16, 3)
        self.route("10.1.2.3", 32, 1)
        for dst, hop in (("10.1.2.3", 1), ("10.1.2.4", 3), ("10.9.9.9", 2), ("192.0.2.1", 4)):
            self.routed(dst, hop, in_port=2 if hop == 1 else 1)
        tu.verify_no_other_packets(self)


class TtlExpiryIsDroppedAndCounted(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 2)
        before = self.drops(DROP_TTL_EXPIRED)
        for ttl in (1, 0):
            tu.send_packet(self, 1, udp("10.0.0.1", ttl=ttl))
        tu.verify_no_other_packets(self)
        self.routed("10.0.0.1", 2, ttl=2)   # the last hop it can take
        self.routed("10.0.0.1", 2, ttl=255)
        tu.verify_no_other_packets(self)
        self.assertEqual(self.wait_counter(
            lambda: self.counter("RouterIngress.drop_reasons", DROP_TTL_EXPIRED),
            before + 2)[0], before + 2)


class UnroutableAndMalformedAreCountedByReason(RouterTest):
    def runTest(self) -> None:
        self.route("10.0.0.0", 8, 2)
        before = {r: self.drops(r) for r in (DROP_IP_OPTIONS, DROP_NO_ROUTE, DROP_NOT_IPV4)}
        tu.send_packet(self, 1, udp("192.0.2.1"))                          # no route
        options = Ether(dst=ROUTER_MAC) / IP(dst="10.0.0.1", options=b"\x01\x01\x01\x00") / UDP()
        tu.send_packet(self, 1, raw(options))                              # IHL 6
        tu.send_packet(self, 1, raw(Ether(dst=ROUTER_MAC, type=0x86DD) / bytes(60)))  # not IPv4
        tu.verify_no_other_packets(self)
        for reason in before:
            got = self.wait_counter(lambda r=reason: self.counter("RouterIngress.drop_reasons", r),
                                    before[reason] + 1)[0]
            self.assertEqual(got, before[reason] + 1, f"drop reason {reason}")


class ArpAndLocalAddressesArePunted(RouterTest):
    def runTest(self) -> None:
        self.route("0.0.0.0", 0, 2)
        self.insert("RouterIngress.local_address", {"hdr.ipv4.dst": ipv4("192.0.2.254")},
                    "RouterIngress.to_router")
        arp = raw(Ether(dst="ff:ff:ff:ff:ff:ff", src="02:00:00:00:00:aa")
                  / ARP(psrc="192.0.2.1", pdst="192.0.2.254"))
        tu.send_packet(self, 3, arp)
        self.assert_punted(arp, 3, REASON_ARP)
        ping = udp("192.0.2.254", ttl=1)   # for the router itself: TTL does not matter
        tu.send_packet(self, 4, ping)
        self.assert_punted(ping, 4, REASON_TO_ROUTER)
        tu.verify_no_other_packets(self)


class PacketOutLeavesOnItsPort(RouterTest):
    """A packet-out skips ingress's tables (exit) but not egress: it leaves on the port its
    metadata names with that port's source MAC, the rest unchanged."""

    def runTest(self) -> None:
        for port in (2, 3):
            reply = Ether(dst="02:00:00:00:00:aa", src=ROUTER_MAC) / ARP(
                op=2, psrc="192.0.2.254", pdst="192.0.2.1")
            self.packet_out(raw(reply), egress_port=port)
            reply.src = port_mac(port)
            tu.verify_packet(self, raw(reply), port)
        tu.verify_no_other_packets(self)


class PortAndRouteCountersAfterTraffic(RouterTest):
    def runTest(self) -> None:
        entry = self.route("10.0.0.0", 8, 3)
        rx0 = self.counter("RouterIngress.rx_port_counter", 2)
        tx0 = self.counter("RouterEgress.tx_port_counter", 3)
        sizes = (60, 200, 1400)
        for size in sizes:
            tu.send_packet(self, 2, udp("10.5.5.5", size=size))
            tu.verify_packet(self, udp("10.5.5.5", ttl=63, eth_dst=hop_mac(3),
                                       eth_src=port_mac(3), size=size), 3)
        tu.send_packet(self, 2, udp("10.5.5.5", ttl=1, size=60))   # dropped before the lookup
        tu.verify_no_other_packets(self)
        rx = self.wait_counter(lambda: self.counter("RouterIngress.rx_port_counter", 2),
                               rx0[0] + 4)
        tx = self.counter("RouterEgress.tx_port_counter", 3)
        self.assertEqual((rx[0] - rx0[0], rx[1] - rx0[1]), (4, sum(sizes) + 60))
        self.assertEqual((tx[0] - tx0[0], tx[1] - tx0[1]), (3, sum(sizes)))
        self.assertEqual(self.direct_counter(entry), (3, sum(sizes)))
