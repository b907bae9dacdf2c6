"""The P4Runtime server on the native gRPC front end (h2front.pyx): HTTP/2 and gRPC framing in
C on a loop of their own; the RPCs are runtime_server/service.py's, as with grpc.aio.

What runs where:
- on the front end's thread, entered once per request (with the GIL): Capabilities,
  GetForwardingPipelineConfig, StreamChannel messages, and a Write up to 4 KiB when the write
  lock is free (its answer is queued before the thread goes back to C);
- in a few worker threads behind a bounded count (RESOURCE_EXHAUSTED beyond it): pipeline
  changes, large or blocked Writes, and Reads (chunk by chunk, stopping when the client
  cancels);
- on an asyncio loop of its own: the other gRPC services written for grpc.aio (gNMI), through
  AioBridge.
Open streams hold no thread. A refused request is logged as with grpc.aio: one info line with
the RPC, the peer, the code and the message.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent import futures

import grpc

from runtime_server.aio_bridge import AioBridge
from runtime_server.errors import BatchFailure, P4RuntimeError, StatusCode
from runtime_server.h2front import Front
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.rpc import INLINE_WRITE_BYTES
from runtime_server.server import DEFAULT_ADDRESS, MAX_MESSAGE_BYTES, Limits, check_address
from runtime_server.service import P4RuntimeService
from runtime_server.streams import StreamCounts, client_of

log = logging.getLogger("kvick.p4runtime")

PREFIX = "/p4.v1.P4Runtime/"
STREAM_CHANNEL = PREFIX + "StreamChannel"
LISTEN_BACKLOG = 1024
DEFAULT_LIMITS = Limits()


def status_number(code: grpc.StatusCode) -> int:
    return code.value[0]


def percent_encoded(text: str) -> bytes:
    """grpc-message's encoding: printable ASCII except '%' as is, every other byte %XX."""
    out = bytearray()
    for byte in text.encode():
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def binary_header(value: bytes) -> bytes:
    """A -bin header's value: base64 without padding, as gRPC implementations send it."""
    return base64.b64encode(value).rstrip(b"=")


class NativeStream:
    """A StreamChannel on the native front end, as service.py sees a stream (streams.Stream):
    its controller, peer and client, and `send` from any thread."""

    def __init__(self, front: Front, call_id: int, peer: str, client: str) -> None:
        self.controller = None
        self.peer = peer
        self.client = client
        self.failure: P4RuntimeError | None = None
        self._front = front
        self._call_id = call_id
        self.open = True

    def send(self, message) -> None:
        if self.open:
            self._front.send(self._call_id, message.SerializeToString())


class NativeCalls:
    """The handler h2front.Front calls, for the P4Runtime service (and AioBridge's)."""

    def __init__(self, service: P4RuntimeService, limits: Limits, bridge: AioBridge) -> None:
        self.service = service
        self.front: Front | None = None
        self.bridge = bridge
        self.max_queued = limits.max_queued_calls
        self.pending = 0  # calls admitted to the workers and not finished
        self._pending_lock = threading.Lock()
        self._pool = futures.ThreadPoolExecutor(max_workers=limits.workers,
                                                thread_name_prefix="kvick-p4rt")
        self.stream_counts = StreamCounts(limits.streams_per_client)  # front thread only
        self.channels: dict[int, NativeStream] = {}  # front thread only
        self._in_progress: set[int] = set()  # calls in the workers
        self._cancelled: set[int] = set()  # ... that the client gave up on
        self._unary: dict[str, Callable[[int, str, bytes], None]] = {
            PREFIX + "Write": self._write,
            PREFIX + "Read": self._read,
            PREFIX + "Capabilities": self._capabilities,
            PREFIX + "GetForwardingPipelineConfig": self._get_config,
            PREFIX + "SetForwardingPipelineConfig": self._set_config,
        }

    def close(self) -> None:
        self._pool.shutdown(wait=False)

    # ---- answers --------------------------------------------------------------------------

    def refuse(self, call_id: int, rpc: str, peer: str, err: P4RuntimeError) -> None:
        log.info("refused %s from %s: %s: %s", rpc, peer, err.code.name, err.message)
        if isinstance(err, BatchFailure):
            details = dict(err.status.trailing_metadata).get("grpc-status-details-bin")
            self.front.finish(call_id, status_number(err.status.code),
                              percent_encoded(err.status.details),
                              binary_header(details) if details else None)
            return
        self.front.finish(call_id, status_number(err.code), percent_encoded(err.message))

    def _fail(self, call_id: int, rpc: str, err: Exception) -> None:
        """An error nobody meant: UNKNOWN to the client, the traceback in the log."""
        log.error("%s failed", rpc, exc_info=err)
        self.front.finish(call_id, status_number(StatusCode.UNKNOWN),
                          percent_encoded(f"Unexpected {type(err).__name__}: {err}"))

    def _parse(self, call_id: int, rpc: str, parse, data: bytes):
        try:
            return parse(data)
        except Exception:
            self.front.finish(call_id, status_number(StatusCode.INTERNAL),
                              percent_encoded(f"{rpc}: cannot parse the request"))
            return None

    # ---- called by the front end (its thread, with the GIL) --------------------------------

    def unary(self, call_id: int, path: str, peer: str, message: bytes) -> None:
        method = self._unary.get(path)
        if method is not None:
            method(call_id, peer, message)
        elif not self.bridge.unary(call_id, path, peer, message):
            self.front.finish(call_id, status_number(StatusCode.UNIMPLEMENTED),
                              percent_encoded(f"Method not found: {path}"))

    def open(self, call_id: int, path: str, peer: str) -> None:
        if path != STREAM_CHANNEL:
            self.bridge.open(call_id, path, peer)
            return
        client = client_of(peer)
        if not self.stream_counts.admit(client):
            self.refuse(call_id, "StreamChannel", peer, P4RuntimeError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"too many open streams from {client} ({self.stream_counts.per_client})"))
            return
        # Writes are checked against the primary's connection (peer with its port), not only
        # its host: a backup on the same host cannot write with the primary's election id.
        self.channels[call_id] = NativeStream(self.front, call_id, peer, peer)

    def message(self, call_id: int, data: bytes) -> None:
        stream = self.channels.get(call_id)
        if stream is None:
            self.bridge.message(call_id, data)
            return
        try:
            request = pb.StreamMessageRequest.FromString(data)
        except Exception:
            self._end_stream(call_id)
            self.front.finish(call_id, status_number(StatusCode.INTERNAL),
                              b"StreamChannel: cannot parse a message")
            return
        try:
            self.service.on_stream_request(stream, request)
        except P4RuntimeError as err:
            self._end_stream(call_id)
            self.refuse(call_id, "StreamChannel", stream.peer, err)
        except Exception as err:
            self._end_stream(call_id)
            self._fail(call_id, "StreamChannel", err)

    def half_close(self, call_id: int) -> None:
        if call_id in self.channels:
            self._end_stream(call_id)
            self.front.finish(call_id, 0)
        else:
            self.bridge.half_close(call_id)

    def cancelled(self, call_id: int) -> None:
        if call_id in self.channels:
            self._end_stream(call_id)
            return
        with self._pending_lock:
            if call_id in self._in_progress:
                self._cancelled.add(call_id)
        self.bridge.cancelled(call_id)

    def _end_stream(self, call_id: int) -> None:
        stream = self.channels.pop(call_id)
        stream.open = False
        self.service.forget(stream)
        self.stream_counts.release(client_of(stream.peer))

    # ---- the unary RPCs --------------------------------------------------------------------

    def _capabilities(self, call_id: int, peer: str, data: bytes) -> None:
        request = self._parse(call_id, "Capabilities", pb.CapabilitiesRequest.FromString, data)
        if request is not None:
            self.front.reply(call_id, self.service.capabilities(request).SerializeToString())

    def _get_config(self, call_id: int, peer: str, data: bytes) -> None:
        request = self._parse(call_id, "GetForwardingPipelineConfig",
                              pb.GetForwardingPipelineConfigRequest.FromString, data)
        if request is None:
            return
        try:
            response = self.service.get_pipeline_config(request)
        except P4RuntimeError as err:
            self.refuse(call_id, "GetForwardingPipelineConfig", peer, err)
            return
        self.front.reply(call_id, response.SerializeToString())

    def _set_config(self, call_id: int, peer: str, data: bytes) -> None:
        request = self._parse(call_id, "SetForwardingPipelineConfig",
                              pb.SetForwardingPipelineConfigRequest.FromString, data)
        if request is not None:
            self._in_worker(call_id, "SetForwardingPipelineConfig", peer, self._set_config_job,
                            request, peer)

    def _set_config_job(self, call_id: int, request, peer: str) -> None:
        self.service.set_pipeline_config(request, self._client(peer))
        self.front.reply(call_id, b"")

    def _write(self, call_id: int, peer: str, data: bytes) -> None:
        client = self._client(peer)
        try:
            # A small Write is done here when nobody holds the write lock: no thread switch.
            if len(data) > INLINE_WRITE_BYTES or not self.service.write(data, False, client):
                self._in_worker(call_id, "Write", peer, self._write_job, data, client)
                return
        except P4RuntimeError as err:
            self.refuse(call_id, "Write", peer, err)
            return
        except Exception as err:
            self._fail(call_id, "Write", err)
            return
        self.front.reply(call_id, b"")  # WriteResponse has no fields

    def _write_job(self, call_id: int, data: bytes, client: str) -> None:
        self.service.write(data, True, client)
        self.front.reply(call_id, b"")

    def _read(self, call_id: int, peer: str, data: bytes) -> None:
        request = self._parse(call_id, "Read", pb.ReadRequest.FromString, data)
        if request is not None:
            self._in_worker(call_id, "Read", peer, self._read_job, request)

    def _read_job(self, call_id: int, request) -> None:
        for chunk in self.service.read(request):
            if call_id in self._cancelled:
                return  # the client is gone: the rest is not gathered for nobody
            self.front.send(call_id, chunk)
        self.front.finish(call_id, 0)

    def _client(self, peer: str) -> str:
        """Who is calling, for the primary check: the connection (see open())."""
        return peer

    def _in_worker(self, call_id: int, rpc: str, peer: str, job, *args) -> None:
        with self._pending_lock:
            if self.pending >= self.max_queued:
                admitted = False
            else:
                admitted = True
                self.pending += 1
                self._in_progress.add(call_id)
        if not admitted:
            self.refuse(call_id, rpc, peer, P4RuntimeError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"too many calls in progress ({self.max_queued}); retry later"))
            return
        self._pool.submit(self._run_job, call_id, rpc, peer, job, args)

    def _run_job(self, call_id: int, rpc: str, peer: str, job, args) -> None:
        try:
            job(call_id, *args)
        except P4RuntimeError as err:
            self.refuse(call_id, rpc, peer, err)
        except Exception as err:
            self._fail(call_id, rpc, err)
        finally:
            with self._pending_lock:
                self.pending -= 1
                self._in_progress.discard(call_id)
                self._cancelled.discard(call_id)


def listen_socket(address: str) -> socket.socket:
    """A listening, non-blocking socket on HOST:PORT; OSError (one line) when it cannot be."""
    check_address(address)
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]") or "::"
    family, kind, proto, _, sockaddr = socket.getaddrinfo(
        host, int(port_text), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(LISTEN_BACKLOG)
    except OSError as err:
        sock.close()
        raise OSError(f"cannot listen on {address}: {err.strerror.lower()}") from None
    sock.setblocking(False)
    return sock


class NativeP4RuntimeServer:
    """P4RuntimeServer's interface (server.py) on the native front end. No TLS: with
    credentials, P4RuntimeServer uses grpc.aio. The address is bound as given (its first
    address, as getaddrinfo orders them; "[::]:P" is dual-stack on Linux)."""

    def __init__(self, switch, device_id: int = 0, address: str = DEFAULT_ADDRESS,
                 scratch_switch_factory: Callable[[], object] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 handlers: Sequence[grpc.GenericRpcHandler] = (),
                 credentials: grpc.ServerCredentials | None = None,
                 limits: Limits = DEFAULT_LIMITS, unset_election_id: str = "zero") -> None:
        if credentials is not None:
            raise ValueError("the native gRPC front end has no TLS: use --grpc-frontend aio")
        self._socket = listen_socket(address)
        self.port = self._socket.getsockname()[1]
        if scratch_switch_factory is None:
            scratch_switch_factory = type(switch)
        self.service = P4RuntimeService(switch, device_id, scratch_switch_factory, on_commit,
                                        unset_election_id)
        self.bridge = AioBridge(handlers)
        self.calls = NativeCalls(self.service, limits, self.bridge)
        self.front = Front(self._socket.fileno(), self.calls,
                           [STREAM_CHANNEL, *self.bridge.streaming_paths()], MAX_MESSAGE_BYTES)
        self.calls.front = self.front
        self.bridge.front = self.front
        self._thread = threading.Thread(target=self.front.run, name="kvick-grpc-front",
                                        daemon=True)
        self._thread.start()

    def stats(self) -> dict:
        """The front end's counters: connections, calls, protocol_errors, bad_requests,
        cancelled, deadlines_exceeded, dropped_messages."""
        return self.front.stats()

    def pending_calls(self) -> int:
        """Calls admitted to the worker threads and not finished."""
        return self.calls.pending

    def stop(self, grace: float | None = 1.0) -> None:
        if not self._thread.is_alive():
            return
        self.front.stop()
        self._thread.join()
        self._socket.close()
        self.calls.close()
        self.bridge.close()
        self.service.close()

    def wait(self) -> None:
        self._thread.join()
