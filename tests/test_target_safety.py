"""The target API refuses what it cannot represent, and a refused call changes nothing.

Every engine write section goes through Switch._engine_write, so an error inside one never
leaves a section open (its changes are published); requests are checked before anything is recorded; and
Switch.process gives back every buffer of a batch it refuses.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scapy.all import Ether, raw

from target import InvalidArgument, Lpm, Switch
from target.compiler.driver import compile_file

ROOT = Path(__file__).resolve().parents[1]
A, B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


@pytest.fixture(scope="module")
def l2_program(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    program, p4info = compile_file(ROOT / "p4src" / "l2_learning.p4")
    info = tmp_path_factory.mktemp("l2") / "l2.p4info.txtpb"
    info.write_text(p4info)
    return program, info


def l2_switch(l2_program: tuple[dict[str, Any], Path], pool_size: int = 1024) -> Switch:
    sw = Switch(pool_size=pool_size)
    sw.load(l2_program[0], l2_program[1])
    sw.mc_group_set(1, [(1, 0), (2, 0), (3, 0)])
    return sw


def frame(src: str = A, dst: str = B) -> bytes:
    return raw(Ether(src=src, dst=dst, type=0x88B5) / bytes(46))


def finishes(call: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Run `call` in a thread; fail (not hang) when it does not return in time."""
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "the call did not return: the engine lock was left held"
    return result[0]


def floods(sw: Switch) -> None:
    """A frame to an unknown station still leaves on every other port of group 1."""
    out = finishes(lambda: sw.process([(1, frame())]))
    assert sorted(p for p, _ in out) == [2, 3]


# ---------------------------------------------------------------- 12.9: exception safety
def test_refused_multicast_group_keeps_the_old_one_and_traffic_flows(l2_program) -> None:
    sw = l2_switch(l2_program)
    with pytest.raises(InvalidArgument, match="replica 0 port"):
        sw.mc_group_set(1, [(-1, 0)])
    assert sw.mc_group_get(1) == [(1, 0), (2, 0), (3, 0)]
    with pytest.raises(InvalidArgument):
        sw.mc_group_set(9, [(2, 0), (-1, 0)])
    assert 9 not in sw.mc_groups()
    floods(sw)


def test_refused_clone_session_records_nothing(l2_program) -> None:
    sw = l2_switch(l2_program)
    for replicas, cos, length in (([(-1, 0)], 0, 0), ([(3, 0)], -1, 0), ([(3, 0)], 0, 1 << 32),
                                  ([(3, 1 << 16)], 0, 0), ([(3,)], 0, 0), (None, 0, 0)):
        with pytest.raises(InvalidArgument):
            sw.clone_session_set(4, replicas, cos, length)
    assert sw.clone_sessions() == {}
    floods(sw)


def test_an_error_inside_an_engine_section_releases_the_engine(l2_program) -> None:
    sw = l2_switch(l2_program)
    with pytest.raises(RuntimeError), sw._engine_write():
        raise RuntimeError("fails while batches are kept out")
    floods(sw)


def test_every_engine_write_section_goes_through_one_entry_point() -> None:
    """Only Switch._engine_write opens and commits engine write sections (target/switch.py)."""
    source = (ROOT / "target" / "switch.py").read_text()
    body = source.split("def _engine_write", 1)[1].split("\n    def ", 1)[0]
    rest = source.replace(body, "")
    pattern = r"\.(?:begin_write|commit|(?:un)?lock)\(\)"
    assert re.findall(pattern, body) == [".begin_write()", ".commit()"]
    assert re.findall(pattern, rest) == []


# ---------------------------------------------------------------- 12.7: values it cannot represent
@pytest.mark.parametrize("port", [65539, 100000, 511, 600, -1, 1 << 32, True, 2.0, "3"])
def test_replica_ports_the_engine_cannot_hold_are_refused(l2_program, port: Any) -> None:
    sw = l2_switch(l2_program)
    with pytest.raises(InvalidArgument, match="port"):
        sw.mc_group_set(2, [(port, 0)])
    with pytest.raises(InvalidArgument, match="port"):
        sw.clone_session_set(2, [(port, 0)])
    assert 2 not in sw.mc_groups() and sw.clone_sessions() == {}


def test_port_65539_is_not_sent_to_port_3(l2_program) -> None:
    sw = l2_switch(l2_program)
    with pytest.raises(InvalidArgument):
        sw.mc_group_set(1, [(2, 0), (65539, 0)])
    floods(sw)                       # still the old group 1: ports 2 and 3


@pytest.mark.parametrize("call", [
    lambda sw: sw.mc_group_set(0, []),
    lambda sw: sw.mc_group_set(65536, []),
    lambda sw: sw.mc_group_set(1 << 32 | 1, []),
    lambda sw: sw.mc_group_set(1, [(1, 1 << 16)]),
    lambda sw: sw.clone_session_set(0, []),
    lambda sw: sw.clone_session_set(32768, []),
    lambda sw: sw.clone_session_set(1 << 16 | 5, []),
    lambda sw: sw.add_port(511, object()),
    lambda sw: sw.add_port(65539, object()),
    lambda sw: sw.process([(65539, frame())]),
    lambda sw: sw.process([(-1, frame())]),
    lambda sw: sw.inject(600, frame()),
])
def test_ids_and_ports_out_of_range_are_refused(l2_program, call: Callable[[Switch], Any]) -> None:
    sw = l2_switch(l2_program)
    with pytest.raises(InvalidArgument):
        call(sw)
    assert sw.mc_groups() == {1: [(1, 0), (2, 0), (3, 0)]}
    assert sw.pool.available == sw.pool.capacity
    floods(sw)


def test_cpu_port_beyond_the_port_range_is_refused() -> None:
    for port in (511, 65539, -1):
        with pytest.raises(InvalidArgument):
            Switch(cpu_port=port, pool_size=16)


def test_values_wider_than_their_cells_are_refused(tmp_path: Path) -> None:
    program, p4info = compile_file(ROOT / "p4src" / "router.p4")
    (tmp_path / "r.p4info.txtpb").write_text(p4info)
    sw = Switch(cpu_port=255, pool_size=64)
    sw.load(program, tmp_path / "r.p4info.txtpb")
    counter = "RouterIngress.drop_reasons"
    for packets, nbytes in ((-1, 0), (1 << 64, 0), (0, -5)):
        with pytest.raises(InvalidArgument):
            sw.counter_write(counter, 0, packets, nbytes)
    assert sw.counter_read(counter, 0) == (0, 0)
    h = sw.table_add("RouterIngress.ipv4_lpm", [Lpm(0x0A000000, 8)],
                     "RouterIngress.set_next_hop", [7])
    with pytest.raises(InvalidArgument):
        sw.direct_counter_write("RouterIngress.ipv4_lpm", h, -1, 0)
    with pytest.raises(InvalidArgument):
        sw.counter_write(counter, True, 1, 1)


def test_register_value_wider_than_the_register_is_refused_not_cut(tmp_path: Path) -> None:
    source = tmp_path / "reg.p4"
    source.write_text(REGISTER_PROGRAM)
    program, _ = compile_file(source)
    sw = Switch(pool_size=64)
    sw.load(program)
    sw.register_write("MyIngress.r", 1, 0xFF)
    with pytest.raises(InvalidArgument, match="0..255"):
        sw.register_write("MyIngress.r", 1, 0x1FF)
    with pytest.raises(InvalidArgument):
        sw.register_write("MyIngress.r", 1, -1)
    assert sw.register_read("MyIngress.r", 1) == 0xFF


REGISTER_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> x; }
struct headers_t { h_t h; }
struct meta_t { }
parser P(packet_in p, out headers_t hdr, inout meta_t m, inout standard_metadata_t s) {
    state start { p.extract(hdr.h); transition accept; }
}
control V(inout headers_t hdr, inout meta_t m) { apply { } }
control MyIngress(inout headers_t hdr, inout meta_t m, inout standard_metadata_t s) {
    register<bit<8>>(4) r;
    apply { r.write(0, hdr.h.x); s.egress_spec = 1; }
}
control E(inout headers_t hdr, inout meta_t m, inout standard_metadata_t s) { apply { } }
control C(inout headers_t hdr, inout meta_t m) { apply { } }
control D(packet_out p, in headers_t hdr) { apply { p.emit(hdr.h); } }
V1Switch(P(), V(), MyIngress(), E(), C(), D()) main;
"""


# ---------------------------------------------------------------- 12.8: process gives buffers back
@pytest.mark.parametrize("bad", [bytes(70000), "not bytes", None, 12],
                         ids=["too-long", "str", "None", "int"])
def test_a_refused_frame_in_a_batch_leaks_no_buffer(l2_program, bad: Any) -> None:
    sw = l2_switch(l2_program, pool_size=64)
    for _ in range(2000):
        with pytest.raises(InvalidArgument):
            sw.process([(1, frame()), (2, frame(B, A)), (3, bad)])
    assert sw.pool.available == sw.pool.capacity
    floods(sw)


@pytest.mark.parametrize("bad", [bytes(70000), "not bytes", (1 << 16) + 1],
                         ids=["too-long", "str", "port-65537"])
def test_the_engine_gives_back_a_refused_batch(l2_program, bad: Any) -> None:
    """The engine itself (below Switch's checks) frees the buffers it took for the batch."""
    sw = l2_switch(l2_program, pool_size=64)
    batch = [(1, frame()), (2, frame())] + ([(bad, frame())] if isinstance(bad, int)
                                             else [(3, bad)])
    for _ in range(2000):
        with pytest.raises((ValueError, TypeError, OverflowError)):
            sw.pipeline.process(batch)
    assert sw.pool.available == sw.pool.capacity
    floods(sw)


def test_a_batch_larger_than_the_pool_leaks_nothing(l2_program) -> None:
    sw = l2_switch(l2_program, pool_size=16)
    for _ in range(200):
        with pytest.raises(MemoryError):
            sw.pipeline.process([(1, frame())] * 40)
    assert sw.pool.available == sw.pool.capacity
    floods(sw)


def test_direct_meter_with_a_negative_burst_is_refused() -> None:
    from target import Exact
    from target.compiler.driver import compile_text

    document, _ = compile_text(REGISTER_PROGRAM.replace(
        "register<bit<8>>(4) r;\n    apply { r.write(0, hdr.h.x); s.egress_spec = 1; }",
        "direct_meter<bit<32>>(MeterType.packets) policer;\n"
        "    action pass() { policer.read(m.color); s.egress_spec = 1; }\n"
        "    table police { key = { hdr.h.x: exact; } actions = { pass; } meters = policer; }\n"
        "    apply { police.apply(); }").replace("struct meta_t { }",
                                             "struct meta_t { bit<32> color; }"))
    sw = Switch(pool_size=64)
    sw.load(document)
    h = sw.table_add("MyIngress.police", [Exact(1)], "MyIngress.pass", [])
    with pytest.raises(InvalidArgument, match="burst"):
        sw.direct_meter_set("MyIngress.police", h, 10.0, -1, 20.0, 5)
