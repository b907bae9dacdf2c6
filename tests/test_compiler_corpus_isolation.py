"""The corpus harness's child processes (target.compiler.corpus.check_isolated): a program is
limited by the CPU time it uses, not by the wall time a loaded machine takes, so it cannot be
reported as timed out because others keep the machine busy; a result counts as soon as it is
sent; a child never inherits a lock that another thread of the caller holds."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import corpus_isolation_work as work

from target.compiler.corpus import Program, check_isolated

PROGRAM = Program("none", Path("none.p4"), Path("none.stf"))


def test_a_slow_machine_is_not_a_timeout() -> None:
    assert check_isolated(PROGRAM, cpu_limit=2, idle_limit=2, work=work.throttled) == "PASS"


def test_a_spinning_program_times_out_on_cpu_time() -> None:
    reason = check_isolated(PROGRAM, cpu_limit=1, work=work.spin)
    assert reason.startswith("timed out after ") and reason.endswith(" s of CPU time")


def test_a_program_waiting_without_computing_is_stuck() -> None:
    assert check_isolated(PROGRAM, idle_limit=1, work=work.wait).startswith("stuck: no CPU time")


def test_the_result_counts_even_if_the_child_does_not_exit() -> None:
    started = time.monotonic()
    assert check_isolated(PROGRAM, work=work.lingers) == "PASS"
    assert time.monotonic() - started < 30


def test_a_crash_is_reported() -> None:
    assert check_isolated(PROGRAM, work=work.abort) == "child process died (exit code -6)"


def test_a_lock_held_by_another_thread_is_not_inherited() -> None:
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with work.LOCK:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        assert check_isolated(PROGRAM, idle_limit=5, work=work.take_lock) == "PASS"
    finally:
        release.set()
        holder.join()
