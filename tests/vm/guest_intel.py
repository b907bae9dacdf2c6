"""The Intel driver against QEMU's emulated 82576 NICs, run INSIDE the VM that
tests/vm/run_vm.sh boots (tests/test_intel_vm.py does that). Two wires: A (00:0a.0) with
A_PEER (00:06.0), and B (00:0c.0) with B_PEER (00:08.0); what one end transmits, the other
receives. The forwarding tests make A and B the switch's ports 1 and 2, so A_PEER and B_PEER
are the hosts on either side."""

import os
import random
import re
import struct
import subprocess
import sys
import threading
import time

import pytest
from shared_data import program

from target import Lpm, Switch
from target.driver.intel.device import IntelDevice
from target.driver.intel.pci import PciDevice, PciError
from target.packet import PacketPool

A, A_PEER = "0000:00:0a.0", "0000:00:06.0"
B, B_PEER = "0000:00:0c.0", "0000:00:08.0"
ALL_NICS = (A, A_PEER, B, B_PEER)
MAC_A, MAC_A_PEER = bytes.fromhex("52540000000a"), bytes.fromhex("525400000006")

if not os.path.isdir(f"/sys/bus/pci/devices/{A}"):
    raise RuntimeError("guest_intel.py runs inside the VM of tests/vm/run_vm.sh only")


@pytest.fixture(scope="module", autouse=True)
def hugepages():
    with open("/proc/sys/vm/nr_hugepages", "w") as f:
        f.write("128")


def udp_frame(i: int, size: int = 64, dst: bytes = MAC_A_PEER, src: bytes = MAC_A) -> bytes:
    payload_len = size - 42
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 8 + payload_len, i & 0xFFFF, 0, 64, 17, 0,
                     bytes([10, 0, (i >> 8) & 0xFF, i & 0xFF]), bytes([10, 1, 0, 1]))
    udp = struct.pack("!HHHH", 1000 + i % 4000, 2000 + (i * 7) % 5000, 8 + payload_len, 0)
    body = bytes((i + k) & 0xFF for k in range(payload_len))
    return dst + src + b"\x08\x00" + ip + udp + body


def open_pair(access="pagemap", b_queues=1, ring=256):
    """A and its peer: A zero copy on a pool in its DMA memory, the peer in copy mode."""
    devs = [IntelDevice.open(A, access), IntelDevice.open(A_PEER, access)]
    pa = devs[0].port(1, ring)
    pa.open(devs[0].make_pool(1024, 4096))        # zero copy: pool in DMA memory
    pb = devs[1].port(b_queues, ring)
    pb.open(PacketPool(2048, 2560))               # copy mode: an ordinary pool
    return devs, pa, pb


def close_pair(devs, *ports):
    for p in ports:
        p.close()
    for d in devs:
        d.close()


def drain(port, want, tries=200):
    got = []
    for _ in range(tries):
        got += port.receive(256)
        if len(got) >= want:
            break
    return got


def test_pagemap_link_send_receive_both_ways():
    devs, pa, pb = open_pair()
    try:
        assert pa.link_state() and pb.link_state()
        assert pa.zero_copy and not pb.zero_copy
        assert devs[0].mac_address() == "52:54:00:00:00:0a"
        frames = [udp_frame(i, s) for i, s in enumerate([60, 64, 128, 1000, 1514] * 4)]
        assert pa.send(frames) == len(frames)
        assert drain(pb, len(frames)) == frames
        back = [udp_frame(i, 200, dst=MAC_A, src=MAC_A_PEER) for i in range(10)]
        pb.send(back)
        assert drain(pa, 10) == back
        sa, sb = pa.stats(), pb.stats()
        assert sa["tx_packets"] == len(frames) and sb["rx_packets"] == len(frames)
        assert sb["hw_rx_good"] == len(frames) and sa["hw_tx_good"] == len(frames)
    finally:
        close_pair(devs, pa, pb)


def test_ring_wraps_around():
    devs, pa, pb = open_pair(ring=64)
    try:
        sent, got = [], []
        for burst in range(12):                   # 12 x 40 frames through 64-entry rings
            frames = [udp_frame(burst * 40 + k, 60 + k * 30) for k in range(40)]
            pa.send(frames)
            sent += frames
            got += drain(pb, 40)
        assert got == sent
    finally:
        close_pair(devs, pa, pb)


def test_rss_spreads_flows_over_queues():
    devs, pa, pb = open_pair(b_queues=4)
    try:
        frames = [udp_frame(i) for i in range(200)]
        for k in range(0, 200, 50):
            pa.send(frames[k:k + 50])
        got = drain(pb, 200)
        assert sorted(got) == sorted(frames)
        per_queue = pb.queue_packets()
        assert sum(per_queue) == 200
        assert sum(1 for n in per_queue if n > 0) >= 3, per_queue
    finally:
        close_pair(devs, pa, pb)


def test_rx_ring_full_does_not_hang():
    """QEMU's model holds frames back while the ring is full and its net queue then discards
    the overflow without touching the NIC's counters (silicon with SRRCTL.DROP_EN counts them
    in MPC/RNBC; the offline tests check that accounting). Here: no hang, a full ring delivers
    size - 1 frames, what arrives is an in-order prefix, and traffic resumes."""
    devs, pa, pb = open_pair(ring=64)
    try:
        sent = []
        for k in range(4):                        # 160 frames, nobody harvesting the peer
            frames = [udp_frame(k * 40 + i) for i in range(40)]
            pa.send(frames)
            sent += frames
        first = pb.receive(256)
        assert len(first) == 63                   # a full ring holds size - 1 frames
        got = first + drain(pb, 160 - 63)
        assert got == sent[:len(got)]
        assert len(got) <= 160
        pa.send([udp_frame(999)])
        assert drain(pb, 1) == [udp_frame(999)]
    finally:
        close_pair(devs, pa, pb)


def test_stop_and_restart():
    devs, pa, pb = open_pair()
    try:
        pa.send([udp_frame(1)])
        assert drain(pb, 1) == [udp_frame(1)]
        pool_b = PacketPool(2048, 2560)
        pb.close()
        pb.open(pool_b)
        pa.send([udp_frame(3)])
        assert drain(pb, 1) == [udp_frame(3)]
        pb.close()
        assert pool_b.available == pool_b.capacity
        pb.open(pool_b)
        assert pb.link_state()
        pa.send([udp_frame(2)])
        assert drain(pb, 1) == [udp_frame(2)]
    finally:
        close_pair(devs, pa, pb)


def exchange(sender, ports, count: int, first: int) -> list[list[bytes]]:
    """`count` frames of as many flows from `sender`, and what each of `ports` received."""
    frames = [udp_frame(first + i, 128, dst=MAC_A, src=MAC_A_PEER) for i in range(count)]
    assert sender.send(frames) == count
    got: list[list[bytes]] = [[] for _ in ports]
    deadline = time.monotonic() + 10
    while sum(map(len, got)) < count and time.monotonic() < deadline:
        for port, frames_in in zip(ports, got, strict=True):
            frames_in += port.receive(256)
    assert sorted(f for g in got for f in g) == sorted(frames)
    return got


def test_share_closes_and_opens_again_alone():
    """Worker 1's share of A closes while the lead runs: RSS takes its queue out, so every
    frame reaches the lead. It opens again on the same rings, takes its flows back and
    receives them in place on its own DMA pool; both pools whole at the end."""
    devs = {addr: IntelDevice.open(addr, "pagemap") for addr in (A, A_PEER)}
    ports = []
    try:
        lead = devs[A].port(None, 256)
        share = lead.worker_queues(2)[0]
        pools = [devs[A].make_pool(1024, 4096) for _ in range(2)]
        lead.open(pools[0])
        ports.append(lead)
        share.open(pools[1])
        ports.append(share)
        sender = devs[A_PEER].port(1, 256)
        sender.open(PacketPool(1024, 2560))
        ports.append(sender)
        assert lead.link_state() and sender.link_state()
        rings = [devs[A].chip.regs.read(name, 1) for name in ("RDBAL", "TDBAL")]
        to_lead, to_share = exchange(sender, [lead, share], 64, 0)
        assert to_lead and to_share
        share.close()
        assert pools[1].available == pools[1].capacity
        to_lead, to_share = exchange(sender, [lead, share], 64, 100)
        assert len(to_lead) == 64 and to_share == []
        share.open(pools[1])
        assert [devs[A].chip.regs.read(name, 1) for name in ("RDBAL", "TDBAL")] == rings
        to_lead, to_share = exchange(sender, [lead, share], 64, 200)
        assert to_lead and to_share
        stats = share.stats()
        assert stats["rx_zero_copy"] == stats["rx_packets"] > 0 and stats["rx_copied"] == 0
    finally:
        for port in reversed(ports):
            port.close()
        for dev in devs.values():
            dev.close()
    assert [p.available for p in pools] == [p.capacity for p in pools]


# --- kvick between the wires: the tutorials' LPM router, packet by packet ---------------------
BASIC = program("tutorial_basic")
ROUTES = [                      # (prefix, length, next-hop MAC, egress port)
    (0x0A010000, 16, 0x020000000201, 2),
    (0x0A010500, 24, 0x020000000202, 2),        # longer prefixes inside the /16 win
    (0x0A010507, 32, 0x020000000203, 2),
    (0x0A020000, 16, 0x020000000101, 1),        # hairpin: out of the port it came in on
]
UNROUTED = 0x0A030000           # 10.3.0.0/16 has no route: the default action drops it


def route_of(dst: int) -> tuple[int, int] | None:
    """(next-hop MAC, port) of the longest matching prefix, by looking at every route."""
    best = None
    for prefix, length, mac, port in ROUTES:
        mask = (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        if dst & mask == prefix and (best is None or length > best[0]):
            best = (length, mac, port)
    return None if best is None else (best[1], best[2])


def ones_complement_sum(data: bytes) -> int:
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def ipv4_udp_frame(rng: random.Random, seq: int, dst_ip: int) -> bytes:
    size = rng.choice([60, 64, 128, 333, 1000, 1514])
    payload_len = size - 42
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, rng.randrange(256), size - 14, seq,
                                   0x4000, rng.randrange(2, 256), 17, 0,
                                   bytes([192, 168, 1, rng.randrange(1, 255)]),
                                   dst_ip.to_bytes(4, "big")))
    header[10:12] = struct.pack("!H", 0xFFFF - ones_complement_sum(bytes(header)))
    udp = struct.pack("!HHHH", rng.randrange(1024, 65536), 53, 8 + payload_len, 0)
    body = bytes(rng.randrange(256) for _ in range(payload_len))
    return MAC_A + MAC_A_PEER + b"\x08\x00" + bytes(header) + udp + body


def after_router(frame: bytes) -> tuple[int, bytes] | None:
    """What tutorial_basic makes of `frame`: (egress port, frame) or None when dropped.
    ipv4_forward: the old destination MAC becomes the source, the route's MAC the
    destination, TTL - 1, and the deparser recomputes the header checksum."""
    hop = route_of(int.from_bytes(frame[30:34], "big"))
    if hop is None:
        return None
    mac, port = hop
    out = bytearray(frame)
    out[0:6] = mac.to_bytes(6, "big")
    out[6:12] = frame[0:6]
    out[22] = frame[22] - 1
    out[24:26] = b"\0\0"
    out[24:26] = struct.pack("!H", 0xFFFF - ones_complement_sum(bytes(out[14:34])))
    return port, bytes(out)


def collect(ports_and_lists, want: list[int], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for (port, got), n in zip(ports_and_lists, want, strict=True):
            if len(got) < n:
                got += port.receive(256)
        if all(len(got) >= n for (_, got), n in zip(ports_and_lists, want, strict=True)):
            return
        time.sleep(0.001)


def forward_router_traffic(access: str, count: int = 600, burst: int = 40) -> None:
    """A_PEER sends through kvick (ports 1 = A, 2 = B, both zero copy on ONE pool in A's DMA
    memory) to B_PEER; hairpinned frames come back to A_PEER; unrouted ones vanish."""
    devs = {addr: IntelDevice.open(addr, access) for addr in ALL_NICS}
    sw = None
    try:
        pool = devs[A].make_pool(2048, 4096)
        sw = Switch(pool=pool, batch_size=32)
        sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
        for prefix, length, mac, port in ROUTES:
            sw.table_add("MyIngress.ipv4_lpm", [Lpm(prefix, length)], "MyIngress.ipv4_forward",
                         [mac, port])
        sw.table_set_default("MyIngress.ipv4_lpm", "MyIngress.drop", [])
        port1, port2 = devs[A].port(1, 256), devs[B].port(1, 256)
        sw.add_port(1, port1)
        sw.add_port(2, port2)
        assert port1.zero_copy and port2.zero_copy      # B transmits A's buffers in place
        sender, receiver = devs[A_PEER].port(1, 256), devs[B_PEER].port(1, 256)
        sender.open(PacketPool(1024, 2560))
        receiver.open(PacketPool(1024, 2560))
        assert all(p.link_state() for p in (port1, port2, sender, receiver))

        rng = random.Random(5)
        targets = [0x0A010000, 0x0A010500, 0x0A010507, 0x0A020000, UNROUTED]
        frames = [ipv4_udp_frame(rng, i, rng.choice(targets) | rng.randrange(256) * (i % 2))
                  for i in range(count)]
        outcome = [after_router(f) for f in frames]
        want_b = [f for o in outcome if o and o[0] == 2 for f in [o[1]]]
        want_a = [f for o in outcome if o and o[0] == 1 for f in [o[1]]]
        assert want_a and want_b and None in outcome

        got_b: list[bytes] = []
        got_a: list[bytes] = []
        sw.start()
        try:
            for k in range(0, count, burst):
                assert sender.send(frames[k:k + burst]) == len(frames[k:k + burst])
                done = outcome[:k + burst]
                # Wait for this burst before the next: A's ring never overflows in TCG stalls.
                collect([(receiver, got_b), (sender, got_a)],
                        [sum(1 for o in done if o and o[0] == 2),
                         sum(1 for o in done if o and o[0] == 1)])
            collect([(receiver, got_b), (sender, got_a)], [len(want_b) + 1, len(want_a) + 1], 0.3)
        finally:
            sw.stop()
        assert len(got_b) == len(want_b) and len(got_a) == len(want_a)
        for i, (got, want) in enumerate(zip(got_b, want_b, strict=True)):
            assert got == want, f"frame {i} to B_PEER differs"
            assert ones_complement_sum(got[14:34]) == 0xFFFF
        assert got_a == want_a

        n_dropped = outcome.count(None)
        s1, s2 = sw.port_stats(1), sw.port_stats(2)
        assert s1["rx_packets"] == count and s1["rx_bytes"] == sum(map(len, frames))
        assert s1["hw_rx_good"] == count and s1["rx_dropped"] == 0
        assert s1["tx_packets"] == s1["hw_tx_good"] == len(want_a)
        assert s2["tx_packets"] == s2["hw_tx_good"] == len(want_b)
        assert s2["tx_bytes"] == sum(map(len, want_b)) and s2["tx_dropped"] == 0
        assert s2["rx_packets"] == 0
        engine = sw.stats()
        assert engine["rx_packets"] == count and engine["dropped"] == n_dropped
        assert engine["tx_packets"] == len(want_a) + len(want_b)
        ss, sr = sender.stats(), receiver.stats()
        assert ss["hw_tx_good"] == count and ss["hw_rx_good"] == len(want_a)
        assert sr["hw_rx_good"] == len(want_b) and sr["rx_packets"] == len(want_b)

        for num in (1, 2):
            sw.remove_port(num)
        assert port1.tx_in_flight() == 0
        assert pool.available == pool.capacity          # every DMA buffer came home
        sender.close()
        receiver.close()
    finally:
        tear_down(sw, devs)


def tear_down(sw: Switch | None, devs: dict[str, IntelDevice]) -> None:
    """After a test with kvick between the wires, passed or not: the switch stopped, its
    ports closed, every device closed."""
    if sw is not None:
        sw.stop()
        for num in list(sw.ports):
            sw.remove_port(num)
    for dev in devs.values():
        dev.close()


def test_switch_forwards_router_traffic_pagemap():
    forward_router_traffic("pagemap")


def flow_frame(flow: int, seq: int) -> bytes:
    """Frame `seq` of flow `flow` (its own source address and UDP port), routed to port 2."""
    size = (64, 128, 600, 1514)[(flow + seq) % 4]
    payload_len = size - 42
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, size - 14, seq, 0x4000, 64, 17, 0,
                                   bytes([192, 168, flow >> 8, flow & 0xFF]),
                                   bytes([10, 1, flow % 7, flow % 11])))
    header[10:12] = struct.pack("!H", 0xFFFF - ones_complement_sum(bytes(header)))
    udp = struct.pack("!HHHH", 1024 + flow, 53, 8 + payload_len, 0)
    body = struct.pack("!HH", flow, seq) + bytes((flow + seq + k) & 0xFF
                                                 for k in range(payload_len - 4))
    return MAC_A + MAC_A_PEER + b"\x08\x00" + bytes(header) + udp + body


def test_switch_two_workers_share_each_port():
    """kvick with two workers between the wires: each Intel port is split in two (RSS queue
    and TX queue per worker), each worker on a DMA pool of its own. Frames of 48 flows from
    A_PEER reach both of A's queues and both workers, and all leave B once each, every flow in
    its order, from its worker's TX queue; every share received or sent its frames in place
    (zero copy, none copied); counters exact; each pool whole again after the stop."""
    devs = {addr: IntelDevice.open(addr, "pagemap") for addr in ALL_NICS}
    sw = None
    try:
        pools = [devs[A].make_pool(2048, 4096) for _ in range(2)]
        sw = Switch(pools=pools, batch_size=32, workers=2)
        sw.load(BASIC + ".json", p4info=BASIC + ".p4info.txtpb")
        for prefix, length, mac, port in ROUTES[:3]:
            sw.table_add("MyIngress.ipv4_lpm", [Lpm(prefix, length)], "MyIngress.ipv4_forward",
                         [mac, port])
        port1, port2 = devs[A].port(None, 256), devs[B].port(None, 256)
        sw.add_port(1, port1)
        sw.add_port(2, port2)
        a_shares, b_shares = sw._queues[1], sw._queues[2]
        assert [q.hw_rx_queues for q in a_shares] == [(0,), (1,)]
        assert [q.tx_queue for q in b_shares] == [0, 1]
        sender, receiver = devs[A_PEER].port(1, 256), devs[B_PEER].port(1, 256)
        sender.open(PacketPool(1024, 2560))
        receiver.open(PacketPool(1024, 2560))
        assert all(p.link_state() for p in (port1, port2, sender, receiver))

        flows, per_flow, burst = 48, 12, 48
        frames = [flow_frame(f, s) for s in range(per_flow) for f in range(flows)]
        want = [after_router(f) for f in frames]
        assert all(w is not None and w[0] == 2 for w in want)
        got: list[bytes] = []
        sw.start()
        try:
            for k in range(0, len(frames), burst):
                assert sender.send(frames[k:k + burst]) == len(frames[k:k + burst])
                collect([(receiver, got)], [k + burst])
            collect([(receiver, got)], [len(frames) + 1], 0.3)
        finally:
            sw.stop()
        assert len(got) == len(frames)
        assert sorted(got) == sorted(w[1] for w in want)          # none lost, none twice
        for flow in range(flows):
            seqs = [struct.unpack("!H", g[44:46])[0] for g in got
                    if struct.unpack("!H", g[42:44])[0] == flow]
            assert seqs == list(range(per_flow)), f"flow {flow} out of order: {seqs}"

        rx_queue = [q.queue_packets()[0] for q in a_shares]
        assert sum(rx_queue) == len(frames) and min(rx_queue) > 0, rx_queue
        assert [sw.pipeline.worker_stats(k)["rx_packets"] for k in range(2)] == rx_queue
        tx_queue = [q.stats()["tx_packets"] for q in b_shares]
        assert tx_queue == rx_queue             # a flow leaves on its worker's own TX queue
        rx_stats, tx_stats = sw.queue_stats(1), sw.queue_stats(2)
        assert [(s["rx_zero_copy"], s["rx_copied"]) for s in rx_stats] == [(n, 0) for n in rx_queue]
        assert [(s["tx_zero_copy"], s["tx_copied"]) for s in tx_stats] == [(n, 0) for n in rx_queue]
        s1, s2 = sw.port_stats(1), sw.port_stats(2)
        assert s1["rx_packets"] == s1["hw_rx_good"] == len(frames)
        assert s1["rx_bytes"] == sum(map(len, frames)) and s1["rx_dropped"] == 0
        assert s2["tx_packets"] == s2["hw_tx_good"] == len(frames)
        assert s2["tx_bytes"] == sum(len(w[1]) for w in want) and s2["tx_dropped"] == 0
        engine = sw.stats()
        assert engine["rx_packets"] == engine["tx_packets"] == len(frames)

        for num in (1, 2):
            sw.remove_port(num)
        assert [p.available for p in pools] == [p.capacity for p in pools]
        sender.close()
        receiver.close()
    finally:
        tear_down(sw, devs)


def test_kvick_command_with_two_workers(tmp_path):
    """`kvick --workers 2 -i 1@intel:A -i 2@intel:B` (the command line, as a user runs it):
    every frame of 32 flows from A_PEER leaves B once, each flow in its order, and kvick's
    exit lines show both workers receiving (on A) and sending (on B) in place, none copied."""
    table = tmp_path / "routes.txt"
    table.write_text("table_add MyIngress.ipv4_lpm MyIngress.ipv4_forward 10.1.0.0/16 => "
                     "02:00:00:00:02:01 2\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "target.cli", BASIC + ".json", "--restore-state", str(table),
         "--workers", "2", "--native", "off", "--grpc-server-addr", "127.0.0.1:0",
         "--log-console", "--log-level", "info", "-i", f"1@intel:{A}", "-i", f"2@intel:{B}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    devs = {addr: IntelDevice.open(addr, "pagemap") for addr in (A_PEER, B_PEER)}
    output: list[str] = []
    listening = threading.Event()

    def read_output() -> None:          # kept drained, so kvick never blocks on its pipe
        for line in proc.stdout:
            output.append(line)
            if "P4Runtime server listening" in line:    # printed once the engine runs
                listening.set()

    reader = threading.Thread(target=read_output, daemon=True)
    reader.start()
    try:
        assert listening.wait(240) and proc.poll() is None, "".join(output)
        sender, receiver = devs[A_PEER].port(1, 256), devs[B_PEER].port(1, 256)
        sender.open(PacketPool(1024, 2560))
        receiver.open(PacketPool(1024, 2560))
        assert sender.link_state() and receiver.link_state()
        flows, per_flow, burst = 32, 8, 32
        frames = [flow_frame(f, s) for s in range(per_flow) for f in range(flows)]
        got: list[bytes] = []
        for k in range(0, len(frames), burst):
            assert sender.send(frames[k:k + burst]) == len(frames[k:k + burst])
            collect([(receiver, got)], [k + burst], 30.0)
        collect([(receiver, got)], [len(frames) + 1], 0.5)
        assert len(got) == len(frames)
        keys = [struct.unpack("!HH", g[42:46]) for g in got]
        assert sorted(keys) == sorted((f, s) for f in range(flows) for s in range(per_flow))
        for flow in range(flows):
            assert [s for f, s in keys if f == flow] == list(range(per_flow)), flow
        assert all(g[:6] == bytes.fromhex("020000000201") for g in got)
        sender.close()
        receiver.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        reader.join(10)
        for dev in devs.values():
            dev.close()
    assert proc.returncode == 0, "".join(output)
    counts = {}
    for line in output:
        found = re.search(r"port (\d) \(intel:\S+\) worker (\d): received (\d+) zero copy, "
                          r"(\d+) copied; sent (\d+) zero copy, (\d+) copied", line)
        if found:
            port, worker, *numbers = map(int, found.groups())
            counts[port, worker] = numbers
    rx = [counts[1, k][0] for k in (0, 1)]
    assert sum(rx) == len(frames) and min(rx) > 0, counts
    assert [counts[2, k] for k in (0, 1)] == [[0, 0, n, 0] for n in rx], counts
    assert [counts[1, k] for k in (0, 1)] == [[n, 0, 0, 0] for n in rx], counts


def test_refusals_name_the_problem():
    with pytest.raises(PciError, match="not a PCI address"):
        IntelDevice.open("nonsense")
    with pytest.raises(PciError, match="no PCI device"):
        IntelDevice.open("0000:00:1f.7")
    with pytest.raises(PciError, match="not an Intel device"):
        IntelDevice.open([d for d in os.listdir("/sys/bus/pci/devices")
                          if PciDevice(d).vendor != 0x8086][0])
    with pytest.raises(PciError, match="not vfio-pci"):
        IntelDevice.open(A, "vfio")


def test_vfio_with_virtual_iommu():
    subprocess.run(["modprobe", "vfio-pci"], check=True)
    for addr in ALL_NICS:
        PciDevice(addr).bind_vfio()
    try:
        forward_router_traffic("vfio")
        devs, pa, pb = open_pair("vfio")
        try:
            assert pa.zero_copy
            frames = [udp_frame(i, 60 + i * 20) for i in range(70)]
            pa.send(frames)
            assert drain(pb, 70) == frames
            back = [udp_frame(i, dst=MAC_A, src=MAC_A_PEER) for i in range(5)]
            pb.send(back)
            assert drain(pa, 5) == back
        finally:
            close_pair(devs, pa, pb)
        with pytest.raises(PciError, match="bound to the kernel driver 'vfio-pci'"):
            IntelDevice.open(A, "pagemap")
    finally:
        for addr in ALL_NICS:
            dev = PciDevice(addr)
            dev.unbind()
            with open(f"{dev.path}/driver_override", "w") as f:
                f.write("\n")


def test_device_gone():
    """Last test: removes NIC B_PEER from the guest's PCI bus."""
    with open(f"/sys/bus/pci/devices/{B_PEER}/remove", "w") as f:
        f.write("1")
    with pytest.raises(PciError, match="no PCI device"):
        IntelDevice.open(B_PEER)
