"""The kvick command line: simple_switch_grpc's flags, refusals, and a running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from target.cli import UsageError, interfaces, main, parse_switch_args

REPO = Path(__file__).resolve().parents[1]


def test_flags_before_and_after_the_separator() -> None:
    args = parse_switch_args(["-i", "1@veth0", "--no-p4", "-i", "2@veth2", "--",
                              "--grpc-server-addr", "127.0.0.1:50051", "--cpu-port", "255",
                              "--device-id", "3"])
    assert args.interface == [(1, "veth0"), (2, "veth2")]
    assert (args.grpc_server_addr, args.cpu_port, args.device_id) == ("127.0.0.1:50051", 255, 3)
    assert [i.spec for i in interfaces(args)] == ["veth0", "veth2"]


def test_workers_default_to_one() -> None:
    assert parse_switch_args(["--no-p4"]).workers == 1
    assert parse_switch_args(["--no-p4", "--workers", "2"]).workers == 2


def test_use_files_maps_interfaces_to_pcap_pairs() -> None:
    args = parse_switch_args(["--use-files", "0", "-i", "1@s1-eth1", "prog.json"])
    assert [(i.port, i.spec) for i in interfaces(args)] == [
        (1, "pcap:s1-eth1_in.pcap,s1-eth1_out.pcap")]


@pytest.mark.parametrize("argv, text", [
    ([], "PROGRAM.json or --no-p4"),
    (["--no-p4", "prog.json"], "exclude"),
    (["--no-p4", "--p4info", "x.txtpb"], "--p4info needs"),
    (["--no-p4", "-i", "1@a", "-i", "1@b"], "twice"),
    (["--no-p4", "-i", "255@a", "--cpu-port", "255"], "also an -i port"),
    (["--no-p4", "--workers", "0"], "--workers must be 1..64"),
    (["--no-p4", "--workers", "65"], "--workers must be 1..64"),
])
def test_refused_command_lines(argv: list[str], text: str) -> None:
    with pytest.raises(UsageError, match=text):
        parse_switch_args(argv)


def test_intel_ports_take_several_workers(capsys) -> None:
    args = parse_switch_args(["--no-p4", "--workers", "2", "-i", "1@intel:0000:00:0a.0"])
    assert args.workers == 2 and args.interface == [(1, "intel:0000:00:0a.0")]
    with pytest.raises(SystemExit):
        parse_switch_args(["--help"])
    assert "intel:PCI[,queues=N]" in " ".join(capsys.readouterr().out.split())


def test_main_reports_refusals_with_exit_code_1(capsys) -> None:
    assert main(["--no-p4", "--pcap", "/nonexistent-dir"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_help_lists_every_subcommand_on_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    for name in ("stf", "compile", "run"):
        assert len([line for line in lines if line.strip().startswith(f"kvick {name} ")]) == 1, name
    assert main(["run", "--help"]) == 0
    assert "kvick run FILE.p4" in capsys.readouterr().out


def test_bad_interface_syntax_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_switch_args(["--no-p4", "-i", "veth0"])
    assert exited.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "kvick: argument -i/--interface: expected PORT@INTERFACE, got 'veth0' (see kvick --help)"]


def test_kvick_serves_p4runtime() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "target.cli", "--no-p4", "--grpc-server-addr",
         f"127.0.0.1:{port}"],
        cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in process.stdout:
            if "listening" in line:
                break
        from runtime_server.proto import p4runtime_pb2, p4runtime_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
            reply = stub.Capabilities(p4runtime_pb2.CapabilitiesRequest(), timeout=10)
            assert reply.p4runtime_api_version
            with pytest.raises(grpc.RpcError) as err:
                stub.Read(p4runtime_pb2.ReadRequest(device_id=0), timeout=10).next()
            assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
