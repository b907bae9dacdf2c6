"""ONOS's bmv2 driver replayed against kvick: the calls ONOS 2.7 makes to bring a BMv2 device
up with the basic pipeconf, in its order and with its encodings.

ONOS is not on the package registries CI reaches, so this test speaks for it, written from
ONOS 2.7's public source:
- protocols/p4runtime/ctl/.../client/StreamClientImpl.java: the StreamChannel is opened first
  and a MasterArbitrationUpdate (device id, election id, default role) sent on it;
- protocols/p4runtime/ctl/.../client/PipelineConfigClientImpl.java: the "cookie check"
  (GetForwardingPipelineConfig with response_type COOKIE_ONLY, FAILED_PRECONDITION meaning
  "no pipeline") and SetForwardingPipelineConfig VERIFY_AND_COMMIT whose p4_device_config is a
  p4.tmp.P4DeviceConfig {reassign: true, extras: {}, device_data: BMv2 JSON} and whose cookie
  is the pipeconf fingerprint;
- drivers/bmv2 (Bmv2PipelineProgrammable: the device data is the pipeconf's BMv2 JSON as
  shipped; bmv2-drivers.xml sets tableDeleteBeforeUpdate) and drivers/p4runtime
  (P4RuntimeFlowRuleProgrammable: one Write per flow rule; a MODIFY with tableDeleteBeforeUpdate
  is a DELETE Write then an INSERT Write; getFlowEntries reads every table at once with
  counter_data and meter_config, then the default entries of tables without a constant
  default action (ReadRequestImpl); P4RuntimeMeterProgrammable, P4RuntimeActionGroup-
  Programmable: wildcard reads of meters and of action profile members and groups);
- pipelines/basic (BasicPipelinerImpl / BasicInterpreterImpl): packet requests become table0
  entries matching hdr.ethernet.ether_type (ternary, full mask) with action send_to_cpu,
  carrying the requesting app's priority (LLDP, BDDP, ARP at CONTROL 40000; IPv4 from fwd at
  REACTIVE 5); packet-outs carry only egress_port, packet-ins are read by ingress_port
  (protocols/p4runtime PacketMetadataCodec: values sent canonical, received values fitted to
  the bitwidth);
- drivers/gnmi (OpenConfigGnmiDeviceDescriptionDiscovery, OpenConfigGnmiPortStatistics-
  Discovery) and GnmiDeviceStateSubscriber: ports and their counters over gNMI with PROTO
  encoding; one STREAM subscription, updates only, ON_CHANGE on each port's state.
The pipeline is ../shared/corpus/onos_basic/extra/onos_shipped_p4c_2021/basic.json, byte for
byte what ONOS 2.7 ships (an older p4c's JSON dialect), with its P4Info.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import text_format

from runtime_server.gnmi_proto import gnmi_pb2, gnmi_pb2_grpc
from runtime_server.proto import p4info_pb2, p4runtime_pb2, p4runtime_pb2_grpc
from tests.netns import TestBed, receive, run
from tests.shared_data import CORPUS, needs

REPO = Path(__file__).resolve().parent.parent
SHIPPED = CORPUS / "onos_basic" / "extra" / "onos_shipped_p4c_2021"
pytestmark = needs(SHIPPED)
DEVICE_ID = 1
CPU_PORT = 255
ELECTION_ID = p4runtime_pb2.Uint128(high=0, low=1 << 8 | 1)
FINGERPRINT = 0x5EED_0B45_1C00_2021
TABLE0 = 33561568
SEND_TO_CPU = 16783057
SET_EGRESS_PORT = 16822046
TABLE0_COUNTER = 318816189
WCMP_TABLE = 33594717
WCMP_SELECTOR = 285253634
WCMP_SET_EGRESS_PORT = 16796092
INGRESS_PORT_METER = 335581151
HOST_METER = 352337889
PACKET_OUT = 67121543
ETHER_TYPES = {"lldp": (0x88CC, 40000), "bddp": (0x8942, 40000), "arp": (0x0806, 40000),
               "ipv4": (0x0800, 5)}
LLDP_DST = bytes.fromhex("0180c200000e")


def p4_device_config(device_data: bytes) -> bytes:
    """p4.tmp.P4DeviceConfig {reassign: true (1), extras: {} (2), device_data (3)}."""
    length, size = b"", len(device_data)
    while True:
        byte = size & 0x7F
        size >>= 7
        length += bytes([byte | (0x80 if size else 0)])
        if not size:
            break
    return b"\x08\x01" + b"\x12\x00" + b"\x1a" + length + device_data


class Onos:
    """ONOS's P4Runtime client for one device: a stream, a stub, a gNMI stub."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.gnmi = gnmi_pb2_grpc.gNMIStub(self.channel)
        self.requests: queue.Queue = queue.Queue()
        self.responses: queue.Queue = queue.Queue()
        self.call = self.stub.StreamChannel(iter(self.requests.get, None))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError:
            pass

    def next(self, kind: str, timeout: float = 5.0):  # noqa: ANN201
        """The next stream message of `kind` (arbitration, packet, error, ...)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.responses.get(timeout=max(deadline - time.monotonic(), 0.01))
            if response.WhichOneof("update") == kind:
                return getattr(response, kind)
            if response.WhichOneof("update") == "error":
                raise AssertionError(f"stream error: {response.error}")

    def write(self, *updates: p4runtime_pb2.Update) -> None:
        self.stub.Write(p4runtime_pb2.WriteRequest(device_id=DEVICE_ID, election_id=ELECTION_ID,
                                                   updates=list(updates)), timeout=10)

    def read(self, *entities: p4runtime_pb2.Entity) -> list[p4runtime_pb2.Entity]:
        request = p4runtime_pb2.ReadRequest(device_id=DEVICE_ID, entities=list(entities))
        return [e for reply in self.stub.Read(request, timeout=10) for e in reply.entities]

    def close(self) -> None:
        self.call.cancel()
        self.requests.put(None)
        self.channel.close()


class Device:
    def __init__(self, bed: TestBed) -> None:
        self.ns = bed.namespace()
        self.links = [bed.veth(self.ns) for _ in range(3)]  # ports 1..3: (switch end, host end)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{sock.getsockname()[1]}"
        argv = [sys.executable, "-m", "target.cli", "--no-p4", "--device-id", str(DEVICE_ID),
                "--cpu-port", str(CPU_PORT), "--grpc-server-addr", self.address]
        for port, (switch_end, _) in enumerate(self.links, start=1):
            argv += ["-i", f"{port}@{switch_end}"]
        self.process = subprocess.Popen(argv, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.process.stdout:
            if "listening" in line:
                break
        else:
            raise AssertionError("kvick did not start")
        self.bed = bed

    def host_socket(self, port: int):  # noqa: ANN201
        return self.bed.raw_socket(self.ns, self.links[port - 1][1])

    def close(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=20) == 0


@pytest.fixture(scope="module")
def device() -> Iterator[Device]:
    with TestBed() as bed:
        dev = Device(bed)
        try:
            yield dev
        finally:
            dev.close()


@pytest.fixture(scope="module")
def onos(device: Device) -> Iterator[Onos]:
    client = Onos(device.address)
    try:
        yield client
    finally:
        client.close()


def table0_entry(ether_type: int, priority: int, action: int = SEND_TO_CPU,
                 params: tuple[bytes, ...] = ()) -> p4runtime_pb2.TableEntry:
    entry = p4runtime_pb2.TableEntry(table_id=TABLE0, priority=priority)
    match = entry.match.add(field_id=4)
    match.ternary.value = ether_type.to_bytes(2, "big")
    match.ternary.mask = b"\xff\xff"
    entry.action.action.action_id = action
    for index, value in enumerate(params, start=1):
        entry.action.action.params.add(param_id=index, value=value)
    return entry


def update(kind: int, **entity) -> p4runtime_pb2.Update:  # noqa: ANN003
    return p4runtime_pb2.Update(type=kind, entity=p4runtime_pb2.Entity(**entity))


INSERT, MODIFY, DELETE = (p4runtime_pb2.Update.INSERT, p4runtime_pb2.Update.MODIFY,
                          p4runtime_pb2.Update.DELETE)


def frame(dst: bytes, ether_type: int, payload: bytes = bytes(46)) -> bytes:
    return dst + bytes.fromhex("0200000000aa") + ether_type.to_bytes(2, "big") + payload


# ---------------------------------------------------------------------- the replay, in order
def test_01_arbitration_makes_onos_primary(onos: Onos) -> None:
    request = p4runtime_pb2.StreamMessageRequest()
    request.arbitration.device_id = DEVICE_ID
    request.arbitration.election_id.CopyFrom(ELECTION_ID)
    onos.requests.put(request)
    arbitration = onos.next("arbitration")
    assert arbitration.status.code == grpc.StatusCode.OK.value[0]
    assert arbitration.election_id == ELECTION_ID


def test_02_cookie_check_finds_no_pipeline(onos: Onos) -> None:
    """ONOS takes FAILED_PRECONDITION, or a config without cookie and P4Info, as "no
    pipeline yet" and pushes its own."""
    try:
        reply = onos.stub.GetForwardingPipelineConfig(
            p4runtime_pb2.GetForwardingPipelineConfigRequest(
                device_id=DEVICE_ID,
                response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.COOKIE_ONLY),
            timeout=10)
    except grpc.RpcError as err:
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    else:
        assert not reply.config.HasField("cookie") and not reply.config.HasField("p4info")


def test_03_pipeline_push_of_the_shipped_json(onos: Onos) -> None:
    p4info = text_format.Parse((SHIPPED / "basic_p4info.txt").read_text(), p4info_pb2.P4Info())
    config = p4runtime_pb2.ForwardingPipelineConfig(
        p4info=p4info, p4_device_config=p4_device_config((SHIPPED / "basic.json").read_bytes()))
    config.cookie.cookie = FINGERPRINT
    reply = onos.stub.SetForwardingPipelineConfig(p4runtime_pb2.SetForwardingPipelineConfigRequest(
        device_id=DEVICE_ID, election_id=ELECTION_ID, config=config,
        action=p4runtime_pb2.SetForwardingPipelineConfigRequest.VERIFY_AND_COMMIT), timeout=60)
    assert reply == p4runtime_pb2.SetForwardingPipelineConfigResponse()  # ONOS checks this


def test_04_cookie_check_finds_the_fingerprint(onos: Onos) -> None:
    reply = onos.stub.GetForwardingPipelineConfig(p4runtime_pb2.GetForwardingPipelineConfigRequest(
        device_id=DEVICE_ID,
        response_type=p4runtime_pb2.GetForwardingPipelineConfigRequest.COOKIE_ONLY), timeout=10)
    assert reply.config.HasField("cookie") and reply.config.cookie.cookie == FINGERPRINT
    assert not reply.config.HasField("p4info") and not reply.config.p4_device_config


def dump_all_tables(onos: Onos) -> list[p4runtime_pb2.TableEntry]:
    """getFlowEntries' first read (ReadRequestImpl.allTableEntries): every table at once, with
    counter_data and meter_config set."""
    wanted = p4runtime_pb2.TableEntry()
    wanted.counter_data.SetInParent()
    wanted.meter_config.SetInParent()
    return [e.table_entry for e in onos.read(p4runtime_pb2.Entity(table_entry=wanted))]


def test_05_punt_flows_inserted_and_read_back_with_counters(onos: Onos) -> None:
    for ether_type, priority in ETHER_TYPES.values():  # one Write per flow rule, as ONOS
        onos.write(update(INSERT, table_entry=table0_entry(ether_type, priority)))
    entries = dump_all_tables(onos)
    assert {e.table_id for e in entries} == {TABLE0}
    found = {int.from_bytes(e.match[0].ternary.value, "big"): e for e in entries}
    assert set(found) == {t for t, _ in ETHER_TYPES.values()}
    for ether_type, priority in ETHER_TYPES.values():
        entry = found[ether_type]
        assert entry.priority == priority
        assert entry.action.action.action_id == SEND_TO_CPU
        assert entry.HasField("counter_data")
        assert entry.counter_data.packet_count == 0
    # ...then the default entries of the tables whose default action is not constant
    # (ReadRequestImpl.defaultTableEntry: is_default_action, counter_data when it has some).
    for table, has_counter in ((33571781, False), (WCMP_TABLE, True)):
        wanted = p4runtime_pb2.TableEntry(table_id=table, is_default_action=True)
        if has_counter:
            wanted.counter_data.SetInParent()
        (default,) = onos.read(p4runtime_pb2.Entity(table_entry=wanted))
        assert default.table_entry.is_default_action and default.table_entry.table_id == table


def _packet_in(onos: Onos, device: Device, port: int, sent: bytes):  # noqa: ANN202
    with device.host_socket(port) as s:
        s.send(sent)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        packet = onos.next("packet", timeout=deadline - time.monotonic())
        if packet.payload == sent:
            return packet
    raise AssertionError("no packet-in")


def test_06_packet_in_of_lldp_and_arp(onos: Onos, device: Device) -> None:
    lldp = frame(LLDP_DST, 0x88CC)
    packet = _packet_in(onos, device, 1, lldp)
    metadata = {m.metadata_id: int.from_bytes(m.value, "big") for m in packet.metadata}
    assert metadata[1] == 1  # ingress_port
    arp = frame(b"\xff" * 6, 0x0806, bytes.fromhex("0001080006040001") + bytes(38))
    packet = _packet_in(onos, device, 2, arp)
    assert {m.metadata_id: int.from_bytes(m.value, "big") for m in packet.metadata}[1] == 2
    # ...and the punt flows counted them (ONOS's flow stats come from these reads)
    counts = {int.from_bytes(e.match[0].ternary.value, "big"): e.counter_data.packet_count
              for e in dump_all_tables(onos)}
    assert counts[0x88CC] >= 1 and counts[0x0806] >= 1


def test_07_packet_out_with_only_egress_port(onos: Onos, device: Device) -> None:
    """BasicInterpreterImpl.mapOutboundPacket sets only egress_port; ONOS 2.7's
    PacketMetadataCodec sends it canonical (one byte for port 3), older ONOS padded to the
    bitwidth (two bytes). Both leave on port 3, with no stream error."""
    probes = []
    with device.host_socket(3) as s:
        for width in (1, 2):
            probe = frame(LLDP_DST, 0x88CC, b"onos-probe-%d" % width + bytes(34))
            request = p4runtime_pb2.StreamMessageRequest()
            request.packet.payload = probe
            request.packet.metadata.add(metadata_id=1, value=(3).to_bytes(width, "big"))
            onos.requests.put(request)
            probes.append(probe)
        got = receive(s, 5.0, want=2, accept=lambda f: f in probes)
    assert got == probes
    with pytest.raises(queue.Empty):
        onos.next("error", timeout=0.5)


def test_08_port_description_and_counters_over_gnmi(onos: Onos, device: Device) -> None:
    # OpenConfigGnmiDeviceDescriptionDiscovery.buildPortStateRequest: every interface's state,
    # the list key written `name=...`, type ALL, PROTO; it reads the 4-element leaves.
    state = gnmi_pb2.Path()
    state.elem.add(name="interfaces")
    state.elem.add(name="interface").key["name"] = "..."
    state.elem.add(name="state")
    reply = onos.gnmi.Get(gnmi_pb2.GetRequest(path=[state], type=gnmi_pb2.GetRequest.ALL,
                                              encoding=gnmi_pb2.Encoding.PROTO), timeout=10)
    described: dict[str, dict[str, gnmi_pb2.TypedValue]] = {}
    for notification in reply.notification:
        for u in notification.update:
            if len(u.path.elem) == 4:
                described.setdefault(u.path.elem[1].key["name"], {})[u.path.elem[3].name] = u.val
    for port, (name, _) in enumerate(device.links, start=1):
        assert described[name]["ifindex"].uint_val == port
        assert described[name]["id"].uint_val == port
        assert described[name]["oper-status"].string_val == "UP"
        assert described[name]["last-change"].uint_val > 0
    path = gnmi_pb2.Path()
    path.elem.add(name="interfaces")
    path.elem.add(name="interface").key["name"] = "*"
    reply = onos.gnmi.Get(gnmi_pb2.GetRequest(path=[path], encoding=gnmi_pb2.Encoding.PROTO),
                          timeout=10)
    leaves: dict[tuple[str, str], gnmi_pb2.TypedValue] = {}
    for notification in reply.notification:
        for u in notification.update:
            leaves[(u.path.elem[1].key["name"], "/".join(e.name for e in u.path.elem[2:]))] = u.val
    for port, (name, _) in enumerate(device.links, start=1):
        assert leaves[(name, "state/ifindex")].uint_val == port
        assert leaves[(name, "state/id")].uint_val == port
        assert leaves[(name, "state/oper-status")].string_val == "UP"
        assert leaves[(name, "ethernet/config/port-speed")].string_val == "SPEED_10GB"
    # OpenConfigGnmiPortStatisticsDiscovery: one Get, a path per port to state/counters.
    request = gnmi_pb2.GetRequest(encoding=gnmi_pb2.Encoding.PROTO)
    for name, _ in device.links:
        p = request.path.add()
        p.elem.add(name="interfaces")
        p.elem.add(name="interface").key["name"] = name
        p.elem.add(name="state")
        p.elem.add(name="counters")
    counters: dict[str, dict[str, int]] = {}
    for notification in onos.gnmi.Get(request, timeout=10).notification:
        for u in notification.update:
            counters.setdefault(u.path.elem[1].key["name"], {})[u.path.elem[-1].name] = \
                u.val.uint_val
    onos_counters = {"in-octets", "out-octets", "in-discards", "in-fcs-errors", "out-discards",
                     "in-errors", "out-errors", "in-unicast-pkts", "in-broadcast-pkts",
                     "in-multicast-pkts", "in-unknown-protos", "out-unicast-pkts",
                     "out-broadcast-pkts", "out-multicast-pkts"}
    assert set(counters) == {name for name, _ in device.links}
    for values in counters.values():
        assert set(values) <= onos_counters, f"ONOS would warn about {set(values) - onos_counters}"
    port1 = counters[device.links[0][0]]
    assert port1["in-multicast-pkts"] >= 1  # the LLDP frame of step 6
    assert port1["in-octets"] >= 60
    assert counters[device.links[2][0]]["out-multicast-pkts"] >= 1  # the packet-out of step 7


def test_09_meters(onos: Onos) -> None:
    entries = onos.read(p4runtime_pb2.Entity(
        meter_entry=p4runtime_pb2.MeterEntry(meter_id=INGRESS_PORT_METER)))
    assert len(entries) == 511
    config = p4runtime_pb2.MeterConfig(cir=1_000_000, cburst=10_000, pir=2_000_000,
                                       pburst=20_000)
    entry = p4runtime_pb2.MeterEntry(meter_id=INGRESS_PORT_METER, config=config)
    entry.index.index = 2
    onos.write(update(MODIFY, meter_entry=entry))
    wanted = p4runtime_pb2.MeterEntry(meter_id=INGRESS_PORT_METER)
    wanted.index.index = 2
    (read,) = onos.read(p4runtime_pb2.Entity(meter_entry=wanted))
    assert read.meter_entry.config == config
    direct = onos.read(p4runtime_pb2.Entity(direct_meter_entry=p4runtime_pb2.DirectMeterEntry(
        table_entry=p4runtime_pb2.TableEntry(table_id=33571781))))
    assert direct == []  # host_meter_table is empty


def test_10_action_profile_reads_and_a_group(onos: Onos) -> None:
    def members() -> list:
        return onos.read(p4runtime_pb2.Entity(action_profile_member=p4runtime_pb2.
                                              ActionProfileMember(action_profile_id=WCMP_SELECTOR)))

    def groups() -> list:
        return onos.read(p4runtime_pb2.Entity(action_profile_group=p4runtime_pb2.
                                              ActionProfileGroup(action_profile_id=WCMP_SELECTOR)))

    assert members() == [] and groups() == []
    ups = []
    for member_id, port in ((1, 2), (2, 3)):
        member = p4runtime_pb2.ActionProfileMember(action_profile_id=WCMP_SELECTOR,
                                                   member_id=member_id)
        member.action.action_id = WCMP_SET_EGRESS_PORT
        member.action.params.add(param_id=1, value=bytes([port]))  # canonical
        ups.append(update(INSERT, action_profile_member=member))
    onos.write(*ups)
    group = p4runtime_pb2.ActionProfileGroup(action_profile_id=WCMP_SELECTOR, group_id=7,
                                             max_size=2)
    group.members.add(member_id=1, weight=1)
    group.members.add(member_id=2, weight=1)
    onos.write(update(INSERT, action_profile_group=group))
    assert {m.action_profile_member.member_id for m in members()} == {1, 2}
    (read,) = groups()
    assert read.action_profile_group.group_id == 7
    assert {m.member_id for m in read.action_profile_group.members} == {1, 2}


def test_11_modify_as_delete_and_insert(onos: Onos, device: Device) -> None:
    """tableDeleteBeforeUpdate (P4RuntimeFlowRuleProgrammable.applyEntry): ONOS modifies the
    IPv4 flow by writing a DELETE of the entry on the device, then an INSERT of the new one;
    the new action applies and its counter starts again."""
    old = table0_entry(0x0800, 5)
    new = table0_entry(0x0800, 5, SET_EGRESS_PORT, (b"\x03",))  # canonical, as ONOS 2.7
    onos.write(update(DELETE, table_entry=old))
    onos.write(update(INSERT, table_entry=new))
    entries = {int.from_bytes(e.match[0].ternary.value, "big"): e
               for e in dump_all_tables(onos) if e.table_id == TABLE0}
    assert entries[0x0800].action.action.action_id == SET_EGRESS_PORT
    assert entries[0x0800].counter_data.packet_count == 0
    assert len(entries) == 4
    ipv4 = frame(bytes.fromhex("020000000001"), 0x0800,
                 bytes.fromhex("450000200000000040110000c0a80001c0a80002") + bytes(26))
    with device.host_socket(3) as rx, device.host_socket(1) as tx:
        tx.send(ipv4)
        # basic.p4 recomputes the IPv4 header checksum (bytes 24..25); the rest is unchanged.
        got = receive(rx, 5.0, accept=lambda f: f[:24] == ipv4[:24] and f[26:] == ipv4[26:])
    assert len(got) == 1 and got[0][24:26] != b"\x00\x00"


def _state_notifications(responses, want: str, timeout: float = 5.0) -> gnmi_pb2.Notification:
    """The first notification carrying oper-status `want` (counter-only ones are skipped, as
    ONOS's handler skips notifications without oper-status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        notification = next(responses).update
        leaves = {u.path.elem[-1].name: u.val for u in notification.update}
        if "oper-status" in leaves and leaves["oper-status"].string_val == want:
            return notification
    raise AssertionError(f"no oper-status {want}")


def test_12_port_state_subscription(onos: Onos, device: Device) -> None:
    """GnmiDeviceStateSubscriber: one STREAM subscription, updates_only, ON_CHANGE on each
    port's /interfaces/interface[name=N]/state. Its handler expects oper-status and
    last-change in the same notification; the peer of port 2 goes down, then up."""
    sublist = gnmi_pb2.SubscriptionList(mode=gnmi_pb2.SubscriptionList.STREAM,
                                        updates_only=True, encoding=gnmi_pb2.Encoding.PROTO)
    for name, _ in device.links:
        p = sublist.subscription.add(mode=gnmi_pb2.ON_CHANGE).path
        p.elem.add(name="interfaces")
        p.elem.add(name="interface").key["name"] = name
        p.elem.add(name="state")
    requests: queue.Queue = queue.Queue()
    requests.put(gnmi_pb2.SubscribeRequest(subscribe=sublist))
    call = onos.gnmi.Subscribe(iter(requests.get, None))
    responses = iter(call)
    host_end = device.links[1][1]
    try:
        assert next(responses).sync_response  # updates_only: nothing before the sync
        run("ip", "link", "set", host_end, "down", netns=device.ns)
        down = _state_notifications(responses, "DOWN")
        names = {u.path.elem[1].key["name"] for u in down.update
                 if u.path.elem[-1].name in ("oper-status", "last-change")}
        assert names == {device.links[1][0]}
        last_change = [u.val.uint_val for u in down.update if u.path.elem[-1].name == "last-change"]
        assert len(last_change) == 1 and last_change[0] > 0
        run("ip", "link", "set", host_end, "up", netns=device.ns)
        up = _state_notifications(responses, "UP")
        assert any(u.path.elem[-1].name == "last-change" for u in up.update)
    finally:
        run("ip", "link", "set", host_end, "up", netns=device.ns)
        call.cancel()
        requests.put(None)
