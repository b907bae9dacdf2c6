"""Tokens for the LALR grammar (p4.lark).

P4_16 is not LALR(1) on raw tokens: `a < b` and `f<T>(x)` begin alike, and a statement that starts
with a name may declare a variable or call a method. Like p4c's own lexer, this one knows which
names are types (collected from the declarations in a first pass) and turns '<' into TLT when it
opens type arguments, the matching '>' into TGT (splitting '>>' where two close at once), and
key/actions/entries into keywords where they start a table property.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lark import Token

from target.compiler.errors import CompileError
from target.compiler.preprocess import Source

KEYWORDS = frozenset("""
    action apply bit bool break const continue control default else enum error exit extern false
    for header header_union if in inout int match_kind out package parser return select state string
    struct switch table transition true tuple type typedef value_set varbit void
""".split())
DIRECTIONS = frozenset({"in", "out", "inout"})
TYPE_KEYWORDS = frozenset({"bit", "int", "varbit", "bool", "error", "string", "tuple", "void",
                           "match_kind"})
_DECL_KEYWORDS = frozenset({"header", "struct", "header_union", "enum", "extern", "parser", "control",
                            "package", "typedef", "type"})

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+|//[^\n]*)
  | (?P<nl>\n)
  | (?P<number>\d+[ws](?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[dD][0-9_]+|\d[\d_]*)
              |0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[dD][0-9_]+|\d[\d_]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<string>"(?:\\.|[^"\\])*")
  | (?P<punct>&&&|\|\+\||\|-\||\+\+|\.\.\.|\.\.|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^~!<>=?:;,.\[\](){}@\#])
""", re.X)

_OPERATOR_TERMINALS = {
    "==": "EQ_OP", "!=": "EQ_OP", "<=": "REL_OP", ">=": "REL_OP", "<": "REL_OP", ">": "REL_OP",
    "|": "BOR_OP", "^": "BXOR_OP", "&": "BAND_OP", "<<": "SHIFT_OP", ">>": "SHIFT_OP",
    "+": "ADD_OP", "-": "ADD_OP", "|+|": "ADD_OP", "|-|": "ADD_OP", "++": "ADD_OP",
    "*": "MUL_OP", "/": "MUL_OP", "%": "MUL_OP",
}
# Operators that are also prefix operators keep their literal terminal in prefix position.
_PREFIX_OPERATORS = frozenset({"-", "+"})
_VALUE_END = frozenset({"IDENT", "TYPE_IDENT", "NUMBER", "STRING_LIT", ")", "]", "true", "false"})


def raw_tokens(source: Source) -> list[tuple[str, str, int, int, int]]:
    """(kind, text, offset, line, column) for every token of the preprocessed text."""
    text = source.text
    out = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CompileError(f"unexpected character {text[pos]!r}",
                               source.location(line, pos - line_start + 1))
        kind = m.lastgroup
        assert kind is not None
        if kind == "nl":
            line, line_start = line + 1, m.end()
        elif kind == "string" and "\n" in m.group(0):
            # A string may span lines (p4c takes them: sai_p4's @entry_restriction("...")).
            out.append((kind, m.group(0), pos, line, pos - line_start + 1))
            line += m.group(0).count("\n")
            line_start = pos + m.group(0).rindex("\n") + 1
        elif kind != "ws":
            out.append((kind, m.group(0), pos, line, pos - line_start + 1))
        pos = m.end()
    return out


def unstructured_annotations(raw: list[tuple[str, str, int, int, int]],
                             text: str) -> list[tuple[str, str, int, int, int]]:
    """An annotation's parenthesised body is any balanced token sequence (P4_16 unstructured
    annotations): one that cannot be an expression list (a top-level '=' or ':' without '?',
    as in @pkginfo(name = "x") or @refers_to(builtin::multicast_group_table, id), or annotations
    inside, as in sai_p4's @composite_field(@sai_field(A), @sai_field(B))) becomes one
    annotation_body token of its source text, which the grammar takes whole."""
    out: list[tuple[str, str, int, int, int]] = []
    i, n = 0, len(raw)
    while i < n:
        out.append(raw[i])
        if raw[i][1] == "@" and i + 2 < n and raw[i + 1][0] == "ident" and raw[i + 2][1] == "(":
            depth, j, free = 0, i + 2, False
            while j < n:
                t = raw[j][1]
                depth += 1 if t in "([{" and raw[j][0] == "punct" else -1 if t in ")]}" and \
                    raw[j][0] == "punct" else 0
                if depth == 0:
                    break
                free = free or (raw[j][0] == "punct" and (t == "@" or depth == 1 and t in ("=", ":")))
                j += 1
            body = raw[i + 3:j]
            if free and j < n and body and not any(t[1] == "?" for t in body):
                start, end = body[0][2], body[-1][2] + len(body[-1][1])
                out += [raw[i + 1], raw[i + 2],
                        ("annotation_body", text[start:end], start, body[0][3], body[0][4]), raw[j]]
                i = j + 1
                continue
        i += 1
    return out


def type_names(tokens: list[tuple[str, str, int, int, int]]) -> set[str]:
    """Names declared as types anywhere in the program, and the type parameters of generics."""
    names: set[str] = set()
    texts = [t[1] for t in tokens]
    n = len(texts)
    for i, word in enumerate(texts):
        if tokens[i][0] != "ident":
            continue
        if word in ("header", "struct", "header_union", "parser", "control", "package") and i + 1 < n:
            names.add(texts[i + 1])
        elif word == "enum":
            j = i + 1
            if j < n and texts[j] == "bit":     # enum bit<W> Name
                while j < n and texts[j] != ">":
                    j += 1
                j += 1
            if j < n:
                names.add(texts[j])
        elif word == "extern" and i + 2 < n and texts[i + 2] in ("{", "<"):
            names.add(texts[i + 1])
        elif word in ("typedef", "type") and (i == 0 or texts[i - 1] in (";", "{", "}", ")")):
            # A declaration starts a statement (after an annotation's ')' at most); `type` is
            # also an ordinary parameter name, as in `CounterType type`.
            depth, j = 0, i + 1
            while j < n and not (texts[j] == ";" and depth == 0) and depth >= 0:
                depth += texts[j] in "([{" and 1 or (texts[j] in ")]}" and -1 or 0)
                j += 1
            if depth == 0:
                names.add(texts[j - 1])
    # Type parameters: NAME < A, B, ... > followed by '(' or '{' in declarations.
    for i in range(n - 3):
        if texts[i + 1] != "<" or tokens[i][0] != "ident":
            continue
        j, params = i + 2, []
        while j < n and tokens[j][0] == "ident" and texts[j] not in KEYWORDS:
            params.append(texts[j])
            if j + 1 < n and texts[j + 1] == ",":
                j += 2
            else:
                j += 1
                break
        if params and j + 1 < n and texts[j] == ">" and texts[j + 1] in ("(", "{"):
            if _is_declaration(texts, i):
                names.update(params)
    return names


def _is_declaration(texts: list[str], i: int) -> bool:
    """Whether the name at i is being declared (preceded by a type or a declaration keyword)."""
    j = i - 1
    while j >= 0 and texts[j] in (">",):     # return type like bit<16>
        while j >= 0 and texts[j] != "<":
            j -= 1
        j -= 1
    if j < 0:
        return False
    prev = texts[j]
    return prev in _DECL_KEYWORDS or prev in TYPE_KEYWORDS or (prev[:1].isalpha() and prev not in KEYWORDS
                                                               and texts[j - 1] in (";", "{", "}", ")",
                                                                                    "extern"))


def _is_type(inner: list[tuple[str, str, int, int, int]], types: set[str]) -> bool:
    """Whether the tokens between parentheses are just a type (the parentheses are a cast)."""
    if not inner or not (inner[0][1] in ("bit", "int", "varbit", "bool", "list") or inner[0][1] in types):
        return False
    return len(inner) == 1 or (inner[1][1] == "<" and inner[-1][1] in (">", ">>"))


class TokenStream:
    """Classifies raw tokens into the grammar's terminals (see the module docstring)."""

    def __init__(self, literal_terminals: dict[str, str]) -> None:
        self.literal_terminals = literal_terminals

    def tokens(self, source: Source) -> Iterator[Token]:
        raw = unstructured_annotations(raw_tokens(source), source.text)
        types = type_names(raw)
        angle_depth = 0
        prev_type = ""
        opens: list[int] = []     # indices of the open '(' tokens
        for i, (kind, text, offset, line, column) in enumerate(raw):
            nxt = raw[i + 1][1] if i + 1 < len(raw) else ""
            nxt_kind = raw[i + 1][0] if i + 1 < len(raw) else ""
            prev_text = raw[i - 1][1] if i > 0 else ""
            if kind == "number":
                ttype = "NUMBER"
            elif kind == "string":
                ttype = "STRING_LIT"
            elif kind == "annotation_body":
                ttype = "ANNOTATION_BODY"
            elif kind == "ident":
                if prev_text == ".":
                    ttype = "IDENT"
                elif text in DIRECTIONS:
                    ttype = "DIRECTION"
                elif text in KEYWORDS or text == "_":
                    ttype = self.literal_terminals[text]
                elif text in ("key", "actions", "entries") and nxt == "=":
                    ttype = "KW_" + text.upper()
                elif text in types or (text == "list" and nxt == "<"):
                    # list<T> (a for-in loop's list) names a type only where it has arguments.
                    ttype = "TYPE_IDENT"
                else:
                    ttype = "IDENT"
            elif text == "<" and self._opens_type_args(prev_type, prev_text, nxt, nxt_kind, types):
                angle_depth += 1
                ttype = "_TLT"
            elif text in (">", ">>") and angle_depth > 0:
                if text == ">>" and angle_depth >= 2:
                    angle_depth -= 2
                    yield Token("_TGT", ">", offset, line, column)
                    yield Token("_TGT", ">", offset + 1, line, column + 1)
                    prev_type = "_TGT"
                    continue
                angle_depth -= 1
                ttype = "_TGT"
            elif text in _OPERATOR_TERMINALS and not (
                    text in _PREFIX_OPERATORS and prev_type not in _VALUE_END):
                ttype = _OPERATOR_TERMINALS[text]
            else:
                ttype = self.literal_terminals.get(text, "")
                if not ttype:
                    raise CompileError(f"unexpected {text!r}", source.location(line, column))
            prev_type = ttype if ttype in ("IDENT", "TYPE_IDENT", "NUMBER", "STRING_LIT", "_TGT") else text
            if text == "(":
                opens.append(i)
            elif text == ")" and opens and _is_type(raw[opens.pop() + 1:i], types):
                prev_type = "cast)"    # `(bit<8>) -x`: what follows a cast is a prefix operator
            yield Token(ttype, text, offset, line, column, line, column + len(text), offset + len(text))

    @staticmethod
    def _opens_type_args(prev_type: str, prev_text: str, nxt: str, nxt_kind: str, types: set[str]) -> bool:
        if prev_text in ("bit", "int", "varbit", "tuple", "value_set") or prev_type == "TYPE_IDENT":
            return True
        if prev_type == "IDENT":   # a generic call or declaration: f<bit<8>>(...), lookahead<T>()
            return nxt in TYPE_KEYWORDS or nxt in types or nxt == "_"
        return False
