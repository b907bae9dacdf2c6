"""Two Intel devices on ONE packet pool: kvick forwards from one to the other without copying
(the TX descriptor points at the very buffer the RX descriptor filled), and a pool whose bus
addresses belong to another address space is refused. Offline, against the fake register
files; an igb and an 82599 side by side."""

import ctypes
import struct
import time

import pytest
from intel_fakes import FakeNic, IdentityMemory
from shared_data import needs_corpus, program

from target import Lpm, Switch
from target.driver.intel.chip import LinkTimeouts
from target.driver.intel.device import IntelDevice
from target.driver.intel.dma import DmaError

FAST = LinkTimeouts(reset=0.02, config_done=0.001, queue_enable=0.02, mdio=0.02, link=0.05)
BASIC = program("tutorial_basic")
NEXT_HOP = 0x020000000201


def fake_device(family: str, last: int, space: str | None = None) -> tuple[FakeNic, IntelDevice]:
    nic = FakeNic(family, mac=bytes([0x52, 0x54, 0, 0, 0, last]))
    return nic, IntelDevice.from_backend(nic, family, IdentityMemory, f"fake-{last}", FAST,
                                         space=space)


def frame(i: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 46, i, 0, 64, 17, 0, bytes([10, 9, 9, 9]),
                     bytes([10, 1, i >> 8, i & 0xFF]))
    return bytes.fromhex("52540000000a" "525400000006") + b"\x08\x00" + ip + bytes(26)


def ring_addresses(nic: FakeNic, prefix: str) -> list[int]:
    """The buffer address in each descriptor of queue 0's RX ("R") or TX ("T") ring."""
    base, n = nic._ring(prefix, 0)
    return [int.from_bytes(ctypes.string_at(base + 16 * i, 8), "little") for i in range(n)]


@needs_corpus
def test_two_devices_forward_on_one_pool_without_copying():
    nic_a, dev_a = fake_device("igb", 0x0A)
    nic_b, dev_b = fake_device("ixgbe", 0x0C)
    pool = dev_a.make_pool(512, 4096)
    sw = Switch(pool=pool, batch_size=16)
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A010000, 16)], "MyIngress.ipv4_forward",
                 [NEXT_HOP, 2])
    port_a, port_b = dev_a.port(1, 64), dev_b.port(1, 64)
    sw.add_port(1, port_a)
    sw.add_port(2, port_b)
    try:
        assert port_a.zero_copy and port_b.zero_copy
        rx_buffers = set(ring_addresses(nic_a, "R"))
        frames = [frame(i) for i in range(40)]
        for f in frames:
            assert nic_a.receive(f)
        sw.start()
        deadline = time.monotonic() + 10
        while len(nic_b.wire) < len(frames) and time.monotonic() < deadline:
            nic_b.transmit()
            time.sleep(0.001)
        sw.stop()
        assert len(nic_b.wire) == len(frames)
        for sent, out in zip(frames, nic_b.wire, strict=True):
            assert out[:6] == NEXT_HOP.to_bytes(6, "big") and out[6:12] == sent[:6]
            assert out[22] == sent[22] - 1 and out[30:] == sent[30:]
        tx_addresses = ring_addresses(nic_b, "T")[:len(frames)]
        assert set(tx_addresses) <= rx_buffers        # B sent straight out of A's RX buffers
        assert sw.port_stats(2)["tx_packets"] == len(frames)
    finally:
        sw.stop()
        sw.remove_port(1)
        sw.remove_port(2)
    assert pool.available == pool.capacity


def test_pool_from_another_address_space_is_refused():
    _nic_a, dev_a = fake_device("igb", 0x0A)
    _nic_b, dev_b = fake_device("igb", 0x0C, space="physical")
    pool = dev_a.make_pool(256, 4096)
    port_b = dev_b.port(1, 64)
    with pytest.raises(DmaError, match="cannot reach this packet pool"):
        port_b.open(pool)
    assert not port_b.is_open and pool.available == pool.capacity
