"""The p4.v1.P4Runtime gRPC service over one target.Switch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from runtime_server.arbitration import Arbitrator, Controller
from runtime_server.digests import DigestEngine, DigestListOut
from runtime_server.errors import (
    BatchFailure,
    P4RuntimeError,
    StatusCode,
    batch_status,
    code_number,
)
from runtime_server.fast_write import apply_atomic, apply_continue, plan_updates, refused_whole
from runtime_server.p4info_index import Kind
from runtime_server.pipeline import (
    Pipeline,
    VerifiedConfig,
    frame_read_responses,
    varint,
    verify_config,
)
from runtime_server.proto import p4runtime_pb2
from runtime_server.roles import (
    RolePolicy,
    check_exclusive,
    entity_p4_id,
    parse_role_config,
    set_entity_p4_id,
)
from runtime_server.streams import Stream
from runtime_server.write_decoder import split_write_request

log = logging.getLogger("kvick.p4runtime")

API_VERSION = "1.4.0"
READ_RESPONSE_BYTES = 1 << 20  # well under a default client's 4 MB message limit
TIMER_INTERVAL_S = 0.01
IDLE_POLL_INTERVAL_NS = 50_000_000  # how late an idle timeout may be reported, at most

Action = p4runtime_pb2.SetForwardingPipelineConfigRequest
ResponseType = p4runtime_pb2.GetForwardingPipelineConfigRequest


def _return_free_memory() -> None:
    """Give the heap's free pages back to the system: a whole-table read allocates and frees
    tens of MB at once, which glibc would otherwise keep mapped."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


def _framed_update(update) -> bytes:
    body = update.SerializeToString()
    return b"\x22" + varint(len(body)) + body


def _with_updates(request, updates: bytes) -> bytes:
    """The request re-serialized in the field subset the wire reader knows (unknown fields
    dropped, as protobuf itself ignores them)."""
    head = p4runtime_pb2.WriteRequest(device_id=request.device_id, role=request.role,
                                      atomicity=request.atomicity)
    if request.HasField("election_id"):
        head.election_id.CopyFrom(request.election_id)
    return head.SerializeToString() + updates


def _batch_failure(errors: list[P4RuntimeError | None], message: str) -> BatchFailure:
    failed = [(i, e) for i, e in enumerate(errors) if e is not None]
    index, first = failed[0]
    return BatchFailure(batch_status(errors, message),
                        f"{len(failed)} of {len(errors)} failed; first, at index {index}: "
                        f"{first}")


_READ_KINDS = {
    "table_entry": (Kind.TABLE,), "action_profile_member": (Kind.ACTION_PROFILE,),
    "action_profile_group": (Kind.ACTION_PROFILE,), "counter_entry": (Kind.COUNTER,),
    "meter_entry": (Kind.METER,), "register_entry": (Kind.REGISTER,),
    "value_set_entry": (Kind.VALUE_SET,), "digest_entry": (Kind.DIGEST,),
    "direct_counter_entry": (Kind.TABLE,), "direct_meter_entry": (Kind.TABLE,),
}


def _readable_as(which: str, p4_id: int, index) -> bool:
    """Whether a wildcard read of `which` covers the entity `p4_id`."""
    if index.kind_of(p4_id) not in _READ_KINDS.get(which, ()):
        return False
    if which == "direct_counter_entry":
        return bool(index.tables[p4_id].direct_counter_id)
    if which == "direct_meter_entry":
        return bool(index.tables[p4_id].direct_meter_id)
    return True


def election_id_of(message) -> int | None:
    if not message.HasField("election_id"):
        return None
    return message.election_id.high << 64 | message.election_id.low


class P4RuntimeService:
    """What each RPC does, in plain blocking calls that raise P4RuntimeError; rpc.py runs
    them for gRPC (on the event loop or in its worker threads)."""

    def __init__(self, switch, device_id: int, scratch_switch_factory,
                 on_commit=None, unset_election_id: str = "zero") -> None:
        self.switch = switch
        self.on_commit = on_commit  # called after each pipeline commit (the CLI starts the loop)
        self.device_id = device_id
        self.new_scratch_switch = scratch_switch_factory
        self.arbitrator = Arbitrator({device_id}, unset_election_id)
        self.digests = DigestEngine(self._send_digest_list)
        self.pipeline: Pipeline | None = None
        self.saved: VerifiedConfig | None = None  # what COMMIT commits (VERIFY_AND_SAVE)
        self.running: VerifiedConfig | None = None  # what GetForwardingPipelineConfig returns
        self.write_lock = threading.Lock()
        self.streams: dict[Controller, Stream] = {}
        self._policies: dict[str, tuple[bytes | None, RolePolicy | None]] = {}
        self.streams_lock = threading.Lock()
        switch.on_packet_in(self._on_packet_in)
        switch.on_digest(self._on_digest)
        self._stop = threading.Event()
        self._timer = threading.Thread(target=self._timer_loop, name="kvick-p4rt-timer",
                                       daemon=True)
        self._timer.start()

    def preload(self, program_json: bytes, p4info_text: str) -> None:
        """Adopt the program the switch was started with (kvick PROGRAM --p4info PATH), as if
        a controller had set it: Writes work without a SetForwardingPipelineConfig first."""
        from google.protobuf import text_format

        config = p4runtime_pb2.ForwardingPipelineConfig(p4_device_config=program_json)
        text_format.Parse(p4info_text, config.p4info)
        with self.write_lock:
            verified = verify_config(config, self.new_scratch_switch())
            self.saved = self.running = verified
            self.pipeline = Pipeline(self.switch, verified, self.digests)

    def close(self) -> None:
        self._stop.set()
        self._timer.join()

    # ---- common checks ----------------------------------------------------------------------

    def _check_device(self, device_id: int) -> None:
        if device_id != self.device_id:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown device id {device_id}")

    def _check_primary(self, request, client: str) -> None:
        self._check_primary_of(request.device_id, request.role, election_id_of(request), client)

    def _check_primary_of(self, device_id: int, role: str, election_id: int | None,
                          client: str) -> None:
        """The spec identifies a writer by (device_id, role, election_id) alone; a backup is
        told the primary's election id, so the request must also come from the primary's
        client (its host, or its certificate with mutual TLS)."""
        self._check_device(device_id)
        if not self.arbitrator.known_role(device_id, role):
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown role {role!r}")
        if not self.arbitrator.is_primary(device_id, role, election_id):
            raise P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                 "not the primary controller for this device and role")
        primary = self.arbitrator.primary(device_id, role)
        if primary is not None and primary.client != client:
            raise P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                 f"the primary's election id, but not from the primary's "
                                 f"client ({client}, not {primary.client})")

    def _policy(self, role: str) -> RolePolicy | None:
        """The role's policy from its primary's role config; None is full access."""
        if not role:
            return None
        config = self.arbitrator.role_config(self.device_id, role)
        cached = self._policies.get(role)
        if cached is not None and cached[0] == config:
            return cached[1]
        policy = parse_role_config(config)  # checked when the primary sent it
        self._policies[role] = (config, policy)
        return policy

    @staticmethod
    def _check_role_writes(role: str, policy: RolePolicy, data: bytes, spans) -> None:
        """PERMISSION_DENIED, before anything is applied, for a request with an update on an
        entity outside the role's config."""
        for i in range(0, len(spans), 2):
            try:
                update = p4runtime_pb2.Update.FromString(data[spans[i]:spans[i + 1]])
            except Exception:
                continue  # a malformed update gets its own error when applied
            p4_id = entity_p4_id(update.entity)
            if p4_id is None or p4_id not in policy.ids:
                what = update.entity.WhichOneof("entity")
                raise P4RuntimeError(
                    StatusCode.PERMISSION_DENIED,
                    f"update {i // 2}: {what} {p4_id if p4_id else ''} is outside role "
                    f"{role!r}'s config".replace("  ", " "))

    # ---- Capabilities -----------------------------------------------------------------------

    def capabilities(self, request) -> p4runtime_pb2.CapabilitiesResponse:
        return p4runtime_pb2.CapabilitiesResponse(p4runtime_api_version=API_VERSION)

    # ---- pipeline config --------------------------------------------------------------------

    def set_pipeline_config(self, request, client: str = ""
                            ) -> p4runtime_pb2.SetForwardingPipelineConfigResponse:
        self._check_primary(request, client)
        policy = self._policy(request.role)
        if policy is not None and not policy.can_push_pipeline:
            raise P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                 f"role {request.role!r} may not push a pipeline")
        # Verifying builds the program on a scratch switch: it touches nothing live, so it
        # runs before the write lock, and Writes and Reads go on meanwhile.
        verified = self._verified(request)
        if request.action == Action.VERIFY:
            return p4runtime_pb2.SetForwardingPipelineConfigResponse()
        with self.write_lock:
            action = request.action
            if action == Action.COMMIT:
                if self.saved is None:
                    raise P4RuntimeError(StatusCode.NOT_FOUND, "no saved config to commit")
                self._commit(self.saved)
            elif action == Action.VERIFY_AND_SAVE:
                self.saved = verified
            elif action == Action.VERIFY_AND_COMMIT:
                self._commit(verified)
        return p4runtime_pb2.SetForwardingPipelineConfigResponse()

    def _verified(self, request) -> VerifiedConfig | None:
        """The request's config, verified (None for COMMIT, which takes none)."""
        action = request.action
        if action == Action.COMMIT:
            if request.HasField("config"):
                raise P4RuntimeError(StatusCode.INVALID_ARGUMENT, "COMMIT takes no config")
            return None
        if action == Action.RECONCILE_AND_COMMIT:
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED,
                                 "RECONCILE_AND_COMMIT: kvick cannot keep the forwarding state "
                                 "across a program change")
        if action not in (Action.VERIFY, Action.VERIFY_AND_SAVE, Action.VERIFY_AND_COMMIT):
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT, f"unknown action {action}")
        if not request.HasField("config"):
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT, "no config given")
        return verify_config(request.config, self.new_scratch_switch())

    def _commit(self, verified: VerifiedConfig) -> None:
        """Swap the verified program in; on failure the running one, its entries and its
        config stay as they were."""
        self.pipeline = Pipeline.commit(self.switch, verified, self.digests, self.pipeline)
        self.saved = self.running = verified
        if self.on_commit is not None:
            self.on_commit()

    def get_pipeline_config(self, request) -> p4runtime_pb2.GetForwardingPipelineConfigResponse:
        self._check_device(request.device_id)
        if request.response_type not in ResponseType.ResponseType.values():
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                                 f"Invalid response_type in GetForwardingPipelineConfigRequest: "
                                 f"{request.response_type}")
        response = p4runtime_pb2.GetForwardingPipelineConfigResponse()
        current = self.running
        if current is None:
            return response
        stored = current.config
        kind = request.response_type
        config = response.config
        if stored.HasField("cookie"):
            config.cookie.CopyFrom(stored.cookie)
        if kind in (ResponseType.ALL, ResponseType.P4INFO_AND_COOKIE):
            config.p4info.CopyFrom(stored.p4info)
        if kind in (ResponseType.ALL, ResponseType.DEVICE_CONFIG_AND_COOKIE):
            config.p4_device_config = stored.p4_device_config
        return response

    # ---- Write / Read -----------------------------------------------------------------------

    def write(self, data: bytes, wait: bool = True, client: str = "") -> bool:
        """Write, from the serialized request: plain table updates are decoded in C
        (fast_write), everything else through protobuf, in request order.

        With wait=False nothing is applied and False is returned when another call holds the
        write lock (the event loop then hands the request to a worker thread)."""
        head = split_write_request(data)
        if head is None:  # fields the wire reader does not know: protobuf decides
            try:
                request = p4runtime_pb2.WriteRequest.FromString(data)
            except Exception as err:
                raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                                     f"malformed WriteRequest: {err}") from None
            data = _with_updates(request, b"".join(_framed_update(u) for u in request.updates))
            head = split_write_request(data)
        device_id, election_id, role, atomicity, spans = head
        self._check_primary_of(device_id, role, election_id, client)
        if self.pipeline is None:
            raise P4RuntimeError(StatusCode.FAILED_PRECONDITION, "no pipeline config set")
        policy = self._policy(role)
        if policy is not None:
            self._check_role_writes(role, policy, data, spans)
        if atomicity not in (p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR,
                             p4runtime_pb2.WriteRequest.ROLLBACK_ON_ERROR,
                             p4runtime_pb2.WriteRequest.DATAPLANE_ATOMIC):
            raise P4RuntimeError(StatusCode.INVALID_ARGUMENT, f"atomicity {atomicity}")
        errors: list[P4RuntimeError | None] = [None] * (len(spans) // 2)
        pipeline, plan = None, []
        atomic = atomicity != p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR
        if wait:  # decoded, parsed and checked before the lock, which only guards the tables
            pipeline = self.pipeline
            plan = plan_updates(pipeline, data, spans)
            if refused_whole(plan, atomic):  # nothing to apply: answered without the lock
                (apply_atomic if atomic else apply_continue)(pipeline, plan, errors)
                raise _batch_failure(errors, "Write failure.")
            self.write_lock.acquire()
        elif not self.write_lock.acquire(blocking=False):  # small: planned under the lock
            return False
        try:
            if self.pipeline is not pipeline:  # not planned yet, or a new program meanwhile
                pipeline = self.pipeline
                plan = plan_updates(pipeline, data, spans)
            if atomicity == p4runtime_pb2.WriteRequest.CONTINUE_ON_ERROR:
                apply_continue(pipeline, plan, errors)
            else:
                apply_atomic(pipeline, plan, errors)
        finally:
            self.write_lock.release()
        if any(errors):
            raise _batch_failure(errors, "Write failure.")
        return True

    def read(self, request) -> Iterator[bytes]:
        """Serialized ReadResponses; a BatchFailure after them when some entity failed."""
        self._check_device(request.device_id)
        if self.pipeline is None:
            raise P4RuntimeError(StatusCode.FAILED_PRECONDITION, "no pipeline config set")
        policy = self._policy(request.role)
        if policy is not None:
            request = self._role_read(request, policy)
        return self._read(request)

    def _role_read(self, request, policy: RolePolicy):
        """The request narrowed to the role's entities: a wildcard over a kind becomes one
        read per listed entity of that kind; anything else outside the role is refused."""
        index = self.pipeline.index
        narrowed = p4runtime_pb2.ReadRequest(device_id=request.device_id, role=request.role)
        for entity in request.entities:
            which = entity.WhichOneof("entity")
            p4_id = entity_p4_id(entity)
            if p4_id is None:
                raise P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                     f"reading {which} is outside role {request.role!r}'s config")
            if p4_id:
                if p4_id not in policy.ids:
                    raise P4RuntimeError(StatusCode.PERMISSION_DENIED,
                                         f"{which} {p4_id} is outside role "
                                         f"{request.role!r}'s config")
                narrowed.entities.add().CopyFrom(entity)
                continue
            for allowed in sorted(policy.ids):
                if _readable_as(which, allowed, index):
                    copy = narrowed.entities.add()
                    copy.CopyFrom(entity)
                    set_entity_p4_id(copy, allowed)
        return narrowed

    def _read(self, request) -> Iterator[bytes]:
        # Each Read sees the state between two Writes: the entities are gathered under the
        # write lock, then streamed without it.
        errors: list[P4RuntimeError | None] = []
        gathered: list[bytes] = []
        with self.write_lock:
            pipeline = self.pipeline
            for entity in request.entities:
                try:
                    gathered.extend(pipeline.read(entity))
                    errors.append(None)
                except P4RuntimeError as err:
                    errors.append(err)
        yield from frame_read_responses(iter(gathered), READ_RESPONSE_BYTES)
        del gathered
        _return_free_memory()
        if any(errors):
            raise _batch_failure(errors, "Read failure.")

    # ---- StreamChannel ----------------------------------------------------------------------

    def on_stream_request(self, stream: Stream, request) -> None:
        """One message from a StreamChannel; raises the error that ends the stream."""
        which = request.WhichOneof("update")
        if which == "arbitration":
            update = request.arbitration
            role_config = update.role.config.SerializeToString() \
                if update.role.HasField("config") else None
            policy = parse_role_config(role_config)  # INVALID_ARGUMENT ends the stream
            check_exclusive(update.role.name, policy, {
                c.role: self._policy(c.role) for c in self.arbitrator.primaries(self.device_id)})
            previous = stream.controller
            controller, notices = self.arbitrator.update(
                previous, update.device_id, update.role.name, election_id_of(update), role_config,
                stream.client)
            if previous is None:
                stream.controller = controller
                with self.streams_lock:
                    self.streams[controller] = stream
            self._send_notices(notices)
            return
        if stream.controller is None:
            raise P4RuntimeError(StatusCode.FAILED_PRECONDITION,
                                 "the first stream message must be an arbitration update")
        if which == "packet":
            self._packet_out(stream, request.packet)
        elif which == "digest_ack":
            self.digests.ack(request.digest_ack.digest_id, request.digest_ack.list_id)
        else:
            self._stream_error(stream, StatusCode.UNIMPLEMENTED, f"stream message {which}")

    def forget(self, stream: Stream) -> None:
        """A StreamChannel ended: its controller leaves the arbitration."""
        if stream.controller is None:
            return
        with self.streams_lock:
            self.streams.pop(stream.controller, None)
        self._send_notices(self.arbitrator.disconnect(stream.controller))

    def _send_notices(self, notices) -> None:
        for notice in notices:
            with self.streams_lock:
                target = self.streams.get(notice.controller)
            if target is None:
                continue
            message = p4runtime_pb2.StreamMessageResponse()
            update = message.arbitration
            update.device_id = notice.controller.device_id
            if notice.controller.role:
                update.role.name = notice.controller.role
            if notice.role_config is not None:
                update.role.config.ParseFromString(notice.role_config)
            if notice.election_id is not None:
                update.election_id.high = notice.election_id >> 64
                update.election_id.low = notice.election_id & ((1 << 64) - 1)
            update.status.code = code_number(notice.code)
            target.send(message)

    def _stream_error(self, stream: Stream, code: StatusCode, message: str, packet=None) -> None:
        what = "packet-out" if packet is not None else "stream message"
        log.info("refused %s on StreamChannel from %s: %s: %s", what, stream.peer, code.name,
                 message)
        response = p4runtime_pb2.StreamMessageResponse()
        response.error.canonical_code = code_number(code)
        response.error.message = message
        if packet is not None:
            response.error.packet_out.packet_out.CopyFrom(packet)
        stream.send(response)

    # ---- packet I/O, digests ----------------------------------------------------------------

    def _packet_out(self, stream: Stream, packet) -> None:
        controller = stream.controller
        if self.arbitrator.primary(controller.device_id, controller.role) is not controller:
            self._stream_error(stream, StatusCode.PERMISSION_DENIED,
                               "only the primary controller may send packets", packet)
            return
        pipeline = self.pipeline
        if pipeline is None:
            self._stream_error(stream, StatusCode.FAILED_PRECONDITION, "no pipeline", packet)
            return
        try:
            header = b""
            if pipeline.packet_out is not None:
                header = pipeline.packet_out.pack({m.metadata_id: m.value for m in packet.metadata})
            elif packet.metadata:
                raise P4RuntimeError(StatusCode.INVALID_ARGUMENT,
                                     "the program has no packet_out header")
            self.switch.packet_out(header + packet.payload)
        except P4RuntimeError as err:
            self._stream_error(stream, err.code, err.message, packet)
        except Exception as err:  # the target refused the frame (no CPU port, ...)
            self._stream_error(stream, StatusCode.FAILED_PRECONDITION, str(err), packet)

    def _primary_streams(self) -> list[tuple[Stream, RolePolicy | None]]:
        """The stream and policy of every role's primary."""
        out = []
        for controller in self.arbitrator.primaries(self.device_id):
            with self.streams_lock:
                stream = self.streams.get(controller)
            if stream is not None:
                out.append((stream, self._policy(controller.role)))
        return out

    def _on_packet_in(self, frame: bytes) -> None:
        """To the primary of every role with full access, and of every role whose config asks
        for packet-ins (and whose filter the packet passes)."""
        pipeline = self.pipeline
        targets = self._primary_streams()
        if not targets or pipeline is None:
            return
        message = p4runtime_pb2.StreamMessageResponse()
        packet = message.packet
        metadata: list[tuple[int, bytes]] = []
        if pipeline.packet_in is not None:
            try:
                metadata, payload = pipeline.packet_in.unpack(frame)
            except ValueError:
                log.warning("packet-in shorter than the packet_in header: dropped")
                return
            for metadata_id, value in metadata:
                packet.metadata.add(metadata_id=metadata_id, value=value)
            packet.payload = payload
        else:
            packet.payload = frame
        for stream, policy in targets:
            if policy is None or policy.accepts_packet_in(dict(metadata)):
                stream.send(message)

    def _on_digest(self, name: str, messages: list[tuple[int, ...]]) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        digest_id = pipeline.digest_ids.get(name)
        if digest_id is not None:
            self.digests.receive(digest_id, messages, time.monotonic_ns())

    def _owner_streams(self, p4_id: int) -> list[Stream]:
        """The primaries' streams of the roles that own the entity `p4_id`: every role with
        full access (the default role, a role without a config) and every role whose config
        lists it. Digests and idle-timeout notifications go to them, as packet-ins do."""
        return [stream for stream, policy in self._primary_streams()
                if policy is None or p4_id in policy.ids]

    def _send_digest_list(self, digest_list: DigestListOut) -> None:
        streams = self._owner_streams(digest_list.digest_id)
        pipeline = self.pipeline
        if not streams or pipeline is None:
            return
        digest = pipeline.index.get_digest(digest_list.digest_id)
        message = p4runtime_pb2.StreamMessageResponse()
        out = message.digest
        out.digest_id = digest_list.digest_id
        out.list_id = digest_list.list_id
        out.timestamp = time.time_ns()
        for data in digest_list.messages:
            out.data.add().CopyFrom(pipeline.index.digest_data(digest, data))
        for stream in streams:
            stream.send(message)

    def _timer_loop(self) -> None:
        next_idle_poll = 0
        while not self._stop.wait(TIMER_INTERVAL_S):
            now = time.monotonic_ns()
            try:
                self.digests.poll(now)
            except Exception:  # keep the timer alive whatever one poll did
                log.exception("digest timer failed")
            if now >= next_idle_poll:
                next_idle_poll = now + IDLE_POLL_INTERVAL_NS
                try:
                    self._notify_idle(now)
                except Exception:
                    log.exception("idle timeout poll failed")

    def _notify_idle(self, now_ns: int) -> None:
        """One IdleTimeoutNotification to each primary whose role owns tables with entries
        whose idle timer ran out since the last poll (see _owner_streams)."""
        from runtime_server.idle_timeouts import newly_idle

        if not self._primary_streams():  # nobody to tell: the entries stay unreported
            return
        with self.write_lock:
            pipeline = self.pipeline
            if pipeline is None:
                return
            idle = newly_idle(pipeline.tables, self.switch, now_ns)
            entries = [pipeline.tables.entry_bytes(state, handle) for state, handle in idle]
        if not entries:
            return
        by_table: dict[int, list[p4runtime_pb2.TableEntry]] = {}
        for data in entries:
            entry = p4runtime_pb2.TableEntry.FromString(data)
            by_table.setdefault(entry.table_id, []).append(entry)
        timestamp = time.time_ns()
        for stream, policy in self._primary_streams():
            owned = [entry for table_id, table_entries in by_table.items()
                     if policy is None or table_id in policy.ids for entry in table_entries]
            if not owned:
                continue
            message = p4runtime_pb2.StreamMessageResponse()
            notification = message.idle_timeout_notification
            notification.timestamp = timestamp
            notification.table_entry.extend(owned)
            stream.send(message)
