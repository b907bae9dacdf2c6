"""kvick's P4Info against p4c's for every P4_16 program of the corpus that kvick compiles: the same
objects with the same names, ids, match fields, parameters, sizes and references
(target.compiler.compare.p4info_differences). Programs whose P4Info still differs are listed in
test_compiler_p4info_differences.txt (`name<TAB>what differs`) and run as strict xfails."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import CORPUS, corpus_params, needs_corpus

from target.compiler.compare import p4info_differences
from target.compiler.corpus import corpus_programs
from target.compiler.driver import compile_file

HERE = Path(__file__).resolve().parent
pytestmark = needs_corpus  # the corpus is shared data: skipped with the reason when absent
DIFFERENCES_FILE = HERE / "test_compiler_p4info_differences.txt"
REFUSED_FILE = HERE / "test_compiler_corpus_failures.txt"
PROGRAMS = {p.name: p for p in corpus_programs(CORPUS)} if (CORPUS / "MANIFEST.tsv").is_file() else {}


def listed(path: Path, prefix: str = "") -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        name, _, reason = line.partition("\t")
        if name.strip() and reason.startswith(prefix):
            out[name.strip()] = reason
    return out


def cases() -> list:
    refused = listed(REFUSED_FILE, "refused")      # nothing to compare
    differing = listed(DIFFERENCES_FILE)
    return [pytest.param(name, marks=[pytest.mark.xfail(strict=True, reason=differing[name])]
                         if name in differing else [], id=name)
            for name in sorted(PROGRAMS) if name not in refused]


def test_listed_differences_name_corpus_programs() -> None:
    assert set(listed(DIFFERENCES_FILE)) <= set(PROGRAMS)


@pytest.mark.parametrize("name", corpus_params(cases))
def test_p4info_is_p4cs(name: str) -> None:
    program = PROGRAMS[name]
    _document, ours = compile_file(program.source)
    theirs = (CORPUS / name / f"{name}.p4info.txtpb").read_text()
    assert p4info_differences(ours, theirs) == []
