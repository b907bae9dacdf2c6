"""A bounded run of the data-plane fuzzer (bench/dataplane_fuzz.py runs long ones).

Random and mutated frames, and batches the target must refuse, through kvick's router and L2
programs and several corpus programs: no exception but the refusals, the packet pool full
again after every batch, and every valid frame forwarded as before the fuzzing.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import dataplane_fuzz  # noqa: E402


def test_fuzzed_frames_crash_nothing_leak_nothing_and_change_no_forwarding() -> None:
    report = dataplane_fuzz.run(1500, seed=7, time_limit=150)
    assert report.notes == [], report.notes[:5]
    assert (report.crashes, report.leaks, report.wrong) == (0, 0, 0)
    assert report.frames >= 1500 * len(dataplane_fuzz.PROGRAMS) // 2, report.line()
    assert report.refused > 0 and report.checked >= 60, report.line()


def test_mutations_change_frames_and_stay_within_a_buffer() -> None:
    import random

    rng = random.Random(3)
    seed = bytes(range(80))
    mutated = [dataplane_fuzz.mutate(rng, seed) for _ in range(500)]
    assert sum(m != seed for m in mutated) >= 490
    assert max(len(m) for m in mutated) <= 9000
    assert {len(m) < len(seed) for m in mutated} == {True, False}
