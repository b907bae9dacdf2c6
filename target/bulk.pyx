# cython: language_level=3
"""Runs of encoded table updates applied in C, for the tables bulk loads fill: IPv4 routing
tables on DIR-24-8 (build.TBL_LPM24).

The Switch's bulk section (table_write_encoded) hands over one run as columns: update kinds,
stored rows (value then mask bytes of the one 32-bit LPM field), engine action ids and
packed parameters (Pipeline.param_stride slots of 16 little-endian bytes per update, what
Pipeline.entries_set_packed takes). Per update this does, in C, what the per-entry path does
through the Python objects: find the rule, take an id (the table's free ids first, then the
next fresh one, as TableEntries.reserve_id), add it to the DIR-24-8 structure, record the row
in the TableEntries store, and queue the action data; queued action data goes to the engine
in one entries_set_packed call per stretch of inserts (or of modifies).

The caller is inside a write section (Switch._engine_write): everything here changes the
standby copy of the table, so the data plane never sees an entry between its match and its
action; the rule changes made in C are logged for the other copy. An update that fails
changes nothing and is reported as (position, FAIL_*); with an undo list the run stops at its
first failure and the undo list holds what the Switch needs to reverse everything applied
before it.
"""

from array import array as py_array

from cpython.array cimport array, clone, resize
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBuffer_Release,
                            PyObject_GetBuffer)
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

from target.pipeline.lpm_dir24 cimport Dir24Lpm, dir24_add, dir24_delete, dir24_get

# Failure codes of apply_dir24_run (the Switch turns them into TargetErrors).
FAIL_EXISTS = 1          # INSERT of a match that is there already
FAIL_MISSING = 2         # MODIFY / DELETE of a match that is not there
FAIL_FULL = 3            # no free entry id: the table holds its declared size
FAIL_NO_MEMORY = 4       # the DIR-24-8 structure could not grow (memory or tbl8 groups)
FAIL_BAD_KIND = 5        # not INSERT, MODIFY or DELETE

# UPDATE_INSERT / UPDATE_MODIFY / UPDATE_DELETE, PARAM_BYTES (target/pipeline/constants.py)
include "pipeline/constants.pxi"

cdef array UINT32_TEMPLATE = py_array("I")
cdef array INT64_TEMPLATE = py_array("q")

# The undo record of a stretch of inserts: (UNDO_INSERTED, entries, [handles in order]).
UNDO_INSERTED = 4

cdef enum:
    ROW_BYTES = 8        # a stored LPM24 row: 4 value bytes, 4 mask bytes
    MAX_DIR24_VALUE = 0x00FFFFFF


cdef inline uint32_t be32(const uint8_t *p) noexcept nogil:
    return ((<uint32_t>p[0]) << 24) | ((<uint32_t>p[1]) << 16) | ((<uint32_t>p[2]) << 8) | p[3]


cdef inline int prefix_length(uint32_t mask) noexcept nogil:
    return __builtin_popcount(mask)


cdef extern from *:
    int __builtin_popcount(unsigned int x) nogil


cdef struct Pending:
    # Action data waiting for one entries_set_raw call: all fresh (inserts) or all not
    # (modifies), in update order. C buffers sized for the run: a small write allocates no
    # Python object until the flush hands the columns over as bytes.
    uint32_t *eid_p
    int32_t *action_p
    uint8_t *param_p
    Py_ssize_t param_bytes
    Py_ssize_t count
    bint fresh


cdef int pending_add(Pending *p, object pl, uint32_t ti, bint fresh, uint32_t eid,
                     int32_t action, const uint8_t *params) except -1:
    if p.count and fresh != p.fresh:
        pending_flush(p, pl, ti)
    p.fresh = fresh
    p.eid_p[p.count] = eid
    p.action_p[p.count] = action
    memcpy(p.param_p + p.count * p.param_bytes, params, p.param_bytes)
    p.count += 1
    return 0


cdef int pending_flush(Pending *p, object pl, uint32_t ti) except -1:
    cdef Py_ssize_t n = p.count
    if n == 0:
        return 0
    p.count = 0
    pl.entries_set_raw(ti, PyBytes_FromStringAndSize(<char *>p.eid_p, 4 * n),
                       PyBytes_FromStringAndSize(<char *>p.action_p, 4 * n),
                       PyBytes_FromStringAndSize(<char *>p.param_p, n * p.param_bytes), p.fresh)
    return 0


def apply_dir24_run(entries, pl, kinds, stored, actions, params, undo):
    """Apply one run to the TableEntries `entries` of a TBL_LPM24 table (see the module
    doc); returns [(position, FAIL_*)] of the updates that failed. `undo` is None, or a list
    to append undo records to (then the run stops at its first failure). The columns are
    contiguous buffers: kinds, stored and params of bytes, actions of 32-bit ints."""
    # Plain buffer requests: a typed memoryview argument costs a one-entry write more than
    # the update itself.
    cdef Py_buffer kv, sv, av, pv
    take_column(kinds, &kv, 1, "kinds")
    try:
        take_column(stored, &sv, 1, "stored rows")
        try:
            take_column(actions, &av, 4, "actions")
            try:
                take_column(params, &pv, 1, "params")
                try:
                    return apply_columns(entries, pl, <const uint8_t *>kv.buf, kv.len,
                                         <const uint8_t *>sv.buf, sv.len,
                                         <const int32_t *>av.buf, av.len // 4,
                                         <const uint8_t *>pv.buf, pv.len, undo)
                finally:
                    PyBuffer_Release(&pv)
            finally:
                PyBuffer_Release(&av)
        finally:
            PyBuffer_Release(&sv)
    finally:
        PyBuffer_Release(&kv)


cdef int take_column(object column, Py_buffer *view, Py_ssize_t itemsize,
                     str what) except -1:
    """A read-only view of a contiguous column whose items are `itemsize` bytes (ints for
    4: array('i') or the like)."""
    PyObject_GetBuffer(column, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    cdef bytes fmt = view.format if view.format != NULL else b"B"
    if view.itemsize != itemsize or (itemsize == 4 and
                                     fmt[len(fmt) - 1:len(fmt)] not in (b"i", b"l")):
        PyBuffer_Release(view)
        raise ValueError(f"{what}: items of {itemsize} bytes expected, not {fmt!r}")
    return 0


cdef list apply_columns(entries, pl, const uint8_t *kinds, Py_ssize_t n,
                        const uint8_t *stored, Py_ssize_t stored_len, const int32_t *actions,
                        Py_ssize_t n_actions, const uint8_t *params, Py_ssize_t params_len,
                        undo):
    # The structure of the copy this write section changes; the rule changes made on it in C
    # are logged for the other copy (engine commit.pxi).
    matchers = entries.matcher
    cdef Dir24Lpm matcher = <Dir24Lpm?>matchers.writer()
    cdef Py_ssize_t j, inserts = 0
    cdef uint32_t ti = entries.index
    cdef Py_ssize_t param_stride = pl.param_stride(ti)
    cdef Py_ssize_t param_bytes = param_stride * PARAM_BYTES
    if stored_len != n * ROW_BYTES or n_actions != n or params_len != n * param_bytes:
        raise ValueError(f"{n} updates need {n * ROW_BYTES} row bytes, {n} actions and "
                         f"{n * param_bytes} parameter bytes")
    if 2 * entries.key_bytes != ROW_BYTES:
        raise ValueError(f"table {entries.info.name} is not a 32-bit LPM table")
    for j in range(n):
        if kinds[j] == UPDATE_INSERT:
            inserts += 1
    cdef int64_t next_id = entries.next_id
    cdef int64_t size = entries.info.size
    cdef int64_t max_id = min(next_id + inserts, size)
    if inserts and PyByteArray_GET_SIZE(entries.keys) < (max_id + 1) * ROW_BYTES:
        entries.grow(max_id)        # (the same test as TableEntries.grow, without its call)
    cdef bytearray keys_array = entries.keys
    cdef bytearray used_array = entries.used
    cdef uint8_t *keys = <uint8_t *>PyByteArray_AS_STRING(keys_array)
    cdef uint8_t *used = <uint8_t *>PyByteArray_AS_STRING(used_array)
    cdef Py_ssize_t used_len = PyByteArray_GET_SIZE(used_array)
    cdef list free_ids = entries.free
    cdef list held_ids = entries.held      # deleted here: reusable after the section
    cdef int64_t count = entries.count
    cdef int64_t found, eid
    cdef uint32_t prefix
    cdef int plen, kind, code
    cdef bint from_held
    cdef const uint8_t *row
    cdef list failed = []
    cdef list inserted = None
    # The run's rule changes, logged at the end for the other copy's structure.
    cdef array op_prefixes = clone(UINT32_TEMPLATE, n, False)
    cdef array op_values = clone(INT64_TEMPLATE, n, False)
    cdef bytearray op_depths = bytearray(n)
    cdef uint8_t *depth_p = <uint8_t *>PyByteArray_AS_STRING(op_depths)
    cdef Py_ssize_t ops = 0
    cdef Pending pending
    pending.param_bytes = param_bytes
    pending.count = 0
    pending.fresh = True
    pending.eid_p = <uint32_t *>PyMem_Malloc(4 * n + 1)
    pending.action_p = <int32_t *>PyMem_Malloc(4 * n + 1)
    pending.param_p = <uint8_t *>PyMem_Malloc(n * param_bytes + 1)
    if pending.eid_p == NULL or pending.action_p == NULL or pending.param_p == NULL:
        PyMem_Free(pending.eid_p)
        PyMem_Free(pending.action_p)
        PyMem_Free(pending.param_p)
        raise MemoryError("bulk write")
    try:
        for j in range(n):
            kind = kinds[j]
            row = &stored[j * ROW_BYTES]
            prefix = be32(row)
            plen = prefix_length(be32(row + 4))
            found = dir24_get(matcher.c, prefix, plen)
            code = 0
            if kind == UPDATE_INSERT:
                eid = -1
                from_held = False
                if found >= 0:
                    code = FAIL_EXISTS
                elif free_ids:
                    eid = free_ids.pop()
                elif next_id >= size or next_id > MAX_DIR24_VALUE or next_id >= used_len:
                    if held_ids:        # full but for ids deleted here (TableEntries.reserve_id)
                        eid = held_ids.pop()
                        from_held = True
                    else:
                        code = FAIL_FULL
                else:
                    eid = next_id
                    next_id += 1
                if code == 0:
                    if dir24_add(matcher.c, prefix, plen, <uint32_t>eid) != 0:
                        if from_held:               # give the id back
                            held_ids.append(eid)
                        elif eid == next_id - 1:
                            next_id -= 1
                        else:
                            free_ids.append(eid)
                        code = FAIL_NO_MEMORY
                    else:
                        op_prefixes.data.as_uints[ops] = prefix
                        depth_p[ops] = <uint8_t>plen
                        op_values.data.as_longlongs[ops] = eid
                        ops += 1
                if code:
                    failed.append((j, code))
                    if undo is not None:
                        break
                    continue
                memcpy(keys + eid * ROW_BYTES, row, ROW_BYTES)
                used[eid] = 1
                count += 1
                pending_add(&pending, pl, ti, True, <uint32_t>eid, actions[j],
                            &params[j * param_bytes])
                if undo is not None:
                    if inserted is None:
                        inserted = []
                        undo.append((UNDO_INSERTED, entries, inserted))
                    inserted.append(eid)
                continue
            inserted = None
            if kind != UPDATE_MODIFY and kind != UPDATE_DELETE:
                code = FAIL_BAD_KIND
            elif found < 0:
                code = FAIL_MISSING
            if code:
                failed.append((j, code))
                if undo is not None:
                    break
                continue
            eid = found
            if kind == UPDATE_MODIFY:
                if undo is not None:
                    undo.append((UPDATE_MODIFY, entries, eid, pl.entry_get(ti, eid)))
                pending_add(&pending, pl, ti, False, <uint32_t>eid, actions[j],
                            &params[j * param_bytes])
                continue
            # DELETE: what is queued may concern this entry, so it goes first
            pending_flush(&pending, pl, ti)
            if undo is not None:
                undo.append((UPDATE_DELETE, entries, eid, bytes(row[:ROW_BYTES]), 0,
                             pl.entry_get(ti, eid), pl.entry_counter(ti, eid)))
            dir24_delete(matcher.c, prefix, plen)
            op_prefixes.data.as_uints[ops] = prefix
            depth_p[ops] = <uint8_t>plen
            op_values.data.as_longlongs[ops] = -1
            ops += 1
            used[eid] = 0
            count -= 1
            pl.entry_clear(ti, eid)
            held_ids.append(eid)        # TableEntries.release_id
        pending_flush(&pending, pl, ti)
    finally:
        PyMem_Free(pending.eid_p)
        PyMem_Free(pending.action_p)
        PyMem_Free(pending.param_p)
        entries.next_id = next_id
        entries.count = count
        if ops:
            resize(op_prefixes, ops)
            resize(op_values, ops)
            pl.log_matcher_ops(matchers, "apply_ops",
                               (op_prefixes, PyBytes_FromStringAndSize(<char *>depth_p, ops),
                                op_values))
    return failed


def read_entries(entries, pl):
    """Every entry of a TableEntries store as columns: (handles array('I'), stored rows
    bytes, priorities array('q'), engine action ids array('i'), packed parameters bytes with
    Pipeline.param_stride slots of 16 little-endian bytes per entry), in handle order. The
    caller holds the Switch's write lock, so this is one moment between writes."""
    cdef uint32_t ti = entries.index
    cdef Py_ssize_t stride = 2 * entries.key_bytes
    cdef Py_ssize_t param_stride = pl.param_stride(ti)
    cdef bytearray used_array = entries.used
    cdef const uint8_t *used = <const uint8_t *>PyByteArray_AS_STRING(used_array)
    cdef Py_ssize_t limit = min(<Py_ssize_t>entries.next_id, PyByteArray_GET_SIZE(used_array))
    cdef Py_ssize_t i, n = 0, k
    for i in range(limit):
        n += used[i]
    handles = py_array("I", bytes(4 * n))
    priorities = py_array("q", bytes(8 * n))
    actions = py_array("i", bytes(4 * n))
    rows = bytearray(n * stride)
    params = bytearray(n * param_stride * PARAM_BYTES)
    cdef uint32_t[::1] h = handles
    cdef int64_t[::1] prio_out = priorities
    cdef int32_t[::1] act_out = actions
    cdef uint8_t *row_out = <uint8_t *>PyByteArray_AS_STRING(rows)
    cdef uint8_t *param_out = <uint8_t *>PyByteArray_AS_STRING(params)
    cdef const uint8_t *keys = <const uint8_t *>PyByteArray_AS_STRING(entries.keys)
    cdef const int64_t[:] prio_in = entries.prio if entries.info.needs_priority else None
    cdef Py_ssize_t j = 0
    entry_get = pl.entry_get
    for i in range(limit):
        if not used[i]:
            continue
        h[j] = <uint32_t>i
        memcpy(row_out + j * stride, keys + i * stride, stride)
        if prio_in is not None:
            prio_out[j] = prio_in[i]
        action, values = entry_get(ti, i)
        act_out[j] = action
        for k in range(min(len(values), param_stride)):
            pack_u128(values[k], param_out + (j * param_stride + k) * PARAM_BYTES)
        j += 1
    return handles, bytes(rows), priorities, actions, bytes(params)


cdef int pack_u128(object value, uint8_t *out) except -1:
    """A parameter value (0 <= value < 2^128) as 16 little-endian bytes."""
    cdef unsigned long long low
    cdef int b
    if value.__class__ is int and 0 <= value < 0x10000000000000000:
        low = value
        for b in range(8):          # the upper 8 bytes of the slot start zeroed
            out[b] = <uint8_t>(low >> (8 * b))
        return 0
    raw = (<object>value).to_bytes(16, "little")
    memcpy(out, <const char *>raw, 16)
    return 0
