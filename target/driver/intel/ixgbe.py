"""82599 / X520 ("ixgbe") init sequence (datasheet 4.6.3 onwards), polled, advanced descriptors.

No emulator models this chip: the sequence is checked only against the offline register fake
(tests/test_intel_chips.py), not against hardware.
"""

import time
from collections.abc import Sequence

from target.driver.intel.chip import DEFAULT_RSS_KEY, IntelChip
from target.driver.intel.regs import IXGBE

CTRL_LNK_RST = 1 << 3
CTRL_RST = 1 << 26
CTRL_EXT_NS_DIS = 1 << 16
EEC_ARD = 1 << 9                # EEPROM auto-read done
RDRXCTL_CRCSTRIP = 1 << 1
RDRXCTL_DMAIDONE = 1 << 3
AUTOC_LMS_10G_SERIAL = 0x3 << 13
AUTOC_LMS_MASK = 0x7 << 13
AUTOC_10G_PMA_PMD_MASK = 0x3 << 7
AUTOC_AN_RESTART = 1 << 12
LINKS_UP = 1 << 30
RXCTRL_RXEN = 1 << 0
HLREG0_TXCRCEN = 1 << 0
HLREG0_RXCRCSTRP = 1 << 1
HLREG0_TXPADEN = 1 << 10
FCTRL_MPE = 1 << 8
FCTRL_UPE = 1 << 9
FCTRL_BAM = 1 << 10
SRRCTL_DESCTYPE_MASK = 0x7 << 25
SRRCTL_DESCTYPE_ADV_ONEBUF = 1 << 25
SRRCTL_DROP_EN = 1 << 28
DCA_RXCTRL_RELAXED_WB = 1 << 12
XDCTL_ENABLE = 1 << 25
DMATXCTL_TE = 1 << 0
RTTDCS_ARBDIS = 1 << 6
RXPBSIZE_128KB = 0x20000
TXPBSIZE_40KB = 0xA000
RXCSUM_PCSD = 1 << 13
MRQC_RSS = 0x1
MRQC_HASH_TCP_IPV4 = 1 << 16
MRQC_HASH_IPV4 = 1 << 17
MRQC_HASH_UDP_IPV4 = 1 << 22
RX_FRAME_ERRORS = 1 << 29      # RXE (7.1.6.2)


class IxgbeChip(IntelChip):
    family = "ixgbe"
    rx_error_mask = RX_FRAME_ERRORS
    max_queues = 16             # what this driver uses; the chip has 128
    counters = {
        "rx_good": ("GPRC", 1), "tx_good": ("GPTC", 1), "rx_octets": ("GORC", 1),
        "tx_octets": ("GOTC", 1), "rx_missed": ("MPC", 8), "rx_no_buffer": ("RNBC", 8),
        "rx_crc_errors": ("CRCERRS", 1), "rx_broadcast": ("BPRC", 1), "rx_multicast": ("MPRC", 1),
    }

    def reset(self) -> None:
        """4.6.3.1-2: mask interrupts, global reset with link reset, then wait for the EEPROM
        auto-read (EEC.ARD) and the DMA init (RDRXCTL.DMAIDONE)."""
        r = self.regs
        r.write("EIMC", 0x7FFFFFFF)
        r.set_bits("CTRL", CTRL_RST | CTRL_LNK_RST)
        time.sleep(0.01)            # 4.6.3.2: at least 1 ms before polling
        r.must_wait("CTRL", CTRL_RST, 0, self.timeouts.reset, "CTRL.RST to clear after reset")
        r.write("EIMC", 0x7FFFFFFF)
        r.must_wait("EEC", EEC_ARD, EEC_ARD, self.timeouts.reset, "EEPROM auto-read (EEC.ARD)")
        r.must_wait("RDRXCTL", RDRXCTL_DMAIDONE, RDRXCTL_DMAIDONE, self.timeouts.reset,
                    "DMA init done (RDRXCTL.DMAIDONE)")
        self.clear_stats()

    def start_link(self) -> None:
        """4.6.4: 10G serial link mode, XAUI PMA/PMD, restart autonegotiation."""
        r = self.regs
        autoc = r.read("AUTOC")
        autoc = (autoc & ~AUTOC_LMS_MASK & ~AUTOC_10G_PMA_PMD_MASK) | AUTOC_LMS_10G_SERIAL
        r.write("AUTOC", autoc)
        r.set_bits("AUTOC", AUTOC_AN_RESTART)

    def link_up(self) -> bool:
        return bool(self.regs.read("LINKS") & LINKS_UP)

    def _prepare_rx(self) -> None:
        """4.6.7 global RX setup, done once before the first queue: RX off while configuring,
        all packet buffer memory to buffer 0, CRC stripped, broadcast accepted."""
        r = self.regs
        r.clear_bits("RXCTRL", RXCTRL_RXEN)
        r.write("RXPBSIZE", RXPBSIZE_128KB, 0)
        for i in range(1, 8):
            r.write("RXPBSIZE", 0, i)
        r.set_bits("HLREG0", HLREG0_RXCRCSTRP)
        r.set_bits("RDRXCTL", RDRXCTL_CRCSTRIP)
        r.set_bits("FCTRL", FCTRL_BAM)
        r.set_bits("CTRL_EXT", CTRL_EXT_NS_DIS)     # 4.6.7: no-snoop off

    def setup_rx_queue(self, queue: int, ring_bus: int, entries: int, buf_kib: int) -> None:
        self._check_queue(queue)
        self._check_ring(ring_bus, entries)
        if not 1 <= buf_kib <= 16:
            raise ValueError(f"RX buffer size {buf_kib} KiB out of 1..16")
        r = self.regs
        if queue == 0:
            self._prepare_rx()
        srrctl = r.read("SRRCTL", queue) & ~SRRCTL_DESCTYPE_MASK & ~0x1F
        r.write("SRRCTL", srrctl | buf_kib | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN, queue)
        r.write("RDBAL", ring_bus & 0xFFFFFFFF, queue)
        r.write("RDBAH", ring_bus >> 32, queue)
        r.write("RDLEN", entries * 16, queue)
        r.write("RDH", 0, queue)
        r.write("RDT", 0, queue)
        r.clear_bits("DCA_RXCTRL", DCA_RXCTRL_RELAXED_WB, queue)   # 82599 errata: keep WB ordered
        r.set_bits("RXDCTL", XDCTL_ENABLE, queue)

    def setup_tx_queue(self, queue: int, ring_bus: int, entries: int) -> None:
        """4.6.8: CRC and padding by the MAC, all TX packet buffer to buffer 0, DCB arbiter
        off during setup; thresholds as common drivers use them (prefetch 36, host 8, WB 4)."""
        self._check_queue(queue)
        self._check_ring(ring_bus, entries)
        r = self.regs
        if queue == 0:
            r.set_bits("HLREG0", HLREG0_TXCRCEN | HLREG0_TXPADEN)
            r.write("TXPBSIZE", TXPBSIZE_40KB, 0)
            for i in range(1, 8):
                r.write("TXPBSIZE", 0, i)
            r.write("DTXMXSZRQ", 0xFFFF)
            r.set_bits("RTTDCS", RTTDCS_ARBDIS)
            r.clear_bits("RTTDCS", RTTDCS_ARBDIS)
        r.write("TDBAL", ring_bus & 0xFFFFFFFF, queue)
        r.write("TDBAH", ring_bus >> 32, queue)
        r.write("TDLEN", entries * 16, queue)
        r.write("TDH", 0, queue)
        r.write("TDT", 0, queue)
        r.write("TXDCTL", 36 | 8 << 8 | 4 << 16, queue)
        r.set_bits("DMATXCTL", DMATXCTL_TE)
        r.set_bits("TXDCTL", XDCTL_ENABLE, queue)
        r.must_wait("TXDCTL", XDCTL_ENABLE, XDCTL_ENABLE, self.timeouts.queue_enable,
                    f"TX queue {queue} enable", queue)

    def configure_rss(self, queues: int | Sequence[int], key: bytes = DEFAULT_RSS_KEY) -> None:
        r = self.regs
        if not self.rss_needed(queues):
            r.write("MRQC", 0)
            return
        super().configure_rss(queues, key)
        r.set_bits("RXCSUM", RXCSUM_PCSD)
        r.write("MRQC", MRQC_RSS | MRQC_HASH_IPV4 | MRQC_HASH_TCP_IPV4 | MRQC_HASH_UDP_IPV4)

    def enable_rx(self, promiscuous: bool = True) -> None:
        """RX on (4.6.7 last step); the queues' enables are checked here, after RXEN."""
        r = self.regs
        r.set_bits("RXCTRL", RXCTRL_RXEN)
        self.set_promiscuous(promiscuous)

    def wait_rx_queue(self, queue: int) -> None:
        self.regs.must_wait("RXDCTL", XDCTL_ENABLE, XDCTL_ENABLE, self.timeouts.queue_enable,
                            f"RX queue {queue} enable", queue)

    def set_promiscuous(self, on: bool) -> None:
        (self.regs.set_bits if on else self.regs.clear_bits)("FCTRL", FCTRL_UPE | FCTRL_MPE)

    def set_all_multicast(self, on: bool) -> None:
        (self.regs.set_bits if on else self.regs.clear_bits)("FCTRL", FCTRL_MPE)

    def enable_tx(self) -> None:
        pass                    # DMATXCTL.TE is set with the first queue

    def stop(self, rx_queues: Sequence[int], tx_queues: Sequence[int]) -> None:
        r = self.regs
        r.clear_bits("RXCTRL", RXCTRL_RXEN)
        self.disable_queues(rx_queues, tx_queues)


REGISTERS = IXGBE
