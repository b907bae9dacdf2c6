"""Switch(control_nice=N): a thread that writes into the engine drops to SCHED_BATCH at nice N,
and the engine threads it starts run at normal priority all the same (threads inherit their
creator's scheduling; the workers must not)."""

from __future__ import annotations

import os
import threading
import time

import pytest
from shared_data import CORPUS, needs_corpus

from target import Lpm, Switch, TargetError
from target.driver.memory import MemoryGenerator, MemorySink
from target.priority import thread_priority

pytestmark = needs_corpus

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic.json"
BASIC_P4INFO = CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb"


def priority_of(tid: int) -> tuple[int, int]:
    return os.sched_getscheduler(tid), os.getpriority(os.PRIO_PROCESS, tid)


def test_the_control_plane_runs_below_the_workers() -> None:
    seen: dict[str, object] = {}

    def control_plane() -> None:            # a thread of its own: pytest's keeps its priority
        sw = Switch(pool_size=1024, buf_size=2304, control_nice=10)
        sw.load(BASIC, BASIC_P4INFO)
        seen["before"] = thread_priority()
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(10 << 24, 8)], "MyIngress.ipv4_forward",
                     [0x020000000002, 2])
        seen["after"] = thread_priority()
        sw.add_port(1, MemoryGenerator([bytes(60)], count=1000))
        sw.add_port(2, MemorySink())
        sw.start()                          # started by the lowered thread
        try:
            time.sleep(0.2)
            seen["engine"] = [priority_of(t.native_id) for t in threading.enumerate()
                              if t.name.startswith("kvick-engine")]
        finally:
            sw.stop()

    t = threading.Thread(target=control_plane)
    t.start()
    t.join()
    assert seen["before"] == ("other", 0)
    assert seen["after"] == ("batch", 10)
    assert seen["engine"] == [(os.SCHED_OTHER, 0)]


def test_control_nice_is_checked() -> None:
    with pytest.raises(TargetError, match="control nice"):
        Switch(control_nice=20)
