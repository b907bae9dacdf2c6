"""gNMI conformance: kvick (a subprocess) with two veth ports, driven by a gNMI client.

Every path of the OpenConfig interfaces the server promises, in PROTO, JSON and JSON_IETF;
Set of config/enabled stopping a port; Subscribe ONCE, POLL and STREAM (ON_CHANGE on
oper-status while the veth peer goes down in its namespace, SAMPLE of counters that move with
real traffic). Needs root (namespaces), as CI has.
"""

from __future__ import annotations

import json
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

from runtime_server.gnmi_proto import gnmi_pb2, gnmi_pb2_grpc
from tests.netns import TestBed, receive, run

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "tests" / "p4" / "port_pair.p4"
E = gnmi_pb2.Encoding

STATE_LEAVES = {"name", "ifindex", "id", "oper-status", "admin-status", "last-change", "enabled",
                "type"}
COUNTERS = {"in-octets", "out-octets", "in-unicast-pkts", "in-broadcast-pkts",
            "in-multicast-pkts", "out-unicast-pkts", "out-broadcast-pkts",
            "out-multicast-pkts", "in-discards", "out-discards", "in-errors", "out-errors",
            "in-fcs-errors"}


def path(text: str) -> gnmi_pb2.Path:
    """/a/b[k=v]/c as a gnmi.Path (values without '/' or ']')."""
    out = gnmi_pb2.Path()
    for part in text.strip("/").split("/"):
        name, _, keys = part.partition("[")
        e = out.elem.add(name=name)
        for kv in filter(None, keys.rstrip("]").split("][")):
            k, _, v = kv.partition("=")
            e.key[k] = v
    return out


def text_of(p: gnmi_pb2.Path) -> str:
    return "/" + "/".join(e.name + "".join(f"[{k}={v}]" for k, v in sorted(e.key.items()))
                          for e in p.elem)


class Kvick:
    """kvick with ports 1 and 2 on veth pairs whose peers are in namespaces."""

    def __init__(self, bed: TestBed, driver: str) -> None:
        self.ns1, self.ns2 = bed.namespace(), bed.namespace()
        self.sw1, self.host1 = bed.veth(self.ns1)
        self.sw2, self.host2 = bed.veth(self.ns2)
        prefix = "" if driver == "af_packet" else f"{driver}:"
        self.names = {1: prefix + self.sw1, 2: prefix + self.sw2}
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.grpc_port = sock.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "target.cli", "run", str(PROGRAM),
             "-i", f"1@{self.names[1]}", "-i", f"2@{self.names[2]}",
             "--grpc-server-addr", f"127.0.0.1:{self.grpc_port}"],
            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        lines = []
        for line in self.process.stdout:
            lines.append(line)
            if "listening" in line:
                break
        else:
            raise AssertionError("kvick did not start:\n" + "".join(lines))
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.stub = gnmi_pb2_grpc.gNMIStub(self.channel)

    def close(self) -> None:
        self.channel.close()
        self.process.terminate()
        assert self.process.wait(timeout=20) == 0

    def get(self, *paths: str, encoding: int = E.PROTO, **kw) -> list[gnmi_pb2.Update]:
        reply = self.stub.Get(gnmi_pb2.GetRequest(path=[path(p) for p in paths],
                                                  encoding=encoding, **kw), timeout=10)
        return [u for n in reply.notification for u in n.update]

    def leaf(self, text: str):  # noqa: ANN201
        (update,) = self.get(text)
        kind = update.val.WhichOneof("value")
        return getattr(update.val, kind)

    def counters(self, name: str) -> dict[str, int]:
        updates = self.get(f"/interfaces/interface[name={name}]/state/counters")
        return {u.path.elem[-1].name: u.val.uint_val for u in updates}

    def set_enabled(self, name: str, enabled: bool) -> gnmi_pb2.SetResponse:
        request = gnmi_pb2.SetRequest(update=[gnmi_pb2.Update(
            path=path(f"/interfaces/interface[name={name}]/config/enabled"),
            val=gnmi_pb2.TypedValue(bool_val=enabled))])
        return self.stub.Set(request, timeout=10)


@pytest.fixture(scope="module", params=["af_packet", "xdp"])
def switch(request) -> Iterator[Kvick]:  # noqa: ANN001
    with TestBed() as bed:
        kvick = Kvick(bed, request.param)
        try:
            yield kvick
        finally:
            kvick.close()


def frame(dst: str, src: str = "02:00:00:00:00:01", size: int = 60) -> bytes:
    return (bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", ""))
            + b"\x88\xb5" + bytes(size - 14))


def send_and_see(bed_switch: Kvick, frames: list[bytes], expect_on_2: int) -> list[bytes]:
    """Send frames into port 1 (from host1) and collect what host2 sees."""
    with TestBed() as scratch:
        with scratch.raw_socket(bed_switch.ns2, bed_switch.host2) as rx, \
                scratch.raw_socket(bed_switch.ns1, bed_switch.host1) as tx:
            for f in frames:
                tx.send(f)
            return receive(rx, 3.0, max(expect_on_2, 1),
                           accept=lambda f: f[12:14] == b"\x88\xb5")


# ---------------------------------------------------------------------- Capabilities, Get
def test_capabilities(switch: Kvick) -> None:
    reply = switch.stub.Capabilities(gnmi_pb2.CapabilityRequest(), timeout=10)
    assert set(reply.supported_encodings) >= {E.PROTO, E.JSON_IETF, E.JSON}
    assert {m.name for m in reply.supported_models} >= {"openconfig-interfaces",
                                                         "openconfig-if-ethernet"}
    assert reply.gNMI_version == "0.10.0"


def test_get_ifindex_of_every_port_as_finsy_asks(switch: Kvick) -> None:
    updates = switch.get("/interfaces/interface[name=*]/state/ifindex")
    found = {u.path.elem[1].key["name"]: u.val.uint_val for u in updates}
    assert found == {switch.names[1]: 1, switch.names[2]: 2}
    assert all(u.path.elem[-1].name == "ifindex" for u in updates)


def test_get_state_proto_has_every_leaf(switch: Kvick) -> None:
    name = switch.names[1]
    updates = switch.get(f"/interfaces/interface[name={name}]/state")
    leaves = {text_of(u.path).split("/state/", 1)[1]: u.val for u in updates}
    assert STATE_LEAVES <= set(leaves)
    assert {f"counters/{c}" for c in COUNTERS} <= set(leaves)
    assert leaves["ifindex"].uint_val == 1 and leaves["id"].uint_val == 1
    assert leaves["name"].string_val == name
    assert leaves["oper-status"].string_val == "UP"
    assert leaves["admin-status"].string_val == "UP"
    assert leaves["last-change"].uint_val > 0
    assert all(leaves[f"counters/{c}"].WhichOneof("value") == "uint_val" for c in COUNTERS)


def test_get_port_speed_from_the_kernel(switch: Kvick) -> None:
    # veth reports 10000 Mb/s
    speed = switch.leaf(f"/interfaces/interface[name={switch.names[2]}]/ethernet/config/"
                        "port-speed")
    assert speed == "SPEED_10GB"


def test_get_json_ietf_and_json(switch: Kvick) -> None:
    name = switch.names[2]
    (update,) = switch.get(f"/interfaces/interface[name={name}]/state", encoding=E.JSON_IETF)
    assert text_of(update.path) == f"/interfaces/interface[name={name}]/state"
    state = json.loads(update.val.json_ietf_val)
    assert state["openconfig-interfaces:ifindex"] == 2
    assert state["openconfig-interfaces:oper-status"] == "UP"
    counters = state["openconfig-interfaces:counters"]
    assert set(counters) >= COUNTERS
    assert all(isinstance(v, str) and v.isdigit() for v in counters.values())  # RFC 7951
    # Wildcards are resolved in the update's path: one update per interface.
    updates = switch.get("/interfaces/interface[name=*]/ethernet/config", encoding=E.JSON_IETF)
    assert {u.path.elem[1].key["name"] for u in updates} == set(switch.names.values())
    assert json.loads(updates[0].val.json_ietf_val) == {
        "openconfig-if-ethernet:port-speed": "openconfig-if-ethernet:SPEED_10GB"}
    # A leaf is a scalar TypedValue in every encoding (the specification's scalar values).
    (update,) = switch.get(f"/interfaces/interface[name={name}]/state/ifindex",
                           encoding=E.JSON)
    assert update.val.uint_val == 2
    (update,) = switch.get(f"/interfaces/interface[name={name}]/state/oper-status",
                           encoding=E.JSON_IETF)
    assert update.val.string_val == "UP"
    (update,) = switch.get(f"/interfaces/interface[name={name}]", encoding=E.JSON)
    tree = json.loads(update.val.json_val)
    assert tree["config"]["enabled"] is True and tree["state"]["ifindex"] == 2
    assert tree["ethernet"]["config"]["port-speed"] == "SPEED_10GB"


def test_get_root_json_ietf_is_the_whole_tree(switch: Kvick) -> None:
    reply = switch.stub.Get(gnmi_pb2.GetRequest(encoding=E.JSON_IETF), timeout=10)
    ((update,),) = [n.update for n in reply.notification]
    assert text_of(update.path) == "/"
    tree = json.loads(update.val.json_ietf_val)
    entries = tree["openconfig-interfaces:interfaces"]["interface"]
    assert {e["name"]: e["state"]["ifindex"] for e in entries} == {
        switch.names[1]: 1, switch.names[2]: 2}
    assert entries[0]["config"]["openconfig-p4rt:id"] == entries[0]["state"]["ifindex"]


def test_get_with_prefix_answers_relative_paths(switch: Kvick) -> None:
    request = gnmi_pb2.GetRequest(prefix=path(f"/interfaces/interface[name={switch.names[1]}]"),
                                  path=[path("state/ifindex")], encoding=E.PROTO)
    reply = switch.stub.Get(request, timeout=10)
    (notification,) = reply.notification
    assert text_of(notification.prefix) == f"/interfaces/interface[name={switch.names[1]}]"
    (update,) = notification.update
    assert text_of(update.path) == "/state/ifindex" and update.val.uint_val == 1


def test_get_refusals(switch: Kvick) -> None:
    with pytest.raises(grpc.RpcError) as err:
        switch.get("/interfaces/interface[name=nosuch]/state")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        switch.get("/system/state", encoding=E.PROTO)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        switch.get("/interfaces", encoding=E.ASCII)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


# ---------------------------------------------------------------------- counters
def test_counters_are_the_ports_real_counters(switch: Kvick) -> None:
    name1, name2 = switch.names[1], switch.names[2]
    before1, before2 = switch.counters(name1), switch.counters(name2)
    frames = ([frame("02:00:00:00:00:02")] * 3 + [frame("ff:ff:ff:ff:ff:ff")] * 2
              + [frame("01:00:5e:00:00:01", size=100)])
    seen = send_and_see(switch, frames, len(frames))
    assert len(seen) == len(frames)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after1, after2 = switch.counters(name1), switch.counters(name2)
        if after2["out-octets"] - before2["out-octets"] >= 5 * 60 + 100:
            break
        time.sleep(0.1)
    d1 = {k: after1[k] - before1[k] for k in after1}
    d2 = {k: after2[k] - before2[k] for k in after2}
    assert d1["in-unicast-pkts"] == 3 and d1["in-broadcast-pkts"] == 2
    assert d1["in-multicast-pkts"] == 1
    assert d1["in-octets"] == 5 * 60 + 100
    assert d2["out-unicast-pkts"] == 3 and d2["out-broadcast-pkts"] == 2
    assert d2["out-multicast-pkts"] == 1
    assert d2["out-octets"] == 5 * 60 + 100


# ---------------------------------------------------------------------- Set
def test_set_enabled_false_stops_the_port(switch: Kvick) -> None:
    name2 = switch.names[2]
    before = switch.counters(name2)
    reply = switch.set_enabled(name2, False)
    assert reply.response[0].op == gnmi_pb2.UpdateResult.UPDATE
    try:
        assert switch.leaf(f"/interfaces/interface[name={name2}]/state/admin-status") == "DOWN"
        assert switch.leaf(f"/interfaces/interface[name={name2}]/state/oper-status") == "DOWN"
        assert switch.leaf(f"/interfaces/interface[name={name2}]/config/enabled") is False
        assert send_and_see(switch, [frame("02:00:00:00:00:02")] * 4, 1) == []
        time.sleep(0.2)
        after = switch.counters(name2)
        assert after["out-discards"] - before["out-discards"] == 4
        assert after["out-unicast-pkts"] == before["out-unicast-pkts"]
    finally:
        switch.set_enabled(name2, True)
    assert switch.leaf(f"/interfaces/interface[name={name2}]/state/admin-status") == "UP"
    assert len(send_and_see(switch, [frame("02:00:00:00:00:02")], 1)) == 1


def test_set_json_ietf_config_container(switch: Kvick) -> None:
    name1 = switch.names[1]
    request = gnmi_pb2.SetRequest(replace=[gnmi_pb2.Update(
        path=path(f"/interfaces/interface[name={name1}]/config"),
        val=gnmi_pb2.TypedValue(json_ietf_val=b'{"openconfig-interfaces:enabled": false}'))])
    switch.stub.Set(request, timeout=10)
    assert switch.leaf(f"/interfaces/interface[name={name1}]/state/admin-status") == "DOWN"
    # Deleting config/enabled restores the default: up.
    switch.stub.Set(gnmi_pb2.SetRequest(
        delete=[path(f"/interfaces/interface[name={name1}]/config/enabled")]), timeout=10)
    assert switch.leaf(f"/interfaces/interface[name={name1}]/state/admin-status") == "UP"


def test_refused_set_changes_nothing(switch: Kvick) -> None:
    name1, name2 = switch.names[1], switch.names[2]
    request = gnmi_pb2.SetRequest(update=[
        gnmi_pb2.Update(path=path(f"/interfaces/interface[name={name1}]/config/enabled"),
                        val=gnmi_pb2.TypedValue(bool_val=False)),
        gnmi_pb2.Update(path=path(f"/interfaces/interface[name={name2}]/config/mtu"),
                        val=gnmi_pb2.TypedValue(uint_val=1500)),
    ])
    with pytest.raises(grpc.RpcError) as err:
        switch.stub.Set(request, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert switch.leaf(f"/interfaces/interface[name={name1}]/state/admin-status") == "UP"
    with pytest.raises(grpc.RpcError) as err:
        switch.set_enabled("nosuch", False)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------------- Subscribe
class Stream:
    """A Subscribe call fed from a queue; responses read with a timeout."""

    def __init__(self, switch: Kvick, first: gnmi_pb2.SubscribeRequest) -> None:
        self.requests: queue.Queue = queue.Queue()
        self.requests.put(first)
        self.call = switch.stub.Subscribe(iter(self.requests.get, None))
        self.responses: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.put(response)
        except grpc.RpcError as err:
            self.responses.put(err)
        self.responses.put(None)

    def next(self, timeout: float = 5.0) -> gnmi_pb2.SubscribeResponse | None:
        item = self.responses.get(timeout=timeout)
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def until_sync(self) -> list[gnmi_pb2.Update]:
        updates = []
        while True:
            response = self.next()
            assert response is not None, "stream ended before sync_response"
            if response.sync_response:
                return updates
            updates += response.update.update

    def close(self) -> None:
        self.call.cancel()
        self.requests.put(None)


def sublist(mode: int, *subs: gnmi_pb2.Subscription, encoding: int = E.PROTO
            ) -> gnmi_pb2.SubscribeRequest:
    return gnmi_pb2.SubscribeRequest(subscribe=gnmi_pb2.SubscriptionList(
        mode=mode, subscription=list(subs), encoding=encoding))


def test_subscribe_once(switch: Kvick) -> None:
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.ONCE, gnmi_pb2.Subscription(
        path=path("/interfaces/interface[name=*]/state/oper-status"))))
    try:
        updates = stream.until_sync()
        assert {u.path.elem[1].key["name"]: u.val.string_val for u in updates} == {
            switch.names[1]: "UP", switch.names[2]: "UP"}
        assert stream.next() is None  # ONCE ends the stream after sync_response
    finally:
        stream.close()


def test_subscribe_once_json_ietf_sends_scalars(switch: Kvick) -> None:
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.ONCE, gnmi_pb2.Subscription(
        path=path(f"/interfaces/interface[name={switch.names[1]}]/state/counters/in-octets")),
        encoding=E.JSON_IETF))
    try:
        (update,) = stream.until_sync()
        assert update.val.WhichOneof("value") == "uint_val"
    finally:
        stream.close()


def test_subscribe_poll(switch: Kvick) -> None:
    name1 = switch.names[1]
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.POLL, gnmi_pb2.Subscription(
        path=path(f"/interfaces/interface[name={name1}]/state/counters/in-unicast-pkts"))))
    try:
        (first,) = stream.until_sync()
        send_and_see(switch, [frame("02:00:00:00:00:02")] * 2, 2)
        time.sleep(0.3)
        stream.requests.put(gnmi_pb2.SubscribeRequest(poll=gnmi_pb2.Poll()))
        (second,) = stream.until_sync()
        assert second.val.uint_val - first.val.uint_val == 2
    finally:
        stream.close()


def test_subscribe_stream_sample_counters(switch: Kvick) -> None:
    name2 = switch.names[2]
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.STREAM, gnmi_pb2.Subscription(
        path=path(f"/interfaces/interface[name={name2}]/state/counters/out-unicast-pkts"),
        mode=gnmi_pb2.SAMPLE, sample_interval=100_000_000)))
    try:
        (initial,) = stream.until_sync()
        send_and_see(switch, [frame("02:00:00:00:00:02")] * 3, 3)
        samples = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            response = stream.next()
            samples += [u.val.uint_val for u in response.update.update]
            if samples and samples[-1] - initial.val.uint_val == 3 and len(samples) >= 3:
                break
        assert len(samples) >= 3  # sampled every 100 ms whether or not it changed
        assert samples[-1] - initial.val.uint_val == 3
    finally:
        stream.close()


def test_subscribe_stream_on_change_when_the_peer_goes_down(switch: Kvick) -> None:
    name1 = switch.names[1]
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.STREAM, gnmi_pb2.Subscription(
        path=path(f"/interfaces/interface[name={name1}]/state/oper-status"),
        mode=gnmi_pb2.ON_CHANGE)))
    try:
        (initial,) = stream.until_sync()
        assert initial.val.string_val == "UP"
        before = switch.leaf(f"/interfaces/interface[name={name1}]/state/last-change")
        run("ip", "link", "set", switch.host1, "down", netns=switch.ns1)
        (down,) = stream.next().update.update
        assert text_of(down.path) == f"/interfaces/interface[name={name1}]/state/oper-status"
        assert down.val.string_val == "DOWN"
        assert switch.leaf(f"/interfaces/interface[name={name1}]/state/last-change") > before
        run("ip", "link", "set", switch.host1, "up", netns=switch.ns1)
        (up,) = stream.next().update.update
        assert up.val.string_val == "UP"
    finally:
        run("ip", "link", "set", switch.host1, "up", netns=switch.ns1)
        stream.close()


def test_subscribe_stream_target_defined(switch: Kvick) -> None:
    """TARGET_DEFINED: state leaves on change (admin-status right after a Set), counters
    sampled (every second)."""
    name2 = switch.names[2]
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.STREAM, gnmi_pb2.Subscription(
        path=path(f"/interfaces/interface[name={name2}]/state"),
        mode=gnmi_pb2.TARGET_DEFINED)))
    try:
        initial = stream.until_sync()
        assert len(initial) >= len(STATE_LEAVES) + len(COUNTERS)
        switch.set_enabled(name2, False)
        changed: dict[str, gnmi_pb2.TypedValue] = {}
        deadline = time.monotonic() + 5
        while "admin-status" not in changed and time.monotonic() < deadline:
            for u in stream.next().update.update:
                changed[u.path.elem[-1].name] = u.val
        assert changed["admin-status"].string_val == "DOWN"
        samples = 0
        deadline = time.monotonic() + 5
        while samples == 0 and time.monotonic() < deadline:
            samples += sum(u.path.elem[-2].name == "counters" for u in stream.next().update.update)
        assert samples > 0
    finally:
        switch.set_enabled(name2, True)
        stream.close()


def test_subscribe_refusals(switch: Kvick) -> None:
    stream = Stream(switch, sublist(gnmi_pb2.SubscriptionList.STREAM, gnmi_pb2.Subscription(
        path=path("/interfaces/interface[name=nosuch]/state"))))
    try:
        with pytest.raises(grpc.RpcError) as err:
            stream.next()
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        stream.close()
