"""A running switch on real (veth) ports, AF_PACKET and AF_XDP: bad frames are counted and
dropped without harm to the traffic around them, and start/stop cycles release everything."""

import os
import random
import threading
import time

import pytest
from netns import in_netns, mac_of, receive, run
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.driver.af_packet import AfPacketPort
from target.driver.af_xdp import AfXdpPort

pytestmark = pytest.mark.root
if os.geteuid() != 0:
    pytest.fail("the real-port tests need root (netns, veth, XDP)", pytrace=False)

BASIC = program("tutorial_basic")
BUF = 2048 + 256                 # a frame above 2048 bytes does not fit a buffer
SENDER_MAC, GATEWAY_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:fe"
# veth with an XDP program accepts an MTU up to about a page; AF_PACKET takes jumbo frames.
HOST_MTU = {"af_packet": 9000, "xdp": 3000}
DRIVERS = ["af_packet", "xdp"]


def open_port(driver: str, ifname: str):  # noqa: ANN201
    return AfPacketPort(ifname, block_count=4) if driver == "af_packet" \
        else AfXdpPort(ifname, ring_size=256)


def routed_frame(i: int, size: int = 100) -> bytes:
    return raw(Ether(src=SENDER_MAC, dst=GATEWAY_MAC) / IP(src="10.0.1.1", dst="10.0.2.2")
               / UDP(sport=1000, dport=2000) / (b"ok" + i.to_bytes(4, "big") + bytes(size - 48)))


def is_routed(frame: bytes) -> bool:
    return len(frame) >= 48 and frame[42:44] == b"ok" and frame[30:34] == bytes([10, 0, 2, 2])


def bad_frames(max_size: int, rng: random.Random) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(runts, jumbos, garbage): runts are shorter than an Ethernet minimum frame, down to a
    bare header and IPv4 headers cut short (a packet socket pads anything shorter than an
    Ethernet header: the drivers' own tests classify those); jumbos exceed a buffer; garbage
    is random."""
    head = bytes.fromhex("02000000000b") + bytes.fromhex(SENDER_MAC.replace(":", ""))
    runts = [head + b"\x08\x00", head + b"\x08\x00\x45", head + b"\x08\x00" + bytes(19),
             head + b"\x86\xdd" + bytes(3), head + b"\x08\x06"]
    jumbos = [routed_frame(100 + i, size) for i, size in enumerate((2049 + 14, 2500, max_size))]
    garbage = [head + rng.randbytes(rng.randrange(2, 1400)) for _ in range(30)]
    garbage += [head + b"\x08\x00" + rng.randbytes(rng.randrange(20, 600)) for _ in range(30)]
    return runts, jumbos, garbage



@needs_corpus
@pytest.mark.parametrize("driver", DRIVERS)
def test_bad_frames_are_counted_and_dropped_and_traffic_goes_on(bed, driver):
    ns1, ns2 = bed.namespace(), bed.namespace()
    sw1, if1 = bed.veth(ns1, mtu=HOST_MTU[driver])
    sw2, if2 = bed.veth(ns2)
    sw = Switch(pool_size=4096, buf_size=BUF)
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000200, 24)], "MyIngress.ipv4_forward",
                 [int(mac_of(ns2, if2).replace(":", ""), 16), 2])
    sw.add_port(1, open_port(driver, sw1))
    sw.add_port(2, open_port(driver, sw2))
    runts, jumbos, garbage = bad_frames(HOST_MTU[driver] + 14, random.Random(7))
    good_before = [routed_frame(i) for i in range(20)]
    good_after = [routed_frame(1000 + i) for i in range(20)]
    sw.start()
    try:
        with bed.raw_socket(ns1, if1) as tx, bed.raw_socket(ns2, if2) as rx:
            for frame in good_before + runts + jumbos + garbage + good_after:
                tx.send(frame)
            got = receive(rx, timeout=3.0, want=len(good_before) + len(good_after),
                          accept=is_routed)
            time.sleep(0.2)
    finally:
        sw.stop()
    # Every good frame made it, in order, whatever came between them.
    assert [g[42:48] for g in got] == [f[42:48] for f in good_before + good_after]
    stats, port = sw.stats(), sw.port_stats(1)
    # Jumbos: dropped by the driver (or the kernel, for AF_XDP) and counted there.
    assert port["rx_dropped"] == len(jumbos)
    # Runts and cut-short IPv4 headers: the parser stops with an error, counted; none leaves.
    assert stats["parser_errors"] + port["rx_errors"] >= 3
    assert port["rx_packets"] == len(good_before + runts + garbage + good_after)
    # Nothing but the good frames left: the rest were dropped by the program (IPv4 with no
    # route) or sent to port 0, which is not attached.
    assert sw.port_stats(2)["tx_packets"] == len(good_before + good_after)
    assert stats["dropped"] + stats["tx_packets"] == port["rx_packets"]
    for num in (1, 2):
        sw.remove_port(num)
    assert sw.pool.available == sw.pool.capacity


def descriptors_and_mappings() -> tuple[int, int]:
    with open("/proc/self/maps") as f:
        return len(os.listdir("/proc/self/fd")), sum(1 for _ in f)


@needs_corpus
@pytest.mark.parametrize("driver", DRIVERS)
def test_start_stop_cycles_release_sockets_rings_and_umem(bed, driver):
    ns1, ns2 = bed.namespace(), bed.namespace()
    sw1, if1 = bed.veth(ns1)
    sw2, if2 = bed.veth(ns2)
    sw = Switch(pool_size=2048, buf_size=BUF)
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000200, 24)], "MyIngress.ipv4_forward",
                 [int(mac_of(ns2, if2).replace(":", ""), 16), 2])

    def cycle(i: int) -> None:
        sw.add_port(1, open_port(driver, sw1))
        sw.add_port(2, open_port(driver, sw2))
        sw.start()
        try:
            with bed.raw_socket(ns1, if1) as tx, bed.raw_socket(ns2, if2) as rx:
                tx.send(routed_frame(i))
                assert len(receive(rx, timeout=2.0, accept=is_routed)) == 1, f"cycle {i}"
        finally:
            sw.stop()
            sw.remove_port(1)
            sw.remove_port(2)

    cycle(0)  # the first cycle loads libraries and warms caches: count from after it
    before = descriptors_and_mappings()
    for i in range(1, 26):
        cycle(i)
    assert descriptors_and_mappings() == before
    assert sw.pool.available == sw.pool.capacity
    for ifname in (sw1, sw2):
        assert "xdp" not in run("ip", "link", "show", ifname).stdout


def test_xdp_port_opens_from_a_thread_inside_another_namespace(bed):
    """A process that entered a namespace with setns still sees the old /sys: the driver must
    not depend on it to find the interface."""
    ns = bed.namespace()
    inside, _ = bed.veth_between(ns, bed.namespace())
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            with in_netns(ns):
                port = AfXdpPort(inside, ring_size=64)
                port.open(sw_pool)
                port.close()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    sw_pool = Switch(pool_size=512, buf_size=BUF).pool
    worker = threading.Thread(target=open_close)
    worker.start()
    worker.join()
    assert errors == []
