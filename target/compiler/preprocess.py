"""The C preprocessor subset P4 programs use: #include, object-like and function-like #define, #undef,
#ifdef/#ifndef/#if EXPR/#elif EXPR/#else/#endif. Output lines keep a map back to (file, line)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from target.compiler.errors import CompileError, Location
from target.compiler.pp_expr import PpExprError, evaluate

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
        # Function-like macros: name -> (parameter names, body).
        self.function_macros: dict[str, tuple[list[str], str]] = {}
        self.out_lines: list[str] = []
        self.source = Source()
        self.active_includes: list[str] = []
        self._expanding: Location | None = None    # the line being expanded (for errors)

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
        taken: list[bool] = []    # and whether one of its branches was (#elif/#else skip then)
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
                text_line = raw_lines[number - 1] if number <= len(raw_lines) else ""
                self._expanding = Location(name, number, 1, text_line)
                self._emit(self._expand(line) if live else "", name, number)
                continue
            word, rest = m.group(1), re.sub(r"//.*$", "", m.group(2)).strip()
            loc = Location(name, number, 1, raw_lines[number - 1] if number <= len(raw_lines) else "")
            self._emit("", name, number)
            if word in ("ifdef", "ifndef"):
                defined = rest in self.macros or rest in self.function_macros
                active.append(defined == (word == "ifdef"))
                taken.append(active[-1])
            elif word == "if":
                active.append(self._condition(rest, loc))
                taken.append(active[-1])
            elif word == "elif":
                if not active:
                    raise CompileError("#elif without #if", loc)
                # Evaluated only where the enclosing text is live and no branch was taken yet.
                active[-1] = not taken[-1] and all(active[:-1]) and self._condition(rest, loc)
                taken[-1] = taken[-1] or active[-1]
            elif word == "else":
                if not active:
                    raise CompileError("#else without #if", loc)
                active[-1] = not taken[-1]
                taken[-1] = True
            elif word == "endif":
                if not active:
                    raise CompileError("#endif without #if", loc)
                active.pop()
                taken.pop()
            elif not live:
                continue
            elif word == "include":
                self._include(rest, directory, loc)
            elif word == "define":
                dm = re.match(r"([A-Za-z_]\w*)(\(?)\s*(.*)$", rest)
                if dm is None:
                    raise CompileError("malformed #define", loc)
                if dm.group(2):
                    self._define_function(dm.group(1), dm.group(3), loc)
                else:
                    self.function_macros.pop(dm.group(1), None)
                    self.macros[dm.group(1)] = self._expand(dm.group(3))
            elif word == "undef":
                self.macros.pop(rest, None)
                self.function_macros.pop(rest, None)
            elif word in ("pragma", "line", "error", "warning"):
                if word == "error":
                    raise CompileError(f"#error {rest}", loc)
            else:
                raise CompileError(f"unknown preprocessor directive #{word}", loc)
        if active:
            raise CompileError(f"{name}: #if without #endif")

    def _condition(self, rest: str, loc: Location) -> bool:
        def defined(m: re.Match[str]) -> str:
            return "1" if m.group(1) in self.macros or m.group(1) in self.function_macros else "0"
        expanded = self._expand(re.sub(r"defined\s*\(?\s*(\w+)\s*\)?", defined, rest))
        try:
            return evaluate(expanded) != 0
        except PpExprError as err:
            raise CompileError(f"#if {rest}: {err}", loc) from None

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

    def _define_function(self, name: str, rest: str, loc: Location) -> None:
        # rest is what follows "NAME(": the parameter list, ")", then the body.
        m = re.match(r"\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)?\s*\)\s*(.*)$", rest)
        if m is None:
            raise CompileError(f"malformed parameter list of macro {name}", loc)
        if "#" in m.group(2):
            raise CompileError(f"unsupported construct: # or ## in macro {name}", loc)
        params = [p.strip() for p in m.group(1).split(",")] if m.group(1) else []
        self.macros.pop(name, None)
        self.function_macros[name] = (params, m.group(2))

    def _expand(self, line: str, disabled: frozenset[str] = frozenset()) -> str:
        if not self.macros and not self.function_macros:
            return line
        out, pos = [], 0
        # Leave string literals and // comments untouched.
        tokens = re.compile(r'"(?:\\.|[^"\\])*"|//.*$|[A-Za-z_]\w*')
        m = tokens.search(line, pos)
        while m is not None:
            out.append(line[pos:m.start()])
            tok, pos = m.group(0), m.end()
            if tok in self.function_macros and tok not in disabled:
                call = self._macro_arguments(line, pos)
                if call is not None:
                    args, pos = call
                    out.append(self._substitute(tok, args, disabled))
                    m = tokens.search(line, pos)
                    continue
            out.append(self.macros[tok] if tok in self.macros and tok not in disabled else tok)
            m = tokens.search(line, pos)
        out.append(line[pos:])
        return "".join(out)

    @staticmethod
    def _macro_arguments(line: str, pos: int) -> tuple[list[str], int] | None:
        """The arguments of a macro invocation whose '(' follows pos on this line, and the end."""
        i = pos
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line) or line[i] != "(":
            return None   # the name alone is not an invocation (as in C)
        depth, args, start = 0, [], i + 1
        for j in range(i, len(line)):
            c = line[j]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    args.append(line[start:j])
                    return args, j + 1
            elif c == "," and depth == 1:
                args.append(line[start:j])
                start = j + 1
        return None

    def _substitute(self, name: str, args: list[str], disabled: frozenset[str]) -> str:
        params, body = self.function_macros[name]
        if args == [""] and not params:
            args = []
        if len(args) != len(params):
            raise CompileError(f"macro {name} takes {len(params)} arguments, got {len(args)}",
                               self._expanding)
        values = {p: self._expand(a.strip(), disabled) for p, a in zip(params, args, strict=True)}
        replaced = re.sub(r'"(?:\\.|[^"\\])*"|[A-Za-z_]\w*',
                          lambda m: values.get(m.group(0), m.group(0)), body)
        # The result is rescanned with this macro disabled, as C does.
        return self._expand(replaced, disabled | {name})

    def _emit(self, text: str, name: str, number: int) -> None:
        self.out_lines.append(text)
        self.source.origin.append((name, number))
