"""target.compiler.compare: finds P4Info and behaviour differences between two compilations."""

from __future__ import annotations

import json
from pathlib import Path

from target.compiler.compare import behaviour_differences, p4info_differences
from target.compiler.driver import compile_file, compile_text

ROUTER = Path(__file__).resolve().parent.parent / "p4src" / "router.p4"
# Entries in the P4 tutorials' runtime-file format: a route to 10.0.0.0/8 via port 2.
ROUTES = {"table_entries": [
    {"table": "RouterIngress.ipv4_lpm", "match": {"hdr.ipv4.dst": ["10.0.0.0", 8]},
     "action_name": "RouterIngress.set_next_hop", "action_params": {"next_hop": 9}},
    {"table": "RouterIngress.next_hop", "match": {"meta.next_hop": 9},
     "action_name": "RouterIngress.forward", "action_params": {"port": 2, "dmac": "08:00:00:00:02:02"}},
    {"table": "RouterIngress.next_hop", "default_action": True,
     "action_name": "RouterIngress.drop", "action_params": {"reason": 3}},
]}


def test_a_program_agrees_with_itself_and_packets_get_through() -> None:
    document, p4info = compile_file(ROUTER)
    assert p4info_differences(p4info, p4info) == []
    problems, active = behaviour_differences((document, p4info), (document, p4info), packets=120)
    assert problems == []
    assert active > 0


def test_a_changed_action_is_a_behaviour_difference(tmp_path: Path) -> None:
    (tmp_path / "s1-runtime.json").write_text(json.dumps(ROUTES))
    text = ROUTER.read_text()
    changed = text.replace("hdr.ipv4.ttl = hdr.ipv4.ttl - 1;", "hdr.ipv4.ttl = hdr.ipv4.ttl - 2;")
    assert changed != text
    ours = compile_text(changed, str(ROUTER))
    theirs = compile_file(ROUTER)
    assert p4info_differences(ours[1], theirs[1]) == []
    problems, _ = behaviour_differences(ours, theirs, packets=200, runtime=[tmp_path / "s1-runtime.json"])
    assert any("packet" in p for p in problems)


def test_a_renamed_table_is_a_p4info_difference() -> None:
    text = ROUTER.read_text()
    changed = text.replace("table port_mac", "table port_smac")
    changed = changed.replace("port_mac.apply()", "port_smac.apply()")
    problems = p4info_differences(compile_text(changed, str(ROUTER))[1], compile_file(ROUTER)[1])
    assert any("RouterEgress.port_smac" in p for p in problems)
    assert any("RouterEgress.port_mac" in p for p in problems)
