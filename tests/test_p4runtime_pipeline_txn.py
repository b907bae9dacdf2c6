"""SetForwardingPipelineConfig is all or nothing: VERIFY checks everything COMMIT does, a
refused config is INVALID_ARGUMENT naming the JSON or P4Info path that is wrong, and it leaves
the running program, its entries and its config untouched."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import grpc
import pytest
from p4runtime_corpus import CORPUS, json_bytes, load_p4info
from shared_data import require
from test_p4runtime_server import BASIC, Action, lpm_entry, primary, server, update  # noqa: F401

from runtime_server.proto import p4runtime_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import p4rt_config_fuzz  # noqa: E402


def _entries(client) -> list:
    entity = pb.Entity()
    entity.table_entry.table_id = lpm_entry(b"\x0a\x00\x00\x00", 8).table_id
    return client.read(entity)


def _running_cookie(client) -> int:
    return client.stub.GetForwardingPipelineConfig(
        pb.GetForwardingPipelineConfigRequest(device_id=0)).config.cookie.cookie


def _refused(client, **kwargs) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as err:
        client.set_pipeline(**kwargs)
    return err.value


@pytest.fixture
def running(primary):  # noqa: F811
    primary.set_pipeline(cookie=1)
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    return primary


def test_action_ref_to_a_missing_action_is_refused_at_verify(running) -> None:
    p4info = load_p4info(BASIC)
    p4info.tables[0].action_refs.add(id=0x01FFFFFF)
    err = _refused(running, action=Action.VERIFY, p4info=p4info)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tables[0].action_refs[3].id" in err.details()


def test_refused_commit_leaves_program_entries_and_config(running) -> None:
    p4info = load_p4info(BASIC)
    p4info.tables[0].action_refs.add(id=0x01FFFFFF)
    err = _refused(running, p4info=p4info, cookie=2)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _running_cookie(running) == 1
    assert len(_entries(running)) == 1


def test_unknown_match_type_names_the_field(running) -> None:
    p4info = load_p4info(BASIC)
    p4info.tables[0].match_fields[0].match_type = 99
    err = _refused(running, p4info=p4info, cookie=2)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tables[0].match_fields[0].match_type" in err.details()
    assert len(_entries(running)) == 1


def test_deeply_nested_json_is_invalid_argument(running) -> None:
    deep = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    err = _refused(running, device_config=deep, cookie=2)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nested too deeply" in err.details()
    assert _running_cookie(running) == 1


def test_malformed_json_object_names_its_path(running) -> None:
    program = json.loads(json_bytes(BASIC))
    program["headers"][1] = 7          # a header instance that is not an object
    err = _refused(running, device_config=json.dumps(program).encode(), cookie=2)
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "headers[1]" in err.details()
    assert len(_entries(running)) == 1


def test_verify_and_save_does_not_change_the_running_config(running) -> None:
    running.set_pipeline(action=Action.VERIFY_AND_SAVE, cookie=3)
    assert _running_cookie(running) == 1
    assert len(_entries(running)) == 1


def test_target_load_failing_midway_keeps_the_old_program() -> None:
    """A const entry the target refuses is found after the new tables exist: the old program,
    with its entries, must still be the one installed."""
    from target import Lpm, Switch

    switch = Switch()
    switch.load(json_bytes(BASIC))
    switch.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000000, 8)], "MyIngress.drop")
    program = json.loads(json_bytes("table-entries-exact-bmv2"))
    entries = program["pipelines"][0]["tables"][0]["entries"]
    entries.append(dict(entries[0], action_entry={"action_id": 10_000, "action_data": []}))
    old = switch.pipeline
    with pytest.raises(Exception):  # noqa: B017 - whatever the target raises, nothing changes
        switch.load(program)
    assert switch.pipeline is old
    assert len(switch.table_entries("MyIngress.ipv4_lpm")) == 1
    switch.table_add("MyIngress.ipv4_lpm", [Lpm(0x0B000000, 8)], "MyIngress.drop")


def test_mutated_configs_never_wipe_or_answer_unknown() -> None:
    """A bounded run of the config fuzzer (tools/p4rt_config_fuzz.py runs 2,000)."""
    require(CORPUS / BASIC)  # shared data: skipped with the reason when absent
    report = p4rt_config_fuzz.run(200, seed=12, program=BASIC, time_limit=120)
    assert report.tried >= 100
    assert report.wipes == 0 and report.unknown == 0, report.offences
    assert report.codes.keys() <= {"INVALID_ARGUMENT"}, report.offences


def test_verify_does_not_wait_for_the_write_lock(server, running) -> None:  # noqa: F811
    """Verifying touches nothing live: it is done while a Write holds the lock."""
    request = pb.SetForwardingPipelineConfigRequest(device_id=0, action=Action.VERIFY)
    request.election_id.low = running.election_id
    request.config.p4info.CopyFrom(load_p4info(BASIC))
    request.config.p4_device_config = json_bytes(BASIC)
    with server.service.write_lock:
        running.stub.SetForwardingPipelineConfig(request, timeout=5)
