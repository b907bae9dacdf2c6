"""The P4Runtime server on a real target.Switch, driven over gRPC with raw stubs: pipeline
config, arbitration, the Write error model, reads, defaults and packet I/O."""

from __future__ import annotations

import queue
import threading

import grpc
import pytest
from google.rpc import status_pb2
from p4runtime_corpus import json_bytes, load_json, load_p4info

from runtime_server.proto import p4runtime_pb2 as pb
from runtime_server.proto import p4runtime_pb2_grpc
from runtime_server.server import P4RuntimeServer

Action = pb.SetForwardingPipelineConfigRequest
BASIC = "tutorial_basic"
LPM_TABLE = 37375156  # MyIngress.ipv4_lpm
FORWARD = 28792405  # MyIngress.ipv4_forward
DROP = 25652968  # MyIngress.drop


class Client:
    """A controller: a StreamChannel for arbitration and stubs for the unary RPCs."""

    def __init__(self, port: int, election_id: int | None, device_id: int = 0) -> None:
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = p4runtime_pb2_grpc.P4RuntimeStub(self.channel)
        self.election_id = election_id
        self.device_id = device_id
        self.requests: queue.Queue = queue.Queue()
        self.responses = self.stub.StreamChannel(iter(self.requests.get, None))
        message = pb.StreamMessageRequest()
        message.arbitration.device_id = device_id
        if election_id is not None:
            message.arbitration.election_id.low = election_id
        self.requests.put(message)

    def next_message(self, timeout: float = 5.0) -> pb.StreamMessageResponse:
        """The next stream message; the stream's error is raised here."""
        result: queue.Queue = queue.Queue()

        def receive() -> None:
            try:
                result.put(next(self.responses))
            except grpc.RpcError as err:
                result.put(err)

        threading.Thread(target=receive, daemon=True).start()
        message = result.get(timeout=timeout)
        if isinstance(message, grpc.RpcError):
            raise message
        return message

    def close(self) -> None:
        self.requests.put(None)
        self.channel.close()

    def _stamp(self, request) -> None:
        request.device_id = self.device_id
        if self.election_id is not None:
            request.election_id.low = self.election_id

    def set_pipeline(self, name: str = BASIC, action: int = Action.VERIFY_AND_COMMIT,
                     device_config: bytes | None = None, cookie: int | None = None,
                     p4info=None) -> None:
        request = pb.SetForwardingPipelineConfigRequest(action=action)
        self._stamp(request)
        request.config.p4info.CopyFrom(p4info if p4info is not None else load_p4info(name))
        request.config.p4_device_config = (
            device_config if device_config is not None
            else json_bytes(name)
        )
        if cookie is not None:
            request.config.cookie.cookie = cookie
        self.stub.SetForwardingPipelineConfig(request)

    def write(self, *updates: pb.Update) -> None:
        request = pb.WriteRequest()
        self._stamp(request)
        request.updates.extend(updates)
        self.stub.Write(request)

    def read(self, *entities: pb.Entity) -> list[pb.Entity]:
        request = pb.ReadRequest(device_id=self.device_id)
        request.entities.extend(entities)
        return [e for response in self.stub.Read(request) for e in response.entities]


def lpm_entry(prefix: bytes, prefix_len: int, port: bytes = b"\x02",
              action_id: int = FORWARD, mac: bytes = b"\x01\x02") -> pb.TableEntry:
    entry = pb.TableEntry(table_id=LPM_TABLE)
    match = entry.match.add(field_id=1)
    match.lpm.value = prefix
    match.lpm.prefix_len = prefix_len
    action = entry.action.action
    action.action_id = action_id
    if action_id == FORWARD:
        action.params.add(param_id=1, value=mac)
        action.params.add(param_id=2, value=port)
    return entry


def update(kind: int, table_entry: pb.TableEntry) -> pb.Update:
    result = pb.Update(type=kind)
    result.entity.table_entry.CopyFrom(table_entry)
    return result


def batch_errors(err: grpc.RpcError) -> list[tuple[int, str]]:
    details = dict(err.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    out = []
    for any_detail in status.details:
        error = pb.Error()
        assert any_detail.Unpack(error)
        out.append((error.canonical_code, error.message))
    return out


@pytest.fixture
def server():
    from target import Switch

    switch = Switch(cpu_port=255)
    running = P4RuntimeServer(switch, device_id=0, address="127.0.0.1:0")
    yield running
    running.stop(grace=0)


@pytest.fixture
def primary(server):
    client = Client(server.port, election_id=10)
    assert client.next_message().arbitration.status.code == 0
    yield client
    client.close()


def test_capabilities(server) -> None:
    client = Client(server.port, 1)
    assert client.stub.Capabilities(pb.CapabilitiesRequest()).p4runtime_api_version
    client.close()


def test_write_before_pipeline_is_failed_precondition(primary) -> None:
    with pytest.raises(grpc.RpcError) as err:
        primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_pipeline_config_round_trip_and_mismatch(primary) -> None:
    primary.set_pipeline(cookie=77)
    get = primary.stub.GetForwardingPipelineConfig
    cookie_only = get(pb.GetForwardingPipelineConfigRequest(device_id=0, response_type=1))
    assert cookie_only.config.cookie.cookie == 77 and not cookie_only.config.p4_device_config
    everything = get(pb.GetForwardingPipelineConfigRequest(device_id=0))
    assert everything.config.p4info == load_p4info(BASIC)
    assert everything.config.p4_device_config == json_bytes(BASIC)
    with pytest.raises(grpc.RpcError) as err:
        primary.set_pipeline(p4info=load_p4info("onos_basic"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        primary.set_pipeline(device_config=b"not a program")
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        primary.set_pipeline(action=Action.RECONCILE_AND_COMMIT)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # The refused configs left the committed one in place.
    assert get(pb.GetForwardingPipelineConfigRequest(device_id=0)).config.cookie.cookie == 77


def test_verify_and_save_then_commit(primary) -> None:
    request = pb.SetForwardingPipelineConfigRequest(device_id=0, action=Action.COMMIT)
    request.election_id.low = 10
    with pytest.raises(grpc.RpcError) as err:
        primary.stub.SetForwardingPipelineConfig(request)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    primary.set_pipeline(action=Action.VERIFY)
    primary.set_pipeline(action=Action.VERIFY_AND_SAVE)
    primary.stub.SetForwardingPipelineConfig(request)
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))


def test_tutorial_wrapper_device_config_is_accepted(primary) -> None:
    raw = json_bytes(BASIC)
    length = len(raw)
    varint = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        varint.append(byte | (0x80 if length else 0))
        if not length:
            break
    wrapper = b"\x08\x01" + b"\x1a" + bytes(varint) + raw  # reassign=1, device_data=3
    primary.set_pipeline(device_config=wrapper)


def test_only_the_primary_writes_and_everyone_reads(server, primary) -> None:
    primary.set_pipeline()
    backup = Client(server.port, election_id=5)
    notice = backup.next_message().arbitration
    assert notice.status.code == grpc.StatusCode.ALREADY_EXISTS.value[0]
    assert notice.election_id.low == 10
    with pytest.raises(grpc.RpcError) as err:
        backup.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as err:
        backup.set_pipeline()
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    primary.write(update(pb.Update.INSERT, lpm_entry(b"\x0a\x00\x00\x00", 8)))
    assert len(backup.read(pb.Entity(table_entry=pb.TableEntry()))) == 1
    # The primary leaves: the backup, the highest id left, takes over (as in PI).
    primary.close()
    assert backup.next_message().arbitration.status.code == grpc.StatusCode.OK.value[0]
    backup.close()


def test_wrong_device_id(server) -> None:
    client = Client(server.port, election_id=1, device_id=3)
    with pytest.raises(grpc.RpcError) as err:
        client.next_message()
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    client.close()


def test_batch_reports_one_error_per_update_and_failures_change_nothing(primary) -> None:
    primary.set_pipeline()
    good = lpm_entry(b"\x0a\x00\x01\x00", 24)
    host_bits = lpm_entry(b"\x0a\x00\x01\x01", 24)
    too_wide = lpm_entry(b"\x0b\x00\x00\x00", 8, port=b"\x02\x00")
    zero_prefix = lpm_entry(b"\x00", 0)
    with pytest.raises(grpc.RpcError) as err:
        primary.write(update(pb.Update.INSERT, good), update(pb.Update.INSERT, host_bits),
                      update(pb.Update.INSERT, too_wide), update(pb.Update.INSERT, good),
                      update(pb.Update.DELETE, lpm_entry(b"\x0c\x00\x00\x00", 8)),
                      update(pb.Update.INSERT, zero_prefix))
    assert err.value.code() == grpc.StatusCode.UNKNOWN
    codes = [code for code, _ in batch_errors(err.value)]
    assert codes == [0, 3, 11, 6, 5, 3]  # OK, INVALID_ARGUMENT, OUT_OF_RANGE, ALREADY_EXISTS...
    entries = primary.read(pb.Entity(table_entry=pb.TableEntry()))
    assert [e.table_entry for e in entries] == [good]


def test_padded_input_reads_back_canonical(primary) -> None:
    primary.set_pipeline()
    padded = lpm_entry(b"\x00\x0a\x00\x00\x00", 8, port=b"\x00\x00\x03",
                       mac=b"\x00\x00\x00\x00\x01\x02")
    primary.write(update(pb.Update.INSERT, padded))
    [entity] = primary.read(pb.Entity(table_entry=pb.TableEntry(table_id=padded.table_id)))
    entry = entity.table_entry
    assert entry.match[0].lpm.value == b"\x0a\x00\x00\x00"
    assert [p.value for p in entry.action.action.params] == [b"\x01\x02", b"\x03"]


def test_modify_delete_and_default_entry(primary) -> None:
    primary.set_pipeline()
    entry = lpm_entry(b"\x0a\x00\x00\x00", 8)
    primary.write(update(pb.Update.INSERT, entry))
    dropped = lpm_entry(b"\x0a\x00\x00\x00", 8, action_id=DROP)
    primary.write(update(pb.Update.MODIFY, dropped))
    [read] = primary.read(pb.Entity(table_entry=pb.TableEntry()))
    assert read.table_entry.action.action.action_id == DROP
    primary.write(update(pb.Update.DELETE, entry))
    assert primary.read(pb.Entity(table_entry=pb.TableEntry())) == []
    default = pb.TableEntry(table_id=entry.table_id, is_default_action=True)
    default.action.CopyFrom(lpm_entry(b"\x00", 1).action)
    primary.write(update(pb.Update.MODIFY, default))
    query = pb.Entity(table_entry=pb.TableEntry(table_id=entry.table_id, is_default_action=True))
    [read] = primary.read(query)
    assert read.table_entry.action.action.action_id == FORWARD
    with pytest.raises(grpc.RpcError) as err:
        primary.write(update(pb.Update.INSERT, default))
    assert batch_errors(err.value)[0][0] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    primary.write(update(pb.Update.MODIFY, pb.TableEntry(table_id=entry.table_id,
                                                          is_default_action=True)))
    [read] = primary.read(query)
    assert read.table_entry.action.action.action_id == DROP  # the program's default again


def atomic_write(primary, atomicity: int, *updates: pb.Update) -> None:
    request = pb.WriteRequest(device_id=0, atomicity=atomicity)
    request.election_id.low = 10
    request.updates.extend(updates)
    primary.stub.Write(request)


@pytest.mark.parametrize("atomicity", [pb.WriteRequest.ROLLBACK_ON_ERROR,
                                       pb.WriteRequest.DATAPLANE_ATOMIC])
def test_atomic_batch_is_all_or_nothing(primary, atomicity: int) -> None:
    primary.set_pipeline()
    first = lpm_entry(b"\x0a\x00\x01\x00", 24)
    second = lpm_entry(b"\x0a\x00\x02\x00", 24)
    primary.write(update(pb.Update.INSERT, first))
    with pytest.raises(grpc.RpcError) as err:   # the MODIFY and the DELETE must be undone
        atomic_write(primary, atomicity, update(pb.Update.INSERT, second),
                     update(pb.Update.MODIFY, lpm_entry(b"\x0a\x00\x01\x00", 24, b"\x07")),
                     update(pb.Update.DELETE, first), update(pb.Update.DELETE, second),
                     update(pb.Update.INSERT, second), update(pb.Update.INSERT, second))
    codes = [code for code, _ in batch_errors(err.value)]
    assert codes == [10, 10, 10, 10, 10, 6]  # ABORTED for the others, ALREADY_EXISTS
    entries = primary.read(pb.Entity(table_entry=pb.TableEntry()))
    assert [e.table_entry for e in entries] == [first]
    atomic_write(primary, atomicity, update(pb.Update.INSERT, second),
                 update(pb.Update.DELETE, first))
    entries = primary.read(pb.Entity(table_entry=pb.TableEntry()))
    assert [e.table_entry for e in entries] == [second]


def test_atomic_batch_refuses_updates_it_cannot_undo(primary) -> None:
    primary.set_pipeline()
    with_metadata = lpm_entry(b"\x0a\x00\x01\x00", 24)
    with_metadata.controller_metadata = 7
    host_bits = lpm_entry(b"\x0a\x00\x01\x01", 24)
    for bad, code in [(with_metadata, grpc.StatusCode.UNIMPLEMENTED.value[0]),
                      (host_bits, grpc.StatusCode.INVALID_ARGUMENT.value[0])]:
        with pytest.raises(grpc.RpcError) as err:
            atomic_write(primary, pb.WriteRequest.ROLLBACK_ON_ERROR,
                         update(pb.Update.INSERT, lpm_entry(b"\x0b\x00\x00\x00", 8)),
                         update(pb.Update.INSERT, bad))
        assert [c for c, _ in batch_errors(err.value)] == [10, code]
    assert primary.read(pb.Entity(table_entry=pb.TableEntry())) == []


def test_metadata_survives_and_plain_modify_resets_it(primary) -> None:
    primary.set_pipeline()
    entry = lpm_entry(b"\x0a\x00\x01\x00", 24)
    entry.controller_metadata = 42
    entry.metadata = b"note"
    primary.write(update(pb.Update.INSERT, entry))
    assert [e.table_entry for e in primary.read(pb.Entity(table_entry=pb.TableEntry()))] == [entry]
    plain = lpm_entry(b"\x0a\x00\x01\x00", 24, b"\x03")
    primary.write(update(pb.Update.MODIFY, plain))
    assert [e.table_entry for e in primary.read(pb.Entity(table_entry=pb.TableEntry()))] == [plain]
    primary.write(update(pb.Update.DELETE, plain))
    assert primary.read(pb.Entity(table_entry=pb.TableEntry())) == []


def test_large_read_is_split_under_four_megabytes(primary) -> None:
    p4info = load_p4info(BASIC)
    p4info.tables[0].size = 65536
    import json

    program = load_json(BASIC)
    program["pipelines"][0]["tables"][0]["max_size"] = 65536
    primary.set_pipeline(p4info=p4info, device_config=json.dumps(program).encode())
    updates = [update(pb.Update.INSERT, lpm_entry(i.to_bytes(3, "big") + b"\x00", 24))
               for i in range(1, 40001)]
    for start in range(0, len(updates), 10000):
        primary.write(*updates[start:start + 10000])
    request = pb.ReadRequest(device_id=0)
    request.entities.add().table_entry.table_id = p4info.tables[0].preamble.id
    responses = list(primary.stub.Read(request))
    assert sum(len(r.entities) for r in responses) == 40000
    assert len(responses) > 1 and max(r.ByteSize() for r in responses) < 4 * 1024 * 1024
