# cython: language_level=3
"""Packet pool: preallocated buffers handed to drivers and the pipeline."""

cimport cython
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from target.packet cimport PKT_DEFAULT_BUF, PKT_HEADROOM, pkt_t


cdef pkt_t *pkt_clone(pkt_pool_t *pool, const pkt_t *src) noexcept nogil:
    """A copy of src (frame bytes and metadata) in a new buffer; NULL when the pool is empty."""
    cdef pkt_t *p = pool_alloc(pool)
    if p == NULL:
        return NULL
    if src.len > p.buf_size - PKT_HEADROOM:
        pool_free(pool, p)
        return NULL
    memcpy(p.data, src.data, src.len)
    p.len = src.len
    p.port = src.port
    p.tstamp_ns = src.tstamp_ns
    return p


# The garbage collector must not clear _mem_owner before __dealloc__ runs: __dealloc__ tells
# malloc'd from borrowed memory by it, and would free() a borrowed (mmap'ed) buffer.
@cython.no_gc_clear
cdef class PacketPool:
    """A fixed number of packet buffers of one size.

    `memory` may be a writable buffer (e.g. an AF_XDP UMEM or a hugepage DMA area) of at least
    capacity * buf_size bytes; the pool then carves its buffers out of it instead of malloc.
    """

    def __cinit__(self, uint32_t capacity=8192, uint32_t buf_size=PKT_DEFAULT_BUF,
                  object memory=None):
        cdef uint8_t[::1] view
        cdef uint32_t i
        if capacity == 0:
            raise ValueError("a packet pool needs at least one buffer")
        if buf_size <= PKT_HEADROOM + 64:
            raise ValueError(f"buffer size {buf_size} leaves no room after {PKT_HEADROOM} B headroom")
        memset(&self.pool, 0, sizeof(pkt_pool_t))
        self.pool.slots = <pkt_t *>malloc(capacity * sizeof(pkt_t))
        self.pool.free_stack = <pkt_t **>malloc(capacity * sizeof(pkt_t *))
        if memory is None:
            self.pool.mem = <uint8_t *>malloc(<size_t>capacity * buf_size)
            self._mem_owner = None
        else:
            view = memory
            if <size_t>view.shape[0] < <size_t>capacity * buf_size:
                raise ValueError("memory is smaller than capacity * buf_size")
            self.pool.mem = &view[0]
            self._mem_owner = memory
        if self.pool.slots == NULL or self.pool.free_stack == NULL or self.pool.mem == NULL:
            raise MemoryError("cannot allocate the packet pool")
        self.pool.capacity = capacity
        self.pool.buf_size = buf_size
        for i in range(capacity):
            self.pool.slots[i].buf = self.pool.mem + <size_t>i * buf_size
            self.pool.slots[i].buf_size = buf_size
            self.pool.slots[i].slot = i
            self.pool.slots[i].phys = 0
            self.pool.slots[i].data = self.pool.slots[i].buf + PKT_HEADROOM
            self.pool.slots[i].len = 0
            # Lowest slots on top of the stack: the first allocations touch the first pages.
            self.pool.free_stack[capacity - 1 - i] = &self.pool.slots[i]
        self.pool.nfree = capacity

    def __dealloc__(self):
        free(self.pool.slots)
        free(self.pool.free_stack)
        if self._mem_owner is None:
            free(self.pool.mem)

    @property
    def capacity(self) -> int:
        return self.pool.capacity

    @property
    def available(self) -> int:
        return self.pool.nfree

    @property
    def buf_size(self) -> int:
        return self.pool.buf_size

    @property
    def max_frame(self) -> int:
        """Largest frame a buffer holds when it starts at the standard headroom."""
        return self.pool.buf_size - PKT_HEADROOM

    @property
    def alloc_failures(self) -> int:
        return self.pool.alloc_failures
