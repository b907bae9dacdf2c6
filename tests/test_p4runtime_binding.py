"""Binding P4Info to BMv2 JSON by name: every corpus pair binds; altered pairs are refused."""

import pytest
from p4runtime_corpus import corpus_programs, load_json, load_p4info

from runtime_server.binding import binding_problems, check_binding
from runtime_server.errors import P4RuntimeError, StatusCode

# p4c removed this program's only table from the JSON, so its P4Info names a table the
# program does not have: the one corpus pair that genuinely does not bind.
UNBINDABLE = {"gauntlet_nested_switch-bmv2"}


@pytest.mark.parametrize("name", corpus_programs())
def test_corpus_pairs_bind(name: str) -> None:
    problems = binding_problems(load_p4info(name), load_json(name))
    assert bool(problems) == (name in UNBINDABLE), problems


def test_other_programs_json_is_refused() -> None:
    with pytest.raises(P4RuntimeError) as err:
        check_binding(load_p4info("onos_basic"), load_json("tutorial_basic"))
    assert err.value.code == StatusCode.INVALID_ARGUMENT
    assert "ingress.table0_control.set_next_hop_id" in err.value.message
    assert "(and 12 more)" in err.value.message


def test_renamed_table_is_refused() -> None:
    p4info = load_p4info("tutorial_basic")
    p4info.tables[0].preamble.name = "MyIngress.ipv4_lpm_renamed"
    problems = binding_problems(p4info, load_json("tutorial_basic"))
    assert any("ipv4_lpm_renamed" in p for p in problems)


def test_wrong_key_width_is_refused() -> None:
    p4info = load_p4info("tutorial_basic")
    p4info.tables[0].match_fields[0].bitwidth = 31
    problems = binding_problems(p4info, load_json("tutorial_basic"))
    assert problems == [
        "table 'MyIngress.ipv4_lpm': match field 'hdr.ipv4.dstAddr' is 31 bits in P4Info, "
        "32 in the device config"
    ]


def test_wrong_match_kind_and_param_width_are_refused() -> None:
    p4info = load_p4info("tutorial_basic")
    p4info.tables[0].match_fields[0].match_type = p4info.tables[0].match_fields[0].EXACT
    forward = next(a for a in p4info.actions if a.preamble.name == "MyIngress.ipv4_forward")
    forward.params[1].bitwidth = 16
    problems = binding_problems(p4info, load_json("tutorial_basic"))
    assert len(problems) == 2
    assert any("match field 'hdr.ipv4.dstAddr'" in p for p in problems)
    assert any("action 'MyIngress.ipv4_forward'" in p for p in problems)


def test_counter_size_mismatch_is_refused() -> None:
    p4info = load_p4info("onos_basic")
    p4info.counters[0].size += 1
    problems = binding_problems(p4info, load_json("onos_basic"))
    assert len(problems) == 1 and "size" in problems[0]
