"""An Intel port shared by several engine workers, against the offline fake NIC
(tests/intel_fakes.py): each worker's share polls its own RX queues and fills its own TX queue,
RSS only ever points at armed rings, closing a share takes its queues out of RSS first, and the
port's counters are the sum of its shares with the NIC's own counted once."""

import ctypes
import struct
import time

import pytest
from intel_fakes import FakeNic, IdentityMemory
from shared_data import needs_corpus, program

from target import InvalidArgument, Lpm, Switch
from target.driver.intel.chip import LinkTimeouts, reta_words
from target.driver.intel.device import BOUNCE_BUF, IntelDevice
from target.packet import PacketPool

FAST = LinkTimeouts(reset=0.05, config_done=0.001, queue_enable=0.05, mdio=0.05, link=0.05)
ENABLE = 1 << 25
BASIC = program("tutorial_basic")


def device(family: str = "igb") -> tuple[FakeNic, IntelDevice]:
    nic = FakeNic(family)
    return nic, IntelDevice.from_backend(nic, family, IdentityMemory, "fake", FAST)


def frame(i: int, size: int = 64) -> bytes:
    return (b"\x52\x54\x00\x00\x00\x0c" + b"\x52\x54\x00\x00\x00\x0a" + b"\x08\x00"
            + i.to_bytes(4, "big") + bytes((i + k) & 0xFF for k in range(size - 18)))


def reta(nic: FakeNic) -> list[int]:
    return [nic.get("RETA", i) for i in range(32)]


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_two_workers_each_own_their_queues(family):
    nic, dev = device(family)
    lead = dev.port(None, 16)
    shares = lead.worker_queues(2)
    assert len(shares) == 1
    share = shares[0]
    assert (lead.hw_rx_queues, lead.tx_queue) == ((0,), 0)
    assert (share.hw_rx_queues, share.tx_queue, share.lead) == ((1,), 1, lead)
    pool0, pool1 = dev.make_pool(256, 4096), PacketPool(256, 2560)
    lead.open(pool0)
    # Queue 1 has no armed ring yet: RSS must not send anything there.
    assert nic.get("MRQC") == 0
    share.open(pool1)
    assert lead.zero_copy and not share.zero_copy
    assert reta(nic) == reta_words([0, 1]) and nic.get("MRQC") != 0
    assert nic.get("RDT", 1) == 15 and nic.get("RXDCTL", 1) & ENABLE
    assert nic.get("TXDCTL", 1) & ENABLE and nic.get("TDLEN", 1) == 16 * 16
    assert share.link_state()

    for i in range(6):
        assert nic.receive(frame(i), i % 2)
    assert lead.receive() == [frame(0), frame(2), frame(4)]
    assert share.receive() == [frame(1), frame(3), frame(5)]
    assert lead.queue_packets() == [3] and share.queue_packets() == [3]

    assert share.send([frame(10), frame(11)]) == 2
    assert nic.get("TDT", 1) == 2 and nic.get("TDT", 0) == 0
    assert nic.transmit(1) == 2 and nic.wire == [frame(10), frame(11)]
    assert lead.send([frame(12)]) == 1
    assert nic.get("TDT", 0) == 1 and nic.transmit(0) == 1

    s_lead, s_share = lead.stats(), share.stats()
    assert s_lead["hw_rx_good"] == 6 and not any(k.startswith("hw_") for k in s_share)
    assert (s_lead["rx_packets"], s_share["rx_packets"]) == (3, 3)
    assert (s_lead["tx_packets"], s_share["tx_packets"]) == (1, 2)

    share.close()
    assert pool1.available == pool1.capacity
    assert nic.get("MRQC") == 0                           # back to queue 0 only
    assert not nic.get("RXDCTL", 1) & ENABLE and not nic.get("TXDCTL", 1) & ENABLE
    assert nic.get("RXDCTL", 0) & ENABLE
    assert nic.receive(frame(20), 0) and lead.receive() == [frame(20)]
    share.open(pool1)                                     # a share comes back
    assert reta(nic) == reta_words([0, 1])
    assert nic.receive(frame(21), 1) and share.receive() == [frame(21)]
    share.close()
    lead.close()
    assert pool0.available == pool0.capacity
    dev.close()


def test_more_queues_than_workers_interleave():
    nic, dev = device()
    lead = dev.port(4, 16)
    share = lead.worker_queues(2)[0]
    assert lead.hw_rx_queues == (0, 2) and share.hw_rx_queues == (1, 3)
    lead.open(dev.make_pool(256, 4096))
    assert reta(nic) == reta_words([0, 2])
    share.open(PacketPool(256, 2560))
    assert reta(nic) == reta_words(4)
    for q in range(4):
        assert nic.receive(frame(q), q)
    assert sorted(lead.receive()) == [frame(0), frame(2)]
    assert sorted(share.receive()) == [frame(1), frame(3)]
    share.close()
    assert reta(nic) == reta_words([0, 2])
    lead.close()
    dev.close()


def test_refusals():
    nic, dev = device()
    with pytest.raises(ValueError, match="has 1 RX queue.* 2 workers.*queues=2"):
        dev.port(1, 16).worker_queues(2)
    with pytest.raises(ValueError, match="at most 16 workers"):
        dev.port(None, 16).worker_queues(17)
    lead = dev.port(None, 16)
    share = lead.worker_queues(2)[0]
    with pytest.raises(RuntimeError, match="before the other workers' queues"):
        share.open(PacketPool(64, 2560))
    assert not share.is_open
    lead.open(dev.make_pool(256, 4096))
    with pytest.raises(RuntimeError, match="worker queues are made from the unopened port"):
        lead.worker_queues(2)
    lead.close()
    dev.close()


def test_lead_closing_first_stops_the_shares():
    nic, dev = device()
    lead = dev.port(None, 16)
    share = lead.worker_queues(2)[0]
    pool1 = PacketPool(64, 2560)
    lead.open(dev.make_pool(256, 4096))
    share.open(pool1)
    lead.close()
    assert share.dead
    assert not nic.get("RXDCTL", 1) & ENABLE and not nic.get("TXDCTL", 1) & ENABLE
    assert share.receive() == []
    share.send([frame(1)])
    assert share.stats()["tx_dropped"] == 1
    share.close()
    assert pool1.available == pool1.capacity
    dev.close()


def test_switch_sums_a_shared_port_exactly():
    """Switch(workers=2) splits the port; port_stats adds the shares' counters and reports the
    NIC's own once."""
    nic, dev = device()
    sw = Switch(pool=dev.make_pool(512, 4096), pool_size=512, workers=2)
    port = dev.port(None, 16)
    sw.add_port(1, port)
    lead, share = sw._queues[1]
    assert lead is port and share.lead is port and share.is_open
    plan_rx = [type(q).__name__ for q in sw._queues[1]]
    assert plan_rx == ["IntelPort", "IntelPort"]
    for i in range(10):
        assert nic.receive(frame(i, 60 + i), i % 2)
    got = lead.receive() + share.receive()
    assert sorted(got) == sorted(frame(i, 60 + i) for i in range(10))
    stats = sw.port_stats(1)
    assert stats["rx_packets"] == 10 and stats["rx_bytes"] == sum(60 + i for i in range(10))
    assert stats["hw_rx_good"] == 10 and stats["rx_dropped"] == 0
    sw.remove_port(1)
    assert not share.is_open and not port.is_open
    dev.close()


def tx_descriptors(nic: FakeNic, q: int) -> list[int]:
    """The buffer addresses of queue q's TX descriptors the device has not sent yet."""
    base, n = nic._ring("T", q)
    head, tail = nic.get("TDH", q), nic.get("TDT", q)
    return [int.from_bytes(ctypes.string_at(base + 16 * (i % n), 8), "little")
            for i in range(head, head + (tail - head) % n)]


def routed_frame(q: int, seq: int) -> bytes:
    """Frame `seq` of the flow of RX queue q, to 10.1.q.seq (routed to port 2)."""
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 46, seq, 0, 64, 17, 0, bytes([10, 9, 9, q]),
                     bytes([10, 1, q, seq]))
    return bytes.fromhex("52540000000a" "525400000006") + b"\x08\x00" + ip + bytes(26)


@needs_corpus
def test_every_worker_forwards_zero_copy_on_its_own_pool():
    """Switch(workers=2, pools=one DMA pool each): both shares of A receive in place and both
    shares of B send in place (the counters), a frame received by worker k leaves on worker
    k's TX queue of B straight from a buffer of worker k's pool, and every buffer is back in
    its own pool afterwards."""
    nic_a, dev_a = device()
    nic_b, dev_b = device()
    pools = [dev_a.make_pool(512, 4096) for _ in range(2)]
    sw = Switch(pools=pools, workers=2, batch_size=8)
    assert sw.pool is pools[0]
    sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A010000, 16)], "MyIngress.ipv4_forward",
                 [0x020000000201, 2])
    sw.add_port(1, dev_a.port(None, 64))
    sw.add_port(2, dev_b.port(None, 64))
    per_queue = 40
    sent = {q: [routed_frame(q, i) for i in range(per_queue)] for q in (0, 1)}
    wire: dict[int, list[bytes]] = {0: [], 1: []}
    addresses: dict[int, list[int]] = {0: [], 1: []}
    try:
        assert all(s.zero_copy for s in sw._queues[1] + sw._queues[2])
        for i in range(per_queue):
            for q in (0, 1):
                assert nic_a.receive(sent[q][i], q)
        sw.start()
        deadline = time.monotonic() + 20
        while (sum(map(len, wire.values())) < 2 * per_queue
               and time.monotonic() < deadline):
            for q in (0, 1):
                addresses[q] += tx_descriptors(nic_b, q)
                before = len(nic_b.wire)
                nic_b.transmit(q)
                wire[q] += nic_b.wire[before:]
            time.sleep(0.001)
        sw.stop()
        for q in (0, 1):
            # Each flow whole and in order, on the TX queue of the worker that received it.
            assert [f[30:34] for f in wire[q]] == [f[30:34] for f in sent[q]]
            memory = dev_a.pools[q]
            assert all(memory.virt <= a < memory.virt + memory.size for a in addresses[q])
            assert len(addresses[q]) == per_queue
        rx, tx = sw.queue_stats(1), sw.queue_stats(2)
        for k in (0, 1):
            assert (rx[k]["rx_zero_copy"], rx[k]["rx_copied"]) == (per_queue, 0)
            assert (tx[k]["tx_zero_copy"], tx[k]["tx_copied"]) == (per_queue, 0)
        total = sw.port_stats(2)
        assert (total["tx_zero_copy"], total["tx_copied"]) == (2 * per_queue, 0)
    finally:
        sw.stop()
        sw.remove_port(1)
        sw.remove_port(2)
    assert [p.available for p in pools] == [p.capacity for p in pools]
    dev_a.close()
    dev_b.close()


def test_copy_mode_counts_copied_frames():
    """A share on an ordinary pool copies: the counters say so."""
    nic, dev = device()
    lead = dev.port(None, 16)
    share = lead.worker_queues(2)[0]
    lead.open(dev.make_pool(256, 4096))
    share.open(PacketPool(256, 2560))
    for q in (0, 1):
        assert nic.receive(frame(q), q)
    assert len(lead.receive()) == 1 and len(share.receive()) == 1
    assert share.send([frame(5), frame(6)]) == 2 and lead.send([frame(7)]) == 1
    s_lead, s_share = lead.stats(), share.stats()
    assert (s_lead["rx_zero_copy"], s_lead["rx_copied"]) == (1, 0)
    assert (s_lead["tx_zero_copy"], s_lead["tx_copied"]) == (1, 0)
    assert (s_share["rx_zero_copy"], s_share["rx_copied"]) == (0, 1)
    assert (s_share["tx_zero_copy"], s_share["tx_copied"]) == (0, 2)
    share.close()
    lead.close()
    dev.close()


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_a_reopened_share_gets_its_rings_back(family):
    """A share closed and opened again on its own (the lead keeps running) is armed on the
    same descriptor rings: the device's arena does not grow."""
    nic, dev = device(family)
    lead = dev.port(None, 16)
    share = lead.worker_queues(2)[0]
    lead.open(dev.make_pool(256, 4096))
    pool1 = dev.make_pool(256, 4096)
    share.open(pool1)
    rings = (nic.get("RDBAL", 1), nic.get("TDBAL", 1))
    regions = len(dev.arena.regions)
    used = dev.arena._used
    for i in range(5):
        share.close()
        assert pool1.available == pool1.capacity
        share.open(pool1 if i % 2 else PacketPool(256, 2560))   # zero copy and copy mode
        assert (nic.get("RDBAL", 1), nic.get("TDBAL", 1)) == rings
        assert nic.receive(frame(i), 1) and share.receive() == [frame(i)]
    share.close()
    share.open(pool1)
    assert len(dev.arena.regions) == regions
    # Copy mode's ring buffers were taken once, on the first copy-mode open.
    assert dev.arena._used == used + 2 * 16 * BOUNCE_BUF
    share.close()
    lead.close()
    assert dev._rings == {}
    dev.close()


def test_switch_pools_refusals():
    _nic, dev = device()
    a, b = dev.make_pool(64, 4096), dev.make_pool(64, 4096)
    with pytest.raises(InvalidArgument, match="one PacketPool per worker \\(2\\), got 1"):
        Switch(pools=[a], workers=2)
    with pytest.raises(InvalidArgument, match="a pool of its own"):
        Switch(pools=[a, a], workers=2)
    with pytest.raises(InvalidArgument, match="pool or pools"):
        Switch(pool=a, pools=[a, b], workers=2)
    with pytest.raises(InvalidArgument, match="same buffer size"):
        Switch(pools=[a, PacketPool(64, 2560)], workers=2)
    dev.close()
