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
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.pool import ThreadPool
from pathlib import Path

P4_16_CATEGORIES = ("p4c_p4_16_bmv2", "p4c_p4_16_v1model_other", "p4c_parser_inline")
DEFAULT_CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
CPU_LIMIT_S = 120     # CPU seconds for one program (compile and STF); they use about 1-3
IDLE_LIMIT_S = 60     # a child that uses no CPU for this long is stuck, not slow
POLL_S = 0.5
EXIT_GRACE_S = 5


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


def _check_in_child(program: Program, result: Connection, work: Callable[[Program], str]) -> None:
    result.send(work(program))
    result.close()


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) that process `pid` has used, from /proc; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def check_isolated(program: Program, cpu_limit: float = CPU_LIMIT_S,
                   idle_limit: float = IDLE_LIMIT_S,
                   work: Callable[[Program], str] = check) -> str:
    """work(program) (check()) in a child process: a segfault or a hang becomes a reason.

    The child is forked by multiprocessing's fork server, a process of its own with no other
    threads: forking the caller itself (pytest with gRPC threads, or this module's thread pool)
    can copy a lock another thread holds, and such a child waits forever. The limit is on the
    child's CPU time, so a machine loaded by other work slows a program without failing it;
    a child that uses no CPU at all for `idle_limit` seconds waits on something that will not
    come. The result is read as soon as it is sent: it does not wait for the child to exit.
    """
    ctx = multiprocessing.get_context("forkserver")
    # Imported once by the fork server (not this module: `python3 -m` runs it as __main__,
    # which each child runs again as __mp_main__).
    ctx.set_forkserver_preload(["target.compiler.driver", "target.stf", "target"])
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_check_in_child, args=(program, sender, work), daemon=True)
    child.start()
    sender.close()
    used, progressed = 0.0, time.monotonic()
    got_result = False
    try:
        while not receiver.poll(POLL_S):
            if not child.is_alive() and not receiver.poll(0):
                child.join()
                return f"child process died (exit code {child.exitcode})"
            cpu, now = cpu_seconds(child.pid), time.monotonic()
            if cpu > used:
                used, progressed = cpu, now
            if cpu > cpu_limit:
                return f"timed out after {cpu:.0f} s of CPU time"
            if now - progressed > idle_limit:
                return f"stuck: no CPU time used for {now - progressed:.0f} s"
        try:
            result = str(receiver.recv())
            got_result = True
            return result
        except EOFError:
            child.join()
            return f"child process died (exit code {child.exitcode})"
    finally:
        receiver.close()
        # A child that sent its result gets a moment to exit; one that did not is ended now.
        child.join(EXIT_GRACE_S if got_result else 0)
        if child.is_alive():
            child.kill()
            child.join()


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
