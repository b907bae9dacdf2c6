"""Every p4lang/tutorials exercise solution compiled by kvick behaves as p4c's build of it.

For each ../shared/tutorials/exercises/NAME/solution/*.p4, kvick's compile is checked against
p4c's JSON and P4Info in the corpus (tutorial_NAME): the P4Infos describe the same objects
(target.compiler.compare.p4info_differences), and for each of the exercise's own switch
configurations (tutorial_NAME/extra/sN-runtime.json, installed on both switches) plus random
entries, the same frames give the same output, packet-ins and digests. The frames are
compare's generated Ethernet/IPv4 ones and the exercise's own protocol (the calculator, the
tunnel header, source routes, MRI options, link-monitor probes, flowcache's packet-outs), so
that each program's own path is exercised; flowcache, whose entries are its controller's job,
gets a few of its own. A case fails if no frame produced any output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from shared_data import CORPUS, SHARED, missing

from target.compiler.compare import behaviour_differences, p4info_differences
from target.compiler.driver import compile_file

EXERCISES = SHARED / "tutorials" / "exercises"
ETH = Ether(dst="08:00:00:00:02:22", src="08:00:00:00:01:11")


def _ipv4(dst: str = "10.0.2.2", **ip: object) -> bytes:
    return bytes(IP(src="10.0.1.1", dst=dst, **ip) / UDP(sport=1234, dport=4321) / b"payload!")


def _calc() -> list[bytes]:
    frames = []
    for op, a, b in ((b"+", 7, 5), (b"-", 3, 9), (b"&", 0xF0F0, 0xFF00), (b"|", 1, 2),
                     (b"^", 0xAA, 0xFF), (b"?", 1, 1)):
        body = b"P4\x01" + op + a.to_bytes(4, "big") + b.to_bytes(4, "big") + bytes(4)
        frames.append(bytes(Ether(dst="00:04:00:00:00:00", src="08:00:00:00:01:11", type=0x1234)
                            / body))
    frames.append(bytes(Ether(type=0x1234) / (b"P5\x01+" + bytes(12))))   # not the calculator
    return frames


def _basic_tunnel() -> list[bytes]:
    return [bytes(Ether(dst="08:00:00:00:02:22", type=0x1212)
                  / (b"\x08\x00" + dst_id.to_bytes(2, "big") + _ipv4(dst)))
            for dst_id in (1, 2, 3, 9) for dst in ("10.0.1.1", "10.0.2.2", "10.0.3.3")]


def _source_routing() -> list[bytes]:
    frames = []
    for ports in ((2, 1), (3, 2, 1), (1,), (4, 4, 4)):
        hops = b"".join(((0x8000 if i == len(ports) - 1 else 0) | p).to_bytes(2, "big")
                        for i, p in enumerate(ports))
        frames.append(bytes(Ether(type=0x1234) / (hops + _ipv4(ttl=9))))
    return frames


def _mri() -> list[bytes]:
    frames = []
    for dst in ("10.0.1.1", "10.0.2.2", "10.0.3.3"):
        for count in (0, 1, 2):
            # MRI option (31): type, length, 16-bit count, then count (swid, qdepth) records.
            option = bytes((0x1F, 4 + 8 * count)) + count.to_bytes(2, "big") + bytes(
                b for k in range(count) for b in (k + 1).to_bytes(4, "big") + bytes(4))
            frames.append(bytes(ETH / IP(src="10.0.1.1", dst=dst, options=option) / UDP()
                                / b"mri"))
    return frames


def _link_monitor() -> list[bytes]:
    frames = []
    # A probe: hop count, one data record per hop so far (the last with bos), then one
    # egress port per remaining hop.
    for hops, route in ((0, (2, 3, 1)), (1, (1, 2)), (2, (4,))):
        data = b"".join(bytes(((0x80 if i == hops - 1 else 0) | (i + 1), 2)) + bytes(4 + 12)
                        for i in range(hops))
        frames.append(bytes(Ether(dst="ff:ff:ff:ff:ff:ff", type=0x812)
                            / (bytes((hops,)) + data + bytes(route))))
    return frames


def _probe_times_cleared(frame: bytes) -> bytes:
    """A link-monitor probe with its records' timestamps (the switch's clock) zeroed."""
    if frame[12:14] != b"\x08\x12" or len(frame) < 15:
        return frame
    out = bytearray(frame)
    for k in range(frame[14]):
        start = 15 + 18 * k + 6          # after bos/swid, port and byte_cnt
        out[start:start + 12] = bytes(len(out[start:start + 12]))
    return bytes(out)


def _tcp_flows() -> list[bytes]:
    return [bytes(ETH / IP(src=src, dst=dst) / TCP(sport=sport, dport=80, flags=flags))
            for src, dst in (("10.0.1.1", "10.0.3.3"), ("10.0.3.3", "10.0.1.1"))
            for sport in (1000, 2000) for flags in ("S", "SA", "A")]


def _flowcache() -> list[bytes]:
    frames = [bytes(ETH / IP(src="10.0.1.1", dst=dst, ttl=ttl, tos=0x10) / UDP() / b"flow")
              for dst in ("10.0.2.2", "10.0.3.3") for ttl in (0, 1, 64)]
    frames.append(bytes(ETH / IP(src="10.0.1.1", dst="10.0.2.2") / TCP()))
    return frames


def _flowcache_packet_outs() -> list[tuple[int, bytes]]:
    """Packet-outs from the CPU port (510): opcode, reserved, operand0 (the port), then the
    frame; opcode 1 sends it to that port, any other is punted back."""
    inner = _ipv4()
    return [(510, bytes((opcode, 0)) + port.to_bytes(4, "big") + bytes(ETH) + inner)
            for opcode, port in ((1, 2), (1, 3), (7, 2))]


# Entries for exercises whose runtime files the exercise leaves to the student's controller.
OWN_ENTRIES = {"flowcache": [
    {"table": "MyIngress.flow_cache",
     "match": {"hdr.ipv4.protocol": 17, "hdr.ipv4.srcAddr": "10.0.1.1",
               "hdr.ipv4.dstAddr": "10.0.2.2"},
     "action_name": "MyIngress.cached_action",
     "action_params": {"port": 2, "decrement_ttl": 1, "new_dscp": 5,
                       "dst_eth_addr": "08:00:00:00:02:22"}},
    {"table": "MyIngress.flow_cache",
     "match": {"hdr.ipv4.protocol": 6, "hdr.ipv4.srcAddr": "10.0.1.1",
               "hdr.ipv4.dstAddr": "10.0.2.2"},
     "action_name": "MyIngress.drop_packet", "action_params": {}},
]}

OWN_FRAMES = {"flowcache": _flowcache, "calc": _calc, "basic_tunnel": _basic_tunnel,
              "source_routing": _source_routing, "mri": _mri, "link_monitor": _link_monitor,
              "firewall": _tcp_flows, "load_balance": _tcp_flows}
NORMALISE = {"link_monitor": _probe_times_cleared}


def solutions() -> list:
    if not EXERCISES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=missing(EXERCISES)),
                             id="no-tutorials")]
    return [pytest.param(p, id=p.parent.parent.name)
            for p in sorted(EXERCISES.glob("*/solution/*.p4"))]


def p4c_build(name: str) -> tuple[Path, Path]:
    folder = CORPUS / f"tutorial_{name}"
    json_file, p4info = folder / f"tutorial_{name}.json", folder / f"tutorial_{name}.p4info.txtpb"
    if not json_file.is_file():
        pytest.skip(missing(json_file))
    return json_file, p4info


@pytest.mark.parametrize("source", solutions())
def test_solution_compiles_to_p4cs_p4info_and_behaviour(source: Path, tmp_path: Path) -> None:
    name = source.parent.parent.name
    json_file, p4info_file = p4c_build(name)
    ours = compile_file(source)
    assert p4info_differences(ours[1], p4info_file) == []
    runtimes: list[Path | None] = sorted((json_file.parent / "extra").glob("s*-runtime.json"))
    if name in OWN_ENTRIES:
        runtimes.append(tmp_path / "own-runtime.json")
        runtimes[-1].write_text(json.dumps({"table_entries": OWN_ENTRIES[name]}))
    own = OWN_FRAMES.get(name, lambda: [])()
    extra = [(port, frame) for frame in own for port in (1, 2, 3, 4)]
    if name == "flowcache":
        extra += _flowcache_packet_outs()
    exercised = 0
    for runtime in runtimes or [None]:
        problems, active = behaviour_differences(
            ours, (str(json_file), str(p4info_file)), packets=150,
            runtime=[runtime] if runtime else None, extra=extra, normalise=NORMALISE.get(name))
        assert problems == [], f"{runtime.name if runtime else 'random entries'}: {problems}"
        exercised += active
    assert exercised > 0, "no frame produced any output: the comparison proved nothing"
