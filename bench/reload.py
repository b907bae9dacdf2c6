"""Forwarding while a whole routing table is cleared and loaded again (bench/router.py --reload).

The switch runs as deployed: its own engine threads (Switch.start, one per worker) forward
64-byte frames from an in-memory generator per worker into in-memory sinks, while this thread
clears MyIngress.ipv4_lpm and loads every route again through the target API's bulk path
(Switch.table_write_encoded, the path P4Runtime Writes take), one write per `chunk` routes.

What is measured, all from the same threads in the same run:
- the forwarding rate during the reload against the rate over the seconds just before it;
- the longest gap between the starts of two batches of one worker, during the reload and
  during the idle seconds before it (a shared host makes gaps on its own: compare the two);
- each gap longer than 1 ms put down to its cause (target/gaps.pxi): blocked (the thread gave
  up its CPU: a lock, the GIL, a page fault waiting: the switch's own), on CPU (the batch
  itself was slow), preempted (the scheduler ran someone else: host contention);
- what the worker threads did meanwhile from /proc schedstat: time on a CPU, time waiting for
  one, time blocked;
- the machine's load average, so the figure can be read;
- every batch of every worker (Pipeline.batch_times_start: start, duration, packets, the copy
  it read), lined up with the commits: how much forwarding time the batches just after each
  publish lost (a worker moving to the other copy), how much the other batches lost while the
  writer ran (memory-system sharing), and how much went to batches stretched by being taken
  off their CPU (the host).
"""

from __future__ import annotations

import os
import threading
import time
from array import array
from typing import Any

import numpy as np

from bench.workers import thread_times
from target import Switch
from target.driver.memory import MemoryGenerator, MemorySink

TABLE = "MyIngress.ipv4_lpm"
FORWARD = "MyIngress.ipv4_forward"
GEN_PORT = 20            # worker k's generator is port GEN_PORT + k
BATCH_RECORDS = 2_000_000   # per worker: 32 MiB, half a minute of batches of 256 at 16 Mpps
AFTER_PUBLISH = 100      # batches counted as "just after a publish"
STRETCHED = 20           # a batch this many times its idle time per packet was off its CPU
REWRITE_SHIFT = 1        # a rewrite moves every route to the next port
BATCH_DTYPE = np.dtype([("start", "<u8"), ("ns", "<u4"), ("packets", "<u2"), ("side", "<u2")])


def encoded_runs(sw: Switch, routes: Any, next_hops: int, chunk: int,
                 kind: int = Switch.UPDATE_INSERT, shift: int = 0) -> list[tuple[Any, ...]]:
    """The routes as table_write_encoded runs of `chunk` updates of `kind` (what a P4Runtime
    server's wire decoder hands the target): stored rows, action ids and packed parameters.
    Each route's next hop is its bench/router.py one moved `shift` ports on."""
    aid = sw.table_action_ref(TABLE, FORWARD)
    stride = sw.table_param_stride(TABLE)
    prefix = routes["prefix"].astype(np.uint32)
    length = routes["length"].astype(np.uint32)
    port = 1 + (routes["asn"].astype(np.uint64) + shift) % next_hops
    mask = np.where(length == 0, 0, (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF).astype(np.uint32)
    rows = np.empty((len(prefix), 2), dtype=">u4")
    rows[:, 0] = prefix
    rows[:, 1] = mask
    params = np.zeros((len(prefix), stride, 2), dtype="<u8")    # 16-byte little-endian slots
    params[:, 0, 0] = 0x020000000000 | port                       # dstAddr
    params[:, 1, 0] = port                                        # port
    runs = []
    for lo in range(0, len(prefix), chunk):
        hi = min(lo + chunk, len(prefix))
        n = hi - lo
        runs.append((TABLE, bytes([kind]) * n, rows[lo:hi].tobytes(),
                     array("q", bytes(8 * n)), array("i", [aid] * n), params[lo:hi].tobytes()))
    return runs


def load_encoded(sw: Switch, runs: list[tuple[Any, ...]]) -> None:
    for run in runs:
        errors = sw.table_write_encoded([run])
        if errors:
            raise SystemExit(f"reload: {len(errors)} routes refused, first: {errors[0][2]}")


def batch_losses(records: bytes, idle: tuple[int, int], load: tuple[int, int]
                 ) -> dict[str, float]:
    """Where one worker's forwarding time went during `load` (monotonic ns), from its batch
    records, against its batches in `idle`: the time its batches took beyond their idle time
    per packet, split into the AFTER_PUBLISH batches after each move to the other copy, the
    batches stretched STRETCHED times or more (off the CPU: not the switch's), and the rest."""
    b = np.frombuffer(records, dtype=BATCH_DTYPE)
    start, ns = b["start"].astype(np.int64), b["ns"].astype(np.int64)
    packets = np.maximum(b["packets"].astype(np.int64), 1)
    per_packet = ns / packets
    in_idle = (start >= idle[0]) & (start < idle[1])
    in_load = (start >= load[0]) & (start < load[1])
    out = {"publishes": 0, "after_publish_ms": 0.0, "stretched_ms": 0.0, "other_ms": 0.0}
    if not in_idle.any() or not in_load.any():
        return out
    typical = float(np.median(per_packet[in_idle]))
    base = float(per_packet[in_idle & (per_packet < STRETCHED * typical)].mean())
    excess = ns - base * packets
    stretched = per_packet >= STRETCHED * typical
    idx = np.flatnonzero(in_load)
    moved = idx[1:][b["side"][idx[1:]] != b["side"][idx[1:] - 1]]
    after = np.zeros(len(b), dtype=bool)
    for k in moved:
        after[k:k + AFTER_PUBLISH] = True
    out["publishes"] = len(moved)
    out["after_publish_ms"] = float(excess[in_load & after & ~stretched].sum()) / 1e6
    out["stretched_ms"] = float(excess[in_load & stretched].sum()) / 1e6
    out["other_ms"] = float(excess[in_load & ~after & ~stretched].sum()) / 1e6
    return out


def steal_s() -> float:
    """CPU time the hypervisor gave to other guests, all CPUs (/proc/stat): a vCPU taken away
    this way shows as neither a context switch nor CPU time of the thread."""
    fields = open("/proc/stat").readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK") if len(fields) > 8 else 0.0


def _engine_tids() -> list[int]:
    return [t.native_id for t in threading.enumerate()
            if t.name.startswith("kvick-engine") and t.native_id is not None]


def reload_figure(sw: Switch, frame: bytes, dsts: Any, routes: Any, next_hops: int,
                  chunk: int = 10_000, control_nice: int = 0,
                  idle_s: float = 2.0, rewrite: bool = False) -> dict[str, Any]:
    """Forward on the switch's engine while a control-plane thread of its own (as a P4Runtime
    server's, run at `control_nice`: Switch.control_nice) clears the table and loads it again,
    or with `rewrite` MODIFYs every route in place to another next hop (the table stays full,
    so no packet is dropped for a missing route meanwhile, which a cleared table makes cheap);
    print the figures and return them for the JSON line, keys "reload_" or "rewrite_"."""
    if rewrite:
        runs = encoded_runs(sw, routes, next_hops, chunk, Switch.UPDATE_MODIFY, REWRITE_SHIFT)
    else:
        runs = encoded_runs(sw, routes, next_hops, chunk)
    key = "rewrite" if rewrite else "reload"
    sw.control_nice = control_nice
    took: list[Any] = []

    def control_plane() -> None:
        try:
            t0 = time.perf_counter()
            if not rewrite:
                sw.table_clear(TABLE)
            load_encoded(sw, runs)
            took.append(time.perf_counter() - t0)
        except BaseException as e:          # reported by the bench's thread
            took.append(e)
    workers = sw.workers
    for k in range(workers):        # ports one thread drives go to the workers in turn
        sw.add_port(GEN_PORT + k, MemoryGenerator([frame], count=1 << 62, rewrite_offset=30,
                                                  rewrite_values=dsts))
    for num in range(next_hops + 2):
        sw.add_port(num, MemorySink())
    pl = sw.pipeline
    for k in range(workers):
        pl.batch_times_start(k, BATCH_RECORDS)
    sw.start()
    try:
        loops = sw._loop.port_breathers
        for b in loops:
            b.measure_gaps = True
        time.sleep(0.5)                                   # every worker is forwarding
        tids = _engine_tids()

        def sample() -> tuple[int, list[tuple[int, int, int]], float, float, int]:
            return (sum(b.rx_packets for b in loops), [thread_times(t) for t in tids],
                    time.perf_counter(), steal_s(), time.monotonic_ns())

        def gaps() -> tuple[float, dict[str, Any]]:
            longest = max(b.max_gap_ns for b in loops) / 1e6
            merged: dict[str, Any] = {}
            for b in loops:
                g = b.gap_causes()
                for cause in ("on_cpu", "preempted", "blocked"):
                    m = merged.setdefault(cause, {"count": 0, "max_ms": 0.0, "off_cpu_s": 0.0})
                    m["count"] += g[cause]["count"]
                    m["max_ms"] = max(m["max_ms"], g[cause]["max_ns"] / 1e6)
                    m["off_cpu_s"] += g[cause]["off_cpu_ns"] / 1e9
                merged["faults"] = merged.get("faults", 0) + g["faults"]
            return longest, merged

        def reset() -> None:
            for b in loops:
                b.reset_gaps()

        reset()
        s0 = sample()
        time.sleep(idle_s)
        s1 = sample()
        idle_gap, idle_causes = gaps()
        reset()
        loader = threading.Thread(target=control_plane, name="control-plane")
        loader.start()
        loader.join()
        s2 = sample()
        reload_gap, causes = gaps()
    finally:
        sw.stop()
        records = [pl.batch_times_take(k) for k in range(workers)]
        for num in list(sw.ports):
            sw.remove_port(num)
    if not isinstance(took[0], float):
        raise took[0]
    reload_s = took[0]
    count = sw._table(TABLE).count
    if count != len(routes):
        raise SystemExit(f"reload: {count} routes in the table, not {len(routes)}")

    def rate(a, b) -> float:
        return (b[0] - a[0]) / (b[2] - a[2])

    def threads(a, b) -> tuple[float, float, float, int]:
        cpu = sum(y[0] - x[0] for x, y in zip(a[1], b[1], strict=True)) / 1e9
        wait = sum(y[1] - x[1] for x, y in zip(a[1], b[1], strict=True)) / 1e9
        blocks = sum(y[2] - x[2] for x, y in zip(a[1], b[1], strict=True))
        return cpu, wait, max(0.0, len(a[1]) * (b[2] - a[2]) - cpu - wait), blocks

    idle_pps, reload_pps = rate(s0, s1), rate(s1, s2)
    share = reload_pps / idle_pps if idle_pps else 0.0
    cpu, wait, blocked, blocks = threads(s1, s2)
    idle_cpu, idle_wait, _ib, _in = threads(s0, s1)
    own = [causes[c] for c in ("blocked", "on_cpu")]
    own_long = sum(c["count"] for c in own)
    own_max = max(c["max_ms"] for c in own)
    load1 = os.getloadavg()[0]
    losses = [batch_losses(r, (s0[4], s1[4]), (s1[4], s2[4])) for r in records]
    publishes = max(x["publishes"] for x in losses)
    after_ms = sum(x["after_publish_ms"] for x in losses)
    other_ms = sum(x["other_ms"] for x in losses)
    stretched_ms = sum(x["stretched_ms"] for x in losses)
    what = "rewritten in place (MODIFY, new next hop)" if rewrite else "cleared and loaded again"
    print(f"{key}: {len(routes):,} routes {what} through table_write_encoded "
          f"({len(runs)} writes of up to {chunk:,}) in {reload_s:.2f} s "
          f"({len(routes) / reload_s:,.0f} routes/s); {workers} worker(s) on the switch's engine, "
          f"control plane at " + (f"SCHED_BATCH nice {control_nice}" if control_nice
                                  else "the workers' priority"))
    print(f"  forwarding: {idle_pps / 1e6:.2f} Mpps over {idle_s:.0f} s before, "
          f"{reload_pps / 1e6:.2f} Mpps during the {key} = {100 * share:.0f} % of idle")
    print(f"  longest gap between two batches of a worker: {reload_gap:.2f} ms during the {key} "
          f"({idle_gap:.2f} ms in the idle seconds before)")
    print(f"  gaps over 1 ms during the {key}: {causes['blocked']['count']} blocked "
          f"(longest {causes['blocked']['max_ms']:.2f} ms) and {causes['on_cpu']['count']} slow "
          f"batches on a CPU (longest {causes['on_cpu']['max_ms']:.2f} ms, "
          f"{causes['on_cpu']['off_cpu_s'] * 1e3:.1f} ms of them not on the thread's CPU clock): "
          f"the switch's own; "
          f"{causes['preempted']['count']} preempted (longest {causes['preempted']['max_ms']:.2f}"
          f" ms, {causes['preempted']['off_cpu_s']:.2f} s off the CPU): the host's scheduler; "
          f"{causes['faults']} page faults inside them")
    rates = ", ".join(f"{c} {causes[c]['count'] / reload_s:.1f} vs "
                      f"{idle_causes[c]['count'] / idle_s:.1f}"
                      for c in ("blocked", "on_cpu", "preempted"))
    print(f"  the same gaps per second, during the {key} vs the idle seconds before: {rates} "
          f"(a cause as frequent before the reload is not the reload's)")
    print(f"  batches' time beyond their idle time per packet, all workers: {after_ms:.1f} ms in "
          f"the {AFTER_PUBLISH} batches after each of {publishes} moves to the other copy "
          f"({1e3 * after_ms / max(1, publishes) / workers:.0f} us per publish and worker), "
          f"{other_ms:.1f} ms in the other batches, {stretched_ms:.1f} ms in batches stretched "
          f"{STRETCHED}x or more (off their CPU), over {1e3 * reload_s:.0f} ms")
    print(f"  worker threads during the {key}: {cpu:.2f} s on a CPU, {wait:.2f} s waiting for "
          f"one, {blocked:.2f} s blocked in {blocks} waits (before: {idle_cpu:.2f} s on a CPU, "
          f"{idle_wait:.2f} s waiting over {idle_s:.0f} s)")
    print(f"  machine: load average {load1:.1f} on {os.cpu_count()} CPUs, steal (vCPUs run by "
          f"the hypervisor for others) {s2[3] - s1[3]:.2f} s during the {key}, "
          f"{s1[3] - s0[3]:.2f} s in the {idle_s:.0f} s before; the goal (>= 90 % of "
          f"idle, no gap over 1 ms) reads on an idle machine; on a loaded one the switch's own "
          f"part is the blocked and on-CPU gaps: {own_long} over 1 ms"
          + (f", longest {own_max:.2f} ms" if own_long else ""))
    figures = {"reload_s": round(reload_s, 3), "reload_routes_per_s": round(len(routes) / reload_s),
               "reload_idle_pps": round(idle_pps), "reload_pps": round(reload_pps),
               "reload_share": round(share, 3), "reload_max_gap_ms": round(reload_gap, 3),
               "reload_idle_max_gap_ms": round(idle_gap, 3),
               "reload_own_gaps_over_1ms": own_long, "reload_own_max_gap_ms": round(own_max, 3),
               "reload_preempted_gaps_over_1ms": causes["preempted"]["count"],
               "reload_preempted_max_gap_ms": round(causes["preempted"]["max_ms"], 3),
               "reload_worker_cpu_s": round(cpu, 3), "reload_worker_runqueue_s": round(wait, 3),
               "reload_worker_blocked_s": round(blocked, 3), "reload_worker_blocks": blocks,
               "reload_load_avg": round(load1, 2), "reload_steal_s": round(s2[3] - s1[3], 2),
               "reload_control_nice": control_nice, "reload_publishes": publishes,
               "reload_after_publish_ms": round(after_ms, 2), "reload_other_batches_ms":
               round(other_ms, 2), "reload_stretched_ms": round(stretched_ms, 2)}
    return {key + name[len("reload"):]: value for name, value in figures.items()}
