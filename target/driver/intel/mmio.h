/* Register and descriptor access for the Intel ring code.
 *
 * Registers live in the device's BAR (uncached MMIO), descriptors in DMA memory the device writes
 * behind the compiler's back: every access is volatile. On x86 stores are not reordered with
 * other stores, so a compiler barrier (a release fence) is enough to make descriptor writes
 * visible before the tail register write that hands them to the device; the acquire load of a
 * descriptor's status keeps the reads of its other fields after the DD check. */
#ifndef KVICK_INTEL_MMIO_H
#define KVICK_INTEL_MMIO_H
#include <stdint.h>

static inline uint32_t kv_reg_read(const uint8_t *bar, uint32_t off)
{
    return *(const volatile uint32_t *)(bar + off);
}

static inline void kv_reg_write(uint8_t *bar, uint32_t off, uint32_t value)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    *(volatile uint32_t *)(bar + off) = value;
}

static inline uint32_t kv_desc_status(const uint8_t *desc, uint32_t off)
{
    return __atomic_load_n((const uint32_t *)(desc + off), __ATOMIC_ACQUIRE);
}

static inline uint16_t kv_desc_u16(const uint8_t *desc, uint32_t off)
{
    return *(const volatile uint16_t *)(desc + off);
}

static inline void kv_desc_put64(uint8_t *desc, uint32_t off, uint64_t value)
{
    *(volatile uint64_t *)(desc + off) = value;
}

static inline void kv_desc_put32(uint8_t *desc, uint32_t off, uint32_t value)
{
    *(volatile uint32_t *)(desc + off) = value;
}
#endif
