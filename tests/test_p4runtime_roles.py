"""Roles with Stratum's P4RoleConfig on onos_basic: a role writes and reads only the entities
its config lists, pushes a pipeline only when allowed, gets packet-ins only when it asks for
them; configs in another format and exclusive ids claimed twice are refused."""

from __future__ import annotations

import queue

import grpc
import pytest
from google.protobuf import any_pb2
from test_p4runtime_entities import (
    PORT_COUNTER,
    SEND_TO_CPU,
    TABLE0,
    WCMP,
    acl_entry,
    action,
    entity_update,
    member,
    udp_frame,
)
from test_p4runtime_server import Client, update

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.roles import P4RoleConfig
from runtime_server.server import P4RuntimeServer

INSERT = pb.Update.INSERT
OK = 0


class RoleClient(Client):
    """A controller of one role (made by role_client)."""

    role: str

    def _stamp(self, request) -> None:
        super()._stamp(request)
        request.role = self.role

    def arbitrate(self) -> pb.MasterArbitrationUpdate:
        """The first arbitration reply (the base class queued the update without the role)."""
        return self.next_message().arbitration

    def read(self, *entities: pb.Entity) -> list[pb.Entity]:
        request = pb.ReadRequest(device_id=self.device_id, role=self.role)
        request.entities.extend(entities)
        return [e for response in self.stub.Read(request) for e in response.entities]


def role_client(port: int, election_id: int, role: str, **config) -> RoleClient:
    client = RoleClient.__new__(RoleClient)
    client.role = role
    Client.__init__(client, port, election_id=None)  # opens the stream; arbitration replaced
    client.election_id = election_id
    message = client.requests.get_nowait()
    message.arbitration.election_id.low = election_id
    message.arbitration.role.name = role
    if config:
        packed = any_pb2.Any()
        packed.Pack(P4RoleConfig(**config))
        message.arbitration.role.config.CopyFrom(packed)
    client.requests.put(message)
    return client


@pytest.fixture
def onos():
    from target import Switch

    running = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0")
    owner = Client(running.port, election_id=10)
    assert owner.next_message().arbitration.status.code == OK
    owner.set_pipeline("onos_basic")
    yield running, owner
    owner.close()
    running.stop(grace=0)


def test_a_role_writes_only_what_its_config_lists(onos) -> None:
    running, owner = onos
    acl = role_client(running.port, 1, "acl", exclusive_p4_ids=[TABLE0])
    assert acl.arbitrate().status.code == OK
    acl.write(update(INSERT, acl_entry(17, action(SEND_TO_CPU))))
    with pytest.raises(grpc.RpcError) as err:  # one update outside the role: nothing applied
        acl.write(update(INSERT, acl_entry(6, action(SEND_TO_CPU))),
                  entity_update(INSERT, action_profile_member=member(1, 2)))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "update 1: action_profile_member" in err.value.details()
    table0 = pb.Entity(table_entry=pb.TableEntry(table_id=TABLE0))
    assert len(owner.read(table0)) == 1
    with pytest.raises(grpc.RpcError) as err:
        acl.set_pipeline("onos_basic")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The default role keeps full access.
    owner.write(entity_update(INSERT, action_profile_member=member(1, 2)))
    acl.close()


def test_a_role_reads_only_its_entities(onos) -> None:
    running, owner = onos
    owner.write(entity_update(INSERT, action_profile_member=member(1, 2)),
                update(INSERT, acl_entry(17, action(SEND_TO_CPU))))
    acl = role_client(running.port, 1, "acl", exclusive_p4_ids=[TABLE0])
    assert acl.arbitrate().status.code == OK
    everything = [e.WhichOneof("entity") for e in acl.read(
        pb.Entity(table_entry=pb.TableEntry()),
        pb.Entity(action_profile_member=pb.ActionProfileMember()))]
    assert everything == ["table_entry"]
    member_read = pb.Entity()
    member_read.action_profile_member.action_profile_id = WCMP
    with pytest.raises(grpc.RpcError) as err:
        acl.read(member_read)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    counter = pb.Entity()
    counter.counter_entry.counter_id = PORT_COUNTER
    assert len(owner.read(counter)) == 511  # no role: everything
    acl.close()


def test_packet_ins_go_to_roles_that_ask_for_them(onos) -> None:
    running, owner = onos
    owner.write(update(INSERT, acl_entry(17, action(SEND_TO_CPU))))
    quiet = role_client(running.port, 1, "quiet", shared_p4_ids=[TABLE0])
    assert quiet.arbitrate().status.code == OK
    port7 = role_client(running.port, 1, "port7", shared_p4_ids=[TABLE0],
                        receives_packet_ins=True,
                        packet_in_filter=P4RoleConfig.PacketFilter(metadata_id=1, value=b"\x07"))
    assert port7.arbitrate().status.code == OK
    running.service.switch.process([(7, udp_frame(0x0A000001, 5000))])
    running.service.switch.process([(3, udp_frame(0x0A000001, 5001))])
    ports = [{m.metadata_id: m.value for m in owner.next_message().packet.metadata}[1]
             for _ in range(2)]
    assert ports == [b"\x07", b"\x03"]
    assert port7.next_message().packet.metadata[0].value == b"\x07"
    with pytest.raises(queue.Empty):  # nothing for the quiet role, nor port 3 for port7
        quiet.next_message(timeout=0.5)
    with pytest.raises(queue.Empty):
        port7.next_message(timeout=0.5)
    quiet.close()
    port7.close()


def test_role_configs_kvick_cannot_read_or_that_clash_are_refused(onos) -> None:
    running, _owner = onos
    strange = role_client(running.port, 1, "strange")
    message = pb.StreamMessageRequest()
    message.arbitration.device_id = 0
    message.arbitration.role.name = "strange"
    message.arbitration.election_id.low = 1
    message.arbitration.role.config.Pack(pb.CapabilitiesRequest())  # not a P4RoleConfig
    strange.requests.get_nowait()
    strange.requests.put(message)
    with pytest.raises(grpc.RpcError) as err:
        strange.next_message()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    strange.close()
    acl = role_client(running.port, 1, "acl", exclusive_p4_ids=[TABLE0])
    assert acl.arbitrate().status.code == OK
    rival = role_client(running.port, 1, "rival", shared_p4_ids=[TABLE0])
    with pytest.raises(grpc.RpcError) as err:
        rival.next_message()
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    rival.close()
    acl.close()
