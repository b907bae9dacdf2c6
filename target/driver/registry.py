"""Port kinds by name, and the interface specs of the command line.

A spec is `KIND:ARGUMENT`; the kind picks a factory that turns the argument into an unopened
Port. `register_builtin_drivers()` is the one place that lists the kinds: a new driver adds one
line there. Nothing registers itself on import, and every call returns a fresh dict.

    pcap:IN.pcap              replay IN.pcap (RX only)
    pcap:IN.pcap,OUT.pcap     replay IN.pcap, record what the switch sends into OUT.pcap
    pcap-out:OUT.pcap         record into OUT.pcap (TX only)
    memory:queue[:CAPACITY]   a QueuePort fed and drained from Python (default 1024 frames)
    memory:sink               count and discard
    intel:PCI[,queues=N][,access=pagemap|vfio][,ring=N]
                              an Intel 82576/I350/82599 NIC driven from user space; RSS spreads
                              flows over N RX queues (default 1; with --workers W, W), and
                              with W workers worker k polls queues k, k+W, ... and sends on
                              TX queue k
    af_packet:IFACE           a Linux interface through PACKET_MMAP rings; a bare IFACE means this
    xdp:IFACE[@QUEUE]         a Linux interface through an AF_XDP socket on one queue (default 0;
                              with --workers N and no QUEUE, queues 0..N-1, one per worker)
"""

from collections.abc import Callable

from target.driver.port import Port

PortFactory = Callable[[str], Port]


def _open_pcap(argument: str) -> Port:
    from target.driver.pcap import PcapPort, PcapReader

    paths = argument.split(",")
    if len(paths) == 1:
        return PcapReader(paths[0])
    if len(paths) == 2 and paths[1]:
        return PcapPort(paths[0], paths[1])
    raise ValueError(f"pcap takes IN.pcap or IN.pcap,OUT.pcap, got {argument!r}")


def _open_pcap_out(argument: str) -> Port:
    from target.driver.pcap import PcapWriter

    return PcapWriter(argument)


def _open_memory(argument: str) -> Port:
    from target.driver.memory import MemorySink, QueuePort

    kind, _, capacity = argument.partition(":")
    if kind == "sink" and not capacity:
        return MemorySink()
    if kind == "queue":
        if not capacity:
            return QueuePort()
        if capacity.isdigit():
            return QueuePort(int(capacity))
    raise ValueError(f"memory takes queue, queue:CAPACITY or sink, got {argument!r}")


def _open_af_packet(argument: str) -> Port:
    from target.driver.af_packet import AfPacketPort

    return AfPacketPort(argument)


def _open_xdp(argument: str) -> Port:
    from target.driver.af_xdp import AfXdpPort

    ifname, at, queue = argument.partition("@")
    if at and not queue.isdigit():
        raise ValueError(f"xdp takes IFACE or IFACE@QUEUE, got {argument!r}")
    return AfXdpPort(ifname, queue=int(queue) if at else None)


def _open_intel(argument: str) -> Port:
    from target.driver.intel.device import IntelDevice

    address, *options = argument.split(",")
    settings = {"queues": "", "access": "pagemap", "ring": "512"}
    for option in options:
        key, eq, value = option.partition("=")
        if not eq or key not in settings:
            raise ValueError(f"intel options are queues=N, access=pagemap|vfio, ring=N; got {option!r}")
        settings[key] = value
    queues = settings["queues"]
    if not (queues.isdigit() or not queues) or not settings["ring"].isdigit():
        raise ValueError(f"intel queues and ring take numbers, got {argument!r}")
    device = IntelDevice.open(address, settings["access"])
    # No queues=: one RX queue, or with --workers N one per worker (RSS spreads the flows).
    return device.port(int(queues) if queues else None, int(settings["ring"]))


def register_builtin_drivers() -> dict[str, PortFactory]:
    """Every port kind kvick ships, by the name used in interface specs."""
    return {
        "memory": _open_memory,
        "intel": _open_intel,
        "pcap": _open_pcap,
        "pcap-out": _open_pcap_out,
        "af_packet": _open_af_packet,
        "xdp": _open_xdp,
    }


def open_port(spec: str, drivers: dict[str, PortFactory] | None = None) -> Port:
    """Build the (not yet opened) port an interface spec names."""
    if drivers is None:
        drivers = register_builtin_drivers()
    if ":" not in spec:
        # A bare interface name, as simple_switch's `-i 1@veth0`: PACKET_MMAP.
        spec = f"af_packet:{spec}"
    kind, colon, argument = spec.partition(":")
    if kind not in drivers:
        known = ", ".join(sorted(drivers))
        raise ValueError(f"unknown port kind {kind!r} in {spec!r}; known kinds: {known}")
    if not colon or not argument:
        raise ValueError(f"port spec {spec!r} needs an argument after '{kind}:'")
    return drivers[kind](argument)
