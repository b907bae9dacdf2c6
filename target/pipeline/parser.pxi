# The parser: extraction, lookahead, transition keys and select (included by engine.pyx).


cdef s128 lookahead(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t offset, uint32_t width) noexcept nogil:
    """`width` bits at `offset` bits past the parser's cursor; past the end of the packet
    it is a PacketTooShort parser error (and 0). Wider than 128 bits reads as 0."""
    if x.pkt == NULL or (x.cursor * 8 + x.cursor_bits + offset + width + 7) // 8 > x.pkt.len:
        x.error = ERR_PACKET_TOO_SHORT
        return 0
    if width > 128:
        return 0
    memset(wk.scratch, 0, 40)
    memcpy(wk.scratch, x.pkt.data + x.cursor, min(x.pkt.len - x.cursor, 32))
    return <s128>kv_bits_read(wk.scratch, x.cursor_bits + offset, width)


cdef bint extract(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t h, s128 vbits) noexcept nogil:
    cdef header_t *hd = &pl.headers[h]
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
        invalidate_union_others(pl, wk, x, h)
    x.valid[h] = 1
    x.vlen[h] = <uint32_t>vbits
    if pl.trace_on:
        trace_ev(pl, wk, x, EV_EXTRACT, h, nbytes, 0)
        trace_fields(pl, wk, x, hd.first_field, hd.nfields, EV_FIELD)
    return True

# ------------------------------------------------------------------ parser and controls
cdef void run_parser(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    cdef int32_t state = pl.parser_init
    cdef header_t *hd
    cdef uint32_t nb
    cdef pstate_t *ps
    cdef uint32_t steps = 0
    cdef u128 key = 0
    cdef int32_t nxt
    if pl.nat_on:
        pl.nat_prog.parser(&pl.nat_env, <void *>wk, <void *>x)
        if x.error != ERR_NONE:
            wk.parser_errors += 1
        return
    while state >= 0:
        steps += 1
        if steps > 10000:
            x.error = ERR_PARSER_TIMEOUT
            break
        ps = &pl.pstates[state]
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_PARSE_STATE, state, 0, 0)
        if ps.simple_hdr >= 0:
            # the common state: extract one fixed-size header
            hd = &pl.headers[ps.simple_hdr]
            nb = hd.fixed_bits >> 3
            if x.cursor + nb > x.pkt.len:
                x.error = ERR_PACKET_TOO_SHORT
                break
            kv_copy_small(x.phv + hd.byteoff, x.pkt.data + x.cursor, nb)
            if ps.key_win >= 0:
                key = (kv_load_be64(x.pkt.data + x.cursor + ps.key_win) >> ps.key_shift) & ps.key_mask
            x.cursor += nb
            x.valid[ps.simple_hdr] = 1
            if pl.trace_on:
                trace_ev(pl, wk, x, EV_EXTRACT, ps.simple_hdr, nb, 0)
                trace_fields(pl, wk, x, hd.first_field, hd.nfields, EV_FIELD)
            if ps.key_win >= 0:
                nxt = next_state(pl, wk, ps, key)
                if nxt == -2:
                    x.error = ERR_NO_MATCH
                    break
                state = nxt
                continue
        else:
            run_block(pl, wk, x, ps.code)
            if x.error != ERR_NONE:
                break
        key = 0
        if ps.key_field >= 0:
            # the common key: one field, read directly
            key = <u128>kv_field_read(&pl.fields[ps.key_field], x.phv, x.vlen) & kv_mask128(
                pl.pcomps[ps.comp0].width)
        elif ps.ncomps:
            key = transition_key(pl, wk, x, ps)
            if x.error != ERR_NONE:
                break
        nxt = next_state(pl, wk, ps, key)
        if nxt == -2:
            x.error = ERR_NO_MATCH
            break
        state = nxt
    if x.error != ERR_NONE:
        wk.parser_errors += 1
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_PARSER_ERROR, x.error, 0, 0)


cdef inline int32_t next_state(Pipeline pl, worker_t *wk, pstate_t *ps, u128 key) noexcept nogil:
    """The first transition of ps that the key selects (-1: accept, -2: none)."""
    cdef ptrans_t *tr
    cdef uint32_t k, j
    for k in range(ps.ntrans):
        tr = &pl.ptrans[ps.trans0 + k]
        if tr.kind == TRANS_DEFAULT:
            return tr.next_state
        if tr.kind == TRANS_VALUE:
            if (key & tr.mask) == tr.value:
                return tr.next_state
        else:
            for j in range(wk.st.vset_count[tr.vset]):
                if (key & wk.st.vset_masks[tr.vset][j] & tr.mask) == (
                        wk.st.vset_values[tr.vset][j] & wk.st.vset_masks[tr.vset][j] & tr.mask):
                    return tr.next_state
    return -2


cdef u128 transition_key(Pipeline pl, worker_t *wk, ctx_t *x, pstate_t *ps) noexcept nogil:
    """Concatenate the key components; each component is padded to whole bytes (BMv2)."""
    cdef s128 r[NREGS]
    cdef u128 key = 0
    cdef uint32_t k, w, nbits
    cdef uint32_t pc = ps.keycode
    # The key code leaves component values in registers; run it with a private frame.
    exec_code_into(pl, wk, x, pc, r)
    for k in range(ps.ncomps):
        w = pl.pcomps[ps.comp0 + k].width
        nbits = ((w + 7) // 8) * 8
        key = (key << nbits) | (<u128>r[pl.pcomps[ps.comp0 + k].reg] & kv_mask128(w))
    return key
