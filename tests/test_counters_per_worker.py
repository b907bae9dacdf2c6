"""Counters per worker, summed when read (target/pipeline/counters.pxi): two workers count
the same indexed and direct counter cells at once, on both engines; reads during traffic only
grow and end exactly at the packets and bytes sent; a write or reset during traffic loses
nothing after it."""

from __future__ import annotations

import threading

import pytest

from target import Exact, Switch
from target.compiler.driver import compile_text

# Every packet counts index 0 and index 1 of `c` and hits `t`'s one entry (direct counter):
# index 1 is never written, so it tells how many packets the others should have counted.
PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> op; bit<8> pad; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    counter(2, CounterType.packets_and_bytes) c;
    direct_counter(CounterType.packets_and_bytes) dc;
    action fwd(bit<9> port) { sm.egress_spec = port; }
    table t {
        key = { h.h.op: exact; }
        actions = { fwd; NoAction; }
        counters = dc;
        default_action = NoAction();
    }
    apply {
        c.count(0);
        t.apply();
        c.count(1);
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""

FRAME = bytes([7, 0]) + bytes(58)     # 60 bytes, op 7: t's entry
PER_WORKER = 200_000
CHUNK = 250
MODES = [pytest.param("off", id="interpreter"), pytest.param("wait", id="native")]


def two_worker_switch(mode: str) -> tuple[Switch, int]:
    document, _ = compile_text(PROGRAM)
    sw = Switch(native=mode, workers=2)
    sw.load(document)
    assert sw.native_ready() is (mode == "wait")
    assert sw.pipeline.workers_count == 2
    handle = sw.table_add("I.t", [Exact(7)], "I.fwd", [1])
    return sw, handle


def start_traffic(sw: Switch) -> list[threading.Thread]:
    """Both workers run PER_WORKER frames at once, in batches of CHUNK."""
    pl = sw.pipeline
    go = threading.Barrier(2)

    def run(w: int) -> None:
        go.wait()
        for _ in range(PER_WORKER // CHUNK):
            assert len(pl.process([(0, FRAME)] * CHUNK, w)) == CHUNK

    threads = [threading.Thread(target=run, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    return threads


def reads(sw: Switch, handle: int) -> list[tuple[int, int]]:
    return [sw.counter_read("I.c", 0), sw.counter_read("I.c", 1),
            sw.direct_counter_read("I.t", handle)]


@pytest.mark.parametrize("mode", MODES)
def test_reads_during_traffic_grow_and_end_at_what_was_sent(mode: str) -> None:
    sw, handle = two_worker_switch(mode)
    threads = start_traffic(sw)
    total = 2 * PER_WORKER
    last = reads(sw, handle)
    seen = 0
    while any(t.is_alive() for t in threads):
        now = reads(sw, handle)
        for (p0, b0), (p1, b1) in zip(last, now, strict=True):
            # each worker's cells only grow, and each is read whole: so does their sum
            assert p0 <= p1 <= total and b0 <= b1 <= total * len(FRAME)
        last = now
        seen += 0 < now[0][0] < total
    for t in threads:
        t.join()
    assert seen > 0, "no read fell while the workers counted"
    sent = (total, total * len(FRAME))
    assert reads(sw, handle) == [sent, sent, sent]
    assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == [PER_WORKER] * 2


@pytest.mark.parametrize("mode", MODES)
def test_a_write_during_traffic_loses_nothing_after_it(mode: str) -> None:
    sw, handle = two_worker_switch(mode)
    threads = start_traffic(sw)
    total = 2 * PER_WORKER
    # Wait until both workers count, then write index 0 and reset the direct counter. Index 1
    # counts the same packets and is never written: read just before and just after, it
    # brackets how many packets the writes cancelled (give or take the packet a worker may be
    # counting between index 0, the table and index 1).
    while sw.counter_read("I.c", 1)[0] < total // 8:
        pass
    before = sw.counter_read("I.c", 1)
    sw.counter_write("I.c", 0, 1_000_000, 5_000_000)
    sw.direct_counter_write("I.t", handle, 0, 0)
    after = sw.counter_read("I.c", 1)
    assert after[0] < total, "the traffic ended before the writes"
    for t in threads:
        t.join()
    sent = (total, total * len(FRAME))
    assert sw.counter_read("I.c", 1) == sent

    def counted_after_the_writes(p: int, b: int) -> None:
        # each worker may have one packet between index 0 and index 1
        assert sent[0] - after[0] - 2 <= p <= sent[0] - before[0] + 2
        assert sent[1] - after[1] - 2 * len(FRAME) <= b <= sent[1] - before[1] + 2 * len(FRAME)

    packets, nbytes = sw.counter_read("I.c", 0)
    counted_after_the_writes(packets - 1_000_000, nbytes - 5_000_000)
    dpackets, dbytes = sw.direct_counter_read("I.t", handle)
    counted_after_the_writes(dpackets, dbytes)
    assert dpackets <= packets - 1_000_000 + 2
    # and counting goes on exactly from there
    assert len(sw.pipeline.process([(0, FRAME)] * 100, 1)) == 100
    assert sw.counter_read("I.c", 0) == (packets + 100, nbytes + 100 * len(FRAME))
    assert sw.direct_counter_read("I.t", handle) == (dpackets + 100, dbytes + 100 * len(FRAME))


@pytest.mark.parametrize("mode", MODES)
def test_a_deleted_entry_id_taken_again_starts_at_zero_with_two_workers(mode: str) -> None:
    sw, handle = two_worker_switch(mode)
    for w in range(2):
        sw.pipeline.process([(0, FRAME)] * (10 + w), w)
    assert sw.direct_counter_read("I.t", handle) == (21, 21 * len(FRAME))
    sw.table_delete("I.t", handle)
    again = sw.table_add("I.t", [Exact(7)], "I.fwd", [1])
    assert again == handle                        # the id is reused: its cells are not new
    assert sw.direct_counter_read("I.t", again) == (0, 0)
    sw.pipeline.process([(0, FRAME)] * 3, 1)
    assert sw.direct_counter_read("I.t", again) == (3, 3 * len(FRAME))
    assert sw.counter_read("I.c", 0) == (24, 24 * len(FRAME))
