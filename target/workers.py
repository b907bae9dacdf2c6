"""How a switch's ports are spread over its engine workers (Switch(workers=N)).

Each worker is one thread with its own packet pool and pipeline worker context. A port that
can be split (AF_PACKET: one socket per worker in a PACKET_FANOUT_HASH group; AF_XDP: one
socket per RX queue; Intel: one share per worker with its own RSS RX queues and TX queue) has
one queue per worker: the worker receives from it and transmits
through it, so a flow stays on one worker (the kernel or NIC hashes it to one queue). A port
that only one thread may drive (memory, pcap, a port wrapped for --pcap capture) belongs to one
worker, chosen round robin: that worker receives from it and transmits to it; every other
worker transmits to it through its own relay ring (memory.RelayPort), which the owner empties
into the port. No lock is taken between workers on the way.
"""

from __future__ import annotations

from typing import Any

from target.driver.memory import RelayPort, RelaySender
from target.loop import WorkerPorts
from target.packet import PacketPool

MAX_WORKERS = 64            # worker contexts a Pipeline can have (DEF MAX_WORKERS, state.pxi)
RELAY_FRAMES = 1024         # frames a relay ring holds (each slot is a whole buffer)


def open_queues(port: Any, pools: list[PacketPool], owner: int) -> list[Any]:
    """Open `port`: split, one queue per worker, each on its worker's pool (the port itself is
    worker 0's); else whole, on the pool of `owner`, the worker that will drive it. Returns the
    opened queues: one per worker, or just [port]. On an error nothing stays open."""
    split = getattr(port, "worker_queues", None) if len(pools) > 1 else None
    extra = list(split(len(pools))) if split is not None else []
    opened = []
    try:
        port.open(pools[0] if extra else pools[owner])
        opened.append(port)
        for k, queue in enumerate(extra, start=1):
            queue.open(pools[k])
            opened.append(queue)
    except BaseException:
        for queue in reversed(opened):
            queue.close()
        raise
    return opened


def plan(queues: dict[int, list[Any]], owners: dict[int, int], pools: list[PacketPool],
         handles: list[int]) -> list[WorkerPorts]:
    """Each worker's RX ports, TX handles and relays for the switch's ports (queues[num] as
    open_queues returned, owners[num] the worker it was opened for). The relays are opened
    here; close_plan() closes them."""
    n = len(pools)
    workers = [WorkerPorts(k, handles[k], pools[k], {}, {}, {}) for k in range(n)]
    for num in sorted(queues):
        qs = queues[num]
        if len(qs) == n:
            for k, q in enumerate(qs):
                if q.can_receive:
                    workers[k].rx[num] = q
                if q.can_transmit:
                    workers[k].tx[num] = q
            continue
        port = qs[0]
        owner = owners[num]
        if port.can_receive:
            workers[owner].rx[num] = port
        if not port.can_transmit:
            continue
        workers[owner].tx[num] = port
        for k in range(n):
            if k == owner:
                continue
            relay = RelayPort(RELAY_FRAMES, pools[owner].max_frame)
            relay.open(pools[owner])
            sender = relay.sender()
            sender.open(pools[k])
            workers[owner].relays.setdefault(num, []).append(relay)
            workers[k].tx[num] = sender
    return workers


def relay_drops(workers: list[WorkerPorts]) -> dict[int, int]:
    """Per port: frames other workers could not hand to its owner (relay ring full), which
    the port's tx_dropped includes."""
    drops: dict[int, int] = {}
    for w in workers:
        for num, port in w.tx.items():
            if isinstance(port, RelaySender):
                drops[num] = drops.get(num, 0) + port.stats()["tx_dropped"]
    return drops


def close_plan(workers: list[WorkerPorts]) -> None:
    """Close the relays plan() opened (the ports themselves stay open)."""
    for w in workers:
        for relays in w.relays.values():
            for relay in relays:
                relay.close()
        for port in w.tx.values():
            if isinstance(port, RelaySender):
                port.close()
