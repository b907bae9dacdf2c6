# C helpers of the executor: prefetch, Internet checksum sums (csum.h), 64-byte aligned and
# huge-page arrays, 128-bit conversions (included by engine.pyx).

cdef extern from *:
    """
    static inline void kv_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }
    static inline void kv_prefetch_write(const void *p) { __builtin_prefetch(p, 1, 3); }
    /* Externs several workers may update at once (Pipeline.shared): register and meter
       arrays take a spinlock per access, so that each read, write or meter execution is
       atomic, as BMv2 locks a register array per access. With one worker it is not taken.
       (Counters have cells per worker instead: counters.pxi.) */
    static inline void kv_spin_lock(int *lock) {
        while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
    #if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
    #endif
            }
        }
    }
    static inline void kv_spin_unlock(int *lock) { __atomic_store_n(lock, 0, __ATOMIC_RELEASE); }
    /* Clear a job slot's state in whole 8-byte words (slots have slack past state_bytes). */
    static inline void kv_zero_words(uint8_t *p, uint32_t nbytes) {
        uint64_t *w = (uint64_t *)(void *)p;
        for (uint32_t i = 0; i < (nbytes + 7) / 8; i++) w[i] = 0;
    }
    """
    void kv_prefetch(const void *p) noexcept nogil
    void kv_spin_lock(int *lock) noexcept nogil
    void kv_spin_unlock(int *lock) noexcept nogil
    void kv_prefetch_write(const void *p) noexcept nogil
    void kv_zero_words(uint8_t *p, uint32_t nbytes) noexcept nogil

# Internet checksum sums: a header of their own, shared with native code (native_abi.h).
cdef extern from "pipeline/csum.h":
    uint64_t kv_sum_be16(const uint8_t *p, uint32_t nbytes) noexcept nogil
    uint64_t kv_csum_fold(uint64_t sum) noexcept nogil

cdef extern from *:
    """
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mman.h>
    #define KV_HUGE (2u << 20)
    /* Entry records: 64-byte aligned (realloc keeps only 16). Once an array passes 2 MiB it
       lives in its own mapping advised for transparent huge pages: the data path reads one
       random record per packet, and with 4 KiB pages every such read is also a TLB miss. */
    static size_t kv_big_bytes(size_t n) { return (n + KV_HUGE - 1) & ~(size_t)(KV_HUGE - 1); }
    static void kv_free_aligned(void *p, size_t bytes) {
        if (!p) return;
        if (bytes >= KV_HUGE) munmap(p, kv_big_bytes(bytes)); else free(p);
    }
    static void *kv_grow_aligned(void *old, size_t old_bytes, size_t new_bytes) {
        void *p = NULL;
        if (new_bytes >= KV_HUGE) {
            size_t len = kv_big_bytes(new_bytes);
            char *raw = mmap(NULL, len + KV_HUGE, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (raw == MAP_FAILED) return NULL;
            /* keep a 2 MiB aligned window of len bytes, give back the rest */
            char *base = (char *)(((uintptr_t)raw + KV_HUGE - 1) & ~(uintptr_t)(KV_HUGE - 1));
            if (base > raw) munmap(raw, base - raw);
            if (raw + len + KV_HUGE > base + len) munmap(base + len, raw + len + KV_HUGE - (base + len));
            madvise(base, len, MADV_HUGEPAGE);
            p = base;
        } else if (posix_memalign(&p, 64, new_bytes ? new_bytes : 64) != 0) {
            return NULL;
        }
        if (old) {
            memcpy(p, old, old_bytes < new_bytes ? old_bytes : new_bytes);
            kv_free_aligned(old, old_bytes);
        }
        return p;
    }
    """
    void *grow_aligned "kv_grow_aligned" (void *old, size_t old_bytes, size_t new_bytes) noexcept nogil
    void free_aligned "kv_free_aligned" (void *p, size_t bytes) noexcept nogil

cdef object u128_to_int(u128 v):
    return (int(<uint64_t>(v >> 64)) << 64) | int(<uint64_t>v)


cdef object s128_to_int(s128 v):
    cdef u128 u = <u128>v
    cdef object r = (int(<uint64_t>(u >> 64)) << 64) | int(<uint64_t>u)
    if r >> 127:
        r -= 1 << 128
    return r


cdef u128 int_to_u128(object v) except *:
    v = int(v) & ((1 << 128) - 1)
    return ((<u128>(<uint64_t>(v >> 64))) << 64) | <u128>(<uint64_t>(v & 0xFFFFFFFFFFFFFFFF))
