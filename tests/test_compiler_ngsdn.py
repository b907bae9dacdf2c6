"""ngsdn-tutorial's main.p4 (ONF's SRv6/IPv6 fabric exercise) as kvick builds it behaves as
p4c's build does.

Three builds run the same checks: kvick's compile of the tutorial's solution
(tests/p4/ngsdn_tutorial_main.p4, copied unchanged from opennetworkinglab/ngsdn-tutorial),
kvick's compile of finsy's copy of it (../shared/finsy/examples/ngsdn: packet-outs carry a
15-bit magic value, the clone keeps the ingress port with clone_preserving_field_list) and p4c's
BMv2 JSON of that copy, which ships beside it with p4c's P4Info. kvick's P4Info must equal
p4c's. The checks are what the tutorial's own PTF tests (solution/ptf/tests, Python 2) check,
over P4Runtime with the same entries: L2 bridging and NDP/ARP broadcast with a clone to the
CPU, packet-out and packet-in, the NDP neighbour advertisement the switch generates, IPv6
routing through the ECMP action selector, SRv6 insert, transit, end and end with
penultimate-segment pop. On top, the selector's member choice per flow is the same in p4c's
and kvick's builds (same hash inputs in the same order).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from ngsdn_bed import CPU_PORT, Bed
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptSrcLLAddr,
    IPv6,
    IPv6ExtHdrSegmentRouting,
    in6_getnsma,
    in6_getnsmac,
)
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet
from scapy.pton_ntop import inet_ntop, inet_pton
from shared_data import SHARED, missing

from target.compiler.compare import p4info_differences
from target.compiler.driver import compile_file

FINSY = SHARED / "finsy" / "examples" / "ngsdn" / "ngsdn" / "p4"
TUTORIAL = Path(__file__).parent / "p4" / "ngsdn_tutorial_main.p4"
BUILDS = ("kvick-tutorial", "kvick-finsy", "p4c-finsy")
CLONE_SESSION = 99
PRIORITY = 10
SWITCH1_MAC, SWITCH2_MAC, SWITCH3_MAC = "00:00:00:00:aa:01", "00:00:00:00:aa:02", "00:00:00:00:aa:03"
HOST1_MAC, HOST2_MAC = "00:00:00:00:00:01", "00:00:00:00:00:02"
SWITCH1_IPV6, SWITCH2_IPV6 = "2001:0:1::1", "2001:0:2::1"
SWITCH3_IPV6, SWITCH4_IPV6 = "2001:0:3::1", "2001:0:4::1"
HOST1_IPV6, HOST2_IPV6 = "2001:0:85a3::8a2e:370:1111", "2001:0:85a3::8a2e:370:2222"
ETH = {"dst": "00:01:02:03:04:05", "src": "00:06:07:08:09:0a"}
V6 = {"src": "2001:db8:85a3::8a2e:370:7334", "dst": "2001:db8:85a3::8a2e:370:7335"}
PAYLOAD = bytes(range(40))


def _finsy(name: str) -> Path:
    path = FINSY / name
    if not path.exists():
        pytest.skip(missing(path))
    return path


@functools.cache
def _build(name: str) -> tuple[bytes, str]:
    """(BMv2 JSON, P4Info text) of one build."""
    if name == "kvick-tutorial":
        program, info = compile_file(TUTORIAL)
    elif name == "kvick-finsy":
        program, info = compile_file(_finsy("main.p4"))
    else:
        return _finsy("main.json").read_bytes(), _finsy("main.p4info.txtpb").read_text()
    return json.dumps(program).encode(), info


@pytest.fixture(params=BUILDS)
def bed(request):  # noqa: ANN201
    running = Bed(*_build(request.param))
    yield running
    running.close()


def test_kvick_p4info_is_p4cs() -> None:
    assert p4info_differences(_build("kvick-finsy")[1], _finsy("main.p4info.txtpb")) == []


# ---------------------------------------------------------------------- packets (as ptf's)
def _l4(kind: str) -> list[Packet]:
    return {"tcp": [TCP(sport=1234, dport=80)], "udp": [UDP(sport=1234, dport=80)],
            "icmp": [ICMP()], "icmpv6": [ICMPv6EchoRequest()]}[kind]


def _v4(kind: str) -> Packet:
    return Ether(**ETH) / IP(src="192.168.0.1", dst="192.168.0.2", ttl=64) / _l4(kind)[0] / PAYLOAD


def _v6(kind: str, **ip: object) -> Packet:
    return Ether(**ETH) / IPv6(**{**V6, "hlim": 64, **ip}) / _l4(kind)[0] / PAYLOAD


def _arp(**kw: object) -> Packet:
    eth = {"dst": kw.pop("eth_dst", "ff:ff:ff:ff:ff:ff"), "src": kw.pop("eth_src", ETH["src"])}
    return Ether(**eth) / ARP(hwsrc=eth["src"], psrc="192.168.0.1", pdst="192.168.0.2", **kw)


def _ndp_ns(target_ip: str, src_mac: str = HOST1_MAC, src_ip: str = HOST1_IPV6) -> Packet:
    nsma = in6_getnsma(inet_pton(10, target_ip))
    return (Ether(src=src_mac, dst=in6_getnsmac(nsma))
            / IPv6(dst=inet_ntop(10, nsma), src=src_ip, hlim=255)
            / ICMPv6ND_NS(tgt=target_ip) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))


def _ndp_na(target_ip: str, target_mac: str, src_mac: str = SWITCH1_MAC,
            dst_mac: str = "33:33:00:00:00:01", src_ip: str = SWITCH1_IPV6,
            dst_ip: str = HOST1_IPV6) -> Packet:
    return (Ether(src=src_mac, dst=dst_mac) / IPv6(dst=dst_ip, src=src_ip, hlim=255)
            / ICMPv6ND_NA(tgt=target_ip) / ICMPv6NDOptDstLLAddr(lladdr=target_mac))


def _routed(pkt: Packet, next_hop_mac: str) -> Packet:
    pkt = pkt.copy()
    pkt[Ether].src, pkt[Ether].dst = pkt[Ether].dst, next_hop_mac
    pkt[IPv6].hlim -= 1
    return pkt


def _with_srv6(pkt: Packet, sids: list[str]) -> Packet:
    """The packet as the SRv6 source (srv6_t_insert_N) leaves it, before routing."""
    pkt = Ether(bytes(pkt))  # built: next header and lengths are the real ones
    inner = pkt[IPv6].payload
    pkt[IPv6].dst = sids[0]
    pkt[IPv6].plen = None
    pkt[IPv6].remove_payload()
    pkt[IPv6].add_payload(IPv6ExtHdrSegmentRouting(
        nh=pkt[IPv6].nh, addresses=sids[::-1], len=len(sids) * 2, segleft=len(sids) - 1,
        lastentry=len(sids) - 1) / inner)
    pkt[IPv6].nh = 43
    return pkt


def _fixed_l4_checksum(pkt: Packet) -> Packet:
    """The program does not update L4 checksums: both sides carry the same fixed one."""
    if TCP in pkt or UDP in pkt:
        pkt[TCP if TCP in pkt else UDP].chksum = 1
    if ICMPv6EchoRequest in pkt:
        pkt[ICMPv6EchoRequest].cksum = 1
    return pkt


# ---------------------------------------------------------------------- bridging
def _l2_broadcast_entries(bed: Bed) -> None:
    bed.multicast_group(10, [1, 2, 3])
    for value, mask in (("ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"),
                        ("33:33:00:00:00:00", "ff:ff:00:00:00:00")):
        bed.table_entry("IngressPipeImpl.l2_ternary_table",
                        {"hdr.ethernet.dst_addr": (value, mask)},
                        "IngressPipeImpl.set_multicast_group", {"gid": 10}, priority=PRIORITY)
    bed.clone_session(CLONE_SESSION, [CPU_PORT])


def _acl_clone(bed: Bed, ether_type: int, icmp_type: int | None = None) -> None:
    match: dict[str, object] = {"hdr.ethernet.ether_type": (ether_type, 0xFFFF)}
    if icmp_type is not None:
        match |= {"local_metadata.ip_proto": (58, 0xFF), "local_metadata.icmp_type": (icmp_type, 0xFF)}
    bed.table_entry("IngressPipeImpl.acl_table", match, "IngressPipeImpl.clone_to_cpu",
                    priority=PRIORITY)


def test_arp_and_ndp_requests_are_broadcast_and_cloned_to_the_cpu(bed: Bed) -> None:
    _l2_broadcast_entries(bed)
    _acl_clone(bed, 0x0806)
    _acl_clone(bed, 0x86DD, icmp_type=135)
    for pkt in (_arp(), _ndp_ns(HOST2_IPV6)):
        frame = bytes(pkt)
        for inport in (1, 2, 3):
            bed.send(inport, frame)
            assert bed.packet_ins(1) == [(frame, {"ingress_port": inport, "_pad": 0})]
            # Replicated to the group's ports except the one it came in on (egress drops it).
            assert bed.outputs(2) == [(p, frame) for p in (1, 2, 3) if p != inport]


def test_arp_and_ndp_replies_are_unicast_and_cloned(bed: Bed) -> None:
    bed.clone_session(CLONE_SESSION, [CPU_PORT])
    _acl_clone(bed, 0x0806)
    _acl_clone(bed, 0x86DD, icmp_type=136)
    for pkt in (_arp(eth_src=HOST1_MAC, eth_dst=HOST2_MAC, op=2),
                _ndp_na(HOST1_IPV6, HOST1_MAC)):
        frame = bytes(pkt)
        bed.table_entry("IngressPipeImpl.l2_exact_table", {"hdr.ethernet.dst_addr": pkt[Ether].dst},
                        "IngressPipeImpl.set_egress_port", {"port_num": 2})
        bed.send(1, frame)
        assert bed.packet_ins(1) == [(frame, {"ingress_port": 1, "_pad": 0})]
        assert bed.outputs(1) == [(2, frame)]


@pytest.mark.parametrize("kind", ["tcp", "udp", "icmp", "tcpv6", "udpv6", "icmpv6"])
def test_bridging_both_ways(bed: Bed, kind: str) -> None:
    pkt = _v6(kind[:-2]) if kind.endswith("v6") else _v4(kind)
    back = pkt.copy()
    back[Ether].src, back[Ether].dst = pkt[Ether].dst, pkt[Ether].src
    for dst, port in ((pkt[Ether].dst, 2), (back[Ether].dst, 1)):
        bed.table_entry("IngressPipeImpl.l2_exact_table", {"hdr.ethernet.dst_addr": dst},
                        "IngressPipeImpl.set_egress_port", {"port_num": port})
    bed.send(1, bytes(pkt))
    bed.send(2, bytes(back))
    assert bed.outputs(2) == sorted([(2, bytes(pkt)), (1, bytes(back))])
    bed.send(3, bytes(Ether(dst="00:00:00:00:99:99") / IP() / PAYLOAD))  # no entry: dropped
    assert bed.outputs(0) == []


def test_unknown_destination_without_entries_is_dropped(bed: Bed) -> None:
    bed.send(1, bytes(_v6("udp")))
    assert bed.outputs(0) == []
    assert bed.packet_ins(0, settle=0.1) == []


# ---------------------------------------------------------------------- packet I/O
@pytest.mark.parametrize("kind", ["tcp", "udp", "icmp", "arp", "tcpv6", "udpv6", "icmpv6"])
def test_packet_out_leaves_on_the_port_it_names(bed: Bed, kind: str) -> None:
    pkt = _arp() if kind == "arp" else _v6(kind[:-2]) if kind.endswith("v6") else _v4(kind)
    for port in (1, 2):
        bed.packet_out(bytes(pkt), port)
        assert bed.outputs(1) == [(port, bytes(pkt))]


@pytest.mark.parametrize("kind", ["tcp", "arp", "udpv6", "icmpv6"])
def test_packet_in_by_ether_type(bed: Bed, kind: str) -> None:
    pkt = _arp() if kind == "arp" else _v6(kind[:-2]) if kind.endswith("v6") else _v4(kind)
    bed.clone_session(CLONE_SESSION, [CPU_PORT])
    _acl_clone(bed, pkt[Ether].type)
    for port in (1, 2, 3):
        bed.send(port, bytes(pkt))
        assert bed.packet_ins(1) == [(bytes(pkt), {"ingress_port": port, "_pad": 0})]
    assert bed.outputs(0, settle=0.1) == []  # no L2 entry: only the clone goes anywhere


def test_acl_send_to_cpu_punts_instead_of_forwarding(bed: Bed) -> None:
    pkt = _v6("udp")
    bed.table_entry("IngressPipeImpl.l2_exact_table", {"hdr.ethernet.dst_addr": ETH["dst"]},
                    "IngressPipeImpl.set_egress_port", {"port_num": 2})
    bed.table_entry("IngressPipeImpl.acl_table", {"local_metadata.l4_dst_port": (80, 0xFFFF)},
                    "IngressPipeImpl.send_to_cpu", priority=PRIORITY)
    bed.send(4, bytes(pkt))
    assert bed.packet_ins(1) == [(bytes(pkt), {"ingress_port": 4, "_pad": 0})]
    assert bed.outputs(0, settle=0.1) == []
    other = _v6("udp")
    other[UDP].dport = 81
    bed.send(4, bytes(other))
    assert bed.outputs(1) == [(2, bytes(other))]


# ---------------------------------------------------------------------- routing
def test_ndp_solicitation_for_the_switch_is_answered(bed: Bed) -> None:
    bed.table_entry("IngressPipeImpl.ndp_reply_table", {"hdr.ndp.target_ipv6_addr": SWITCH1_IPV6},
                    "IngressPipeImpl.ndp_ns_to_na", {"target_mac": SWITCH1_MAC})
    pkt = _ndp_ns(SWITCH1_IPV6)
    expected = _ndp_na(SWITCH1_IPV6, SWITCH1_MAC, src_mac=SWITCH1_MAC, src_ip=SWITCH1_IPV6,
                       dst_ip=pkt[IPv6].src)
    bed.send(1, bytes(pkt))
    assert bed.outputs(1) == [(1, bytes(expected))]  # ICMPv6 checksum recomputed as scapy does
    bed.send(1, bytes(_ndp_ns(SWITCH2_IPV6)))  # not the switch's address, no L2 entry
    assert bed.outputs(0) == []


def _route_entries(bed: Bed, my_mac: str, dst: str, next_hop_macs: list[str], port: int = 2) -> None:
    bed.table_entry("IngressPipeImpl.my_station_table", {"hdr.ethernet.dst_addr": my_mac}, "NoAction")
    bed.selector_group("IngressPipeImpl.ecmp_selector", 1,
                       [("IngressPipeImpl.set_next_hop", {"dmac": mac}) for mac in next_hop_macs])
    bed.table_entry("IngressPipeImpl.routing_v6_table", {"hdr.ipv6.dst_addr": (dst, 128)},
                    group_id=1)
    for k, mac in enumerate(next_hop_macs):
        bed.table_entry("IngressPipeImpl.l2_exact_table", {"hdr.ethernet.dst_addr": mac},
                        "IngressPipeImpl.set_egress_port", {"port_num": port + k})


@pytest.mark.parametrize("kind", ["tcp", "udp", "icmpv6"])
def test_ipv6_routing(bed: Bed, kind: str) -> None:
    pkt = _v6(kind)
    _route_entries(bed, pkt[Ether].dst, pkt[IPv6].dst, [SWITCH2_MAC])
    bed.send(1, bytes(pkt))
    assert bed.outputs(1) == [(2, bytes(_routed(pkt, SWITCH2_MAC)))]
    # Hop limit 1 reaches 0 and drop() marks the packet, but the L2 table applied after it
    # sets egress_spec again, so the packet leaves with hop limit 0 (p4c's build does too).
    last_hop = _v6(kind, hlim=1)
    bed.send(1, bytes(last_hop))
    assert bed.outputs(1) == [(2, bytes(_routed(last_hop, SWITCH2_MAC)))]
    bed.send(1, bytes(_v6(kind, dst="2001:db8::99")))  # no route: bridged by MAC, no L2 entry
    assert bed.outputs(0) == []


def _ecmp_choices(name: str) -> list[int]:
    bed = Bed(*_build(name))
    try:
        macs = [SWITCH1_MAC, SWITCH2_MAC, SWITCH3_MAC]
        _route_entries(bed, ETH["dst"], V6["dst"], macs)
        choices = []
        for flow in range(24):
            pkt = _v6("tcp", fl=flow * 7919)
            pkt[TCP].sport = 1000 + flow
            bed.send(1, bytes(pkt))
            [(port, frame)] = bed.outputs(1, settle=0.05)
            assert frame == bytes(_routed(pkt, macs[port - 2]))
            choices.append(port)
        return choices
    finally:
        bed.close()


def test_ecmp_member_choice_per_flow_is_p4cs() -> None:
    """Flows spread over the selector's members, each as p4c's build sends it."""
    theirs = _ecmp_choices("p4c-finsy")
    assert len(set(theirs)) == 3, theirs
    assert _ecmp_choices("kvick-finsy") == theirs
    assert _ecmp_choices("kvick-tutorial") == theirs


# ---------------------------------------------------------------------- SRv6
SID_LISTS = ([SWITCH2_IPV6, SWITCH3_IPV6, HOST2_IPV6], [SWITCH2_IPV6, HOST2_IPV6])


@pytest.mark.parametrize("sids", SID_LISTS, ids=["3sids", "2sids"])
@pytest.mark.parametrize("kind", ["tcp", "udp", "icmpv6"])
def test_srv6_insert(bed: Bed, kind: str, sids: list[str]) -> None:
    pkt = _fixed_l4_checksum(_v6(kind))
    bed.table_entry("IngressPipeImpl.srv6_transit", {"hdr.ipv6.dst_addr": (pkt[IPv6].dst, 128)},
                    f"IngressPipeImpl.srv6_t_insert_{len(sids)}",
                    {f"s{k + 1}": sid for k, sid in enumerate(sids)})
    _route_entries(bed, pkt[Ether].dst, sids[0], [SWITCH2_MAC])
    bed.send(1, bytes(pkt))
    expected = _routed(_with_srv6(pkt, sids), SWITCH2_MAC)
    assert bed.outputs(1) == [(2, bytes(expected))]


@pytest.mark.parametrize("sids", SID_LISTS, ids=["3sids", "2sids"])
@pytest.mark.parametrize("kind", ["tcp", "udp", "icmpv6"])
def test_srv6_transit_routes_unchanged(bed: Bed, kind: str, sids: list[str]) -> None:
    pkt = _with_srv6(_fixed_l4_checksum(_v6(kind)), sids)
    bed.table_entry("IngressPipeImpl.srv6_my_sid", {"hdr.ipv6.dst_addr": (SWITCH1_IPV6, 128)},
                    "IngressPipeImpl.srv6_end")
    _route_entries(bed, pkt[Ether].dst, pkt[IPv6].dst, [SWITCH2_MAC])
    bed.send(1, bytes(pkt))
    assert bed.outputs(1) == [(2, bytes(_routed(pkt, SWITCH2_MAC)))]


@pytest.mark.parametrize("sids", [[SWITCH2_IPV6, SWITCH3_IPV6, HOST2_IPV6],
                                  [SWITCH2_IPV6, SWITCH3_IPV6, SWITCH4_IPV6, HOST2_IPV6]],
                         ids=["3sids", "4sids"])
@pytest.mark.parametrize("kind", ["tcp", "udp", "icmpv6"])
def test_srv6_end_moves_to_the_next_segment(bed: Bed, kind: str, sids: list[str]) -> None:
    pkt = _with_srv6(_fixed_l4_checksum(_v6(kind)), sids)
    bed.table_entry("IngressPipeImpl.srv6_my_sid", {"hdr.ipv6.dst_addr": (SWITCH2_IPV6, 128)},
                    "IngressPipeImpl.srv6_end")
    _route_entries(bed, pkt[Ether].dst, sids[1], [SWITCH3_MAC])
    bed.send(1, bytes(pkt))
    expected = pkt.copy()
    expected[IPv6].dst = sids[1]
    expected[IPv6ExtHdrSegmentRouting].segleft -= 1
    assert bed.outputs(1) == [(2, bytes(_routed(expected, SWITCH3_MAC)))]


@pytest.mark.parametrize("kind", ["tcp", "udp", "icmpv6"])
def test_srv6_end_with_penultimate_segment_pop(bed: Bed, kind: str) -> None:
    sids = [SWITCH3_IPV6, HOST2_IPV6]
    pkt = _with_srv6(_fixed_l4_checksum(_v6(kind)), sids)
    bed.table_entry("IngressPipeImpl.srv6_my_sid", {"hdr.ipv6.dst_addr": (SWITCH3_IPV6, 128)},
                    "IngressPipeImpl.srv6_end")
    _route_entries(bed, pkt[Ether].dst, HOST2_IPV6, [HOST2_MAC])
    bed.send(1, bytes(pkt))
    expected = pkt.copy()
    expected[IPv6].dst = HOST2_IPV6
    expected[IPv6].nh = expected[IPv6ExtHdrSegmentRouting].nh
    expected[IPv6].payload = expected[IPv6ExtHdrSegmentRouting].payload
    expected[IPv6].plen = None
    assert bed.outputs(1) == [(2, bytes(_routed(expected, HOST2_MAC)))]
