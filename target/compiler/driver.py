"""compile_file / compile_text: P4 source to (BMv2 JSON document, P4Info text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from target.compiler.declarations import Declarations
from target.compiler.lower import ProgramLowering
from target.compiler.p4info import p4info_text
from target.compiler.parse import parse_file, parse_source, parse_text
from target.compiler.preprocess import Source


def compile_source(source: Source, name: str) -> tuple[dict[str, Any], str]:
    """Compile preprocessed text (Preprocessor.run's result)."""
    return _compile(parse_source(source), source, name)


def _compile(tree: Any, source: Any, name: str) -> tuple[dict[str, Any], str]:
    decls = Declarations(tree, source)
    lowering = ProgramLowering(decls, name)
    document = lowering.run()
    return document, p4info_text(lowering.lowered)


def compile_file(path: str | Path, include_dirs: list[Path] | None = None) -> tuple[dict[str, Any], str]:
    """Compile a P4_16 v1model program; raises CompileError (file:line:column, caret)."""
    path = Path(path)
    tree, source = parse_file(path, include_dirs, str(path))
    return _compile(tree, source, str(path))


def compile_text(text: str, name: str = "<input>") -> tuple[dict[str, Any], str]:
    tree, source = parse_text(text, name)
    return _compile(tree, source, name)
