"""One StreamChannel's outgoing side: a bounded queue on the server's event loop that any
thread may feed (the engine's packet-ins, the digest and idle timers, other streams'
arbitration), and the count of open streams per client."""

from __future__ import annotations

import asyncio
import logging
import threading

from runtime_server.arbitration import Controller
from runtime_server.errors import P4RuntimeError

log = logging.getLogger("kvick.p4runtime")

OUTBOX_MESSAGES = 4096  # a slow controller loses notifications beyond this, never the switch

CLOSED = object()  # the outbox's last item: the stream's reader has finished


class Stream:
    """A StreamChannel: its controller (after arbitration), its peer, its outgoing queue."""

    def __init__(self, loop: asyncio.AbstractEventLoop, peer: str,
                 client: str | None = None) -> None:
        self.controller: Controller | None = None
        self.peer = peer
        self.client = client_of(peer) if client is None else client
        self.failure: P4RuntimeError | None = None
        self.outbox: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX_MESSAGES)
        self._loop = loop
        self._loop_thread = threading.get_ident()  # streams are made on the loop's thread

    def send(self, message) -> None:
        """Queue a message for the client; callable from any thread, never blocks."""
        if threading.get_ident() == self._loop_thread:
            self._put(message)
            return
        try:
            self._loop.call_soon_threadsafe(self._put, message)
        except RuntimeError:  # the server's loop is closed: the stream is gone
            pass

    def close(self) -> None:
        """Called on the loop once the client's side has ended."""
        try:
            self.outbox.put_nowait(CLOSED)
        except asyncio.QueueFull:  # make room: the client is not reading anyway
            self.outbox.get_nowait()
            self.outbox.put_nowait(CLOSED)

    def _put(self, message) -> None:
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("stream queue of %s full: dropping a %s", self.peer,
                        type(message).__name__)


def client_of(peer: str) -> str:
    """The client a gRPC peer string names, without its source port: 'ipv4:10.0.0.1:5000' and
    'ipv4:10.0.0.1:5001' are one client (one host may open any number of connections)."""
    kind, _, rest = peer.partition(":")
    if kind in ("ipv4", "ipv6"):
        host, _, _ = rest.rpartition(":")
        return f"{kind}:{host}"
    return peer


class StreamCounts:
    """Open StreamChannels per client, bounded (used on the loop's thread only)."""

    def __init__(self, per_client: int) -> None:
        self.per_client = per_client
        self._open: dict[str, int] = {}

    def admit(self, client: str) -> bool:
        count = self._open.get(client, 0)
        if count >= self.per_client:
            return False
        self._open[client] = count + 1
        return True

    def release(self, client: str) -> None:
        count = self._open.get(client, 0) - 1
        if count > 0:
            self._open[client] = count
        else:
            self._open.pop(client, None)
