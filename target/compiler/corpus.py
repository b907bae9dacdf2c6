"""kvick's compiler over p4c's test corpus: compile each P4_16 program's source, run its STF.

    python3 -m target.compiler.corpus [NAME ...] [--corpus DIR] [--jobs N] [--write FILE]

Prints one line per program (PASS, or why not) and the pass count. The programs are the
corpus folders with `src/` and an STF whose category is P4_16 (P4_14 is refused by design).
Each program runs in a child process so that a crash or a hang in one cannot stop the count.
`--write FILE` writes the programs that do not pass as `name<TAB>reason` (the test's list).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import sys
import tempfile
import traceback
from dataclasses import dataclass
from multiprocessing.pool import ThreadPool
from pathlib import Path

P4_16_CATEGORIES = ("p4c_p4_16_bmv2", "p4c_p4_16_v1model_other", "p4c_parser_inline")
DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
TIMEOUT_S = 120


@dataclass(frozen=True)
class Program:
    name: str
    source: Path     # the main .p4 file in src/
    stf: Path


def default_corpus() -> Path:
    env = os.environ.get("KVICK_CORPUS")
    if env:
        return Path(env)
    return DEFAULT_CORPUS


def corpus_programs(corpus: Path) -> list[Program]:
    """Every P4_16 program of the corpus that has its source and an STF, by name."""
    programs = []
    with open(corpus / "MANIFEST.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["category"] not in P4_16_CATEGORIES:
                continue
            folder = corpus / row["name"]
            source = folder / "src" / Path(row["source"]).name
            stf = folder / f"{row['name']}.stf"
            if source.is_file() and stf.is_file():
                programs.append(Program(row["name"], source, stf))
    return sorted(programs, key=lambda p: p.name)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def check(program: Program) -> str:
    """'PASS' or one line saying why the program does not pass."""
    from target import Switch, stf
    from target.compiler.driver import compile_file
    from target.compiler.errors import CompileError

    try:
        document, _p4info = compile_file(program.source)
    except CompileError as err:
        text = err.message
        return f"refused: {_first_line(text)}"
    except Exception as err:   # noqa: BLE001 - a compiler crash is a finding, reported as one
        where = traceback.extract_tb(err.__traceback__)[-1]
        at = f"{Path(where.filename).name}:{where.lineno}"
        return f"compiler crash: {type(err).__name__}: {_first_line(str(err))} ({at})"
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / f"{program.name}.json"
        json_path.write_text(json.dumps(document))
        try:
            result = stf.run_stf(json_path, program.stf, switch_factory=Switch)
        except stf.StfError as err:
            return f"stf error: {_first_line(str(err))}"
        except Exception as err:   # noqa: BLE001 - the engine refusing kvick's JSON is a finding
            return f"engine refused the JSON: {type(err).__name__}: {_first_line(str(err))}"
    if result.passed:
        return "PASS"
    return f"wrong output: {_first_line(result.report())}"


def _check_in_child(program: Program, queue: multiprocessing.Queue) -> None:
    queue.put(check(program))


def check_isolated(program: Program, timeout: float = TIMEOUT_S) -> str:
    """check() in a child process: a segfault or a hang becomes a reason, not the end."""
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    child = ctx.Process(target=_check_in_child, args=(program, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return f"timed out after {timeout:.0f} s"
    if queue.empty():
        return f"child process died (exit code {child.exitcode})"
    return str(queue.get())


def _run_one(program: Program) -> tuple[str, str]:
    return program.name, check_isolated(program)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m target.compiler.corpus",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only these programs")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus folder")
    parser.add_argument("--jobs", type=int, default=1, help="programs checked at once")
    parser.add_argument("--write", type=Path, help="write the programs that fail as name<TAB>reason")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the count")
    args = parser.parse_args(argv)
    corpus = args.corpus or default_corpus()
    if not (corpus / "MANIFEST.tsv").is_file():
        print(f"corpus: no MANIFEST.tsv in {corpus}", file=sys.stderr)
        return 1
    programs = corpus_programs(corpus)
    if args.names:
        programs = [p for p in programs if p.name in set(args.names)]
    # Threads only wait: each program runs in its own child process (check_isolated).
    with ThreadPool(max(1, args.jobs)) as pool:
        results = dict(pool.imap_unordered(_run_one, programs))
    passed = 0
    for program in programs:
        reason = results[program.name]
        passed += reason == "PASS"
        if not args.quiet:
            print(f"{program.name}\t{reason}")
    print(f"{passed} of {len(programs)} P4_16 programs pass")
    if args.write:
        lines = [f"{p.name}\t{results[p.name]}" for p in programs if results[p.name] != "PASS"]
        args.write.write_text("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
