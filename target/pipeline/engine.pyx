# cython: language_level=3
"""The executor: runs a compiled v1model program over batches of packets, in C.

Per packet: parser → verify checksums → ingress control → traffic manager (clone, resubmit,
multicast, drop, unicast) → egress control → egress clone/drop → update checksums → deparser →
recirculate or transmit, with simple_switch's semantics (behavioral-model
targets/simple_switch/simple_switch.cpp). Work items (an ingress or egress pass of one packet
instance) go through a FIFO job queue, so replication and recirculation keep BMv2's order.

Control/data concurrency: the control plane (Python, with the GIL) never writes while a batch
runs. Pipeline.run_batch holds `writer_lock` (a pthread mutex) for the whole batch without the
GIL; table writes take the same lock. So the data path never sees half an update and a
P4Runtime batch becomes visible atomically between two packet batches. The price is that a
large control-plane batch pauses forwarding while it is applied; per-entry atomic publishing
(RCU) can replace this later without changing the API.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from target.packet cimport (PKT_HEADROOM, PacketPool, pkt_clone, pkt_pool_t, pkt_t, pool_alloc,
                            pool_free)
from target.pipeline.engine cimport *
from target.pipeline.hashes cimport HASH_CSUM16, hash_compute_params, hash_params_init, hash_params_t
from target.pipeline.lpm_dir24 cimport Dir24Lpm, dir24_lookup, dir24_t
from target.pipeline.match_exact cimport ExactTable, exact_lookup, exact_table_t
from target.pipeline.match_lpm cimport LpmTable, lpm_lookup, lpm_table_t
from target.pipeline.match_ternary cimport TernaryTable, ternary_lookup, ternary_table_t
from target.pipeline.meter cimport MeterArray, meter_execute, meter_t

include "opcodes.pxi"

cdef extern from *:
    """
    static inline void kv_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
    static inline void kv_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }
    /* Clear a job slot's state in whole 8-byte words (slots have slack past state_bytes). */
    static inline void kv_zero_words(uint8_t *p, uint32_t nbytes) {
        uint64_t *w = (uint64_t *)(void *)p;
        for (uint32_t i = 0; i < (nbytes + 7) / 8; i++) w[i] = 0;
    }
    /* Sum of big-endian 16-bit words, taken 32 bits at a time: 2^16 = 1 modulo 0xFFFF, so
       the end-around-carry fold of this sum equals that of the 16-bit words. */
    static inline uint64_t kv_sum_be16(const uint8_t *p, uint32_t nbytes) {
        uint64_t sum = 0, w64;
        uint32_t w32;
        uint16_t w16;
        uint32_t i = 0;
        for (; i + 8 <= nbytes; i += 8) {
            memcpy(&w64, p + i, 8);
            w64 = __builtin_bswap64(w64);
            sum += (w64 >> 32) + (uint32_t)w64;
        }
        if (i + 4 <= nbytes) {
            memcpy(&w32, p + i, 4);
            sum += __builtin_bswap32(w32);
            i += 4;
        }
        if (i < nbytes) {
            memcpy(&w16, p + i, 2);
            sum += __builtin_bswap16(w16);
        }
        return sum;
    }
    /* The Internet checksum of a kv_sum_be16 total: end-around carries, then complement. */
    static inline uint64_t kv_csum_fold(uint64_t sum) {
        sum = (sum & 0xFFFFFFFFULL) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (~sum) & 0xFFFF;
    }
    """
    void kv_prefetch(const void *p) noexcept nogil
    void kv_prefetch_write(const void *p) noexcept nogil
    void kv_zero_words(uint8_t *p, uint32_t nbytes) noexcept nogil
    uint64_t kv_sum_be16(const uint8_t *p, uint32_t nbytes) noexcept nogil
    uint64_t kv_csum_fold(uint64_t sum) noexcept nogil

cdef extern from *:
    """
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mman.h>
    #define KV_HUGE (2u << 20)
    /* Entry records: 64-byte aligned (realloc keeps only 16). Once an array passes 2 MiB it
       lives in its own mapping advised for transparent huge pages: the data path reads one
       random record per packet, and with 4 KiB pages every such read is also a TLB miss. */
    static size_t kv_big_bytes(size_t n) { return (n + KV_HUGE - 1) & ~(size_t)(KV_HUGE - 1); }
    static void kv_free_aligned(void *p, size_t bytes) {
        if (!p) return;
        if (bytes >= KV_HUGE) munmap(p, kv_big_bytes(bytes)); else free(p);
    }
    static void *kv_grow_aligned(void *old, size_t old_bytes, size_t new_bytes) {
        void *p = NULL;
        if (new_bytes >= KV_HUGE) {
            size_t len = kv_big_bytes(new_bytes);
            char *raw = mmap(NULL, len + KV_HUGE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (raw == MAP_FAILED) return NULL;
            /* keep a 2 MiB aligned window of len bytes, give back the rest */
            char *base = (char *)(((uintptr_t)raw + KV_HUGE - 1) & ~(uintptr_t)(KV_HUGE - 1));
            if (base > raw) munmap(raw, base - raw);
            if (raw + len + KV_HUGE > base + len) munmap(base + len, raw + len + KV_HUGE - (base + len));
            madvise(base, len, MADV_HUGEPAGE);
            p = base;
        } else if (posix_memalign(&p, 64, new_bytes ? new_bytes : 64) != 0) {
            return NULL;
        }
        if (old) {
            memcpy(p, old, old_bytes < new_bytes ? old_bytes : new_bytes);
            kv_free_aligned(old, old_bytes);
        }
        return p;
    }
    """
    void *grow_aligned "kv_grow_aligned" (void *old, size_t old_bytes, size_t new_bytes) noexcept nogil
    void free_aligned "kv_free_aligned" (void *p, size_t bytes) noexcept nogil

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t *m, void *attr)
    int pthread_mutex_lock(pthread_mutex_t *m)
    int pthread_mutex_unlock(pthread_mutex_t *m)
    int pthread_mutex_destroy(pthread_mutex_t *m)

include "records.pxi"

DEF NREGS = 64           # must equal loader.NREGS
DEF MAX_JOBS = 1024          # work items alive within one batch
DEF GROUP = 32               # received packets taken through ingress side by side
DEF MAX_KEY = 512            # bytes of a table key
DEF MAX_DIGESTS = 4096
DEF MAX_TRACE = 65536
DEF MAX_PROFILE_ID = 1 << 24  # member, group and entry ids index dense arrays
DEF MAX_LPM24_PREFETCH = 4     # DIR-24-8 tables whose first level is prefetched after parsing
DEF MAX_RECIRC = 16          # resubmit + recirculate passes allowed per received packet

cdef enum:
    JOB_INGRESS = 0
    JOB_EGRESS = 1

    ERR_NONE = 0
    ERR_PACKET_TOO_SHORT = 1
    ERR_NO_MATCH = 2
    ERR_STACK_OOB = 3
    ERR_HEADER_TOO_SHORT = 4
    ERR_PARSER_TIMEOUT = 5
    ERR_PARSER_INVALID_ARG = 6

    # trace events (formatted by Python after the batch)
    EV_PACKET_IN = 1, EV_PARSE_STATE, EV_EXTRACT, EV_PARSER_ERROR, EV_TABLE_HIT, EV_TABLE_MISS,
    EV_ACTION, EV_COND, EV_INGRESS_DONE, EV_DROP, EV_EGRESS, EV_OUT, EV_CLONE, EV_RESUBMIT,
    EV_RECIRC, EV_MULTICAST, EV_ASSERT, EV_LOG, EV_EGRESS_DONE, EV_CHECKSUM_ERROR


cdef struct job_t:
    pkt_t *pkt
    uint8_t kind
    uint16_t port               # ingress port (ingress) / egress port (egress)
    uint32_t instance_type
    uint32_t cursor             # egress: bytes of the packet the parser consumed
    uint32_t packet_length
    int32_t field_list          # ingress: preserved field list (-1: none)
    uint32_t recirc_depth
    uint64_t seq                # for traces: the received packet this belongs to


cdef struct ctx_t:
    uint8_t *phv                # header bytes, then one validity byte per header
    uint8_t *valid
    uint32_t *vlen              # current varbit length (bits) per header
    uint32_t *stack_next        # next index per header stack
    pkt_t *pkt
    uint32_t cursor             # parser position in bytes
    uint32_t cursor_bits        # sub-byte advance (advance by non-multiples of 8)
    int32_t error
    uint8_t exit_flag
    uint8_t failed              # an assertion failed: drop
    s128 *params
    int32_t clone_session
    int32_t clone_fl
    uint8_t clone_set
    int32_t resubmit_fl
    int32_t recirc_fl
    int32_t truncate_len
    int32_t digest_id
    uint64_t seq
    uint64_t now_ns


cdef struct digest_rec_t:
    uint32_t list_id
    uint32_t nvals
    u128 vals[16]


cdef struct trace_rec_t:
    uint64_t seq
    uint32_t ev
    int32_t a
    int32_t b
    u128 v


cdef struct out_t:
    pkt_t *pkt
    uint32_t port


cdef inline uint64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


cdef object u128_to_int(u128 v):
    return (int(<uint64_t>(v >> 64)) << 64) | int(<uint64_t>v)


cdef object s128_to_int(s128 v):
    cdef u128 u = <u128>v
    cdef object r = (int(<uint64_t>(u >> 64)) << 64) | int(<uint64_t>u)
    if r >> 127:
        r -= 1 << 128
    return r


cdef u128 int_to_u128(object v) except *:
    v = int(v) & ((1 << 128) - 1)
    return ((<u128>(<uint64_t>(v >> 64))) << 64) | <u128>(<uint64_t>(v & 0xFFFFFFFFFFFFFFFF))


@cython.final
cdef class Pipeline:
    """A loaded program: the C tables the executor runs, and the control-plane hooks."""

    cdef insn_t *code
    cdef s128 *consts
    cdef field_t *fields
    cdef header_t *headers
    cdef stack_t *stacks
    cdef uint32_t *stack_hdrs
    cdef uint32_t *union_members      # flat: per union, count then member header ids
    cdef uint32_t *union_index
    cdef pstate_t *pstates
    cdef pcomp_t *pcomps
    cdef ptrans_t *ptrans
    cdef node_t *nodes
    cdef table_t *tables
    cdef profile_t *profiles
    cdef calc_t *calcs
    cdef hash_params_t *calc_params
    cdef seg_t *segs
    cdef cksum_t *cksums
    cdef counter_t *counters
    cdef register_t *registers
    cdef meter_t **meter_cells
    cdef uint32_t *meter_sizes
    cdef uint8_t *meter_is_packets
    cdef uint32_t **field_lists       # per field-list id: count then field ids
    cdef uint32_t n_field_lists
    cdef uint32_t **learn_lists
    cdef uint32_t n_learn_lists
    cdef u128 **vset_values
    cdef u128 **vset_masks
    cdef uint32_t *vset_count
    cdef uint32_t *deparser
    cdef uint32_t n_deparser, n_headers, n_stacks, n_unions, n_tables, n_cksums, n_calcs
    cdef uint32_t n_actions, n_counters, n_registers, n_meters, n_profiles, n_vsets
    cdef int32_t parser_init, ingress_init, egress_init
    cdef uint32_t phv_bytes, phv_total
    cdef int32_t *action_code
    cdef uint32_t *action_nparams
    cdef int32_t f_ingress_port, f_egress_spec, f_egress_port, f_instance_type
    cdef int32_t f_packet_length, f_mcast_grp, f_egress_rid, f_checksum_error, f_parser_error
    cdef int32_t f_ingress_ts, f_egress_ts, f_priority
    # PRE: multicast groups and clone sessions (port, rid) lists
    cdef uint32_t **mc_nodes          # per group id (16-bit): count then (port, rid) pairs
    cdef uint32_t **clone_sessions    # per session id (up to 1024): count, class, trunc, pairs
    # per-run scratch
    cdef job_t *jobs
    cdef uint8_t *job_phv             # MAX_JOBS PHV snapshots
    cdef uint8_t *phv                 # the working PHV
    cdef uint32_t *vlen
    cdef uint32_t *stack_next
    cdef uint8_t *scratch             # hash input buffer
    cdef uint32_t scratch_size
    cdef digest_rec_t *digests
    cdef uint32_t n_digests
    cdef uint64_t digests_dropped
    cdef trace_rec_t *trace
    cdef uint32_t n_trace
    cdef readonly bint trace_on
    cdef uint64_t seq
    cdef uint64_t batch_now          # one clock reading per batch
    cdef bint has_verify             # some checksum is verified after parsing
    cdef uint64_t rng_state
    cdef pthread_mutex_t writer_lock
    cdef pkt_pool_t *pool
    cdef PacketPool pool_obj
    cdef public int cpu_port
    cdef public int lookup_ahead      # how far first-table lookups run ahead of finishing packets
    cdef uint32_t lpm24_tables[MAX_LPM24_PREFETCH]   # DIR-24-8 tables, prefetched at parse time
    cdef uint32_t n_lpm24
    # counters of the engine itself
    cdef readonly uint64_t rx_packets, tx_packets, dropped, parser_errors, assert_failures
    cdef readonly uint64_t pool_exhausted, recirc_limit_drops
    cdef list _keep                   # Python objects whose C memory the tables use
    cdef readonly object program
    cdef readonly list matchers       # per table: the match structure object (or None)
    cdef readonly list meter_arrays

    def __cinit__(self):
        pthread_mutex_init(&self.writer_lock, NULL)
        self._keep = []
        self.matchers = []
        self.meter_arrays = []
        self.cpu_port = -1
        self.lookup_ahead = 8

    def __dealloc__(self):
        cdef uint32_t i
        if self.tables != NULL:
            for i in range(self.n_tables):
                free(self.tables[i].keys)
                free(self.tables[i].entry_action)
                rec_free_all(&self.tables[i])
                free(self.tables[i].entry_counters)
                free(self.tables[i].entry_last_hit)
                free(self.tables[i].default_params)
                free(self.tables[i].next_by_action)
        if self.mc_nodes != NULL:
            for i in range(65536):
                free(self.mc_nodes[i])
        if self.clone_sessions != NULL:
            for i in range(32768):
                free(self.clone_sessions[i])
        free(self.code)
        free(self.consts)
        free(self.fields)
        free(self.headers)
        free(self.stacks)
        free(self.stack_hdrs)
        free(self.union_index)
        free(self.union_members)
        free(self.pstates)
        free(self.pcomps)
        free(self.ptrans)
        free(self.nodes)
        free(self.tables)
        free(self.profiles)
        free(self.jobs)
        free(self.job_phv)
        free(self.phv)
        free(self.vlen)
        free(self.stack_next)
        free(self.scratch)
        free(self.digests)
        free(self.trace)
        free(self.mc_nodes)
        free(self.clone_sessions)
        free(self.deparser)
        free(self.action_code)
        free(self.action_nparams)
        free(self.calcs)
        free(self.calc_params)
        free(self.segs)
        free(self.cksums)
        free(self.counters)
        free(self.registers)
        free(self.meter_cells)
        free(self.meter_sizes)
        free(self.meter_is_packets)
        free(self.field_lists)
        free(self.learn_lists)
        free(self.vset_values)
        free(self.vset_masks)
        free(self.vset_count)
        pthread_mutex_destroy(&self.writer_lock)

    # ------------------------------------------------------------------ building
    def __init__(self, program, PacketPool pool):
        from target.pipeline.build import build_pipeline
        self.program = program
        self.pool_obj = pool
        self.pool = &pool.pool
        self.rng_state = 0x9E3779B97F4A7C15ULL ^ now_ns()
        build_pipeline(self, program)

    # The builder (build.py) fills the C arrays through these small setters, so that the
    # layout code stays in Python and this file stays the executor.
    def _alloc(self, dict sizes):
        self.code = <insn_t *>calloc(max(1, sizes["code"]), sizeof(insn_t))
        self.consts = <s128 *>calloc(max(1, sizes["consts"]), sizeof(s128))
        self.n_headers = sizes["headers"]
        self.headers = <header_t *>calloc(max(1, self.n_headers), sizeof(header_t))
        self.fields = <field_t *>calloc(max(1, sizes["fields"]), sizeof(field_t))
        self.n_stacks = sizes["stacks"]
        self.stacks = <stack_t *>calloc(max(1, self.n_stacks), sizeof(stack_t))
        self.stack_hdrs = <uint32_t *>calloc(max(1, sizes["stack_hdrs"]), sizeof(uint32_t))
        self.n_unions = sizes["unions"]
        self.union_index = <uint32_t *>calloc(max(1, self.n_unions), sizeof(uint32_t))
        self.union_members = <uint32_t *>calloc(max(1, sizes["union_members"]), sizeof(uint32_t))
        self.pstates = <pstate_t *>calloc(max(1, sizes["pstates"]), sizeof(pstate_t))
        self.pcomps = <pcomp_t *>calloc(max(1, sizes["pcomps"]), sizeof(pcomp_t))
        self.ptrans = <ptrans_t *>calloc(max(1, sizes["ptrans"]), sizeof(ptrans_t))
        self.nodes = <node_t *>calloc(max(1, sizes["nodes"]), sizeof(node_t))
        self.n_tables = sizes["tables"]
        self.tables = <table_t *>calloc(max(1, self.n_tables), sizeof(table_t))
        self.n_profiles = sizes["profiles"]
        self.profiles = <profile_t *>calloc(max(1, self.n_profiles), sizeof(profile_t))
        self.n_calcs = sizes["calcs"]
        self.calcs = <calc_t *>calloc(max(1, self.n_calcs), sizeof(calc_t))
        self.calc_params = <hash_params_t *>calloc(max(1, self.n_calcs), sizeof(hash_params_t))
        self.segs = <seg_t *>calloc(max(1, sizes["segs"]), sizeof(seg_t))
        self.n_cksums = sizes["cksums"]
        self.cksums = <cksum_t *>calloc(max(1, self.n_cksums), sizeof(cksum_t))
        self.n_counters = sizes["counters"]
        self.counters = <counter_t *>calloc(max(1, self.n_counters), sizeof(counter_t))
        self.n_registers = sizes["registers"]
        self.registers = <register_t *>calloc(max(1, self.n_registers), sizeof(register_t))
        self.n_meters = sizes["meters"]
        self.meter_cells = <meter_t **>calloc(max(1, self.n_meters), sizeof(meter_t *))
        self.meter_sizes = <uint32_t *>calloc(max(1, self.n_meters), sizeof(uint32_t))
        self.meter_is_packets = <uint8_t *>calloc(max(1, self.n_meters), sizeof(uint8_t))
        self.n_actions = sizes["actions"]
        self.action_code = <int32_t *>calloc(max(1, self.n_actions), sizeof(int32_t))
        self.action_nparams = <uint32_t *>calloc(max(1, self.n_actions), sizeof(uint32_t))
        self.n_deparser = sizes["deparser"]
        self.deparser = <uint32_t *>calloc(max(1, self.n_deparser), sizeof(uint32_t))
        self.n_vsets = sizes["vsets"]
        self.vset_values = <u128 **>calloc(max(1, self.n_vsets), sizeof(u128 *))
        self.vset_masks = <u128 **>calloc(max(1, self.n_vsets), sizeof(u128 *))
        self.vset_count = <uint32_t *>calloc(max(1, self.n_vsets), sizeof(uint32_t))
        self.n_field_lists = sizes["field_lists"]
        self.field_lists = <uint32_t **>calloc(max(1, self.n_field_lists), sizeof(uint32_t *))
        self.n_learn_lists = sizes["learn_lists"]
        self.learn_lists = <uint32_t **>calloc(max(1, self.n_learn_lists), sizeof(uint32_t *))
        self.phv_bytes = sizes["phv_bytes"]
        # PHV: header bytes, slack for wide loads, then one validity byte per header.
        self.phv_total = self.phv_bytes + 32 + self.n_headers
        self.phv = <uint8_t *>calloc(self.phv_total + 64, 1)
        self.valid_off = self.phv_bytes + 32
        self.vlen = <uint32_t *>calloc(max(1, self.n_headers), sizeof(uint32_t))
        self.stack_next = <uint32_t *>calloc(max(1, self.n_stacks), sizeof(uint32_t))
        self.jobs = <job_t *>calloc((MAX_JOBS + GROUP), sizeof(job_t))
        # A job slot: header vector, then varbit lengths, then stack indexes: one memset clears it.
        self.vlen_off = (self.phv_total + 3) & ~3
        self.stack_off = self.vlen_off + 4 * self.n_headers
        self.state_bytes = self.stack_off + 4 * self.n_stacks
        self.slot_bytes = (self.state_bytes + 64 + 63) & ~63
        self.job_phv = <uint8_t *>calloc((MAX_JOBS + GROUP), self.slot_bytes)
        self.scratch_size = 65536
        self.scratch = <uint8_t *>calloc(self.scratch_size + 64, 1)
        self.digests = <digest_rec_t *>calloc(MAX_DIGESTS, sizeof(digest_rec_t))
        self.trace = <trace_rec_t *>calloc(MAX_TRACE, sizeof(trace_rec_t))
        self.mc_nodes = <uint32_t **>calloc(65536, sizeof(uint32_t *))
        self.clone_sessions = <uint32_t **>calloc(32768, sizeof(uint32_t *))
        if (self.code == NULL or self.phv == NULL or self.jobs == NULL or self.job_phv == NULL
                or self.scratch == NULL or self.mc_nodes == NULL or self.trace == NULL):
            raise MemoryError("cannot allocate the pipeline")

    cdef uint32_t valid_off
    cdef uint32_t vlen_off, stack_off, state_bytes, slot_bytes

    def _set_code(self, list code, list consts):
        cdef uint32_t i
        for i, (op, a, b, c, d, e) in enumerate(code):
            self.code[i].op = op
            self.code[i].a = a
            self.code[i].b = b
            self.code[i].c = c
            self.code[i].d = d
            self.code[i].e = e
        for i, v in enumerate(consts):
            self.consts[i] = <s128>int_to_u128(v)

    def _set_header(self, uint32_t i, uint32_t byteoff, uint32_t fixed_bits, uint32_t nbytes,
                    uint32_t varbit_max, int32_t union_id, uint32_t first_field,
                    uint32_t nfields, bint metadata):
        self.headers[i].byteoff = byteoff
        self.headers[i].fixed_bits = fixed_bits
        self.headers[i].nbytes = nbytes
        self.headers[i].varbit_max = varbit_max
        self.headers[i].union_id = union_id
        self.headers[i].first_field = first_field
        self.headers[i].nfields = nfields
        self.headers[i].metadata = metadata

    def _set_field(self, uint32_t i, uint32_t bitoff, uint32_t width, bint signed, bint varbit,
                   uint32_t hdr):
        self.fields[i].bitoff = bitoff
        self.fields[i].width = width
        self.fields[i].is_signed = signed
        self.fields[i].varbit = varbit
        self.fields[i].hdr = hdr
        self.fields[i].byte = bitoff >> 3
        self.fields[i].narrow = (not signed and not varbit and 0 < width
                                 and (bitoff & 7) + width <= 64)
        if self.fields[i].narrow:
            self.fields[i].shift = 64 - (bitoff & 7) - width
            self.fields[i].mask = ((<uint64_t>0xFFFFFFFFFFFFFFFFULL) >> (64 - width)) << self.fields[i].shift
            if bitoff % 8 == 0 and width % 8 == 0:
                self.fields[i].whole = width // 8

    def _set_stack(self, uint32_t i, uint32_t first, list hdrs, uint32_t counter):
        cdef uint32_t k
        self.stacks[i].size = len(hdrs)
        self.stacks[i].first = first
        self.stacks[i].counter = counter
        for k, h in enumerate(hdrs):
            self.stack_hdrs[first + k] = h

    def _set_union(self, uint32_t i, uint32_t first, list hdrs):
        cdef uint32_t k
        self.union_index[i] = first
        self.union_members[first] = len(hdrs)
        for k, h in enumerate(hdrs):
            self.union_members[first + 1 + k] = h

    def _set_pstate(self, uint32_t i, uint32_t code, uint32_t keycode, list comps, uint32_t comp0,
                    list trans, uint32_t trans0):
        cdef uint32_t k, bits = 0
        cdef field_t *f
        cdef header_t *hd
        cdef uint32_t fbit, win, width
        self.pstates[i].code = code
        self.pstates[i].keycode = keycode
        self.pstates[i].ncomps = len(comps)
        self.pstates[i].comp0 = comp0
        self.pstates[i].ntrans = len(trans)
        self.pstates[i].trans0 = trans0
        for k, (reg, width) in enumerate(comps):
            self.pcomps[comp0 + k].reg = reg
            self.pcomps[comp0 + k].width = width
            bits += width
        self.pstates[i].key_bits = bits
        # Shapes the parser runs without the interpreter.
        self.pstates[i].simple_hdr = -1
        self.pstates[i].key_field = -1
        if (self.code[code].op == OP_EXTRACT and self.code[code + 1].op == OP_RET
                and self.headers[self.code[code].d].varbit_max == 0
                and self.headers[self.code[code].d].union_id < 0):
            self.pstates[i].simple_hdr = self.code[code].d
        if (len(comps) == 1 and self.code[keycode].op == OP_LDF
                and self.code[keycode + 1].op == OP_RET and comps[0][0] == self.code[keycode].a):
            self.pstates[i].key_field = self.code[keycode].d
        self.pstates[i].key_win = -1
        if self.pstates[i].simple_hdr >= 0 and self.pstates[i].key_field >= 0:
            f = &self.fields[self.pstates[i].key_field]
            hd = &self.headers[self.pstates[i].simple_hdr]
            width = min(f.width, self.pcomps[comp0].width)
            if (f.hdr == <uint32_t>self.pstates[i].simple_hdr and f.narrow and hd.fixed_bits >= 64
                    and width == f.width):
                fbit = f.bitoff - hd.byteoff * 8
                win = min(fbit // 8, hd.fixed_bits // 8 - 8)
                if fbit - win * 8 + f.width <= 64:
                    self.pstates[i].key_win = win
                    self.pstates[i].key_shift = 64 - (fbit - win * 8) - f.width
                    self.pstates[i].key_mask = (<uint64_t>0xFFFFFFFFFFFFFFFFULL) >> (64 - f.width)
        for k, (kind, value, mask, nxt, vset) in enumerate(trans):
            self.ptrans[trans0 + k].kind = kind
            self.ptrans[trans0 + k].value = int_to_u128(value & mask)    # compared masked
            self.ptrans[trans0 + k].mask = int_to_u128(mask)
            self.ptrans[trans0 + k].next_state = nxt
            self.ptrans[trans0 + k].vset = vset

    def _set_node(self, uint32_t i, int kind, int32_t a, int32_t b, int32_t c):
        self.nodes[i].kind = kind
        self.nodes[i].a = a
        self.nodes[i].b = b
        self.nodes[i].c = c

    def _set_roots(self, int32_t parser_init, int32_t ingress_init, int32_t egress_init,
                   list deparser, dict std):
        cdef uint32_t k
        self.parser_init = parser_init
        self.ingress_init = ingress_init
        self.egress_init = egress_init
        for k, h in enumerate(deparser):
            self.deparser[k] = h
        self.f_ingress_port = std["ingress_port"]
        self.f_egress_spec = std["egress_spec"]
        self.f_egress_port = std["egress_port"]
        self.f_instance_type = std["instance_type"]
        self.f_packet_length = std["packet_length"]
        self.f_mcast_grp = std["mcast_grp"]
        self.f_egress_rid = std["egress_rid"]
        self.f_checksum_error = std["checksum_error"]
        self.f_parser_error = std["parser_error"]
        self.f_ingress_ts = std["ingress_global_timestamp"]
        self.f_egress_ts = std["egress_global_timestamp"]
        self.f_priority = std["priority"]

    def _set_action(self, uint32_t i, int32_t code, uint32_t nparams):
        self.action_code[i] = code
        self.action_nparams[i] = nparams

    def _set_calc(self, uint32_t i, str algo, list segs, uint32_t seg0, bint with_payload):
        cdef uint32_t k
        hash_params_init(&self.calc_params[i], algo)
        self.calcs[i].nseg = len(segs)
        self.calcs[i].seg0 = seg0
        self.calcs[i].with_payload = with_payload
        for k, (src_bit, width, const_idx) in enumerate(segs):
            self.segs[seg0 + k].src_bit = src_bit
            self.segs[seg0 + k].width = width
            self.segs[seg0 + k].const_idx = const_idx
        self.calcs[i].csum_direct = (
            self.calc_params[i].algo == HASH_CSUM16 and not with_payload and
            all(c < 0 and b % 8 == 0 and w % 16 == 0 for b, w, c in segs))

    def _set_cksum(self, uint32_t i, uint32_t calc, uint32_t target, int32_t cond, bint verify,
                   bint update):
        self.cksums[i].calc = calc
        self.cksums[i].target = target
        self.cksums[i].cond = cond
        self.cksums[i].verify = verify
        self.cksums[i].update = update
        if verify:
            self.has_verify = True
        self.cksums[i].span_len = 0
        cdef calc_t *c = &self.calcs[calc]
        cdef field_t *f = &self.fields[target]
        if not c.csum_direct or not f.narrow or f.width != 16 or f.bitoff % 8:
            return
        runs = sorted([(self.segs[c.seg0 + k].src_bit // 8, self.segs[c.seg0 + k].width // 8)
                       for k in range(c.nseg)] + [(f.bitoff // 8, 2)])
        start, end = runs[0][0], runs[0][0]
        for byte, nbytes in runs:
            if byte != end or (byte - start) % 2:
                return
            end += nbytes
        self.cksums[i].span_byte = start
        self.cksums[i].span_len = end - start
        # kv_sum_be16 adds 32-bit big-endian words, then a final 16-bit one: the target counts
        # as the high half of a word, or as itself.
        off = f.byte - start
        self.cksums[i].span_target_shift = 16 if off % 4 == 0 and off + 2 != end - start else 0

    def _set_counter(self, uint32_t i, uint32_t size):
        self.counters[i].size = size
        self.counters[i].cells = <uint64_t *>calloc(max(1, size) * 2, sizeof(uint64_t))

    def _set_register(self, uint32_t i, uint32_t size, uint32_t width):
        self.registers[i].size = size
        self.registers[i].width = width
        self.registers[i].cells = <u128 *>calloc(max(1, size), sizeof(u128))

    def _set_meter(self, uint32_t i, MeterArray arr, bint packets):
        self.meter_arrays.append(arr)
        self.meter_cells[i] = arr.cells
        self.meter_sizes[i] = arr.size
        self.meter_is_packets[i] = packets

    def _set_list(self, str kind, uint32_t idx, list ids):
        cdef uint32_t k
        cdef uint32_t *arr = <uint32_t *>calloc(len(ids) + 1, sizeof(uint32_t))
        arr[0] = len(ids)
        for k, f in enumerate(ids):
            arr[k + 1] = f
        if kind == "field_list":
            self.field_lists[idx] = arr
        else:
            self.learn_lists[idx] = arr

    def _set_table(self, uint32_t i, int kind, object matcher, list keys, uint32_t key_bytes,
                   uint32_t param_stride, uint32_t capacity, dict next_by_action,
                   int32_t base_next, int32_t hit_next, int32_t miss_next, bint has_hit_miss,
                   bint with_counters, int indirect, int32_t profile, int32_t direct_meter,
                   int32_t meter_dst):
        cdef table_t *t = &self.tables[i]
        cdef uint32_t k
        t.kind = kind
        if kind == TBL_LPM24 and self.n_lpm24 < MAX_LPM24_PREFETCH:
            self.lpm24_tables[self.n_lpm24] = i
            self.n_lpm24 += 1
        self.matchers.append(matcher)
        if kind == TBL_EXACT:
            t.matcher = <void *>(<ExactTable>matcher).c
        elif kind == TBL_LPM24:
            t.matcher = <void *>(<Dir24Lpm>matcher).c
        elif kind == TBL_LPM:
            t.matcher = <void *>(<LpmTable>matcher).c
        elif kind == TBL_TERNARY:
            t.matcher = <void *>(<TernaryTable>matcher).c
        t.nkeys = len(keys)
        t.keys = <keyf_t *>calloc(max(1, t.nkeys), sizeof(keyf_t))
        for k, (src, width, nbytes, off, is_valid, mask) in enumerate(keys):
            t.keys[k].src = src
            t.keys[k].width = width
            t.keys[k].nbytes = nbytes
            t.keys[k].off = off
            t.keys[k].is_valid = is_valid
            t.keys[k].has_mask = mask is not None
            t.keys[k].mask = int_to_u128(mask if mask is not None else 0)
            # A narrow field of whole bytes filling its key bytes: stored with plain stores.
            t.keys[k].whole = (not is_valid and mask is None and width % 8 == 0
                               and nbytes * 8 == width and self.fields[src].narrow)
        # Exact keys made only of such fields (and validity bytes) cover every key byte, and
        # the exact match reads exactly key_bytes: no need to clear the key first.
        t.key_covered = (kind == TBL_EXACT and sum(kk[2] for kk in keys) == key_bytes
                         and all(t.keys[k].whole or (t.keys[k].is_valid and t.keys[k].nbytes == 1)
                                 for k in range(len(keys))))
        t.key_bytes = key_bytes
        t.param_stride = max(1, param_stride)
        # An entry's record: its action, then its parameters, in slots of 16 bytes; a power
        # of two slots, 64-byte aligned, so that a record of up to three parameters is one
        # cache line. Entries with equal action data share a record (records.pxi).
        t.rec_stride = 2
        while t.rec_stride < t.param_stride + 1:
            t.rec_stride *= 2
        t.capacity = 0
        self._grow_table(i, max(16, min(capacity, 1024)))
        t.default_action = REF_NONE
        t.default_params = <s128 *>calloc(t.param_stride, sizeof(s128))
        t.next_by_action = <int32_t *>malloc(max(1, self.n_actions) * sizeof(int32_t))
        for k in range(self.n_actions):
            t.next_by_action[k] = base_next
        for a, n in next_by_action.items():
            t.next_by_action[a] = n
        t.base_next = base_next
        t.hit_next = hit_next
        t.miss_next = miss_next
        t.has_hit_miss = has_hit_miss
        t.with_counters = with_counters
        t.indirect = indirect
        t.profile = profile
        t.direct_meter = direct_meter
        t.direct_meter_dst = meter_dst

    def _grow_table(self, uint32_t i, uint32_t capacity):
        """Make room for entry ids < capacity (under writer_lock when traffic may run)."""
        cdef table_t *t = &self.tables[i]
        cdef uint32_t old = t.capacity
        cdef uint32_t k
        if capacity <= old:
            return
        t.entry_action = <int32_t *>realloc(t.entry_action, capacity * sizeof(int32_t))
        t.entry_rec = <uint32_t *>realloc(t.entry_rec, capacity * sizeof(uint32_t))
        t.entry_counters = <uint64_t *>realloc(t.entry_counters, capacity * 2 * sizeof(uint64_t))
        if t.entry_last_hit != NULL:
            t.entry_last_hit = <uint64_t *>realloc(t.entry_last_hit, capacity * sizeof(uint64_t))
        if t.entry_action == NULL or t.entry_rec == NULL or t.entry_counters == NULL:
            raise MemoryError("cannot grow table entries")
        for k in range(old, capacity):
            t.entry_action[k] = REF_NONE
            t.entry_rec[k] = REC_NONE
        memset(&t.entry_counters[old * 2], 0, (capacity - old) * 2 * sizeof(uint64_t))
        if t.entry_last_hit != NULL:
            memset(&t.entry_last_hit[old], 0, (capacity - old) * sizeof(uint64_t))
        t.capacity = capacity

    def _set_vset(self, uint32_t i, uint32_t max_size):
        self.vset_values[i] = <u128 *>calloc(max(1, max_size), sizeof(u128))
        self.vset_masks[i] = <u128 *>calloc(max(1, max_size), sizeof(u128))
        self.vset_count[i] = 0

    # ------------------------------------------------------------------ executor helpers
    cdef inline void trace_ev(self, ctx_t *x, uint32_t ev, int32_t a, int32_t b, u128 v) noexcept nogil:
        cdef trace_rec_t *r
        if self.n_trace >= MAX_TRACE:
            return
        r = &self.trace[self.n_trace]
        self.n_trace += 1
        r.seq = x.seq
        r.ev = ev
        r.a = a
        r.b = b
        r.v = v

    cdef inline uint32_t stack_elem(self, uint32_t sid, s128 idx, int *ok) noexcept nogil:
        if idx < 0 or idx >= <s128>self.stacks[sid].size:
            ok[0] = 0
            return 0
        ok[0] = 1
        return self.stack_hdrs[self.stacks[sid].first + <uint32_t>idx]

    cdef inline void set_valid(self, ctx_t *x, uint32_t h) noexcept nogil:
        cdef header_t *hd = &self.headers[h]
        cdef uint32_t k, m, u
        if not x.valid[h]:
            memset(x.phv + hd.byteoff, 0, hd.nbytes)
            x.valid[h] = 1
        if hd.union_id >= 0:
            u = self.union_index[hd.union_id]
            for k in range(self.union_members[u]):
                m = self.union_members[u + 1 + k]
                if m != h:
                    x.valid[m] = 0

    cdef void invalidate_union_others(self, ctx_t *x, uint32_t h) noexcept nogil:
        """h becomes the valid member of its union: the other members turn invalid."""
        cdef uint32_t u = self.union_index[self.headers[h].union_id], k, m
        for k in range(self.union_members[u]):
            m = self.union_members[u + 1 + k]
            if m != h:
                x.valid[m] = 0

    cdef inline void copy_header(self, ctx_t *x, uint32_t dst, uint32_t src) noexcept nogil:
        if dst == src:
            return
        memmove(x.phv + self.headers[dst].byteoff, x.phv + self.headers[src].byteoff,
                self.headers[dst].nbytes)
        x.valid[dst] = x.valid[src]
        x.vlen[dst] = x.vlen[src]

    cdef void stack_shift(self, ctx_t *x, uint32_t sid, uint32_t n, bint push) noexcept nogil:
        cdef stack_t *s = &self.stacks[sid]
        cdef uint32_t i, size = s.size
        cdef uint32_t *h = &self.stack_hdrs[s.first]
        if n > size:
            n = size
        if push:
            i = size
            while i > n:
                i -= 1
                self.copy_header(x, h[i], h[i - n])
            for i in range(n):
                x.valid[h[i]] = 0
            x.stack_next[self.stacks[sid].counter] = min(x.stack_next[self.stacks[sid].counter] + n, size)
        else:
            for i in range(size - n):
                self.copy_header(x, h[i], h[i + n])
            for i in range(size - n, size):
                x.valid[h[i]] = 0
            x.stack_next[self.stacks[sid].counter] = x.stack_next[self.stacks[sid].counter] - n if x.stack_next[self.stacks[sid].counter] > n else 0

    cdef uint64_t rand64(self) noexcept nogil:
        # xorshift64*: BMv2's random() is not reproducible either; tests only check the range.
        self.rng_state ^= self.rng_state >> 12
        self.rng_state ^= self.rng_state << 25
        self.rng_state ^= self.rng_state >> 27
        return self.rng_state * 0x2545F4914F6CDD1DULL

    cdef inline uint64_t csum_in_place(self, ctx_t *x, calc_t *c) noexcept nogil:
        """The Internet checksum of whole header words, summed where they lie in the PHV."""
        cdef uint64_t sum = 0
        cdef uint32_t k
        cdef seg_t *s
        for k in range(c.nseg):
            s = &self.segs[c.seg0 + k]
            sum += kv_sum_be16(x.phv + (s.src_bit >> 3), s.width >> 3)
        return kv_csum_fold(sum)

    cdef uint64_t calc_compute(self, ctx_t *x, uint32_t cid) noexcept nogil:
        """Pack a calculation's inputs MSB-first (BMv2's rule) and hash them."""
        cdef calc_t *c = &self.calcs[cid]
        cdef seg_t *s
        cdef uint32_t k, bit = 0, nbytes
        cdef uint32_t plen
        cdef u128 kv
        if c.csum_direct:
            return self.csum_in_place(x, c)
        for k in range(c.nseg):
            s = &self.segs[c.seg0 + k]
            if (bit + s.width) // 8 + 32 > self.scratch_size:
                break
            if s.const_idx >= 0:
                kv = <u128>self.consts[s.const_idx]
                if s.width <= 128:
                    kv_bits_write(self.scratch, bit, s.width, kv)
            else:
                kv_bits_copy(self.scratch, bit, x.phv, s.src_bit, s.width)
            bit += s.width
        nbytes = (bit + 7) // 8
        if bit & 7:
            # zero the unused low bits of the last byte
            self.scratch[nbytes - 1] &= <uint8_t>(0xFF << (8 - (bit & 7)))
        if c.with_payload and x.pkt != NULL and x.cursor < x.pkt.len:
            plen = x.pkt.len - x.cursor
            if nbytes + plen > self.scratch_size:
                plen = self.scratch_size - nbytes
            memcpy(self.scratch + nbytes, x.pkt.data + x.cursor, plen)
            nbytes += plen
        return hash_compute_params(&self.calc_params[cid], self.scratch, nbytes)

    # ------------------------------------------------------------------ the interpreter
    cdef s128 exec_code(self, ctx_t *x, uint32_t pc) noexcept nogil:
        """Run one code block; returns register 0 (the value of a condition)."""
        cdef s128 r[NREGS]
        cdef insn_t *i
        cdef s128 va, vb
        cdef u128 ua
        cdef uint32_t h, k, w
        cdef int ok
        cdef uint64_t hv
        cdef register_t *rg
        cdef counter_t *ct
        r[0] = 0
        while True:
            i = &self.code[pc]
            pc += 1
            if i.op == OP_LDK:
                r[i.a] = self.consts[i.d]
            elif i.op == OP_LDF:
                r[i.a] = kv_field_read(&self.fields[i.d], x.phv, x.vlen)
            elif i.op == OP_LDP:
                r[i.a] = x.params[i.d]
            elif i.op == OP_LDV:
                r[i.a] = x.valid[i.d]
            elif i.op == OP_STF:
                kv_field_write(&self.fields[i.d], x.phv, r[i.a])
            elif i.op == OP_CPF:
                if self.fields[i.d].narrow and self.fields[i.e].narrow:
                    kv_field_write(&self.fields[i.d], x.phv,
                                   kv_field_read(&self.fields[i.e], x.phv, x.vlen))
                    continue
                w = self.fields[i.d].width
                if self.fields[i.e].varbit:
                    w = x.vlen[self.fields[i.e].hdr]
                kv_bits_copy(x.phv, self.fields[i.d].bitoff, x.phv, self.fields[i.e].bitoff, w)
                if self.fields[i.d].varbit:
                    x.vlen[self.fields[i.d].hdr] = w
            elif i.op == OP_STFP:
                kv_field_write(&self.fields[i.d], x.phv, x.params[i.e])
            elif i.op == OP_STFK:
                kv_field_write(&self.fields[i.d], x.phv, self.consts[i.e])
            elif i.op == OP_FOPK:
                va = kv_field_read(&self.fields[i.e], x.phv, x.vlen)
                vb = self.consts[i.b]
                if i.a == 0:
                    va = <s128>(<u128>va + <u128>vb)
                elif i.a == 1:
                    va = <s128>(<u128>va - <u128>vb)
                elif i.a == 2:
                    va = va & vb
                elif i.a == 3:
                    va = va | vb
                else:
                    va = va ^ vb
                kv_field_write(&self.fields[i.d], x.phv, va)
            elif i.op == OP_RET:
                return r[i.a]
            elif i.op == OP_ADD:
                r[i.a] = <s128>(<u128>r[i.b] + <u128>r[i.c])
            elif i.op == OP_SUB:
                r[i.a] = <s128>(<u128>r[i.b] - <u128>r[i.c])
            elif i.op == OP_MUL:
                r[i.a] = <s128>(<u128>r[i.b] * <u128>r[i.c])
            elif i.op == OP_DIV:
                r[i.a] = r[i.b] / r[i.c] if r[i.c] != 0 else 0
            elif i.op == OP_MOD:
                r[i.a] = r[i.b] % r[i.c] if r[i.c] != 0 else 0
            elif i.op == OP_SHL:
                r[i.a] = <s128>(<u128>r[i.b] << <uint32_t>r[i.c]) if r[i.c] < 128 else 0
            elif i.op == OP_SHR:
                if r[i.c] >= 128:
                    r[i.a] = -1 if r[i.b] < 0 else 0
                else:
                    r[i.a] = r[i.b] >> <uint32_t>r[i.c]
            elif i.op == OP_AND:
                r[i.a] = r[i.b] & r[i.c]
            elif i.op == OP_OR:
                r[i.a] = r[i.b] | r[i.c]
            elif i.op == OP_XOR:
                r[i.a] = r[i.b] ^ r[i.c]
            elif i.op == OP_CMPFK:
                r[i.a] = self.compare_field_const(x, i)
            elif i.op == OP_EQ:
                r[i.a] = r[i.b] == r[i.c]
            elif i.op == OP_NE:
                r[i.a] = r[i.b] != r[i.c]
            elif i.op == OP_LT:
                r[i.a] = r[i.b] < r[i.c]
            elif i.op == OP_LE:
                r[i.a] = r[i.b] <= r[i.c]
            elif i.op == OP_GT:
                r[i.a] = r[i.b] > r[i.c]
            elif i.op == OP_GE:
                r[i.a] = r[i.b] >= r[i.c]
            elif i.op == OP_LAND:
                r[i.a] = (r[i.b] != 0) and (r[i.c] != 0)
            elif i.op == OP_LOR:
                r[i.a] = (r[i.b] != 0) or (r[i.c] != 0)
            elif i.op == OP_LNOT:
                r[i.a] = r[i.b] == 0
            elif i.op == OP_BNOT:
                r[i.a] = ~r[i.b]
            elif i.op == OP_NEG:
                r[i.a] = <s128>(0 - <u128>r[i.b])
            elif i.op == OP_MASK:
                r[i.a] = <s128>(<u128>r[i.b] & kv_mask128(i.d))
            elif i.op == OP_SEXT:
                r[i.a] = kv_sext(<u128>r[i.b], i.d)
            elif i.op == OP_USAT:
                va = r[i.b]
                vb = <s128>kv_mask128(i.d)
                r[i.a] = 0 if va < 0 else (vb if va > vb else va)
            elif i.op == OP_SSAT:
                va = r[i.b]
                vb = <s128>kv_mask128(i.d - 1)
                r[i.a] = (-vb - 1) if va < -vb - 1 else (vb if va > vb else va)
            elif i.op == OP_SEL:
                r[i.a] = r[i.c] if r[i.b] != 0 else r[i.d]
            elif i.op == OP_MOV:
                r[i.a] = r[i.b]
            elif i.op == OP_JMP:
                pc = i.d
            elif i.op == OP_JZ:
                if r[i.a] == 0:
                    pc = i.d
            elif i.op == OP_LDVU:
                k = self.union_index[i.d]
                r[i.a] = 0
                for h in range(self.union_members[k]):
                    if x.valid[self.union_members[k + 1 + h]]:
                        r[i.a] = 1
            elif i.op == OP_LDLA:
                r[i.a] = self.lookahead(x, i.e, i.d)
                if x.error != ERR_NONE:
                    return 0
            elif i.op == OP_LDFDYN:
                h = self.stack_elem(i.d, r[i.b], &ok)
                r[i.a] = kv_field_read(&self.fields[self.headers[h].first_field + i.e], x.phv, x.vlen) if ok else 0
            elif i.op == OP_LDVDYN:
                h = self.stack_elem(i.d, r[i.b], &ok)
                r[i.a] = x.valid[h] if ok else 0
            elif i.op == OP_LDLAST or i.op == OP_LDLASTIDX:
                if x.stack_next[self.stacks[i.d].counter] == 0:
                    x.error = ERR_STACK_OOB
                    return 0
                elif i.op == OP_LDLASTIDX:
                    r[i.a] = x.stack_next[self.stacks[i.d].counter] - 1
                else:
                    h = self.stack_hdrs[self.stacks[i.d].first + x.stack_next[self.stacks[i.d].counter] - 1]
                    r[i.a] = kv_field_read(&self.fields[self.headers[h].first_field + i.e], x.phv, x.vlen)
            elif i.op == OP_LDSIZE:
                r[i.a] = x.stack_next[self.stacks[i.d].counter]
            elif i.op == OP_STFDYN:
                h = self.stack_elem(i.d, r[i.b], &ok)
                if ok:
                    kv_field_write(&self.fields[self.headers[h].first_field + i.e], x.phv, r[i.a])
            elif i.op == OP_SETVALID or i.op == OP_SETUNION:
                self.set_valid(x, i.d)
            elif i.op == OP_SETINVALID:
                x.valid[i.d] = 0
            elif i.op == OP_SETVALIDDYN:
                h = self.stack_elem(i.d, r[i.b], &ok)
                if ok:
                    if i.a:
                        self.set_valid(x, h)
                    else:
                        x.valid[h] = 0
            elif i.op == OP_HCOPY:
                self.copy_header(x, i.d, i.e)
            elif i.op == OP_HCOPYSEL:
                self.copy_header(x, i.d, i.e if r[i.a] != 0 else i.b)
            elif i.op == OP_HCOPYDYN:
                h = self.stack_elem(i.d, r[i.b], &ok)
                if ok:
                    if i.a == 0:
                        self.copy_header(x, h, i.e)
                    else:
                        self.copy_header(x, i.e, h)
            elif i.op == OP_STKCOPY:
                for k in range(min(self.stacks[i.d].size, self.stacks[i.e].size)):
                    self.copy_header(x, self.stack_hdrs[self.stacks[i.d].first + k],
                                     self.stack_hdrs[self.stacks[i.e].first + k])
                x.stack_next[self.stacks[i.d].counter] = x.stack_next[self.stacks[i.e].counter]
            elif i.op == OP_PUSH:
                self.stack_shift(x, i.d, i.e, True)
            elif i.op == OP_POP:
                self.stack_shift(x, i.d, i.e, False)
            elif i.op == OP_DROP:
                kv_field_write(&self.fields[self.f_egress_spec], x.phv, 511)
                kv_field_write(&self.fields[self.f_mcast_grp], x.phv, 0)
            elif i.op == OP_EXIT:
                x.exit_flag = 1
                return r[0]
            elif i.op == OP_COUNT:
                ct = &self.counters[i.d]
                if r[i.a] >= 0 and r[i.a] < ct.size:
                    ct.cells[2 * <uint32_t>r[i.a]] += 1
                    ct.cells[2 * <uint32_t>r[i.a] + 1] += x.pkt.len if x.pkt != NULL else 0
            elif i.op == OP_METER:
                if r[i.a] >= 0 and r[i.a] < self.meter_sizes[i.d]:
                    kv_field_write(&self.fields[i.e], x.phv, meter_execute(
                        &self.meter_cells[i.d][<uint32_t>r[i.a]], x.now_ns,
                        1 if self.meter_is_packets[i.d] else (x.pkt.len if x.pkt != NULL else 0)))
            elif i.op == OP_REGRD:
                rg = &self.registers[i.d]
                if r[i.a] >= 0 and r[i.a] < rg.size:
                    ua = rg.cells[<uint32_t>r[i.a]]
                    kv_field_write(&self.fields[i.e], x.phv, <s128>ua)
            elif i.op == OP_REGWR:
                rg = &self.registers[i.d]
                if r[i.a] >= 0 and r[i.a] < rg.size:
                    rg.cells[<uint32_t>r[i.a]] = <u128>r[i.b] & kv_mask128(rg.width)
            elif i.op == OP_CLONE_I2E or i.op == OP_CLONE_E2E:
                x.clone_session = <int32_t>r[i.a]
                x.clone_fl = i.d
                x.clone_set = 1
            elif i.op == OP_RESUBMIT:
                x.resubmit_fl = i.d
            elif i.op == OP_RECIRC:
                x.recirc_fl = i.d
            elif i.op == OP_DIGEST:
                # BMv2 learns at the end of ingress, from the values the fields have then.
                x.digest_id = <int32_t>i.d
            elif i.op == OP_HASH:
                hv = self.calc_compute(x, i.d)
                if r[i.b] != 0:
                    kv_field_write(&self.fields[i.e], x.phv, r[i.a] + <s128>(hv % <uint64_t>r[i.b]))
                else:
                    kv_field_write(&self.fields[i.e], x.phv, r[i.a])
            elif i.op == OP_RANDOM:
                va = r[i.a]
                vb = r[i.b]
                if vb >= va:
                    kv_field_write(&self.fields[i.e], x.phv, va + <s128>(self.rand64() % <uint64_t>(vb - va + 1)))
            elif i.op == OP_TRUNCATE:
                x.truncate_len = <int32_t>r[i.a]
            elif i.op == OP_LOG:
                if self.trace_on:
                    self.trace_ev(x, EV_LOG, i.d, 0, 0)
            elif i.op == OP_ASSERT:
                if r[i.a] == 0:
                    x.failed = 1
                    self.assert_failures += 1
                    if self.trace_on:
                        self.trace_ev(x, EV_ASSERT, 0, 0, 0)
                    return r[0]
            elif i.op == OP_STVL:
                w = x.vlen[self.fields[i.e].hdr]
                kv_bits_copy(x.phv, self.fields[i.d].bitoff, x.phv, self.fields[i.e].bitoff, w)
                x.vlen[self.fields[i.d].hdr] = w
            elif i.op == OP_EXTRACT:
                if not self.extract(x, i.d, 0):
                    return r[0]
            elif i.op == OP_EXTRACT_VL:
                if not self.extract(x, i.d, r[i.a]):
                    return r[0]
            elif i.op == OP_EXTRACT_NEXT or i.op == OP_EXTRACT_NEXT_VL:
                if x.stack_next[self.stacks[i.d].counter] >= self.stacks[i.d].size:
                    x.error = ERR_STACK_OOB
                    return r[0]
                h = self.stack_hdrs[self.stacks[i.d].first + x.stack_next[self.stacks[i.d].counter]]
                if not self.extract(x, h, r[i.a] if i.op == OP_EXTRACT_NEXT_VL else 0):
                    return r[0]
                x.stack_next[self.stacks[i.d].counter] += 1
            elif i.op == OP_VERIFY:
                if r[i.a] == 0:
                    x.error = <int32_t>r[i.b]
                    return r[0]
            elif i.op == OP_ADVANCE:
                va = r[i.a] + x.cursor_bits
                if va < 0 or x.pkt == NULL or x.cursor + <uint32_t>(va // 8) > x.pkt.len:
                    x.error = ERR_PACKET_TOO_SHORT
                    return r[0]
                x.cursor += <uint32_t>(va // 8)
                x.cursor_bits = <uint32_t>(va % 8)


    cdef inline bint compare_field_const(self, ctx_t *x, insn_t *i) noexcept nogil:
        """CMPFK: a field against a constant, as LDF, LDK and the comparison would."""
        cdef s128 va = kv_field_read(&self.fields[i.d], x.phv, x.vlen)
        cdef s128 vb = self.consts[i.e]
        if i.b == 0:
            return va == vb
        if i.b == 1:
            return va != vb
        if i.b == 2:
            return va < vb
        if i.b == 3:
            return va <= vb
        if i.b == 4:
            return va > vb
        return va >= vb

    cdef inline s128 run_block(self, ctx_t *x, uint32_t pc) noexcept nogil:
        """Run a block; the most common one-instruction shapes skip the interpreter."""
        cdef insn_t *i = &self.code[pc]
        if self.code[pc + 1].op == OP_RET:
            if i.op == OP_LDV and self.code[pc + 1].a == i.a:
                return x.valid[i.d]
            if i.op == OP_CMPFK and self.code[pc + 1].a == i.a:
                return self.compare_field_const(x, i)
            if i.op == OP_EXTRACT:
                self.extract(x, i.d, 0)
                return 0
        return self.exec_code(x, pc)

    cdef s128 lookahead(self, ctx_t *x, uint32_t offset, uint32_t width) noexcept nogil:
        """`width` bits at `offset` bits past the parser's cursor; past the end of the packet
        it is a PacketTooShort parser error (and 0). Wider than 128 bits reads as 0."""
        if x.pkt == NULL or (x.cursor * 8 + x.cursor_bits + offset + width + 7) // 8 > x.pkt.len:
            x.error = ERR_PACKET_TOO_SHORT
            return 0
        if width > 128:
            return 0
        memset(self.scratch, 0, 40)
        memcpy(self.scratch, x.pkt.data + x.cursor, min(x.pkt.len - x.cursor, 32))
        return <s128>kv_bits_read(self.scratch, x.cursor_bits + offset, width)

    cdef bint extract(self, ctx_t *x, uint32_t h, s128 vbits) noexcept nogil:
        cdef header_t *hd = &self.headers[h]
        cdef uint32_t bits = hd.fixed_bits
        cdef uint32_t nbytes
        if hd.varbit_max:
            if vbits < 0 or vbits > hd.varbit_max:
                x.error = ERR_HEADER_TOO_SHORT
                return False
            if vbits % 8:
                x.error = ERR_PARSER_INVALID_ARG
                return False
            bits += <uint32_t>vbits
        nbytes = bits // 8
        if x.cursor + nbytes > x.pkt.len:
            x.error = ERR_PACKET_TOO_SHORT
            return False
        if nbytes < hd.nbytes:
            memset(x.phv + hd.byteoff + nbytes, 0, hd.nbytes - nbytes)
        kv_copy_small(x.phv + hd.byteoff, x.pkt.data + x.cursor, nbytes)
        x.cursor += nbytes
        if hd.union_id >= 0:
            self.invalidate_union_others(x, h)
        x.valid[h] = 1
        x.vlen[h] = <uint32_t>vbits
        if self.trace_on:
            self.trace_ev(x, EV_EXTRACT, h, nbytes, 0)
        return True

    # ------------------------------------------------------------------ parser and controls
    cdef void run_parser(self, ctx_t *x) noexcept nogil:
        cdef int32_t state = self.parser_init
        cdef header_t *hd
        cdef uint32_t nb
        cdef pstate_t *ps
        cdef uint32_t steps = 0
        cdef u128 key = 0
        cdef int32_t nxt
        while state >= 0:
            steps += 1
            if steps > 10000:
                x.error = ERR_PARSER_TIMEOUT
                break
            ps = &self.pstates[state]
            if self.trace_on:
                self.trace_ev(x, EV_PARSE_STATE, state, 0, 0)
            if ps.simple_hdr >= 0:
                # the common state: extract one fixed-size header
                hd = &self.headers[ps.simple_hdr]
                nb = hd.fixed_bits >> 3
                if x.cursor + nb > x.pkt.len:
                    x.error = ERR_PACKET_TOO_SHORT
                    break
                kv_copy_small(x.phv + hd.byteoff, x.pkt.data + x.cursor, nb)
                if ps.key_win >= 0:
                    key = (kv_load_be64(x.pkt.data + x.cursor + ps.key_win) >> ps.key_shift) & ps.key_mask
                x.cursor += nb
                x.valid[ps.simple_hdr] = 1
                if self.trace_on:
                    self.trace_ev(x, EV_EXTRACT, ps.simple_hdr, nb, 0)
                if ps.key_win >= 0:
                    nxt = self.next_state(ps, key)
                    if nxt == -2:
                        x.error = ERR_NO_MATCH
                        break
                    state = nxt
                    continue
            else:
                self.run_block(x, ps.code)
                if x.error != ERR_NONE:
                    break
            key = 0
            if ps.key_field >= 0:
                # the common key: one field, read directly
                key = <u128>kv_field_read(&self.fields[ps.key_field], x.phv, x.vlen) & kv_mask128(
                    self.pcomps[ps.comp0].width)
            elif ps.ncomps:
                key = self.transition_key(x, ps)
                if x.error != ERR_NONE:
                    break
            nxt = self.next_state(ps, key)
            if nxt == -2:
                x.error = ERR_NO_MATCH
                break
            state = nxt
        if x.error != ERR_NONE:
            self.parser_errors += 1
            if self.trace_on:
                self.trace_ev(x, EV_PARSER_ERROR, x.error, 0, 0)

    cdef inline int32_t next_state(self, pstate_t *ps, u128 key) noexcept nogil:
        """The first transition of ps that the key selects (-1: accept, -2: none)."""
        cdef ptrans_t *tr
        cdef uint32_t k, j
        for k in range(ps.ntrans):
            tr = &self.ptrans[ps.trans0 + k]
            if tr.kind == 0:
                return tr.next_state
            if tr.kind == 1:
                if (key & tr.mask) == tr.value:
                    return tr.next_state
            else:
                for j in range(self.vset_count[tr.vset]):
                    if (key & self.vset_masks[tr.vset][j] & tr.mask) == (
                            self.vset_values[tr.vset][j] & self.vset_masks[tr.vset][j] & tr.mask):
                        return tr.next_state
        return -2

    cdef u128 transition_key(self, ctx_t *x, pstate_t *ps) noexcept nogil:
        """Concatenate the key components; each component is padded to whole bytes (BMv2)."""
        cdef s128 r[NREGS]
        cdef u128 key = 0
        cdef uint32_t k, w, nbits
        cdef uint32_t pc = ps.keycode
        # The key code leaves component values in registers; run it with a private frame.
        self.exec_code_into(x, pc, r)
        for k in range(ps.ncomps):
            w = self.pcomps[ps.comp0 + k].width
            nbits = ((w + 7) // 8) * 8
            key = (key << nbits) | (<u128>r[self.pcomps[ps.comp0 + k].reg] & kv_mask128(w))
        return key

    cdef void exec_code_into(self, ctx_t *x, uint32_t pc, s128 *r) noexcept nogil:
        """The subset of the interpreter that key code uses (loads and arithmetic)."""
        cdef insn_t *i
        while True:
            i = &self.code[pc]
            pc += 1
            if i.op == OP_RET:
                return
            elif i.op == OP_LDF:
                r[i.a] = kv_field_read(&self.fields[i.d], x.phv, x.vlen)
            elif i.op == OP_LDK:
                r[i.a] = self.consts[i.d]
            elif i.op == OP_LDV:
                r[i.a] = x.valid[i.d]
            elif i.op == OP_LDLA:
                r[i.a] = self.lookahead(x, i.e, i.d)
            elif i.op == OP_LDLAST:
                if x.stack_next[self.stacks[i.d].counter] == 0:
                    x.error = ERR_STACK_OOB
                    r[i.a] = 0
                else:
                    r[i.a] = kv_field_read(&self.fields[self.headers[self.stack_hdrs[
                        self.stacks[i.d].first + x.stack_next[self.stacks[i.d].counter] - 1]].first_field + i.e], x.phv, x.vlen)

    cdef int32_t run_until_table(self, ctx_t *x, int32_t node) noexcept nogil:
        """Evaluate conditions up to the first node that is not one; return it (or -1).

        Only conditions run here: they read the packet's own state and nothing shared, so
        running them ahead of the previous packets' actions cannot change any result.
        """
        cdef node_t *n
        while node >= 0:
            n = &self.nodes[node]
            if n.kind != 1:
                return node
            if self.run_block(x, n.a) != 0:
                node = n.b
            else:
                node = n.c
            if self.trace_on:
                self.trace_ev(x, EV_COND, n.a, 1 if node == n.b else 0, 0)
        return -1

    cdef void run_control(self, ctx_t *x, int32_t node) noexcept nogil:
        cdef node_t *n
        while True:
            # Conditions cannot exit or fail, so checking after them is the same as before.
            node = self.run_until_table(x, node)
            if node < 0 or x.exit_flag or x.failed:
                return
            n = &self.nodes[node]
            if n.kind == 0:
                node = self.apply_table(x, n.a)
            else:
                x.params = NULL
                self.exec_code(x, self.action_code[n.a])
                node = n.b

    cdef int32_t apply_table(self, ctx_t *x, uint32_t ti) noexcept nogil:
        if self.tables[ti].kind == TBL_KEYLESS:
            return self.table_finish(x, ti, -1)      # p4c's action-call tables: nothing to look up
        return self.table_finish(x, ti, self.table_lookup(x, ti))

    cdef inline uint32_t lpm24_key(self, ctx_t *x, table_t *t) noexcept nogil:
        """The address a DIR-24-8 table looks up: its one key field."""
        return <uint32_t>kv_field_read(&self.fields[t.keys[0].src], x.phv, x.vlen)

    cdef inline void table_prefetch(self, ctx_t *x, uint32_t ti) noexcept nogil:
        """Start loading the memory a lookup in table ti will touch first."""
        cdef table_t *t = &self.tables[ti]
        if t.kind == TBL_LPM24:
            kv_prefetch(&(<dir24_t *>t.matcher).tbl24[self.lpm24_key(x, t) >> 8])

    cdef int64_t table_lookup(self, ctx_t *x, uint32_t ti) noexcept nogil:
        """Build the key and find the entry id (-1: miss)."""
        cdef table_t *t = &self.tables[ti]
        cdef uint8_t key[MAX_KEY]
        cdef int64_t e = -1
        cdef keyf_t *kf
        cdef uint32_t k
        cdef u128 v
        if t.kind == TBL_LPM24:
            e = dir24_lookup(<dir24_t *>t.matcher, self.lpm24_key(x, t))
        elif t.kind != TBL_KEYLESS:
            if not t.key_covered:
                memset(key, 0, t.key_bytes + 16)
            for k in range(t.nkeys):
                kf = &t.keys[k]
                if kf.is_valid:
                    key[kf.off] = x.valid[kf.src]
                    continue
                if kf.whole:
                    kv_store_be_bytes(key + kf.off,
                                      <uint64_t>kv_field_read(&self.fields[kf.src], x.phv, x.vlen),
                                      kf.nbytes)
                    continue
                if kf.width <= 128:
                    v = <u128>kv_field_read(&self.fields[kf.src], x.phv, x.vlen) & kv_mask128(kf.width)
                    if kf.has_mask:
                        v &= kf.mask
                    kv_bits_write(key, kf.off * 8 + kf.nbytes * 8 - kf.width, kf.width, v)
                else:
                    kv_bits_copy(key, kf.off * 8 + kf.nbytes * 8 - kf.width, x.phv,
                                 self.fields[kf.src].bitoff, kf.width)
            if t.kind == TBL_EXACT:
                e = exact_lookup(<exact_table_t *>t.matcher, key)
            elif t.kind == TBL_LPM:
                e = lpm_lookup(<lpm_table_t *>t.matcher, key)
            else:
                e = ternary_lookup(<ternary_table_t *>t.matcher, key)
        return e

    cdef int32_t table_finish(self, ctx_t *x, uint32_t ti, int64_t e) noexcept nogil:
        """Count, run the entry's (or the default) action, return the next node."""
        cdef table_t *t = &self.tables[ti]
        cdef int32_t act, ref
        cdef s128 *params
        cdef profile_t *pr
        cdef uint64_t hv
        if e >= 0:
            t.hits += 1
            if t.entry_last_hit != NULL:
                t.entry_last_hit[e] = x.now_ns
            params = &t.recs[<size_t>t.entry_rec[e] * t.rec_stride]
            act = <int32_t>params[0]
            params += 1
            if t.with_counters:
                t.entry_counters[2 * e] += 1
                t.entry_counters[2 * e + 1] += x.pkt.len if x.pkt != NULL else 0
            if self.trace_on:
                self.trace_ev(x, EV_TABLE_HIT, ti, <int32_t>e, 0)
        else:
            t.misses += 1
            act = t.default_action
            params = t.default_params
            if self.trace_on:
                self.trace_ev(x, EV_TABLE_MISS, ti, 0, 0)
        if t.indirect and act != REF_NONE and e >= 0:
            pr = &self.profiles[t.profile]
            ref = act
            if ref <= -2:
                # a group: choose one member by the selector hash
                ref = -ref - 2
                if pr.group_size[ref] == 0:
                    act = REF_NONE
                else:
                    hv = self.calc_compute(x, pr.calc) if pr.calc >= 0 else 0
                    ref = pr.group_members[ref][hv % pr.group_size[ref]]
            if act != REF_NONE:
                act = pr.member_action[ref]
                params = &pr.member_params[<size_t>ref * pr.param_stride]
        if t.direct_meter >= 0 and e >= 0 and <uint32_t>e < self.meter_sizes[t.direct_meter]:
            kv_field_write(&self.fields[t.direct_meter_dst], x.phv, meter_execute(
                &self.meter_cells[t.direct_meter][e], x.now_ns,
                1 if self.meter_is_packets[t.direct_meter] else (x.pkt.len if x.pkt != NULL else 0)))
        if act >= 0:
            if self.trace_on:
                self.trace_ev(x, EV_ACTION, act, ti, 0)
            x.params = params
            self.exec_code(x, self.action_code[act])
        if t.has_hit_miss:
            return t.hit_next if e >= 0 else t.miss_next
        if act < 0:
            return t.base_next
        return t.next_by_action[act]

    # ------------------------------------------------------------------ traffic manager
    cdef inline uint8_t *slot_phv(self, uint32_t slot) noexcept nogil:
        return self.job_phv + <size_t>slot * self.slot_bytes

    cdef void ctx_init(self, ctx_t *x, uint32_t slot, pkt_t *pkt, uint64_t seq) noexcept nogil:
        # Field by field: cheaper than a memset of the struct on every packet.
        x.cursor = 0
        x.cursor_bits = 0
        x.error = ERR_NONE
        x.exit_flag = 0
        x.failed = 0
        x.params = NULL
        x.clone_fl = 0
        x.clone_set = 0
        x.truncate_len = 0
        x.phv = self.slot_phv(slot)
        x.valid = x.phv + self.valid_off
        x.vlen = <uint32_t *>(x.phv + self.vlen_off)
        x.stack_next = <uint32_t *>(x.phv + self.stack_off)
        x.pkt = pkt
        x.clone_session = -1
        x.resubmit_fl = -1
        x.recirc_fl = -1
        x.digest_id = -1
        x.seq = seq
        x.now_ns = self.batch_now

    cdef void reset_metadata(self, ctx_t *x) noexcept nogil:
        cdef uint32_t h
        for h in range(self.n_headers):
            if self.headers[h].metadata:
                memset(x.phv + self.headers[h].byteoff, 0, self.headers[h].nbytes)

    cdef void copy_field_list(self, ctx_t *dst, ctx_t *src, int32_t fl) noexcept nogil:
        cdef uint32_t *lst
        cdef uint32_t k, f
        if fl < 0 or <uint32_t>fl >= self.n_field_lists or self.field_lists[fl] == NULL:
            return
        lst = self.field_lists[fl]
        for k in range(lst[0]):
            f = lst[k + 1]
            kv_bits_copy(dst.phv, self.fields[f].bitoff, src.phv, self.fields[f].bitoff,
                         self.fields[f].width)

    cdef int32_t new_job(self, uint32_t *tail, uint32_t head) noexcept nogil:
        """Reserve the next job slot, or -1 when the queue is full."""
        if tail[0] - head >= MAX_JOBS:
            return -1
        tail[0] += 1
        return <int32_t>((tail[0] - 1) % MAX_JOBS)

    cdef void clone_ctx(self, ctx_t *dst, ctx_t *src) noexcept nogil:
        memcpy(dst.phv, src.phv, self.state_bytes)

    cdef void verify_checksums(self, ctx_t *x) noexcept nogil:
        cdef uint32_t k
        if not self.has_verify:
            return
        cdef cksum_t *c
        cdef uint64_t v
        for k in range(self.n_cksums):
            c = &self.cksums[k]
            if not c.verify:
                continue
            if c.cond >= 0 and self.run_block(x, c.cond) == 0:
                continue
            v = self.calc_compute(x, c.calc)
            if <u128>kv_field_read(&self.fields[c.target], x.phv, x.vlen) & kv_mask128(self.fields[c.target].width) != \
                    (<u128>v & kv_mask128(self.fields[c.target].width)):
                if self.f_checksum_error >= 0:
                    kv_field_write(&self.fields[self.f_checksum_error], x.phv, 1)
                if self.trace_on:
                    self.trace_ev(x, EV_CHECKSUM_ERROR, k, 0, 0)

    cdef void update_checksums(self, ctx_t *x) noexcept nogil:
        cdef uint32_t k
        cdef cksum_t *c
        cdef field_t *f
        cdef uint64_t old
        for k in range(self.n_cksums):
            c = &self.cksums[k]
            if not c.update:
                continue
            if c.cond >= 0 and self.run_block(x, c.cond) == 0:
                continue
            if c.span_len:
                # Sum the whole range, then take out the old target as kv_sum_be16 counted it:
                # exactly the sum with the target zeroed, without storing to the words about to
                # be loaded (a load overlapping a fresh store waits for it).
                f = &self.fields[c.target]
                old = <uint64_t>kv_field_read(f, x.phv, x.vlen)
                kv_field_write(f, x.phv, <s128>kv_csum_fold(
                    kv_sum_be16(x.phv + c.span_byte, c.span_len) - (old << c.span_target_shift)))
            elif self.calcs[c.calc].csum_direct:
                kv_field_write(&self.fields[c.target], x.phv, <s128>self.csum_in_place(x, &self.calcs[c.calc]))
            else:
                kv_field_write(&self.fields[c.target], x.phv, <s128>self.calc_compute(x, c.calc))

    cdef bint deparse(self, ctx_t *x) noexcept nogil:
        """Emit valid headers in deparser order in front of the unparsed payload.

        Headers are written back to front, ending where the payload starts, over the bytes
        the parser consumed and the headroom; only when they do not fit there does the
        payload move (deparse_moving).
        """
        cdef pkt_t *p = x.pkt
        cdef uint8_t *end
        cdef uint8_t *start
        cdef uint32_t k, h, nb, hlen
        cdef header_t *hd
        if x.cursor > p.len:
            x.cursor = p.len
        end = p.data + x.cursor
        start = end
        k = self.n_deparser
        while k > 0:
            k -= 1
            h = self.deparser[k]
            if x.valid[h]:
                hd = &self.headers[h]
                nb = (hd.fixed_bits + x.vlen[h]) >> 3
                if start - nb < p.buf:
                    return self.deparse_moving(x)
                start -= nb
                kv_copy_small(start, x.phv + hd.byteoff, nb)
        hlen = <uint32_t>(end - start)
        p.len = hlen + (p.len - x.cursor)
        p.data = start
        x.cursor = hlen
        if x.truncate_len > 0 and <uint32_t>x.truncate_len < p.len:
            p.len = x.truncate_len
        return True

    cdef bint deparse_moving(self, ctx_t *x) noexcept nogil:
        """Deparse when the headers outgrow the headroom: the payload moves back first."""
        cdef uint32_t k, h, hlen = 0, nb, payload
        cdef uint8_t *start
        cdef pkt_t *p = x.pkt
        for k in range(self.n_deparser):
            h = self.deparser[k]
            if x.valid[h]:
                hlen += (self.headers[h].fixed_bits + x.vlen[h]) // 8
        if x.cursor > p.len:
            x.cursor = p.len
        payload = p.len - x.cursor
        start = p.data + x.cursor - hlen
        if start < p.buf:
            # not enough headroom: move the payload back
            if hlen + payload > p.buf_size:
                return False
            memmove(p.buf + hlen, p.data + x.cursor, payload)
            start = p.buf
        elif start + hlen + payload > p.buf + p.buf_size:
            return False
        for k in range(self.n_deparser):
            h = self.deparser[k]
            if x.valid[h]:
                nb = (self.headers[h].fixed_bits + x.vlen[h]) // 8
                kv_copy_small(start, x.phv + self.headers[h].byteoff, nb)
                start += nb
        p.data = start - hlen
        p.len = hlen + payload
        x.cursor = hlen
        if x.truncate_len > 0 and <uint32_t>x.truncate_len < p.len:
            p.len = x.truncate_len
        return True

    cdef void free_pkt(self, pkt_t *p) noexcept nogil:
        pool_free(self.pool, p)
        self.dropped += 1

    cdef void learn(self, ctx_t *x) noexcept nogil:
        cdef uint32_t *lst
        cdef digest_rec_t *dg
        cdef uint32_t k, w
        if x.digest_id < 0 or <uint32_t>x.digest_id >= self.n_learn_lists:
            return
        lst = self.learn_lists[x.digest_id]
        if lst == NULL:
            return
        if self.n_digests >= MAX_DIGESTS:
            self.digests_dropped += 1
            return
        dg = &self.digests[self.n_digests]
        self.n_digests += 1
        dg.list_id = x.digest_id
        dg.nvals = min(lst[0], 16)
        for k in range(dg.nvals):
            w = self.fields[lst[k + 1]].width
            dg.vals[k] = kv_bits_read(x.phv, self.fields[lst[k + 1]].bitoff, w if w <= 128 else 128)

    cdef void enqueue_egress(self, ctx_t *src, pkt_t *pkt, uint32_t port, uint32_t instance,
                             uint32_t *tail, uint32_t head, job_t *origin) noexcept nogil:
        """Queue an egress pass of `pkt` with a copy of src's PHV, for origin's packet."""
        cdef int32_t slot = self.new_job(tail, head)
        cdef job_t *j
        if slot < 0:
            self.free_pkt(pkt)
            return
        j = &self.jobs[slot]
        j.kind = JOB_EGRESS
        j.pkt = pkt
        j.port = port
        j.instance_type = instance
        j.cursor = src.cursor
        j.packet_length = origin.packet_length
        j.seq = origin.seq
        j.recirc_depth = origin.recirc_depth
        j.field_list = -1
        memcpy(self.slot_phv(slot), src.phv, self.state_bytes)

    cdef int do_ingress(self, job_t *job, uint32_t slot, uint32_t *tail, uint32_t head) noexcept nogil:
        """Ingress pass of a queued job; returns 1 when its slot now holds its egress pass."""
        cdef ctx_t x
        self.ingress_begin(&x, job, slot, False)
        self.run_control(&x, self.ingress_init)
        return self.ingress_end(&x, job, tail, head, tail[0] == head + 1)

    cdef void ingress_begin(self, ctx_t *xp, job_t *job, uint32_t slot, bint zeroed) noexcept nogil:
        """Everything before the ingress control: reset, standard metadata, parser, verify.

        `zeroed`: the slot's state is already all zeros (the received-packet slots are cleared
        as soon as their packet is done, so that these stores have long left the store buffer
        when the next packet's metadata writes load the same words)."""
        cdef ctx_t y
        cdef bint preserved = job.field_list >= 0
        cdef ctx_t *x = xp
        # A job slot's PHV holds the preserved source values on entry (resubmit/recirculate);
        # parse into a fresh copy so that the field list can be applied after the reset.
        self.ctx_init(x, slot, job.pkt, job.seq)
        if preserved:
            memcpy(self.phv, x.phv, self.phv_total)       # keep the source values aside
        if not zeroed:
            kv_zero_words(x.phv, self.state_bytes)
        if preserved:
            y.phv = self.phv
            self.copy_field_list(x, &y, job.field_list)
        else:
            kv_field_write(&self.fields[self.f_ingress_port], x.phv, job.port)
        if job.instance_type:
            if self.f_instance_type >= 0:
                kv_field_write(&self.fields[self.f_instance_type], x.phv, job.instance_type)
        if self.f_packet_length >= 0:
            kv_field_write(&self.fields[self.f_packet_length], x.phv, job.packet_length)
        if self.f_ingress_ts >= 0:
            kv_field_write(&self.fields[self.f_ingress_ts], x.phv, <s128>(x.now_ns // 1000))
        if self.trace_on:
            self.trace_ev(x, EV_PACKET_IN, job.port, job.pkt.len, job.instance_type)
        self.run_parser(x)
        if x.error != ERR_NONE:
            if self.f_parser_error >= 0:
                kv_field_write(&self.fields[self.f_parser_error], x.phv, x.error)
            x.error = ERR_NONE
        self.verify_checksums(x)

    cdef void clone_to_session(self, ctx_t *x, job_t *job, uint32_t *tail, uint32_t head,
                               uint32_t instance) noexcept nogil:
        """Queue the egress passes of a clone, one per replica of x's clone session.

        instance 1 (ingress to egress): the original packet parsed again with its ingress port,
        then only the field list survives. Instance 2 (egress to egress): the current headers,
        metadata reset, then the field list.
        """
        cdef uint32_t *sess
        cdef uint32_t k
        cdef pkt_t *cp
        cdef int32_t s2
        cdef job_t *j2
        cdef ctx_t y
        sess = self.clone_sessions[x.clone_session & 0x7FFF] if x.clone_session >= 0 else NULL
        if sess == NULL:
            return
        for k in range(sess[0]):
            cp = pkt_clone(self.pool, job.pkt)
            if cp == NULL:
                self.pool_exhausted += 1
                continue
            s2 = self.new_job(tail, head)
            if s2 < 0:
                self.free_pkt(cp)
                continue
            self.ctx_init(&y, s2, cp, job.seq)
            if instance == 1:
                kv_zero_words(y.phv, self.state_bytes)
                kv_field_write(&self.fields[self.f_ingress_port], y.phv, job.port)
                self.run_parser(&y)
                y.error = ERR_NONE
            else:
                self.clone_ctx(&y, x)
                y.cursor = x.cursor
            self.reset_metadata(&y)
            self.copy_field_list(&y, x, x.clone_fl)
            if self.f_instance_type >= 0:
                kv_field_write(&self.fields[self.f_instance_type], y.phv, instance)
            kv_field_write(&self.fields[self.f_egress_rid], y.phv, sess[4 + 2 * k])
            j2 = &self.jobs[s2]
            j2.kind = JOB_EGRESS
            j2.pkt = cp
            j2.port = sess[3 + 2 * k]
            j2.instance_type = instance
            j2.cursor = y.cursor
            j2.packet_length = job.packet_length
            j2.seq = job.seq
            j2.recirc_depth = job.recirc_depth
            j2.field_list = -1
            if self.trace_on:
                self.trace_ev(x, EV_CLONE, x.clone_session, j2.port, instance)

    cdef int ingress_end(self, ctx_t *xp, job_t *job, uint32_t *tail, uint32_t head,
                         bint may_run_in_place) noexcept nogil:
        """The traffic manager after ingress; returns 1 when the egress pass runs in place."""
        cdef ctx_t *x = xp
        cdef uint32_t egress_spec, mgid, k, n
        cdef uint32_t *nodes
        cdef pkt_t *cp
        cdef int32_t s2
        cdef job_t *j2
        x.exit_flag = 0
        if x.failed:
            self.free_pkt(job.pkt)
            return 0
        egress_spec = <uint32_t>kv_field_read(&self.fields[self.f_egress_spec], x.phv, x.vlen)
        mgid = <uint32_t>kv_field_read(&self.fields[self.f_mcast_grp], x.phv, x.vlen)
        if self.trace_on:
            self.trace_ev(x, EV_INGRESS_DONE, egress_spec, mgid, 0)
        # ingress clone: the original packet, parsed again, with the field list preserved
        if x.clone_set:
            self.clone_to_session(x, job, tail, head, 1)
        if x.digest_id >= 0:
            self.learn(x)
        if x.resubmit_fl >= 0:
            if job.recirc_depth >= MAX_RECIRC:
                self.recirc_limit_drops += 1
                self.free_pkt(job.pkt)
                return 0
            s2 = self.new_job(tail, head)
            if s2 < 0:
                self.free_pkt(job.pkt)
                return 0
            j2 = &self.jobs[s2]
            j2.kind = JOB_INGRESS
            j2.pkt = job.pkt
            j2.port = job.port
            j2.instance_type = 6
            j2.packet_length = job.packet_length
            j2.field_list = x.resubmit_fl
            j2.recirc_depth = job.recirc_depth + 1
            j2.seq = job.seq
            memcpy(self.slot_phv(s2), x.phv, self.phv_total)
            if self.trace_on:
                self.trace_ev(x, EV_RESUBMIT, 0, 0, 0)
            return 0
        if mgid != 0:
            if self.f_instance_type >= 0:
                kv_field_write(&self.fields[self.f_instance_type], x.phv, 5)
            nodes = self.mc_nodes[mgid & 0xFFFF]
            n = nodes[0] if nodes != NULL else 0
            if self.trace_on:
                self.trace_ev(x, EV_MULTICAST, mgid, n, 0)
            for k in range(n):
                cp = job.pkt if k == n - 1 else pkt_clone(self.pool, job.pkt)
                if cp == NULL:
                    self.pool_exhausted += 1
                    continue
                kv_field_write(&self.fields[self.f_egress_rid], x.phv, nodes[2 + 2 * k])
                self.enqueue_egress(x, cp, nodes[1 + 2 * k], 5, tail, head, job)
            if n == 0:
                self.free_pkt(job.pkt)
            return 0
        if egress_spec == 511:
            if self.trace_on:
                self.trace_ev(x, EV_DROP, 0, 0, 0)
            self.free_pkt(job.pkt)
            return 0
        if self.f_instance_type >= 0:
            kv_field_write(&self.fields[self.f_instance_type], x.phv, 0)
        if may_run_in_place:
            # Nothing else queued: the egress pass runs in this slot, on this header vector.
            job.kind = JOB_EGRESS
            job.port = egress_spec
            job.instance_type = 0
            job.cursor = x.cursor
            job.field_list = -1
            return 1
        self.enqueue_egress(x, job.pkt, egress_spec, 0, tail, head, job)
        return 0

    cdef int do_egress(self, job_t *job, uint32_t slot, uint32_t *tail, uint32_t head,
                       out_t *outs, int nout, int max_out) noexcept nogil:
        cdef ctx_t xs
        cdef ctx_t *x = &xs
        cdef int32_t s2
        cdef job_t *j2
        self.ctx_init(x, slot, job.pkt, job.seq)
        x.cursor = job.cursor
        if self.f_egress_port >= 0:
            kv_field_write(&self.fields[self.f_egress_port], x.phv, job.port)
        kv_field_write(&self.fields[self.f_egress_spec], x.phv, 0)     # as simple_switch does
        if self.f_packet_length >= 0:
            kv_field_write(&self.fields[self.f_packet_length], x.phv, job.packet_length)
        if self.f_egress_ts >= 0:
            kv_field_write(&self.fields[self.f_egress_ts], x.phv, <s128>(x.now_ns // 1000))
        if self.trace_on:
            self.trace_ev(x, EV_EGRESS, job.port, job.instance_type, 0)
        self.run_control(x, self.egress_init)
        x.exit_flag = 0
        if x.failed:
            self.free_pkt(job.pkt)
            return nout
        if x.clone_set:
            self.clone_to_session(x, job, tail, head, 2)
        if <uint32_t>kv_field_read(&self.fields[self.f_egress_spec], x.phv, x.vlen) == 511:
            if self.trace_on:
                self.trace_ev(x, EV_DROP, 1, 0, 0)
            self.free_pkt(job.pkt)
            return nout
        self.update_checksums(x)
        if not self.deparse(x):
            self.free_pkt(job.pkt)
            return nout
        if x.recirc_fl >= 0:
            if job.recirc_depth >= MAX_RECIRC:
                self.recirc_limit_drops += 1
                self.free_pkt(job.pkt)
                return nout
            s2 = self.new_job(tail, head)
            if s2 < 0:
                self.free_pkt(job.pkt)
                return nout
            j2 = &self.jobs[s2]
            j2.kind = JOB_INGRESS
            j2.pkt = job.pkt
            j2.port = 0
            j2.instance_type = 4
            j2.packet_length = job.pkt.len
            j2.field_list = x.recirc_fl
            j2.recirc_depth = job.recirc_depth + 1
            j2.seq = job.seq
            memcpy(self.slot_phv(s2), x.phv, self.phv_total)
            if self.trace_on:
                self.trace_ev(x, EV_RECIRC, 0, 0, 0)
            return nout
        if nout >= max_out:
            self.free_pkt(job.pkt)
            return nout
        job.pkt.port = job.port
        outs[nout].pkt = job.pkt
        outs[nout].port = job.port
        if self.trace_on:
            self.trace_ev(x, EV_OUT, job.port, job.pkt.len, 0)
        return nout + 1

    cdef inline void entry_prefetch(self, table_t *t, int64_t ent) noexcept nogil:
        """Start loading what a hit on entry `ent` reads (and its direct counter, written)."""
        if ent >= 0:
            kv_prefetch(&t.entry_rec[ent])
            if t.with_counters:
                kv_prefetch_write(&t.entry_counters[2 * ent])

    cdef inline int64_t group_lookup(self, ctx_t *x, int32_t node) noexcept nogil:
        """Look up the first table of a grouped packet and prefetch the entry's record.

        DIR-24-8 tables applied later in the control are looked up here too, on the key as it
        is now, only to prefetch that entry: their lookup proper happens when the control
        reaches them (a key an earlier action changes only wastes the prefetch)."""
        cdef table_t *t
        cdef int64_t ent = -1
        cdef uint32_t k
        cdef int32_t first = -1
        if node >= 0 and self.nodes[node].kind == 0:
            first = self.nodes[node].a
            t = &self.tables[first]
            ent = self.table_lookup(x, first)
            self.entry_prefetch(t, ent)
        for k in range(self.n_lpm24):
            if <int32_t>self.lpm24_tables[k] != first:
                t = &self.tables[self.lpm24_tables[k]]
                self.entry_prefetch(t, dir24_lookup(<dir24_t *>t.matcher, self.lpm24_key(x, t)))
        return ent

    cdef int run_batch(self, pkt_t **pkts, int n, out_t *outs, int max_out) noexcept nogil:
        """Run n received packets (pkt.port = ingress port) to completion; fill outs."""
        cdef uint32_t head = 0, tail = 0, slot
        cdef int i, nout = 0
        cdef job_t *j
        cdef ctx_t gx[GROUP]
        cdef int32_t gnode[GROUP]
        cdef int64_t gent[GROUP]
        cdef int g, k, ahead
        cdef uint32_t t
        cdef int32_t first
        pthread_mutex_lock(&self.writer_lock)
        self.batch_now = now_ns()
        # Received packets go through ingress GROUP at a time, in three passes, so that the
        # memory misses of the first table (a random DIR-24-8 slot, then the entry's action
        # data) overlap across packets instead of stalling each one in turn:
        #   1. parse, run up to the first table, prefetch its bucket;
        #   2. look the keys up, prefetch the entries' action data;
        #   3. finish ingress, traffic manager, egress, and drain what each packet spawned.
        i = 0
        while i < n:
            g = min(GROUP, n - i)
            for k in range(g):
                if i + k + 2 < n:
                    kv_prefetch(pkts[i + k + 2].data)       # the parser's first load
                self.rx_packets += 1
                self.seq += 1
                j = &self.jobs[MAX_JOBS + k]
                j.kind = JOB_INGRESS
                j.pkt = pkts[i + k]
                j.port = pkts[i + k].port
                j.instance_type = 0
                j.packet_length = pkts[i + k].len
                j.field_list = -1
                j.recirc_depth = 0
                j.seq = self.seq
                self.ingress_begin(&gx[k], j, MAX_JOBS + k, True)
                gnode[k] = self.run_until_table(&gx[k], self.ingress_init)
                first = -1
                if gnode[k] >= 0 and self.nodes[gnode[k]].kind == 0:
                    first = self.nodes[gnode[k]].a
                    self.table_prefetch(&gx[k], first)
                # IPv4 route tables applied later in the control start loading now too: their
                # key is normally a parsed header field that nothing changes before the lookup
                # (and if something does, the prefetch is merely wasted).
                for t in range(self.n_lpm24):
                    if <int32_t>self.lpm24_tables[t] != first:
                        self.table_prefetch(&gx[k], self.lpm24_tables[t])
            # The lookups run `lookup_ahead` packets ahead of the packets being finished, so the
            # record prefetches spread over the finishing work instead of coming in a burst.
            ahead = self.lookup_ahead
            for k in range(min(ahead, g)):
                gent[k] = self.group_lookup(&gx[k], gnode[k])
            for k in range(g):
                if k + ahead < g:
                    gent[k + ahead] = self.group_lookup(&gx[k + ahead], gnode[k + ahead])
                j = &self.jobs[MAX_JOBS + k]
                if gnode[k] >= 0 and self.nodes[gnode[k]].kind == 0:
                    self.run_control(&gx[k], self.table_finish(&gx[k], self.nodes[gnode[k]].a,
                                                               gent[k]))
                elif gnode[k] >= 0:
                    self.run_control(&gx[k], gnode[k])
                if self.ingress_end(&gx[k], j, &tail, head, head == tail):
                    nout = self.do_egress(j, MAX_JOBS + k, &tail, head, outs, nout, max_out)
                kv_zero_words(gx[k].phv, self.state_bytes)     # ready for the next group
                while head != tail:
                    slot = head % MAX_JOBS
                    j = &self.jobs[slot]
                    if j.kind == JOB_INGRESS:
                        if self.do_ingress(j, slot, &tail, head):
                            continue
                    else:
                        nout = self.do_egress(j, slot, &tail, head, outs, nout, max_out)
                    head += 1
            i += g
        pthread_mutex_unlock(&self.writer_lock)
        self.tx_packets += nout
        return nout

    # ------------------------------------------------------------------ control plane
    def lock(self) -> None:
        """Wait until no batch runs, then keep batches out until unlock() (see module doc)."""
        with nogil:
            pthread_mutex_lock(&self.writer_lock)

    def unlock(self) -> None:
        pthread_mutex_unlock(&self.writer_lock)

    def entry_capacity(self, uint32_t ti, uint32_t needed) -> None:
        if needed > MAX_PROFILE_ID:
            raise ValueError(f"entry id {needed - 1} is too large")
        cdef uint32_t cap = self.tables[ti].capacity
        if needed <= cap:
            return
        while cap < needed:
            cap *= 2
        self._grow_table(ti, cap)

    cdef public dict meter_arrays_by_index

    def entry_set(self, uint32_t ti, uint32_t eid, int32_t action, list params,
                  bint fresh=True) -> None:
        """Set an entry's action and data; a fresh entry also starts with zero counters."""
        cdef table_t *t = &self.tables[ti]
        cdef uint32_t k
        cdef s128 *rec
        cdef bint ok
        self.entry_capacity(ti, eid + 1)
        if fresh:
            t.entry_counters[2 * eid] = 0
            t.entry_counters[2 * eid + 1] = 0
            if t.entry_last_hit != NULL:
                t.entry_last_hit[eid] = now_ns()
        rec = <s128 *>calloc(t.param_stride + 1, sizeof(s128))
        if rec == NULL:
            raise MemoryError("entry record")
        rec[0] = action
        for k in range(min(<uint32_t>len(params), t.param_stride)):
            rec[1 + k] = <s128>int_to_u128(params[k])
        ok = rec_assign(t, eid, rec)
        free(rec)
        if not ok:
            raise MemoryError("entry record")

    def track_hits(self, uint32_t ti) -> None:
        """Record each entry's last hit time (for idle timeouts); off unless asked for."""
        cdef table_t *t = &self.tables[ti]
        if t.entry_last_hit == NULL:
            t.entry_last_hit = <uint64_t *>calloc(max(1, t.capacity), sizeof(uint64_t))
            if t.entry_last_hit == NULL:
                raise MemoryError("last-hit times")

    def entry_last_hit(self, uint32_t ti, uint32_t eid) -> int:
        """CLOCK_MONOTONIC ns of the entry's last hit (or insertion); 0 when not tracked."""
        cdef table_t *t = &self.tables[ti]
        if t.entry_last_hit == NULL or eid >= t.capacity:
            return 0
        return t.entry_last_hit[eid]

    def entries_idle(self, uint32_t ti, object eids, uint64_t older_than_ns) -> list[int]:
        """Those of `eids` not hit since `older_than_ns` (CLOCK_MONOTONIC)."""
        cdef table_t *t = &self.tables[ti]
        if t.entry_last_hit == NULL:
            return []
        return [eid for eid in eids if eid < t.capacity and t.entry_last_hit[eid] < older_than_ns]

    def entries_set_packed(self, uint32_t ti, const uint32_t[::1] eids,
                           const int32_t[::1] actions, const uint8_t[::1] params,
                           bint fresh=True) -> None:
        """entry_set for many entries at once (caller holds the writer lock).

        `params` holds, per entry, the table's param_stride values as 16-byte little-endian
        unsigned integers (param_stride() tells the stride); missing trailing values are 0.
        """
        cdef table_t *t = &self.tables[ti]
        cdef Py_ssize_t n = eids.shape[0], k
        cdef uint32_t eid, top = 0
        cdef size_t need = <size_t>n * t.param_stride * 16
        cdef uint64_t now = now_ns()
        cdef s128 *rec
        cdef bint failed = False
        if actions.shape[0] != n or <size_t>params.shape[0] != need:
            raise ValueError(f"{n} entries need {n} actions and {need} bytes of parameters")
        for k in range(n):
            if eids[k] + 1 > top:
                top = eids[k] + 1
        self.entry_capacity(ti, top)
        rec = <s128 *>calloc(t.param_stride + 1, sizeof(s128))
        if rec == NULL:
            raise MemoryError("entry record")
        with nogil:
            for k in range(n):
                eid = eids[k]
                rec[0] = actions[k]
                memcpy(&rec[1], &params[<size_t>k * t.param_stride * 16], t.param_stride * 16)
                if not rec_assign(t, eid, rec):
                    failed = True
                    break
                if fresh:
                    t.entry_counters[2 * eid] = 0
                    t.entry_counters[2 * eid + 1] = 0
                    if t.entry_last_hit != NULL:
                        t.entry_last_hit[eid] = now
        free(rec)
        if failed:
            raise MemoryError("entry records")

    def records_live(self, uint32_t ti) -> int:
        """Distinct action records table ti's entries share (records.pxi)."""
        return self.tables[ti].rec_live

    def param_stride(self, uint32_t ti) -> int:
        return self.tables[ti].param_stride

    def entry_get(self, uint32_t ti, uint32_t eid) -> tuple[int, list[int]]:
        cdef table_t *t = &self.tables[ti]
        cdef uint32_t k
        cdef s128 *rec
        if eid >= t.capacity or t.entry_rec[eid] == REC_NONE:
            return (REF_NONE, [])
        rec = &t.recs[<size_t>t.entry_rec[eid] * t.rec_stride]
        return (t.entry_action[eid], [u128_to_int(<u128>rec[1 + k]) for k in range(t.param_stride)])

    def entry_clear(self, uint32_t ti, uint32_t eid) -> None:
        cdef table_t *t = &self.tables[ti]
        if eid < t.capacity:
            t.entry_action[eid] = REF_NONE
            rec_release(t, t.entry_rec[eid])
            t.entry_rec[eid] = REC_NONE
            t.entry_counters[2 * eid] = 0
            t.entry_counters[2 * eid + 1] = 0

    def entry_counter(self, uint32_t ti, uint32_t eid) -> tuple[int, int]:
        cdef table_t *t = &self.tables[ti]
        if eid >= t.capacity:
            return (0, 0)
        return (t.entry_counters[2 * eid], t.entry_counters[2 * eid + 1])

    def entry_counter_set(self, uint32_t ti, uint32_t eid, uint64_t packets, uint64_t nbytes) -> None:
        cdef table_t *t = &self.tables[ti]
        self.entry_capacity(ti, eid + 1)
        t.entry_counters[2 * eid] = packets
        t.entry_counters[2 * eid + 1] = nbytes

    def default_set(self, uint32_t ti, int32_t action, list params) -> None:
        cdef table_t *t = &self.tables[ti]
        cdef uint32_t k
        for k in range(t.param_stride):
            t.default_params[k] = <s128>int_to_u128(params[k]) if k < len(params) else 0
        t.default_action = action

    def monotonic_ns(self) -> int:
        """The clock entry hit times are taken from."""
        return now_ns()

    def table_stats(self, uint32_t ti) -> tuple[int, int]:
        return (self.tables[ti].hits, self.tables[ti].misses)

    def profile_init(self, uint32_t pi, uint32_t param_stride, int32_t calc) -> None:
        cdef profile_t *p = &self.profiles[pi]
        p.param_stride = max(1, param_stride)
        p.calc = calc

    def profile_member_set(self, uint32_t pi, uint32_t mid, int32_t action, list params) -> None:
        if mid >= MAX_PROFILE_ID:
            raise ValueError(f"member id {mid} is not below {MAX_PROFILE_ID}")
        cdef profile_t *p = &self.profiles[pi]
        cdef uint32_t cap = max(16, p.capacity), k, old = p.capacity
        if mid >= p.capacity:
            while cap <= mid:
                cap *= 2
            p.member_action = <int32_t *>realloc(p.member_action, cap * sizeof(int32_t))
            p.member_params = <s128 *>realloc(p.member_params, <size_t>cap * p.param_stride * sizeof(s128))
            if p.member_action == NULL or p.member_params == NULL:
                raise MemoryError("action profile")
            for k in range(old, cap):
                p.member_action[k] = REF_NONE
            p.capacity = cap
        for k in range(p.param_stride):
            p.member_params[<size_t>mid * p.param_stride + k] = \
                <s128>int_to_u128(params[k]) if k < len(params) else 0
        p.member_action[mid] = action

    def profile_group_set(self, uint32_t pi, uint32_t gid, list members) -> None:
        if gid >= MAX_PROFILE_ID:
            raise ValueError(f"group id {gid} is not below {MAX_PROFILE_ID}")
        cdef profile_t *p = &self.profiles[pi]
        cdef uint32_t cap = max(16, p.group_capacity), k, old = p.group_capacity
        if gid >= p.group_capacity:
            while cap <= gid:
                cap *= 2
            p.group_members = <uint32_t **>realloc(p.group_members, cap * sizeof(uint32_t *))
            p.group_size = <uint32_t *>realloc(p.group_size, cap * sizeof(uint32_t))
            for k in range(old, cap):
                p.group_members[k] = NULL
                p.group_size[k] = 0
            p.group_capacity = cap
        free(p.group_members[gid])
        p.group_members[gid] = <uint32_t *>malloc(max(1, len(members)) * sizeof(uint32_t))
        for k, m in enumerate(members):
            p.group_members[gid][k] = m
        p.group_size[gid] = len(members)

    def counter_get(self, uint32_t ci, uint32_t index) -> tuple[int, int]:
        return (self.counters[ci].cells[2 * index], self.counters[ci].cells[2 * index + 1])

    def counter_set(self, uint32_t ci, uint32_t index, uint64_t packets, uint64_t nbytes) -> None:
        self.counters[ci].cells[2 * index] = packets
        self.counters[ci].cells[2 * index + 1] = nbytes

    def register_get(self, uint32_t ri, uint32_t index) -> int:
        return u128_to_int(self.registers[ri].cells[index])

    def register_set(self, uint32_t ri, uint32_t index, object value) -> None:
        self.registers[ri].cells[index] = int_to_u128(value) & kv_mask128(self.registers[ri].width)

    def mc_group_set(self, uint32_t gid, list pairs) -> None:
        cdef uint32_t k
        cdef uint32_t *arr = NULL
        if pairs is not None:
            arr = <uint32_t *>calloc(1 + 2 * len(pairs), sizeof(uint32_t))
            arr[0] = len(pairs)
            for k, (port, rid) in enumerate(pairs):
                arr[1 + 2 * k] = port
                arr[2 + 2 * k] = rid
        free(self.mc_nodes[gid & 0xFFFF])
        self.mc_nodes[gid & 0xFFFF] = arr

    def clone_session_set(self, uint32_t sid, list pairs, uint32_t cos=0, uint32_t trunc=0) -> None:
        # layout: count, class of service, truncation, then (port, rid) pairs
        cdef uint32_t k
        cdef uint32_t *arr = NULL
        if pairs is not None:
            arr = <uint32_t *>calloc(3 + 2 * len(pairs), sizeof(uint32_t))
            arr[0] = len(pairs)
            arr[1] = cos
            arr[2] = trunc
            for k, (port, rid) in enumerate(pairs):
                arr[3 + 2 * k] = port
                arr[4 + 2 * k] = rid
        free(self.clone_sessions[sid & 0x7FFF])
        self.clone_sessions[sid & 0x7FFF] = arr

    def vset_set(self, uint32_t vi, list values, list masks) -> None:
        cdef uint32_t k
        for k in range(len(values)):
            self.vset_values[vi][k] = int_to_u128(values[k])
            self.vset_masks[vi][k] = int_to_u128(masks[k])
        self.vset_count[vi] = len(values)

    def set_trace(self, bint on) -> None:
        self.trace_on = on

    def take_trace(self) -> list[tuple[int, int, int, int, int]]:
        cdef uint32_t k
        out = [(self.trace[k].seq, self.trace[k].ev, self.trace[k].a, self.trace[k].b,
                u128_to_int(self.trace[k].v)) for k in range(self.n_trace)]
        self.n_trace = 0
        return out

    def take_digests(self) -> list[tuple[int, list[int]]]:
        cdef uint32_t k
        out = []
        for k in range(self.n_digests):
            out.append((self.digests[k].list_id,
                        [u128_to_int(self.digests[k].vals[m]) for m in range(self.digests[k].nvals)]))
        self.n_digests = 0
        return out

    def stats(self) -> dict[str, int]:
        return {"rx_packets": self.rx_packets, "tx_packets": self.tx_packets,
                "dropped": self.dropped, "parser_errors": self.parser_errors,
                "assert_failures": self.assert_failures, "pool_exhausted": self.pool_exhausted,
                "recirc_limit_drops": self.recirc_limit_drops,
                "digests_dropped": self.digests_dropped}

    def process(self, list packets) -> list[tuple[int, bytes]]:
        """Run (port, frame) pairs through the pipeline; return the transmitted (port, frame)."""
        cdef int n = len(packets), k, nout = 0, max_out = 4 * n + 1024
        cdef int taken = 0, returned = 0   # buffers this call holds: pkts[:taken], outs[returned:nout]
        cdef pkt_t **pkts = <pkt_t **>malloc(max(1, n) * sizeof(pkt_t *))
        cdef out_t *outs = <out_t *>malloc(max_out * sizeof(out_t))
        cdef const uint8_t[::1] view
        cdef pkt_t *p
        cdef uint16_t port16
        result = []
        if pkts == NULL or outs == NULL:
            free(pkts)
            free(outs)
            raise MemoryError("packet batch")
        try:
            for k in range(n):
                port, frame = packets[k]
                # Checked before a buffer is taken; a refused frame gives back those taken.
                view = frame
                port16 = port
                if <uint32_t>view.shape[0] > self.pool.buf_size - PKT_HEADROOM:
                    raise ValueError(f"frame of {view.shape[0]} bytes exceeds the buffer size")
                p = pool_alloc(self.pool)
                if p == NULL:
                    raise MemoryError("packet pool exhausted")
                pkts[k] = p
                taken = k + 1
                if view.shape[0]:
                    memcpy(p.data, &view[0], view.shape[0])
                p.len = view.shape[0]
                p.port = port16
            taken = 0                       # run_batch frees or returns every one of them
            with nogil:
                nout = self.run_batch(pkts, n, outs, max_out)
            while returned < nout:
                k = returned
                returned += 1
                try:
                    result.append((outs[k].port, PyBytes_FromStringAndSize(
                        <char *>outs[k].pkt.data, outs[k].pkt.len)))
                finally:
                    pool_free(self.pool, outs[k].pkt)
        finally:
            for k in range(taken):
                pool_free(self.pool, pkts[k])
            for k in range(returned, nout):
                pool_free(self.pool, outs[k].pkt)
            free(pkts)
            free(outs)
        return result

    def pool_object(self):
        return self.pool_obj

    def batch_function(self):
        """A capsule of (run_batch, self) for the engine loop (target/loop.pyx)."""
        return PyCapsule_New(<void *>self, b"kvick.pipeline", NULL)


cdef int pipeline_run_batch(void *pipeline, pkt_t **pkts, int n, out_t *outs,
                            int max_out) noexcept nogil:
    return (<Pipeline>pipeline).run_batch(pkts, n, outs, max_out)


def batch_entry() -> int:
    """Address of pipeline_run_batch, for the loop to call without Python."""
    return <size_t>&pipeline_run_batch
