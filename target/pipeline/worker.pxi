# A worker's context (included by engine.pyx): everything one thread writes while it runs
# batches — job slots and their header vectors, hash scratch, digests and trace records, its
# sequence numbers and random state, the buffer pool it allocates replicas from, and its
# counters. The Pipeline (the program: code, parse graph, tables, externs) is shared by all
# workers; the control plane sums the workers' counters when they are read.


cdef void *worker_buffer(size_t count, size_t size) noexcept nogil:
    """count * size zeroed bytes on cache lines of their own: a buffer one worker writes per
    packet (header vectors, scratch, table statistics) must share no line with another
    worker's, which small heap blocks of two workers can otherwise do, depending on the heap's
    history (the interpreter lost ~30 % per CPU-second on two workers when they did)."""
    cdef void *p = NULL
    cdef size_t n = max(64, (count * size + 63) & ~(<size_t>63))
    if posix_memalign(&p, 64, n) != 0:
        return NULL
    memset(p, 0, n)
    return p


cdef int worker_init(Pipeline pl, worker_t *w, uint32_t index, pkt_pool_t *pool) noexcept nogil:
    """Allocate w's buffers for pl's layout; -1 when out of memory (worker_free cleans up)."""
    memset(w, 0, sizeof(worker_t))
    w.index = index
    w.owner = <void *>pl
    w.pool = pool
    w.rng_state = 0x9E3779B97F4A7C15ULL ^ monotonic_ns() ^ (<uint64_t>index << 32)
    w.jobs = <job_t *>worker_buffer(MAX_JOBS + GROUP, sizeof(job_t))
    w.job_phv = <uint8_t *>worker_buffer(MAX_JOBS + GROUP, pl.slot_bytes)
    w.phv = <uint8_t *>worker_buffer(pl.phv_total + 64, 1)
    w.scratch = <uint8_t *>worker_buffer(pl.scratch_size + 64, 1)
    w.digests = <digest_rec_t *>worker_buffer(MAX_DIGESTS, sizeof(digest_rec_t))
    w.trace = <trace_rec_t *>worker_buffer(MAX_TRACE, sizeof(trace_rec_t))
    w.table_stats = <uint64_t *>worker_buffer(2 * max(1, pl.n_tables), sizeof(uint64_t))
    if (w.jobs == NULL or w.job_phv == NULL or w.phv == NULL or w.scratch == NULL
            or w.digests == NULL or w.trace == NULL or w.table_stats == NULL):
        return -1
    return 0


cdef void worker_free(worker_t *w) noexcept nogil:
    free(w.jobs)
    free(w.job_phv)
    free(w.phv)
    free(w.scratch)
    free(w.digests)
    free(w.trace)
    free(w.table_stats)
    free(w.btimes)
    memset(w, 0, sizeof(worker_t))


cdef int worker_run_batch(void *worker, pkt_t **pkts, int n, out_t *outs,
                          int max_out) noexcept nogil:
    """run_batch for one worker, called by that worker's engine loop (target/loop.pyx)."""
    cdef worker_t *w = <worker_t *>worker
    cdef uint64_t t0
    cdef int nout
    cdef batch_time_t *b
    if w.btimes == NULL:
        return run_batch(<Pipeline>w.owner, w, pkts, n, outs, max_out)
    t0 = monotonic_ns()
    nout = run_batch(<Pipeline>w.owner, w, pkts, n, outs, max_out)
    if w.n_btimes < w.btimes_cap:
        b = &w.btimes[w.n_btimes]
        b.start_ns = t0
        b.ns = <uint32_t>min(monotonic_ns() - t0, <uint64_t>0xFFFFFFFF)
        b.packets = <uint16_t>min(n, 0xFFFF)
        b.side = 1 if w.last_st == &(<Pipeline>w.owner).sides[1] else 0
        w.n_btimes += 1
    return nout
