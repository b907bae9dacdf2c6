"""Native code's externs and action-call tables against the interpreter and against counts
worked out here: indexed counters (generated inline: an index past the counter's size counts
nothing; exact with two workers counting at once) and the keyless tables the compiler makes
for action calls (a const default is called directly)."""

from __future__ import annotations

import random
import threading
import time

import pytest
from shared_data import needs_corpus

from target import Switch

pytestmark = needs_corpus

COUNTER_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> idx; bit<8> op; bit<16> pad; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    counter(4, CounterType.packets_and_bytes) by_idx;
    counter(512, CounterType.packets) by_port;
    apply {
        by_port.count((bit<32>)sm.ingress_port);
        by_idx.count((bit<32>)h.h.idx);
        sm.egress_spec = 1;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def counter_switch(mode: str, workers: int = 1) -> Switch:
    from target.compiler.driver import compile_text
    document, _ = compile_text(COUNTER_PROGRAM)
    sw = Switch(native=mode, workers=workers)
    sw.load(document)
    assert sw.native_ready() is (mode == "wait")
    return sw


def counter_frames(n: int, seed: int) -> list[tuple[int, bytes]]:
    rng = random.Random(seed)
    return [(rng.choice([0, 3, 511 - 1]), bytes([rng.choice([0, 1, 2, 3, 4, 7, 200, 255]), 0])
             + bytes(2 + rng.randrange(60))) for _ in range(n)]


def counts(sw: Switch) -> tuple[list, list]:
    by_idx = [sw.counter_read("I.by_idx", i) for i in range(4)]
    by_port = [sw.counter_read("I.by_port", p)[0] for p in range(512)]
    return by_idx, by_port


def expected(frames: list[tuple[int, bytes]]) -> tuple[list, list]:
    by_idx = [(0, 0)] * 4
    by_port = [0] * 512
    for port, data in frames:
        by_port[port] += 1
        if data[0] < 4:
            p, b = by_idx[data[0]]
            by_idx[data[0]] = (p + 1, b + len(data))
    return by_idx, by_port


def test_an_indexed_counter_counts_in_range_and_nothing_past_its_size() -> None:
    frames = counter_frames(600, 3)
    results = []
    for mode in ("off", "wait"):
        sw = counter_switch(mode)
        out = []
        for k in range(0, len(frames), 37):
            out += sw.process(frames[k:k + 37])
        results.append((out, counts(sw)))
    assert results[1] == results[0]
    assert results[1][1] == expected(frames)
    assert all(p > 0 for p, _b in results[1][1][0])


def test_indexed_counters_stay_exact_with_two_workers_counting_at_once() -> None:
    sw = counter_switch("wait", workers=2)
    pl = sw.pipeline
    per_worker = [counter_frames(20000, 10 + w) for w in range(2)]
    go = threading.Barrier(2)

    def run(w: int) -> None:
        go.wait()
        frames = per_worker[w]
        for k in range(0, len(frames), 500):
            pl.process(frames[k:k + 500], w)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts(sw) == expected(per_worker[0] + per_worker[1])


# The default of `tagger` is the control plane's to change; `marker`'s is const (called
# directly by native code); `exit_call` is an action-call table whose action exits.
DEFAULT_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> op; bit<8> tag; bit<8> mark; bit<8> after; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action set_tag(bit<8> v) { h.h.tag = v; }
    action set_mark(bit<8> v) { h.h.mark = v; }
    table tagger { key = { } actions = { set_tag; } default_action = set_tag(1); }
    table marker { key = { } actions = { set_mark; } const default_action = set_mark(7); }
    apply {
        sm.egress_spec = 1;
        tagger.apply();
        marker.apply();
        if (h.h.op == 1) { exit; }
        h.h.after = 1;
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def default_switch(mode: str) -> Switch:
    from target.compiler.driver import compile_text
    document, _ = compile_text(DEFAULT_PROGRAM)
    sw = Switch(native=mode)
    sw.load(document)
    assert sw.native_ready() is (mode == "wait")
    return sw


def test_a_default_action_changed_between_batches_is_the_one_native_code_runs() -> None:
    from target import InvalidArgument
    frames = [(0, bytes([i % 2, 0, 0, 0]) + bytes(20)) for i in range(50)]
    results = []
    for mode in ("off", "wait"):
        sw = default_switch(mode)
        out = sw.process(frames)
        sw.table_set_default("I.tagger", "I.set_tag", [9])
        out += sw.process(frames)
        with pytest.raises(InvalidArgument, match="const"):
            sw.table_set_default("I.marker", "I.set_mark", [8])
        out += sw.process(frames)
        sw.table_reset_default("I.tagger")
        out += sw.process(frames)
        results.append(out)
    assert results[1] == results[0]
    tags = [(f[1], f[2], f[3]) for _port, f in results[1]]
    assert tags == ([(1, 7, 1), (1, 7, 0)] * 25 + [(9, 7, 1), (9, 7, 0)] * 50
                    + [(1, 7, 1), (1, 7, 0)] * 25)


def test_a_default_action_changed_while_traffic_runs_reaches_every_later_frame() -> None:
    """The engine thread forwards while the default's parameter changes 60 times: every frame
    carries one of the values set, never an older one than the frame before it, and the
    frames sent after the last change carry it."""
    from target.driver.memory import QueuePort
    sw = default_switch("wait")
    sw.add_port(0, QueuePort(1 << 14))
    sw.add_port(1, QueuePort(1 << 14))
    frame = bytes([2, 0, 0, 0]) + bytes(20)
    got: list[bytes] = []
    sent = 0
    sw.start()
    try:
        for value in range(2, 62):
            for _ in range(50):
                assert sw.ports[0].push(frame)
                sent += 1
            sw.table_set_default("I.tagger", "I.set_tag", [value])
            got += sw.ports[1].pop_all()
        for _ in range(200):
            assert sw.ports[0].push(frame)
        sent += 200
        deadline = time.monotonic() + 20
        while len(got) < sent and time.monotonic() < deadline:
            got += sw.ports[1].pop_all()
            time.sleep(0.005)
    finally:
        sw.stop()
    assert len(got) == sent
    assert {f[1] for f in got} <= set(range(1, 62))
    tags = [f[1] for f in got]
    assert tags == sorted(tags)         # no frame sees an older default than one before it
    assert [f[1] for f in got[-200:]] == [61] * 200
    assert all(f[2] == 7 for f in got)


EXACT_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> k; bit<8> tag; bit<8> pad; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action set_tag(bit<8> v) { h.h.tag = v; }
    table by_key { key = { h.h.k: exact; } actions = { set_tag; NoAction; }
                   default_action = NoAction(); }
    apply { sm.egress_spec = 1; by_key.apply(); }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def test_an_exact_table_emptied_and_filled_again_matches_the_interpreter() -> None:
    """Native code skips the lookup of an empty exact table: the table starts empty, gets
    entries, loses them all and gets some back, with traffic between each step."""
    from target import Exact
    from target.compiler.driver import compile_text
    document, _ = compile_text(EXACT_PROGRAM)
    frames = [(0, k.to_bytes(2, "big") + bytes(22)) for k in range(40)]
    results = []
    for mode in ("off", "wait"):
        sw = Switch(native=mode)
        sw.load(document)
        assert sw.native_ready() is (mode == "wait")
        out = sw.process(frames)
        handles = [sw.table_add("I.by_key", [Exact(k)], "I.set_tag", [k + 1]) for k in range(0, 40, 3)]
        out += sw.process(frames)
        for h in handles:
            sw.table_delete("I.by_key", h)
        out += sw.process(frames)
        sw.table_add("I.by_key", [Exact(7)], "I.set_tag", [99])
        out += sw.process(frames)
        results.append((out, sw.pipeline.table_stats(0)))
    assert results[1] == results[0]
    tags = [f[2] for _port, f in results[1][0]]
    assert tags[40:80] == [k + 1 if k % 3 == 0 else 0 for k in range(40)]
    assert tags[:40] == tags[80:120] == [0] * 40 and tags[120 + 7] == 99
