# The batch loop of a program with native code (included by engine.pyx): the program's own
# generated loop (kvn_batch, native_gen.py) runs run_batch's grouped ingress, first-table
# lookups and prefetches, the traffic manager, egress pass, checksums and deparser of every
# received packet, with its table functions called directly. The engine's general traffic
# manager (ingress_end, do_egress and the job queue) runs only for what the loop hands back:
# a packet sent to a multicast group (native_general). Programs that clone, resubmit,
# recirculate or send digests have no batch loop and run through run_groups.


cdef int native_groups(Pipeline pl, worker_t *wk, pkt_t **pkts, int n, out_t *outs,
                       int max_out) noexcept nogil:
    """run_batch's packets with native code (pl.nat_prog.batch set); returns outs' count."""
    cdef ctx_t gx[GROUP]
    cdef int k, nout
    # What ctx_init sets that stays the same for every packet of a group slot: the slot's
    # header vector, the batch's clock, and the clone, resubmit, recirculate and digest
    # requests that a program with a batch loop never makes. The loop sets the rest.
    for k in range(min(GROUP, n)):
        ctx_init(pl, wk, &gx[k], MAX_JOBS + k, NULL, 0)
    nout = pl.nat_prog.batch(&pl.nat_env, <void *>wk, <void *>gx, <kvn_pkt_t **>pkts, n,
                             <kvn_out_t *>outs, max_out, pl.priority_queues, wk.seq,
                             pl.lookup_ahead)
    wk.seq += <uint64_t>n
    wk.rx_packets += <uint64_t>n
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
