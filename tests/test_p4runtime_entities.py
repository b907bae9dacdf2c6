"""Every entity kind over gRPC against a real switch, and what the data plane does with it:
action profile members, groups and one-shot action sets (onos_basic's WCMP selector),
counters, direct counters, meters, registers (tutorial_firewall), multicast groups and
clone sessions, and packet-in/out through a running engine loop with queue ports."""

from __future__ import annotations

import queue
import threading
import time

import grpc
import pytest
from test_p4runtime_server import Client, update

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.server import P4RuntimeServer

ONOS = "onos_basic"
TABLE0 = 37297120           # ternary ACL: ingress_port, eth src/dst/type, ipv4 src/dst/proto, l4
WCMP_TABLE = 40738141       # exact next_hop_id, implementation: the WCMP selector
WCMP = 301375490            # ingress.wcmp_control.wcmp_selector
SET_NEXT_HOP = 32243812     # table0: set_next_hop_id(next_hop_id: 16)
SEND_TO_CPU = 18486993
WCMP_FORWARD = 21187004     # wcmp: set_egress_port(port: 9)
PORT_COUNTER = 316029388    # ingress_port_counter[511], packets and bytes
TABLE0_COUNTER = 330284989  # direct counter of table0
PORT_METER = 341217247      # ingress_port_meter[511]
PACKET_OUT_PORT = 1         # packet_out.egress_port metadata id
PACKET_IN_PORT = 1          # packet_in.ingress_port metadata id
INSERT, MODIFY, DELETE = pb.Update.INSERT, pb.Update.MODIFY, pb.Update.DELETE


def entity_update(kind: int, **entity) -> pb.Update:
    result = pb.Update(type=kind)
    for name, value in entity.items():
        getattr(result.entity, name).CopyFrom(value)
    return result


def udp_frame(src: int, sport: int, dst: int = 0x0A000002) -> bytes:
    ip = bytearray([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]) + src.to_bytes(4, "big") + \
        dst.to_bytes(4, "big")
    total = sum(int.from_bytes(ip[i:i + 2], "big") for i in range(0, 20, 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    ip[10:12] = (~total & 0xFFFF).to_bytes(2, "big")      # a valid header checksum
    udp = sport.to_bytes(2, "big") + (80).to_bytes(2, "big") + bytes([0, 8, 0, 0])
    return bytes.fromhex("00000000000a0000000000010800") + ip + udp


def acl_entry(protocol: int, action: pb.Action, priority: int = 10) -> pb.TableEntry:
    entry = pb.TableEntry(table_id=TABLE0, priority=priority)
    ether = entry.match.add(field_id=4)
    ether.ternary.value, ether.ternary.mask = b"\x08\x00", b"\xff\xff"
    proto = entry.match.add(field_id=7)
    proto.ternary.value, proto.ternary.mask = bytes([protocol]), b"\xff"
    entry.action.action.CopyFrom(action)
    return entry


def action(action_id: int, *values: bytes) -> pb.Action:
    result = pb.Action(action_id=action_id)
    for param_id, value in enumerate(values, start=1):
        result.params.add(param_id=param_id, value=value)
    return result


def member(member_id: int, port: int) -> pb.ActionProfileMember:
    return pb.ActionProfileMember(action_profile_id=WCMP, member_id=member_id,
                                  action=action(WCMP_FORWARD, bytes([port])))


def group(group_id: int, members: list[int]) -> pb.ActionProfileGroup:
    result = pb.ActionProfileGroup(action_profile_id=WCMP, group_id=group_id, max_size=8)
    for member_id in members:
        result.members.add(member_id=member_id, weight=1)
    return result


def wcmp_entry(next_hop: int) -> pb.TableEntry:
    entry = pb.TableEntry(table_id=WCMP_TABLE)
    entry.match.add(field_id=1).exact.value = next_hop.to_bytes(2, "big").lstrip(b"\0") or b"\0"
    return entry


@pytest.fixture
def onos():
    from target import Switch

    running = P4RuntimeServer(Switch(cpu_port=255), device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=10)
    assert client.next_message().arbitration.status.code == 0
    client.set_pipeline(ONOS)
    yield running.service.switch, client
    client.close()
    running.stop(grace=0)


def egress_ports(switch, frames: list[bytes]) -> list[int]:
    return [port for port, _frame in switch.process([(1, f) for f in frames])]


def test_members_groups_and_one_shot_action_sets(onos) -> None:
    switch, client = onos
    client.write(entity_update(INSERT, action_profile_member=member(1, 2)),
                 entity_update(INSERT, action_profile_member=member(2, 3)),
                 entity_update(INSERT, action_profile_group=group(10, [1, 2])))
    read = pb.Entity()
    read.action_profile_member.action_profile_id = WCMP
    assert sorted((e.action_profile_member.member_id, e.action_profile_member.action.params[0].value)
                  for e in client.read(read)) == [(1, b"\x02"), (2, b"\x03")]
    read = pb.Entity()
    read.action_profile_group.action_profile_id = WCMP
    groups = [e.action_profile_group for e in client.read(read)]
    assert [(g.group_id, sorted(m.member_id for m in g.members)) for g in groups] == [(10, [1, 2])]

    via_group = wcmp_entry(1)
    via_group.action.action_profile_group_id = 10
    client.write(update(INSERT, via_group),
                 update(INSERT, acl_entry(17, action(SET_NEXT_HOP, b"\x01"))))
    flows = [udp_frame(0x0A000000 + i, 1000 + 7 * i) for i in range(64)]
    ports = egress_ports(switch, flows)
    assert len(ports) == 64 and set(ports) == {2, 3}       # the selector spreads the flows
    assert egress_ports(switch, flows) == ports              # and keeps each on its member

    # A member in use by a group cannot go; a failed update changes nothing.
    with pytest.raises(grpc.RpcError):
        client.write(entity_update(DELETE, action_profile_member=member(1, 2)))
    assert len(client.read(pb.Entity(action_profile_member=pb.ActionProfileMember(
        action_profile_id=WCMP)))) == 2

    # Any 32-bit ids: the target gets dense ids of its own.
    client.write(entity_update(INSERT, action_profile_member=member(0xFFFFFFFE, 4)),
                 entity_update(INSERT, action_profile_group=group(0xFFFFFFF0, [0xFFFFFFFE])))
    big = wcmp_entry(2)
    big.action.action_profile_group_id = 0xFFFFFFF0
    client.write(update(INSERT, big),
                 update(INSERT, acl_entry(6, action(SET_NEXT_HOP, b"\x02"))))
    tcp = [frame[:23] + b"\x06" + frame[24:] for frame in flows[:4]]
    assert set(egress_ports(switch, tcp)) == {4}
    read = pb.Entity()
    read.table_entry.CopyFrom(wcmp_entry(2))
    assert [e.table_entry.action.action_profile_group_id for e in client.read(read)] == \
        [0xFFFFFFF0]
    client.write(update(DELETE, wcmp_entry(2)),
                 entity_update(DELETE, action_profile_group=group(0xFFFFFFF0, [])),
                 entity_update(DELETE, action_profile_member=member(0xFFFFFFFE, 4)))

    # Shrinking the group moves every flow to the member left.
    client.write(entity_update(MODIFY, action_profile_group=group(10, [2])))
    assert set(egress_ports(switch, flows)) == {3}

    # One-shot action sets cannot mix with explicit members and groups on one profile.
    one_shot = wcmp_entry(1)
    for port in (5, 6):
        item = one_shot.action.action_profile_action_set.action_profile_actions.add(weight=1)
        item.action.CopyFrom(action(WCMP_FORWARD, bytes([port])))
    with pytest.raises(grpc.RpcError):
        client.write(update(MODIFY, one_shot))
    assert set(egress_ports(switch, flows)) == {3}
    client.write(update(DELETE, wcmp_entry(1)),
                 entity_update(DELETE, action_profile_group=group(10, [])),
                 entity_update(DELETE, action_profile_member=member(1, 2)),
                 entity_update(DELETE, action_profile_member=member(2, 3)))
    assert set(egress_ports(switch, flows)) == {0}          # no wcmp entry: port 0

    # With the profile empty again, a one-shot set: reads give the set back.
    client.write(update(INSERT, one_shot))
    assert set(egress_ports(switch, flows)) == {5, 6}
    read = pb.Entity()
    read.table_entry.table_id = WCMP_TABLE
    (entry,) = [e.table_entry for e in client.read(read)]
    assert entry.action == one_shot.action
    client.write(update(DELETE, wcmp_entry(1)))
    assert set(egress_ports(switch, flows)) == {0}


def counter_read(client: Client, counter_id: int, index: int | None) -> list[pb.CounterEntry]:
    read = pb.Entity()
    read.counter_entry.counter_id = counter_id
    if index is not None:
        read.counter_entry.index.index = index
    return [e.counter_entry for e in client.read(read)]


def test_counters_direct_counters_and_meters(onos) -> None:
    switch, client = onos
    client.write(update(INSERT, acl_entry(17, action(SEND_TO_CPU))))
    frames = [udp_frame(0x0A000001, 5000), udp_frame(0x0A000001, 5001)]
    switch.process([(7, f) for f in frames])
    (count,) = counter_read(client, PORT_COUNTER, 7)
    assert (count.data.packet_count, count.data.byte_count) == (2, sum(map(len, frames)))
    every = counter_read(client, PORT_COUNTER, None)
    assert len(every) == 511 and sum(c.data.packet_count for c in every) == 2

    reset = pb.CounterEntry(counter_id=PORT_COUNTER)
    reset.index.index = 7
    reset.data.packet_count = 40
    client.write(entity_update(MODIFY, counter_entry=reset))
    assert counter_read(client, PORT_COUNTER, 7)[0].data.packet_count == 40

    read = pb.Entity()
    read.direct_counter_entry.table_entry.CopyFrom(acl_entry(17, action(SEND_TO_CPU)))
    read.direct_counter_entry.table_entry.ClearField("action")
    (direct,) = [e.direct_counter_entry for e in client.read(read)]
    assert direct.data.packet_count == 2

    meter = pb.MeterEntry(meter_id=PORT_METER)
    meter.index.index = 3
    meter.config.cir, meter.config.cburst, meter.config.pir, meter.config.pburst = 10, 2, 20, 4
    client.write(entity_update(MODIFY, meter_entry=meter))
    read = pb.Entity()
    read.meter_entry.meter_id = PORT_METER
    read.meter_entry.index.index = 3
    (got,) = [e.meter_entry for e in client.read(read)]
    assert got.config == meter.config
    read.meter_entry.ClearField("index")
    assert len(client.read(read)) == 511


def test_registers() -> None:
    from target import Switch

    running = P4RuntimeServer(Switch(), device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=3)
    try:
        assert client.next_message().arbitration.status.code == 0
        client.set_pipeline("tutorial_firewall")
        register = pb.RegisterEntry(register_id=372442416)       # bloom_filter_1: bit<1>[4096]
        register.index.index = 77
        register.data.bitstring = b"\x01"
        client.write(entity_update(MODIFY, register_entry=register))
        assert running.service.switch.register_read("MyIngress.bloom_filter_1", 77) == 1
        read = pb.Entity()
        read.register_entry.register_id = 372442416
        read.register_entry.index.index = 77
        (got,) = [e.register_entry for e in client.read(read)]
        assert got.data.bitstring == b"\x01"
        read.register_entry.ClearField("index")
        every = [e.register_entry for e in client.read(read)]
        assert len(every) == 4096
        assert [e.index.index for e in every if e.data.bitstring != b"\x00"] == [77]
        too_wide = pb.RegisterEntry(register_id=372442416)
        too_wide.index.index = 1
        too_wide.data.bitstring = b"\x02"
        with pytest.raises(grpc.RpcError):
            client.write(entity_update(MODIFY, register_entry=too_wide))
    finally:
        client.close()
        running.stop(grace=0)


def test_multicast_groups_and_clone_sessions(onos) -> None:
    switch, client = onos
    pre = pb.PacketReplicationEngineEntry()
    pre.multicast_group_entry.multicast_group_id = 5
    for port, rid in ((1, 0), (2, 0), (3, 1)):
        pre.multicast_group_entry.replicas.add(egress_port=port, instance=rid)
    clone = pb.PacketReplicationEngineEntry()
    clone.clone_session_entry.session_id = 9
    clone.clone_session_entry.class_of_service = 2
    clone.clone_session_entry.packet_length_bytes = 128
    clone.clone_session_entry.replicas.add(egress_port=255, instance=0)
    client.write(entity_update(INSERT, packet_replication_engine_entry=pre),
                 entity_update(INSERT, packet_replication_engine_entry=clone))
    assert sorted(switch.mc_group_get(5)) == [(1, 0), (2, 0), (3, 1)]
    assert switch.clone_session_get(9) == ([(255, 0)], 2, 128)
    read = pb.Entity()
    read.packet_replication_engine_entry.multicast_group_entry.multicast_group_id = 5
    (got,) = [e.packet_replication_engine_entry for e in client.read(read)]
    assert got == pre
    read = pb.Entity()
    read.packet_replication_engine_entry.clone_session_entry.session_id = 9
    (got,) = [e.packet_replication_engine_entry for e in client.read(read)]
    assert got == clone
    with pytest.raises(grpc.RpcError):                      # it exists already
        client.write(entity_update(INSERT, packet_replication_engine_entry=pre))
    del pre.multicast_group_entry.replicas[1:]
    client.write(entity_update(MODIFY, packet_replication_engine_entry=pre),
                 entity_update(DELETE, packet_replication_engine_entry=clone))
    assert switch.mc_group_get(5) == [(1, 0)]
    assert 9 not in switch.clone_sessions()


def test_packet_in_and_out_through_the_engine_loop() -> None:
    from target import Switch
    from target.driver.memory import QueuePort

    switch = Switch(cpu_port=255)
    running = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=10)
    messages: queue.Queue = queue.Queue()
    try:
        assert client.next_message().arbitration.status.code == 0
        client.set_pipeline(ONOS)
        ports = {n: QueuePort() for n in (1, 2)}
        for n, port in ports.items():
            switch.add_port(n, port)
        switch.start()

        def drain() -> None:
            try:
                for message in client.responses:
                    messages.put(message)
            except grpc.RpcError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        client.write(update(INSERT, acl_entry(17, action(SEND_TO_CPU))))
        frame = udp_frame(0x0A000009, 4242)
        assert ports[1].push(frame)
        packet_in = messages.get(timeout=5).packet
        assert packet_in.payload == frame
        assert {m.metadata_id: m.value for m in packet_in.metadata}[PACKET_IN_PORT] == b"\x01"

        out = pb.StreamMessageRequest()
        out.packet.payload = b"\x02" * 60
        out.packet.metadata.add(metadata_id=PACKET_OUT_PORT, value=b"\x02")
        out.packet.metadata.add(metadata_id=2, value=b"\x00")           # _padding
        client.requests.put(out)
        deadline = time.monotonic() + 5
        sent: list[bytes] = []
        while not sent and time.monotonic() < deadline:
            sent = ports[2].pop_all()
            time.sleep(0.01)
        assert sent == [b"\x02" * 60], [messages.get_nowait() for _ in range(messages.qsize())]
        assert ports[1].pop_all() == []
    finally:
        switch.stop()
        client.close()
        running.stop(grace=0)


UP4 = "p4c_omec_up4"
DDN_DIGEST = 396224266      # ddn_digest_t { ue_address } from PreQosPipe.do_buffer


def exact_entry(table_id: int, value: bytes, act: pb.Action) -> pb.TableEntry:
    entry = pb.TableEntry(table_id=table_id)
    entry.match.add(field_id=1).exact.value = value
    entry.action.action.CopyFrom(act)
    return entry


def test_digests_wait_for_their_ack() -> None:
    from target import Switch

    switch = Switch(cpu_port=255)
    running = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    client = Client(running.port, election_id=10)
    messages: queue.Queue = queue.Queue()
    try:
        assert client.next_message().arbitration.status.code == 0
        client.set_pipeline(UP4)

        def drain() -> None:
            try:
                for message in client.responses:
                    messages.put(message)
            except grpc.RpcError:
                pass

        threading.Thread(target=drain, daemon=True).start()
        config = pb.DigestEntry(digest_id=DDN_DIGEST)
        config.config.max_timeout_ns = 0            # every digest goes out on its own
        config.config.max_list_size = 1
        config.config.ack_timeout_ns = 10 * 10**9
        interfaces = pb.TableEntry(table_id=33923840)           # ipv4_dst_prefix: lpm
        prefix = interfaces.match.add(field_id=1)
        prefix.lpm.value, prefix.lpm.prefix_len = b"\x0a\x00\x00\x00", 8
        interfaces.action.action.CopyFrom(action(26090030, b"\x02", b"\x02", b"\x00"))
        terminations = pb.TableEntry(table_id=34778590)         # ue_address, app_id
        terminations.match.add(field_id=1).exact.value = b"\x0a\x00\x00\x09"
        terminations.match.add(field_id=2).exact.value = b"\x00"
        terminations.action.action.CopyFrom(            # downlink_term_fwd, teid 1
            action(32699713, b"\x00", b"\x01", b"\x00", b"\x00", b"\x00"))
        client.write(
            entity_update(INSERT, digest_entry=config),
            update(INSERT, exact_entry(40931612, b"\x0a", pb.Action(action_id=21257015))),
            update(INSERT, interfaces),                 # set_source_iface: core, downlink
            update(INSERT, exact_entry(34742049, b"\x0a\x00\x00\x09",       # buffer this UE
                                       action(20249483, b"\x00"))),
            update(INSERT, terminations))
        read = pb.Entity()
        read.digest_entry.digest_id = DDN_DIGEST
        assert [e.digest_entry for e in client.read(read)] == [config]

        def digest_lists(timeout: float) -> list[pb.DigestList]:
            found = []
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    message = messages.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if message.WhichOneof("update") == "digest":
                    found.append(message.digest)
                    deadline = min(deadline, time.monotonic() + 0.2)    # and any right behind
            return found

        to_ue = udp_frame(0x0B000001, 2152, dst=0x0A000009) + bytes(32)
        assert switch.process([(1, to_ue)]) == []           # buffered: dropped
        (first,) = digest_lists(timeout=2)
        assert first.digest_id == DDN_DIGEST
        assert [d.struct.members[0].bitstring for d in first.data] == [b"\x0a\x00\x00\x09"]
        switch.process([(1, to_ue)])
        assert digest_lists(timeout=0.5) == []              # the same data waits for the ack
        ack = pb.StreamMessageRequest()
        ack.digest_ack.digest_id = DDN_DIGEST
        ack.digest_ack.list_id = first.list_id
        client.requests.put(ack)
        time.sleep(0.2)
        switch.process([(1, to_ue)])
        (second,) = digest_lists(timeout=2)
        assert second.list_id != first.list_id
        assert [d.struct.members[0].bitstring for d in second.data] == [b"\x0a\x00\x00\x09"]
    finally:
        client.close()
        running.stop(grace=0)
