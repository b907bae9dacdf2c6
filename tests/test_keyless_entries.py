"""A table without a key takes one entry, as BMv2 does: its key is the empty key, which every
packet matches, so the entry's action runs (a hit) instead of the default. finsy's INT example
sets its transit table (configure_transit, keyless) this way over P4Runtime, an INSERT with no
match fields. p4c's action-call tables (keyless, const default) still take none."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from scapy.layers.l2 import Ether
from test_p4runtime_server import Client, batch_errors

from runtime_server.proto import p4info_pb2
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import P4RuntimeServer
from target import Switch
from target.compiler.driver import compile_file
from target.errors import AlreadyExists, InvalidArgument

PROGRAM = Path(__file__).parent / "p4" / "keyless_table.p4"
TABLE = "IngressImpl.port_of"
FRAME = bytes(Ether(dst="00:00:00:00:00:02", src="00:00:00:00:00:01", type=0x88B5)) + bytes(46)


@pytest.fixture(scope="module")
def compiled() -> tuple[dict, str]:
    return compile_file(PROGRAM)


def forward(sw: Switch) -> tuple[int, int]:
    """(egress port, last byte of the source MAC: 0xAA when the table hit)."""
    ((port, frame),) = sw.process([(3, FRAME)])
    return port, frame[11]


@pytest.mark.parametrize("native", ["off", "wait"])
def test_an_entry_with_the_empty_key_hits_every_packet(compiled, native: str) -> None:
    document, p4info = compiled
    sw = Switch(native=native)
    sw.load(document, p4info=p4info)
    if native == "wait":
        assert sw.native_ready()
    assert forward(sw) == (1, 0x01)                     # the default: a miss
    handle = sw.table_add(TABLE, [], "IngressImpl.send", [4])
    assert forward(sw) == (4, 0xAA)
    with pytest.raises(AlreadyExists):
        sw.table_add(TABLE, [], "IngressImpl.send", [5])
    assert [e.params for e in sw.table_entries(TABLE)] == [[4]]
    sw.table_modify(TABLE, handle, "IngressImpl.send", [6])
    assert forward(sw) == (6, 0xAA)
    sw.table_delete(TABLE, handle)
    assert forward(sw) == (1, 0x01)
    # deleted and inserted again in one batch: the table's one entry, its one id
    handle = sw.table_add(TABLE, [], "IngressImpl.send", [7])
    assert forward(sw) == (7, 0xAA)
    sw.table_clear(TABLE)
    assert forward(sw) == (1, 0x01)
    sw.table_add_many(TABLE, [([], "IngressImpl.send", [2])])
    assert forward(sw) == (2, 0xAA)
    with pytest.raises(AlreadyExists):
        sw.table_add_many(TABLE, [([], "IngressImpl.send", [3])])


def test_an_action_call_table_takes_no_entry(compiled) -> None:
    document, p4info = compiled
    sw = Switch()
    sw.load(document, p4info=p4info)
    with pytest.raises(InvalidArgument, match="const default"):
        sw.table_add("tbl_act_0", [], "act_0", [])
    assert sw.table_entries("tbl_act_0") == []


def test_p4runtime_inserts_reads_and_deletes_the_keyless_entry(compiled) -> None:
    document, p4info_text = compiled
    p4info = text_format.Parse(p4info_text, p4info_pb2.P4Info())
    sw = Switch(cpu_port=255)
    server = P4RuntimeServer(sw, device_id=0, address="127.0.0.1:0")
    client = Client(server.port, election_id=10)
    try:
        client.next_message()
        client.set_pipeline(device_config=json.dumps(document).encode(), p4info=p4info)
        table = next(t.preamble.id for t in p4info.tables if t.preamble.name == TABLE)
        send = next(a.preamble.id for a in p4info.actions
                    if a.preamble.name == "IngressImpl.send")
        entry = pb.TableEntry(table_id=table)
        entry.action.action.action_id = send
        entry.action.action.params.add(param_id=1, value=b"\x04")

        def write(kind: int) -> None:
            u = pb.Update(type=kind)
            u.entity.table_entry.CopyFrom(entry)
            client.write(u)

        write(pb.Update.INSERT)
        [read] = client.read(pb.Entity(table_entry=pb.TableEntry(table_id=table)))
        assert not read.table_entry.match and not read.table_entry.is_default_action
        assert read.table_entry.action.action.params[0].value == b"\x04"
        assert forward(sw) == (4, 0xAA)
        with pytest.raises(grpc.RpcError) as err:
            write(pb.Update.INSERT)
        assert [code for code, _ in batch_errors(err.value)] == [
            grpc.StatusCode.ALREADY_EXISTS.value[0]]
        write(pb.Update.DELETE)
        assert client.read(pb.Entity(table_entry=pb.TableEntry(table_id=table))) == []
        assert forward(sw) == (1, 0x01)
    finally:
        client.close()
        server.stop(grace=0)
