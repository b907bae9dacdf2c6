"""A throwaway network test bed: namespaces and veth pairs that are always deleted.

    with TestBed() as bed:
        ns = bed.namespace()
        sw_if, host_if = bed.veth(ns)            # sw_if in this namespace, host_if inside ns
        with bed.raw_socket(ns, host_if) as s:   # a raw AF_PACKET socket bound inside ns
            s.send(frame)

Names carry the process id and a counter, so parallel runs and leftovers of a killed run never
collide. Every veth end has one RX and one TX queue unless asked for more (AF_XDP binds a
socket to one queue; an engine with N workers takes N), no
IPv6 (no router solicitations or DAD chatter on the wire) and no checksum offload on the
namespace side (frames a namespace's stack sends carry real checksums).
"""

from __future__ import annotations

import ctypes
import itertools
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
ETH_P_ALL = 0x0003
_counter = itertools.count()
_libc = ctypes.CDLL(None, use_errno=True)
# setns changes the namespace of the calling thread only; one thread at a time may borrow one.
_setns_lock = threading.Lock()


def run(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command (inside `netns` when given) and capture its output."""
    if netns is not None:
        argv = ("ip", "netns", "exec", netns, *argv)
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def unique_name(kind: str) -> str:
    """A name of at most 15 bytes (the interface name limit) nobody else uses."""
    return f"kv{kind}{os.getpid() % 100000}x{next(_counter)}"[:15]


@contextmanager
def in_netns(netns: str) -> Iterator[None]:
    """Run the block with the calling thread in network namespace `netns`."""
    with _setns_lock:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns into {netns}: {os.strerror(err)}")
            try:
                yield
            finally:
                if _libc.setns(home, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns back home: {os.strerror(err)}")
        finally:
            os.close(target)
            os.close(home)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@contextmanager
def tcp_into_netns(netns: str, host: str, port: int) -> Iterator[str]:
    """A TCP address in this namespace that relays every connection to host:port inside
    `netns`. gRPC connects from its own threads, which never entered `netns` (setns holds
    for one thread only), so a channel opened under in_netns may or may not reach the
    namespace; a socket is bound to the namespace it was created in, so the relay's are."""
    listener = socket.create_server(("127.0.0.1", 0))
    threads: list[threading.Thread] = []
    conns: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with in_netns(netns):
                upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                upstream.connect((host, port))
            except OSError:
                client.close()
                upstream.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=_pump, args=(a, b), daemon=True)
                t.start()
                threads.append(t)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        acceptor.join(timeout=5)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in threads:
            t.join(timeout=5)
        for s in conns:
            s.close()


class TestBed:
    """Namespaces and veth pairs created on demand and deleted by close(), whatever happened."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self.namespaces: list[str] = []
        self.links: list[str] = []  # veth ends in this namespace (deleting one deletes both)

    def __enter__(self) -> TestBed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def namespace(self) -> str:
        name = unique_name("ns")
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "link", "set", "lo", "up", netns=name)
        return name

    def veth(self, netns: str | None = None, *, mtu: int | None = None,
             queues: int = 1) -> tuple[str, str]:
        """A veth pair, both ends up: (end here, end inside `netns` or here when None), each
        with `queues` RX and TX queues."""
        here, there = unique_name("s"), unique_name("h")
        q = str(queues)
        argv = ["ip", "link", "add", here, "numtxqueues", q, "numrxqueues", q, "type", "veth",
                "peer", "name", there, "numtxqueues", q, "numrxqueues", q]
        if netns is not None:
            argv += ["netns", netns]
        run(*argv)
        self.links.append(here)
        for name, ns in ((here, None), (there, netns)):
            run("sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1", netns=ns)
            if mtu is not None:
                run("ip", "link", "set", name, "mtu", str(mtu), netns=ns)
            run("ip", "link", "set", name, "up", netns=ns)
        run("ethtool", "-K", there, "tx", "off", "rx", "off", netns=netns, check=False)
        return here, there

    def veth_between(self, netns_a: str, netns_b: str) -> tuple[str, str]:
        """A veth pair from namespace `netns_a` to `netns_b`, both ends up, one queue each;
        deleted with the namespaces. Returns (end in a, end in b)."""
        end_a, end_b = unique_name("a"), unique_name("b")
        run("ip", "link", "add", end_a, "netns", netns_a, "numtxqueues", "1", "numrxqueues", "1",
            "type", "veth", "peer", "name", end_b, "netns", netns_b,
            "numtxqueues", "1", "numrxqueues", "1")
        for name, ns in ((end_a, netns_a), (end_b, netns_b)):
            run("sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6=1", netns=ns)
            run("ip", "link", "set", name, "up", netns=ns)
        return end_a, end_b

    def address(self, netns: str, ifname: str, cidr: str) -> None:
        run("ip", "addr", "add", cidr, "dev", ifname, netns=netns)

    def host(self, address: str, gateway_mac: str) -> tuple[str, str, str]:
        """A namespace whose one interface has `address`/24 and gateway .254 at `gateway_mac`
        (a static neighbour entry: no ARP). Returns (namespace, end here, end inside)."""
        ns = self.namespace()
        here, there = self.veth(ns)
        gateway = address.rsplit(".", 1)[0] + ".254"
        self.address(ns, there, address + "/24")
        run("ip", "neigh", "replace", gateway, "lladdr", gateway_mac, "dev", there, netns=ns)
        run("ip", "route", "add", "default", "via", gateway, netns=ns)
        return ns, here, there


    @contextmanager
    def raw_socket(self, netns: str | None, ifname: str) -> Iterator[socket.socket]:
        """A raw packet socket bound to `ifname` inside `netns`, receiving every frame."""
        if netns is None:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        else:
            with in_netns(netns):
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        try:
            s.bind((ifname, 0))
            yield s
        finally:
            s.close()

    def close(self) -> None:
        errors = []
        for link in self.links:
            result = run("ip", "link", "del", link, check=False)
            if result.returncode != 0 and "Cannot find device" not in result.stderr:
                errors.append(result.stderr.strip())
        for ns in self.namespaces:
            result = run("ip", "netns", "del", ns, check=False)
            if result.returncode != 0:
                errors.append(result.stderr.strip())
        self.links.clear()
        self.namespaces.clear()
        if errors:
            raise RuntimeError("test bed teardown: " + "; ".join(errors))


def leftovers() -> list[str]:
    """Test bed namespaces and links of this process that still exist."""
    mine = f"{os.getpid() % 100000}x"
    names = [n.split()[0] for n in run("ip", "netns", "list").stdout.splitlines() if n]
    names += os.listdir("/sys/class/net")
    return [n for n in names if n.startswith("kv") and mine in n]


def receive(s: socket.socket, timeout: float, want: int = 1,
            accept=lambda frame: True) -> list[bytes]:  # noqa: ANN001
    """Frames read from `s` that `accept` takes, until `want` of them or `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    got: list[bytes] = []
    while len(got) < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            frame, addr = s.recvfrom(65535)
        except TimeoutError:
            break
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if accept(frame):
            got.append(frame)
    return got


def mac_of(netns: str | None, ifname: str) -> str:
    """The MAC address of `ifname` (inside `netns`) as aa:bb:cc:dd:ee:ff."""
    return run("cat", f"/sys/class/net/{ifname}/address", netns=netns).stdout.strip()


# ---- frames and draining shared by the real-port driver tests

TEST_SRC_MAC = "02:00:00:00:00:0a"


def udp_frame(i: int, size: int = 0) -> bytes:
    """Frame number i (in its first payload bytes), padded towards `size` bytes."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import raw
    payload = i.to_bytes(4, "big") + bytes(max(0, size - 46))
    return raw(Ether(src=TEST_SRC_MAC, dst="02:00:00:00:00:0b")
               / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=1000, dport=2000) / payload)


def is_ours(frame: bytes) -> bool:
    """Sent by these tests (the kernel sends its own frames on a fresh veth too)."""
    return frame[6:12] == bytes.fromhex("02000000000a")


def drain(port, pool, want: int, timeout: float = 2.0) -> list[bytes]:  # noqa: ANN001
    """Frames received by `port` (ours only) until `want` arrive or the time is up."""
    from target.driver.memory import QueuePort, pump
    queue = QueuePort(4096, max_frame=pool.max_frame)
    queue.open(pool)
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        if pump(port, queue, batch=64) == 0:
            time.sleep(0.001)
        got += [f for f in queue.pop_all() if is_ours(f)]
    return got

