"""Start and stop the P4Runtime gRPC server for a target.Switch.

The server is grpc.aio on an event loop of its own thread (rpc.py says what runs where);
other gRPC services of the switch (gNMI) are added as more generic handlers on the same port.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass

import grpc

from runtime_server.proto import p4runtime_pb2
from runtime_server.rpc import AsyncP4Runtime, CallQueue
from runtime_server.service import P4RuntimeService

DEFAULT_ADDRESS = "0.0.0.0:9559"  # the IANA port for P4Runtime
MAX_MESSAGE_BYTES = 1 << 30  # pipeline configs and write batches may be large
SERVICE_NAME = "p4.v1.P4Runtime"
FRONTENDS = ("aio", "native")  # grpc.aio, or the native HTTP/2 front end (native_server.py)


def default_frontend() -> str:
    """KVICK_GRPC_FRONTEND, else native: the variable lets a whole test run use the other
    one. (With TLS credentials P4RuntimeServer is grpc.aio whatever this says.)"""
    return os.environ.get("KVICK_GRPC_FRONTEND", "native")


@dataclass(frozen=True)
class Limits:
    """What one server admits at once."""

    workers: int = 4                 # threads for pipeline changes, big Writes and Reads
    max_queued_calls: int = 256      # such calls in progress; RESOURCE_EXHAUSTED beyond
    streams_per_client: int = 1024   # open StreamChannels per client host


def _serialize_read_response(response: bytes | p4runtime_pb2.ReadResponse) -> bytes:
    """Read responses are framed as bytes already (see pipeline.frame_read_responses)."""
    return response if isinstance(response, bytes) else response.SerializeToString()


def _handlers(servicer: AsyncP4Runtime) -> grpc.GenericRpcHandler:
    pb = p4runtime_pb2
    unary = grpc.unary_unary_rpc_method_handler
    return grpc.method_handlers_generic_handler(SERVICE_NAME, {
        # Write takes the request bytes: its hot path decodes them without protobuf.
        "Write": unary(servicer.Write, None, pb.WriteResponse.SerializeToString),
        "Read": grpc.unary_stream_rpc_method_handler(
            servicer.Read, pb.ReadRequest.FromString, _serialize_read_response),
        "SetForwardingPipelineConfig": unary(
            servicer.SetForwardingPipelineConfig,
            pb.SetForwardingPipelineConfigRequest.FromString,
            pb.SetForwardingPipelineConfigResponse.SerializeToString),
        "GetForwardingPipelineConfig": unary(
            servicer.GetForwardingPipelineConfig,
            pb.GetForwardingPipelineConfigRequest.FromString,
            pb.GetForwardingPipelineConfigResponse.SerializeToString),
        "StreamChannel": grpc.stream_stream_rpc_method_handler(
            servicer.StreamChannel, pb.StreamMessageRequest.FromString,
            pb.StreamMessageResponse.SerializeToString),
        "Capabilities": unary(servicer.Capabilities, pb.CapabilitiesRequest.FromString,
                              pb.CapabilitiesResponse.SerializeToString),
    })


def _new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (a dependency in pyproject.toml): a one-entry Write takes about
    20% less server CPU than on asyncio's own loop (bench/write_latency.py)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def check_address(address: str) -> None:
    """Raise OSError (one line) when `address` cannot be bound: busy, or not this host's.

    gRPC would say so too, but in a multi-line log on stderr; and without SO_REUSEPORT a
    listener found here means the port is taken, not shared."""
    host, sep, port_text = address.rpartition(":")
    if not sep or not port_text.isdigit():
        raise OSError(f"cannot listen on {address}: expected HOST:PORT")
    host = host.strip("[]") or "::"
    if int(port_text) == 0:
        return
    try:
        infos = socket.getaddrinfo(host, int(port_text), type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as err:
        raise OSError(f"cannot listen on {address}: {err.strerror}") from None
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC does
        try:
            probe.bind(sockaddr)
        except OSError as err:
            raise OSError(f"cannot listen on {address}: {err.strerror.lower()}") from None


class P4RuntimeServer:
    """A running gRPC server; `port` is the bound TCP port (useful with address ':0').

    `handlers` are more grpc.GenericRpcHandlers served on the same port: their methods should
    be coroutines (they run on the server's loop, `self.loop`); plain functions run in a small
    thread pool. `credentials` (grpc.ssl_server_credentials) make the port TLS-only.
    `unset_election_id` is "zero" (PI's reading, the default) or "lowest" (the spec's):
    see arbitration.py.
    Raises OSError when the address cannot be bound (busy, or not an address of this host).
    `frontend="native"` (default: default_frontend()) gives a NativeP4RuntimeServer instead,
    which has the same interface but no TLS (with credentials, grpc.aio is used).
    """

    def __new__(cls, *args, frontend: str | None = None, **kwargs):
        if cls is P4RuntimeServer and (frontend or default_frontend()) == "native" \
                and kwargs.get("credentials") is None:
            from runtime_server.native_server import NativeP4RuntimeServer

            return NativeP4RuntimeServer(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, switch, device_id: int = 0, address: str = DEFAULT_ADDRESS,
                 scratch_switch_factory: Callable[[], object] | None = None,
                 on_commit: Callable[[], None] | None = None,
                 handlers: Sequence[grpc.GenericRpcHandler] = (),
                 credentials: grpc.ServerCredentials | None = None,
                 limits: Limits = Limits(), unset_election_id: str = "zero",
                 frontend: str | None = None) -> None:
        if scratch_switch_factory is None:
            scratch_switch_factory = type(switch)
        self.service = P4RuntimeService(switch, device_id, scratch_switch_factory, on_commit,
                                        unset_election_id)
        self._calls = CallQueue(limits.workers, limits.max_queued_calls)
        self.servicer = AsyncP4Runtime(self.service, self._calls, limits.streams_per_client)
        self._sync_pool = futures.ThreadPoolExecutor(max_workers=4,
                                                     thread_name_prefix="kvick-grpc")
        self.loop = _new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kvick-grpc-loop",
                                        daemon=True)
        self._thread.start()
        try:
            self.server, self.port = self._call(self._start(
                address, (_handlers(self.servicer), *handlers), credentials))
        except BaseException:
            self._close_loop()
            self.service.close()
            raise

    def _call(self, coroutine):
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _start(self, address: str, handlers, credentials) -> tuple[grpc.aio.Server, int]:
        options = [
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # A second switch on the same address must fail, not share the port.
            ("grpc.so_reuseport", 0),
        ]
        check_address(address)
        server = grpc.aio.server(migration_thread_pool=self._sync_pool, handlers=handlers,
                                 options=options)
        try:
            if credentials is None:
                port = server.add_insecure_port(address)
            else:
                port = server.add_secure_port(address, credentials)
        except RuntimeError as err:  # grpc says "Failed to bind to address ..."
            raise OSError(f"cannot listen on {address}: {err}") from None
        if port == 0:
            raise OSError(f"cannot listen on {address}")
        await server.start()
        return server, port

    def pending_calls(self) -> int:
        """Calls admitted to the worker threads and not finished."""
        return self._calls.pending

    def stop(self, grace: float | None = 1.0) -> None:
        if self.loop.is_closed():
            return
        self._call(self.server.stop(grace))
        self._close_loop()
        self.service.close()

    def _close_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()
        self._calls.close()
        self._sync_pool.shutdown(wait=False)

    def wait(self) -> None:
        self._thread.join()
