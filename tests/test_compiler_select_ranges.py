"""Range keysets in select: lowered to masked values (the fewest prefixes covering the range),
checked against brute force, and on the engine against the program's meaning."""

from __future__ import annotations

import random

import pytest

from target import Switch
from target.compiler.driver import compile_text
from target.compiler.errors import Unsupported
from target.compiler.lower import ProgramLowering, range_prefixes


def test_prefixes_cover_exactly_the_range() -> None:
    rng = random.Random(9)
    for _ in range(300):
        width = rng.choice([1, 3, 8, 12])
        lo, hi = rng.randrange(1 << width), rng.randrange(1 << width)
        prefixes = range_prefixes(lo, hi, width)
        covered = [x for x in range(1 << width) if any(x & m == v for v, m in prefixes)]
        assert covered == list(range(lo, hi + 1))
        assert all(v & ~m == 0 for v, m in prefixes)
        # No two prefixes overlap, so the cover is also minimal per aligned block.
        assert sum(1 << (width - bin(m).count("1")) for _, m in prefixes) == max(0, hi - lo + 1)


PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> a; bit<4> b; bit<4> c; bit<8> res; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.h);
        transition select(h.h.a, h.h.b) {
            (10 .. 20, 0x3 &&& 0x3): one;
            (15 .. 200, _): two;
            (_, 2 .. 5): three;
            default: accept;
        }
    }
    state one { h.h.res = 1; transition accept; }
    state two { h.h.res = 2; transition accept; }
    state three { h.h.res = 3; transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { sm.egress_spec = 1; } }
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def model(a: int, b: int) -> int:
    if 10 <= a <= 20 and b & 3 == 3:
        return 1
    if 15 <= a <= 200:
        return 2
    if 2 <= b <= 5:
        return 3
    return 0


def test_select_with_ranges_on_the_engine() -> None:
    document, p4info = compile_text(PROGRAM)
    sw = Switch()
    sw.load(document, p4info=p4info)
    for a in range(256):
        for b in (0, 2, 3, 5, 6, 7, 11, 15):
            frame = bytes([a, b << 4 | 9, 0])
            assert sw.process([(0, frame)]) == [(1, frame[:2] + bytes([model(a, b)]))], (a, b)


def test_a_huge_expansion_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1..254 is 14 prefixes and 1..14 is 6: 84 masked values for one case.
    monkeypatch.setattr(ProgramLowering, "MAX_SELECT_EXPANSION", 80)
    text = PROGRAM.replace("(10 .. 20, 0x3 &&& 0x3)", "(1 .. 254, 1 .. 14)")
    with pytest.raises(Unsupported, match="expands to more than"):
        compile_text(text)
