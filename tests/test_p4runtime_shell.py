"""p4runtime-shell (in its own venv, see tools/setup_p4rt_env.sh) against `kvick --no-p4`
running as a separate process: set the pipeline, insert entries, read them back, delete one,
see a refused update reported per index, program multicast groups and clone sessions, and send
a packet-out that comes back as a packet-in."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from p4runtime_corpus import CORPUS
from shared_data import needs_corpus

REPO = Path(__file__).resolve().parents[1]
SHELL_PYTHON = Path(os.environ.get(
    "KVICK_P4RT_SHELL_PYTHON",
    Path(os.environ.get("KVICK_P4RT_SHELL_VENV", "/opt/kvick-p4rt-shell")) / "bin" / "python",
))

CLIENT_SCRIPT = textwrap.dedent("""
    import sys
    import p4runtime_sh.shell as sh
    from p4runtime_sh.p4runtime import P4RuntimeWriteException

    addr, p4info, program = sys.argv[1:4]
    sh.setup(device_id=0, grpc_addr=addr, election_id=(0, 1), config=sh.FwdPipeConfig(p4info,
                                                                                   program))
    for i, prefix in enumerate(["10.0.1.0/24", "10.0.2.0/24", "192.168.0.0/16"]):
        te = sh.TableEntry("MyIngress.ipv4_lpm")(action="MyIngress.ipv4_forward")
        te.match["hdr.ipv4.dstAddr"] = prefix
        te.action["dstAddr"] = "00:00:00:00:01:0%d" % i
        te.action["port"] = str(i + 1)
        te.insert()
    seen = []
    sh.TableEntry("MyIngress.ipv4_lpm").read(lambda e: seen.append(
        (e.match["hdr.ipv4.dstAddr"].lpm.prefix_len, e.action["port"].value)))
    print("READ", sorted(seen))
    bad = sh.TableEntry("MyIngress.ipv4_lpm")(action="MyIngress.ipv4_forward")
    bad.match["hdr.ipv4.dstAddr"] = "10.0.1.0/24"
    bad.action["dstAddr"] = "00:00:00:00:01:00"
    bad.action["port"] = "1"
    try:
        bad.insert()
    except P4RuntimeWriteException as err:
        print("WRITE-ERROR", str(err).replace("\\n", " "))
    gone = sh.TableEntry("MyIngress.ipv4_lpm")(action="MyIngress.ipv4_forward")
    gone.match["hdr.ipv4.dstAddr"] = "192.168.0.0/16"
    gone.delete()
    left = []
    sh.TableEntry("MyIngress.ipv4_lpm").read(lambda e: left.append(1))
    print("AFTER-DELETE", len(left))
    sh.teardown()
""")

# onos_basic has controller headers and CPU port 255: a packet-out to port 255 comes back to
# the controller as a packet-in.
PRE_AND_PACKET_IO_SCRIPT = textwrap.dedent("""
    import os, sys, time, traceback
    import p4runtime_sh.shell as sh
    addr, p4info, program = sys.argv[1:4]
    def finish(code):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)   # the shell's stream thread would keep a failed client alive
    sys.excepthook = lambda *exc: (traceback.print_exception(*exc), finish(1))
    sh.setup(device_id=0, grpc_addr=addr, election_id=(0, 1), config=sh.FwdPipeConfig(p4info,
                                                                                   program))
    mcg = sh.MulticastGroupEntry(7)
    mcg.add(1, 1).add(2, 1).add(3, 2)
    mcg.insert()
    seen = []
    sh.MulticastGroupEntry(7).read(lambda e: seen.append(sorted(
        (r._msg.egress_port, r._msg.instance) for r in e.replicas)))
    print("MCAST", seen)
    cs = sh.CloneSessionEntry(5)
    cs.add(4, 1)
    cs.insert()
    clones = []
    sh.CloneSessionEntry(5).read(lambda e: clones.append(
        [r._msg.egress_port for r in e.replicas]))
    print("CLONE", clones)
    sh.MulticastGroupEntry(7).delete()
    gone = []
    try:
        sh.MulticastGroupEntry(7).read(lambda e: gone.append(e))
    except Exception as err:
        gone.append(type(err).__name__)
    gone = [str(g) for g in gone]
    print("MCAST-AFTER-DELETE", gone)
    packet_in = sh.PacketIn()
    out = sh.PacketOut()
    out.payload = bytes.fromhex("ffffffffffff0000000000018999") + b"kvick-packet-io"
    out.metadata["egress_port"] = "255"
    out.metadata["_padding"] = "0"
    received = []
    import threading
    sniffer = threading.Thread(target=lambda: packet_in.sniff(
        lambda m: received.append(m.packet.payload), timeout=5))
    sniffer.start()
    time.sleep(0.5)
    out.send()
    sniffer.join()
    print("PACKET-IN", [p.endswith(b"kvick-packet-io") for p in received])
    sh.teardown()
    finish(0)
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def kvick_server():
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "target.cli", "--no-p4", "--", "--grpc-server-addr",
         f"127.0.0.1:{port}", "--cpu-port", "255"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    seen = []
    for line in process.stdout:  # warnings may come first
        seen.append(line)
        if "listening" in line:
            break
    else:
        pytest.fail("kvick did not start:\n" + "".join(seen))
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


@needs_corpus
@pytest.mark.skipif(not SHELL_PYTHON.exists(),
                    reason=f"no p4runtime-shell venv at {SHELL_PYTHON}: run "
                           "tools/setup_p4rt_env.sh")
def test_p4runtime_shell_programs_kvick(kvick_server, tmp_path) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT_SCRIPT)
    name = "tutorial_basic"
    result = subprocess.run(
        [str(SHELL_PYTHON), str(script), kvick_server,
         str(CORPUS / name / f"{name}.p4info.txtpb"), str(CORPUS / name / f"{name}.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "READ [(16, b'\\x03'), (24, b'\\x01'), (24, b'\\x02')]" in result.stdout
    error = re.search(r"WRITE-ERROR (.*)", result.stdout)
    assert error is not None, result.stdout
    assert "At index 0" in error.group(1) and "ALREADY_EXISTS" in error.group(1)
    assert "AFTER-DELETE 2" in result.stdout


@needs_corpus
@pytest.mark.skipif(not SHELL_PYTHON.exists(),
                    reason=f"no p4runtime-shell venv at {SHELL_PYTHON}: run "
                           "tools/setup_p4rt_env.sh")
def test_p4runtime_shell_replication_and_packet_io(kvick_server, tmp_path) -> None:
    script = tmp_path / "client.py"
    script.write_text(PRE_AND_PACKET_IO_SCRIPT)
    name = "onos_basic"
    result = subprocess.run(
        [str(SHELL_PYTHON), str(script), kvick_server,
         str(CORPUS / name / f"{name}.p4info.txtpb"), str(CORPUS / name / f"{name}.json")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MCAST [[(1, 1), (2, 1), (3, 2)]]" in result.stdout, result.stdout
    assert "CLONE [[4]]" in result.stdout, result.stdout
    after = re.search(r"MCAST-AFTER-DELETE (.*)", result.stdout)
    assert after is not None and "group_id" not in after.group(1), result.stdout
    assert "PACKET-IN [True]" in result.stdout, result.stdout + result.stderr
