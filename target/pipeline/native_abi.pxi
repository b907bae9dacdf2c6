# The engine's side of the native-code interface (native_abi.h): the structures a program's
# generated shared object and the engine exchange (included by engine.pyx before Pipeline).

cdef extern from "pipeline/native_abi.h":
    int KVN_ABI_VERSION
    int KVN_DROP, KVN_PRIORITY_DROP, KVN_GENERAL
    int KVN_LAYOUT_N
    ctypedef void (*kvn_action_fn)(const kvn_env_t *env, void *wk, void *x) noexcept nogil

    ctypedef struct kvn_ctx_t:
        pass

    ctypedef struct kvn_pkt_t:
        pass

    ctypedef struct kvn_out_t:
        pass

    ctypedef struct kvn_env_t:
        uint32_t abi_version
        uint32_t ctx_size
        uint32_t ctx_offsets[8]
        uint32_t pkt_size
        uint32_t field_size
        void *pl
        s128 (*exec_code)(void *pl, void *wk, void *x, uint32_t pc) noexcept nogil
        int32_t (*apply_table)(void *pl, void *wk, void *x, uint32_t ti) noexcept nogil
        int (*extract)(void *pl, void *wk, void *x, uint32_t hdr, s128 vbits) noexcept nogil
        int (*extract_next)(void *pl, void *wk, void *x, uint32_t stack, s128 vbits) noexcept nogil
        s128 (*lookahead)(void *pl, void *wk, void *x, uint32_t offset, uint32_t width) noexcept nogil
        void (*set_valid)(void *pl, void *wk, void *x, uint32_t hdr) noexcept nogil
        int (*vset_match)(void *pl, uint32_t vset, u128 key, u128 mask) noexcept nogil
        uint64_t (*calc)(void *pl, void *wk, void *x, uint32_t calc) noexcept nogil
        uint64_t (*random)(void *pl, void *wk) noexcept nogil
        void (*count)(void *pl, void *wk, void *x, uint32_t counter, s128 index) noexcept nogil
        void (*meter)(void *pl, void *x, uint32_t meter, s128 index, uint32_t dst_field) noexcept nogil
        void (*reg_read)(void *pl, void *x, uint32_t reg, s128 index, uint32_t dst_field) noexcept nogil
        void (*reg_write)(void *pl, uint32_t reg, s128 index, s128 value) noexcept nogil
        void (*assert_failed)(void *wk) noexcept nogil
        void (*stack_shift)(void *pl, void *wk, void *x, uint32_t stack, uint32_t n, int push) noexcept nogil
        void (*copy_header)(void *pl, void *wk, void *x, uint32_t dst, uint32_t src) noexcept nogil
        int (*deparse_moving)(void *pl, void *wk, void *x) noexcept nogil
        uint32_t layout[34]
        const int *shared
        int64_t (*ternary_lookup)(const void *matcher, const uint8_t *key) noexcept nogil
        int32_t (*table_finish)(void *pl, void *wk, void *x, uint32_t ti, int64_t e) noexcept nogil
        void (*direct_meter)(void *pl, void *x, uint32_t ti, int64_t e) noexcept nogil
        void (*parser_error)(void *pl, void *wk, void *x) noexcept nogil
        void (*verify)(void *pl, void *wk, void *x) noexcept nogil
        const void *counters
        void (*drop)(void *pl, void *wk, kvn_pkt_t *p, int priority) noexcept nogil
        int (*general)(void *pl, void *wk, void *x, kvn_pkt_t *p, uint32_t slot, kvn_out_t *outs,
                       int nout, int max_out) noexcept nogil

    ctypedef struct kvn_program_t:
        void (*parser)(const kvn_env_t *env, void *wk, void *x) noexcept nogil
        int32_t (*control)(const kvn_env_t *env, void *wk, void *x, int32_t node,
                           int stop_at_table) noexcept nogil
        void (*ingress)(const kvn_env_t *env, void *wk, void *x, uint32_t port, uint32_t instance,
                        uint32_t packet_length, int preserved) noexcept nogil
        void (*egress)(const kvn_env_t *env, void *wk, void *x, uint32_t port,
                       uint32_t packet_length) noexcept nogil
        int (*emit)(const kvn_env_t *env, void *wk, void *x) noexcept nogil
        const kvn_action_fn *actions
        uint32_t n_actions
        uint32_t n_interpreted
        int32_t (*finish)(const kvn_env_t *env, void *wk, void *x, int32_t node,
                          uint32_t packet_length, uint32_t priority_queues,
                          uint32_t *priority) noexcept nogil
        int64_t (*table_lookup)(const kvn_env_t *env, void *wk, void *x, uint32_t ti) noexcept nogil
        int32_t (*table_finish)(const kvn_env_t *env, void *wk, void *x, uint32_t ti,
                                int64_t e) noexcept nogil
        int32_t (*start)(const kvn_env_t *env, void *wk, void *x, uint32_t port,
                         uint32_t packet_length) noexcept nogil
        int (*batch)(const kvn_env_t *env, void *wk, void *gx, kvn_pkt_t **pkts, int n,
                     kvn_out_t *outs, int max_out, uint32_t priority_queues, uint64_t seq,
                     uint32_t ahead) noexcept nogil

    ctypedef int (*kvn_init_fn)(const kvn_env_t *env, kvn_program_t *out) noexcept nogil


cdef extern from "<dlfcn.h>" nogil:
    void *dlopen(const char *filename, int flags)
    void *dlsym(void *handle, const char *symbol)
    int dlclose(void *handle)
    char *dlerror()
    int RTLD_NOW
    int RTLD_LOCAL
