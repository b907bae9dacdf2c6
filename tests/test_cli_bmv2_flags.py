"""simple_switch_grpc's flags on kvick: every one accepted; those with a meaning here work.

The switches run as `python -m target.cli` subprocesses, as scripts run simple_switch_grpc.
Programs: swap_1.json from BMv2's tests (one table on hdr1.f1; a miss sends to port 0) and the
tutorials' basic.json from the corpus.
"""

from __future__ import annotations

import json
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
          "-h/--help": None, "-v/--version": ["-v"], "--no-p4": [],
          "--grpc-server-ssl": ["--grpc-server-ssl", "--grpc-server-cert", "c.pem",
                                "--grpc-server-key", "k.pem"],
          "--grpc-server-cert": ["--grpc-server-ssl", "--grpc-server-cert", "c.pem",
                                 "--grpc-server-key", "k.pem"],
          "--grpc-server-key": ["--grpc-server-ssl", "--grpc-server-cert", "c.pem",
                                "--grpc-server-key", "k.pem"],
          "--grpc-server-cacert": ["--grpc-server-ssl", "--grpc-server-cert", "c.pem",
                                   "--grpc-server-key", "k.pem", "--grpc-server-cacert", "ca.pem"],
          "--grpc-server-with-client-auth": [
              "--grpc-server-ssl", "--grpc-server-cert", "c.pem", "--grpc-server-key", "k.pem",
              "--grpc-server-cacert", "ca.pem", "--grpc-server-with-client-auth"],
          "--restore-state": []}


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
    """A kvick switch process with its output collected; one a failed test left running is
    ended by the `no_switch_left` fixture."""

    running: list[Kvick] = []

    def __init__(self, argv: list[str], cwd: Path):
        Kvick.running.append(self)
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


@pytest.fixture(autouse=True)
def no_switch_left():
    yield
    while Kvick.running:
        process = Kvick.running.pop().process
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


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
    # 8 s: long enough that a loaded machine still starts the server well before the replay.
    sw = Kvick(["--use-files", "8", "-i", "0@h1", str(SWAP)], tmp_path)
    assert sw.listening()
    assert time.monotonic() - sw.started < 8         # gRPC before the wait is over
    assert pcap_frames(tmp_path / "h1_out.pcap") == []
    deadline = sw.started + 40
    while time.monotonic() < deadline and len(pcap_frames(tmp_path / "h1_out.pcap")) < 2:
        time.sleep(0.2)
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


WARNED = ["--thrift-port", "9090", "--debugger", "--debugger-addr", "ipc:///tmp/d.ipc",
          "--packet-in", "ipc:///tmp/x", "--load-modules", "m.so", "--dp-grpc-server-addr",
          "127.0.0.1:1", "--nanolog", "ipc:///tmp/n.ipc", "--notifications-addr",
          "ipc:///tmp/m.ipc", "--warn-on-invalid-hdr-read", "--ret-zero-on-invalid-hdr-read"]


def test_warned_flags_let_the_switch_run(tmp_path: Path) -> None:
    sw = Kvick(["--no-p4", *WARNED], tmp_path)
    assert sw.listening()
    rc, _out, err = sw.stop()
    assert rc == 0
    warned = [line for line in err.splitlines() if "ignored" in line]
    assert len(warned) == len([f for f, (st, _) in bmv2_options.FLAGS.items()
                               if st == bmv2_options.WARNS]) == 10
    assert all(line.startswith("kvick: ") for line in warned)


# A program whose frames say where they go: port (egress_spec), priority, drop (1: mark_to_drop).
def queues_program(tmp_path: Path) -> str:
    from test_v1model_drop_port_priority import PROGRAM

    from target.compiler.driver import compile_text

    (tmp_path / "prog.json").write_text(json.dumps(compile_text(PROGRAM)[0]))
    return "prog.json"


def qframe(port: int, prio: int = 0, drop: int = 0, seq: int = 0) -> bytes:
    return port.to_bytes(2, "big") + bytes([prio, drop, seq, 0, 0, 0])


def run_files(tmp_path: Path, argv: list[str], inputs: dict[str, list[bytes]],
              wait_for: str) -> tuple[int, str]:
    """kvick --use-files 0 with the given input pcaps; stops once wait_for_out.pcap has a
    frame (or after 30 s)."""
    for name, frames in inputs.items():
        (tmp_path / f"{name}_in.pcap").write_bytes(pcap(frames))
    sw = Kvick(["--use-files", "0", *argv], tmp_path)
    assert sw.listening()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pcap_frames(tmp_path / f"{wait_for}_out.pcap"):
        time.sleep(0.1)
    time.sleep(0.5)
    rc, _out, err = sw.stop()
    return rc, err


def test_drop_port_typed_on_the_command_line(tmp_path: Path) -> None:
    prog = queues_program(tmp_path)
    frames = [qframe(511, seq=1), qframe(5, seq=2), qframe(2, drop=1, seq=3), qframe(2, seq=4)]
    rc, err = run_files(tmp_path, ["-i", "1@h1", "-i", "2@h2", "-i", "511@h511", prog,
                                   "--drop-port", "5"], {"h1": frames, "h2": [], "h511": []},
                        "h2")
    assert rc == 0, err
    assert pcap_frames(tmp_path / "h511_out.pcap") == [frames[0][:6] + b"\x00\x06"]
    assert [f[4] for f in pcap_frames(tmp_path / "h2_out.pcap")] == [4]


def test_port_511_needs_another_drop_port(tmp_path: Path) -> None:
    sw = Kvick(["-i", "511@memory:sink", queues_program(tmp_path)], tmp_path)
    rc = sw.process.wait(timeout=120)
    assert rc == 1
    assert "is the drop port" in sw.process.stderr.read()


def test_priority_queues_typed_on_the_command_line(tmp_path: Path) -> None:
    prog = queues_program(tmp_path)
    prios = [0, 3, 7, 3, 0, 5, 7, 1]
    frames = [qframe(2, prio=p, seq=i) for i, p in enumerate(prios)]
    rc, err = run_files(tmp_path, ["-i", "1@h1", "-i", "2@h2", prog, "--priority-queues", "8"],
                        {"h1": frames, "h2": []}, "h2")
    assert rc == 0, err
    got = [(f[2], f[4]) for f in pcap_frames(tmp_path / "h2_out.pcap")]
    assert got == [(7, 2), (7, 6), (5, 5), (3, 1), (3, 3), (1, 7), (0, 0), (0, 4)]
    # Without the flag there is one queue: a packet with a priority is dropped, as in BMv2.
    (tmp_path / "h2_out.pcap").unlink()
    rc, err = run_files(tmp_path, ["-i", "1@h1", "-i", "2@h2", prog],
                        {"h1": frames, "h2": []}, "h2")
    assert rc == 0, err
    assert [f[4] for f in pcap_frames(tmp_path / "h2_out.pcap")] == [0, 4]


MC_COMMANDS = """\
mc_mgrp_create 1
mc_node_create 0 1
mc_node_associate 1 0
mc_mgrp_create 2
mc_node_create 0 2
mc_node_associate 2 1
"""


@pytest.mark.parametrize(("flag", "words"), [
    ("--max-mc-groups", "mgrp create failed, mgid table full (1 groups)"),
    ("--max-l1-entries", "node create failed, l1 table full (1 entries)"),
    ("--max-l2-entries", "node create failed, l2 table full (1 entries)")])
def test_multicast_bounds_typed_on_the_command_line(tmp_path: Path, flag: str,
                                                    words: str) -> None:
    (tmp_path / "mc.txt").write_text(MC_COMMANDS)
    for limit, status in (("2", 0), ("1", 1)):
        sw = Kvick([str(SWAP), "--restore-state", "mc.txt", flag, limit], tmp_path)
        if status == 0:
            assert sw.listening()
            rc, _out, err = sw.stop()
        else:
            rc = sw.process.wait(timeout=120)
            err = sw.process.stderr.read()
            assert err.strip().splitlines() == [f"kvick: --restore-state mc.txt:6: {words}"]
        assert rc == status, err


def test_log_file_rotation_typed_on_the_command_line(tmp_path: Path) -> None:
    frames = [bytes([1, 2, k]) for k in range(20)]
    rc, err = run_files(tmp_path, ["-i", "0@h1", str(SWAP), "--log-file", "s1.log", "-L",
                                   "trace", "--log-flush", "--log-file-max-size", "400",
                                   "--log-file-max-files", "2"], {"h1": frames}, "h1")
    assert rc == 0, err
    logs = sorted(p.name for p in tmp_path.glob("s1.log*"))
    assert logs == ["s1.log", "s1.log.1", "s1.log.2"]
    assert all(p.stat().st_size <= 400 + 300 for p in tmp_path.glob("s1.log*"))


def test_help_flags_prints_the_table() -> None:
    out = subprocess.run([sys.executable, "-m", "target.cli", "--help-flags"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    rows = [line for line in out.stdout.splitlines() if line.startswith("| `")]
    assert len(rows) == len(bmv2_options.FLAGS)


# Each simple_switch_grpc flag -> the tests that type it on a kvick command line and check what
# it does (or, for a warned flag, that it warns once and the switch runs).
FLAG_TESTS: dict[str, list[str]] = {
    "-h/--help": ["test_cli::test_help_lists_every_subcommand_on_one_line"],
    "-i/--interface N@IFACE": ["test_tutorial_command_line_starts_with_status_0",
                               "test_cli_errors::test_bad_input_is_one_line_and_status_1"],
    "--pcap [DIR]": ["test_pcap_records_each_port_with_bmv2s_file_names"],
    "--use-files N": ["test_use_files_serves_grpc_at_once_and_replays_after_the_wait"],
    "--device-id N": ["test_tutorial_command_line_starts_with_status_0"],
    "--log-console": ["test_tutorial_command_line_starts_with_status_0"],
    "--log-file FILE": ["test_log_file_flush_trace_and_dump_packet_data"],
    "-L/--log-level LEVEL": ["test_log_file_flush_trace_and_dump_packet_data"],
    "--log-flush": ["test_log_file_flush_trace_and_dump_packet_data"],
    "--log-file-max-size N": ["test_log_file_rotation_typed_on_the_command_line"],
    "--log-file-max-files N": ["test_log_file_rotation_typed_on_the_command_line"],
    "--restore-state FILE": ["test_restore_state::test_the_command_line_restores_before_forwarding",
                             "test_restore_state::test_the_command_line_refuses_a_bad_file_in_one_line"],
    "--dump-packet-data N": ["test_log_file_flush_trace_and_dump_packet_data"],
    "-v/--version": ["test_version_and_json_version_print_and_exit_0"],
    "--json-version": ["test_version_and_json_version_print_and_exit_0"],
    "--no-p4": ["test_cli::test_kvick_serves_p4runtime"],
    "--max-port-count N": ["test_cli_errors::test_bad_input_is_one_line_and_status_1"],
    "--grpc-server-addr ADDR": ["test_cli::test_kvick_serves_p4runtime"],
    "--cpu-port N": ["test_tutorial_command_line_starts_with_status_0"],
    "--drop-port N": ["test_drop_port_typed_on_the_command_line",
                      "test_port_511_needs_another_drop_port"],
    "--priority-queues N": ["test_priority_queues_typed_on_the_command_line"],
    "--max-mc-groups N": ["test_multicast_bounds_typed_on_the_command_line"],
    "--max-l1-entries N": ["test_multicast_bounds_typed_on_the_command_line"],
    "--max-l2-entries N": ["test_multicast_bounds_typed_on_the_command_line"],
    "--disable-swap": ["test_every_simple_switch_grpc_flag_starts_the_switch"],
    "--grpc-server-ssl": ["test_p4runtime_tls::test_kvick_command_line_with_mutual_tls"],
    "--grpc-server-cert PEM": ["test_p4runtime_tls::test_kvick_command_line_with_mutual_tls"],
    "--grpc-server-key PEM": ["test_p4runtime_tls::test_kvick_command_line_with_mutual_tls"],
    "--grpc-server-cacert PEM": ["test_p4runtime_tls::test_kvick_command_line_with_mutual_tls"],
    "--grpc-server-with-client-auth": ["test_p4runtime_tls::test_kvick_command_line_with_mutual_tls"],
}


def test_every_flag_has_a_command_line_test() -> None:
    import importlib

    warned = {f for f, (st, _) in bmv2_options.FLAGS.items() if st == bmv2_options.WARNS}
    assert set(FLAG_TESTS) == set(bmv2_options.FLAGS) - warned
    for flag in warned:
        assert flag.split()[0].split("/")[-1] in WARNED
    for flag, tests in FLAG_TESTS.items():
        for test in tests:
            module, _, name = test.rpartition("::")
            assert callable(getattr(importlib.import_module(module or __name__), name, None)), \
                (flag, test)


def test_every_simple_switch_grpc_flag_starts_the_switch(tmp_path: Path) -> None:
    """The flags that need no file, all on one command line typed as a script would."""
    argv = ["--no-p4", "--device-id", "3", "--cpu-port", "64", "--log-console", "-L", "info",
            "--dump-packet-data", "4", "--max-port-count", "8", "--drop-port", "500",
            "--priority-queues", "4", "--max-mc-groups", "10", "--max-l1-entries", "10",
            "--max-l2-entries", "10", "--disable-swap", "-i", "1@memory:sink"]
    sw = Kvick(argv, tmp_path)
    assert sw.listening()
    rc, _out, err = sw.stop()
    assert rc == 0, err
    assert "kvick:" not in err
