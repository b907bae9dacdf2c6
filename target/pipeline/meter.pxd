# Two-rate three-colour meters (RFC 2698 trTCM) with BMv2's token arithmetic, one meter_t per
# meter cell (indirect meter arrays hold many; a direct meter lives in a table entry). The
# semantics, including where BMv2's rounding happens, are in meter.pyx's docstring.

from libc.stdint cimport uint32_t, uint64_t

cdef enum:
    METER_GREEN = 0             # colours as BMv2 (and v1model's MeterColor_t) number them
    METER_YELLOW = 1
    METER_RED = 2
    METER_MAX_RATES = 2         # v1model meters have two rates; JSON rate_count must be <= this

cdef enum:
    METER_BYTES = 0             # JSON meter_arrays[].type "bytes": amount = ingress frame length
    METER_PACKETS = 1           # "packets": amount = 1

# meter_configure results, named after BMv2's MeterErrorCode.
cdef enum:
    METER_OK = 0
    METER_BAD_RATES_LIST = 1    # not exactly rate_count rates
    METER_INVALID_INFO_RATE = 2 # a rate below the previous one, negative or not a number

cdef struct meter_rate_t:
    double info_rate            # bucket fill rate in units (bytes or packets) per microsecond
    uint64_t burst_size         # bucket capacity in units
    uint64_t tokens             # units in the bucket after the last update
    uint64_t tokens_last        # floor(whole microseconds since origin * info_rate) at that update
    uint32_t color              # colour of a packet this bucket cannot pay for

cdef struct meter_t:
    meter_rate_t rates[METER_MAX_RATES]  # checked in this order: highest rate (PIR) first
    uint64_t origin_ns          # time origin (CLOCK_MONOTONIC ns); token counts are taken from it
    uint32_t rate_count         # rates the meter takes (JSON rate_count)
    uint32_t configured         # 0: execute returns GREEN and changes nothing
    uint32_t lock               # spinlock: execute and (re)configuration of this cell


cdef void meter_init(meter_t *m, uint64_t origin_ns, uint32_t rate_count) noexcept nogil
cdef int meter_configure(meter_t *m, const double *info_rates, const uint64_t *burst_sizes,
                         uint32_t nrates) noexcept nogil
cdef void meter_reset(meter_t *m) noexcept nogil
cdef uint32_t meter_get_rates(meter_t *m, double *info_rates, uint64_t *burst_sizes) noexcept nogil
cdef int meter_execute(meter_t *m, uint64_t now_ns, uint32_t amount) noexcept nogil


cdef inline uint32_t meter_amount(int kind, uint32_t ingress_length) noexcept nogil:
    """What one packet costs: BMv2 charges byte meters the packet's ingress length."""
    return 1 if kind == METER_PACKETS else ingress_length


cdef class MeterArray:
    cdef meter_t *cells         # size cells, all with the same kind and rate_count
    cdef readonly uint32_t size
    cdef readonly uint32_t rate_count
    cdef readonly int kind_id   # METER_BYTES or METER_PACKETS

    cdef meter_t *_cell(self, index) except NULL   # bounds-checked cell pointer
