"""Top-level declarations: types (typedefs resolved), constants, errors, externs, parsers,
controls, actions and the `main` package instantiation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from target.compiler.errors import CompileError, Location, Unsupported
from target.compiler.preprocess import Source
from target.compiler.types import (
    BitT,
    BoolT,
    EnumT,
    ErrorT,
    ExternT,
    IntLitT,
    MatchKindT,
    P4Type,
    StackT,
    StringT,
    StructLikeT,
    TypeVarT,
    VarbitT,
    VoidT,
)


def name_of(node: Any) -> str:
    """The text of a name / type_name / dotted_name node or a token."""
    if isinstance(node, Token):
        return str(node)
    if node.data == "dotted_name":
        return name_of(node.children[0])
    return str(node.children[0])


def parse_number(text: str) -> tuple[int, int | None, bool]:
    """(value, width or None, signed) of a P4 integer literal such as 8w0x0F or 32s5."""
    text = text.replace("_", "")
    width: int | None = None
    signed = False
    for i, ch in enumerate(text):
        if ch in "ws" and text[:i].isdigit() and i > 0:
            width, signed, text = int(text[:i]), ch == "s", text[i + 1:]
            break
    low = text.lower()
    if low.startswith("0x"):
        value = int(low[2:], 16)
    elif low.startswith("0b"):
        value = int(low[2:], 2)
    elif low.startswith("0o"):
        value = int(low[2:], 8)
    elif low.startswith("0d"):
        value = int(low[2:], 10)
    else:
        value = int(low, 10)
    return value, width, signed


@dataclass
class Annotations:
    items: dict[str, list[Any]] = field(default_factory=dict)   # name -> argument trees
    texts: list[str] = field(default_factory=list)              # as written, for P4Info

    def string(self, name: str) -> str | None:
        args = self.items.get(name)
        if not args:
            return None
        node = args[0]
        if isinstance(node, Tree) and node.data == "string":
            return str(node.children[0])[1:-1]
        return None

    def integer(self, name: str) -> int | None:
        args = self.items.get(name)
        if not args:
            return None
        node = args[0]
        if isinstance(node, Tree) and node.data == "number":
            return parse_number(str(node.children[0]))[0]
        return None


class Declarations:
    def __init__(self, tree: Tree, source: Source) -> None:
        self.source = source
        self.types: dict[str, P4Type] = {}
        self.const_trees: dict[str, tuple[Tree, Tree]] = {}   # name -> (type tree, value tree)
        self.errors: list[str] = []
        self.match_kinds: list[str] = []
        self.externs: dict[str, Tree] = {}
        self.extern_functions: dict[str, list[Tree]] = {}
        self.functions: dict[str, Tree] = {}        # P4 functions, inlined where they are called
        self.parsers: dict[str, Tree] = {}
        self.controls: dict[str, Tree] = {}
        self.actions: dict[str, Tree] = {}
        self.main: Tree | None = None
        # Extern instances declared at the top level, outside any control (a register shared by
        # the controls that name it), in source order.
        self.instances: list[Tree] = []
        self.type_vars: set[str] = set()
        for decl in tree.children:
            self._declare(decl)

    # ------------------------------------------------------------------ helpers
    def loc(self, node: Any) -> Location | None:
        if isinstance(node, Token):
            if node.line is None:
                return None
            return self.source.location(node.line, node.column or 1)
        meta = getattr(node, "meta", None)
        if meta is None or getattr(meta, "empty", True):
            return None
        return self.source.location(meta.line, meta.column)

    def annotations(self, node: Tree | None) -> Annotations:
        out = Annotations()
        if node is None:
            return out
        for ann in node.children:
            name = name_of(ann.children[0])
            # An unstructured body (a Token, lexer.unstructured_annotations) has no arguments.
            args = ann.children[1].children if isinstance(ann.children[1], Tree) else []
            out.items[name] = list(args)
            meta = ann.meta
            if not getattr(meta, "empty", True):
                # By offsets: an annotation's string may span lines (sai_p4's @entry_restriction).
                out.texts.append(self.source.text[meta.start_pos:meta.end_pos].strip())
        return out

    # ------------------------------------------------------------------ declarations
    def _declare(self, decl: Tree) -> None:
        kind = decl.data
        if kind == "empty_decl":
            return
        if kind == "const_decl":
            _, type_tree, name, value = decl.children
            self.const_trees[name_of(name)] = (type_tree, value)
        elif kind == "typedef_decl":
            _, type_tree, tname = decl.children
            self.types[name_of(tname)] = self.resolve(type_tree)
        elif kind in ("header_decl", "struct_decl", "union_decl"):
            ann, tname = decl.children[0], decl.children[1]
            fields_start = 3 if kind != "union_decl" else 2
            if kind != "union_decl" and decl.children[2] is not None:
                raise Unsupported("generic header or struct types", self.loc(decl))
            t = StructLikeT({"header_decl": "header", "struct_decl": "struct",
                             "union_decl": "header_union"}[kind], name_of(tname), [],
                            self.annotations(ann).items)
            self.types[t.name] = t
            for f in decl.children[fields_start:]:
                fann, ftype, fname = f.children
                if t.field_type(name_of(fname)) is not None:
                    raise CompileError(f"{t.describe()} has two fields named {name_of(fname)}",
                                       self.loc(fname))
                ft = self.resolve(ftype)
                if kind == "header_decl" and isinstance(ft, StructLikeT):
                    self._check_header_struct(ft, f"{t.name}.{name_of(fname)}", fname)
                t.fields.append((name_of(fname), ft))
                t.field_annotations[name_of(fname)] = self.annotations(fann).items
            if kind == "header_decl" and any(isinstance(ft, StructLikeT) for _, ft in t.fields):
                t.fields, t.nested = flatten_header_fields(t.fields)
        elif kind == "enum_decl":
            tname = name_of(decl.children[1])
            self.types[tname] = EnumT(tname, [name_of(c) for c in decl.children[2:] if c is not None])
        elif kind == "serializable_enum_decl":
            _, width, tname, *members = decl.children
            t = EnumT(name_of(tname), [], BitT(self.const_int(width)))
            for m in members:
                if m is None:
                    continue
                t.members.append(name_of(m.children[0]))
                t.values[name_of(m.children[0])] = self.const_int(m.children[1])
            self.types[t.name] = t
        elif kind == "error_decl":
            self.errors.extend(name_of(c) for c in decl.children if c is not None)
        elif kind == "match_kind_decl":
            self.match_kinds.extend(name_of(c) for c in decl.children if c is not None)
        elif kind == "extern_decl":
            named = decl.children[1]
            ename = str(named.children[0])
            if named.children[1] is not None:
                self.type_vars.update(str(t.children[0]) for t in named.children[1].children)
            self.externs[ename] = decl
            self.types[ename] = ExternT(ename)
        elif kind == "extern_function_decl":
            self.extern_functions.setdefault(name_of(decl.children[2]), []).append(decl)
        elif kind in ("parser_type_decl", "control_type_decl", "package_decl"):
            self.types[name_of(decl.children[1])] = ExternT(name_of(decl.children[1]))
        elif kind == "parser_decl":
            self.parsers[name_of(decl.children[1])] = decl
        elif kind == "control_decl":
            self.controls[name_of(decl.children[1])] = decl
        elif kind == "action_decl":
            self.actions[name_of(decl.children[1])] = decl
        elif kind == "instantiation":
            if name_of(decl.children[2]) == "main":
                self.main = decl
            else:
                self.instances.append(decl)
        elif kind == "function_decl":
            self.functions[name_of(decl.children[2])] = decl
        else:
            raise Unsupported(kind.replace("_", " "), self.loc(decl))

    # ------------------------------------------------------------------ calls
    def check_arity(self, overloads: list[Any], nargs: int, what: str, node: Any) -> None:
        """Refuses a call whose argument count fits none of the declared parameter lists
        (`overloads`: each a params tree or None); parameters with defaults may be left out."""
        if not overloads:
            return
        counts = []
        for params in overloads:
            plist = params.children if params is not None else []
            required = sum(1 for p in plist if p.children[4] is None)
            if required <= nargs <= len(plist):
                return
            counts.append(str(len(plist)) if required == len(plist) else f"{required} to {len(plist)}")
        wanted = " or ".join(sorted(set(counts)))
        raise CompileError(f"{what} takes {wanted} argument{'s' if wanted != '1' else ''}, got {nargs}",
                           self.loc(node))

    def extern_methods(self, extern: str, method: str) -> list[Any]:
        """Parameter lists of an extern's method (its constructors for method == extern)."""
        decl = self.externs.get(extern)
        if decl is None:
            return []
        out = []
        for m in decl.children[2:]:
            if not isinstance(m, Tree):
                continue
            if m.data == "constructor_proto" and method == extern:
                out.append(m.children[2])
            elif m.data == "method_proto" and name_of(m.children[2]) == method:
                out.append(m.children[4])
        return out

    # ------------------------------------------------------------------ types and constants
    def resolve(self, node: Any) -> P4Type:
        kind = node.data
        if kind == "bit_type":
            return BitT(self.const_int(node.children[0]))
        if kind == "int_type":
            return BitT(self.const_int(node.children[0]), signed=True)
        if kind == "varbit_type":
            return VarbitT(self.const_int(node.children[0]))
        if kind == "bit1_type":
            return BitT(1)
        if kind == "bool_type":
            return BoolT()
        if kind == "error_type":
            return ErrorT()
        if kind == "string_type":
            return StringT()
        if kind == "void_type":
            return VoidT()
        if kind == "infint_type":
            return IntLitT()
        if kind == "match_kind_type":
            return MatchKindT()
        if kind == "named_type":
            name = str(node.children[0])
            if name in self.types:
                t = self.types[name]
                if isinstance(t, ExternT) and node.children[1] is not None:
                    return ExternT(name, tuple(self.resolve(a) for a in node.children[1].children))
                return t
            if name in self.type_vars or len(name) <= 2:
                return TypeVarT(name)
            raise CompileError(f"unknown type {name}", self.loc(node))
        if kind == "stack_type":
            elem = self.resolve(node.children[0])
            if not isinstance(elem, StructLikeT) or elem.kind not in ("header", "header_union"):
                raise CompileError("header stacks must hold headers or header unions", self.loc(node))
            return StackT(elem, self.const_int(node.children[1]))
        if kind == "tuple_type":
            # A tuple is a struct with unnamed fields (P4_16 7.2.8): lists initialise it in order.
            elements = [self.resolve(a) for a in node.children[0].children]
            name = "tuple<" + ", ".join(e.describe() for e in elements) + ">"
            return StructLikeT("struct", name, [(f"f{i}", e) for i, e in enumerate(elements)])
        if kind == "dont_care_type":
            return TypeVarT("_")
        raise Unsupported(f"type {kind}", self.loc(node))

    def _check_header_struct(self, ft: StructLikeT, what: str, where: Any) -> None:
        """A header may hold structs (of bit<W>, int<W>, bool, enums and structs), not headers."""
        if ft.kind != "struct":
            raise CompileError(f"header field {what} of {ft.describe()}: a header holds only bit<W>, "
                               f"int<W>, varbit<W>, bool, enums and structs", self.loc(where))
        for n, sub in ft.fields:
            if isinstance(sub, StructLikeT):
                self._check_header_struct(sub, f"{what}.{n}", where)
            elif isinstance(sub, (VarbitT, StackT)):
                raise Unsupported(f"{sub.describe()} in struct {what} inside a header", self.loc(where))

    def const_int(self, node: Any) -> int:
        """Value of a compile-time integer expression (widths, sizes, constants)."""
        if isinstance(node, Token):
            return parse_number(str(node))[0]
        kind = node.data
        if kind == "number":
            return parse_number(str(node.children[0]))[0]
        if kind == "ident" and str(node.children[0]) in self.const_trees:
            return self.const_int(self.const_trees[str(node.children[0])][1])
        if kind == "binop":
            a, op, b = node.children
            x, y = self.const_int(a), self.const_int(b)
            ops = {"+": x + y, "-": x - y, "*": x * y, "<<": x << y if y >= 0 else 0, ">>": x >> y,
                   "&": x & y, "|": x | y, "^": x ^ y}
            if str(op) in ops:
                return ops[str(op)]
            if str(op) in ("/", "%") and y:
                return x // y if str(op) == "/" else x % y
        if kind == "neg_op":
            return -self.const_int(node.children[0])
        if kind == "cast":
            return self.const_int(node.children[1])
        if kind in ("type_member", "member") and isinstance(node.children[0], (Token, Tree)):
            # a serializable enum's member, e.g. @field_list(FieldLists.resubmit_fl1)
            base = node.children[0]
            tname = str(base) if isinstance(base, Token) else \
                str(base.children[0]) if base.data in ("ident", "type_name") else ""
            t = self.types.get(tname)
            member = name_of(node.children[1])
            if isinstance(t, EnumT) and member in t.values:
                return t.values[member]
        raise CompileError("expected a compile-time constant integer", self.loc(node))


def flatten_header_fields(
        fields: list[tuple[str, P4Type]]) -> tuple[list[tuple[str, P4Type]], dict[str, Any]]:
    """A header's fields with its structs flattened as p4c's FlattenHeaders pass does: every
    leaf, in declaration order, is named `_` + its path joined by `_` + its position among the
    leaves (h { s b; bool x; } with s { bool f1; bool f2; }: _b_f10, _b_f21, _x2)."""
    flat: list[tuple[str, P4Type]] = []

    def walk(members: list[tuple[str, P4Type]], prefix: str) -> dict[str, Any]:
        mapping: dict[str, Any] = {}
        for name, t in members:
            path = f"{prefix}_{name}"
            if isinstance(t, StructLikeT):
                mapping[name] = (t, walk(t.fields, path))
            else:
                mapping[name] = f"{path}{len(flat)}"
                flat.append((mapping[name], t))
        return mapping

    nested = walk(fields, "")
    return flat, nested
