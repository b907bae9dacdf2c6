"""The pipeline on several workers: one program, a context per worker, each with its own pool
and ports, forwarding at the same time while the control plane changes routes."""

from __future__ import annotations

import threading
import time

import numpy as np
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, needs_corpus

from target import Exact, Lpm, Switch
from target.driver.memory import MemoryGenerator, MemorySink
from target.loop import Breather
from target.packet import PacketPool
from target.pipeline.engine import worker_batch_entry

pytestmark = needs_corpus

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"
ROUTES = 64
ROUND = 1500                  # packets per worker per round (each captured)
CHANGES = 1000                # route changes while the workers forward


def version(i: int, v: int) -> tuple[int, int]:
    """Route i's next hop in version v: (egress port, destination MAC)."""
    return (1 + i % 4 + 4 * v, (0x0A0000000000 if v == 0 else 0x0B0000000000) | i)


def two_worker_switch() -> tuple[Switch, list[tuple[PacketPool, int]]]:
    sw = Switch(pool_size=8192, buf_size=2304)
    sw.load(BASIC, BASIC_P4INFO)
    pl = sw.pipeline
    pl.add_worker(PacketPool(8192, 2304))
    return sw, [(pl.worker_pool(k), pl.worker_handle(k)) for k in range(2)]


def test_two_workers_see_old_or_new_routes_and_exact_counters():
    sw, workers = two_worker_switch()
    handles = []
    for i in range(ROUTES):
        port, mac = version(i, 0)
        handles.append(sw.table_add("MyIngress.ipv4_lpm", [Lpm((10 << 24) | (i << 16), 16)],
                                    "MyIngress.ipv4_forward", [mac, port]))
    frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                IP(src="198.18.0.1", dst="10.0.0.1", ttl=64) / UDP(sport=1, dport=2) / bytes(18))
    rng = np.random.default_rng(1)
    dsts = ((10 << 24) | (rng.integers(0, ROUTES, 1 << 16) << 16) | 7).astype(np.uint32)

    loops = []
    for pool, handle in workers:
        sinks = {p: MemorySink(capture=ROUND) for p in range(1, 9)}
        for s in sinks.values():
            s.open(pool)
        loops.append((pool, handle, sinks))

    stop = threading.Event()
    changes = [0]

    def flip_routes() -> None:           # 1,000 route changes a second
        v = 1
        while not stop.is_set():
            for i in range(ROUTES):
                port, mac = version(i, v)
                sw.table_modify("MyIngress.ipv4_lpm", handles[i], "MyIngress.ipv4_forward",
                                [mac, port])
                changes[0] += 1
                time.sleep(0.001)
                if stop.is_set():
                    return
            v ^= 1

    bad: list[str] = []
    sent = [0, 0]

    def forward(k: int) -> None:
        pool, handle, sinks = loops[k]
        deadline = time.monotonic() + 30
        while changes[0] < CHANGES and time.monotonic() < deadline and not bad:
            gen = MemoryGenerator([frame], count=ROUND, rewrite_offset=30,
                                  rewrite_values=np.roll(dsts, 977 * (sent[k] // ROUND + k)))
            gen.open(pool)
            b = Breather(sw.pipeline, worker_batch_entry(), pool, {0: gen}, sinks, 32,
                         worker=handle)
            sent[k] += b.run(60.0, ROUND, True)
            for port, sink in sinks.items():
                for f in sink.frames():
                    i = f[31]                     # 10.i.x.y: the route
                    mac = int.from_bytes(f[0:6], "big")
                    if (port, mac) not in (version(i, 0), version(i, 1)):
                        bad.append(f"route {i}: port {port} with MAC {mac:012x}")
                sink.clear()

    flipper = threading.Thread(target=flip_routes)
    threads = [threading.Thread(target=forward, args=(k,)) for k in range(2)]
    flipper.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    flipper.join()

    assert not bad, bad[:5]
    assert changes[0] >= CHANGES, "the routes hardly changed while traffic ran"
    assert min(sent) > 0
    stats = sw.pipeline.stats()
    assert stats["rx_packets"] == stats["tx_packets"] == sum(sent)
    assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == sent
    hits, misses = sw.pipeline.table_stats(sw._table("MyIngress.ipv4_lpm").index)
    assert (hits, misses) == (sum(sent), 0)


def test_counter_cells_stay_exact_with_two_workers():
    """A direct counter cell both workers update at once loses no increment."""
    sw = Switch(pool_size=8192, buf_size=2304)
    name = "p4_14_counter1"
    sw.load(CORPUS / name / f"{name}.json", CORPUS / name / f"{name}.p4info.txtpb")
    pl = sw.pipeline
    pl.add_worker(PacketPool(8192, 2304))
    h = sw.table_add("tab1", [Exact(0xA1A2A3A4A5A6)], "act", [1])
    frame = bytes.fromhex("a1a2a3a4a5a6") + bytes(54)
    n = 2_000_000                 # enough overlap that plain adds would lose some
    loops = []
    for k in range(2):
        pool = pl.worker_pool(k)
        gen = MemoryGenerator([frame], count=n)
        gen.open(pool)
        sink = MemorySink()
        sink.open(pool)
        loops.append(Breather(pl, worker_batch_entry(), pool, {0: gen}, {1: sink}, 64,
                              worker=pl.worker_handle(k)))
    threads = [threading.Thread(target=b.run, args=(60.0, n, True)) for b in loops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [b.rx_packets for b in loops] == [n, n]
    assert sw.direct_counter_read("tab1", h) == (2 * n, 2 * n * len(frame))
    assert pl.stats()["tx_packets"] == 2 * n
