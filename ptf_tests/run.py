"""Run kvick's PTF suite: veth pairs, kvick on their switch ends, ptf on the others.

    python3 ptf_tests/run.py [--driver af_packet|xdp] [--workers N] [TEST ...]

Creates four veth pairs (ports 1-4), starts `python -m target.cli --no-p4` with one `-i` port
per pair and CPU port 255, runs ptf once per program (each test pushes its program over
P4Runtime), then stops kvick and deletes the pairs, whatever happened. With --workers N, kvick
runs N engine workers and every veth end has N queues (AF_XDP: one per worker). Programs come
from the corpus (p4c's BMv2 JSON and P4Info) except kvick's own (`router`, `mpls_gre`:
p4src/NAME.p4), compiled by kvick's compiler first. Exit status: 0 when every program's tests
passed.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = Path(os.environ.get("KVICK_CORPUS", REPO.parent / "shared" / "corpus"))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from netns import TestBed  # noqa: E402

PORTS = (1, 2, 3, 4)
CPU_PORT = 255
# Program -> the test modules that run against it.
SUITES = {
    "tutorial_basic": ["router"],
    "onos_basic": ["onos"],
    "tutorial_multicast": ["multicast"],
    "v1model-special-ops-bmv2": ["special_ops"],
    "router": ["p4src_router"],
    "mpls_gre": ["p4src_mpls_gre"],
}
OWN_PROGRAMS = ("router", "mpls_gre")   # p4src/NAME.p4


def program_files(program: str, workdir: Path) -> tuple[Path, Path]:
    """(BMv2 JSON, P4Info) of `program`: the corpus's, or p4src/NAME.p4 compiled into
    workdir."""
    if program not in OWN_PROGRAMS:
        folder = CORPUS / program
        return folder / (program + ".json"), folder / (program + ".p4info.txtpb")
    from target.compiler.driver import compile_file

    document, p4info = compile_file(REPO / "p4src" / (program + ".p4"))
    config, info = workdir / (program + ".json"), workdir / (program + ".p4info.txtpb")
    config.write_text(json.dumps(document))
    info.write_text(p4info)
    return config, info


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_kvick(switch_ends: dict[int, str], driver: str, address: str,
                workers: int = 1) -> subprocess.Popen:
    prefix = "xdp:" if driver == "xdp" else ""
    argv = [sys.executable, "-m", "target.cli", "--no-p4", "--cpu-port", str(CPU_PORT),
            "--grpc-server-addr", address, "--workers", str(workers)]
    for port, ifname in switch_ends.items():
        argv += ["-i", f"{port}@{prefix}{ifname}"]
    kvick = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    deadline = time.monotonic() + 30
    assert kvick.stdout is not None
    while time.monotonic() < deadline:
        line = kvick.stdout.readline()
        if not line:
            break
        sys.stderr.write("kvick: " + line)
        if "listening" in line:
            return kvick
    kvick.kill()
    raise RuntimeError("kvick did not start its P4Runtime server")


def run_ptf(program: str, modules: list[str], ptf_ends: dict[int, str], address: str,
            workdir: Path) -> int:
    config, p4info = program_files(program, workdir)
    # ptf evaluates each value as a Python literal, hence the quotes.
    params = f"grpcaddr='{address}';p4info='{p4info}';config='{config}'"
    argv = ["ptf", "--test-dir", str(HERE), "--test-params", params,
            "--default-negative-timeout", "0.3", "--default-timeout", "2", *modules]
    for port, ifname in ptf_ends.items():
        argv += ["--interface", f"{port}@{ifname}"]
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{HERE}")
    print(f"== {program}: {' '.join(modules)}", flush=True)
    return subprocess.run(argv, cwd=REPO, env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", choices=["af_packet", "xdp"], default="af_packet")
    parser.add_argument("--workers", type=int, default=1, help="kvick's engine workers")
    parser.add_argument("programs", nargs="*", help=f"programs to test (default: all of "
                        f"{', '.join(SUITES)})")
    args = parser.parse_args()
    unknown = set(args.programs) - set(SUITES)
    if unknown:
        parser.error(f"no PTF tests for {', '.join(sorted(unknown))}")
    address = f"127.0.0.1:{free_tcp_port()}"
    failed = []
    with TestBed() as bed, tempfile.TemporaryDirectory(prefix="kvick-ptf-") as workdir:
        pairs = {port: bed.veth(None, queues=args.workers) for port in PORTS}
        kvick = start_kvick({p: here for p, (here, _) in pairs.items()}, args.driver, address,
                            args.workers)
        try:
            for program in args.programs or SUITES:
                ptf_ends = {p: there for p, (_, there) in pairs.items()}
                if run_ptf(program, SUITES[program], ptf_ends, address, Path(workdir)) != 0:
                    failed.append(program)
        finally:
            kvick.terminate()
            try:
                kvick.wait(10)
            except subprocess.TimeoutExpired:
                kvick.kill()
                kvick.wait()
    print(f"PTF over {args.driver}, {args.workers} worker(s): "
          + (f"FAILED {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
