"""tutorial_multicast (the P4 tutorials' L2 switch that floods unknown destinations through
multicast group 1; its egress prunes the copy back to the ingress port)."""

from __future__ import annotations

from base import P4RuntimeTest, mac
from ptf import testutils as tu

LOOKUP = "MyIngress.mac_lookup"


class FloodReplicatesToEveryOtherPort(P4RuntimeTest):
    def runTest(self) -> None:
        self.multicast_group(1, [(1, 1), (2, 1), (3, 1), (4, 1)])
        for in_port in (1, 3):
            frame = bytes(tu.simple_udp_packet(eth_dst="08:00:00:00:09:99",
                                               udp_sport=4000 + in_port))
            tu.send_packet(self, in_port, frame)
            others = [p for p in (1, 2, 3, 4) if p != in_port]
            tu.verify_each_packet_on_each_port(self, [frame] * len(others), others)
            tu.verify_no_other_packets(self)


class GroupMembersOnly(P4RuntimeTest):
    """Copies go to the group's ports and nowhere else, one per replica."""

    def runTest(self) -> None:
        self.multicast_group(1, [(2, 1), (4, 7)])
        frame = bytes(tu.simple_tcp_packet(eth_dst="ff:ff:ff:ff:ff:ff"))
        tu.send_packet(self, 1, frame)
        tu.verify_each_packet_on_each_port(self, [frame, frame], [2, 4])
        tu.verify_no_other_packets(self)


class KnownDestinationIsUnicast(P4RuntimeTest):
    def runTest(self) -> None:
        self.multicast_group(1, [(1, 1), (2, 1), (3, 1), (4, 1)])
        self.insert(LOOKUP, {"hdr.ethernet.dstAddr": mac("08:00:00:00:03:33")},
                    "MyIngress.mac_forward", {"port": 3})
        frame = bytes(tu.simple_udp_packet(eth_dst="08:00:00:00:03:33"))
        tu.send_packet(self, 1, frame)
        tu.verify_packet(self, frame, 3)
        tu.verify_no_other_packets(self)


class EmptyGroupFloodsNowhere(P4RuntimeTest):
    def runTest(self) -> None:
        # Group 1 not created: the replication engine has nothing to copy to.
        tu.send_packet(self, 2, bytes(tu.simple_udp_packet(eth_dst="08:00:00:00:09:99")))
        tu.verify_no_other_packets(self)
