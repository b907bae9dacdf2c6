"""In-memory ports: generator, sink, queue, and pump() between them."""

import random
import struct
import threading
from array import array
from collections import deque

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw

from target.driver.memory import MemoryGenerator, MemorySink, QueuePort, pump
from target.driver.registry import open_port
from target.packet import PacketPool

IPV4_DST_OFFSET = 14 + 16


def udp_frame(dst: str, payload: bytes = b"") -> bytes:
    return raw(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
               / IP(src="192.0.2.1", dst=dst) / UDP(sport=1234, dport=5678) / payload)


def opened(pool: PacketPool, *ports):
    for port in ports:
        port.open(pool)
    return ports


def test_generator_emits_templates_round_robin_up_to_count():
    templates = [udp_frame(f"10.0.0.{i}", b"p" * i) for i in range(3)]
    pool = PacketPool(64)
    gen, sink = opened(pool, MemoryGenerator(templates, count=10), MemorySink(capture=16))
    assert pump(gen, sink, batch=4) == 10
    assert sink.frames() == [templates[i % 3] for i in range(10)]
    assert gen.sent == 10 and gen.remaining == 0
    assert pump(gen, sink) == 0
    stats = gen.stats()
    assert stats["rx_packets"] == 10
    assert stats["rx_bytes"] == sum(len(templates[i % 3]) for i in range(10))
    assert pool.available == pool.capacity


def test_generator_copies_every_byte_of_frames_of_every_length_around_the_inline_copy():
    # 33..64 bytes are copied inline as two overlapping moves, the others by memcpy
    rng = random.Random(5)
    templates = [bytes(rng.randrange(256) for _ in range(n)) for n in range(1, 131)]
    pool = PacketPool(256)
    gen, sink = opened(pool, MemoryGenerator(templates, count=2 * len(templates)),
                       MemorySink(capture=2 * len(templates)))
    assert pump(gen, sink, batch=16) == 2 * len(templates)
    assert sink.frames() == templates + templates


def test_generator_without_count_runs_until_max_packets():
    pool = PacketPool(32)
    gen, sink = opened(pool, MemoryGenerator([bytes(64)]), MemorySink())
    assert gen.remaining is None
    assert pump(gen, sink, batch=32, max_packets=1000) == 1000
    assert pump(gen, sink, batch=7, max_packets=50) == 50
    assert sink.packets == 1050 and sink.bytes == 1050 * 64
    assert pool.available == pool.capacity


def test_generator_batches_shrink_to_what_the_pool_holds():
    pool = PacketPool(8)
    gen, sink = opened(pool, MemoryGenerator([bytes(60)], count=100), MemorySink())
    assert pump(gen, sink, batch=64) == 100
    assert sink.packets == 100
    assert pool.available == 8


@pytest.mark.parametrize("make_values", [
    lambda v: array("I", v),
    lambda v: np.array(v, dtype=np.uint32),
    list,
], ids=["array", "numpy", "list"])
def test_generator_rewrites_big_endian_values_at_offset(make_values):
    rng = random.Random(7)
    values = [rng.getrandbits(32) for _ in range(37)]
    templates = [udp_frame("0.0.0.0", b"a"), udp_frame("0.0.0.0", b"bb")]
    pool = PacketPool(128)
    gen, sink = opened(pool, MemoryGenerator(templates, count=200, rewrite_offset=IPV4_DST_OFFSET,
                                             rewrite_values=make_values(values)),
                       MemorySink(capture=200))
    assert pump(gen, sink, batch=16) == 200
    expected = []
    for i in range(200):
        frame = bytearray(templates[i % 2])
        frame[IPV4_DST_OFFSET:IPV4_DST_OFFSET + 4] = struct.pack(">I", values[i % len(values)])
        expected.append(bytes(frame))
    assert sink.frames() == expected
    assert pool.available == pool.capacity


def test_generator_rewrite_lands_on_the_ipv4_destination():
    pool = PacketPool(16)
    gen, sink = opened(pool, MemoryGenerator([udp_frame("0.0.0.0")], count=2,
                                             rewrite_offset=IPV4_DST_OFFSET,
                                             rewrite_values=[0x0A010203, 0xC0A80001]),
                       MemorySink(capture=2))
    pump(gen, sink)
    assert [Ether(f)[IP].dst for f in sink.frames()] == ["10.1.2.3", "192.168.0.1"]


@pytest.mark.parametrize("kwargs, message", [
    ({"frames": []}, "at least one"),
    ({"frames": [b""]}, "empty"),
    ({"frames": [bytes(20)], "rewrite_offset": 17, "rewrite_values": [1]}, "4 bytes"),
    ({"frames": [bytes(20)], "rewrite_offset": 0}, "go together"),
    ({"frames": [bytes(20)], "rewrite_offset": 0, "rewrite_values": []}, "empty"),
    ({"frames": [bytes(20)], "count": -1}, "count"),
])
def test_generator_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MemoryGenerator(**kwargs)


def test_generator_refuses_a_template_longer_than_the_pool_frame():
    pool = PacketPool(4, buf_size=1024)
    gen = MemoryGenerator([bytes(pool.max_frame + 1)])
    with pytest.raises(ValueError, match="exceeds"):
        gen.open(pool)


def test_sink_keeps_only_the_first_capture_frames_and_clear_restarts():
    frames = [bytes([i]) * (60 + i) for i in range(10)]
    pool = PacketPool(16)
    queue, sink = opened(pool, QueuePort(16), MemorySink(capture=3))
    for f in frames:
        queue.push(f)
    assert pump(queue, sink) == 10
    assert sink.frames() == frames[:3]
    assert sink.packets == 10 and sink.bytes == sum(map(len, frames))
    sink.clear()
    assert sink.frames() == [] and sink.packets == 0
    for f in frames[5:]:
        queue.push(f)
    pump(queue, sink)
    assert sink.frames() == frames[5:8]
    assert pool.available == pool.capacity


def test_sink_without_capture_returns_no_frames():
    pool = PacketPool(8)
    gen, sink = opened(pool, MemoryGenerator([bytes(64)], count=20), MemorySink())
    pump(gen, sink)
    assert sink.frames() == [] and sink.packets == 20


def test_queue_round_trip_of_scapy_frames_keeps_order():
    frames = [udp_frame(f"10.0.{i}.1", bytes(range(i % 200))) for i in range(50)]
    pool = PacketPool(64)
    (queue,) = opened(pool, QueuePort(64))
    assert all(queue.push(f) for f in frames)
    assert queue.rx_pending == 50
    assert pump(queue, queue, batch=8) == 50
    assert queue.rx_pending == 0 and queue.tx_pending == 50
    assert queue.pop_all() == frames
    assert queue.pop_all() == []
    stats = queue.stats()
    assert stats["rx_packets"] == stats["tx_packets"] == 50
    assert stats["rx_bytes"] == stats["tx_bytes"] == sum(map(len, frames))
    assert pool.available == pool.capacity


def test_queue_counts_push_overflow_and_never_blocks():
    pool = PacketPool(8)
    (queue,) = opened(pool, QueuePort(4))
    results = [queue.push(bytes([i]) * 60) for i in range(6)]
    assert results == [True] * 4 + [False] * 2
    assert queue.stats()["rx_dropped"] == 2
    sink = MemorySink(capture=8)
    sink.open(pool)
    assert pump(queue, sink) == 4
    assert sink.frames() == [bytes([i]) * 60 for i in range(4)]


def test_queue_counts_tx_overflow_and_frees_dropped_packets():
    pool = PacketPool(16)
    source, target = opened(pool, QueuePort(8), QueuePort(2))
    for i in range(5):
        source.push(bytes([i]) * 64)
    assert pump(source, target) == 5
    assert target.stats()["tx_packets"] == 2
    assert target.stats()["tx_dropped"] == 3
    assert target.pop_all() == [bytes([0]) * 64, bytes([1]) * 64]
    assert pool.available == pool.capacity


def test_queue_drops_frames_longer_than_the_pool_frame():
    pool = PacketPool(8, buf_size=1024)
    queue, sink = opened(pool, QueuePort(8, max_frame=2000), MemorySink(capture=4))
    queue.push(bytes(100))
    queue.push(bytes(pool.max_frame + 1))
    queue.push(bytes(pool.max_frame))
    assert pump(queue, sink) == 2
    assert [len(f) for f in sink.frames()] == [100, pool.max_frame]
    assert queue.stats()["rx_dropped"] == 1
    assert pool.available == pool.capacity


def test_queue_push_rejects_empty_and_oversized_frames():
    queue = QueuePort(4, max_frame=100)
    with pytest.raises(ValueError, match="empty"):
        queue.push(b"")
    with pytest.raises(ValueError, match="exceeds"):
        queue.push(bytes(101))
    assert queue.push(bytes(100))


def test_queue_leaves_frames_queued_when_the_pool_is_empty():
    pool = PacketPool(2)
    queue, target = opened(pool, QueuePort(8), QueuePort(8))
    for i in range(5):
        queue.push(bytes([i]) * 64)
    # pump moves at most 2 per batch here, but nothing is lost.
    assert pump(queue, target, batch=8) == 5
    assert target.pop_all() == [bytes([i]) * 64 for i in range(5)]
    assert queue.stats()["rx_dropped"] == 0


def test_queue_matches_a_bounded_deque_under_random_operations():
    rng = random.Random(1234)
    capacity = 16
    pool = PacketPool(32)
    source, target = opened(pool, QueuePort(capacity), QueuePort(capacity))
    rx_model: deque[bytes] = deque()
    tx_model: deque[bytes] = deque()
    rx_dropped = tx_dropped = 0
    for _ in range(3000):
        op = rng.random()
        if op < 0.55:
            frame = rng.randbytes(rng.randint(1, 300))
            accepted = len(rx_model) < capacity
            assert source.push(frame) == accepted
            if accepted:
                rx_model.append(frame)
            else:
                rx_dropped += 1
        elif op < 0.85:
            limit = rng.randint(0, 20)
            moved = pump(source, target, batch=rng.randint(1, 8), max_packets=limit)
            assert moved == min(limit, len(rx_model))
            for _ in range(moved):
                frame = rx_model.popleft()
                if len(tx_model) < capacity:
                    tx_model.append(frame)
                else:
                    tx_dropped += 1
        else:
            assert target.pop_all() == list(tx_model)
            tx_model.clear()
        assert source.rx_pending == len(rx_model)
        assert target.tx_pending == len(tx_model)
    assert source.stats()["rx_dropped"] == rx_dropped
    assert target.stats()["tx_dropped"] == tx_dropped
    assert pool.available == pool.capacity


def test_queue_sides_work_from_two_threads():
    frames = [i.to_bytes(4, "big") * 16 for i in range(20000)]
    pool = PacketPool(256)
    source, target = opened(pool, QueuePort(64), QueuePort(64))
    received: list[bytes] = []
    stop = threading.Event()

    def engine() -> None:
        # Only this thread touches the pool, as in the real engine loop.
        while not stop.is_set() or source.rx_pending:
            pump(source, target, batch=32, max_packets=4096)

    thread = threading.Thread(target=engine)
    thread.start()
    pushed = refused = 0
    while pushed < len(frames):
        if source.push(frames[pushed]):
            pushed += 1
        else:
            refused += 1
        received.extend(target.pop_all())
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    received.extend(target.pop_all())
    dropped = target.stats()["tx_dropped"]
    assert len(received) + dropped == len(frames)
    # Whatever survived arrives intact and in order.
    positions = [int.from_bytes(f[:4], "big") for f in received]
    assert received and all(a < b for a, b in zip(positions, positions[1:], strict=False))
    assert all(frames[p] == f for p, f in zip(positions, received, strict=True))
    assert source.stats()["rx_dropped"] == refused
    assert pool.available == pool.capacity


def test_pump_refuses_ports_on_different_pools_or_without_the_direction():
    pool_a, pool_b = PacketPool(4), PacketPool(4)
    gen = MemoryGenerator([bytes(64)], count=1)
    sink = MemorySink()
    with pytest.raises(ValueError, match="not an open RX port"):
        pump(gen, sink)
    gen.open(pool_a)
    with pytest.raises(ValueError, match="not an open TX port"):
        pump(gen, sink)
    sink.open(pool_b)
    with pytest.raises(ValueError, match="same packet pool"):
        pump(gen, sink)
    with pytest.raises(ValueError, match="not an open RX port"):
        pump(sink, None)
    with pytest.raises(ValueError, match="batch"):
        pump(gen, None, batch=0)


def test_pump_without_destination_returns_buffers_to_the_pool():
    pool = PacketPool(16)
    (gen,) = opened(pool, MemoryGenerator([bytes(64)], count=100))
    assert pump(gen, None, batch=32) == 100
    assert pool.available == pool.capacity


def test_registry_builds_memory_ports():
    assert isinstance(open_port("memory:sink"), MemorySink)
    assert open_port("memory:queue").capacity == 1024
    assert open_port("memory:queue:64").capacity == 64
    for bad in ("memory:queue:x", "memory:sink:3", "memory:other"):
        with pytest.raises(ValueError, match="memory takes"):
            open_port(bad)


def test_relay_moves_frames_between_two_pools_and_drops_when_full():
    from target.driver.memory import RelayPort

    sender_pool, owner_pool = PacketPool(64, 2304), PacketPool(64, 2304)
    relay = RelayPort(capacity=8, max_frame=2048)
    relay.open(owner_pool)
    sender = relay.sender()
    sender.open(sender_pool)
    source = QueuePort(64)
    source.open(sender_pool)
    sink = QueuePort(64)
    sink.open(owner_pool)
    frames = [bytes([i]) * (60 + i) for i in range(10)]
    for f in frames:
        assert source.push(f)
    assert pump(source, sender, batch=16) == 10       # the sender's side: its own pool
    assert relay.pending == 8
    assert sender.stats()["tx_packets"] == 8 and sender.stats()["tx_dropped"] == 2
    assert pump(relay, sink, batch=16) == 8           # the owner's side: the owner's pool
    assert sink.pop_all() == frames[:8]
    assert relay.stats()["rx_packets"] == 8 and relay.pending == 0
    assert sender_pool.available == 64 and owner_pool.available == 64
