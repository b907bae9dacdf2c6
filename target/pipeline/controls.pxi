# Match-action: walking a control's graph, table lookup (with the prefetching the batch loop
# uses) and applying the hit or default action (included by engine.pyx).


cdef void exec_code_into(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t pc, s128 *r) noexcept nogil:
    """The subset of the interpreter that key code uses (loads and arithmetic)."""
    cdef insn_t *i
    while True:
        i = &pl.code[pc]
        pc += 1
        if i.op == OP_RET:
            return
        elif i.op == OP_LDF:
            r[i.a] = kv_field_read(&pl.fields[i.d], x.phv, x.vlen)
        elif i.op == OP_LDK:
            r[i.a] = pl.consts[i.d]
        elif i.op == OP_LDV:
            r[i.a] = x.valid[i.d]
        elif i.op == OP_LDLA:
            r[i.a] = lookahead(pl, wk, x, i.e, i.d)
        elif i.op == OP_LDLAST:
            if x.stack_next[pl.stacks[i.d].counter] == 0:
                x.error = ERR_STACK_OOB
                r[i.a] = 0
            else:
                r[i.a] = kv_field_read(&pl.fields[pl.headers[pl.stack_hdrs[
                    pl.stacks[i.d].first + x.stack_next[pl.stacks[i.d].counter] - 1]].first_field + i.e], x.phv, x.vlen)


cdef int32_t run_until_table(Pipeline pl, worker_t *wk, ctx_t *x, int32_t node) noexcept nogil:
    """Evaluate conditions up to the first node that is not one; return it (or -1).

    Only conditions run here: they read the packet's own state and nothing shared, so
    running them ahead of the previous packets' actions cannot change any result.
    """
    cdef node_t *n
    if pl.nat_on:
        return pl.nat_prog.control(&pl.nat_env, <void *>wk, <void *>x, node, 1)
    while node >= 0:
        n = &pl.nodes[node]
        if n.kind != 1:
            return node
        if run_block(pl, wk, x, n.a) != 0:
            node = n.b
        else:
            node = n.c
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_COND, n.a, 1 if node == n.b else 0, 0)
    return -1


cdef void run_control(Pipeline pl, worker_t *wk, ctx_t *x, int32_t node) noexcept nogil:
    cdef node_t *n
    if pl.nat_on:
        pl.nat_prog.control(&pl.nat_env, <void *>wk, <void *>x, node, 0)
        return
    while True:
        # Conditions cannot exit or fail, so checking after them is the same as before.
        node = run_until_table(pl, wk, x, node)
        if node < 0 or x.exit_flag or x.failed:
            return
        n = &pl.nodes[node]
        if n.kind == NODE_TABLE:
            node = apply_table(pl, wk, x, n.a)
        else:
            x.params = NULL
            exec_code(pl, wk, x, pl.action_code[n.a])
            node = n.b


cdef int32_t apply_table(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti) noexcept nogil:
    cdef table_t *t = &wk.st.tables[ti]
    if t.kind == TBL_KEYLESS:
        return table_finish(pl, wk, x, ti, keyless_lookup(t))
    return table_finish(pl, wk, x, ti, table_lookup(pl, wk, x, ti))


cdef inline int64_t keyless_lookup(table_t *t) noexcept nogil:
    """A keyless table's lookup: p4c's action-call tables never hold an entry; a table the
    control plane sets holds entry 0 at most (target/entries.py), which every packet matches
    (BMv2 matches the empty key)."""
    return 0 if t.entry_rec[0] != REC_NONE else -1


cdef inline uint32_t lpm24_key(Pipeline pl, worker_t *wk, ctx_t *x, table_t *t) noexcept nogil:
    """The address a DIR-24-8 table looks up: its one key field."""
    return <uint32_t>kv_field_read(&pl.fields[t.keys[0].src], x.phv, x.vlen)


cdef inline void table_prefetch(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti) noexcept nogil:
    """Start loading the memory a lookup in table ti will touch first."""
    cdef table_t *t = &wk.st.tables[ti]
    cdef dir24_t *d
    if t.kind == TBL_LPM24:
        # The tbl24 entry itself, not through tbl18: the engine prefetches every packet's
        # entry a stage ahead, so the lookup never waits for it, and a tbl18 read here would
        # be a load (not a prefetch) that the stage waits for. Measured with bench/router.py,
        # runs alternating: going through tbl18 cost 20-28 % in packets per CPU-second.
        d = <dir24_t *>t.matcher
        kv_prefetch(&d.tbl24[dir24_i24(d, lpm24_key(pl, wk, x, t) >> 8)])


cdef int64_t table_lookup(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti) noexcept nogil:
    """Build the key and find the entry id (-1: miss)."""
    if pl.nat_on:
        # the program's own: key built with constant offsets, the matcher inlined
        return pl.nat_prog.table_lookup(&pl.nat_env, <void *>wk, <void *>x, ti)
    return table_lookup_generic(pl, wk, x, ti)


cdef int64_t table_lookup_generic(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti) noexcept nogil:
    """table_lookup from the run-time key descriptors."""
    cdef table_t *t = &wk.st.tables[ti]
    cdef uint8_t key[MAX_KEY]
    cdef int64_t e = -1
    cdef keyf_t *kf
    cdef uint32_t k
    cdef u128 v
    if t.kind == TBL_LPM24:
        e = dir24_lookup_tbl24(<dir24_t *>t.matcher, lpm24_key(pl, wk, x, t))
    elif t.kind == TBL_KEYLESS:
        e = keyless_lookup(t)
    else:
        if not t.key_covered:
            memset(key, 0, t.key_bytes + 16)
        for k in range(t.nkeys):
            kf = &t.keys[k]
            if kf.is_valid:
                key[kf.off] = x.valid[kf.src]
                continue
            if kf.whole:
                kv_store_be_bytes(key + kf.off,
                                  <uint64_t>kv_field_read(&pl.fields[kf.src], x.phv, x.vlen),
                                  kf.nbytes)
                continue
            if kf.width <= 128:
                v = <u128>kv_field_read(&pl.fields[kf.src], x.phv, x.vlen) & kv_mask128(kf.width)
                if kf.has_mask:
                    v &= kf.mask
                kv_bits_write(key, kf.off * 8 + kf.nbytes * 8 - kf.width, kf.width, v)
            else:
                kv_bits_copy(key, kf.off * 8 + kf.nbytes * 8 - kf.width, x.phv,
                             pl.fields[kf.src].bitoff, kf.width)
        if t.kind == TBL_EXACT:
            e = exact_lookup(<exact_table_t *>t.matcher, key)
        elif t.kind == TBL_LPM:
            e = lpm_lookup(<lpm_table_t *>t.matcher, key)
        else:
            e = ternary_lookup(<ternary_table_t *>t.matcher, key)
    return e


cdef int32_t table_finish(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti, int64_t e) noexcept nogil:
    """Count, run the entry's (or the default) action, return the next node."""
    if pl.nat_on:
        # the program's own: the action chosen by a switch, the next node a constant
        return pl.nat_prog.table_finish(&pl.nat_env, <void *>wk, <void *>x, ti, e)
    return table_finish_generic(pl, wk, x, ti, e)


cdef int32_t table_finish_generic(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ti,
                                  int64_t e) noexcept nogil:
    """table_finish from the table's run-time description (native code's indirect tables)."""
    cdef table_t *t = &wk.st.tables[ti]
    cdef int32_t act, ref
    cdef s128 *params
    cdef profile_t *pr
    cdef uint64_t hv
    cdef uint32_t k
    if pl.trace_on:
        for k in range(t.nkeys):
            if t.keys[k].is_valid:
                trace_ev(pl, wk, x, EV_KEY, k, ti, x.valid[t.keys[k].src])
            else:
                trace_ev(pl, wk, x, EV_KEY, k, ti,
                         <u128>kv_field_read(&pl.fields[t.keys[k].src], x.phv, x.vlen))
    if e >= 0:
        wk.table_stats[2 * ti] += 1
        if t.entry_last_hit != NULL:
            t.entry_last_hit[e] = x.now_ns
        params = &t.recs[<size_t>t.entry_rec[e] * t.rec_stride]
        act = <int32_t>params[0]
        params += 1
        if t.with_counters:
            # the worker's own cells (counters.pxi): plain adds
            kv_count_own(&wk.entry_cells[ti][2 * e], 1)
            kv_count_own(&wk.entry_cells[ti][2 * e + 1], x.pkt.len if x.pkt != NULL else 0)
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_TABLE_HIT, ti, <int32_t>e, 0)
    else:
        wk.table_stats[2 * ti + 1] += 1
        act = t.default_action
        params = t.default_params
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_TABLE_MISS, ti, 0, 0)
    if t.indirect and act != REF_NONE and e >= 0:
        pr = &wk.st.profiles[t.profile]
        ref = act
        if ref <= -2:
            # a group: choose one member by the selector hash
            ref = -ref - 2
            if pr.group_size[ref] == 0:
                act = REF_NONE
            else:
                hv = calc_compute(pl, wk, x, pr.calc) if pr.calc >= 0 else 0
                ref = pr.group_members[ref][hv % pr.group_size[ref]]
        if act != REF_NONE:
            act = pr.member_action[ref]
            params = &pr.member_params[<size_t>ref * pr.param_stride]
    if t.direct_meter >= 0 and e >= 0:
        direct_meter(pl, x, t, e)
    if act >= 0:
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_ACTION, act, ti, 0)
            for k in range(pl.action_nparams[act]):
                trace_ev(pl, wk, x, EV_PARAM, k, act, <u128>params[k])
        x.params = params
        run_action(pl, wk, x, act)
    if t.has_hit_miss:
        return t.hit_next if e >= 0 else t.miss_next
    if act < 0:
        return t.base_next
    return t.next_by_action[act]


cdef void direct_meter(Pipeline pl, ctx_t *x, table_t *t, int64_t e) noexcept nogil:
    """The table's direct meter on entry e: its colour into the meter's result field."""
    cdef s128 colour
    if <uint32_t>e >= pl.meter_sizes[t.direct_meter]:
        return
    if pl.shared:
        kv_spin_lock(&pl.meter_locks[t.direct_meter])
    colour = meter_execute(
        &pl.meter_cells[t.direct_meter][e], x.now_ns,
        1 if pl.meter_is_packets[t.direct_meter] else (x.pkt.len if x.pkt != NULL else 0))
    if pl.shared:
        kv_spin_unlock(&pl.meter_locks[t.direct_meter])
    kv_field_write(&pl.fields[t.direct_meter_dst], x.phv, colour)


cdef inline void entry_prefetch(Pipeline pl, worker_t *wk, uint32_t ti, int64_t ent) noexcept nogil:
    """Start loading what a hit on table ti's entry `ent` reads (and the worker's direct
    counter cells, written)."""
    cdef table_t *t = &wk.st.tables[ti]
    if ent >= 0:
        kv_prefetch(&t.entry_rec[ent])
        if t.with_counters:
            kv_prefetch_write(&wk.entry_cells[ti][2 * ent])


cdef inline int64_t group_lookup(Pipeline pl, worker_t *wk, ctx_t *x, int32_t node) noexcept nogil:
    """Look up the first table of a grouped packet and prefetch the entry's record.

    DIR-24-8 tables applied later in the control are looked up here too, on the key as it
    is now, only to prefetch that entry: their lookup proper happens when the control
    reaches them (a key an earlier action changes only wastes the prefetch)."""
    cdef table_t *t
    cdef int64_t ent = -1
    cdef uint32_t k
    cdef int32_t first = -1
    if node >= 0 and pl.nodes[node].kind == NODE_TABLE:
        first = pl.nodes[node].a
        t = &wk.st.tables[first]
        ent = table_lookup(pl, wk, x, first)
        entry_prefetch(pl, wk, first, ent)
    for k in range(pl.n_lpm24):
        if <int32_t>pl.lpm24_tables[k] != first:
            t = &wk.st.tables[pl.lpm24_tables[k]]
            entry_prefetch(pl, wk, pl.lpm24_tables[k],
                           dir24_lookup_tbl24(<dir24_t *>t.matcher, lpm24_key(pl, wk, x, t)))
    return ent
