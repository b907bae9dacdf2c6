# cython: language_level=3
"""Hash and checksum algorithms with the results BMv2 simple_switch computes.

Where these are used: JSON `calculations` (named in `checksums`, in the
`modify_field_with_hash_based_offset` primitive that p4c emits for v1model's hash(), and in
action-selector `selector.algo`).

Algorithm names (what `algo` may say)
    BMv2 looks a name up in three places, in this order, and refuses the program when none has it
    ("Unknown hash algorithm: NAME"):
    1. its registry: crc16 (CRC-16/ARC: poly 0x8005, reflected, init 0, xorout 0; check value of
       "123456789" 0xBB3D), crc32 (CRC-32/ISO-HDLC as in zlib, check 0xCBF43926), crcCCITT
       (CRC-16/CCITT-FALSE, check 0x29B1), csum16 and cksum16 (the same RFC 1071 checksum),
       xor16, xor32, identity, xxh64 (seed 0), toeplitz, round_robin, round_robin_consistent,
       crc8_custom, crc16_custom, crc32_custom, crc64_custom;
    2. named CRC presets (crcmod's names with '-' as '_': crc_8, crc_16_usb, crc_32c, modbus, ...:
       CRC_PRESETS below);
    3. a parameter string  poly_0x1<hex>[_init_<hex>][_xout_<hex>][_not_rev]  whose polynomial
       includes its top bit (0x11021 is a 16-bit CRC); degree 8, 16, 32 or 64; reflected unless
       not_rev; tokens stop at the first empty one; lsb/msb/extend are refused as BMv2 does.
    v1model's HashAlgorithm maps (in p4c) to crc32, crc32_custom, crc16, crc16_custom, random,
    identity, csum16, xor16. BMv2 has no "random": simple_switch refuses a program that uses it,
    and so does hash_algo_from_name. round_robin_consistent (not reachable from v1model) is not
    implemented and is refused with a message saying so.

Per-algorithm details that matter for bit-exact results
    - Every result is a 64-bit unsigned number; 16-bit algorithms return values < 2**16.
    - csum16 of an empty or all-zero buffer is 0xFFFF; an odd last byte counts as the high byte
      of a final word. The result is the checksum as the 16-bit field holds it (big-endian value).
    - xor16/xor32 XOR big-endian words; a short last word has its bytes at the top.
    - identity is the first min(8, n) bytes as a big-endian number (a 3-byte input gives a 24-bit
      value; bytes after the 8th are ignored).
    - crc*_custom start with BMv2's defaults: crc8 (0x07, 0, 0, not reflected), crc16 = crc16,
      crc32 = crc32, crc64 (0x1B, 0, 0, reflected); BMv2's runtime can change one calculation's
      parameters (set_crc16_parameters ...): hash_params_set_crc / Calculation.set_crc_config.
    - toeplitz starts with a key of 4 zero bytes, so it returns 0 until a key is set; the key
      repeats when the input (padded with zero bytes to 32-bit words) is longer than it.
    - round_robin ignores the input and counts 0, 1, 2, ... separately for each calculation.

The input buffer (what BMv2's BufBuilder hashes) -- for the engine
    The `input` entries are written one after the other as bits, most significant bit first, with
    no alignment between entries; the buffer is ceil(total_bits / 8) bytes and the unused low bits
    of its last byte are zero (so a lone 12-bit field 0xABC hashes as bytes AB C0). Entry kinds:
    - field: its `bitwidth` bits. A field whose header is invalid contributes nothing at all (it is
      skipped, not zeroed); metadata (`scalars` etc.) is always valid.
    - hexstr with `bitwidth`: BMv2 turns the hex string into bytes (an odd digit count gets a
      leading zero nibble) and writes the low `bitwidth` bits of the first ceil(bitwidth / 8) of
      those bytes. p4c always sizes the string to the width, which makes this the plain constant.
    - header: the whole deparsed header (skipped when invalid); BMv2 only allows it on a byte
      boundary.
    - payload (from *_with_payload): the partial last byte is closed with zero bits, then the
      packet bytes after everything the parser extracted are appended (BMv2 appends its packet
      data, which at verify time and when the deparser updates checksums is exactly that
      remainder). Valid headers not listed are not included.
    pack_init/pack_u64/pack_bits/pack_bytes/pack_align/pack_finish (hashes.pxd) build it.

How the result is used
    - modify_field_with_hash_based_offset(dst, base, calc, max), what p4c emits for
      hash(dst, algo, base, data, max): dst = (h % max) + base computed in 64 bits, then truncated
      to dst's width; max == 0 is treated as 1 (BMv2 logs a warning).
    - checksums (JSON `checksums`, from verify_checksum / update_checksum[_with_payload]):
      update (deparser, before headers are written back): if `if_cond` is absent or true, the
      target field is set to h truncated to its width (the calculation sees the target's old
      value; p4c does not list the checksum field itself in the IPv4 case). verify (end of
      parsing): skipped (counts as correct) when the target field's header is invalid or
      `if_cond` is false; otherwise correct iff h == the field's value compared as 64-bit numbers
      (h is not truncated first). Any wrong checksum sets the packet's checksum_error flag, which
      simple_switch exposes as standard_metadata.checksum_error = 1; the packet is not dropped.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdlib cimport free, malloc
from libc.string cimport memset

from target.pipeline.hashes cimport (
    HASH_ALGO_COUNT,
    HASH_CRC8_CUSTOM,
    HASH_CRC16,
    HASH_CRC16_CUSTOM,
    HASH_CRC32,
    HASH_CRC32_CUSTOM,
    HASH_CRC64_CUSTOM,
    HASH_CRC_CCITT,
    HASH_CSUM16,
    HASH_IDENTITY,
    HASH_ROUND_ROBIN,
    HASH_TOEPLITZ,
    HASH_XOR16,
    HASH_XOR32,
    HASH_XXH64,
    TOEPLITZ_MAX_KEY_WORDS,
)


cdef extern from *:
    """
    static inline uint64_t kvick_hash_fetch_inc(uint64_t *counter) {
        return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    }
    """
    uint64_t kvick_hash_fetch_inc(uint64_t *counter) nogil


# ---- names -------------------------------------------------------------------------------------

REGISTRY: dict[str, int] = {
    "crc16": HASH_CRC16,
    "crc32": HASH_CRC32,
    "crcCCITT": HASH_CRC_CCITT,
    "csum16": HASH_CSUM16,
    "cksum16": HASH_CSUM16,
    "xor16": HASH_XOR16,
    "xor32": HASH_XOR32,
    "identity": HASH_IDENTITY,
    "xxh64": HASH_XXH64,
    "toeplitz": HASH_TOEPLITZ,
    "round_robin": HASH_ROUND_ROBIN,
    "crc8_custom": HASH_CRC8_CUSTOM,
    "crc16_custom": HASH_CRC16_CUSTOM,
    "crc32_custom": HASH_CRC32_CUSTOM,
    "crc64_custom": HASH_CRC64_CUSTOM,
}

# (width, polynomial, init, xor_out, data_reflected, remainder_reflected), as BMv2 defines them.
CRC_PRESETS: dict[str, tuple[int, int, int, int, bool, bool]] = {
    "crc_8": (8, 0x07, 0x00, 0x00, False, False),
    "crc_8_darc": (8, 0x39, 0x00, 0x00, True, True),
    "crc_8_i_code": (8, 0x1D, 0xFD, 0x00, False, False),
    "crc_8_itu": (8, 0x07, 0x00, 0x55, False, False),
    "crc_8_maxim": (8, 0x31, 0x00, 0x00, True, True),
    "crc_8_rohc": (8, 0x07, 0xFF, 0x00, True, True),
    "crc_8_wcdma": (8, 0x9B, 0x00, 0x00, True, True),
    "crc_16": (16, 0x8005, 0x0000, 0x0000, True, True),
    "crc_16_buypass": (16, 0x8005, 0x0000, 0x0000, False, False),
    "crc_16_dds_110": (16, 0x8005, 0x800D, 0x0000, False, False),
    "crc_16_dect": (16, 0x0589, 0x0000, 0x0001, False, False),
    "crc_16_dnp": (16, 0x3D65, 0x0000, 0xFFFF, True, True),
    "crc_16_en_13757": (16, 0x3D65, 0x0000, 0xFFFF, False, False),
    "crc_16_genibus": (16, 0x1021, 0xFFFF, 0xFFFF, False, False),
    "crc_16_maxim": (16, 0x8005, 0x0000, 0xFFFF, True, True),
    "crc_16_mcrf4xx": (16, 0x1021, 0xFFFF, 0x0000, True, True),
    "crc_16_riello": (16, 0x1021, 0xB2AA, 0x0000, True, True),
    "crc_16_t10_dif": (16, 0x8BB7, 0x0000, 0x0000, False, False),
    "crc_16_teledisk": (16, 0xA097, 0x0000, 0x0000, False, False),
    "crc_16_usb": (16, 0x8005, 0xFFFF, 0xFFFF, True, True),
    "x_25": (16, 0x1021, 0xFFFF, 0xFFFF, True, True),
    "xmodem": (16, 0x1021, 0x0000, 0x0000, False, False),
    "modbus": (16, 0x8005, 0xFFFF, 0x0000, True, True),
    "kermit": (16, 0x1021, 0x0000, 0x0000, True, True),
    "crc_ccitt_false": (16, 0x1021, 0xFFFF, 0x0000, False, False),
    "crc_aug_ccitt": (16, 0x1021, 0x1D0F, 0x0000, False, False),
    "crc_32": (32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
    "crc_32_bzip2": (32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, False, False),
    "crc_32c": (32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
    "crc_32d": (32, 0xA833982B, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
    "crc_32_mpeg": (32, 0x04C11DB7, 0xFFFFFFFF, 0x00000000, False, False),
    "posix": (32, 0x04C11DB7, 0x00000000, 0xFFFFFFFF, False, False),
    "crc_32q": (32, 0x814141AB, 0x00000000, 0x00000000, False, False),
    "jamcrc": (32, 0x04C11DB7, 0xFFFFFFFF, 0x00000000, True, True),
    "xfer": (32, 0x000000AF, 0x00000000, 0x00000000, False, False),
    "crc_64": (64, 0x1B, 0, 0, True, True),
    "crc_64_we": (64, 0x42F0E1EBA9EA3693, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, False, False),
    "crc_64_jones": (64, 0xAD93D23594C935A9, 0xFFFFFFFFFFFFFFFF, 0, True, True),
}

# Fixed configuration of the CRC ids: the crc*_custom ones are BMv2's starting values.
_CRC_DEFAULTS: dict[int, tuple[int, int, int, int, bool, bool]] = {
    HASH_CRC16: (16, 0x8005, 0x0000, 0x0000, True, True),
    HASH_CRC32: (32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
    HASH_CRC_CCITT: (16, 0x1021, 0xFFFF, 0x0000, False, False),
    HASH_CRC8_CUSTOM: (8, 0x07, 0x00, 0x00, False, False),
    HASH_CRC16_CUSTOM: (16, 0x8005, 0x0000, 0x0000, True, True),
    HASH_CRC32_CUSTOM: (32, 0x04C11DB7, 0xFFFFFFFF, 0xFFFFFFFF, True, True),
    HASH_CRC64_CUSTOM: (64, 0x1B, 0, 0, True, True),
}

_CUSTOM_ID_BY_WIDTH = {8: HASH_CRC8_CUSTOM, 16: HASH_CRC16_CUSTOM, 32: HASH_CRC32_CUSTOM,
                       64: HASH_CRC64_CUSTOM}

_REFUSED = {
    "random": "BMv2 has no 'random' hash algorithm (simple_switch refuses programs that use "
              "HashAlgorithm.random)",
    "round_robin_consistent": "'round_robin_consistent' is not implemented",
}


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _hex_value(text: str, width: int) -> int:
    """A BMv2 hex string ("0x" optional) as an unsigned number truncated to width bits."""
    digits = text[2:] if text.startswith("0x") else text
    if digits == "":
        return 0
    if any(c not in _HEX_DIGITS for c in digits):
        raise ValueError(f"{text!r} is not a hex number")
    return int(digits, 16) & ((1 << width) - 1)


def _parse_crc_string(name: str) -> tuple[int, int, int, int, bool, bool] | None:
    """The CRC described by a poly_... string, following BMv2's parser; None if it is not one."""
    polynomial_text = init_text = xout_text = ""
    reflected = True
    tokens = iter(name.split("_"))
    for token in tokens:
        if token == "":
            break  # BMv2 stops reading at the first empty token
        if token in ("poly", "init", "xout"):
            value = next(tokens, "")
            if value == "":
                return None
            if token == "poly":
                polynomial_text = value
            elif token == "init":
                init_text = value
            else:
                xout_text = value
        elif token == "not":
            if next(tokens, "") != "rev":
                return None
            reflected = False
        else:
            return None  # includes lsb / msb / extend, which BMv2 does not implement
    if not polynomial_text.startswith("0x1") or len(polynomial_text) < 3:
        return None
    width = (len(polynomial_text) - 3) * 4
    if width not in (8, 16, 32, 64):
        return None
    try:
        return (width, _hex_value(polynomial_text[3:], width), _hex_value(init_text, width),
                _hex_value(xout_text, width), reflected, reflected)
    except ValueError:
        return None


def known_names() -> list[str]:
    return sorted(REGISTRY) + sorted(CRC_PRESETS) + ["poly_0x1<hex>[_init_<hex>][_xout_<hex>]"
                                                     "[_not_rev]"]


def _resolve(name: str) -> tuple[int, tuple | None]:
    """(algorithm id, CRC parameters or None) for a name, or ValueError."""
    if name in REGISTRY:
        algo = REGISTRY[name]
        return algo, _CRC_DEFAULTS.get(algo)
    if name in CRC_PRESETS:
        crc = CRC_PRESETS[name]
        return _CUSTOM_ID_BY_WIDTH[crc[0]], crc
    if name in _REFUSED:
        raise ValueError(f"unknown hash algorithm {name!r}: {_REFUSED[name]}")
    crc = _parse_crc_string(name)
    if crc is not None:
        return _CUSTOM_ID_BY_WIDTH[crc[0]], crc
    raise ValueError(f"unknown hash algorithm {name!r}; known: {', '.join(known_names())}")


cdef int hash_algo_from_name(str name) except -1:
    return _resolve(name)[0]


# ---- CRC ---------------------------------------------------------------------------------------

cdef uint8_t REV8[256]


cdef uint64_t _reflect(uint64_t value, uint32_t width) noexcept nogil:
    cdef uint64_t out = 0
    cdef uint32_t i
    for i in range(width):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


cdef void _crc_build(hash_params_t *p) noexcept nogil:
    """Derive the loop form and table from p.crc.

    When input and remainder are both reflected the loop runs least significant bit first with a
    reflected table and register (no per-byte reversal); otherwise it runs most significant bit
    first, reversing input bytes through REV8 when only the input is reflected and the remainder
    at the end when only the remainder is.
    """
    cdef uint32_t width = p.crc.width
    cdef uint64_t top = <uint64_t>1 << (width - 1)
    cdef uint64_t mask = (top << 1) - 1        # wraps to all ones for width 64
    cdef uint64_t poly = p.crc.polynomial & mask
    cdef uint64_t rpoly, reg
    cdef uint32_t i, bit
    p.crc_mask = mask
    p.crc_lsb_first = p.crc.data_reflected and p.crc.remainder_reflected
    if p.crc_lsb_first:
        rpoly = _reflect(poly, width)
        for i in range(256):
            reg = i
            for bit in range(8):
                reg = (reg >> 1) ^ (rpoly if reg & 1 else 0)
            p.crc_table[i] = reg
        p.crc_init_reg = _reflect(p.crc.init & mask, width)
    else:
        for i in range(256):
            reg = (<uint64_t>i) << (width - 8)
            for bit in range(8):
                reg = ((reg << 1) ^ poly) if reg & top else (reg << 1)
            p.crc_table[i] = reg & mask
        p.crc_init_reg = p.crc.init & mask


cdef uint64_t _crc(const hash_params_t *p, const uint8_t *buf, size_t n) noexcept nogil:
    cdef uint64_t reg = p.crc_init_reg
    cdef uint64_t mask = p.crc_mask
    cdef uint32_t shift = p.crc.width - 8
    cdef size_t i
    if p.crc_lsb_first:
        for i in range(n):
            reg = (reg >> 8) ^ p.crc_table[(reg ^ buf[i]) & 0xFF]
    else:
        if p.crc.data_reflected:
            for i in range(n):
                reg = ((reg << 8) & mask) ^ p.crc_table[((reg >> shift) ^ REV8[buf[i]]) & 0xFF]
        else:
            for i in range(n):
                reg = ((reg << 8) & mask) ^ p.crc_table[((reg >> shift) ^ buf[i]) & 0xFF]
        if p.crc.remainder_reflected:
            reg = _reflect(reg, p.crc.width)
    return (reg ^ p.crc.xor_out) & mask


# ---- checksums and simple hashes ---------------------------------------------------------------

cdef uint16_t csum16(const uint8_t *buf, size_t nbytes) noexcept nogil:
    # Big-endian 32-bit words summed in 64 bits: 2**16 == 1 mod 0xFFFF, so the folded result
    # equals the sum of 16-bit words; the sum is zero only for all-zero input, as in BMv2.
    cdef uint64_t total = 0
    cdef size_t i = 0
    while i + 4 <= nbytes:
        total += ((<uint32_t>buf[i] << 24) | (<uint32_t>buf[i + 1] << 16)
                  | (<uint32_t>buf[i + 2] << 8) | buf[i + 3])
        i += 4
    if i + 2 <= nbytes:
        total += (<uint32_t>buf[i] << 8) | buf[i + 1]
        i += 2
    if i < nbytes:
        total += <uint32_t>buf[i] << 8
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return <uint16_t>(~total & 0xFFFF)


cdef uint64_t _xor_words(const uint8_t *buf, size_t n, uint32_t word_bytes) noexcept nogil:
    cdef uint64_t result = 0, word
    cdef size_t i = 0
    cdef uint32_t j
    while i < n:
        word = 0
        for j in range(word_bytes):
            word = (word << 8) | (buf[i + j] if i + j < n else 0)
        result ^= word
        i += word_bytes
    return result


cdef uint64_t _identity(const uint8_t *buf, size_t n) noexcept nogil:
    cdef uint64_t result = 0
    cdef size_t i
    for i in range(n if n < 8 else 8):
        result = (result << 8) | buf[i]
    return result


# ---- XXH64 (seed 0) ----------------------------------------------------------------------------

cdef extern from *:
    """
    #define KVICK_XXH_P1 0x9E3779B185EBCA87ULL
    #define KVICK_XXH_P2 0xC2B2AE3D27D4EB4FULL
    #define KVICK_XXH_P3 0x165667B19E3779F9ULL
    #define KVICK_XXH_P4 0x85EBCA77C2B2AE63ULL
    #define KVICK_XXH_P5 0x27D4EB2F165667C5ULL
    """
    const uint64_t _P1 "KVICK_XXH_P1"
    const uint64_t _P2 "KVICK_XXH_P2"
    const uint64_t _P3 "KVICK_XXH_P3"
    const uint64_t _P4 "KVICK_XXH_P4"
    const uint64_t _P5 "KVICK_XXH_P5"

cdef enum:
    _XXH_SEED = 0               # BMv2 always hashes with seed 0


cdef inline uint64_t _rotl(uint64_t x, uint32_t r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _le64(const uint8_t *b) noexcept nogil:
    return (<uint64_t>b[0] | (<uint64_t>b[1] << 8) | (<uint64_t>b[2] << 16)
            | (<uint64_t>b[3] << 24) | (<uint64_t>b[4] << 32) | (<uint64_t>b[5] << 40)
            | (<uint64_t>b[6] << 48) | (<uint64_t>b[7] << 56))


cdef inline uint64_t _xxh_round(uint64_t acc, uint64_t lane) noexcept nogil:
    return _rotl(acc + lane * _P2, 31) * _P1


cdef inline uint64_t _xxh_merge(uint64_t acc, uint64_t lane_acc) noexcept nogil:
    return (acc ^ _xxh_round(0, lane_acc)) * _P1 + _P4


cdef uint64_t _xxh64(const uint8_t *buf, size_t n) noexcept nogil:
    cdef size_t pos = 0
    cdef uint64_t acc, v1, v2, v3, v4
    if n >= 32:
        v1 = _XXH_SEED + _P1 + _P2
        v2 = _XXH_SEED + _P2
        v3 = _XXH_SEED
        v4 = _XXH_SEED - _P1
        while n - pos >= 32:
            v1 = _xxh_round(v1, _le64(buf + pos))
            v2 = _xxh_round(v2, _le64(buf + pos + 8))
            v3 = _xxh_round(v3, _le64(buf + pos + 16))
            v4 = _xxh_round(v4, _le64(buf + pos + 24))
            pos += 32
        acc = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        acc = _xxh_merge(acc, v1)
        acc = _xxh_merge(acc, v2)
        acc = _xxh_merge(acc, v3)
        acc = _xxh_merge(acc, v4)
    else:
        acc = _XXH_SEED + _P5
    acc += n
    while n - pos >= 8:
        acc ^= _xxh_round(0, _le64(buf + pos))
        acc = _rotl(acc, 27) * _P1 + _P4
        pos += 8
    if n - pos >= 4:
        acc ^= (<uint64_t>buf[pos] | (<uint64_t>buf[pos + 1] << 8)
                | (<uint64_t>buf[pos + 2] << 16) | (<uint64_t>buf[pos + 3] << 24)) * _P1
        acc = _rotl(acc, 23) * _P2 + _P3
        pos += 4
    while pos < n:
        acc ^= buf[pos] * _P5
        acc = _rotl(acc, 11) * _P1
        pos += 1
    acc ^= acc >> 33
    acc *= _P2
    acc ^= acc >> 29
    acc *= _P3
    acc ^= acc >> 32
    return acc


# ---- Toeplitz ----------------------------------------------------------------------------------

cdef uint64_t _toeplitz(const hash_params_t *p, const uint8_t *buf, size_t n) noexcept nogil:
    cdef uint32_t result = 0, word, key_left, key_right, nwords = p.toeplitz_nwords
    cdef size_t i_word = 0, pos = 0
    cdef uint32_t bit, j
    while pos < n:
        word = 0
        for j in range(4):
            word = (word << 8) | (buf[pos + j] if pos + j < n else 0)
        key_left = p.toeplitz_key[i_word % nwords]
        key_right = p.toeplitz_key[(i_word + 1) % nwords]
        for bit in range(32):
            if word & (<uint32_t>0x80000000 >> bit):
                # the 32 key bits starting `bit` bits into key_left
                result ^= (key_left << bit) | (<uint32_t>((<uint64_t>key_right) >> (32 - bit)))
        pos += 4
        i_word += 1
    return result


# ---- dispatch ----------------------------------------------------------------------------------

cdef uint64_t hash_compute_params(hash_params_t *p, const uint8_t *buf, size_t nbytes) noexcept nogil:
    cdef int algo = p.algo
    if algo == HASH_CSUM16:
        return csum16(buf, nbytes)
    if (algo == HASH_CRC16 or algo == HASH_CRC32 or algo == HASH_CRC_CCITT
            or (HASH_CRC8_CUSTOM <= algo <= HASH_CRC64_CUSTOM)):
        return _crc(p, buf, nbytes)
    if algo == HASH_XOR16:
        return _xor_words(buf, nbytes, 2)
    if algo == HASH_XOR32:
        return _xor_words(buf, nbytes, 4)
    if algo == HASH_IDENTITY:
        return _identity(buf, nbytes)
    if algo == HASH_XXH64:
        return _xxh64(buf, nbytes)
    if algo == HASH_TOEPLITZ:
        return _toeplitz(p, buf, nbytes)
    if algo == HASH_ROUND_ROBIN:
        return kvick_hash_fetch_inc(&p.round_robin_next)
    return 0


cdef hash_params_t *_defaults = NULL


cdef uint64_t hash_compute(int algo, const uint8_t *buf, size_t nbytes) noexcept nogil:
    if algo < 0 or algo >= HASH_ALGO_COUNT:
        return 0
    return hash_compute_params(&_defaults[algo], buf, nbytes)


# ---- configuration -----------------------------------------------------------------------------

cdef void _set_crc_tuple(hash_params_t *p, tuple crc):
    width, polynomial, init, xor_out, data_reflected, remainder_reflected = crc
    mask = (1 << width) - 1
    p.crc.width = width
    p.crc.polynomial = polynomial & mask
    p.crc.init = init & mask
    p.crc.xor_out = xor_out & mask
    p.crc.data_reflected = bool(data_reflected)
    p.crc.remainder_reflected = bool(remainder_reflected)
    _crc_build(p)


cdef int hash_params_init(hash_params_t *p, str name) except -1:
    algo, crc = _resolve(name)
    memset(p, 0, sizeof(hash_params_t))
    p.algo = algo
    p.toeplitz_nwords = 1       # BMv2's initial key: 4 zero bytes
    if crc is not None:
        _set_crc_tuple(p, crc)
    return 0


cdef int hash_params_set_crc(hash_params_t *p, const crc_config_t *cfg) except -1:
    expected = {HASH_CRC8_CUSTOM: 8, HASH_CRC16_CUSTOM: 16, HASH_CRC32_CUSTOM: 32,
                HASH_CRC64_CUSTOM: 64}.get(p.algo)
    if expected is None:
        raise ValueError("only a custom CRC calculation (crc*_custom or a CRC preset) takes "
                         "CRC parameters")
    if cfg.width != expected:
        raise ValueError(f"this calculation is a {expected}-bit CRC, parameters are for "
                         f"{cfg.width} bits")
    _set_crc_tuple(p, (cfg.width, cfg.polynomial, cfg.init, cfg.xor_out,
                       cfg.data_reflected, cfg.remainder_reflected))
    return 0


cdef int hash_params_set_toeplitz_key(hash_params_t *p, bytes key) except -1:
    cdef Py_ssize_t n = len(key), i
    if p.algo != HASH_TOEPLITZ:
        raise ValueError("only a toeplitz calculation takes a key")
    if n < 4 or n % 4:
        raise ValueError(f"a Toeplitz key is a non-empty multiple of 4 bytes, not {n}")
    if n > 4 * TOEPLITZ_MAX_KEY_WORDS:
        raise ValueError(f"Toeplitz keys longer than {4 * TOEPLITZ_MAX_KEY_WORDS} bytes are "
                         "not supported")
    for i in range(n // 4):
        p.toeplitz_key[i] = int.from_bytes(key[4 * i : 4 * i + 4], "big")
    p.toeplitz_nwords = n // 4
    return 0


cdef size_t pack_fields(const uint64_t *values, const uint16_t *widths, int n,
                        uint8_t *out) noexcept nogil:
    cdef bitwriter_t w
    cdef int i
    pack_init(&w, out)
    for i in range(n):
        pack_u64(&w, values[i], widths[i])
    return pack_finish(&w)


cdef void _module_init() except *:
    global _defaults
    cdef int i
    for i in range(256):
        REV8[i] = <uint8_t>_reflect(i, 8)
    _defaults = <hash_params_t *>malloc(HASH_ALGO_COUNT * sizeof(hash_params_t))
    if _defaults == NULL:
        raise MemoryError()
    names = {algo: name for name, algo in REGISTRY.items()}
    for i in range(HASH_ALGO_COUNT):
        hash_params_init(&_defaults[i], names[i])


_module_init()


# ---- Python access (tests, the control plane) --------------------------------------------------

cdef class Calculation:
    """One calculation instance: an algorithm by BMv2 name with its own parameters and state."""

    def __init__(self, str name):
        hash_params_init(&self.params, name)
        self.name = name

    @property
    def algo(self) -> int:
        return self.params.algo

    def compute(self, bytes data not None) -> int:
        cdef const uint8_t *buf = <const uint8_t *>PyBytes_AS_STRING(data)
        cdef size_t n = PyBytes_GET_SIZE(data)
        cdef uint64_t result
        with nogil:
            result = hash_compute_params(&self.params, buf, n)
        return result

    @property
    def crc_config(self) -> tuple[int, int, int, int, bool, bool] | None:
        """(width, polynomial, init, xor_out, data_reflected, remainder_reflected) or None."""
        if self.params.crc.width == 0:
            return None
        c = self.params.crc
        return (c.width, c.polynomial, c.init, c.xor_out, bool(c.data_reflected),
                bool(c.remainder_reflected))

    def set_crc_config(self, polynomial: int, init: int, xor_out: int, data_reflected: bool,
                       remainder_reflected: bool) -> None:
        """Change a custom CRC's parameters (BMv2's set_crcNN_parameters). Not safe while the
        data path computes with this calculation: the table is rebuilt in place."""
        cdef crc_config_t cfg
        cfg.width = self.params.crc.width
        for value in (polynomial, init, xor_out):
            if value < 0 or value >> cfg.width:
                raise ValueError(f"{value:#x} does not fit a {cfg.width}-bit CRC")
        cfg.polynomial = polynomial
        cfg.init = init
        cfg.xor_out = xor_out
        cfg.data_reflected = bool(data_reflected)
        cfg.remainder_reflected = bool(remainder_reflected)
        hash_params_set_crc(&self.params, &cfg)

    def set_toeplitz_key(self, key: bytes) -> None:
        hash_params_set_toeplitz_key(&self.params, bytes(key))


def compute(name: str, data) -> int:
    """The hash of data (any bytes-like object) by a fresh calculation of algorithm `name`."""
    return Calculation(name).compute(bytes(data))


def algo_id(name: str) -> int:
    """The HASH_* id a name resolves to (ValueError for unknown names)."""
    return hash_algo_from_name(name)


def compute_default(algo: int, data) -> int:
    """hash_compute: algorithm `algo` in its BMv2 default configuration."""
    cdef bytes buf = bytes(data)
    if not 0 <= algo < HASH_ALGO_COUNT:
        raise ValueError(f"no hash algorithm with id {algo}")
    return hash_compute(algo, <const uint8_t *>PyBytes_AS_STRING(buf), PyBytes_GET_SIZE(buf))


def pack(fields: list[tuple[int, int]], payload=b"") -> bytes:
    """BMv2's hash input for (value, bitwidth) fields followed by a payload.

    Fields of at most 64 bits go through pack_fields when there is no payload, otherwise
    through the bit writer (pack_bits for wider fields, pack_align + pack_bytes for the payload).
    """
    cdef bitwriter_t w
    cdef uint8_t *out
    cdef uint64_t *values
    cdef uint16_t *widths
    cdef bytes wide
    cdef bytes tail = bytes(payload)
    cdef size_t nbytes
    cdef int i, n = len(fields)
    total_bits = 0
    for value, width in fields:
        if width < 0 or value < 0 or value >> width:
            raise ValueError(f"{value:#x} is not a {width}-bit value")
        total_bits += width
    narrow = all(width <= 64 for _, width in fields) and not tail
    out = <uint8_t *>malloc((total_bits + 7) // 8 + len(tail) + 1)
    values = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    widths = <uint16_t *>malloc((n + 1) * sizeof(uint16_t))
    try:
        if out == NULL or values == NULL or widths == NULL:
            raise MemoryError()
        if narrow:
            for i in range(n):
                values[i] = fields[i][0]
                widths[i] = fields[i][1]
            nbytes = pack_fields(values, widths, n, out)
        else:
            pack_init(&w, out)
            for value, width in fields:
                if width <= 64:
                    pack_u64(&w, value, width)
                else:
                    wide = value.to_bytes((width + 7) // 8, "big")
                    pack_bits(&w, <const uint8_t *>PyBytes_AS_STRING(wide), width)
            if tail:
                pack_align(&w)
                pack_bytes(&w, <const uint8_t *>PyBytes_AS_STRING(tail), len(tail))
            nbytes = pack_finish(&w)
        return out[:nbytes]
    finally:
        free(out)
        free(values)
        free(widths)
