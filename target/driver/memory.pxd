# In-memory ports: a frame generator, a counting sink and a queue that Python fills and drains.
# They carry no hardware, so tests and benchmarks can run the engine on exactly known traffic.

from libc.stdint cimport uint8_t, uint32_t, uint64_t

from target.driver.port cimport Port, port_stats_t
from target.packet cimport pkt_pool_t


cdef struct gen_state_t:
    pkt_pool_t *pool            # where generated packets are allocated
    port_stats_t *stats         # the port's counters
    uint8_t *frame_bytes        # every template frame, back to back
    uint32_t *frame_offset      # start of template i in frame_bytes
    uint32_t *frame_len         # length of template i
    uint32_t nframes            # number of templates (at least one)
    uint32_t next_frame         # template of the next packet (round robin)
    uint64_t limit              # packets to emit in total; UINT64_MAX means no limit
    uint64_t sent               # packets emitted so far
    bint rewrite                # true when rewrite_offset applies
    uint32_t rewrite_offset     # byte offset of the 4-byte field rewritten in each packet
    uint8_t *rewrite_values     # nrewrite 4-byte values, already big-endian
    uint32_t nrewrite           # number of rewrite values
    uint32_t next_rewrite       # value for the next packet (packet i gets value i % nrewrite)


cdef struct sink_state_t:
    pkt_pool_t *pool            # where transmitted packets are returned
    port_stats_t *stats         # the port's counters (tx_packets, tx_bytes)
    uint8_t *capture_bytes      # capture_limit slots of capture_slot bytes
    uint32_t *capture_len       # length of the frame kept in each slot
    uint32_t capture_slot       # bytes per slot: the pool's whole buffer size
    uint32_t capture_limit      # how many frames to keep
    uint32_t captured           # slots filled; published with release order for frames()


cdef struct frame_ring_t:
    # A single-producer single-consumer ring of fixed-size frame slots. head and tail run free
    # (never wrap); slot = index % capacity. Each index is written by one side only and read by
    # the other with acquire order, so the two sides may run in different threads.
    uint8_t *slots              # capacity * slot_size bytes
    uint32_t *lengths           # frame length held in each slot
    uint32_t capacity           # number of slots
    uint32_t slot_size          # largest frame a slot holds
    uint64_t head               # next slot the consumer reads; written by the consumer only
    uint64_t tail               # next slot the producer fills; written by the producer only


cdef struct queue_state_t:
    pkt_pool_t *pool            # where rx_batch allocates and tx_batch frees
    port_stats_t *stats         # the port's counters; rx_dropped is updated atomically
    frame_ring_t rx_ring        # producer: push() (Python); consumer: rx_batch (engine)
    frame_ring_t tx_ring        # producer: tx_batch (engine); consumer: pop_all() (Python)


cdef class MemoryGenerator(Port):
    cdef gen_state_t state
    cdef object _templates      # the template frames as given, checked against the pool at open
    cdef void _release(self) noexcept


cdef class MemorySink(Port):
    cdef sink_state_t state
    cdef uint32_t capture_request


cdef class QueuePort(Port):
    cdef queue_state_t state


cdef struct relay_state_t:
    pkt_pool_t *pool            # the side's own pool: the sender frees to it, the receiver allocates
    port_stats_t *stats         # the side's counters
    frame_ring_t *ring          # the ring both sides share (owned by the RelayPort)


cdef class RelayPort(Port):
    cdef frame_ring_t ring
    cdef relay_state_t state


cdef class RelaySender(Port):
    cdef relay_state_t state
    cdef RelayPort receiver     # keeps the ring alive
