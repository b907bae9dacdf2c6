# The driver interface: every port kind (memory, pcap, AF_PACKET, AF_XDP, Intel NIC) fills one
# port_ops_t so the engine loop can move batches with two indirect calls and no Python.
#
# Ownership rules, the whole contract:
# - rx_batch allocates up to `max` packets from the port's pool, fills data/len/port and returns
#   how many it wrote to pkts[0..n). It never blocks; 0 means nothing is waiting.
# - wait_fd, when >= 0, is a descriptor that poll() reports readable (POLLIN) when rx_batch has
#   something to return; the engine loop sleeps on it when the port is idle. -1 (the default):
#   the port cannot be waited on, and an idle loop sleeps in short timed steps instead.
# - tx_batch takes ownership of all n packets: each is sent, queued, or dropped and counted, and
#   eventually returned to the pool by the driver. The caller must not touch them afterwards.
# Both run without the GIL and must not raise.

from libc.stdint cimport uint64_t

from target.packet cimport PacketPool, pkt_pool_t, pkt_t

ctypedef int (*port_rx_fn)(void *state, pkt_t **pkts, int max) noexcept nogil
ctypedef int (*port_tx_fn)(void *state, pkt_t **pkts, int n) noexcept nogil

cdef struct port_stats_t:
    uint64_t rx_packets
    uint64_t rx_bytes
    uint64_t rx_dropped         # frames the driver saw but could not deliver (no buffer, too big)
    uint64_t rx_errors          # malformed frames refused by the driver (runt, truncated)
    uint64_t tx_packets
    uint64_t tx_bytes
    uint64_t tx_dropped         # packets the driver had to drop (ring full, too big, link down)
    # Counted by the engine loop (target/loop.pyx), not the driver: frames with a group
    # destination MAC as received from / handed to the port (broadcast = ff:ff:ff:ff:ff:ff,
    # multicast = the other group addresses); unicast is the rest of the packet counts.
    uint64_t rx_multicast
    uint64_t rx_broadcast
    uint64_t tx_multicast
    uint64_t tx_broadcast

cdef struct port_ops_t:
    port_rx_fn rx_batch         # NULL for a TX-only port
    port_tx_fn tx_batch         # NULL for an RX-only port
    void *state                 # the driver's own C state, passed back to both functions
    port_stats_t *stats         # counters the driver updates; read by Port.stats()
    int wait_fd                 # readable when rx_batch has work; -1: cannot be waited on


cdef class Port:
    """Base of every driver's port object; a subclass fills `ops` in open()."""
    cdef port_ops_t ops
    cdef port_stats_t c_stats
    cdef PacketPool pool
    cdef pkt_pool_t *c_pool
    cdef readonly str name
    cdef readonly bint is_open
