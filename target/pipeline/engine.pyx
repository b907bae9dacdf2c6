# cython: language_level=3
"""The executor: runs a compiled v1model program over batches of packets, in C.

Per packet: parser → verify checksums → ingress control → traffic manager (clone, resubmit,
multicast, drop, unicast) → egress control → egress clone/drop → update checksums → deparser →
recirculate or transmit, with simple_switch's semantics (behavioral-model
targets/simple_switch/simple_switch.cpp). Work items (an ingress or egress pass of one packet
instance) go through a FIFO job queue, so replication and recirculation keep BMv2's order.

Program and workers: a Pipeline is the program (code, parse graph, tables, externs), shared;
each worker (worker.pxi) is one thread's context — job slots, header vectors, scratch, digests,
trace, counters — and runs whole batches on it (worker_run_batch).

Control/data concurrency (commit.pxi): what the control plane writes exists in two copies;
workers read the live one without taking any lock, a write section (begin_write ... commit)
changes the other and publishes it with one atomic pointer swap, so a P4Runtime batch becomes
visible to all workers at once and no worker ever waits for the control plane. The old copy is
brought up to date (the section's operations replayed) once every worker has left the batch it
was in at the swap (epoch-based grace period).

Where the code is: a packet's path RX → TX is in five files: target/loop.pyx (RX, TX),
v1model.pxi (batch, ingress and egress passes, traffic manager, checksums, deparser),
parser.pxi, controls.pxi (control graph, tables), interp.pxi (actions: the interpreter).
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove, memset
from posix.stdlib cimport posix_memalign

from target.clock cimport monotonic_ns
from target.packet cimport (PKT_HEADROOM, PacketPool, pkt_clone, pkt_pool_t, pkt_t, pool_alloc,
                            pool_free)
from target.pipeline.engine cimport *
from target.pipeline.hashes cimport HASH_CSUM16, hash_compute_params, hash_params_init, hash_params_t
from target.pipeline.lpm_dir24 cimport Dir24Lpm, dir24_i24, dir24_lookup_tbl24, dir24_t
from target.pipeline.match_exact cimport ExactTable, exact_lookup, exact_table_t
from target.pipeline.match_lpm cimport LpmTable, lpm_lookup, lpm_table_t
from target.pipeline.match_ternary cimport TernaryTable, ternary_lookup, ternary_table_t
from target.pipeline.meter cimport MeterArray, meter_execute, meter_t

include "opcodes.pxi"

include "chelpers.pxi"
include "records.pxi"
include "state.pxi"
include "native_abi.pxi"


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
    cdef calc_t *calcs
    cdef hash_params_t *calc_params
    cdef seg_t *segs
    cdef cksum_t *cksums
    cdef counter_t *counters
    cdef register_t *registers
    cdef meter_t **meter_cells
    cdef uint32_t *meter_sizes
    cdef uint8_t *meter_is_packets
    cdef int *meter_locks             # per meter array (kv_spin_lock), while shared
    cdef bint shared                  # several workers: externs are updated atomically
    cdef uint32_t **field_lists       # per field-list id: count then field ids
    cdef uint32_t n_field_lists
    cdef uint32_t **learn_lists
    cdef uint32_t n_learn_lists
    cdef uint32_t *deparser
    cdef uint32_t n_deparser, n_headers, n_stacks, n_unions, n_tables, n_cksums, n_calcs
    cdef uint32_t n_actions, n_counters, n_registers, n_meters, n_profiles, n_vsets
    cdef int32_t parser_init, ingress_init, egress_init
    cdef uint32_t phv_bytes, phv_total
    cdef int32_t *action_code
    cdef uint32_t *action_nparams
    cdef int32_t f_ingress_port, f_egress_spec, f_egress_port, f_instance_type
    cdef int32_t f_packet_length, f_mcast_grp, f_egress_rid, f_checksum_error, f_parser_error
    cdef int32_t f_ingress_ts, f_egress_ts, f_priority, f_qid
    # What the control plane writes, in two copies (commit.pxi): tables' entries, defaults and
    # match structures, action profiles, PRE groups and sessions, value sets.
    cdef side_t sides[2]
    cdef side_t *live                 # the copy the workers read; swapped atomically
    cdef readonly uint32_t live_side
    cdef readonly uint32_t wside      # the copy a write section changes
    cdef readonly bint writing        # inside begin_write() ... commit()
    cdef list wlog                    # this section's operations: (function, arguments)
    cdef list pending                 # the last commit's, not yet replayed into the other copy
    cdef uint64_t grace_epochs[MAX_WORKERS]   # each worker's epoch at the last swap
    cdef uint32_t n_grace
    cdef int paused                   # lock(): batches wait (not for table writes)
    # The workers (worker.pxi): each runs batches on its own state, with its own buffer pool.
    cdef worker_t *workers
    cdef uint32_t n_workers
    cdef list pools                   # per worker: its PacketPool
    cdef uint32_t scratch_size        # bytes of a worker's hash input buffer
    cdef readonly bint trace_on
    cdef bint has_verify             # some checksum is verified after parsing
    cdef public int cpu_port
    # simple_switch's settings (--drop-port, --priority-queues): the egress_spec meaning
    # "drop" (what mark_to_drop writes), and the strict-priority queues per egress port.
    cdef public uint32_t drop_port
    cdef public uint32_t priority_queues
    cdef public int lookup_ahead      # how far first-table lookups run ahead of finishing packets
    cdef uint32_t lpm24_tables[MAX_LPM24_PREFETCH]   # DIR-24-8 tables, prefetched at parse time
    cdef uint32_t n_lpm24
    cdef list _keep                   # Python objects whose C memory the tables use
    cdef readonly object program
    cdef list pairs                   # per table: its two match structures (or Nones)
    cdef readonly list meter_arrays
    cdef public dict meter_arrays_by_index
    # job slot layout: header bytes, validity bytes, varbit lengths, stack indexes
    cdef uint32_t valid_off
    cdef uint32_t vlen_off, stack_off, state_bytes, slot_bytes
    # native code (native.pxi): the loaded object, its entry points and callbacks
    cdef void *nat_handle
    cdef kvn_program_t nat_prog
    cdef kvn_env_t nat_env
    cdef bint nat_wanted              # attached and not detached
    cdef bint nat_on                  # runs now: wanted, and no per-packet log (interpreter only)

    def __cinit__(self):
        self._keep = []
        self.pairs = []
        self.meter_arrays = []
        self.cpu_port = -1
        self.drop_port = V1_DEFAULT_DROP_PORT
        self.priority_queues = 1
        self.lookup_ahead = 8

    def __dealloc__(self):
        cdef uint32_t i, g, side
        cdef side_t *sd
        cdef table_t *t
        cdef profile_t *pr
        if self.workers != NULL:
            # their counter cells first: freeing them reads the counters' and tables' sizes
            for i in range(self.n_workers):
                worker_cells_free(self, &self.workers[i])
        if self.sides[0].tables != NULL:
            for i in range(self.n_tables):      # shared by both copies
                t = &self.sides[0].tables[i]
                free(t.keys)
                free(t.entry_counters)
                free(t.entry_last_hit)
                free(t.next_by_action)
        for side in range(2):
            sd = &self.sides[side]
            if sd.tables != NULL:
                for i in range(self.n_tables):
                    free(sd.tables[i].entry_action)
                    rec_free_all(&sd.tables[i])
                    free(sd.tables[i].default_params)
            if sd.profiles != NULL:
                for i in range(self.n_profiles):
                    pr = &sd.profiles[i]
                    free(pr.member_action)
                    free(pr.member_params)
                    if pr.group_members != NULL:
                        for g in range(pr.group_capacity):
                            free(pr.group_members[g])
                    free(pr.group_members)
                    free(pr.group_size)
            if sd.mc_nodes != NULL:
                for i in range(65536):
                    free(sd.mc_nodes[i])
            if sd.clone_sessions != NULL:
                for i in range(32768):
                    free(sd.clone_sessions[i])
            if sd.vset_values != NULL:
                for i in range(self.n_vsets):
                    free(sd.vset_values[i])
                    free(sd.vset_masks[i])
            free(sd.tables)
            free(sd.profiles)
            free(sd.mc_nodes)
            free(sd.clone_sessions)
            free(sd.vset_values)
            free(sd.vset_masks)
            free(sd.vset_count)
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
        if self.workers != NULL:
            for i in range(self.n_workers):
                worker_free(&self.workers[i])
            free(self.workers)
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
        free(self.meter_locks)
        free(self.field_lists)
        free(self.learn_lists)

    # ------------------------------------------------------------------ building
    def __init__(self, program, PacketPool pool):
        from target.pipeline.build import build_pipeline
        self.program = program
        self.pools = [pool]
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
        self.n_profiles = sizes["profiles"]
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
        self.meter_locks = <int *>calloc(max(1, self.n_meters), sizeof(int))
        self.n_actions = sizes["actions"]
        self.action_code = <int32_t *>calloc(max(1, self.n_actions), sizeof(int32_t))
        self.action_nparams = <uint32_t *>calloc(max(1, self.n_actions), sizeof(uint32_t))
        self.n_deparser = sizes["deparser"]
        self.deparser = <uint32_t *>calloc(max(1, self.n_deparser), sizeof(uint32_t))
        self.n_vsets = sizes["vsets"]
        self.n_field_lists = sizes["field_lists"]
        self.field_lists = <uint32_t **>calloc(max(1, self.n_field_lists), sizeof(uint32_t *))
        self.n_learn_lists = sizes["learn_lists"]
        self.learn_lists = <uint32_t **>calloc(max(1, self.n_learn_lists), sizeof(uint32_t *))
        self.phv_bytes = sizes["phv_bytes"]
        # PHV: header bytes, slack for wide loads, then one validity byte per header.
        self.phv_total = self.phv_bytes + 32 + self.n_headers
        self.valid_off = self.phv_bytes + 32
        # A job slot: header vector, then varbit lengths, then stack indexes: one memset clears it.
        self.vlen_off = (self.phv_total + 3) & ~3
        self.stack_off = self.vlen_off + 4 * self.n_headers
        self.state_bytes = self.stack_off + 4 * self.n_stacks
        self.slot_bytes = (self.state_bytes + 64 + 63) & ~63
        self.scratch_size = 65536
        cdef side_t *sd
        for side in range(2):
            sd = &self.sides[side]
            sd.tables = <table_t *>calloc(max(1, self.n_tables), sizeof(table_t))
            sd.profiles = <profile_t *>calloc(max(1, self.n_profiles), sizeof(profile_t))
            sd.mc_nodes = <uint32_t **>calloc(65536, sizeof(uint32_t *))
            sd.clone_sessions = <uint32_t **>calloc(32768, sizeof(uint32_t *))
            sd.vset_values = <u128 **>calloc(max(1, self.n_vsets), sizeof(u128 *))
            sd.vset_masks = <u128 **>calloc(max(1, self.n_vsets), sizeof(u128 *))
            sd.vset_count = <uint32_t *>calloc(max(1, self.n_vsets), sizeof(uint32_t))
            if (sd.tables == NULL or sd.profiles == NULL or sd.mc_nodes == NULL
                    or sd.clone_sessions == NULL or sd.vset_values == NULL
                    or sd.vset_masks == NULL or sd.vset_count == NULL):
                raise MemoryError("cannot allocate the pipeline")
        self.live = &self.sides[0]
        self.live_side = 0
        self.wside = 1
        self.wlog = []
        self.workers = <worker_t *>calloc(MAX_WORKERS, sizeof(worker_t))
        if self.code == NULL or self.workers == NULL:
            raise MemoryError("cannot allocate the pipeline")
        self.n_workers = 1
        if worker_init(self, &self.workers[0], 0, &(<PacketPool>self.pools[0]).pool) != 0:
            raise MemoryError("cannot allocate the pipeline's worker")

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
        self.f_qid = std["qid"]

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
        if self.counters[i].cells == NULL:
            raise MemoryError("counter")
        self._fill_worker_cells()

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

    def _set_table(self, uint32_t i, int kind, tuple matchers, list keys, uint32_t key_bytes,
                   uint32_t param_stride, uint32_t capacity, dict next_by_action,
                   int32_t base_next, int32_t hit_next, int32_t miss_next, bint has_hit_miss,
                   bint with_counters, int indirect, int32_t profile, int32_t direct_meter,
                   int32_t meter_dst):
        """Table i, in both copies; `matchers`: its two match structures (one per copy)."""
        cdef table_t *t = &self.sides[0].tables[i]
        cdef uint32_t k, side
        t.kind = kind
        if kind == TBL_LPM24 and self.n_lpm24 < MAX_LPM24_PREFETCH:
            self.lpm24_tables[self.n_lpm24] = i
            self.n_lpm24 += 1
        self.pairs.append(matchers)
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
        t.default_action = REF_NONE
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
        # Direct counters are shared by both copies, so they never move: room for every id
        # the table can hand out, taken lazily by the kernel as ids come into use.
        t.id_limit = max(16, min(capacity, MAX_PROFILE_ID))
        t.entry_counters = <uint64_t *>calloc(<size_t>t.id_limit * 2, sizeof(uint64_t))
        if t.entry_counters == NULL:
            raise MemoryError("direct counters")
        self.sides[1].tables[i] = self.sides[0].tables[i]
        self._fill_worker_cells()
        for side in range(2):
            t = &self.sides[side].tables[i]
            if kind == TBL_EXACT:
                t.matcher = <void *>(<ExactTable>matchers[side]).c
            elif kind == TBL_LPM24:
                t.matcher = <void *>(<Dir24Lpm>matchers[side]).c
            elif kind == TBL_LPM:
                t.matcher = <void *>(<LpmTable>matchers[side]).c
            elif kind == TBL_TERNARY:
                t.matcher = <void *>(<TernaryTable>matchers[side]).c
            t.default_params = <s128 *>calloc(t.param_stride, sizeof(s128))
            if t.default_params == NULL:
                raise MemoryError("default action")
            self._grow_table(side, i, max(16, min(capacity, 1024)))

    cdef int _grow_table(self, uint32_t side, uint32_t i, uint32_t capacity) except -1:
        """Make room for entry ids < capacity in one copy (the writer's, or both at build)."""
        cdef table_t *t = &self.sides[side].tables[i]
        cdef uint32_t old = t.capacity
        cdef uint32_t k
        cdef int32_t *actions
        cdef uint32_t *recs
        if capacity <= old:
            return 0
        actions = <int32_t *>realloc(t.entry_action, capacity * sizeof(int32_t))
        if actions == NULL:
            raise MemoryError("cannot grow table entries")
        t.entry_action = actions
        # entry ids to records: one random read per packet of a large table, so (past 2 MiB)
        # on transparent huge pages as the records (chelpers.pxi's grow_aligned)
        recs = <uint32_t *>grow_aligned(t.entry_rec, old * sizeof(uint32_t),
                                        capacity * sizeof(uint32_t))
        if recs == NULL:
            raise MemoryError("cannot grow table entries")
        t.entry_rec = recs
        for k in range(old, capacity):
            t.entry_action[k] = REF_NONE
            t.entry_rec[k] = REC_NONE
        t.capacity = capacity
        return 0

    cdef int _room(self, uint32_t side, uint32_t ti, uint32_t needed) except -1:
        """Entry ids < needed fit in `side`'s arrays (doubling)."""
        cdef table_t *t = &self.sides[side].tables[ti]
        cdef uint32_t cap = t.capacity
        if needed > t.id_limit:
            raise ValueError(f"entry id {needed - 1} is beyond the table's {t.id_limit} entries")
        if needed <= cap:
            return 0
        while cap < needed:
            cap *= 2
        return self._grow_table(side, ti, min(cap, t.id_limit))

    def _set_vset(self, uint32_t i, uint32_t max_size):
        cdef uint32_t side
        for side in range(2):
            self.sides[side].vset_values[i] = <u128 *>calloc(max(1, max_size), sizeof(u128))
            self.sides[side].vset_masks[i] = <u128 *>calloc(max(1, max_size), sizeof(u128))
            self.sides[side].vset_count[i] = 0
            if self.sides[side].vset_values[i] == NULL or self.sides[side].vset_masks[i] == NULL:
                raise MemoryError("value set")

    # ------------------------------------------------------------------ commits (commit.pxi)
    def begin_write(self) -> None:
        """Open a write section: every change until commit() goes to the standby copy and
        becomes visible to the workers at once when commit() publishes it. First brings the
        standby copy up to date with the last commit (after its grace period)."""
        cdef uint32_t other
        cdef Py_ssize_t done = 0
        if self.writing:
            raise RuntimeError("write sections do not nest")
        if self.pending is not None:
            with nogil:
                grace_wait(self)
            log = self.pending
            other = 1 - self.live_side
            try:
                for fn, args in log:
                    fn(self, other, *args)
                    done += 1
            except BaseException:
                # Out of memory on this copy: keep what is left for the next begin_write and
                # open no section (the caller's write is refused, nothing is published; the
                # copies become equal once memory allows). The failed operation goes again
                # whole: each one either changed nothing when it failed or sets values
                # (entries, records, rules: add is an upsert), so running it twice is safe.
                self.pending = log[done:]
                raise
            self.pending = None
        self.wside = 1 - self.live_side
        self.wlog = []
        self.writing = True

    def commit(self) -> None:
        """Publish the section's changes to every worker at once (one atomic pointer swap)."""
        cdef uint32_t k
        if not self.writing:
            raise RuntimeError("commit() outside a write section")
        self.writing = False
        if not self.wlog:
            return
        kv_store_live(<void **>&self.live, <void *>&self.sides[self.wside])
        self.live_side = self.wside
        self.n_grace = self.n_workers
        for k in range(self.n_workers):
            self.grace_epochs[k] = kv_epoch_read(&self.workers[k].epoch)
        self.pending = self.wlog
        self.wlog = []

    @property
    def matchers(self) -> list:
        """Per table: its match structures (TableMatchers), through which the control plane
        writes and reads them. Made on request, so that the Pipeline holds no reference back
        to itself (it is freed as soon as its last user lets go)."""
        return [TableMatchers(self, i) for i in range(len(self.pairs))]

    def lock(self) -> None:
        """Pause the workers between two batches until unlock(): for changes to the way a
        batch runs (native code, the per-packet log), never for table writes."""
        with nogil:
            pause_workers(self)

    def unlock(self) -> None:
        resume_workers(self)

    def settle(self) -> None:
        """Wait for the grace period of the last commit and bring the standby copy up to
        date now rather than at the next write (tests, memory figures)."""
        if not self.writing:
            self.begin_write()
            self.commit()

    cpdef int rside(self):
        """The copy the control plane reads: its own inside a write section, else the live."""
        return self.wside if self.writing else self.live_side

    cdef object _write(self, object fn, tuple args):
        """Apply one operation to the writer's copy and log it for the other copy. Outside a
        write section it is a section of its own."""
        cdef bint own = not self.writing
        if own:
            self.begin_write()
        try:
            r = fn(self, self.wside, *args)
            self.wlog.append((fn, args))
            return r
        finally:
            if own:
                self.commit()

    def log_matcher_ops(self, TableMatchers tm, str name, tuple args) -> None:
        """Log a method call that was applied to tm.writer() in C, for replay on the other
        copy's structure (bulk.pyx)."""
        if not self.writing:
            raise RuntimeError("not inside a write section")
        self.wlog.append((_matcher_call, (tm.table, name, args)))

    # ------------------------------------------------------------------ control plane
    def entry_set(self, uint32_t ti, uint32_t eid, int32_t action, list params,
                  bint fresh=True) -> None:
        """Set an entry's action and data; a fresh entry also starts with zero counters."""
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        self._write(Pipeline._op_entry_set, (ti, eid, action, list(params), fresh))

    def _op_entry_set(self, uint32_t side, uint32_t ti, uint32_t eid, int32_t action,
                      list params, bint fresh):
        cdef table_t *t = &self.sides[side].tables[ti]
        cdef uint32_t k
        cdef s128 *rec
        cdef bint ok
        self._room(side, ti, eid + 1)
        if fresh:
            # The counters are shared: the second application finds them counting already.
            if side == self.wside and self.writing:
                entry_counter_rebase(self, ti, eid, 0, 0)
                if t.entry_last_hit != NULL:
                    t.entry_last_hit[eid] = monotonic_ns()
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
        cdef table_t *t = &self.sides[0].tables[ti]
        if t.entry_last_hit == NULL:
            t.entry_last_hit = <uint64_t *>calloc(t.id_limit, sizeof(uint64_t))
            if t.entry_last_hit == NULL:
                raise MemoryError("last-hit times")
            self.sides[1].tables[ti].entry_last_hit = t.entry_last_hit

    def entry_last_hit(self, uint32_t ti, uint32_t eid) -> int:
        """CLOCK_MONOTONIC ns of the entry's last hit (or insertion); 0 when not tracked."""
        cdef table_t *t = &self.sides[0].tables[ti]
        if t.entry_last_hit == NULL or eid >= t.id_limit:
            return 0
        return t.entry_last_hit[eid]

    def entries_idle(self, uint32_t ti, object eids, uint64_t older_than_ns) -> list[int]:
        """Those of `eids` not hit since `older_than_ns` (CLOCK_MONOTONIC)."""
        cdef table_t *t = &self.sides[0].tables[ti]
        if t.entry_last_hit == NULL:
            return []
        return [eid for eid in eids if eid < t.id_limit and t.entry_last_hit[eid] < older_than_ns]

    def entries_set_packed(self, uint32_t ti, const uint32_t[::1] eids,
                           const int32_t[::1] actions, const uint8_t[::1] params,
                           bint fresh=True) -> None:
        """entry_set for many entries at once.

        `params` holds, per entry, the table's param_stride values as 16-byte little-endian
        unsigned integers (param_stride() tells the stride); missing trailing values are 0.
        """
        # copies: the caller may reuse its buffers before the replay
        self.entries_set_raw(ti, bytes(eids), bytes(actions), bytes(params), fresh)

    def entries_set_raw(self, uint32_t ti, bytes eids not None, bytes actions not None,
                        bytes params not None, bint fresh=True) -> None:
        """entries_set_packed with the columns as bytes: native-endian uint32 entry ids,
        native-endian int32 action ids, packed parameters. Bytes are immutable, so the log
        keeps them as they are for the replay (a one-entry write copies nothing)."""
        cdef Py_ssize_t n = len(eids) // 4
        cdef size_t need
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        need = <size_t>n * self.sides[0].tables[ti].param_stride * 16
        if len(eids) != 4 * n or len(actions) != 4 * n or <size_t>len(params) != need:
            raise ValueError(f"{n} entries need {n} actions and {need} bytes of parameters")
        self._write(Pipeline._op_entries_set_packed, (ti, eids, actions, params, fresh))

    def _op_entries_set_packed(self, uint32_t side, uint32_t ti, bytes eids_bytes,
                               bytes actions_bytes, bytes params_bytes, bint fresh):
        # bytes data sits 8-byte aligned after the object header
        cdef const uint32_t *eids = <const uint32_t *><const char *>eids_bytes
        cdef const int32_t *actions = <const int32_t *><const char *>actions_bytes
        cdef const uint8_t *params = <const uint8_t *><const char *>params_bytes
        cdef table_t *t = &self.sides[side].tables[ti]
        cdef Py_ssize_t n = len(eids_bytes) // 4, k
        cdef uint32_t eid, top = 0
        cdef uint64_t now = monotonic_ns()
        cdef s128 *rec
        cdef bint failed = False
        cdef bint first = side == self.wside and self.writing
        for k in range(n):
            if eids[k] + 1 > top:
                top = eids[k] + 1
        self._room(side, ti, top)
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
                if fresh and first:
                    entry_counter_rebase(self, ti, eid, 0, 0)
                    if t.entry_last_hit != NULL:
                        t.entry_last_hit[eid] = now
        free(rec)
        if failed:
            raise MemoryError("entry records")

    def table_clear_entries(self, uint32_t ti) -> None:
        """Forget every entry of table ti (its records too); the match structure is cleared
        separately (TableMatchers.clear)."""
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        self._write(Pipeline._op_table_clear, (ti,))

    def _op_table_clear(self, uint32_t side, uint32_t ti):
        cdef table_t *t = &self.sides[side].tables[ti]
        cdef uint32_t k
        for k in range(t.capacity):
            t.entry_action[k] = REF_NONE
            t.entry_rec[k] = REC_NONE
        # the records go with the entries: back to an empty pool
        free_aligned(t.recs, <size_t>t.rec_capacity * t.rec_stride * sizeof(s128))
        free(t.rec_refs)
        free(t.rec_free)
        free(t.rec_hash)
        t.recs = NULL
        t.rec_refs = NULL
        t.rec_free = NULL
        t.rec_hash = NULL
        t.rec_capacity = 0
        t.rec_live = 0
        t.rec_nfree = 0
        t.rec_hash_size = 0

    def records_live(self, uint32_t ti) -> int:
        """Distinct action records table ti's entries share (records.pxi)."""
        return self.sides[self.rside()].tables[ti].rec_live

    def param_stride(self, uint32_t ti) -> int:
        return self.sides[0].tables[ti].param_stride

    def entry_get(self, uint32_t ti, uint32_t eid) -> tuple[int, list[int]]:
        cdef table_t *t = &self.sides[self.rside()].tables[ti]
        cdef uint32_t k
        cdef s128 *rec
        if eid >= t.capacity or t.entry_rec[eid] == REC_NONE:
            return (REF_NONE, [])
        rec = &t.recs[<size_t>t.entry_rec[eid] * t.rec_stride]
        return (t.entry_action[eid], [u128_to_int(<u128>rec[1 + k]) for k in range(t.param_stride)])

    def entry_clear(self, uint32_t ti, uint32_t eid) -> None:
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        self._write(Pipeline._op_entry_clear, (ti, eid))

    def _op_entry_clear(self, uint32_t side, uint32_t ti, uint32_t eid):
        cdef table_t *t = &self.sides[side].tables[ti]
        if eid < t.capacity:
            t.entry_action[eid] = REF_NONE
            rec_release(t, t.entry_rec[eid])
            t.entry_rec[eid] = REC_NONE
        if eid < t.id_limit and side == self.wside and self.writing:
            entry_counter_rebase(self, ti, eid, 0, 0)

    def entry_counter(self, uint32_t ti, uint32_t eid) -> tuple[int, int]:
        """Entry eid's direct counter: the sum of every worker's (counters.pxi)."""
        cdef uint64_t v[2]
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        if eid >= self.sides[0].tables[ti].id_limit:
            return (0, 0)
        entry_counter_sum(self, ti, eid, v)
        return (v[0], v[1])

    def entry_counter_set(self, uint32_t ti, uint32_t eid, uint64_t packets, uint64_t nbytes) -> None:
        """Direct counters are cells like any counter: set at once, not with the section."""
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        cdef table_t *t = &self.sides[0].tables[ti]
        if eid >= t.id_limit:
            raise ValueError(f"entry id {eid} is beyond the table's {t.id_limit} entries")
        entry_counter_rebase(self, ti, eid, packets, nbytes)

    def default_set(self, uint32_t ti, int32_t action, list params) -> None:
        if ti >= self.n_tables:
            raise IndexError(f"no table {ti}")
        self._write(Pipeline._op_default_set, (ti, action, list(params)))

    def _op_default_set(self, uint32_t side, uint32_t ti, int32_t action, list params):
        cdef table_t *t = &self.sides[side].tables[ti]
        cdef uint32_t k
        for k in range(t.param_stride):
            t.default_params[k] = <s128>int_to_u128(params[k]) if k < len(params) else 0
        t.default_action = action

    def monotonic_ns(self) -> int:
        """The clock entry hit times are taken from."""
        return monotonic_ns()

    def table_stats(self, uint32_t ti) -> tuple[int, int]:
        """Hits and misses of table ti: the sum of every worker's."""
        cdef uint64_t hits = 0, misses = 0
        cdef uint32_t k
        for k in range(self.n_workers):
            hits += self.workers[k].table_stats[2 * ti]
            misses += self.workers[k].table_stats[2 * ti + 1]
        return (hits, misses)

    def profile_init(self, uint32_t pi, uint32_t param_stride, int32_t calc) -> None:
        cdef uint32_t side
        for side in range(2):
            self.sides[side].profiles[pi].param_stride = max(1, param_stride)
            self.sides[side].profiles[pi].calc = calc

    def profile_member_set(self, uint32_t pi, uint32_t mid, int32_t action, list params) -> None:
        if mid >= MAX_PROFILE_ID:
            raise ValueError(f"member id {mid} is not below {MAX_PROFILE_ID}")
        if pi >= self.n_profiles:
            raise IndexError(f"no action profile {pi}")
        self._write(Pipeline._op_member_set, (pi, mid, action, list(params)))

    def _op_member_set(self, uint32_t side, uint32_t pi, uint32_t mid, int32_t action,
                       list params):
        cdef profile_t *p = &self.sides[side].profiles[pi]
        cdef uint32_t cap = max(16, p.capacity), k, old = p.capacity
        cdef int32_t *acts
        cdef s128 *pars
        if mid >= p.capacity:
            while cap <= mid:
                cap *= 2
            acts = <int32_t *>realloc(p.member_action, cap * sizeof(int32_t))
            if acts == NULL:
                raise MemoryError("action profile")
            p.member_action = acts
            pars = <s128 *>realloc(p.member_params, <size_t>cap * p.param_stride * sizeof(s128))
            if pars == NULL:
                raise MemoryError("action profile")
            p.member_params = pars
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
        if pi >= self.n_profiles:
            raise IndexError(f"no action profile {pi}")
        self._write(Pipeline._op_group_set, (pi, gid, list(members)))

    def _op_group_set(self, uint32_t side, uint32_t pi, uint32_t gid, list members):
        cdef profile_t *p = &self.sides[side].profiles[pi]
        cdef uint32_t cap = max(16, p.group_capacity), k, old = p.group_capacity
        cdef uint32_t **groups
        cdef uint32_t *sizes
        cdef uint32_t *arr
        if gid >= p.group_capacity:
            while cap <= gid:
                cap *= 2
            groups = <uint32_t **>realloc(p.group_members, cap * sizeof(uint32_t *))
            if groups == NULL:
                raise MemoryError("action profile groups")
            p.group_members = groups
            sizes = <uint32_t *>realloc(p.group_size, cap * sizeof(uint32_t))
            if sizes == NULL:
                raise MemoryError("action profile groups")
            p.group_size = sizes
            for k in range(old, cap):
                p.group_members[k] = NULL
                p.group_size[k] = 0
            p.group_capacity = cap
        arr = <uint32_t *>malloc(max(1, len(members)) * sizeof(uint32_t))
        if arr == NULL:
            raise MemoryError("action profile group")
        for k, m in enumerate(members):
            arr[k] = m
        free(p.group_members[gid])
        p.group_members[gid] = arr
        p.group_size[gid] = len(members)

    def counter_get(self, uint32_t ci, uint32_t index) -> tuple[int, int]:
        """Counter ci's packets and bytes at index: the sum of every worker's (counters.pxi)."""
        cdef uint64_t v[2]
        self._counter_check(ci, index)
        counter_sum(self, ci, index, v)
        return (v[0], v[1])

    def counter_set(self, uint32_t ci, uint32_t index, uint64_t packets, uint64_t nbytes) -> None:
        """From now on counter ci's index reads (packets, nbytes) plus what is counted after;
        safe while workers count (counters.pxi)."""
        self._counter_check(ci, index)
        counter_rebase(self, ci, index, packets, nbytes)

    def _counter_check(self, uint32_t ci, uint32_t index) -> None:
        if ci >= self.n_counters:
            raise IndexError(f"no counter {ci}")
        if index >= self.counters[ci].size:
            raise IndexError(f"counter {ci} has {self.counters[ci].size} cells, not {index + 1}")

    def _fill_worker_cells(self) -> None:
        cdef uint32_t k
        for k in range(self.n_workers):
            if worker_cells_fill(self, &self.workers[k]) != 0:
                raise MemoryError("counter cells")

    def register_get(self, uint32_t ri, uint32_t index) -> int:
        return u128_to_int(self.registers[ri].cells[index])

    def register_set(self, uint32_t ri, uint32_t index, object value) -> None:
        self.registers[ri].cells[index] = int_to_u128(value) & kv_mask128(self.registers[ri].width)

    def mc_group_set(self, uint32_t gid, list pairs) -> None:
        self._write(Pipeline._op_mc_group_set,
                    (gid, None if pairs is None else [tuple(p) for p in pairs]))

    def _op_mc_group_set(self, uint32_t side, uint32_t gid, list pairs):
        cdef uint32_t k
        cdef uint32_t *arr = NULL
        if pairs is not None:
            arr = <uint32_t *>calloc(1 + 2 * len(pairs), sizeof(uint32_t))
            if arr == NULL:
                raise MemoryError("multicast group")
            arr[0] = len(pairs)
            for k, (port, rid) in enumerate(pairs):
                arr[1 + 2 * k] = port
                arr[2 + 2 * k] = rid
        free(self.sides[side].mc_nodes[gid & 0xFFFF])
        self.sides[side].mc_nodes[gid & 0xFFFF] = arr

    def clone_session_set(self, uint32_t sid, list pairs, uint32_t cos=0, uint32_t trunc=0) -> None:
        self._write(Pipeline._op_clone_session_set,
                    (sid, None if pairs is None else [tuple(p) for p in pairs], cos, trunc))

    def _op_clone_session_set(self, uint32_t side, uint32_t sid, list pairs, uint32_t cos,
                              uint32_t trunc):
        # layout: count, class of service, truncation, then (port, rid) pairs
        cdef uint32_t k
        cdef uint32_t *arr = NULL
        if pairs is not None:
            arr = <uint32_t *>calloc(3 + 2 * len(pairs), sizeof(uint32_t))
            if arr == NULL:
                raise MemoryError("clone session")
            arr[0] = len(pairs)
            arr[1] = cos
            arr[2] = trunc
            for k, (port, rid) in enumerate(pairs):
                arr[3 + 2 * k] = port
                arr[4 + 2 * k] = rid
        free(self.sides[side].clone_sessions[sid & 0x7FFF])
        self.sides[side].clone_sessions[sid & 0x7FFF] = arr

    def vset_set(self, uint32_t vi, list values, list masks) -> None:
        if vi >= self.n_vsets:
            raise IndexError(f"no value set {vi}")
        self._write(Pipeline._op_vset_set, (vi, list(values), list(masks)))

    def _op_vset_set(self, uint32_t side, uint32_t vi, list values, list masks):
        cdef uint32_t k
        cdef side_t *sd = &self.sides[side]
        for k in range(len(values)):
            sd.vset_values[vi][k] = int_to_u128(values[k])
            sd.vset_masks[vi][k] = int_to_u128(masks[k])
        sd.vset_count[vi] = len(values)

    def set_trace(self, bint on) -> None:
        self.lock()
        try:
            self.trace_on = on
            self.nat_on = self.nat_wanted and not on
        finally:
            self.unlock()

    def seed_random(self, uint64_t seed) -> None:
        """Make random() repeat (tests running two engines side by side)."""
        cdef uint32_t k
        for k in range(self.n_workers):
            self.workers[k].rng_state = (seed ^ 0x9E3779B97F4A7C15ULL ^ (<uint64_t>k << 32)) or 1

    def take_trace(self, int worker=-1) -> list[tuple[int, int, int, int, int]]:
        """The trace records of `worker` (-1: of every worker), taken away. A running worker's
        records are taken only by its own thread, between its batches."""
        cdef uint32_t k
        cdef worker_t *w
        out = []
        for n in self._worker_range(worker):
            w = &self.workers[n]
            out += [(w.trace[k].seq, w.trace[k].ev, w.trace[k].a, w.trace[k].b,
                     u128_to_int(w.trace[k].v)) for k in range(w.n_trace)]
            w.n_trace = 0
        return out

    def take_digests(self, int worker=-1) -> list[tuple[int, list[int]]]:
        """The digests of `worker` (-1: of every worker), taken away, as take_trace()."""
        cdef uint32_t k
        out = []
        cdef worker_t *w
        for n in self._worker_range(worker):  # a flow is one worker's: its order is kept
            w = &self.workers[n]
            for k in range(w.n_digests):
                out.append((w.digests[k].list_id,
                            [u128_to_int(w.digests[k].vals[m]) for m in range(w.digests[k].nvals)]))
            w.n_digests = 0
        return out

    def _worker_range(self, int worker) -> range:
        if worker < 0:
            return range(self.n_workers)
        if <uint32_t>worker >= self.n_workers:
            raise IndexError(f"no worker {worker}")
        return range(worker, worker + 1)

    def stats(self) -> dict[str, int]:
        """The engine's own counters: the sum of every worker's."""
        cdef worker_t *w
        out = dict.fromkeys(("rx_packets", "tx_packets", "dropped", "parser_errors",
                             "assert_failures", "pool_exhausted", "recirc_limit_drops",
                             "priority_drops", "digests_dropped"), 0)
        for n in range(self.n_workers):
            w = &self.workers[n]
            out["rx_packets"] += w.rx_packets
            out["tx_packets"] += w.tx_packets
            out["dropped"] += w.dropped
            out["parser_errors"] += w.parser_errors
            out["assert_failures"] += w.assert_failures
            out["pool_exhausted"] += w.pool_exhausted
            out["recirc_limit_drops"] += w.recirc_limit_drops
            out["priority_drops"] += w.priority_drops
            out["digests_dropped"] += w.digests_dropped
        return out

    def process(self, list packets, uint32_t worker=0) -> list[tuple[int, bytes]]:
        """Run (port, frame) pairs through the pipeline on `worker` (not running an engine
        loop meanwhile); return the transmitted (port, frame)."""
        if worker >= self.n_workers:
            raise IndexError(f"no worker {worker}")
        cdef worker_t *wk = &self.workers[worker]
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
                if <uint32_t>view.shape[0] > wk.pool.buf_size - PKT_HEADROOM:
                    raise ValueError(f"frame of {view.shape[0]} bytes exceeds the buffer size")
                p = pool_alloc(wk.pool)
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
                nout = run_batch(self, wk, pkts, n, outs, max_out)
            while returned < nout:
                k = returned
                returned += 1
                try:
                    result.append((outs[k].port, PyBytes_FromStringAndSize(
                        <char *>outs[k].pkt.data, outs[k].pkt.len)))
                finally:
                    pool_free(wk.pool, outs[k].pkt)
        finally:
            for k in range(taken):
                pool_free(wk.pool, pkts[k])
            for k in range(returned, nout):
                pool_free(wk.pool, outs[k].pkt)
            free(pkts)
            free(outs)
        return result

    def pool_object(self):
        return self.pools[0]

    # ------------------------------------------------------------------ workers
    def add_worker(self, PacketPool pool) -> int:
        """A further worker context, allocating replicas from `pool` (the pool of the ports
        that worker serves); returns its index. Only while no batch runs."""
        cdef uint32_t k = self.n_workers
        if k >= MAX_WORKERS:
            raise ValueError(f"at most {MAX_WORKERS} workers")
        if (worker_init(self, &self.workers[k], k, &pool.pool) != 0
                or worker_cells_fill(self, &self.workers[k]) != 0):
            worker_cells_free(self, &self.workers[k])
            worker_free(&self.workers[k])
            raise MemoryError("cannot allocate a worker")
        self.pools.append(pool)
        self.n_workers = k + 1
        self.shared = True
        return k

    @property
    def workers_count(self) -> int:
        return self.n_workers

    def worker_pool(self, uint32_t k) -> PacketPool:
        return self.pools[k]

    def worker_handle(self, uint32_t k) -> int:
        """The C handle of worker k, for an engine loop calling worker_batch_entry()."""
        if k >= self.n_workers:
            raise IndexError(f"no worker {k}")
        return <size_t>&self.workers[k]

    def worker_owed_addrs(self, uint32_t k) -> tuple[int, int]:
        """What an engine loop watches to know that worker k's thread has something to hand
        to Python (target/loop.pyx): the address of the worker's count of digests not taken
        yet (uint32_t) and of the trace flag (int; records to format)."""
        if k >= self.n_workers:
            raise IndexError(f"no worker {k}")
        return (<size_t>&self.workers[k].n_digests, <size_t>&self.trace_on)

    def worker_stats(self, uint32_t k) -> dict[str, int]:
        """Worker k's own counters (stats() sums them over the workers)."""
        if k >= self.n_workers:
            raise IndexError(f"no worker {k}")
        cdef worker_t *w = &self.workers[k]
        return {"rx_packets": w.rx_packets, "tx_packets": w.tx_packets, "dropped": w.dropped}

    def batch_times_start(self, uint32_t k, uint32_t capacity) -> None:
        """Record worker k's batches from now on (up to `capacity`): start, duration, packets
        and the copy each read (bench/reload.py lines them up with the commits). Only while
        no engine loop runs that worker."""
        if k >= self.n_workers:
            raise IndexError(f"no worker {k}")
        cdef worker_t *w = &self.workers[k]
        cdef batch_time_t *b = <batch_time_t *>calloc(max(1, capacity), sizeof(batch_time_t))
        if b == NULL:
            raise MemoryError("batch times")
        free(w.btimes)
        w.btimes = b
        w.btimes_cap = capacity
        w.n_btimes = 0

    def batch_times_take(self, uint32_t k) -> bytes:
        """Worker k's recorded batches as packed records (start ns u64, ns u32, packets u16,
        copy u16) and recording off. Only while no engine loop runs that worker."""
        if k >= self.n_workers:
            raise IndexError(f"no worker {k}")
        cdef worker_t *w = &self.workers[k]
        out = PyBytes_FromStringAndSize(<char *>w.btimes, w.n_btimes * sizeof(batch_time_t)) \
            if w.btimes != NULL else b""
        free(w.btimes)
        w.btimes = NULL
        w.btimes_cap = 0
        w.n_btimes = 0
        return out

    def batch_function(self):
        """A capsule of (run_batch, self) for the engine loop (target/loop.pyx)."""
        return PyCapsule_New(<void *>self, b"kvick.pipeline", NULL)


include "counters.pxi"
include "interp.pxi"
include "parser.pxi"
include "controls.pxi"
include "v1model.pxi"
include "native_loop.pxi"
include "worker.pxi"
include "native.pxi"
include "commit.pxi"



cdef int pipeline_run_batch(void *pipeline, pkt_t **pkts, int n, out_t *outs,
                            int max_out) noexcept nogil:
    return run_batch(<Pipeline>pipeline, &(<Pipeline>pipeline).workers[0], pkts, n, outs, max_out)


def batch_entry() -> int:
    """Address of pipeline_run_batch (worker 0 of a Pipeline), for the loop to call without
    Python."""
    return <size_t>&pipeline_run_batch


def worker_batch_entry() -> int:
    """Address of worker_run_batch, called with a Pipeline.worker_handle()."""
    return <size_t>&worker_run_batch


def layout() -> dict[str, int]:
    """The constants and C layouts as this build compiled them (tests/test_constants.py)."""
    cdef insn_t i
    cdef size_t base = <size_t>&i
    return {
        "NREGS": NREGS, "PARAM_BYTES": PARAM_BYTES,
        "TBL_KEYLESS": TBL_KEYLESS, "TBL_EXACT": TBL_EXACT, "TBL_LPM24": TBL_LPM24,
        "TBL_LPM": TBL_LPM, "TBL_TERNARY": TBL_TERNARY,
        "NODE_TABLE": NODE_TABLE, "NODE_COND": NODE_COND, "NODE_CALL": NODE_CALL,
        "TRANS_DEFAULT": TRANS_DEFAULT, "TRANS_VALUE": TRANS_VALUE, "TRANS_VSET": TRANS_VSET,
        "V1_DEFAULT_DROP_PORT": V1_DEFAULT_DROP_PORT,
        "V1_MAX_PRIORITY_QUEUES": V1_MAX_PRIORITY_QUEUES, "PKT_INSTANCE_NORMAL": PKT_INSTANCE_NORMAL,
        "PKT_INSTANCE_CLONE_I2E": PKT_INSTANCE_CLONE_I2E,
        "PKT_INSTANCE_CLONE_E2E": PKT_INSTANCE_CLONE_E2E,
        "PKT_INSTANCE_RECIRC": PKT_INSTANCE_RECIRC,
        "PKT_INSTANCE_REPLICATION": PKT_INSTANCE_REPLICATION,
        "PKT_INSTANCE_RESUBMIT": PKT_INSTANCE_RESUBMIT,
        "sizeof_s128": sizeof(s128), "sizeof_u128": sizeof(u128),
        "sizeof_insn": sizeof(insn_t),
        "insn_op": <size_t>&i.op - base, "insn_a": <size_t>&i.a - base,
        "insn_b": <size_t>&i.b - base, "insn_c": <size_t>&i.c - base,
        "insn_d": <size_t>&i.d - base, "insn_e": <size_t>&i.e - base,
        "sizeof_reg_frame": sizeof(s128) * NREGS,
    }
