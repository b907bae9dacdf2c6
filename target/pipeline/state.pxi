# Per-packet working state of the executor: limits, job and context records, trace and
# digest records, parser error and trace event numbers (included by engine.pyx).

DEF MAX_JOBS = 1024          # work items alive within one batch
DEF GROUP = 32               # received packets taken through ingress side by side
DEF MAX_KEY = 512            # bytes of a table key
DEF MAX_DIGESTS = 4096
DEF MAX_TRACE = 65536
DEF MAX_PROFILE_ID = 1 << 24  # member, group and entry ids index dense arrays
DEF MAX_LPM24_PREFETCH = 4     # DIR-24-8 tables whose first level is prefetched after parsing
DEF MAX_WORKERS = 64           # worker contexts a Pipeline can have
DEF MAX_RECIRC = 16          # resubmit + recirculate passes allowed per received packet

cdef enum:
    JOB_INGRESS = 0
    JOB_EGRESS = 1

    ERR_NONE = 0
    ERR_PACKET_TOO_SHORT = 1
    ERR_NO_MATCH = 2
    ERR_STACK_OOB = 3
    ERR_HEADER_TOO_SHORT = 4
    ERR_PARSER_TIMEOUT = 5
    ERR_PARSER_INVALID_ARG = 6

    # trace events (formatted by Python after the batch)
    EV_PACKET_IN = 1, EV_PARSE_STATE, EV_EXTRACT, EV_PARSER_ERROR, EV_TABLE_HIT, EV_TABLE_MISS,
    EV_ACTION, EV_COND, EV_INGRESS_DONE, EV_DROP, EV_EGRESS, EV_OUT, EV_CLONE, EV_RESUBMIT,
    EV_RECIRC, EV_MULTICAST, EV_ASSERT, EV_LOG, EV_EGRESS_DONE, EV_CHECKSUM_ERROR,
    # values for the per-packet log: a field of a header just extracted, a table's key field,
    # an action parameter, a field a primitive wrote (a: which one, v: the value)
    EV_FIELD, EV_KEY, EV_PARAM, EV_WRITE


cdef struct job_t:
    pkt_t *pkt
    uint8_t kind
    uint16_t port               # ingress port (ingress) / egress port (egress)
    uint32_t instance_type
    uint32_t cursor             # egress: bytes of the packet the parser consumed
    uint32_t packet_length
    int32_t field_list          # ingress: preserved field list (-1: none)
    uint32_t recirc_depth
    uint64_t seq                # for traces: the received packet this belongs to


cdef struct ctx_t:
    uint8_t *phv                # header bytes, then one validity byte per header
    uint8_t *valid
    uint32_t *vlen              # current varbit length (bits) per header
    uint32_t *stack_next        # next index per header stack
    pkt_t *pkt
    uint32_t cursor             # parser position in bytes
    uint32_t cursor_bits        # sub-byte advance (advance by non-multiples of 8)
    int32_t error
    uint8_t exit_flag
    uint8_t failed              # an assertion failed: drop
    s128 *params
    int32_t clone_session
    int32_t clone_fl
    uint8_t clone_set
    int32_t resubmit_fl
    int32_t recirc_fl
    int32_t truncate_len
    int32_t digest_id
    uint64_t seq
    uint64_t now_ns


cdef struct digest_rec_t:
    uint32_t list_id
    uint32_t nvals
    u128 vals[16]


cdef struct trace_rec_t:
    uint64_t seq
    uint32_t ev
    int32_t a
    int32_t b
    u128 v


cdef struct out_t:
    # One packet to transmit; the same layout as target/loop.pyx's out_t.
    pkt_t *pkt
    uint32_t port
    uint32_t priority           # its egress queue (standard_metadata.priority)


cdef struct batch_time_t:
    uint64_t start_ns
    uint32_t ns                 # how long the batch ran
    uint16_t packets
    uint16_t side               # the copy it read (0 or 1)


cdef struct worker_t:
    # One worker thread's state (worker.pxi); nothing here is shared with another worker.
    uint32_t index
    void *owner                 # the Pipeline (borrowed: the Pipeline owns its workers)
    uint64_t epoch              # odd while a batch runs (commit.pxi); only this worker writes
    side_t *st                  # the copy of the control-plane state this batch reads
    job_t *jobs                 # MAX_JOBS queued work items, then GROUP received packets
    uint8_t *job_phv            # one header vector (slot) per job
    uint8_t *phv                # spare header vector (resubmit and recirculate)
    uint8_t *scratch            # hash input buffer
    digest_rec_t *digests
    uint32_t n_digests
    trace_rec_t *trace
    uint32_t n_trace
    uint64_t seq                # received packets, numbering trace records
    uint64_t batch_now          # one clock reading per batch
    uint64_t rng_state
    pkt_pool_t *pool            # buffers of this worker's ports and replicas
    uint64_t *table_stats       # hits, misses per table
    # This worker's own counter cells, added to with plain adds (no other thread writes them):
    # per indexed counter, packets and bytes per index; per table, packets and bytes per
    # entry id (NULL: the table has no direct counter). A read sums every worker's cells and
    # the control plane's base (counter_t.cells, table_t.entry_counters): counters.pxi.
    uint64_t **counter_cells
    uint64_t **entry_cells
    # counters of the engine itself, summed over the workers when read
    uint64_t rx_packets
    uint64_t tx_packets
    uint64_t dropped
    uint64_t parser_errors
    uint64_t assert_failures
    uint64_t pool_exhausted
    uint64_t recirc_limit_drops
    uint64_t priority_drops     # standard_metadata.priority beyond the --priority-queues queues
    uint64_t digests_dropped
    # Batch timings (Pipeline.batch_times_start): per batch its start and end (ns) and
    # the copy it read, while on; NULL: off.
    batch_time_t *btimes
    uint32_t btimes_cap
    uint32_t n_btimes
    side_t *last_st             # the copy the last batch read
    # Workers sit side by side in Pipeline.workers: a line of padding keeps the fields this
    # worker writes per batch off the cache lines of the next worker's (false sharing).
    uint8_t pad_line[64]
