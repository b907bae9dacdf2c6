# cython: language_level=3
"""CapturePort: any port, with what it receives and sends recorded, as simple_switch's --pcap.

BMv2 writes, per interface X, DIR/X_in.pcap (frames received) and DIR/X_out.pcap (frames sent);
the command line wraps each port in a CapturePort to do the same. It can also hand the first N
bytes of every frame to a Python callback (--dump-packet-data N, which BMv2 logs at info
level); that is a debugging aid, so it is the one place a port takes the GIL per batch.

The wrapper's ops call the wrapped port's ops: records are written in C, before a transmitted
batch is handed on (tx_batch gives the packets away).
"""

import os

from libc.stdint cimport uint64_t

from target.driver.pcap cimport PcapWriter, pcap_write, pcap_writer_t
from target.driver.port cimport Port, port_ops_t
from target.packet cimport PacketPool, pkt_t


cdef struct capture_state_t:
    port_ops_t inner            # the wrapped port's ops, state and stats
    pcap_writer_t *rx_log       # NULL: received frames are not recorded
    pcap_writer_t *tx_log       # NULL: sent frames are not recorded
    int dump_bytes              # > 0: hand this many leading bytes of each frame to dump()
    void *owner                 # the CapturePort, for dump()


cdef void dump(capture_state_t *st, pkt_t **pkts, int n, bint sent) noexcept nogil:
    with gil:
        port = <CapturePort>st.owner
        try:
            for i in range(n):
                port.on_dump(sent, pkts[i].len, pkts[i].data[:min(pkts[i].len, st.dump_bytes)])
        except BaseException:
            pass                # a failing log handler must not take the data path down


cdef int capture_rx(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef capture_state_t *st = <capture_state_t *>opaque
    cdef uint64_t nbytes = 0
    cdef int n = st.inner.rx_batch(st.inner.state, pkts, max)
    if n > 0:
        if st.rx_log != NULL:
            pcap_write(st.rx_log, pkts, n, &nbytes)
        if st.dump_bytes > 0:
            dump(st, pkts, n, False)
    return n


cdef int capture_tx(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef capture_state_t *st = <capture_state_t *>opaque
    cdef uint64_t nbytes = 0
    if n > 0:
        if st.tx_log != NULL:
            pcap_write(st.tx_log, pkts, n, &nbytes)
        if st.dump_bytes > 0:
            dump(st, pkts, n, True)
    return st.inner.tx_batch(st.inner.state, pkts, n)


cdef class CapturePort(Port):
    """`inner`, recording received frames in rx_path and sent ones in tx_path (either may be
    None); with dump_bytes > 0, on_dump(sent, length, first_bytes) is called per frame."""

    cdef capture_state_t state
    cdef readonly Port inner
    cdef PcapWriter rx_writer
    cdef PcapWriter tx_writer
    cdef public object on_dump

    def __init__(self, Port inner, rx_path: str | os.PathLike | None = None,
                 tx_path: str | os.PathLike | None = None, int dump_bytes=0,
                 on_dump=None) -> None:
        if dump_bytes < 0:
            raise ValueError("dump_bytes must not be negative")
        if dump_bytes and on_dump is None:
            raise ValueError("dump_bytes needs on_dump")
        self.inner = inner
        self.name = inner.name
        self.rx_writer = PcapWriter(rx_path) if rx_path is not None else None
        self.tx_writer = PcapWriter(tx_path) if tx_path is not None else None
        self.on_dump = on_dump
        self.state.dump_bytes = dump_bytes
        self.state.owner = <void *>self
        self.state.rx_log = &self.rx_writer.state.writer if self.rx_writer is not None else NULL
        self.state.tx_log = &self.tx_writer.state.writer if self.tx_writer is not None else NULL

    def open(self, PacketPool pool) -> None:
        self.inner.open(pool)
        Port.open(self, pool)
        self.state.inner = self.inner.ops
        self.ops.rx_batch = NULL
        self.ops.tx_batch = NULL
        if self.inner.ops.rx_batch != NULL:
            self.ops.rx_batch = capture_rx
        if self.inner.ops.tx_batch != NULL:
            self.ops.tx_batch = capture_tx
        self.ops.state = &self.state
        self.ops.stats = self.inner.ops.stats

    def close(self) -> None:
        Port.close(self)
        try:
            self.inner.close()
        finally:
            for writer in (self.rx_writer, self.tx_writer):
                if writer is not None:
                    writer.close()

    def flush(self) -> None:
        for writer in (self.rx_writer, self.tx_writer):
            if writer is not None:
                writer.flush()

    def stats(self) -> dict[str, int]:
        return self.inner.stats()

    def link_state(self) -> bool:
        return self.inner.link_state()

    def speed_mbps(self) -> int:
        return self.inner.speed_mbps()

    def __getattr__(self, name: str):
        # Driver-specific extras (an af_packet port's interface index, a queue port's
        # send/receive) stay reachable through the wrapper.
        return getattr(self.inner, name)
