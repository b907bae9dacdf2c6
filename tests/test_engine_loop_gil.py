"""A control plane busy in Python never makes a worker wait: the engine threads run their
batches without the GIL and take it only when they have something to hand to Python
(packet-ins, digests, traces) or were kicked, never just to come back between two runs (a
thread waiting for the GIL waits up to the switch interval, 5 ms)."""

from __future__ import annotations

import time

from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, needs_corpus

from target import Lpm, Switch
from target.driver.memory import MemoryGenerator, MemorySink

pytestmark = needs_corpus

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"


def test_a_worker_never_blocks_while_the_control_plane_holds_the_gil() -> None:
    sw = Switch(pool_size=4096, buf_size=2304)
    sw.load(BASIC, BASIC_P4INFO)
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(10 << 24, 8)], "MyIngress.ipv4_forward",
                 [0x020000000002, 2])
    frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                IP(src="198.18.0.1", dst="10.1.2.3", ttl=64) / UDP(sport=1, dport=2) / bytes(18))
    sw.add_port(1, MemoryGenerator([frame], count=1 << 62))
    sink = MemorySink()
    sw.add_port(2, sink)
    sw.start()
    try:
        b = sw._loop.port_breathers[0]
        b.measure_gaps = True
        deadline = time.monotonic() + 30
        while sink.packets < 10_000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.packets >= 10_000, "the engine does not forward"
        b.reset_gaps()
        before = sink.packets
        end = time.monotonic() + 1.5
        spins = 0
        while time.monotonic() < end:       # pure Python: this thread wants the GIL always
            spins += 1
        causes = b.gap_causes()
        forwarded = sink.packets - before
    finally:
        sw.stop()
        for num in (1, 2):
            sw.remove_port(num)
    assert forwarded > 0
    # Gaps over 1 ms in which the worker gave its CPU up itself (the GIL, a lock): none.
    # (Being preempted on a busy host is the host's business and not counted here.)
    assert causes["blocked"]["count"] == 0, causes
