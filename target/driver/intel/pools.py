"""The kvick command's Intel ports and the packet pools they need to run zero copy.

A worker's share of an Intel port is zero copy when the pool it opens on is DMA memory with
bus addresses (ring.pyx). The switch gives each worker one pool, used by all of that worker's
ports, so the pools must exist before the switch does: the command opens its Intel devices
first (registers mapped, nothing started), makes one DMA pool per worker from the first
device's memory (every device of one access method reaches it: pagemap devices all see
physical addresses, VFIO devices share one container), and builds the switch on those pools.
A frame then stays in its worker's pool from RX to TX on every Intel port: received into a
buffer of pool k by worker k's RX queue, sent from that buffer by worker k's own TX queue of
the egress port, and freed back into pool k when the device reports it sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from target.driver.intel.errors import IntelDriverError
from target.driver.intel.ring import IntelPort
from target.packet import PacketPool

POOL_BUF = 4096         # bytes per buffer: divides a 2 MiB hugepage (no buffer straddles two),
                        # leaves 3,840 B per frame after the headroom
SPARE = 4096            # buffers per worker beyond what the rings hold: batches, queues, clones
PAGE_BUFFERS = 512      # buffers in one 2 MiB hugepage; pools are whole pages

log = logging.getLogger("kvick.intel")


def open_intel_ports(specs: Iterable[tuple[int, str]],
                     open_port: Callable[[str], Any]) -> dict[int, IntelPort]:
    """Open the devices of the Intel ports among (port number, spec); nothing is started.
    On an error the devices opened so far are closed, and PortOpenError names the port."""
    opened: dict[int, IntelPort] = {}
    for num, spec in specs:
        if not spec.startswith("intel:"):
            continue
        try:
            opened[num] = open_port(spec)
        except BaseException as err:
            close_devices(opened.values())
            raise PortOpenError(num, spec, err) from err
    return opened


class PortOpenError(Exception):
    """An Intel port of the command line could not be opened."""

    def __init__(self, num: int, spec: str, cause: BaseException) -> None:
        super().__init__(num, spec, cause)
        self.num, self.spec, self.cause = num, spec, cause


def pool_capacity(ports: Iterable[IntelPort], workers: int) -> int:
    """Buffers one worker's pool needs: its shares' RX rings full, its TX rings full, and
    SPARE for the engine, in whole hugepages."""
    need = SPARE
    for port in ports:
        total = port.rx_queues if port.queues_given else max(workers, port.rx_queues)
        need += (-(-total // workers) + 1) * port.ring_size
    return -(-need // PAGE_BUFFERS) * PAGE_BUFFERS


def worker_pools(ports: dict[int, IntelPort], workers: int) -> list[PacketPool] | None:
    """One DMA pool per worker, from the first Intel port's device; None without Intel
    ports (the switch then makes ordinary pools)."""
    if not ports:
        return None
    num = min(ports)
    first = ports[num]
    capacity = pool_capacity(ports.values(), workers)
    try:
        return [first.device.make_pool(capacity, POOL_BUF) for _ in range(workers)]
    except (IntelDriverError, OSError) as err:      # e.g. too few free hugepages
        close_devices(ports.values())
        raise PortOpenError(num, first.name, err) from err


def close_devices(ports: Iterable[IntelPort]) -> None:
    """Close each port's device (the port first, if still open)."""
    for port in ports:
        port.device.close()


def log_zero_copy(switch: Any) -> None:
    """One line per Intel port and worker: frames received and sent in place (zero copy)
    and through ring-owned buffers (copied), from the switch's per-queue counters."""
    for num, port in sorted(switch.ports.items()):
        if not isinstance(port, IntelPort):
            continue
        for k, stats in enumerate(switch.queue_stats(num)):
            log.info("port %d (%s) worker %d: received %d zero copy, %d copied; sent %d zero "
                     "copy, %d copied", num, port.name, k, stats["rx_zero_copy"],
                     stats["rx_copied"], stats["tx_zero_copy"], stats["tx_copied"])
