"""The one-entry Write path: what it hands the engine and how much Python it runs.

Pipeline.entries_set_raw takes a bulk write's action data as bytes, logs them as they are and
replays them on the other copy; wrong lengths are refused and change nothing. A one-entry
P4Runtime Write runs a bounded number of Python functions (its cost is mostly frames), so a
change that puts Python back on the path shows here and not only in a benchmark."""

from __future__ import annotations

import sys
from array import array

import pytest
from p4runtime_corpus import json_bytes, load_p4info
from shared_data import needs_corpus, program

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.service import P4RuntimeService
from target import Switch

pytestmark = needs_corpus
PROGRAM = program("tutorial_basic")
TABLE = "MyIngress.ipv4_lpm"
FORWARD = "MyIngress.ipv4_forward"
LPM_TABLE = 37375156     # MyIngress.ipv4_lpm in tutorial_basic's P4Info
FORWARD_ID = 28792405
# Python functions one plain one-entry Write may run (service, fast_write, Switch); 21 today,
# 30 before the bulk section resolved tables and dispatched DIR-24-8 runs itself.
CALL_BUDGET = 24


def loaded() -> Switch:
    sw = Switch(pool_size=256)
    sw.load(f"{PROGRAM}.json", f"{PROGRAM}.p4info.txtpb")
    return sw


def insert_run(sw: Switch, prefix: int, mac: int) -> tuple:
    stride = sw.table_param_stride(TABLE)
    params = b"".join(v.to_bytes(16, "little") for v in [mac, 3] + [0] * (stride - 2))
    row = prefix.to_bytes(4, "big") + (0xFFFFFF00).to_bytes(4, "big")
    return (TABLE, bytes([Switch.UPDATE_INSERT]), row, array("q", [0]),
            array("i", [sw.table_action_ref(TABLE, FORWARD)]), params)


def test_bulk_action_data_reaches_both_copies() -> None:
    """The second write's section starts on the copy the first did not change: it sees the
    first write's entry only through the replay of the logged bytes."""
    sw = loaded()
    assert sw.table_write_encoded([insert_run(sw, 0x0A000000, 0x0000AA)]) == []
    assert sw.table_write_encoded([insert_run(sw, 0x0A000100, 0x0000BB)]) == []
    ti = sw._table(TABLE).index
    pl = sw.pipeline
    pl.settle()
    for eid, mac in ((0, 0x0000AA), (1, 0x0000BB)):
        action, values = pl.entry_get(ti, eid)
        assert action == sw.table_action_ref(TABLE, FORWARD)
        assert values[:2] == [mac, 3]


def test_entries_set_raw_refuses_wrong_lengths_and_changes_nothing() -> None:
    sw = loaded()
    ti = sw._table(TABLE).index
    pl = sw.pipeline
    stride = pl.param_stride(ti)
    aid = sw.table_action_ref(TABLE, FORWARD)
    eids = array("I", [5]).tobytes()
    actions = array("i", [aid]).tobytes()
    params = (7).to_bytes(16, "little") + bytes(16 * (stride - 1))
    for bad in ((eids + b"\0", actions, params), (eids, actions + actions, params),
                (eids, actions, params[:-1])):
        with pytest.raises(ValueError):
            pl.entries_set_raw(ti, *bad)
        assert pl.entry_get(ti, 5)[1] == []
    with pytest.raises(TypeError):
        pl.entries_set_raw(ti, None, actions, params)
    with pytest.raises(IndexError):
        pl.entries_set_raw(1 << 20, eids, actions, params)
    pl.entries_set_raw(ti, eids, actions, params)
    pl.settle()
    assert pl.entry_get(ti, 5) == (aid, [7] + [0] * (stride - 1))


def one_entry_write(i: int) -> bytes:
    request = pb.WriteRequest(device_id=0)
    entry = request.updates.add(type=pb.Update.INSERT).entity.table_entry
    entry.table_id = LPM_TABLE
    match = entry.match.add(field_id=1)
    match.lpm.value = (0x0A000000 + (i << 8)).to_bytes(4, "big")
    match.lpm.prefix_len = 24
    entry.action.action.action_id = FORWARD_ID
    entry.action.action.params.add(param_id=1, value=b"\x00\x00\x00\x00\x00\x01")
    entry.action.action.params.add(param_id=2, value=b"\x02")
    return request.SerializeToString()


def test_a_one_entry_write_runs_few_python_functions() -> None:
    sw = Switch(pool_size=256)
    service = P4RuntimeService(sw, 0, Switch)
    config = pb.ForwardingPipelineConfig(p4_device_config=json_bytes("tutorial_basic"))
    config.p4info.CopyFrom(load_p4info("tutorial_basic"))
    service.set_pipeline_config(pb.SetForwardingPipelineConfigRequest(
        device_id=0, action=pb.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT,
        config=config), "c")
    for i in range(3):   # layouts and first-use caches built
        assert service.write(one_entry_write(i), False, "c")
    calls: list[str] = []

    def profile(frame, event: str, _arg) -> None:
        if event == "call":
            calls.append(frame.f_code.co_qualname)

    request = one_entry_write(3)
    sys.setprofile(profile)
    try:
        applied = service.write(request, False, "c")
    finally:
        sys.setprofile(None)
    assert applied
    assert len(calls) <= CALL_BUDGET, calls
    assert len(sw.table_entries(TABLE)) == 4
