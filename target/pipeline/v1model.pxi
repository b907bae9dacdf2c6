# v1model's packet flow: the batch loop, the job queue, ingress and egress passes,
# simple_switch's traffic manager (clone, resubmit, recirculate, multicast, drop, unicast),
# hash and checksum calculations (verify and update checksum) and the deparser (included by
# engine.pyx).


# ------------------------------------------------------------------ traffic manager
cdef inline uint8_t *slot_phv(Pipeline pl, worker_t *wk, uint32_t slot) noexcept nogil:
    return wk.job_phv + <size_t>slot * pl.slot_bytes


cdef void ctx_init(Pipeline pl, worker_t *wk, ctx_t *x, uint32_t slot, pkt_t *pkt, uint64_t seq) noexcept nogil:
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
    x.phv = slot_phv(pl, wk, slot)
    x.valid = x.phv + pl.valid_off
    x.vlen = <uint32_t *>(x.phv + pl.vlen_off)
    x.stack_next = <uint32_t *>(x.phv + pl.stack_off)
    x.pkt = pkt
    x.clone_session = -1
    x.resubmit_fl = -1
    x.recirc_fl = -1
    x.digest_id = -1
    x.seq = seq
    x.now_ns = wk.batch_now


cdef void reset_metadata(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    cdef uint32_t h
    for h in range(pl.n_headers):
        if pl.headers[h].metadata:
            memset(x.phv + pl.headers[h].byteoff, 0, pl.headers[h].nbytes)


cdef void copy_field_list(Pipeline pl, worker_t *wk, ctx_t *dst, ctx_t *src, int32_t fl) noexcept nogil:
    cdef uint32_t *lst
    cdef uint32_t k, f
    if fl < 0 or <uint32_t>fl >= pl.n_field_lists or pl.field_lists[fl] == NULL:
        return
    lst = pl.field_lists[fl]
    for k in range(lst[0]):
        f = lst[k + 1]
        kv_bits_copy(dst.phv, pl.fields[f].bitoff, src.phv, pl.fields[f].bitoff,
                     pl.fields[f].width)


cdef int32_t new_job(Pipeline pl, worker_t *wk, uint32_t *tail, uint32_t head) noexcept nogil:
    """Reserve the next job slot, or -1 when the queue is full."""
    if tail[0] - head >= MAX_JOBS:
        return -1
    tail[0] += 1
    return <int32_t>((tail[0] - 1) % MAX_JOBS)


cdef void clone_ctx(Pipeline pl, worker_t *wk, ctx_t *dst, ctx_t *src) noexcept nogil:
    memcpy(dst.phv, src.phv, pl.state_bytes)



cdef void free_pkt(Pipeline pl, worker_t *wk, pkt_t *p) noexcept nogil:
    pool_free(wk.pool, p)
    wk.dropped += 1


cdef void learn(Pipeline pl, worker_t *wk, ctx_t *x) noexcept nogil:
    cdef uint32_t *lst
    cdef digest_rec_t *dg
    cdef uint32_t k, w
    if x.digest_id < 0 or <uint32_t>x.digest_id >= pl.n_learn_lists:
        return
    lst = pl.learn_lists[x.digest_id]
    if lst == NULL:
        return
    if wk.n_digests >= MAX_DIGESTS:
        wk.digests_dropped += 1
        return
    dg = &wk.digests[wk.n_digests]
    wk.n_digests += 1
    dg.list_id = x.digest_id
    dg.nvals = min(lst[0], 16)
    for k in range(dg.nvals):
        w = pl.fields[lst[k + 1]].width
        dg.vals[k] = kv_bits_read(x.phv, pl.fields[lst[k + 1]].bitoff, w if w <= 128 else 128)


cdef void enqueue_egress(Pipeline pl, worker_t *wk, ctx_t *src, pkt_t *pkt, uint32_t port, uint32_t instance,
                         uint32_t *tail, uint32_t head, job_t *origin) noexcept nogil:
    """Queue an egress pass of `pkt` with a copy of src's PHV, for origin's packet."""
    cdef int32_t slot = new_job(pl, wk, tail, head)
    cdef job_t *j
    if slot < 0:
        free_pkt(pl, wk, pkt)
        return
    j = &wk.jobs[slot]
    j.kind = JOB_EGRESS
    j.pkt = pkt
    j.port = port
    j.instance_type = instance
    j.cursor = src.cursor
    j.packet_length = origin.packet_length
    j.seq = origin.seq
    j.recirc_depth = origin.recirc_depth
    j.field_list = -1
    memcpy(slot_phv(pl, wk, slot), src.phv, pl.state_bytes)


cdef int do_ingress(Pipeline pl, worker_t *wk, job_t *job, uint32_t slot, uint32_t *tail, uint32_t head) noexcept nogil:
    """Ingress pass of a queued job; returns 1 when its slot now holds its egress pass."""
    cdef ctx_t x
    ingress_begin(pl, wk, &x, job, slot, False)
    run_control(pl, wk, &x, pl.ingress_init)
    return ingress_end(pl, wk, &x, job, tail, head, tail[0] == head + 1)


cdef void ingress_begin(Pipeline pl, worker_t *wk, ctx_t *xp, job_t *job, uint32_t slot, bint zeroed) noexcept nogil:
    """Everything before the ingress control: reset, standard metadata, parser, verify.

    `zeroed`: the slot's state is already all zeros (the received-packet slots are cleared
    as soon as their packet is done, so that these stores have long left the store buffer
    when the next packet's metadata writes load the same words)."""
    cdef ctx_t y
    cdef bint preserved = job.field_list >= 0
    cdef ctx_t *x = xp
    # A job slot's PHV holds the preserved source values on entry (resubmit/recirculate);
    # parse into a fresh copy so that the field list can be applied after the reset.
    ctx_init(pl, wk, x, slot, job.pkt, job.seq)
    if preserved:
        memcpy(wk.phv, x.phv, pl.phv_total)       # keep the source values aside
    if not zeroed:
        kv_zero_words(x.phv, pl.state_bytes)
    if preserved:
        y.phv = wk.phv
        copy_field_list(pl, wk, x, &y, job.field_list)
    if pl.nat_on:
        # native code: the metadata below with its fields' offsets written in, then parsing
        pl.nat_prog.ingress(&pl.nat_env, <void *>wk, <void *>x, job.port, job.instance_type,
                            job.packet_length, preserved)
        if x.error != ERR_NONE:
            wk.parser_errors += 1
            if pl.f_parser_error >= 0:
                kv_field_write(&pl.fields[pl.f_parser_error], x.phv, x.error)
            x.error = ERR_NONE
        verify_checksums(pl, wk, x)
        return
    if not preserved:
        kv_field_write(&pl.fields[pl.f_ingress_port], x.phv, job.port)
    if job.instance_type:
        if pl.f_instance_type >= 0:
            kv_field_write(&pl.fields[pl.f_instance_type], x.phv, job.instance_type)
    if pl.f_packet_length >= 0:
        kv_field_write(&pl.fields[pl.f_packet_length], x.phv, job.packet_length)
    if pl.f_ingress_ts >= 0:
        kv_field_write(&pl.fields[pl.f_ingress_ts], x.phv, <s128>(x.now_ns // 1000))
    if pl.trace_on:
        trace_ev(pl, wk, x, EV_PACKET_IN, job.port, job.pkt.len, job.instance_type)
    run_parser(pl, wk, x)
    if x.error != ERR_NONE:
        if pl.f_parser_error >= 0:
            kv_field_write(&pl.fields[pl.f_parser_error], x.phv, x.error)
        x.error = ERR_NONE
    verify_checksums(pl, wk, x)


cdef void clone_to_session(Pipeline pl, worker_t *wk, ctx_t *x, job_t *job, uint32_t *tail, uint32_t head,
                           uint32_t instance) noexcept nogil:
    """Queue the egress passes of a clone, one per replica of x's clone session.

    PKT_INSTANCE_CLONE_I2E: the original packet parsed again with its ingress port,
    then only the field list survives. PKT_INSTANCE_CLONE_E2E: the current headers,
    metadata reset, then the field list.
    """
    cdef uint32_t *sess
    cdef uint32_t k
    cdef pkt_t *cp
    cdef int32_t s2
    cdef job_t *j2
    cdef ctx_t y
    sess = wk.st.clone_sessions[x.clone_session & 0x7FFF] if x.clone_session >= 0 else NULL
    if sess == NULL:
        return
    for k in range(sess[0]):
        cp = pkt_clone(wk.pool, job.pkt)
        if cp == NULL:
            wk.pool_exhausted += 1
            continue
        s2 = new_job(pl, wk, tail, head)
        if s2 < 0:
            free_pkt(pl, wk, cp)
            continue
        ctx_init(pl, wk, &y, s2, cp, job.seq)
        if instance == PKT_INSTANCE_CLONE_I2E:
            kv_zero_words(y.phv, pl.state_bytes)
            kv_field_write(&pl.fields[pl.f_ingress_port], y.phv, job.port)
            run_parser(pl, wk, &y)
            y.error = ERR_NONE
        else:
            clone_ctx(pl, wk, &y, x)
            y.cursor = x.cursor
        reset_metadata(pl, wk, &y)
        copy_field_list(pl, wk, &y, x, x.clone_fl)
        if pl.f_instance_type >= 0:
            kv_field_write(&pl.fields[pl.f_instance_type], y.phv, instance)
        kv_field_write(&pl.fields[pl.f_egress_rid], y.phv, sess[4 + 2 * k])
        j2 = &wk.jobs[s2]
        j2.kind = JOB_EGRESS
        j2.pkt = cp
        j2.port = sess[3 + 2 * k]
        j2.instance_type = instance
        j2.cursor = y.cursor
        j2.packet_length = job.packet_length
        j2.seq = job.seq
        j2.recirc_depth = job.recirc_depth
        j2.field_list = -1
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_CLONE, x.clone_session, j2.port, instance)


cdef int ingress_end(Pipeline pl, worker_t *wk, ctx_t *xp, job_t *job, uint32_t *tail, uint32_t head,
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
        free_pkt(pl, wk, job.pkt)
        return 0
    egress_spec = <uint32_t>kv_field_read(&pl.fields[pl.f_egress_spec], x.phv, x.vlen)
    mgid = <uint32_t>kv_field_read(&pl.fields[pl.f_mcast_grp], x.phv, x.vlen)
    if pl.trace_on:
        trace_ev(pl, wk, x, EV_INGRESS_DONE, egress_spec, mgid, 0)
    # ingress clone: the original packet, parsed again, with the field list preserved
    if x.clone_set:
        clone_to_session(pl, wk, x, job, tail, head, PKT_INSTANCE_CLONE_I2E)
    if x.digest_id >= 0:
        learn(pl, wk, x)
    if x.resubmit_fl >= 0:
        if job.recirc_depth >= MAX_RECIRC:
            wk.recirc_limit_drops += 1
            free_pkt(pl, wk, job.pkt)
            return 0
        s2 = new_job(pl, wk, tail, head)
        if s2 < 0:
            free_pkt(pl, wk, job.pkt)
            return 0
        j2 = &wk.jobs[s2]
        j2.kind = JOB_INGRESS
        j2.pkt = job.pkt
        j2.port = job.port
        j2.instance_type = PKT_INSTANCE_RESUBMIT
        j2.packet_length = job.packet_length
        j2.field_list = x.resubmit_fl
        j2.recirc_depth = job.recirc_depth + 1
        j2.seq = job.seq
        memcpy(slot_phv(pl, wk, s2), x.phv, pl.phv_total)
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_RESUBMIT, 0, 0, 0)
        return 0
    if mgid != 0:
        if pl.f_instance_type >= 0:
            kv_field_write(&pl.fields[pl.f_instance_type], x.phv, PKT_INSTANCE_REPLICATION)
        nodes = wk.st.mc_nodes[mgid & 0xFFFF]
        n = nodes[0] if nodes != NULL else 0
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_MULTICAST, mgid, n, 0)
        for k in range(n):
            cp = job.pkt if k == n - 1 else pkt_clone(wk.pool, job.pkt)
            if cp == NULL:
                wk.pool_exhausted += 1
                continue
            kv_field_write(&pl.fields[pl.f_egress_rid], x.phv, nodes[2 + 2 * k])
            enqueue_egress(pl, wk, x, cp, nodes[1 + 2 * k], PKT_INSTANCE_REPLICATION, tail, head, job)
        if n == 0:
            free_pkt(pl, wk, job.pkt)
        return 0
    if egress_spec == pl.drop_port:
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_DROP, 0, 0, 0)
        free_pkt(pl, wk, job.pkt)
        return 0
    if pl.f_instance_type >= 0:
        kv_field_write(&pl.fields[pl.f_instance_type], x.phv, PKT_INSTANCE_NORMAL)
    if may_run_in_place:
        # Nothing else queued: the egress pass runs in this slot, on this header vector.
        job.kind = JOB_EGRESS
        job.port = egress_spec
        job.instance_type = PKT_INSTANCE_NORMAL
        job.cursor = x.cursor
        job.field_list = -1
        return 1
    enqueue_egress(pl, wk, x, job.pkt, egress_spec, PKT_INSTANCE_NORMAL, tail, head, job)
    return 0


cdef int do_egress(Pipeline pl, worker_t *wk, job_t *job, uint32_t slot, uint32_t *tail, uint32_t head,
                   out_t *outs, int nout, int max_out) noexcept nogil:
    cdef ctx_t xs
    cdef ctx_t *x = &xs
    cdef uint32_t priority
    ctx_init(pl, wk, x, slot, job.pkt, job.seq)
    x.cursor = job.cursor
    # The egress queue, as simple_switch's enqueue picks it: standard_metadata.priority, one
    # of --priority-queues queues (a priority with no queue drops the packet); qid tells it.
    priority = <uint32_t>kv_field_read(&pl.fields[pl.f_priority], x.phv, x.vlen) if pl.f_priority >= 0 else 0
    if priority >= pl.priority_queues:
        wk.priority_drops += 1
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_DROP, 2, priority, 0)
        free_pkt(pl, wk, job.pkt)
        return nout
    if pl.f_qid >= 0:
        kv_field_write(&pl.fields[pl.f_qid], x.phv, priority)
    if pl.nat_on:
        pl.nat_prog.egress(&pl.nat_env, <void *>wk, <void *>x, job.port, job.packet_length)
    else:
        egress_begin(pl, wk, x, job)
    x.exit_flag = 0
    if x.failed:
        free_pkt(pl, wk, job.pkt)
        return nout
    if x.clone_set:
        clone_to_session(pl, wk, x, job, tail, head, PKT_INSTANCE_CLONE_E2E)
    if <uint32_t>kv_field_read(&pl.fields[pl.f_egress_spec], x.phv, x.vlen) == pl.drop_port:
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_DROP, 1, 0, 0)
        free_pkt(pl, wk, job.pkt)
        return nout
    if pl.nat_on:
        if not pl.nat_prog.emit(&pl.nat_env, <void *>wk, <void *>x):
            free_pkt(pl, wk, job.pkt)
            return nout
    else:
        update_checksums(pl, wk, x)
        if not deparse(pl, wk, x):
            free_pkt(pl, wk, job.pkt)
            return nout
    return egress_end(pl, wk, x, job, tail, head, outs, nout, max_out, priority)


cdef inline void egress_begin(Pipeline pl, worker_t *wk, ctx_t *x, job_t *job) noexcept nogil:
    """Standard metadata of an egress pass, then the egress control."""
    if pl.f_egress_port >= 0:
        kv_field_write(&pl.fields[pl.f_egress_port], x.phv, job.port)
    # As simple_switch: anything but the drop port (cut to the field's width: 0 for 511).
    kv_field_write(&pl.fields[pl.f_egress_spec], x.phv, pl.drop_port + 1)
    if pl.f_packet_length >= 0:
        kv_field_write(&pl.fields[pl.f_packet_length], x.phv, job.packet_length)
    if pl.f_egress_ts >= 0:
        kv_field_write(&pl.fields[pl.f_egress_ts], x.phv, <s128>(x.now_ns // 1000))
    if pl.trace_on:
        trace_ev(pl, wk, x, EV_EGRESS, job.port, job.instance_type, 0)
    run_control(pl, wk, x, pl.egress_init)


cdef inline int egress_end(Pipeline pl, worker_t *wk, ctx_t *x, job_t *job, uint32_t *tail,
                           uint32_t head, out_t *outs, int nout, int max_out,
                           uint32_t priority) noexcept nogil:
    """After the deparser: recirculate or transmit."""
    cdef int32_t s2
    cdef job_t *j2
    if x.recirc_fl >= 0:
        if job.recirc_depth >= MAX_RECIRC:
            wk.recirc_limit_drops += 1
            free_pkt(pl, wk, job.pkt)
            return nout
        s2 = new_job(pl, wk, tail, head)
        if s2 < 0:
            free_pkt(pl, wk, job.pkt)
            return nout
        j2 = &wk.jobs[s2]
        j2.kind = JOB_INGRESS
        j2.pkt = job.pkt
        j2.port = 0
        j2.instance_type = PKT_INSTANCE_RECIRC
        j2.packet_length = job.pkt.len
        j2.field_list = x.recirc_fl
        j2.recirc_depth = job.recirc_depth + 1
        j2.seq = job.seq
        memcpy(slot_phv(pl, wk, s2), x.phv, pl.phv_total)
        if pl.trace_on:
            trace_ev(pl, wk, x, EV_RECIRC, 0, 0, 0)
        return nout
    if nout >= max_out:
        free_pkt(pl, wk, job.pkt)
        return nout
    job.pkt.port = job.port
    outs[nout].pkt = job.pkt
    outs[nout].port = job.port
    outs[nout].priority = priority
    if pl.trace_on:
        trace_ev(pl, wk, x, EV_OUT, job.port, job.pkt.len, 0)
    return nout + 1



cdef int run_batch(Pipeline pl, worker_t *wk, pkt_t **pkts, int n, out_t *outs, int max_out) noexcept nogil:
    """Run n received packets (pkt.port = ingress port) to completion; fill outs."""
    cdef int nout
    worker_enter(pl, wk)            # no lock: the live copy is this batch's (commit.pxi)
    wk.batch_now = monotonic_ns()
    # The engine changes only between batches (Pipeline.lock), so one test picks this batch's.
    if pl.nat_on and pl.nat_prog.batch != NULL:
        nout = native_groups(pl, wk, pkts, n, outs, max_out)
    else:
        nout = run_groups(pl, wk, pkts, n, outs, max_out)
    if pl.priority_queues > 1 and nout > 1:
        order_by_priority(outs, nout)
    worker_leave(wk)
    wk.tx_packets += nout
    return nout


cdef int run_groups(Pipeline pl, worker_t *wk, pkt_t **pkts, int n, out_t *outs, int max_out) noexcept nogil:
    """run_batch's packets through the general path (the interpreter, or native code for
    a program that kvn_finish does not cover)."""
    cdef uint32_t head = 0, tail = 0, slot
    cdef int i, nout = 0
    cdef job_t *j
    cdef ctx_t gx[GROUP]
    cdef int32_t gnode[GROUP]
    cdef int64_t gent[GROUP]
    cdef int g, k, ahead
    cdef uint32_t t
    cdef int32_t first
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
            wk.rx_packets += 1
            wk.seq += 1
            j = &wk.jobs[MAX_JOBS + k]
            j.kind = JOB_INGRESS
            j.pkt = pkts[i + k]
            j.port = pkts[i + k].port
            j.instance_type = PKT_INSTANCE_NORMAL
            j.packet_length = pkts[i + k].len
            j.field_list = -1
            j.recirc_depth = 0
            j.seq = wk.seq
            ingress_begin(pl, wk, &gx[k], j, MAX_JOBS + k, True)
            gnode[k] = run_until_table(pl, wk, &gx[k], pl.ingress_init)
            first = -1
            if gnode[k] >= 0 and pl.nodes[gnode[k]].kind == NODE_TABLE:
                first = pl.nodes[gnode[k]].a
                table_prefetch(pl, wk, &gx[k], first)
            # IPv4 route tables applied later in the control start loading now too: their
            # key is normally a parsed header field that nothing changes before the lookup
            # (and if something does, the prefetch is merely wasted).
            for t in range(pl.n_lpm24):
                if <int32_t>pl.lpm24_tables[t] != first:
                    table_prefetch(pl, wk, &gx[k], pl.lpm24_tables[t])
        # The lookups run `lookup_ahead` packets ahead of the packets being finished, so the
        # record prefetches spread over the finishing work instead of coming in a burst.
        ahead = pl.lookup_ahead
        for k in range(min(ahead, g)):
            gent[k] = group_lookup(pl, wk, &gx[k], gnode[k])
        for k in range(g):
            if k + ahead < g:
                gent[k + ahead] = group_lookup(pl, wk, &gx[k + ahead], gnode[k + ahead])
            j = &wk.jobs[MAX_JOBS + k]
            if gnode[k] >= 0 and pl.nodes[gnode[k]].kind == NODE_TABLE:
                run_control(pl, wk, &gx[k], table_finish(pl, wk, &gx[k], pl.nodes[gnode[k]].a,
                                                           gent[k]))
            elif gnode[k] >= 0:
                run_control(pl, wk, &gx[k], gnode[k])
            if ingress_end(pl, wk, &gx[k], j, &tail, head, head == tail):
                nout = do_egress(pl, wk, j, MAX_JOBS + k, &tail, head, outs, nout, max_out)
            kv_zero_words(gx[k].phv, pl.state_bytes)     # ready for the next group
            while head != tail:
                slot = head % MAX_JOBS
                j = &wk.jobs[slot]
                if j.kind == JOB_INGRESS:
                    if do_ingress(pl, wk, j, slot, &tail, head):
                        continue
                else:
                    nout = do_egress(pl, wk, j, slot, &tail, head, outs, nout, max_out)
                head += 1
        i += g
    return nout


cdef void order_by_priority(out_t *outs, int n) noexcept nogil:
    """Strict priority among the packets of one batch: the highest priority leaves first,
    packets of one priority in arrival order. This is what simple_switch's per-port priority
    queues do with packets that wait together; the order between ports does not matter (each
    port transmits its own), so one stable sort of the whole batch serves every port."""
    cdef uint32_t count[V1_MAX_PRIORITY_QUEUES + 1]
    cdef uint32_t p, at = 0, c
    cdef int k
    cdef out_t *tmp
    memset(count, 0, sizeof(count))
    for k in range(n):
        count[min(outs[k].priority, <uint32_t>V1_MAX_PRIORITY_QUEUES)] += 1
    # start of each priority's run, highest first
    for p in range(V1_MAX_PRIORITY_QUEUES, -1, -1):
        c = count[p]
        count[p] = at
        at += c
    tmp = <out_t *>malloc(n * sizeof(out_t))
    if tmp == NULL:
        return                  # no memory: the batch leaves in arrival order
    for k in range(n):
        p = min(outs[k].priority, <uint32_t>V1_MAX_PRIORITY_QUEUES)
        tmp[count[p]] = outs[k]
        count[p] += 1
    memcpy(outs, tmp, n * sizeof(out_t))
    free(tmp)


# ------------------------------------------------------------------ hash and checksum calculations
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

# ------------------------------------------------------------------ checksum controls and deparser


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
