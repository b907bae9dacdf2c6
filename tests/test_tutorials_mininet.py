"""The P4 tutorials as students run them, with kvick as the switch binary.

p4lang/tutorials' own runner (utils/run_exercise.py), its Mininet topology classes and its
P4Runtime helper library (utils/p4runtime_lib), unchanged from ../shared/tutorials, start one
`simple_switch_grpc` per switch (here a wrapper that runs kvick), program every switch from its
sX-runtime.json over P4Runtime, and open the Mininet CLI, which the test feeds commands on
stdin. Debian's mininet package provides the network; the runner runs in the p4runtime-shell
venv (tools/setup_p4rt_env.sh links mininet and adds p4.tmp there). Programs and control-plane
files are the corpus' (../shared/corpus/tutorial_*/ and their extra/ folders).

Every exercise solution with entries and a topology runs; the check is the Mininet CLI's
`pingall` (0% dropped) where the exercise forwards IPv4 between hosts, and the exercise's own
traffic where it does not (calc, load_balance, source_routing). flowcache and p4runtime have a
topology but no entries (their controllers are the exercise) and are not run here.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from shared_data import CORPUS, SHARED, require

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = SHARED / "tutorials"
CLIENT = Path(os.environ.get("KVICK_P4RT_SHELL_PYTHON")
              or Path(os.environ.get("KVICK_P4RT_SHELL_VENV", "/opt/kvick-p4rt-shell")) / "bin" / "python")

MARK = "kvick-tutorial"
PY = sys.executable           # has scapy; the hosts share the file system
PING = ("pingall", r"Results: 0% dropped")


def _send(host: str, frame: str) -> str:
    """A Mininet CLI line: `host` sends one scapy frame out of its eth0."""
    return f'{host} {PY} -c "from scapy.all import *; sendp({frame}, iface=\'eth0\', verbose=0)"'


# The exercises' own traffic where hosts do not simply ping each other:
# calc: h1 asks s1 for 7 + 5 and gets the answer back (P4calc header, ethertype 0x1234).
CALC = (f'h1 {PY} -c "from scapy.all import *; r = srp1(Ether(dst=\'00:04:00:00:00:00\', '
        "type=0x1234) / Raw(b'P4\\x01+' + (7).to_bytes(4, 'big') + (5).to_bytes(4, 'big') + "
        "bytes(4)), iface='eth0', timeout=5, verbose=0); "
        "print('CALC', int.from_bytes(bytes(r)[26:30], 'big'))\"", r"CALC 12")
# load_balance: h1's TCP to the virtual 10.0.0.1 reaches h2 or h3 (seen on their switch ports).
LOAD_BALANCE = ("\n".join(_send("h1", f"Ether(dst='08:00:00:00:01:00') / IP(dst='10.0.0.1') / "
                                      f"TCP(sport={1000 + i}, dport=1234) / '{MARK}'")
                          for i in range(8)), ["s2-eth1_out.pcap", "s3-eth1_out.pcap"])
# source_routing: h1 routes to h2 by ports (s1 port 2, then s2 port 1; bos on the last hop).
SOURCE_ROUTING = (_send("h1", "Ether(dst='08:00:00:00:02:22', type=0x1234) / "
                              "Raw(b'\\x00\\x02\\x80\\x01') / IP(dst='10.0.2.2') / UDP() / "
                              f"'{MARK}'"), ["s2-eth1_out.pcap"])

# (corpus program, topology file inside its extra/ folder, (Mininet CLI lines, check)); a check
# is a regex the CLI output must match, or the pcap files one of which must carry MARK.
EXERCISES = [
    ("tutorial_basic", "pod-topo/topology.json", PING),
    ("tutorial_basic", "triangle-topo/topology.json", PING),
    ("tutorial_basic_tunnel", "topology.json", PING),
    ("tutorial_calc", "topology.json", CALC),
    ("tutorial_ecn", "topology.json", PING),
    ("tutorial_firewall", "pod-topo/topology.json", PING),
    ("tutorial_link_monitor", "pod-topo/topology.json", PING),
    ("tutorial_load_balance", "topology.json", LOAD_BALANCE),
    ("tutorial_mri", "topology.json", PING),
    ("tutorial_multicast", "sig-topo/topology.json", PING),
    ("tutorial_qos", "topology.json", PING),
    ("tutorial_source_routing", "topology.json", SOURCE_ROUTING),
]
# The multicast exercise leaves port 4 of the group for the student: its solution's file.
SOLUTION_FILES = {"tutorial_multicast": {"solution/s1-runtime.json": "sig-topo/s1-runtime.json"}}


def _wrapper(bin_dir: Path) -> None:
    """`simple_switch_grpc` on PATH: kvick from this checkout, every argument passed on."""
    bin_dir.mkdir()
    exe = bin_dir / "simple_switch_grpc"
    exe.write_text(f"#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m target.cli \"$@\"\n")
    exe.chmod(0o755)


def _exercise_dir(work: Path, program: str, topology: str) -> tuple[Path, str]:
    """The layout the runner expects: topology and runtime files, build/NAME.json and
    build/NAME.p4.p4info.txtpb for every program the runtime files name. Returns the folder
    and the default program (the -j of the exercise's Makefile)."""
    shutil.copytree(require(CORPUS / program / "extra"), work)
    for source, target in SOLUTION_FILES.get(program, {}).items():
        shutil.copyfile(work / source, work / target)
    for sub in ("build", "logs", "pcaps"):
        (work / sub).mkdir(exist_ok=True)
    topo = json.loads((work / topology).read_text())
    default = None
    for sw in topo["switches"].values():
        runtime = json.loads((work / sw["runtime_json"]).read_text())
        for key in ("bmv2_json", "p4info"):
            name = re.match(r"build/(\w+?)(\.p4)?\.(json|p4info\.txtpb)$", runtime[key]).group(1)
            source = CORPUS / f"tutorial_{name}" / f"tutorial_{name}"
            suffix = ".json" if key == "bmv2_json" else ".p4info.txtpb"
            shutil.copyfile(require(source.with_suffix(suffix)), work / runtime[key])
        if "program" not in sw:
            default = runtime["bmv2_json"]
    return work, default


def _run(work: Path, topology: str, default: str, commands: str, bin_dir: Path) -> str:
    # No `mn -c` here: besides Mininet's leftovers it deletes every /tmp/*.log on the host.
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    out = subprocess.run(
        [str(CLIENT), str(TUTORIALS / "utils" / "run_exercise.py"), "-t", topology, "-j", default,
         "-b", "simple_switch_grpc"],
        cwd=work, env=env, input=f"{commands}\nexit\n", capture_output=True, text=True, timeout=600)
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def tools() -> Iterator[None]:
    for what in (TUTORIALS / "utils" / "run_exercise.py", CLIENT):
        require(what)
    if shutil.which("mn") is None or shutil.which("mnexec") is None:
        pytest.fail("Debian's mininet package is missing (tools/install.sh installs it)")
    if os.geteuid() != 0:
        pytest.fail("Mininet needs root (CI runs as root)")
    # Mininet's names (s1-eth1) and the runner's gRPC ports (50051, ...) are host-wide: two
    # test runs on one machine take turns instead of colliding.
    with open("/tmp/kvick-tutorials-mininet.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_switch_links()
        try:
            yield
        finally:
            _remove_switch_links()


def _remove_switch_links() -> None:
    """Delete Mininet switch links (s1-eth2) left in the root namespace by a run that was killed.

    Mininet puts each switch's interfaces in the root namespace; a runner killed mid-way leaves
    them, and the next topology then fails with "RTNETLINK answers: File exists". This is the
    link part of `mn -c`, without its removal of every /tmp/*.log.
    """
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    for name in re.findall(r"^\d+: (s\d+-eth\d+)[@:]", links, re.MULTILINE):
        subprocess.run(["ip", "link", "delete", name], capture_output=True, check=False)


@pytest.mark.parametrize(("program", "topology", "check"), EXERCISES,
                         ids=[f"{p}-{t.split('/')[0]}" for p, t, _ in EXERCISES])
def test_tutorial_solution_runs_under_mininet(tools: None, tmp_path: Path, program: str,
                                              topology: str, check: tuple[str, Any]) -> None:
    bin_dir = tmp_path / "bin"
    _wrapper(bin_dir)
    work, default = _exercise_dir(tmp_path / "exercise", program, topology)
    commands, expect = check
    output = _run(work, topology, default, commands + "\nsh sleep 1", bin_dir)
    assert "did not start correctly" not in output, output[-3000:]
    if isinstance(expect, str):
        assert re.search(expect, output), output[-3000:]
    else:
        seen = [name for name in expect if MARK.encode() in (work / "pcaps" / name).read_bytes()]
        assert seen, output[-3000:]
    # Every switch logged per packet (the runner starts them with --log-console) and the
    # per-port pcap files have BMv2's names.
    for log in (work / "logs").glob("s*.log"):
        assert "Parser 'parser' entering state 'start'" in log.read_text(), log
    assert (work / "pcaps" / "s1-eth1_in.pcap").exists()
