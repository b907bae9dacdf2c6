# The clock every C part of the target reads: one definition, inlined where it is used.

from libc.stdint cimport uint64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec


cdef inline uint64_t clock_ns(int clock) noexcept nogil:
    cdef timespec ts
    clock_gettime(clock, &ts)
    return <uint64_t>ts.tv_sec * 1000000000ULL + <uint64_t>ts.tv_nsec


cdef inline uint64_t monotonic_ns() noexcept nogil:
    """CLOCK_MONOTONIC in nanoseconds: timeouts, meters, pacing, idle times."""
    return clock_ns(CLOCK_MONOTONIC)
