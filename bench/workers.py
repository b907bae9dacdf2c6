"""Run a switch's pipeline on several workers at once, one engine loop per thread.

Each worker has its own packet pool and its own in-memory ports, as a worker owning its RX
queues does: worker 0 is the pipeline's first worker and the switch's pool, the others are
added beside it. The figure is the packets of all workers over the wall time of the slowest.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from target.loop import Breather
from target.packet import PacketPool
from target.pipeline.engine import worker_batch_entry

POOL_SIZE = 8192
BUF_SIZE = 2304


def ensure_workers(sw: Any, n: int) -> list[tuple[PacketPool, int]]:
    """(pool, worker handle) of the pipeline's first n workers, adding those it lacks."""
    pl = sw.pipeline
    while pl.workers_count < n:
        pl.add_worker(PacketPool(POOL_SIZE, BUF_SIZE))
    return [(pl.worker_pool(k), pl.worker_handle(k)) for k in range(n)]


def run_workers(sw: Any, n: int, rx_of: Callable[[int, PacketPool, int], dict],
                tx_of: Callable[[int, PacketPool], dict], batch: int,
                packets: int) -> tuple[float, float]:
    """Forward `packets` split over n workers (rx_of(k, pool, share) gives worker k's RX ports,
    which run dry after its share). Returns packets per second of wall time, and per second
    of CPU time the process used: on a shared machine the second says whether workers cost
    more per packet together than alone, whatever CPU the host grants."""
    loops = []
    share = [packets // n + (1 if k < packets % n else 0) for k in range(n)]
    for k, (pool, handle) in enumerate(ensure_workers(sw, n)):
        rx = rx_of(k, pool, share[k])
        tx = tx_of(k, pool)
        loops.append((Breather(sw.pipeline, worker_batch_entry(), pool, rx, tx, batch,
                               worker=handle), rx, tx))
    got = [0] * n
    start = threading.Barrier(n + 1)

    def work(k: int) -> None:
        start.wait()
        got[k] = loops[k][0].run(600.0, share[k], True)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    start.wait()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    cpu = cpu_seconds() - c0
    if got != share:
        raise SystemExit(f"lost packets: workers received {got} of {share}")
    return packets / dt, packets / cpu if cpu > 0 else 0.0


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def thread_times(tid: int) -> tuple[int, int, int]:
    """A thread's time on a CPU and time waiting for one (ns, /proc schedstat), and how often
    it blocked (voluntary context switches): what it lost to the host's scheduler against
    what it spent waiting for something (a lock)."""
    run_ns, wait_ns = (int(v) for v in
                       Path(f"/proc/self/task/{tid}/schedstat").read_text().split()[:2])
    blocked = 0
    for line in Path(f"/proc/self/task/{tid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            blocked = int(line.split()[1])
    return run_ns, wait_ns, blocked
