# cython: language_level=3
"""pcap file ports: PcapReader replays a classic pcap file, PcapWriter records one, PcapPort
does both (the command line's `pcap:IN.pcap,OUT.pcap`).

Reading accepts both byte orders and both timestamp resolutions, LINKTYPE_ETHERNET only. The
whole file is read and indexed at construction, so every format problem, including a record cut
short at the end of the file, is an error then (PcapFormatError naming the file, the record
number and its byte offset) and replay touches only memory. Writing goes through a buffered
stdio FILE; records carry the wall-clock time of the batch that wrote them.
"""

import os

from libc.errno cimport errno
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdio cimport FILE, _IOFBF, fclose, fflush, fopen, fwrite, setvbuf
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME

from target.clock cimport clock_ns
from target.driver.port cimport Port
from target.packet cimport PacketPool, PKT_HEADROOM, pkt_t, pool_alloc, pool_free

cdef extern from *:
    uint32_t bswap32 "__builtin_bswap32" (uint32_t x) noexcept nogil


cdef enum:
    FILE_HEADER_LEN = 24
    RECORD_HEADER_LEN = 16
    LINKTYPE_ETHERNET = 1
    # The LinkType field: link type in the low 16 bits; bit 26 says bits 28-31 give the FCS
    # length, in 16-bit units, at the end of every frame.
    LINKTYPE_MASK = 0xffff
    FCS_LEN_KNOWN = 0x04000000
    WRITE_SNAPLEN = 262144      # tcpdump's default; larger than any packet buffer
    STDIO_BUFFER = 1 << 20

    SCAN_OK = 0
    SCAN_SHORT_HEADER = 1       # fewer than 16 bytes left for a record header
    SCAN_SHORT_DATA = 2         # the record claims more bytes than the file has left


# Magic numbers as read in the writer's byte order (C enums stop at INT_MAX, hence variables).
cdef uint32_t MAGIC_USEC = 0xa1b2c3d4           # seconds + microseconds
cdef uint32_t MAGIC_NSEC = 0xa1b23c4d           # seconds + nanoseconds
cdef uint32_t MAGIC_USEC_SWAPPED = 0xd4c3b2a1
cdef uint32_t MAGIC_NSEC_SWAPPED = 0x4d3cb2a1
cdef uint32_t MAGIC_PCAPNG = 0x0a0d0d0a         # pcapng Section Header Block, either order


class PcapFormatError(ValueError):
    """A file that is not a readable classic pcap capture of Ethernet frames."""


cdef inline uint32_t read_u32(const uint8_t *at, bint swapped) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, at, 4)
    return bswap32(v) if swapped else v


cdef int scan_records(const uint8_t *data, uint64_t size, bint swapped, uint32_t fcs_len,
                      uint64_t *offsets, uint32_t *lengths, uint64_t *count,
                      uint64_t *stop_offset) noexcept nogil:
    """Walk the records after the file header. With offsets/lengths NULL it only counts. On
    return *count is the number of complete records and *stop_offset where the walk ended."""
    cdef uint64_t pos = FILE_HEADER_LEN
    cdef uint64_t n = 0
    cdef uint32_t captured, original, length
    cdef int status = SCAN_OK
    while pos < size:
        if size - pos < RECORD_HEADER_LEN:
            status = SCAN_SHORT_HEADER
            break
        captured = read_u32(data + pos + 8, swapped)
        original = read_u32(data + pos + 12, swapped)
        if size - pos - RECORD_HEADER_LEN < captured:
            status = SCAN_SHORT_DATA
            break
        length = captured
        # The FCS is there only when the whole frame was captured.
        if fcs_len and captured == original and captured >= fcs_len:
            length = captured - fcs_len
        if offsets != NULL:
            offsets[n] = pos + RECORD_HEADER_LEN
            lengths[n] = length
        n += 1
        pos += RECORD_HEADER_LEN + captured
    count[0] = n
    stop_offset[0] = pos
    return status


cdef int pcap_rx_batch(void *opaque, pkt_t **pkts, int max) noexcept nogil:
    cdef pcap_state_t *st = <pcap_state_t *>opaque
    cdef pcap_reader_t *r = &st.reader
    cdef uint32_t max_frame = st.pool.buf_size - PKT_HEADROOM
    cdef uint64_t i = r.next_record
    cdef uint64_t nbytes = 0
    cdef uint64_t now
    cdef uint32_t length
    cdef int n = 0
    cdef pkt_t *p
    if r.nrecords == 0 or (i == r.nrecords and not r.loop):
        return 0
    now = clock_ns(CLOCK_MONOTONIC)
    # In loop mode open() made sure some record is deliverable, so this ends.
    while n < max:
        if i == r.nrecords:
            if not r.loop:
                break
            i = 0
        length = r.record_len[i]
        if length == 0:
            st.stats.rx_errors += 1
            i += 1
            continue
        if length > max_frame:
            st.stats.rx_dropped += 1
            i += 1
            continue
        p = pool_alloc(st.pool)
        if p == NULL:
            break
        memcpy(p.data, r.file_data + r.record_offset[i], length)
        p.len = length
        p.tstamp_ns = now
        pkts[n] = p
        n += 1
        nbytes += length
        i += 1
    r.next_record = i
    r.sent += <uint64_t>n
    st.stats.rx_packets += <uint64_t>n
    st.stats.rx_bytes += nbytes
    return n


cdef int pcap_write(pcap_writer_t *w, pkt_t **pkts, int n, uint64_t *nbytes) noexcept nogil:
    """Append n records; returns how many were written (the packets stay the caller's)."""
    cdef uint64_t now = clock_ns(CLOCK_REALTIME)
    cdef uint32_t header[4]
    cdef uint32_t captured
    cdef int i, sent = 0
    cdef pkt_t *p
    if w.file == NULL:
        return 0
    header[0] = <uint32_t>(now // 1000000000)
    header[1] = <uint32_t>(now % 1000000000) if w.nanosecond else \
        <uint32_t>((now % 1000000000) // 1000)
    for i in range(n):
        p = pkts[i]
        captured = p.len if p.len <= WRITE_SNAPLEN else WRITE_SNAPLEN
        header[2] = captured
        header[3] = p.len
        if (fwrite(header, RECORD_HEADER_LEN, 1, w.file) != 1
                or (captured and fwrite(p.data, captured, 1, w.file) != 1)):
            if not w.write_failed:
                w.write_failed = True
                w.write_errno = errno
        else:
            sent += 1
            nbytes[0] += p.len
    w.written += sent
    return sent


cdef int pcap_tx_batch(void *opaque, pkt_t **pkts, int n) noexcept nogil:
    cdef pcap_state_t *st = <pcap_state_t *>opaque
    cdef uint64_t nbytes = 0
    cdef int i
    cdef int sent = pcap_write(&st.writer, pkts, n, &nbytes)
    for i in range(n):
        pool_free(st.pool, pkts[i])
    st.stats.tx_packets += sent
    st.stats.tx_bytes += nbytes
    st.stats.tx_dropped += n - sent
    return n


cdef class PcapPort(Port):
    """A port that replays `rx_path` (if given) and records into `tx_path` (if given).

    loop: replay the input forever. nanosecond: write nanosecond timestamps (magic a1b23c4d)
    instead of microseconds. An input frame longer than the pool's largest frame is skipped and
    counted in rx_dropped; a zero-length record is skipped and counted in rx_errors.
    """

    def __init__(self, rx_path: str | os.PathLike | None = None,
                 tx_path: str | os.PathLike | None = None, *, loop: bool = False,
                 nanosecond: bool = False) -> None:
        if rx_path is None and tx_path is None:
            raise ValueError("a pcap port needs an input file, an output file, or both")
        self.rx_path = None if rx_path is None else os.fspath(rx_path)
        self.tx_path = None if tx_path is None else os.fspath(tx_path)
        if self.rx_path is not None:
            self._load(self.rx_path)
            self.state.reader.loop = loop
        if self.tx_path is not None:
            self._create(self.tx_path, nanosecond)
        self.name = "pcap:" + ",".join(p for p in (self.rx_path, self.tx_path) if p is not None)

    def _load(self, path: str) -> None:
        cdef uint8_t *data = NULL
        cdef uint64_t size = 0
        cdef uint64_t count = 0
        cdef uint64_t stop = 0
        cdef uint64_t count_again = 0
        cdef uint32_t magic, network, fcs_len = 0
        cdef bint swapped
        cdef int status
        self._release_reader()
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise PcapFormatError(f"{path}: empty file, no pcap header")
            data = <uint8_t *>malloc(size)
            if data == NULL:
                raise MemoryError(f"cannot hold {path} ({size} bytes) in memory")
            self.state.reader.file_data = data
            view = memoryview(<uint8_t[:size]>data)
            done = 0
            while done < size:
                got = f.readinto(view[done:])
                if not got:
                    raise PcapFormatError(f"{path}: file shrank while being read")
                done += got
        if size < FILE_HEADER_LEN:
            raise PcapFormatError(f"{path}: {size} bytes, shorter than the 24-byte pcap header")
        magic = read_u32(data, False)
        if magic == MAGIC_USEC or magic == MAGIC_NSEC:
            swapped = False
        elif magic == MAGIC_USEC_SWAPPED or magic == MAGIC_NSEC_SWAPPED:
            swapped = True
        elif magic == MAGIC_PCAPNG:
            raise PcapFormatError(f"{path}: pcapng file; only classic pcap is read "
                                  f"(convert with: editcap -F pcap IN OUT)")
        else:
            raise PcapFormatError(f"{path}: bad magic 0x{magic:08x}, not a pcap file")
        network = read_u32(data + 20, swapped)
        if network & LINKTYPE_MASK != LINKTYPE_ETHERNET:
            raise PcapFormatError(f"{path}: link type {network & LINKTYPE_MASK}; only "
                                  f"Ethernet ({LINKTYPE_ETHERNET}) is supported")
        if network & FCS_LEN_KNOWN:
            fcs_len = 2 * (network >> 28)
        with nogil:
            status = scan_records(data, size, swapped, fcs_len, NULL, NULL, &count, &stop)
        if status == SCAN_SHORT_HEADER:
            raise PcapFormatError(f"{path}: record {count} at byte {stop} is cut short: "
                                  f"{size - stop} of {RECORD_HEADER_LEN} header bytes")
        if status == SCAN_SHORT_DATA:
            captured = read_u32(data + stop + 8, swapped)
            raise PcapFormatError(
                f"{path}: record {count} at byte {stop} is cut short: it claims {captured} "
                f"captured bytes, {size - stop - RECORD_HEADER_LEN} remain")
        self.state.reader.record_offset = <uint64_t *>malloc((count or 1) * sizeof(uint64_t))
        self.state.reader.record_len = <uint32_t *>malloc((count or 1) * sizeof(uint32_t))
        if self.state.reader.record_offset == NULL or self.state.reader.record_len == NULL:
            raise MemoryError(f"cannot index {count} records of {path}")
        with nogil:
            scan_records(data, size, swapped, fcs_len, self.state.reader.record_offset,
                         self.state.reader.record_len, &count_again, &stop)
        self.state.reader.nrecords = count

    def _create(self, path: str, bint nanosecond) -> None:
        cdef bytes encoded = os.fsencode(path)
        cdef FILE *f = fopen(encoded, b"wb")
        cdef uint32_t header[6]
        cdef uint16_t *versions = <uint16_t *>&header[1]
        if f == NULL:
            raise OSError(errno, os.strerror(errno), path)
        self.state.writer.file = f
        self.state.writer.nanosecond = nanosecond
        self.state.writer.stdio_buffer = <char *>malloc(STDIO_BUFFER)
        if self.state.writer.stdio_buffer != NULL:
            setvbuf(f, self.state.writer.stdio_buffer, _IOFBF, STDIO_BUFFER)
        # Written in this machine's byte order: readers tell the order from the magic.
        header[0] = MAGIC_NSEC if nanosecond else MAGIC_USEC
        versions[0] = 2
        versions[1] = 4
        header[2] = 0           # thiszone: timestamps are UTC
        header[3] = 0           # sigfigs
        header[4] = WRITE_SNAPLEN
        header[5] = LINKTYPE_ETHERNET
        if fwrite(header, FILE_HEADER_LEN, 1, f) != 1:
            raise OSError(errno, os.strerror(errno), path)

    cdef void _release_reader(self) noexcept:
        free(self.state.reader.file_data)
        free(self.state.reader.record_offset)
        free(self.state.reader.record_len)
        self.state.reader.file_data = NULL
        self.state.reader.record_offset = NULL
        self.state.reader.record_len = NULL
        self.state.reader.nrecords = 0
        self.state.reader.next_record = 0

    def __dealloc__(self):
        self._release_reader()
        if self.state.writer.file != NULL:
            fclose(self.state.writer.file)
        free(self.state.writer.stdio_buffer)

    def open(self, PacketPool pool) -> None:
        cdef uint64_t i
        cdef uint32_t length
        cdef bint deliverable = False
        if self.state.reader.loop:
            for i in range(self.state.reader.nrecords):
                length = self.state.reader.record_len[i]
                if 0 < length <= pool.max_frame:
                    deliverable = True
                    break
            if not deliverable:
                raise ValueError(f"{self.rx_path}: no frame fits the pool's largest frame "
                                 f"({pool.max_frame} bytes); looping would deliver nothing")
        Port.open(self, pool)
        self.state.pool = self.c_pool
        self.state.stats = self.ops.stats
        self.ops.rx_batch = NULL
        self.ops.tx_batch = NULL
        if self.rx_path is not None:
            self.ops.rx_batch = pcap_rx_batch
        if self.tx_path is not None:
            self.ops.tx_batch = pcap_tx_batch
        self.ops.state = &self.state

    def flush(self) -> None:
        """Push buffered records to the file; OSError if any write has failed."""
        cdef pcap_writer_t *w = &self.state.writer
        if w.file != NULL and fflush(w.file) != 0 and not w.write_failed:
            w.write_failed = True
            w.write_errno = errno
        if w.write_failed:
            raise OSError(w.write_errno, "writing pcap records failed: "
                          + os.strerror(w.write_errno), self.tx_path)

    def close(self) -> None:
        """Flush and close the output file; later transmissions are dropped and counted."""
        cdef pcap_writer_t *w = &self.state.writer
        cdef int rc = 0
        Port.close(self)
        if w.file != NULL:
            if fflush(w.file) != 0 and not w.write_failed:
                w.write_failed = True
                w.write_errno = errno
            rc = fclose(w.file)
            w.file = NULL
            free(w.stdio_buffer)
            w.stdio_buffer = NULL
            if rc != 0 and not w.write_failed:
                w.write_failed = True
                w.write_errno = errno
            if w.write_failed:
                raise OSError(w.write_errno, "writing pcap records failed: "
                              + os.strerror(w.write_errno), self.tx_path)

    def rewind(self) -> None:
        """Replay the input again from its first record."""
        self.state.reader.next_record = 0

    @property
    def records(self) -> int:
        """Records in the input file."""
        return self.state.reader.nrecords

    @property
    def sent(self) -> int:
        """Frames delivered from the input so far."""
        return self.state.reader.sent

    @property
    def written(self) -> int:
        """Records written to the output so far."""
        return self.state.writer.written


cdef class PcapReader(PcapPort):
    """RX-only port replaying a classic pcap file (see PcapPort)."""

    def __init__(self, path: str | os.PathLike, loop: bool = False) -> None:
        PcapPort.__init__(self, rx_path=path, loop=loop)


cdef class PcapWriter(PcapPort):
    """TX-only port recording transmitted frames as a classic pcap file (see PcapPort)."""

    def __init__(self, path: str | os.PathLike, nanosecond: bool = False) -> None:
        PcapPort.__init__(self, tx_path=path, nanosecond=nanosecond)
