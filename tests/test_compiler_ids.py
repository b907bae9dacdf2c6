"""P4Info ids follow p4c's rule: the corpus P4Info files (compiled by p4c) agree with ours."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shared_data import CORPUS, needs_corpus

from target.compiler.p4info import PREFIX, IdAllocator, jenkins_one_at_a_time

_KINDS = {"tables": "table", "actions": "action", "counters": "counter", "direct_counters": "direct_counter",
          "meters": "meter", "direct_meters": "direct_meter", "registers": "register", "digests": "digest",
          "action_profiles": "action_profile", "controller_packet_metadata": "controller_header"}


def _corpus_objects() -> list[tuple[str, str, int, bool]]:
    out = []
    for path in sorted(CORPUS.glob("*/*.p4info.txtpb")):
        text = path.read_text()
        for m in re.finditer(r"^(\w+) \{\n  preamble \{\n    id: (\d+)\n    name: \"([^\"]+)\"(.*?)\n  \}",
                             text, re.M | re.S):
            if m.group(1) in _KINDS:
                has_id_annotation = "@id(" in m.group(4)
                out.append((_KINDS[m.group(1)], m.group(3), int(m.group(2)), has_id_annotation))
    return out


def test_jenkins_hash_known_value() -> None:
    assert jenkins_one_at_a_time("") == 0
    assert jenkins_one_at_a_time("a") == 0xCA2E9442


@needs_corpus
def test_corpus_ids_equal_prefix_and_name_hash() -> None:
    # Controller headers hash their header type's name (checked below); ids whose low 24 bits are
    # small integers come from @id annotations (p4c drops the annotation from the P4Info).
    objects = [o for o in _corpus_objects() if o[0] != "controller_header" and o[2] & 0xFFFFFF >= 0x10000]
    assert len(objects) > 500
    mismatches = [(k, n, i) for k, n, i, _ in objects
                  if i != (PREFIX[k] << 24 | (jenkins_one_at_a_time(n) & 0xFFFFFF))]
    # Collisions move an id to the next free one; there are none in the corpus.
    assert mismatches == []


@needs_corpus
def test_controller_header_ids_hash_the_header_type_name() -> None:
    text = (CORPUS / "onos_basic" / "onos_basic.p4info.txtpb").read_text()
    expected = PREFIX["controller_header"] << 24 | jenkins_one_at_a_time("packet_in_header_t") & 0xFFFFFF
    assert f"id: {expected}" in text


def test_collision_takes_the_next_free_id() -> None:
    ids = IdAllocator()
    first = ids.assign("table", "a.b")
    assert ids.assign("table", "a.b") == first + 1
    assert ids.assign("action", "a.b") >> 24 == PREFIX["action"]


def _router_with(replacements: list[tuple[str, str]]) -> str:
    from target.compiler.driver import compile_text

    text = (Path(__file__).resolve().parent.parent / "p4src" / "router.p4").read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return compile_text(text, "router.p4")[1]


def _id_of(p4info: str, name: str) -> int:
    m = re.search(r"id: (\d+)\n    name: \"" + re.escape(name) + "\"", p4info)
    assert m, name
    return int(m.group(1))


def test_id_annotation_overrides_the_hash_and_is_not_repeated() -> None:
    p4info = _router_with([("    table next_hop {", "    @id(7)\n    table next_hop {"),
                           ("    action forward(", "    @id(0x01000009)\n    action forward(")])
    assert _id_of(p4info, "RouterIngress.next_hop") == PREFIX["table"] << 24 | 7
    assert _id_of(p4info, "RouterIngress.forward") == 0x01000009
    assert "@id" not in p4info
    # Everything else keeps its hashed id.
    name = "RouterIngress.ipv4_lpm"
    assert _id_of(p4info, name) == PREFIX["table"] << 24 | (jenkins_one_at_a_time(name) & 0xFFFFFF)


def test_id_given_twice_or_with_a_foreign_prefix_is_an_error() -> None:
    from target.compiler.errors import CompileError

    with pytest.raises(CompileError, match="used by another table"):
        _router_with([("    table next_hop {", "    @id(7)\n    table next_hop {"),
                      ("    table ipv4_lpm {", "    @id(7)\n    table ipv4_lpm {")])
    with pytest.raises(CompileError, match="prefix"):
        _router_with([("    table next_hop {", "    @id(0x01000001)\n    table next_hop {")])
