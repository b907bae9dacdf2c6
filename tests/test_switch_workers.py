"""Switch(workers=N): engine threads owning the ports' queues, through the Switch and its ports.

Memory ports cannot be split: each belongs to one worker (round robin) and the other workers
transmit to it through relay rings. Frames enter ports 1 and 2 (workers 0 and 1) and leave
through ports 3 and 4, so half of them cross from one worker to the other.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, needs_corpus

from target import InvalidArgument, Lpm, Switch
from target.driver.memory import QueuePort

pytestmark = needs_corpus

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
REPO = Path(__file__).resolve().parents[1]
ROUTES = 16
IN_PORTS = (1, 2)
OUT_PORTS = (3, 4)


def next_hop(route: int, version: int) -> tuple[int, int]:
    """Route `route`'s (egress port, destination MAC) in `version` (0 or 1)."""
    return (OUT_PORTS[(route + version) % 2], ((0x0A + version) << 40) | route)


@functools.cache
def template(route: int, port: int) -> bytes:
    return raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
               IP(src=f"198.18.0.{port}", dst=f"10.{route}.0.1", ttl=64) /
               UDP(sport=1, dport=2, chksum=0) / bytes(4))


def frame(route: int, port: int, seq: int) -> bytes:
    return template(route, port)[:42] + seq.to_bytes(4, "big")


def route_of(f: bytes) -> int:
    return f[31]                                  # 10.ROUTE.0.1


def ingress_of(f: bytes) -> int:
    return f[29]                                  # 198.18.0.PORT


def seq_of(f: bytes) -> int:
    return int.from_bytes(f[42:46], "big")


def two_worker_switch() -> tuple[Switch, list[int]]:
    sw = Switch(pool_size=8192, buf_size=2304, workers=2)
    sw.load(BASIC)
    for num in IN_PORTS + OUT_PORTS:
        sw.add_port(num, QueuePort(1 << 16))
    handles = []
    for r in range(ROUTES):
        port, mac = next_hop(r, 0)
        handles.append(sw.table_add("MyIngress.ipv4_lpm", [Lpm((10 << 24) | (r << 16), 16)],
                                    "MyIngress.ipv4_forward", [mac, port]))
    return sw, handles


def wait_for(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_each_worker_forwards_the_ports_it_owns_and_relays_to_the_others():
    sw, _ = two_worker_switch()
    sw.start()
    try:
        sent = 0
        for seq in range(400):
            for port in IN_PORTS:
                assert sw.ports[port].push(frame(seq % ROUTES, port, seq))
                sent += 1
        # The engine counts a frame when its batch ends; a relayed one reaches its port after.
        assert wait_for(lambda: sum(sw.port_stats(p)["tx_packets"] for p in OUT_PORTS) == sent)
        out = {p: sw.ports[p].pop_all() for p in OUT_PORTS}
    finally:
        sw.stop()
    assert sum(len(v) for v in out.values()) == sent
    # Both workers took their share, and each port sent what came to it from both.
    assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == [400, 400]
    for port, frames in out.items():
        assert {ingress_of(f) for f in frames} == set(IN_PORTS)
        assert sw.port_stats(port)["tx_packets"] == len(frames)
        for f in frames:
            assert next_hop(route_of(f), 0) == (port, int.from_bytes(f[0:6], "big"))
        # A flow (here: an ingress port) stays on one worker: its frames keep their order.
        for ingress in IN_PORTS:
            seqs = [seq_of(f) for f in frames if ingress_of(f) == ingress]
            assert seqs == sorted(seqs)


def test_routes_changing_while_two_workers_forward():
    """1,000 route changes a second while both workers forward: every frame leaves with its
    route's old or new next hop, and the counters read while traffic runs reach exactly the
    frames sent once it stops."""
    sw, handles = two_worker_switch()
    stop = threading.Event()
    changes = [0]

    def flip_routes() -> None:
        version = 1
        while not stop.is_set():
            for r in range(ROUTES):
                port, mac = next_hop(r, version)
                sw.table_modify("MyIngress.ipv4_lpm", handles[r], "MyIngress.ipv4_forward",
                                [mac, port])
                changes[0] += 1
                time.sleep(0.001)
            version ^= 1

    out: dict[int, list[bytes]] = {p: [] for p in OUT_PORTS}
    readings = []
    sw.start()
    flipper = threading.Thread(target=flip_routes)
    flipper.start()
    sent = 0
    try:
        deadline = time.monotonic() + 60
        seq = 0
        while (changes[0] < 1000 or sent < 20000) and time.monotonic() < deadline:
            for port in IN_PORTS:
                assert sw.ports[port].push(frame(seq % ROUTES, port, seq))
                sent += 1
            seq += 1
            if seq % 100 == 0:
                # At most a few hundred frames in flight: no ring on the way can overflow.
                while sent - sw.stats()["tx_packets"] > 400:
                    time.sleep(0.0005)
                readings.append(sw.stats()["rx_packets"])
                for p in OUT_PORTS:
                    out[p] += sw.ports[p].pop_all()
        # Read while the workers still run: the totals reach exactly what was sent.
        assert wait_for(lambda: sw.stats()["tx_packets"] >= sent)
        assert wait_for(lambda: sum(sw.port_stats(p)["tx_packets"] for p in OUT_PORTS) >= sent)
        stats = sw.stats()
        hits, misses = sw.pipeline.table_stats(sw._table("MyIngress.ipv4_lpm").index)
        port_tx = sum(sw.port_stats(p)["tx_packets"] for p in OUT_PORTS)
        port_rx = sum(sw.port_stats(p)["rx_packets"] for p in IN_PORTS)
    finally:
        stop.set()
        flipper.join()
        sw.stop()
    for p in OUT_PORTS:
        out[p] += sw.ports[p].pop_all()
    assert changes[0] >= 1000, "the routes hardly changed while traffic ran"
    assert readings == sorted(readings) and readings[-1] <= sent
    assert stats["rx_packets"] == stats["tx_packets"] == sent
    assert (hits, misses) == (sent, 0)
    assert port_rx == port_tx == sent
    assert sum(len(v) for v in out.values()) == sent
    bad = [f"route {route_of(f)} left port {p} with MAC {f[0:6].hex()}"
           for p, frames in out.items() for f in frames
           if (p, int.from_bytes(f[0:6], "big")) not in (next_hop(route_of(f), 0),
                                                          next_hop(route_of(f), 1))]
    assert not bad, bad[:5]


def test_workers_must_be_a_positive_count():
    for bad in (0, -1, 65):
        with pytest.raises(InvalidArgument):
            Switch(workers=bad)


def test_packet_ins_of_both_workers_arrive_in_each_flows_order():
    sw = Switch(pool_size=8192, buf_size=2304, workers=2, cpu_port=255)
    sw.load(BASIC)
    for num in IN_PORTS:
        sw.add_port(num, QueuePort(1 << 14))
    for r in range(ROUTES):
        sw.table_add("MyIngress.ipv4_lpm", [Lpm((10 << 24) | (r << 16), 16)],
                     "MyIngress.ipv4_forward", [0x0A0000000000 | r, 255])
    got: list[bytes] = []
    sw.on_packet_in(got.append)
    sw.start()
    try:
        for seq in range(500):
            for port in IN_PORTS:
                assert sw.ports[port].push(frame(seq % ROUTES, port, seq))
        assert wait_for(lambda: len(got) >= 1000)
    finally:
        sw.stop()
    assert len(got) == 1000
    assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == [500, 500]
    for ingress in IN_PORTS:
        assert [seq_of(f) for f in got if ingress_of(f) == ingress] == list(range(500))


def test_digests_of_both_workers_arrive_in_each_flows_order(tmp_path):
    from target.compiler.driver import compile_file

    source, p4info = compile_file(REPO / "p4src" / "l2_learning.p4")
    info = tmp_path / "l2.p4info.txtpb"
    info.write_text(p4info)
    sw = Switch(pool_size=8192, buf_size=2304, workers=2)
    sw.load(source, info)
    for num in (1, 2, 3):
        sw.add_port(num, QueuePort(1 << 14))
    sw.mc_group_set(1, [(1, 0), (2, 0), (3, 0)])
    digests: list[tuple[int, ...]] = []
    sw.on_digest(lambda name, rows: digests.extend(rows))
    sw.start()
    try:
        for seq in range(300):
            for port in IN_PORTS:        # an unknown source each time: one digest per frame
                src = (0x020000000000 | (port << 16) | seq).to_bytes(6, "big")
                assert sw.ports[port].push(b"\x02\x00\x00\x00\x00\x0b" + src + b"\x88\xb5"
                                           + bytes(46))
            time.sleep(0.0005)
        assert wait_for(lambda: len(digests) >= 600)
    finally:
        sw.stop()
    assert sw.stats()["digests_dropped"] == 0
    assert len(digests) == 600
    assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == [300, 300]
    for port in IN_PORTS:
        macs = [m & 0xFFFF for m, p in digests if p == port]
        assert macs == list(range(300))
