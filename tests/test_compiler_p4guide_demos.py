"""Behaviour of kvick's builds of p4-guide's v1model demos that have no PTF tests of their own.

The P4 sources in tests/p4/p4guide/ are copied unchanged from github.com/jafingerhut/p4-guide
(Apache-2.0, headers kept); the entries are those each demo's README gives for simple_switch_CLI
and the expected forwarding is what the README and the source define.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from target import Exact, Lpm, Switch
from target.compiler.driver import compile_file

DEMOS = Path(__file__).parent / "p4" / "p4guide"


@functools.cache
def compiled(name: str) -> tuple[dict[str, Any], str]:
    return compile_file(DEMOS / name)


def switch(name: str) -> Switch:
    document, p4info = compiled(name)
    sw = Switch()
    sw.load(document, p4info=p4info)
    return sw


def ip4(text: str) -> int:
    return int.from_bytes(bytes(int(b) for b in text.split(".")), "big")


def mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


def ipv4_frame(dst: str, ttl: int = 64) -> bytes:
    return bytes(Ether(src="00:00:00:00:00:01", dst="00:00:00:00:00:02")
                 / IP(src="1.2.3.4", dst=dst, ttl=ttl) / TCP(sport=5793, dport=80))


# demo3 (and demo5, its variant): LPM route -> l2ptr (or ECMP group -> path) -> mac_da rewrite
# and egress port, then egress send_frame rewrites the source MAC per out_bd.
def add_routes(sw: Switch, ingress: str = "ingressImpl", egress: str = "egressImpl") -> int:
    action = f"{ingress}.set_l2ptr_with_stat"
    handle = sw.table_add(f"{ingress}.ipv4_da_lpm", [Lpm(ip4("10.1.0.1"), 32)], action, [58])
    sw.table_add(f"{ingress}.mac_da", [Exact(58)], f"{ingress}.set_bd_dmac_intf",
                 [9, mac("02:13:57:ab:cd:ef"), 2])
    sw.table_add(f"{egress}.send_frame", [Exact(9)], f"{egress}.rewrite_mac",
                 [mac("00:11:22:33:44:55")])
    sw.table_add(f"{ingress}.ipv4_da_lpm", [Lpm(ip4("10.1.0.200"), 32)], action, [81])
    sw.table_add(f"{ingress}.mac_da", [Exact(81)], f"{ingress}.set_bd_dmac_intf",
                 [15, mac("08:de:ad:be:ef:00"), 1])
    sw.table_add(f"{egress}.send_frame", [Exact(15)], f"{egress}.rewrite_mac",
                 [mac("ca:fe:ba:be:d0:0d")])
    return handle


def add_ecmp_group(sw: Switch, ingress: str = "ingressImpl", egress: str = "egressImpl") -> None:
    sw.table_add(f"{ingress}.mac_da", [Exact(101)], f"{ingress}.set_bd_dmac_intf",
                 [22, mac("08:de:ad:be:ef:00"), 3])
    sw.table_add(f"{egress}.send_frame", [Exact(22)], f"{egress}.rewrite_mac",
                 [mac("ca:fe:ba:be:d0:0d")])
    sw.table_add(f"{ingress}.ipv4_da_lpm", [Lpm(ip4("11.1.0.1"), 32)],
                 f"{ingress}.set_ecmp_group_idx", [67])
    sw.table_add(f"{ingress}.ecmp_group", [Exact(67)], f"{ingress}.set_ecmp_path_idx", [3])
    for selector, l2ptr in enumerate([81, 58, 101]):
        sw.table_add(f"{ingress}.ecmp_path", [Exact(67), Exact(selector)],
                     f"{ingress}.set_l2ptr", [l2ptr])


def check_ecmp_spread(sw: Switch) -> None:
    frames = [bytes(Ether() / IP(src=f"1.2.3.{i}", dst="11.1.0.1") / TCP()) for i in range(60)]
    out = sw.process([(5, f) for f in frames])
    assert len(out) == 60
    # The path is crc16(src, dst, proto) mod 3: p4c/BMv2's choice, recomputed here.
    ports = {81: 1, 58: 2, 101: 3}
    expected = [ports[[81, 58, 101][crc16_path(f)]] for f in frames]
    assert [port for port, _ in out] == expected
    assert set(expected) == {1, 2, 3}


def checksum_is_valid(frame: bytes) -> bool:
    sent = Ether(frame)[IP]
    expected = IP(bytes(sent))
    del expected.chksum
    return sent.chksum == IP(bytes(expected)).chksum


def test_demo3_routes_rewrites_macs_decrements_ttl_and_counts() -> None:
    sw = switch("demo3.p4_16.p4")
    handle = add_routes(sw)
    out = sw.process([(5, ipv4_frame("10.1.0.1")), (5, ipv4_frame("10.1.0.200", ttl=9)),
                      (5, ipv4_frame("10.1.0.1"))])
    assert [port for port, _ in out] == [2, 1, 2]
    first, second = (Ether(out[0][1]), Ether(out[1][1]))
    assert (first.dst, first.src, first[IP].ttl) == ("02:13:57:ab:cd:ef", "00:11:22:33:44:55", 63)
    assert (second.dst, second.src, second[IP].ttl) == ("08:de:ad:be:ef:00", "ca:fe:ba:be:d0:0d", 8)
    # The checksum is recomputed over the rewritten header (update_checksum, csum16).
    assert checksum_is_valid(out[1][1])
    # The direct counter counts each hit of its entry.
    assert sw.direct_counter_read("ingressImpl.ipv4_da_lpm", handle)[0] == 2


def test_demo3_drops_unrouted_packets_by_default() -> None:
    sw = switch("demo3.p4_16.p4")
    add_routes(sw)
    assert sw.process([(5, ipv4_frame("10.1.0.2")), (5, ipv4_frame("10.9.9.9"))]) == []
    assert [port for port, _ in sw.process([(5, ipv4_frame("10.1.0.200"))])] == [1]


def test_demo3_ecmp_group_spreads_flows_over_its_paths() -> None:
    sw = switch("demo3.p4_16.p4")
    add_routes(sw)
    add_ecmp_group(sw)
    check_ecmp_spread(sw)


def crc16_path(frame: bytes) -> int:
    ip = IP(frame[14:])
    data = bytes(int(b) for b in ip.src.split(".")) + bytes(int(b) for b in ip.dst.split(".")) \
        + bytes([ip.proto])
    return crc16_bmv2(data) % 3


def crc16_bmv2(data: bytes) -> int:
    # BMv2's crc16 is CRC-16/ARC: reflected polynomial 0x8005 (0xA001), init 0, no final xor.
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


# demo-if-stmts1: if statements in a parser state, in actions (predicated), in functions
# inlined into an action and into the apply block (the latter counting under its if), and in
# egress, which reports three metadata bits in the low byte of the destination MAC.
def if_stmts_frame(dst: str, src: str) -> bytes:
    return bytes(Ether(dst=dst, src=src) / IP(src="1.2.3.4", dst="10.0.0.1") / TCP())


def test_demo_if_stmts1_function_in_apply_block_counts_only_under_its_if() -> None:
    sw = switch("demo-if-stmts1.p4")
    sw.table_add("ingressImpl.ipv4_da", [Exact(ip4("10.0.0.1"))], "ingressImpl.set_port1", [4])
    low = if_stmts_frame("00:00:00:10:22:33", "00:00:00:00:00:01")
    high = if_stmts_frame("00:00:00:90:22:33", "01:00:00:00:00:01")
    out = sw.process([(1, low), (1, high), (1, high)])
    assert [port for port, _ in out] == [4, 4, 4]
    # dst[23:16]: 0x10 -> 0x11 (x+1), 0x90 -> 0x8f (x-1, counting index 0x90); the low byte
    # carries smac_is_mcast (bit 7), dmac_is_mcast (bit 6) and smac_lsb_is_de (bit 5).
    assert Ether(out[0][1]).dst == "00:00:00:11:22:00"
    assert Ether(out[1][1]).dst == "00:00:00:8f:22:80"
    assert sw.counter_read("mycounter", 0x90) == (2, 2 * len(high))
    assert sw.counter_read("mycounter", 0x10)[0] == 0


def test_demo_if_stmts1_predicated_if_and_function_inside_an_action() -> None:
    sw = switch("demo-if-stmts1.p4")
    sw.table_add("ingressImpl.ipv4_da", [Exact(ip4("10.0.0.1"))], "ingressImpl.set_port2", [7])
    out = sw.process([(1, if_stmts_frame("01:00:00:00:05:33", "00:00:00:00:00:de")),
                      (1, if_stmts_frame("00:00:00:00:f0:33", "00:00:00:00:00:df"))])
    assert [port for port, _ in out] == [7, 7]
    # dst[15:8] goes through myfunc1 (0x05 -> 0x06, 0xf0 -> 0xef); dmac multicast sets bit 6,
    # a source MAC ending in 0xde sets bit 5.
    assert Ether(out[0][1]).dst == "01:00:00:01:06:60"
    assert Ether(out[1][1]).dst == "00:00:00:01:ef:00"


def test_demo_if_stmts1_counts_by_action_parameter_and_drops_misses() -> None:
    sw = switch("demo-if-stmts1.p4")
    sw.table_add("ingressImpl.ipv4_da", [Exact(ip4("10.0.0.1"))], "ingressImpl.set_port3",
                 [2, 0x21])
    miss = bytes(Ether() / IP(dst="10.0.0.2") / TCP())
    out = sw.process([(1, if_stmts_frame("00:00:00:00:00:00", "00:00:00:00:00:00")), (1, miss)])
    assert [port for port, _ in out] == [2]
    assert sw.counter_read("mycounter", 0x21)[0] == 1
    # A non-IPv4 frame skips the table: egress_spec keeps its initial 0 (BMv2 sends it out of
    # port 0), and the apply block and egress still rewrite its destination MAC.
    other = bytes(Ether(dst="00:00:00:c0:00:00", src="01:00:00:00:00:de", type=0x88b5) / bytes(46))
    out = sw.process([(1, other)])
    assert [port for port, _ in out] == [0]
    assert Ether(out[0][1]).dst == "00:00:00:bf:00:80"
    assert sw.counter_read("mycounter", 0xc0)[0] == 1


# demo5: demo3 plus if statements in an action and in the apply block, a nested action call
# and an action declared at the top level used by a table.
def test_demo5_conditional_ttl_identification_and_diffserv() -> None:
    sw = switch("demo5.p4_16.p4")
    handle = add_routes(sw, "ingress", "egress")
    frames = [bytes(Ether() / IP(src=src, dst=dst, ttl=64, id=100, tos=0) / TCP())
              for src, dst in [("1.2.3.4", "10.1.0.1"), ("1.2.3.5", "10.1.0.200")]]
    out = sw.process([(5, f) for f in frames])
    assert [port for port, _ in out] == [2, 1]
    first, second = (Ether(out[0][1]), Ether(out[1][1]))
    # ttl - 1, plus 3 when the destination address is even; identification + 1 for an even
    # source, - 8 for an odd one; sub_action sets diffserv to 5.
    assert (first[IP].ttl, first[IP].id, first[IP].tos) == (63, 101, 5)
    assert (second[IP].ttl, second[IP].id, second[IP].tos) == (66, 92, 5)
    assert (first.src, second.src) == ("00:11:22:33:44:55", "ca:fe:ba:be:d0:0d")
    assert checksum_is_valid(out[0][1]) and checksum_is_valid(out[1][1])
    assert sw.direct_counter_read("ingress.ipv4_da_lpm", handle)[0] == 1
    assert sw.process([(5, ipv4_frame("10.1.0.3"))]) == []


def test_demo5_ecmp_and_the_top_level_action() -> None:
    sw = switch("demo5.p4_16.p4")
    add_routes(sw, "ingress", "egress")
    add_ecmp_group(sw, "ingress", "egress")
    check_ecmp_spread(sw)
    # With the top-level action the group keeps its ECMP next hop type, so ecmp_path is looked
    # up with selector 0 (never computed) and decides the path.
    sw.table_add("ingress.ipv4_da_lpm", [Lpm(ip4("12.0.0.0"), 8)], "ingress.set_ecmp_group_idx",
                 [68])
    sw.table_add("ingress.ecmp_group", [Exact(68)], "top_level_action")
    sw.table_add("ingress.ecmp_path", [Exact(68), Exact(0)], "ingress.set_l2ptr", [101])
    out = sw.process([(5, ipv4_frame(f"12.0.0.{i}")) for i in range(1, 9)])
    assert [port for port, _ in out] == [3] * 8


# demo6: demo2's routing plus a register counting packets per input port, updated by an
# action called directly from the apply block.
def test_demo6_counts_packets_per_input_port_in_a_register() -> None:
    sw = switch("demo6.p4_16.p4")
    handle = sw.table_add("ingressImpl.ipv4_da_lpm", [Lpm(ip4("10.1.0.1"), 32)],
                          "ingressImpl.set_l2ptr", [58])
    sw.table_add("ingressImpl.mac_da", [Exact(58)], "ingressImpl.set_bd_dmac_intf",
                 [9, mac("02:13:57:ab:cd:ef"), 2])
    sw.table_add("egressImpl.send_frame", [Exact(9)], "egressImpl.rewrite_mac",
                 [mac("00:11:22:33:44:55")])
    sw.table_add("ingressImpl.ipv4_da_lpm", [Lpm(ip4("10.1.0.200"), 32)],
                 "ingressImpl.set_l2ptr", [81])
    sw.table_add("ingressImpl.mac_da", [Exact(81)], "ingressImpl.set_bd_dmac_intf",
                 [15, mac("08:de:ad:be:ef:00"), 4])
    sw.table_add("egressImpl.send_frame", [Exact(15)], "egressImpl.rewrite_mac",
                 [mac("ca:fe:ba:be:d0:0d")])
    sw.register_write("ingressImpl.input_port_pkt_count", 10, 57)
    fwd = bytes(Ether() / IP(dst="10.1.0.1") / TCP(sport=5793, dport=80))
    drop = bytes(Ether() / IP(dst="10.1.0.34") / TCP(sport=5793, dport=80))
    out = sw.process([(0, fwd), (0, drop), (1, fwd), (10, bytes(Ether() / IP(dst="10.1.0.200"))),
                      (0, fwd)])
    assert [port for port, _ in out] == [2, 2, 4, 2]
    sent = Ether(out[2][1])
    assert (sent.dst, sent.src, sent[IP].ttl) == ("08:de:ad:be:ef:00", "ca:fe:ba:be:d0:0d", 63)
    # Dropped packets are counted too: the register is updated before the lookup.
    counts = [sw.register_read("ingressImpl.input_port_pkt_count", p) for p in (0, 1, 2, 10)]
    assert counts == [3, 1, 0, 58]
    assert sw.direct_counter_read("ingressImpl.ipv4_da_lpm", handle)[0] == 3


# demo-global-register: one top-level register incremented in ingress (at the output port,
# the destination MAC's low 3 bits) and decremented in egress (at the egress port).
def test_demo_global_register_is_shared_by_ingress_and_egress() -> None:
    sw = switch("demo-global-register.p4_16.p4")
    sw.register_write("approx_queue_depth_pkts", 3, 10)
    lines: list[str] = []
    sw.set_trace(True, lines.append)
    frames = [bytes(Ether(dst=f"00:00:00:00:00:{d:02x}", src="00:00:00:00:00:01", type=0x1234)
                    / bytes(46)) for d in (0x0b, 0x05, 0x13)]
    out = sw.process([(1, f) for f in frames])
    assert [port for port, _ in out] == [3, 5, 3]
    assert [o for _, o in out] == frames
    # Each packet's increment is undone by its own egress: the counts come back to where they
    # were; a pipeline missing either side would leave them off by the packet count.
    assert [sw.register_read("approx_queue_depth_pkts", i) for i in range(8)] == \
        [0, 0, 0, 10, 0, 0, 0, 0]
    # In between, ingress read what the other packets' egress wrote, and egress what its own
    # ingress wrote: the values the two sides computed, in packet order (the trace's
    # "Primitive result" lines name the compiler's temporaries, hence the pattern).
    written = [int(m.group(1), 16) for line in lines
               if (m := re.search(r"scalars\.tmp_count\w* = ([0-9a-f]+)$", line))]
    assert written == [11, 10, 1, 0, 11, 10]
