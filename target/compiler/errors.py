"""Compiler diagnostics: every error names file:line:column and shows the line with a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    file: str
    line: int      # 1-based
    column: int    # 1-based
    text: str      # the source line, for the caret display

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class CompileError(Exception):
    """A program kvick refuses: a syntax error, an unknown name, a type or width mismatch, or a
    construct the compiler does not support (the message names it)."""

    def __init__(self, message: str, location: Location | None = None, kind: str = "error") -> None:
        self.message = message
        self.location = location
        self.kind = kind
        super().__init__(self.render())

    def render(self) -> str:
        if self.location is None:
            return f"{self.kind}: {self.message}"
        loc = self.location
        caret = " " * (loc.column - 1) + "^"
        return f"{loc}: {self.kind}: {self.message}\n{loc.text}\n{caret}"


class Unsupported(CompileError):
    """A valid P4_16 construct that kvick's compiler does not translate."""

    def __init__(self, construct: str, location: Location | None = None) -> None:
        super().__init__(f"unsupported construct: {construct}", location, "error")
