/* Internet checksum (RFC 1071) sums over header bytes where they lie, for the engine
 * (chelpers.pxi) and native code (native_abi.h). */
#ifndef KVICK_CSUM_H
#define KVICK_CSUM_H

#include <stdint.h>
#include <string.h>

/* Sum of big-endian 16-bit words, taken 32 bits at a time: 2^16 = 1 modulo 0xFFFF, so
   the end-around-carry fold of this sum equals that of the 16-bit words. */
static inline uint64_t kv_sum_be16(const uint8_t *p, uint32_t nbytes) {
    uint64_t sum = 0, w64;
    uint32_t w32;
    uint16_t w16;
    uint32_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        memcpy(&w64, p + i, 8);
        w64 = __builtin_bswap64(w64);
        sum += (w64 >> 32) + (uint32_t)w64;
    }
    if (i + 4 <= nbytes) {
        memcpy(&w32, p + i, 4);
        sum += __builtin_bswap32(w32);
        i += 4;
    }
    if (i < nbytes) {
        memcpy(&w16, p + i, 2);
        sum += __builtin_bswap16(w16);
    }
    return sum;
}
/* kv_sum_be16 with the words in the machine's byte order (no swaps): on a little-endian
   machine its fold is the byte-swapped fold of kv_sum_be16's (RFC 1071, 2.B). */
static inline uint64_t kv_sum_ne16(const uint8_t *p, uint32_t nbytes) {
    uint64_t sum = 0, w64;
    uint32_t w32;
    uint16_t w16;
    uint32_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        memcpy(&w64, p + i, 8);
        sum += (w64 >> 32) + (uint32_t)w64;
    }
    if (i + 4 <= nbytes) {
        memcpy(&w32, p + i, 4);
        sum += w32;
        i += 4;
    }
    if (i < nbytes) {
        memcpy(&w16, p + i, 2);
        sum += w16;
    }
    return sum;
}

/* The Internet checksum of a kv_sum_be16 total: end-around carries, then complement. */
static inline uint64_t kv_csum_fold(uint64_t sum) {
    sum = (sum & 0xFFFFFFFFULL) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    return (~sum) & 0xFFFF;
}

#endif
