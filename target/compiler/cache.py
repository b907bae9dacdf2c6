"""Compiled programs cached by content: `kvick run FILE.p4` compiles only what changed.

The key is a SHA-256 over the preprocessed program text (so an edited #include counts) and
over the compiler's own files (so a new compiler version recompiles). Entries are
KEY.json + KEY.p4info.txtpb in $KVICK_CACHE, else $XDG_CACHE_HOME/kvick, else ~/.cache/kvick;
both are written under temporary names and renamed, so a concurrent run never reads half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from target.compiler.driver import compile_source
from target.compiler.preprocess import Preprocessor

COMPILER_DIR = Path(__file__).parent


def cache_dir() -> Path:
    if os.environ.get("KVICK_CACHE"):
        return Path(os.environ["KVICK_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kvick"


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    """Hash of every file the compiler is made of (sources, grammar, core.p4/v1model.p4)."""
    h = hashlib.sha256()
    for path in sorted(COMPILER_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".lark", ".p4"):
            h.update(str(path.relative_to(COMPILER_DIR)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    temporary.replace(path)


def compile_cached(path: str | Path, include_dirs: list[Path] | None = None,
                   directory: Path | None = None) -> tuple[Path, Path, bool]:
    """(JSON path, P4Info path, whether it was compiled now) for a P4 source file.

    Raises CompileError like compile_file when the program does not compile."""
    path = Path(path)
    source = Preprocessor(include_dirs).run(path, str(path))
    key = hashlib.sha256(f"{compiler_digest()}\n".encode() + source.text.encode()).hexdigest()[:32]
    directory = directory or cache_dir()
    json_path = directory / f"{path.stem}-{key}.json"
    p4info_path = directory / f"{path.stem}-{key}.p4info.txtpb"
    if json_path.exists() and p4info_path.exists():
        return json_path, p4info_path, False
    document, p4info = compile_source(source, str(path))
    directory.mkdir(parents=True, exist_ok=True)
    _write_atomically(p4info_path, p4info)
    _write_atomically(json_path, json.dumps(document) + "\n")
    return json_path, p4info_path, True
