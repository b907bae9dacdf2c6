"""The P4Runtime RPCs on grpc.aio: every call starts on the server's event loop.

What is quick runs there (Capabilities, GetForwardingPipelineConfig, stream messages, a small
Write when the write lock is free); what may take long (pipeline changes, big Writes, Reads)
runs in a few worker threads behind a bounded queue. A StreamChannel is a coroutine: open
streams, idle or not, hold no thread, so they can never starve the unary calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent import futures
from typing import TypeVar

import grpc

from runtime_server.errors import BatchFailure, P4RuntimeError, StatusCode
from runtime_server.proto import p4runtime_pb2
from runtime_server.service import P4RuntimeService
from runtime_server.streams import CLOSED, Stream, StreamCounts, client_of

log = logging.getLogger("kvick.p4runtime")

INLINE_WRITE_BYTES = 4096  # Writes up to this size run on the loop when the lock is free

T = TypeVar("T")


class CallQueue:
    """Worker threads for the calls that may block, and a bound on how many may wait."""

    def __init__(self, workers: int, max_queued: int) -> None:
        self.max_queued = max_queued
        self.pending = 0  # admitted calls not finished yet (touched on the loop only)
        self._pool = futures.ThreadPoolExecutor(max_workers=workers,
                                                thread_name_prefix="kvick-p4rt")

    async def run(self, fn: Callable[..., T], *args) -> T:
        """Run fn(*args) in a worker; RESOURCE_EXHAUSTED when too many calls wait already."""
        if self.pending >= self.max_queued:
            raise P4RuntimeError(StatusCode.RESOURCE_EXHAUSTED,
                                 f"too many calls in progress ({self.max_queued}); retry later")
        self.pending += 1
        try:
            return await self.resume(fn, *args)
        finally:
            self.pending -= 1

    async def resume(self, fn: Callable[..., T], *args) -> T:
        """Run fn(*args) in a worker for a call already admitted (a Read's next chunk)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False)


def _next_chunk(chunks) -> bytes | None:
    return next(chunks, None)


def _certificate(context: grpc.aio.ServicerContext) -> str | None:
    auth = context.auth_context()
    names = auth.get("x509_subject") or auth.get("x509_common_name")
    return "cert:" + names[0].decode(errors="replace") if names else None


def client_identity(context: grpc.aio.ServicerContext) -> str:
    """Who is calling, for the primary check: the client certificate's subject with mutual
    TLS, else the connection (the peer's address and port). A backup learns the primary's
    election id, and may run on the primary's host: only the primary's connection writes."""
    return _certificate(context) or context.peer()


def client_host(context: grpc.aio.ServicerContext) -> str:
    """The client the stream limit counts: its certificate, else its host (one host may
    open any number of connections)."""
    return _certificate(context) or client_of(context.peer())


class AsyncP4Runtime:
    """The servicer bound to gRPC (server.py): refused calls end with their code and one log
    line at info level (RPC, client, code, message)."""

    def __init__(self, service: P4RuntimeService, calls: CallQueue,
                 streams_per_client: int) -> None:
        self.service = service
        self.calls = calls
        self.stream_counts = StreamCounts(streams_per_client)

    async def _refuse(self, rpc: str, context: grpc.aio.ServicerContext,
                      err: P4RuntimeError) -> None:
        log.info("refused %s from %s: %s: %s", rpc, context.peer(), err.code.name, err.message)
        if isinstance(err, BatchFailure):
            await context.abort(err.status.code, err.status.details,
                                err.status.trailing_metadata)
        await context.abort(err.code, err.message)

    async def Capabilities(self, request, context):
        return self.service.capabilities(request)

    async def GetForwardingPipelineConfig(self, request, context):
        try:
            return self.service.get_pipeline_config(request)
        except P4RuntimeError as err:
            await self._refuse("GetForwardingPipelineConfig", context, err)

    async def SetForwardingPipelineConfig(self, request, context):
        try:
            return await self.calls.run(self.service.set_pipeline_config, request,
                                        client_identity(context))
        except P4RuntimeError as err:
            await self._refuse("SetForwardingPipelineConfig", context, err)

    async def Write(self, data: bytes, context):
        service = self.service
        try:
            # A small Write is done on the loop when nobody holds the write lock: no thread
            # switch, which is most of a one-entry Write's time.
            client = client_identity(context)
            if len(data) > INLINE_WRITE_BYTES or not service.write(data, False, client):
                await self.calls.run(service.write, data, True, client)
        except P4RuntimeError as err:
            await self._refuse("Write", context, err)
        return p4runtime_pb2.WriteResponse()

    async def Read(self, request, context) -> AsyncIterator[bytes]:
        try:
            chunks = await self.calls.run(self.service.read, request)
            while True:
                chunk = await self.calls.resume(_next_chunk, chunks)
                if chunk is None:
                    return
                yield chunk
        except P4RuntimeError as err:
            await self._refuse("Read", context, err)

    async def StreamChannel(self, request_iterator, context) -> AsyncIterator:
        peer = context.peer()
        client = client_host(context)
        if not self.stream_counts.admit(client):
            await self._refuse("StreamChannel", context, P4RuntimeError(
                StatusCode.RESOURCE_EXHAUSTED,
                f"too many open streams from {client} ({self.stream_counts.per_client})"))
        stream = Stream(asyncio.get_running_loop(), peer, client_identity(context))
        reader = asyncio.ensure_future(self._read_stream(stream, request_iterator))
        try:
            while True:
                message = await stream.outbox.get()
                if message is CLOSED:
                    break
                yield message
            if stream.failure is not None:
                await self._refuse("StreamChannel", context, stream.failure)
        finally:
            reader.cancel()
            self.service.forget(stream)
            self.stream_counts.release(client)

    async def _read_stream(self, stream: Stream, request_iterator) -> None:
        try:
            async for request in request_iterator:
                self.service.on_stream_request(stream, request)
        except P4RuntimeError as err:
            stream.failure = err
        except (grpc.RpcError, asyncio.CancelledError):
            pass
        finally:
            stream.close()
