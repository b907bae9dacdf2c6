"""Compiler diagnostics: file:line:column and a caret for each class of error."""

from __future__ import annotations

from pathlib import Path

import pytest

from target.compiler.driver import compile_text
from target.compiler.errors import CompileError, Unsupported

ROUTER = (Path(__file__).resolve().parent.parent / "p4src" / "router.p4").read_text()


def _error(text: str) -> CompileError:
    with pytest.raises(CompileError) as info:
        compile_text(text, "prog.p4")
    return info.value


def _line_of(text: str, fragment: str) -> int:
    return text[:text.index(fragment)].count("\n") + 1


def test_syntax_error_points_at_the_token() -> None:
    text = ROUTER.replace("bit<8>        punt_reason;", "bit<8>        punt_reason")
    err = _error(text)
    assert err.location is not None and err.location.file == "prog.p4"
    assert err.location.line == _line_of(text, "punt_reason") + 1
    assert "syntax error" in str(err) and "^" in str(err).splitlines()[-1]


def test_unknown_name() -> None:
    text = ROUTER.replace("meta.punt_reason = reason;", "meta.punt_reason = reasn;")
    err = _error(text)
    assert "unknown name reasn" in err.message
    assert err.location is not None and err.location.line == _line_of(text, "reasn")
    assert str(err).splitlines()[-1].index("^") == err.location.column - 1


def test_width_mismatch() -> None:
    text = ROUTER.replace("meta.punt_reason = reason;", "meta.punt_reason = hdr.ipv4.dst;")
    err = _error(text)
    assert "width mismatch" in err.message and "bit<32>" in err.message


def test_unsupported_construct_is_named() -> None:
    local = "    counter(4, CounterType.packets) parsed;\n"
    text = ROUTER.replace("    state start {", local + "    state start {", 1)
    assert text != ROUTER
    with pytest.raises(Unsupported) as info:
        compile_text(text, "prog.p4")
    assert "parser-local instantiation" in info.value.message


def test_unknown_type_in_include_free_program() -> None:
    err = _error("header h_t { foo_t x; }")
    assert "syntax error" in err.message or "unknown type" in err.message


def test_kvick_compile_writes_json_and_p4info(tmp_path: Path) -> None:
    from target.cli import main

    out, info = tmp_path / "router.json", tmp_path / "router.p4info.txtpb"
    source = Path(__file__).resolve().parent.parent / "p4src" / "router.p4"
    assert main(["compile", str(source), "-o", str(out), "--p4runtime-files", str(info)]) == 0
    assert '"RouterIngress.ipv4_lpm"' in out.read_text()
    assert 'name: "RouterIngress.ipv4_lpm"' in info.read_text()
    bad = tmp_path / "bad.p4"
    bad.write_text("header h { bit<8> x }\n")
    assert main(["compile", str(bad), "-o", str(tmp_path / "bad.json")]) == 1
