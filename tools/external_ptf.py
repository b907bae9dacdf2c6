"""Other projects' own PTF tests against kvick, their P4 programs compiled by kvick's compiler.

    python3 tools/external_ptf.py p4guide [--source DIR] [--driver af_packet|xdp] [PROGRAM ...]

The projects are not part of kvick: give a checkout with --source, or $KVICK_P4GUIDE
(jafingerhut/p4-guide). Their tests were written against p4c's build on BMv2
(simple_switch_grpc), so passing them is behaving as p4c's build does.

p4guide: for each v1model demo and ptf-tests program that comes with PTF tests, the P4 source
is compiled by kvick (where its runptf.sh runs p4c), kvick starts as runptf.sh starts
simple_switch_grpc (ports 0-7, --cpu-port 510 where it passes one) and p4-guide's tests run
unchanged with its testlib.

Tests run in the p4runtime-shell venv (tools/setup_p4rt_env.sh, $KVICK_P4RT_SHELL_VENV), which
has ptf. Prints one line per program or test module and exits 1 if any failed (root: veths).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "ptf_tests"))
sys.path.insert(0, str(REPO))

from netns import TestBed  # noqa: E402
from run import free_tcp_port  # noqa: E402

VENV = Path(os.environ.get("KVICK_P4RT_SHELL_VENV", "/opt/kvick-p4rt-shell"))
# name: (P4 source, PTF test directory, CPU port), paths relative to the p4-guide checkout.
P4GUIDE = {
    "demo1": ("demo1/demo1.p4_16.p4", "demo1/ptf", None),
    "demo1-bitselect-key": ("demo1-bitselect-key/demo1.p4_16.p4", "demo1-bitselect-key/ptf", None),
    "demo2": ("demo2/demo2.p4_16.p4", "demo2/ptf", None),
    "demo7": ("demo7/demo7.p4", "demo7/ptf", None),
    "duplicatekeys": ("ptf-tests/duplicatekeys/duplicatekeys.p4", "ptf-tests/duplicatekeys", None),
    "idletimeout": ("ptf-tests/idletimeout/idletimeout.p4", "ptf-tests/idletimeout", None),
    "matchkinds": ("ptf-tests/matchkinds/matchkinds.p4", "ptf-tests/matchkinds", None),
    "packetinout": ("ptf-tests/packetinout/packetinout.p4", "ptf-tests/packetinout", 510),
    "registeraccess": ("ptf-tests/registeraccess/registeraccess.p4", "ptf-tests/registeraccess",
                       510),
}

# p4-guide tests whose expectation is wrong by the P4Runtime spec, or that check what the spec
# leaves to the server: reported with the reason and not counted as failures (any other failure still is).
KNOWN = {
    "duplicatekeys.IPv4FwdTest":
        "expects 192.172.1.1 to hit the priority-100 entry '192&&&255', whose mask selects the "
        "address's low byte (1, not 192); by ternary matching the wildcard entry (priority 90) "
        "matches, and kvick sends that entry's MAC (p4-guide commit bef84a7 saved this test as "
        "work in progress)",
    "idletimeout.ServerDetectsBadTableEntryOptionsTest":
        "compares PI's message text exactly; kvick answers with the same code (INVALID_ARGUMENT) "
        "and PI's words followed by the table's name (the P4Runtime spec fixes codes, not texts)",
}


def compile_program(source: Path, workdir: Path) -> tuple[Path, Path] | str:
    """(JSON, P4Info) compiled by kvick into workdir, or the compiler's message."""
    from target.compiler.driver import compile_file
    from target.compiler.errors import CompileError, Unsupported

    try:
        document, p4info = compile_file(source)
    except (CompileError, Unsupported) as err:
        return str(err).splitlines()[0]
    config, info = workdir / (source.stem + ".json"), workdir / (source.stem + ".p4info.txtpb")
    config.write_text(json.dumps(document))
    info.write_text(p4info)
    return config, info


class Kvick:
    """kvick on the switch ends of fresh veth pairs, for one program's tests: `ends` maps each
    port to the test's end of its pair, `address` is the P4Runtime server's."""

    def __init__(self, ports: range, driver: str, cpu_port: int | None, device_id: int = 0):
        self.ports, self.driver, self.cpu_port, self.device_id = ports, driver, cpu_port, device_id
        self.address = f"127.0.0.1:{free_tcp_port()}"
        self.ends: dict[int, str] = {}

    def __enter__(self) -> Kvick:
        self.bed = TestBed().__enter__()
        try:
            pairs = {port: self.bed.veth(None) for port in self.ports}
            prefix = "xdp:" if self.driver == "xdp" else ""
            argv = [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
                    self.address, "--device-id", str(self.device_id)]
            if self.cpu_port is not None:
                argv += ["--cpu-port", str(self.cpu_port)]
            for port, (here, _) in pairs.items():
                argv += ["-i", f"{port}@{prefix}{here}"]
            self.process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, text=True)
            self._wait_listening()
        except BaseException:
            self.bed.__exit__(None, None, None)
            raise
        self.ends = {port: there for port, (_, there) in pairs.items()}
        return self

    def _wait_listening(self) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "listening" in line:
                return
        self.process.kill()
        self.process.wait()
        raise RuntimeError("kvick did not start its P4Runtime server")

    def interfaces(self) -> list[str]:
        return [arg for port, there in self.ends.items() for arg in ("-i", f"{port}@{there}")]

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.bed.__exit__(*exc)


def run_ptf(argv: list[str], workdir: Path, log_name: str) -> tuple[bool, str]:
    """ptf from the client venv; (passed, a summary: tests passed, those failed). Passed
    when every failed test is in KNOWN; the summary names them with the reason."""
    result = subprocess.run([str(VENV / "bin" / "ptf"), *argv], cwd=workdir,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (workdir / f"{log_name}.ptf.log").write_text(result.stdout)
    lines = result.stdout.splitlines()
    # "module.Test ... " starts a test (its log lines may follow before "ok" or "FAIL").
    started = {line.split()[0] for line in lines if re.match(r"^[\w.]+ \.\.\. ", line)}
    failed = sorted({line.split()[1] for line in lines if line.startswith(("FAIL: ", "ERROR: "))})
    passed = len(started - set(failed))
    unknown = [name for name in failed if name not in KNOWN]
    summary = f"{passed} passed" + (f", failed: {' '.join(unknown)}" if unknown else "")
    summary += "".join(f"; known failure {name}: {KNOWN[name]}" for name in failed if name in KNOWN)
    return result.returncode == 0 or (bool(failed) and not unknown), summary


def p4guide(source: Path, names: list[str], driver: str, workdir: Path) -> list[str]:
    failed = []
    for name in names or P4GUIDE:
        program, test_dir, cpu_port = P4GUIDE[name]
        compiled = compile_program(source / program, workdir)
        if isinstance(compiled, str):
            ok, detail = False, f"not compiled: {compiled}"
        else:
            config, p4info = compiled
            with Kvick(range(8), driver, cpu_port) as kvick:
                params = f"grpcaddr='{kvick.address}';p4info='{p4info}';config='{config}'"
                argv = ["--pypath", str(source / "testlib"), "--test-dir", str(source / test_dir),
                        "--test-params", params, *kvick.interfaces()]
                ok, detail = run_ptf(argv, workdir, name)
        print(f"{name:<20} {'passed' if ok else 'FAILED'}  {detail}", flush=True)
        if not ok:
            failed.append(name)
    return failed


SUITES = {"p4guide": (p4guide, "KVICK_P4GUIDE", list(P4GUIDE))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suite", choices=sorted(SUITES))
    ap.add_argument("--source", type=Path, help="the project's checkout (default: $KVICK_P4GUIDE)")
    ap.add_argument("--driver", choices=["af_packet", "xdp"], default="af_packet")
    ap.add_argument("--logs", type=Path, help="keep compiled programs and ptf output here")
    ap.add_argument("names", nargs="*", help="programs (default: all)")
    args = ap.parse_intermixed_args()
    run, variable, known = SUITES[args.suite]
    source = args.source or (Path(os.environ[variable]) if os.environ.get(variable) else None)
    if source is None or not source.is_dir():
        print(f"external_ptf: give the {args.suite} checkout with --source DIR or ${variable}",
              file=sys.stderr)
        return 1
    unknown = set(args.names) - set(known)
    if unknown:
        print(f"external_ptf: not in {args.suite}: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    if not (VENV / "bin" / "ptf").is_file():
        print(f"external_ptf: no ptf in {VENV} (run tools/setup_p4rt_env.sh)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="kvick-external-ptf-") as tmp:
        workdir = (args.logs or Path(tmp)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        failed = run(source.resolve(), args.names, args.driver, workdir)
    print(f"{args.suite} PTF over {args.driver}: " +
          (f"FAILED {', '.join(failed)}" if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
