"""A reader for protobuf text format (as P4Info .txtpb files are written), into plain dicts.

Every field becomes a list of values (repeated or not), so callers never guess cardinality.
The target only needs names, ids and a few enums from P4Info; the P4Runtime server parses
P4Info with the real protobuf classes.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}:\[\],<>;])|([^\s{}:\[\],<>;"#]+))')


def _tokens(text: str) -> list[str]:
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"text format: cannot read at offset {pos}: {text[pos:pos + 20]!r}")
        pos = m.end()
        if m.group(1):
            continue
        tok = m.group(2) or m.group(3) or m.group(4)
        if tok:
            out.append(tok)
    return out


def _scalar(tok: str) -> Any:
    if tok.startswith('"'):
        return bytes(tok[1:-1], "utf-8").decode("unicode_escape")
    try:
        return int(tok, 0)
    except ValueError:
        return tok


def parse(text: str) -> dict[str, list[Any]]:
    toks = _tokens(text)
    pos = 0

    def message(end: str | None) -> dict[str, list[Any]]:
        nonlocal pos
        msg: dict[str, list[Any]] = {}
        while pos < len(toks):
            tok = toks[pos]
            if tok == end:
                pos += 1
                return msg
            if tok in (",", ";"):
                pos += 1
                continue
            name = tok
            pos += 1
            if toks[pos] == ":":
                pos += 1
            if toks[pos] in ("{", "<"):
                close = "}" if toks[pos] == "{" else ">"
                pos += 1
                msg.setdefault(name, []).append(message(close))
            elif toks[pos] == "[":
                pos += 1
                while toks[pos] != "]":
                    if toks[pos] != ",":
                        msg.setdefault(name, []).append(_scalar(toks[pos]))
                    pos += 1
                pos += 1
            else:
                msg.setdefault(name, []).append(_scalar(toks[pos]))
                pos += 1
        if end is not None:
            raise ValueError("text format: unbalanced braces")
        return msg

    return message(None)
