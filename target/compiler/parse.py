"""Source text to a lark parse tree: preprocess, classify tokens (lexer.py), LALR-parse p4.lark."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer, PatternStr

from target.compiler.errors import CompileError
from target.compiler.lexer import TokenStream
from target.compiler.preprocess import Preprocessor, Source

GRAMMAR = Path(__file__).parent / "p4.lark"


class _PrelexedTokens(Lexer):
    """Lark's lexer slot: hands over the tokens that TokenStream classified beforehand."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, tokens: Any, parser_state: Any = None) -> Iterator[Token]:   # type: ignore[override]
        # Lark wraps a custom lexer so that it receives the parse input itself: our token list.
        yield from tokens


@lru_cache(maxsize=1)
def _parser() -> tuple[Lark, TokenStream]:
    lark = Lark(GRAMMAR.read_text(), parser="lalr", lexer=_PrelexedTokens, propagate_positions=True,
                maybe_placeholders=True)
    literals = {t.pattern.value: t.name for t in lark.terminals if isinstance(t.pattern, PatternStr)}
    return lark, TokenStream(literals)


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return repr(str(token))


def _hint(tokens: list[Token], tok: Token) -> str:
    """What the programmer probably meant, for syntax errors that have a usual cause."""
    i = next((k for k, t in enumerate(tokens) if t is tok), -1)
    if tok.type == "DIRECTION" and str(tok) == "in" and i >= 2 and str(tokens[i - 2]) == "(" \
            and i >= 3 and str(tokens[i - 3]) == "for":
        return f": a for-in loop's variable needs a type (for (bit<8> {tokens[i - 1]} in ...))"
    return ""


def parse_source(source: Source) -> Tree:
    lark, stream = _parser()
    tokens = list(stream.tokens(source))
    try:
        return lark.parse(tokens)   # type: ignore[arg-type]
    except UnexpectedToken as err:
        tok = err.token
        if tok.type == "$END" or tok.line is None:
            last = tokens[-1] if tokens else None
            loc = source.location(last.line or 1, (last.column or 1)) if last else None
        else:
            loc = source.location(tok.line, tok.column)
        raise CompileError(f"syntax error: unexpected {_describe(tok)}{_hint(tokens, tok)}", loc) from None
    except UnexpectedInput as err:
        raise CompileError(f"syntax error: {err}",
                           source.location(getattr(err, "line", 1), getattr(err, "column", 1))) from None


def parse_file(path: Path, include_dirs: list[Path] | None = None,
               display_name: str | None = None) -> tuple[Tree, Source]:
    source = Preprocessor(include_dirs).run(path, display_name)
    return parse_source(source), source


def parse_text(text: str, name: str = "<input>") -> tuple[Tree, Source]:
    source = Preprocessor().run_text(text, name)
    return parse_source(source), source
