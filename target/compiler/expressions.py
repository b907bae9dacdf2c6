"""Typed expressions: P4 expression trees to BMv2 JSON expressions, with widths checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from target.compiler.bmv2 import expression, hexstr
from target.compiler.declarations import Declarations, name_of, parse_number
from target.compiler.errors import CompileError, Unsupported
from target.compiler.types import (
    BitT,
    BoolT,
    EnumT,
    ErrorT,
    IntLitT,
    ListT,
    P4Type,
    StackT,
    StringT,
    StructLikeT,
    VarbitT,
    bit_width,
)


@dataclass
class Val:
    """A lowered expression. kind: value (json is an expression), field (json is a field
    reference, assignable), header / stack (ref is the instance name), struct (members),
    object (ref is an extern instance, table, packet, enum type or namespace)."""
    type: P4Type
    json: dict[str, Any] | None = None
    kind: str = "value"
    const: int | bool | None = None
    ref: Any = None
    members: dict[str, Val] = field(default_factory=dict)


def const_val(value: int, t: P4Type) -> Val:
    if isinstance(t, BoolT):
        return Val(t, {"type": "bool", "value": bool(value)}, const=bool(value))
    if isinstance(t, BitT):
        value &= (1 << t.width) - 1
        if t.signed and value >> (t.width - 1):
            # BMv2 reads a signed field sign-extended: an int<W> constant is written as the
            # number it means (-3, not 0xfd), or comparisons with such fields never match.
            value -= 1 << t.width
        return Val(t, hexstr(value), const=value)
    return Val(t, hexstr(value), const=value)


def _flattened_member(ref: str, htype: StructLikeT, target: Any) -> Val:
    """A declared field of a flattened header: its leaf field, or a struct of leaf fields."""
    if isinstance(target, str):
        ftype = htype.field_type(target)
        assert ftype is not None
        return Val(ftype, {"type": "field", "value": [ref, target]}, kind="field")
    stype, members = target
    return Val(stype, kind="struct",
               members={n: _flattened_member(ref, htype, m) for n, m in members.items()})


def as_bool(v: Val) -> dict[str, Any]:
    """JSON of v in a boolean position (conditions, and/or/not)."""
    if not isinstance(v.type, BoolT):
        raise CompileError(f"expected bool, got {v.type.describe()}")
    if v.kind == "field":
        return expression("d2b", None, v.json)
    return v.json  # type: ignore[return-value]


def as_data(v: Val) -> dict[str, Any]:
    """JSON of v as a number (stored in a field, compared, hashed)."""
    if isinstance(v.type, BoolT) and v.kind != "field":
        if v.const is not None:
            return hexstr(int(bool(v.const)))
        return expression("b2d", None, v.json)
    if v.json is None:
        raise CompileError(f"{v.type.describe()} is not a value")
    return v.json


HEADER_METHODS = ("isValid", "setValid", "setInvalid", "minSizeInBits", "minSizeInBytes")


def _signed_operand(j: dict[str, Any]) -> bool:
    """Whether BMv2 reads this operand as signed: a field of a signed type, or a constant."""
    return j.get("type") in ("field", "hexstr")


def _signed(x: int, width: int) -> int:
    x &= (1 << width) - 1
    return x - (1 << width) if x >> (width - 1) else x


def _mask(j: dict[str, Any], width: int) -> dict[str, Any]:
    return expression("&", j, hexstr((1 << width) - 1))


def _sign_flipped(j: dict[str, Any], width: int) -> dict[str, Any]:
    """An int<W> operand (signed or W-bit unsigned) as W bits with the sign bit flipped."""
    return expression("^", _mask(j, width), hexstr(1 << (width - 1)))


class ExpressionLowering:
    """Lowers expression trees within a scope (a dict of names -> Val, innermost last)."""

    def __init__(self, decls: Declarations) -> None:
        self.decls = decls
        self.scopes: list[dict[str, Val]] = []
        self.global_objects: dict[str, Val] = {}    # top-level extern instances

    def error(self, message: str, node: Any) -> CompileError:
        return CompileError(message, self.decls.loc(node))

    def lookup(self, name: str, node: Any) -> Val:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        if name in self.global_objects:
            return self.global_objects[name]
        if name in self.decls.const_trees:
            type_tree, value_tree = self.decls.const_trees[name]
            t = self.decls.resolve(type_tree)
            v = self.expr(value_tree, t)
            if v.const is None:
                raise self.error(f"constant {name} is not a compile-time value", value_tree)
            return const_val(int(v.const), t)
        if name in self.decls.types:
            return Val(self.decls.types[name], kind="object", ref=("type", name))
        raise self.error(f"unknown name {name}", node)

    # ------------------------------------------------------------------ conversions
    def convert(self, v: Val, target: P4Type, node: Any) -> Val:
        """Implicit conversion of v to `target` (int literals take widths; else types must agree)."""
        if isinstance(v.type, IntLitT) and isinstance(target, BitT):
            return const_val(int(v.const or 0), target)
        if isinstance(target, BitT) and isinstance(v.type, BitT):
            if v.type.width != target.width or v.type.signed != target.signed:
                raise self.error(f"width mismatch: {v.type.describe()} where {target.describe()} "
                                 "is expected (cast it)", node)
            return v
        if isinstance(target, IntLitT) or target == v.type:
            return v
        if isinstance(target, EnumT) and v.type is target:
            return v
        if isinstance(target, BitT) and isinstance(v.type, EnumT) and v.type.underlying is not None:
            if v.type.underlying.width == target.width:
                return Val(target, v.json, v.kind, v.const)
        if type(target) is type(v.type) and not isinstance(target, (StructLikeT, EnumT)):
            return v
        raise self.error(f"type mismatch: {v.type.describe()} where {target.describe()} is expected",
                         node)

    # ------------------------------------------------------------------ expressions
    def expr(self, node: Any, expected: P4Type | None = None) -> Val:
        v = self._expr(node, expected)
        if expected is not None and not isinstance(expected, (IntLitT,)) and v.kind in ("value", "field"):
            v = self.convert(v, expected, node)
        return v

    def _expr(self, node: Any, expected: P4Type | None) -> Val:
        kind = node.data
        handler = getattr(self, f"_e_{kind}", None)
        if handler is None:
            raise Unsupported(f"expression {kind.replace('_', ' ')}", self.decls.loc(node))
        return handler(node, expected)

    def _e_number(self, node: Tree, expected: P4Type | None) -> Val:
        value, width, signed = parse_number(str(node.children[0]))
        if width is None:
            if isinstance(expected, BitT):
                return const_val(value, expected)
            return Val(IntLitT(), hexstr(value), const=value)
        return const_val(value, BitT(width, signed))

    def _e_true(self, node: Tree, expected: P4Type | None) -> Val:
        return const_val(1, BoolT())

    def _e_false(self, node: Tree, expected: P4Type | None) -> Val:
        return const_val(0, BoolT())

    def _e_string(self, node: Tree, expected: P4Type | None) -> Val:
        return Val(StringT(), {"type": "string", "value": str(node.children[0])[1:-1]})

    def _e_ident(self, node: Tree, expected: P4Type | None) -> Val:
        return self.lookup(str(node.children[0]), node)

    def _e_global_ident(self, node: Tree, expected: P4Type | None) -> Val:
        return self.lookup(str(node.children[0]), node)

    def _e_list_expr(self, node: Tree, expected: P4Type | None) -> Val:
        items = node.children[0].children if node.children[0] is not None else []
        if isinstance(expected, StructLikeT) and expected.kind in ("struct", "header"):
            # A struct or header written as a list of its fields' values, in order.
            if len(items) != len(expected.fields):
                raise self.error(f"{expected.describe()} has {len(expected.fields)} fields, "
                                 f"the list gives {len(items)}", node)
            members: dict[str, Val] = {}
            out: list | None = getattr(self, "out", None)
            for (fname, ftype), i in zip(expected.fields, items, strict=True):
                before = len(out) if out is not None else 0
                members[fname] = self.expr(i, ftype)
                if out is not None and len(out) > before:
                    # This element's calls ran statements (copy-out of inout arguments): the
                    # elements before it are read first, as P4 evaluates left to right.
                    for k in list(members)[:-1]:
                        m = members[k]
                        if m.const is None and isinstance(m.type, BitT) and m.json is not None:
                            ref = self.json.scalar("tmp", m.type.width, m.type.signed)  # type: ignore[attr-defined]
                            tmp = {"type": "field", "value": ref}
                            out.insert(before, {"op": "assign", "parameters": [tmp, as_data(m)]})
                            members[k] = Val(m.type, tmp, kind="field")
            return Val(expected, kind="struct", ref="list", members=members)
        vals = [self.expr(i) for i in items]
        return Val(ListT([v.type for v in vals]), kind="list",
                   members={str(i): v for i, v in enumerate(vals)})

    def _e_default_list(self, node: Tree, expected: P4Type | None) -> Val:
        """`{...}`: every field of the struct or header its default value (P4_16 8.26)."""
        return self._named(node, [], True, expected)

    def _e_named_list(self, node: Tree, expected: P4Type | None) -> Val:
        return self._named(node, node.children, False, expected)

    def _e_named_list_dots(self, node: Tree, expected: P4Type | None) -> Val:
        return self._named(node, node.children, True, expected)

    def _named(self, node: Tree, kv: list[Tree], dots: bool, expected: P4Type | None) -> Val:
        """`{a = 1, b = x}` (and `{a = 1, ...}`): a struct or header by its fields' names, as the
        list of its fields' values in order."""
        if not (isinstance(expected, StructLikeT) and expected.kind in ("struct", "header")):
            raise self.error("a list of named fields or {...} needs a struct or header type here", node)
        given: dict[str, Any] = {}
        for item in kv:
            fname = name_of(item.children[0])
            if fname in given:
                raise self.error(f"field {fname} is given twice", item)
            if fname not in dict(expected.fields):
                raise self.error(f"{expected.describe()} has no field {fname}", item)
            given[fname] = item.children[1]
        items = []
        for fname, ftype in expected.fields:
            if fname in given:
                items.append(given[fname])
            elif not dots:
                raise self.error(f"field {fname} of {expected.describe()} is not given", node)
            else:
                items.append(self._default_tree(ftype, node))
        return self._e_list_expr(Tree("list_expr", [Tree("expr_list", items, meta=node.meta)],
                                      meta=node.meta), expected)

    def _default_tree(self, t: P4Type, at: Tree) -> Tree:
        if isinstance(t, BitT):
            return Tree("number", [Token("NUMBER", "0")], meta=at.meta)
        if isinstance(t, BoolT):
            return Tree("false", [], meta=at.meta)
        if isinstance(t, StructLikeT) and t.kind == "struct":
            return Tree("default_list", [], meta=at.meta)
        raise Unsupported(f"the default value of {t.describe()} in {{...}}", self.decls.loc(at))

    def _e_type_member(self, node: Tree, expected: P4Type | None) -> Val:
        base, member = node.children
        mname = name_of(member)
        if isinstance(base, Tree) and base.data == "error_type":
            if mname not in self.decls.errors:
                raise self.error(f"unknown error {mname}", member)
            return Val(ErrorT(), hexstr(self.decls.errors.index(mname)), const=self.decls.errors.index(mname))
        tname = str(base) if not isinstance(base, Tree) else name_of(base)
        t = self.decls.types.get(tname)
        if isinstance(t, EnumT):
            if mname not in t.members:
                raise self.error(f"{tname} has no member {mname}", member)
            if t.underlying is not None:
                return Val(t, hexstr(t.values[mname], t.underlying.width), const=t.values[mname])
            return Val(t, hexstr(t.members.index(mname)), const=t.members.index(mname), ref=mname)
        raise self.error(f"{tname}.{mname} is not a value", node)

    def _e_member(self, node: Tree, expected: P4Type | None) -> Val:
        base = self.expr(node.children[0])
        mname = name_of(node.children[1])
        if base.kind == "union":
            if mname in base.members:
                return base.members[mname]
            if mname != "isValid":
                raise self.error(f"{base.type.describe()} has no member {mname}", node.children[1])
            return Val(base.type, kind="method", ref=(base, mname))
        if base.kind == "struct":
            if mname not in base.members:
                raise self.error(f"{base.type.describe()} has no field {mname}", node.children[1])
            return base.members[mname]
        if base.kind == "header":
            htype = base.type
            assert isinstance(htype, StructLikeT)
            if mname in htype.nested:
                return _flattened_member(base.ref, htype, htype.nested[mname])
            ftype = htype.field_type(mname)
            if ftype is None:
                if mname not in HEADER_METHODS:
                    raise self.error(f"{htype.describe()} has no field {mname}", node.children[1])
                # Methods (isValid, setValid, ...) are resolved by the call that uses them.
                return Val(htype, kind="method", ref=(base, mname))
            return Val(ftype, {"type": "field", "value": [base.ref, mname]}, kind="field")
        if base.kind == "stack":
            assert isinstance(base.type, StackT)
            if mname == "size":
                return const_val(base.type.size, BitT(32))
            if mname == "lastIndex":
                # The index of the element extracted last: BMv2's next index - 1.
                return Val(BitT(32), expression("last_stack_index", None,
                                                {"type": "header_stack", "value": base.ref}))
            if mname == "last":
                # The element extracted last (BMv2 reads it by the stack's next index - 1).
                return Val(base.type.element, kind="stack_last", ref=base.ref)
            return Val(base.type, kind="method", ref=(base, mname))
        if base.kind == "dyn_header":
            assert isinstance(base.type, StructLikeT)
            names = [n for n, _ in base.type.fields]
            if mname not in names:
                if mname not in HEADER_METHODS:
                    raise self.error(f"{base.type.describe()} has no field {mname}", node.children[1])
                return Val(base.type, kind="method", ref=(base, mname))
            access = expression("access_field", base.json, names.index(mname))   # type: ignore[arg-type]
            return Val(base.type.fields[names.index(mname)][1], access, kind="dyn_field")
        if base.kind == "stack_last":
            assert isinstance(base.type, StructLikeT)
            ftype = base.type.field_type(mname)
            if ftype is None:
                raise Unsupported(f"{mname} of a stack's last element (only its fields are readable)",
                                  self.decls.loc(node))
            return Val(ftype, {"type": "stack_field", "value": [base.ref, mname]})
        if base.kind == "object":
            return Val(base.type, kind="method", ref=(base, mname))
        raise self.error(f"{mname}: member of something that has no members", node.children[1])

    def _e_index(self, node: Tree, expected: P4Type | None) -> Val:
        base = self.expr(node.children[0])
        if base.kind == "union_stack":
            i = self.expr(node.children[1])
            if i.const is None:
                raise Unsupported("a stack of header unions indexed at run time", self.decls.loc(node))
            if str(int(i.const)) not in base.members:
                raise self.error(f"index {int(i.const)} is outside {base.type.describe()}", node.children[1])
            return base.members[str(int(i.const))]
        if base.kind != "stack":
            raise self.error("indexing something that is not a header stack", node)
        idx = self.expr(node.children[1])
        assert isinstance(base.type, StackT)
        if idx.const is None:
            if not isinstance(idx.type, BitT):
                raise self.error("a header stack index must be a bit<W> value", node.children[1])
            # Resolved per packet (out-of-range indexes are the engine's StackOutOfBounds).
            deref = expression("dereference_header_stack", {"type": "header_stack", "value": base.ref},
                               as_data(idx))
            return Val(base.type.element, deref, kind="dyn_header", ref=base.ref)
        if not 0 <= int(idx.const) < base.type.size:
            raise self.error(f"index {idx.const} out of range for {base.type.describe()}", node)
        return Val(base.type.element, kind="header", ref=f"{base.ref}[{idx.const}]")

    def _e_slice(self, node: Tree, expected: P4Type | None) -> Val:
        base = self.expr(node.children[0])
        hi, lo = self.decls.const_int(node.children[1]), self.decls.const_int(node.children[2])
        if not isinstance(base.type, BitT) or not (0 <= lo <= hi < base.type.width):
            raise self.error(f"bad slice [{hi}:{lo}] of {base.type.describe()}", node)
        width = hi - lo + 1
        if base.const is not None:
            folded = const_val((int(base.const) >> lo) & ((1 << width) - 1), BitT(width))
            folded.ref = ("slice", base, hi, lo)
            return folded
        j = as_data(base)
        if lo:
            j = expression(">>", j, hexstr(lo))
        out = Val(BitT(width), _mask(j, width))
        out.ref = ("slice", base, hi, lo)
        return out

    def _e_cast(self, node: Tree, expected: P4Type | None) -> Val:
        target = self.decls.resolve(node.children[0])
        if isinstance(target, StructLikeT) and isinstance(node.children[1], Tree) and \
                node.children[1].data in ("list_expr", "named_list", "named_list_dots", "default_list"):
            return self.expr(node.children[1], target)     # (H){...}: the list is of type H
        v = self.expr(node.children[1])
        if isinstance(v.type, IntLitT) or v.const is not None and isinstance(target, BitT):
            if isinstance(target, BoolT):
                return const_val(int(v.const or 0), target)
            return const_val(int(v.const or 0), target)
        if isinstance(target, BitT) and isinstance(v.type, BoolT):
            return Val(target, as_data(v))
        if isinstance(target, BoolT) and isinstance(v.type, BitT) and v.type.width == 1:
            return Val(target, expression("d2b", None, as_data(v)))
        if isinstance(target, BitT) and isinstance(v.type, BitT):
            j = as_data(v)
            if target.signed:
                return Val(target, expression("two_comp_mod", j, hexstr(target.width)))
            if v.type.signed or target.width < v.type.width:
                return Val(target, _mask(j, target.width))
            return Val(target, j)
        if isinstance(target, BitT) and isinstance(v.type, EnumT) and v.type.underlying is not None:
            return Val(target, v.json, const=v.const)
        raise self.error(f"cannot cast {v.type.describe()} to {target.describe()}", node)

    def _e_not_op(self, node: Tree, expected: P4Type | None) -> Val:
        v = self.expr(node.children[0], BoolT())
        if v.const is not None:
            return const_val(int(not v.const), BoolT())
        return Val(BoolT(), expression("not", None, as_bool(v)))

    def _e_bnot_op(self, node: Tree, expected: P4Type | None) -> Val:
        v = self.expr(node.children[0], expected)
        if not isinstance(v.type, BitT):
            raise self.error(f"~ needs a bit<W> operand, got {v.type.describe()}", node)
        if v.const is not None:
            return const_val(~int(v.const), v.type)
        return Val(v.type, _mask(expression("~", None, as_data(v)), v.type.width))

    def _e_neg_op(self, node: Tree, expected: P4Type | None) -> Val:
        v = self.expr(node.children[0], expected)
        if v.const is not None:
            if isinstance(v.type, IntLitT):
                return Val(v.type, hexstr(-int(v.const)) if v.const <= 0 else None, const=-int(v.const))
            return const_val(-int(v.const), v.type)
        if not isinstance(v.type, BitT):
            raise self.error("- needs a number", node)
        return Val(v.type, _mask(expression("-", hexstr(0), as_data(v)), v.type.width))

    def _e_land_op(self, node: Tree, expected: P4Type | None) -> Val:
        return self._logical(node, "and")

    def _e_lor_op(self, node: Tree, expected: P4Type | None) -> Val:
        return self._logical(node, "or")

    def _logical(self, node: Tree, op: str) -> Val:
        a = self.expr(node.children[0], BoolT())
        if a.const is not None:
            # Short-circuit at compile time: the right side (and its effects) only when it decides.
            if bool(a.const) == (op == "or"):
                return const_val(int(bool(a.const)), BoolT())
            return self.expr(node.children[1], BoolT())
        b = self.expr(node.children[1], BoolT())
        return Val(BoolT(), expression(op, as_bool(a), as_bool(b)))

    def _e_cond(self, node: Tree, expected: P4Type | None) -> Val:
        c = self.expr(node.children[0], BoolT())
        if c.const is not None:
            return self.expr(node.children[1] if c.const else node.children[2], expected)
        a = self.expr(node.children[1], expected)
        b = self.expr(node.children[2], a.type if not isinstance(a.type, IntLitT) else expected)
        if isinstance(a.type, IntLitT):
            a = self.convert(a, b.type, node)
        j = {"type": "expression", "value": {"op": "?", "left": as_data(a), "right": as_data(b),
                                             "cond": as_bool(c)}}
        return Val(b.type, j)

    def _e_binop(self, node: Tree, expected: P4Type | None) -> Val:
        left, op_tok, right = node.children
        op = str(op_tok)
        a = self.expr(left, None if op in ("==", "!=", "<", ">", "<=", ">=", "<<", ">>", "++") else expected)
        out: list | None = getattr(self, "out", None)
        before = len(out) if out is not None else 0
        b = self.expr(right, a.type if isinstance(a.type, BitT) and op not in ("<<", ">>", "++") else None)
        if out is not None and len(out) > before and a.const is None and isinstance(a.type, BitT):
            # The right operand's calls ran statements (copy-out of inout arguments): the left
            # operand is read before them, as P4 evaluates left to right.
            tmp = {"type": "field", "value": self.json.scalar("tmp", a.type.width, a.type.signed)}  # type: ignore[attr-defined]
            out.insert(before, {"op": "assign", "parameters": [tmp, as_data(a)]})
            a = Val(a.type, tmp, kind="field")
        if isinstance(a.type, IntLitT) and isinstance(b.type, BitT) and op not in ("<<", ">>", "++"):
            a = self.convert(a, b.type, left)
        if op in ("<<", ">>"):
            return self._shift(a, b, op, node)
        if op == "++":
            return self._concat(a, b, node)
        if op in ("==", "!="):
            if isinstance(a.type, BoolT) or isinstance(b.type, BoolT):
                b = self.convert(b, a.type, right)
                if a.const is not None and b.const is not None:
                    return const_val(int((a.const == b.const) == (op == "==")), BoolT())
                return Val(BoolT(), expression(op, as_data(a), as_data(b)))
        if op in ("==", "!=") and (a.kind in ("header", "stack", "struct") or isinstance(a.type, VarbitT)):
            eq = self._equal(a, b, node)
            return Val(BoolT(), eq if op == "==" else expression("not", None, eq))
        if isinstance(a.type, IntLitT) and isinstance(b.type, IntLitT):
            return self._fold(int(a.const or 0), int(b.const or 0), op, IntLitT(), node)
        if not isinstance(a.type, (BitT, ErrorT, EnumT)):
            raise self.error(f"operator {op} on {a.type.describe()}", node)
        b = self.convert(b, a.type, right)
        if a.const is not None and b.const is not None and isinstance(a.type, BitT):
            return self._fold(int(a.const), int(b.const), op, a.type, node)
        ja, jb = as_data(a), as_data(b)
        if op in ("==", "!=", "<", ">", "<=", ">="):
            if isinstance(a.type, BitT) and a.type.signed and op not in ("==", "!=") and \
                    not (_signed_operand(ja) and _signed_operand(jb)):
                # BMv2 reads signed fields and constants as signed, but a computed int<W> is an
                # unsigned W-bit value: both operands become W bits with the sign bit flipped,
                # whose unsigned order is the signed order.
                ja, jb = (_sign_flipped(j, a.type.width) for j in (ja, jb))
            return Val(BoolT(), expression(op, ja, jb))
        assert isinstance(a.type, BitT)
        w = a.type.width
        if op in ("&", "|", "^"):
            return Val(a.type, expression(op, ja, jb))
        if op in ("+", "-", "*"):
            return Val(a.type, _mask(expression(op, ja, jb), w))
        if op in ("|+|", "|-|"):
            # BMv2 saturates to W bits: sat_cast for int<W> (the fields are signed), usat_cast else.
            sat = "sat_cast" if a.type.signed else "usat_cast"
            return Val(a.type, expression(sat, expression(op[1], ja, jb), hexstr(w)))
        if op in ("/", "%"):
            return Val(a.type, expression(op, ja, jb))
        raise Unsupported(f"operator {op}", self.decls.loc(node))

    def _equal(self, a: Val, b: Val, node: Tree) -> dict[str, Any]:
        """a == b on headers, stacks and structs (P4_16 8.16, 8.17 and 8.18): headers are equal
        when both are invalid or both valid with equal fields; stacks and structs member-wise."""
        if a.kind != b.kind and not (isinstance(a.type, VarbitT) and isinstance(b.type, VarbitT)):
            raise self.error(f"operator == on {a.type.describe()} and {b.type.describe()}", node)
        if isinstance(a.type, VarbitT):
            return expression("==", as_data(a), as_data(b))
        if a.kind == "header":
            if a.type is not b.type:
                raise self.error(f"operator == on {a.type.describe()} and {b.type.describe()}", node)
            assert isinstance(a.type, StructLikeT)
            va, vb = (expression("d2b", None, {"type": "field", "value": [h.ref, "$valid$"]}) for h in (a, b))
            both_invalid = expression("and", expression("not", None, va), expression("not", None, vb))
            same = expression("and", va, vb)
            for fname, _ftype in a.type.fields:
                fa, fb = ({"type": "field", "value": [h.ref, fname]} for h in (a, b))
                same = expression("and", same, expression("==", fa, fb))
            return expression("or", both_invalid, same)
        parts: list[dict[str, Any]] = []
        if a.kind == "stack":
            assert isinstance(a.type, StackT) and isinstance(b.type, StackT)
            if a.type.size != b.type.size or a.type.element is not b.type.element:
                raise self.error(f"operator == on {a.type.describe()} and {b.type.describe()}", node)
            for i in range(a.type.size):
                parts.append(self._equal(Val(a.type.element, kind="header", ref=f"{a.ref}[{i}]"),
                                         Val(b.type.element, kind="header", ref=f"{b.ref}[{i}]"), node))
        else:
            if a.type is not b.type or set(a.members) != set(b.members):
                raise self.error(f"operator == on {a.type.describe()} and {b.type.describe()}", node)
            for m, av in a.members.items():
                bv = b.members[m]
                if av.kind in ("header", "stack", "struct") or isinstance(av.type, VarbitT):
                    parts.append(self._equal(av, bv, node))
                else:
                    parts.append(expression("==", as_data(av), as_data(bv)))
        if not parts:
            return {"type": "bool", "value": True}
        out = parts[0]
        for p in parts[1:]:
            out = expression("and", out, p)
        return out

    def _fold(self, x: int, y: int, op: str, t: P4Type, node: Tree) -> Val:
        results = {"+": x + y, "-": x - y, "*": x * y, "&": x & y, "|": x | y, "^": x ^ y}
        if op in results:
            return const_val(results[op], t)
        if op in ("|+|", "|-|") and isinstance(t, BitT):
            exact = x + y if op == "|+|" else x - y
            if t.signed:
                lo, hi = -(1 << (t.width - 1)), (1 << (t.width - 1)) - 1
                x, y = _signed(x, t.width), _signed(y, t.width)
                exact = x + y if op == "|+|" else x - y
            else:
                lo, hi = 0, (1 << t.width) - 1
            return const_val(min(max(exact, lo), hi), t)
        if op in ("/", "%"):
            if y == 0:
                raise self.error("division by zero", node)
            return const_val(x // y if op == "/" else x % y, t)
        cmp = {"==": x == y, "!=": x != y, "<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}
        if op in cmp:
            return const_val(int(cmp[op]), BoolT())
        raise Unsupported(f"operator {op} on constants", self.decls.loc(node))

    def _shift(self, a: Val, b: Val, op: str, node: Tree) -> Val:
        if isinstance(a.type, IntLitT) and a.const is not None and b.const is not None:
            x, y = int(a.const), int(b.const)
            return const_val(x << y if op == "<<" else x >> y, IntLitT())
        if not isinstance(a.type, BitT):
            raise self.error(f"shift of {a.type.describe()}: give the left operand a width", node)
        w = a.type.width
        if a.const is not None and b.const is not None:
            return const_val(int(a.const) << int(b.const) if op == "<<" else int(a.const) >> int(b.const),
                             a.type)
        j = expression(op, as_data(a), as_data(b))
        return Val(a.type, _mask(j, w) if op == "<<" else j)

    def _concat(self, a: Val, b: Val, node: Tree) -> Val:
        if not isinstance(a.type, BitT) or not isinstance(b.type, BitT):
            raise self.error("++ needs two bit<W> operands", node)
        w = a.type.width + b.type.width
        j = expression("|", _mask(expression("<<", as_data(a), hexstr(b.type.width)), w), as_data(b))
        return Val(BitT(w), j)

    def width_of(self, v: Val, node: Any) -> int:
        try:
            return bit_width(v.type)
        except TypeError:
            raise self.error(f"{v.type.describe()} has no bit width here", node) from None
