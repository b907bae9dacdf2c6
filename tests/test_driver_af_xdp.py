"""AfXdpPort over veth pairs in a throwaway namespace: RX, TX, mode, drops, buffer ownership."""

import logging
import os

import pytest
from netns import drain, is_ours, mac_of, receive, run, udp_frame
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.driver.af_xdp import AfXdpPort
from target.driver.memory import QueuePort, pump
from target.driver.registry import open_port
from target.packet import PacketPool

pytestmark = pytest.mark.root
if os.geteuid() != 0:
    pytest.fail("the AF_XDP driver tests need root (netns, veth, XDP)", pytrace=False)

BASIC = program("tutorial_basic")
GATEWAY_MAC = "02:00:00:00:00:fe"
BUF = 2048 + 256






def test_port_reports_copy_mode_on_veth_and_lends_the_fill_ring(bed):
    sw_if, _ = bed.veth(bed.namespace())
    pool = PacketPool(1024, buf_size=BUF)
    port = AfXdpPort(sw_if, ring_size=256)
    port.open(pool)
    try:
        assert port.mode == "copy"  # veth has no zero-copy support
        assert port.lent == 256 and pool.available == 1024 - 256
        assert port.link_state()
    finally:
        port.close()
    assert port.mode == "closed" and not port.link_state()
    assert pool.available == pool.capacity


def test_libbpf_and_libxdp_messages_go_to_the_debug_log_not_stderr(bed, capfd, caplog):
    sw_if, _ = bed.veth(bed.namespace())
    pool = PacketPool(1024, buf_size=BUF)
    caplog.set_level(logging.DEBUG, logger="kvick.xdp")
    for _ in range(2):  # the first socket on an interface loads libxdp's program, the last removes it
        port = AfXdpPort(sw_if, ring_size=256)
        port.open(pool)
        port.close()
    assert capfd.readouterr().err == ""
    assert any(r.name == "kvick.xdp" and r.levelno == logging.DEBUG for r in caplog.records)


def test_frames_sent_in_the_namespace_arrive_in_pool_buffers(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(4096, buf_size=BUF)
    port = AfXdpPort(sw_if, ring_size=1024)
    port.open(pool)
    try:
        frames = [udp_frame(i, size=60 + (i * 37) % 1400) for i in range(1000)]
        with bed.raw_socket(ns, host_if) as s:
            for f in frames:
                s.send(f)
        assert drain(port, pool, len(frames)) == frames
        assert port.stats()["rx_packets"] >= len(frames)
        assert port.lent == 1024 and pool.available == pool.capacity - 1024
    finally:
        port.close()
    assert pool.available == pool.capacity


def test_frames_the_port_sends_arrive_in_the_namespace(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(2048, buf_size=BUF)
    port = AfXdpPort(sw_if, ring_size=256)
    source = QueuePort(4096)
    port.open(pool)
    source.open(pool)
    try:
        frames = [udp_frame(i, size=60 + 5 * i) for i in range(250)]
        with bed.raw_socket(ns, host_if) as s:
            s.setsockopt(1, 8, 1 << 22)  # SO_RCVBUF: hold the whole burst
            for f in frames:
                assert source.push(f)
            assert pump(source, port, batch=64) == len(frames)
            got = receive(s, timeout=2.0, want=len(frames), accept=is_ours)
        assert got == frames
        stats = port.stats()
        assert stats["tx_packets"] == len(frames) and stats["tx_dropped"] == 0
        pump(port, None)  # reaps the completions
        assert port.lent == 256
    finally:
        port.close()
    assert pool.available == pool.capacity


def test_frames_longer_than_a_chunk_are_dropped_by_the_kernel_and_counted(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns, mtu=3000)
    pool = PacketPool(1024, buf_size=BUF)
    port = AfXdpPort(sw_if, ring_size=128)
    try:
        port.open(pool)
    except OSError as err:
        pytest.fail(f"XDP on a veth with MTU 3000: {err}")
    try:
        small = [udp_frame(i, 100) for i in range(5)]
        with bed.raw_socket(ns, host_if) as s:
            for i, f in enumerate(small):
                s.send(f)
                s.send(udp_frame(100 + i, 2100 + 100 * i))
        assert drain(port, pool, len(small)) == small
        assert port.stats()["rx_dropped"] == 5
    finally:
        port.close()
    assert pool.available == pool.capacity


def test_tx_drops_frames_longer_than_the_mtu(bed):
    ns = bed.namespace()
    sw_if, host_if = bed.veth(ns)
    pool = PacketPool(512, buf_size=BUF)
    port = AfXdpPort(sw_if, ring_size=64)
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
    finally:
        port.close()
    assert pool.available == pool.capacity


def test_open_close_100_times_releases_sockets_umem_and_buffers(bed):
    sw_if, _ = bed.veth(bed.namespace())
    pool = PacketPool(512, buf_size=BUF)

    def maps() -> int:
        with open("/proc/self/maps") as f:
            return sum(1 for _ in f)

    port = AfXdpPort(sw_if, ring_size=64)
    port.open(pool)
    port.close()
    fds, mappings = len(os.listdir("/proc/self/fd")), maps()
    for _ in range(100):
        port = AfXdpPort(sw_if, ring_size=64)
        port.open(pool)
        assert port.lent == 64
        port.close()
        port.close()
        assert pool.available == pool.capacity
    assert len(os.listdir("/proc/self/fd")) == fds
    assert maps() == mappings
    assert "xdp" not in run("ip", "link", "show", sw_if).stdout


def test_pool_too_small_or_buffers_too_short_are_refused(bed):
    sw_if, _ = bed.veth(bed.namespace())
    with pytest.raises(ValueError, match="2048"):
        AfXdpPort(sw_if).open(PacketPool(4096, buf_size=1024))
    with pytest.raises(ValueError, match="fill ring"):
        AfXdpPort(sw_if, ring_size=1024).open(PacketPool(1024, buf_size=BUF))


def test_missing_interface_and_bad_ring_size_are_refused():
    with pytest.raises(OSError, match="kvnosuch0"):
        AfXdpPort("kvnosuch0", ring_size=64).open(PacketPool(256, buf_size=BUF))
    with pytest.raises(ValueError):
        AfXdpPort("lo", ring_size=100)


def test_registry_opens_xdp_ports_with_an_optional_queue():
    port = open_port("xdp:eth0@3")
    assert isinstance(port, AfXdpPort) and (port.ifname, port.queue) == ("eth0", 3)
    assert open_port("xdp:eth0").queue == 0
    with pytest.raises(ValueError):
        open_port("xdp:eth0@x")


@needs_corpus
def test_switch_routes_between_namespaces_over_af_xdp(bed):
    ns1, sw1, if1 = bed.host("10.0.1.1", GATEWAY_MAC)
    ns2, sw2, if2 = bed.host("10.0.2.2", GATEWAY_MAC)
    sw = Switch(pool_size=4096, buf_size=BUF)
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    for prefix, ns, ifname, port in ((0x0A000101, ns1, if1, 1), (0x0A000202, ns2, if2, 2)):
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(prefix, 32)], "MyIngress.ipv4_forward",
                     [int(mac_of(ns, ifname).replace(":", ""), 16), port])
    sw.add_port(1, AfXdpPort(sw1, ring_size=256))
    sw.add_port(2, AfXdpPort(sw2, ring_size=256))
    sw.start()
    try:
        ping = run("ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.2.2", netns=ns1, check=False)
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "ttl=63" in ping.stdout
    finally:
        sw.stop()
        sw.remove_port(1)
        sw.remove_port(2)
    assert sw.pool.available == sw.pool.capacity
