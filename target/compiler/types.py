"""P4 types as the compiler sees them after typedefs are resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class P4Type:
    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class BitT(P4Type):
    width: int
    signed: bool = False

    def describe(self) -> str:
        return f"{'int' if self.signed else 'bit'}<{self.width}>"


@dataclass(frozen=True)
class IntLitT(P4Type):
    """An integer literal without a width: it takes the width of what it meets."""

    def describe(self) -> str:
        return "int"


@dataclass(frozen=True)
class VarbitT(P4Type):
    max_width: int

    def describe(self) -> str:
        return f"varbit<{self.max_width}>"


@dataclass(frozen=True)
class BoolT(P4Type):
    def describe(self) -> str:
        return "bool"


@dataclass(frozen=True)
class ErrorT(P4Type):
    def describe(self) -> str:
        return "error"


@dataclass(frozen=True)
class StringT(P4Type):
    def describe(self) -> str:
        return "string"


@dataclass(frozen=True)
class VoidT(P4Type):
    def describe(self) -> str:
        return "void"


@dataclass(frozen=True)
class MatchKindT(P4Type):
    def describe(self) -> str:
        return "match_kind"


@dataclass(eq=False)
class EnumT(P4Type):
    name: str
    members: list[str]
    underlying: BitT | None = None          # serializable enums: enum bit<W> E { A = 1, ... }
    values: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        return f"enum {self.name}"


@dataclass(eq=False)
class StructLikeT(P4Type):
    kind: str                                # "header", "struct" or "header_union"
    name: str
    fields: list[tuple[str, P4Type]]
    annotations: dict[str, list] = field(default_factory=dict)
    field_annotations: dict[str, dict[str, list]] = field(default_factory=dict)
    # A header with struct-typed fields is flattened as p4c flattens it: `fields` are the leaves,
    # and `nested` maps each declared field to its leaf's name or, for a struct, to
    # (the struct type, the same map for its fields).
    nested: dict[str, Any] = field(default_factory=dict)

    def field_type(self, name: str) -> P4Type | None:
        for n, t in self.fields:
            if n == name:
                return t
        return None

    def describe(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(eq=False)
class StackT(P4Type):
    element: StructLikeT
    size: int

    def describe(self) -> str:
        return f"{self.element.name}[{self.size}]"


@dataclass(eq=False)
class ExternT(P4Type):
    name: str
    type_args: tuple[P4Type, ...] = ()

    def describe(self) -> str:
        return f"extern {self.name}"


@dataclass(eq=False)
class ListT(P4Type):
    """The type of `{a, b, ...}` (field lists of hash, checksums and digests)."""
    elements: list[P4Type]

    def describe(self) -> str:
        return "list"


@dataclass(eq=False)
class TypeVarT(P4Type):
    name: str


def bit_width(t: P4Type) -> int:
    """Width in bits of a type stored in a header or metadata field."""
    if isinstance(t, BitT):
        return t.width
    if isinstance(t, BoolT):
        return 1
    if isinstance(t, ErrorT):
        return 32
    if isinstance(t, EnumT):
        return t.underlying.width if t.underlying is not None else 32
    if isinstance(t, VarbitT):
        return t.max_width
    raise TypeError(f"{t.describe()} has no bit width")
