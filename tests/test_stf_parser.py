"""The STF runner's parts that need no switch: parser, names, values, packet matching."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from shared_data import CORPUS, needs_corpus, require

from target import stf
from target.stf import (
    ActionCall,
    AddEntry,
    CheckCounter,
    ExpectPacket,
    KeyDesc,
    KeyMatch,
    MatchField,
    McGroupCreate,
    McNodeAssociate,
    McNodeCreate,
    MirroringAdd,
    Output,
    ProgramNames,
    RemoveEntries,
    SendPacket,
    SetDefault,
    StfError,
    TableDesc,
    Wait,
)

STF_FILES = sorted(CORPUS.glob("*/*.stf"))


def program(name: str) -> ProgramNames:
    return ProgramNames.from_file(require(CORPUS / name / f"{name}.json"))


def one(text: str) -> stf.Command:
    commands = stf.parse_stf(text)
    assert len(commands) == 1
    return commands[0]


# --- parser ---------------------------------------------------------------------------


@needs_corpus
def test_every_corpus_file_parses_and_resolves() -> None:
    assert len(STF_FILES) > 200
    for path in STF_FILES:
        commands = stf.parse_stf(path.read_text())
        steps = stf.resolve(commands, ProgramNames.from_file(path.with_suffix(".json")))
        assert len(steps) == len(commands)


def test_add_with_priority_label_and_args() -> None:
    c = one("add test1 503 data.f1:0x****0202 setb1(val:7, port:3) = B")
    assert c == AddEntry(1, "test1", 503, (MatchField("data.f1", "0x****0202"),),
                         ActionCall("setb1", (("val", "7"), ("port", "3"))), "B")


def test_add_without_priority_several_keys_and_no_args() -> None:
    c = one("ADD ingress.t  h.h.e:0x1 h.h.t : 0b1*  ingress.a()")
    assert isinstance(c, AddEntry)
    assert c.priority is None and c.label is None
    assert c.matches == (MatchField("h.h.e", "0x1"), MatchField("h.h.t", "0b1*"))
    assert c.action == ActionCall("ingress.a", ())


def test_add_lpm_range_and_stack_names() -> None:
    c = one("add t hdr.ip.dst:0x0a000000/8 extra$0.h:1->5 hdr.u[1].f:3 act()")
    assert isinstance(c, AddEntry)
    assert [m.value for m in c.matches] == ["0x0a000000/8", "1->5", "3"]
    assert [m.name for m in c.matches] == ["hdr.ip.dst", "extra$0.h", "hdr.u[1].f"]


def test_setdefault() -> None:
    assert one("setdefault ethertype_match l2_packet()") == SetDefault(
        1, "ethertype_match", ActionCall("l2_packet", ()))
    c = one("setdefault t set(port:0x2)")
    assert isinstance(c, SetDefault) and c.action.args == (("port", "0x2"),)


def test_packet_joins_hex_groups() -> None:
    c = one("packet 2 0001 02\t03 # trailing comment")
    assert c == SendPacket(1, 2, bytes([0, 1, 2, 3]))


def test_expect_pattern_with_dont_care_and_end_mark() -> None:
    assert one("expect 3 aa** bb $") == ExpectPacket(1, 3, "AA**BB$")
    assert one("expect 7") == ExpectPacket(1, 7, None)


def test_pre_commands() -> None:
    assert one("mirroring_add 5 4") == MirroringAdd(1, 5, 4)
    assert one("mc_mgrp_create 1113") == McGroupCreate(1, 1113)
    assert one("mc_node_create 400 6 7") == McNodeCreate(1, 400, (6, 7))
    assert one("mc_node_associate 1113 2") == McNodeAssociate(1, 1113, 2)


def test_check_counter_forms() -> None:
    assert one("check_counter cnt($A) bytes == 39") == CheckCounter(
        1, "cnt", None, "A", "bytes", "==", 39)
    assert one("check_counter cntDum(10) packets >= 0x2") == CheckCounter(
        1, "cntDum", 10, None, "packets", ">=", 2)
    assert one("check_counter cnt($A)") == CheckCounter(1, "cnt", None, "A", None, "==", 0)


def test_wait_remove_comments_and_blank_lines() -> None:
    commands = stf.parse_stf("# header\n\nwait\n  # x\nremove all\nremove $A\n")
    assert commands == [Wait(3), RemoveEntries(5, None), RemoveEntries(6, "A")]


@pytest.mark.parametrize("text, fragment", [
    ("frobnicate 1", "unknown command"),
    ("packet x 00", "port number"),
    ("packet 0 0g", "bad packet data"),
    ("packet 0 123", "odd number"),
    ("expect 0 12$34", "bad packet data"),
    ("add t k:0x1 a(p:1", "end of line"),
    ("add t k:0xzz a()", "bad value"),
    ("add t k:1 a(p:zz)", "not a number"),
    ("add t k:1 a() extra", "unexpected"),
    ("check_counter c(1) frames == 1", "'packets' or 'bytes'"),
    ("check_counter c(1) packets ~ 1", "expected a comparison"),
    ("add t k:1 a() !x", "unexpected character"),
    ("mirroring_add 1", "end of line"),
])
def test_syntax_errors_name_the_line(text: str, fragment: str) -> None:
    with pytest.raises(StfError) as info:
        stf.parse_stf("\n" + text)
    assert info.value.line == 2
    assert fragment in str(info.value)


def test_parse_int_forms() -> None:
    assert stf.parse_int("0x1F") == 31
    assert stf.parse_int("0b101") == 5
    assert stf.parse_int("0o17") == 15
    assert stf.parse_int("0010") == 10
    with pytest.raises(StfError):
        stf.parse_int("1.5")


# --- names ----------------------------------------------------------------------------


def test_table_names_exact_then_suffix() -> None:
    names = program("ternary2-bmv2")
    assert names.table("ingress.test1").name == "ingress.test1"
    assert names.table("test1").name == "ingress.test1"
    assert names.table("ex1").name == "ingress.ex1"
    with pytest.raises(StfError, match="no table"):
        names.table("nosuch")


def tables_named(*names: str) -> ProgramNames:
    return ProgramNames({"pipelines": [{"tables": [
        {"name": n, "match_type": "exact", "key": [], "actions": []} for n in names]}]})


def test_table_suffix_ambiguity_is_an_error() -> None:
    with pytest.raises(StfError, match="ambiguous"):
        tables_named("c.t", "d.t").table("t")
    with pytest.raises(StfError, match="ambiguous"):
        tables_named("c.xt", "d.yt").table("t")


def test_ambiguous_plain_suffix_falls_back_to_dotted_suffix() -> None:
    assert tables_named("c.t", "c.tt").table("t").name == "c.t"
    assert tables_named("c.t", "c.tt").table("c.t").name == "c.t"


def test_actions_resolve_within_the_table() -> None:
    names = program("ternary2-bmv2")
    table = names.table("test1")
    assert names.action(table, "setb1").name == "ingress.setb1"
    assert names.action(table, "ingress.setb1").params == (("port", 9), ("val", 8))
    with pytest.raises(StfError, match="no action"):
        names.action(table, "setbyte")  # an action of other tables only


def test_key_fields_by_json_name_suffix_and_stack_spelling() -> None:
    names = program("ternary2-bmv2")
    ex1 = names.table("ex1")
    assert stf.resolve_key_field(ex1, "extra$0.h").name == "hdrs.extra[0].h"
    assert stf.resolve_key_field(ex1, "hdrs.extra[0].h").name == "hdrs.extra[0].h"
    t = names.table("test1")
    assert stf.resolve_key_field(t, "data.f1").name == "hdrs.data.f1"
    assert stf.resolve_key_field(t, "f1").name == "hdrs.data.f1"
    with pytest.raises(StfError, match="no key field"):
        stf.resolve_key_field(t, "data.f2")


def test_key_fields_valid_bits() -> None:
    tmvalid = program("p4_14_tmvalid").table("test1")
    assert stf.resolve_key_field(tmvalid, "data").name == "data.$valid$"
    assert stf.resolve_key_field(tmvalid, "data.valid").name == "data.$valid$"
    assert stf.resolve_key_field(tmvalid, "valid").name == "data.$valid$"
    assert tmvalid.keys[0].bitwidth == 1


def test_key_names_from_annotations_and_masks() -> None:
    t1 = program("match-on-exprs-bmv2").table("t1")
    assert [(k.name, k.bitwidth) for k in t1.keys] == [
        ("ethernet.srcAddr.slice", 5), ("dstAddr_lsbs", 48), ("etherType_less_10", 16)]


def test_counters_direct_and_indexed() -> None:
    assert program("p4_14_counter2").counter("cnt").direct_table == "tab1"
    indexed = program("p4_14_counter6").counter("cntDum")
    assert indexed.direct_table is None and indexed.size > 10


@needs_corpus
def test_varbit_headers_do_not_break_loading() -> None:
    varbit = [p for p in STF_FILES if '"*"' in p.with_suffix(".json").read_text()]
    assert varbit, "the corpus has programs with varbit fields"
    ProgramNames.from_file(varbit[0].with_suffix(".json"))


# --- values ---------------------------------------------------------------------------

TERNARY32 = KeyDesc("f", "ternary", 32)
LPM32 = KeyDesc("d", "lpm", 32)


def test_ternary_mask_follows_written_digits() -> None:
    assert stf.convert_match(TERNARY32, "0x****0101") == KeyMatch("ternary", 0x0101, 0xFFFF)
    assert stf.convert_match(TERNARY32, "0x25**") == KeyMatch("ternary", 0x2500, 0xFF00)
    assert stf.convert_match(TERNARY32, "0b1*") == KeyMatch("ternary", 0b10, 0b10)
    assert stf.convert_match(TERNARY32, "0x12345678") == KeyMatch(
        "ternary", 0x12345678, 0xFFFFFFFF)
    assert stf.convert_match(TERNARY32, "0x****") == KeyMatch("any")
    assert stf.convert_match(TERNARY32, "*") == KeyMatch("any")
    assert stf.convert_match(TERNARY32, "0x10&&&0xF0") == KeyMatch("ternary", 0x10, 0xF0)
    assert stf.convert_match(TERNARY32, "7") == KeyMatch("ternary", 7, 0xFFFFFFFF)


def test_lpm_prefix_from_slash_or_written_digits() -> None:
    assert stf.convert_match(LPM32, "0x0a000000/8") == KeyMatch("lpm", 0x0A000000, 8)
    assert stf.convert_match(LPM32, "0x0a010065") == KeyMatch("lpm", 0x0A010065, 32)
    assert stf.convert_match(LPM32, "0x0a01****") == KeyMatch("lpm", 0x0A010000, 16)
    assert stf.convert_match(LPM32, "0x0a0101ff/24") == KeyMatch("lpm", 0x0A010100, 24)
    assert stf.convert_match(LPM32, "167772160") == KeyMatch("lpm", 0x0A000000, 32)
    assert stf.convert_match(LPM32, "0x0/0") == KeyMatch("any")


def test_exact_range_optional_and_widths() -> None:
    assert stf.convert_match(KeyDesc("e", "exact", 8), "0xff") == KeyMatch("exact", 255)
    with pytest.raises(StfError, match="does not fit"):
        stf.convert_match(KeyDesc("e", "exact", 8), "0x100")
    with pytest.raises(StfError):
        stf.convert_match(KeyDesc("e", "exact", 8), "0x1*")
    rng = KeyDesc("r", "range", 16)
    assert stf.convert_match(rng, "1->0x10") == KeyMatch("range", 1, 16)
    assert stf.convert_match(rng, "5") == KeyMatch("range", 5, 5)
    assert stf.convert_match(rng, "*") == KeyMatch("any")
    with pytest.raises(StfError, match="empty range"):
        stf.convert_match(rng, "5->1")
    opt = KeyDesc("o", "optional", 8)
    assert stf.convert_match(opt, "3") == KeyMatch("optional", 3)
    assert stf.convert_match(opt, "*") == KeyMatch("any")


def test_unwritten_key_fields_take_bmv2stf_defaults() -> None:
    table = TableDesc("t", "ternary", (KeyDesc("a", "exact", 8), KeyDesc("b", "ternary", 8),
                                       KeyDesc("c", "lpm", 8)), ("x",))
    assert stf.build_match(table, [MatchField("b", "0x1*")]) == [
        KeyMatch("exact", 0), KeyMatch("ternary", 0x10, 0xF0), KeyMatch("any")]


def test_masked_exact_key_keeps_field_coordinates() -> None:
    names = program("p4_14_exact_match_mask1")
    table = names.table("test1")
    assert stf.build_match(table, [MatchField("data.f1", "0x00010001")]) == [
        KeyMatch("exact", 0x00010001)]


def test_params_in_declaration_order_and_checked() -> None:
    names = program("ternary2-bmv2")
    action = names.action(names.table("test1"), "setb1")
    assert stf.build_params(action, [("val", "0x7f"), ("port", "2")]) == [2, 0x7F]
    with pytest.raises(StfError, match="needs parameter"):
        stf.build_params(action, [("val", "1")])
    with pytest.raises(StfError, match="no parameter"):
        stf.build_params(action, [("val", "1"), ("port", "2"), ("x", "3")])
    with pytest.raises(StfError, match="does not fit"):
        stf.build_params(action, [("val", "0x100"), ("port", "2")])


def test_priorities_keep_stf_order_and_start_at_one() -> None:
    ternary = TableDesc("t", "ternary", (TERNARY32,), ())
    exact = TableDesc("e", "exact", (KeyDesc("e", "exact", 8),), ())
    assert stf.target_priority(0, ternary) == 1
    assert stf.target_priority(9999, ternary) > stf.target_priority(503, ternary)
    assert stf.target_priority(None, ternary) == 1
    assert stf.target_priority(7, exact) is None


# --- resolution -----------------------------------------------------------------------


def resolve_text(name: str, text: str) -> list[stf.Step]:
    return stf.resolve(stf.parse_stf(text), program(name))


def test_resolved_add_has_full_names_key_order_and_target_priority() -> None:
    [step] = resolve_text("ternary2-bmv2", "add ex1 110 extra$0.h:0x2525 act2(val:0x27) = X")
    assert step == stf.TableAdd(1, "ingress.ex1", (KeyMatch("ternary", 0x2525, 0xFFFF),),
                                "ingress.act2", (0x27,), 111, "X")


def test_resolved_setdefault_and_pass_through_commands() -> None:
    steps = resolve_text("p4_14_07-MultiProtocol",
                         "setdefault ethertype_match l2_packet()\npacket 1 00\nwait")
    assert steps == [stf.TableSetDefault(1, "ethertype_match", "l2_packet", ()),
                     SendPacket(2, 1, b"\x00"), Wait(3)]


def test_counter_checks_resolve_direct_and_indexed_counters() -> None:
    steps = resolve_text("p4_14_counter2", "add tab1 600 ethernet.dstAddr:0xa1a2a3a4a5a6 "
                         "act(port:2) = A\ncheck_counter cnt($A) packets == 1")
    assert steps[1] == stf.CounterCheck(2, "cnt", "tab1", None, "A", "packets", "==", 1)
    [check] = resolve_text("p4_14_counter6", "check_counter cntDum(10) packets == 2")
    assert check == stf.CounterCheck(1, "cntDum", None, 10, None, "packets", "==", 2)


@pytest.mark.parametrize("name, text, fragment", [
    ("p4_14_counter2", "check_counter cnt($A) packets == 1", "no entry labelled 'A'"),
    ("p4_14_counter2", "check_counter cnt(1) packets == 1", "needs an entry \\$label"),
    ("p4_14_counter6", "check_counter cntDum(100000) packets == 1", "outside counter"),
    ("p4_14_counter6", "add tabA hdrA.f1:1 act(port:2, idx:1) = A\n"
                       "check_counter cntDum($A)", "not the direct counter"),
    ("ternary2-bmv2", "add test1 data.f1:1 nosuch()", "no action"),
    ("ternary2-bmv2", "setdefault nosuch a()", "no table"),
])
def test_resolution_errors(name: str, text: str, fragment: str) -> None:
    with pytest.raises(StfError, match=fragment):
        resolve_text(name, text)


# --- expected packets -----------------------------------------------------------------


def reference_match(pattern: str, frame: bytes) -> bool:
    """Obviously-correct restatement: compare nibble strings after padding rules."""
    got = frame.hex().upper()
    strict = pattern.endswith("$")
    want = pattern.rstrip("$")
    if len(got) < len(want) or (strict and len(got) != len(want)):
        return False
    return all(w in ("*", g) for w, g in zip(want, got, strict=False))


def test_packet_matching() -> None:
    assert stf.packet_mismatch("0102", bytes([1, 2])) is None
    assert stf.packet_mismatch("0102", bytes([1, 2, 3])) is None  # longer is fine
    assert "too long" in stf.packet_mismatch("0102$", bytes([1, 2, 3]))
    assert stf.packet_mismatch("0102$", bytes([1, 2])) is None
    assert "too short" in stf.packet_mismatch("010203", bytes([1, 2]))
    assert stf.packet_mismatch("0*0*", bytes([0x0A, 0x0B])) is None
    assert "byte 1 (nibble 3)" in stf.packet_mismatch("0A0C", bytes([0x0A, 0x0B]))
    assert stf.packet_mismatch("", b"") is None


def test_packet_matching_against_reference_randomly() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        frame = bytes(rng.randrange(4) for _ in range(rng.randrange(5)))
        nibbles = rng.randrange(11)
        pattern = "".join(rng.choice("0123**") for _ in range(nibbles))
        if rng.random() < 0.4:
            pattern += "$"
        assert (stf.packet_mismatch(pattern, frame) is None) == reference_match(pattern, frame)


def expect(port: int, pattern: str | None, line: int = 1) -> ExpectPacket:
    return ExpectPacket(line, port, pattern)


def out(port: int, hexdata: str) -> Output:
    return Output(port, bytes.fromhex(hexdata), 9)


def test_outputs_in_order_per_port_any_order_across_ports() -> None:
    expects = [expect(1, "AA"), expect(2, "BB"), expect(1, "CC")]
    assert stf.check_outputs(expects, [out(2, "bb"), out(1, "aa"), out(1, "cc")], {1, 2}) == []
    failures = stf.check_outputs(expects, [out(1, "cc"), out(2, "bb"), out(1, "aa")], {1, 2})
    assert len(failures) == 1 and failures[0].startswith("port 1: packet #1 differs")


def test_packet_counts_per_port_must_match() -> None:
    failures = stf.check_outputs([expect(1, "AA")], [out(1, "aa"), out(1, "aa")], {0, 1})
    assert failures and "expected 1 packet(s), got 2" in failures[0]
    failures = stf.check_outputs([expect(1, "AA")], [], {0, 1})
    assert failures and "got 0" in failures[0] and "#1 got: nothing" in failures[0]


def test_unexpected_packet_on_a_used_port_fails() -> None:
    failures = stf.check_outputs([], [out(0, "aa")], {0})
    assert failures and failures[0].startswith("port 0: expected 0 packet(s), got 1")


def test_expect_without_data_accepts_anything_on_that_port() -> None:
    assert stf.check_outputs([expect(4, None)], [out(4, "aa"), out(4, "bb")], {4}) == []
    assert stf.check_outputs([expect(4, None)], [], {4}) == []


def test_report_shows_expected_and_received_side_by_side() -> None:
    failures = stf.check_outputs([expect(3, "AABB", line=7)], [out(3, "aacc")], {3})
    assert "#1 expected (line 7): AABB" in failures[0]
    assert "(from line 9):      AACC" in failures[0]


# --- command line ---------------------------------------------------------------------


@needs_corpus
def test_command_line_reports_a_bad_file_with_its_line(tmp_path: Path) -> None:
    import io

    bad = tmp_path / "bad.stf"
    bad.write_text("packet 0 00\nadd nosuch k:1 a()\n")
    printed, errors = io.StringIO(), io.StringIO()
    code = stf.main([str(STF_FILES[0].with_suffix(".json")), str(bad)], out=printed, err=errors)
    assert code == 1
    assert "line 2: no table 'nosuch'" in errors.getvalue() and printed.getvalue() == ""
