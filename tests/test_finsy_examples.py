"""finsy's example controllers (PyPI finsy 0.30.0, examples as published in ../shared/finsy)
against kvick, each on the network its net/run.py describes.

finsy's own tests run the examples on Mininet in a container; here the same network is built
from the example's description (tests/finsy/demonet_dump.py reads it with finsy's demonet,
which numbers the ports and assigns the addresses): one namespace per host (interface eth0),
one namespace for the switches and the controller, where each switch is a `kvick` process
with ports `-i N@sK-ethN` and gRPC on 127.0.0.1:5000K, as demonet publishes them. The
controllers run unchanged in finsy's own venv (tools/setup_p4rt_env.sh): it pins protobuf<7.
What finsy's tests check is checked here: pingall, the gNMI demos' output, the tables.
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from runtime_server.gnmi_proto import gnmi_pb2, gnmi_pb2_grpc
from runtime_server.proto import p4runtime_pb2, p4runtime_pb2_grpc
from tests.netns import TestBed, in_netns, run, tcp_into_netns
from tests.shared_data import SHARED, needs

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = SHARED / "finsy" / "examples"
pytestmark = needs(EXAMPLES)
DUMP = REPO / "tests" / "finsy" / "demonet_dump.py"
GRPC_BASE = 50000


def finsy_python() -> str:
    explicit = os.environ.get("KVICK_FINSY_PYTHON")
    if explicit:
        return explicit
    venv = Path(os.environ.get("KVICK_FINSY_VENV", "/opt/kvick-finsy"))
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.fail(f"finsy's venv is missing ({python}): run tools/setup_p4rt_env.sh")
    return str(python)


class Network:
    """An example's network with kvick switches; `controller()` runs an example in it."""

    def __init__(self, bed: TestBed, example: str) -> None:
        self.example = EXAMPLES / example
        dump = subprocess.run([finsy_python(), str(DUMP), str(self.example / "net" / "run.py")],
                              check=True, capture_output=True, text=True)
        items = json.loads(dump.stdout)
        self.bed = bed
        self.switch_ns = bed.namespace()
        self.hosts: dict[str, dict] = {}
        self.host_ns: dict[str, str] = {}
        switches = [i for i in items if i["directive"] == "Switch"]
        ports: dict[str, list[int]] = {s["name"]: [] for s in switches}
        bridges = {i["name"]: i for i in items if i["directive"] == "Bridge"}
        bridge_ports: dict[str, int] = {name: 0 for name in bridges}
        for name in bridges:
            self._add_bridge(name)
        for item in items:
            if item["directive"] == "Host":
                self.hosts[item["name"]] = item
                self.host_ns[item["name"]] = bed.namespace()
        for item in items:
            if item["directive"] == "Host" and item["switch"]:
                self._host_link(item["switch"], item["assigned_switch_port"], item)
                ports[item["switch"]].append(item["assigned_switch_port"])
            elif item["directive"] == "Link":
                start, end = item["start"], item["end"]
                if end in bridges:
                    # Mininet numbers a bridge's interfaces in link order, like a switch's.
                    bridge_ports[end] += 1
                    self._switch_link(start, item["assigned_start_port"], end,
                                      bridge_ports[end])
                    run("ip", "link", "set", f"{end}-eth{bridge_ports[end]}", "master", end,
                        netns=self.switch_ns)
                    ports[start].append(item["assigned_start_port"])
                elif end in self.hosts:
                    self._host_link(start, item["assigned_start_port"], self.hosts[end])
                    ports[start].append(item["assigned_start_port"])
                else:
                    self._switch_link(start, item["assigned_start_port"], end,
                                      item["assigned_end_port"])
                    ports[start].append(item["assigned_start_port"])
                    ports[end].append(item["assigned_end_port"])
        for host in self.hosts.values():
            self._configure_host(host)
        self.bridge_commands: list[subprocess.Popen] = []
        for bridge in bridges.values():
            self._start_bridge(bridge)
        self.switches: dict[str, subprocess.Popen] = {}
        self.addresses: dict[str, str] = {}
        for index, switch in enumerate(switches, start=1):
            self._start_switch(switch["name"], index, sorted(ports[switch["name"]]),
                               switch["cpu_port"])

    def _host_link(self, switch: str, port: int, host: dict) -> None:
        run("ip", "link", "add", f"{switch}-eth{port}", "netns", self.switch_ns,
            "type", "veth", "peer", "name", host["ifname"], "netns", self.host_ns[host["name"]])
        run("sysctl", "-q", "-w", f"net.ipv6.conf.{switch}-eth{port}.disable_ipv6=1",
            netns=self.switch_ns)
        run("ip", "link", "set", f"{switch}-eth{port}", "up", netns=self.switch_ns)

    def _switch_link(self, a: str, port_a: int, b: str, port_b: int) -> None:
        run("ip", "link", "add", f"{a}-eth{port_a}", "type", "veth", "peer", "name",
            f"{b}-eth{port_b}", netns=self.switch_ns)
        for name in (f"{a}-eth{port_a}", f"{b}-eth{port_b}"):
            run("sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1",
                netns=self.switch_ns)
            run("ip", "link", "set", name, "up", netns=self.switch_ns)

    def _add_bridge(self, name: str) -> None:
        """A Linux bridge in the switches' namespace, where Mininet's LinuxBridge would be
        (in the root namespace with the switches): no STP, like Mininet's default."""
        run("ip", "link", "add", name, "type", "bridge", "stp_state", "0",
            netns=self.switch_ns)
        run("sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1", netns=self.switch_ns)

    def _start_bridge(self, bridge: dict) -> None:
        """finsy's DemoBridge.start: the bridge's MAC and address, then its commands in one
        shell, as Mininet's node.cmd runs them ($DEMONET_IP is the controller's address,
        here the namespace's loopback; demonet_dump.py leaves it in)."""
        ns, name = self.switch_ns, bridge["name"]
        if bridge["mac"]:
            run("ip", "link", "set", name, "address", bridge["mac"], netns=ns)
        if bridge["ipv4"]:
            run("ip", "addr", "add", bridge["ipv4"], "dev", name, netns=ns)
        run("ip", "link", "set", name, "up", netns=ns)
        if bridge["commands"]:
            script = "\n".join(c.replace("$DEMONET_IP", "127.0.0.1")
                               for c in bridge["commands"]) + "\nwait\n"
            self.bridge_commands.append(subprocess.Popen(
                ["ip", "netns", "exec", ns, "sh", "-c", script], stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True))

    def _configure_host(self, host: dict) -> None:
        ns, ifname = self.host_ns[host["name"]], host["ifname"]
        run("sysctl", "-q", "-w", f"net.ipv6.conf.{ifname}.disable_ipv6=1", netns=ns)
        run("ip", "link", "set", ifname, "address", host["assigned_mac"], netns=ns)
        for feature in host["disable_offload"]:
            run("ethtool", "--offload", ifname, feature, "off", netns=ns, check=False)
        run("ip", "addr", "add", host["assigned_ipv4"], "dev", ifname, netns=ns)
        run("ip", "link", "set", ifname, "up", netns=ns)
        if host["ipv4_gw"]:
            run("ip", "route", "add", "default", "via", host["ipv4_gw"], "dev", ifname,
                netns=ns)
        for address, mac in host["static_arp"].items():
            run("ip", "neigh", "replace", address, "lladdr", mac, "dev", ifname, netns=ns)

    def _start_switch(self, name: str, index: int, ports: list[int], cpu_port: int) -> None:
        address = f"127.0.0.1:{GRPC_BASE + index}"
        argv = ["ip", "netns", "exec", self.switch_ns, sys.executable, "-m", "target.cli",
                "--no-p4", "--device-id", "1", "--cpu-port", str(cpu_port),
                "--grpc-server-addr", address]
        for port in ports:
            argv += ["-i", f"{port}@{name}-eth{port}"]
        process = subprocess.Popen(argv, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.switches[name] = process
        self.addresses[name] = address
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "listening" in line:
                return
        raise AssertionError(f"{name} did not start:\n" + "".join(lines))

    def close(self) -> None:
        for process in self.bridge_commands:  # the shell and what it started in background
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        for process in self.switches.values():
            process.terminate()
        for name, process in self.switches.items():
            assert process.wait(timeout=20) == 0, f"{name} exited with {process.returncode}"

    # ---------------------------------------------------------------- running things
    @contextmanager
    def controller(self, script: str, *args: str) -> Iterator[subprocess.Popen]:
        """An example program running in the switches' namespace (stdout captured)."""
        # Line by line, as on a terminal: the tests read what an example prints as it goes.
        process = subprocess.Popen(
            ["ip", "netns", "exec", self.switch_ns, finsy_python(),
             str(self.example / script), *args],
            cwd=self.example, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    def ping(self, source: str, target: str) -> bool:
        address = self.hosts[target]["assigned_ipv4"].split("/")[0]
        result = run("ping", "-c", "1", "-W", "1", address, netns=self.host_ns[source],
                     check=False)
        return result.returncode == 0

    def pingall(self) -> tuple[int, int]:
        """Mininet's pingall: one ping from every host to every other; (received, sent)."""
        pairs = [(a, b) for a in self.hosts for b in self.hosts if a != b]
        return sum(self.ping(a, b) for a, b in pairs), len(pairs)

    def pingall_until(self, timeout: float) -> tuple[int, int]:
        deadline = time.monotonic() + timeout
        while True:
            received, sent = self.pingall()
            if received == sent or time.monotonic() > deadline:
                return received, sent

    @contextmanager
    def grpc(self, switch: str) -> Iterator[grpc.Channel]:
        """A channel to a switch from inside the switches' namespace."""
        host, port = self.addresses[switch].rsplit(":", 1)
        with tcp_into_netns(self.switch_ns, host, int(port)) as address:
            channel = grpc.insecure_channel(address)
            try:
                grpc.channel_ready_future(channel).result(timeout=10)
                yield channel
            finally:
                channel.close()


@contextmanager
def network(example: str) -> Iterator[Network]:
    with TestBed() as bed:
        net = Network(bed, example)
        try:
            yield net
        finally:
            net.close()


def read_multicast(net: Network, switch: str) -> dict[int, list[int]]:
    with net.grpc(switch) as channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        request = p4runtime_pb2.ReadRequest(device_id=1)
        entity = request.entities.add()
        entity.packet_replication_engine_entry.multicast_group_entry.SetInParent()
        groups = {}
        try:
            for reply in stub.Read(request, timeout=10):
                for e in reply.entities:
                    group = e.packet_replication_engine_entry.multicast_group_entry
                    groups[group.multicast_group_id] = sorted(r.egress_port
                                                              for r in group.replicas)
        except grpc.RpcError as err:
            if err.code() != grpc.StatusCode.FAILED_PRECONDITION:  # no pipeline yet: none
                raise
        return groups


def hello_routes(net: Network, switch: str) -> dict[str, int]:
    """hello.p4's ipv4 entries with action forward: destination address -> port."""
    from google.protobuf import text_format

    from runtime_server.proto import p4info_pb2

    info = text_format.Parse((net.example / "p4" / "hello.p4info.txtpb").read_text(),
                             p4info_pb2.P4Info())
    table = next(t.preamble.id for t in info.tables if t.preamble.name == "MyIngress.ipv4")
    forward = next(a.preamble.id for a in info.actions
                   if a.preamble.name == "MyIngress.forward")
    with net.grpc(switch) as channel:
        stub = p4runtime_pb2_grpc.P4RuntimeStub(channel)
        request = p4runtime_pb2.ReadRequest(device_id=1)
        request.entities.add().table_entry.table_id = table
        routes = {}
        for reply in stub.Read(request, timeout=10):
            for e in reply.entities:
                entry = e.table_entry
                if entry.action.action.action_id == forward and entry.match:
                    field = entry.match[0]
                    value = field.exact.value or field.lpm.value
                    address = socket.inet_ntoa(value.rjust(4, b"\0"))
                    routes[address] = int.from_bytes(entry.action.action.params[0].value, "big")
        return routes


def gnmi_ports(net: Network, switch: str) -> dict[str, int]:
    with net.grpc(switch) as channel:
        stub = gnmi_pb2_grpc.gNMIStub(channel)
        path = gnmi_pb2.Path()
        path.elem.add(name="interfaces")
        path.elem.add(name="interface").key["name"] = "*"
        path.elem.add(name="state")
        path.elem.add(name="ifindex")
        reply = stub.Get(gnmi_pb2.GetRequest(path=[path], encoding=gnmi_pb2.Encoding.PROTO),
                         timeout=10)
        return {u.path.elem[1].key["name"]: u.val.uint_val
                for n in reply.notification for u in n.update}


def wait_output(process: subprocess.Popen, lines: int, timeout: float) -> list[str]:
    """The next `lines` lines of stdout (fewer when the process ends or time runs out)."""
    fd = process.stdout.fileno()
    pending = _pending.setdefault(fd, b"")
    deadline = time.monotonic() + timeout
    while pending.count(b"\n") < lines:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        pending += chunk
    *complete, rest = pending.split(b"\n")
    taken = complete[:lines]
    _pending[fd] = b"".join(line + b"\n" for line in complete[lines:]) + rest
    return [line.decode() for line in taken]


_pending: dict[int, bytes] = {}


def send_arp_request(net: Network, host: str, target: str) -> None:
    """A broadcast ARP request from `host` for `target`, as arping sends it."""
    info = net.hosts[host]
    mac = bytes.fromhex(info["assigned_mac"].replace(":", ""))
    ip = socket.inet_aton(info["assigned_ipv4"].split("/")[0])
    frame = (b"\xff" * 6 + mac + b"\x08\x06" + b"\x00\x01\x08\x00\x06\x04\x00\x01" + mac + ip
             + bytes(6) + socket.inet_aton(target))
    with in_netns(net.host_ns[host]):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    try:
        s.bind((info["ifname"], 0))
        s.send(frame)
    finally:
        s.close()


def sniff(net: Network, host: str) -> socket.socket:
    with in_netns(net.host_ns[host]):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    s.bind((net.hosts[host]["ifname"], 0))
    s.settimeout(0.2)
    return s


# ---------------------------------------------------------------------- the examples
def test_basic_demo_pingall() -> None:
    with network("basic") as net, net.controller("demo.py") as demo:
        assert demo.wait(timeout=60) == 0, demo.stderr.read()
        received, sent = net.pingall_until(10)
        assert (received, sent) == (12, 12)


def test_hello_demo1_floods_and_pingall() -> None:
    with network("hello") as net, net.controller("demo1.py"):
        received, sent = net.pingall_until(30)
        assert (received, sent) == (6, 6)
        assert read_multicast(net, "s2") == {1: [1, 2, 3, 255]}


def test_hello_demo2_floods_over_gnmi_ports() -> None:
    with network("hello") as net, net.controller("demo2.py") as demo:
        # demo2 builds its flood group from finsy's port list, which finsy fills over gNMI.
        expected = {"s1": [1, 2, 255], "s2": [1, 2, 3, 255], "s3": [1, 2, 255]}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            groups = {s: read_multicast(net, s).get(1) for s in expected}
            if groups == expected:
                break
            assert demo.poll() is None, demo.stderr.read()
            time.sleep(0.2)
        assert groups == expected
        assert sorted(gnmi_ports(net, "s2").values()) == [1, 2, 3]
        # An ARP request from h1 is flooded by s1 and s2 to every other port: h2 and h3
        # see it on their wires.
        sniffers = {h: sniff(net, h) for h in ("h2", "h3")}
        try:
            seen = {h: False for h in sniffers}
            deadline = time.monotonic() + 10
            while not all(seen.values()) and time.monotonic() < deadline:
                send_arp_request(net, "h1", "10.0.0.99")
                for host, s in sniffers.items():
                    try:
                        while True:
                            frame = s.recv(2048)
                            if frame[28:32] == socket.inet_aton("10.0.0.1"):
                                seen[host] = True
                    except TimeoutError:
                        pass
            assert seen == {"h2": True, "h3": True}
        finally:
            for s in sniffers.values():
                s.close()
        net.pingall()  # the first round teaches demo2 every host's port (ARP packet-ins)
        received, sent = net.pingall_until(20)
        assert (received, sent) == (6, 6)
        # What demo2 learned from the packet-ins' ingress_port, as finsy's own test expects.
        assert hello_routes(net, "s1") == {"10.0.0.1": 1, "10.0.0.2": 2, "10.0.0.3": 2}
        assert hello_routes(net, "s2") == {"10.0.0.1": 2, "10.0.0.2": 1, "10.0.0.3": 3}
        assert hello_routes(net, "s3") == {"10.0.0.1": 2, "10.0.0.2": 2, "10.0.0.3": 1}


def test_l2_switch_demo_pingall() -> None:
    with network("l2_switch") as net, net.controller("demo.py") as demo:
        time.sleep(2)
        assert demo.poll() is None, demo.stderr.read()
        net.pingall()
        received, sent = net.pingall_until(30)
        assert (received, sent) == (6, 6)
        assert read_multicast(net, "s1") == {0xab: [1, 2, 3]}


def test_gnmi_demo1_lists_interfaces() -> None:
    with network("gnmi") as net, net.controller("demo1.py") as demo:
        assert demo.wait(timeout=30) == 0, demo.stderr.read()
        assert demo.stdout.read() == "Interface 's1-eth1' is UP\n"


def test_gnmi_demo2_follows_oper_status() -> None:
    with network("gnmi") as net, net.controller("demo2.py") as demo:
        assert wait_output(demo, 1, 30) == ["initial: s1-eth1 is UP"]
        run("ip", "link", "set", "eth0", "down", netns=net.host_ns["h1"])
        assert wait_output(demo, 1, 10) == ["update:  s1-eth1 is DOWN"]
        run("ip", "link", "set", "eth0", "up", netns=net.host_ns["h1"])
        assert wait_output(demo, 1, 10) == ["update:  s1-eth1 is UP"]



def int_reports(lines: list[str]) -> list[dict]:
    """The reports int_listen printed: each a dict (int_report.parse_msg's) on a line."""
    return [ast.literal_eval(line) for line in lines if line.startswith("{")]


def test_int_demo_reports_each_hop() -> None:
    """The README's demo: `python demo` with net/run.py's network, then a UDP packet from h1
    to h2. s1 (INT source) sends it by s3 to s2 (sink), each adding its metadata; s2 clones a
    report to the collector bridge int1, whose socat hands it to int_listen over TCP 6000."""
    with network("int") as net, net.controller("demo") as demo:
        lines = wait_output(demo, 1, 30)
        assert lines and lines[0].startswith("int_listen serving on"), \
            (lines, demo.stderr.read() if demo.poll() is not None else "")
        reports: list[dict] = []
        deadline = time.monotonic() + 30
        while not reports and time.monotonic() < deadline:
            # the switches take their entries after the listener starts: until then the
            # packet crosses no INT source (or no switch forwards it)
            run("sh", "-c", "echo abc | socat - udp:10.0.2.2:5555", netns=net.host_ns["h1"])
            reports = int_reports(wait_output(demo, 4, 2))
        assert len(reports) == 1, demo.stderr.read() if demo.poll() is not None else ""
    [report] = reports
    h1, h2 = (socket.inet_aton(net.hosts[h]["assigned_ipv4"].split("/")[0]) for h in ("h1", "h2"))
    # The sink (s2) reports the packet h1 sent ("abc\n"), carrying three hops' metadata of 10
    # words each (s1's configure_source: max_hop 4, all 8 fields of mask 0xFF00), newest
    # first: switch ids as configure_transit gives them, ports those of h1-s1-s3-s2-h2 in
    # net/run.py. The sink's own hop is written on the report clone, which BMv2 gives no
    # ingress port (an I2E clone's metadata is reset) and the report port 4 as egress: the
    # report int_report.py keeps as its sample (from stratum_bmv2) has the same shape.
    assert {k: v for k, v in report.items() if k not in ("udp4_src", "nodes")} == {
        "_verlen": 0x14, "switch_id": 2, "seq_num": 0, "eth_type": 0x0800,
        "ipv4_src": int.from_bytes(h1, "big"), "ipv4_dst": int.from_bytes(h2, "big"),
        "udp4_dst": 5555, "udp4_len": 8 + 4 + 12 + 3 * 40, "int_type": 1, "len": 3 + 3 * 10,
        "_hop_metadata_len": 10, "remaining_hop_cnt": 4 - 3, "instruction_mask": 0xFF00}
    assert [(n["switch_id"], n["ingress_port_id"], n["egress_port_id"])
            for n in report["nodes"]] == [(2, 0, 4), (3, 2, 3), (1, 1, 3)]
    for node in report["nodes"]:
        assert (node["_q_occupancy"], node["l2_ingress_port_id"], node["l2_egress_port_id"],
                node["egress_port_tx_util"]) == (0, 0, 0, 0)
        assert node["egress_tstamp"] >= node["ingress_tstamp"] > 0
    for node in report["nodes"][1:]:   # transit hops: egress - ingress time, in microseconds
        assert node["hop_latency"] * 1000 == node["egress_tstamp"] - node["ingress_tstamp"]
