"""`kvick compile FILE.p4 -o OUT.json --p4runtime-files OUT.p4info.txtpb` (p4c-bm2-ss's flags)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from target.cli_input import ArgumentParser
from target.compiler.driver import compile_file
from target.compiler.errors import CompileError


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="kvick compile", description="compile a P4_16 v1model program")
    parser.add_argument("source", help="P4_16 source file")
    parser.add_argument("-o", "--output", help="BMv2 JSON output (default: SOURCE with .json)")
    parser.add_argument("--p4runtime-files", help="P4Info output (text format)")
    parser.add_argument("-I", dest="include", action="append", default=[], help="include directory")
    args = parser.parse_args(argv)
    try:
        document, p4info = compile_file(args.source, [Path(d) for d in args.include])
    except CompileError as err:
        print(err.render(), file=sys.stderr)
        return 1
    except OSError as err:
        return _refuse(args.source, err)
    except UnicodeDecodeError:
        print(f"kvick compile: {args.source}: not a text file", file=sys.stderr)
        return 1
    out = Path(args.output) if args.output else Path(args.source).with_suffix(".json")
    outputs = [(out, json.dumps(document, indent=2) + "\n")]
    if args.p4runtime_files:
        outputs.append((Path(args.p4runtime_files), p4info))
    for path, text in outputs:
        try:
            path.write_text(text)
        except OSError as err:
            return _refuse(str(path), err)
    return 0


def _refuse(path: str, err: OSError) -> int:
    """A file that cannot be read or written: one line, status 1."""
    print(f"kvick compile: {path}: {err.strerror or err}", file=sys.stderr)
    return 1
