"""What the two chip families share above the registers: the chip interface the device layer
drives, RSS table packing, and statistics accumulation (the counters clear on read)."""

import threading
from collections.abc import Sequence

from target.driver.intel.mmio import Registers

RSS_TABLE_ENTRIES = 128         # RETA: 128 one-byte entries in 32 registers, on both families
XDCTL_ENABLE = 1 << 25          # RXDCTL / TXDCTL queue enable, on both families
RSS_KEY_BYTES = 40              # RSSRK: 10 registers

# A fixed, well-spread Toeplitz key (the one most NIC drivers ship), so that flow -> queue is
# the same from run to run and tests can rely on it.
DEFAULT_RSS_KEY = bytes.fromhex(
    "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa")


def queue_list(queues: int | Sequence[int]) -> list[int]:
    """Queue numbers: a count n means queues 0..n-1."""
    return list(range(queues)) if isinstance(queues, int) else list(queues)


def reta_words(queues: int | Sequence[int]) -> list[int]:
    """The 32 RETA register values spreading hash buckets round-robin over `queues` (a count,
    or the queue numbers to use: the queues whose rings are armed)."""
    numbers = queue_list(queues)
    if not 1 <= len(numbers) <= 16 or not all(0 <= q < 16 for q in numbers):
        raise ValueError(f"RSS spreads over 1..16 queues numbered 0..15, got {queues}")
    entries = [numbers[i % len(numbers)] for i in range(RSS_TABLE_ENTRIES)]
    return [entries[4 * w] | entries[4 * w + 1] << 8 | entries[4 * w + 2] << 16 | entries[4 * w + 3] << 24
            for w in range(RSS_TABLE_ENTRIES // 4)]


def key_words(key: bytes) -> list[int]:
    if len(key) != RSS_KEY_BYTES:
        raise ValueError(f"the RSS key has {RSS_KEY_BYTES} bytes, got {len(key)}")
    return [int.from_bytes(key[4 * i:4 * i + 4], "little") for i in range(RSS_KEY_BYTES // 4)]


class LinkTimeouts:
    """How long each poll of an init sequence may take, in seconds."""

    def __init__(self, reset: float = 1.0, config_done: float = 0.1, queue_enable: float = 1.0,
                 mdio: float = 0.1, link: float = 5.0) -> None:
        self.reset = reset
        self.config_done = config_done
        self.queue_enable = queue_enable
        self.mdio = mdio
        self.link = link


class IntelChip:
    """Base of IgbChip and IxgbeChip: the operations device.py calls, in this order: reset,
    start_link, setup_*_queue, configure_rss, enable_rx/enable_tx, then link_up/stats, stop."""

    family = ""
    rx_error_mask = 0           # advanced RX write-back status bits that mean a bad frame
    max_queues = 0
    counters: dict[str, tuple[str, int]] = {}    # stat name -> (register, how many indexes)

    def __init__(self, regs: Registers, timeouts: LinkTimeouts | None = None) -> None:
        self.regs = regs
        self.timeouts = timeouts or LinkTimeouts()
        self._totals: dict[str, int] = {name: 0 for name in self.counters}
        self._stats_lock = threading.Lock()

    def rx_tail_offset(self, queue: int) -> int:
        return self.regs.offset("RDT", queue)

    def tx_tail_offset(self, queue: int) -> int:
        return self.regs.offset("TDT", queue)

    @staticmethod
    def rss_needed(queues: int | Sequence[int]) -> bool:
        """RSS can stay off when every frame belongs to queue 0 anyway."""
        return queue_list(queues) != [0]

    def configure_rss(self, queues: int | Sequence[int], key: bytes = DEFAULT_RSS_KEY) -> None:
        for i, word in enumerate(key_words(key)):
            self.regs.write("RSSRK", word, i)
        for i, word in enumerate(reta_words(queues)):
            self.regs.write("RETA", word, i)

    def mac_address(self) -> str:
        low = self.regs.read("RAL", 0)
        high = self.regs.read("RAH", 0) & 0xFFFF
        raw = low.to_bytes(4, "little") + high.to_bytes(2, "little")
        return ":".join(f"{b:02x}" for b in raw)

    def hardware_stats(self) -> dict[str, int]:
        """Totals since reset of the NIC's statistics registers (read and accumulated here,
        since reading clears them)."""
        with self._stats_lock:
            for name, (register, count) in self.counters.items():
                self._totals[name] += sum(self.regs.read_counter(register, i) for i in range(count))
            return dict(self._totals)

    def clear_stats(self) -> None:
        with self._stats_lock:
            for _name, (register, count) in self.counters.items():
                for i in range(count):
                    self.regs.read_counter(register, i)
            self._totals = {name: 0 for name in self.counters}

    def disable_queues(self, rx_queues: Sequence[int], tx_queues: Sequence[int]) -> None:
        """Stop single queues while the rest of the port runs (a worker's share closing).
        Returns once each enable bit reads back clear: only then has the queue stopped using
        its ring and buffers, which go back to the pool and are armed again on a reopen."""
        for q in rx_queues:
            self.regs.clear_bits("RXDCTL", XDCTL_ENABLE, q)
        for q in tx_queues:
            self.regs.clear_bits("TXDCTL", XDCTL_ENABLE, q)
        for q in rx_queues:
            self.regs.must_wait("RXDCTL", XDCTL_ENABLE, 0, self.timeouts.queue_enable,
                                f"RX queue {q} disable", q)
        for q in tx_queues:
            self.regs.must_wait("TXDCTL", XDCTL_ENABLE, 0, self.timeouts.queue_enable,
                                f"TX queue {q} disable", q)

    def _check_queue(self, queue: int) -> None:
        if not 0 <= queue < self.max_queues:
            raise ValueError(f"{self.family} has queues 0..{self.max_queues - 1}, got {queue}")

    @staticmethod
    def _check_ring(ring_bus: int, entries: int) -> None:
        if ring_bus & 127:
            raise ValueError(f"descriptor ring at {ring_bus:#x} is not 128-byte aligned")
        if entries * 16 % 128 or entries <= 0:
            raise ValueError(f"ring of {entries} descriptors: its length must be a multiple of 128 B")

    def wait_rx_queue(self, queue: int) -> None:
        """Chips whose RX queue enable only settles after RX is on check it here."""
