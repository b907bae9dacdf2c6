"""gRPC services written for grpc.aio (generic handlers whose methods are coroutines, such as
gnmi.handler) served by the native front end (h2front.pyx): their calls run on an asyncio loop
of this module's own thread, with a servicer context that has what those services use
(peer, abort, invocation_metadata, auth_context, set_code, set_details).

Unary-unary and stream-stream methods are served; others answer UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple

import grpc

log = logging.getLogger("kvick.p4runtime")

_END = object()  # the client's last message


class _CallDetails(NamedTuple):  # what grpc.GenericRpcHandler.service() is given
    method: str
    invocation_metadata: tuple


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


class BridgeContext:
    """The part of grpc.aio.ServicerContext the bridged services use."""

    def __init__(self, peer: str) -> None:
        self._peer = peer
        self.code: grpc.StatusCode | None = None
        self.details = ""

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self) -> tuple:
        return ()

    def auth_context(self) -> dict:
        return {}

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code

    def set_details(self, details: str) -> None:
        self.details = details

    async def abort(self, code: grpc.StatusCode, details: str = "",
                    trailing_metadata: tuple = ()) -> None:
        raise _Abort(code, details)


async def _requests(queue: asyncio.Queue, parse) -> AsyncIterator:
    while True:
        item = await queue.get()
        if item is _END:
            return
        yield parse(item) if parse is not None else item


class AioBridge:
    """The front end's handler for the methods of `handlers` (see NativeCalls)."""

    def __init__(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.front = None  # set by the server once the front end exists
        self._methods: dict[str, grpc.RpcMethodHandler] = {}
        self._handlers = tuple(handlers)
        self._queues: dict[int, asyncio.Queue] = {}   # on the loop only
        self._tasks: dict[int, asyncio.Task] = {}     # on the loop only
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kvick-grpc-bridge",
                                        daemon=True)
        self._thread.start()

    def _method(self, path: str) -> grpc.RpcMethodHandler | None:
        if path not in self._methods:
            found = None
            for handler in self._handlers:
                found = handler.service(_CallDetails(path, ()))
                if found is not None:
                    break
            self._methods[path] = found
        return self._methods[path]

    def streaming_paths(self) -> list[str]:
        """The stream-stream methods of the handlers (generic handlers list none: the
        method_handlers_generic_handler kind is asked for its table)."""
        paths = []
        for handler in self._handlers:
            service = getattr(handler, "_name", None)
            table = getattr(handler, "_method_handlers", {})
            for path, method in table.items():
                full = path if path.startswith("/") else f"/{service}/{path}"
                if method.request_streaming:
                    paths.append(full)
        return paths

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    # ---- from the front end's thread ------------------------------------------------------

    def unary(self, call_id: int, path: str, peer: str, message: bytes) -> bool:
        method = self._method(path)
        if method is None:
            return False
        asyncio.run_coroutine_threadsafe(self._unary(call_id, method, peer, message), self.loop)
        return True

    def open(self, call_id: int, path: str, peer: str) -> None:
        method = self._method(path)
        if method is None or method.stream_stream is None:
            self.front.finish(call_id, grpc.StatusCode.UNIMPLEMENTED.value[0],
                              f"Method not found: {path}".encode())
            return
        self.loop.call_soon_threadsafe(self._open, call_id, method, peer)

    def message(self, call_id: int, data: bytes) -> None:
        self.loop.call_soon_threadsafe(self._put, call_id, data)

    def half_close(self, call_id: int) -> None:
        self.loop.call_soon_threadsafe(self._put, call_id, _END)

    def cancelled(self, call_id: int) -> None:
        self.loop.call_soon_threadsafe(self._cancel, call_id)

    # ---- on the bridge's loop --------------------------------------------------------------

    def _finish_error(self, call_id: int, err: BaseException) -> None:
        from runtime_server.native_server import percent_encoded

        if isinstance(err, _Abort):
            self.front.finish(call_id, err.code.value[0], percent_encoded(err.details))
            return
        log.error("bridged gRPC call failed", exc_info=err)
        self.front.finish(call_id, grpc.StatusCode.UNKNOWN.value[0],
                          percent_encoded(f"Unexpected {type(err).__name__}: {err}"))

    async def _unary(self, call_id: int, method, peer: str, message: bytes) -> None:
        if method.unary_unary is None:
            self.front.finish(call_id, grpc.StatusCode.UNIMPLEMENTED.value[0],
                              b"only unary and bidirectional methods are bridged")
            return
        try:
            request = method.request_deserializer(message) \
                if method.request_deserializer else message
        except Exception:
            self.front.finish(call_id, grpc.StatusCode.INTERNAL.value[0],
                              b"cannot parse the request")
            return
        context = BridgeContext(peer)
        try:
            response = method.unary_unary(request, context)
            if asyncio.iscoroutine(response):
                response = await response
        except Exception as err:
            self._finish_error(call_id, err)
            return
        serialize = method.response_serializer
        self.front.reply(call_id, serialize(response) if serialize else response)

    def _open(self, call_id: int, method, peer: str) -> None:
        queue: asyncio.Queue = asyncio.Queue()
        self._queues[call_id] = queue
        self._tasks[call_id] = self.loop.create_task(self._stream(call_id, method, peer, queue))

    async def _stream(self, call_id: int, method, peer: str, queue: asyncio.Queue) -> None:
        context = BridgeContext(peer)
        serialize = method.response_serializer
        try:
            async for response in method.stream_stream(
                    _requests(queue, method.request_deserializer), context):
                self.front.send(call_id, serialize(response) if serialize else response)
        except asyncio.CancelledError:
            return  # the client went away: nothing to answer
        except Exception as err:
            self._finish_error(call_id, err)
            return
        finally:
            self._queues.pop(call_id, None)
            self._tasks.pop(call_id, None)
        self.front.finish(call_id, 0)

    def _put(self, call_id: int, item) -> None:
        queue = self._queues.get(call_id)
        if queue is not None:
            queue.put_nowait(item)

    def _cancel(self, call_id: int) -> None:
        task = self._tasks.pop(call_id, None)
        self._queues.pop(call_id, None)
        if task is not None:
            task.cancel()
