# pcap file ports: replay a classic pcap file as received traffic, record transmitted traffic as
# a classic pcap file. The format is libpcap's savefile (draft-ietf-opsawg-pcap): a 24-byte file
# header, then per packet a 16-byte record header and the captured bytes.

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdio cimport FILE

from target.driver.port cimport Port, port_stats_t
from target.packet cimport pkt_pool_t, pkt_t


cdef struct pcap_reader_t:
    uint8_t *file_data          # the whole file, read once at construction
    uint64_t *record_offset     # offset in file_data of record i's frame bytes
    uint32_t *record_len        # bytes of record i delivered as the frame (FCS removed)
    uint64_t nrecords           # records in the file
    uint64_t next_record        # record the next rx_batch starts from
    uint64_t sent               # frames delivered so far, all passes included
    bint loop                   # start again at record 0 after the last one


cdef struct pcap_writer_t:
    FILE *file                  # NULL once closed; tx_batch then drops and counts
    char *stdio_buffer          # the FILE's buffer, owned here because stdio does not free it
    bint nanosecond             # timestamps in ns (magic a1b23c4d) rather than us (a1b2c3d4)
    bint write_failed           # a write came up short; flush() reports it
    int write_errno             # errno of the first failed write
    uint64_t written            # records written


# Append n records to an open writer; returns how many were written, adds their bytes to
# *nbytes. The packets stay the caller's. Used by PcapPort's tx_batch and by CapturePort.
cdef int pcap_write(pcap_writer_t *w, pkt_t **pkts, int n, uint64_t *nbytes) noexcept nogil


cdef struct pcap_state_t:
    pkt_pool_t *pool            # where rx_batch allocates and tx_batch frees
    port_stats_t *stats         # the port's counters
    pcap_reader_t reader        # used when the port has an input file
    pcap_writer_t writer        # used when the port has an output file


cdef class PcapPort(Port):
    cdef pcap_state_t state
    cdef readonly object rx_path    # input file, or None for a TX-only port
    cdef readonly object tx_path    # output file, or None for an RX-only port
    cdef void _release_reader(self) noexcept


cdef class PcapReader(PcapPort):
    pass


cdef class PcapWriter(PcapPort):
    pass
