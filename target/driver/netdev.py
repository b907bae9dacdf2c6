"""What the kernel tells about a Linux interface that a port drives (af_packet, xdp).

Read from sysfs, which shows the network namespace kvick runs in (`ip netns exec` mounts its
own); a missing interface or file reads as "unknown" rather than raising.
"""

from __future__ import annotations


def _read(ifname: str, leaf: str) -> str | None:
    try:
        with open(f"/sys/class/net/{ifname}/{leaf}") as f:
            return f.read().strip()
    except OSError:
        return None


def counter(ifname: str, name: str) -> int:
    """One of the interface's statistics (e.g. rx_crc_errors), 0 when unknown."""
    text = _read(ifname, f"statistics/{name}")
    return int(text) if text is not None and text.isdigit() else 0


def speed_mbps(ifname: str) -> int:
    """The link speed in Mb/s, 0 when unknown (the kernel says -1 for a link without one)."""
    text = _read(ifname, "speed")
    try:
        speed = int(text) if text is not None else 0
    except ValueError:
        return 0
    return max(speed, 0)


def oper_up(ifname: str) -> bool:
    """True when the interface can carry traffic (operstate up, or unknown as for tun/lo)."""
    return _read(ifname, "operstate") in ("up", "unknown")
