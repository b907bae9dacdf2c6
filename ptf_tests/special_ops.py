"""v1model-special-ops-bmv2 (p4c's test of v1model's packet operations) over real ports: clone
from ingress and from egress to a mirror port, multicast with a per-replica rewrite, resubmit
and recirculate. The same cases as the program's STF test, on this suite's ports 1-4."""

from __future__ import annotations

from base import P4RuntimeTest, ipv4, mac
from ptf import testutils as tu
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

HOST_DST, HOST_SRC = "52:54:00:12:35:02", "08:00:27:f8:7b:ea"
I2E_SESSION, E2E_SESSION = 5, 11   # constants of the program
# The 8-byte header the program's egress puts in front of a clone, by clone kind.
I2E_CLONE_HEADER = bytes.fromhex("012e012e5a5a5a5a")
E2E_CLONE_HEADER = bytes.fromhex("0e2e0e2e5a5a5a5a")


def frame(dst_ip: str, *, eth_dst: str = HOST_DST, eth_src: str = HOST_SRC,
          src_ip: str = "10.0.2.15", ttl: int = 64) -> bytes:
    return raw(Ether(dst=eth_dst, src=eth_src) / IP(dst=dst_ip, src=src_ip, ttl=ttl, id=1)
               / UDP(sport=5793, dport=80))


def rewritten(sent: bytes, *, eth_dst: str, eth_src: str, src_ip: str, dst_ip: str,
              ttl: int) -> bytes:
    """`sent` with new addresses and TTL, the IPv4 checksum recomputed and the UDP checksum
    kept: the program does not update it."""
    packet = Ether(sent)
    packet.dst, packet.src = eth_dst, eth_src
    packet[IP].src, packet[IP].dst, packet[IP].ttl = src_ip, dst_ip, ttl
    del packet[IP].chksum
    return raw(packet)


class SpecialOpsTest(P4RuntimeTest):
    def lpm(self, address: str, action: str, **params: int) -> None:
        self.insert("ingress.ipv4_da_lpm", {"hdr.ipv4.dstAddr": (ipv4(address), 32)},
                    "ingress." + action, params)

    def mac_da(self, l2ptr: int, bd: int, dmac: str, intf: int) -> None:
        self.insert("ingress.mac_da", {"meta.fwd.l2ptr": l2ptr}, "ingress.set_bd_dmac_intf",
                    {"bd": bd, "dmac": mac(dmac), "intf": intf})

    def send_frame(self, bd: int, action: str, **params: int) -> None:
        self.insert("egress.send_frame", {"meta.fwd.out_bd": bd}, "egress." + action, params)


class CloneIngressToMirrorPort(SpecialOpsTest):
    """clone(I2E): the original is routed to port 1, the clone, taken before ingress changed
    anything, leaves on the session's mirror port 4 behind the program's clone header."""

    def runTest(self) -> None:
        self.lpm("10.3.0.55", "do_clone_i2e", l2ptr=0xD00D)
        self.mac_da(0xD00D, 9, "02:13:57:0d:d0:ff", 1)
        self.send_frame(9, "rewrite_mac", smac=mac("00:11:22:33:44:55"))
        self.clone_session(I2E_SESSION, [4])
        sent = frame("10.3.0.55")
        tu.send_packet(self, 2, sent)
        tu.verify_packet(self, frame("10.3.0.55", eth_dst="02:13:57:0d:d0:ff",
                                     eth_src="00:11:22:33:44:55", ttl=63), 1)
        tu.verify_packet(self, I2E_CLONE_HEADER + sent, 4)
        tu.verify_no_other_packets(self)


class CloneEgressToMirrorPort(SpecialOpsTest):
    """clone(E2E): the clone is the packet as egress emitted it (new MACs, TTL 63)."""

    def runTest(self) -> None:
        self.lpm("10.47.1.1", "set_l2ptr", l2ptr=0xBEEF)
        self.mac_da(0xBEEF, 26, "02:13:57:ef:be:ff", 2)
        self.send_frame(26, "do_clone_e2e", smac=mac("00:11:22:33:55:44"))
        self.clone_session(E2E_SESSION, [3])
        tu.send_packet(self, 1, frame("10.47.1.1"))
        out = frame("10.47.1.1", eth_dst="02:13:57:ef:be:ff", eth_src="00:11:22:33:55:44",
                    ttl=63)
        tu.verify_packet(self, out, 2)
        tu.verify_packet(self, E2E_CLONE_HEADER + out, 3)
        tu.verify_no_other_packets(self)


class NoCloneWithoutSession(SpecialOpsTest):
    """Cloning to a session nobody configured makes no copy; the original still goes out."""

    def runTest(self) -> None:
        self.lpm("10.3.0.55", "do_clone_i2e", l2ptr=0xD00D)
        self.mac_da(0xD00D, 9, "02:13:57:0d:d0:ff", 1)
        self.send_frame(9, "rewrite_mac", smac=mac("00:11:22:33:44:55"))
        tu.send_packet(self, 2, frame("10.3.0.55"))
        tu.verify_packet(self, frame("10.3.0.55", eth_dst="02:13:57:0d:d0:ff",
                                     eth_src="00:11:22:33:44:55", ttl=63), 1)
        tu.verify_no_other_packets(self)


class MulticastRewritesEachReplica(SpecialOpsTest):
    """Three replicas on ports 2-4, told apart in egress by their replication id: each gets
    its own source MAC."""

    def runTest(self) -> None:
        self.lpm("225.1.2.3", "set_mcast_grp", mcast_grp=1113)
        self.multicast_group(1113, [(2, 400), (3, 401), (4, 402)])
        for rid, bd in ((400, 10), (401, 11), (402, 12)):
            self.insert("egress.get_multicast_copy_out_bd",
                        {"standard_metadata.mcast_grp": 1113, "standard_metadata.egress_rid": rid},
                        "egress.set_out_bd", {"bd": bd})
            self.send_frame(bd, "rewrite_mac", smac=mac(f"00:11:22:33:{bd:02x}:55"))
        tu.send_packet(self, 1, frame("225.1.2.3"))
        copies = [frame("225.1.2.3", eth_src=f"00:11:22:33:{bd:02x}:55") for bd in (10, 11, 12)]
        tu.verify_each_packet_on_each_port(self, copies, [2, 3, 4])
        tu.verify_no_other_packets(self)


class ResubmitAndRecirculate(SpecialOpsTest):
    """resubmit runs ingress again on the original packet; recirculate runs the emitted packet
    through ingress again (the program rewrites the source address on each second pass)."""

    def runTest(self) -> None:
        self.lpm("10.1.0.101", "do_resubmit", new_ipv4_dstAddr=ipv4("10.1.0.1"))
        self.mac_da(0xE50B, 9, "02:13:57:0b:e5:ff", 2)
        self.send_frame(9, "rewrite_mac", smac=mac("00:11:22:33:44:55"))
        sent = frame("10.1.0.101")
        tu.send_packet(self, 1, sent)
        tu.verify_packet(self, rewritten(sent, eth_dst="02:13:57:0b:e5:ff",
                                         eth_src="00:11:22:33:44:55", src_ip="10.252.129.2",
                                         dst_ip="10.1.0.101", ttl=63), 2)
        self.lpm("10.1.0.201", "set_l2ptr", l2ptr=0xCAFE)
        self.mac_da(0xCAFE, 14, "02:13:57:fe:ca:ff", 3)
        self.send_frame(14, "do_recirculate", new_ipv4_dstAddr=ipv4("10.1.0.2"))
        self.mac_da(0xEC1C, 9, "02:13:57:1c:ec:ff", 2)
        sent = frame("10.1.0.201")
        tu.send_packet(self, 1, sent)
        tu.verify_packet(self, rewritten(sent, eth_dst="02:13:57:1c:ec:ff",
                                         eth_src="00:11:22:33:44:55", src_ip="10.199.86.99",
                                         dst_ip="10.1.0.2", ttl=62), 2)
        tu.verify_no_other_packets(self)
