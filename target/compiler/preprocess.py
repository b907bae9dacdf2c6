"""The C preprocessor subset P4 programs use: #include, object-like #define, #undef,
#ifdef/#ifndef/#if N/#else/#endif. Output lines keep a map back to (file, line)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from target.compiler.errors import CompileError, Location

INCLUDE_DIR = Path(__file__).parent / "include"
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")
_IDENT = re.compile(r"[A-Za-z_]\w*")


@dataclass
class Source:
    """Preprocessed text and, for each of its lines, where it came from."""
    text: str = ""
    origin: list[tuple[str, int]] = field(default_factory=list)   # per output line: (file, line)
    files: dict[str, list[str]] = field(default_factory=dict)     # file -> its lines

    def location(self, line: int, column: int) -> Location:
        """Location of a 1-based line/column of the preprocessed text in its original file."""
        if not self.origin:
            return Location("<input>", line, column, "")
        file, orig = self.origin[min(max(line, 1), len(self.origin)) - 1]
        lines = self.files.get(file, [])
        text = lines[orig - 1] if 0 < orig <= len(lines) else ""
        return Location(file, orig, column, text)


def _strip_block_comments(text: str) -> str:
    # Replace /* ... */ by spaces, keeping newlines so that line numbers stay right.
    return re.sub(r"/\*.*?\*/", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)


class Preprocessor:
    def __init__(self, include_dirs: list[Path] | None = None, defines: dict[str, str] | None = None):
        self.include_dirs = list(include_dirs or []) + [INCLUDE_DIR]
        self.macros: dict[str, str] = dict(defines or {})
        self.out_lines: list[str] = []
        self.source = Source()
        self.active_includes: list[str] = []

    def run(self, path: Path, display_name: str | None = None) -> Source:
        self._file(path, display_name or str(path))
        self.source.text = "\n".join(self.out_lines) + "\n"
        return self.source

    def run_text(self, text: str, name: str = "<input>") -> Source:
        self._text(text, name, Path.cwd())
        self.source.text = "\n".join(self.out_lines) + "\n"
        return self.source

    def _file(self, path: Path, name: str) -> None:
        if name in self.active_includes:
            raise CompileError(f"recursive #include of {name}")
        self.active_includes.append(name)
        self._text(path.read_text(), name, path.parent)
        self.active_includes.pop()

    def _text(self, text: str, name: str, directory: Path) -> None:
        raw_lines = text.split("\n")
        self.source.files[name] = raw_lines
        lines = _strip_block_comments(text).split("\n")
        active: list[bool] = []   # one entry per open #if: whether its current branch is live
        i = 0
        while i < len(lines):
            line, number = lines[i], i + 1
            # Backslash continuations join lines (the origin is the first one).
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + lines[i]
                self._emit("", name, i)
            i += 1
            m = _DIRECTIVE.match(line)
            live = all(active)
            if m is None:
                self._emit(self._expand(line) if live else "", name, number)
                continue
            word, rest = m.group(1), re.sub(r"//.*$", "", m.group(2)).strip()
            loc = Location(name, number, 1, raw_lines[number - 1] if number <= len(raw_lines) else "")
            self._emit("", name, number)
            if word in ("ifdef", "ifndef"):
                active.append((rest in self.macros) == (word == "ifdef"))
            elif word == "if":
                active.append(self._condition(rest, loc))
            elif word == "else":
                if not active:
                    raise CompileError("#else without #if", loc)
                active[-1] = not active[-1]
            elif word == "endif":
                if not active:
                    raise CompileError("#endif without #if", loc)
                active.pop()
            elif not live:
                continue
            elif word == "include":
                self._include(rest, directory, loc)
            elif word == "define":
                dm = re.match(r"([A-Za-z_]\w*)(\(?)\s*(.*)$", rest)
                if dm is None:
                    raise CompileError("malformed #define", loc)
                if dm.group(2):
                    raise CompileError("unsupported construct: function-like macro", loc)
                self.macros[dm.group(1)] = self._expand(dm.group(3))
            elif word == "undef":
                self.macros.pop(rest, None)
            elif word in ("pragma", "line", "error", "warning"):
                if word == "error":
                    raise CompileError(f"#error {rest}", loc)
            else:
                raise CompileError(f"unknown preprocessor directive #{word}", loc)
        if active:
            raise CompileError(f"{name}: #if without #endif")

    def _condition(self, rest: str, loc: Location) -> bool:
        expanded = self._expand(re.sub(r"defined\s*\(?\s*(\w+)\s*\)?",
                                       lambda m: "1" if m.group(1) in self.macros else "0", rest))
        try:
            return int(expanded.strip(), 0) != 0
        except ValueError:
            raise CompileError(f"unsupported construct: #if {rest}", loc) from None

    def _include(self, rest: str, directory: Path, loc: Location) -> None:
        m = re.match(r'[<"]([^>"]+)[>"]', rest)
        if m is None:
            raise CompileError("malformed #include", loc)
        target = m.group(1)
        search = ([directory] if rest.startswith('"') else []) + self.include_dirs + [directory]
        for d in search:
            candidate = d / target
            if candidate.is_file():
                shown = target if d == INCLUDE_DIR else str(candidate)
                self._file(candidate, shown)
                return
        raise CompileError(f"cannot find include file {target}", loc)

    def _expand(self, line: str) -> str:
        if not self.macros:
            return line
        out, pos = [], 0
        # Leave string literals and // comments untouched.
        for m in re.finditer(r'"(?:\\.|[^"\\])*"|//.*$|[A-Za-z_]\w*', line):
            out.append(line[pos:m.start()])
            tok = m.group(0)
            out.append(self.macros[tok] if tok in self.macros else tok)
            pos = m.end()
        out.append(line[pos:])
        return "".join(out)

    def _emit(self, text: str, name: str, number: int) -> None:
        self.out_lines.append(text)
        self.source.origin.append((name, number))
