# Hash and checksum algorithms with BMv2's exact results, and the bit packer that turns a field
# list into the bytes they hash. The semantics (names, padding, how results are used) are in the
# docstring of hashes.pyx.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy

# Algorithm ids. A name resolves to one id (hash_algo_from_name); the custom CRC ids also cover
# BMv2's named CRC presets ("crc_16_usb", ...) and "poly_0x1..." strings, whose parameters live in
# a hash_params_t (hash_params_init).
cdef enum:
    HASH_CRC16 = 0          # "crc16": CRC-16/ARC
    HASH_CRC32 = 1          # "crc32": CRC-32 of Ethernet/zlib
    HASH_CRC_CCITT = 2      # "crcCCITT": CRC-16/CCITT-FALSE
    HASH_CSUM16 = 3         # "csum16" and "cksum16": RFC 1071 Internet checksum
    HASH_XOR16 = 4          # "xor16": XOR of big-endian 16-bit words
    HASH_XOR32 = 5          # "xor32": XOR of big-endian 32-bit words
    HASH_IDENTITY = 6       # "identity": the first 8 bytes as a big-endian number
    HASH_XXH64 = 7          # "xxh64": XXH64, seed 0
    HASH_TOEPLITZ = 8       # "toeplitz": RSS hash with a per-calculation key
    HASH_ROUND_ROBIN = 9    # "round_robin": 0, 1, 2, ... per calculation; input ignored
    HASH_CRC8_CUSTOM = 10   # "crc8_custom" and 8-bit presets: parameterised CRC-8
    HASH_CRC16_CUSTOM = 11  # "crc16_custom" and 16-bit presets
    HASH_CRC32_CUSTOM = 12  # "crc32_custom" and 32-bit presets
    HASH_CRC64_CUSTOM = 13  # "crc64_custom" and 64-bit presets
    HASH_ALGO_COUNT = 14

cdef enum:
    TOEPLITZ_MAX_KEY_WORDS = 64     # longest Toeplitz key kept: 256 bytes

# The five Rocksoft-model parameters of a CRC, as BMv2's crc_config_t holds them.
cdef struct crc_config_t:
    uint64_t polynomial         # generator without its x^width term
    uint64_t init               # register value before the first byte (never reflected)
    uint64_t xor_out            # XORed into the result last
    uint8_t width               # 8, 16, 32 or 64
    uint8_t data_reflected      # each input byte enters least significant bit first
    uint8_t remainder_reflected # the register is bit-reversed before the final XOR

# One calculation instance: the algorithm plus whatever it keeps per instance. BMv2 clones a
# fresh functor for every named calculation, so two calculations never share CRC parameters, a
# Toeplitz key or a round-robin counter; give each its own hash_params_t.
cdef struct hash_params_t:
    int algo                    # HASH_* id
    crc_config_t crc            # for every CRC id (crc16/crc32/crcCCITT use fixed values)
    uint8_t crc_lsb_first       # table built for the reflected (LSB-first) loop: refin == refout
    uint64_t crc_init_reg       # register start value in the loop's bit order
    uint64_t crc_mask           # width low bits set
    uint64_t crc_table[256]     # byte-at-a-time table for crc.polynomial in the loop's bit order
    uint32_t toeplitz_key[TOEPLITZ_MAX_KEY_WORDS]  # key as host-order words, first word first
    uint32_t toeplitz_nwords    # words in toeplitz_key (>= 1)
    uint64_t round_robin_next   # next value of a round_robin calculation (atomic increment)


cdef int hash_algo_from_name(str name) except -1
cdef int hash_params_init(hash_params_t *p, str name) except -1
cdef int hash_params_set_crc(hash_params_t *p, const crc_config_t *cfg) except -1
cdef int hash_params_set_toeplitz_key(hash_params_t *p, bytes key) except -1

# Result of algorithm `algo` in BMv2's default configuration for it (custom CRCs as BMv2 starts
# them, Toeplitz with its all-zero key). round_robin here shares one counter per id; use
# hash_compute_params with a per-calculation hash_params_t to get BMv2's per-instance counters.
cdef uint64_t hash_compute(int algo, const uint8_t *buf, size_t nbytes) noexcept nogil
cdef uint64_t hash_compute_params(hash_params_t *p, const uint8_t *buf, size_t nbytes) noexcept nogil
cdef uint16_t csum16(const uint8_t *buf, size_t nbytes) noexcept nogil


# ---- Field-list packing --------------------------------------------------------------------
# BMv2 builds the hash input by writing each field's bits after the previous field's, most
# significant bit first, with no alignment between fields; the buffer is ceil(bits / 8) bytes and
# the unused low bits of the last byte are zero. The writer below does the same. The caller owns
# `out` and must size it for every byte that will be written.

cdef struct bitwriter_t:
    uint8_t *out                # destination buffer
    size_t nbytes               # whole bytes already stored in out
    uint64_t acc                # bits not yet stored, right-aligned (fewer than 8 between calls)
    uint32_t nacc               # number of bits in acc


cdef inline void pack_init(bitwriter_t *w, uint8_t *out) noexcept nogil:
    w.out = out
    w.nbytes = 0
    w.acc = 0
    w.nacc = 0


cdef inline void _pack_upto32(bitwriter_t *w, uint64_t value, uint32_t width) noexcept nogil:
    # acc holds < 8 bits, so adding <= 32 more cannot overflow 64 bits.
    if width == 0:
        return
    w.acc = (w.acc << width) | (value & ((<uint64_t>1 << width) - 1))
    w.nacc += width
    while w.nacc >= 8:
        w.nacc -= 8
        w.out[w.nbytes] = <uint8_t>(w.acc >> w.nacc)
        w.nbytes += 1
    w.acc &= (<uint64_t>1 << w.nacc) - 1


cdef inline void pack_u64(bitwriter_t *w, uint64_t value, uint32_t width) noexcept nogil:
    """Append the low `width` bits of value (width <= 64)."""
    if width > 32:
        _pack_upto32(w, value >> 32, width - 32)
        _pack_upto32(w, value & <uint64_t>0xFFFFFFFF, 32)
    else:
        _pack_upto32(w, value, width)


cdef inline void pack_bytes(bitwriter_t *w, const uint8_t *data, size_t n) noexcept nogil:
    """Append n whole bytes (a deparsed header, a payload) at the current bit position."""
    cdef size_t i
    if w.nacc == 0:
        memcpy(w.out + w.nbytes, data, n)
        w.nbytes += n
    else:
        for i in range(n):
            _pack_upto32(w, data[i], 8)


cdef inline void pack_bits(bitwriter_t *w, const uint8_t *be_bytes, uint32_t width) noexcept nogil:
    """Append a field of any width given as ceil(width / 8) big-endian bytes, value in the low
    `width` bits (BMv2's own field layout); bits above `width` in the first byte are ignored."""
    cdef uint32_t nbytes = (width + 7) >> 3
    cdef uint32_t lead = width - 8 * (nbytes - 1) if nbytes else 0
    if nbytes == 0:
        return
    _pack_upto32(w, be_bytes[0], lead)
    pack_bytes(w, be_bytes + 1, nbytes - 1)


cdef inline void pack_align(bitwriter_t *w) noexcept nogil:
    """Close a partial byte with zero bits. BMv2 does this before appending the payload of a
    with_payload calculation: the payload always starts on a byte boundary of the buffer."""
    if w.nacc:
        w.out[w.nbytes] = <uint8_t>(w.acc << (8 - w.nacc))
        w.nbytes += 1
        w.acc = 0
        w.nacc = 0


cdef inline size_t pack_finish(bitwriter_t *w) noexcept nogil:
    """Pad as BMv2 does and return the buffer length in bytes."""
    pack_align(w)
    return w.nbytes


cdef size_t pack_fields(const uint64_t *values, const uint16_t *widths, int n,
                        uint8_t *out) noexcept nogil


cdef class Calculation:
    cdef hash_params_t params   # the engine may compute with &calc.params directly
    cdef readonly str name      # the BMv2 algorithm name it was made from
