"""TLS for the gRPC port, from simple_switch_grpc's options: --grpc-server-ssl with
--grpc-server-cert and --grpc-server-key; --grpc-server-with-client-auth (mutual TLS) with
--grpc-server-cacert, the CA that signs the clients' certificates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsConfigError(ValueError):
    """TLS options kvick cannot use; the message says which and why, in one line."""


@dataclass(frozen=True)
class TlsOptions:
    ssl: bool = False
    cert: str | None = None
    key: str | None = None
    cacert: str | None = None
    client_auth: bool = False

    def check(self) -> None:
        """The combinations simple_switch_grpc refuses, refused the same way."""
        given = [name for name, value in (("--grpc-server-cert", self.cert),
                                          ("--grpc-server-key", self.key),
                                          ("--grpc-server-cacert", self.cacert)) if value]
        if not self.ssl and (given or self.client_auth):
            flags = ", ".join(given + (["--grpc-server-with-client-auth"]
                                       if self.client_auth else []))
            raise TlsConfigError(f"{flags} given but TLS is off: add --grpc-server-ssl")
        if self.ssl and not (self.cert and self.key):
            raise TlsConfigError("--grpc-server-ssl needs --grpc-server-cert and "
                                 "--grpc-server-key")
        if self.client_auth and not self.cacert:
            raise TlsConfigError("--grpc-server-with-client-auth needs --grpc-server-cacert "
                                 "(the CA that signs the clients' certificates)")

    def credentials(self) -> grpc.ServerCredentials | None:
        """The server credentials, None when TLS is off; TlsConfigError for a file that cannot
        be read or is not PEM."""
        self.check()
        if not self.ssl:
            return None
        key, cert = _pem(self.key, "--grpc-server-key"), _pem(self.cert, "--grpc-server-cert")
        root = _pem(self.cacert, "--grpc-server-cacert") if self.cacert else None
        return grpc.ssl_server_credentials([(key, cert)], root_certificates=root,
                                           require_client_auth=self.client_auth)


def _pem(path: str | None, flag: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise TlsConfigError(f"{flag} {path}: {err.strerror}") from None
    if b"-----BEGIN " not in data:
        raise TlsConfigError(f"{flag} {path}: not a PEM file")
    return data
