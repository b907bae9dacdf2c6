# PACKET_MMAP port: one AF_PACKET socket with a TPACKET_V3 RX ring and a TX ring, both mapped
# into the process (Linux Documentation/networking/packet_mmap.rst). RX frames are copied from
# the ring into pool buffers; TX buffers are copied into ring slots and handed to the kernel with
# one sendto per batch.

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from target.driver.port cimport Port, port_stats_t
from target.packet cimport pkt_pool_t


cdef struct afp_state_t:
    int fd                      # the AF_PACKET socket; -1 when closed
    pkt_pool_t *pool            # rx_batch allocates from it, tx_batch frees to it
    port_stats_t *stats         # the port's counters
    uint8_t *ring               # one mapping: RX blocks first, then TX frames
    size_t ring_len             # bytes mapped
    # RX: tp_block_nr blocks of rx_block_size bytes; the kernel hands a whole block to user
    # space (TP_STATUS_USER) when it is full or its retire timer fires; we give it back
    # (TP_STATUS_KERNEL) once every packet in it has been copied out.
    uint32_t rx_block_size
    uint32_t rx_block_nr
    uint32_t rx_block           # block being read, or the next one to wait for
    uint8_t *rx_pkt             # next packet header in that block; NULL: block not yet ours
    uint32_t rx_left            # packets of the block not yet read
    uint32_t max_frame          # largest frame a pool buffer holds after the headroom
    # TX: tx_frame_nr fixed-size slots, used round robin.
    uint8_t *tx_ring
    uint32_t tx_frame_size
    uint32_t tx_frame_nr
    uint32_t tx_next            # next slot to fill
    uint32_t tx_data_offset     # where the frame bytes start inside a slot
    uint32_t tx_max             # largest frame sent: min(slot room, MTU + Ethernet header)


cdef class AfPacketPort(Port):
    cdef afp_state_t state
    cdef readonly str ifname
    cdef readonly int ifindex
    cdef readonly uint32_t block_size
    cdef readonly uint32_t block_count
    cdef readonly uint32_t tx_frames
    cdef readonly uint32_t retire_ms
    cdef uint64_t kernel_drops          # ring-full drops reported by PACKET_STATISTICS
    cdef readonly int fanout_id         # PACKET_FANOUT_HASH group of the port's sockets; -1: none
    cdef bint fanout_lead               # this socket creates the group (worker 0's)
    cdef AfPacketPort leader            # for a further worker's socket: the one that created it
    cdef void _release(self) noexcept
