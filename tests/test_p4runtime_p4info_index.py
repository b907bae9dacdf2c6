"""The P4Info index: ids, names and aliases on every corpus P4Info; per-table facts."""

import pytest
from p4runtime_corpus import corpus_programs, load_p4info

from runtime_server.p4info_index import Kind, MatchType, P4InfoIndex, Scope


@pytest.mark.parametrize("name", corpus_programs())
def test_every_entity_resolves_by_id_name_and_alias(name: str) -> None:
    p4info = load_p4info(name)
    index = P4InfoIndex.build(p4info)
    for kind in Kind:
        entities = list(getattr(p4info, kind.value))
        for entity in entities:
            preamble = entity.preamble
            assert index.get(kind, preamble.id) is entity
            assert index.get(kind, preamble.name) is entity
            # The P4Info alias resolves unless another entity of the kind is named so.
            if not any(o.preamble.name == preamble.alias for o in entities if o is not entity):
                assert index.get(kind, preamble.alias) is entity
            assert index.kind_of(preamble.id) is kind


def test_ambiguous_suffixes_resolve_to_nothing() -> None:
    p4info = load_p4info("onos_basic")
    extra = p4info.tables.add()
    extra.CopyFrom(p4info.tables[0])
    extra.preamble.id = 0x02FFFFFF
    extra.preamble.name = "other." + p4info.tables[0].preamble.name.split(".", 1)[1]
    extra.preamble.alias = ""
    index = P4InfoIndex.build(p4info)
    suffix = p4info.tables[0].preamble.name.split(".")[-1]
    with pytest.raises(KeyError):
        index.get(Kind.TABLE, suffix)
    assert index.get(Kind.TABLE, extra.preamble.name) is extra


def test_duplicate_ids_are_refused() -> None:
    p4info = load_p4info("tutorial_basic")
    p4info.actions[1].preamble.id = p4info.actions[0].preamble.id
    with pytest.raises(ValueError):
        P4InfoIndex.build(p4info)


def test_wrong_kind_by_id_is_not_found() -> None:
    p4info = load_p4info("tutorial_basic")
    index = P4InfoIndex.build(p4info)
    with pytest.raises(KeyError):
        index.get(Kind.ACTION, p4info.tables[0].preamble.id)


def test_table_facts() -> None:
    index = P4InfoIndex.build(load_p4info("onos_basic"))
    table0 = index.tables[index.get(Kind.TABLE, "table0").preamble.id]
    assert table0.needs_priority
    assert table0.direct_counter_id == index.get(Kind.DIRECT_COUNTER, "table0_counter").preamble.id
    assert all(f.match_type == MatchType.TERNARY for f in table0.match_fields)
    wcmp = index.tables[index.get(Kind.TABLE, "wcmp_table").preamble.id]
    assert wcmp.implementation_id == index.get(Kind.ACTION_PROFILE, "wcmp_selector").preamble.id
    assert [f.name for f in index.packet_in] == ["ingress_port", "_padding"]
    basic = P4InfoIndex.build(load_p4info("tutorial_basic"))
    lpm = basic.tables[basic.get(Kind.TABLE, "ipv4_lpm").preamble.id]
    assert not lpm.needs_priority
    assert set(lpm.action_scopes.values()) == {Scope.TABLE_AND_DEFAULT}
    forward = basic.actions[basic.get(Kind.ACTION, "ipv4_forward").preamble.id]
    assert [(p.name, p.bitwidth) for p in forward.params] == [("dstAddr", 48), ("port", 9)]
