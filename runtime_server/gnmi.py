"""The gNMI service (gnmi.gNMI) on the P4Runtime server's port: OpenConfig interfaces.

Capabilities; Get in PROTO, JSON and JSON_IETF; Set of /interfaces/interface[name=N]/config/
enabled (admin down stops the port through Switch.set_port_enabled); Subscribe ONCE, POLL and
STREAM (ON_CHANGE, SAMPLE, and TARGET_DEFINED: on change for all but the counters, which are
sampled). The tree itself is runtime_server/gnmi_model.py.

The servicer's methods are coroutines for the server's grpc.aio loop; reading the switch is
cheap (port stats, a sysfs file per port) and is done on the loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from runtime_server import gnmi_model as model
from runtime_server import gnmi_paths as paths
from runtime_server.gnmi_paths import PathError, PathTuple
from runtime_server.gnmi_proto import gnmi_pb2

log = logging.getLogger("kvick.gnmi")

Encoding = gnmi_pb2.Encoding
SUPPORTED_ENCODINGS = (Encoding.JSON, Encoding.PROTO, Encoding.JSON_IETF)
MODELS = (
    (model.IF_MODULE, "OpenConfig working group", "2.5.0"),
    (model.ETH_MODULE, "OpenConfig working group", "2.11.0"),
    (model.P4RT_MODULE, "OpenConfig working group", "0.3.0"),
)
GNMI_VERSION = gnmi_pb2.DESCRIPTOR.GetOptions().Extensions[gnmi_pb2.gnmi_service]
DEFAULT_SAMPLE_NS = 1_000_000_000
MIN_SAMPLE_NS = 10_000_000
ON_CHANGE_CHECK_S = 0.05
ENABLED_LEAF = ("config", "enabled")


class GnmiError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> int:
    return time.time_ns()


def _relative(path: PathTuple, prefix: PathTuple) -> PathTuple:
    return path[len(prefix):]


class GnmiService:
    """gnmi.gNMI over an Interfaces tree."""

    def __init__(self, interfaces: model.Interfaces) -> None:
        self.interfaces = interfaces

    # ------------------------------------------------------------------ Capabilities
    async def Capabilities(self, request: gnmi_pb2.CapabilityRequest,
                           context: grpc.aio.ServicerContext) -> gnmi_pb2.CapabilityResponse:
        response = gnmi_pb2.CapabilityResponse(gNMI_version=GNMI_VERSION)
        response.supported_encodings.extend(SUPPORTED_ENCODINGS)
        for name, organization, version in MODELS:
            response.supported_models.add(name=name, organization=organization, version=version)
        return response

    # ------------------------------------------------------------------ Get
    async def Get(self, request: gnmi_pb2.GetRequest,
                  context: grpc.aio.ServicerContext) -> gnmi_pb2.GetResponse:
        try:
            encoding = _encoding(request.encoding)
            prefix = paths.from_proto(request.prefix) if request.HasField("prefix") else ()
            if request.type not in (gnmi_pb2.GetRequest.ALL, gnmi_pb2.GetRequest.CONFIG,
                                    gnmi_pb2.GetRequest.STATE,
                                    gnmi_pb2.GetRequest.OPERATIONAL):
                raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT, "unknown data type")
            patterns = [prefix + paths.from_proto(p) for p in request.path] or [prefix]
            response = gnmi_pb2.GetResponse()
            for pattern in patterns:
                leaves = _filter_type(self.interfaces.leaves(pattern), request.type)
                if not leaves:
                    raise GnmiError(grpc.StatusCode.NOT_FOUND,
                                    f"no data at {paths.to_string(pattern)}")
                notification = response.notification.add(timestamp=_now())
                if request.HasField("prefix"):
                    notification.prefix.CopyFrom(request.prefix)
                _fill_updates(notification, pattern, leaves, encoding, prefix)
            return response
        except PathError as err:
            await _abort(context, "Get", GnmiError(grpc.StatusCode.INVALID_ARGUMENT, str(err)))
        except GnmiError as err:
            await _abort(context, "Get", err)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ Set
    async def Set(self, request: gnmi_pb2.SetRequest,
                  context: grpc.aio.ServicerContext) -> gnmi_pb2.SetResponse:
        try:
            prefix = paths.from_proto(request.prefix) if request.HasField("prefix") else ()
            changes: list[tuple[str, bool]] = []
            results: list[tuple[gnmi_pb2.Path, int]] = []
            for path in request.delete:
                changes += self._enabled_changes(prefix + paths.from_proto(path), None)
                results.append((path, gnmi_pb2.UpdateResult.DELETE))
            for updates, op in ((request.replace, gnmi_pb2.UpdateResult.REPLACE),
                                (request.update, gnmi_pb2.UpdateResult.UPDATE)):
                for update in updates:
                    changes += self._enabled_changes(prefix + paths.from_proto(update.path),
                                                     update.val)
                    results.append((update.path, op))
            if request.union_replace:
                raise GnmiError(grpc.StatusCode.UNIMPLEMENTED, "union_replace is not supported")
            # Everything was checked above: a refused request changes nothing.
            for name, enabled in changes:
                self.interfaces.set_enabled(name, enabled)
                log.info("gNMI Set: interface %s enabled=%s", name, enabled)
            response = gnmi_pb2.SetResponse(timestamp=_now())
            if request.HasField("prefix"):
                response.prefix.CopyFrom(request.prefix)
            for path, op in results:
                response.response.add(path=path, op=op, timestamp=response.timestamp)
            return response
        except PathError as err:
            await _abort(context, "Set", GnmiError(grpc.StatusCode.INVALID_ARGUMENT, str(err)))
        except GnmiError as err:
            await _abort(context, "Set", err)
        raise AssertionError("unreachable")

    def _enabled_changes(self, path: PathTuple,
                         value: gnmi_pb2.TypedValue | None) -> list[tuple[str, bool]]:
        """The (interface, enabled) changes a Set operation at `path` makes; deleting
        config/enabled restores its default, true. Only config/enabled can be written."""
        text = paths.to_string(path)
        if len(path) < 2 or path[0][0] != "interfaces" or path[1][0] != "interface":
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"{text}: only /interfaces/interface[name=N]/config/enabled "
                            "can be set")
        name = dict(path[1][1]).get("name")
        if not name or name in paths.ANY_KEY:
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT, f"{text}: name an interface")
        if self.interfaces.port_named(name) is None:
            raise GnmiError(grpc.StatusCode.NOT_FOUND, f"{text}: no interface {name!r}")
        rest = tuple(e[0] for e in path[2:])
        if value is None:
            if rest != ENABLED_LEAF:
                raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                                f"{text}: only config/enabled can be deleted")
            return [(name, True)]
        decoded = _decode_value(value, text)
        if rest == ENABLED_LEAF[:1] and isinstance(decoded, dict):
            # The config container written as JSON: `enabled` is all it may hold.
            members = {key.rpartition(":")[2]: item for key, item in decoded.items()}
            if set(members) != {"enabled"}:
                raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                                f"{text}: only config/enabled can be set")
            decoded = members["enabled"]
        elif rest != ENABLED_LEAF:
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"{text}: only config/enabled can be set")
        if not isinstance(decoded, bool):
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"{text}: enabled takes a boolean, got {decoded!r}")
        return [(name, decoded)]

    # ------------------------------------------------------------------ Subscribe
    async def Subscribe(self, requests: AsyncIterator[gnmi_pb2.SubscribeRequest],
                        context: grpc.aio.ServicerContext
                        ) -> AsyncIterator[gnmi_pb2.SubscribeResponse]:
        iterator = requests.__aiter__()
        try:
            first = await iterator.__anext__()
        except StopAsyncIteration:
            return
        try:
            if not first.HasField("subscribe"):
                raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                                "the first SubscribeRequest must carry a SubscriptionList")
            session = _Subscription(self.interfaces, first.subscribe)
        except PathError as err:
            await _abort(context, "Subscribe", GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                                                         str(err)))
            return
        except GnmiError as err:
            await _abort(context, "Subscribe", err)
            return
        mode = first.subscribe.mode
        if first.subscribe.updates_only:
            session.prime()  # changes are told from here on; nothing before the sync
        else:
            for response in session.snapshot():
                yield response
        yield gnmi_pb2.SubscribeResponse(sync_response=True)
        if mode == gnmi_pb2.SubscriptionList.ONCE:
            return
        if mode == gnmi_pb2.SubscriptionList.POLL:
            async for request in iterator:
                if not request.HasField("poll"):
                    await _abort(context, "Subscribe", GnmiError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "a POLL subscription takes only poll requests"))
                    return
                for response in session.snapshot():
                    yield response
                yield gnmi_pb2.SubscribeResponse(sync_response=True)
            return
        # STREAM: the client's half may close at any time; the stream lives on until cancel.
        drain = asyncio.ensure_future(_drain(iterator))
        try:
            async for response in session.stream():
                yield response
        finally:
            drain.cancel()


async def _drain(iterator: AsyncIterator[Any]) -> None:
    async for _ in iterator:
        pass


class _Subscription:
    """One SubscriptionList: its paths, modes and what was last sent for each leaf."""

    def __init__(self, interfaces: model.Interfaces, sublist: gnmi_pb2.SubscriptionList) -> None:
        self.interfaces = interfaces
        self.encoding = _encoding(sublist.encoding)
        self.prefix_proto = sublist.prefix if sublist.HasField("prefix") else None
        self.prefix = paths.from_proto(sublist.prefix) if self.prefix_proto else ()
        if sublist.mode not in (gnmi_pb2.SubscriptionList.STREAM,
                                gnmi_pb2.SubscriptionList.ONCE,
                                gnmi_pb2.SubscriptionList.POLL):
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT, "unknown subscription mode")
        if not sublist.subscription:
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT, "no subscription in the list")
        self.items: list[tuple[PathTuple, int, int, bool]] = []
        for sub in sublist.subscription:
            pattern = self.prefix + paths.from_proto(sub.path)
            if not self.interfaces.leaves(pattern):
                raise GnmiError(grpc.StatusCode.NOT_FOUND,
                                f"no data at {paths.to_string(pattern)}")
            interval = sub.sample_interval or DEFAULT_SAMPLE_NS
            if sub.mode == gnmi_pb2.SAMPLE and sub.sample_interval and \
                    sub.sample_interval < MIN_SAMPLE_NS:
                raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                                f"sample_interval below the minimum {MIN_SAMPLE_NS} ns")
            self.items.append((pattern, sub.mode, interval, sub.suppress_redundant))
        self.sent: dict[PathTuple, model.Leaf] = {}

    def _leaves(self, patterns: list[PathTuple]) -> dict[PathTuple, model.Leaf]:
        out: dict[PathTuple, model.Leaf] = {}
        for pattern in patterns:
            out.update(self.interfaces.leaves(pattern))
        return out

    def _notify(self, leaves: dict[PathTuple, model.Leaf]) -> gnmi_pb2.SubscribeResponse:
        response = gnmi_pb2.SubscribeResponse()
        notification = response.update
        notification.timestamp = _now()
        if self.prefix_proto is not None:
            notification.prefix.CopyFrom(self.prefix_proto)
        for path, leaf in sorted(leaves.items(), key=lambda item: paths.to_string(item[0])):
            update = notification.update.add()
            paths.to_proto(_relative(path, self.prefix), update.path)
            model.typed_value(leaf, update.val)
        self.sent.update(leaves)
        return response

    def prime(self) -> None:
        """Take the current values as sent (updates_only: the stream tells changes only)."""
        self.sent.update(self._leaves([pattern for pattern, *_ in self.items]))

    def snapshot(self) -> list[gnmi_pb2.SubscribeResponse]:
        """Every subscribed leaf's current value, one notification per interface."""
        leaves = self._leaves([pattern for pattern, *_ in self.items])
        by_interface: dict[PathTuple, dict[PathTuple, model.Leaf]] = {}
        for path, leaf in leaves.items():
            by_interface.setdefault(path[:2], {})[path] = leaf
        return [self._notify(group) for _, group in sorted(by_interface.items(),
                                                            key=lambda i: paths.to_string(i[0]))]

    async def stream(self) -> AsyncIterator[gnmi_pb2.SubscribeResponse]:
        on_change: list[PathTuple] = []
        sampled: list[tuple[PathTuple, int, bool]] = []
        for pattern, mode, interval, suppress in self.items:
            if mode == gnmi_pb2.ON_CHANGE:
                on_change.append(pattern)
            elif mode == gnmi_pb2.SAMPLE:
                sampled.append((pattern, interval, suppress))
            else:  # TARGET_DEFINED: counters are sampled, the rest sent on change
                for path in self.interfaces.leaves(pattern):
                    if any(name == "counters" for name, _ in path):
                        sampled.append((path, DEFAULT_SAMPLE_NS, False))
                    else:
                        on_change.append(path)
        next_due = [time.monotonic_ns() + interval for _, interval, _ in sampled]
        while True:
            now = time.monotonic_ns()
            due = {}
            for index, (pattern, interval, suppress) in enumerate(sampled):
                if now >= next_due[index]:
                    next_due[index] = now + interval
                    for path, leaf in self.interfaces.leaves(pattern).items():
                        if not suppress or self.sent.get(path) != leaf:
                            due[path] = leaf
            if on_change:
                for path, leaf in self._leaves(on_change).items():
                    if self.sent.get(path) != leaf:
                        due[path] = leaf
            if due:
                yield self._notify(due)
            wait = ON_CHANGE_CHECK_S if on_change else 1.0
            if sampled:
                wait = min(wait, max(min(next_due) - time.monotonic_ns(), 0) / 1e9)
            await asyncio.sleep(wait)


# ---------------------------------------------------------------------- helpers
def _encoding(value: int) -> int:
    if value not in SUPPORTED_ENCODINGS:
        name = Encoding.Name(value) if value in Encoding.values() else str(value)
        raise GnmiError(grpc.StatusCode.UNIMPLEMENTED, f"encoding {name} is not supported "
                        "(JSON, JSON_IETF and PROTO are)")
    return value


def _filter_type(leaves: dict[PathTuple, model.Leaf], data_type: int) -> dict[PathTuple, model.Leaf]:
    """GetRequest.type: CONFIG keeps config leaves, STATE/OPERATIONAL the state ones."""
    if data_type == gnmi_pb2.GetRequest.ALL:
        return leaves
    want_config = data_type == gnmi_pb2.GetRequest.CONFIG
    return {path: leaf for path, leaf in leaves.items()
            if any(name == "config" for name, _ in path) == want_config}


def _fill_updates(notification: gnmi_pb2.Notification, pattern: PathTuple,
                  leaves: dict[PathTuple, model.Leaf], encoding: int, prefix: PathTuple) -> None:
    """PROTO: one update per leaf. JSON encodings: one update per node the pattern names
    (its wildcards filled in), the node's subtree as one JSON value; a leaf is a scalar."""
    if encoding == Encoding.PROTO:
        for path, leaf in sorted(leaves.items(), key=lambda item: paths.to_string(item[0])):
            update = notification.update.add()
            paths.to_proto(_relative(path, prefix), update.path)
            model.typed_value(leaf, update.val)
        return
    nodes: dict[PathTuple, dict[PathTuple, model.Leaf]] = {}
    for path, leaf in leaves.items():
        node = paths.resolve(pattern, path)
        if node is None or any(name == "..." for name, _ in pattern):
            node = path
        nodes.setdefault(node, {})[path] = leaf
    ietf = encoding == Encoding.JSON_IETF
    for node, group in sorted(nodes.items(), key=lambda item: paths.to_string(item[0])):
        update = notification.update.add()
        paths.to_proto(_relative(node, prefix), update.path)
        if node in group:  # a leaf: a scalar in every encoding
            model.typed_value(group[node], update.val)
            continue
        text = json.dumps(model.json_tree(node, group, ietf)).encode()
        if ietf:
            update.val.json_ietf_val = text
        else:
            update.val.json_val = text


def _decode_value(value: gnmi_pb2.TypedValue, where: str) -> Any:
    kind = value.WhichOneof("value")
    if kind == "bool_val":
        return value.bool_val
    if kind in ("json_val", "json_ietf_val"):
        try:
            return json.loads(getattr(value, kind))
        except ValueError as err:
            raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT,
                            f"{where}: malformed JSON value ({err})") from None
    if kind is None:
        raise GnmiError(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: no value")
    return getattr(value, kind)


async def _abort(context: grpc.aio.ServicerContext, rpc: str, err: GnmiError) -> None:
    log.info("gNMI %s refused (%s, %s): %s", rpc, context.peer(), err.code.name, err.message)
    await context.abort(err.code, err.message)


def handler(service: GnmiService) -> grpc.GenericRpcHandler:
    """The gnmi.gNMI service as a generic handler for the P4Runtime server's port."""
    pb = gnmi_pb2
    return grpc.method_handlers_generic_handler("gnmi.gNMI", {
        "Capabilities": grpc.unary_unary_rpc_method_handler(
            service.Capabilities, pb.CapabilityRequest.FromString,
            pb.CapabilityResponse.SerializeToString),
        "Get": grpc.unary_unary_rpc_method_handler(
            service.Get, pb.GetRequest.FromString, pb.GetResponse.SerializeToString),
        "Set": grpc.unary_unary_rpc_method_handler(
            service.Set, pb.SetRequest.FromString, pb.SetResponse.SerializeToString),
        "Subscribe": grpc.stream_stream_rpc_method_handler(
            service.Subscribe, pb.SubscribeRequest.FromString,
            pb.SubscribeResponse.SerializeToString),
    })


__all__ = ["GnmiService", "handler"]
