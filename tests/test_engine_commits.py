"""Control-plane writes while a worker forwards: one write (one P4Runtime batch) is visible to
the data plane whole or not at all, in every batch, and writing never holds forwarding up.

The worker forwards batches of exactly ROUTES packets, one to each route; a writer keeps
changing every route at once (a batch insert, a batch modify, a batch delete). Each frame's
destination MAC says which write it saw, so the frames of one batch must all tell the same.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from array import array

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, needs_corpus

from target import Lpm, Switch
from target.driver.memory import MemoryGenerator, MemorySink
from target.loop import Breather
from target.pipeline.engine import worker_batch_entry

pytestmark = needs_corpus

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"
TABLE = "MyIngress.ipv4_lpm"
FORWARD = "MyIngress.ipv4_forward"
ROUTES = 64                   # routes changed by each write = packets in each batch
ROUND = ROUTES * 200          # packets per engine run (each captured)
WRITES = 300                  # writes to see while forwarding


def mac(version: int, i: int) -> int:
    return 0x020000000000 | (version << 8) | i


def prefix16(i: int) -> int:
    return (10 << 24) | (i << 16)


def test_every_batch_sees_a_write_whole_or_not_at_all():
    sw = Switch(pool_size=8192, buf_size=2304)
    sw.load(BASIC, BASIC_P4INFO)
    for i in range(ROUTES):                     # version 0: the /16s, never changed
        sw.table_add(TABLE, [Lpm(prefix16(i), 16)], FORWARD, [mac(0, i), 1])
    aid = sw.table_action_ref(TABLE, FORWARD)
    stride = sw.table_param_stride(TABLE)
    rows = b"".join(prefix16(i).to_bytes(4, "big") + (0xFFFFFF00).to_bytes(4, "big")
                    for i in range(ROUTES))

    def params(version: int) -> bytes:
        out = bytearray()
        for i in range(ROUTES):
            vals = [mac(version, i), 1] + [0] * (stride - 2)
            out += b"".join(v.to_bytes(16, "little") for v in vals)
        return bytes(out)

    def encoded(kind: int, version: int) -> None:
        errors = sw.table_write_encoded([(TABLE, bytes([kind]) * ROUTES, rows,
                                          array("q", [0] * ROUTES), array("i", [aid] * ROUTES),
                                          params(version))], atomic=True)
        assert errors == []

    stop = threading.Event()
    writes = [0]
    failures: list[BaseException] = []

    def writer() -> None:
        # one cycle: insert the /24s (version 1), modify them (version 2), delete them
        # through the bulk path (version 0), insert again, clear the table's /24s... every
        # step changes all ROUTES routes in one write
        try:
            while not stop.is_set():
                sw.table_add_many(TABLE, [([Lpm(prefix16(i), 24)], FORWARD, [mac(1, i), 1])
                                          for i in range(ROUTES)])
                encoded(Switch.UPDATE_MODIFY, 2)
                encoded(Switch.UPDATE_DELETE, 0)
                encoded(Switch.UPDATE_INSERT, 3)
                with sw._write_lock:             # the /24s go, the /16s stay: one section
                    with sw._engine_write():
                        for i in range(ROUTES):
                            sw._apply_delete(sw.pipeline, sw._table(TABLE),
                                             sw.table_find(TABLE, [Lpm(prefix16(i), 24)]))
                writes[0] += 5
        except BaseException as e:               # reported by the test thread
            failures.append(e)

    pool = sw.pipeline.worker_pool(0)
    sink = MemorySink(capture=ROUND)
    sink.open(pool)
    frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                IP(src="198.18.0.1", dst="10.0.0.1", ttl=64) / UDP(sport=1, dport=2) / bytes(18))
    dsts = array("I", [prefix16(i) | 7 for i in range(ROUTES)])
    mixed: list[str] = []
    seen: set[int] = set()
    longest_gap = 0
    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 60
    try:
        while writes[0] < WRITES and time.monotonic() < deadline and not failures:
            gen = MemoryGenerator([frame], count=ROUND, rewrite_offset=30, rewrite_values=dsts)
            gen.open(pool)
            b = Breather(sw.pipeline, worker_batch_entry(), pool, {0: gen}, {1: sink}, ROUTES,
                         worker=sw.pipeline.worker_handle(0))
            b.measure_gaps = True
            assert b.run(60.0, ROUND, True) == ROUND
            longest_gap = max(longest_gap, b.max_gap_ns)
            frames = sink.frames()
            assert len(frames) == ROUND
            for start in range(0, ROUND, ROUTES):
                batch = frames[start:start + ROUTES]
                versions = {f[4] for f in batch}      # the MAC's version byte
                routes = sorted(f[5] for f in batch)
                assert routes == list(range(ROUTES))
                assert all(f[5] == f[31] for f in batch)      # MAC of the frame's own route
                seen |= versions
                if len(versions) != 1:
                    mixed.append(f"batch at {start}: versions {sorted(versions)}")
            sink.clear()
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[0]
    assert not mixed, mixed[:5]
    assert writes[0] >= WRITES, f"only {writes[0]} writes while forwarding"
    assert seen == {0, 1, 2, 3}, f"batches saw versions {sorted(seen)} only"
    print(f"longest gap between two batches: {longest_gap / 1e6:.2f} ms")


def test_a_dropped_switch_frees_its_pipeline_at_once():
    """No reference cycle through the match structures or the commit log: a pipeline goes
    when its switch does, not at some later garbage collection (when the buffer pools and
    driver memory it was built on may be gone already)."""
    gc.collect()
    gc.disable()
    try:
        sw = Switch(pool_size=1024, buf_size=2304)
        sw.load(BASIC, BASIC_P4INFO)
        for i in range(4):
            sw.table_add(TABLE, [Lpm(prefix16(i), 16)], FORWARD, [mac(0, i), 1])
        sw.table_clear(TABLE)
        sw.table_add(TABLE, [Lpm(prefix16(0), 16)], FORWARD, [mac(0, 0), 1])
        del sw
        assert not [o for o in gc.get_objects() if type(o).__name__ == "Pipeline"]
    finally:
        gc.enable()


@pytest.mark.parametrize("path", ["bulk", "per_entry"])
def test_a_route_deleted_and_inserted_in_one_write_counts_from_zero(path: str) -> None:
    """A Write that deletes a route and inserts it again (to another port) gives the new entry
    direct counters that start at zero: until the Write is published the workers still hit the
    old entry in the live copy and count into its cells, so the new entry must not take the
    old one's id inside the same Write (its counter would inherit those hits)."""
    prog = json.loads(BASIC.read_text())
    for pl in prog["pipelines"]:            # the routes get a direct counter
        for t in pl["tables"]:
            if t["name"] == TABLE:
                t["with_counters"] = True
    sw = Switch(pool_size=8192, buf_size=2304)
    sw.load(prog, BASIC_P4INFO)
    route = [Lpm(prefix16(1), 16)]
    sw.table_add(TABLE, route, FORWARD, [mac(0, 1), 1])
    pool = sw.pipeline.worker_pool(0)
    sinks = {1: MemorySink(), 2: MemorySink()}
    for s in sinks.values():
        s.open(pool)
    frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                IP(src="198.18.0.1", dst="10.1.0.7", ttl=64) / UDP(sport=1, dport=2) / bytes(18))
    gen = MemoryGenerator([frame], count=1 << 62)
    gen.open(pool)
    b = Breather(sw.pipeline, worker_batch_entry(), pool, {0: gen}, sinks, 64,
                 worker=sw.pipeline.worker_handle(0))
    thread = threading.Thread(target=b.run, args=(60.0,))
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while sinks[1].packets < 10_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sinks[1].packets >= 10_000, "the worker does not forward"
        st = sw._table(TABLE)
        with sw._write_lock, sw._engine_write() as pl:
            if path == "bulk":          # what a P4Runtime Write of DELETE + INSERT runs
                aid = sw.table_action_ref(TABLE, FORWARD)
                stride = sw.table_param_stride(TABLE)
                row = prefix16(1).to_bytes(4, "big") + (0xFFFF0000).to_bytes(4, "big")
                packed = b"".join(v.to_bytes(16, "little")
                                  for v in [mac(1, 1), 2] + [0] * (stride - 2))
                errors: list = []
                sw._write_encoded_run(pl, 0, (st, bytes([Switch.UPDATE_DELETE,
                                                         Switch.UPDATE_INSERT]),
                                              row * 2, array("q", [0, 0]),
                                              array("i", [aid, aid]), bytes(len(packed)) + packed),
                                      errors, None)
                assert errors == []
            else:
                sw._apply_delete(pl, st, sw.table_find(TABLE, route))
                sw._apply_add(pl, st, sw._prepare(st, route, FORWARD, [mac(1, 1), 2], None,
                                                  None, None))
            time.sleep(0.05)        # the live copy forwards (and counts) on meanwhile
        while sinks[2].packets < 10_000 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        b.request_stop()
        thread.join()
    hits = sw.pipeline.entry_counter(st.index, sw.table_find(TABLE, route))[0]
    assert sinks[2].packets >= 10_000
    assert hits == sinks[2].packets, (f"the new route counts {hits} hits but sent "
                                      f"{sinks[2].packets} frames")
