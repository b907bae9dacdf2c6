# The batch loop of a program with native code (included by engine.pyx): run_batch's grouped
# ingress with the program's generated entry points called directly, and the traffic manager,
# egress pass, checksums and deparser of each received packet in one generated function
# (kvn_finish, native_gen.py) specialised for what the program uses. The engine's general
# traffic manager (ingress_end, do_egress and the job queue) runs only for what kvn_finish
# hands back: a packet sent to a multicast group. Programs that clone, resubmit, recirculate
# or send digests have no kvn_finish and run through run_groups.


cdef int native_groups(Pipeline pl, worker_t *wk, pkt_t **pkts, int n, out_t *outs,
                       int max_out) noexcept nogil:
    """run_batch's packets with native code (pl.nat_prog.finish set); returns outs' count."""
    cdef const kvn_env_t *env = &pl.nat_env
    cdef kvn_program_t *prog = &pl.nat_prog
    cdef uint32_t t, prio = 0
    cdef int i = 0, nout = 0, g, k, ahead
    cdef pkt_t *p
    cdef ctx_t *x
    cdef ctx_t gx[GROUP]
    cdef int32_t gnode[GROUP]
    cdef int64_t gent[GROUP]
    cdef int32_t first, port, node
    # What ctx_init sets that stays the same for every packet of a group slot: the slot's
    # header vector, the batch's clock, and the clone, resubmit, recirculate and digest
    # requests that a program with kvn_finish never makes.
    for k in range(min(GROUP, n)):
        ctx_init(pl, wk, &gx[k], MAX_JOBS + k, NULL, 0)
    while i < n:
        g = min(GROUP, n - i)
        # 1. standard metadata and parser, conditions up to the first table, its prefetch
        for k in range(g):
            if i + k + 2 < n:
                kv_prefetch(pkts[i + k + 2].data)       # the parser's first load
            p = pkts[i + k]
            x = &gx[k]
            wk.seq += 1
            # the rest of ctx_init (the slot is zeroed: below)
            x.pkt = p
            x.seq = wk.seq
            x.cursor = 0
            x.cursor_bits = 0
            x.error = ERR_NONE
            x.exit_flag = 0
            x.failed = 0
            x.params = NULL
            x.truncate_len = 0
            gnode[k] = prog.start(env, <void *>wk, <void *>x, <uint16_t>p.port, p.len)
            first = -1
            if gnode[k] >= 0 and pl.nodes[gnode[k]].kind == NODE_TABLE:
                first = pl.nodes[gnode[k]].a
                table_prefetch(pl, wk, x, first)
            for t in range(pl.n_lpm24):
                if <int32_t>pl.lpm24_tables[t] != first:
                    table_prefetch(pl, wk, x, pl.lpm24_tables[t])
        wk.rx_packets += g
        # 2. first-table lookups `lookup_ahead` packets ahead of 3. (as run_groups)
        ahead = pl.lookup_ahead
        for k in range(min(ahead, g)):
            gent[k] = group_lookup(pl, wk, &gx[k], gnode[k])
        for k in range(g):
            if k + ahead < g:
                gent[k + ahead] = group_lookup(pl, wk, &gx[k + ahead], gnode[k + ahead])
            x = &gx[k]
            p = pkts[i + k]
            # 3. the first table, then the rest of ingress, traffic manager and egress in
            # kvn_finish
            node = gnode[k]
            if node >= 0 and pl.nodes[node].kind == NODE_TABLE:
                node = table_finish(pl, wk, x, pl.nodes[node].a, gent[k])
            port = prog.finish(env, <void *>wk, <void *>x, node, p.len, pl.priority_queues, &prio)
            if port >= 0:
                if nout < max_out:
                    p.port = <uint32_t>port
                    outs[nout].pkt = p
                    outs[nout].port = <uint32_t>port
                    outs[nout].priority = prio
                    nout += 1
                else:
                    free_pkt(pl, wk, p)
            elif port == KVN_GENERAL:
                nout = native_general(pl, wk, x, p, MAX_JOBS + k, outs, nout, max_out)
            else:
                if port == KVN_PRIORITY_DROP:
                    wk.priority_drops += 1
                free_pkt(pl, wk, p)
            kv_zero_words(x.phv, pl.state_bytes)     # ready for the next group
        i += g
    return nout


cdef int native_general(Pipeline pl, worker_t *wk, ctx_t *x, pkt_t *p, uint32_t gslot,
                        out_t *outs, int nout, int max_out) noexcept nogil:
    """A received packet that kvn_finish handed back after its ingress control: the engine's
    traffic manager and job queue from there, as run_groups runs them."""
    cdef uint32_t head = 0, tail = 0, slot
    cdef job_t *j = &wk.jobs[gslot]
    j.kind = JOB_INGRESS
    j.pkt = p
    j.port = p.port
    j.instance_type = PKT_INSTANCE_NORMAL
    j.packet_length = p.len
    j.field_list = -1
    j.recirc_depth = 0
    j.seq = x.seq
    if ingress_end(pl, wk, x, j, &tail, head, True):
        nout = do_egress(pl, wk, j, gslot, &tail, head, outs, nout, max_out)
    while head != tail:
        slot = head % MAX_JOBS
        j = &wk.jobs[slot]
        if j.kind == JOB_INGRESS:
            if do_ingress(pl, wk, j, slot, &tail, head):
                continue
        else:
            nout = do_egress(pl, wk, j, slot, &tail, head, outs, nout, max_out)
        head += 1
    return nout
