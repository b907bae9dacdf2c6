# cython: language_level=3
"""Meters: BMv2's two-rate three-colour marker (RFC 2698 trTCM), bit for bit.

What BMv2 (src/bm_sim/meters.cpp) does, and so what this module does:
- A meter takes `rate_count` (info_rate, burst_size) pairs in increasing rate order: for v1model
  [(CIR, CBS), (PIR, PBS)]. info_rate is in units per MICROSECOND (a double), burst_size in units;
  units are bytes or packets (JSON meter_arrays[].type). A rate lower than the one before it is
  refused (INVALID_INFO_RATE_VALUE); so is a list of the wrong length. Equal rates are fine.
- P4Runtime speaks units per second: BMv2's PI layer sets info_rate = rate / 1e6 and reads it
  back as uint64(info_rate * 1e6) (truncated, so a read can come back one lower);
  rates_from_per_second / rates_to_per_second do the same.
- Configuring fills every bucket (tokens = burst_size) and sets tokens_last = 0.
- An unconfigured meter (never set, or reset) returns GREEN and keeps no state.
- Executing at time `now` with cost `amount` (1 for packet meters; for byte meters the packet's
  INGRESS length, i.e. the frame length as received, whatever the program did to it since):
    us = whole microseconds from the meter's time origin to now (truncated);
    for each bucket, highest rate first (PIR, then CIR):
        credit = uint64(us * info_rate)             # double product, truncated
        tokens = min(tokens + credit - tokens_last, burst_size); tokens_last = credit
        if tokens < amount: colour = this bucket's colour (PIR: RED, CIR: YELLOW); stop
        tokens -= amount
  and GREEN if every bucket paid. A bucket after the one that refused is neither refilled nor
  charged (its refill is not lost: credit is cumulative from the origin). Because credit is
  always recomputed from the origin, rounding never accumulates.
- The time origin is when the meter was created (BMv2: when the program was loaded); it only
  decides where microsecond boundaries fall.
Colours are GREEN=0, YELLOW=1, RED=2; the execute_meter primitive (and a direct meter's
result_target) stores the colour into the destination field.

Where this differs from BMv2, only outside what BMv2 can meet: a timestamp earlier than one
already seen (workers or ports out of order) adds no tokens instead of wrapping around; a credit
that does not fit 64 bits saturates; a refused configuration leaves the previous one in place
(BMv2 may leave it half-written).

Concurrency: every cell has a spinlock taken by meter_execute and by (re)configuration, like
BMv2's per-meter mutex; workers on several cores may share a meter.
"""

from libc.math cimport isnan
from libc.stdint cimport UINT64_MAX
from libc.stdlib cimport calloc, free

from target.clock cimport monotonic_ns
from target.pipeline.meter cimport (
    METER_BAD_RATES_LIST,
    METER_BYTES,
    METER_GREEN,
    METER_INVALID_INFO_RATE,
    METER_MAX_RATES,
    METER_OK,
    METER_PACKETS,
)


cdef extern from *:
    """
    static inline void kvick_meter_lock(uint32_t *lock) {
        while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
            while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
    #if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
    #endif
            }
        }
    }
    static inline void kvick_meter_unlock(uint32_t *lock) {
        __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    }
    """
    void kvick_meter_lock(uint32_t *lock) nogil
    void kvick_meter_unlock(uint32_t *lock) nogil


# 2**64 as a double: the first product that does not fit a uint64.
cdef double _CREDIT_LIMIT = 18446744073709551616.0


cdef void meter_init(meter_t *m, uint64_t origin_ns, uint32_t rate_count) noexcept nogil:
    cdef int i
    for i in range(METER_MAX_RATES):
        m.rates[i].info_rate = 0
        m.rates[i].burst_size = 0
        m.rates[i].tokens = 0
        m.rates[i].tokens_last = 0
        m.rates[i].color = 0
    m.origin_ns = origin_ns
    m.rate_count = rate_count
    m.configured = 0
    m.lock = 0


cdef int meter_configure(meter_t *m, const double *info_rates, const uint64_t *burst_sizes,
                         uint32_t nrates) noexcept nogil:
    """Set rates given lowest first (CIR, PIR); fills the buckets. State is unchanged on error."""
    cdef uint32_t i, slot
    if nrates != m.rate_count or nrates == 0 or nrates > METER_MAX_RATES:
        return METER_BAD_RATES_LIST
    for i in range(nrates):
        if isnan(info_rates[i]) or info_rates[i] < 0:
            return METER_INVALID_INFO_RATE
        if i > 0 and info_rates[i - 1] > info_rates[i]:
            return METER_INVALID_INFO_RATE
    kvick_meter_lock(&m.lock)
    for i in range(nrates):
        # Stored highest rate first; the i-th given rate's colour is i + 1 (CIR -> YELLOW).
        slot = nrates - 1 - i
        m.rates[slot].info_rate = info_rates[i]
        m.rates[slot].burst_size = burst_sizes[i]
        m.rates[slot].tokens = burst_sizes[i]
        m.rates[slot].tokens_last = 0
        m.rates[slot].color = i + 1
    m.configured = 1
    kvick_meter_unlock(&m.lock)
    return METER_OK


cdef void meter_reset(meter_t *m) noexcept nogil:
    kvick_meter_lock(&m.lock)
    m.configured = 0
    kvick_meter_unlock(&m.lock)


cdef uint32_t meter_get_rates(meter_t *m, double *info_rates, uint64_t *burst_sizes) noexcept nogil:
    """Rates lowest first, as configured; returns how many (0 when unconfigured)."""
    cdef uint32_t i, n = 0
    kvick_meter_lock(&m.lock)
    if m.configured:
        n = m.rate_count
        for i in range(n):
            info_rates[i] = m.rates[n - 1 - i].info_rate
            burst_sizes[i] = m.rates[n - 1 - i].burst_size
    kvick_meter_unlock(&m.lock)
    return n


cdef int meter_execute(meter_t *m, uint64_t now_ns, uint32_t amount) noexcept nogil:
    cdef int color = METER_GREEN
    cdef uint64_t micros, credit, tokens
    cdef double product
    cdef uint32_t i
    cdef meter_rate_t *rate
    kvick_meter_lock(&m.lock)
    if not m.configured:
        kvick_meter_unlock(&m.lock)
        return METER_GREEN
    micros = (now_ns - m.origin_ns) // 1000 if now_ns > m.origin_ns else 0
    for i in range(m.rate_count):
        rate = &m.rates[i]
        product = <double>micros * rate.info_rate
        credit = UINT64_MAX if product >= _CREDIT_LIMIT else <uint64_t>product
        if credit > rate.tokens_last:
            tokens = rate.tokens + (credit - rate.tokens_last)
            if tokens < rate.tokens:            # wrapped: only with absurd rates
                tokens = UINT64_MAX
            rate.tokens = tokens if tokens < rate.burst_size else rate.burst_size
            rate.tokens_last = credit
        if rate.tokens < amount:
            color = rate.color
            break
        rate.tokens -= amount
    kvick_meter_unlock(&m.lock)
    return color


# ---- Python access -----------------------------------------------------------------------------

_KINDS = {"bytes": METER_BYTES, "packets": METER_PACKETS}


def rates_from_per_second(rates: list[tuple[int, int]]) -> list[tuple[float, int]]:
    """P4Runtime (units per second, burst) pairs as BMv2 stores them (units per microsecond)."""
    return [(rate / 1000000.0, burst) for rate, burst in rates]


def rates_to_per_second(rates: list[tuple[float, int]]) -> list[tuple[int, int]]:
    """The inverse as BMv2's PI layer computes it: the product truncated to an integer."""
    return [(int(rate * 1000000.0), burst) for rate, burst in rates]


cdef class MeterArray:
    """`size` meters of one kind ("bytes" or "packets") taking `rate_count` rates each.

    `origin_ns` is the time origin (CLOCK_MONOTONIC ns) of every cell, now by default.
    """

    def __cinit__(self, uint32_t size, str kind="bytes", uint32_t rate_count=2,
                  origin_ns: int | None = None):
        cdef uint64_t origin
        cdef uint32_t i
        if kind not in _KINDS:
            raise ValueError(f"meter kind must be 'bytes' or 'packets', not {kind!r}")
        if not 1 <= rate_count <= METER_MAX_RATES:
            raise ValueError(f"meters take 1 to {METER_MAX_RATES} rates, not {rate_count}")
        self.cells = <meter_t *>calloc(size if size else 1, sizeof(meter_t))
        if self.cells == NULL:
            raise MemoryError()
        self.size = size
        self.rate_count = rate_count
        self.kind_id = _KINDS[kind]
        origin = monotonic_ns() if origin_ns is None else origin_ns
        for i in range(size):
            meter_init(&self.cells[i], origin, rate_count)

    def __dealloc__(self):
        free(self.cells)

    @property
    def kind(self) -> str:
        return "packets" if self.kind_id == METER_PACKETS else "bytes"

    cdef meter_t *_cell(self, index) except NULL:
        if not 0 <= index < self.size:
            raise IndexError(f"meter index {index} out of range for size {self.size}")
        return &self.cells[index]

    def set_rates(self, index: int, rates: list[tuple[float, int]]) -> None:
        """Configure one meter: [(CIR, CBS), (PIR, PBS)], rates in units per microsecond."""
        cdef meter_t *cell = self._cell(index)
        cdef double info_rates[METER_MAX_RATES]
        cdef uint64_t burst_sizes[METER_MAX_RATES]
        cdef uint32_t i, n = len(rates)
        cdef int rc
        if n != self.rate_count:
            raise ValueError(f"meter takes {self.rate_count} (rate, burst) pairs, got {n}")
        for i in range(n):
            rate, burst = rates[i]
            if burst < 0:
                raise ValueError(f"negative burst size {burst}")
            info_rates[i] = rate
            burst_sizes[i] = burst
        with nogil:
            rc = meter_configure(cell, info_rates, burst_sizes, n)
        if rc == METER_INVALID_INFO_RATE:
            raise ValueError(f"meter rates must be non-negative and non-decreasing: {rates}")
        if rc != METER_OK:
            raise ValueError(f"bad meter rates list: {rates}")

    def get_rates(self, index: int) -> list[tuple[float, int]]:
        """The configured [(CIR, CBS), (PIR, PBS)], or [] for an unconfigured meter."""
        cdef meter_t *cell = self._cell(index)
        cdef double info_rates[METER_MAX_RATES]
        cdef uint64_t burst_sizes[METER_MAX_RATES]
        cdef uint32_t i, n
        with nogil:
            n = meter_get_rates(cell, info_rates, burst_sizes)
        return [(info_rates[i], burst_sizes[i]) for i in range(n)]

    def reset(self, index: int) -> None:
        """Back to unconfigured (always GREEN)."""
        cdef meter_t *cell = self._cell(index)
        with nogil:
            meter_reset(cell)

    def execute(self, index: int, now_ns: int, amount: int) -> int:
        """Colour of a packet whose ingress length is `amount` bytes (packet meters count 1)."""
        cdef meter_t *cell = self._cell(index)
        cdef uint64_t now = now_ns
        cdef uint32_t cost = meter_amount(self.kind_id, amount)
        cdef int color
        with nogil:
            color = meter_execute(cell, now, cost)
        return color
