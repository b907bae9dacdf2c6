# cython: language_level=3
"""The per-packet path of the Intel driver: RX harvest and refill, TX fill and completion reclaim.

Everything here runs without the GIL on C structs. Python (device.py) sets the rings up and
hands over plain addresses; these functions only touch descriptor memory, packet buffers and the
tail registers, once per burst.

Two buffer modes:
- zero copy, when every buffer of the engine's pool has a bus address (the pool was carved from
  DMA memory): RX descriptors point at pool packets, TX descriptors at the packet being sent;
- copy, for an ordinary pool: each ring owns DMA buffers and frames are copied in and out.
"""

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from target.driver.port cimport Port
from target.packet cimport PKT_HEADROOM, PacketPool, pkt_t, pool_alloc, pool_free


cdef extern from "mmio.h" nogil:
    uint32_t kv_reg_read(const uint8_t *bar, uint32_t off)
    void kv_reg_write(uint8_t *bar, uint32_t off, uint32_t value)
    uint32_t kv_desc_status(const uint8_t *desc, uint32_t off)
    uint16_t kv_desc_u16(const uint8_t *desc, uint32_t off)
    void kv_desc_put64(uint8_t *desc, uint32_t off, uint64_t value)
    void kv_desc_put32(uint8_t *desc, uint32_t off, uint32_t value)

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec *ts)
    int CLOCK_MONOTONIC

# Advanced descriptor fields (82576 datasheet 7.1.5 / 7.2.2.3, 82599 datasheet 7.1.6 / 7.2.3.2.4:
# the same positions on both families).
cdef enum:
    RXD_STAT_DD = 1 << 0
    RXD_STAT_EOP = 1 << 1
    RXD_WB_STATUS = 8           # write-back: status_error u32 at +8, length u16 at +12
    RXD_WB_LENGTH = 12
    TXD_DTYP_DATA = 3 << 20
    TXD_EOP = 1 << 24
    TXD_IFCS = 1 << 25
    TXD_RS = 1 << 27
    TXD_DEXT = 1 << 29
    TXD_PAYLEN_SHIFT = 14
    TXD_WB_STATUS = 12
    TXD_STAT_DD = 1 << 0


cdef inline uint64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000000000 + <uint64_t>ts.tv_nsec


cdef inline void rx_arm(intel_rxq_t *q, uint32_t i) noexcept nogil:
    """Give descriptor i back to the device (pkt_addr, and hdr_addr 0, which also clears DD)."""
    cdef uint8_t *d = q.desc + <size_t>i * INTEL_DESC_SIZE
    if q.bounce == NULL:
        kv_desc_put64(d, 0, q.bufs[i].phys + PKT_HEADROOM)
    else:
        kv_desc_put64(d, 0, q.bounce_bus + <uint64_t>i * q.bounce_size)
    kv_desc_put64(d, 8, 0)


cdef int rx_queue_harvest(intel_port_t *s, intel_rxq_t *q, pkt_t **pkts, int max,
                          uint64_t now) noexcept nogil:
    cdef uint32_t i = q.next
    cdef uint32_t mask = q.size - 1
    cdef uint32_t status, length, seen = 0
    cdef uint32_t room = s.pool.buf_size - PKT_HEADROOM
    cdef uint64_t nbytes = 0
    cdef int n = 0
    cdef uint8_t *d
    cdef pkt_t *p
    cdef pkt_t *fresh
    while n < max:
        d = q.desc + <size_t>i * INTEL_DESC_SIZE
        status = kv_desc_status(d, RXD_WB_STATUS)
        if not (status & RXD_STAT_DD):
            break
        length = kv_desc_u16(d, RXD_WB_LENGTH)
        if not (status & RXD_STAT_EOP):
            # A frame larger than one buffer: drop all its pieces, count it once at the end.
            q.discarding = 1
        elif q.discarding:
            q.discarding = 0
            s.stats.rx_errors += 1
        elif status & s.err_mask or length == 0 or length > room:
            s.stats.rx_errors += 1
        elif q.bounce == NULL:
            fresh = pool_alloc(s.pool)
            if fresh == NULL:
                s.stats.rx_dropped += 1      # keep the old buffer armed: no hole in the ring
            else:
                p = q.bufs[i]
                p.data = p.buf + PKT_HEADROOM
                p.len = length
                p.port = 0
                p.tstamp_ns = now
                pkts[n] = p
                n += 1
                nbytes += length
                q.bufs[i] = fresh
        else:
            p = pool_alloc(s.pool)
            if p == NULL:
                s.stats.rx_dropped += 1
            else:
                memcpy(p.data, q.bounce + <size_t>i * q.bounce_size, length)
                p.len = length
                p.tstamp_ns = now
                pkts[n] = p
                n += 1
                nbytes += length
        rx_arm(q, i)
        i = (i + 1) & mask
        seen += 1
    if seen:
        q.next = i
        # The descriptor just before `next` is the one the device must not use yet: RDT points
        # at it, so head == tail never means "all free" and "all used" at once.
        kv_reg_write(s.bar, q.tail_off, (i - 1) & mask)
        q.packets += <uint64_t>n
        if q.bounce != NULL:
            s.rx_copied += <uint64_t>n
        s.stats.rx_packets += <uint64_t>n
        s.stats.rx_bytes += nbytes
    return n


cdef int intel_rx_batch(void *state, pkt_t **pkts, int max) noexcept nogil:
    cdef intel_port_t *s = <intel_port_t *>state
    cdef uint32_t k, qi
    cdef int n = 0
    cdef uint64_t now
    if s.dead or s.nrx == 0:
        return 0
    now = now_ns()
    for k in range(s.nrx):
        if n >= max:
            break
        qi = (s.rx_start + k) % s.nrx
        n += rx_queue_harvest(s, &s.rxq[qi], pkts + n, max - n, now)
    s.rx_start = (s.rx_start + 1) % s.nrx
    return n


cdef uint32_t intel_tx_reclaim(intel_port_t *s) noexcept nogil:
    """Return the buffers of descriptors the device has sent (DD written back)."""
    cdef intel_txq_t *q = &s.txq
    cdef uint32_t mask = q.size - 1
    cdef uint32_t freed = 0
    while q.clean != q.tail:
        if not (kv_desc_status(q.desc + <size_t>q.clean * INTEL_DESC_SIZE, TXD_WB_STATUS)
                & TXD_STAT_DD):
            break
        if q.bounce == NULL:
            pool_free(s.pool, q.bufs[q.clean])
            q.bufs[q.clean] = NULL
        q.clean = (q.clean + 1) & mask
        freed += 1
    return freed


cdef int intel_tx_batch(void *state, pkt_t **pkts, int n) noexcept nogil:
    cdef intel_port_t *s = <intel_port_t *>state
    cdef intel_txq_t *q = &s.txq
    cdef uint32_t mask = q.size - 1
    cdef uint32_t sent = 0, dropped = 0, length
    cdef uint64_t nbytes = 0, addr
    cdef uint8_t *d
    cdef pkt_t *p
    cdef int i
    cdef bint usable = not s.dead and s.link_up and q.desc != NULL
    if usable:
        intel_tx_reclaim(s)
    for i in range(n):
        p = pkts[i]
        length = p.len
        if (not usable or length == 0 or length > s.max_tx
                or ((q.tail + 1) & mask) == q.clean
                or (q.bounce == NULL and p.phys == 0)):
            dropped += 1
            pool_free(s.pool, p)
            continue
        d = q.desc + <size_t>q.tail * INTEL_DESC_SIZE
        if q.bounce == NULL:
            addr = p.phys + <uint64_t>(p.data - p.buf)
            q.bufs[q.tail] = p
        else:
            addr = q.bounce_bus + <uint64_t>q.tail * q.bounce_size
            memcpy(q.bounce + <size_t>q.tail * q.bounce_size, p.data, length)
            pool_free(s.pool, p)
            s.tx_copied += 1
        kv_desc_put64(d, 0, addr)
        # RS on every descriptor: completion is then visible per packet, and reclaim is a
        # simple walk. (Real hardware would save write-backs with RS every N descriptors.)
        kv_desc_put32(d, 8, length | TXD_DTYP_DATA | TXD_EOP | TXD_IFCS | TXD_RS | TXD_DEXT)
        kv_desc_put32(d, 12, length << TXD_PAYLEN_SHIFT)
        q.tail = (q.tail + 1) & mask
        sent += 1
        nbytes += length
    if sent:
        kv_reg_write(s.bar, q.tail_off, q.tail)
    s.stats.tx_packets += sent
    s.stats.tx_bytes += nbytes
    s.stats.tx_dropped += dropped
    return n


def assign_pool_bus_addresses(PacketPool pool, memory) -> None:
    """Give every buffer of `pool` (carved from `memory`, a DMA region with .virt, .size and
    .bus(offset)) its bus address, so the device can read and write it in place. A buffer whose
    bytes are not contiguous on the bus (it straddles two pages the device sees apart) is
    refused: pick a buffer size that divides the page size."""
    cdef uint32_t i
    cdef uint64_t base = <uint64_t>pool.pool.mem
    cdef uint64_t virt = memory.virt
    cdef uint64_t size = pool.pool.buf_size
    cdef uint64_t off, start, end
    if base < virt or base + <uint64_t>pool.pool.capacity * size > virt + <uint64_t>memory.size:
        raise ValueError("the packet pool's buffers are not inside this DMA memory")
    for i in range(pool.pool.capacity):
        off = <uint64_t>pool.pool.slots[i].buf - virt
        start = memory.bus(off)
        end = memory.bus(off + size - 1)
        if end - start != size - 1:
            raise ValueError(f"packet buffer {i} ({size} B at offset {off:#x}) is not contiguous "
                             f"in bus addresses; use a buffer size that divides the page size")
        pool.pool.slots[i].phys = start


def pool_has_bus_addresses(PacketPool pool) -> bool:
    """True when every buffer of the pool has a bus address (zero-copy capable)."""
    cdef uint32_t i
    for i in range(pool.pool.capacity):
        if pool.pool.slots[i].phys == 0:
            return False
    return True


cdef class IntelPort(Port):
    """One port of an Intel NIC, or one worker's share of it: the RSS receive queues it polls
    (hw_rx_queues) and one transmit queue (tx_queue) of its own.

    `device` (device.IntelDevice or a test double with the same methods) programs the chip; this
    class owns the rings. open(pool) uses zero copy when the pool's buffers have bus addresses,
    copy mode otherwise. With one engine worker, rx_batch polls all of the port's RX queues in
    turn. With N workers, worker_queues(N) makes the shares of workers 1..N-1: worker k polls
    queues k, k + N, ... and transmits on TX queue k, so no two threads touch one ring and a
    flow (hashed by RSS to one queue) stays on one worker.
    """

    def __init__(self, device, rx_queues=None, int ring_size=512, str name="", *,
                 lead=None, hw_queues=None, int tx_queue=0) -> None:
        self.queues_given = rx_queues is not None
        if hw_queues is None:
            count = 1 if rx_queues is None else rx_queues
            if not isinstance(count, int) or not 1 <= count <= INTEL_MAX_QUEUES:
                raise ValueError(f"rx_queues must be in 1..{INTEL_MAX_QUEUES}, got {count}")
            hw_queues = tuple(range(count))
        if ring_size < 8 or ring_size > 4096 or ring_size & (ring_size - 1):
            raise ValueError(f"ring_size must be a power of two in 8..4096, got {ring_size}")
        self.device = device
        self.hw_rx_queues = tuple(hw_queues)
        self.rx_queues = len(self.hw_rx_queues)
        self.tx_queue = tx_queue
        self.lead = lead
        self.ring_size = ring_size
        self.name = name or f"intel:{getattr(device, 'address', '?')}"
        self.st.dead = 1

    def worker_queues(self, int n) -> list:
        """The unopened shares of engine workers 1..n-1 (this port is worker 0's; open it
        first). The device spreads flows over max(n, rx_queues) RSS queues, queue q going to
        worker q % n; fewer queues than workers is refused."""
        if n <= 1:
            return []
        if self.lead is not None or self.is_open:
            raise RuntimeError(f"{self.name}: worker queues are made from the unopened port")
        total = self.rx_queues if self.queues_given else n
        if total < n:
            raise ValueError(f"{self.name} has {total} RX queue(s) and {n} workers need one "
                             f"each: give queues={n} or more, or leave queues= out")
        if n > INTEL_MAX_QUEUES:
            raise ValueError(f"{self.name}: at most {INTEL_MAX_QUEUES} workers can share one "
                             f"Intel port (one TX queue each), not {n}")
        self.hw_rx_queues = tuple(range(0, total, n))
        self.rx_queues = len(self.hw_rx_queues)
        return [IntelPort(self.device, None, self.ring_size, f"{self.name}@{k}", lead=self,
                          hw_queues=range(k, total, n), tx_queue=k) for k in range(1, n)]

    def __dealloc__(self):
        self._free_arrays()

    cdef void _free_arrays(self) noexcept:
        cdef uint32_t q
        for q in range(INTEL_MAX_QUEUES):
            free(self.st.rxq[q].bufs)
            self.st.rxq[q].bufs = NULL
        free(self.st.txq.bufs)
        self.st.txq.bufs = NULL

    def open(self, PacketPool pool) -> None:
        if self.is_open:
            raise RuntimeError(f"{self.name} is already open")
        Port.open(self, pool)
        self.st.pool = self.c_pool
        self.st.stats = self.ops.stats
        self.st.zero_copy = 1 if pool_has_bus_addresses(pool) else 0
        self.st.nrx = 0
        self._keep = []
        try:
            self.device.attach(self, pool)
        except BaseException:
            self._release_buffers()
            Port.close(self)
            raise
        self.st.dead = 0
        self.ops.rx_batch = intel_rx_batch
        self.ops.tx_batch = intel_tx_batch
        self.ops.state = &self.st

    def close(self) -> None:
        """Stop the queues and return every buffer the rings hold to the pool. The ops stay
        wired: a closed port returns no packets and drops (and counts) what it is given."""
        if not self.is_open:
            return
        self.st.dead = 1
        try:
            self.device.detach(self)
        finally:
            self._release_buffers()
            Port.close(self)

    def mark_device_gone(self) -> None:
        """The device stopped answering: stop touching it, drop all traffic."""
        self.st.dead = 1

    # -- called by the device while it sets the rings up ------------------------------------
    def _setup(self, uint64_t bar, uint32_t err_mask, uint32_t max_tx) -> None:
        self.st.bar = <uint8_t *>bar
        self.st.err_mask = err_mask
        self.st.max_tx = max_tx

    def _add_rx_queue(self, desc_mem, uint64_t desc_virt, uint32_t tail_off,
                      bounce_mem=None, uint64_t bounce_virt=0, uint64_t bounce_bus=0,
                      uint32_t bounce_size=0) -> int:
        """Fill a new RX ring (all descriptors armed, none handed over yet); returns its index."""
        cdef intel_rxq_t *q
        cdef uint32_t i
        cdef uint32_t n = self.ring_size
        if self.st.nrx >= INTEL_MAX_QUEUES:
            raise ValueError("too many RX queues")
        q = &self.st.rxq[self.st.nrx]
        free(q.bufs)
        q.bufs = <pkt_t **>calloc(n, sizeof(pkt_t *))
        if q.bufs == NULL:
            raise MemoryError()
        q.desc = <uint8_t *>desc_virt
        q.size = n
        q.next = 0
        q.tail_off = tail_off
        q.discarding = 0
        q.packets = 0
        if self.st.zero_copy:
            q.bounce = NULL
            if self.c_pool.nfree < n:
                raise ValueError(f"the packet pool has {self.c_pool.nfree} free buffers, "
                                 f"an RX ring of {n} needs more")
            for i in range(n):
                q.bufs[i] = pool_alloc(self.c_pool)
        else:
            if bounce_size < 1024 or bounce_virt == 0:
                raise ValueError("copy mode needs ring buffers of at least 1 KiB")
            q.bounce = <uint8_t *>bounce_virt
            q.bounce_bus = bounce_bus
            q.bounce_size = bounce_size
        for i in range(n):
            rx_arm(q, i)
        self._keep.append((desc_mem, bounce_mem))
        self.st.nrx += 1
        return self.st.nrx - 1

    def _set_tx_queue(self, desc_mem, uint64_t desc_virt, uint32_t tail_off,
                      bounce_mem=None, uint64_t bounce_virt=0, uint64_t bounce_bus=0,
                      uint32_t bounce_size=0) -> None:
        cdef intel_txq_t *q = &self.st.txq
        cdef uint32_t n = self.ring_size
        free(q.bufs)
        q.bufs = <pkt_t **>calloc(n, sizeof(pkt_t *))
        if q.bufs == NULL:
            raise MemoryError()
        q.desc = <uint8_t *>desc_virt
        q.size = n
        q.tail = 0
        q.clean = 0
        q.tail_off = tail_off
        if self.st.zero_copy:
            q.bounce = NULL
        else:
            if bounce_size < 1024 or bounce_virt == 0:
                raise ValueError("copy mode needs ring buffers of at least 1 KiB")
            q.bounce = <uint8_t *>bounce_virt
            q.bounce_bus = bounce_bus
            q.bounce_size = bounce_size
            if self.st.max_tx > bounce_size:
                self.st.max_tx = bounce_size
        self._keep.append((desc_mem, bounce_mem))

    def _hand_rx_to_device(self) -> None:
        """Write each RX tail: the device may now fill all descriptors but one."""
        cdef uint32_t q
        for q in range(self.st.nrx):
            kv_reg_write(self.st.bar, self.st.rxq[q].tail_off, self.st.rxq[q].size - 1)

    cdef void _release_buffers(self) noexcept:
        cdef uint32_t q, i
        if self.c_pool != NULL:
            for q in range(self.st.nrx):
                if self.st.rxq[q].bufs != NULL:
                    for i in range(self.st.rxq[q].size):
                        if self.st.rxq[q].bufs[i] != NULL:
                            pool_free(self.c_pool, self.st.rxq[q].bufs[i])
                            self.st.rxq[q].bufs[i] = NULL
            if self.st.txq.bufs != NULL:
                for i in range(self.st.txq.size):
                    if self.st.txq.bufs[i] != NULL:
                        pool_free(self.c_pool, self.st.txq.bufs[i])
                        self.st.txq.bufs[i] = NULL
        for q in range(INTEL_MAX_QUEUES):
            self.st.rxq[q].desc = NULL
            self.st.rxq[q].bounce = NULL
        self.st.nrx = 0
        self.st.txq.desc = NULL
        self.st.txq.bounce = NULL
        self.st.txq.tail = 0
        self.st.txq.clean = 0
        self._free_arrays()
        self._keep = None

    # -- Python views for tests, tools and the control plane --------------------------------
    def receive(self, int max=256) -> list[bytes]:
        """Harvest up to `max` frames through the C RX path and return copies (test helper)."""
        cdef pkt_t **pkts
        cdef int n, i
        if self.ops.rx_batch == NULL or max <= 0:
            return []
        pkts = <pkt_t **>calloc(max, sizeof(pkt_t *))
        if pkts == NULL:
            raise MemoryError()
        with nogil:
            n = intel_rx_batch(&self.st, pkts, max)
        out = [(<char *>pkts[i].data)[:pkts[i].len] for i in range(n)]
        for i in range(n):
            pool_free(self.c_pool, pkts[i])
        free(pkts)
        return out

    def send(self, frames) -> int:
        """Copy frames into pool packets and transmit them through the C TX path; returns how
        many the pool had buffers for (drops are counted in tx_dropped)."""
        cdef pkt_t **pkts
        cdef pkt_t *p
        cdef int n = 0, count, i
        cdef const uint8_t[::1] view
        if self.ops.tx_batch == NULL:
            raise ValueError(f"{self.name} is not open")
        frames = [bytes(f) for f in frames]
        count = len(frames)
        if count == 0:
            return 0
        pkts = <pkt_t **>calloc(count, sizeof(pkt_t *))
        if pkts == NULL:
            raise MemoryError()
        for i in range(count):
            view = frames[i]
            if view.shape[0] == 0 or <uint32_t>view.shape[0] > self.c_pool.buf_size - PKT_HEADROOM:
                continue
            p = pool_alloc(self.c_pool)
            if p == NULL:
                break
            memcpy(p.data, &view[0], view.shape[0])
            p.len = <uint32_t>view.shape[0]
            pkts[n] = p
            n += 1
        with nogil:
            intel_tx_batch(&self.st, pkts, n)
        free(pkts)
        return n

    def reclaim(self) -> int:
        """Reclaim sent TX descriptors now (tx_batch also does it before each burst)."""
        if self.st.txq.desc == NULL:
            return 0
        return intel_tx_reclaim(&self.st)

    def set_link(self, bint up) -> None:
        self.st.link_up = 1 if up else 0

    def link_state(self) -> bool:
        if not self.is_open or self.st.dead:
            return False
        up = bool(self.device.link_up())
        self.st.link_up = 1 if up else 0
        return up

    def queue_packets(self) -> list[int]:
        """Frames delivered per RX queue since open (in hw_rx_queues order)."""
        return [self.st.rxq[q].packets for q in range(self.st.nrx)]

    def tx_in_flight(self) -> int:
        return (self.st.txq.tail - self.st.txq.clean) & (self.st.txq.size - 1) if self.st.txq.size else 0

    @property
    def zero_copy(self) -> bool:
        return bool(self.st.zero_copy)

    @property
    def dead(self) -> bool:
        return bool(self.st.dead)

    def stats(self) -> dict[str, int]:
        """The driver's counters plus the NIC's own statistics registers (hw_*); frames the NIC
        had to drop for lack of RX descriptors count in rx_dropped too. rx_zero_copy and
        tx_zero_copy count the frames that went between the wire and pool buffers in place,
        rx_copied and tx_copied those copied through ring-owned buffers (copy mode)."""
        out = Port.stats(self)
        out["rx_copied"] = self.st.rx_copied
        out["rx_zero_copy"] = out["rx_packets"] - self.st.rx_copied
        out["tx_copied"] = self.st.tx_copied
        out["tx_zero_copy"] = out["tx_packets"] - self.st.tx_copied
        if self.is_open and not self.st.dead and self.lead is None:
            # The NIC's own counters are the interface's: reported once, by the lead port.
            hw = self.device.hardware_stats()
            for key, value in hw.items():
                out["hw_" + key] = value
            out["rx_dropped"] += hw.get("rx_missed", 0) + hw.get("rx_no_buffer", 0)
        return out


def mmio_read32(uint64_t bar, uint32_t off) -> int:
    """One 32-bit load from a mapped register BAR (the slow path's register access)."""
    return kv_reg_read(<uint8_t *>bar, off)


def mmio_write32(uint64_t bar, uint32_t off, uint32_t value) -> None:
    kv_reg_write(<uint8_t *>bar, off, value)
