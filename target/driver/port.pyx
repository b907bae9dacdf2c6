# cython: language_level=3
"""The Port base class: the Python face of the C driver interface in port.pxd."""

from libc.string cimport memset

from target.packet cimport PacketPool


cdef class Port:
    """One switch port. Drivers subclass it and set `ops` when opened.

    Fixed interface (see port.pxd): open(pool), close(), rx_batch/tx_batch (C, in ops),
    stats() and link_state().
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.ops, 0, sizeof(port_ops_t))
        memset(&self.c_stats, 0, sizeof(port_stats_t))
        self.ops.stats = &self.c_stats
        self.ops.wait_fd = -1
        self.is_open = False
        self.name = ""

    def open(self, PacketPool pool) -> None:
        """Attach the port to the pool it allocates RX buffers from and frees TX buffers to."""
        self.pool = pool
        self.c_pool = &pool.pool
        self.is_open = True

    def close(self) -> None:
        self.is_open = False

    @property
    def can_receive(self) -> bool:
        """The port (opened) has an RX side."""
        return self.ops.rx_batch != NULL

    @property
    def can_transmit(self) -> bool:
        """The port (opened) has a TX side."""
        return self.ops.tx_batch != NULL

    def stats(self) -> dict[str, int]:
        s = self.ops.stats[0] if self.ops.stats != NULL else self.c_stats
        return {
            "rx_packets": s.rx_packets,
            "rx_bytes": s.rx_bytes,
            "rx_dropped": s.rx_dropped,
            "rx_errors": s.rx_errors,
            "tx_packets": s.tx_packets,
            "tx_bytes": s.tx_bytes,
            "tx_dropped": s.tx_dropped,
            "rx_multicast": s.rx_multicast,
            "rx_broadcast": s.rx_broadcast,
            "tx_multicast": s.tx_multicast,
            "tx_broadcast": s.tx_broadcast,
            # Software ports see frames without their FCS: only a kernel interface's own
            # counter (af_packet, xdp) can tell of FCS errors.
            "rx_fcs_errors": 0,
        }

    def link_state(self) -> bool:
        """True when the port can carry traffic."""
        return self.is_open

    def speed_mbps(self) -> int:
        """The link speed in Mb/s; 0 when the port has none (memory, pcap)."""
        return 0
