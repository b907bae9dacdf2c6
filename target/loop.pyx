# cython: language_level=3
"""The engine loop: poll every RX port, run the batch, transmit — in one place.

One breath (as Snabb calls it): for each RX port, pull up to `batch` packets, run them through
the pipeline, and hand the results to the TX ports grouped by port, one tx_batch call each.
Idle breaths back off (1 µs more per idle breath, halved on work, capped at 100 µs); after
IDLE_BLOCK_NS without a packet the loop stops polling and sleeps: in poll() on the ports'
descriptors (AF_PACKET, AF_XDP) and its kick eventfd (packet injection, stop), or, when a port
cannot be waited on (Intel, memory, pcap), in timed sleeps of at most MAX_NAP_NS. Either way
the first packet after idle waits at most about a millisecond, and an idle switch costs next
to nothing. `busy_poll` keeps the back-off without ever sleeping longer (benchmarks). The whole
breath runs without the GIL; a worker's thread goes back to Python (every few milliseconds at
most) only when it has packet-ins, digests or traces to deliver or was kicked, so a control
plane busy in Python never holds forwarding up on the GIL.

With several workers (Switch(workers=N)) each worker is one thread running its own breathers
over the RX queues it owns, with its own packet pool and its own TX handle on every port, so
no lock is taken between workers: a port driven by one thread only (memory, pcap) belongs to
one worker, and the others hand it their frames through a relay ring (RelayPort), which its
owner moves to the port in its breaths.
"""

import threading

cimport cython

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from posix.time cimport nanosleep, timespec
from posix.unistd cimport close, read, write

from target.clock cimport monotonic_ns
from target.driver.port cimport Port, port_ops_t, port_stats_t
from target.packet cimport PacketPool, pkt_pool_t, pkt_t, pool_free

DEF MAX_PORTS = 64
DEF MAX_PORT_NUM = 512
DEF IDLE_BLOCK_NS = 2000000     # polling this long without a packet: go to sleep
DEF MAX_NAP_NS = 500000         # the longest timed sleep, for ports without a descriptor

include "gaps.pxi"


cdef extern from "<poll.h>" nogil:
    struct pollfd:
        int fd
        short events
        short revents
    int ppoll(pollfd *fds, unsigned long nfds, const timespec *timeout, const void *sigmask)
    short POLLIN


cdef extern from "<sys/eventfd.h>" nogil:
    int eventfd(unsigned int initval, int flags)
    int EFD_NONBLOCK
    int EFD_CLOEXEC


cdef struct out_t:
    # The same layout as the engine's out_t (target/pipeline/state.pxi).
    pkt_t *pkt
    uint32_t port
    uint32_t priority           # the engine's egress queue; transmit order already follows it

ctypedef int (*batch_fn_t)(void *pipeline, pkt_t **pkts, int n, out_t *outs, int max_out) noexcept nogil


cdef inline void count_group(pkt_t **pkts, int n, uint64_t *multicast,
                             uint64_t *broadcast) noexcept nogil:
    """Count frames whose destination MAC is a group address (the I/G bit), broadcast apart."""
    cdef int k
    cdef const uint8_t *d
    for k in range(n):
        d = pkts[k].data
        if pkts[k].len < 6 or not (d[0] & 1):
            continue
        if d[0] == 0xFF and d[1] == 0xFF and d[2] == 0xFF and d[3] == 0xFF and d[4] == 0xFF \
                and d[5] == 0xFF:
            broadcast[0] += 1
        else:
            multicast[0] += 1


@cython.final
cdef class Breather:
    """The C loop over a fixed set of ports; EngineLoop runs it in a thread."""
    cdef port_ops_t rx[MAX_PORTS]
    cdef uint32_t rx_num[MAX_PORTS]
    cdef int nrx
    cdef port_ops_t tx[MAX_PORTS]
    cdef int ntx
    cdef port_ops_t relay[MAX_PORTS]    # frames other workers send to ports this one owns
    cdef int relay_tx[MAX_PORTS]        # ... and the TX index each relay feeds
    cdef int nrelay
    # Administratively disabled ports (gNMI config/enabled false): what they receive is
    # dropped unprocessed, what the pipeline sends them is dropped; both counted as drops.
    cdef volatile int rx_down[MAX_PORTS]
    cdef volatile int tx_down[MAX_PORTS]
    cdef int tx_index[MAX_PORT_NUM]
    cdef pkt_t **stage                  # per TX port: staged packets of one breath
    cdef int *nstage
    cdef pkt_t **pkts
    cdef out_t *outs
    cdef int batch, max_out
    cdef batch_fn_t fn
    cdef void *pipeline
    cdef pkt_pool_t *pool
    cdef volatile int stop_flag
    cdef readonly uint64_t rx_packets, tx_packets, no_port_drops, breaths, idle_breaths, sleeps
    cdef readonly uint64_t relayed
    cdef public bint measure_gaps         # record max_gap_ns and the gaps' causes (gaps.pxi)
    cdef readonly uint64_t max_gap_ns     # longest time between the starts of two breaths
    cdef uint64_t gap_prev                # start of the last breath (kept across run() calls)
    cdef kv_gaps_t gaps
    cdef public bint busy_poll
    # What makes run(until_owed=True) hand back to Python at its deadline (watch()): frames
    # sent to the CPU port's queue, digests not taken, the trace on; and kick().
    cdef volatile const uint32_t *owed_count
    cdef volatile const int *owed_flag
    cdef int owed_ti                    # TX index of the CPU port's queue, or -1
    cdef bint owed_tx
    cdef volatile int kicked
    cdef pollfd pfds[MAX_PORTS + 1]    # [0] is the kick eventfd, then every waitable RX port
    cdef int npfds
    cdef bint waitable                  # every RX port has a wait_fd: sleep in poll()
    cdef object _keep

    def __cinit__(self, object pipeline, size_t fn_addr, PacketPool pool, dict rx_ports,
                  dict tx_ports, int batch, object disabled=(), size_t worker=0,
                  dict relays=None):
        # worker: a Pipeline.worker_handle() for fn_addr = worker_batch_entry(); 0: the
        # pipeline itself (batch_entry(), worker 0). relays: port number -> RelayPorts whose
        # frames go out of that port (one of tx_ports) without the pipeline.
        cdef int i
        cdef Port p
        self._keep = (pipeline, rx_ports, tx_ports, pool, relays)
        self.pipeline = <void *>worker if worker else <void *>pipeline
        self.fn = <batch_fn_t>fn_addr
        self.pool = &pool.pool
        self.batch = batch
        self.max_out = 4 * batch + 64
        self.nrx = 0
        self.ntx = 0
        self.busy_poll = False
        self.gaps.threshold_ns = 1000000
        self.owed_ti = -1
        self.pfds[0].fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)
        if self.pfds[0].fd < 0:
            raise OSError("engine loop: eventfd failed")
        self.pfds[0].events = POLLIN
        self.npfds = 1
        self.waitable = True
        for i in range(MAX_PORT_NUM):
            self.tx_index[i] = -1
        for num, p in rx_ports.items():
            if p.ops.rx_batch != NULL and self.nrx < MAX_PORTS:
                self.rx[self.nrx] = p.ops
                self.rx_num[self.nrx] = num
                self.rx_down[self.nrx] = 0
                self.nrx += 1
                if p.ops.wait_fd >= 0:
                    self.pfds[self.npfds].fd = p.ops.wait_fd
                    self.pfds[self.npfds].events = POLLIN
                    self.npfds += 1
                else:
                    self.waitable = False
        for num, p in tx_ports.items():
            if p.ops.tx_batch != NULL and self.ntx < MAX_PORTS and 0 <= num < MAX_PORT_NUM:
                self.tx[self.ntx] = p.ops
                self.tx_index[num] = self.ntx
                self.tx_down[self.ntx] = 0
                self.ntx += 1
        self.nrelay = 0
        for num, ps in (relays or {}).items():
            for p in ps:
                if (p.ops.rx_batch == NULL or self.nrelay >= MAX_PORTS
                        or not 0 <= num < MAX_PORT_NUM or self.tx_index[num] < 0):
                    raise ValueError(f"relay to port {num}: not an open relay to a TX port here")
                self.relay[self.nrelay] = p.ops
                self.relay_tx[self.nrelay] = self.tx_index[num]
                self.nrelay += 1
                self.waitable = False           # a relay has no descriptor to sleep on
        for num in disabled:
            self.set_port_enabled(num, False)
        self.stage = <pkt_t **>calloc(max(1, self.ntx) * self.max_out, sizeof(pkt_t *))
        self.nstage = <int *>calloc(max(1, self.ntx), sizeof(int))
        self.pkts = <pkt_t **>calloc(batch, sizeof(pkt_t *))
        self.outs = <out_t *>calloc(self.max_out, sizeof(out_t))
        if self.stage == NULL or self.nstage == NULL or self.pkts == NULL or self.outs == NULL:
            raise MemoryError("engine loop buffers")

    def __dealloc__(self):
        if self.pfds[0].fd >= 0:
            close(self.pfds[0].fd)
        free(self.stage)
        free(self.nstage)
        free(self.pkts)
        free(self.outs)

    def set_port_enabled(self, int num, bint enabled) -> None:
        """Let port `num` forward again, or stop it (takes effect at the next batch)."""
        cdef int i
        for i in range(self.nrx):
            if self.rx_num[i] == <uint32_t>num:
                self.rx_down[i] = not enabled
        if 0 <= num < MAX_PORT_NUM and self.tx_index[num] >= 0:
            self.tx_down[self.tx_index[num]] = not enabled

    cdef void flush(self) noexcept nogil:
        """Hand every TX port its staged packets (dropped and counted when it is disabled)."""
        cdef int ti, k
        cdef port_stats_t *st
        for ti in range(self.ntx):
            if self.nstage[ti]:
                st = self.tx[ti].stats
                if self.tx_down[ti]:
                    for k in range(self.nstage[ti]):
                        pool_free(self.pool, self.stage[ti * self.max_out + k])
                    if st != NULL:
                        st.tx_dropped += <uint64_t>self.nstage[ti]
                    self.nstage[ti] = 0
                    continue
                if st != NULL:
                    count_group(&self.stage[ti * self.max_out], self.nstage[ti],
                                &st.tx_multicast, &st.tx_broadcast)
                if ti == self.owed_ti:
                    self.owed_tx = True
                self.tx[ti].tx_batch(self.tx[ti].state, &self.stage[ti * self.max_out],
                                     self.nstage[ti])
                self.tx_packets += self.nstage[ti]
                self.nstage[ti] = 0

    cdef int breathe(self) noexcept nogil:
        """One breath; returns the number of packets received (relayed ones included)."""
        cdef int r, k, n, nout, ti, got = 0, moved = 0
        cdef pkt_t *p
        cdef port_stats_t *st
        for r in range(self.nrx):
            n = self.rx[r].rx_batch(self.rx[r].state, self.pkts, self.batch)
            if n <= 0:
                continue
            got += n
            st = self.rx[r].stats
            if st != NULL:
                count_group(self.pkts, n, &st.rx_multicast, &st.rx_broadcast)
            if self.rx_down[r]:
                for k in range(n):
                    pool_free(self.pool, self.pkts[k])
                if st != NULL:
                    st.rx_dropped += <uint64_t>n
                continue
            for k in range(n):
                self.pkts[k].port = self.rx_num[r]
            nout = self.fn(self.pipeline, self.pkts, n, self.outs, self.max_out)
            for k in range(nout):
                p = self.outs[k].pkt
                ti = self.tx_index[self.outs[k].port] if self.outs[k].port < MAX_PORT_NUM else -1
                if ti < 0:
                    pool_free(self.pool, p)
                    self.no_port_drops += 1
                    continue
                self.stage[ti * self.max_out + self.nstage[ti]] = p
                self.nstage[ti] += 1
            self.flush()
        # Frames other workers sent to the ports this worker owns: straight to the port.
        for r in range(self.nrelay):
            n = self.relay[r].rx_batch(self.relay[r].state, self.pkts, self.batch)
            if n <= 0:
                continue
            ti = self.relay_tx[r]
            for k in range(n):
                self.stage[ti * self.max_out + self.nstage[ti]] = self.pkts[k]
                self.nstage[ti] += 1
            self.flush()
            moved += n
        self.rx_packets += got
        self.relayed += <uint64_t>moved
        self.breaths += 1
        return got + moved

    cdef bint sleep(self, uint64_t now, uint64_t deadline, bint until_work) noexcept nogil:
        """Sleep while the ports are idle: until a port has work, a kick, or (unless
        until_work) the deadline. True when kicked: the caller returns to the Python side."""
        cdef uint64_t value, wait_ns = 0
        cdef timespec ts
        cdef timespec *timeout = NULL           # waitable and until_work: no timeout
        cdef int i
        self.sleeps += 1
        if not until_work:
            wait_ns = deadline - now if deadline > now else 0
        if not self.waitable and (until_work or wait_ns > MAX_NAP_NS):
            wait_ns = MAX_NAP_NS                # a port without a descriptor: look again soon
        if not until_work or not self.waitable:
            ts.tv_sec = <long>(wait_ns // 1000000000)
            ts.tv_nsec = <long>(wait_ns % 1000000000)
            timeout = &ts
        for i in range(self.npfds):
            self.pfds[i].revents = 0
        if ppoll(self.pfds, self.npfds, timeout, NULL) > 0 and self.pfds[0].revents:
            read(self.pfds[0].fd, &value, sizeof(value))
            return True
        return False

    cdef bint owed(self) noexcept nogil:
        """Python has something to do for this worker (see watch())."""
        if self.kicked:
            self.kicked = 0
            return True
        return (self.owed_tx or (self.owed_count != NULL and self.owed_count[0] != 0)
                or (self.owed_flag != NULL and self.owed_flag[0] != 0))

    def watch(self, size_t count_addr, size_t flag_addr, int cpu_port) -> None:
        """What run(until_owed=True) waits for before it returns at its deadline: a nonzero
        uint32_t at count_addr, a nonzero int at flag_addr (0: none; e.g.
        Pipeline.worker_owed_addrs), frames sent to TX port cpu_port (-1: none), a kick."""
        self.owed_count = <const uint32_t *>count_addr
        self.owed_flag = <const int *>flag_addr
        self.owed_ti = self.tx_index[cpu_port] if 0 <= cpu_port < MAX_PORT_NUM else -1

    def kick(self) -> None:
        """Wake a sleeping run() (it returns): packets were injected, or stop was asked."""
        cdef uint64_t one = 1
        self.kicked = 1
        write(self.pfds[0].fd, &one, sizeof(one))

    def run(self, double seconds, uint64_t max_packets=0, bint stop_when_idle=False,
            bint sleep_until_work=False, bint until_owed=False) -> int:
        """Breathe for up to `seconds` (or until max_packets received / stop / idle / kick).
        With sleep_until_work, a run that has received nothing yet does not end at the
        deadline while idle: it sleeps until a packet or a kick arrives. With until_owed, the
        deadline ends the run only once Python has something to do (watch()): a worker's
        thread then takes the GIL only for that, never just to come back (a control-plane
        thread holding the GIL would hold the worker up to the switch interval, 5 ms)."""
        cdef uint64_t deadline = monotonic_ns() + <uint64_t>(seconds * 1e9)
        cdef uint64_t start_rx = self.rx_packets
        cdef bint wait_work
        cdef uint64_t sleep_ns = 0, now, idle_since = 0
        cdef int got
        cdef timespec ts
        with nogil:
            while not self.stop_flag:
                if self.measure_gaps:
                    # Between two run() calls the worker is away from its ports too (serving
                    # injected frames, taking the GIL): that counts as a gap as well.
                    now = monotonic_ns()
                    if self.gap_prev and now - self.gap_prev > self.max_gap_ns:
                        self.max_gap_ns = now - self.gap_prev
                    self.gap_prev = now
                    kv_gaps_breath(&self.gaps, now)
                got = self.breathe()
                if got == 0:
                    self.idle_breaths += 1
                    if stop_when_idle:
                        break
                    if not self.busy_poll:
                        now = monotonic_ns()
                        if idle_since == 0:
                            idle_since = now
                        elif now - idle_since >= IDLE_BLOCK_NS:
                            self.gap_prev = 0   # a sleep while idle is not a gap between breaths
                            self.gaps.last_ns = 0
                            wait_work = ((sleep_until_work and self.rx_packets == start_rx)
                                         or (until_owed and not self.owed()))
                            if self.sleep(now, deadline, wait_work):
                                self.kicked = 0
                                break
                            if now >= deadline and not wait_work:
                                break
                            continue
                    sleep_ns = sleep_ns + 1000 if sleep_ns < 100000 else 100000
                    ts.tv_sec = 0
                    ts.tv_nsec = <long>sleep_ns
                    nanosleep(&ts, NULL)
                else:
                    sleep_ns = sleep_ns // 2
                    idle_since = 0
                if max_packets and self.rx_packets - start_rx >= max_packets:
                    break
                if ((self.breaths & 63) == 0 and monotonic_ns() >= deadline
                        and (not until_owed or self.owed())):
                    break
        self.owed_tx = False
        return self.rx_packets - start_rx

    @property
    def gap_threshold_ns(self) -> int:
        return self.gaps.threshold_ns

    @gap_threshold_ns.setter
    def gap_threshold_ns(self, uint64_t value) -> None:
        self.gaps.threshold_ns = value

    def gap_causes(self) -> dict:
        """Gaps between breaths longer than gap_threshold_ns (1 ms), by cause (gaps.pxi),
        since measure_gaps was set."""
        return gaps_dict(&self.gaps)

    def reset_gaps(self) -> None:
        """Start max_gap_ns and gap_causes() afresh (the next gap still counts)."""
        kv_gaps_reset(&self.gaps)
        self.max_gap_ns = 0

    def request_stop(self) -> None:
        self.stop_flag = 1
        self.kick()


class WorkerPorts:
    """What one worker drives: its pipeline worker, pool, RX ports, TX handle on every port, and
    the relays bringing other workers' frames to the ports it owns (built by the Switch)."""

    def __init__(self, index: int, handle: int, pool: PacketPool, rx: dict, tx: dict,
                 relays: dict | None = None) -> None:
        self.index = index
        self.handle = handle
        self.pool = pool
        self.rx = rx
        self.tx = tx
        self.relays = relays or {}


class EngineLoop:
    """One thread per worker, each running a Breather over its ports; serves packet injection,
    packet-in, digests and traces.

    Injected frames (packet-out, tests) enter worker 0, through one queue per switch port, so
    their order per port is kept. Every worker has its own queue towards the CPU port and hands
    what arrives there, its digests and its trace to the Python side itself, in its own order
    (a flow stays on one worker, so packet-ins and digests of a flow keep their order);
    `after_batch(worker)` and `deliver_packet_in` are called from the worker threads.
    """

    def __init__(self, pipeline, workers: list[WorkerPorts], batch: int, cpu_port: int,
                 deliver_packet_in, after_batch, disabled=(), busy_poll: bool = False):
        from target.driver.memory import QueuePort
        from target.pipeline.engine import worker_batch_entry
        self.pipeline = pipeline
        self.cpu_port = cpu_port
        self.deliver = deliver_packet_in
        self.after_batch = after_batch
        self.workers = workers
        first = workers[0]
        self.inject_queues: dict[int, QueuePort] = {}
        ports = sorted(set().union(*(w.tx for w in workers)) - {cpu_port})
        for num in ports + ([cpu_port] if cpu_port >= 0 else []):
            q = QueuePort(4096)
            q.open(first.pool)
            self.inject_queues[num] = q
        self.cpu_queues = []
        # Per worker: (ports breather, injection breather or None, CPU queue or None).
        self._loops = []
        for w in workers:
            tx = dict(w.tx)
            cpu_queue = None
            if cpu_port >= 0:
                cpu_queue = QueuePort(4096)
                cpu_queue.open(w.pool)
                tx[cpu_port] = cpu_queue
            ports_b = Breather(pipeline, worker_batch_entry(), w.pool, w.rx, tx, batch, disabled,
                               worker=w.handle, relays=w.relays)
            ports_b.busy_poll = busy_poll
            ports_b.watch(*pipeline.worker_owed_addrs(w.index),
                          cpu_port if cpu_queue is not None else -1)
            inject_b = None
            if w is first:
                inject_b = Breather(pipeline, worker_batch_entry(), w.pool,
                                    dict(self.inject_queues), tx, batch, disabled,
                                    worker=w.handle)
            self._loops.append((ports_b, inject_b, cpu_queue))
        self._threads = []
        self._stop = threading.Event()

    @property
    def breathers(self) -> list:
        return [b for loop in self._loops for b in loop[:2] if b is not None]

    @property
    def port_breathers(self) -> list:
        """Each worker's breather over its ports (and relays), by worker."""
        return [loop[0] for loop in self._loops]

    def inject(self, port: int, frame: bytes) -> None:
        q = self.inject_queues.get(port)
        if q is None:
            raise KeyError(f"port {port} is not attached")
        if not q.push(frame):
            raise OverflowError(f"injection queue of port {port} is full")
        self._loops[0][0].kick()   # the ports' run may be asleep: let the queues be served

    def _run(self, k: int) -> None:
        from target.priority import normal_thread
        normal_thread()         # not the (possibly lowered) control thread's priority
        ports, injected, cpu_queue = self._loops[k]
        while not self._stop.is_set():
            # The real ports get the time; injected frames (packet-out, tests) are served in
            # between until their queues are empty, never by idling on them. The thread comes
            # back here (and takes the GIL) only when something waits for Python: a kick
            # (injection, stop), packet-ins, digests, the trace; at most every 2 ms then.
            ports.run(0.002, 0, False, True, True)
            if injected is not None:
                injected.run(0.002, 0, True)
            if cpu_queue is not None:
                for frame in cpu_queue.pop_all():
                    self.deliver(frame)
            self.after_batch(self.workers[k].index)

    def set_port_enabled(self, port: int, enabled: bool) -> None:
        for b in self.breathers:
            b.set_port_enabled(port, enabled)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True,
                                          name=f"kvick-engine-{k}" if k else "kvick-engine")
                         for k in range(len(self._loops))]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for b in self.breathers:
            b.request_stop()
        for t in self._threads:
            t.join()
        self._threads = []
        for k, (_, _, cpu_queue) in enumerate(self._loops):
            if cpu_queue is not None:
                for frame in cpu_queue.pop_all():
                    self.deliver(frame)
            self.after_batch(self.workers[k].index)
