# Hash and checksum calculations, checksum verification and update, the deparser (included
# by engine.pyx).


cdef inline uint64_t csum_in_place(Pipeline pl, worker_t *wk, ctx_t *x, calc_t *c) noexcept nogil:
    """The Internet checksum of whole header words, summed where they lie in the PHV."""
    cdef uint64_t sum = 0
    cdef uint32_t k
    cdef seg_t *s
    for k in range(c.nseg):
        s = &pl.segs[c.seg0 + k]
        sum += kv_sum_be16(x.phv + (s.src_bit >> 3), s.width >> 3)
    return kv_csum_fold(sum)


cdef uint64_t calc_compute(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t cid) noexcept nogil:
    """Pack a calculation's inputs MSB-first (BMv2's rule) and hash them."""
    cdef calc_t *c = &pl.calcs[cid]
    cdef seg_t *s
    cdef uint32_t k, bit = 0, nbytes
    cdef uint32_t plen
    cdef u128 kv
    if c.csum_direct:
        return csum_in_place(pl, wk, x, c)
    for k in range(c.nseg):
        s = &pl.segs[c.seg0 + k]
        if (bit + s.width) // 8 + 32 > pl.scratch_size:
            break
        if s.const_idx >= 0:
            kv = <u128>pl.consts[s.const_idx]
            if s.width <= 128:
                kv_bits_write(wk.scratch, bit, s.width, kv)
        else:
            kv_bits_copy(wk.scratch, bit, x.phv, s.src_bit, s.width)
        bit += s.width
    nbytes = (bit + 7) // 8
    if bit & 7:
        # zero the unused low bits of the last byte
        wk.scratch[nbytes - 1] &= <uint8_t>(0xFF << (8 - (bit & 7)))
    if c.with_payload and x.pkt != NULL and x.cursor < x.pkt.len:
        plen = x.pkt.len - x.cursor
        if nbytes + plen > pl.scratch_size:
            plen = pl.scratch_size - nbytes
        memcpy(wk.scratch + nbytes, x.pkt.data + x.cursor, plen)
        nbytes += plen
    return hash_compute_params(&pl.calc_params[cid], wk.scratch, nbytes)

# ------------------------------------------------------------------ the interpreter


cdef void verify_checksums(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    cdef uint32_t k
    if not pl.has_verify:
        return
    cdef cksum_t *c
    cdef uint64_t v
    for k in range(pl.n_cksums):
        c = &pl.cksums[k]
        if not c.verify:
            continue
        if c.cond >= 0 and run_block(pl, wk, x, c.cond) == 0:
            continue
        v = calc_compute(pl, wk, x, c.calc)
        if <u128>kv_field_read(&pl.fields[c.target], x.phv, x.vlen) & kv_mask128(pl.fields[c.target].width) != \
                (<u128>v & kv_mask128(pl.fields[c.target].width)):
            if pl.f_checksum_error >= 0:
                kv_field_write(&pl.fields[pl.f_checksum_error], x.phv, 1)
            if pl.trace_on:
                trace_ev(pl, wk, x, EV_CHECKSUM_ERROR, k, 0, 0)


cdef void update_checksums(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    cdef uint32_t k
    cdef cksum_t *c
    cdef field_t *f
    cdef uint64_t old
    for k in range(pl.n_cksums):
        c = &pl.cksums[k]
        if not c.update:
            continue
        if c.cond >= 0 and run_block(pl, wk, x, c.cond) == 0:
            continue
        if c.span_len:
            # Sum the whole range, then take out the old target as kv_sum_be16 counted it:
            # exactly the sum with the target zeroed, without storing to the words about to
            # be loaded (a load overlapping a fresh store waits for it).
            f = &pl.fields[c.target]
            old = <uint64_t>kv_field_read(f, x.phv, x.vlen)
            kv_field_write(f, x.phv, <s128>kv_csum_fold(
                kv_sum_be16(x.phv + c.span_byte, c.span_len) - (old << c.span_target_shift)))
        elif pl.calcs[c.calc].csum_direct:
            kv_field_write(&pl.fields[c.target], x.phv, <s128>csum_in_place(pl, wk, x, &pl.calcs[c.calc]))
        else:
            kv_field_write(&pl.fields[c.target], x.phv, <s128>calc_compute(pl, wk, x, c.calc))


cdef bint deparse(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
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
    k = pl.n_deparser
    while k > 0:
        k -= 1
        h = pl.deparser[k]
        if x.valid[h]:
            hd = &pl.headers[h]
            nb = (hd.fixed_bits + x.vlen[h]) >> 3
            if start - nb < p.buf:
                return deparse_moving(pl, wk, x)
            start -= nb
            kv_copy_small(start, x.phv + hd.byteoff, nb)
    hlen = <uint32_t>(end - start)
    p.len = hlen + (p.len - x.cursor)
    p.data = start
    x.cursor = hlen
    if x.truncate_len > 0 and <uint32_t>x.truncate_len < p.len:
        p.len = x.truncate_len
    return True


cdef bint deparse_moving(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    """Deparse when the headers outgrow the headroom: the payload moves back first."""
    cdef uint32_t k, h, hlen = 0, nb, payload
    cdef uint8_t *start
    cdef pkt_t *p = x.pkt
    for k in range(pl.n_deparser):
        h = pl.deparser[k]
        if x.valid[h]:
            hlen += (pl.headers[h].fixed_bits + x.vlen[h]) // 8
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
    for k in range(pl.n_deparser):
        h = pl.deparser[k]
        if x.valid[h]:
            nb = (pl.headers[h].fixed_bits + x.vlen[h]) // 8
            kv_copy_small(start, x.phv + pl.headers[h].byteoff, nb)
            start += nb
    p.data = start - hlen
    p.len = hlen + payload
    x.cursor = hlen
    if x.truncate_len > 0 and <uint32_t>x.truncate_len < p.len:
        p.len = x.truncate_len
    return True
