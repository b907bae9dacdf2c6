"""Direct meters: `meters = m;` on a table, `m.read(field)` naming the colour's field
(BMv2 result_target), P4Info direct_meters; colours on the engine follow the token buckets."""

from __future__ import annotations

import pytest
from google.protobuf import text_format

from runtime_server.proto import p4info_pb2
from target import Exact, Switch
from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<8> k; bit<8> color; }
struct headers { h_t h; }
struct meta_t { bit<32> color; bit<32> other; }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    direct_meter<bit<32>>(MeterType.packets) policer;
    action pass() { policer.read(m.color); sm.egress_spec = 1; }
    table police {
        key = { h.h.k: exact; }
        actions = { pass; }
        METERS
        size = 64;
    }
    apply { police.apply(); h.h.color = (bit<8>)m.color; }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) { apply { } }
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def _compile(meters: str = "meters = policer;", text: str = PROGRAM) -> tuple[dict, str]:
    return compile_text(text.replace("METERS", meters))


def test_json_and_p4info_form() -> None:
    document, text = _compile()
    assert document["meter_arrays"] == [{"name": "I.policer", "id": 0, "is_direct": True, "rate_count": 2,
                                         "type": "packets", "size": 64, "binding": "I.police",
                                         "result_target": ["scalars", "meta_t.color"]}]
    (table,) = [t for t in document["pipelines"][0]["tables"] if t["name"] == "I.police"]
    assert table["direct_meters"] == "I.policer"
    assert all(p["op"] != "execute_meter" for a in document["actions"] for p in a["primitives"])
    info = text_format.Parse(text, p4info_pb2.P4Info())
    (meter,) = info.direct_meters
    (police,) = info.tables
    assert meter.preamble.id >> 24 == 0x15 and meter.spec.unit == p4info_pb2.MeterSpec.PACKETS
    assert meter.direct_table_id == police.preamble.id
    assert list(police.direct_resource_ids) == [meter.preamble.id]


def test_colours_follow_the_buckets() -> None:
    document, p4info = _compile()
    sw = Switch()
    sw.load(document, p4info=p4info)
    handle = sw.table_add("I.police", [Exact(7)], "I.pass", [])
    frames = [(0, bytes([7, 0xFF]))] * 8
    assert [frame[1] for _, frame in sw.process(frames[:3])] == [0, 0, 0]     # unconfigured: green
    sw.direct_meter_set("I.police", handle, 0.001, 2, 0.001, 4)     # ~no refill during the test
    assert [frame[1] for _, frame in sw.process(frames)] == [0, 0, 1, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("meters, change, message", [
    ("", None, "not attached to a table"),
    ("meters = police;", None, "meters must name a direct_meter"),
    ("meters = policer;", ("sm.egress_spec = 1;", "policer.read(m.other);"), "two different fields"),
])
def test_misuse_is_an_error(meters: str, change: tuple[str, str] | None, message: str) -> None:
    text = PROGRAM if change is None else PROGRAM.replace(*change)
    with pytest.raises(CompileError, match=message):
        _compile(meters, text)
