# Packet buffers and the pool they come from.
#
# Like a DPDK mbuf or a Snabb packet: a fixed-size buffer with headroom in front of the frame so
# that the deparser can prepend headers (encapsulation) without moving the payload. Every driver
# allocates RX buffers from a pool and gives TX buffers back to it; the pipeline never allocates
# except to replicate (multicast, clone).
#
# The pool is single-threaded: one pool per worker. Nothing here takes a lock.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef enum:
    PKT_HEADROOM = 256          # bytes kept free in front of a received frame
    PKT_DEFAULT_BUF = 2560      # default buffer size, headroom included (fits a 2048 B frame)

cdef struct pkt_t:
    uint8_t *data               # first byte of the frame; buf <= data < buf + buf_size
    uint32_t len                # frame length in bytes, without FCS
    uint32_t port               # ingress port after RX, egress port before TX
    uint8_t *buf                # start of the buffer memory
    uint32_t buf_size           # bytes available from buf
    uint32_t slot               # index of this packet in its pool (for debugging and DMA maps)
    uint64_t phys               # bus address of buf for DMA drivers; 0 when not DMA memory
    uint64_t tstamp_ns          # ingress timestamp (CLOCK_MONOTONIC), set by the driver or engine

cdef struct pkt_pool_t:
    pkt_t *slots                # capacity packet headers
    pkt_t **free_stack          # LIFO of free packets: hot buffers are reused first
    uint32_t nfree              # entries in free_stack
    uint32_t capacity           # packets owned by the pool
    uint32_t buf_size           # bytes per buffer
    uint8_t *mem                # capacity * buf_size bytes of buffer memory
    uint64_t alloc_failures     # allocations refused because the pool was empty


cdef inline pkt_t *pool_alloc(pkt_pool_t *pool) noexcept nogil:
    """A fresh packet with the standard headroom and length 0, or NULL when the pool is empty."""
    cdef pkt_t *p
    if pool.nfree == 0:
        pool.alloc_failures += 1
        return NULL
    pool.nfree -= 1
    p = pool.free_stack[pool.nfree]
    p.data = p.buf + PKT_HEADROOM
    p.len = 0
    p.port = 0
    p.tstamp_ns = 0
    return p


cdef inline void pool_free(pkt_pool_t *pool, pkt_t *p) noexcept nogil:
    pool.free_stack[pool.nfree] = p
    pool.nfree += 1


cdef inline uint32_t pkt_tailroom(const pkt_t *p) noexcept nogil:
    return <uint32_t>(p.buf + p.buf_size - (p.data + p.len))


cdef pkt_t *pkt_clone(pkt_pool_t *pool, const pkt_t *src) noexcept nogil


cdef class PacketPool:
    cdef pkt_pool_t pool
    cdef object _mem_owner      # keeps externally provided (e.g. DMA or UMEM) memory alive
