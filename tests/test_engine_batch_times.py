"""Pipeline.batch_times_start/take: every batch an engine loop runs is recorded with its packets
and the copy it read, which changes at a commit (what bench/reload.py lines up with them)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from bench.reload import BATCH_DTYPE
from target import Lpm, Switch
from target.driver.memory import MemoryGenerator, MemorySink

CORPUS = Path(__file__).resolve().parents[1] / "../shared/corpus"
FRAME = bytes.fromhex("0200000000010200000000020800" "45000014000100004011f96bc0a800010a010203")


def test_batches_are_recorded_with_the_copy_they_read() -> None:
    sw = Switch()
    sw.load(CORPUS / "tutorial_basic" / "tutorial_basic.json",
            CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb")
    sw.add_port(20, MemoryGenerator([FRAME], count=1 << 40))
    sw.add_port(3, MemorySink())
    pl = sw.pipeline
    pl.batch_times_start(0, 1_000_000)
    sw.start()
    loops = sw._loop.port_breathers
    try:
        time.sleep(0.3)
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A010000, 16)], "MyIngress.ipv4_forward",
                     [0x020000000003, 3])
        time.sleep(0.3)
    finally:
        sw.stop()
    b = np.frombuffer(pl.batch_times_take(0), dtype=BATCH_DTYPE)
    rx = sum(loop.rx_packets for loop in loops)
    assert len(b) > 10
    assert int(b["packets"].sum()) == rx
    assert np.all(np.diff(b["start"].astype(np.int64)) > 0)
    assert np.all(b["ns"] > 0)
    assert int((np.diff(b["side"].astype(np.int64)) != 0).sum()) == 1    # the one commit
    assert pl.batch_times_take(0) == b""                                  # recording is off
