# The instruction interpreter (exec_code) and the header operations it uses (included by
# engine.pyx).


cdef inline void trace_ev(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t ev, int32_t a, int32_t b, u128 v) noexcept nogil:
    cdef trace_rec_t *r
    if wk.n_trace >= MAX_TRACE:
        return
    r = &wk.trace[wk.n_trace]
    wk.n_trace += 1
    r.seq = x.seq
    r.ev = ev
    r.a = a
    r.b = b
    r.v = v


cdef void trace_fields(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t first, uint32_t n, uint32_t ev) noexcept nogil:
    """Record the values of fields first..first+n (those of at most 128 bits)."""
    cdef uint32_t f
    for f in range(first, first + n):
        if pl.fields[f].width <= 128:
            trace_ev(pl, wk, x, ev, f, 0, <u128>kv_field_read(&pl.fields[f], x.phv, x.vlen))


cdef inline uint32_t stack_elem(Pipeline pl, worker_t *wk, uint32_t sid, s128 idx, int *ok) noexcept nogil:
    if idx < 0 or idx >= <s128>pl.stacks[sid].size:
        ok[0] = 0
        return 0
    ok[0] = 1
    return pl.stack_hdrs[pl.stacks[sid].first + <uint32_t>idx]


cdef inline void set_valid(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t h) noexcept nogil:
    cdef header_t *hd = &pl.headers[h]
    cdef uint32_t k, m, u
    if not x.valid[h]:
        memset(x.phv + hd.byteoff, 0, hd.nbytes)
        x.valid[h] = 1
    if hd.union_id >= 0:
        u = pl.union_index[hd.union_id]
        for k in range(pl.union_members[u]):
            m = pl.union_members[u + 1 + k]
            if m != h:
                x.valid[m] = 0


cdef void invalidate_union_others(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t h) noexcept nogil:
    """h becomes the valid member of its union: the other members turn invalid."""
    cdef uint32_t u = pl.union_index[pl.headers[h].union_id], k, m
    for k in range(pl.union_members[u]):
        m = pl.union_members[u + 1 + k]
        if m != h:
            x.valid[m] = 0


cdef inline void copy_header(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t dst, uint32_t src) noexcept nogil:
    if dst == src:
        return
    memmove(x.phv + pl.headers[dst].byteoff, x.phv + pl.headers[src].byteoff,
            pl.headers[dst].nbytes)
    x.valid[dst] = x.valid[src]
    x.vlen[dst] = x.vlen[src]


cdef void stack_shift(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t sid, uint32_t n, bint push) noexcept nogil:
    cdef stack_t *s = &pl.stacks[sid]
    cdef uint32_t i, size = s.size
    cdef uint32_t *h = &pl.stack_hdrs[s.first]
    if n > size:
        n = size
    if push:
        i = size
        while i > n:
            i -= 1
            copy_header(pl, wk, x, h[i], h[i - n])
        for i in range(n):
            x.valid[h[i]] = 0
        x.stack_next[pl.stacks[sid].counter] = min(x.stack_next[pl.stacks[sid].counter] + n, size)
    else:
        for i in range(size - n):
            copy_header(pl, wk, x, h[i], h[i + n])
        for i in range(size - n, size):
            x.valid[h[i]] = 0
        x.stack_next[pl.stacks[sid].counter] = x.stack_next[pl.stacks[sid].counter] - n if x.stack_next[pl.stacks[sid].counter] > n else 0


cdef uint64_t rand64(Pipeline pl, worker_t *wk) noexcept nogil:
    # xorshift64*: BMv2's random() is not reproducible either; tests only check the range.
    wk.rng_state ^= wk.rng_state >> 12
    wk.rng_state ^= wk.rng_state << 25
    wk.rng_state ^= wk.rng_state >> 27
    return wk.rng_state * 0x2545F4914F6CDD1DULL



cdef s128 exec_code(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t pc) noexcept nogil:
    """Run one code block; returns register 0 (the value of a condition)."""
    cdef s128 r[NREGS]
    cdef insn_t *i
    cdef s128 va, vb
    cdef u128 ua
    cdef uint32_t h, k, w
    cdef int ok
    cdef uint64_t hv
    cdef register_t *rg
    cdef uint64_t *cells
    r[0] = 0
    while True:
        i = &pl.code[pc]
        pc += 1
        if i.op == OP_LDK:
            r[i.a] = pl.consts[i.d]
        elif i.op == OP_LDF:
            r[i.a] = kv_field_read(&pl.fields[i.d], x.phv, x.vlen)
        elif i.op == OP_LDP:
            r[i.a] = x.params[i.d]
        elif i.op == OP_LDV:
            r[i.a] = x.valid[i.d]
        elif i.op == OP_STF:
            kv_field_write(&pl.fields[i.d], x.phv, r[i.a])
            if pl.trace_on:
                trace_fields(pl, wk, x, i.d, 1, EV_WRITE)
        elif i.op == OP_CPF:
            if pl.fields[i.d].narrow and pl.fields[i.e].narrow:
                kv_field_write(&pl.fields[i.d], x.phv,
                               kv_field_read(&pl.fields[i.e], x.phv, x.vlen))
                if pl.trace_on:
                    trace_fields(pl, wk, x, i.d, 1, EV_WRITE)
                continue
            w = pl.fields[i.d].width
            if pl.fields[i.e].varbit:
                w = x.vlen[pl.fields[i.e].hdr]
            kv_bits_copy(x.phv, pl.fields[i.d].bitoff, x.phv, pl.fields[i.e].bitoff, w)
            if pl.fields[i.d].varbit:
                x.vlen[pl.fields[i.d].hdr] = w
        elif i.op == OP_STFP:
            kv_field_write(&pl.fields[i.d], x.phv, x.params[i.e])
            if pl.trace_on:
                trace_fields(pl, wk, x, i.d, 1, EV_WRITE)
        elif i.op == OP_STFK:
            kv_field_write(&pl.fields[i.d], x.phv, pl.consts[i.e])
            if pl.trace_on:
                trace_fields(pl, wk, x, i.d, 1, EV_WRITE)
        elif i.op == OP_FOPK:
            va = kv_field_read(&pl.fields[i.e], x.phv, x.vlen)
            vb = pl.consts[i.b]
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
            kv_field_write(&pl.fields[i.d], x.phv, va)
            if pl.trace_on:
                trace_fields(pl, wk, x, i.d, 1, EV_WRITE)
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
            r[i.a] = compare_field_const(pl, wk, x, i)
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
            k = pl.union_index[i.d]
            r[i.a] = 0
            for h in range(pl.union_members[k]):
                if x.valid[pl.union_members[k + 1 + h]]:
                    r[i.a] = 1
        elif i.op == OP_LDLA:
            r[i.a] = lookahead(pl, wk, x, i.e, i.d)
            if x.error != ERR_NONE:
                return 0
        elif i.op == OP_LDFDYN:
            h = stack_elem(pl, wk, i.d, r[i.b], &ok)
            r[i.a] = kv_field_read(&pl.fields[pl.headers[h].first_field + i.e], x.phv, x.vlen) if ok else 0
        elif i.op == OP_LDVDYN:
            h = stack_elem(pl, wk, i.d, r[i.b], &ok)
            r[i.a] = x.valid[h] if ok else 0
        elif i.op == OP_LDLAST or i.op == OP_LDLASTIDX:
            if x.stack_next[pl.stacks[i.d].counter] == 0:
                x.error = ERR_STACK_OOB
                return 0
            elif i.op == OP_LDLASTIDX:
                r[i.a] = x.stack_next[pl.stacks[i.d].counter] - 1
            else:
                h = pl.stack_hdrs[pl.stacks[i.d].first + x.stack_next[pl.stacks[i.d].counter] - 1]
                r[i.a] = kv_field_read(&pl.fields[pl.headers[h].first_field + i.e], x.phv, x.vlen)
        elif i.op == OP_LDSIZE:
            r[i.a] = x.stack_next[pl.stacks[i.d].counter]
        elif i.op == OP_STFDYN:
            h = stack_elem(pl, wk, i.d, r[i.b], &ok)
            if ok:
                kv_field_write(&pl.fields[pl.headers[h].first_field + i.e], x.phv, r[i.a])
        elif i.op == OP_SETVALID or i.op == OP_SETUNION:
            set_valid(pl, wk, x, i.d)
        elif i.op == OP_SETINVALID:
            x.valid[i.d] = 0
        elif i.op == OP_SETVALIDDYN:
            h = stack_elem(pl, wk, i.d, r[i.b], &ok)
            if ok:
                if i.a:
                    set_valid(pl, wk, x, h)
                else:
                    x.valid[h] = 0
        elif i.op == OP_HCOPY:
            copy_header(pl, wk, x, i.d, i.e)
        elif i.op == OP_HCOPYSEL:
            copy_header(pl, wk, x, i.d, i.e if r[i.a] != 0 else i.b)
        elif i.op == OP_HCOPYDYN:
            h = stack_elem(pl, wk, i.d, r[i.b], &ok)
            if ok:
                if i.a == 0:
                    copy_header(pl, wk, x, h, i.e)
                else:
                    copy_header(pl, wk, x, i.e, h)
        elif i.op == OP_STKCOPY:
            for k in range(min(pl.stacks[i.d].size, pl.stacks[i.e].size)):
                copy_header(pl, wk, x, pl.stack_hdrs[pl.stacks[i.d].first + k],
                                 pl.stack_hdrs[pl.stacks[i.e].first + k])
            x.stack_next[pl.stacks[i.d].counter] = x.stack_next[pl.stacks[i.e].counter]
        elif i.op == OP_PUSH:
            stack_shift(pl, wk, x, i.d, i.e, True)
        elif i.op == OP_POP:
            stack_shift(pl, wk, x, i.d, i.e, False)
        elif i.op == OP_DROP:
            kv_field_write(&pl.fields[pl.f_egress_spec], x.phv, pl.drop_port)
            kv_field_write(&pl.fields[pl.f_mcast_grp], x.phv, 0)
        elif i.op == OP_EXIT:
            x.exit_flag = 1
            return r[0]
        elif i.op == OP_COUNT:
            # the worker's own cells (counters.pxi): plain adds
            if r[i.a] >= 0 and r[i.a] < pl.counters[i.d].size:
                cells = &wk.counter_cells[i.d][2 * <uint32_t>r[i.a]]
                kv_count_own(cells, 1)
                kv_count_own(cells + 1, x.pkt.len if x.pkt != NULL else 0)
        elif i.op == OP_METER:
            if r[i.a] >= 0 and r[i.a] < pl.meter_sizes[i.d]:
                if pl.shared:
                    kv_spin_lock(&pl.meter_locks[i.d])
                va = meter_execute(
                    &pl.meter_cells[i.d][<uint32_t>r[i.a]], x.now_ns,
                    1 if pl.meter_is_packets[i.d] else (x.pkt.len if x.pkt != NULL else 0))
                if pl.shared:
                    kv_spin_unlock(&pl.meter_locks[i.d])
                kv_field_write(&pl.fields[i.e], x.phv, va)
        elif i.op == OP_REGRD:
            rg = &pl.registers[i.d]
            if r[i.a] >= 0 and r[i.a] < rg.size:
                if pl.shared:
                    kv_spin_lock(&rg.lock)
                ua = rg.cells[<uint32_t>r[i.a]]
                if pl.shared:
                    kv_spin_unlock(&rg.lock)
                kv_field_write(&pl.fields[i.e], x.phv, <s128>ua)
        elif i.op == OP_REGWR:
            rg = &pl.registers[i.d]
            if r[i.a] >= 0 and r[i.a] < rg.size:
                if pl.shared:
                    kv_spin_lock(&rg.lock)
                rg.cells[<uint32_t>r[i.a]] = <u128>r[i.b] & kv_mask128(rg.width)
                if pl.shared:
                    kv_spin_unlock(&rg.lock)
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
            hv = calc_compute(pl, wk, x, i.d)
            if r[i.b] != 0:
                kv_field_write(&pl.fields[i.e], x.phv, r[i.a] + <s128>(hv % <uint64_t>r[i.b]))
            else:
                kv_field_write(&pl.fields[i.e], x.phv, r[i.a])
        elif i.op == OP_RANDOM:
            va = r[i.a]
            vb = r[i.b]
            if vb >= va:
                kv_field_write(&pl.fields[i.e], x.phv, va + <s128>(rand64(pl, wk) % <uint64_t>(vb - va + 1)))
        elif i.op == OP_TRUNCATE:
            x.truncate_len = <int32_t>r[i.a]
        elif i.op == OP_LOG:
            # e != 0: a value of the log_msg that follows (e: 1 unsigned, 2 signed)
            if pl.trace_on:
                trace_ev(pl, wk, x, EV_LOG, i.d, i.e, <u128>r[i.a] if i.e else 0)
        elif i.op == OP_ASSERT:
            if r[i.a] == 0:
                x.failed = 1
                wk.assert_failures += 1
                if pl.trace_on:
                    trace_ev(pl, wk, x, EV_ASSERT, 0, 0, 0)
                return r[0]
        elif i.op == OP_STVL:
            w = x.vlen[pl.fields[i.e].hdr]
            kv_bits_copy(x.phv, pl.fields[i.d].bitoff, x.phv, pl.fields[i.e].bitoff, w)
            x.vlen[pl.fields[i.d].hdr] = w
        elif i.op == OP_EXTRACT:
            if not extract(pl, wk, x, i.d, 0):
                return r[0]
        elif i.op == OP_EXTRACT_VL:
            if not extract(pl, wk, x, i.d, r[i.a]):
                return r[0]
        elif i.op == OP_EXTRACT_NEXT or i.op == OP_EXTRACT_NEXT_VL:
            if x.stack_next[pl.stacks[i.d].counter] >= pl.stacks[i.d].size:
                x.error = ERR_STACK_OOB
                return r[0]
            h = pl.stack_hdrs[pl.stacks[i.d].first + x.stack_next[pl.stacks[i.d].counter]]
            if not extract(pl, wk, x, h, r[i.a] if i.op == OP_EXTRACT_NEXT_VL else 0):
                return r[0]
            x.stack_next[pl.stacks[i.d].counter] += 1
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



cdef inline bint compare_field_const(Pipeline pl, worker_t *wk, ctx_t *x, insn_t *i) noexcept nogil:
    """CMPFK: a field against a constant, as LDF, LDK and the comparison would."""
    cdef s128 va = kv_field_read(&pl.fields[i.d], x.phv, x.vlen)
    cdef s128 vb = pl.consts[i.e]
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


cdef inline s128 run_block(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t pc) noexcept nogil:
    """Run a block; the most common one-instruction shapes skip the interpreter."""
    cdef insn_t *i = &pl.code[pc]
    if pl.code[pc + 1].op == OP_RET:
        if i.op == OP_LDV and pl.code[pc + 1].a == i.a:
            return x.valid[i.d]
        if i.op == OP_CMPFK and pl.code[pc + 1].a == i.a:
            return compare_field_const(pl, wk, x, i)
        if i.op == OP_EXTRACT:
            extract(pl, wk, x, i.d, 0)
            return 0
    return exec_code(pl, wk, x, pc)
