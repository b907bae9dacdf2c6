"""kvick's compiler over p4c's corpus: every P4_16 program with its source and an STF is compiled
by kvick and its STF run on the engine (target/compiler/corpus.py does the work).

Programs that do not pass yet are listed in test_compiler_corpus_failures.txt (`name<TAB>reason`,
as `python3 -m target.compiler.corpus --write` prints them). They run as strict xfails: a listed
program that starts passing fails the suite until it is unlisted, and an unlisted one may never
regress.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import CORPUS, corpus_params, needs_corpus

from target.compiler.corpus import check_isolated, corpus_programs

HERE = Path(__file__).resolve().parent
pytestmark = needs_corpus  # the corpus is shared data: skipped with the reason when absent
FAILURES_FILE = HERE / "test_compiler_corpus_failures.txt"
PROGRAMS = {p.name: p for p in corpus_programs(CORPUS)} if (CORPUS / "MANIFEST.tsv").is_file() else {}


def known_failures() -> dict[str, str]:
    reasons = {}
    for line in FAILURES_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            reasons[name.strip()] = reason.strip() or "known failure"
    return reasons


def cases() -> list:
    failing = known_failures()
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=failing[name])]
                         if name in failing else [], id=name) for name in sorted(PROGRAMS)]


def test_the_corpus_is_there() -> None:
    assert len(PROGRAMS) >= 179, f"P4_16 programs with source and STF in {CORPUS}"


def test_known_failures_name_corpus_programs() -> None:
    assert set(known_failures()) <= set(PROGRAMS)


@pytest.mark.parametrize("name", corpus_params(cases))
def test_compiled_by_kvick_passes_its_stf(name: str) -> None:
    assert check_isolated(PROGRAMS[name]) == "PASS"
