"""The per-packet log of `-L trace|debug`: the engine's trace records, as log lines.

BMv2 logs every pipeline event of every packet at trace/debug level; kvick's engine records
the same events in its trace buffer only while tracing is on (off, the data path tests one flag
per packet). The command line turns tracing on when the log level asks for packet events, and
SIGUSR1 switches it on and off while the switch runs.
"""

from __future__ import annotations

import logging
import signal
from typing import Any

from target.bmv2_options import LEVELS, TRACE

log = logging.getLogger("kvick.packet")


class PacketLog:
    def __init__(self, switch: Any, level: int):
        self.switch = switch
        self.level = level
        self.on = False

    def write(self, level: int, line: str) -> None:
        log.log(level, line)

    def set(self, on: bool) -> None:
        self.on = on
        # The logger's own level lets the lines through even when -L is above it (SIGUSR1).
        log.setLevel(self.level if on else logging.NOTSET)
        self.switch.set_trace(on, leveled=self.write if on else None)

    def toggle(self, *_: Any) -> None:
        self.set(not self.on)
        logging.getLogger("kvick").warning("per-packet log %s", "on" if self.on else "off")


def attach(switch: Any, level: str, logging_on: bool) -> PacketLog:
    """Log packets when the level is trace or debug and a log destination is set; SIGUSR1
    toggles it (a signal handler can only be set from the main thread)."""
    packets = PacketLog(switch, TRACE if level == "trace" else logging.DEBUG)
    if logging_on and LEVELS[level] <= logging.DEBUG:
        packets.set(True)
    try:
        signal.signal(signal.SIGUSR1, packets.toggle)
    except ValueError:
        pass            # not the main thread (tests running the switch in a thread)
    return packets
