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

from array import array

from cpython.bytearray cimport PyByteArray_AS_STRING
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

# P4Info match types (MT_*) and PARAM_BYTES: target/pipeline/constants.py
include "../target/pipeline/constants.pxi"


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


cdef enum:
    ENTRY_MAX = 65536           # the largest TableEntry the fast path writes


cdef struct key_layout_t:
    Py_ssize_t nf
    uint32_t key_bytes
    uint32_t *fid
    int *ftype
    uint32_t *fbits
    uint32_t *fnb
    uint32_t *foff


cdef int layout_init(key_layout_t *L, list fields) except -1:
    L.nf = len(fields)
    L.key_bytes = 0
    L.fid = <uint32_t *>malloc(sizeof(uint32_t) * (L.nf + 1))
    L.ftype = <int *>malloc(sizeof(int) * (L.nf + 1))
    L.fbits = <uint32_t *>malloc(sizeof(uint32_t) * (L.nf + 1))
    L.fnb = <uint32_t *>malloc(sizeof(uint32_t) * (L.nf + 1))
    L.foff = <uint32_t *>malloc(sizeof(uint32_t) * (L.nf + 1))
    if not (L.fid and L.ftype and L.fbits and L.fnb and L.foff):
        raise MemoryError("key layout")
    for k in range(L.nf):
        L.fid[k], L.ftype[k], L.fbits[k] = fields[k]
        L.fnb[k] = (L.fbits[k] + 7) // 8
        L.foff[k] = L.key_bytes
        L.key_bytes += L.fnb[k]
        if L.fnb[k] > 16:
            raise ValueError("key field too wide for the fast read path")
    return 0


cdef void layout_free(key_layout_t *L) noexcept:
    free(L.fid)
    free(L.ftype)
    free(L.fbits)
    free(L.fnb)
    free(L.foff)


cdef Py_ssize_t encode_match(const key_layout_t *L, const uint8_t *key, uint8_t *te) noexcept nogil:
    """The FieldMatch fields of one stored key, canonical; returns the bytes written."""
    cdef Py_ssize_t pos = 0, k, j, mpos, inner_len
    cdef uint8_t fm[256]
    cdef const uint8_t *v
    cdef const uint8_t *m
    cdef uint32_t plen
    for k in range(L.nf):
        v = key + L.foff[k]
        m = key + L.key_bytes + L.foff[k]
        fm[0] = 1 << 3
        mpos = 1 + put_varint(fm + 1, L.fid[k])
        if L.ftype[k] == MT_EXACT:
            inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, L.fnb[k])
            fm[mpos] = 2 << 3 | 2
        elif L.ftype[k] == MT_OPTIONAL:
            if all_zero(m, L.fnb[k]):
                continue
            inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, L.fnb[k])
            fm[mpos] = 7 << 3 | 2
        elif L.ftype[k] == MT_LPM:
            plen = ones(m, L.fnb[k])
            if plen == 0:
                continue
            inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, L.fnb[k])
            fm[mpos + 2 + inner_len] = 2 << 3
            inner_len += 1 + put_varint(fm + mpos + 3 + inner_len, plen)
            fm[mpos] = 4 << 3 | 2
        elif L.ftype[k] == MT_TERNARY:
            if all_zero(m, L.fnb[k]):
                continue
            inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, L.fnb[k])
            inner_len += put_canonical(fm + mpos + 2 + inner_len, 2 << 3 | 2, m, L.fnb[k])
            fm[mpos] = 3 << 3 | 2
        else:   # range: low in the value place, high in the mask place
            if all_zero(v, L.fnb[k]) and is_full(m, L.fbits[k], L.fnb[k]):
                continue
            inner_len = put_canonical(fm + mpos + 2, 1 << 3 | 2, v, L.fnb[k])
            inner_len += put_canonical(fm + mpos + 2 + inner_len, 2 << 3 | 2, m, L.fnb[k])
            fm[mpos] = 6 << 3 | 2
        fm[mpos + 1] = <uint8_t>inner_len
        mpos += 2 + inner_len
        te[pos] = 2 << 3 | 2
        pos += 1
        pos += put_varint(te + pos, mpos)
        for j in range(mpos):
            te[pos + j] = fm[j]
        pos += mpos
    return pos


cdef class _Actions:
    """target action id -> (P4Info action id, [(param id, bitwidth)]) as C arrays."""
    cdef dict by_target
    cdef list keep

    def __init__(self, dict action_ids):
        self.by_target = {}
        self.keep = []
        for target_id, (p4_id, params) in action_ids.items():
            ids = array("I", [p4_id] + [pid for pid, _bits in params])
            self.keep.append(ids)
            self.by_target[target_id] = ids


cdef Py_ssize_t encode_action(const uint32_t *ids, Py_ssize_t nparams, const uint8_t *values,
                              uint8_t *out) noexcept nogil:
    """TableAction { action { action_id params* } } with canonical parameter values read
    from the packed little-endian slots; returns the bytes written."""
    cdef uint8_t body[4096]
    cdef Py_ssize_t pos = 0, k, n, inner, i
    cdef const uint8_t *v
    body[0] = 1 << 3
    pos = 1 + put_varint(body + 1, ids[0])
    for k in range(nparams):
        v = values + k * PARAM_BYTES
        n = PARAM_BYTES
        while n > 1 and v[n - 1] == 0:
            n -= 1
        inner = 1 + varint_size(ids[1 + k]) + 2 + n
        body[pos] = 4 << 3 | 2
        body[pos + 1] = <uint8_t>inner
        pos += 2
        body[pos] = 2 << 3
        pos += 1 + put_varint(body + pos + 1, ids[1 + k])
        body[pos] = 3 << 3 | 2
        body[pos + 1] = <uint8_t>n
        pos += 2
        for i in range(n):
            body[pos + i] = v[n - 1 - i]
        pos += n
    out[0] = 1 << 3 | 2
    n = 1 + put_varint(out + 1, pos)
    for i in range(pos):
        out[n + i] = body[i]
    return n + pos


cdef Py_ssize_t encode_entry(uint32_t table_id, const key_layout_t *L, const uint8_t *key,
                             int64_t prio, const uint32_t *aids, Py_ssize_t nparams,
                             const uint8_t *values, uint8_t *te) noexcept nogil:
    """One TableEntry { table_id match* action priority }; returns the bytes written."""
    cdef Py_ssize_t pos = 0, alen, i
    cdef uint8_t act[4200]
    te[0] = 1 << 3
    pos = 1 + put_varint(te + 1, table_id)
    pos += encode_match(L, key, te + pos)
    alen = encode_action(aids, nparams, values, act)
    te[pos] = 3 << 3 | 2
    pos += 1
    pos += put_varint(te + pos, alen)
    for i in range(alen):
        te[pos + i] = act[i]
    pos += alen
    if prio:
        te[pos] = 4 << 3
        pos += 1
        pos += put_varint(te + pos, <uint64_t>prio)
    return pos


cdef const uint32_t *action_ids_of(_Actions actions, int32_t target_id,
                                   Py_ssize_t *nparams, Py_ssize_t stride) except NULL:
    cdef const uint32_t[::1] ids = actions.by_target[target_id]
    nparams[0] = ids.shape[0] - 1
    if nparams[0] > stride or nparams[0] > 200:
        raise ValueError("action with more parameters than the packed form holds")
    return &ids[0]


def encode_table_entries(uint32_t table_id, list fields, const uint8_t[::1] stored,
                         const int64_t[::1] priorities, const int32_t[::1] actions,
                         const uint8_t[::1] params, Py_ssize_t param_stride,
                         dict action_ids):
    """Serialized TableEntry messages, one per entry.

    fields: (P4Info field id, match type, bitwidth) per key field in stored order; stored:
    2 * key_bytes per entry; priorities, actions (target action ids): one per entry; params:
    param_stride packed values (16 bytes little-endian) per entry; action_ids: target action
    id -> (P4Info action id, [(param id, bitwidth), ...]). KeyError for an action not in
    action_ids, ValueError for keys or actions the fast path does not cover."""
    cdef key_layout_t L
    cdef uint8_t te[ENTRY_MAX]
    cdef Py_ssize_t i, n = actions.shape[0], nparams, length
    cdef const uint32_t *aids
    cdef _Actions acts = _Actions(action_ids)
    layout_init(&L, fields)
    try:
        _check_columns(&L, n, stored, priorities, params, param_stride)
        out = []
        for i in range(n):
            aids = action_ids_of(acts, actions[i], &nparams, param_stride)
            length = encode_entry(table_id, &L, &stored[i * 2 * L.key_bytes], priorities[i],
                                  aids, nparams, &params[i * param_stride * PARAM_BYTES], te)
            out.append(PyBytes_FromStringAndSize(<char *>te, length))
        return out
    finally:
        layout_free(&L)


cdef int _check_columns(const key_layout_t *L, Py_ssize_t n, const uint8_t[::1] stored,
                        const int64_t[::1] priorities, const uint8_t[::1] params,
                        Py_ssize_t param_stride) except -1:
    if stored.shape[0] != n * 2 * L.key_bytes or priorities.shape[0] != n or \
            params.shape[0] != n * param_stride * PARAM_BYTES:
        raise ValueError(f"{n} entries need {n * 2 * L.key_bytes} key bytes, {n} priorities "
                         f"and {n * param_stride * PARAM_BYTES} parameter bytes")
    if L.nf > 64:
        raise ValueError("too many key fields for the fast read path")
    return 0


def encode_entity_chunks(uint32_t table_id, list fields, const uint8_t[::1] stored,
                         const int64_t[::1] priorities, const int32_t[::1] actions,
                         const uint8_t[::1] params, Py_ssize_t param_stride,
                         dict action_ids, Py_ssize_t max_bytes):
    """The same entries as ReadResponse bodies: each chunk is a run of `entities` fields
    (Entity { table_entry }) of at most max_bytes, ready to send as one message."""
    cdef key_layout_t L
    cdef uint8_t te[ENTRY_MAX]
    cdef uint8_t head[24]
    cdef Py_ssize_t i, n = actions.shape[0], nparams, length, entity_len, head_len, used = 0
    cdef Py_ssize_t cap = max(max_bytes, 2 * ENTRY_MAX)
    cdef const uint32_t *aids
    cdef _Actions acts = _Actions(action_ids)
    cdef bytearray chunk = bytearray(cap)
    cdef uint8_t *buf = <uint8_t *>PyByteArray_AS_STRING(chunk)
    layout_init(&L, fields)
    try:
        _check_columns(&L, n, stored, priorities, params, param_stride)
        out = []
        for i in range(n):
            aids = action_ids_of(acts, actions[i], &nparams, param_stride)
            length = encode_entry(table_id, &L, &stored[i * 2 * L.key_bytes], priorities[i],
                                  aids, nparams, &params[i * param_stride * PARAM_BYTES], te)
            # ReadResponse.entities (1) holding Entity.table_entry (2)
            entity_len = 1 + varint_size(length) + length
            head[0] = 1 << 3 | 2
            head_len = 1 + put_varint(head + 1, entity_len)
            head[head_len] = 2 << 3 | 2
            head_len += 1 + put_varint(head + head_len + 1, length)
            if used and used + head_len + length > max_bytes:
                out.append(PyBytes_FromStringAndSize(<char *>buf, used))
                used = 0
            memcpy(buf + used, head, head_len)
            memcpy(buf + used + head_len, te, length)
            used += head_len + length
        if used:
            out.append(PyBytes_FromStringAndSize(<char *>buf, used))
        return out
    finally:
        layout_free(&L)


def _varint(uint64_t value) -> bytes:
    cdef uint8_t tmp[10]
    cdef Py_ssize_t n = put_varint(tmp, value)
    return PyBytes_FromStringAndSize(<char *>tmp, n)
