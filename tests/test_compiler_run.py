"""`kvick run FILE.p4`: compile on the fly, cached by content hash, then run the switch."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.all import Ether, rdpcap, wrpcap

from target.compiler.cache import compile_cached
from target.compiler.errors import CompileError
from target.compiler.run_command import RunUsageError, split_run_args, switch_argv

REPO = Path(__file__).resolve().parents[1]

WIRE = """
#include <core.p4>
#include <v1model.p4>
#include "port.p4"
header eth_t { bit<48> dst; bit<48> src; bit<16> type; }
struct headers_t { eth_t eth; }
struct meta_t { }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control VC(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    apply { sm.egress_spec = OUT_PORT; h.eth.type = 0x1234; }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


@pytest.fixture()
def program(tmp_path: Path) -> Path:
    (tmp_path / "wire.p4").write_text(WIRE)
    (tmp_path / "port.p4").write_text("const bit<9> OUT_PORT = 2;\n")
    return tmp_path / "wire.p4"


def test_second_compile_is_a_cache_hit(program: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = compile_cached(program, directory=cache)
    second = compile_cached(program, directory=cache)
    assert first[2] and not second[2]
    assert first[:2] == second[:2]
    assert '"egress_spec"' in first[0].read_text()
    assert 'arch: "v1model"' in first[1].read_text()


def test_an_edited_include_recompiles(program: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = compile_cached(program, directory=cache)
    (tmp_path / "port.p4").write_text("const bit<9> OUT_PORT = 3;\n")
    after = compile_cached(program, directory=cache)
    assert after[2] and after[0] != before[0]


def test_a_program_that_does_not_compile_is_not_cached(tmp_path: Path) -> None:
    bad = tmp_path / "bad.p4"
    bad.write_text("header h_t { bit<8> x }\n")
    with pytest.raises(CompileError):
        compile_cached(bad, directory=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_run_arguments_become_a_switch_command_line(program: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVICK_CACHE", str(tmp_path / "cache"))
    argv = switch_argv([str(program), "-i", "1@veth0", "--", "--cpu-port", "255"])
    assert argv[0].endswith(".json") and Path(argv[0]).parent == tmp_path / "cache"
    assert argv[1] == "--p4info" and argv[2].endswith(".p4info.txtpb")
    assert argv[3:] == ["-i", "1@veth0", "--", "--cpu-port", "255"]
    given = switch_argv([str(program), "--p4info", "mine.txtpb"])
    assert given[1:] == ["--p4info", "mine.txtpb"]


def test_run_needs_exactly_one_program() -> None:
    with pytest.raises(RunUsageError):
        split_run_args(["-i", "1@veth0"])
    with pytest.raises(RunUsageError):
        split_run_args(["a.p4", "b.p4"])
    assert split_run_args(["-I", "inc", "a.p4", "-Iother"]) == (
        Path("a.p4"), [Path("inc"), Path("other")], [])


def test_kvick_run_forwards_between_pcap_ports(program: Path, tmp_path: Path) -> None:
    frame = Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02", type=0x0800) / (b"p" * 50)
    wrpcap(str(tmp_path / "in.pcap"), [frame])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        grpc_port = sock.getsockname()[1]
    out_pcap = tmp_path / "out.pcap"
    process = subprocess.Popen(
        [sys.executable, "-m", "target.cli", "run", str(program),
         "-i", f"1@pcap:{tmp_path / 'in.pcap'},{tmp_path / 'unused.pcap'}",
         "-i", f"2@pcap:{tmp_path / 'empty.pcap'},{out_pcap}",
         "--grpc-server-addr", f"127.0.0.1:{grpc_port}"],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO), KVICK_CACHE=str(tmp_path / "cache")),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wrpcap(str(tmp_path / "empty.pcap"), [])
    try:
        for line in process.stdout:
            if "listening" in line:
                break
        time.sleep(1.0)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
    assert process.returncode == 0, output
    sent = rdpcap(str(out_pcap))
    assert len(sent) == 1 and Ether(bytes(sent[0])).type == 0x1234
