"""`kvick run FILE.p4 [simple_switch_grpc options]`: compile (cached) and run the switch.

The .p4 argument is replaced by the cached BMv2 JSON, and `--p4info` by its P4Info unless the
command line gives one; everything else goes to the switch unchanged. `-I DIR` adds an include
directory for the compiler.
"""

from __future__ import annotations

import sys
from pathlib import Path

from target.compiler.cache import compile_cached
from target.compiler.errors import CompileError


class RunUsageError(Exception):
    """A `kvick run` command line without exactly one .p4 program."""


def split_run_args(argv: list[str]) -> tuple[Path, list[Path], list[str]]:
    """(program, include directories, the switch's arguments without them)."""
    sources = [i for i, a in enumerate(argv) if a.endswith(".p4") and not a.startswith("-")]
    if len(sources) != 1:
        raise RunUsageError("kvick run needs exactly one FILE.p4")
    includes: list[Path] = []
    rest: list[str] = []
    skip_next = False
    for i, arg in enumerate(argv):
        if skip_next:
            skip_next = False
        elif i == sources[0]:
            pass
        elif arg == "-I" and i + 1 < len(argv):
            includes.append(Path(argv[i + 1]))
            skip_next = True
        elif arg.startswith("-I") and len(arg) > 2:
            includes.append(Path(arg[2:]))
        else:
            rest.append(arg)
    return Path(argv[sources[0]]), includes, rest


def switch_argv(argv: list[str]) -> list[str]:
    """The plain `kvick` command line that runs the compiled program; raises CompileError."""
    program, includes, rest = split_run_args(argv)
    json_path, p4info_path, fresh = compile_cached(program, includes)
    print(f"kvick run: {program} -> {json_path}{'' if fresh else ' (cached)'}", file=sys.stderr)
    if "--p4info" not in rest and not any(a.startswith("--p4info=") for a in rest):
        rest = ["--p4info", str(p4info_path)] + rest
    return [str(json_path)] + rest


def prepare(argv: list[str]) -> list[str] | int:
    """switch_argv, or the exit code after printing why the program cannot run."""
    try:
        return switch_argv(argv)
    except RunUsageError as err:
        print(f"kvick: {err}", file=sys.stderr)
        return 1
    except CompileError as err:
        print(err.render(), file=sys.stderr)
        return 1
    except OSError as err:
        print(f"kvick run: {err}", file=sys.stderr)
        return 1
