"""onos_basic (ONOS's basic pipeline): a ternary ACL with priorities, packet-in and packet-out
through the CPU port, port counters and a direct counter read back after traffic."""

from __future__ import annotations

from base import P4RuntimeTest, ipv4
from ptf import testutils as tu

TABLE0 = "ingress.table0_control.table0"
SET_PORT = "ingress.table0_control.set_egress_port"
TO_CPU = "ingress.table0_control.send_to_cpu"
DROP = "ingress.table0_control.drop"
DST = "hdr.ipv4.dst_addr"
FULL32 = 0xFFFFFFFF


def prefix_mask(length: int) -> int:
    return (FULL32 << (32 - length)) & FULL32


def udp_to(dst: str, **fields: object) -> bytes:
    return bytes(tu.simple_udp_packet(ip_dst=dst, **fields))


class AclPriorities(P4RuntimeTest):
    """Overlapping ternary entries: the highest priority that matches wins, whatever the order
    they were written in, and whatever their masks' lengths."""

    def runTest(self) -> None:
        self.insert(TABLE0, {DST: (ipv4("10.1.0.0"), prefix_mask(16))}, SET_PORT, {"port": 3},
                    priority=20)
        self.insert(TABLE0, {DST: (ipv4("10.0.0.0"), prefix_mask(8))}, SET_PORT, {"port": 2},
                    priority=10)
        # More specific but lower priority: never wins over the /16 above.
        self.insert(TABLE0, {DST: (ipv4("10.1.2.3"), FULL32)}, SET_PORT, {"port": 4}, priority=5)
        # Less specific but higher priority: wins over the /8 for UDP port 53 only.
        self.insert(TABLE0, {DST: (ipv4("10.0.0.0"), prefix_mask(8)),
                             "local_metadata.l4_dst_port": (53, 0xFFFF)}, DROP, priority=30)
        cases = [("10.1.2.3", 80, 3), ("10.1.9.9", 80, 3), ("10.2.0.1", 80, 2),
                 ("10.2.0.1", 53, None), ("10.1.2.3", 53, None), ("11.0.0.1", 80, None)]
        for dst, dport, out in cases:
            frame = udp_to(dst, udp_dport=dport)
            tu.send_packet(self, 1, frame)
            if out is not None:
                tu.verify_packet(self, frame, out)
            tu.verify_no_other_packets(self)


class AclWildcardsAndPortMatch(P4RuntimeTest):
    """An entry matching only the ingress port (every other field wildcarded) against one
    matching only the Ethernet source."""

    def runTest(self) -> None:
        self.insert(TABLE0, {"standard_metadata.ingress_port": (2, 0x1FF)}, SET_PORT,
                    {"port": 4}, priority=1)
        self.insert(TABLE0, {"hdr.ethernet.src_addr": (0x0000000000AA, 0xFFFFFFFFFFFF)},
                    SET_PORT, {"port": 1}, priority=2)
        plain = udp_to("192.0.2.1")
        tu.send_packet(self, 2, plain)
        tu.verify_packet(self, plain, 4)
        from_aa = udp_to("192.0.2.1", eth_src="00:00:00:00:00:aa")
        tu.send_packet(self, 2, from_aa)
        tu.verify_packet(self, from_aa, 1)
        tu.send_packet(self, 3, plain)  # neither matches: table0's default drops
        tu.verify_no_other_packets(self)


class PacketInThroughCpuPort(P4RuntimeTest):
    """send_to_cpu: the frame reaches the controller as a packet-in, unchanged, with the port
    it came in on as metadata; nothing leaves on a data port."""

    def runTest(self) -> None:
        self.insert(TABLE0, {"hdr.ethernet.ether_type": (0x0806, 0xFFFF)}, TO_CPU, priority=1)
        for port in (1, 3):
            arp = bytes(tu.simple_arp_packet(ip_snd=f"10.0.0.{port}", ip_tgt="10.0.0.254"))
            tu.send_packet(self, port, arp)
            payload, metadata = self.packet_in()
            self.assertEqual(payload, arp)
            self.assertEqual(metadata["ingress_port"], port)
        tu.verify_no_other_packets(self)


class PacketOutThroughCpuPort(P4RuntimeTest):
    """A packet-out leaves on the port its metadata names, unchanged, with no table entry."""

    def runTest(self) -> None:
        for port in (1, 2, 4):
            frame = udp_to("198.51.100.7", udp_sport=1000 + port)
            self.packet_out(frame, egress_port=port)
            tu.verify_packet(self, frame, port)
        tu.verify_no_other_packets(self)


class CountersAfterTraffic(P4RuntimeTest):
    """Port counters (indexed arrays) and table0's direct counter read back over P4Runtime
    count exactly the frames sent, and their bytes."""

    def runTest(self) -> None:
        entry = self.insert(TABLE0, {DST: (ipv4("10.0.0.0"), prefix_mask(8))}, SET_PORT,
                            {"port": 2}, priority=1)
        sizes = [64, 100, 300, 1000, 1500]
        before_in = self.counter("ingress.port_counters_ingress.ingress_port_counter", 1)
        before_out = self.counter("egress.port_counters_egress.egress_port_counter", 2)
        for size in sizes:
            frame = bytes(tu.simple_udp_packet(ip_dst="10.3.3.3", pktlen=size))
            tu.send_packet(self, 1, frame)
            tu.verify_packet(self, frame, 2)
        for _ in range(3):  # dropped by table0's default: counted on ingress only
            tu.send_packet(self, 1, udp_to("192.0.2.9"))
        tu.verify_no_other_packets(self)

        def delta(name: str, port: int, before: tuple[int, int], want: int) -> tuple[int, int]:
            now = self.wait_counter(lambda: self.counter(name, port),
                                    before[0] + want)
            return now[0] - before[0], now[1] - before[1]

        ingress = delta("ingress.port_counters_ingress.ingress_port_counter", 1, before_in, 8)
        self.assertEqual(ingress, (8, sum(sizes) + 3 * 100))
        egress = delta("egress.port_counters_egress.egress_port_counter", 2, before_out, 5)
        self.assertEqual(egress, (5, sum(sizes)))
        self.assertEqual(self.direct_counter(entry), (5, sum(sizes)))
