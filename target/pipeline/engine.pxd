# The compiled program as the executor sees it: flat C arrays indexed by the ids the loader
# (loader.py) assigned. Built once per program load by engine.pyx's Pipeline; read-only for the
# data path except what the control plane writes: table entries, defaults, action profiles,
# multicast groups, clone sessions and value sets live in two copies (side_t, commit.pxi),
# published by a pointer swap; registers and meters are single cells updated atomically;
# counters have cells per worker (worker_t), summed with a control-plane base when read.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from target.packet cimport pkt_pool_t, pkt_t


cdef extern from "pipeline/bits.h":
    # Cython has no 128-bit integer type: these typedefs make it emit the real C types, and all
    # conversions to Python go through the helpers in engine.pyx (hi/lo 64-bit halves).
    ctypedef unsigned long long u128 "kv_u128"
    ctypedef long long s128 "kv_s128"
    u128 kv_bits_read(const uint8_t *base, uint32_t bitoff, uint32_t width) noexcept nogil
    void kv_bits_write(uint8_t *base, uint32_t bitoff, uint32_t width, u128 v) noexcept nogil
    void kv_bits_copy(uint8_t *dst, uint32_t dbit, const uint8_t *src, uint32_t sbit,
                      uint32_t width) noexcept nogil
    uint64_t kv_load_be64(const uint8_t *p) noexcept nogil
    void kv_copy_small(uint8_t *d, const uint8_t *s, uint32_t n) noexcept nogil
    void kv_store_be_bytes(uint8_t *p, uint64_t v, uint32_t n) noexcept nogil
    void kv_store_be64(uint8_t *p, uint64_t v) noexcept nogil
    s128 kv_sext(u128 v, uint32_t width) noexcept nogil
    u128 kv_mask128(uint32_t width) noexcept nogil

    ctypedef struct field_t "kv_field_t":
        uint32_t bitoff             # from the start of the PHV
        uint16_t width              # bits (the maximum for a varbit field)
        uint8_t is_signed
        uint8_t varbit              # 1: the value's current length is the header's vlen
        uint32_t hdr                # owning header instance
        uint8_t narrow              # within one 8-byte word: one load, mask and shift (bits.h)
        uint8_t shift
        uint32_t byte
        uint64_t mask
        uint8_t whole               # byte-aligned whole bytes: written with plain stores
    s128 kv_field_read(const field_t *f, const uint8_t *phv, const uint32_t *vlen) noexcept nogil
    void kv_field_write(const field_t *f, uint8_t *phv, s128 v) noexcept nogil


cdef struct insn_t:
    uint16_t op                 # opcodes.py
    uint16_t a                  # register / small operand
    uint16_t b
    uint16_t c
    uint32_t d                  # field id, constant index, object id, jump target
    uint32_t e


cdef struct header_t:
    uint32_t byteoff            # first byte in the PHV
    uint32_t fixed_bits         # bits of the fixed-width fields
    uint32_t nbytes             # bytes reserved: fixed part plus varbit maximum
    uint32_t varbit_max         # bits; 0 when the header has no varbit field
    int32_t union_id            # -1 when not a union member
    uint32_t first_field
    uint32_t nfields
    uint8_t metadata


cdef struct stack_t:
    uint32_t size
    uint32_t first              # index into Pipeline.stack_hdrs of element 0
    uint32_t counter            # which next-index counter it uses: its own, or for the member
                                # stacks of a header union stack, the union stack's shared one


cdef struct ptrans_t:
    uint8_t kind                # TRANS_*
    int32_t next_state          # -1: accept
    u128 value
    u128 mask
    uint32_t vset


cdef struct pstate_t:
    uint32_t code               # parser operations
    uint32_t keycode            # computes the transition key components into registers
    uint32_t ncomps
    uint32_t comp0              # index into Pipeline.pcomps
    uint32_t ntrans
    uint32_t trans0             # index into Pipeline.ptrans
    uint32_t key_bits           # total width of the key
    int32_t simple_hdr          # the state only extracts this fixed-size header (-1: general)
    int32_t key_field           # the key is this one field (-1: general)
    # A simple_hdr state whose key is one field of that header reads it from the packet bytes
    # just extracted, not from the header vector that was just written (a load straddling
    # those fresh stores would wait for them): an 8-byte window at key_win bytes into the
    # header, shifted right by key_shift and masked with key_mask. key_win -1: not this shape.
    int32_t key_win
    uint8_t key_shift
    uint64_t key_mask


cdef struct pcomp_t:
    uint16_t reg
    uint16_t width


cdef struct node_t:
    uint8_t kind                # NODE_*
    int32_t a                   # table index / condition code / action id
    int32_t b                   # condition: true next / call: next
    int32_t c                   # condition: false next


cdef struct keyf_t:
    uint32_t src                # field id, or header id when is_valid
    uint16_t width
    uint16_t nbytes             # bytes the field takes in the key
    uint16_t off                # byte offset in the key
    uint8_t is_valid
    uint8_t has_mask
    uint8_t whole               # a narrow field of whole bytes, unmasked: plain stores
    u128 mask


# NREGS, table kinds (TBL_*), node and transition kinds, v1model's numbers: constants.py
include "constants.pxi"

cdef enum:
    REF_NONE = -1               # entry slot free / no default action


cdef struct table_t:
    uint8_t kind                # TBL_*
    void *matcher               # exact_table_t / dir24_t / lpm_table_t / ternary_table_t
    uint32_t nkeys
    keyf_t *keys
    uint32_t key_bytes
    uint8_t key_covered         # exact key whose fields write every byte: not cleared first
    # Entries, indexed by the entry id the matcher returns.
    int32_t *entry_action       # action id (or member id / -(group+2) for indirect tables);
                                # the control plane's copy of each record's slot 0
    uint32_t *entry_rec         # per entry: its record in recs (0xFFFFFFFF: no entry)
    # Records (records.pxi): rec_stride slots each, an action id, then params; entries with
    # the same action data share one, interned through rec_hash and reference counted.
    s128 *recs
    uint32_t rec_stride         # slots per record (a power of two >= param_stride + 1)
    uint32_t rec_capacity
    uint32_t rec_live
    uint32_t *rec_refs
    uint32_t *rec_free          # free record ids (a stack)
    uint32_t rec_nfree
    uint32_t *rec_hash          # open addressing, record id + 1 per slot (0: empty)
    uint32_t rec_hash_size
    uint64_t *entry_counters    # packets, bytes per entry (direct counter): the control
                                # plane's base, added to the workers' cells (counters.pxi);
                                # both copies share it, room for every possible entry id
    uint64_t *entry_last_hit    # CLOCK_MONOTONIC ns of the last hit, per entry; NULL unless the
                                # table supports idle timeouts (shared like entry_counters)
    uint32_t id_limit           # entry ids are below this (the declared size)
    uint32_t param_stride
    uint32_t capacity
    int32_t default_action      # REF_NONE: miss does nothing
    s128 *default_params
    int32_t *next_by_action     # per global action id
    int32_t hit_next
    int32_t miss_next
    int32_t base_next           # next node when no action ran
    uint8_t has_hit_miss
    uint8_t with_counters
    uint8_t indirect            # 1: action profile, 2: action selector
    int32_t profile             # action profile index
    int32_t direct_meter        # meter array index or -1
    uint32_t direct_meter_dst   # field receiving the colour
    uint64_t hits
    uint64_t misses


cdef struct profile_t:
    int32_t *member_action      # per member id; REF_NONE when free
    s128 *member_params
    uint32_t param_stride
    uint32_t capacity
    uint32_t **group_members    # per group id: member ids
    uint32_t *group_size
    uint32_t group_capacity
    int32_t calc                # selector calculation, -1 for plain profiles


cdef struct side_t:
    # One copy of the state the control plane writes (commit.pxi). The workers read the live
    # copy; the control plane changes the other one, then swaps them. Per copy: each table's
    # match structure, entry -> record arrays, records and default action; action profiles;
    # the PRE's groups and sessions; parser value sets. What a table_t holds besides is the
    # same in both copies (the program, and the direct counters' base and hit times, which
    # are single arrays indexed by entry id).
    table_t *tables
    profile_t *profiles
    uint32_t **mc_nodes         # per group id (16-bit): count then (port, rid) pairs
    uint32_t **clone_sessions   # per session id (up to 32767): count, class, trunc, pairs
    u128 **vset_values
    u128 **vset_masks
    uint32_t *vset_count


cdef struct calc_t:
    int algo                    # hashes.pxd algorithm id
    uint32_t nseg
    uint32_t seg0               # index into Pipeline.segs
    uint8_t with_payload
    uint8_t csum_direct         # csum16 over whole, byte-aligned 16-bit words: summed in place


cdef struct seg_t:
    # A run of bits copied into the hash input: from the PHV (src_bit) or a constant.
    uint32_t src_bit
    uint32_t width
    int32_t const_idx           # -1: from the PHV
    uint32_t hdr                # header whose validity... (informative; BMv2 hashes invalid
                                # headers' fields as they are)


cdef struct cksum_t:
    uint32_t calc
    uint32_t target
    int32_t cond                # code of the condition, -1 = always
    uint8_t verify
    uint8_t update
    # Update of an Internet checksum whose inputs and target tile one byte range (the IPv4
    # header's shape): zero the target, sum the range in place. span_len 0: not this shape.
    uint32_t span_byte
    uint32_t span_len
    uint8_t span_target_shift   # how kv_sum_be16 counts the target word: << 16 or << 0


cdef struct counter_t:
    uint64_t *cells             # packets, bytes per index: the control plane's base, added to
                                # the workers' cells (worker_t.counter_cells, counters.pxi)
    uint32_t size


cdef struct register_t:
    u128 *cells
    uint32_t size
    uint32_t width
    int lock                    # taken around each access while several workers run
