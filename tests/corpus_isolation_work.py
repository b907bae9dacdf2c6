"""Work run by test_compiler_corpus_isolation.py in check_isolated's child processes (module
level, so that the fork server's children can import it by name)."""

from __future__ import annotations

import os
import threading
import time

LOCK = threading.Lock()


def throttled(_program: object) -> str:
    """What a loaded machine does to a program: 3 s of wall time, little CPU time."""
    end = time.monotonic() + 3
    while time.monotonic() < end:
        spin = time.monotonic() + 0.005
        while time.monotonic() < spin:
            pass
        time.sleep(0.05)
    return "PASS"


def spin(_program: object) -> str:
    while True:
        pass


def wait(_program: object) -> str:
    time.sleep(3600)
    return "PASS"


def lingers(_program: object) -> str:
    """A result, then a thread that keeps the process from exiting."""
    threading.Thread(target=time.sleep, args=(3600,)).start()
    return "PASS"


def abort(_program: object) -> str:
    os.abort()


def take_lock(_program: object) -> str:
    with LOCK:
        return "PASS"
