"""A bounded run of the consistency check under route updates (bench/route_consistency.py).

The router forwards through its engine loop while a control thread changes routes at
1,000/s through the target API: every frame must leave with a next hop its destination had
while the frame was in flight (port and MAC from one next hop), none may be lost, counters
read meanwhile never go down or past the frames sent, and at the end they equal the traffic.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import route_consistency  # noqa: E402
from bench.route_consistency import Bench, History  # noqa: E402


def test_every_packet_takes_an_old_or_new_next_hop_while_routes_change() -> None:
    report = route_consistency.run(seconds=3.0, rate=1000.0, routes=32, seed=5)
    assert report.ok, (report.line(), report.notes[:5])
    assert report.changes >= 1500, report.line()        # at least half the rate on a busy host
    assert report.checked >= 5000 and report.counter_reads >= 100, report.line()


def test_history_allows_the_value_at_entry_and_those_set_in_flight() -> None:
    h = History(1)
    h.record(10.0, 10.5, 2)
    h.record(20.0, 20.1, 3)
    assert h.allowed(5.0, 6.0) == {1}
    assert h.allowed(10.2, 11.0) == {1, 2}       # the change was under way when it entered
    assert h.allowed(12.0, 19.0) == {2}
    assert h.allowed(12.0, 21.0) == {2, 3}
    assert h.allowed(25.0, 26.0) == {3}


def test_a_change_recorded_but_not_made_is_caught() -> None:
    """The check can fail: a control plane that skips some changes is reported wrong."""

    class Forgetful(Bench):
        def change(self) -> None:
            before = list(self.current16)
            super().change()
            for r, (old, new) in enumerate(zip(before, self.current16, strict=True)):
                if old != new and self.rng.random() < 0.5:   # put the old next hop back
                    self.sw.table_modify(route_consistency.LPM, self.route16[r],
                                         "RouterIngress.set_next_hop", [old])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    try:
        report = Forgetful(8, seed=2).run(2.0, 500.0, 20000.0)
    finally:
        sys.setswitchinterval(interval)
    assert report.wrong > 0, report.line()
