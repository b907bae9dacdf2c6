"""p4src/l2_learning.p4, compiled by kvick's compiler: learning by digest, flooding, forwarding."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.all import Ether, raw

from target import Exact, Switch
from target.compiler.driver import compile_file

ROOT = Path(__file__).resolve().parents[1]
A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


@pytest.fixture()
def switch(tmp_path: Path) -> tuple[Switch, list]:
    program, p4info = compile_file(ROOT / "p4src" / "l2_learning.p4")
    info = tmp_path / "l2.p4info.txtpb"
    info.write_text(p4info)
    sw = Switch(pool_size=1024)
    sw.load(program, info)
    sw.mc_group_set(1, [(1, 0), (2, 0), (3, 0)])
    digests: list = []
    sw.on_digest(lambda name, rows: digests.extend((name, r) for r in rows))
    return sw, digests


def frame(src: str, dst: str) -> bytes:
    return raw(Ether(src=src, dst=dst, type=0x88B5) / bytes(46))


def learn(sw: Switch, station: str, port: int) -> None:
    """What a controller does with a digest: install the station in both tables."""
    sw.table_add("L2Ingress.smac", [Exact(mac(station))], "L2Ingress.known", [])
    sw.table_add("L2Ingress.dmac", [Exact(mac(station))], "L2Ingress.forward", [port])


def test_unknown_source_is_reported_and_unknown_destination_flooded(switch) -> None:
    sw, digests = switch
    out = sw.process([(1, frame(A, B))])
    assert sorted(p for p, _ in out) == [2, 3]          # flooded, not back to port 1
    assert digests == [("learn_t", (mac(A), 1))]


def test_learned_stations_are_forwarded_without_digests(switch) -> None:
    sw, digests = switch
    learn(sw, A, 1)
    learn(sw, B, 2)
    out = sw.process([(1, frame(A, B)), (2, frame(B, A))])
    assert [p for p, _ in out] == [2, 1]
    assert digests == []
    assert Ether(out[0][1]).src == A


def test_a_station_that_moves_is_reported_again_after_removal(switch) -> None:
    sw, digests = switch
    learn(sw, A, 1)
    handle = sw.table_find("L2Ingress.smac", [Exact(mac(A))])
    sw.table_delete("L2Ingress.smac", handle)
    sw.process([(3, frame(A, B))])
    assert digests == [("learn_t", (mac(A), 3))]
