"""What the `kvick` command line names (files, addresses), read and checked before use.

Each refusal is an InputError whose message is one line naming the input and what is wrong
with it; the command prints it and exits with status 1 (no traceback): a mistyped path or a
busy port is the user's to fix, not a bug of kvick.
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any, NoReturn


class InputError(Exception):
    """An input the command cannot use; the message says which and why."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, refusing a bad command line as every other input is refused: one
    line (`PROG: what is wrong`) and status 1, instead of the usage text and status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(1, f"{self.prog}: {one_line(message)} (see {self.prog} --help)\n")


def one_line(text: str) -> str:
    """A message as a single line (multi-line errors are joined)."""
    return "; ".join(part.strip() for part in str(text).splitlines() if part.strip())


def describe(err: BaseException) -> str:
    """An exception as one line, without Python's [Errno N] prefix."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror + (f": {err.filename}" if err.filename else "")
    return one_line(str(err))


def file_error(what: str, err: OSError) -> InputError:
    reason = err.strerror or str(err)
    return InputError(f"{what}: {reason}")


def read_bytes(path: str, what: str | None = None) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise file_error(what or path, err) from None


def read_text(path: str, what: str | None = None) -> str:
    try:
        return Path(path).read_text()
    except UnicodeDecodeError:
        raise InputError(f"{what or path}: not a text file") from None
    except OSError as err:
        raise file_error(what or path, err) from None


def read_p4info(path: str) -> tuple[str, dict[str, Any]]:
    """The P4Info file's text and its parsed form; an empty or unreadable file is refused."""
    from target import textproto

    what = f"--p4info {path}"
    text = read_text(path, what)
    if not text.strip():
        raise InputError(f"{what}: the file is empty (expected a P4Info in text format)")
    try:
        parsed = textproto.parse(text)
    except (ValueError, IndexError, KeyError) as err:
        raise InputError(f"{what}: not a P4Info in text format ({one_line(str(err))})") from None
    return text, parsed


def check_address(address: str) -> None:
    """HOST:PORT as gRPC takes it, PORT in 0..65535 (0: any free port), HOST known.

    The host is looked up here, whatever the port, because gRPC, given an unknown one, also
    writes its own log line to stderr before it fails (the server checks a busy port).
    """
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit() or int(port) > 65535:
        raise InputError(f"--grpc-server-addr {address!r}: expected HOST:PORT with PORT in "
                         "0..65535")
    host = host.removeprefix("[").removesuffix("]")
    try:
        socket.getaddrinfo(host or None, int(port), type=socket.SOCK_STREAM,
                           flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as err:
        raise InputError(f"--grpc-server-addr {address}: unknown host {host!r} "
                         f"({one_line(str(err))})") from None

