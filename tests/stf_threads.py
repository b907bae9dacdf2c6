"""An STF run through the running engine: the switch's workers in their own threads.

`EngineSwitch.process()` does not run the packet on the calling thread: it pushes each frame
into the memory port of its ingress port (ports belong to the workers round robin, starting
at a worker chosen by the program's name, so that a file's usual single ingress port is
worker 0's in some programs and worker 1's in others), waits until the workers have taken it
in and breathed twice more (the batch has been transmitted, relayed frames included), then
collects what every port transmitted. The STF files are sequential (each packet processed to
completion before the next), and so is this.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path
from typing import Any

from target import Switch, stf
from target.driver.memory import QueuePort

SETTLE_S = 10.0


def stf_ports(stf_path: Path) -> set[int]:
    """Every port an STF file sends to or expects on."""
    return {c.port for c in stf.parse_stf(stf_path.read_text())
            if isinstance(c, (stf.SendPacket, stf.ExpectPacket))}


class EngineSwitch(Switch):
    def __init__(self, ports: set[int], workers: int, first_owner: int) -> None:
        super().__init__(workers=workers, pool_size=4096, buf_size=10240 + 256)
        self._stf_ports = sorted(ports)
        self._next_owner = first_owner          # the worker the first port goes to
        self._taken = 0

    def process(self, packets: list[tuple[int, bytes]]) -> list[tuple[int, Any]]:
        if self._loop is None:
            for num in self._stf_ports:
                if num not in self.ports:
                    self.add_port(num, QueuePort(1024, max_frame=self.pool.max_frame))
            self.start()
        for port, frame in packets:
            if not self.ports[port].push(bytes(frame)):
                raise RuntimeError(f"port {port}: its queue is full")
            self._taken += 1
        self._settle()
        return [(num, f) for num in self._stf_ports for f in self.ports[num].pop_all()]

    def _settle(self) -> None:
        # A worker with no RX port and no relay has nothing to do: it sleeps.
        breathers = [b for b, w in zip(self._loop.port_breathers, self._plan, strict=True)
                     if w.rx or w.relays]
        deadline = time.monotonic() + SETTLE_S
        while sum(b.rx_packets for b in breathers) < self._taken:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not take the packet in")
            time.sleep(0.0002)
        marks = [b.breaths for b in breathers]
        while any(b.breaths < m + 2 for b, m in zip(breathers, marks, strict=True)):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers stopped breathing")
            time.sleep(0.0002)

    def close(self) -> None:
        self.stop()


def run_stf_on_workers(json_path: Path, stf_path: Path, workers: int) -> stf.StfResult:
    switches: list[EngineSwitch] = []

    def factory() -> EngineSwitch:
        first = zlib.crc32(stf_path.stem.encode()) % workers
        switches.append(EngineSwitch(stf_ports(stf_path), workers, first))
        return switches[-1]

    try:
        return stf.run_stf(json_path, stf_path, switch_factory=factory)
    finally:
        for sw in switches:
            sw.close()
