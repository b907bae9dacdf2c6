/* The interface between the engine and a program's native code (native_gen.py writes the code,
 * native.pxi loads it).
 *
 * The generated shared object sees a packet's context (kvn_ctx_t, the engine's ctx_t of
 * state.pxi) and its packet (kvn_pkt_t, target/packet.pxd's pkt_t) directly; everything else
 * the engine owns — tables, externs, workers — it reaches through the callbacks of kvn_env_t,
 * passing back the opaque pipeline and worker pointers. The engine fills kvn_env_t with the
 * sizes and offsets it was compiled with and kvn_init refuses an engine whose layout differs
 * (tests/test_native.py also compares them with this header).
 */
#ifndef KVICK_NATIVE_ABI_H
#define KVICK_NATIVE_ABI_H

#include <stddef.h>
#include <stdint.h>
#include "bits.h"
#include "csum.h"

#define KVN_ABI_VERSION 8

typedef struct {
    uint8_t *data;
    uint32_t len;
    uint32_t port;
    uint8_t *buf;
    uint32_t buf_size;
    uint32_t slot;
    uint64_t phys;
    uint64_t tstamp_ns;
} kvn_pkt_t;

/* state.pxi's out_t: one packet to transmit */
typedef struct {
    kvn_pkt_t *pkt;
    uint32_t port;
    uint32_t priority;
} kvn_out_t;

typedef struct {
    uint8_t *phv;
    uint8_t *valid;
    uint32_t *vlen;
    uint32_t *stack_next;
    kvn_pkt_t *pkt;
    uint32_t cursor;
    uint32_t cursor_bits;
    int32_t error;
    uint8_t exit_flag;
    uint8_t failed;
    kv_s128 *params;
    int32_t clone_session;
    int32_t clone_fl;
    uint8_t clone_set;
    int32_t resubmit_fl;
    int32_t recirc_fl;
    int32_t truncate_len;
    int32_t digest_id;
    uint64_t seq;
    uint64_t now_ns;
} kvn_ctx_t;

/* The tables as the engine holds them (engine.pxd's table_t, side_t and the start of worker_t,
 * and the matchers' structures), so that generated code applies a table without going through
 * the engine: key built with constant offsets, the matcher's lookup inlined (native_match.h),
 * the action chosen by a switch. Mirrors: KVN_LAYOUT lists what the code relies on and
 * kvn_init compares it with what the engine was compiled with. */
typedef struct {
    uint8_t kind;
    void *matcher;
    uint32_t nkeys;
    void *keys;
    uint32_t key_bytes;
    uint8_t key_covered;
    int32_t *entry_action;
    uint32_t *entry_rec;
    kv_s128 *recs;
    uint32_t rec_stride;
    uint32_t rec_capacity;
    uint32_t rec_live;
    uint32_t *rec_refs;
    uint32_t *rec_free;
    uint32_t rec_nfree;
    uint32_t *rec_hash;
    uint32_t rec_hash_size;
    uint64_t *entry_counters;
    uint64_t *entry_last_hit;
    uint32_t id_limit;
    uint32_t param_stride;
    uint32_t capacity;
    int32_t default_action;
    kv_s128 *default_params;
    int32_t *next_by_action;
    int32_t hit_next;
    int32_t miss_next;
    int32_t base_next;
    uint8_t has_hit_miss;
    uint8_t with_counters;
    uint8_t indirect;
    int32_t profile;
    int32_t direct_meter;
    uint32_t direct_meter_dst;
    uint64_t hits;
    uint64_t misses;
} kvn_table_t;

typedef struct {
    kvn_table_t *tables;
} kvn_side_t;

/* worker_t up to its counter cells (the rest is the engine's own) */
typedef struct {
    uint32_t index;
    void *owner;
    uint64_t epoch;
    kvn_side_t *st;
    void *jobs;
    uint8_t *job_phv;
    uint8_t *phv;
    uint8_t *scratch;
    void *digests;
    uint32_t n_digests;
    void *trace;
    uint32_t n_trace;
    uint64_t seq;
    uint64_t batch_now;
    uint64_t rng_state;
    void *pool;
    uint64_t *table_stats;      /* hits, misses per table */
    /* this worker's own counter cells, added to with plain adds (counters.pxi): per indexed
       counter packets, bytes per index; per table packets, bytes per entry id (NULL: no
       direct counter) */
    uint64_t **counter_cells;
    uint64_t **entry_cells;
} kvn_worker_t;

/* match_exact.pxd's exact_table_t */
typedef struct {
    uint64_t *block;
    uint64_t *meta;
    uint64_t *keys;
    uint64_t meta_stride;
    uint64_t key_stride;
    uint64_t mask;
    uint64_t count;
    uint64_t grow_at;
    uint64_t min_capacity;
    uint32_t key_bytes;
    uint32_t key_words;
} kvn_exact_t;

/* match_lpm.pxd's lpm_table_t (the part a lookup reads) */
typedef struct {
    uint32_t key_bytes;
    uint32_t key_words;
    uint32_t lpm_offset;
    uint32_t lpm_bytes;
    uint32_t lpm_bits;
    uint32_t nprobes;
    kvn_exact_t **probe_tables;
    const uint64_t **probe_masks;
} kvn_lpm_t;

/* lpm_dir24.pxd's dir24_t (the part a lookup reads) */
typedef struct {
    uint32_t *tbl18;
    uint32_t *tbl24;
    uint32_t *tbl8;
    uint32_t tbl24_pair;    /* entry i is tbl24[i + (i & tbl24_pair)] (lpm_dir24.pxd dir24_i24) */
} kvn_dir24_t;

/* engine.pxd's counter_t: an indexed counter's control-plane base, packets and bytes per
   index (the workers count into kvn_worker_t.counter_cells) */
typedef struct {
    uint64_t *cells;
    uint32_t size;
} kvn_counter_t;

#define KVN_LAYOUT_N 34
#define KVN_LAYOUT { sizeof(kvn_table_t), offsetof(kvn_table_t, kind), \
    offsetof(kvn_table_t, matcher), offsetof(kvn_table_t, entry_rec), \
    offsetof(kvn_table_t, recs), offsetof(kvn_table_t, rec_stride), \
    offsetof(kvn_table_t, entry_counters), offsetof(kvn_table_t, entry_last_hit), \
    offsetof(kvn_table_t, default_action), offsetof(kvn_table_t, default_params), \
    offsetof(kvn_table_t, next_by_action), offsetof(kvn_table_t, misses), \
    offsetof(kvn_side_t, tables), offsetof(kvn_worker_t, st), \
    offsetof(kvn_worker_t, table_stats), sizeof(kvn_exact_t), offsetof(kvn_exact_t, meta), \
    offsetof(kvn_exact_t, keys), offsetof(kvn_exact_t, meta_stride), \
    offsetof(kvn_exact_t, key_stride), offsetof(kvn_exact_t, mask), \
    offsetof(kvn_exact_t, key_words), offsetof(kvn_lpm_t, key_words), \
    offsetof(kvn_lpm_t, nprobes), offsetof(kvn_lpm_t, probe_tables), \
    offsetof(kvn_lpm_t, probe_masks), offsetof(kvn_dir24_t, tbl24), offsetof(kvn_dir24_t, tbl8), \
    sizeof(kvn_counter_t), offsetof(kvn_counter_t, size), \
    sizeof(kvn_out_t), offsetof(kvn_dir24_t, tbl24_pair), \
    offsetof(kvn_worker_t, counter_cells), offsetof(kvn_worker_t, entry_cells) }

/* Callbacks into the engine: pl and wk are the engine's Pipeline and worker_t. */
typedef struct {
    uint32_t abi_version;
    uint32_t ctx_size;
    uint32_t ctx_offsets[8];    /* phv valid vlen pkt cursor error params now_ns */
    uint32_t pkt_size;
    uint32_t field_size;
    void *pl;
    /* a code block the generator left to the interpreter */
    kv_s128 (*exec_code)(void *pl, void *wk, void *x, uint32_t pc);
    /* a table's lookup, counters, meter and action (native when it has one); the next node */
    int32_t (*apply_table)(void *pl, void *wk, void *x, uint32_t ti);
    int (*extract)(void *pl, void *wk, void *x, uint32_t hdr, kv_s128 vbits);
    int (*extract_next)(void *pl, void *wk, void *x, uint32_t stack, kv_s128 vbits);
    kv_s128 (*lookahead)(void *pl, void *wk, void *x, uint32_t offset, uint32_t width);
    void (*set_valid)(void *pl, void *wk, void *x, uint32_t hdr);
    int (*vset_match)(void *pl, uint32_t vset, kv_u128 key, kv_u128 mask);
    uint64_t (*calc)(void *pl, void *wk, void *x, uint32_t calc);
    uint64_t (*random)(void *pl, void *wk);
    void (*count)(void *pl, void *wk, void *x, uint32_t counter, kv_s128 index);
    void (*meter)(void *pl, void *x, uint32_t meter, kv_s128 index, uint32_t dst_field);
    void (*reg_read)(void *pl, void *x, uint32_t reg, kv_s128 index, uint32_t dst_field);
    void (*reg_write)(void *pl, uint32_t reg, kv_s128 index, kv_s128 value);
    void (*assert_failed)(void *wk);
    /* header stacks: push (1) or pop (0) n elements; copy one header over another */
    void (*stack_shift)(void *pl, void *wk, void *x, uint32_t stack, uint32_t n, int push);
    void (*copy_header)(void *pl, void *wk, void *x, uint32_t dst, uint32_t src);
    /* the deparser when the headers outgrow the headroom: the payload moves; 0: cannot */
    int (*deparse_moving)(void *pl, void *wk, void *x);
    /* the table layout the engine was compiled with (KVN_LAYOUT) */
    uint32_t layout[KVN_LAYOUT_N];
    /* Pipeline.shared: several workers run (meters and registers take their locks) */
    const int *shared;
    /* the lookups and table parts generated code does not inline */
    int64_t (*ternary_lookup)(const void *matcher, const uint8_t *key);
    int32_t (*table_finish)(void *pl, void *wk, void *x, uint32_t ti, int64_t e);
    void (*direct_meter)(void *pl, void *x, uint32_t ti, int64_t e);
    /* a received packet's parser ended in error (x->error): count and record it, clear it */
    void (*parser_error)(void *pl, void *wk, void *x);
    /* the verify checksum control */
    void (*verify)(void *pl, void *wk, void *x);
    /* the indexed counters (the engine's array, allocated at load: it never moves); their
       cells are the control plane's bases, the workers count into their own */
    const kvn_counter_t *counters;
    /* the batch loop's (kvn_program_t.batch) way back to the engine: a packet dropped
       (priority: for want of its priority queue), and a received packet whose ingress
       control has run in group slot `slot` handed to the general traffic manager (a
       multicast group), its outputs appended to outs; returns outs' new count */
    void (*drop)(void *pl, void *wk, kvn_pkt_t *p, int priority);
    int (*general)(void *pl, void *wk, void *x, kvn_pkt_t *p, uint32_t slot, kvn_out_t *outs,
                   int nout, int max_out);
} kvn_env_t;

typedef void (*kvn_action_fn)(const kvn_env_t *env, void *wk, void *x);

/* What kvn_init hands the engine. */
typedef struct {
    /* the parser from its start state; x->error says how it ended */
    void (*parser)(const kvn_env_t *env, void *wk, void *x);
    /* a control from `node`: with stop_at_table, only its conditions, returning the first table
       or action-call node (or -1); else to its end (returns -1) */
    int32_t (*control)(const kvn_env_t *env, void *wk, void *x, int32_t node, int stop_at_table);
    /* an ingress pass up to the ingress control: standard metadata (ingress_port unless
       `preserved`), then the parser; x->error says how the parser ended */
    void (*ingress)(const kvn_env_t *env, void *wk, void *x, uint32_t port, uint32_t instance,
                    uint32_t packet_length, int preserved);
    /* an egress pass up to the traffic manager's checks: standard metadata, egress control */
    void (*egress)(const kvn_env_t *env, void *wk, void *x, uint32_t port,
                   uint32_t packet_length);
    /* checksum updates and the deparser; 0 when the frame cannot be built (dropped) */
    int (*emit)(const kvn_env_t *env, void *wk, void *x);
    /* per action id (NULL: none); a table's chosen action with x->params set */
    const kvn_action_fn *actions;
    uint32_t n_actions;
    uint32_t n_interpreted;     /* code blocks left to the interpreter */
    /* The rest of the ingress control of a received packet whose slot is alone in the job
       queue, from `node` (-1: none); then the traffic manager's unicast case, the egress
       pass in that slot, checksums and the deparser. Returns the egress port (*priority set), or KVN_DROP / KVN_PRIORITY_DROP (the
       engine frees the packet), or KVN_GENERAL having changed nothing (a multicast group: the
       engine's traffic manager takes over). NULL when the program clones, resubmits,
       recirculates or sends digests: the engine's general path runs every packet. */
    int32_t (*finish)(const kvn_env_t *env, void *wk, void *x, int32_t node,
                      uint32_t packet_length, uint32_t priority_queues, uint32_t *priority);
    /* table ti's key built and looked up: the entry id, -1 for a miss */
    int64_t (*table_lookup)(const kvn_env_t *env, void *wk, void *x, uint32_t ti);
    /* table ti applied with entry e (-1: miss): statistics, counters, meter, the action;
       returns the next node */
    int32_t (*table_finish)(const kvn_env_t *env, void *wk, void *x, uint32_t ti, int64_t e);
    /* A received packet's ingress pass up to its first table or action-call node, which it
       returns (or -1): standard metadata, parser (parser_error on error), verify_checksum,
       the control's conditions. finish then runs the control on from the node that
       table's apply returns (-1: none). */
    int32_t (*start)(const kvn_env_t *env, void *wk, void *x, uint32_t port,
                     uint32_t packet_length);
    /* A batch of n received packets (pkt->port: the ingress port) run to completion: the
       engine's run_batch for a program with finish, in the program's own code. gx: the
       worker's group slots (kvn_ctx_t[group], ctx_init done: header vectors zeroed, the
       batch's clock, no clone or digest requests), each left zeroed again; packets are
       numbered seq + 1, seq + 2, ...; first-table lookups run `ahead` packets ahead of the
       packets finishing. Fills outs in arrival order; returns their count. NULL with finish. */
    int (*batch)(const kvn_env_t *env, void *wk, void *gx, kvn_pkt_t **pkts, int n,
                 kvn_out_t *outs, int max_out, uint32_t priority_queues, uint64_t seq,
                 uint32_t ahead);
} kvn_program_t;

#define KVN_DROP (-1)
#define KVN_PRIORITY_DROP (-2)
#define KVN_GENERAL (-3)

/* The one symbol the object exports: 0 on success, -1 when env's layout is not this header's. */
typedef int (*kvn_init_fn)(const kvn_env_t *env, kvn_program_t *out);

#define KVN_CTX_OFFSETS { offsetof(kvn_ctx_t, phv), offsetof(kvn_ctx_t, valid), \
    offsetof(kvn_ctx_t, vlen), offsetof(kvn_ctx_t, pkt), offsetof(kvn_ctx_t, cursor), \
    offsetof(kvn_ctx_t, error), offsetof(kvn_ctx_t, params), offsetof(kvn_ctx_t, now_ns) }

#endif
