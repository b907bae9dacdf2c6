"""Invalid P4_16 is refused with file:line:column, the source line and a caret; never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from target.compiler.driver import compile_text
from target.compiler.errors import CompileError

ROUTER = (Path(__file__).resolve().parent.parent / "p4src" / "router.p4").read_text()


def _refused(old: str, new: str, fragment: str) -> CompileError:
    text = ROUTER.replace(old, new, 1)
    assert text != ROUTER
    with pytest.raises(CompileError) as info:
        compile_text(text, "prog.p4")
    err = info.value
    assert err.location is not None and err.location.file == "prog.p4"
    lines = text.splitlines()
    assert lines[err.location.line - 1] == err.location.text
    assert fragment in err.location.text
    shown = str(err).splitlines()
    assert shown[0].startswith(f"prog.p4:{err.location.line}:{err.location.column}: error: ")
    assert shown[-1] == " " * (err.location.column - 1) + "^"
    return err


def test_a_register_without_a_size() -> None:
    err = _refused("    counter(4, CounterType.packets) drop_reasons;",
                   "    counter(4, CounterType.packets) drop_reasons;\n    register<bit<1>>() flags;",
                   "register<bit<1>>() flags;")
    assert err.message == "register's constructor takes 1 argument, got 0"


def test_a_duplicate_header_field() -> None:
    err = _refused("    mac_t   src;", "    mac_t   src;\n    bit<8>  src;", "bit<8>  src;")
    assert err.message == "header ethernet_t has two fields named src"


def test_an_extern_function_with_too_few_arguments() -> None:
    err = _refused("mark_to_drop(standard_metadata);", "mark_to_drop();", "mark_to_drop();")
    assert err.message == "mark_to_drop takes 1 argument, got 0"


def test_an_extern_method_with_too_many_arguments() -> None:
    text = ROUTER[ROUTER.index("drop_reasons.count("):]
    call = text[:text.index(";")]
    err = _refused(call, call[:-1] + ", 1)", "drop_reasons.count(")
    assert err.message == "counter.count takes 1 argument, got 2"


def test_a_table_applied_with_an_argument() -> None:
    err = _refused("next_hop.apply();", "next_hop.apply(1);", "next_hop.apply(1);")
    assert err.message == "a table's apply() takes no arguments"


def test_a_key_on_a_missing_header_field_names_the_field() -> None:
    err = _refused("key = { hdr.ipv4.dst: lpm; }", "key = { hdr.ipv4.dstt: lpm; }", "hdr.ipv4.dstt")
    assert err.message == "header ipv4_t has no field dstt"
    assert err.location is not None and err.location.column == err.location.text.index("dstt") + 1


def test_a_key_on_a_missing_metadata_field_names_the_field() -> None:
    err = _refused("key = { meta.next_hop: exact; }", "key = { meta.next_hopp: exact; }", "meta.next_hopp")
    assert "has no field next_hopp" in err.message


def test_a_function_like_macro_with_a_wrong_argument_count() -> None:
    err = _refused("mark_to_drop(standard_metadata);",
                   "mark_to_drop(standard_metadata);\n#define DROP(m) mark_to_drop(m)\n        DROP(a, b);",
                   "DROP(a, b);")
    assert err.message == "macro DROP takes 1 arguments, got 2"


def test_a_header_inside_a_header() -> None:
    # (a struct in a header is flattened: tests/test_compiler_header_structs.py)
    err = _refused("    mac_t   src;", "    mac_t   src;\n    packet_in_t inner;", "packet_in_t inner;")
    assert err.message.startswith("header field ethernet_t.inner of header packet_in_t: a header holds")


def test_a_register_of_a_struct() -> None:
    err = _refused("    counter(4, CounterType.packets) drop_reasons;",
                   "    counter(4, CounterType.packets) drop_reasons;\n"
                   "    register<metadata_t>(4) saved;", "register<metadata_t>(4) saved;")
    assert err.message.startswith("unsupported construct: register of struct metadata_t")
