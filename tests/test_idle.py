"""An idle switch sleeps: with two AF_PACKET ports and one AF_XDP port and no traffic it uses
well under 1 % of a core, and the first packet after idle is forwarded within a millisecond of
what a busy-polling switch takes."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest
from netns import receive

from target import Switch
from target.compiler.driver import compile_text
from target.driver.af_packet import AfPacketPort
from target.driver.af_xdp import AfXdpPort

pytestmark = pytest.mark.root
if os.geteuid() != 0:
    pytest.fail("the idle tests need root (netns, veth, XDP)", pytrace=False)

# Every frame from port 1 leaves on port 2, everything else is dropped.
PATCH = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct headers_t { eth_t eth; }
struct meta_t { }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control VC(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply { if (sm.ingress_port == 1) { sm.egress_spec = 2; } else { mark_to_drop(sm); } }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""
FRAME = bytes.fromhex("020000000002" "020000000001" "88b5") + b"idle" * 12


def thread_ids() -> set[int]:
    return {int(tid) for tid in os.listdir("/proc/self/task")}


def cpu_seconds(tids: set[int]) -> float:
    """Time on a CPU of these threads of this process (/proc/self/task/T/schedstat, in ns).
    The switch's own threads only: the test process also carries what earlier tests left
    (gRPC's threads, for one), which is not the switch's cost."""
    total = 0
    for tid in tids:
        try:
            total += int(Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[0])
        except FileNotFoundError:                 # the thread has ended: its time is gone
            continue
    return total / 1e9


def patch_switch(bed, tmp_path: Path, busy_poll: bool):  # noqa: ANN001, ANN201
    """A switch on three veth pairs (ports 1, 2: AF_PACKET; 3: AF_XDP); returns it with the
    namespace ends of ports 1 and 2."""
    source = tmp_path / "patch.p4"
    source.write_text(PATCH)
    program, _ = compile_text(PATCH, source)
    ns = bed.namespace()
    ends = [bed.veth(ns) for _ in range(3)]
    sw = Switch(pool_size=4096, buf_size=2048 + 256, busy_poll=busy_poll)
    sw.load(program)
    sw.add_port(1, AfPacketPort(ends[0][0]))
    sw.add_port(2, AfPacketPort(ends[1][0]))
    sw.add_port(3, AfXdpPort(ends[2][0]))
    return sw, ns, ends[0][1], ends[1][1]


def test_idle_switch_uses_under_one_percent_of_a_core(bed, tmp_path: Path) -> None:
    sw, _, _, _ = patch_switch(bed, tmp_path, busy_poll=False)
    before = thread_ids()
    sw.start()
    try:
        switch_threads = thread_ids() - before
        assert switch_threads, "the switch started no thread of its own"
        time.sleep(0.3)                       # past the polling phase
        start_cpu, start = cpu_seconds(switch_threads), time.monotonic()
        time.sleep(3.0)
        share = (cpu_seconds(switch_threads) - start_cpu) / (time.monotonic() - start)
    finally:
        sw.stop()
        for num in (1, 2, 3):
            sw.remove_port(num)
    assert share < 0.01, f"an idle switch used {share:.1%} of a core"


def first_packet_delays(bed, tmp_path: Path, busy_poll: bool) -> tuple[list[float], int]:
    """Seconds from sending a frame into port 1 after 50 ms of silence to its arrival from
    port 2, ten times; and how often the engine loop went to sleep."""
    sw, ns, inside1, inside2 = patch_switch(bed, tmp_path, busy_poll)
    sw.start()
    delays = []
    try:
        with bed.raw_socket(ns, inside1) as tx, bed.raw_socket(ns, inside2) as rx:
            for _ in range(10):
                time.sleep(0.05)
                sent = time.monotonic()
                tx.send(FRAME)
                got = receive(rx, timeout=2.0, accept=lambda f: f[12:14] == b"\x88\xb5")
                delays.append(time.monotonic() - sent)
                assert got == [FRAME]
        sleeps = sw._loop.breathers[0].sleeps
    finally:
        sw.stop()
        for num in (1, 2, 3):
            sw.remove_port(num)
    return delays, sleeps


def test_first_packet_after_idle_is_delayed_under_a_millisecond(bed, tmp_path: Path) -> None:
    sleeping, sleeps = first_packet_delays(bed, tmp_path, busy_poll=False)
    busy, busy_sleeps = first_packet_delays(bed, tmp_path, busy_poll=True)
    assert sleeps >= 10 and busy_sleeps == 0      # it did sleep between the frames
    extra = statistics.median(sleeping) - statistics.median(busy)
    assert extra < 0.001, f"median {statistics.median(sleeping) * 1e3:.2f} ms after idle, " \
                          f"{statistics.median(busy) * 1e3:.2f} ms busy polling"
