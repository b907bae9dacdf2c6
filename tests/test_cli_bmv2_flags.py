"""simple_switch_grpc's flags on kvick: every one accepted; those with a meaning here work.

The switches run as `python -m target.cli` subprocesses, as scripts run simple_switch_grpc.
Programs: swap_1.json from BMv2's tests (one table on hdr1.f1; a miss sends to port 0) and the
tutorials' basic.json from the corpus.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from target import bmv2_options
from target.cli import UsageError, parse_switch_args

REPO = Path(__file__).resolve().parents[1]
SWAP = REPO / "tests" / "data" / "bmv2_json" / "swap_1.json"

# A value for each flag that takes one (flag as in FLAGS, without the metavar).
VALUES = {"-i/--interface": ["-i", "1@memory:sink"], "--pcap": ["--pcap", "."],
          "--use-files": ["--use-files", "0"], "-L/--log-level": ["-L", "debug"],
          "--log-file": ["--log-file", "x.log"], "--log-console": ["--log-console"],
          "--log-flush": ["--log-flush", "--log-file", "x.log"],
          "--log-file-max-size": ["--log-file-max-size", "1000", "--log-file", "x.log"],
          "--log-file-max-files": ["--log-file-max-files", "2", "--log-file", "x.log"],
          "-h/--help": None, "-v/--version": ["-v"], "--no-p4": []}


def command_line(flag: str) -> list[str] | None:
    name = flag.split()[0]
    if name in VALUES:
        return VALUES[name]
    takes_value = len(flag.split()) > 1
    option = name.split("/")[-1]
    if not takes_value:
        return [option]
    value = "2" if flag.split()[1] == "N" else "ipc:///tmp/x.ipc"
    if option == "--drop-port":
        value = "500"
    return [option, value]


@pytest.mark.parametrize("flag", sorted(bmv2_options.FLAGS))
def test_every_simple_switch_grpc_flag_is_accepted(flag: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = command_line(flag)
    if argv is None:                    # -h exits 0 after printing the options
        with pytest.raises(SystemExit) as e:
            parse_switch_args(["-h"])
        assert e.value.code == 0
        return
    args = parse_switch_args(["--no-p4", "--", *argv])
    if bmv2_options.information(args) is not None:
        return
    status, _ = bmv2_options.FLAGS[flag]
    assert len(args.warnings) == (1 if status == bmv2_options.WARNS else 0), args.warnings


@pytest.mark.parametrize(("argv", "text"), [
    (["--log-console", "--log-file", "x"], "--log-console and --log-file are exclusive"),
    (["--pcap", "/nonexistent-dir"], "Directory '/nonexistent-dir' specified with '--pcap' does not exist."),
    (["--max-port-count", "-1"], "cannot be negative"),
    (["--max-port-count", "1", "-i", "1@memory:sink", "-i", "2@memory:sink"], "--max-port-count is 1"),
    (["--log-file", "x", "--log-file-max-size", "0"], "must be greater than 0"),
    (["--dump-packet-data", "-1"], "must not be negative"),
])
def test_values_bmv2_refuses_are_refused(argv: list[str], text: str) -> None:
    with pytest.raises(UsageError, match=text.replace("(", r"\(")):
        parse_switch_args(["--no-p4", *argv])


def test_log_flush_without_log_file_is_ignored_with_bmv2s_words() -> None:
    args = parse_switch_args(["--no-p4", "--log-flush"])
    assert args.warnings == ["Ignoring --log-flush option because --log-file not specified"]


def test_version_and_json_version_print_and_exit_0() -> None:
    for flag, want in (("--json-version", "2.24\n"), ("-v", "kvick ")):
        out = subprocess.run([sys.executable, "-m", "target.cli", flag], cwd=REPO,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.startswith(want)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pcap(frames: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for f in frames:
        out += struct.pack("<IIII", 0, 0, len(f), len(f)) + f
    return out


def pcap_frames(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    frames, pos = [], 24
    while pos + 16 <= len(data):
        n = struct.unpack_from("<I", data, pos + 8)[0]
        frames.append(data[pos + 16:pos + 16 + n])
        pos += 16 + n
    return frames


class Kvick:
    """A kvick switch process with its output collected."""

    def __init__(self, argv: list[str], cwd: Path):
        self.grpc = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target.cli", *argv, "--", "--grpc-server-addr",
             f"127.0.0.1:{self.grpc}"], cwd=cwd, env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.started = time.monotonic()

    def listening(self, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.grpc)) == 0:
                    return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> tuple[int, str, str]:
        self.process.send_signal(signal.SIGTERM)
        out, err = self.process.communicate(timeout=30)
        return self.process.returncode, out, err


def test_tutorial_command_line_starts_with_status_0(tmp_path: Path) -> None:
    """The command the tutorials' P4RuntimeSwitch.start builds, with kvick as the binary."""
    (tmp_path / "pcaps").mkdir()
    argv = ("-i 1@memory:sink -i 2@memory:sink --pcap pcaps --nanolog ipc:///tmp/bm-0-log.ipc "
            f"--device-id 0 {SWAP} --log-console --thrift-port 9090").split()
    sw = Kvick(argv + ["--cpu-port", "255"], tmp_path)
    assert sw.listening()
    rc, out, err = sw.stop()
    assert rc == 0, err
    assert "--thrift-port ignored" in err and "--nanolog ignored" in err
    assert "Adding interface memory:sink as port 1" in out


def test_use_files_serves_grpc_at_once_and_replays_after_the_wait(tmp_path: Path) -> None:
    (tmp_path / "h1_in.pcap").write_bytes(pcap([b"\x05\x06", b"\x07\x08"]))
    sw = Kvick(["--use-files", "3", "-i", "0@h1", str(SWAP)], tmp_path)
    assert sw.listening()
    assert time.monotonic() - sw.started < 3         # gRPC before the wait is over
    assert pcap_frames(tmp_path / "h1_out.pcap") == []
    time.sleep(4.5)
    rc, _out, err = sw.stop()
    assert rc == 0, err
    assert pcap_frames(tmp_path / "h1_out.pcap") == [b"\x05\x06", b"\x07\x08"]


def test_log_file_flush_trace_and_dump_packet_data(tmp_path: Path) -> None:
    (tmp_path / "h1_in.pcap").write_bytes(pcap([b"\x05\x06\x07"]))
    sw = Kvick(["--use-files", "0", "-i", "0@h1", str(SWAP), "--log-file", "s1.log",
                "--log-flush", "-L", "trace", "--dump-packet-data", "2"], tmp_path)
    assert sw.listening()
    log = tmp_path / "s1.log"
    want = ["] [bmv2] [T] [thread ", "] [0.0] [cxt 0] Parser 'parser' entering state 'start'",
            "[D] [thread ", "[0.0] [cxt 0] Extracting header 'hdr1'",
            "Received packet of length 3 on port 0: 0506",
            "Sending packet of length 3 on port 0: 0506"]
    deadline = time.monotonic() + 30
    text = ""
    while time.monotonic() < deadline and not all(w in text for w in want):
        time.sleep(0.1)
        text = log.read_text() if log.exists() else ""    # read while the switch runs
    rc, _out, err = sw.stop()
    assert rc == 0, err
    assert [w for w in want if w not in text] == []


def test_pcap_records_each_port_with_bmv2s_file_names(tmp_path: Path) -> None:
    (tmp_path / "pcaps").mkdir()
    (tmp_path / "s1-eth1_in.pcap").write_bytes(pcap([b"\x05\x06"]))
    sw = Kvick(["-i", "0@pcap:s1-eth1_in.pcap,wire_out.pcap", str(SWAP), "--pcap", "pcaps"], tmp_path)
    assert sw.listening()
    time.sleep(1.5)
    rc, _out, err = sw.stop()
    assert rc == 0, err
    name = "s1-eth1_in.pcap,wire_out.pcap"
    assert pcap_frames(tmp_path / "pcaps" / f"{name}_in.pcap") == [b"\x05\x06"]
    assert pcap_frames(tmp_path / "pcaps" / f"{name}_out.pcap") == [b"\x05\x06"]
    assert pcap_frames(tmp_path / "wire_out.pcap") == [b"\x05\x06"]


def test_warned_flags_let_the_switch_run(tmp_path: Path) -> None:
    argv = ["--no-p4", "--thrift-port", "9090", "--debugger", "--restore-state", "state.txt",
            "--packet-in", "ipc:///tmp/x", "--load-modules", "m.so", "--dp-grpc-server-addr",
            "127.0.0.1:1"]
    sw = Kvick(argv, tmp_path)
    assert sw.listening()
    rc, _out, err = sw.stop()
    assert rc == 0
    assert len([line for line in err.splitlines() if "ignored" in line]) == 6
