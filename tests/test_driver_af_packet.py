"""AfPacketPort over veth pairs in a throwaway namespace: RX, TX, bad frames, teardown."""

import os
import random

import pytest
from netns import drain, is_ours, mac_of, receive, run, udp_frame
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.driver.af_packet import AfPacketPort, frame_verdict
from target.driver.memory import QueuePort, pump
from target.driver.registry import open_port
from target.packet import PacketPool

pytestmark = pytest.mark.root
if os.geteuid() != 0:
    pytest.fail("the AF_PACKET driver tests need root (netns, veth, raw sockets)", pytrace=False)







def test_frames_sent_in_the_namespace_arrive_through_the_port(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(1024)
    port = AfPacketPort(sw_if)
    port.open(pool)
    try:
        frames = [udp_frame(i, size=random.Random(i).randrange(60, 1500)) for i in range(300)]
        with bed.raw_socket(ns, host_if) as s:
            for f in frames:
                s.send(f)
        got = drain(port, pool, len(frames))
        assert got == frames
        stats = port.stats()
        assert stats["rx_packets"] >= len(frames)
        assert stats["rx_errors"] == 0
        assert pool.available == pool.capacity
    finally:
        port.close()


def test_frames_the_port_sends_arrive_in_the_namespace(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(1024)
    port = AfPacketPort(sw_if, tx_frames=256)
    source = QueuePort(4096)
    port.open(pool)
    source.open(pool)
    try:
        frames = [udp_frame(i, size=60 + 7 * i) for i in range(200)]
        with bed.raw_socket(ns, host_if) as s:
            s.setsockopt(1, 8, 1 << 22)  # SO_RCVBUF: hold the whole burst
            for f in frames:
                assert source.push(f)
            assert pump(source, port, batch=32) == len(frames)
            got = receive(s, timeout=2.0, want=len(frames), accept=is_ours)
        assert got == frames
        stats = port.stats()
        assert stats["tx_packets"] == len(frames)
        assert stats["tx_bytes"] == sum(map(len, frames))
        assert stats["tx_dropped"] == 0
        assert pool.available == pool.capacity
    finally:
        port.close()


def test_promiscuous_mode_receives_frames_for_other_macs_and_is_left_on_close(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    flags = f"/sys/class/net/{sw_if}/flags"
    before = int(open(flags).read(), 16)
    pool = PacketPool(64)
    port = AfPacketPort(sw_if)
    port.open(pool)
    assert int(open(flags).read(), 16) & 0x100  # IFF_PROMISC
    frame = udp_frame(7)
    with bed.raw_socket(ns, host_if) as s:
        s.send(frame)
    assert drain(port, pool, 1) == [frame]
    port.close()
    assert int(open(flags).read(), 16) == before


def test_oversized_frames_are_dropped_and_counted_without_losing_the_others(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns, mtu=9000)
    pool = PacketPool(256, buf_size=2048 + 256)  # frames above 2048 bytes do not fit
    port = AfPacketPort(sw_if)
    port.open(pool)
    try:
        small = [udp_frame(i, size=100) for i in range(5)]
        with bed.raw_socket(ns, host_if) as s:
            for i, f in enumerate(small):
                s.send(f)
                s.send(udp_frame(100 + i, size=2049 + 1000 * i))
        assert drain(port, pool, len(small)) == small
        stats = port.stats()
        assert stats["rx_dropped"] == 5
        assert pool.available == pool.capacity
    finally:
        port.close()


def test_garbage_frames_are_delivered_as_bytes(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(256)
    port = AfPacketPort(sw_if)
    port.open(pool)
    rng = random.Random(4)
    garbage = [bytes.fromhex("02000000000b02000000000a") + rng.randbytes(rng.randrange(2, 600))
               for _ in range(50)]
    try:
        with bed.raw_socket(ns, host_if) as s:
            for f in garbage:
                s.send(f)
        assert drain(port, pool, len(garbage)) == garbage
    finally:
        port.close()


@pytest.mark.parametrize(("snaplen", "wire_len", "verdict"), [
    (0, 0, "runt"), (13, 13, "runt"), (14, 14, "ok"), (60, 60, "ok"), (2048, 2048, "ok"),
    (2049, 2049, "too_big"), (1500, 9000, "too_big"), (10, 9000, "too_big"),
])
def test_frame_classification(snaplen, wire_len, verdict):
    assert frame_verdict(snaplen, wire_len, 2048) == verdict


def test_tx_drops_frames_longer_than_the_mtu(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(64)
    port = AfPacketPort(sw_if)
    source = QueuePort(64)
    port.open(pool)
    source.open(pool)
    try:
        ok, too_long = udp_frame(1, 1514), udp_frame(2, 1515)
        with bed.raw_socket(ns, host_if) as s:
            source.push(too_long)
            source.push(ok)
            pump(source, port)
            assert receive(s, timeout=1.0, want=2, accept=is_ours) == [ok]
        assert port.stats()["tx_dropped"] == 1
        assert pool.available == pool.capacity
    finally:
        port.close()


def test_open_close_200_times_leaks_no_descriptor_or_mapping(bed):
    sw_if, _ = bed.veth(bed.namespace())
    pool = PacketPool(64)

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    port = AfPacketPort(sw_if, block_count=4)
    port.open(pool)
    port.close()
    fds, mappings = len(os.listdir("/proc/self/fd")), maps()
    for _ in range(200):
        port = AfPacketPort(sw_if, block_count=4)
        port.open(pool)
        assert port.link_state()
        port.close()
        port.close()
        assert not port.link_state()
    assert len(os.listdir("/proc/self/fd")) == fds
    assert maps() == mappings


def test_opening_a_missing_interface_fails_with_its_name():
    with pytest.raises(OSError, match="kvnosuch0"):
        AfPacketPort("kvnosuch0").open(PacketPool(8))


@pytest.mark.parametrize("kwargs", [{"block_size": 5000}, {"block_count": 3}, {"tx_frames": 10},
                                    {"retire_ms": 0}])
def test_bad_ring_geometry_is_refused(kwargs):
    with pytest.raises(ValueError):
        AfPacketPort("lo", **kwargs)


def test_registry_opens_af_packet_ports_by_kind():
    port = open_port("af_packet:lo")
    assert isinstance(port, AfPacketPort) and port.ifname == "lo"
    bare = open_port("veth7")  # simple_switch's -i 1@veth7
    assert isinstance(bare, AfPacketPort) and bare.ifname == "veth7"


# ---------------------------------------------------------------------------------------------
# The engine between two namespaces: tutorial_basic routes pings and UDP between them.

BASIC = program("tutorial_basic")
GATEWAY_MAC = "02:00:00:00:00:fe"


@needs_corpus
def test_switch_routes_between_namespaces_with_tutorial_basic(bed):
    ns1, sw1, if1 = bed.host("10.0.1.1", GATEWAY_MAC)
    ns2, sw2, if2 = bed.host("10.0.2.2", GATEWAY_MAC)
    sw = Switch(pool_size=4096, buf_size=2048 + 256)
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    forward = "MyIngress.ipv4_forward"
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000101, 32)], forward,
                 [int(mac_of(ns1, if1).replace(":", ""), 16), 1])
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000200, 24)], forward,
                 [int(mac_of(ns2, if2).replace(":", ""), 16), 2])
    sw.add_port(1, AfPacketPort(sw1))
    sw.add_port(2, AfPacketPort(sw2))
    sw.start()
    try:
        ping = run("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2", netns=ns1, check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "ttl=63" in ping.stdout  # the reply crossed the switch once: 64 - 1
        sent = raw(Ether(src=mac_of(ns1, if1), dst=GATEWAY_MAC)
                   / IP(src="10.0.1.1", dst="10.0.2.77", ttl=9) / UDP(sport=1, dport=2) / (b"x" * 30))
        with bed.raw_socket(ns1, if1) as tx, bed.raw_socket(ns2, if2) as rx:
            tx.send(sent)
            got = receive(rx, timeout=2.0, accept=lambda f: f[12:14] == b"\x08\x00"
                          and f[30:34] == bytes([10, 0, 2, 77]))
        expected = Ether(sent)
        expected[Ether].src, expected[Ether].dst = GATEWAY_MAC, mac_of(ns2, if2)
        expected[IP].ttl = 8
        del expected[IP].chksum
        assert got == [raw(Ether(raw(expected)))]
    finally:
        sw.stop()
        for num in (1, 2):
            sw.remove_port(num)


@needs_corpus
def test_switch_start_stop_cycles_release_every_socket(bed):
    sw_if, _ = bed.veth(bed.namespace())
    sw = Switch(pool_size=1024, buf_size=2048 + 256)
    sw.load(BASIC + ".json")
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        sw.add_port(1, AfPacketPort(sw_if, block_count=4))
        sw.start()
        sw.stop()
        sw.remove_port(1)
    assert len(os.listdir("/proc/self/fd")) == fds
