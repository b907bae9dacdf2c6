"""The integer expressions of #if (C's preprocessor arithmetic, after macros are expanded):
numbers, identifiers left over (0, as C says), ( ), unary ! ~ - +, * / % + - << >>,
< <= > >=, == !=, & ^ |, && || and ?:. Evaluated by a small precedence-climbing parser,
never by Python's eval."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|"
                    r"(<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%<>&^|!~()?:]))")
# Binary operators by precedence level, loosest first (C's order).
_LEVELS = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="),
           ("<<", ">>"), ("+", "-"), ("*", "/", "%")]


class PpExprError(ValueError):
    """The expression is not one #if can evaluate."""


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise PpExprError(f"unexpected {text[pos:].strip()[:10]!r}")
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise PpExprError(f"expected {expected or 'a value'}, got {tok or 'the end'}")
        self.i += 1
        return tok

    def conditional(self) -> int:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        yes = self.conditional()
        self.take(":")
        no = self.conditional()
        return yes if cond else no

    def binary(self, level: int) -> int:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _LEVELS[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> int:
        tok = self.take()
        if tok == "(":
            value = self.conditional()
            self.take(")")
            return value
        if tok in ("!", "~", "-", "+"):
            value = self.unary()
            return {"!": int(not value), "~": ~value, "-": -value, "+": value}[tok]
        if tok[0].isdigit():
            return int(tok, 0) if not (len(tok) > 1 and tok[0] == "0" and tok[1].isdigit()) \
                else int(tok, 8)
        if tok[0].isalpha() or tok[0] == "_":
            return 0        # an identifier no macro replaced
        raise PpExprError(f"unexpected {tok!r}")


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%") and b == 0:
        raise PpExprError("division by zero")
    return {"||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
            "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
            "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
            "<=": lambda: int(a <= b), ">": lambda: int(a > b), ">=": lambda: int(a >= b),
            "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
            "*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a - b * int(a / b)}[op]()


def evaluate(text: str) -> int:
    """The value of an #if expression whose macros are already expanded."""
    parser = _Parser(_tokens(text))
    value = parser.conditional()
    if parser.peek() is not None:
        raise PpExprError(f"unexpected {parser.peek()!r}")
    return value
