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

#define KVN_ABI_VERSION 4

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
    void (*count)(void *pl, void *x, uint32_t counter, kv_s128 index);
    void (*meter)(void *pl, void *x, uint32_t meter, kv_s128 index, uint32_t dst_field);
    void (*reg_read)(void *pl, void *x, uint32_t reg, kv_s128 index, uint32_t dst_field);
    void (*reg_write)(void *pl, uint32_t reg, kv_s128 index, kv_s128 value);
    void (*assert_failed)(void *wk);
    /* header stacks: push (1) or pop (0) n elements; copy one header over another */
    void (*stack_shift)(void *pl, void *wk, void *x, uint32_t stack, uint32_t n, int push);
    void (*copy_header)(void *pl, void *wk, void *x, uint32_t dst, uint32_t src);
    /* the deparser when the headers outgrow the headroom: the payload moves; 0: cannot */
    int (*deparse_moving)(void *pl, void *wk, void *x);
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
    /* After the ingress control of a received packet whose slot is alone in the job queue:
       the traffic manager's unicast case, the egress pass in that slot, checksums and the
       deparser. Returns the egress port (*priority set), or KVN_DROP / KVN_PRIORITY_DROP (the
       engine frees the packet), or KVN_GENERAL having changed nothing (a multicast group: the
       engine's traffic manager takes over). NULL when the program clones, resubmits,
       recirculates or sends digests: the engine's general path runs every packet. */
    int32_t (*finish)(const kvn_env_t *env, void *wk, void *x, uint32_t packet_length,
                      uint32_t priority_queues, uint32_t *priority);
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
