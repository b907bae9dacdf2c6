# cython: language_level=3
"""AfPacketPort: a Linux interface through PACKET_MMAP (TPACKET_V3 RX ring, mmap'd TX ring).

The socket receives every frame arriving on the interface (promiscuous, ETH_P_ALL, outgoing
frames ignored) into RX blocks the kernel fills; rx_batch copies each frame into a pool buffer
and gives a block back as soon as it has been read. tx_batch copies frames into TX ring slots,
marks them SEND_REQUEST and kicks the kernel with one non-blocking sendto per batch.

Counted, never fatal: frames shorter than an Ethernet header (rx_errors), frames longer than a
pool buffer or cut short by the ring (rx_dropped), frames the kernel dropped because the ring was
full (rx_dropped, from PACKET_STATISTICS), frames too long for the interface or arriving while
every TX slot is still owned by the kernel (tx_dropped).

The engine must be stopped before close(): the ring is unmapped there.
"""

import os

from target.driver import netdev

from libc.errno cimport errno
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from target.clock cimport monotonic_ns
from target.driver.port cimport Port
from target.packet cimport PacketPool, PKT_HEADROOM, pkt_t, pool_alloc, pool_free

cdef extern from "<sys/socket.h>" nogil:
    int AF_PACKET
    int SOCK_RAW
    int SOCK_CLOEXEC
    int SOL_PACKET
    int MSG_DONTWAIT
    int socket(int domain, int type, int protocol)
    int setsockopt(int fd, int level, int name, const void *value, unsigned int length)
    int getsockopt(int fd, int level, int name, void *value, unsigned int *length)
    ssize_t sendto(int fd, const void *buf, size_t n, int flags, const void *addr,
                   unsigned int addr_len)

cdef extern from "<unistd.h>" nogil:
    int close(int fd)

cdef extern from "<sys/mman.h>" nogil:
    int PROT_READ
    int PROT_WRITE
    int MAP_SHARED
    int MAP_LOCKED
    void *MAP_FAILED
    void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)
    int munmap(void *addr, size_t length)

cdef extern from "<net/if.h>" nogil:
    unsigned int if_nametoindex(const char *name)

cdef extern from "<linux/if_ether.h>" nogil:
    int ETH_P_ALL
    int ETH_HLEN

cdef extern from "<linux/if_packet.h>" nogil:
    int PACKET_VERSION
    int PACKET_RX_RING
    int PACKET_TX_RING
    int PACKET_ADD_MEMBERSHIP
    int PACKET_MR_PROMISC
    int PACKET_STATISTICS
    int PACKET_LOSS
    int PACKET_QDISC_BYPASS
    int PACKET_IGNORE_OUTGOING
    int TPACKET_V3
    int PACKET_FANOUT
    int PACKET_FANOUT_HASH
    int PACKET_FANOUT_FLAG_UNIQUEID
    int TP_STATUS_KERNEL
    int TP_STATUS_USER
    int TP_STATUS_AVAILABLE
    int TP_STATUS_SEND_REQUEST
    int TP_STATUS_WRONG_FORMAT

# Ring layouts and the orderings between us and the kernel. A block or slot status is the flag
# that transfers ownership: read it with acquire before touching the contents, write it with
# release after.
cdef extern from *:
    """
    #include <sys/ioctl.h>
    #include <net/if.h>
    #include <arpa/inet.h>
    #include <linux/if_packet.h>
    #include <linux/if_ether.h>

    static inline uint32_t kv_afp_block_status(uint8_t *block)
    { return __atomic_load_n(&((struct tpacket_block_desc *)block)->hdr.bh1.block_status,
                             __ATOMIC_ACQUIRE); }
    static inline void kv_afp_block_release(uint8_t *block)
    { __atomic_store_n(&((struct tpacket_block_desc *)block)->hdr.bh1.block_status,
                       TP_STATUS_KERNEL, __ATOMIC_RELEASE); }
    static inline uint32_t kv_afp_block_npkts(uint8_t *block)
    { return ((struct tpacket_block_desc *)block)->hdr.bh1.num_pkts; }
    static inline uint8_t *kv_afp_block_first(uint8_t *block)
    { return block + ((struct tpacket_block_desc *)block)->hdr.bh1.offset_to_first_pkt; }

    static inline uint32_t kv_afp_pkt_next(uint8_t *hdr)
    { return ((struct tpacket3_hdr *)hdr)->tp_next_offset; }
    static inline uint32_t kv_afp_pkt_snaplen(uint8_t *hdr)
    { return ((struct tpacket3_hdr *)hdr)->tp_snaplen; }
    static inline uint32_t kv_afp_pkt_len(uint8_t *hdr)
    { return ((struct tpacket3_hdr *)hdr)->tp_len; }
    static inline uint8_t *kv_afp_pkt_data(uint8_t *hdr)
    { return hdr + ((struct tpacket3_hdr *)hdr)->tp_mac; }

    static inline uint32_t kv_afp_slot_status(uint8_t *slot)
    { return __atomic_load_n(&((struct tpacket3_hdr *)slot)->tp_status, __ATOMIC_ACQUIRE); }
    static inline void kv_afp_slot_send(uint8_t *slot, uint32_t len)
    {
        struct tpacket3_hdr *h = (struct tpacket3_hdr *)slot;
        h->tp_next_offset = 0;      /* the kernel refuses V3 TX slots that chain */
        h->tp_len = len;
        h->tp_snaplen = len;
        __atomic_store_n(&h->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
    }
    /* Without PACKET_TX_HAS_OFF the kernel reads a V3 TX frame from this offset. */
    static inline uint32_t kv_afp_tx_data_offset(void)
    { return TPACKET_ALIGN(sizeof(struct tpacket3_hdr)); }

    static int kv_afp_setup_rx(int fd, uint32_t block_size, uint32_t block_nr,
                               uint32_t retire_ms)
    {
        struct tpacket_req3 req;
        memset(&req, 0, sizeof req);
        req.tp_block_size = block_size;
        req.tp_block_nr = block_nr;
        req.tp_frame_size = 2048;   /* only a granularity check for V3: frames are packed */
        req.tp_frame_nr = block_size / 2048 * block_nr;
        req.tp_retire_blk_tov = retire_ms;
        return setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req);
    }
    static int kv_afp_setup_tx(int fd, uint32_t frame_size, uint32_t frame_nr)
    {
        struct tpacket_req3 req;
        memset(&req, 0, sizeof req);
        /* TX slots are grouped in blocks of 16 frames; the block size must be a page multiple. */
        req.tp_frame_size = frame_size;
        req.tp_block_size = frame_size * 16;
        req.tp_block_nr = frame_nr / 16;
        req.tp_frame_nr = frame_nr;
        return setsockopt(fd, SOL_PACKET, PACKET_TX_RING, &req, sizeof req);
    }
    static int kv_afp_bind(int fd, int ifindex)
    {
        struct sockaddr_ll addr;
        memset(&addr, 0, sizeof addr);
        addr.sll_family = AF_PACKET;
        addr.sll_protocol = htons(ETH_P_ALL);
        addr.sll_ifindex = ifindex;
        return bind(fd, (struct sockaddr *)&addr, sizeof addr);
    }
    static int kv_afp_promisc(int fd, int ifindex)
    {
        struct packet_mreq mreq;
        memset(&mreq, 0, sizeof mreq);
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = PACKET_MR_PROMISC;
        return setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq, sizeof mreq);
    }
    static int kv_afp_mtu(int fd, const char *name)
    {
        struct ifreq ifr;
        memset(&ifr, 0, sizeof ifr);
        strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
        if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
            return -1;
        return ifr.ifr_mtu;
    }
    /* Reading the statistics resets them in the kernel. */
    static int kv_afp_kernel_drops(int fd, uint64_t *drops)
    {
        struct tpacket_stats_v3 st;
        socklen_t len = sizeof st;
        if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) < 0)
            return -1;
        *drops = st.tp_drops;
        return 0;
    }
    """
    uint32_t kv_afp_block_status(uint8_t *block) noexcept nogil
    void kv_afp_block_release(uint8_t *block) noexcept nogil
    uint32_t kv_afp_block_npkts(uint8_t *block) noexcept nogil
    uint8_t *kv_afp_block_first(uint8_t *block) noexcept nogil
    uint32_t kv_afp_pkt_next(uint8_t *hdr) noexcept nogil
    uint32_t kv_afp_pkt_snaplen(uint8_t *hdr) noexcept nogil
    uint32_t kv_afp_pkt_len(uint8_t *hdr) noexcept nogil
    uint8_t *kv_afp_pkt_data(uint8_t *hdr) noexcept nogil
    uint32_t kv_afp_slot_status(uint8_t *slot) noexcept nogil
    void kv_afp_slot_send(uint8_t *slot, uint32_t len) noexcept nogil
    uint32_t kv_afp_tx_data_offset() noexcept nogil
    int kv_afp_setup_rx(int fd, uint32_t block_size, uint32_t block_nr,
                        uint32_t retire_ms) noexcept nogil
    int kv_afp_setup_tx(int fd, uint32_t frame_size, uint32_t frame_nr) noexcept nogil
    int kv_afp_bind(int fd, int ifindex) noexcept nogil
    int kv_afp_promisc(int fd, int ifindex) noexcept nogil
    int kv_afp_mtu(int fd, const char *name) noexcept nogil
    int kv_afp_kernel_drops(int fd, uint64_t *drops) noexcept nogil


cdef enum:
    FRAME_OK = 0
    FRAME_RUNT = 1              # shorter than an Ethernet header: rx_errors
    FRAME_TOO_BIG = 2           # longer than a buffer, or truncated by the ring: rx_dropped


cdef inline int classify_frame(uint32_t snaplen, uint32_t wire_len,
                               uint32_t max_frame) noexcept nogil:
    """What rx_batch does with a frame of `snaplen` captured bytes out of `wire_len`."""
    if snaplen < wire_len or snaplen > max_frame:
        return FRAME_TOO_BIG
    if snaplen < ETH_HLEN:
        return FRAME_RUNT
    return FRAME_OK


def frame_verdict(snaplen: int, wire_len: int, max_frame: int) -> str:
    """The RX classification of a frame as a word (ok, runt, too_big); for tests."""
    return ("ok", "runt", "too_big")[classify_frame(snaplen, wire_len, max_frame)]


cdef inline void rx_next_block(afp_state_t *st) noexcept nogil:
    """Give the current block back to the kernel and move to the next one."""
    kv_afp_block_release(st.ring + <size_t>st.rx_block * st.rx_block_size)
    st.rx_block += 1
    if st.rx_block == st.rx_block_nr:
        st.rx_block = 0
    st.rx_pkt = NULL
    st.rx_left = 0


cdef int afp_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef afp_state_t *st = <afp_state_t *>opaque
    cdef uint8_t *block
    cdef uint8_t *hdr
    cdef uint32_t snaplen
    cdef uint64_t nbytes = 0
    cdef uint64_t now = 0
    cdef int verdict
    cdef int n = 0
    cdef pkt_t *p
    while n < max:
        if st.rx_pkt == NULL:
            block = st.ring + <size_t>st.rx_block * st.rx_block_size
            if (kv_afp_block_status(block) & TP_STATUS_USER) == 0:
                break
            st.rx_left = kv_afp_block_npkts(block)
            if st.rx_left == 0:
                rx_next_block(st)
                continue
            st.rx_pkt = kv_afp_block_first(block)
        hdr = st.rx_pkt
        snaplen = kv_afp_pkt_snaplen(hdr)
        verdict = classify_frame(snaplen, kv_afp_pkt_len(hdr), st.max_frame)
        if verdict == FRAME_OK:
            p = pool_alloc(st.pool)
            if p == NULL:
                # Leave the frame in the ring: the kernel drops (and counts) once it fills.
                break
            if now == 0:
                now = monotonic_ns()
            memcpy(p.data, kv_afp_pkt_data(hdr), snaplen)
            p.len = snaplen
            p.tstamp_ns = now
            pkts[n] = p
            n += 1
            nbytes += snaplen
        elif verdict == FRAME_RUNT:
            st.stats.rx_errors += 1
        else:
            st.stats.rx_dropped += 1
        st.rx_left -= 1
        if st.rx_left == 0:
            rx_next_block(st)
        else:
            st.rx_pkt = hdr + kv_afp_pkt_next(hdr)
    st.stats.rx_packets += <uint64_t>n
    st.stats.rx_bytes += nbytes
    return n


cdef int afp_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef afp_state_t *st = <afp_state_t *>opaque
    cdef uint8_t *slot
    cdef uint32_t status
    cdef uint64_t nbytes = 0
    cdef int queued = 0
    cdef int i
    cdef pkt_t *p
    for i in range(n):
        p = pkts[i]
        if p.len > st.tx_max or p.len < ETH_HLEN:
            st.stats.tx_dropped += 1
            pool_free(st.pool, p)
            continue
        slot = st.tx_ring + <size_t>st.tx_next * st.tx_frame_size
        status = kv_afp_slot_status(slot)
        if status != TP_STATUS_AVAILABLE and status != TP_STATUS_WRONG_FORMAT:
            # Every slot is still the kernel's: the ring is full.
            st.stats.tx_dropped += 1
            pool_free(st.pool, p)
            continue
        memcpy(slot + st.tx_data_offset, p.data, p.len)
        kv_afp_slot_send(slot, p.len)
        st.tx_next += 1
        if st.tx_next == st.tx_frame_nr:
            st.tx_next = 0
        nbytes += p.len
        queued += 1
        pool_free(st.pool, p)
    if queued:
        # Non-blocking: the kernel sends every SEND_REQUEST slot it finds and returns. A slot it
        # could not take now (EAGAIN/ENOBUFS) stays requested and goes with the next kick.
        sendto(st.fd, NULL, 0, MSG_DONTWAIT, NULL, 0)
    st.stats.tx_packets += <uint64_t>queued
    st.stats.tx_bytes += nbytes
    return n


cdef inline bint is_power_of_two(uint64_t v) noexcept:
    return v != 0 and (v & (v - 1)) == 0


cdef class AfPacketPort(Port):
    """A Linux network interface through PACKET_MMAP rings.

    RX ring: `block_count` blocks of `block_size` bytes (powers of two, block_size a page
    multiple); a partly filled block is handed over after `retire_ms` milliseconds.
    TX ring: `tx_frames` slots (a multiple of 16) of 2048 bytes, or larger when the
    interface's MTU needs it.
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.state, 0, sizeof(afp_state_t))
        self.state.fd = -1
        self.ifindex = 0
        self.kernel_drops = 0
        self.fanout_id = -1

    def __init__(self, ifname: str, *, block_size: int = 1 << 18, block_count: int = 32,
                 tx_frames: int = 1024, retire_ms: int = 1) -> None:
        if not ifname or len(ifname.encode()) >= 16:
            raise ValueError(f"interface name {ifname!r} must be 1..15 bytes")
        if not is_power_of_two(block_size) or block_size < 4096:
            raise ValueError(f"block_size {block_size} must be a power of two >= 4096")
        if not is_power_of_two(block_count):
            raise ValueError(f"block_count {block_count} must be a power of two")
        if tx_frames <= 0 or tx_frames % 16:
            raise ValueError(f"tx_frames {tx_frames} must be a positive multiple of 16")
        if not 1 <= retire_ms <= 1000:
            raise ValueError(f"retire_ms {retire_ms} must be 1..1000")
        self.ifname = ifname
        self.name = f"af_packet:{ifname}"
        self.block_size = block_size
        self.block_count = block_count
        self.tx_frames = tx_frames
        self.retire_ms = retire_ms

    def worker_queues(self, int n) -> list:
        """Sockets for n - 1 further engine workers (unopened; open them after this port):
        all n join one PACKET_FANOUT_HASH group, so the kernel hands each flow to one of them
        (one worker) and each worker transmits through its own socket and ring."""
        if self.is_open:
            raise RuntimeError(f"{self.name}: worker queues are made before the port opens")
        self.fanout_lead = n > 1
        queues = []
        for _ in range(n - 1):
            q = AfPacketPort(self.ifname, block_size=self.block_size,
                             block_count=self.block_count, tx_frames=self.tx_frames,
                             retire_ms=self.retire_ms)
            q.leader = self
            queues.append(q)
        return queues

    def open(self, PacketPool pool) -> None:
        """Create the socket and its rings, join promiscuous mode, start receiving."""
        cdef bytes name = self.ifname.encode()
        cdef int fd, mtu, one = 1
        cdef uint32_t slot_size, rx_len
        cdef void *ring
        if self.is_open:
            raise RuntimeError(f"{self.name} is already open")
        self.ifindex = if_nametoindex(name)
        if self.ifindex == 0:
            raise OSError(errno, f"{self.ifname}: no such interface")
        # Protocol 0 receives nothing until bind: no frame lands before the ring exists.
        fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)
        if fd < 0:
            raise OSError(errno, f"{self.ifname}: AF_PACKET socket: {os.strerror(errno)}")
        self.state.fd = fd
        try:
            mtu = kv_afp_mtu(fd, name)
            if mtu < 0:
                self._fail("SIOCGIFMTU")
            # The TX slot holds its header and the largest frame the interface sends.
            slot_size = 2048
            while slot_size < kv_afp_tx_data_offset() + <uint32_t>mtu + ETH_HLEN:
                slot_size *= 2
            self._setopt_int(PACKET_VERSION, TPACKET_V3, "PACKET_VERSION")
            self._setopt_int(PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
            # A frame the kernel refuses is skipped rather than stalling the ring.
            self._setopt_int(PACKET_LOSS, 1, "PACKET_LOSS")
            self._setopt_int(PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS")
            if kv_afp_setup_rx(fd, self.block_size, self.block_count, self.retire_ms) < 0:
                self._fail("PACKET_RX_RING")
            if kv_afp_setup_tx(fd, slot_size, self.tx_frames) < 0:
                self._fail("PACKET_TX_RING")
            rx_len = self.block_size * self.block_count
            self.state.ring_len = <size_t>rx_len + <size_t>slot_size * self.tx_frames
            ring = mmap(NULL, self.state.ring_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            if ring == MAP_FAILED:
                self.state.ring_len = 0
                self._fail("mmap of the rings")
            self.state.ring = <uint8_t *>ring
            self.state.rx_block_size = self.block_size
            self.state.rx_block_nr = self.block_count
            self.state.tx_ring = self.state.ring + rx_len
            self.state.tx_frame_size = slot_size
            self.state.tx_frame_nr = self.tx_frames
            self.state.tx_data_offset = kv_afp_tx_data_offset()
            self.state.tx_max = <uint32_t>mtu + ETH_HLEN
            if kv_afp_promisc(fd, self.ifindex) < 0:
                self._fail("PACKET_MR_PROMISC")
            if kv_afp_bind(fd, self.ifindex) < 0:
                self._fail("bind")
            if self.fanout_lead or self.leader is not None:
                self._join_fanout()
        except BaseException:
            self._release()
            raise
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = &self.c_stats
        self.state.max_frame = pool.pool.buf_size - PKT_HEADROOM
        self.ops.rx_batch = afp_rx_batch
        self.ops.tx_batch = afp_tx_batch
        self.ops.state = &self.state
        # A TPACKET_V3 socket polls readable when a block is handed over (full, or retire_ms
        # after its first frame), exactly when rx_batch has frames.
        self.ops.wait_fd = self.state.fd

    def _join_fanout(self) -> None:
        """Create the port's PACKET_FANOUT_HASH group (the kernel picks a free id) or join the
        leader's (bound sockets only)."""
        cdef int value
        cdef unsigned int length = sizeof(int)
        if self.leader is None:
            value = (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_UNIQUEID) << 16
            self._setopt_int(PACKET_FANOUT, value, "PACKET_FANOUT")
            if getsockopt(self.state.fd, SOL_PACKET, PACKET_FANOUT, &value, &length) < 0:
                self._fail("PACKET_FANOUT")
            self.fanout_id = value & 0xFFFF
            return
        if self.leader.fanout_id < 0:
            raise RuntimeError(f"{self.name}: its first socket is not open")
        self._setopt_int(PACKET_FANOUT, self.leader.fanout_id | (PACKET_FANOUT_HASH << 16),
                         "PACKET_FANOUT")
        self.fanout_id = self.leader.fanout_id

    cdef void _release(self) noexcept:
        if self.state.ring != NULL:
            munmap(self.state.ring, self.state.ring_len)
        if self.state.fd >= 0:
            close(self.state.fd)
        self.state.ring = NULL
        self.state.tx_ring = NULL
        self.state.ring_len = 0
        self.state.fd = -1
        self.fanout_id = -1
        self.state.rx_pkt = NULL
        self.state.rx_left = 0
        self.state.rx_block = 0
        self.state.tx_next = 0

    def _setopt_int(self, int option, int value, str what) -> None:
        if setsockopt(self.state.fd, SOL_PACKET, option, &value, sizeof(int)) < 0:
            self._fail(what)

    def _fail(self, str what) -> None:
        err = errno
        raise OSError(err, f"{self.ifname}: {what}: {os.strerror(err)}")

    def close(self) -> None:
        """Unmap the rings and close the socket (leaves promiscuous mode). Idempotent."""
        self._poll_kernel_drops()
        self.ops.rx_batch = NULL
        self.ops.tx_batch = NULL
        self.ops.state = NULL
        self.ops.wait_fd = -1
        self._release()
        Port.close(self)

    def __dealloc__(self):
        self._release()

    def _poll_kernel_drops(self) -> None:
        cdef uint64_t drops = 0
        if self.state.fd >= 0 and kv_afp_kernel_drops(self.state.fd, &drops) == 0:
            self.kernel_drops += drops

    def stats(self) -> dict[str, int]:
        """Counters; rx_dropped includes frames the kernel dropped for lack of ring space."""
        self._poll_kernel_drops()
        counters = Port.stats(self)
        counters["rx_dropped"] += self.kernel_drops
        counters["rx_fcs_errors"] = netdev.counter(self.ifname, "rx_crc_errors")
        return counters

    def link_state(self) -> bool:
        """True when the port is open and the interface's operational state is up."""
        return self.is_open and netdev.oper_up(self.ifname)

    def speed_mbps(self) -> int:
        """The interface's link speed (0 when the kernel does not know it)."""
        return netdev.speed_mbps(self.ifname)
