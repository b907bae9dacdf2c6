"""An Intel port shared by several engine workers, against the offline fake NIC
(tests/intel_fakes.py): each worker's share polls its own RX queues and fills its own TX queue,
RSS only ever points at armed rings, closing a share takes its queues out of RSS first, and the
port's counters are the sum of its shares with the NIC's own counted once."""

import pytest
from intel_fakes import FakeNic, IdentityMemory

from target import Switch
from target.driver.intel.chip import LinkTimeouts, reta_words
from target.driver.intel.device import IntelDevice
from target.packet import PacketPool

FAST = LinkTimeouts(reset=0.05, config_done=0.001, queue_enable=0.05, mdio=0.05, link=0.05)
ENABLE = 1 << 25


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
