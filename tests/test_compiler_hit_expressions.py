"""A switch statement on a value computed from several tables' hit bits (p4-guide's
exit-statement/exit-2-bmv2.p4, copied unchanged into tests/p4/p4guide/, Apache-2.0 header kept):
the tables apply left to right, and an action that exits stops the rest, switch included."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.l2 import Ether

from target import Exact, Switch
from target.compiler.driver import compile_file

P4GUIDE = Path(__file__).parent / "p4" / "p4guide"


@pytest.fixture(scope="module")
def exit2() -> Switch:
    document, p4info = compile_file(P4GUIDE / "exit-2-bmv2.p4")
    sw = Switch()
    sw.load(document, p4info=p4info)
    for t in ("t1", "t2", "t3"):
        sw.table_add(f"ingressImpl.{t}", [Exact(1)], f"ingressImpl.{t}_a1", [])
        sw.table_add(f"ingressImpl.{t}", [Exact(2)], f"ingressImpl.{t}_a2", [])
    return sw


# dst bytes [23:16], [15:8], [7:0] are t3's, t2's and t1's keys (1: a1, 2: a2 which exits, else
# miss); a1/a2 of t1, t2, t3 write 1/2, 3/4, 5/6 into src[7:0]; the switch writes
# (number of hits) + 1 into src[15:8].
@pytest.mark.parametrize("keys, src_low, src_mid", [
    ((0, 0, 0), 0x77, 1),       # no hit
    ((0, 1, 1), 3, 3),          # t1, t2 hit
    ((1, 1, 1), 5, 4),          # all hit
    ((1, 0, 0), 5, 2),          # t3 only: hits are counted, whichever table
    ((0, 2, 1), 4, 0x66),       # t2 exits: t3 and the switch do not run
    ((1, 1, 2), 2, 0x66),       # t1 exits first
])
def test_exit2(exit2: Switch, keys: tuple[int, int, int], src_low: int, src_mid: int) -> None:
    k3, k2, k1 = keys
    dst = (k3 << 16) | (k2 << 8) | k1
    frame = bytes(Ether(dst=dst.to_bytes(6, "big"), src=(0x6677).to_bytes(6, "big"), type=0x0800))
    out = exit2.process([(1, frame + bytes(46))])
    assert len(out) == 1
    src = int(Ether(out[0][1]).src.replace(":", ""), 16)
    assert (src >> 8 & 0xFF, src & 0xFF) == (src_mid, src_low)
