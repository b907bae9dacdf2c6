# Native code per program, the engine's side (included by engine.pyx): the callbacks a
# generated shared object calls (native_abi.h), the export of the compiled program the
# generator reads (native_gen.py), and attaching a built object to a Pipeline.
#
# The switch between the interpreter and native code happens with every worker's lock held
# (Pipeline.lock), that is between two batches: a batch runs wholly on one engine, so packets
# are neither lost nor reordered by the change.


cdef s128 nat_exec_code(void *pl, void *wk, void *x, uint32_t pc) noexcept nogil:
    return exec_code(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, pc)


cdef int32_t nat_apply_table(void *pl, void *wk, void *x, uint32_t ti) noexcept nogil:
    return apply_table(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, ti)


cdef int32_t nat_table_finish(void *pl, void *wk, void *x, uint32_t ti, int64_t e) noexcept nogil:
    return table_finish_generic(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, ti, e)


cdef int64_t nat_ternary_lookup(const void *matcher, const uint8_t *key) noexcept nogil:
    return ternary_lookup(<const ternary_table_t *>matcher, key)


cdef void nat_direct_meter(void *plv, void *xv, uint32_t ti, int64_t e) noexcept nogil:
    nat_direct_meter_pl(<Pipeline>plv, <ctx_t *>xv, ti, e)


cdef void nat_direct_meter_pl(Pipeline pl, ctx_t *x, uint32_t ti, int64_t e) noexcept nogil:
    # the table's program part (direct_meter, its field) is the same in both copies
    direct_meter(pl, x, &pl.sides[0].tables[ti], e)


cdef int nat_extract(void *pl, void *wk, void *x, uint32_t h, s128 vbits) noexcept nogil:
    return extract(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, h, vbits)


cdef int nat_extract_next(void *plv, void *wkv, void *xv, uint32_t sid, s128 vbits) noexcept nogil:
    return nat_extract_next_pl(<Pipeline>plv, wkv, xv, sid, vbits)


cdef int nat_extract_next_pl(Pipeline pl, void *wkv, void *xv, uint32_t sid, s128 vbits) noexcept nogil:
    """OP_EXTRACT_NEXT(_VL): the stack's next element; 0 when it ends the block."""
    cdef ctx_t *x = <ctx_t *>xv
    cdef uint32_t h
    if x.stack_next[pl.stacks[sid].counter] >= pl.stacks[sid].size:
        x.error = ERR_STACK_OOB
        return 0
    h = pl.stack_hdrs[pl.stacks[sid].first + x.stack_next[pl.stacks[sid].counter]]
    if not extract(pl, <worker_t *>wkv, x, h, vbits):
        return 0
    x.stack_next[pl.stacks[sid].counter] += 1
    return 1


cdef s128 nat_lookahead(void *pl, void *wk, void *x, uint32_t offset, uint32_t width) noexcept nogil:
    return lookahead(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, offset, width)


cdef void nat_set_valid(void *pl, void *wk, void *x, uint32_t h) noexcept nogil:
    set_valid(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, h)


cdef int nat_vset_match(void *plv, uint32_t vs, u128 key, u128 mask) noexcept nogil:
    return nat_vset_match_pl(<Pipeline>plv, vs, key, mask)


cdef int nat_vset_match_pl(Pipeline pl, uint32_t vs, u128 key, u128 mask) noexcept nogil:
    # The callback has no worker, so it reads the live copy, not the batch's (commit.pxi):
    # safe, as no copy a batch may see is changed before the batch ends; a value set written
    # during the batch may show up in its later packets.
    cdef side_t *st = <side_t *>kv_load_live(<void **>&pl.live)
    cdef uint32_t j
    for j in range(st.vset_count[vs]):
        if (key & st.vset_masks[vs][j] & mask) == (st.vset_values[vs][j] & st.vset_masks[vs][j] & mask):
            return 1
    return 0


cdef uint64_t nat_calc(void *pl, void *wk, void *x, uint32_t cid) noexcept nogil:
    return calc_compute(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, cid)


cdef uint64_t nat_random(void *pl, void *wk) noexcept nogil:
    return rand64(<Pipeline>pl, <worker_t *>wk)


cdef void nat_count(void *plv, void *wk, void *xv, uint32_t ci, s128 idx) noexcept nogil:
    nat_count_pl(<Pipeline>plv, <worker_t *>wk, xv, ci, idx)


cdef void nat_count_pl(Pipeline pl, worker_t *wk, void *xv, uint32_t ci, s128 idx) noexcept nogil:
    cdef ctx_t *x = <ctx_t *>xv
    cdef uint64_t *cells
    if idx >= 0 and idx < pl.counters[ci].size:
        cells = &wk.counter_cells[ci][2 * <uint32_t>idx]
        kv_count_own(cells, 1)
        kv_count_own(cells + 1, x.pkt.len if x.pkt != NULL else 0)


cdef void nat_meter(void *plv, void *xv, uint32_t mi, s128 idx, uint32_t dst) noexcept nogil:
    nat_meter_pl(<Pipeline>plv, xv, mi, idx, dst)


cdef void nat_meter_pl(Pipeline pl, void *xv, uint32_t mi, s128 idx, uint32_t dst) noexcept nogil:
    cdef ctx_t *x = <ctx_t *>xv
    cdef s128 va
    if idx >= 0 and idx < pl.meter_sizes[mi]:
        if pl.shared:
            kv_spin_lock(&pl.meter_locks[mi])
        va = meter_execute(&pl.meter_cells[mi][<uint32_t>idx], x.now_ns,
                           1 if pl.meter_is_packets[mi] else (x.pkt.len if x.pkt != NULL else 0))
        if pl.shared:
            kv_spin_unlock(&pl.meter_locks[mi])
        kv_field_write(&pl.fields[dst], x.phv, va)


cdef void nat_reg_read(void *plv, void *xv, uint32_t ri, s128 idx, uint32_t dst) noexcept nogil:
    nat_reg_read_pl(<Pipeline>plv, xv, ri, idx, dst)


cdef void nat_reg_read_pl(Pipeline pl, void *xv, uint32_t ri, s128 idx, uint32_t dst) noexcept nogil:
    cdef ctx_t *x = <ctx_t *>xv
    cdef register_t *rg = &pl.registers[ri]
    cdef u128 ua
    if idx >= 0 and idx < rg.size:
        if pl.shared:
            kv_spin_lock(&rg.lock)
        ua = rg.cells[<uint32_t>idx]
        if pl.shared:
            kv_spin_unlock(&rg.lock)
        kv_field_write(&pl.fields[dst], x.phv, <s128>ua)


cdef void nat_reg_write(void *plv, uint32_t ri, s128 idx, s128 v) noexcept nogil:
    nat_reg_write_pl(<Pipeline>plv, ri, idx, v)


cdef void nat_reg_write_pl(Pipeline pl, uint32_t ri, s128 idx, s128 v) noexcept nogil:
    cdef register_t *rg = &pl.registers[ri]
    if idx >= 0 and idx < rg.size:
        if pl.shared:
            kv_spin_lock(&rg.lock)
        rg.cells[<uint32_t>idx] = <u128>v & kv_mask128(rg.width)
        if pl.shared:
            kv_spin_unlock(&rg.lock)


cdef void nat_assert_failed(void *wk) noexcept nogil:
    (<worker_t *>wk).assert_failures += 1


cdef void nat_stack_shift(void *pl, void *wk, void *x, uint32_t sid, uint32_t n, int push) noexcept nogil:
    stack_shift(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, sid, n, push)


cdef void nat_copy_header(void *pl, void *wk, void *x, uint32_t dst, uint32_t src) noexcept nogil:
    copy_header(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x, dst, src)


cdef int nat_deparse_moving(void *pl, void *wk, void *x) noexcept nogil:
    return deparse_moving(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x)


cdef void nat_parser_error(void *plv, void *wk, void *xv) noexcept nogil:
    nat_parser_error_pl(<Pipeline>plv, <worker_t *>wk, <ctx_t *>xv)


cdef void nat_parser_error_pl(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    """As ingress_begin: a received packet's parser error is counted and recorded."""
    wk.parser_errors += 1
    if pl.f_parser_error >= 0:
        kv_field_write(&pl.fields[pl.f_parser_error], x.phv, x.error)
    x.error = ERR_NONE


cdef void nat_verify(void *pl, void *wk, void *x) noexcept nogil:
    verify_checksums(<Pipeline>pl, <worker_t *>wk, <ctx_t *>x)


cdef void nat_drop(void *plv, void *wk, kvn_pkt_t *p, int priority) noexcept nogil:
    if priority:
        (<worker_t *>wk).priority_drops += 1
    free_pkt(<Pipeline>plv, <worker_t *>wk, <pkt_t *>p)


cdef int nat_general(void *plv, void *wk, void *x, kvn_pkt_t *p, uint32_t slot, kvn_out_t *outs,
                     int nout, int max_out) noexcept nogil:
    return native_general(<Pipeline>plv, <worker_t *>wk, <ctx_t *>x, <pkt_t *>p, MAX_JOBS + slot,
                          <out_t *>outs, nout, max_out)


cdef inline void run_action(Pipeline pl, worker_t *wk, ctx_t *x, int32_t act) noexcept nogil:
    """A table's chosen action (x.params set): native code when the program has it."""
    if pl.nat_on and pl.nat_prog.actions[act] != NULL:
        pl.nat_prog.actions[act](&pl.nat_env, <void *>wk, <void *>x)
    else:
        exec_code(pl, wk, x, pl.action_code[act])


cdef void ctx_offsets(uint32_t *out) noexcept nogil:
    cdef ctx_t c
    cdef size_t base = <size_t>&c
    out[0] = <size_t>&c.phv - base
    out[1] = <size_t>&c.valid - base
    out[2] = <size_t>&c.vlen - base
    out[3] = <size_t>&c.pkt - base
    out[4] = <size_t>&c.cursor - base
    out[5] = <size_t>&c.error - base
    out[6] = <size_t>&c.params - base
    out[7] = <size_t>&c.now_ns - base


cdef void table_layout(uint32_t *out) noexcept nogil:
    """native_abi.h's KVN_LAYOUT as this build of the engine has it."""
    cdef table_t t
    cdef side_t sd
    cdef worker_t w
    cdef exact_table_t ex
    cdef lpm_table_t lp
    cdef dir24_t d
    cdef counter_t ct
    cdef size_t tb = <size_t>&t, eb = <size_t>&ex, lb = <size_t>&lp, db = <size_t>&d
    out[0] = sizeof(table_t)
    out[1] = <size_t>&t.kind - tb
    out[2] = <size_t>&t.matcher - tb
    out[3] = <size_t>&t.entry_rec - tb
    out[4] = <size_t>&t.recs - tb
    out[5] = <size_t>&t.rec_stride - tb
    out[6] = <size_t>&t.entry_counters - tb
    out[7] = <size_t>&t.entry_last_hit - tb
    out[8] = <size_t>&t.default_action - tb
    out[9] = <size_t>&t.default_params - tb
    out[10] = <size_t>&t.next_by_action - tb
    out[11] = <size_t>&t.misses - tb
    out[12] = <size_t>&sd.tables - <size_t>&sd
    out[13] = <size_t>&w.st - <size_t>&w
    out[14] = <size_t>&w.table_stats - <size_t>&w
    out[15] = sizeof(exact_table_t)
    out[16] = <size_t>&ex.meta - eb
    out[17] = <size_t>&ex.keys - eb
    out[18] = <size_t>&ex.meta_stride - eb
    out[19] = <size_t>&ex.key_stride - eb
    out[20] = <size_t>&ex.mask - eb
    out[21] = <size_t>&ex.key_words - eb
    out[22] = <size_t>&lp.key_words - lb
    out[23] = <size_t>&lp.nprobes - lb
    out[24] = <size_t>&lp.probe_tables - lb
    out[25] = <size_t>&lp.probe_masks - lb
    out[26] = <size_t>&d.tbl24 - db
    out[27] = <size_t>&d.tbl8 - db
    out[28] = sizeof(counter_t)
    out[29] = <size_t>&ct.size - <size_t>&ct
    out[30] = sizeof(out_t)
    out[31] = <size_t>&d.tbl24_pair - db
    out[32] = <size_t>&w.counter_cells - <size_t>&w
    out[33] = <size_t>&w.entry_cells - <size_t>&w


def native_layout() -> dict[str, object]:
    """Sizes and offsets of what native code shares with the engine, as this build has them
    (tests/test_native.py compares them with native_abi.h compiled on its own)."""
    cdef ctx_t c
    cdef pkt_t p
    cdef uint32_t offs[8]
    cdef uint32_t tables[34]
    cdef size_t cb = <size_t>&c
    cdef size_t pb = <size_t>&p
    ctx_offsets(offs)
    table_layout(tables)
    return {
        "abi_version": KVN_ABI_VERSION,
        "sizeof_ctx": sizeof(ctx_t), "sizeof_pkt": sizeof(pkt_t), "sizeof_field": sizeof(field_t),
        "ctx": {"phv": offs[0], "valid": offs[1], "vlen": offs[2],
                "stack_next": <size_t>&c.stack_next - cb, "pkt": offs[3], "cursor": offs[4],
                "cursor_bits": <size_t>&c.cursor_bits - cb, "error": offs[5],
                "exit_flag": <size_t>&c.exit_flag - cb, "failed": <size_t>&c.failed - cb,
                "params": offs[6], "clone_session": <size_t>&c.clone_session - cb,
                "clone_fl": <size_t>&c.clone_fl - cb, "clone_set": <size_t>&c.clone_set - cb,
                "resubmit_fl": <size_t>&c.resubmit_fl - cb, "recirc_fl": <size_t>&c.recirc_fl - cb,
                "truncate_len": <size_t>&c.truncate_len - cb,
                "digest_id": <size_t>&c.digest_id - cb, "seq": <size_t>&c.seq - cb,
                "now_ns": offs[7]},
        "pkt": {"data": <size_t>&p.data - pb, "len": <size_t>&p.len - pb,
                "port": <size_t>&p.port - pb,
                "buf": <size_t>&p.buf - pb, "buf_size": <size_t>&p.buf_size - pb},
        "tables": [tables[i] for i in range(KVN_LAYOUT_N)],
    }


def native_export(Pipeline pl) -> dict[str, object]:
    """The compiled program exactly as the interpreter runs it, for the code generator."""
    cdef uint32_t i, k
    cdef field_t *f
    cdef header_t *h
    cdef pstate_t *ps
    cdef table_t *t
    cdef cksum_t *c
    prog = pl.program
    code = [(pl.code[i].op, pl.code[i].a, pl.code[i].b, pl.code[i].c, pl.code[i].d, pl.code[i].e)
            for i in range(len(prog.code))]
    consts = [s128_to_int(pl.consts[i]) for i in range(len(prog.consts))]
    fields = []
    for i in range(len(prog.fields)):
        f = &pl.fields[i]
        fields.append((f.bitoff, f.width, f.is_signed, f.varbit, f.hdr, f.narrow, f.shift, f.byte,
                       f.mask, f.whole))
    headers = []
    for i in range(pl.n_headers):
        h = &pl.headers[i]
        headers.append({"byteoff": h.byteoff, "fixed_bits": h.fixed_bits, "nbytes": h.nbytes,
                        "varbit_max": h.varbit_max, "union_id": h.union_id,
                        "first_field": h.first_field, "metadata": h.metadata})
    stacks = [(pl.stacks[i].counter,
               [pl.stack_hdrs[pl.stacks[i].first + k] for k in range(pl.stacks[i].size)])
              for i in range(pl.n_stacks)]
    unions = []
    for i in range(pl.n_unions):
        k = pl.union_index[i]
        unions.append([pl.union_members[k + 1 + m] for m in range(pl.union_members[k])])
    pstates = []
    for i in range(len(prog.parser_states)):
        ps = &pl.pstates[i]
        pstates.append({
            "code": ps.code, "keycode": ps.keycode, "simple_hdr": ps.simple_hdr,
            "key_field": ps.key_field,
            "comps": [(pl.pcomps[ps.comp0 + k].reg, pl.pcomps[ps.comp0 + k].width)
                      for k in range(ps.ncomps)],
            "trans": [(pl.ptrans[ps.trans0 + k].kind, pl.ptrans[ps.trans0 + k].next_state,
                       u128_to_int(pl.ptrans[ps.trans0 + k].value),
                       u128_to_int(pl.ptrans[ps.trans0 + k].mask), pl.ptrans[ps.trans0 + k].vset)
                      for k in range(ps.ntrans)]})
    cksums = []
    for i in range(pl.n_cksums):
        c = &pl.cksums[i]
        cksums.append({
            "calc": c.calc, "target": c.target, "cond": c.cond, "verify": c.verify,
            "update": c.update, "span_byte": c.span_byte, "span_len": c.span_len,
            "span_target_shift": c.span_target_shift,
            "csum_direct": pl.calcs[c.calc].csum_direct,
            "segs": [(pl.segs[pl.calcs[c.calc].seg0 + k].src_bit,
                      pl.segs[pl.calcs[c.calc].seg0 + k].width)
                     for k in range(pl.calcs[c.calc].nseg)]})
    nodes = [(pl.nodes[i].kind, pl.nodes[i].a, pl.nodes[i].b, pl.nodes[i].c)
             for i in range(len(prog.nodes))]
    tables = []
    for i in range(pl.n_tables):
        t = &pl.sides[0].tables[i]        # the program's part: the same in both copies
        tables.append({
            "kind": t.kind, "key_bytes": t.key_bytes, "key_covered": t.key_covered,
            "keys": [(t.keys[k].src, t.keys[k].width, t.keys[k].nbytes, t.keys[k].off,
                      t.keys[k].is_valid, t.keys[k].has_mask, t.keys[k].whole,
                      u128_to_int(t.keys[k].mask)) for k in range(t.nkeys)],
            "actions": list(prog.tables[i].actions),
            "next_by_action": [t.next_by_action[k] for k in range(pl.n_actions)],
            "base_next": t.base_next, "hit_next": t.hit_next, "miss_next": t.miss_next,
            "has_hit_miss": t.has_hit_miss, "with_counters": t.with_counters,
            "indirect": t.indirect, "direct_meter": t.direct_meter,
            "rec_stride": t.rec_stride,
            "default_const": prog.tables[i].default_const,
            "default_action": prog.tables[i].default_action,
            "default_params": list(prog.tables[i].default_params)})
    return {
        "code": code, "consts": consts, "fields": fields, "headers": headers, "unions": unions, "stacks": stacks,
        "pstates": pstates, "nodes": nodes, "tables": tables,
        "actions": [pl.action_code[i] for i in range(pl.n_actions)],
        "parser_init": pl.parser_init, "ingress_init": pl.ingress_init,
        "egress_init": pl.egress_init,
        "deparser": [pl.deparser[i] for i in range(pl.n_deparser)],
        "cksums": cksums,
        "f_egress_spec": pl.f_egress_spec, "f_mcast_grp": pl.f_mcast_grp,
        "drop_port": pl.drop_port,
        "f_ingress_port": pl.f_ingress_port, "f_egress_port": pl.f_egress_port,
        "f_instance_type": pl.f_instance_type, "f_packet_length": pl.f_packet_length,
        "f_ingress_ts": pl.f_ingress_ts, "f_egress_ts": pl.f_egress_ts,
        "f_priority": pl.f_priority, "f_qid": pl.f_qid,
        "counter_sizes": [pl.counters[i].size for i in range(pl.n_counters)],
        # the batch loop's group slots: their count, and the bytes each packet leaves to clear
        "group": GROUP, "state_bytes": pl.state_bytes,
        "lpm24_tables": [pl.lpm24_tables[i] for i in range(pl.n_lpm24)],
    }


def native_attach(Pipeline pl, str path) -> dict[str, int]:
    """Load a built object and let it run the program from the next batch on. Raises OSError
    (cannot load) or ValueError (built for another engine layout); the interpreter then stays."""
    cdef void *handle
    cdef kvn_init_fn init
    cdef kvn_program_t prog
    cdef bytes bpath = path.encode()
    if pl.nat_handle != NULL:
        raise ValueError("native code is already attached")
    handle = dlopen(bpath, RTLD_NOW | RTLD_LOCAL)
    if handle == NULL:
        raise OSError(f"cannot load {path}: {(<bytes>dlerror()).decode(errors='replace')}")
    init = <kvn_init_fn>dlsym(handle, b"kvn_init")
    if init == NULL:
        dlclose(handle)
        raise OSError(f"{path} has no kvn_init")
    memset(&pl.nat_env, 0, sizeof(kvn_env_t))
    pl.nat_env.abi_version = KVN_ABI_VERSION
    pl.nat_env.ctx_size = sizeof(ctx_t)
    ctx_offsets(pl.nat_env.ctx_offsets)
    pl.nat_env.pkt_size = sizeof(pkt_t)
    pl.nat_env.field_size = sizeof(field_t)
    pl.nat_env.pl = <void *>pl
    pl.nat_env.exec_code = nat_exec_code
    pl.nat_env.apply_table = nat_apply_table
    pl.nat_env.extract = nat_extract
    pl.nat_env.extract_next = nat_extract_next
    pl.nat_env.lookahead = nat_lookahead
    pl.nat_env.set_valid = nat_set_valid
    pl.nat_env.vset_match = nat_vset_match
    pl.nat_env.calc = nat_calc
    pl.nat_env.random = nat_random
    pl.nat_env.count = nat_count
    pl.nat_env.meter = nat_meter
    pl.nat_env.reg_read = nat_reg_read
    pl.nat_env.reg_write = nat_reg_write
    pl.nat_env.assert_failed = nat_assert_failed
    pl.nat_env.stack_shift = nat_stack_shift
    pl.nat_env.copy_header = nat_copy_header
    pl.nat_env.deparse_moving = nat_deparse_moving
    table_layout(pl.nat_env.layout)
    pl.nat_env.shared = <const int *>&pl.shared
    pl.nat_env.ternary_lookup = nat_ternary_lookup
    pl.nat_env.table_finish = nat_table_finish
    pl.nat_env.direct_meter = nat_direct_meter
    pl.nat_env.parser_error = nat_parser_error
    pl.nat_env.verify = nat_verify
    pl.nat_env.counters = <const void *>pl.counters
    pl.nat_env.drop = nat_drop
    pl.nat_env.general = nat_general
    memset(&prog, 0, sizeof(kvn_program_t))
    if (init(&pl.nat_env, &prog) != 0 or prog.n_actions != pl.n_actions
            or prog.table_lookup == NULL or prog.table_finish == NULL
            or (prog.batch == NULL) != (prog.finish == NULL)):
        dlclose(handle)
        raise ValueError(f"{path} was built for another engine layout or program")
    pl.lock()
    try:
        pl.nat_prog = prog
        pl.nat_handle = handle
        pl.nat_wanted = True
        pl.nat_on = not pl.trace_on
    finally:
        pl.unlock()
    return {"interpreted_blocks": prog.n_interpreted}


def native_detach(Pipeline pl) -> None:
    """Back to the interpreter from the next batch on (the object stays loaded: a batch of
    another thread may have just left it)."""
    pl.lock()
    try:
        pl.nat_wanted = False
        pl.nat_on = False
    finally:
        pl.unlock()


def native_resume(Pipeline pl) -> None:
    """Native code again from the next batch on, after native_detach (benchmarks alternate)."""
    if pl.nat_handle == NULL:
        raise ValueError("no native code attached")
    pl.lock()
    try:
        pl.nat_wanted = True
        pl.nat_on = not pl.trace_on
    finally:
        pl.unlock()


def native_active(Pipeline pl) -> bool:
    return pl.nat_on


def native_batch_loop(Pipeline pl) -> bool:
    """Whether batches run native_groups (native_loop.pxi): native code is on and the program
    has a generated batch loop (kvn_batch, with its traffic manager and egress pass)."""
    return pl.nat_on and pl.nat_prog.batch != NULL
