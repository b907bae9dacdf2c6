# cython: language_level=3
"""The hot Write path: serialized p4.v1.WriteRequest bytes -> packed table updates, in C.

Bulk loads are batches of plain TableEntry INSERT/MODIFY/DELETE updates. Decoding each
through protobuf message objects costs more than applying it, so this module reads the
protobuf wire format directly (encoding per developers.google.com/protocol-buffers: varint,
length-delimited fields) for that one shape and writes each accepted update into columns:
the target's stored key form (value bytes then mask bytes per field; a range field keeps its
low and high bounds there), the priority, the target's action id and the parameter values.

The decoder only *accepts*. An update it does not fully understand or finds invalid (unknown
fields, default entries, metadata, idle timeouts, direct meters, action profiles, bad widths,
host bits set, ...) is marked SLOW and the caller runs it through the protobuf path, which
owns every error message; so both paths agree by construction on what is an error.
"""

from array import array as py_array

from cpython.array cimport array, clone
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

# Update kinds in the `kinds` column (UPDATE_*), match types (MT_*), PARAM_BYTES: one source,
# target/pipeline/constants.py. SLOW marks a row the fast path leaves to the general one.
include "../target/pipeline/constants.pxi"
SLOW = 0

cdef enum:
    MAX_FIELDS = 64
    MAX_PARAMS = 64

# P4Info ActionRef.Scope.DEFAULT_ONLY
cdef int SCOPE_DEFAULT_ONLY = 2


cdef struct span_t:
    const uint8_t *p
    const uint8_t *end


cdef inline int read_varint(span_t *s, uint64_t *out) noexcept nogil:
    cdef uint64_t v = 0
    cdef int shift = 0
    cdef uint8_t b
    while s.p < s.end and shift < 64:
        b = s.p[0]
        s.p += 1
        v |= (<uint64_t>(b & 0x7F)) << shift
        if not (b & 0x80):
            out[0] = v
            return 0
        shift += 7
    return -1


cdef inline int read_bytes(span_t *s, span_t *out) noexcept nogil:
    cdef uint64_t n
    if read_varint(s, &n) or n > <uint64_t>(s.end - s.p):
        return -1
    out.p = s.p
    out.end = s.p + n
    s.p += n
    return 0


cdef int skip_field(span_t *s, uint32_t wire) noexcept nogil:
    cdef uint64_t v
    cdef span_t inner
    if wire == 0:
        return read_varint(s, &v)
    if wire == 2:
        return read_bytes(s, &inner)
    if wire == 1:
        if s.end - s.p < 8:
            return -1
        s.p += 8
        return 0
    if wire == 5:
        if s.end - s.p < 4:
            return -1
        s.p += 4
        return 0
    return -1


cdef class ActionLayout:
    """One action as a table may use it: the target's id and the parameters' P4Info ids
    and widths in declaration order."""
    cdef public int32_t target_id
    cdef public int scope
    cdef int nparams
    cdef uint32_t param_ids[MAX_PARAMS]
    cdef uint32_t param_bits[MAX_PARAMS]

    def __init__(self, int32_t target_id, int scope, list params):
        if len(params) > MAX_PARAMS:
            raise ValueError("too many parameters for the fast path")
        self.target_id = target_id
        self.scope = scope
        self.nparams = len(params)
        for i, (pid, bits) in enumerate(params):
            self.param_ids[i] = pid
            self.param_bits[i] = bits


cdef class TableLayout:
    """One table's match fields in P4Info order, mapped onto the target's stored key form."""
    cdef public uint32_t table_id
    cdef public object target_name
    cdef public uint32_t key_bytes
    cdef public bint needs_priority
    cdef int nfields
    cdef uint32_t field_ids[MAX_FIELDS]
    cdef uint32_t field_bits[MAX_FIELDS]
    cdef uint32_t field_bytes[MAX_FIELDS]
    cdef uint32_t field_offset[MAX_FIELDS]
    cdef int field_type[MAX_FIELDS]
    cdef dict actions            # P4Info action id -> ActionLayout
    cdef public uint32_t param_stride   # parameter slots per entry in the packed column

    def __init__(self, uint32_t table_id, target_name, list fields, bint needs_priority,
                 dict actions, param_stride=None):
        """fields: (P4Info field id, P4Info match type, bitwidth) in key order;
        param_stride: the target's parameter slots per entry (default: the most parameters
        any of the actions takes, at least 1)."""
        if len(fields) > MAX_FIELDS:
            raise ValueError("too many key fields for the fast path")
        if param_stride is None:
            param_stride = max([1] + [(<ActionLayout>a).nparams for a in actions.values()])
        self.param_stride = param_stride
        self.table_id = table_id
        self.target_name = target_name
        self.needs_priority = needs_priority
        self.actions = actions
        self.nfields = len(fields)
        cdef uint32_t off = 0
        for i, (fid, mtype, bits) in enumerate(fields):
            self.field_ids[i] = fid
            self.field_type[i] = mtype
            self.field_bits[i] = bits
            self.field_bytes[i] = (bits + 7) // 8
            self.field_offset[i] = off
            off += (bits + 7) // 8
        self.key_bytes = off


cdef inline bint fits(span_t v, uint32_t bits, uint32_t nb) noexcept nogil:
    """A non-empty big-endian string whose value fits `bits` bits (leading zeros allowed)."""
    if v.p == v.end:
        return False
    while v.end - v.p > 1 and v.p[0] == 0:
        v.p += 1
    cdef size_t n = v.end - v.p
    if n > nb:
        return False
    if n == nb and bits % 8 and (v.p[0] >> (bits % 8)):
        return False
    return True


cdef inline void put(uint8_t *dst, span_t v, uint32_t nb) noexcept nogil:
    """Right-align the value (already checked by fits) into nb bytes."""
    while v.end - v.p > 1 and v.p[0] == 0:
        v.p += 1
    cdef size_t n = v.end - v.p
    memset(dst, 0, nb - n)
    memcpy(dst + nb - n, v.p, n)


cdef inline void put_full(uint8_t *dst, uint32_t bits, uint32_t nb) noexcept nogil:
    memset(dst, 0xFF, nb)
    if bits % 8:
        dst[0] = <uint8_t>((1 << (bits % 8)) - 1)


cdef inline void put_prefix_mask(uint8_t *dst, uint32_t bits, uint32_t nb, uint32_t plen) noexcept nogil:
    """The mask of the top `plen` bits of a `bits`-wide field right-aligned in nb bytes."""
    cdef uint32_t pad = nb * 8 - bits      # unused high bits of the first byte
    cdef uint32_t i, lo, hi, b
    for i in range(nb):
        # bit positions [8i, 8i+8) of the nb-byte string; ones at [pad, pad + plen)
        lo = 8 * i
        hi = lo + 8
        if hi <= pad or lo >= pad + plen:
            dst[i] = 0
        elif lo >= pad and hi <= pad + plen:
            dst[i] = 0xFF
        else:
            dst[i] = 0
            for b in range(8):
                if pad <= lo + b < pad + plen:
                    dst[i] |= <uint8_t>(0x80 >> b)


cdef inline bint and_not_zero(const uint8_t *v, const uint8_t *m, uint32_t nb) noexcept nogil:
    """True when v has a bit set outside m."""
    for i in range(nb):
        if v[i] & ~m[i]:
            return True
    return False


cdef inline bint is_zero(const uint8_t *v, uint32_t nb) noexcept nogil:
    cdef uint32_t i
    for i in range(nb):
        if v[i]:
            return False
    return True


cdef inline int cmp_be(const uint8_t *a, const uint8_t *b, uint32_t nb) noexcept nogil:
    cdef uint32_t i
    for i in range(nb):
        if a[i] != b[i]:
            return -1 if a[i] < b[i] else 1
    return 0


cdef int decode_match(TableLayout t, span_t fm, uint8_t *key, uint64_t *seen) noexcept:
    """One FieldMatch into the stored key; 0 on success, -1 to go the slow way."""
    cdef uint64_t tag, fid = 0, plen = 0
    cdef span_t inner, a, b
    cdef int kind = 0
    cdef int have_a = 0, have_b = 0, have_plen = 0
    cdef int i, k
    a.p = a.end = NULL
    b.p = b.end = NULL
    while fm.p < fm.end:
        if read_varint(&fm, &tag):
            return -1
        if tag == (1 << 3):
            if read_varint(&fm, &fid):
                return -1
        elif (tag & 7) == 2 and (tag >> 3) in (2, 3, 4, 6, 7):
            if kind or read_bytes(&fm, &inner):
                return -1
            kind = <int>(tag >> 3)
            while inner.p < inner.end:
                if read_varint(&inner, &tag):
                    return -1
                if tag == (1 << 3 | 2):
                    if read_bytes(&inner, &a):
                        return -1
                    have_a = 1
                elif tag == (2 << 3 | 2) and kind in (3, 6):
                    if read_bytes(&inner, &b):
                        return -1
                    have_b = 1
                elif tag == (2 << 3) and kind == 4:
                    if read_varint(&inner, &plen):
                        return -1
                    have_plen = 1
                else:
                    return -1
        else:
            return -1
    k = -1
    for i in range(t.nfields):
        if t.field_ids[i] == fid:
            k = i
            break
    if k < 0 or k >= 64 or (seen[0] >> k) & 1:
        return -1
    seen[0] |= (<uint64_t>1) << k
    cdef uint32_t bits = t.field_bits[k]
    cdef uint32_t nb = t.field_bytes[k]
    cdef uint8_t *val = key + t.field_offset[k]
    cdef uint8_t *msk = key + t.key_bytes + t.field_offset[k]
    cdef int mt = t.field_type[k]
    if not have_a or not fits(a, bits, nb):
        return -1
    if kind == 2 and mt == MT_EXACT:
        put(val, a, nb)
        put_full(msk, bits, nb)
    elif kind == 7 and mt == MT_OPTIONAL:
        put(val, a, nb)
        put_full(msk, bits, nb)
    elif kind == 4 and mt == MT_LPM:
        if not have_plen or plen == 0 or plen > bits:
            return -1
        put(val, a, nb)
        put_prefix_mask(msk, bits, nb, <uint32_t>plen)
        if and_not_zero(val, msk, nb):
            return -1
    elif kind == 3 and mt == MT_TERNARY:
        if not have_b or not fits(b, bits, nb):
            return -1
        put(val, a, nb)
        put(msk, b, nb)
        if is_zero(msk, nb) or and_not_zero(val, msk, nb):
            return -1
    elif kind == 6 and mt == MT_RANGE:
        if not have_b or not fits(b, bits, nb):
            return -1
        put(val, a, nb)
        put(msk, b, nb)
        if cmp_be(val, msk, nb) > 0:
            return -1
        if is_zero(val, nb) and _is_full(msk, bits, nb):   # a don't-care must be omitted
            return -1
    else:
        return -1
    return 0


cdef bint _is_full(const uint8_t *v, uint32_t bits, uint32_t nb) noexcept:
    cdef uint8_t top = <uint8_t>(((1 << (bits % 8)) - 1) if bits % 8 else 0xFF)
    if v[0] != top:
        return False
    cdef uint32_t i
    for i in range(1, nb):
        if v[i] != 0xFF:
            return False
    return True


cdef inline void put_le(uint8_t *dst, span_t v) noexcept nogil:
    """The big-endian value (checked by fits, at most PARAM_BYTES significant bytes) as a
    little-endian number in PARAM_BYTES bytes, as the engine stores parameters."""
    while v.end - v.p > 1 and v.p[0] == 0:
        v.p += 1
    cdef size_t n = v.end - v.p, i
    memset(dst, 0, PARAM_BYTES)
    for i in range(n):
        dst[i] = v.p[n - 1 - i]


cdef int decode_action(TableLayout t, span_t ta, int32_t *action, uint8_t *params) noexcept:
    """TableAction holding an Action -> the target action id and the packed parameters
    (t.param_stride slots of PARAM_BYTES); 0 on success, -1 to go the slow way."""
    cdef uint64_t tag, aid = 0, pid
    cdef span_t act, prm, val
    cdef int have_act = 0
    while ta.p < ta.end:
        if read_varint(&ta, &tag):
            return -1
        if tag != (1 << 3 | 2) or have_act or read_bytes(&ta, &act):
            return -1
        have_act = 1
    if not have_act:
        return -1
    cdef uint64_t given = 0
    cdef ActionLayout al
    cdef int k, i, j
    cdef span_t params_seen[MAX_PARAMS]
    cdef uint32_t param_ids_seen[MAX_PARAMS]
    cdef int nseen = 0
    while act.p < act.end:
        if read_varint(&act, &tag):
            return -1
        if tag == (1 << 3):
            if read_varint(&act, &aid):
                return -1
        elif tag == (4 << 3 | 2):
            if read_bytes(&act, &prm) or nseen >= MAX_PARAMS:
                return -1
            pid = 0
            val.p = val.end = NULL
            while prm.p < prm.end:
                if read_varint(&prm, &tag):
                    return -1
                if tag == (2 << 3):
                    if read_varint(&prm, &pid):
                        return -1
                elif tag == (3 << 3 | 2):
                    if read_bytes(&prm, &val):
                        return -1
                else:
                    return -1
            param_ids_seen[nseen] = <uint32_t>pid
            params_seen[nseen] = val
            nseen += 1
        else:
            return -1
    layout = t.actions.get(aid)
    if layout is None:
        return -1
    al = <ActionLayout>layout
    if al.scope == SCOPE_DEFAULT_ONLY or nseen != al.nparams or <uint32_t>al.nparams > t.param_stride:
        return -1
    memset(params, 0, t.param_stride * PARAM_BYTES)
    for j in range(nseen):
        k = -1
        for i in range(al.nparams):
            if al.param_ids[i] == param_ids_seen[j]:
                k = i
                break
        if k < 0 or (given >> k) & 1:
            return -1
        given |= (<uint64_t>1) << k
        if (params_seen[j].p == NULL or al.param_bits[k] > 8 * PARAM_BYTES or
                not fits(params_seen[j], al.param_bits[k], (al.param_bits[k] + 7) // 8)):
            return -1
        put_le(params + k * PARAM_BYTES, params_seen[j])
    action[0] = al.target_id
    return 0


def split_write_request(bytes data):
    """(device_id, election_id or None, role, atomicity, update spans as array('I') of
    start/end pairs) of a serialized WriteRequest; None if the bytes hold anything this
    reader does not know (the caller then parses them with protobuf)."""
    cdef span_t s, inner, sub
    cdef uint64_t tag, v, device_id = 0, atomicity = 0, high = 0, low = 0
    cdef const uint8_t *base = <const uint8_t *>PyBytes_AS_STRING(data)
    s.p = base
    s.end = base + PyBytes_GET_SIZE(data)
    spans = py_array("I")
    election = None
    role = ""
    while s.p < s.end:
        if read_varint(&s, &tag):
            return None
        if tag == (1 << 3):
            if read_varint(&s, &device_id):
                return None
        elif tag == (5 << 3):
            if read_varint(&s, &atomicity):
                return None
            atomicity = <uint64_t><uint32_t>atomicity  # an enum is an int32 on the wire
        elif tag == (4 << 3 | 2):
            if read_bytes(&s, &inner):
                return None
            spans.append(<uint32_t>(inner.p - base))
            spans.append(<uint32_t>(inner.end - base))
        elif tag == (3 << 3 | 2):
            if read_bytes(&s, &inner):
                return None
            # A message field that occurs twice is merged, as protobuf does: {high}{low}
            # is one id with both halves, not the second occurrence alone.
            while inner.p < inner.end:
                if read_varint(&inner, &tag):
                    return None
                if tag == (1 << 3):
                    if read_varint(&inner, &high):
                        return None
                elif tag == (2 << 3):
                    if read_varint(&inner, &low):
                        return None
                else:
                    return None
            election = (<object>high) << 64 | <object>low
        elif tag == (6 << 3 | 2):
            if read_bytes(&s, &inner):
                return None
            try:    # protobuf refuses a string that is not UTF-8; so does this reader
                role = (<const char *>inner.p)[:inner.end - inner.p].decode("utf-8")
            except UnicodeDecodeError:
                return None
        else:
            return None
    return (device_id, election, role, <int32_t>atomicity, spans)


cdef class DecodedRun:
    """Consecutive fast updates of one table, as columns indexed by position in the run."""
    cdef public TableLayout table
    cdef public object positions    # array('I'): index of each update in the WriteRequest
    cdef public bytearray kinds     # UPDATE_INSERT / UPDATE_MODIFY / UPDATE_DELETE
    cdef public bytearray stored    # len(positions) * 2 * key_bytes
    cdef public object priorities   # array('q')
    cdef public object actions      # array('i'): target action id (-1 for DELETE)
    cdef public bytearray params    # table.param_stride little-endian 16-byte values per update

    def __len__(self):
        return len(self.positions)

    def param_values(self, Py_ssize_t j) -> list:
        """Update j's parameter values as ints (all param_stride slots)."""
        return unpack_params(self.params, self.table.param_stride, j)


def unpack_params(params, Py_ssize_t stride, Py_ssize_t j) -> list:
    """Entry j's `stride` values of a packed parameter column, as ints."""
    cdef Py_ssize_t at = j * stride * PARAM_BYTES
    view = memoryview(params)
    return [int.from_bytes(view[at + k * PARAM_BYTES:at + (k + 1) * PARAM_BYTES], "little")
            for k in range(stride)]


cdef int table_of_update(span_t u, uint64_t *kind, span_t *te, uint64_t *table_id) noexcept:
    """The update's type and TableEntry span; -1 if the update is not a table entry."""
    cdef uint64_t tag
    cdef span_t ent, inner
    cdef int have_entity = 0
    kind[0] = 0
    while u.p < u.end:
        if read_varint(&u, &tag):
            return -1
        if tag == (1 << 3):
            if read_varint(&u, kind):
                return -1
        elif tag == (2 << 3 | 2):
            if have_entity or read_bytes(&u, &ent):
                return -1
            have_entity = 1
        else:
            return -1
    if not have_entity:
        return -1
    if ent.p == ent.end:
        return -1
    if read_varint(&ent, &tag) or tag != (2 << 3 | 2) or read_bytes(&ent, te) or ent.p != ent.end:
        return -1
    # the table id comes first in every serializer we know, but a repeated one counts as
    # protobuf counts it: the last occurrence wins
    table_id[0] = 0
    inner = te[0]
    while inner.p < inner.end:
        if read_varint(&inner, &tag):
            return -1
        if tag == (1 << 3):
            if read_varint(&inner, table_id):
                return -1
        elif skip_field(&inner, <uint32_t>(tag & 7)):
            return -1
    table_id[0] = <uint32_t>table_id[0]
    return 0


cdef int decode_entry(TableLayout t, uint64_t kind, span_t te, uint8_t *key, int64_t *prio,
                      int32_t *action, uint8_t *params) noexcept:
    """The TableEntry into the stored key, priority, action id and packed parameters (-1 and
    zero parameters for DELETE); 0 on success, -1 when it needs the slow path."""
    cdef uint64_t tag, v, seen = 0
    cdef span_t fm, ta
    cdef int have_action = 0
    cdef int i
    prio[0] = 0
    memset(key, 0, 2 * t.key_bytes)
    while te.p < te.end:
        if read_varint(&te, &tag):
            return -1
        if tag == (1 << 3):
            if read_varint(&te, &v):
                return -1
        elif tag == (2 << 3 | 2):
            if read_bytes(&te, &fm) or decode_match(t, fm, key, &seen):
                return -1
        elif tag == (3 << 3 | 2):
            if have_action or read_bytes(&te, &ta):
                return -1
            have_action = 1
        elif tag == (4 << 3):
            if read_varint(&te, &v):
                return -1
            prio[0] = <int32_t>v
        else:
            return -1
    # don't-care fields: exact ones are required; a range's don't-care is the full range
    for i in range(t.nfields):
        if (seen >> i) & 1:
            continue
        if t.field_type[i] == MT_EXACT:
            return -1
        if t.field_type[i] == MT_RANGE:
            put_full(key + t.key_bytes + t.field_offset[i], t.field_bits[i], t.field_bytes[i])
    if t.needs_priority:
        if prio[0] <= 0:
            return -1
    elif prio[0] != 0:
        return -1
    if kind == UPDATE_DELETE:
        # The protobuf path ignores a DELETE's action but protobuf parses it: an action this
        # decoder cannot read goes that way too, so both refuse the same bytes.
        if have_action and decode_action(t, ta, action, params):
            return -1
        action[0] = -1
        memset(params, 0, t.param_stride * PARAM_BYTES)
        return 0
    if not have_action:
        return -1
    return decode_action(t, ta, action, params)


cdef enum:
    FIRST_CAPACITY = 64   # updates a run's columns hold at first; they double as it grows

# empty columns of each type, cloned at the size a run needs
cdef array U32_COLUMN = py_array("I")
cdef array I32_COLUMN = py_array("i")
cdef array I64_COLUMN = py_array("q")


cdef void grow_columns(DecodedRun run, Py_ssize_t old, Py_ssize_t new, Py_ssize_t stride,
                       Py_ssize_t pstride):
    """Lengthen the run's columns from `old` to `new` updates (no buffer may be exported)."""
    cdef Py_ssize_t more = new - old
    run.positions.frombytes(bytes(4 * more))
    run.kinds.extend(bytes(more))
    run.stored.extend(bytes(more * stride))
    run.priorities.frombytes(bytes(8 * more))
    run.actions.frombytes(bytes(4 * more))
    run.params.extend(bytes(more * pstride))


def decode_updates(bytes data, spans, Py_ssize_t first, dict layouts):
    """Decode updates from index `first` on while they are fast table updates of one table.

    Returns (DecodedRun or None, next index). A None run means update `first` is slow: the
    caller handles it with protobuf and calls again from `first + 1`. The columns start
    small and double as the run grows, so that the cost of a call is proportional to the
    updates it takes (a batch of slow updates costs linear time, not quadratic).
    """
    cdef const uint8_t *base = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = len(spans) // 2
    cdef Py_ssize_t i = first, count = 0, cap = 0
    cdef span_t u, te
    cdef uint64_t kind, table_id, run_table = 0
    cdef TableLayout t = None
    cdef DecodedRun run = None
    cdef Py_ssize_t stride = 0, pstride = 0
    cdef const uint32_t[:] sp = spans
    cdef uint32_t *positions = NULL
    cdef int64_t *priorities = NULL
    cdef int32_t *actions = NULL
    cdef uint8_t *kinds = NULL
    cdef uint8_t *stored = NULL
    cdef uint8_t *params = NULL
    cdef bint moved = False
    while i < n:
        u.p = base + sp[2 * i]
        u.end = base + sp[2 * i + 1]
        if table_of_update(u, &kind, &te, &table_id) or kind < 1 or kind > 3:
            break
        if t is None:
            layout = layouts.get(table_id)
            if layout is None:
                break
            t = <TableLayout>layout
            run_table = table_id
            stride = 2 * t.key_bytes
            pstride = t.param_stride * PARAM_BYTES
            # columns for the whole batch up to FIRST_CAPACITY updates, made at their size
            cap = min(n - first, FIRST_CAPACITY)
            run = DecodedRun()
            run.table = t
            run.positions = clone(U32_COLUMN, cap, True)
            run.kinds = bytearray(cap)
            run.stored = bytearray(cap * stride)
            run.priorities = clone(I64_COLUMN, cap, True)
            run.actions = clone(I32_COLUMN, cap, True)
            run.params = bytearray(cap * pstride)
            moved = True
        elif table_id != run_table:
            break
        elif count == cap:
            grow_columns(run, cap, min(n - first, 2 * cap), stride, pstride)
            cap = min(n - first, 2 * cap)
            moved = True
        if moved:  # the columns are new or have grown: their addresses again
            moved = False
            positions = <uint32_t *>(<array>run.positions).data.as_uints
            priorities = <int64_t *>(<array>run.priorities).data.as_longlongs
            actions = <int32_t *>(<array>run.actions).data.as_ints
            kinds = <uint8_t *>(<char *>run.kinds)
            stored = <uint8_t *>(<char *>run.stored)
            params = <uint8_t *>(<char *>run.params)
        if decode_entry(t, kind, te, stored + count * stride, &priorities[count],
                        &actions[count], params + count * pstride):
            break
        positions[count] = <uint32_t>i
        kinds[count] = <uint8_t>kind
        count += 1
        i += 1
    if run is None or count == 0:
        return None, first
    if count < cap:
        del run.positions[count:]
        del run.kinds[count:]
        del run.stored[count * stride:]
        del run.priorities[count:]
        del run.actions[count:]
        del run.params[count * pstride:]
    return run, i
