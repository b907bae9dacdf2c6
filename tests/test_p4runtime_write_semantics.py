"""The C Write decoder reads a request exactly as protobuf does, or leaves it to protobuf:
last-one-wins scalars, merged messages, strict UTF-8; a malformed update inside a valid request
is INVALID_ARGUMENT on its own; refused updates cost linear time. The differential fuzz at the
end runs random and mutated requests through both paths (tools/p4rt_write_fuzz.py)."""

from __future__ import annotations

import logging
import sys
import tracemalloc
from pathlib import Path

import grpc
import pytest
from test_p4runtime_server import (  # noqa: F401
    FORWARD,
    LPM_TABLE,
    batch_errors,
    lpm_entry,
    primary,
    server,
    update,
)

from runtime_server.proto import p4runtime_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tools import p4rt_write_fuzz  # noqa: E402
from tools.p4rt_write_fuzz import field_bytes, field_varint  # noqa: E402


def raw_write(client, data: bytes) -> None:
    call = client.channel.unary_unary("/p4.v1.P4Runtime/Write",
                                      response_deserializer=pb.WriteResponse.FromString)
    call(data, timeout=10)


def head(election_fields: bytes = field_bytes(3, field_varint(2, 10))) -> bytes:
    return field_varint(1, 0) + election_fields


def framed(*updates: bytes) -> bytes:
    return b"".join(field_bytes(4, u) for u in updates)


def entries(client) -> list:
    entity = pb.Entity()
    entity.table_entry.table_id = LPM_TABLE
    return client.read(entity)


@pytest.fixture
def ready(primary):  # noqa: F811
    primary.set_pipeline()
    return primary


def test_split_election_id_merges_as_protobuf_does(ready) -> None:
    """{high=1}{low=10} is (1<<64)|10, not the primary's 10."""
    insert = update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)).SerializeToString()
    split = field_bytes(3, field_varint(1, 1)) + field_bytes(3, field_varint(2, 10))
    with pytest.raises(grpc.RpcError) as err:
        raw_write(ready, head(split) + framed(insert))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert entries(ready) == []


def test_repeated_table_id_last_one_wins(ready) -> None:
    entry = lpm_entry(b"\x0a\x00\x00\x00", 8).SerializeToString() + field_varint(1, 12345)
    insert = field_varint(1, pb.Update.INSERT) + field_bytes(2, field_bytes(2, entry))
    with pytest.raises(grpc.RpcError) as err:
        raw_write(ready, head() + framed(insert))
    assert batch_errors(err.value)[0][0] == grpc.StatusCode.NOT_FOUND.value[0]
    assert entries(ready) == []


def test_delete_with_a_malformed_action_is_refused_like_protobuf(ready) -> None:
    ready.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    key = pb.TableEntry(table_id=LPM_TABLE)
    key.match.add().CopyFrom(lpm_entry(b"\x0a\x00\x00\x00", 8).match[0])
    bad_action = field_bytes(3, b"\x0a\x05\x08")  # an Action whose length runs past its end
    delete = field_varint(1, pb.Update.DELETE) + field_bytes(
        2, field_bytes(2, key.SerializeToString() + bad_action))
    with pytest.raises(grpc.RpcError) as err:
        raw_write(ready, head() + framed(delete))
    assert batch_errors(err.value)[0][0] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert len(entries(ready)) == 1


def test_malformed_update_in_valid_framing_is_invalid_argument(ready, caplog) -> None:
    good = update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)).SerializeToString()
    broken = good[:-3]  # cut inside the entry: the update's own framing is wrong
    with caplog.at_level(logging.DEBUG, logger="kvick"):
        with pytest.raises(grpc.RpcError) as err:
            raw_write(ready, head() + framed(broken, good))
    codes = [code for code, _ in batch_errors(err.value)]
    assert codes == [grpc.StatusCode.INVALID_ARGUMENT.value[0], 0]
    assert not [r for r in caplog.records if r.exc_info]
    assert len(entries(ready)) == 1


def test_role_that_is_not_utf8_is_refused_as_protobuf_refuses_it(ready) -> None:
    insert = update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)).SerializeToString()
    with pytest.raises(grpc.RpcError) as err:
        raw_write(ready, head() + field_bytes(6, b"\xff\xfe") + framed(insert))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_atomicity_is_read_as_an_int32_enum(ready) -> None:
    """protobuf keeps the low 32 bits of an enum's varint: 2^32+1 is ROLLBACK_ON_ERROR."""
    insert = update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)).SerializeToString()
    raw_write(ready, head() + field_varint(5, (1 << 32) + 1) + framed(insert))
    assert len(entries(ready)) == 1


def test_refusing_slow_updates_allocates_per_update_not_per_batch(server, ready) -> None:  # noqa: F811
    """A batch of updates the decoder leaves to protobuf: each decode call allocates for the
    updates it takes, not for the rest of the batch (which made refusals quadratic)."""
    from runtime_server.write_decoder import decode_updates, split_write_request

    bad = lpm_entry(b"\x0a\x00\x00\x00", 8, port=b"\xff\xff")  # 16 bits for a 9-bit port
    request = pb.WriteRequest(device_id=0)
    request.updates.extend([update(pb.Update.INSERT, bad)] * 20000)
    data = request.SerializeToString()
    spans = split_write_request(data)[4]
    layouts = server.service.pipeline.fast_layouts()
    tracemalloc.start()
    try:
        for i in (0, 1, 2):
            assert decode_updates(data, spans, i, layouts)[0] is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200_000, peak


def test_refused_updates_keep_no_traceback(server, ready) -> None:  # noqa: F811
    from runtime_server.fast_write import apply_continue, plan_updates
    from runtime_server.write_decoder import split_write_request

    bad = lpm_entry(b"\x0a\x00\x00\x00", 8, port=b"\xff\xff")
    request = pb.WriteRequest(device_id=0)
    request.updates.extend([update(pb.Update.INSERT, bad)] * 3)
    data = request.SerializeToString()
    spans = split_write_request(data)[4]
    pipeline = server.service.pipeline
    errors: list = [None] * 3
    apply_continue(pipeline, plan_updates(pipeline, data, spans), errors)
    assert all(e is not None and e.__traceback__ is None for e in errors)


def test_fast_and_protobuf_paths_agree_on_fuzzed_requests() -> None:
    """A bounded differential run (the tool runs 20,000 requests)."""
    report = p4rt_write_fuzz.run(400, seed=5, time_limit=120)
    assert report.requests >= 100
    assert report.fast_updates > 100
    assert report.disagreements == []


def test_full_table_refuses_an_existing_match_as_already_exists() -> None:
    """Found by the differential fuzz: the bulk path said RESOURCE_EXHAUSTED where the
    protobuf path (which looks the match up first) said ALREADY_EXISTS."""
    from p4runtime_corpus import json_bytes

    from target import Lpm, Switch
    from target.errors import AlreadyExists

    switch = Switch()
    switch.load(json_bytes("tutorial_basic"))
    size = switch.program.tables["MyIngress.ipv4_lpm"].size
    for i in range(size):
        switch.table_add("MyIngress.ipv4_lpm", [Lpm(i << 8, 24)], "MyIngress.drop")
    with pytest.raises(AlreadyExists):
        switch.table_add("MyIngress.ipv4_lpm", [Lpm(5 << 8, 24)], "MyIngress.drop")


def test_refused_updates_are_answered_without_the_write_lock(server, ready) -> None:  # noqa: F811
    """Updates refused on their contents (here a parameter too wide) touch no table: a Write
    of them is answered while another call holds the write lock."""
    bad = update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8, port=b"\xff\xff"))
    request = pb.WriteRequest(device_id=0)
    request.election_id.low = 10
    request.updates.extend([bad] * 3)
    with server.service.write_lock:
        with pytest.raises(grpc.RpcError) as err:
            ready.stub.Write(request, timeout=5)
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    assert {code for code, _ in batch_errors(err.value)} == {grpc.StatusCode.OUT_OF_RANGE.value[0]}
