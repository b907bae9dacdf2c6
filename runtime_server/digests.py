"""Digest lists for the controller (spec: DigestEntry): buffering, de-duplication and the
acknowledgement cache.

For each digest enabled with a DigestEntry, messages from the data plane are buffered until
`max_list_size` distinct messages are waiting or the oldest has waited `max_timeout_ns`; then
one DigestList goes to the primary.  A message already buffered, or sent and neither acked nor
older than `ack_timeout_ns`, is dropped as a duplicate.  Time is passed in (nanoseconds), so
the logic is testable without sleeping; the server calls `poll` from a timer thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

DigestData = tuple[int, ...]  # one digest message: the digest struct's fields as ints


@dataclass(frozen=True)
class DigestConfig:
    max_timeout_ns: int
    max_list_size: int
    ack_timeout_ns: int


@dataclass(frozen=True)
class DigestListOut:
    """A DigestList to send: which digest, its list id, the messages, and when it was sent."""

    digest_id: int
    list_id: int
    messages: tuple[DigestData, ...]
    timestamp_ns: int


@dataclass
class _DigestState:
    config: DigestConfig
    buffer: list[DigestData] = field(default_factory=list)
    buffered: set[DigestData] = field(default_factory=set)
    first_enqueued_ns: int = 0
    next_list_id: int = 1
    # list id -> (sent time, its messages) for lists not yet acked
    unacked: dict[int, tuple[int, tuple[DigestData, ...]]] = field(default_factory=dict)
    cached: dict[DigestData, int] = field(default_factory=dict)  # message -> list id


class DigestEngine:
    """Per-digest buffers and ack caches; `send` receives each list that is ready."""

    def __init__(self, send: Callable[[DigestListOut], None]) -> None:
        self._send = send
        self._states: dict[int, _DigestState] = {}
        self._lock = threading.Lock()

    def configure(self, digest_id: int, config: DigestConfig) -> None:
        """Enable (or re-configure) a digest; the buffer and cache are kept."""
        with self._lock:
            state = self._states.get(digest_id)
            if state is None:
                self._states[digest_id] = _DigestState(config)
            else:
                state.config = config

    def disable(self, digest_id: int) -> None:
        with self._lock:
            self._states.pop(digest_id, None)

    def config(self, digest_id: int) -> DigestConfig | None:
        with self._lock:
            state = self._states.get(digest_id)
            return None if state is None else state.config

    def configured(self) -> dict[int, DigestConfig]:
        with self._lock:
            return {digest_id: s.config for digest_id, s in self._states.items()}

    def clear(self) -> None:
        with self._lock:
            self._states.clear()

    def receive(self, digest_id: int, messages: list[DigestData], now_ns: int) -> None:
        """Messages from the data plane; those for a digest that is not enabled are dropped."""
        ready = []
        with self._lock:
            state = self._states.get(digest_id)
            if state is None:
                return
            self._expire_cache(state, now_ns)
            for message in messages:
                if message in state.buffered or message in state.cached:
                    continue
                if not state.buffer:
                    state.first_enqueued_ns = now_ns
                state.buffer.append(message)
                state.buffered.add(message)
                limit = state.config.max_list_size
                if limit and len(state.buffer) >= limit:
                    ready.append(self._take(digest_id, state, now_ns))
            if state.buffer and state.config.max_timeout_ns == 0:
                ready.append(self._take(digest_id, state, now_ns))
        for digest_list in ready:
            self._send(digest_list)

    def ack(self, digest_id: int, list_id: int) -> None:
        """A DigestListAck: forget that list's messages, so they may be reported again."""
        with self._lock:
            state = self._states.get(digest_id)
            if state is None:
                return
            entry = state.unacked.pop(list_id, None)
            if entry is not None:
                for message in entry[1]:
                    if state.cached.get(message) == list_id:
                        del state.cached[message]

    def poll(self, now_ns: int) -> None:
        """Send buffers whose oldest message has waited max_timeout_ns; expire old cache."""
        ready = []
        with self._lock:
            for digest_id, state in self._states.items():
                self._expire_cache(state, now_ns)
                if state.buffer and now_ns - state.first_enqueued_ns >= state.config.max_timeout_ns:
                    ready.append(self._take(digest_id, state, now_ns))
        for digest_list in ready:
            self._send(digest_list)

    def _take(self, digest_id: int, state: _DigestState, now_ns: int) -> DigestListOut:
        messages = tuple(state.buffer)
        state.buffer.clear()
        state.buffered.clear()
        list_id = state.next_list_id
        state.next_list_id += 1
        if state.config.ack_timeout_ns > 0:
            state.unacked[list_id] = (now_ns, messages)
            for message in messages:
                state.cached[message] = list_id
        return DigestListOut(digest_id, list_id, messages, now_ns)

    @staticmethod
    def _expire_cache(state: _DigestState, now_ns: int) -> None:
        timeout = state.config.ack_timeout_ns
        expired = [lid for lid, (sent, _) in state.unacked.items() if now_ns - sent >= timeout]
        for list_id in expired:
            _, messages = state.unacked.pop(list_id)
            for message in messages:
                if state.cached.get(message) == list_id:
                    del state.cached[message]
