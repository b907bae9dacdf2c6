/* Table lookups for generated code (native_gen.py): the per-packet paths of match_exact.pxd,
 * match_lpm.pxd and lpm_dir24.pxd written in C over the mirrored structures of native_abi.h,
 * so that a table's apply inlines them with its key length as a constant. They must give the
 * same answer as the engine's: tests/test_native.py runs every corpus program through both.
 * The writers (hashing on insert, the DIR-24-8 entry format) stay in those modules; a change
 * there needs the same change here. */
#ifndef KVICK_NATIVE_MATCH_H
#define KVICK_NATIVE_MATCH_H

#include <string.h>
#include "native_abi.h"

#define KVN_EXACT_MAX_KEY_WORDS 64
/* Inlined into each table's lookup, whose key length is a constant: the key loads, the hash
   rounds and the compare loop then unroll to the key's few words. */
#define KVN_INLINE static inline __attribute__((always_inline))

static inline uint64_t kvn_load_u64(const uint8_t *p) { uint64_t w; memcpy(&w, p, 8); return w; }
static inline uint64_t kvn_load_u32(const uint8_t *p) { uint32_t w; memcpy(&w, p, 4); return w; }
static inline uint64_t kvn_load_u16(const uint8_t *p) { uint16_t w; memcpy(&w, p, 2); return w; }
static inline void kvn_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
static inline void kvn_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }
/* 16 zero bytes at any address, in one vector store */
typedef uint64_t kvn_u64x2 __attribute__((vector_size(16), aligned(1), may_alias));
static inline void kvn_zero16(uint8_t *p) { *(kvn_u64x2 *)(void *)p = (kvn_u64x2){0, 0}; }

/* A field of whole bytes at a byte boundary, read with a load of its size (big-endian). */
static inline uint64_t kvn_load_be8(const uint8_t *p) { return p[0]; }
static inline uint64_t kvn_load_be16(const uint8_t *p) { return __builtin_bswap16((uint16_t)kvn_load_u16(p)); }
static inline uint64_t kvn_load_be32(const uint8_t *p) { return __builtin_bswap32((uint32_t)kvn_load_u32(p)); }
static inline uint64_t kvn_load_be64(const uint8_t *p) { return __builtin_bswap64(kvn_load_u64(p)); }

/* A field inside one aligned 64-bit word of the packet state (native_gen.py's rd/wr), its
   value at bit `shift` of the word read big-endian. Every access to the fields of such a word
   that holds a field of odd bits is a load or store of the same 8 bytes, which the CPU
   forwards from a store to the next load. kv_field_write's read-modify-write at each field's
   own byte offset made the next field's load overlap the last store only in part: it waited
   for that store to reach the cache, some 12 cycles for each of the standard metadata fields
   (ingress and egress port, egress_spec) that several actions write in turn. */
KVN_INLINE uint64_t kvn_word_read(const uint8_t *w, uint32_t shift, uint64_t mask) {
    return (kvn_load_be64(w) >> shift) & mask;
}

/* in the word's memory order: the mask's byte swap is a constant, and so is the value's when
   the value is one (egress_spec = drop port), so a write is an and and an or */
KVN_INLINE void kvn_word_write(uint8_t *w, uint32_t shift, uint64_t mask, uint64_t v) {
    uint64_t x = (kvn_load_u64(w) & ~__builtin_bswap64(mask << shift))
                 | __builtin_bswap64((v & mask) << shift);
    memcpy(w, &x, 8);
}

/* exact_load_key: key_bytes bytes as words, the last word overlapping its predecessor */
KVN_INLINE void kvn_exact_load_key(uint32_t key_bytes, const uint8_t *key, uint64_t *words) {
    if (key_bytes >= 8) {
        uint32_t last = (key_bytes - 1) >> 3;
        for (uint32_t i = 0; i < last; i++)
            words[i] = kvn_load_u64(key + 8 * i);
        words[last] = kvn_load_u64(key + key_bytes - 8);
    } else if (key_bytes >= 4) {
        words[0] = kvn_load_u32(key) | (kvn_load_u32(key + key_bytes - 4) << 32);
    } else if (key_bytes >= 2) {
        words[0] = kvn_load_u16(key) | (kvn_load_u16(key + key_bytes - 2) << 16);
    } else {
        words[0] = key[0];
    }
}

KVN_INLINE uint32_t kvn_exact_key_words(uint32_t key_bytes) {
    return key_bytes <= 8 ? 1 : (key_bytes + 7) >> 3;
}

KVN_INLINE uint64_t kvn_hash_round(uint64_t h, uint64_t word) {
    h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 32);
}

KVN_INLINE uint64_t kvn_exact_hash(const uint64_t *words, uint32_t nwords) {
    uint64_t h = 0x243F6A8885A308D3ULL ^ nwords;
    for (uint32_t i = 0; i < nwords; i++)
        h = kvn_hash_round(h, words[i]);
    h ^= h >> 29;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 32;
    return h;
}

/* exact_lookup_words with the key's word count a constant of the caller */
KVN_INLINE int64_t kvn_exact_lookup_words(const kvn_exact_t *t, const uint64_t *words,
                                             uint32_t nwords) {
    uint64_t h = kvn_exact_hash(words, nwords);
    uint64_t tag = (h & 0xFFFFFFFF00000000ULL) | (1ULL << 63);
    uint64_t i = h & t->mask;
    for (;;) {
        uint64_t m = t->meta[i * t->meta_stride];
        if (m == 0)
            return -1;
        if ((m & 0xFFFFFFFF00000000ULL) == tag) {
            const uint64_t *k = t->keys + i * t->key_stride;
            uint32_t j = 0;
            while (j < nwords && k[j] == words[j])
                j++;
            if (j == nwords)
                return (int64_t)(m & 0xFFFFFFFFULL);
        }
        i = (i + 1) & t->mask;
    }
}

KVN_INLINE int64_t kvn_exact_lookup(const kvn_exact_t *t, const uint8_t *key,
                                       uint32_t key_bytes) {
    uint64_t words[KVN_EXACT_MAX_KEY_WORDS];
    kvn_exact_load_key(key_bytes, key, words);
    return kvn_exact_lookup_words(t, words, kvn_exact_key_words(key_bytes));
}

/* lpm_lookup: one exact probe per present prefix length, longest first */
KVN_INLINE int64_t kvn_lpm_lookup(const kvn_lpm_t *t, const uint8_t *key, uint32_t key_bytes) {
    uint64_t words[KVN_EXACT_MAX_KEY_WORDS], masked[KVN_EXACT_MAX_KEY_WORDS];
    uint32_t n = kvn_exact_key_words(key_bytes);
    kvn_exact_load_key(key_bytes, key, words);
    for (uint32_t p = 0; p < t->nprobes; p++) {
        const uint64_t *mask = t->probe_masks[p];
        for (uint32_t i = 0; i < n; i++)
            masked[i] = words[i] & mask[i];
        int64_t r = kvn_exact_lookup_words(t->probe_tables[p], masked, n);
        if (r >= 0)
            return r;
    }
    return -1;
}

/* dir24_lookup_tbl24: the engine prefetches the tbl24 entry a stage before (run_batch) */
#define KVN_DIR24_VALUE_MASK 0x00FFFFFFu
#define KVN_DIR24_VALID 0x01000000u
#define KVN_DIR24_EXTENDED 0x02000000u

/* Where addr's tbl24 entry is (lpm_dir24.pxd dir24_i24: a pair's copies interleave). */
KVN_INLINE const uint32_t *kvn_dir24_entry(const kvn_dir24_t *t, uint32_t addr) {
    uint32_t i = addr >> 8;
    return &t->tbl24[(size_t)i + (i & t->tbl24_pair)];
}

KVN_INLINE int64_t kvn_dir24_lookup(const kvn_dir24_t *t, uint32_t addr) {
    uint32_t e = __atomic_load_n(kvn_dir24_entry(t, addr), __ATOMIC_RELAXED);
    if (e & KVN_DIR24_EXTENDED)
        e = __atomic_load_n(&t->tbl8[((size_t)(e & KVN_DIR24_VALUE_MASK) << 8) | (addr & 0xFF)],
                            __ATOMIC_RELAXED);
    return (int64_t)(e & KVN_DIR24_VALUE_MASK) | ((int64_t)((e & KVN_DIR24_VALID) >> 24) - 1);
}

/* A worker's add to a counter cell of its own (the engine's kv_count_own, counters.pxi):
   no other thread stores into it, so a plain add; relaxed atomics only keep the compiler
   from tearing the cell the control plane reads meanwhile. */
static inline void kvn_count_own(uint64_t *cell, uint64_t v) {
    __atomic_store_n(cell, __atomic_load_n(cell, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

/* An indexed counter's count(index) into the worker's cells of that counter, as the
   engine's nat_count: one packet and the frame's bytes; an index outside 0..size-1 counts
   nothing. size is the program's constant. */
KVN_INLINE void kvn_counter_count(uint64_t *cells, uint32_t size, kv_s128 index,
                                  const kvn_ctx_t *x) {
    if (index < 0 || index >= (kv_s128)size)
        return;
    uint64_t *cell = cells + 2 * (uint64_t)index;
    kvn_count_own(cell, 1);
    kvn_count_own(cell + 1, x->pkt != NULL ? x->pkt->len : 0);
}

#endif
