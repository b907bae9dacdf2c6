"""igb and ixgbe init sequences driven against the offline fake register file. The 82599
(ixgbe) path is only ever checked here: no emulator models that chip."""

import pytest
from intel_fakes import FakeNic, IdentityMemory

from target.driver.intel.chip import DEFAULT_RSS_KEY, LinkTimeouts, key_words, reta_words
from target.driver.intel.device import IntelDevice
from target.driver.intel.mmio import RegisterTimeout
from target.driver.intel.regs import IGB, IXGBE

FAST = LinkTimeouts(reset=0.02, config_done=0.001, queue_enable=0.02, mdio=0.02, link=0.05)


def open_port(family, rx_queues=1, ring_size=64, **nic_args):
    nic = FakeNic(family, **nic_args)
    dev = IntelDevice.from_backend(nic, family, IdentityMemory, "fake", FAST)
    pool = dev.make_pool(512, 4096)
    port = dev.port(rx_queues, ring_size)
    port.open(pool)
    return nic, dev, port


def test_register_tables_have_no_overlaps():
    for table in (IGB, IXGBE):
        seen = {}
        for reg in table.values():
            for i in range(reg.count):
                off = reg.at(i)
                width = 8 if reg.mode == "RC64" else 4
                for b in range(0, width, 4):
                    assert off + b not in seen, f"{reg.name}[{i}] overlaps {seen.get(off + b)}"
                    seen[off + b] = reg.name


@pytest.mark.parametrize("queues", [1, 2, 3, 4, 16])
def test_reta_spreads_round_robin(queues):
    words = reta_words(queues)
    entries = [(w >> (8 * k)) & 0xFF for w in words for k in range(4)]
    assert entries == [i % queues for i in range(128)]
    assert key_words(DEFAULT_RSS_KEY)[0] == int.from_bytes(DEFAULT_RSS_KEY[:4], "little")


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_init_programs_rings_and_rss(family):
    nic, dev, port = open_port(family, rx_queues=4, ring_size=64)
    assert nic.resets == 1
    assert port.link_state() is True
    for q in range(4):
        assert nic.get("RDLEN", q) == 64 * 16
        assert nic.get("RDT", q) == 63                     # all but one descriptor handed over
        assert nic.get("RXDCTL", q) & (1 << 25)
        assert nic.get("SRRCTL", q) & 0x1F == 3           # 4096 B buffers - headroom: 3 KiB
        assert (nic.get("RDBAL", q) | nic.get("RDBAH", q) << 32) % 128 == 0
    assert nic.get("TDLEN", 0) == 64 * 16 and nic.get("TXDCTL", 0) & (1 << 25)
    reta = [nic.get("RETA", i) for i in range(32)]
    assert reta == reta_words(4)
    assert [nic.get("RSSRK", i) for i in range(10)] == key_words(DEFAULT_RSS_KEY)
    mrqc = nic.get("MRQC")
    assert mrqc & 0x7 == (0x2 if family == "igb" else 0x1)
    assert mrqc & (1 << 17) and mrqc & (1 << 16)
    assert nic.get("RXCSUM") & (1 << 13)
    assert dev.mac_address() == "52:54:00:00:00:0a"
    if family == "igb":
        rctl = nic.get("RCTL")
        assert rctl & 2 and rctl & (1 << 3) and rctl & (1 << 26)
        assert nic.get("TCTL") & 2
        names = [n for n, _ in nic.writes]
        # the PHY autonegotiation restart comes after the reset, before RX is enabled
        assert names.index("MDIC") > names.index("CTRL") and names.index("MDIC") < names.index("RCTL")
    else:
        assert nic.get("RXCTRL") & 1 and nic.get("DMATXCTL") & 1
        assert nic.get("FCTRL") & (3 << 8)
        assert nic.get("HLREG0") & 0x403 == 0x403
        assert nic.get("RXPBSIZE", 0) == 0x20000 and nic.get("TXPBSIZE", 0) == 0xA000


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_single_queue_turns_rss_off(family):
    nic, dev, port = open_port(family, rx_queues=1)
    assert nic.get("MRQC") == 0


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_reset_that_never_finishes_is_a_timeout_error(family):
    with pytest.raises(RegisterTimeout, match="CTRL.RST"):
        open_port(family, reset_clears=False)


@pytest.mark.parametrize("family", ["igb", "ixgbe"])
def test_stop_disables_queues(family):
    nic, dev, port = open_port(family, rx_queues=2)
    port.close()
    for q in range(2):
        assert not nic.get("RXDCTL", q) & (1 << 25)
    assert not nic.get("TXDCTL", 0) & (1 << 25)


def test_ixgbe_moves_frames_through_the_same_rings():
    nic, dev, port = open_port("ixgbe")
    frames = [bytes([i]) * 64 for i in range(1, 6)]
    port.send(frames)
    nic.transmit()
    assert nic.wire == frames
    for f in frames:
        nic.receive(f)
    assert port.receive(16) == frames


def test_hardware_counters_accumulate_across_clear_on_read():
    nic, dev, port = open_port("igb")
    port.send([b"\x01" * 64] * 3)
    nic.transmit()
    assert port.stats()["hw_tx_good"] == 3
    port.send([b"\x01" * 64] * 2)
    nic.transmit()
    assert port.stats()["hw_tx_good"] == 5
