"""for loops (P4_16 1.2.5) in an apply block: p4-guide's loop-test-progs (copied unchanged into
tests/p4/p4guide/loops/, Apache-2.0 headers kept), run on both engines against a model of each
program written from its source. The loops with run-time bounds and loop variables modified in
the body are the ones p4c does not unroll (and so cannot compile for BMv2): here they run as
cycles of the control graph. The err-* programs are refused with one line at the place p4c
names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from target import Switch
from target.compiler.driver import compile_file
from target.compiler.errors import CompileError

LOOPS = Path(__file__).parent / "p4" / "p4guide" / "loops"
M8 = 0xFF

# A frame is (dst, src, etherType); a model returns the (dst, src) the program sends out.
Frame = tuple[int, int, int]


def byte(v: int, i: int) -> int:
    return v >> (8 * i) & M8


def put(v: int, i: int, b: int) -> int:
    return v & ~(M8 << (8 * i)) | (b & M8) << (8 * i)


def tricky2(dst: int, src: int, et: int) -> tuple[int, int]:
    n, i = byte(src, 1), 0
    while i < 7:        # bit<3> i: 0, 3, 6, 1, 4, then 7
        n, i = n + i, (i + 3) & 7
    return dst, put(put(src, 0, i), 1, n)


def declared_before(dst: int, src: int, et: int) -> tuple[int, int]:
    return dst, put(put(src, 0, 8), 1, byte(src, 1) + 24)


def exprs_not_constant1(dst: int, src: int, et: int) -> tuple[int, int]:
    return dst, put(src, 1, max(0, byte(dst, 1) - byte(dst, 0)))


def exprs_not_constant2(dst: int, src: int, et: int) -> tuple[int, int]:
    n, i = 0, byte(dst, 0)
    while i < byte(dst, 1):
        n += 1
        dst = put(dst, 1, byte(dst, 1) - 1)
        i = (i + 1) & M8
    return dst, put(src, 1, n)


def modifiable_in_body(limit: Callable[[int], int]) -> Callable[[int, int, int], tuple[int, int]]:
    def model(dst: int, src: int, et: int) -> tuple[int, int]:
        n, i = 0, 0
        while i < limit(dst):
            i, n = (i + 2) & M8, n + 1
        return dst, put(src, 0, n)
    return model


def modifiable_in_body3(dst: int, src: int, et: int) -> tuple[int, int]:
    n, i = byte(dst, 1), 0
    while i < n:
        i, n = (i + 2) & M8, n - 1
    return dst, put(src, 0, n)


def multiple_initializers(dst: int, src: int, et: int) -> tuple[int, int]:
    return dst, put(src, 1, sum(5 * k for k in range(1, 9)))


def in_list(n: int, m: int, p: int, q: int) -> Callable[[int, int, int], tuple[int, int]]:
    def model(dst: int, src: int, et: int) -> tuple[int, int]:
        return dst, put(put(put(put(src, 0, n), 1, m), 2, p), 3, q)
    return model


def elems_modified2(dst: int, src: int, et: int) -> tuple[int, int]:
    m, q = byte(dst, 1), byte(dst, 3)
    p = byte(dst, 2) if et == 5 else ~byte(dst, 2) & M8
    n = 1 + 2 + m + p + q       # the list is evaluated before the body changes m, p and q
    return dst, put(put(put(put(src, 0, n), 1, 32), 2, 64 if et == 5 else 1), 3, 128)


def in_range(plus_one: bool, decrement: bool,
             start_n: bool = False) -> Callable[[int, int, int], tuple[int, int]]:
    """for (bit<8> i in 1..dst[7:0]): the bound is read once; i = i + 1 in the body does not
    change which values i takes next."""
    def model(dst: int, src: int, et: int) -> tuple[int, int]:
        hi = byte(dst, 0)
        n = hi if start_n else 0
        for i in range(1, hi + 1):
            n += i + 1 if plus_one else i
            if decrement:
                dst = put(dst, 0, byte(dst, 0) - 1)
        return dst, put(src, 0, n)
    return model


MODELS: dict[str, Callable[[int, int, int], tuple[int, int]]] = {
    "loop-3-clause-tricky2": tricky2,
    "loop-var-can-be-declared-before-loop1": declared_before,
    "loop-var-exprs-not-constant1": exprs_not_constant1,
    "loop-var-exprs-not-constant2": exprs_not_constant2,
    "loop-var-modifiable-in-body1": modifiable_in_body(lambda dst: 8),
    "loop-var-modifiable-in-body2": modifiable_in_body(lambda dst: byte(dst, 1)),
    "loop-var-modifiable-in-body3": modifiable_in_body3,
    "loop-vars-multiple-in-initializer1": multiple_initializers,
    "loop-var-in-list-const-list1": in_list(20, 32, 64, 128),
    "loop-var-in-list-elems-modified1": in_list(31, 32, 64, 128),
    "loop-var-in-list-elems-modified2": elems_modified2,
    "loop-var-in-list-elems-modified3": in_list(36, 9, 13, 21),
    "loop-var-in-list-elems-variable1": in_list(31, 4, 8, 16),
    "loop-var-in-list-elems-variable2": in_list(36, 4, 8, 16),
    "loop-var-in-list4": in_list(25, 4, 8, 16),
    "loop-var-in-range-bounds-modified1": in_list(3, 7, byte(0, 2), byte(0, 3)),
    "loop-var-in-range-const-range1": in_list(6, 0, 0, 0),
    "loop-var-in-range-var-range1": in_range(False, False),
    "loop-var-in-range-var-range2": in_range(False, True),
    "loop-var-in-range-modifiable-in-body1": in_list(20, 0, 0, 0),
    "loop-var-in-range-modifiable-in-body2": in_range(True, False),
    "loop-var-in-range-modifiable-in-body3": in_range(True, True),
    "loop-var-in-range-modifiable-in-body4": in_range(True, True, start_n=True),
}
# Programs whose model sets only some source bytes: the others keep the frame's.
PARTIAL = {"loop-var-in-range-bounds-modified1": 2, "loop-var-in-range-const-range1": 1,
           "loop-var-in-range-modifiable-in-body1": 1}

# dst[7:0] and dst[15:8] are the bounds: empty ranges (lo > hi), one iteration, a range up to 255
# (the counter wraps after its last value), bounds equal; etherType 5 takes elems-modified2's
# other branch. modifiable-in-body2 with dst[15:8] = 255 never ends (i: 254 -> 255 -> 0), so
# no frame has that byte at 255.
FRAMES: list[Frame] = [
    (0x0A0B0C0D0300, 0x112233445566, 0x0800),
    (0x0A0B0C0D0001, 0x112233445566, 0x0005),
    (0x0A0B0C0D05FF, 0x1122334455F0, 0x0800),
    (0x0A0B0C0D0705, 0x112233445566, 0x0005),
    (0x0A0B0C0D0909, 0x0000000000FE, 0x0800),
    (0x0A0B0C0DFE02, 0x112233445566, 0x0800),
]


def frame_bytes(dst: int, src: int, et: int) -> bytes:
    return dst.to_bytes(6, "big") + src.to_bytes(6, "big") + et.to_bytes(2, "big") + bytes(50)


@pytest.fixture(scope="module", params=["off", "wait"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loop_program(name: str, engine: str) -> None:
    document, p4info = compile_file(LOOPS / f"{name}.p4")
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    if engine == "wait":
        assert sw.native_ready(), f"{name}: no native code"
    out = sw.process([(0, frame_bytes(*f)) for f in FRAMES])
    assert len(out) == len(FRAMES)
    for (dst, src, et), (port, data) in zip(FRAMES, out, strict=True):
        want_dst, want_src = MODELS[name](dst, src, et)
        keep = PARTIAL.get(name)
        if keep is not None:
            mask = (1 << (8 * keep)) - 1
            want_src = want_src & mask | src & ~mask
        got_dst, got_src = int.from_bytes(data[:6], "big"), int.from_bytes(data[6:12], "big")
        assert port == 1
        assert (hex(got_dst), hex(got_src)) == (hex(want_dst & (1 << 48) - 1), hex(want_src)), (dst, src, et)


@pytest.mark.parametrize("name, where, message", [
    ("err-loop-var-not-in-scope-outside-of-loop1", "53:37", "unknown name i"),
    ("err-loop-var-cannot-be-used-in-slice1", "50:34", "compile-time constant"),
    ("err-loop-var-in-range-no-typeref1", "51:16", "needs a type"),
    ("err-loop-var-in-range-no-typeref2", "51:16", "needs a type"),
    ("loop-3-clause-tricky1", "52:9", "this loop never ends: i takes the values 0, 2, 4, 6 and then 0 again"),
])
def test_loop_refusals(name: str, where: str, message: str) -> None:
    with pytest.raises(CompileError) as err:
        compile_file(LOOPS / f"{name}.p4")
    text = str(err.value)
    first = text.splitlines()[0]
    assert f"{name}.p4:{where}: error:" in first and message in first, text


def test_break_and_continue(tmp_path: Path) -> None:
    """break leaves the loop and continue goes to the update, on both engines."""
    src = (LOOPS / "loop-var-in-range-var-range1.p4").read_text().replace(
        "            n = n + i;\n",
        "            if (i == 3) { continue; }\n"
        "            if (i == hdr.ethernet.dstAddr[15:8]) { break; }\n"
        "            n = n + i;\n")
    assert "continue" in src
    p = tmp_path / "break-continue.p4"
    p.write_text(src)
    document, p4info = compile_file(p)
    for engine in ("off", "wait"):
        sw = Switch(native=engine)
        sw.load(document, p4info=p4info)
        # 1..9 without 3, stopping before 7: 1+2+4+5+6; then 1..9 without 3, no break
        out = sw.process([(0, frame_bytes(0x0709, 0, 0x800)), (0, frame_bytes(0xFF09, 0, 0x800))])
        assert [d[11] for _p, d in out] == [18, 42], engine


def test_endless_at_run_time_drops_the_packet() -> None:
    """A three-clause loop that ends only for some packets: with dst[15:8] = 255,
    loop-var-modifiable-in-body2's i goes 254, 255, 0, ... for ever. After RUN_TIME_LIMIT
    iterations the packet is dropped and the next one is processed as usual."""
    document, p4info = compile_file(LOOPS / "loop-var-modifiable-in-body2.p4")
    model = MODELS["loop-var-modifiable-in-body2"]
    for engine in ("off", "wait"):
        sw = Switch(native=engine)
        sw.load(document, p4info=p4info)
        out = sw.process([(0, frame_bytes(0xFF00, 0, 0x800)), (0, frame_bytes(0x0900, 0, 0x800))])
        assert len(out) == 1, engine
        assert int.from_bytes(out[0][1][6:12], "big") == model(0x0900, 0, 0x800)[1], engine


NESTED = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> et; }
struct headers_t { eth_t eth; }
struct meta_t { }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.eth); transition accept; }
}
control V(inout headers_t h, inout meta_t m) { apply { } }
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    bit<8> hits = 0;
    bit<8> sum = 0;
    bit<8> k = 0;
    action add(bit<8> v) { sum = sum + v; }
    table t {
        key = { k : exact; }
        actions = { add; NoAction; }
        default_action = NoAction;
    }
    apply {
        sm.egress_spec = 1;
        for (bit<8> i in 0..h.eth.dst[7:0]) {
            for (bit<8> j = 0; j < i; j = j + 1) {
                k = i * 16 + j;
                if (t.apply().hit) {
                    hits = hits + 1;
                }
                if (j == 2) {
                    break;
                }
            }
            if (sum > h.eth.dst[15:8]) {
                h.eth.src[23:16] = i;
                exit;
            }
        }
        h.eth.src[7:0] = hits;
        h.eth.src[15:8] = sum;
    }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


def nested_model(dst: int, entries: dict[int, int]) -> int:
    hits = total = 0
    for i in range(0, (dst & M8) + 1):
        for j in range(i):
            key = (i * 16 + j) & M8
            if key in entries:
                hits, total = hits + 1, (total + entries[key]) & M8
            if j == 2:
                break
        if total > (dst >> 8 & M8):
            return i << 16        # exit: only src[23:16] was written
    return total << 8 | hits


@pytest.mark.parametrize("engine", ["off", "wait"])
def test_nested_loops_apply_a_table(engine: str) -> None:
    """A table applied in an inner loop (one graph node entered once per iteration), break out of
    the inner loop and exit from the outer one, on both engines."""
    from target import Exact
    from target.compiler.driver import compile_text

    document, p4info = compile_text(NESTED, "nested.p4")
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    if engine == "wait":
        assert sw.native_ready()
    entries = {0x10: 3, 0x21: 5, 0x32: 7, 0x43: 11, 0x52: 13}
    for key, v in entries.items():
        sw.table_add("I.t", [Exact(key)], "I.add", [v])
    dsts = [0xFF00, 0xFF02, 0xFF05, 0x0805, 0x0003, 0xFFFF]
    out = sw.process([(0, frame_bytes(d, 0, 0x800)) for d in dsts])
    assert [int.from_bytes(d[6:12], "big") for _p, d in out] == [nested_model(d, entries) for d in dsts]


UNROLLED = """
#include <core.p4>
#include <v1model.p4>
header eth_t { bit<48> dst; bit<48> src; bit<16> et; }
struct headers_t { eth_t eth; }
struct meta_t { bit<8> p; }
parser P(packet_in pk, out headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    state start {
        pk.extract(h.eth);
        m.p = 0;
        for (bit<8> i in 1..4) { m.p = m.p + i; }
        transition accept;
    }
}
control V(inout headers_t h, inout meta_t m) { apply { } }
bit<8> popcount(in bit<16> x) {
    bit<8> n = 0;
    for (bit<8> b = 0; b < 16; b = b + 1) {
        if (((x >> b) & 1) == 1) { n = n + 1; }
    }
    return n;
}
control I(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) {
    action a(bit<8> base) {
        bit<8> acc = base;
        for (bit<8> i in (list<bit<8>>) {1, h.eth.dst[7:0], 3}) {
            acc = acc * 2 + i;
        }
        h.eth.src[7:0] = acc;
        h.eth.src[15:8] = popcount(h.eth.dst[31:16]);
    }
    table t { key = { h.eth.et : exact; } actions = { a; } default_action = a(5); }
    apply {
        t.apply();
        h.eth.src[23:16] = m.p;
        sm.egress_spec = 1;
    }
}
control E(inout headers_t h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control C(inout headers_t h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers_t h) { apply { pk.emit(h.eth); } }
V1Switch(P(), V(), I(), E(), C(), D()) main;
"""


@pytest.mark.parametrize("engine", ["off", "wait"])
def test_loops_in_actions_functions_and_parsers_are_unrolled(engine: str) -> None:
    """Where primitives run straight (an action, a function, a parser state) a loop with
    compile-time iterations is unrolled, as p4c does: a range of constants in a parser state, a
    list with a run-time element in an action, a three-clause loop in a function."""
    from target.compiler.driver import compile_text

    document, p4info = compile_text(UNROLLED, "unrolled.p4")
    sw = Switch(native=engine)
    sw.load(document, p4info=p4info)
    out = sw.process([(0, (0x00F0F30A).to_bytes(6, "big") + bytes(6) + b"\x08\x00" + bytes(46))])
    # parser: 1+2+3+4; popcount(0x00f0) = 4; a(5): ((5*2+1)*2+0x0a)*2+3 = 0x43
    assert out[0][1][6:12] == bytes([0, 0, 0, 10, 4, 0x43])


@pytest.mark.parametrize("old, new, message", [
    ("for (bit<8> i in 1..4)", "for (bit<8> i in 1..h.eth.dst[7:0])", "bounds are not compile-time"),
    ("b < 16; b = b + 1) {", "b < 16; b = b + 1) { if (b == x[7:0]) { break; }", "break or continue"),
    ("b < 16; b = b + 1)", "b < x[7:0]; b = b + 1)", "not known at compile time"),
])
def test_loops_that_cannot_be_unrolled_are_refused(old: str, new: str, message: str) -> None:
    from target.compiler.driver import compile_text

    assert old in UNROLLED
    with pytest.raises(CompileError) as err:
        compile_text(UNROLLED.replace(old, new), "unrolled.p4")
    first = str(err.value).splitlines()[0]
    assert first.startswith("unrolled.p4:") and message in first, str(err.value)
