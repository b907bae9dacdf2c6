"""Every STF test of the corpus, run in-process on kvick.

Programs kvick cannot pass yet are listed in stf_known_failures.txt (`name<TAB>reason`);
they run as strict xfails, so one that starts passing fails the suite until it is unlisted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from target import stf

HERE = Path(__file__).resolve().parent
CORPUS = Path(os.environ.get("KVICK_CORPUS", HERE.parents[1] / "shared" / "corpus"))
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
KNOWN_FAILURES_FILE = HERE / "stf_known_failures.txt"


def known_failures() -> dict[str, str]:
    reasons = {}
    for line in KNOWN_FAILURES_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            reasons[name.strip()] = reason.strip() or "known failure"
    return reasons


def corpus_cases() -> list:
    failing = known_failures()
    cases = []
    for stf_path in sorted(CORPUS.glob("*/*.stf")):
        name = stf_path.parent.name
        marks = [pytest.mark.xfail(strict=True, reason=failing[name])] if name in failing else []
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


def test_known_failures_name_corpus_programs() -> None:
    present = {p.parent.name for p in CORPUS.glob("*/*.stf")}
    assert set(known_failures()) <= present


@pytest.mark.parametrize("name", corpus_cases())
def test_stf(name: str) -> None:
    try:
        from target import Switch
    except ImportError as e:  # before the engine is built there is nothing to run
        pytest.skip(f"target.Switch unavailable: {e}")
    folder = CORPUS / name
    result = stf.run_stf(folder / f"{name}.json", folder / f"{name}.stf",
                         switch_factory=Switch)
    assert result.passed, result.report()
