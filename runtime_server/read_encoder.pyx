# cython: language_level=3
"""The hot Read path: table entries as the target stores them -> serialized p4.v1.TableEntry.

A wildcard read of a routing table returns hundreds of thousands of entries; building a
protobuf message object for each costs more than the read itself. This module writes the
protobuf wire format of `TableEntry { table_id match* action priority }`
directly from the target's stored keys (value bytes then mask bytes per field, range bounds
in their place), in canonical form: shortest byte strings, don't-care fields omitted.
Entries carrying anything more (metadata, one-shot action sets, meter configs, counters)
are encoded by the protobuf path instead.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

cdef enum:
    MT_EXACT = 2
    MT_LPM = 3
    MT_TERNARY = 4
    MT_RANGE = 5
    MT_OPTIONAL = 6


cdef inline Py_ssize_t put_varint(uint8_t *out, uint64_t v) noexcept nogil:
    cdef Py_ssize_t n = 0
    while v >= 0x80:
        out[n] = <uint8_t>(v | 0x80)
        v >>= 7
        n += 1
    out[n] = <uint8_t>v
    return n + 1


cdef inline Py_ssize_t varint_size(uint64_t v) noexcept nogil:
    cdef Py_ssize_t n = 1
    while v >= 0x80:
        v >>= 7
        n += 1
    return n


cdef inline Py_ssize_t put_canonical(uint8_t *out, uint32_t tag, const uint8_t *v,
                                     uint32_t nb) noexcept nogil:
    """A length-delimited field holding the shortest string for the value (one zero byte
    for 0)."""
    cdef uint32_t skip = 0, i
    while skip + 1 < nb and v[skip] == 0:
        skip += 1
    out[0] = <uint8_t>tag
    out[1] = <uint8_t>(nb - skip)
    for i in range(nb - skip):
        out[2 + i] = v[skip + i]
    return 2 + nb - skip


cdef inline bint all_zero(const uint8_t *v, uint32_t nb) noexcept nogil:
    cdef uint32_t i
    for i in range(nb):
        if v[i]:
            return False
    return True


cdef inline bint is_full(const uint8_t *v, uint32_t bits, uint32_t nb) noexcept nogil:
    cdef uint8_t top = <uint8_t>(((1 << (bits % 8)) - 1) if bits % 8 else 0xFF)
    if v[0] != top:
        return False
    cdef uint32_t i
    for i in range(1, nb):
        if v[i] != 0xFF:
            return False
    return True


cdef inline uint32_t ones(const uint8_t *v, uint32_t nb) noexcept nogil:
    cdef uint32_t n = 0, i
    for i in range(nb):
        n += __builtin_popcount(v[i])
    return n


cdef extern from *:
    int __builtin_popcount(unsigned int x) noexcept nogil


def encode_table_entries(uint32_t table_id, list fields, bytes stored, priorities,
                          actions, list params, dict action_ids):
    """Serialized TableEntry messages, one per entry.

    fields: (P4Info field id, match type, bitwidth) per key field in stored order; stored:
    2 * key_bytes per entry; priorities: int per entry; actions: target action id per entry;
    params: list of parameter ints per entry; action_ids: target action id ->
    (P4Info action id, [(param id, bitwidth), ...])."""
    cdef Py_ssize_t nf = len(fields)
    cdef uint32_t *fid = <uint32_t *>malloc(sizeof(uint32_t) * (nf + 1))
    cdef int *ftype = <int *>malloc(sizeof(int) * (nf + 1))
    cdef uint32_t *fbits = <uint32_t *>malloc(sizeof(uint32_t) * (nf + 1))
    cdef uint32_t *fnb = <uint32_t *>malloc(sizeof(uint32_t) * (nf + 1))
    cdef uint32_t *foff = <uint32_t *>malloc(sizeof(uint32_t) * (nf + 1))
    cdef uint32_t key_bytes = 0
    cdef Py_ssize_t i, k, n, pos, mpos, fm_len, inner_len, te_len, ta_len, a_len, p_len, cap
    cdef uint8_t buf[65536]
    cdef uint8_t *te = buf
    cdef uint8_t fm[4096]
    cdef uint8_t act[16384]
    cdef const uint8_t *base
    cdef const uint8_t *key
    cdef const uint8_t *v
    cdef const uint8_t *m
    cdef int64_t prio
    cdef uint32_t plen
    try:
        for k in range(nf):
            fid[k], ftype[k], fbits[k] = fields[k]
            fnb[k] = (fbits[k] + 7) // 8
            foff[k] = key_bytes
            key_bytes += fnb[k]
            if fnb[k] > 16:
                raise ValueError("key field too wide for the fast read path")
        base = <const uint8_t *>PyBytes_AS_STRING(stored)
        n = len(priorities)
        out = []
        encoded_actions = {}
        for i in range(n):
            key = base + i * 2 * key_bytes
            pos = 0
            # table_id
            te[pos] = 1 << 3
            pos += 1
            pos += put_varint(te + pos, table_id)
            for k in range(nf):
                v = key + foff[k]
                m = key + key_bytes + foff[k]
                mpos = 0
                fm[0] = 1 << 3
                mpos = 1 + put_varint(fm + 1, fid[k])
                if ftype[k] == MT_EXACT:
                    inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, fnb[k])
                    fm[mpos] = 2 << 3 | 2
                    fm[mpos + 1] = <uint8_t>inner_len
                    mpos += 2 + inner_len
                elif ftype[k] == MT_OPTIONAL:
                    if all_zero(m, fnb[k]):
                        continue
                    inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, fnb[k])
                    fm[mpos] = 7 << 3 | 2
                    fm[mpos + 1] = <uint8_t>inner_len
                    mpos += 2 + inner_len
                elif ftype[k] == MT_LPM:
                    plen = ones(m, fnb[k])
                    if plen == 0:
                        continue
                    inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, fnb[k])
                    fm[mpos + 2 + inner_len] = 2 << 3
                    inner_len += 1 + put_varint(fm + mpos + 3 + inner_len, plen)
                    fm[mpos] = 4 << 3 | 2
                    fm[mpos + 1] = <uint8_t>inner_len
                    mpos += 2 + inner_len
                elif ftype[k] == MT_TERNARY:
                    if all_zero(m, fnb[k]):
                        continue
                    inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, fnb[k])
                    inner_len += put_canonical(fm + mpos + 2 + inner_len, 2 << 3 | 2, m, fnb[k])
                    fm[mpos] = 3 << 3 | 2
                    fm[mpos + 1] = <uint8_t>inner_len
                    mpos += 2 + inner_len
                else:   # range: low in the value place, high in the mask place
                    if all_zero(v, fnb[k]) and is_full(m, fbits[k], fnb[k]):
                        continue
                    inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, fnb[k])
                    inner_len += put_canonical(fm + mpos + 2 + inner_len, 2 << 3 | 2, m, fnb[k])
                    fm[mpos] = 6 << 3 | 2
                    fm[mpos + 1] = <uint8_t>inner_len
                    mpos += 2 + inner_len
                te[pos] = 2 << 3 | 2
                pos += 1
                pos += put_varint(te + pos, mpos)
                for j in range(mpos):
                    te[pos + j] = fm[j]
                pos += mpos
            # action (TableAction { action { action_id params* } }), cached per value set
            aid = actions[i]
            pvals = params[i]
            cache_key = (aid, tuple(pvals))
            encoded = encoded_actions.get(cache_key)
            if encoded is None:
                encoded = _encode_action(action_ids[aid], pvals)
                if len(encoded_actions) < 4096:
                    encoded_actions[cache_key] = encoded
            ta_len = len(<bytes>encoded)
            if pos + ta_len + 32 > 65536:
                raise ValueError("entry too large for the fast read path")
            te[pos] = 3 << 3 | 2
            pos += 1
            pos += put_varint(te + pos, ta_len)
            for j in range(ta_len):
                te[pos + j] = (<const uint8_t *>PyBytes_AS_STRING(encoded))[j]
            pos += ta_len
            prio = priorities[i]
            if prio:
                te[pos] = 4 << 3
                pos += 1
                pos += put_varint(te + pos, <uint64_t>prio)
            out.append(PyBytes_FromStringAndSize(<char *>te, pos))
        return out
    finally:
        free(fid)
        free(ftype)
        free(fbits)
        free(fnb)
        free(foff)


def _encode_action(tuple action_info, list values) -> bytes:
    """TableAction.action body: Action { action_id = 1; params = 4 { param_id = 2; value = 3 } }."""
    p4_id, params = action_info
    body = bytearray()
    body += b"\x08" + _varint(p4_id)
    for (pid, bits), value in zip(params, values):
        raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        inner = b"\x10" + _varint(pid) + b"\x1a" + _varint(len(raw)) + raw
        body += b"\x22" + _varint(len(inner)) + inner
    return b"\x0a" + _varint(len(body)) + bytes(body)


def _varint(uint64_t value) -> bytes:
    cdef uint8_t tmp[10]
    cdef Py_ssize_t n = put_varint(tmp, value)
    return PyBytes_FromStringAndSize(<char *>tmp, n)
