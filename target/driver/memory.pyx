# cython: language_level=3
"""In-memory ports: MemoryGenerator (RX), MemorySink (TX), QueuePort (RX+TX from Python),
RelayPort/RelaySender (frames from one engine worker to another), and pump(), which moves
batches between two ports the way the engine loop does, minus the pipeline.
"""

from array import array

from libc.stdint cimport UINT64_MAX, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from target.clock cimport monotonic_ns
from target.driver.port cimport Port, port_rx_fn, port_stats_t, port_tx_fn
from target.packet cimport PacketPool, PKT_HEADROOM, pkt_pool_t, pkt_t, pool_alloc, pool_free

# The queue's two sides may run in different threads (engine loop and Python); these are the only
# orderings they need. Plain loads and stores elsewhere touch indices owned by the calling side.
cdef extern from *:
    """
    static inline uint64_t kv_load_acquire_u64(const uint64_t *p)
    { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void kv_store_release_u64(uint64_t *p, uint64_t v)
    { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline uint32_t kv_load_acquire_u32(const uint32_t *p)
    { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void kv_store_release_u32(uint32_t *p, uint32_t v)
    { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    static inline void kv_add_relaxed_u64(uint64_t *p, uint64_t v)
    { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
    /* A generated frame's copy: 33..64 bytes (the minimum-size frames of the benchmarks) as
       two overlapping 32-byte moves inline, where the libc call per frame cost more than the
       copy itself; every byte of the frame is still copied, and none past it. */
    static inline void kv_copy_frame(uint8_t *restrict d, const uint8_t *restrict s, uint32_t n)
    {
        if (n > 32 && n <= 64) {
            memcpy(d, s, 32);
            memcpy(d + n - 32, s + n - 32, 32);
        } else {
            memcpy(d, s, n);
        }
    }
    """
    uint64_t kv_load_acquire_u64(const uint64_t *p) noexcept nogil
    void kv_store_release_u64(uint64_t *p, uint64_t v) noexcept nogil
    uint32_t kv_load_acquire_u32(const uint32_t *p) noexcept nogil
    void kv_store_release_u32(uint32_t *p, uint32_t v) noexcept nogil
    void kv_add_relaxed_u64(uint64_t *p, uint64_t v) noexcept nogil
    void kv_copy_frame(uint8_t *d, const uint8_t *s, uint32_t n) noexcept nogil


cdef enum:
    PUMP_MAX_BATCH = 4096       # largest batch pump() accepts


# ---------------------------------------------------------------------------------------------
# MemoryGenerator

cdef int gen_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef gen_state_t *g = <gen_state_t *>opaque
    cdef uint64_t left = g.limit - g.sent
    cdef int want = max
    cdef int n = 0
    cdef uint32_t frame = g.next_frame
    cdef uint32_t value = g.next_rewrite
    cdef uint32_t length
    cdef uint64_t nbytes = 0
    cdef uint64_t now
    cdef pkt_t *p
    if left < <uint64_t>want:
        want = <int>left
    if want <= 0:
        return 0
    # One clock read per batch: the whole batch is "received" at the same instant.
    now = monotonic_ns()
    while n < want:
        p = pool_alloc(g.pool)
        if p == NULL:
            break
        length = g.frame_len[frame]
        kv_copy_frame(p.data, g.frame_bytes + g.frame_offset[frame], length)
        p.len = length
        p.tstamp_ns = now
        if g.rewrite:
            memcpy(p.data + g.rewrite_offset, g.rewrite_values + 4 * <size_t>value, 4)
            value += 1
            if value == g.nrewrite:
                value = 0
        frame += 1
        if frame == g.nframes:
            frame = 0
        nbytes += length
        pkts[n] = p
        n += 1
    g.next_frame = frame
    g.next_rewrite = value
    g.sent += <uint64_t>n
    g.stats.rx_packets += <uint64_t>n
    g.stats.rx_bytes += nbytes
    return n


cdef class MemoryGenerator(Port):
    """RX-only port that emits copies of template frames round robin.

    `count` packets in total (None: no end). With `rewrite_offset`, packet i carries
    rewrite_values[i % len(rewrite_values)] as a big-endian 32-bit value at that byte offset,
    e.g. a random IPv4 destination per packet for lookup benchmarks. `rewrite_values` is any
    buffer of uint32 (array('I'), a NumPy uint32 array) or an iterable of ints.
    """

    def __init__(self, frames: list[bytes], count: int | None = None,
                 rewrite_offset: int | None = None, rewrite_values: object = None) -> None:
        cdef const uint32_t[::1] values
        cdef uint32_t i, v
        cdef size_t total = 0
        cdef size_t pos = 0
        cdef const uint8_t[::1] frame_view
        templates = [bytes(f) for f in frames]
        if not templates:
            raise ValueError("MemoryGenerator needs at least one template frame")
        if any(len(f) == 0 for f in templates):
            raise ValueError("template frames must not be empty")
        if count is not None and count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        if (rewrite_offset is None) != (rewrite_values is None):
            raise ValueError("rewrite_offset and rewrite_values go together")
        shortest = min(len(f) for f in templates)
        if rewrite_offset is not None and not 0 <= rewrite_offset <= shortest - 4:
            raise ValueError(f"rewrite_offset {rewrite_offset} does not leave 4 bytes inside "
                             f"the shortest template ({shortest} bytes)")
        self._release()
        self._templates = templates
        self.name = "memory:generator"
        for f in templates:
            total += len(f)
        self.state.nframes = len(templates)
        self.state.frame_bytes = <uint8_t *>malloc(total)
        self.state.frame_offset = <uint32_t *>malloc(self.state.nframes * sizeof(uint32_t))
        self.state.frame_len = <uint32_t *>malloc(self.state.nframes * sizeof(uint32_t))
        if (self.state.frame_bytes == NULL or self.state.frame_offset == NULL
                or self.state.frame_len == NULL):
            self._release()
            raise MemoryError("cannot allocate the generator's templates")
        for i in range(self.state.nframes):
            frame_view = templates[i]
            memcpy(self.state.frame_bytes + pos, &frame_view[0], frame_view.shape[0])
            self.state.frame_offset[i] = <uint32_t>pos
            self.state.frame_len[i] = <uint32_t>frame_view.shape[0]
            pos += frame_view.shape[0]
        self.state.limit = UINT64_MAX if count is None else <uint64_t>count
        if rewrite_offset is not None:
            try:
                values = rewrite_values
            except (TypeError, ValueError, BufferError):
                values = array("I", rewrite_values)
            if values.shape[0] == 0:
                self._release()
                raise ValueError("rewrite_values is empty")
            self.state.rewrite = True
            self.state.rewrite_offset = <uint32_t>rewrite_offset
            self.state.nrewrite = <uint32_t>values.shape[0]
            self.state.rewrite_values = <uint8_t *>malloc(4 * <size_t>self.state.nrewrite)
            if self.state.rewrite_values == NULL:
                self._release()
                raise MemoryError("cannot allocate the rewrite values")
            for i in range(self.state.nrewrite):
                v = values[i]
                self.state.rewrite_values[4 * i] = <uint8_t>(v >> 24)
                self.state.rewrite_values[4 * i + 1] = <uint8_t>(v >> 16)
                self.state.rewrite_values[4 * i + 2] = <uint8_t>(v >> 8)
                self.state.rewrite_values[4 * i + 3] = <uint8_t>v

    cdef void _release(self) noexcept:
        free(self.state.frame_bytes)
        free(self.state.frame_offset)
        free(self.state.frame_len)
        free(self.state.rewrite_values)
        self.state.frame_bytes = NULL
        self.state.frame_offset = NULL
        self.state.frame_len = NULL
        self.state.rewrite_values = NULL
        self.state.rewrite = False
        self.state.nframes = 0
        self.state.nrewrite = 0
        self.state.next_frame = 0
        self.state.next_rewrite = 0
        self.state.sent = 0

    def __dealloc__(self):
        self._release()

    def open(self, PacketPool pool) -> None:
        longest = max(len(f) for f in self._templates)
        if longest > pool.max_frame:
            raise ValueError(f"template of {longest} bytes exceeds the pool's largest frame "
                             f"({pool.max_frame} bytes)")
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.ops.rx_batch = gen_rx_batch
        self.ops.tx_batch = NULL
        self.ops.state = &self.state

    @property
    def sent(self) -> int:
        """Packets emitted so far."""
        return self.state.sent

    @property
    def remaining(self) -> int | None:
        """Packets still to emit, or None when the generator has no end."""
        if self.state.limit == UINT64_MAX:
            return None
        return self.state.limit - self.state.sent


# ---------------------------------------------------------------------------------------------
# MemorySink

cdef int sink_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef sink_state_t *s = <sink_state_t *>opaque
    cdef int i
    cdef uint64_t nbytes = 0
    cdef uint32_t slot = s.captured
    cdef uint32_t length
    cdef pkt_t *p
    for i in range(n):
        p = pkts[i]
        nbytes += p.len
        if slot < s.capture_limit:
            length = p.len if p.len <= s.capture_slot else s.capture_slot
            memcpy(s.capture_bytes + <size_t>slot * s.capture_slot, p.data, length)
            s.capture_len[slot] = length
            slot += 1
        pool_free(s.pool, p)
    if slot != s.captured:
        kv_store_release_u32(&s.captured, slot)
    s.stats.tx_packets += <uint64_t>n
    s.stats.tx_bytes += nbytes
    return n


cdef class MemorySink(Port):
    """TX-only port that counts and frees what it is given, keeping copies of the first
    `capture` frames for frames(). The copies live in a C buffer sized at open() to
    capture * pool.buf_size bytes, so frames that grew into the headroom still fit."""

    def __init__(self, capture: int = 0) -> None:
        if capture < 0:
            raise ValueError(f"capture must be >= 0, got {capture}")
        self.capture_request = capture
        self.name = "memory:sink"

    def __dealloc__(self):
        free(self.state.capture_bytes)
        free(self.state.capture_len)

    def open(self, PacketPool pool) -> None:
        cdef uint32_t slot = pool.buf_size
        free(self.state.capture_bytes)
        free(self.state.capture_len)
        self.state.capture_bytes = NULL
        self.state.capture_len = NULL
        self.state.capture_limit = 0
        self.state.captured = 0
        if self.capture_request:
            self.state.capture_bytes = <uint8_t *>malloc(<size_t>self.capture_request * slot)
            self.state.capture_len = <uint32_t *>calloc(self.capture_request, sizeof(uint32_t))
            if self.state.capture_bytes == NULL or self.state.capture_len == NULL:
                raise MemoryError(f"cannot allocate room to capture {self.capture_request} "
                                  f"frames of {slot} bytes")
            self.state.capture_limit = self.capture_request
            self.state.capture_slot = slot
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.ops.rx_batch = NULL
        self.ops.tx_batch = sink_tx_batch
        self.ops.state = &self.state

    def frames(self) -> list[bytes]:
        """Copies of the first `capture` frames transmitted since open() or clear()."""
        cdef uint32_t count = kv_load_acquire_u32(&self.state.captured)
        cdef uint32_t i
        cdef char *base
        out = []
        for i in range(count):
            base = <char *>self.state.capture_bytes + <size_t>i * self.state.capture_slot
            out.append(base[:self.state.capture_len[i]])
        return out

    def clear(self) -> None:
        """Forget captured frames and zero the counters. Call it while no traffic flows: the
        counters belong to the thread that transmits."""
        self.state.captured = 0
        self.c_stats.tx_packets = 0
        self.c_stats.tx_bytes = 0
        self.c_stats.tx_dropped = 0

    @property
    def packets(self) -> int:
        return self.c_stats.tx_packets

    @property
    def bytes(self) -> int:
        return self.c_stats.tx_bytes


# ---------------------------------------------------------------------------------------------
# QueuePort

cdef int ring_init(frame_ring_t *ring, uint32_t capacity, uint32_t slot_size) noexcept:
    ring.slots = <uint8_t *>malloc(<size_t>capacity * slot_size)
    ring.lengths = <uint32_t *>calloc(capacity, sizeof(uint32_t))
    ring.capacity = capacity
    ring.slot_size = slot_size
    ring.head = 0
    ring.tail = 0
    return 0 if ring.slots != NULL and ring.lengths != NULL else -1


cdef void ring_release(frame_ring_t *ring) noexcept:
    free(ring.slots)
    free(ring.lengths)
    ring.slots = NULL
    ring.lengths = NULL


cdef inline uint8_t *ring_slot(frame_ring_t *ring, uint64_t index) noexcept nogil:
    return ring.slots + <size_t>(index % ring.capacity) * ring.slot_size


cdef int ring_receive(frame_ring_t *ring, pkt_pool_t *pool, port_stats_t *stats, pkt_t **pkts,
                      int max) noexcept nogil:
    """The consumer side: up to max frames out of the ring into buffers of pool."""
    cdef uint64_t head = ring.head
    cdef uint64_t tail = kv_load_acquire_u64(&ring.tail)
    cdef uint32_t max_frame = pool.buf_size - PKT_HEADROOM
    cdef uint32_t length
    cdef uint64_t nbytes = 0
    cdef uint64_t now = 0
    cdef int n = 0
    cdef pkt_t *p
    if head == tail:
        return 0
    now = monotonic_ns()
    while n < max and head != tail:
        length = ring.lengths[head % ring.capacity]
        if length > max_frame:
            kv_add_relaxed_u64(&stats.rx_dropped, 1)
            head += 1
            continue
        p = pool_alloc(pool)
        if p == NULL:
            break           # leave the frame queued; the next batch may find a free buffer
        memcpy(p.data, ring_slot(ring, head), length)
        p.len = length
        p.tstamp_ns = now
        pkts[n] = p
        n += 1
        nbytes += length
        head += 1
    kv_store_release_u64(&ring.head, head)
    stats.rx_packets += <uint64_t>n
    stats.rx_bytes += nbytes
    return n


cdef int ring_send(frame_ring_t *ring, pkt_pool_t *pool, port_stats_t *stats, pkt_t **pkts,
                   int n) noexcept nogil:
    """The producer side: copy n packets into the ring (dropping what does not fit) and give
    their buffers back to pool."""
    cdef uint64_t tail = ring.tail
    cdef uint64_t head = kv_load_acquire_u64(&ring.head)
    cdef uint64_t sent = 0
    cdef uint64_t nbytes = 0
    cdef uint64_t dropped = 0
    cdef int i
    cdef pkt_t *p
    for i in range(n):
        p = pkts[i]
        if tail - head >= ring.capacity:
            head = kv_load_acquire_u64(&ring.head)      # the reader may have caught up
        if tail - head >= ring.capacity or p.len > ring.slot_size:
            dropped += 1
        else:
            memcpy(ring_slot(ring, tail), p.data, p.len)
            ring.lengths[tail % ring.capacity] = p.len
            tail += 1
            sent += 1
            nbytes += p.len
        pool_free(pool, p)
    kv_store_release_u64(&ring.tail, tail)
    stats.tx_packets += sent
    stats.tx_bytes += nbytes
    stats.tx_dropped += dropped
    return n


cdef int queue_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef queue_state_t *q = <queue_state_t *>opaque
    return ring_receive(&q.rx_ring, q.pool, q.stats, pkts, max)


cdef int queue_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef queue_state_t *q = <queue_state_t *>opaque
    return ring_send(&q.tx_ring, q.pool, q.stats, pkts, n)


cdef class QueuePort(Port):
    """RX+TX port that Python feeds with push() and drains with pop_all().

    Both directions are bounded rings of `capacity` frame slots of `max_frame` bytes, safe to
    use while the engine runs in another thread. push() copies the frame into the RX ring at
    once (the pool belongs to the engine thread, so the pool buffer is taken in rx_batch);
    tx_batch copies each packet into the TX ring and frees the buffer immediately. A full RX ring
    refuses the frame (push returns False, rx_dropped counts it); a full TX ring drops the
    packet (tx_dropped). Nothing ever blocks.
    """

    def __init__(self, capacity: int = 1024, max_frame: int = 2560) -> None:
        if capacity <= 0 or capacity > 1 << 24:
            raise ValueError(f"capacity must be in 1..{1 << 24}, got {capacity}")
        if max_frame <= 0:
            raise ValueError(f"max_frame must be positive, got {max_frame}")
        ring_release(&self.state.rx_ring)
        ring_release(&self.state.tx_ring)
        if (ring_init(&self.state.rx_ring, capacity, max_frame) != 0
                or ring_init(&self.state.tx_ring, capacity, max_frame) != 0):
            raise MemoryError(f"cannot allocate two rings of {capacity} x {max_frame} bytes")
        self.name = "memory:queue"

    def __dealloc__(self):
        ring_release(&self.state.rx_ring)
        ring_release(&self.state.tx_ring)

    def open(self, PacketPool pool) -> None:
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.ops.rx_batch = queue_rx_batch
        self.ops.tx_batch = queue_tx_batch
        self.ops.state = &self.state

    def push(self, const uint8_t[::1] frame) -> bool:
        """Queue a frame for reception; False (and rx_dropped + 1) when the ring is full."""
        cdef frame_ring_t *ring = &self.state.rx_ring
        cdef uint32_t length = <uint32_t>frame.shape[0]
        cdef uint64_t tail = ring.tail
        if frame.shape[0] == 0:
            raise ValueError("cannot queue an empty frame")
        if <size_t>frame.shape[0] > ring.slot_size:
            raise ValueError(f"frame of {frame.shape[0]} bytes exceeds the queue's slots "
                             f"({ring.slot_size} bytes)")
        if tail - kv_load_acquire_u64(&ring.head) >= ring.capacity:
            kv_add_relaxed_u64(&self.c_stats.rx_dropped, 1)
            return False
        memcpy(ring_slot(ring, tail), &frame[0], length)
        ring.lengths[tail % ring.capacity] = length
        kv_store_release_u64(&ring.tail, tail + 1)
        return True

    def pop_all(self) -> list[bytes]:
        """Every frame transmitted since the last call, oldest first."""
        cdef frame_ring_t *ring = &self.state.tx_ring
        cdef uint64_t head = ring.head
        cdef uint64_t tail = kv_load_acquire_u64(&ring.tail)
        out = []
        while head != tail:
            out.append((<char *>ring_slot(ring, head))[:ring.lengths[head % ring.capacity]])
            head += 1
        kv_store_release_u64(&ring.head, head)
        return out

    @property
    def capacity(self) -> int:
        return self.state.rx_ring.capacity

    @property
    def rx_pending(self) -> int:
        """Frames pushed and not yet received."""
        return kv_load_acquire_u64(&self.state.rx_ring.tail) - self.state.rx_ring.head

    @property
    def tx_pending(self) -> int:
        """Frames transmitted and not yet popped."""
        return self.state.tx_ring.tail - self.state.tx_ring.head


# ---------------------------------------------------------------------------------------------
# RelayPort / RelaySender

cdef int relay_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef relay_state_t *r = <relay_state_t *>opaque
    return ring_receive(r.ring, r.pool, r.stats, pkts, max)


cdef int relay_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef relay_state_t *r = <relay_state_t *>opaque
    return ring_send(r.ring, r.pool, r.stats, pkts, n)


cdef class RelayPort(Port):
    """The receiving end of a hand-off between two engine workers: frames one worker transmits
    to a port that another worker owns (a pcap file, a memory port: one writer only) travel
    through this single-producer single-consumer ring. The sender (sender(), opened on the
    sending worker's pool) copies each frame into the ring and frees its buffer at once; this
    end, opened on the owner's pool, receives them into the owner's buffers. Neither side
    takes a lock or waits; a full ring drops the frame (the sender's tx_dropped)."""

    def __init__(self, capacity: int = 4096, max_frame: int = 2560) -> None:
        if capacity <= 0 or capacity > 1 << 24:
            raise ValueError(f"capacity must be in 1..{1 << 24}, got {capacity}")
        if max_frame <= 0:
            raise ValueError(f"max_frame must be positive, got {max_frame}")
        ring_release(&self.ring)
        if ring_init(&self.ring, capacity, max_frame) != 0:
            raise MemoryError(f"cannot allocate a ring of {capacity} x {max_frame} bytes")
        self.name = "memory:relay"

    def __dealloc__(self):
        ring_release(&self.ring)

    def open(self, PacketPool pool) -> None:
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.state.ring = &self.ring
        self.ops.rx_batch = relay_rx_batch
        self.ops.tx_batch = NULL
        self.ops.state = &self.state

    def sender(self) -> RelaySender:
        """The sending end (unopened: open it on the sending worker's pool)."""
        return RelaySender(self)

    @property
    def pending(self) -> int:
        """Frames sent and not yet received."""
        return kv_load_acquire_u64(&self.ring.tail) - kv_load_acquire_u64(&self.ring.head)


cdef class RelaySender(Port):
    """The sending end of a RelayPort (see there)."""

    def __init__(self, RelayPort receiver) -> None:
        self.receiver = receiver
        self.name = "memory:relay-sender"

    def open(self, PacketPool pool) -> None:
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.state.ring = &self.receiver.ring
        self.ops.rx_batch = NULL
        self.ops.tx_batch = relay_tx_batch
        self.ops.state = &self.state


# ---------------------------------------------------------------------------------------------
# pump

def pump(Port src, Port dst=None, int batch=32, max_packets: int | None = None) -> int:
    """Move batches from src's rx_batch to dst's tx_batch (or back to the pool when dst is None)
    until src has nothing more or max_packets have moved; return how many moved.

    The engine loop without a pipeline: tests use it to drive ports, benchmarks to time them.
    Give max_packets for a source that never runs dry (a generator without count, a looping
    pcap reader).
    """
    cdef port_rx_fn rx
    cdef port_tx_fn tx = NULL
    cdef void *rx_state
    cdef void *tx_state = NULL
    cdef pkt_pool_t *pool
    cdef pkt_t **pkts
    cdef uint64_t limit = UINT64_MAX if max_packets is None else <uint64_t>max_packets
    cdef uint64_t moved = 0
    cdef uint64_t want
    cdef int n, i
    # Ports are checked by their ops, as the engine sees them, not by is_open: a closed port
    # that is still wired keeps receiving calls and must cope (drop and count).
    if src.ops.rx_batch == NULL or src.c_pool == NULL:
        raise ValueError(f"{src.name or type(src).__name__} is not an open RX port")
    if dst is not None:
        if dst.ops.tx_batch == NULL or dst.c_pool == NULL:
            raise ValueError(f"{dst.name or type(dst).__name__} is not an open TX port")
        if dst.c_pool != src.c_pool:
            raise ValueError("both ports must be opened on the same packet pool")
        tx = dst.ops.tx_batch
        tx_state = dst.ops.state
    if not 0 < batch <= PUMP_MAX_BATCH:
        raise ValueError(f"batch must be in 1..{PUMP_MAX_BATCH}, got {batch}")
    if max_packets is not None and max_packets < 0:
        raise ValueError(f"max_packets must be >= 0, got {max_packets}")
    rx = src.ops.rx_batch
    rx_state = src.ops.state
    pool = src.c_pool
    pkts = <pkt_t **>malloc(batch * sizeof(pkt_t *))
    if pkts == NULL:
        raise MemoryError()
    with nogil:
        while moved < limit:
            want = limit - moved
            if want > <uint64_t>batch:
                want = <uint64_t>batch
            n = rx(rx_state, pkts, <int>want)
            if n <= 0:
                break
            if tx != NULL:
                tx(tx_state, pkts, n)
            else:
                for i in range(n):
                    pool_free(pool, pkts[i])
            moved += <uint64_t>n
    free(pkts)
    return moved
