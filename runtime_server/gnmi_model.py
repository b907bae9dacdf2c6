"""The OpenConfig interfaces tree of a switch's ports, as gNMI serves it.

Every port except the CPU port is one /interfaces/interface[name=NAME]: NAME is the name it was
given with `-i PORT@NAME` and ifindex is PORT, as stratum_bmv2 does. The leaves are read from
the switch when asked (target.Switch.port_stats, link_state, port_enabled); a watcher thread
notes when each port's oper-status changes, for last-change.

Values are (kind, value) pairs; `kind` says how each encoding writes the value.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from runtime_server import gnmi_paths as paths
from runtime_server.gnmi_paths import Elem, PathTuple
from runtime_server.gnmi_proto import gnmi_pb2

IF_MODULE = "openconfig-interfaces"
ETH_MODULE = "openconfig-if-ethernet"
P4RT_MODULE = "openconfig-p4rt"
# The nodes of another module than openconfig-interfaces (JSON_IETF qualifies them).
_MODULE_OF = {"ethernet": ETH_MODULE, "id": P4RT_MODULE}

# The leaves under state/counters: stratum_bmv2's set (ONOS's port statistics discovery warns
# about any other counter name at every poll).
COUNTERS = (
    "in-octets", "in-unicast-pkts", "in-broadcast-pkts", "in-multicast-pkts",
    "in-discards", "in-errors", "in-fcs-errors",
    "out-octets", "out-unicast-pkts", "out-broadcast-pkts", "out-multicast-pkts",
    "out-discards", "out-errors",
)
WATCH_INTERVAL_S = 0.05

Leaf = tuple[str, Any]  # (kind: string|enum|identity|bool|uint32|uint64, value)


def speed_identity(mbps: int) -> str:
    """openconfig-if-ethernet's ETHERNET_SPEED identity for a speed in Mb/s."""
    names = {10: "SPEED_10MB", 100: "SPEED_100MB", 1000: "SPEED_1GB", 2500: "SPEED_2500MB",
             5000: "SPEED_5GB", 10000: "SPEED_10GB", 25000: "SPEED_25GB", 40000: "SPEED_40GB",
             50000: "SPEED_50GB", 100000: "SPEED_100GB", 200000: "SPEED_200GB",
             400000: "SPEED_400GB", 800000: "SPEED_800GB"}
    return names.get(mbps, "SPEED_UNKNOWN")


def counters_of(stats: dict[str, int]) -> dict[str, int]:
    """OpenConfig counters from target port stats. Broadcast and multicast frames are counted
    by the engine as received / handed to the port; unicast is the rest."""
    rx, tx = stats["rx_packets"], stats["tx_packets"]
    rx_bc, rx_mc = stats.get("rx_broadcast", 0), stats.get("rx_multicast", 0)
    tx_bc, tx_mc = stats.get("tx_broadcast", 0), stats.get("tx_multicast", 0)
    return {
        "in-octets": stats["rx_bytes"],
        "in-unicast-pkts": max(rx - rx_bc - rx_mc, 0),
        "in-broadcast-pkts": rx_bc, "in-multicast-pkts": rx_mc,
        "in-discards": stats["rx_dropped"], "in-errors": stats["rx_errors"],
        "in-fcs-errors": stats.get("rx_fcs_errors", 0),
        "out-octets": stats["tx_bytes"],
        "out-unicast-pkts": max(tx - tx_bc - tx_mc, 0),
        "out-broadcast-pkts": tx_bc, "out-multicast-pkts": tx_mc,
        "out-discards": stats["tx_dropped"],
        # Drivers count no transmit errors apart from drops.
        "out-errors": 0,
    }


class Interfaces:
    """The interfaces of one switch; thread-safe reads, Set through set_enabled."""

    def __init__(self, switch: Any, names: dict[int, str] | None = None) -> None:
        self.switch = switch
        self._names = dict(names or {})
        self._lock = threading.Lock()
        self._oper: dict[int, bool] = {}
        self._last_change: dict[int, int] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self.poll_links()

    # ---------------------------------------------------------------- ports
    def ports(self) -> list[tuple[int, str]]:
        """(number, name) of every interface, by number; the CPU port is not an interface."""
        cpu = getattr(self.switch, "cpu_port", None)
        return [(num, self.name_of(num)) for num in sorted(self.switch.ports) if num != cpu]

    def name_of(self, num: int) -> str:
        if num in self._names:
            return self._names[num]
        return getattr(self.switch.ports[num], "ifname", None) or str(num)

    def port_named(self, name: str) -> int | None:
        for num, port_name in self.ports():
            if port_name == name:
                return num
        return None

    # ---------------------------------------------------------------- oper-status watch
    def _oper_up(self, num: int) -> bool:
        port = self.switch.ports.get(num)
        return port is not None and self.switch.port_enabled(num) and bool(port.link_state())

    def poll_links(self) -> None:
        """Note each port's oper-status; a change (or a new port) stamps last-change."""
        now = time.time_ns()
        with self._lock:
            for num, _ in self.ports():
                up = self._oper_up(num)
                if self._oper.get(num) != up:
                    self._oper[num] = up
                    self._last_change[num] = now

    def start(self) -> None:
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="kvick-gnmi-links",
                                             daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            try:
                self.poll_links()
            except (KeyError, RuntimeError):  # a port removed meanwhile: next round
                continue

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None

    # ---------------------------------------------------------------- the tree
    def interface_leaves(self, num: int, name: str) -> dict[PathTuple, Leaf]:
        """The leaves of one interface (its oper-status as last polled: see leaves())."""
        stats = self.switch.port_stats(num)
        enabled = self.switch.port_enabled(num)
        with self._lock:
            up = self._oper.get(num, False)
            last_change = self._last_change.get(num, 0)
        port = self.switch.ports[num]
        speed = speed_identity(port.speed_mbps() if hasattr(port, "speed_mbps") else 0)
        base: PathTuple = (paths.elem("interfaces"), paths.elem("interface", name=name))
        rel: dict[tuple[str, ...], Leaf] = {
            ("name",): ("string", name),
            ("config", "name"): ("string", name),
            ("config", "enabled"): ("bool", enabled),
            ("config", "type"): ("identity", "iana-if-type:ethernetCsmacd"),
            ("state", "name"): ("string", name),
            ("state", "enabled"): ("bool", enabled),
            ("state", "type"): ("identity", "iana-if-type:ethernetCsmacd"),
            ("state", "ifindex"): ("uint32", num),
            # openconfig-p4rt's id: the P4Runtime port number (stratum serves it; finsy's
            # gNMI demos list interfaces by it).
            ("config", "id"): ("uint32", num),
            ("state", "id"): ("uint32", num),
            ("state", "admin-status"): ("enum", "UP" if enabled else "DOWN"),
            ("state", "oper-status"): ("enum", "UP" if up else "DOWN"),
            ("state", "last-change"): ("uint64", last_change),
            ("ethernet", "config", "port-speed"): ("identity", f"{ETH_MODULE}:{speed}"),
            ("ethernet", "state", "port-speed"): ("identity", f"{ETH_MODULE}:{speed}"),
        }
        values = counters_of(stats)
        for counter in COUNTERS:
            rel[("state", "counters", counter)] = ("uint64", values[counter])
        return {base + tuple(paths.elem(n) for n in key): leaf for key, leaf in rel.items()}

    def leaves(self, pattern: PathTuple = ()) -> dict[PathTuple, Leaf]:
        """Every leaf at or under `pattern` (all of them for the root)."""
        self.poll_links()  # a read sees the links as they are now, not 50 ms ago
        out: dict[PathTuple, Leaf] = {}
        for num, name in self.ports():
            # Skip interfaces the pattern's key rules out without reading their counters.
            if len(pattern) >= 2 and pattern[0][0] in ("interfaces", "*") and \
                    pattern[1][0] in ("interface", "*"):
                keys = dict(pattern[1][1])
                if keys.get("name", "*") not in (*paths.ANY_KEY, name):
                    continue
            for path, leaf in self.interface_leaves(num, name).items():
                if paths.match_length(pattern, path) is not None:
                    out[path] = leaf
        return out

    # ---------------------------------------------------------------- Set
    def set_enabled(self, name: str, enabled: bool) -> None:
        num = self.port_named(name)
        if num is None:
            raise KeyError(name)
        self.switch.set_port_enabled(num, enabled)
        self.poll_links()


# -------------------------------------------------------------------- encodings
def _strip_module(value: str) -> str:
    return value.rpartition(":")[2]


def typed_value(leaf: Leaf, out: gnmi_pb2.TypedValue) -> None:
    """Write one leaf as the gNMI specification has scalars, in whatever encoding was asked:
    the TypedValue field of its type (the encodings apply to structured data)."""
    kind, value = leaf
    if kind in ("string", "enum"):
        out.string_val = value
    elif kind == "identity":
        out.string_val = _strip_module(value)  # stratum's form: "SPEED_10GB"
    elif kind == "bool":
        out.bool_val = value
    else:
        out.uint_val = value


def _json_scalar(leaf: Leaf, ietf: bool) -> Any:
    kind, value = leaf
    if kind == "uint64" and ietf:
        return str(value)  # RFC 7951: 64-bit integers are strings
    if kind == "identity" and not ietf:
        return _strip_module(value)
    return value


def json_tree(node: PathTuple, leaves: dict[PathTuple, Leaf], ietf: bool) -> Any:
    """The JSON value of the node at `node` built from its leaves (a scalar for a leaf)."""
    if node in leaves:
        return _json_scalar(leaves[node], ietf)
    root: dict[str, Any] = {}
    for path, leaf in sorted(leaves.items(), key=lambda item: paths.to_string(item[0])):
        rest = path[len(node):]
        module = _module_of_path(node)
        target = root
        for depth, (name, keys) in enumerate(rest):
            member = _member(name, module, ietf, top=depth == 0)
            module = _MODULE_OF.get(name, module)
            last = depth == len(rest) - 1
            if last:
                target[member] = _json_scalar(leaf, ietf)
            elif keys:
                # A list: its entries are objects carrying their keys.
                entries = target.setdefault(member, [])
                entry = next((e for e in entries if all(e.get(k) == v for k, v in keys)), None)
                if entry is None:
                    entry = dict(keys)
                    entries.append(entry)
                target = entry
            else:
                target = target.setdefault(member, {})
    return root


def _module_of_path(node: Iterable[Elem]) -> str:
    module = IF_MODULE
    for name, _ in node:
        module = _MODULE_OF.get(name, module)
    return module


def _member(name: str, parent_module: str, ietf: bool, top: bool) -> str:
    if not ietf:
        return name
    module = _MODULE_OF.get(name, parent_module)
    return f"{module}:{name}" if top or module != parent_module else name
