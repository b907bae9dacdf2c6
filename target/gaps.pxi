# Why a worker went long between two breaths (included by loop.pyx; Breather.measure_gaps).
#
# A gap between the starts of two breaths is the breath itself plus whatever kept the thread
# from the next one. On a shared host most long gaps are the scheduler giving the CPU to
# someone else; those say nothing about the switch. So each breath also reads the thread's own
# counters (getrusage(RUSAGE_THREAD): CPU time, voluntary and involuntary context switches,
# page faults), and a gap longer than the threshold is put down to one cause:
#   blocked    the thread gave the CPU up itself (a lock, the GIL, a page fault waiting on
#              the address-space lock, a sleep): the switch's own wait;
#   preempted  the scheduler took the CPU away (another thread or process wanted it): host
#              contention, or the control plane sharing the worker's CPU;
#   on CPU     neither: the breath itself was slow (page faults, memory, a long batch).
# One syscall per breath (well under a microsecond against tens for a batch of 256): only
# while measuring.

cdef extern from *:
    """
    #include <sys/resource.h>
    enum { KV_GAP_ON_CPU = 0, KV_GAP_PREEMPTED = 1, KV_GAP_BLOCKED = 2, KV_GAP_CAUSES = 3 };
    typedef struct {
        uint64_t threshold_ns;          /* gaps longer than this are counted by cause */
        uint64_t last_ns, last_cpu_ns;  /* at the start of the previous breath (0: none) */
        long last_nvcsw, last_nivcsw, last_flt;
        uint64_t count[KV_GAP_CAUSES], max_ns[KV_GAP_CAUSES];
        uint64_t off_cpu_ns[KV_GAP_CAUSES];  /* summed time off the CPU inside long gaps */
        uint64_t faults;                /* page faults inside long gaps */
        uint64_t max_any_ns, max_any_cpu_ns; int max_any_cause;
    } kv_gaps_t;

    static inline void kv_gaps_breath(kv_gaps_t *g, uint64_t now) {
        struct rusage ru;
        uint64_t cpu, gap, cpu_gap;
        int cause;
        if (getrusage(RUSAGE_THREAD, &ru) != 0) return;
        cpu = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ULL
              + (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ULL;
        if (g->last_ns && now > g->last_ns) {
            gap = now - g->last_ns;
            if (gap > g->threshold_ns) {
                cause = ru.ru_nvcsw != g->last_nvcsw ? KV_GAP_BLOCKED
                      : ru.ru_nivcsw != g->last_nivcsw ? KV_GAP_PREEMPTED : KV_GAP_ON_CPU;
                cpu_gap = cpu > g->last_cpu_ns ? cpu - g->last_cpu_ns : 0;
                g->count[cause]++;
                if (gap > g->max_ns[cause]) g->max_ns[cause] = gap;
                g->off_cpu_ns[cause] += gap > cpu_gap ? gap - cpu_gap : 0;
                g->faults += (uint64_t)(ru.ru_minflt + ru.ru_majflt - g->last_flt);
                if (gap > g->max_any_ns) {
                    g->max_any_ns = gap;
                    g->max_any_cpu_ns = cpu_gap;
                    g->max_any_cause = cause;
                }
            }
        }
        g->last_ns = now;
        g->last_cpu_ns = cpu;
        g->last_nvcsw = ru.ru_nvcsw;
        g->last_nivcsw = ru.ru_nivcsw;
        g->last_flt = ru.ru_minflt + ru.ru_majflt;
    }
    /* Forget the gaps counted so far, not the last breath (the next gap still counts). */
    static inline void kv_gaps_reset(kv_gaps_t *g) {
        int c;
        for (c = 0; c < KV_GAP_CAUSES; c++) g->count[c] = g->max_ns[c] = g->off_cpu_ns[c] = 0;
        g->faults = g->max_any_ns = g->max_any_cpu_ns = 0;
        g->max_any_cause = 0;
    }
    """
    enum:
        KV_GAP_ON_CPU
        KV_GAP_PREEMPTED
        KV_GAP_BLOCKED
        KV_GAP_CAUSES
    ctypedef struct kv_gaps_t:
        uint64_t threshold_ns
        uint64_t last_ns
        uint64_t count[3]
        uint64_t max_ns[3]
        uint64_t off_cpu_ns[3]
        uint64_t faults
        uint64_t max_any_ns
        uint64_t max_any_cpu_ns
        int max_any_cause
    void kv_gaps_breath(kv_gaps_t *g, uint64_t now) noexcept nogil
    void kv_gaps_reset(kv_gaps_t *g) noexcept nogil


GAP_CAUSES = ("on_cpu", "preempted", "blocked")


cdef dict gaps_dict(const kv_gaps_t *g):
    """The long gaps by cause: count, longest (ns), time off the CPU (ns); and the longest gap
    of all with its CPU time and cause."""
    cdef int c
    out = {"threshold_ns": g.threshold_ns, "faults": g.faults,
           "longest_ns": g.max_any_ns, "longest_cpu_ns": g.max_any_cpu_ns,
           "longest_cause": GAP_CAUSES[g.max_any_cause] if g.max_any_ns else None}
    for c in range(KV_GAP_CAUSES):
        out[GAP_CAUSES[c]] = {"count": g.count[c], "max_ns": g.max_ns[c],
                              "off_cpu_ns": g.off_cpu_ns[c]}
    return out
