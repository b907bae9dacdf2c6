"""Port counters the engine loop keeps (broadcast / multicast) and the administrative state
(Switch.set_port_enabled), on memory and pcap ports: what gNMI reports for every port kind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from target import Switch
from target.compiler.cache import compile_cached
from target.driver.memory import QueuePort
from target.driver.pcap import PcapPort
from target.errors import NotFound

PROGRAM = Path(__file__).resolve().parent / "p4" / "port_pair.p4"
UNICAST = bytes.fromhex("020000000002") + bytes.fromhex("020000000001") + b"\x88\xb5" + bytes(46)
BROADCAST = b"\xff" * 6 + UNICAST[6:]
MULTICAST = bytes.fromhex("01005e000001") + UNICAST[6:]


@pytest.fixture()
def switch(tmp_path: Path):  # noqa: ANN201
    json_path, p4info_path, _ = compile_cached(PROGRAM, directory=tmp_path)
    sw = Switch()
    sw.load(str(json_path), p4info=str(p4info_path))
    yield sw
    sw.stop()
    for num in list(sw.ports):
        sw.remove_port(num)


def wait_for(condition, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_memory_ports_count_group_frames_both_ways(switch: Switch) -> None:
    rx, tx = QueuePort(64), QueuePort(64)
    switch.add_port(1, rx)
    switch.add_port(2, tx)
    switch.start()
    for frame in [UNICAST] * 3 + [BROADCAST] * 2 + [MULTICAST]:
        assert rx.push(frame)
    wait_for(lambda: switch.port_stats(2)["tx_packets"] == 6)
    s1, s2 = switch.port_stats(1), switch.port_stats(2)
    assert (s1["rx_packets"], s1["rx_broadcast"], s1["rx_multicast"]) == (6, 2, 1)
    assert (s2["tx_packets"], s2["tx_broadcast"], s2["tx_multicast"]) == (6, 2, 1)
    assert s1["rx_fcs_errors"] == 0
    assert len(tx.pop_all()) == 6


def test_disabled_port_neither_receives_nor_transmits(switch: Switch) -> None:
    one, two = QueuePort(64), QueuePort(64)
    switch.add_port(1, one)
    switch.add_port(2, two)
    switch.set_port_enabled(2, False)  # before start: the loop starts with it disabled
    assert not switch.port_enabled(2)
    switch.start()
    for _ in range(4):
        one.push(UNICAST)
    wait_for(lambda: switch.port_stats(2)["tx_dropped"] == 4)
    assert two.pop_all() == []
    two.push(UNICAST)  # received while down: dropped, not forwarded to port 1
    wait_for(lambda: switch.port_stats(2)["rx_dropped"] == 1)
    assert one.pop_all() == []
    switch.set_port_enabled(2, True)
    one.push(UNICAST)
    wait_for(lambda: switch.port_stats(2)["tx_packets"] == 1)
    assert two.pop_all() == [UNICAST]
    # kept across a program load (the loop restarts)
    switch.set_port_enabled(1, False)
    json_path, p4info_path, _ = compile_cached(PROGRAM)
    switch.load(str(json_path), p4info=str(p4info_path))
    switch.start()
    two.push(UNICAST)
    wait_for(lambda: switch.port_stats(1)["tx_dropped"] == 1)
    assert one.pop_all() == []
    with pytest.raises(NotFound):
        switch.set_port_enabled(9, False)


def test_pcap_port_counts_broadcast_and_multicast(switch: Switch, tmp_path: Path) -> None:
    from scapy.utils import wrpcap

    wrpcap(str(tmp_path / "in.pcap"), [UNICAST, BROADCAST, MULTICAST, MULTICAST])
    switch.add_port(1, PcapPort(str(tmp_path / "in.pcap"), str(tmp_path / "out1.pcap")))
    sink = QueuePort(64)
    switch.add_port(2, sink)
    switch.start()
    wait_for(lambda: switch.port_stats(2)["tx_packets"] == 4)
    s1, s2 = switch.port_stats(1), switch.port_stats(2)
    assert (s1["rx_broadcast"], s1["rx_multicast"]) == (1, 2)
    assert (s2["tx_broadcast"], s2["tx_multicast"]) == (1, 2)
