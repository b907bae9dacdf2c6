"""resubmit_preserving_field_list with @field_list indexes written as serializable enum members
(p4-guide's v1model-multiple-resubmit-reasons programs, copied unchanged into tests/p4/p4guide/,
Apache-2.0 headers kept): kvick compiles them as p4c does, and the resubmitted packet carries the
fields of the chosen list with the values they have at the end of ingress, the rest zeroed.

The programs' f2 (160 bits) and f3 (256 bits) take values from action data and additions, which
kvick's engine does only up to 128 bits; the behaviour tests run them narrowed to 96 and 112 bits
(the text is changed at load time, nothing else is).

Each program resubmits for four reasons. The first pass picks a reason in t_first_pass_t1/t2 and
t_first_pass_t3 then changes the metadata; the second pass matches the preserved fields and sends
the packet out of the port in its destination MAC's low 4 bits, or drops it. Without the values
at the end of ingress, or with a field that should not survive, the second-pass lookup misses and
the packet goes to port 0 (nop) instead.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
from scapy.layers.l2 import Ether

from target import Exact, Switch, Ternary
from target.compiler.driver import compile_file, compile_text
from target.compiler.errors import CompileError

P4GUIDE = Path(__file__).parent / "p4" / "p4guide"
PROGRAMS = ["v1model-multiple-resubmit-reasons-hand-edited.p4",
            "v1model-multiple-resubmit-reasons-auto-xlated.p4"]
ALL = (1 << 48) - 1


@functools.cache
def compiled(name: str) -> tuple[dict[str, Any], str]:
    return compile_file(P4GUIDE / name)


@functools.cache
def narrowed(name: str) -> tuple[dict[str, Any], str]:
    text = (P4GUIDE / name).read_text()
    text = text.replace("bit<160>", "bit<96>").replace("160w8", "96w8").replace("bit<256>", "bit<112>")
    return compile_text(text, name)


class Bed:
    def __init__(self, name: str) -> None:
        document, p4info = narrowed(name)
        self.sw = Switch()
        self.sw.load(document, p4info=p4info)
        self.names = {t["name"].rsplit(".", 1)[-1]: t["name"]
                      for pipe in document["pipelines"] for t in pipe["tables"]}
        self.actions = {a["name"].rsplit(".", 1)[-1]: a["name"] for a in document["actions"]}

    def add(self, table: str, match: list[Any], action: str, params: list[int] | None = None,
            priority: int | None = None) -> None:
        self.sw.table_add(self.names[table], match, self.actions[action], params or [], priority)

    def send(self, dst: int, src: int, ether_type: int) -> list[int]:
        frame = bytes(Ether(dst=dst.to_bytes(6, "big"), src=src.to_bytes(6, "big"), type=ether_type))
        return [port for port, _ in self.sw.process([(1, frame + bytes(50))])]


@pytest.mark.parametrize("name", PROGRAMS)
def test_field_lists_are_p4cs(name: str) -> None:
    """Ids from 1 in the order the indexes first appear on the metadata, named field_list<i>,
    each with the reason and the one field of its own."""
    document, _ = compiled(name)
    lists = [(fl["id"], fl["name"], [e["value"][1].rsplit(".", 1)[-1] for e in fl["elements"]])
             for fl in document["field_lists"]]
    assert lists == [(1, "field_list0", ["resubmit_reason", "f1"]),
                     (2, "field_list1", ["resubmit_reason", "f2"]),
                     (3, "field_list2", ["resubmit_reason", "f3"]),
                     (4, "field_list3", ["resubmit_reason", "f4"])]
    ops = sorted((p["op"], p["parameters"][0]["value"]) for a in document["actions"]
                 for p in a["primitives"] if p["op"] == "resubmit")
    assert ops == [("resubmit", "0x1"), ("resubmit", "0x2"), ("resubmit", "0x3"), ("resubmit", "0x4")]


@pytest.mark.parametrize("name", PROGRAMS)
def test_reason1_preserves_f1_as_it_is_at_the_end_of_ingress(name: str) -> None:
    bed = Bed(name)
    src, dst = 0x0000000000A1, 0x000000000005
    bed.add("t_first_pass_t1", [Ternary(src, ALL)], "do_resubmit_reason1", priority=1)
    bed.add("t_first_pass_t3", [Ternary(0x0800, 0xFFFF)], "update_metadata", [7], priority=1)
    # f1: 0 + 17 in do_resubmit_reason1, then - 2 in update_metadata: 15 when ingress ends
    bed.add("t_second_pass_reason1", [Exact(15)], "set_port_to_mac_da_lsbs")
    bed.add("t_second_pass_reason1", [Exact(17)], "my_drop")
    assert bed.send(dst, src, 0x0800) == [5]
    # update_metadata does not run: f1 stays 17 and the second pass drops the packet
    assert bed.send(dst, src, 0x0806) == []


@pytest.mark.parametrize("name", PROGRAMS)
def test_reason2_resubmits_again_for_reason1(name: str) -> None:
    bed = Bed(name)
    src, dst = 0x0000000000A2, 0x000000000006
    f2 = (1 << 95) | 0x1234
    bed.add("t_first_pass_t1", [Ternary(src, ALL)], "do_resubmit_reason2", [f2], priority=1)
    bed.add("t_second_pass_reason2", [Ternary(f2, (1 << 96) - 1)], "do_resubmit_reason1",
            priority=1)
    # the third pass sees only reason 1's list: f1 = 0 + 17 (f2 was not preserved)
    bed.add("t_second_pass_reason1", [Exact(17)], "set_port_to_mac_da_lsbs")
    assert bed.send(dst, src, 0x0800) == [6]
    # update_metadata overwrites f2 with 8 before ingress ends: no second-pass match, nop
    bed.add("t_first_pass_t3", [Ternary(0x0800, 0xFFFF)], "update_metadata", [0], priority=1)
    assert bed.send(dst, src, 0x0800) == [0]


@pytest.mark.parametrize("name", PROGRAMS)
def test_reason3_and_reason4_preserve_their_own_fields(name: str) -> None:
    bed = Bed(name)
    src, dst3, dst4 = 0x0000000000A3, 0x0000000000B7, 0x0000000000C9
    bed.add("t_first_pass_t2", [Ternary(dst3, ALL)], "do_resubmit_reason3", priority=1)
    bed.add("t_first_pass_t2", [Ternary(dst4, ALL)], "do_resubmit_reason4", priority=1)
    bed.add("t_first_pass_t3", [Ternary(0x86DD, 0xFFFF)], "update_metadata", [0x100], priority=1)
    # reason 3: f3 = src + dst, update_metadata not run for 0x0800
    bed.add("t_second_pass_reason3", [Exact(src + dst3), Exact(0x0800)], "set_port_to_mac_da_lsbs")
    assert bed.send(dst3, src, 0x0800) == [7]
    # reason 4: f4 = etherType + 0x100 from update_metadata
    bed.add("t_second_pass_reason4", [Ternary(0x86DD + 0x100, ALL), Exact(src)],
            "set_port_to_mac_da_lsbs", priority=1)
    assert bed.send(dst4, src, 0x86DD) == [9]


def test_deprecated_resubmit_with_data_is_refused_with_its_location() -> None:
    source = (P4GUIDE / PROGRAMS[0]).read_text().replace(
        "resubmit_preserving_field_list((bit<8>)FieldLists.resubmit_fl1);", "resubmit(meta);")
    with pytest.raises(CompileError) as e:
        compile_text(source, "resubmit-data.p4")
    first = str(e.value).splitlines()[0]
    assert ":86:" in first and "resubmit_preserving_field_list" in first
