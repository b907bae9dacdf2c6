"""Scheduling of the switch's threads: the control plane below the workers.

A control-plane thread (a P4Runtime server thread, a script loading tables) and a worker
compete for the same CPUs; the worker should win. Switch(control_nice=N) (kvick --control-nice
N) moves every thread that writes into the engine to SCHED_BATCH at nice N the first time it
does (SCHED_BATCH: never preempts a running thread when it wakes; nice N: a smaller share of a
CPU it shares with a worker). It stays there: raising a thread's priority again needs
CAP_SYS_NICE. Threads inherit their creator's scheduling, so the engine threads put
themselves back to SCHED_OTHER at nice 0 when they start (allowed to root, or when they
inherited nothing lower).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("kvick")

MAX_NICE = 19


def lower_thread(nice: int) -> bool:
    """The calling thread to SCHED_BATCH at `nice` (once per thread is enough); False when
    the system refused."""
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_BATCH, os.sched_param(0))
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as e:
        log.warning("control-plane thread %d keeps its priority: %s", tid, e)
        return False
    return True


def normal_thread() -> bool:
    """The calling thread to SCHED_OTHER at nice 0, whatever its creator ran at; False when
    the system refused (an unprivileged process cannot raise a priority)."""
    tid = threading.get_native_id()
    try:
        if os.sched_getscheduler(tid) != os.SCHED_OTHER:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        if os.getpriority(os.PRIO_PROCESS, tid) != 0:
            os.setpriority(os.PRIO_PROCESS, tid, 0)
    except OSError as e:
        log.warning("engine thread %d runs at its creator's priority: %s", tid, e)
        return False
    return True


def thread_priority() -> tuple[str, int]:
    """The calling thread's scheduling policy name and nice value (tests, benchmarks)."""
    tid = threading.get_native_id()
    names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}
    return (names.get(os.sched_getscheduler(tid), "realtime"),
            os.getpriority(os.PRIO_PROCESS, tid))
