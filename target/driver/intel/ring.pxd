# Descriptor rings shared by the igb (82576/I350) and ixgbe (82599) families: both use the same
# 16-byte advanced RX and TX descriptors and head/tail register protocol; only register offsets
# and init sequences differ, and those live in Python (regs.py, igb.py, ixgbe.py).

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from target.driver.port cimport Port, port_stats_t
from target.packet cimport pkt_pool_t, pkt_t

cdef enum:
    INTEL_MAX_QUEUES = 16
    INTEL_DESC_SIZE = 16

cdef struct intel_rxq_t:
    uint8_t *desc               # size descriptors in DMA memory
    pkt_t **bufs                # zero copy: the pool packet armed in each descriptor
    uint8_t *bounce             # copy mode: ring-owned buffers, NULL in zero-copy mode
    uint64_t bounce_bus
    uint32_t bounce_size
    uint32_t size               # a power of two
    uint32_t next               # next descriptor to look at for DD
    uint32_t tail_off           # RDT register offset in the BAR
    uint32_t discarding         # inside a frame spread over several descriptors: drop it
    uint64_t packets            # frames delivered from this queue (RSS spreading is checked on it)

cdef struct intel_txq_t:
    uint8_t *desc
    pkt_t **bufs                # zero copy: packet owned by each in-flight descriptor
    uint8_t *bounce
    uint64_t bounce_bus
    uint32_t bounce_size
    uint32_t size
    uint32_t tail               # next descriptor to fill
    uint32_t clean              # oldest descriptor not yet reclaimed
    uint32_t tail_off

cdef struct intel_port_t:
    uint8_t *bar
    intel_rxq_t rxq[INTEL_MAX_QUEUES]
    intel_txq_t txq
    uint32_t nrx
    uint32_t rx_start           # queue polled first, rotated so no queue starves
    uint32_t err_mask           # write-back error bits that mean a bad frame (chip specific)
    uint32_t max_tx             # largest frame accepted for transmit
    uint32_t zero_copy
    uint32_t link_up            # refreshed by Python; TX drops while the link is down
    uint32_t dead               # closed or device gone: RX returns nothing, TX drops
    uint64_t rx_copied          # frames copied out of ring-owned buffers (copy mode)
    uint64_t tx_copied          # frames copied into ring-owned buffers (copy mode)
    pkt_pool_t *pool
    port_stats_t *stats

cdef int intel_rx_batch(void *state, pkt_t **pkts, int max) noexcept nogil
cdef int intel_tx_batch(void *state, pkt_t **pkts, int n) noexcept nogil
cdef uint32_t intel_tx_reclaim(intel_port_t *s) noexcept nogil

cdef class IntelPort(Port):
    cdef intel_port_t st
    cdef readonly object device
    cdef readonly int rx_queues         # RX queues this port polls
    cdef readonly int ring_size
    cdef readonly bint queues_given     # rx_queues was asked for (else: one per worker)
    cdef readonly tuple hw_rx_queues    # the device's queue numbers this port polls
    cdef readonly int tx_queue          # the device's TX queue this port fills
    cdef readonly object lead           # None, or the port that brought the device up
    cdef object _keep           # descriptor and bounce memory objects kept alive while open
    cdef void _free_arrays(self) noexcept
    cdef void _release_buffers(self) noexcept
