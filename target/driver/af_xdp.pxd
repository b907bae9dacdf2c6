# AF_XDP port: one XDP socket on one queue of an interface, through libxdp's xsk API (the default
# redirect program, UMEM and ring setup). The UMEM is the engine's packet pool memory itself, so
# a received frame is already in the pool buffer the pipeline works on and a transmitted one is
# sent from where the pipeline left it: no copy inside kvick in either direction.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

from target.driver.port cimport Port, port_stats_t
from target.packet cimport pkt_pool_t

cdef extern from "<linux/bpf.h>" nogil:
    int XDP_PACKET_HEADROOM     # what the kernel keeps in front of a frame it writes to a chunk

cdef extern from "<linux/if_xdp.h>" nogil:
    int XDP_COPY
    int XDP_ZEROCOPY
    int XDP_USE_NEED_WAKEUP
    int XDP_UMEM_UNALIGNED_CHUNK_FLAG
    int XDP_OPTIONS
    int XDP_OPTIONS_ZEROCOPY
    int XDP_STATISTICS

    cdef struct xdp_desc:
        uint64_t addr
        uint32_t len
        uint32_t options

    cdef struct xdp_options:
        uint32_t flags

    cdef struct xdp_statistics:
        uint64_t rx_dropped
        uint64_t rx_invalid_descs
        uint64_t tx_invalid_descs
        uint64_t rx_ring_full
        uint64_t rx_fill_ring_empty_descs
        uint64_t tx_ring_empty_descs

cdef extern from "<xdp/xsk.h>" nogil:
    # Ring handles: their fields belong to libxdp's inline functions.
    cdef struct xsk_ring_prod:
        uint32_t size
    cdef struct xsk_ring_cons:
        uint32_t size
    cdef struct xsk_umem:
        pass
    cdef struct xsk_socket:
        pass

    cdef struct xsk_umem_config:
        uint32_t fill_size
        uint32_t comp_size
        uint32_t frame_size
        uint32_t frame_headroom
        uint32_t flags

    cdef struct xsk_socket_config:
        uint32_t rx_size
        uint32_t tx_size
        uint32_t libxdp_flags
        uint32_t xdp_flags
        uint16_t bind_flags

    uint64_t *xsk_ring_prod__fill_addr(xsk_ring_prod *fill, uint32_t idx)
    const uint64_t *xsk_ring_cons__comp_addr(const xsk_ring_cons *comp, uint32_t idx)
    xdp_desc *xsk_ring_prod__tx_desc(xsk_ring_prod *tx, uint32_t idx)
    const xdp_desc *xsk_ring_cons__rx_desc(const xsk_ring_cons *rx, uint32_t idx)
    int xsk_ring_prod__needs_wakeup(const xsk_ring_prod *r)
    uint32_t xsk_prod_nb_free(xsk_ring_prod *r, uint32_t nb)
    uint32_t xsk_ring_prod__reserve(xsk_ring_prod *prod, uint32_t nb, uint32_t *idx)
    void xsk_ring_prod__submit(xsk_ring_prod *prod, uint32_t nb)
    uint32_t xsk_ring_cons__peek(xsk_ring_cons *cons, uint32_t nb, uint32_t *idx)
    void xsk_ring_cons__release(xsk_ring_cons *cons, uint32_t nb)
    uint64_t xsk_umem__extract_addr(uint64_t addr)
    uint64_t xsk_umem__add_offset_to_addr(uint64_t addr)

    int xsk_umem__create(xsk_umem **umem, void *umem_area, uint64_t size, xsk_ring_prod *fill,
                         xsk_ring_cons *comp, const xsk_umem_config *config)
    int xsk_socket__create(xsk_socket **xsk, const char *ifname, uint32_t queue_id,
                           xsk_umem *umem, xsk_ring_cons *rx, xsk_ring_prod *tx,
                           const xsk_socket_config *config)
    int xsk_umem__delete(xsk_umem *umem)
    void xsk_socket__delete(xsk_socket *xsk)
    int xsk_socket__fd(const xsk_socket *xsk)


cdef struct xdp_state_t:
    int fd                      # the XDP socket's descriptor; -1 when closed
    pkt_pool_t *pool            # the UMEM's buffers; rx_batch and the fill ring take from it
    port_stats_t *stats         # the port's counters
    uint8_t *umem_base          # UMEM start: the pool memory rounded down to a page
    uint64_t mem_shift          # pool.mem - umem_base: UMEM offset of buffer 0
    uint32_t buf_size           # pool buffer size: UMEM offset -> buffer index
    uint32_t chunk_size         # UMEM chunk: the kernel writes at most this minus its headroom
    uint32_t tx_max             # largest frame sent: min(chunk, MTU + Ethernet header)
    uint32_t fill_target        # buffers kept in the fill ring (the kernel's RX supply)
    uint32_t in_fill            # buffers in the fill ring or being received into
    uint8_t *lent               # per pool buffer: 1 while the kernel owns it (fill or TX)
    xsk_ring_prod fill          # buffers we give the kernel to receive into
    xsk_ring_cons comp          # buffers the kernel has finished sending
    xsk_ring_cons rx            # received frames
    xsk_ring_prod tx            # frames to send


cdef class AfXdpPort(Port):
    cdef xdp_state_t state
    cdef xsk_umem *umem
    cdef xsk_socket *xsk
    cdef readonly str ifname
    cdef readonly int queue
    cdef readonly bint queue_given      # xdp:IF@Q: this queue only, never one per worker
    cdef readonly uint32_t ring_size
    cdef readonly str mode              # "zero-copy" or "copy", as the kernel reports after bind
    cdef set _bpf_fds                   # BPF descriptors libxdp opened for this socket
    cdef void _release(self) noexcept
