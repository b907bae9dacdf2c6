"""Which table entries have been idle for their idle_timeout_ns (IdleTimeoutNotification).

The engine records each entry's last hit (and its insertion) for the tables whose program
supports timeouts. An entry's idle timer starts at the later of its last hit and the write
that set its idle_timeout_ns; once it has run that long the entry is reported, once: it is
reported again only after a hit or a new write restarts the timer and it runs out again.
"""

from __future__ import annotations

from runtime_server.errors import call_target
from runtime_server.tables import Tables, TableState


def newly_idle(tables: Tables, switch, now_ns: int) -> list[tuple[TableState, int]]:
    """(table, handle) of the entries whose idle timer ran out and that were not reported
    for this run of the timer; marks them reported."""
    found: list[tuple[TableState, int]] = []
    for state in tables.states.values():
        if not state.info.supports_idle_timeout or not state.records:
            continue
        timed = [handle for handle, record in state.records.items() if record.idle_timeout_ns]
        if not timed:
            continue
        shortest = min(state.records[handle].idle_timeout_ns for handle in timed)
        # One call narrows the entries down to those not hit for the shortest timeout.
        candidates = call_target(switch.table_idle_handles, state.target_name, timed,
                                 now_ns - shortest)
        if not candidates:
            continue
        last_hits = call_target(switch.table_last_hits, state.target_name, candidates)
        for handle, last_hit in zip(candidates, last_hits, strict=True):
            record = state.records[handle]
            started = max(last_hit, record.idle_since)
            if now_ns - started >= record.idle_timeout_ns and record.idle_notified != started:
                record.idle_notified = started
                found.append((state, handle))
    return found
