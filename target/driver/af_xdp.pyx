# cython: language_level=3
# distutils: libraries = xdp bpf
"""AfXdpPort: one queue of a Linux interface through an AF_XDP socket (libxdp's xsk API).

The UMEM is registered over the engine's packet pool memory in unaligned-chunk mode, so every
pool buffer can be handed to the kernel as it is:
- RX: pool buffers go into the fill ring at the address where the kernel's XDP headroom ends
  exactly at the pool's standard headroom; a received frame is therefore already at p.data of
  its pool buffer, and rx_batch only fills in the length. No copy in kvick.
- TX: the descriptor points at p.data; the buffer stays lent to the kernel until it comes back
  on the completion ring, then returns to the pool. No copy in kvick.
Which mode the kernel picked is in `mode`: "zero-copy" (the NIC DMAs into the pool) or "copy"
(the kernel copies between its buffers and the UMEM, e.g. on veth).

libxdp loads its default program, which redirects the bound queue's frames to the socket, and
removes it when the last socket on the interface closes.

Counted, never fatal: frames shorter than an Ethernet header (rx_errors); frames the kernel
dropped (no fill buffer, RX ring full, too long for a chunk: rx_dropped, from XDP_STATISTICS);
frames too long for the interface or offered while the TX ring is full (tx_dropped).

The engine must be stopped before close(): close() takes back every buffer lent to the kernel.
The pool is single-threaded, so all of an engine's AF_XDP ports must be driven by one thread.
"""

import fcntl
import logging
import os
import socket
import struct
import time

from target.driver import netdev

from libc.errno cimport EAGAIN, EBUSY, ENOBUFS, errno
from libc.stdint cimport uint8_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from target.clock cimport monotonic_ns
from target.driver.port cimport Port
from target.packet cimport PacketPool, PKT_HEADROOM, pkt_t, pool_alloc, pool_free

cdef extern from "<sys/socket.h>" nogil:
    int SOL_XDP
    int MSG_DONTWAIT
    int getsockopt(int fd, int level, int name, void *value, unsigned int *length)
    ssize_t sendto(int fd, const void *buf, size_t n, int flags, const void *addr,
                   unsigned int addr_len)
    ssize_t recvfrom(int fd, void *buf, size_t n, int flags, void *addr, unsigned int *addr_len)


# libbpf and libxdp print to stderr by default (several lines per socket opened); their
# messages go to the "kvick.xdp" log at debug level instead.
cdef extern from *:
    """
    #include <stdarg.h>
    #include <stdio.h>
    #include <bpf/libbpf.h>
    #include <xdp/libxdp.h>
    static void (*kv_xdp_log_sink)(const char *msg) = NULL;
    static int kv_xdp_vlog(const char *fmt, va_list ap) {
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        if (kv_xdp_log_sink != NULL)
            kv_xdp_log_sink(msg);
        return 0;
    }
    static int kv_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
    { (void)level; return kv_xdp_vlog(fmt, ap); }
    static int kv_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
    { (void)level; return kv_xdp_vlog(fmt, ap); }
    static void kv_xdp_route_logs(void (*sink)(const char *)) {
        kv_xdp_log_sink = sink;
        libbpf_set_print(kv_libbpf_print);
        libxdp_set_print(kv_libxdp_print);
    }
    """
    void kv_xdp_route_logs(void (*sink)(const char *) noexcept)


xdp_log = logging.getLogger("kvick.xdp")


cdef void _library_message(const char *msg) noexcept with gil:
    xdp_log.debug("%s", msg.decode("utf-8", "replace").rstrip())


kv_xdp_route_logs(_library_message)

QUEUE_BUSY_WAIT_S = 2.0

cdef enum:
    ETH_HEADER = 14
    PAGE = 4096
    REFILL_MAX = 256            # buffers moved to the fill ring per call
    COMP_MAX = 512              # completions taken per call
    MAX_CHUNK = 4096            # the kernel's limit for a UMEM chunk: one page


cdef inline pkt_t *buffer_at(xdp_state_t *st, uint64_t umem_offset) noexcept nogil:
    """The pool buffer that contains UMEM offset `umem_offset`."""
    return &st.pool.slots[(umem_offset - st.mem_shift) / st.buf_size]


cdef void reap_completions(xdp_state_t *st) noexcept nogil:
    """Return every buffer the kernel has finished sending to the pool."""
    cdef uint32_t idx, i, n
    cdef pkt_t *p
    while True:
        n = xsk_ring_cons__peek(&st.comp, COMP_MAX, &idx)
        if n == 0:
            return
        for i in range(n):
            p = buffer_at(st, xsk_ring_cons__comp_addr(&st.comp, idx + i)[0])
            st.lent[p.slot] = 0
            pool_free(st.pool, p)
        xsk_ring_cons__release(&st.comp, n)


cdef void refill(xdp_state_t *st) noexcept nogil:
    """Top the fill ring up to fill_target buffers, as far as the pool allows."""
    cdef pkt_t *fresh[REFILL_MAX]
    cdef uint32_t want, room, got, idx, i
    while st.in_fill < st.fill_target:
        want = st.fill_target - st.in_fill
        if want > REFILL_MAX:
            want = REFILL_MAX
        room = xsk_prod_nb_free(&st.fill, want)
        if room < want:
            want = room
        got = 0
        while got < want:
            fresh[got] = pool_alloc(st.pool)
            if fresh[got] == NULL:
                break
            got += 1
        if got == 0 or xsk_ring_prod__reserve(&st.fill, got, &idx) != got:
            for i in range(got):
                pool_free(st.pool, fresh[i])
            return
        for i in range(got):
            # The kernel writes the frame XDP_PACKET_HEADROOM bytes after the address it takes,
            # which is exactly the pool's p.data.
            xsk_ring_prod__fill_addr(&st.fill, idx + i)[0] = (
                <uint64_t>(fresh[i].data - st.umem_base) - XDP_PACKET_HEADROOM)
            st.lent[fresh[i].slot] = 1
        xsk_ring_prod__submit(&st.fill, got)
        st.in_fill += got
        if got < want:
            return


cdef int xdp_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef xdp_state_t *st = <xdp_state_t *>opaque
    cdef const xdp_desc *desc
    cdef uint32_t idx, i, n
    cdef uint64_t nbytes = 0
    cdef uint64_t now
    cdef int k = 0
    cdef pkt_t *p
    reap_completions(st)
    n = xsk_ring_cons__peek(&st.rx, <uint32_t>max, &idx)
    if n:
        now = monotonic_ns()
        for i in range(n):
            desc = xsk_ring_cons__rx_desc(&st.rx, idx + i)
            p = buffer_at(st, xsk_umem__extract_addr(desc.addr))
            st.lent[p.slot] = 0
            st.in_fill -= 1
            p.data = st.umem_base + xsk_umem__add_offset_to_addr(desc.addr)
            p.len = desc.len
            p.tstamp_ns = now
            if p.len < ETH_HEADER:
                st.stats.rx_errors += 1
                pool_free(st.pool, p)
                continue
            nbytes += p.len
            pkts[k] = p
            k += 1
        xsk_ring_cons__release(&st.rx, n)
        st.stats.rx_packets += <uint64_t>k
        st.stats.rx_bytes += nbytes
    refill(st)
    if xsk_ring_prod__needs_wakeup(&st.fill):
        recvfrom(st.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL)
    return k


cdef void kick_tx(xdp_state_t *st, uint32_t queued) noexcept nogil:
    """Make the kernel send what is on the TX ring. In copy mode each sendto sends a bounded
    number of frames and answers EAGAIN while more are waiting, so keep asking a few times."""
    cdef uint32_t tries = queued // 16 + 2
    while tries and xsk_ring_prod__needs_wakeup(&st.tx):
        if sendto(st.fd, NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0:
            return
        if errno != EAGAIN and errno != EBUSY and errno != ENOBUFS:
            return
        tries -= 1
        reap_completions(st)


cdef int xdp_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef xdp_state_t *st = <xdp_state_t *>opaque
    cdef xdp_desc *desc
    cdef uint32_t idx, i, room
    cdef uint32_t valid = 0
    cdef uint64_t nbytes = 0
    cdef int j
    cdef pkt_t *p
    reap_completions(st)
    # Keep the sendable packets at the front of the batch (it is ours now).
    for j in range(n):
        p = pkts[j]
        if p.len > st.tx_max or p.len < ETH_HEADER:
            st.stats.tx_dropped += 1
            pool_free(st.pool, p)
        else:
            pkts[valid] = p
            valid += 1
    if valid == 0:
        return n
    room = xsk_prod_nb_free(&st.tx, valid)
    if room > valid:
        room = valid
    if room and xsk_ring_prod__reserve(&st.tx, room, &idx) != room:
        room = 0
    for i in range(room):
        p = pkts[i]
        desc = xsk_ring_prod__tx_desc(&st.tx, idx + i)
        desc.addr = <uint64_t>(p.data - st.umem_base)
        desc.len = p.len
        desc.options = 0
        st.lent[p.slot] = 1
        nbytes += p.len
    for i in range(room, valid):
        st.stats.tx_dropped += 1
        pool_free(st.pool, pkts[i])
    if room:
        xsk_ring_prod__submit(&st.tx, room)
        kick_tx(st, room)
        st.stats.tx_packets += room
        st.stats.tx_bytes += nbytes
    return n


def bpf_descriptors() -> set[int]:
    """This process's descriptors of BPF maps and programs."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("anon_inode:bpf-"):
                found.add(int(name))
        except OSError:
            pass
    return found


cdef inline bint is_power_of_two(uint64_t v) noexcept:
    return v != 0 and (v & (v - 1)) == 0


SIOCGIFMTU = 0x8921


def rx_queue_count(ifname: str) -> int:
    """The interface's RX queues (0 when it does not exist)."""
    try:
        return sum(1 for q in os.listdir(f"/sys/class/net/{ifname}/queues") if q.startswith("rx-"))
    except OSError:
        return 0


def interface_mtu(ifname: str) -> int:
    """The MTU of `ifname` in the calling thread's network namespace (asked with an ioctl:
    /sys/class/net shows the namespace /sys was mounted in, which a process that entered
    another namespace with setns still sees)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        reply = fcntl.ioctl(s, SIOCGIFMTU, struct.pack("16si12x", ifname.encode(), 0))
    return struct.unpack("16si12x", reply)[1]


cdef class AfXdpPort(Port):
    """Queue `queue` of interface `ifname` through AF_XDP; every ring has `ring_size` entries.

    The fill ring keeps `ring_size` pool buffers lent to the kernel, so the pool needs that many
    spare buffers per port. Pool buffers must be at least 2048 bytes; frames up to
    min(buffer, 4096) - 256 bytes are received.
    """

    def __cinit__(self, *args, **kwargs):
        memset(&self.state, 0, sizeof(xdp_state_t))
        self.state.fd = -1
        self.umem = NULL
        self.xsk = NULL
        self.mode = "closed"
        self._bpf_fds = set()

    def __init__(self, ifname: str, *, queue: object = None, ring_size: int = 1024) -> None:
        # queue None: queue 0, or with several engine workers queues 0..N-1 (worker_queues).
        if not ifname or len(ifname.encode()) >= 16:
            raise ValueError(f"interface name {ifname!r} must be 1..15 bytes")
        self.queue_given = queue is not None
        queue = queue or 0
        if queue < 0:
            raise ValueError(f"queue {queue} must be >= 0")
        if not is_power_of_two(ring_size) or ring_size < 64:
            raise ValueError(f"ring_size {ring_size} must be a power of two >= 64")
        self.ifname = ifname
        self.queue = queue
        self.ring_size = ring_size
        self.name = f"xdp:{ifname}@{queue}"

    def worker_queues(self, int n) -> list:
        """Sockets on queues 1..n-1 for n - 1 further engine workers (this one is queue 0), so
        each worker has its own queue (the NIC, or a veth's sender, spreads flows over them);
        none when the spec named a queue (xdp:IF@Q). Refused when the interface has fewer
        than n RX queues."""
        if self.queue_given or n <= 1:
            return []
        have = rx_queue_count(self.ifname)
        if have < n:
            raise ValueError(f"{self.ifname} has {have} RX queue(s) and {n} workers need one "
                             f"each (a veth: ip link add ... numrxqueues {n} numtxqueues {n}; "
                             f"a NIC: ethtool -L {self.ifname} combined {n})")
        return [AfXdpPort(self.ifname, queue=k, ring_size=self.ring_size) for k in range(1, n)]

    def open(self, PacketPool pool) -> None:
        """Register the pool as UMEM, create the socket (loads libxdp's program), fill the ring."""
        cdef xsk_umem_config ucfg
        cdef xsk_socket_config scfg
        cdef xdp_options opts
        cdef unsigned int optlen = sizeof(xdp_options)
        cdef bytes name = self.ifname.encode()
        cdef uintptr_t mem = <uintptr_t>pool.pool.mem
        cdef uintptr_t base = mem & ~(<uintptr_t>PAGE - 1)
        cdef uintptr_t end = mem + <uintptr_t>pool.pool.capacity * pool.pool.buf_size
        cdef int rc
        if self.is_open:
            raise RuntimeError(f"{self.name} is already open")
        if PKT_HEADROOM < XDP_PACKET_HEADROOM:
            raise ValueError("the pool headroom is smaller than the kernel's XDP headroom")
        if pool.pool.buf_size < 2048:
            raise ValueError(f"AF_XDP needs pool buffers of at least 2048 bytes, "
                             f"not {pool.pool.buf_size}")
        if pool.pool.capacity < 2 * self.ring_size:
            raise ValueError(f"a pool of {pool.pool.capacity} buffers cannot lend "
                             f"{self.ring_size} to the fill ring and still feed the engine")
        try:
            mtu = interface_mtu(self.ifname)
        except OSError as err:
            raise OSError(err.errno, f"{self.ifname}: no such interface") from None
        end = (end + PAGE - 1) & ~(<uintptr_t>PAGE - 1)
        bpf_before = bpf_descriptors()
        self.state.lent = <uint8_t *>calloc(pool.pool.capacity, 1)
        if self.state.lent == NULL:
            raise MemoryError("AF_XDP buffer ownership map")
        # The UMEM must start on a page: when the pool memory does not, the few bytes in front
        # of buffer 0 become part of it too, but no descriptor ever points there.
        memset(&ucfg, 0, sizeof(ucfg))
        ucfg.fill_size = self.ring_size
        ucfg.comp_size = self.ring_size
        ucfg.frame_size = min(<uint32_t>MAX_CHUNK, pool.pool.buf_size)
        ucfg.frame_headroom = 0
        ucfg.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG
        rc = xsk_umem__create(&self.umem, <void *>base, end - base, &self.state.fill,
                              &self.state.comp, &ucfg)
        if rc != 0:
            self.umem = NULL
            self._release()
            raise OSError(-rc, f"{self.ifname}: UMEM registration: {os.strerror(-rc)}")
        memset(&scfg, 0, sizeof(scfg))
        scfg.rx_size = self.ring_size
        scfg.tx_size = self.ring_size
        scfg.bind_flags = XDP_USE_NEED_WAKEUP
        # The kernel frees a closed socket's hold on its queue asynchronously, so a queue
        # closed a moment ago can still be busy: retry for a while before giving up.
        deadline = time.monotonic() + QUEUE_BUSY_WAIT_S
        while True:
            rc = xsk_socket__create(&self.xsk, name, self.queue, self.umem, &self.state.rx,
                                    &self.state.tx, &scfg)
            if rc != -EBUSY or time.monotonic() >= deadline:
                break
            time.sleep(0.005)
        if rc != 0:
            self.xsk = NULL
            self._release()
            raise OSError(-rc, f"{self.ifname} queue {self.queue}: AF_XDP socket: "
                               f"{os.strerror(-rc)}")
        self.state.fd = xsk_socket__fd(self.xsk)
        self._bpf_fds = bpf_descriptors() - bpf_before
        if getsockopt(self.state.fd, SOL_XDP, XDP_OPTIONS, &opts, &optlen) == 0:
            self.mode = "zero-copy" if opts.flags & XDP_OPTIONS_ZEROCOPY else "copy"
        else:
            self.mode = "unknown"
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = &self.c_stats
        self.state.umem_base = <uint8_t *>base
        self.state.mem_shift = mem - base
        self.state.buf_size = pool.pool.buf_size
        self.state.chunk_size = ucfg.frame_size
        self.state.tx_max = min(<uint32_t>mtu + ETH_HEADER, ucfg.frame_size)
        self.state.fill_target = self.ring_size
        refill(&self.state)
        self.ops.rx_batch = xdp_rx_batch
        self.ops.tx_batch = xdp_tx_batch
        self.ops.state = &self.state
        self.ops.wait_fd = self.state.fd   # polls readable when the RX ring has frames

    cdef void _release(self) noexcept:
        cdef uint32_t i
        # The socket goes first: the UMEM cannot be unregistered while a socket uses it.
        if self.xsk != NULL:
            xsk_socket__delete(self.xsk)
            self.xsk = NULL
        if self.umem != NULL:
            xsk_umem__delete(self.umem)
            self.umem = NULL
        # Nothing in the kernel refers to the pool any more: take back every lent buffer.
        if self.state.lent != NULL:
            if self.state.pool != NULL:
                for i in range(self.state.pool.capacity):
                    if self.state.lent[i]:
                        pool_free(self.state.pool, &self.state.pool.slots[i])
            free(self.state.lent)
            self.state.lent = NULL
        self.state.fd = -1
        self.state.in_fill = 0
        self.mode = "closed"

    def close(self) -> None:
        """Close the socket, unregister the UMEM, return every buffer to the pool. Idempotent."""
        self.ops.rx_batch = NULL
        self.ops.tx_batch = NULL
        self.ops.state = NULL
        self.ops.wait_fd = -1
        if self.xsk == NULL and self.umem == NULL:
            self._release()
            Port.close(self)
            return
        before = bpf_descriptors()
        self._release()
        self._close_leaked_bpf_fds(bpf_descriptors() - before)
        Port.close(self)

    def _close_leaked_bpf_fds(self, opened_by_release: set[int]) -> None:
        # libxdp 1.3 (Debian 12) keeps the default program's and its reference-count map's
        # descriptors after the last socket on an interface is deleted (fixed upstream in
        # xdp-tools 1.5.x: "libxdp: Close refcnt_map_fd"), and when that happens while sockets
        # on other interfaces remain, deleting the socket can also open one more program
        # descriptor it never closes. Those opened by our open() and still open now, and those
        # the deletion itself opened, are such leftovers: nothing in libxdp refers to them.
        leaked = (self._bpf_fds & bpf_descriptors()) | opened_by_release
        self._bpf_fds = set()
        for fd in leaked:
            os.close(fd)

    def __dealloc__(self):
        self._release()

    def kernel_stats(self) -> dict[str, int]:
        """The socket's XDP_STATISTICS (cumulative), or {} when closed."""
        cdef xdp_statistics st
        cdef unsigned int length = sizeof(xdp_statistics)
        if self.state.fd < 0 or getsockopt(self.state.fd, SOL_XDP, XDP_STATISTICS, &st,
                                           &length) != 0:
            return {}
        return {"rx_dropped": st.rx_dropped, "rx_invalid_descs": st.rx_invalid_descs,
                "tx_invalid_descs": st.tx_invalid_descs, "rx_ring_full": st.rx_ring_full,
                "rx_fill_ring_empty_descs": st.rx_fill_ring_empty_descs,
                "tx_ring_empty_descs": st.tx_ring_empty_descs}

    def stats(self) -> dict[str, int]:
        """Counters; the kernel's drops for this socket are in rx_dropped and tx_dropped."""
        counters = Port.stats(self)
        kernel = self.kernel_stats()
        if kernel:
            counters["rx_dropped"] += kernel["rx_dropped"] + kernel["rx_ring_full"]
            counters["rx_errors"] += kernel["rx_invalid_descs"]
            counters["tx_dropped"] += kernel["tx_invalid_descs"]
        counters["rx_fcs_errors"] = netdev.counter(self.ifname, "rx_crc_errors")
        return counters

    @property
    def lent(self) -> int:
        """Pool buffers the kernel holds now (fill ring and unfinished TX)."""
        cdef uint32_t i, n = 0
        if self.state.lent == NULL:
            return 0
        for i in range(self.state.pool.capacity):
            n += self.state.lent[i]
        return n

    def link_state(self) -> bool:
        """True when the port is open and the interface's operational state is up."""
        return self.is_open and netdev.oper_up(self.ifname)

    def speed_mbps(self) -> int:
        """The interface's link speed (0 when the kernel does not know it)."""
        return netdev.speed_mbps(self.ifname)
