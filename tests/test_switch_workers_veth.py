"""Switch(workers=2) on real interfaces: AF_PACKET (a PACKET_FANOUT_HASH group per port) and
AF_XDP (one queue per worker, veths with two queues), over veth pairs in a namespace.

Frames of many flows enter port 1 while a thread changes the routes' next-hop MAC 1,000 times
a second; every frame must leave port 2 with its route's old or new MAC, in its flow's order,
both workers must have received some, and the counters read while the switch runs reach
exactly the frames sent.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from netns import receive
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.driver.af_packet import AfPacketPort
from target.driver.af_xdp import AfXdpPort

pytestmark = [pytest.mark.root, needs_corpus]
if os.geteuid() != 0:
    pytest.fail("the multi-worker port tests need root (netns, veth, XDP)", pytrace=False)

BASIC = program("tutorial_basic") + ".json"
FLOWS = 32
ROUNDS = 60                     # frames per flow
ROUTES = 4
SO_RCVBUFFORCE = 33


def mac(route: int, version: int) -> int:
    return ((0x0A + version) << 40) | route


def frame(flow: int, seq: int) -> bytes:
    return raw(Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:01")
               / IP(src=f"198.18.{flow}.1", dst=f"10.{flow % ROUTES}.0.1", ttl=64)
               / UDP(sport=1000 + flow, dport=2000) / seq.to_bytes(4, "big"))


@pytest.mark.parametrize("driver", ["af_packet", "xdp"])
def test_two_workers_forward_flows_in_order_while_routes_change(bed, driver: str):
    ns = bed.namespace()
    in_sw, in_host = bed.veth(ns, queues=2)
    out_sw, out_host = bed.veth(ns, queues=2)
    sw = Switch(pool_size=4096, buf_size=2304, workers=2)
    sw.load(BASIC)
    make = AfPacketPort if driver == "af_packet" else AfXdpPort
    sw.add_port(1, make(in_sw))
    sw.add_port(2, make(out_sw))
    handles = [sw.table_add("MyIngress.ipv4_lpm", [Lpm((10 << 24) | (r << 16), 16)],
                            "MyIngress.ipv4_forward", [mac(r, 0), 2]) for r in range(ROUTES)]
    stop = threading.Event()
    changes = [0]

    def flip_routes() -> None:
        version = 1
        while not stop.is_set():
            for r in range(ROUTES):
                sw.table_modify("MyIngress.ipv4_lpm", handles[r], "MyIngress.ipv4_forward",
                                [mac(r, version), 2])
                changes[0] += 1
                time.sleep(0.001)
            version ^= 1

    sent = FLOWS * ROUNDS
    with bed.raw_socket(ns, out_host) as rx, bed.raw_socket(ns, in_host) as tx:
        rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 1 << 24)
        sw.start()
        flipper = threading.Thread(target=flip_routes)
        flipper.start()
        try:
            for seq in range(ROUNDS):
                for flow in range(FLOWS):
                    tx.send(frame(flow, seq))
                time.sleep(0.002)           # stay under what the veths and sockets hold
            got = receive(rx, 20.0, sent, lambda f: f[26:28] == bytes([198, 18]))
            deadline = time.monotonic() + 10
            while sw.stats()["tx_packets"] < sent and time.monotonic() < deadline:
                time.sleep(0.01)
            stats = sw.stats()
            rx_port = sw.port_stats(1)["rx_packets"]
            tx_port = sw.port_stats(2)["tx_packets"]
            per_worker = [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)]
        finally:
            stop.set()
            flipper.join()
            sw.stop()
            for num in (1, 2):
                sw.remove_port(num)
    assert len(got) == sent
    assert stats["rx_packets"] == stats["tx_packets"] == sent
    assert rx_port >= sent and tx_port == sent      # port 1 also sees the kernel's own frames
    assert min(per_worker) > 0, f"one worker received nothing: {per_worker}"
    assert changes[0] > 0
    order: dict[int, list[int]] = {}
    for f in got:
        flow, route = f[28], f[31]                  # 198.18.FLOW.1 -> 10.ROUTE.0.1
        assert int.from_bytes(f[0:6], "big") in (mac(route, 0), mac(route, 1))
        order.setdefault(flow, []).append(int.from_bytes(f[42:46], "big"))
    assert all(seqs == list(range(ROUNDS)) for seqs in order.values())


def test_xdp_refuses_more_workers_than_queues(bed):
    sw_if, _ = bed.veth(bed.namespace())                   # one queue
    sw = Switch(pool_size=4096, buf_size=2304, workers=2)
    with pytest.raises(ValueError, match="1 RX queue"):
        sw.add_port(1, AfXdpPort(sw_if))
    assert sw.ports == {}


def test_af_packet_ports_of_two_workers_share_one_fanout_group(bed):
    sw_if, _ = bed.veth(bed.namespace())
    sw = Switch(pool_size=4096, buf_size=2304, workers=2)
    sw.add_port(1, AfPacketPort(sw_if))
    try:
        queues = sw._queues[1]
        assert len(queues) == 2
        assert queues[0].fanout_id >= 0 and queues[0].fanout_id == queues[1].fanout_id
    finally:
        sw.remove_port(1)
