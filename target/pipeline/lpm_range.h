/* Range chunks behind tbl18 (DXR-style, Zec/Rizzo/Mikuc 2012): the cache-resident part of
 * kvick's IPv4 LPM (lpm_dir24.pxd documents the whole table).
 *
 * A /18 holds 2^14 addresses. Its answers, read off tbl24/tbl8, form a few runs of equal value;
 * a chunk stores the first address of each run (14-bit offsets in u16 "starts", sorted) and the
 * run's answer (u32 "vals": VALID | value, depth stripped so that equal answers merge). A lookup
 * of a non-uniform /18 counts the starts <= its offset (rank, one SIMD compare on a cache line)
 * and reads that run's value: tbl18 and the chunks of the real 512k-route table are about
 * 3 MiB together and stay in L2, where tbl24 (64 MiB) does not.
 *
 * tbl18 entry of a non-uniform /18: DIR24_EXTENDED | class << 26 | offset (8-byte units into
 * the pool). Class 0 means "no chunk: look in tbl24/tbl8" (more than 1024 runs, or the pool is
 * full): always correct, only slower. Classes 1..4: one level, capacity 4 << (class - 1) runs,
 * layout starts[cap] vals[cap]. Classes 5..9: two levels, capacity 64..1024, layout index[32]
 * (the first start of each block of 32 runs) starts[cap] vals[cap]. Unused starts hold 0x7FFF,
 * larger than any offset, so that rank never counts them (and a signed 16-bit compare works).
 *
 * Concurrency: a chunk is written completely in fresh pool space before the tbl18 entry that
 * names it is stored with release order; it is never written while reachable. A replaced chunk
 * waits in limbo for KV_RNG_QUARANTINE_MS before it may be reused: every update of a /18
 * replaces its chunk, so the next update's would otherwise often be the very memory a reader
 * that loaded the old tbl18 entry is still ranking (it holds it for one batch of pass 1 and 2,
 * microseconds unless the thread is descheduled; a reader stalled longer than the quarantine
 * could still read a reused chunk). The engine is safe regardless: its two-copy commits only
 * write the copy no worker reads. The regions are reserved up front and never move.
 */
#ifndef KV_LPM_RANGE_H
#define KV_LPM_RANGE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define KV_RNG_EXTENDED 0x02000000u
#define KV_RNG_VALID 0x01000000u
#define KV_RNG_VALUE_MASK 0x00FFFFFFu
#define KV_RNG_ANSWER_MASK (KV_RNG_VALID | KV_RNG_VALUE_MASK)
#define KV_RNG_INDEX_MASK 0x00FFFFFFu
#define KV_RNG_PAD 0x7FFF
#define KV_RNG_CLASSES 8             /* class 0 (none), 1..4 one level, 5..7 two levels */
#define KV_RNG_MAX_RUNS 256
#define KV_RNG_MAX_CHUNKS (1u << 18) /* at most one per /18 */

static inline uint32_t kv_rng_cap(uint32_t cls) { return 2u << cls; }

/* Bytes of one chunk's starts (the index line first in two-level classes) and of its vals. */
static inline size_t kv_rng_starts_bytes(uint32_t cls) {
    return cls == 0 ? 0 : (cls >= 5 ? 64u : 0u) + kv_rng_cap(cls) * 2u;
}
static inline size_t kv_rng_vals_bytes(uint32_t cls) { return cls == 0 ? 0 : kv_rng_cap(cls) * 4u; }
static inline size_t kv_rng_chunk_bytes(uint32_t cls) {
    return kv_rng_starts_bytes(cls) + kv_rng_vals_bytes(cls);
}

/* What lookups read: per class, where chunk k's starts and vals are. A chunk's starts and vals
 * are contiguous (one stride) so that one round of prefetches brings a whole one-level chunk
 * (1 to 3 lines); each chunk's starts lie inside one aligned 64-byte line (strides 24, 48, 96,
 * 192 and multiples of 64). Class 0 points at a zeroed line (stride 0): a uniform /18's
 * pipeline stage reads it instead of branching. */
typedef struct {
    const uint8_t *starts[KV_RNG_CLASSES];
    const uint8_t *vals[KV_RNG_CLASSES];
    uint32_t starts_stride[KV_RNG_CLASSES];
    uint32_t vals_stride[KV_RNG_CLASSES];
    uint32_t span[KV_RNG_CLASSES];   /* bytes from a chunk's first to last byte prefetched */
} kv_rng_bases_t;

static const uint8_t kv_rng_zero_line[64] __attribute__((aligned(64)));

/* The bases of a table without range chunks (every non-uniform /18 is class 0). */
static const kv_rng_bases_t kv_rng_no_chunks = {
    {kv_rng_zero_line}, {kv_rng_zero_line}, {0}, {0}, {0}};

/* The answer an entry or run value gives: its value, or -1 for a miss. */
static inline int64_t kv_rng_answer(uint32_t v) {
    return (int64_t)(v & KV_RNG_VALUE_MASK) | ((int64_t)((v & KV_RNG_VALID) >> 24) - 1);
}

/* ---- rank: how many of the first cap starts are <= key (key < 2^14, starts sorted, cap a
 * power of two from 4 to 32, the starts inside one 64-byte line). The portable build targets
 * baseline x86-64 (SSE2); the bulk lookup has AVX2 and AVX-512 copies chosen at run time. */

#if defined(__x86_64__)
static inline uint32_t kv_rng_rank_sse2(const uint16_t *s, uint32_t cap, uint32_t key) {
    /* The whole aligned 64-byte line holding the starts (no branch on cap), then only this
       chunk's part: bits set where start > key; sorted starts make them a suffix, so the
       rank is the index of the first set bit. Entries past cap may be anything: min() drops
       them. */
    const __m128i *line = (const __m128i *)((uintptr_t)s & ~(uintptr_t)63);
    uint32_t skip = (uint32_t)((const uint16_t *)s - (const uint16_t *)line);
    __m128i k = _mm_set1_epi16((short)key);
    uint64_t m = (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi16(_mm_load_si128(line), k));
    m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi16(_mm_load_si128(line + 1), k)) << 16;
    m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi16(_mm_load_si128(line + 2), k)) << 32;
    m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi16(_mm_load_si128(line + 3), k)) << 48;
    m >>= 2 * skip;   /* a chunk lies inside its line: skip <= 32 - cap */
    uint32_t r = m ? (uint32_t)__builtin_ctzll(m) >> 1 : 32u;
    return r < cap ? r : cap;
}

__attribute__((target("avx2,bmi")))
static inline uint32_t kv_rng_rank_avx2(const uint16_t *s, uint32_t cap, uint32_t key) {
    /* The whole aligned 64-byte line holding the starts, then only this chunk's part. */
    const uint16_t *line = (const uint16_t *)((uintptr_t)s & ~(uintptr_t)63);
    uint32_t skip = (uint32_t)(s - line);
    __m256i k = _mm256_set1_epi16((short)key);
    uint64_t m = (uint64_t)(uint32_t)_mm256_movemask_epi8(
        _mm256_cmpgt_epi16(_mm256_load_si256((const __m256i *)line), k));
    m |= (uint64_t)(uint32_t)_mm256_movemask_epi8(
        _mm256_cmpgt_epi16(_mm256_load_si256((const __m256i *)(line + 16)), k)) << 32;
    m >>= 2 * skip;   /* skip < 32 - cap + 1, so at most 62 */
    uint32_t r = m ? (uint32_t)_tzcnt_u64(m) >> 1 : 32u;
    return r < cap ? r : cap;
}

__attribute__((target("avx512f,avx512bw,bmi,popcnt")))
static inline uint32_t kv_rng_rank_avx512(const uint16_t *s, uint32_t cap, uint32_t key) {
    /* A masked load reads only the chunk's own starts. */
    __mmask32 live = (__mmask32)(((uint64_t)1 << cap) - 1);
    __m512i v = _mm512_maskz_loadu_epi16(live, s);
    __mmask32 le = _mm512_mask_cmple_epi16_mask(live, v, _mm512_set1_epi16((short)key));
    return (uint32_t)_mm_popcnt_u32((uint32_t)le);
}
#define kv_rng_rank kv_rng_rank_sse2
#else
static inline uint32_t kv_rng_rank_scalar(const uint16_t *s, uint32_t cap, uint32_t key) {
    uint32_t r = 0;
    for (uint32_t i = 0; i < cap; i++)
        r += s[i] <= key;
    return r;
}
#define kv_rng_rank kv_rng_rank_scalar
#endif

static inline uint32_t kv_rng_load(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* The tbl24/tbl8 answer entry for addr, from its tbl24 entry e24 (class-0 /18s). */
static inline uint32_t kv_rng_tbl8_step(const uint32_t *tbl8, uint32_t e24, uint32_t addr) {
    if (e24 & KV_RNG_EXTENDED)
        return kv_rng_load(&tbl8[((size_t)(e24 & KV_RNG_VALUE_MASK) << 8) | (addr & 0xFF)]);
    return e24;
}

/* Where a lookup goes after its tbl18 entry e: the chunk's starts (or its index line), or
 * the tbl24 entry for class 0, or (uniform) the zero line. */
static inline const uint8_t *kv_rng_step1(const kv_rng_bases_t *b, const uint32_t *tbl24,
                                          uint32_t e, uint32_t addr) {
    uint32_t cls = (e & KV_RNG_EXTENDED) ? e >> 26 : 0;
    const uint8_t *p = b->starts[cls] + (size_t)(e & KV_RNG_INDEX_MASK) * b->starts_stride[cls];
    return (e & KV_RNG_EXTENDED) && cls == 0 ? (const uint8_t *)&tbl24[addr >> 8] : p;
}

/* The next address after step 1 for a chunk with cls >= 1: the run's value (one level), or the
 * data line of starts to rank next (two levels). */
#define KV_RNG_STEP2(RANK, b, e, cls, p1, key, out)                                          \
    do {                                                                                      \
        uint32_t k_ = (e) & KV_RNG_INDEX_MASK;                                                \
        if ((cls) < 5) {                                                                      \
            uint32_t r_ = RANK((const uint16_t *)(p1), kv_rng_cap(cls), (key));               \
            (out) = (b)->vals[cls] + (size_t)k_ * (b)->vals_stride[cls] + (r_ - 1) * 4u;      \
        } else {                                                                              \
            uint32_t blk_ = RANK((const uint16_t *)(p1), 32u, (key)) - 1;                     \
            (out) = (p1) + 64u + blk_ * 64u;                                                  \
        }                                                                                     \
    } while (0)

/* The run value for a two-level chunk from its data line p2 (block of 32 starts). */
#define KV_RNG_STEP3(RANK, b, e, cls, p1, p2, key, out)                                       \
    do {                                                                                      \
        uint32_t r_ = RANK((const uint16_t *)(p2), 32u, (key));                               \
        uint32_t run_ = (uint32_t)((p2) - (p1) - 64u) / 2u + r_ - 1;                          \
        (out) = *(const uint32_t *)((b)->vals[cls] +                                          \
                                    (size_t)((e) & KV_RNG_INDEX_MASK) * (b)->vals_stride[cls] \
                                    + run_ * 4u);                                             \
    } while (0)

#define KV_RNG_LOOKUP(RANK, b, tbl18, tbl24, tbl8, addr, out)                                 \
    do {                                                                                      \
        uint32_t e_ = kv_rng_load(&(tbl18)[(addr) >> 14]);                                    \
        if (e_ & KV_RNG_EXTENDED) {                                                           \
            uint32_t cls_ = e_ >> 26;                                                         \
            const uint8_t *p1_ = kv_rng_step1((b), (tbl24), e_, (addr));                      \
            if (cls_ == 0) {                                                                  \
                e_ = kv_rng_tbl8_step((tbl8), kv_rng_load((const uint32_t *)p1_), (addr));    \
            } else {                                                                          \
                const uint8_t *p2_;                                                           \
                KV_RNG_STEP2(RANK, (b), e_, cls_, p1_, (addr) & 0x3FFFu, p2_);                \
                if (cls_ < 5)                                                                 \
                    e_ = *(const uint32_t *)p2_;                                              \
                else                                                                          \
                    KV_RNG_STEP3(RANK, (b), e_, cls_, p1_, p2_, (addr) & 0x3FFFu, e_);        \
            }                                                                                 \
        }                                                                                     \
        (out) = kv_rng_answer(e_);                                                            \
    } while (0)

static inline int64_t kv_rng_lookup(const kv_rng_bases_t *b, const uint32_t *tbl18,
                                    const uint32_t *tbl24, const uint32_t *tbl8, uint32_t addr) {
    int64_t out;
    KV_RNG_LOOKUP(kv_rng_rank, b, tbl18, tbl24, tbl8, addr, out);
    return out;
}

/* ---- bulk lookup, in batches of KV_RNG_BATCH addresses and two passes. Pass 1 reads every
 * address's tbl18 entry (prefetched KV_RNG_AHEAD addresses ahead) and writes its answer, right
 * for a uniform /18 (73 % of the real table's routed addresses); the others are queued without
 * a branch (the queue's length grows by 0 or 1), their chunk's starts line prefetched. Pass 2
 * walks the queue: rank and read the run's value, in lines prefetched by pass 1. Which
 * kind of /18 an address falls in is as random as the addresses, so neither pass branches on
 * it; only two-level chunks and class 0 (rare) do. One copy per instruction set. ---- */

#define KV_RNG_BATCH 256
#define KV_RNG_AHEAD 16

typedef struct {
    uint32_t e;         /* tbl18 entry */
    uint32_t addr;
    uint32_t i;         /* index in the batch */
    const uint8_t *p;   /* what the next stage reads */
} kv_rng_slot_t;

#define KV_RNG_DEFINE_BULK(NAME, RANK, ATTR)                                                  \
    ATTR static void NAME(const kv_rng_bases_t *b, const uint32_t *tbl18,                     \
                          const uint32_t *tbl24, const uint32_t *tbl8, const uint32_t *addrs, \
                          int64_t *out, int n) {                                              \
        kv_rng_slot_t q[KV_RNG_BATCH + 1];                                                    \
        int i, j, np, m, base;                                                                \
        for (i = 0; i < n && i < KV_RNG_AHEAD; i++)                                           \
            __builtin_prefetch(&tbl18[addrs[i] >> 14], 0, 3);                                 \
        for (base = 0; base < n; base += KV_RNG_BATCH) {                                      \
            m = n - base < KV_RNG_BATCH ? n - base : KV_RNG_BATCH;                            \
            const uint32_t *a = addrs + base;                                                 \
            int64_t *o = out + base;                                                          \
            np = 0;                                                                           \
            for (i = 0; i < m; i++) {                                                         \
                if (base + i + KV_RNG_AHEAD < n)                                              \
                    __builtin_prefetch(&tbl18[a[i + KV_RNG_AHEAD] >> 14], 0, 3);              \
                uint32_t addr = a[i];                                                         \
                uint32_t e = kv_rng_load(&tbl18[addr >> 14]);                                 \
                o[i] = kv_rng_answer(e);                                                      \
                q[np].e = e;                                                                  \
                q[np].addr = addr;                                                            \
                q[np].i = (uint32_t)i;                                                        \
                const uint8_t *p = kv_rng_step1(b, tbl24, e, addr);                           \
                uint32_t span = b->span[(e & KV_RNG_EXTENDED) ? e >> 26 : 0];                 \
                q[np].p = p;                                                                  \
                __builtin_prefetch(p, 0, 3);                                                  \
                __builtin_prefetch(p + span / 2, 0, 3);                                       \
                __builtin_prefetch(p + span, 0, 3);                                           \
                np += (e >> 25) & 1;   /* KV_RNG_EXTENDED */                                  \
            }                                                                                 \
            for (j = 0; j < np; j++) {                                                        \
                kv_rng_slot_t *s = &q[j];                                                     \
                uint32_t e = s->e, cls = e >> 26, key = s->addr & 0x3FFFu, v;                 \
                if (__builtin_expect(cls - 1 < 4, 1)) {                                       \
                    uint32_t r = RANK((const uint16_t *)s->p, kv_rng_cap(cls), key);          \
                    v = ((const uint32_t *)(s->p + kv_rng_cap(cls) * 2u))[r - 1];             \
                } else if (cls) {                                                             \
                    uint32_t blk = RANK((const uint16_t *)s->p, 32u, key) - 1;                \
                    const uint16_t *d = (const uint16_t *)(s->p + 64u) + blk * 32u;           \
                    uint32_t r = RANK(d, 32u, key);                                           \
                    v = ((const uint32_t *)(s->p + 64u + kv_rng_cap(cls) * 2u))               \
                        [blk * 32u + r - 1];                                                  \
                } else {                                                                      \
                    v = kv_rng_tbl8_step(tbl8, *(const uint32_t *)s->p, s->addr);             \
                }                                                                             \
                o[s->i] = kv_rng_answer(v);                                                   \
            }                                                                                 \
        }                                                                                     \
    }

typedef void (*kv_rng_bulk_fn)(const kv_rng_bases_t *, const uint32_t *, const uint32_t *,
                               const uint32_t *, const uint32_t *, int64_t *, int);

#if defined(__x86_64__)
KV_RNG_DEFINE_BULK(kv_rng_bulk_sse2, kv_rng_rank_sse2, )
KV_RNG_DEFINE_BULK(kv_rng_bulk_avx2, kv_rng_rank_avx2, __attribute__((target("avx2,bmi"))))
KV_RNG_DEFINE_BULK(kv_rng_bulk_avx512, kv_rng_rank_avx512,
                   __attribute__((target("avx512f,avx512bw,bmi,popcnt"))))
#else
KV_RNG_DEFINE_BULK(kv_rng_bulk_scalar, kv_rng_rank_scalar, )
#endif

/* The bulk lookup for this CPU (isa: "avx512", "avx2", "sse2", "scalar" or NULL for the best
 * one); NULL when isa names a set the CPU lacks. */
static kv_rng_bulk_fn kv_rng_select(const char *isa, const char **chosen) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f") &&
                 __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
    int has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi");
    if (isa == NULL)
        isa = has512 ? "avx512" : has2 ? "avx2" : "sse2";
    *chosen = isa;
    if (strcmp(isa, "avx512") == 0)
        return has512 ? kv_rng_bulk_avx512 : NULL;
    if (strcmp(isa, "avx2") == 0)
        return has2 ? kv_rng_bulk_avx2 : NULL;
    if (strcmp(isa, "sse2") == 0)
        return kv_rng_bulk_sse2;
    return NULL;
#else
    if (isa == NULL)
        isa = "scalar";
    *chosen = isa;
    return strcmp(isa, "scalar") == 0 ? kv_rng_bulk_scalar : NULL;
#endif
}

/* ---- the writer: chunk regions and rebuilding one /18's tbl18 entry ---- */

typedef struct {
    uint32_t *items;
    uint32_t count, room;
} kv_rng_stack_t;

typedef struct {
    kv_rng_bases_t bases;            /* first: what lookups read */
    uint8_t *map;                    /* every class's regions, reserved in one mapping */
    size_t map_bytes;
    uint32_t high[KV_RNG_CLASSES];   /* chunk indexes handed out at least once, per class */
    uint32_t chunks[KV_RNG_CLASSES]; /* reachable chunks per class */
    kv_rng_stack_t free_list[KV_RNG_CLASSES];
    kv_rng_stack_t limbo;            /* (index << 3 | class) replaced, oldest first from head */
    kv_rng_stack_t limbo_ms;         /* when each was replaced (monotonic ms, wrapping) */
    uint32_t limbo_head;
    uint16_t starts[1 << 14];        /* scratch: the runs of the /18 being rebuilt */
    uint32_t vals[1 << 14];
} kv_rng_t;


static int kv_rng_push(kv_rng_stack_t *s, uint32_t v) {
    if (s->count == s->room) {
        uint32_t room = s->room ? s->room * 2 : 64;
        uint32_t *items = (uint32_t *)realloc(s->items, room * sizeof(uint32_t));
        if (items == NULL)
            return -1;
        s->items = items;
        s->room = room;
    }
    s->items[s->count++] = v;
    return 0;
}

static kv_rng_t *kv_rng_new(void) {
    kv_rng_t *r = (kv_rng_t *)calloc(1, sizeof(kv_rng_t));
    if (r == NULL)
        return NULL;
    size_t total = 0;
    for (uint32_t c = 1; c < KV_RNG_CLASSES; c++)
        total += kv_rng_chunk_bytes(c) * (size_t)KV_RNG_MAX_CHUNKS;
    /* Reserved, not committed: pages are backed as chunks are first written. */
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        free(r);
        return NULL;
    }
    madvise(p, total, MADV_HUGEPAGE);
    r->map = (uint8_t *)p;
    r->map_bytes = total;
    uint8_t *at = r->map;
    r->bases.starts[0] = r->bases.vals[0] = kv_rng_zero_line;
    for (uint32_t c = 1; c < KV_RNG_CLASSES; c++) {
        r->bases.starts[c] = at;
        r->bases.vals[c] = at + kv_rng_starts_bytes(c);
        r->bases.starts_stride[c] = r->bases.vals_stride[c] = (uint32_t)kv_rng_chunk_bytes(c);
        /* Two-level chunks: the index line only (the data line depends on it). */
        r->bases.span[c] = c >= 5 ? 63u : (uint32_t)kv_rng_chunk_bytes(c) - 1u;
        at += kv_rng_chunk_bytes(c) * (size_t)KV_RNG_MAX_CHUNKS;
    }
    return r;
}

static void kv_rng_free(kv_rng_t *r) {
    if (r == NULL)
        return;
    munmap(r->map, r->map_bytes);
    for (int c = 0; c < KV_RNG_CLASSES; c++)
        free(r->free_list[c].items);
    free(r->limbo.items);
    free(r->limbo_ms.items);
    free(r);
}

#define KV_RNG_QUARANTINE_MS 100u

static uint32_t kv_rng_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Start of an update: chunks replaced at least KV_RNG_QUARANTINE_MS ago become reusable. */
static void kv_rng_begin(kv_rng_t *r) {
    if (r->limbo_head == r->limbo.count)
        return;
    uint32_t now = kv_rng_now_ms();
    while (r->limbo_head < r->limbo.count &&
           now - r->limbo_ms.items[r->limbo_head] >= KV_RNG_QUARANTINE_MS) {
        uint32_t v = r->limbo.items[r->limbo_head++];
        if (kv_rng_push(&r->free_list[v & 7], v >> 3) != 0)
            continue;   /* out of memory: the chunk is leaked, never reused too early */
    }
    if (r->limbo_head == r->limbo.count) {
        r->limbo_head = r->limbo.count = r->limbo_ms.count = 0;
    } else if (r->limbo_head >= 4096 && r->limbo_head * 2 >= r->limbo.count) {
        uint32_t left = r->limbo.count - r->limbo_head;
        memmove(r->limbo.items, r->limbo.items + r->limbo_head, left * sizeof(uint32_t));
        memmove(r->limbo_ms.items, r->limbo_ms.items + r->limbo_head, left * sizeof(uint32_t));
        r->limbo.count = r->limbo_ms.count = left;
        r->limbo_head = 0;
    }
}

/* Put a replaced chunk in limbo (out of memory: leak it rather than reuse it too early). */
static void kv_rng_retire(kv_rng_t *r, uint32_t item) {
    if (kv_rng_push(&r->limbo_ms, kv_rng_now_ms()) != 0)
        return;
    if (kv_rng_push(&r->limbo, item) != 0)
        r->limbo_ms.count--;
}

/* Every chunk unreachable (tbl18 cleared by the caller): start afresh. */
static void kv_rng_reset(kv_rng_t *r) {
    memset(r->high, 0, sizeof(r->high));
    memset(r->chunks, 0, sizeof(r->chunks));
    for (int c = 0; c < KV_RNG_CLASSES; c++)
        r->free_list[c].count = 0;
    r->limbo.count = r->limbo_ms.count = r->limbo_head = 0;
}

/* Bytes of chunk memory handed out (reachable, free or waiting). */
static size_t kv_rng_bytes(const kv_rng_t *r) {
    size_t total = 0;
    for (uint32_t c = 1; c < KV_RNG_CLASSES; c++)
        total += (size_t)r->high[c] * kv_rng_chunk_bytes(c);
    return total;
}

/* A chunk index of class cls, or -1. */
static int64_t kv_rng_alloc(kv_rng_t *r, uint32_t cls) {
    kv_rng_stack_t *f = &r->free_list[cls];
    if (f->count)
        return f->items[--f->count];
    if (r->high[cls] == KV_RNG_MAX_CHUNKS)
        return -1;   /* cannot happen while each /18 holds one chunk; class 0 if it does */
    return r->high[cls]++;
}

/* Re-derive tbl18[j] from tbl24/tbl8 (after they changed): a uniform answer, a chunk of runs,
 * or class 0. Returns 1 if the entry changed. */
static int kv_rng_refresh(kv_rng_t *r, uint32_t *tbl18, const uint32_t *tbl24,
                          const uint32_t *tbl8, uint32_t j) {
    const uint32_t *run = tbl24 + (size_t)j * 64;
    uint32_t n = 0, prev = 0xFFFFFFFFu, v, e, i, k, cls, cap, fresh;
    int64_t idx = -1;
    for (i = 0; i < 64; i++) {
        e = run[i];
        if (e & KV_RNG_EXTENDED) {
            const uint32_t *g = tbl8 + ((size_t)(e & KV_RNG_VALUE_MASK) << 8);
            for (k = 0; k < 256; k++) {
                v = g[k] & KV_RNG_ANSWER_MASK;
                if (v != prev) {
                    r->starts[n] = (uint16_t)(i * 256 + k);
                    r->vals[n++] = v;
                    prev = v;
                }
            }
        } else {
            v = e & KV_RNG_ANSWER_MASK;
            if (v != prev) {
                r->starts[n] = (uint16_t)(i * 256);
                r->vals[n++] = v;
                prev = v;
            }
        }
    }
    if (n == 1) {
        fresh = r->vals[0];
    } else {
        cls = 1;
        while (kv_rng_cap(cls) < n)
            cls++;
        fresh = KV_RNG_EXTENDED;   /* class 0: tbl24/tbl8 answer */
        if (n <= KV_RNG_MAX_RUNS)
            idx = kv_rng_alloc(r, cls);
        if (idx >= 0) {
            cap = kv_rng_cap(cls);
            uint16_t *line = (uint16_t *)(r->bases.starts[cls] + (size_t)idx * kv_rng_chunk_bytes(cls));
            uint16_t *s = line + (cls >= 5 ? 32 : 0);
            uint32_t *vals = (uint32_t *)(r->bases.vals[cls] + (size_t)idx * kv_rng_chunk_bytes(cls));
            memcpy(s, r->starts, n * sizeof(uint16_t));
            memcpy(vals, r->vals, n * sizeof(uint32_t));
            for (i = n; i < cap; i++) {
                s[i] = KV_RNG_PAD;
                vals[i] = 0;
            }
            if (cls >= 5)
                for (i = 0; i < 32; i++)
                    line[i] = i * 32 < n ? s[i * 32] : KV_RNG_PAD;
            fresh = KV_RNG_EXTENDED | (cls << 26) | (uint32_t)idx;
            r->chunks[cls]++;
        }
    }
    uint32_t old = tbl18[j];
    if (old == fresh)
        return 0;
    /* The chunk's stores come before the entry that names it. */
    __atomic_store_n(&tbl18[j], fresh, __ATOMIC_RELEASE);
    if ((old & KV_RNG_EXTENDED) && (old >> 26) != 0) {
        cls = old >> 26;
        r->chunks[cls]--;
        kv_rng_retire(r, (old & KV_RNG_INDEX_MASK) << 3 | cls);
    }
    return 1;
}

#endif
