"""An Intel NIC opened for kernel-bypass use: chip init, DMA memory, and its IntelPort.

    dev = IntelDevice.open("0000:00:0a.0", access="pagemap")      # or access="vfio"
    pool = dev.make_pool(4096)                # optional: DMA buffers, so RX/TX are zero copy
    port = dev.port(rx_queues=2)
    port.open(pool)                           # reset, link, rings, RSS; then rx/tx in C

With several engine workers, port.worker_queues(n) makes the other workers' shares of the port
(their own RX queues and TX queue); each opens on its worker's pool after the port itself, and
RSS spreads flows over exactly the RX queues whose rings are armed at that moment. Each share
is zero copy when its worker's pool is DMA memory (make_pool once per worker: pools are not
thread-safe, so workers never share one). A share closed and opened again alone gets its
rings back; all ring memory is freed when the port itself closes.

Several devices share one pool (and forward between them without a copy) when their DMA
addresses live in the same space: with access="pagemap" all devices see physical addresses;
with access="vfio" all devices of the process join one VFIO container, so an IOVA means the
same buffer to each. A pool from another space is refused rather than handed to the device.
"""

import logging
import os
import time
from collections.abc import Callable

from target.driver.intel.chip import IntelChip, LinkTimeouts
from target.driver.intel.dma import (
    DmaArena,
    DmaError,
    DmaMemory,
    HugepageMemory,
    VfioDevice,
    VfioMemory,
    hugepages_available,
)
from target.driver.intel.igb import REGISTERS as IGB_REGISTERS
from target.driver.intel.igb import IgbChip
from target.driver.intel.ixgbe import REGISTERS as IXGBE_REGISTERS
from target.driver.intel.ixgbe import IxgbeChip
from target.driver.intel.mmio import DeviceGone, MappedBar, RegisterBackend, Registers
from target.driver.intel.pci import PciDevice, PciError
from target.driver.intel.ring import IntelPort, assign_pool_bus_addresses
from target.packet import PacketPool

log = logging.getLogger("kvick.intel")

BOUNCE_BUF = 2048               # copy-mode ring buffers: one 1514 B frame each, 2 KiB for SRRCTL
MAX_TX_FRAME = 9216
CHIPS = {"igb": (IgbChip, IGB_REGISTERS), "ixgbe": (IxgbeChip, IXGBE_REGISTERS)}
# id(pool) -> the address space of its bus addresses, for pools made by make_pool (kept until
# the device that made the pool closes).
_POOL_SPACES: dict[int, str] = {}


class IntelDevice:
    def __init__(self, chip: IntelChip, memory_factory: Callable[[int], DmaMemory],
                 address: str = "", closer: Callable[[], None] | None = None,
                 space: str | None = None) -> None:
        self.chip = chip
        self.space = space          # the DMA address space (see DmaMemory.space); None: unknown
        self.address = address
        self.memory_factory = memory_factory
        self.arena = DmaArena(memory_factory)
        self.pools: list[DmaMemory] = []
        self._pool_ids: list[int] = []
        self._closer = closer
        self._port: IntelPort | None = None     # the lead port: it brought the chip up
        self._shares: list[IntelPort] = []      # other workers' shares of it, open
        self._armed: list[int] = []             # RX queues with armed rings (RSS targets)
        # Each queue's ring (and copy-mode buffers) from the arena, by (what, queue number):
        # a share that closes and opens again gets the same memory back. The arena, and these
        # with it, is freed when the lead port closes.
        self._rings: dict[tuple[str, int], tuple[DmaMemory, int, int, int]] = {}

    @classmethod
    def from_backend(cls, backend: RegisterBackend, family: str,
                     memory_factory: Callable[[int], DmaMemory], address: str = "",
                     timeouts: LinkTimeouts | None = None,
                     closer: Callable[[], None] | None = None,
                     space: str | None = None) -> "IntelDevice":
        chip_cls, table = CHIPS[family]
        return cls(chip_cls(Registers(backend, table), timeouts), memory_factory, address, closer,
                   space)

    @classmethod
    def open(cls, address: str, access: str = "pagemap", sysfs: str | None = None,
             timeouts: LinkTimeouts | None = None) -> "IntelDevice":
        """Map the device's registers after checking it can be used; PciError / DmaError with
        a readable reason otherwise (not Intel, bound to a kernel driver, no rights, no
        hugepages, no IOMMU)."""
        pci = PciDevice(address, sysfs)
        sysfs = pci.sysfs
        family = pci.family()
        driver = pci.driver()
        if access == "pagemap":
            if driver is not None:
                raise PciError(f"{pci.address} is bound to the kernel driver {driver!r}; release it "
                               f"first: echo {pci.address} > {sysfs}/drivers/{driver}/unbind")
            if os.geteuid() != 0:
                raise PciError(f"{pci.address}: mapping resource0 and reading physical addresses "
                               f"need root; run as root or use access=vfio")
            if hugepages_available() == 0:
                raise DmaError("no free 2 MiB hugepages for descriptor rings and buffers: "
                               "echo 64 > /proc/sys/vm/nr_hugepages")
            pci.enable_bus_master()
            bar, size = pci.map_bar0()
            backend = MappedBar(_mmap_address(bar), size, bar)
            return cls.from_backend(backend, family, HugepageMemory, pci.address, timeouts, bar.close,
                                    HugepageMemory.space)
        if access == "vfio":
            if driver != "vfio-pci":
                raise PciError(f"{pci.address} is bound to {driver or 'no driver'}, not vfio-pci: "
                               f"modprobe vfio-pci; echo vfio-pci > {pci.path}/driver_override; "
                               f"echo {pci.address} > {sysfs}/drivers_probe")
            group = pci.iommu_group()
            if group is None:
                raise DmaError(f"{pci.address} has no IOMMU group: boot with intel_iommu=on "
                               f"(or use access=pagemap)")
            vfio = VfioDevice(pci.address, group)
            try:
                command = vfio.config_read16(0x04)
                vfio.config_write16(0x04, command | 0x6)      # memory space + bus master
                bar, size = vfio.map_bar0()
            except BaseException:
                vfio.close()
                raise

            def close() -> None:
                bar.close()
                vfio.close()

            backend = MappedBar(_mmap_address(bar), size, bar)
            return cls.from_backend(backend, family, lambda n: VfioMemory(vfio, n), pci.address,
                                    timeouts, close, vfio.space)
        raise ValueError(f"access must be 'pagemap' or 'vfio', got {access!r}")

    # -- the engine's side --------------------------------------------------------------------
    def port(self, rx_queues: int | None = None, ring_size: int = 512) -> IntelPort:
        """The device's port. rx_queues None: one RX queue, or one per engine worker."""
        if rx_queues is not None and rx_queues > self.chip.max_queues:
            raise ValueError(f"{self.chip.family} supports up to {self.chip.max_queues} RX queues")
        if ring_size * BOUNCE_BUF > self.arena.chunk:
            raise ValueError(f"ring_size {ring_size} too large (at most {self.arena.chunk // BOUNCE_BUF})")
        return IntelPort(self, rx_queues, ring_size, f"intel:{self.address}")

    def make_pool(self, capacity: int, buf_size: int = 4096) -> PacketPool:
        """A packet pool in DMA memory with bus addresses: ports opened on it are zero copy.
        buf_size must divide 2 MiB (pagemap: a buffer must not straddle two hugepages)."""
        memory = self.memory_factory(capacity * buf_size)
        pool = PacketPool(capacity, buf_size, memory=memoryview(memory.buffer))
        assign_pool_bus_addresses(pool, memory)
        self.pools.append(memory)
        if self.space is None:
            self.space = memory.space
        _POOL_SPACES[id(pool)] = memory.space
        self._pool_ids.append(id(pool))
        return pool

    def attach(self, port: IntelPort, pool: PacketPool) -> None:
        """Bring the chip up for `port`: reset, link, rings, RSS, RX and TX on; or, for another
        worker's share of the port (port.lead set), arm its rings on the running chip and add
        its RX queues to RSS (called by IntelPort.open)."""
        if port.lead is not None:
            self._attach_share(port, pool)
            return
        if self._port is not None:
            raise RuntimeError(f"{self.address} already has an open port")
        self._check_pool(port, pool)
        chip = self.chip
        chip.reset()
        chip.start_link()
        self._add_rings(port, pool)
        self._armed = list(port.hw_rx_queues)
        chip.configure_rss(self._armed)
        chip.enable_rx(promiscuous=True)
        for q in port.hw_rx_queues:
            chip.wait_rx_queue(q)
        port._hand_rx_to_device()
        chip.enable_tx()
        self._port = port
        up = self.wait_link(chip.timeouts.link)
        port.set_link(up)
        if not up:
            log.warning("%s: link is down after %.1f s; transmitted packets are dropped until "
                        "it comes up", self.address, chip.timeouts.link)

    def _attach_share(self, port: IntelPort, pool: PacketPool) -> None:
        lead = self._port
        if lead is None or lead is not port.lead or lead.dead:
            raise RuntimeError(f"{port.name}: open {port.lead.name} (the port's first queue) "
                               f"before the other workers' queues")
        self._check_pool(port, pool)
        self._add_rings(port, pool)
        port._hand_rx_to_device()
        for q in port.hw_rx_queues:
            self.chip.wait_rx_queue(q)
        # Only now may RSS send flows here: a queue whose ring is not armed loses them.
        self._armed = sorted(self._armed + list(port.hw_rx_queues))
        self.chip.configure_rss(self._armed)
        self._shares.append(port)
        port.set_link(self.chip.link_up())

    def _check_pool(self, port: IntelPort, pool: PacketPool) -> None:
        pool_space = _POOL_SPACES.get(id(pool))
        if port.zero_copy and pool_space and self.space and pool_space != self.space:
            raise DmaError(f"{self.address or 'the device'} cannot reach this packet pool: its bus "
                           f"addresses are {pool_space} addresses and the device uses {self.space} "
                           f"(open both devices with the same access)")

    def _add_rings(self, port: IntelPort, pool: PacketPool) -> None:
        """Descriptor rings (and copy-mode buffers) for the port's RX queues and its TX queue,
        programmed into the chip; RX tails stay 0 until port._hand_rx_to_device()."""
        chip = self.chip
        port._setup(chip.regs.backend.virt, chip.rx_error_mask, MAX_TX_FRAME)
        n = port.ring_size
        if port.zero_copy:
            buf_kib = min(pool.max_frame // 1024, 16)
        else:
            buf_kib = BOUNCE_BUF // 1024
        for q in port.hw_rx_queues:
            desc_mem, desc_virt, desc_bus = self._ring_memory("rx", q, n * 16)
            bounce = (None, 0, 0) if port.zero_copy else self._ring_memory("rx-buf", q,
                                                                           n * BOUNCE_BUF)
            port._add_rx_queue(desc_mem, desc_virt, chip.rx_tail_offset(q),
                               bounce[0], bounce[1], bounce[2], 0 if port.zero_copy else BOUNCE_BUF)
            chip.setup_rx_queue(q, desc_bus, n, buf_kib)
        q = port.tx_queue
        desc_mem, desc_virt, desc_bus = self._ring_memory("tx", q, n * 16)
        bounce = (None, 0, 0) if port.zero_copy else self._ring_memory("tx-buf", q, n * BOUNCE_BUF)
        port._set_tx_queue(desc_mem, desc_virt, chip.tx_tail_offset(q),
                           bounce[0], bounce[1], bounce[2], 0 if port.zero_copy else BOUNCE_BUF)
        chip.setup_tx_queue(q, desc_bus, n)

    def _ring_memory(self, what: str, queue: int, size: int) -> tuple[DmaMemory, int, int]:
        """(region, virtual, bus address) of `size` zeroed bytes for queue `queue`'s `what`:
        the piece this queue had before when it is large enough (the queue is stopped, so the
        device no longer reads or writes it), else a new one from the arena."""
        piece = self._rings.get((what, queue))
        if piece is not None and piece[3] >= size:
            region, virt, bus, _ = piece
            start = virt - region.virt
            region.buffer[start:start + size] = bytes(size)
            return region, virt, bus
        region, virt, bus = self.arena.alloc(size)
        self._rings[(what, queue)] = (region, virt, bus, size)
        return region, virt, bus

    def wait_link(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.link_up():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def detach(self, port: IntelPort) -> None:
        if port.lead is not None:
            self._detach_share(port)
            return
        shares, self._shares = self._shares, []
        for share in shares:
            share.mark_device_gone()        # their rings go with the arena below
        try:
            if not port.dead or self._port is port:
                self.chip.stop(self._armed, [port.tx_queue] + [s.tx_queue for s in shares])
        except DeviceGone:
            pass
        finally:
            self._port = None
            self._armed = []
            self._rings = {}
            self.arena.close()

    def _detach_share(self, port: IntelPort) -> None:
        if port not in self._shares:
            return                          # the lead closed first: the chip is stopped
        self._shares.remove(port)
        self._armed = [q for q in self._armed if q not in port.hw_rx_queues]
        try:
            # RSS first, so no new frame is steered to the rings about to go away.
            self.chip.configure_rss(self._armed)
            self.chip.disable_queues(port.hw_rx_queues, [port.tx_queue])
        except DeviceGone:
            pass

    def link_up(self) -> bool:
        status = self.chip.regs.read("STATUS")
        if status == 0xFFFFFFFF:
            for port in ([self._port] if self._port is not None else []) + self._shares:
                port.mark_device_gone()
            raise DeviceGone(f"{self.address or 'the device'} does not answer (registers read "
                             f"all ones): removed or powered off")
        up = self.chip.link_up()
        if self._port is not None:
            for port in [self._port] + self._shares:    # every worker's TX queue follows it
                port.set_link(up)
        return up

    def hardware_stats(self) -> dict[str, int]:
        return self.chip.hardware_stats()

    def mac_address(self) -> str:
        return self.chip.mac_address()

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
        self._rings = {}
        self.arena.close()
        for memory in self.pools:
            try:
                memory.close()
            except BufferError:
                pass            # a pool still uses it; the mapping goes when the pool does
        self.pools = []
        for pool_id in self._pool_ids:
            _POOL_SPACES.pop(pool_id, None)
        self._pool_ids = []
        if self._closer is not None:
            self._closer()
            self._closer = None


def _mmap_address(buffer) -> int:
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))
