"""TLS and mutual TLS on the gRPC port with simple_switch_grpc's options, with certificates
made by openssl for each test: a CA, the server's certificate (localhost, 127.0.0.1), a client
certificate from that CA and one from another CA."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.proto import p4runtime_pb2_grpc
from runtime_server.server import P4RuntimeServer
from runtime_server.tls import TlsConfigError, TlsOptions

REPO = Path(__file__).resolve().parents[1]
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> None:
    openssl("req", "-x509", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
            "-days", "2", "-subj", f"/CN={name}", cwd=directory)


def make_cert(directory: Path, name: str, ca: str, alt_names: str | None = None) -> None:
    openssl("req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", f"/CN={name}", cwd=directory)
    extra = []
    if alt_names:
        (directory / f"{name}.ext").write_text(f"subjectAltName={alt_names}\n")
        extra = ["-extfile", f"{name}.ext"]
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", *extra, cwd=directory)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("certs")
    make_ca(directory, "ca")
    make_ca(directory, "rogue-ca")
    make_cert(directory, "server", "ca", "DNS:localhost,IP:127.0.0.1")
    make_cert(directory, "controller", "ca")
    make_cert(directory, "intruder", "rogue-ca")
    return directory


def start(certs: Path, client_auth: bool) -> P4RuntimeServer:
    from target import Switch

    options = TlsOptions(True, str(certs / "server.pem"), str(certs / "server.key"),
                         str(certs / "ca.pem") if client_auth else None, client_auth)
    return P4RuntimeServer(Switch(), device_id=0, address="127.0.0.1:0",
                           credentials=options.credentials())


def capabilities(port: int, credentials: grpc.ChannelCredentials | None) -> str:
    target = f"localhost:{port}"
    channel = (grpc.insecure_channel(target) if credentials is None
               else grpc.secure_channel(target, credentials))
    with channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        return stub.Capabilities(pb.CapabilitiesRequest(), timeout=5).p4runtime_api_version


def client_credentials(certs: Path, name: str | None) -> grpc.ChannelCredentials:
    root = (certs / "ca.pem").read_bytes()
    if name is None:
        return grpc.ssl_channel_credentials(root_certificates=root)
    return grpc.ssl_channel_credentials(root, (certs / f"{name}.key").read_bytes(),
                                        (certs / f"{name}.pem").read_bytes())


def test_tls_serves_only_tls_clients(certs: Path) -> None:
    server = start(certs, client_auth=False)
    try:
        assert capabilities(server.port, client_credentials(certs, None))
        with pytest.raises(grpc.RpcError) as err:
            capabilities(server.port, None)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=0)


def test_mutual_tls_needs_a_certificate_from_the_ca(certs: Path) -> None:
    server = start(certs, client_auth=True)
    try:
        assert capabilities(server.port, client_credentials(certs, "controller"))
        for refused in (None, "intruder"):
            with pytest.raises(grpc.RpcError) as err:
                capabilities(server.port, client_credentials(certs, refused))
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.stop(grace=0)


@pytest.mark.parametrize("options, text", [
    (TlsOptions(cert="a.pem"), "--grpc-server-cert given but TLS is off"),
    (TlsOptions(client_auth=True), "--grpc-server-with-client-auth given but TLS is off"),
    (TlsOptions(ssl=True, cert="a.pem"), "needs --grpc-server-cert and --grpc-server-key"),
    (TlsOptions(ssl=True, cert="a", key="b", client_auth=True), "needs --grpc-server-cacert"),
])
def test_tls_option_combinations_refused_as_bmv2_does(options: TlsOptions, text: str) -> None:
    with pytest.raises(TlsConfigError) as err:
        options.check()
    assert text in str(err.value)


def run_kvick(*flags: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "target.cli", "--no-p4", *flags],
                            cwd=cwd, env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_kvick_command_line_with_mutual_tls(certs: Path) -> None:
    port = free_port()
    process = run_kvick("--", "--grpc-server-addr", f"127.0.0.1:{port}", "--grpc-server-ssl",
                        "--grpc-server-cert", "server.pem", "--grpc-server-key", "server.key",
                        "--grpc-server-with-client-auth", "--grpc-server-cacert", "ca.pem",
                        cwd=certs)
    try:
        for line in process.stdout:
            if "listening" in line:
                break
        assert capabilities(port, client_credentials(certs, "controller"))
        with pytest.raises(grpc.RpcError):
            capabilities(port, client_credentials(certs, None))
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_kvick_refuses_unreadable_certificates_in_one_line(certs: Path) -> None:
    process = run_kvick("--grpc-server-addr", "127.0.0.1:0", "--grpc-server-ssl",
                        "--grpc-server-cert", "missing.pem", "--grpc-server-key", "server.key",
                        cwd=certs)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.strip() == "kvick: --grpc-server-cert missing.pem: No such file or directory"
