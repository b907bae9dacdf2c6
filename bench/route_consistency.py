"""Consistency under updates: forwarding while routes change at 1,000/s through the target API.

kvick's router (p4src/router.p4) runs its engine loop between in-memory ports: frames enter
on port 1 and leave on ports 3 and 4. Each of R routes 10.r.0.0/16 has three next hops it
cycles through (table_modify of its ipv4_lpm entry) and a more-specific 10.r.1.0/24 with a
fourth next hop that is deleted and added again; a control thread makes these changes at the
given rate while traffic flows. Every next hop has its own egress port and destination MAC,
so each frame that leaves says which next hop it took. A frame is right when that next hop is
one its destination could have had between the frame's entry and its exit (the value in
effect when it entered, or one set while it was in flight) and its port and MAC come from the
same next hop (no torn entry). A reader thread reads counters during the traffic: they never
go down and never exceed the frames sent. When traffic stops, the input port's counter and the
output ports' counters equal the frames sent, and each /16 route's direct counter equals the
frames that left through its next hops.

    python bench/route_consistency.py [--seconds S] [--rate N] [--routes R]

Prints packets checked / wrong, route changes made (and the rate achieved), counter checks.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scapy.all import IP, UDP, Ether, raw  # noqa: E402

from target import Exact, Lpm, Switch  # noqa: E402

IN_PORT, OUT_PORTS = 1, (3, 4)
LPM, NEXT_HOP = "RouterIngress.ipv4_lpm", "RouterIngress.next_hop"
MAC_BASE = 0x020000000000
BURST = 32


def port_of(nh: int) -> int:
    return OUT_PORTS[(nh * 7 + nh // 4) % 2]


@dataclass
class Report:
    sent: int = 0
    checked: int = 0
    wrong: int = 0
    torn: int = 0
    lost: int = 0
    changes: int = 0
    change_seconds: float = 0.0
    counter_reads: int = 0
    counter_wrong: int = 0
    counters_at_end_wrong: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        rate = self.changes / self.change_seconds if self.change_seconds else 0.0
        return (f"packets checked {self.checked} of {self.sent} sent, wrong {self.wrong} "
                f"(torn {self.torn}), lost {self.lost}; route changes {self.changes} "
                f"({rate:,.0f}/s); counter reads during traffic {self.counter_reads} "
                f"(wrong {self.counter_wrong}); counters wrong at the end "
                f"{self.counters_at_end_wrong}")

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.torn or self.lost or self.counter_wrong
                    or self.counters_at_end_wrong) and self.checked == self.sent > 0


class History:
    """The next hop each destination had: its changes as [start, end, value].

    A change is recorded before the table call (end unknown: +inf) and finished after it, so
    that a frame checked by another thread meanwhile is judged with the change in flight.
    """

    def __init__(self, initial: int) -> None:
        self.changes: list[list[float]] = [[float("-inf"), float("-inf"), initial]]
        self.starts: list[float] = [float("-inf")]    # appended last: readers bound by it

    def begin(self, start: float, value: int) -> list[float]:
        change = [start, float("inf"), value]
        self.changes.append(change)
        self.starts.append(start)
        return change

    def record(self, start: float, end: float, value: int) -> None:
        self.begin(start, value)[1] = end

    def allowed(self, entered: float, left: float) -> set[int]:
        """Values in effect at `entered` (the one before too, when a change was under way)
        and every value set before `left`."""
        starts = self.starts[:len(self.starts)]
        i = bisect.bisect_right(starts, entered) - 1
        allowed = {int(self.changes[i][2])}
        if i > 0 and self.changes[i][1] > entered:
            allowed.add(int(self.changes[i - 1][2]))
        j = i + 1
        while j < len(starts) and starts[j] <= left:
            allowed.add(int(self.changes[j][2]))
            j += 1
        return allowed


def _program() -> dict:
    from target.compiler.driver import compile_file

    document, _p4info = compile_file(ROOT / "p4src" / "router.p4")
    return document


class Bench:
    def __init__(self, routes: int, seed: int) -> None:
        from target.driver.memory import QueuePort

        self.routes = routes
        self.rng = random.Random(seed)
        self.sw = Switch(cpu_port=255, pool_size=4096)
        self.sw.load(_program())
        self.ports = {n: QueuePort(capacity=4096) for n in (IN_PORT, *OUT_PORTS)}
        for n, port in self.ports.items():
            self.sw.add_port(n, port)
        for nh in range(4 * routes):
            self.sw.table_add(NEXT_HOP, [Exact(nh)], "RouterIngress.forward",
                              [port_of(nh), MAC_BASE | nh])
        self.route16 = [self.sw.table_add(LPM, [Lpm(0x0A000000 | r << 16, 16)],
                                          "RouterIngress.set_next_hop", [4 * r])
                        for r in range(routes)]
        self.route24: list[int | None] = [None] * routes
        self.current16 = [4 * r for r in range(routes)]
        # Destinations: 10.r.1.1 (under the /24 when present) and 10.r.2.1 (the /16 only).
        self.history = {(r, d): History(4 * r) for r in range(routes) for d in (0, 1)}
        self.templates = []
        for r in range(routes):
            for d in (0, 1):
                dst = f"10.{r}.{1 + d}.1"
                frame = raw(Ether(dst="00:00:00:00:01:01", src="00:00:00:00:00:09") /
                            IP(src="1.1.1.1", dst=dst, ttl=64) / UDP(sport=1, dport=2) /
                            bytes(8))
                self.templates.append(((r, d), frame))

    # ---- the control plane
    def change(self) -> None:
        r = self.rng.randrange(self.routes)
        start = time.monotonic()
        if self.rng.random() < 0.5:
            nh = 4 * r + (self.current16[r] - 4 * r + 1) % 3
            changes = [self.history[(r, d)].begin(start, nh)
                       for d in ([1] if self.route24[r] is not None else [0, 1])]
            self.sw.table_modify(LPM, self.route16[r], "RouterIngress.set_next_hop", [nh])
            self.current16[r] = nh
        elif self.route24[r] is None:
            changes = [self.history[(r, 0)].begin(start, 4 * r + 3)]
            self.route24[r] = self.sw.table_add(LPM, [Lpm(0x0A000100 | r << 16, 24)],
                                                "RouterIngress.set_next_hop", [4 * r + 3])
        else:
            changes = [self.history[(r, 0)].begin(start, self.current16[r])]
            self.sw.table_delete(LPM, self.route24[r])
            self.route24[r] = None
        end = time.monotonic()
        for change in changes:
            change[1] = end

    def control(self, rate: float, stop: threading.Event, report: Report) -> None:
        period = 1.0 / rate
        began = time.monotonic()
        deadline = began
        while not stop.is_set():
            self.change()
            report.changes += 1
            deadline += period
            pause = deadline - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            elif pause < -0.05:
                deadline = time.monotonic()      # fell behind: do not try to catch up
        report.change_seconds = time.monotonic() - began

    # ---- counters read while traffic flows
    def read_counters(self, sent: list[int], stop: threading.Event, report: Report) -> None:
        pick = random.Random(0)
        last_rx = 0
        last_route = [0] * self.routes
        while not stop.is_set():
            rx = self.sw.counter_read("RouterIngress.rx_port_counter", IN_PORT)[0]
            r = pick.randrange(self.routes)
            route = self.sw.direct_counter_read(LPM, self.route16[r])[0]
            limit = sent[0]          # read after the counters: nothing counted is missing
            report.counter_reads += 1
            if rx < last_rx or rx > limit or route < last_route[r]:
                report.counter_wrong += 1
                report.notes.append(f"counter read: rx {rx} (before {last_rx}, sent "
                                    f"{limit}), route {r} {route} (before {last_route[r]})")
            last_rx, last_route[r] = rx, route
            time.sleep(0.002)

    # ---- traffic
    def run(self, seconds: float, rate: float, pps: float) -> Report:
        report = Report()
        stop = threading.Event()
        sent = [0]
        entered: dict[int, tuple[tuple[int, int], float]] = {}
        taken: dict[int, list[int]] = {}
        self.sw.start()
        threads = [threading.Thread(target=self.control, args=(rate, stop, report)),
                   threading.Thread(target=self.read_counters, args=(sent, stop, report))]
        for t in threads:
            t.start()
        source = self.ports[IN_PORT]
        began = time.monotonic()
        end = began + seconds
        seq = 0
        try:
            while time.monotonic() < end:
                for _ in range(BURST):
                    key, template = self.templates[seq % len(self.templates)]
                    frame = template[:-8] + seq.to_bytes(8, "big")
                    entered[seq] = (key, time.monotonic())
                    sent[0] = seq + 1            # before the engine can count it
                    if not source.push(frame):
                        del entered[seq]
                        sent[0] = seq
                        break
                    seq += 1
                self._drain(entered, report, taken)
                # Paced traffic leaves the control thread its share of the interpreter.
                pause = began + seq / pps - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            settle = time.monotonic() + 10
            while report.checked < seq and time.monotonic() < settle:
                self._drain(entered, report, taken)
                time.sleep(0.001)
        finally:
            stop.set()
            for t in threads:
                t.join()
        report.sent = seq
        report.lost = seq - report.checked
        time.sleep(0.05)
        self.sw.stop()
        self._check_counters_at_end(report, taken)
        return report

    def _drain(self, entered: dict, report: Report, taken: dict[int, list[int]]) -> None:
        for port_num in OUT_PORTS:
            frames = self.ports[port_num].pop_all()
            left = time.monotonic()
            for frame in frames:
                seq = int.from_bytes(frame[-8:], "big")
                (r, d), t_in = entered.pop(seq)
                nh = int.from_bytes(frame[0:6], "big") ^ MAC_BASE
                report.checked += 1
                taken.setdefault(r, []).append(nh)
                if port_of(nh) != port_num:
                    report.torn += 1
                    report.notes.append(f"frame {seq}: next hop {nh}'s MAC on port {port_num}")
                elif nh not in self.history[(r, d)].allowed(t_in, left):
                    report.wrong += 1
                    report.notes.append(f"frame {seq} to 10.{r}.{1 + d}.1: next hop {nh}, "
                                        f"allowed {sorted(self.history[(r, d)].allowed(t_in, left))}")

    def _check_counters_at_end(self, report: Report, taken: dict[int, list[int]]) -> None:
        def expect(what: str, got: int, want: int) -> None:
            if got != want:
                report.counters_at_end_wrong += 1
                report.notes.append(f"{what}: counter {got}, packets {want}")

        expect("rx port 1", self.sw.counter_read("RouterIngress.rx_port_counter", IN_PORT)[0],
               report.sent)
        tx = sum(self.sw.counter_read("RouterEgress.tx_port_counter", p)[0] for p in OUT_PORTS)
        expect("tx ports 3 and 4", tx, report.checked)
        for r in range(self.routes):
            via16 = sum(1 for nh in taken.get(r, []) if nh != 4 * r + 3)
            expect(f"route 10.{r}.0.0/16", self.sw.direct_counter_read(LPM, self.route16[r])[0],
                   via16)


def run(seconds: float = 3.0, rate: float = 1000.0, routes: int = 32, seed: int = 1,
        pps: float = 20000.0) -> Report:
    # Threads hand the interpreter over every 0.5 ms instead of 5 ms, so that the control
    # thread can make a change every millisecond while the traffic thread runs.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        return Bench(routes, seed).run(seconds, rate, pps)
    finally:
        sys.setswitchinterval(interval)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="route changes per second")
    parser.add_argument("--routes", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pps", type=float, default=20000.0, help="frames per second offered")
    args = parser.parse_args()
    report = run(args.seconds, args.rate, args.routes, args.seed, args.pps)
    print(report.line())
    for note in report.notes[:10]:
        print(f"  {note}")
    print(json.dumps({"checked": report.checked, "sent": report.sent, "wrong": report.wrong,
                      "torn": report.torn, "lost": report.lost, "changes": report.changes,
                      "changes_per_s": round(report.changes / max(report.change_seconds, 1e-9)),
                      "counter_reads": report.counter_reads,
                      "counter_wrong": report.counter_wrong,
                      "counters_at_end_wrong": report.counters_at_end_wrong}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
