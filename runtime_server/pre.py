"""PacketReplicationEngineEntry: multicast groups and clone sessions onto the target's PRE."""

from __future__ import annotations

from collections.abc import Iterator

from runtime_server.bytestrings import decode_unsigned, encode_unsigned
from runtime_server.errors import P4RuntimeError, StatusCode, call_target
from runtime_server.proto import p4runtime_pb2

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE

PORT_BITS = 32  # SDN port numbers are 32 bits wide
INSTANCE_BITS = 16  # v1model egress_rid


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


def _replicas(entry, what: str) -> list[tuple[int, int]]:
    """(port, instance) pairs; the port from `port` bytes, or the older `egress_port`."""
    pairs = []
    for replica in entry.replicas:
        if replica.backup_replicas:
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, f"{what}: backup replicas")
        if replica.port:
            port = decode_unsigned(replica.port, PORT_BITS, f"{what}: replica port")
        else:
            port = replica.egress_port
        if replica.instance >= 1 << INSTANCE_BITS:
            raise _invalid(f"{what}: instance {replica.instance} exceeds {INSTANCE_BITS} bits")
        pairs.append((port, replica.instance))
    if len(set(pairs)) != len(pairs):
        raise _invalid(f"Duplicate replica in multicast group: {what}: two replicas with the "
                       "same port and instance")
    return pairs


def _canonical(entry):
    """The entry as read back: ports given as bytes are canonical."""
    out = type(entry)()
    out.CopyFrom(entry)
    for replica in out.replicas:
        if replica.port:
            replica.port = encode_unsigned(int.from_bytes(replica.port, "big"))
    return out.SerializeToString()


class ReplicationEngine:
    def __init__(self, switch) -> None:
        self.switch = switch
        self.groups: dict[int, bytes] = {}
        self.sessions: dict[int, bytes] = {}

    def write(self, update_type: int, entry: p4runtime_pb2.PacketReplicationEngineEntry) -> None:
        which = entry.WhichOneof("type")
        if which == "multicast_group_entry":
            self._write_group(update_type, entry.multicast_group_entry)
        elif which == "clone_session_entry":
            self._write_session(update_type, entry.clone_session_entry)
        else:
            raise _invalid("PacketReplicationEngineEntry with nothing set")

    def _check_existence(self, update_type: int, store: dict, key: int, what: str) -> None:
        group = what.startswith("multicast")
        if key == 0:
            pi_text = "0 is not a valid group id" if group else "0 is not a valid session id"
            raise _invalid(f"{pi_text}: {what} id 0 is reserved for wildcard reads")
        if update_type == INSERT and key in store:
            pi_text = "Multicast group already exists: " if group else ""
            raise P4RuntimeError(StatusCode.ALREADY_EXISTS, f"{pi_text}{what} {key} exists")
        if update_type in (MODIFY, DELETE) and key not in store:
            pi_text = "Multicast group does not exist: " if group else ""
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"{pi_text}no {what} {key}")
        if update_type not in (INSERT, MODIFY, DELETE):
            raise _invalid(f"Invalid update type: {update_type}")

    def _write_group(self, update_type: int, group) -> None:
        gid = group.multicast_group_id
        self._check_existence(update_type, self.groups, gid, "multicast group")
        if update_type == DELETE:
            call_target(self.switch.mc_group_delete, gid)
            del self.groups[gid]
            return
        call_target(self.switch.mc_group_set, gid, _replicas(group, f"multicast group {gid}"))
        self.groups[gid] = _canonical(group)

    def _write_session(self, update_type: int, session) -> None:
        sid = session.session_id
        self._check_existence(update_type, self.sessions, sid, "clone session")
        if update_type == DELETE:
            call_target(self.switch.clone_session_delete, sid)
            del self.sessions[sid]
            return
        replicas = _replicas(session, f"clone session {sid}")
        call_target(self.switch.clone_session_set, sid, replicas,
                    class_of_service=session.class_of_service,
                    packet_length_bytes=session.packet_length_bytes)
        self.sessions[sid] = _canonical(session)

    def read(self, request: p4runtime_pb2.PacketReplicationEngineEntry) -> Iterator[bytes]:
        which = request.WhichOneof("type")
        if which == "multicast_group_entry":
            gid = request.multicast_group_entry.multicast_group_id
            items = self.groups.items() if gid == 0 else [(gid, self.groups.get(gid))]
            for _, stored in items:
                if stored is not None:
                    yield p4runtime_pb2.PacketReplicationEngineEntry(
                        multicast_group_entry=p4runtime_pb2.MulticastGroupEntry.FromString(stored)
                    ).SerializeToString()
        elif which == "clone_session_entry":
            sid = request.clone_session_entry.session_id
            items = self.sessions.items() if sid == 0 else [(sid, self.sessions.get(sid))]
            for _, stored in items:
                if stored is not None:
                    yield p4runtime_pb2.PacketReplicationEngineEntry(
                        clone_session_entry=p4runtime_pb2.CloneSessionEntry.FromString(stored)
                    ).SerializeToString()
        else:
            raise _invalid("PacketReplicationEngineEntry read with nothing set")
