/* Bit-level access to packed big-endian header storage.
 *
 * A header instance lives in the packet header vector exactly as it travels on the wire:
 * fields packed most significant bit first. Reading a field is one unaligned big-endian load,
 * a shift and a mask, so extract and emit are plain memcpy. Callers keep 16 spare bytes after
 * every buffer these functions touch, so the wide loads never run off the end.
 */
#ifndef KVICK_BITS_H
#define KVICK_BITS_H

#include <stdint.h>
#include <string.h>

typedef unsigned __int128 kv_u128;
typedef __int128 kv_s128;

static inline uint64_t kv_load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

static inline void kv_store_be64(uint8_t *p, uint64_t v) {
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
}

static inline kv_u128 kv_mask128(uint32_t width) {
    return width >= 128 ? ~(kv_u128)0 : (((kv_u128)1 << width) - 1);
}

/* Unsigned value of `width` bits (1..128) starting `bitoff` bits after `base`. */
static inline __attribute__((always_inline)) kv_u128 kv_bits_read(const uint8_t *base, uint32_t bitoff, uint32_t width) {
    const uint8_t *p = base + (bitoff >> 3);
    uint32_t lead = bitoff & 7;
    if (lead + width <= 64) {
        uint64_t w = kv_load_be64(p);
        return (kv_u128)((w << lead) >> (64 - width));
    }
    if (lead + width <= 128) {
        kv_u128 w = ((kv_u128)kv_load_be64(p) << 64) | kv_load_be64(p + 8);
        return (w << lead) >> (128 - width);
    }
    /* Spans 17 bytes: a 121..128-bit field that does not start on a byte. */
    kv_u128 w = ((kv_u128)kv_load_be64(p) << 64) | kv_load_be64(p + 8);
    w = (w << lead) | (kv_u128)(p[16] >> (8 - lead));
    return w >> (128 - width);
}

/* Wide or straddling stores: bit by bit from the least significant (rare; out of line). */
__attribute__((noinline)) static void kv_bits_write_slow(uint8_t *base, uint32_t bitoff,
                                                         uint32_t width, kv_u128 v) {
    for (uint32_t i = 0; i < width; i++) {
        uint32_t b = bitoff + width - 1 - i;
        uint8_t bit = (uint8_t)((v >> i) & 1);
        uint8_t m = (uint8_t)(0x80 >> (b & 7));
        if (bit) base[b >> 3] |= m; else base[b >> 3] &= (uint8_t)~m;
    }
}

/* Store the low `width` bits of v at `bitoff`, leaving the neighbouring bits alone. */
static inline __attribute__((always_inline)) void kv_bits_write(uint8_t *base, uint32_t bitoff,
                                                                uint32_t width, kv_u128 v) {
    uint8_t *p = base + (bitoff >> 3);
    uint32_t lead = bitoff & 7;
    if (__builtin_expect(lead + width <= 64, 1)) {
        uint64_t mask = (width == 64 ? ~0ULL : ((1ULL << width) - 1)) << (64 - lead - width);
        uint64_t w = kv_load_be64(p);
        w = (w & ~mask) | (((uint64_t)v << (64 - lead - width)) & mask);
        kv_store_be64(p, w);
        return;
    }
    kv_bits_write_slow(base, bitoff, width, v);
}

/* Copy `width` bits of any size between two bit positions (fields wider than 128 bits). */
static inline void kv_bits_copy(uint8_t *dst, uint32_t dbit, const uint8_t *src, uint32_t sbit,
                                uint32_t width) {
    if (width <= 64 - 7) {   /* fits one unaligned load and store whatever the bit offsets */
        kv_bits_write(dst, dbit, width, kv_bits_read(src, sbit, width));
        return;
    }
    if (((dbit | sbit | width) & 7) == 0) {
        memmove(dst + (dbit >> 3), src + (sbit >> 3), width >> 3);
        return;
    }
    while (width > 0) {
        uint32_t chunk = width > 64 ? 64 : width;
        kv_bits_write(dst, dbit + width - chunk, chunk, kv_bits_read(src, sbit + width - chunk, chunk));
        width -= chunk;
    }
}

/* Copy n bytes between buffers that do not overlap, inline: headers are a few dozen bytes,
 * where a call to memcpy costs more than the copy. Two overlapping moves of the largest
 * power of two not above n cover 1..32 bytes, touching nothing past either buffer's n bytes. */
static inline __attribute__((always_inline)) void kv_copy_small(uint8_t *restrict d,
                                                                const uint8_t *restrict s,
                                                                uint32_t n) {
    if (n > 32) {
        memcpy(d, s, n);
    } else if (n >= 16) {
        memcpy(d, s, 16);
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n >= 2) {
        memcpy(d, s, 2);
        memcpy(d + n - 2, s + n - 2, 2);
    } else if (n) {
        d[0] = s[0];
    }
}

/* Sign-extend the low `width` bits of v. */
static inline kv_s128 kv_sext(kv_u128 v, uint32_t width) {
    if (width >= 128) return (kv_s128)v;
    kv_u128 sign = (kv_u128)1 << (width - 1);
    v &= kv_mask128(width);
    return (kv_s128)((v ^ sign) - sign);
}

/* A field of the packet header vector, as the executor addresses it. */
typedef struct {
    uint32_t bitoff;    /* from the start of the PHV */
    uint16_t width;     /* bits (the maximum for a varbit field) */
    uint8_t is_signed;
    uint8_t varbit;     /* 1: the value's current length is its header's vlen */
    uint32_t hdr;       /* owning header instance */
    /* Most fields are unsigned, fixed and lie within the 8-byte big-endian word that starts
       at their first byte: one load, a mask and a shift read them. */
    uint8_t narrow;
    uint8_t shift;      /* narrow: 64 - bitoff % 8 - width */
    uint32_t byte;      /* bitoff / 8 */
    uint64_t mask;      /* narrow: the field's bits within that word */
    uint8_t whole;      /* narrow, byte-aligned and whole bytes: its size in bytes, else 0 */
} kv_field_t;

/* Store the low n (1..8) bytes of v big-endian at p, touching no other byte. Bit tests on n
 * rather than a switch: a jump table would be one indirect branch for every field size. */
static inline __attribute__((always_inline)) void kv_store_be_bytes(uint8_t *p, uint64_t v,
                                                                    uint32_t n) {
    uint32_t w32; uint16_t w16;
    if (n == 8) { kv_store_be64(p, v); return; }
    if (n & 4) { w32 = __builtin_bswap32((uint32_t)(v >> (8 * (n & 3)))); memcpy(p, &w32, 4); p += 4; }
    if (n & 2) { w16 = __builtin_bswap16((uint16_t)(v >> (8 * (n & 1)))); memcpy(p, &w16, 2); p += 2; }
    if (n & 1) p[0] = (uint8_t)v;
}

__attribute__((noinline)) static kv_s128 kv_field_read_slow(const kv_field_t *f, const uint8_t *phv,
                                                            const uint32_t *vlen) {
    uint32_t width = f->width;
    if (f->varbit) {
        width = vlen[f->hdr];
        if (width == 0) return 0;
    }
    kv_u128 v = kv_bits_read(phv, f->bitoff, width);
    return f->is_signed ? kv_sext(v, width) : (kv_s128)v;
}

/* The field's value (sign-extended when it is signed). */
static inline __attribute__((always_inline)) kv_s128 kv_field_read(const kv_field_t *f,
                                                                   const uint8_t *phv,
                                                                   const uint32_t *vlen) {
    if (__builtin_expect(f->narrow, 1))
        return (kv_s128)((kv_load_be64(phv + f->byte) & f->mask) >> f->shift);
    return kv_field_read_slow(f, phv, vlen);
}

/* Store the low bits of v into the field (a varbit field keeps its current length). */
static inline __attribute__((always_inline)) void kv_field_write(const kv_field_t *f, uint8_t *phv,
                                                                 kv_s128 v) {
    if (f->whole) {
        /* a plain store: no load of the surrounding word, which may still be in flight */
        kv_store_be_bytes(phv + f->byte, (uint64_t)v, f->whole);
        return;
    }
    if (__builtin_expect(f->narrow, 1)) {
        uint64_t w = kv_load_be64(phv + f->byte);
        kv_store_be64(phv + f->byte, (w & ~f->mask) | (((uint64_t)v << f->shift) & f->mask));
        return;
    }
    kv_bits_write(phv, f->bitoff, f->width, (kv_u128)v);
}

static inline int kv_u128_to_dec(kv_u128 v, char *out) {  /* for traces: digits, no sign */
    char tmp[48]; int n = 0, i;
    do { tmp[n++] = (char)('0' + (int)(v % 10)); v /= 10; } while (v);
    for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return n;
}

/* RFC 1071 checksum of byte-aligned runs of whole 16-bit words, read in place. */
static inline uint16_t kv_csum16_runs(const uint8_t *base, const uint32_t *byteoffs,
                                      const uint32_t *nbytes, uint32_t nruns) {
    uint64_t sum = 0;
    for (uint32_t r = 0; r < nruns; r++) {
        const uint8_t *p = base + byteoffs[r];
        for (uint32_t i = 0; i < nbytes[r]; i += 2)
            sum += ((uint32_t)p[i] << 8) | p[i + 1];
    }
    while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
    return (uint16_t)~sum;
}

#endif
