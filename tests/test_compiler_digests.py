"""Digests in kvick's P4Info: p4c's form (preamble, struct type_spec, the struct in type_info),
parsed by protobuf and resolved by the P4Runtime server's index."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format
from test_p4runtime_server import Client

from runtime_server.p4info_index import P4InfoIndex
from runtime_server.proto import p4info_pb2
from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import P4RuntimeServer
from target import Switch
from target.compiler.driver import compile_file, compile_text
from target.compiler.errors import CompileError
from target.compiler.p4info import PREFIX, jenkins_one_at_a_time

L2 = Path(__file__).resolve().parent.parent / "p4src" / "l2_learning.p4"

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<32> a; bit<16> b; }
struct headers { h_t h; }
STRUCTS
struct meta_t { DIGEST_T d; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply { ASSIGN digest<DIGEST_T>(1, m.d); sm.egress_spec = 1; }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def _compile(structs: str, digest_type: str, assign: str) -> tuple[dict, p4info_pb2.P4Info]:
    text = PROGRAM.replace("STRUCTS", structs).replace("DIGEST_T", digest_type).replace("ASSIGN", assign)
    document, p4info = compile_text(text)
    return document, text_format.Parse(p4info, p4info_pb2.P4Info())


def test_l2_learning_digest_is_subscribable() -> None:
    _, text = compile_file(L2)
    info = text_format.Parse(text, p4info_pb2.P4Info())
    assert [d.preamble.name for d in info.digests] == ["learn_t"]
    digest = info.digests[0]
    assert digest.preamble.id == PREFIX["digest"] << 24 | jenkins_one_at_a_time("learn_t") & 0xFFFFFF
    assert digest.type_spec.struct.name == "learn_t"
    members = info.type_info.structs["learn_t"].members
    assert [(m.name, m.type_spec.bitstring.bit.bitwidth) for m in members] == [("mac", 48), ("port", 9)]
    index = P4InfoIndex.build(info)
    assert index.get_digest(digest.preamble.id) is digest
    data = index.digest_data(digest, (0x0A0B0C0D0E0F, 3))
    assert [bytes(m.bitstring) for m in data.struct.members] == [bytes.fromhex("0a0b0c0d0e0f"), b"\x03"]


def test_same_id_and_shape_as_p4c() -> None:
    # p4c-compiled omec up4 (../shared/corpus/p4c_omec_up4) sends this struct; its P4Info has
    # digests { preamble { id: 396224266 name: "ddn_digest_t" alias: "ddn_digest_t" } ... }.
    document, info = _compile("struct ddn_digest_t { bit<32> ue_address; }", "ddn_digest_t",
                              "m.d.ue_address = h.h.a;")
    (digest,) = info.digests
    assert (digest.preamble.id, digest.preamble.name, digest.preamble.alias) == \
        (396224266, "ddn_digest_t", "ddn_digest_t")
    assert digest.type_spec.struct.name == "ddn_digest_t"
    (member,) = info.type_info.structs["ddn_digest_t"].members
    assert (member.name, member.type_spec.bitstring.bit.bitwidth) == ("ue_address", 32)
    assert [ll["name"] for ll in document["learn_lists"]] == ["ddn_digest_t"]


def test_nested_struct_is_flattened_in_json_and_described_in_type_info() -> None:
    structs = "struct inner_t { bit<16> b; bool f; }\nstruct outer_t { bit<32> a; inner_t in1; }"
    document, info = _compile(structs, "outer_t", "m.d.a = h.h.a; m.d.in1.b = h.h.b;")
    (ll,) = document["learn_lists"]
    assert len(ll["elements"]) == 3
    assert sorted(info.type_info.structs) == ["inner_t", "outer_t"]
    outer = info.type_info.structs["outer_t"].members
    assert outer[1].type_spec.struct.name == "inner_t"
    inner = info.type_info.structs["inner_t"].members
    assert inner[1].type_spec.HasField("bool")


def test_a_program_without_digests_has_no_digest_structs() -> None:
    text = compile_file(Path(__file__).resolve().parent.parent / "p4src" / "router.p4")[1]
    parsed = text_format.Parse(text, p4info_pb2.P4Info())
    assert len(parsed.digests) == 0 and len(parsed.type_info.structs) == 0


def test_a_p4runtime_controller_receives_learn_t_digests() -> None:
    document, text = compile_file(L2)
    info = text_format.Parse(text, p4info_pb2.P4Info())
    learn_id = info.digests[0].preamble.id
    switch = Switch(cpu_port=255)
    running = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=1)
    try:
        assert client.next_message().arbitration.status.code == 0
        client.set_pipeline(p4info=info, device_config=json.dumps(document).encode())
        messages: queue.Queue = queue.Queue()

        def drain() -> None:
            try:
                for message in client.responses:
                    if message.WhichOneof("update") == "digest":
                        messages.put(message.digest)
            except grpc.RpcError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        update = pb.Update(type=pb.Update.INSERT)
        update.entity.digest_entry.digest_id = learn_id
        update.entity.digest_entry.config.max_list_size = 1
        client.write(update)
        frame = bytes.fromhex("ffffffffffff" "0a0b0c0d0e0f" "0800") + bytes(46)
        switch.process([(3, frame)])
        digest = messages.get(timeout=5)
        assert digest.digest_id == learn_id
        (data,) = digest.data
        assert [m.bitstring for m in data.struct.members] == [bytes.fromhex("0a0b0c0d0e0f"), b"\x03"]
    finally:
        client.close()
        running.stop(grace=0)


def _digests_of(client: Client) -> queue.Queue:
    messages: queue.Queue = queue.Queue()

    def drain() -> None:
        try:
            for message in client.responses:
                if message.WhichOneof("update") == "digest":
                    messages.put(message.digest)
        except grpc.RpcError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    return messages


def test_digests_go_to_the_roles_that_own_them() -> None:
    # The default role's primary (full access) and a role whose config lists the digest get
    # each list; a role with other entities does not.
    from test_p4runtime_roles import role_client

    document, text = compile_file(L2)
    info = text_format.Parse(text, p4info_pb2.P4Info())
    learn_id = info.digests[0].preamble.id
    switch = Switch(cpu_port=255)
    running = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=1)
    learner = role_client(running.port, 2, "learner", shared_p4_ids=[learn_id])
    other = role_client(running.port, 3, "other", shared_p4_ids=[info.tables[0].preamble.id])
    try:
        assert client.next_message().arbitration.status.code == 0
        assert learner.arbitrate().status.code == 0 and other.arbitrate().status.code == 0
        client.set_pipeline(p4info=info, device_config=json.dumps(document).encode())
        queues = [_digests_of(c) for c in (client, learner, other)]
        update = pb.Update(type=pb.Update.INSERT)
        update.entity.digest_entry.digest_id = learn_id
        update.entity.digest_entry.config.max_list_size = 1
        client.write(update)
        switch.process([(3, bytes.fromhex("ffffffffffff" "0a0b0c0d0e0f" "0800") + bytes(46))])
        assert queues[0].get(timeout=5).digest_id == learn_id
        assert queues[1].get(timeout=5).digest_id == learn_id
        with pytest.raises(queue.Empty):
            queues[2].get(timeout=0.5)
    finally:
        for each in (client, learner, other):
            each.close()
        running.stop(grace=0)


GRAB_BAG = Path(__file__).resolve().parent / "p4" / "p4guide" / "v1model-grab-bag.p4"


def test_digest_members_of_error_and_enum_types_are_described_as_p4c_does() -> None:
    """p4-guide's p4runtime/v1model-grab-bag.p4 sends a struct with an error and an enum
    member; its p4c-made P4Info (copied beside it) describes them as `error {}` and
    `enum { name }` with type_info's enums and error list. p4c's list there predates
    core.p4's ParserInvalidArgument, which kvick's core.p4 (like today's p4c's) declares."""
    _, text = compile_file(GRAB_BAG)
    ours = text_format.Parse(text, p4info_pb2.P4Info())
    theirs = text_format.Parse(GRAB_BAG.with_suffix(".p4.p4info.txtpb").read_text(), p4info_pb2.P4Info())
    assert [(d.preamble.name, d.type_spec) for d in ours.digests] == \
        [(d.preamble.name, d.type_spec) for d in theirs.digests]
    assert ours.type_info.structs == theirs.type_info.structs
    assert ours.type_info.enums == theirs.type_info.enums
    expected = list(theirs.type_info.error.members)
    expected.insert(expected.index("ParserTimeout") + 1, "ParserInvalidArgument")
    assert list(ours.type_info.error.members) == expected
    # The text is p4c's too: type_info's parts in P4TypeInfo's field order.
    start = text.index("type_info {")
    assert text.index("\n  enums {", start) < text.index("\n  error {", start)


def _list_digest(values: str) -> str:
    text = PROGRAM.replace("STRUCTS", "struct learn_t { bit<32> addr; bit<16> kind; }")
    return text.replace("DIGEST_T", "learn_t").replace("ASSIGN digest<learn_t>(1, m.d);",
                                                       f"digest<learn_t>(1, {values});")


def test_a_list_expression_sent_as_a_named_struct() -> None:
    """digest<T>(id, {a, b}) with T a struct (p4-guide's control-plane-types/prog1-v1model.p4
    sends {hdr.eth.srcAddr, standard_metadata.ingress_port} as mac_learn_digest): the learn
    list holds the list's fields and takes the struct's name, as p4c's does; P4Info describes
    the struct with its own field names."""
    text = _list_digest("{h.h.a, h.h.b}")
    document, p4info = compile_text(text)
    assert document["learn_lists"] == [{"id": 1, "name": "learn_t", "elements": [
        {"type": "field", "value": ["h", "a"]}, {"type": "field", "value": ["h", "b"]}]}]
    info = text_format.Parse(p4info, p4info_pb2.P4Info())
    assert [(d.preamble.name, d.type_spec.struct.name) for d in info.digests] == [("learn_t", "learn_t")]
    assert [m.name for m in info.type_info.structs["learn_t"].members] == ["addr", "kind"]
    sw = Switch()
    sw.load(document, p4info=p4info)
    got: list[tuple[str, list[tuple[int, ...]]]] = []
    sw.on_digest(lambda name, values: got.append((name, values)))
    sw.process([(1, bytes.fromhex("0a0b0c0d" "0e0f"))])
    assert got == [("learn_t", [(0x0A0B0C0D, 0x0E0F)])]


def test_a_list_that_does_not_fit_the_named_struct_is_refused() -> None:
    text = _list_digest("{h.h.a}")
    with pytest.raises(CompileError) as e:
        compile_text(text)
    assert "2 fields" in str(e.value).splitlines()[0]
