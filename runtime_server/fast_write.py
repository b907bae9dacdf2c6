"""Write requests applied from their serialized bytes: the C decoder (write_decoder.pyx)
turns runs of plain table updates into packed columns that the target applies in bulk;
every other update goes through the protobuf path (Pipeline.apply), in request order.

Per-update semantics are those of the protobuf path: each update succeeds or fails on its
own (CONTINUE_ON_ERROR), with one p4.v1.Error per update. ROLLBACK_ON_ERROR and
DATAPLANE_ATOMIC batches are applied by the target under one engine lock with an undo log,
so traffic sees all of the batch or none of it; they may hold only the updates the decoder
accepts (see atomic_errors).
"""

from __future__ import annotations

import logging

from google.protobuf.message import DecodeError

from runtime_server.entry_codec import decode_action, decode_key
from runtime_server.errors import P4RuntimeError, StatusCode, call_target, from_target_error
from runtime_server.p4info_index import Scope
from runtime_server.proto import p4runtime_pb2
from runtime_server.write_decoder import ActionLayout, TableLayout, decode_updates
from target.pipeline.constants import UPDATE_DELETE, UPDATE_MODIFY

Errors = list[P4RuntimeError | None]
log = logging.getLogger("kvick.p4runtime")


def table_layouts(pipeline) -> dict[int, TableLayout]:
    """The tables whose plain updates the decoder may take, by P4Info id."""
    layouts: dict[int, TableLayout] = {}
    switch = pipeline.switch
    for table_id, state in pipeline.tables.states.items():
        info = state.info
        target_table = switch.program.tables[state.target_name]
        if (info.implementation_id or info.direct_meter_id or info.is_const_table or
                not info.match_fields or len(info.match_fields) > 64 or
                any(k.mask is not None for k in target_table.keys)):
            continue
        actions = {}
        for action_id, scope in info.action_scopes.items():
            action = pipeline.index.actions[action_id]
            if len(action.params) > 64:
                break
            ref = call_target(switch.table_action_ref, state.target_name, action.name)
            actions[action_id] = ActionLayout(ref, scope, [(p.id, p.bitwidth)
                                                           for p in action.params])
        else:
            fields = [(f.id, f.match_type, f.bitwidth) for f in info.match_fields]
            param_stride = call_target(switch.table_param_stride, state.target_name)
            if any(len(a.params) > param_stride for a in (pipeline.index.actions[i]
                                                          for i in actions)):
                continue
            layouts[table_id] = TableLayout(table_id, state.target_name, fields,
                                            info.needs_priority, actions, param_stride)
    return layouts


def _forget_records(pipeline, run) -> list[tuple[object, int, int]]:
    """(state, position, handle) of the run's MODIFY/DELETE updates whose entry has a
    Record: a plain MODIFY resets what the Record holds, a DELETE ends it."""
    state = pipeline.tables.states[run.table.table_id]
    if not state.records:
        return []
    stride = 2 * run.table.key_bytes
    found = []
    for j, kind in enumerate(run.kinds):
        if kind in (UPDATE_MODIFY, UPDATE_DELETE):
            row = bytes(run.stored[j * stride:(j + 1) * stride])
            handle = pipeline.switch.table_find_stored(state.target_name, row,
                                                       run.priorities[j])
            if handle is not None and handle in state.records:
                found.append((state, j, handle))
    return found


def _target_run(run) -> tuple:
    return (run.table.target_name, run.kinds, run.stored, run.priorities, run.actions,
            run.params)


Plan = list  # of DecodedRun | tuple[int, p4runtime_pb2.Update | P4RuntimeError]


def plan_updates(pipeline, data: bytes, spans, layouts: dict | None = None) -> Plan:
    """Everything about a batch that does not touch the tables, done before the write lock:
    runs of updates decoded in C, and each other update parsed by protobuf (or the
    INVALID_ARGUMENT it earns if its bytes are not an Update). `layouts` defaults to the
    pipeline's; an empty dict sends every update through protobuf."""
    if layouts is None:
        layouts = pipeline.fast_layouts()
    count = len(spans) // 2
    plan: Plan = []
    i = 0
    while i < count:
        run, following = decode_updates(data, spans, i, layouts)
        if run is None:
            plan.append((i, _checked_update(pipeline, data[spans[2 * i]:spans[2 * i + 1]])))
            i += 1
        else:
            plan.append(run)
            i = following
    return plan


def _checked_update(pipeline, update_bytes: bytes) -> p4runtime_pb2.Update | P4RuntimeError:
    """The parsed update, or the error its bytes or its contents earn without a lookup in
    the switch (Pipeline.check): refused updates never wait for the write lock."""
    update = _parse_update(update_bytes)
    if isinstance(update, P4RuntimeError):
        return update
    try:
        pipeline.check(update)
    except P4RuntimeError as err:
        return err.with_traceback(None)
    except Exception:  # a bug in a check: apply() meets it again and reports it
        return update
    return update


def refused_whole(plan: Plan, atomic: bool) -> bool:
    """Whether the plan's answer needs no table: every update refused already (for an atomic
    batch, the first one)."""
    refused = [type(item) is tuple and isinstance(item[1], P4RuntimeError) for item in plan]
    return bool(refused) and (refused[0] if atomic else all(refused))


def _parse_update(update_bytes: bytes) -> p4runtime_pb2.Update | P4RuntimeError:
    try:
        return p4runtime_pb2.Update.FromString(update_bytes)
    except DecodeError as err:
        return P4RuntimeError(StatusCode.INVALID_ARGUMENT, f"malformed Update: {err}")


def apply_continue(pipeline, plan: Plan, errors: Errors) -> None:
    """CONTINUE_ON_ERROR: every update on its own, in order."""
    for item in plan:
        if type(item) is tuple:
            position, update = item
            errors[position] = update if isinstance(update, P4RuntimeError) else \
                _apply_slow(pipeline, update)
            continue
        run = item
        touched = _forget_records(pipeline, run)
        failed = call_target(pipeline.switch.table_write_encoded, [_target_run(run)])
        failed_positions = set()
        for _run_index, j, err in failed:
            errors[run.positions[j]] = _table_error(err)
            failed_positions.add(j)
        for state, j, handle in touched:
            if j not in failed_positions:
                pipeline.tables.forget(state, handle)


def _apply_slow(pipeline, update: p4runtime_pb2.Update) -> P4RuntimeError | None:
    try:
        pipeline.apply(update)
    except P4RuntimeError as err:
        # Kept until the batch is answered: without its traceback (and the frames that holds
        # alive), a batch of many refused updates costs the garbage collector linear time.
        return err.with_traceback(None)
    except Exception as err:  # a bug must not take the server down
        log.exception("update failed unexpectedly")
        return P4RuntimeError(StatusCode.INTERNAL, f"{type(err).__name__}: {err}")
    return None


def apply_atomic(pipeline, plan: Plan, errors: Errors) -> None:
    """ROLLBACK_ON_ERROR / DATAPLANE_ATOMIC: all updates or none, under one engine lock."""
    for item in plan:
        if type(item) is tuple:
            position, update = item
            errors[position] = update if isinstance(update, P4RuntimeError) else \
                atomic_slow_error(pipeline, update)
            _mark_not_applied(errors, position)
            return
    runs = plan
    touched = [t for run in runs for t in _forget_records(pipeline, run)]
    failed = call_target(pipeline.switch.table_write_encoded,
                         [_target_run(run) for run in runs], True)
    if failed:
        run_index, j, err = failed[0]
        position = runs[run_index].positions[j]
        errors[position] = _table_error(err)
        _mark_not_applied(errors, position)
        return
    for state, _j, handle in touched:
        pipeline.tables.forget(state, handle)


# PI's words for the table errors both paths give (tables.py uses the same).
_PI_TABLE_TEXT = {
    StatusCode.ALREADY_EXISTS: "Match entry exists, use MODIFY if you wish to change action",
    StatusCode.NOT_FOUND: "Cannot find match entry",
}


def _table_error(err: Exception) -> P4RuntimeError:
    error = from_target_error(err)
    pi_text = _PI_TABLE_TEXT.get(error.code)
    if pi_text is not None:
        error = P4RuntimeError(error.code, f"{pi_text}: {error.message}")
    return error


def _mark_not_applied(errors: Errors, failed: int) -> None:
    for k in range(len(errors)):
        if k != failed:
            errors[k] = P4RuntimeError(StatusCode.ABORTED,
                                       f"not applied: update {failed} failed and the batch "
                                       "is all or nothing")


def atomic_slow_error(pipeline, update: p4runtime_pb2.Update) -> P4RuntimeError:
    """Why an update the decoder did not take cannot be part of an atomic batch: its
    validation error if it is invalid, else UNIMPLEMENTED (the target can undo only plain
    table entry updates)."""
    entity = update.entity
    if entity.WhichOneof("entity") == "table_entry":
        entry = entity.table_entry
        state = pipeline.tables.states.get(entry.table_id)
        if state is None:
            return P4RuntimeError(StatusCode.NOT_FOUND, f"unknown table id {entry.table_id}")
        info = state.info
        try:
            decode_key(info.match_fields, info.match_fields_by_id, entry.match, info.name)
            if entry.action.WhichOneof("type") == "action":
                action_info, _ = decode_action(pipeline.index, entry.action.action,
                                               info.action_scopes, info.name)
                if info.action_scopes[entry.action.action.action_id] == Scope.DEFAULT_ONLY:
                    return P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                          f"{info.name}: action {action_info.name!r} is for "
                                          "the default only")
        except P4RuntimeError as err:
            return err
    return P4RuntimeError(StatusCode.UNIMPLEMENTED,
                          "an atomic batch may hold only INSERT/MODIFY/DELETE of table entries "
                          "with a direct action and no metadata, idle timeout or direct meter "
                          "(those are the updates the target can undo)")
