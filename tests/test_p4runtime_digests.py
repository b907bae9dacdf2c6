"""Digest buffering, de-duplication and acks, driven with explicit timestamps."""

import random

from runtime_server.digests import DigestConfig, DigestEngine, DigestListOut

MS = 1_000_000


def engine() -> tuple[DigestEngine, list[DigestListOut]]:
    sent: list[DigestListOut] = []
    return DigestEngine(sent.append), sent


def test_list_size_limit_sends_at_once() -> None:
    eng, sent = engine()
    eng.configure(7, DigestConfig(max_timeout_ns=10 * MS, max_list_size=2, ack_timeout_ns=0))
    eng.receive(7, [(1,), (1,), (2,), (3,)], now_ns=0)
    assert [s.messages for s in sent] == [((1,), (2,))]
    eng.poll(now_ns=5 * MS)
    assert len(sent) == 1
    eng.poll(now_ns=10 * MS)
    assert [s.messages for s in sent] == [((1,), (2,)), ((3,),)]
    assert [s.list_id for s in sent] == [1, 2]


def test_zero_timeout_sends_each_batch() -> None:
    eng, sent = engine()
    eng.configure(1, DigestConfig(0, 0, 0))
    eng.receive(1, [(5, 6)], now_ns=0)
    eng.receive(1, [(5, 6)], now_ns=1)  # no ack cache: reported again
    assert [s.messages for s in sent] == [((5, 6),), ((5, 6),)]


def test_unacked_messages_are_suppressed_until_ack_or_timeout() -> None:
    eng, sent = engine()
    eng.configure(1, DigestConfig(0, 1, ack_timeout_ns=100 * MS))
    eng.receive(1, [(9,)], now_ns=0)
    eng.receive(1, [(9,)], now_ns=1 * MS)
    assert len(sent) == 1
    eng.ack(1, sent[0].list_id)
    eng.receive(1, [(9,)], now_ns=2 * MS)
    assert len(sent) == 2
    eng.receive(1, [(9,)], now_ns=50 * MS)
    assert len(sent) == 2
    eng.receive(1, [(9,)], now_ns=102 * MS)  # the cache entry expired
    assert len(sent) == 3


def test_disabled_digest_drops_messages() -> None:
    eng, sent = engine()
    eng.receive(3, [(1,)], now_ns=0)
    eng.configure(3, DigestConfig(0, 1, 0))
    eng.disable(3)
    eng.receive(3, [(1,)], now_ns=0)
    eng.poll(now_ns=10**12)
    assert sent == []


def test_random_stream_against_reference() -> None:
    """Reference: replay the spec's pseudo-code literally (buffer, cache of sent lists)."""
    rng = random.Random(1)
    config = DigestConfig(max_timeout_ns=5, max_list_size=3, ack_timeout_ns=20)
    eng, sent = engine()
    eng.configure(1, config)
    buffer: list[tuple[int]] = []
    first = 0
    cache: dict[int, tuple[int, list]] = {}  # list id -> (sent time, messages)
    expected: list[tuple] = []
    next_id = 1

    def ref_send(now: int) -> None:
        nonlocal next_id
        expected.append(tuple(buffer))
        cache[next_id] = (now, list(buffer))
        next_id += 1
        buffer.clear()

    for now in range(0, 2000):
        for list_id in [i for i, (t, _) in cache.items() if now - t >= config.ack_timeout_ns]:
            del cache[list_id]
        if rng.random() < 0.5:
            msg = (rng.randint(0, 6),)
            in_cache = any(msg in m for _, m in cache.values())
            if not in_cache and msg not in buffer:
                if not buffer:
                    first = now
                buffer.append(msg)
                if len(buffer) >= config.max_list_size:
                    ref_send(now)
            eng.receive(1, [msg], now)
        if buffer and now - first >= config.max_timeout_ns:
            ref_send(now)
        eng.poll(now)
        if sent and rng.random() < 0.1:
            list_id = rng.choice(sent).list_id
            cache.pop(list_id, None)
            eng.ack(1, list_id)
    assert [s.messages for s in sent] == expected
