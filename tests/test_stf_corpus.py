"""Every STF test of the corpus, run in-process on kvick.

Programs kvick cannot pass yet are listed in stf_known_failures.txt (`name<TAB>reason`);
they run as strict xfails, so one that starts passing fails the suite until it is unlisted.
KVICK_WORKERS=N runs them on a switch with N engine workers, through the running engine
(stf_threads.py: each worker in its thread, the ports shared out among them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shared_data import CORPUS, corpus_params, needs_corpus
from stf_threads import run_stf_on_workers

from target import stf

HERE = Path(__file__).resolve().parent
pytestmark = needs_corpus
KNOWN_FAILURES_FILE = HERE / "stf_known_failures.txt"
WORKERS = int(os.environ.get("KVICK_WORKERS", "1"))


def switch_factory():
    from target import Switch

    return Switch(workers=WORKERS)


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


@pytest.mark.parametrize("name", corpus_params(corpus_cases))
def test_stf(name: str) -> None:
    # No fallback: an engine that does not import (a broken build) fails every program.
    folder = CORPUS / name
    if WORKERS > 1:
        result = run_stf_on_workers(folder / f"{name}.json", folder / f"{name}.stf", WORKERS)
    else:
        result = stf.run_stf(folder / f"{name}.json", folder / f"{name}.stf",
                             switch_factory=switch_factory)
    assert result.passed, result.report()


def run_edited(tmp_path: Path, name: str, edit) -> stf.StfResult:
    """Run a corpus program with its STF text changed by `edit`."""
    folder = CORPUS / name
    edited = tmp_path / f"{name}.stf"
    edited.write_text(edit((folder / f"{name}.stf").read_text()))
    return stf.run_stf(folder / f"{name}.json", edited, switch_factory=switch_factory)


def flip_first_expected_nibble(text: str) -> str:
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("expect "))
    port, data = lines[i].split(None, 2)[1:]
    data = data.lstrip()
    flipped = ("1" if data[0] == "0" else "0") + data[1:]
    lines[i] = f"expect {port} {flipped}"
    return "\n".join(lines)


def drop_first_expect(text: str) -> str:
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("expect "))
    return "\n".join(lines[:i] + lines[i + 1:])


def test_a_wrong_byte_fails(tmp_path: Path) -> None:
    result = run_edited(tmp_path, "ternary2-bmv2", flip_first_expected_nibble)
    assert not result.passed
    assert "packet #1 differs at byte 0 (nibble 0)" in result.report()


def test_two_workers_pass_a_file_and_catch_its_wrong_byte(tmp_path: Path) -> None:
    """The threaded run (KVICK_WORKERS) is a real check: it passes the file as written, fails
    it with one expected nibble changed (its ports are spread over both workers)."""
    name = "v1model-special-ops-bmv2"
    folder = CORPUS / name
    assert run_stf_on_workers(folder / f"{name}.json", folder / f"{name}.stf", 2).passed
    edited = tmp_path / f"{name}.stf"
    edited.write_text(flip_first_expected_nibble((folder / f"{name}.stf").read_text()))
    assert not run_stf_on_workers(folder / f"{name}.json", edited, 2).passed


def test_a_missing_expectation_fails(tmp_path: Path) -> None:
    result = run_edited(tmp_path, "ternary2-bmv2", drop_first_expect)
    assert not result.passed and "port 2: expected 2 packet(s), got 3" in result.report()


def test_an_extra_expectation_fails(tmp_path: Path) -> None:
    result = run_edited(tmp_path, "ternary2-bmv2", lambda t: t + "\nexpect 2 00\n")
    assert not result.passed and "got: nothing" in result.report()


def test_expect_without_data_accepts_the_port(tmp_path: Path) -> None:
    result = run_edited(tmp_path, "ternary2-bmv2",
                        lambda t: drop_first_expect(t) + "\nexpect 2\n")
    assert result.passed, result.report()


def test_a_wrong_counter_value_fails_unless_counters_are_ignored(tmp_path: Path) -> None:
    result = run_edited(tmp_path, "p4_14_counter1",
                        lambda t: t.replace("cnt($B) packets == 20", "cnt($B) packets == 21"))
    assert not result.passed
    assert "check_counter cnt($B): packets is 20, expected == 21" in result.report()
    folder = CORPUS / "p4_14_counter1"
    relaxed = stf.run_stf(folder / "p4_14_counter1.json", tmp_path / "p4_14_counter1.stf",
                          check_counters=False)
    assert relaxed.passed and "ignored: line" in relaxed.report()


def test_output_to_ports_the_file_never_names_is_ignored() -> None:
    folder = CORPUS / "p4_14_counter1"  # forwards to ports 2, 3, 5 but names only port 0
    result = stf.run_stf(folder / "p4_14_counter1.json", folder / "p4_14_counter1.stf")
    assert result.passed and not result.outputs and len(result.ignored_outputs) == 23
