"""The Intel driver's C ring code against the offline fake NIC (tests/intel_fakes.py)."""

import random

import pytest
from intel_fakes import FakeNic, IdentityMemory

from target.driver.intel.chip import LinkTimeouts
from target.driver.intel.device import IntelDevice
from target.driver.intel.mmio import DeviceGone
from target.packet import PacketPool

FAST = LinkTimeouts(reset=0.05, config_done=0.001, queue_enable=0.05, mdio=0.05, link=0.05)


def make(family="igb", zero_copy=True, rx_queues=1, ring_size=16, capacity=256, **nic_args):
    nic = FakeNic(family, **nic_args)
    dev = IntelDevice.from_backend(nic, family, IdentityMemory, "fake", FAST)
    pool = dev.make_pool(capacity, 4096) if zero_copy else PacketPool(capacity, 2560)
    port = dev.port(rx_queues, ring_size)
    port.open(pool)
    return nic, dev, pool, port


def frame(i: int, size: int) -> bytes:
    body = bytes((i * 7 + k) & 0xFF for k in range(size))
    return (b"\x52\x54\x00\x00\x00\x0c" + b"\x52\x54\x00\x00\x00\x0a" + b"\x08\x00"
            + i.to_bytes(4, "big") + body[18:])


@pytest.mark.parametrize("zero_copy", [True, False])
def test_send_and_receive_bytes(zero_copy):
    nic, dev, pool, port = make(zero_copy=zero_copy)
    assert port.zero_copy is zero_copy
    frames = [frame(i, s) for i, s in enumerate([60, 64, 1514, 128, 999])]
    assert port.send(frames) == 5
    assert nic.transmit() == 5
    assert nic.wire == frames
    for f in frames:
        assert nic.receive(f)
    assert port.receive(64) == frames
    stats = port.stats()
    assert stats["rx_packets"] == 5 and stats["tx_packets"] == 5
    assert stats["rx_bytes"] == sum(map(len, frames))
    assert stats["hw_tx_good"] == 5 and stats["hw_rx_good"] == 5
    port.close()
    assert pool.available == pool.capacity


def test_ring_wraps_many_times():
    nic, dev, pool, port = make(ring_size=16)
    sent, got = [], []
    for burst in range(40):
        frames = [frame(burst * 16 + k, 60 + (burst * 13 + k) % 200) for k in range(11)]
        port.send(frames)
        nic.transmit()
        sent += frames
        for f in frames:
            assert nic.receive(f)
        got += port.receive(32)
    assert nic.wire == sent
    assert got == sent
    port.close()
    assert pool.available == pool.capacity


def test_tx_ring_full_drops_and_counts():
    nic, dev, pool, port = make(ring_size=16)
    port.send([frame(i, 64) for i in range(20)])     # the device sends nothing meanwhile
    stats = port.stats()
    assert stats["tx_packets"] == 15 and stats["tx_dropped"] == 5
    assert port.tx_in_flight() == 15
    nic.transmit()
    assert port.reclaim() == 15 and port.tx_in_flight() == 0
    port.close()
    assert pool.available == pool.capacity


def test_rx_ring_full_drops_counted_no_hang():
    nic, dev, pool, port = make(ring_size=16)
    accepted = sum(nic.receive(frame(i, 64)) for i in range(40))
    assert accepted == 15                            # one descriptor always stays unused
    got = port.receive(64)
    assert len(got) == 15
    assert port.stats()["rx_dropped"] == 25          # the NIC's missed-packet count
    assert nic.receive(frame(99, 64))                # refilled: traffic flows again
    assert port.receive(64) == [frame(99, 64)]


def test_frame_over_several_descriptors_is_an_error_not_a_packet():
    nic, dev, pool, port = make(zero_copy=False)     # 2 KiB ring buffers
    nic.receive(frame(1, 3000))
    nic.receive(frame(2, 100))
    assert port.receive(8) == [frame(2, 100)]
    assert port.stats()["rx_errors"] == 1


def test_empty_pool_drops_rx_and_keeps_ring_armed():
    nic, dev, pool, port = make(capacity=20, ring_size=16)   # 16 armed + 1 (tx) ... 4 spare
    for i in range(10):
        nic.receive(frame(i, 64))
    got = port.receive(64)
    assert len(got) == 4                              # only 4 replacement buffers
    assert port.stats()["rx_dropped"] == 6
    assert nic.receive(frame(50, 64))
    assert port.receive(8) == [frame(50, 64)]


def test_link_down_drops_tx_and_open_survives():
    nic, dev, pool, port = make(link_comes_up=False)
    assert port.link_state() is False
    port.send([frame(1, 64)])
    assert port.stats()["tx_dropped"] == 1
    assert nic.transmit() == 0
    assert pool.available == pool.capacity - 16


def test_device_gone_is_a_clear_error_and_port_stops():
    nic, dev, pool, port = make()
    nic.gone = True
    with pytest.raises(DeviceGone, match="does not answer"):
        port.link_state()
    assert port.dead
    port.send([frame(1, 64)])
    assert port.receive(8) == []
    assert port.stats()["tx_dropped"] == 1
    port.close()
    assert pool.available == pool.capacity


def test_close_and_reopen():
    nic, dev, pool, port = make()
    port.send([frame(1, 64)])
    port.close()
    assert pool.available == pool.capacity
    port.open(pool)
    assert nic.resets == 2
    port.send([frame(2, 64)])
    nic.transmit()
    assert nic.wire[-1] == frame(2, 64)
    nic.receive(frame(3, 80))
    assert port.receive(4) == [frame(3, 80)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("zero_copy", [True, False])
def test_random_traffic_against_reference(seed, zero_copy):
    """Random bursts of sends, device transmits, deliveries and harvests over 2 RX queues;
    the reference is a plain model of rings with `size - 1` usable slots."""
    rng = random.Random(seed)
    size = 16
    nic, dev, pool, port = make(zero_copy=zero_copy, rx_queues=2, ring_size=size, capacity=512)
    sent_ok, tx_in_flight, tx_dropped = [], 0, 0
    rx_queued = {0: [], 1: []}
    received = []
    for step in range(300):
        op = rng.randrange(4)
        if op == 0:
            frames = [frame(step * 100 + k, rng.randrange(60, 1515)) for k in range(rng.randrange(1, 24))]
            port.send(frames)
            for f in frames:
                if tx_in_flight < size - 1:
                    sent_ok.append(f)
                    tx_in_flight += 1
                else:
                    tx_dropped += 1
        elif op == 1:
            tx_in_flight -= nic.transmit()
            port.reclaim()
            tx_in_flight = port.tx_in_flight()
        elif op == 2:
            q = rng.randrange(2)
            for k in range(rng.randrange(1, 20)):
                f = frame(step * 100 + k + 50, rng.randrange(60, 1515))
                if nic.receive(f, q):
                    rx_queued[q].append(f)
        else:
            got = port.receive(rng.randrange(1, 40))
            received += got
    nic.transmit()
    received += port.receive(1000)
    assert nic.wire == sent_ok
    assert port.stats()["tx_dropped"] == tx_dropped
    # Each queue's frames come out in order; queues interleave.
    for q in (0, 1):
        mine = [f for f in received if f in set(rx_queued[q])]
        assert mine == rx_queued[q]
    assert sorted(received) == sorted(rx_queued[0] + rx_queued[1])
    assert sum(port.queue_packets()) == len(received)
    port.close()
    assert pool.available == pool.capacity
