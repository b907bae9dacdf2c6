"""Bad command-line input: one line on stderr, exit status 1, no traceback.

Each case runs `python -m target.cli ...` as a subprocess, as a user would, in a scratch
directory holding a compiled program, its P4Info and a few bad files.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from shared_data import CORPUS, require

from target.compiler.driver import compile_file

REPO = Path(__file__).resolve().parents[1]
ADDR = ["--grpc-server-addr", "127.0.0.1:0"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    for name in ("router", "l2_learning"):
        document, p4info = compile_file(REPO / "p4src" / f"{name}.p4")
        (d / f"{name}.json").write_text(json.dumps(document))
        (d / f"{name}.p4info.txtpb").write_text(p4info)
    (d / "not_bmv2.json").write_text('{"a": 1}\n')
    (d / "not_json.json").write_text("garbage\n")
    (d / "empty.txtpb").write_text("")
    (d / "garbage.txtpb").write_text("tables { preamble { id: \n")
    (d / "empty.stf").write_text("")
    (d / "comments.stf").write_text("# only a comment\n\n")
    (d / "adir").mkdir()
    return d


@pytest.fixture()
def busy_port() -> Iterator[int]:
    """A loopback TCP port something else listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


CASES: dict[str, list[str]] = {
    "missing program": ["missing.json", *ADDR],
    "program not BMv2": ["not_bmv2.json", *ADDR],
    "program not JSON": ["not_json.json", *ADDR],
    "program a directory": ["adir", *ADDR],
    "p4info missing": ["router.json", "--p4info", "missing.txtpb", *ADDR],
    "p4info empty": ["router.json", "--p4info", "empty.txtpb", *ADDR],
    "p4info garbage": ["router.json", "--p4info", "garbage.txtpb", *ADDR],
    "p4info of another program": ["router.json", "--p4info", "l2_learning.p4info.txtpb", *ADDR],
    "port 511": ["router.json", "-i", "511@memory:sink", *ADDR],
    "port 600": ["router.json", "-i", "1@memory:sink", "-i", "600@memory:sink", *ADDR],
    "cpu port 600": ["router.json", "--cpu-port", "600", *ADDR],
    "missing interface": ["router.json", "-i", "1@kvnosuch0", *ADDR],
    "missing pcap file": ["router.json", "-i", "1@pcap:missing.pcap,out.pcap", *ADDR],
    "unknown port prefix": ["router.json", "-i", "1@nosuchkind:x", *ADDR],
    "use-files pcap missing": ["router.json", "--use-files", "0", "-i", "1@nothere", *ADDR],
    "bad address": ["router.json", "--grpc-server-addr", "nonsense"],
    "address port too large": ["router.json", "--grpc-server-addr", "127.0.0.1:99999"],
    "unknown host": ["router.json", "--grpc-server-addr", "no.such.host.invalid:0"],
    "busy address": ["router.json", "--grpc-server-addr", "127.0.0.1:{busy}"],
    "compile missing file": ["compile", "missing.p4"],
    "compile a directory": ["compile", "adir"],
    "compile unwritable output": ["compile", "{repo}/p4src/router.p4", "-o", "nodir/out.json"],
    "compile output a directory": ["compile", "{repo}/p4src/router.p4", "-o", "adir"],
    "compile p4info a directory": ["compile", "{repo}/p4src/router.p4", "-o", "r2.json",
                                   "--p4runtime-files", "adir"],
    "stf missing file": ["stf", "router.json", "missing.stf"],
    "stf missing program": ["stf", "missing.json", "{corpus_stf}"],
    "stf program not JSON": ["stf", "not_json.json", "{corpus_stf}"],
    "stf empty file": ["stf", "router.json", "empty.stf"],
    "stf only comments": ["stf", "router.json", "comments.stf"],
    "stf a directory": ["stf", "router.json", "adir"],
    # What argparse itself refuses (it used to print the usage and exit 2).
    "unknown option": ["router.json", "--no-such-flag", *ADDR],
    "option value not a number": ["router.json", "--device-id", "one", *ADDR],
    "option value missing": ["router.json", "--grpc-server-addr"],
    "interface without port": ["router.json", "-i", "veth0", *ADDR],
    "log level not a level": ["router.json", "-L", "loud", *ADDR],
    "two programs": ["router.json", "l2_learning.json", *ADDR],
    "neither program nor --no-p4": [*ADDR],
    "drop port out of range": ["router.json", "--drop-port", "512", *ADDR],
    "stf without its file": ["stf", "router.json"],
    "stf unknown option": ["stf", "router.json", "x.stf", "--nope"],
    "compile unknown option": ["compile", "{repo}/p4src/router.p4", "--nope"],
    "compile without a file": ["compile"],
    "run without a file": ["run"],
}


@pytest.mark.parametrize("argv", CASES.values(), ids=CASES.keys())
def test_bad_input_is_one_line_and_status_1(scratch: Path, busy_port: int, argv: list[str]) -> None:
    corpus_stf = None
    if any("{corpus_stf}" in a for a in argv):  # only these cases need the shared corpus
        corpus_stf = next(require(CORPUS).rglob("*.stf"), None)
        assert corpus_stf is not None, f"no STF file in {CORPUS}"
    args = [a.format(repo=REPO, busy=busy_port, corpus_stf=corpus_stf) for a in argv]
    done = subprocess.run([sys.executable, "-m", "target.cli", *args], cwd=scratch,
                          env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    err = done.stderr
    assert "Traceback" not in err, err
    assert done.returncode == 1, (done.returncode, done.stdout, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "PASS" not in done.stdout
