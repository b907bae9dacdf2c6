"""82576 / I350 ("igb") init sequence, polled (interrupts masked), advanced descriptors.

Section numbers are the 82576 datasheet's. Verified against QEMU's igb model, which differs
from silicon in ways this sequence must survive (see docs in README / notes): the link is down
after every reset until PHY autonegotiation is restarted through MDIC, and EEMNGCTL.CFG_DONE is
never set, so that wait is bounded and not fatal.
"""

import time
from collections.abc import Sequence

from target.driver.intel.chip import DEFAULT_RSS_KEY, IntelChip
from target.driver.intel.mmio import RegisterTimeout
from target.driver.intel.regs import IGB

REGISTERS = IGB

CTRL_SLU = 1 << 6
CTRL_RST = 1 << 26
STATUS_LU = 1 << 1
EEMNGCTL_CFG_DONE0 = 1 << 18
MDIC_OP_WRITE = 1 << 26
MDIC_READY = 1 << 28
MDIC_ERROR = 1 << 30
PHY_ADDR = 1
PHY_BMCR = 0
BMCR_AUTONEG = 0x1340           # AUTOEN | ANRESTART | SPEED1000 | full duplex
RCTL_EN = 1 << 1
RCTL_UPE = 1 << 3
RCTL_MPE = 1 << 4
RCTL_BAM = 1 << 15
RCTL_SECRC = 1 << 26
SRRCTL_DESCTYPE_ADV_ONEBUF = 1 << 25
SRRCTL_DROP_EN = 1 << 31
XDCTL_ENABLE = 1 << 25
TCTL_EN = 1 << 1
TCTL_PSP = 1 << 3
TCTL_CT = 0x0F << 4
TCTL_COLD = 0x3F << 12
RXCSUM_PCSD = 1 << 13
MRQC_RSS = 0x2                  # MRQE = 010b: RSS only
MRQC_HASH_TCP_IPV4 = 1 << 16
MRQC_HASH_IPV4 = 1 << 17
MRQC_HASH_UDP_IPV4 = 1 << 22
# RXE | CXE | SEQ | SE | CE (7.1.5.2: frame errors in the write-back's extended error field).
RX_FRAME_ERRORS = (1 << 31) | (1 << 28) | (1 << 26) | (1 << 25) | (1 << 24)


class IgbChip(IntelChip):
    family = "igb"
    rx_error_mask = RX_FRAME_ERRORS
    max_queues = 16
    counters = {
        "rx_good": ("GPRC", 1), "tx_good": ("GPTC", 1), "rx_octets": ("GORC", 1),
        "tx_octets": ("GOTC", 1), "rx_missed": ("MPC", 1), "rx_no_buffer": ("RNBC", 1),
        "rx_crc_errors": ("CRCERRS", 1), "rx_broadcast": ("BPRC", 1), "rx_multicast": ("MPRC", 1),
    }

    def reset(self) -> None:
        """4.5.9 software reset: mask interrupts, set CTRL.RST, wait for it to clear."""
        r = self.regs
        r.write("IMC", 0xFFFFFFFF)
        r.write("EIMC", 0xFFFFFFFF)
        r.set_bits("CTRL", CTRL_RST)
        time.sleep(0.001)
        r.must_wait("CTRL", CTRL_RST, 0, self.timeouts.reset, "CTRL.RST to clear after reset")
        r.write("IMC", 0xFFFFFFFF)           # reset re-enables nothing, but unmasks may linger
        r.write("EIMC", 0xFFFFFFFF)
        # 4.5.10: the NVM configuration load. Bounded: QEMU's model never reports it.
        r.wait("EEMNGCTL", EEMNGCTL_CFG_DONE0, EEMNGCTL_CFG_DONE0, self.timeouts.config_done)
        self.clear_stats()

    def start_link(self) -> None:
        """Set link up and restart PHY autonegotiation through MDIC (8.2.4): after a reset the
        link stays down until the PHY renegotiates."""
        r = self.regs
        r.set_bits("CTRL", CTRL_SLU)
        r.write("MDIC", BMCR_AUTONEG | PHY_BMCR << 16 | PHY_ADDR << 21 | MDIC_OP_WRITE)
        r.must_wait("MDIC", MDIC_READY, MDIC_READY, self.timeouts.mdio, "MDIC ready (PHY write)")
        if r.read("MDIC") & MDIC_ERROR:
            raise RegisterTimeout("the PHY refused the autonegotiation restart (MDIC.ERROR)")

    def link_up(self) -> bool:
        return bool(self.regs.read("STATUS") & STATUS_LU)

    def setup_rx_queue(self, queue: int, ring_bus: int, entries: int, buf_kib: int) -> None:
        """7.1.3 (per queue): ring base/length, one-buffer advanced descriptors, drop when the
        ring is full (rather than stall all queues), head and tail 0 until the ring is armed."""
        self._check_queue(queue)
        self._check_ring(ring_bus, entries)
        if not 1 <= buf_kib <= 127:
            raise ValueError(f"RX buffer size {buf_kib} KiB out of 1..127")
        r = self.regs
        r.clear_bits("RXDCTL", XDCTL_ENABLE, queue)
        r.write("RDBAL", ring_bus & 0xFFFFFFFF, queue)
        r.write("RDBAH", ring_bus >> 32, queue)
        r.write("RDLEN", entries * 16, queue)
        r.write("SRRCTL", buf_kib | SRRCTL_DESCTYPE_ADV_ONEBUF | SRRCTL_DROP_EN, queue)
        r.write("RDH", 0, queue)
        r.write("RDT", 0, queue)
        r.set_bits("RXDCTL", XDCTL_ENABLE, queue)
        r.must_wait("RXDCTL", XDCTL_ENABLE, XDCTL_ENABLE, self.timeouts.queue_enable,
                    f"RX queue {queue} enable", queue)

    def setup_tx_queue(self, queue: int, ring_bus: int, entries: int) -> None:
        """7.2.2 (per queue): ring base/length, thresholds 0 (write back every RS descriptor)."""
        self._check_queue(queue)
        self._check_ring(ring_bus, entries)
        r = self.regs
        r.write("TXDCTL", 0, queue)
        r.write("TDBAL", ring_bus & 0xFFFFFFFF, queue)
        r.write("TDBAH", ring_bus >> 32, queue)
        r.write("TDLEN", entries * 16, queue)
        r.write("TDH", 0, queue)
        r.write("TDT", 0, queue)
        r.write("TXDCTL", XDCTL_ENABLE, queue)
        r.must_wait("TXDCTL", XDCTL_ENABLE, XDCTL_ENABLE, self.timeouts.queue_enable,
                    f"TX queue {queue} enable", queue)

    def configure_rss(self, queues: int | Sequence[int], key: bytes = DEFAULT_RSS_KEY) -> None:
        """7.1.2.8: hash IPv4 (and its TCP/UDP ports) into RETA. RSS needs the packet checksum
        field for the hash (RXCSUM.PCSD). Queue 0 alone: RSS off. A RETA byte holds the
        queue number (low 4 bits). QEMU's model does the same, and drops without a count a
        frame steered to a queue whose RXDCTL.ENABLE is clear (and with RXO one steered to a
        full ring, while the other queues keep receiving): hence `queues` lists only the
        queues whose rings are armed."""
        r = self.regs
        if not self.rss_needed(queues):
            r.write("MRQC", 0)
            return
        super().configure_rss(queues, key)
        r.set_bits("RXCSUM", RXCSUM_PCSD)
        r.write("MRQC", MRQC_RSS | MRQC_HASH_IPV4 | MRQC_HASH_TCP_IPV4 | MRQC_HASH_UDP_IPV4)

    def enable_rx(self, promiscuous: bool = True) -> None:
        rctl = RCTL_EN | RCTL_BAM | RCTL_SECRC
        if promiscuous:
            rctl |= RCTL_UPE | RCTL_MPE
        self.regs.write("RCTL", rctl)

    def set_promiscuous(self, on: bool) -> None:
        if on:
            self.regs.set_bits("RCTL", RCTL_UPE | RCTL_MPE)
        else:
            self.regs.clear_bits("RCTL", RCTL_UPE | RCTL_MPE)

    def set_all_multicast(self, on: bool) -> None:
        (self.regs.set_bits if on else self.regs.clear_bits)("RCTL", RCTL_MPE)

    def enable_tx(self) -> None:
        self.regs.write("TCTL", TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD)

    def stop(self, rx_queues: Sequence[int], tx_queues: Sequence[int]) -> None:
        r = self.regs
        r.clear_bits("RCTL", RCTL_EN)
        self.disable_queues(rx_queues, tx_queues)
        r.clear_bits("TCTL", TCTL_EN)
