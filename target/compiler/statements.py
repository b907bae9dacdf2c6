"""Statements inside actions and parser states, and v1model extern calls, as BMv2 primitives."""

from __future__ import annotations

from typing import Any

from lark import Token, Tree

from target.compiler.bmv2 import Bmv2Json, expression, hexstr
from target.compiler.declarations import name_of
from target.compiler.errors import CompileError, Unsupported
from target.compiler.expressions import ExpressionLowering, Val, as_bool, as_data
from target.compiler.types import (
    BitT,
    BoolT,
    EnumT,
    ErrorT,
    ExternT,
    IntLitT,
    P4Type,
    StackT,
    StructLikeT,
    VarbitT,
    VoidT,
    bit_width,
)

HASH_ALGORITHMS = {"crc32": "crc32", "crc32_custom": "crc32_custom", "crc16": "crc16",
                   "crc16_custom": "crc16_custom", "random": "random", "identity": "identity",
                   "csum16": "csum16", "xor16": "xor16"}


class StatementLowering(ExpressionLowering):
    """Appends primitives to self.out; actions are inlined where they are called directly."""

    def __init__(self, decls: Any, json: Bmv2Json) -> None:
        super().__init__(decls)
        self.json = json
        self.out: list[dict[str, Any]] = []
        self.actions: dict[str, Tree] = {}      # visible actions by name (control's, then global)
        self.source_fragment = True
        self.digest_types: list[Any] = []      # struct types sent by digest(), first use first
        self.direct_meter_targets: dict[str, list[str]] = {}   # meter -> field its read() names
        self.effects_allowed = False
        self.local_functions: dict[str, Tree] = {}     # functions declared in the current control
        self.preserved_fields: dict[int, list[dict[str, Any]]] = {}   # @field_list index -> fields
        # Copy-outs of the actions/functions being inlined, innermost last: exit runs them first.
        self.copy_out_stack: list[list[tuple[Val, Val]]] = []
        self.in_action = False    # lowering an action's body (where `return;` ends it)

    def prim(self, op: str, params: list[dict[str, Any]], node: Any = None) -> None:
        p: dict[str, Any] = {"op": op, "parameters": params}
        loc = self.decls.loc(node) if node is not None else None
        if loc is not None:
            p["source_info"] = {"filename": loc.file, "line": loc.line, "column": loc.column,
                                "source_fragment": loc.text.strip()[:80]}
        self.out.append(p)

    # ------------------------------------------------------------------ statements
    def statements(self, nodes: list[Any]) -> bool:
        """Lowers nodes in order; True when they always end in exit or return (what follows
        them is dead and is not lowered, as p4c removes it)."""
        for n in nodes:
            if self.statement(n):
                return True
        return False

    def statement(self, node: Any) -> bool:
        # Expressions with effects (register.read(i)) may emit primitives only where a statement
        # is being lowered: an apply block's conditions and table keys have nowhere to put them.
        saved, self.effects_allowed = self.effects_allowed, True
        try:
            return self._statement(node)
        finally:
            self.effects_allowed = saved

    def _statement(self, node: Any) -> bool:
        kind = node.data
        if kind == "block":
            self.scopes.append({})
            try:
                return self.statements(node.children)
            finally:
                self.scopes.pop()
        if kind == "return_statement" and self.in_action and node.children[0] is None:
            return True      # the rest of the action is skipped (only reached unconditionally)
        if kind == "if_statement":
            before = len(self.out)
            c = self.expr(node.children[0], BoolT())
            if c.const is not None:
                # A constant condition: only the branch taken exists (its return/exit ends the list).
                taken = node.children[1] if c.const else node.children[2]
                return self.statement(taken) if taken is not None else False
            del self.out[before:]     # predicated_if evaluates the condition itself
            self.predicated_if(node)
        elif kind == "assignment":
            self.assign(node.children[0], node.children[1], node)
        elif kind == "call_statement":
            self.call(node.children[0], node)
        elif kind == "variable_decl":
            self.variable(node)
        elif kind == "const_decl":
            _, type_tree, name, value = node.children
            t = self.decls.resolve(type_tree)
            v = self.expr(value, t)
            self.scopes[-1][name_of(name)] = v
        elif kind == "empty_statement":
            pass
        elif kind == "exit_statement":
            # exit still copies out the enclosing actions' out/inout parameters (P4_16 12.5).
            for frame in reversed(self.copy_out_stack):
                for arg, local in frame:
                    self.store(arg, local, node)
            self.prim("exit", [], node)
            return True
        elif kind in ("for_statement", "for_in_statement", "break_statement", "continue_statement"):
            # An action's primitives run straight: the loop is unrolled (loops.LoopLowering).
            unrolled = getattr(self, "unrolled_loop", None)
            if unrolled is None:
                raise Unsupported(f"{kind.replace('_', ' ')} here", self.decls.loc(node))
            return bool(unrolled(node))
        else:
            raise Unsupported(f"{kind.replace('_', ' ')} here", self.decls.loc(node))
        return False

    def variable(self, node: Tree) -> None:
        _, type_tree, name, init = node.children
        t = self.decls.resolve(type_tree)
        vname = name_of(name)
        v = self.local_value(t, vname, node)
        self.scopes[-1][vname] = v
        if init is not None:
            self.store(v, self.expr(init, t), node)

    def local_value(self, t: Any, vname: str, node: Any) -> Val:
        """Storage for a local variable: a header instance, a stack, metadata scalars, or a
        struct of those (each member its own instance, as p4c flattens local structs)."""
        if isinstance(t, StructLikeT) and t.kind == "header":
            htype = self.header_type(t)
            inst = f"{vname}_{len(self.json.headers)}"
            self.json.add_header(inst, htype)
            return Val(t, kind="header", ref=inst)
        if isinstance(t, StackT):
            inst = f"{vname}_{len(self.json.headers)}"
            self.json.add_stack(inst, self.header_type(t.element), t.size)
            return Val(t, kind="stack", ref=inst)
        if isinstance(t, StructLikeT) and t.kind == "header_union":
            return self.union_value(t, f"{vname}_{len(self.json.headers)}")
        if isinstance(t, StructLikeT) and t.kind == "struct":
            v = Val(t, kind="struct")
            for fname, ftype in t.fields:
                v.members[fname] = self.local_value(ftype, f"{vname}_{fname}", node)
            return v
        if isinstance(t, (BitT, BoolT, EnumT, ErrorT)):
            ref = self.json.scalar(vname, bit_width(t), isinstance(t, BitT) and t.signed)
            return Val(t, {"type": "field", "value": ref}, kind="field")
        if isinstance(t, VarbitT):
            # A varbit local is a metadata header of one varbit field (as p4c's `$varbitW`).
            htype = self.json.add_header_type(f"$varbit{t.max_width}", [["field", "*"]],
                                              (t.max_width + 7) // 8)
            inst = f"{vname}_{len(self.json.headers)}"
            self.json.add_header(inst, htype, metadata=True)
            return Val(t, {"type": "field", "value": [inst, "field"]}, kind="field")
        raise Unsupported(f"local variable of type {t.describe()}", self.decls.loc(node))

    def union_value(self, t: StructLikeT, inst: str) -> Val:
        members = []
        for m, mt in t.fields:
            if not isinstance(mt, StructLikeT) or mt.kind != "header":
                raise self.error(f"header union {t.name} member {m} is not a header", None)
            members.append((m, self.header_type(mt)))
        self.json.add_union(inst, t.name, members)
        return Val(t, kind="union", ref=inst,
                   members={m: Val(mt, kind="header", ref=f"{inst}.{m}") for m, mt in t.fields})

    def union_stack_value(self, t: StackT, inst: str) -> Val:
        """A stack of header unions, indexed by constants only: union inst[i] for each i."""
        first = len(self.json.header_unions)
        members = {str(i): self.union_value(t.element, f"{inst}[{i}]") for i in range(t.size)}
        self.json.header_union_stacks.append({
            "name": inst, "id": len(self.json.header_union_stacks), "union_type": t.element.name,
            "size": t.size, "header_union_ids": list(range(first, first + t.size))})
        return Val(t, kind="union_stack", ref=inst, members=members)

    def header_type(self, t: StructLikeT) -> str:
        fields: list[list] = []
        for n, ft in t.fields:
            if isinstance(ft, VarbitT):
                fields.append([n, "*"])
            else:
                fields.append([n, bit_width(ft), isinstance(ft, BitT) and ft.signed])
        if any(isinstance(ft, VarbitT) for _, ft in t.fields):
            total = sum(bit_width(ft) for _, ft in t.fields)
            return self.json.add_header_type(t.name, fields, (total + 7) // 8)
        return self.json.add_header_type(t.name, fields)

    def assign(self, target_node: Any, value_node: Any, node: Any) -> None:
        if isinstance(value_node, Tree) and any(n.data in ("call", "generic_call")
                                                for n in value_node.iter_subtrees()):
            # The target's run-time indexes are read before the value's calls run (P4
            # evaluates left to right; a call may write what an index reads).
            target_node = self.snapshot_indexes(target_node, node)
        target = self.expr(target_node)
        value = self.expr(value_node, target.type)
        self.store(target, value, node)

    def snapshot_indexes(self, target_node: Any, node: Any) -> Any:
        if not isinstance(target_node, Tree) or target_node.data not in ("member", "index", "slice"):
            return target_node
        children = [self.snapshot_indexes(target_node.children[0], node), *target_node.children[1:]]
        if target_node.data == "index":
            idx = self.expr(children[1])
            if idx.const is None and isinstance(idx.type, BitT):
                local = self.local_value(idx.type, "index", node)
                self.store(local, idx, node)
                name = f"$index{len(self.json.scalar_fields)}"
                self.scopes[-1][name] = local
                children[1] = Tree("ident", [Token("IDENT", name)], meta=target_node.meta)
        return Tree(target_node.data, children, meta=target_node.meta)

    def store(self, target: Val, value: Val, node: Any) -> None:
        if target.kind == "field" and isinstance(target.type, VarbitT):
            if not isinstance(value.type, VarbitT) or value.kind != "field":
                raise self.error(f"assigning {value.type.describe()} to {target.type.describe()}", node)
            self.prim("assign_VL", [target.json, value.json], node)   # type: ignore[list-item]
        elif target.kind in ("field", "dyn_field"):
            self.prim("assign", [target.json, as_data(value)], node)   # type: ignore[list-item]
        elif target.kind == "header" and value.kind == "struct" and value.ref in ("lookahead", "list"):
            # A header read ahead or written as a list: valid, with every field copied.
            if value.type != target.type:
                raise self.error(f"assigning {value.type.describe()} to {target.type.describe()}", node)
            self.prim("add_header", [{"type": "header", "value": target.ref}], node)
            assert isinstance(target.type, StructLikeT)
            for fname, ftype in target.type.fields:
                field_ref = {"type": "field", "value": [target.ref, fname]}
                self.store(Val(ftype, field_ref, kind="field"), value.members[fname], node)
        elif target.kind == "stack":
            if value.kind != "stack" or value.type.element is not target.type.element or \
                    value.type.size != target.type.size:
                raise self.error(f"assigning {value.type.describe()} to {target.type.describe()}", node)
            self.prim("assign_header_stack", [{"type": "header_stack", "value": target.ref},
                                              {"type": "header_stack", "value": value.ref}], node)
        elif target.kind == "header":
            if value.kind != "header":
                raise self.error("assigning a non-header to a header", node)
            self.prim("assign_header", [{"type": "header", "value": target.ref},
                                        {"type": "header", "value": value.ref}], node)
        elif target.kind == "value" and isinstance(target.ref, tuple) and target.ref[0] == "slice":
            _, base, hi, lo = target.ref
            while isinstance(base.ref, tuple) and base.ref[0] == "slice" and base.kind == "value":
                # A slice of a slice is a slice of the field underneath.
                _, base, outer_hi, outer_lo = base.ref
                hi, lo = outer_lo + hi, outer_lo + lo
            w = base.type.width
            mask = ((1 << (hi - lo + 1)) - 1) << lo
            keep = expression("&", as_data(base), hexstr(~mask & ((1 << w) - 1)))
            new = expression("&", expression("<<", as_data(value), hexstr(lo)), hexstr(mask))
            self.prim("assign", [base.json, expression("|", keep, new)], node)
        elif target.kind == "union":
            if value.kind != "union" or value.type is not target.type:
                raise self.error(f"assigning {value.type.describe()} to {target.type.describe()}", node)
            self.prim("assign_union", [{"type": "header_union", "value": target.ref},
                                       {"type": "header_union", "value": value.ref}], node)
        elif target.kind == "struct":
            if value.kind != "struct":
                raise Unsupported("assigning this value to a struct", self.decls.loc(node))
            for name, member in target.members.items():
                self.store(member, value.members[name], node)
        else:
            raise self.error("this expression cannot be assigned to", node)

    def predicated_if(self, node: Tree) -> None:
        """if/else inside an action: each assignment becomes `x = cond ? new : x` (BMv2 actions
        are straight-line code)."""
        cond = self.expr(node.children[0], BoolT())
        if cond.const is None:
            # Latched first: the branch's own assignments may change what the condition reads.
            latch = {"type": "field", "value": self.json.scalar("condition", 1)}
            self.prim("assign", [latch, as_data(cond)], node)
            cond = Val(BoolT(), latch, kind="field")
        branches = [(node.children[1], as_bool(cond))]
        if node.children[2] is not None:
            branches.append((node.children[2], expression("not", None, as_bool(cond))))
        for body, c in branches:
            saved = self.out
            self.out = []
            if self.statement(body) and not any(p["op"] == "exit" for p in self.out):
                raise Unsupported("return under if inside an action", self.decls.loc(body))
            predicated: list[dict[str, Any]] = []
            for p in self.out:
                predicated.extend(self.predicated(p, c, body))
            saved.extend(predicated)
            self.out = saved

    def header_copy(self, h: dict[str, Any]) -> dict[str, Any] | None:
        """A new header instance of the type of instance h (None when h is not a plain instance)."""
        htype = next((x["header_type"] for x in self.json.headers if x["name"] == h["value"]), None)
        if htype is None:
            return None
        name = f"{h['value'].replace('[', '_').replace(']', '')}_{len(self.json.headers)}"
        self.json.add_header(name, htype)
        return {"type": "header", "value": name}

    def predicated(self, p: dict[str, Any], c: dict[str, Any], body: Tree) -> list[dict[str, Any]]:
        """One primitive of a branch made to take effect only when c holds: a mux between the new
        value and the old (headers as p4c muxes them: assign_header of `c ? new : old`)."""
        def mux(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
            return {"type": "expression", "value": {"op": "?", "left": new, "right": old, "cond": c}}

        op = p["op"]
        if op == "assign":
            dst, src = p["parameters"]
            return [{**p, "parameters": [dst, mux(src, dst)]}]
        if op == "assign_header" and p["parameters"][0].get("type") == "header":
            dst, src = p["parameters"]
            if src.get("type") == "header":
                return [{**p, "parameters": [dst, mux(src, dst)]}]
            # Already a mux (an inner if): its value goes through a copy first.
            tmp = self.header_copy(dst)
            if tmp is not None:
                return [{**p, "parameters": [tmp, src]},
                        {"op": "assign_header", "parameters": [dst, mux(tmp, dst)]}]
        if op in ("add_header", "remove_header") and p["parameters"][0].get("type") == "header":
            # The header's new state is made in a copy, which replaces it when c holds.
            h = p["parameters"][0]
            tmp = self.header_copy(h)
            if tmp is not None:
                return [{"op": "assign_header", "parameters": [tmp, h]}, {**p, "parameters": [tmp]},
                        {"op": "assign_header", "parameters": [h, mux(tmp, h)]}]
        if op == "mark_to_drop":
            # The engine's drop port is its own setting: the two fields mark_to_drop writes are
            # kept in copies, and put back unless c holds.
            out: list[dict[str, Any]] = []
            restore: list[dict[str, Any]] = []
            for fname in ("egress_spec", "mcast_grp"):
                ftype = self.stdmeta.type.field_type(fname)   # type: ignore[attr-defined]
                f = {"type": "field", "value": ["standard_metadata", fname]}
                tmp = {"type": "field", "value": self.json.scalar(f"saved_{fname}", bit_width(ftype))}
                out.append({"op": "assign", "parameters": [tmp, f]})
                restore.append({"op": "assign", "parameters": [f, mux(f, tmp)]})
            return out + [p] + restore
        raise Unsupported(f"{op} under if inside an action", self.decls.loc(body))

    # ------------------------------------------------------------------ calls
    def _e_call(self, node: Tree, expected: Any) -> Val:
        if self.table_apply_in_expression(node):
            raise Unsupported("table apply() inside an expression", self.decls.loc(node))
        read = self.register_read_expression(node)
        if read is not None:
            return read
        saved = len(self.out)
        v = self.call(node, node)
        if v is None:
            raise self.error("this call has no value", node)
        if len(self.out) != saved and not self.effects_allowed:
            raise Unsupported("a call with effects here", self.decls.loc(node))
        return v

    def register_read_expression(self, node: Tree) -> Val | None:
        """`r.read(i)` as a value: read into a new metadata temporary, then use that."""
        callee = node.children[0]
        args = node.children[-1].children if node.children[-1] is not None else []
        if node.data != "call" or callee.data != "member" or name_of(callee.children[1]) != "read" \
                or len(args) != 1:
            return None
        base = self.expr(callee.children[0])
        if base.kind != "object" or base.ref[0] != "register":
            return None
        if not self.effects_allowed:
            raise Unsupported("register.read(i) here (read it into a variable in a statement first)",
                              self.decls.loc(node))
        t = base.type.type_args[0] if base.type.type_args else None
        if not isinstance(t, BitT):
            raise Unsupported("register.read(i) of a register without a bit<W> type", self.decls.loc(node))
        tmp = Val(t, {"type": "field", "value": self.json.scalar("register_value", t.width)}, kind="field")
        idx = self.expr(args[0], BitT(32))
        self.prim("register_read", [tmp.json, {"type": "register_array", "value": base.ref[1]}, as_data(idx)],
                  node)   # type: ignore[list-item]
        return tmp

    def _e_generic_call(self, node: Tree, expected: Any) -> Val:
        return self._e_call(node, expected)

    def table_apply_in_expression(self, node: Tree) -> bool:
        callee = node.children[0]
        return callee.data == "member" and name_of(callee.children[1]) == "apply"

    def call(self, node: Tree, stmt: Any) -> Val | None:
        types_node = None
        if node.data == "generic_call":
            callee_node, types_node, args_node = node.children
        else:
            callee_node, args_node = node.children
        args = list(args_node.children) if args_node is not None else []
        if callee_node.data in ("ident", "global_ident"):
            fname = str(callee_node.children[0])
            if fname in self.actions:
                self.inline_action(self.actions[fname], args, stmt)
                return None
            function = self.local_functions.get(fname) or self.decls.functions.get(fname)
            if function is not None:
                return self.inline_function(function, args, stmt)
            return self.extern_function(fname, args, stmt, types_node)
        callee = self.expr(callee_node)
        if callee.kind != "method":
            raise self.error("this is not something that can be called", callee_node)
        base, method = callee.ref
        if base.kind in ("header", "dyn_header"):
            return self.header_method(base, method, args, stmt)
        if base.kind == "union":
            if method != "isValid":
                raise self.error(f"header unions have no method {method}", stmt)
            return Val(BoolT(), expression("valid_union", None, {"type": "header_union", "value": base.ref}))
        if base.kind == "stack":
            if method in ("push_front", "pop_front"):
                n = self.decls.const_int(args[0])
                self.prim("push" if method == "push_front" else "pop",
                          [{"type": "header_stack", "value": base.ref}, hexstr(n)], stmt)
                return None
            raise Unsupported(f"header stack method {method}", self.decls.loc(stmt))
        if base.kind == "object" and base.ref[0] == "packet" and method == "lookahead":
            if node.data != "generic_call" or args:
                raise self.error("lookahead takes a type argument and no arguments", stmt)
            return self.lookahead(self.decls.resolve(node.children[1].children[0]), stmt)
        return self.object_method(base, method, args, stmt)

    # BMv2 reads `lookahead` operands from a window of the packet after the cursor.
    LOOKAHEAD_WINDOW_BITS = 248
    LOOKAHEAD_MAX_WIDTH = 128

    def lookahead(self, t: Any, stmt: Any, offset: int = 0) -> Val:
        """packet.lookahead<T>(): a bit<W> is one lookahead operand; a header or struct is a struct
        value whose fields are lookahead operands at their bit offsets (assignable to a header)."""
        if isinstance(t, BitT):
            if t.width > self.LOOKAHEAD_MAX_WIDTH or offset + t.width > self.LOOKAHEAD_WINDOW_BITS:
                raise Unsupported(f"lookahead of {t.width} bits at bit {offset} (BMv2 reads at most "
                                  f"{self.LOOKAHEAD_MAX_WIDTH} bits within the next "
                                  f"{self.LOOKAHEAD_WINDOW_BITS})", self.decls.loc(stmt))
            return Val(t, {"type": "lookahead", "value": [offset, t.width]})
        if isinstance(t, StructLikeT) and t.kind in ("header", "struct"):
            v = Val(t, kind="struct", ref="lookahead")
            for fname, ftype in t.fields:
                v.members[fname] = self.lookahead(ftype, stmt, offset)
                offset += bit_width(ftype)
            return v
        raise Unsupported(f"lookahead of {t.describe()}", self.decls.loc(stmt))

    def header_method(self, base: Val, method: str, args: list[Any], stmt: Any) -> Val | None:
        if base.kind == "dyn_header":           # a stack element chosen at run time
            ref = base.json
            if method == "isValid":
                return Val(BoolT(), expression("valid", None, ref))
        else:
            ref = {"type": "header", "value": base.ref}
        if method == "isValid":
            return Val(BoolT(), expression("d2b", None, {"type": "field", "value": [base.ref, "$valid$"]}))
        if method == "setValid":
            self.prim("add_header", [ref], stmt)
        elif method == "setInvalid":
            self.prim("remove_header", [ref], stmt)
        else:
            raise self.error(f"headers have no method {method}", stmt)
        return None

    @staticmethod
    def index_type(base: Val, position: int) -> P4Type:
        """The index type of a counter<I>, meter<I> or register<T, I> (its type argument at
        `position`); bit<32> where the instance leaves it out, as v1model's older externs have."""
        args = base.type.type_args if isinstance(base.type, ExternT) else ()
        return args[position] if len(args) > position else BitT(32)

    def object_method(self, base: Val, method: str, args: list[Any], stmt: Any) -> Val | None:
        kind, name = base.ref[:2]
        if isinstance(base.type, ExternT):
            self.decls.check_arity(self.decls.extern_methods(base.type.name, method), len(args),
                                   f"{base.type.name}.{method}", stmt)
        if kind == "counter":
            if method != "count":
                raise self.error(f"counter has no method {method}", stmt)
            idx = self.expr(args[0], self.index_type(base, 0))
            self.prim("count", [{"type": "counter_array", "value": name}, as_data(idx)], stmt)
            return None
        if kind == "direct_counter":
            return None      # BMv2 counts direct counters when the table hits
        if kind == "direct_meter":
            # BMv2 executes a direct meter when its table hits and stores the colour in the
            # meter's result_target: read() names that field and lowers to nothing.
            if method != "read" or len(args) != 1:
                raise self.error("a direct_meter has only read(out color)", stmt)
            dst = self.expr(args[0])
            if dst.kind != "field":
                raise self.error("direct_meter.read needs a field to write", stmt)
            known = self.direct_meter_targets.setdefault(name, dst.json["value"])   # type: ignore[index]
            if known != dst.json["value"]:                                          # type: ignore[index]
                raise Unsupported(f"direct meter {name} read into two different fields", self.decls.loc(stmt))
            return None
        if kind == "register":
            reg = {"type": "register_array", "value": name}
            if method == "read":
                if len(args) == 1:
                    raise Unsupported("register.read() as an expression (use read(out, index))",
                                      self.decls.loc(stmt))
                dst, idx = self.expr(args[0]), self.expr(args[1], self.index_type(base, 1))
                self.prim("register_read", [dst.json, reg, as_data(idx)], stmt)  # type: ignore[list-item]
                return None
            if method == "write":
                idx = self.expr(args[0], self.index_type(base, 1))
                value = self.expr(args[1], base.type.type_args[0] if base.type.type_args else None)
                self.prim("register_write", [reg, as_data(idx), as_data(value)], stmt)
                return None
        if kind == "meter" and method == "execute_meter":
            idx, dst = self.expr(args[0], self.index_type(base, 0)), self.expr(args[1])
            self.prim("execute_meter", [{"type": "meter_array", "value": name}, as_data(idx),
                                        dst.json], stmt)  # type: ignore[list-item]
            return None
        if kind == "table":
            raise Unsupported("applying a table inside an action or expression", self.decls.loc(stmt))
        raise Unsupported(f"method {method} of {kind}", self.decls.loc(stmt))

    def inline_action(self, action: Tree, args: list[Any], stmt: Any) -> None:
        params = action.children[2].children if action.children[2] is not None else []
        if len(params) != len(args):
            raise self.error(f"action {name_of(action.children[1])} takes {len(params)} arguments, "
                             f"got {len(args)}", stmt)
        scope, copy_out = self.bind_params(params, args, stmt, body=action.children[3])
        self.scopes.append(scope)
        self.copy_out_stack.append(copy_out)
        saved_in_action, self.in_action = self.in_action, True
        try:
            self.statement(action.children[3])
        finally:
            self.copy_out_stack.pop()
            self.in_action = saved_in_action
        self.scopes.pop()
        for arg, local in copy_out:
            self.store(arg, local, stmt)

    def bind_params(self, params: list[Tree], args: list[Any], stmt: Any,
                    function: bool = False, body: Tree | None = None) -> tuple[dict[str, Val], list]:
        """Parameters of an inlined action or function bound to the call's arguments. Scalar
        in/inout/out parameters are copies (copy-in, then copy-out after the body, as P4_16
        says), so that the body's writes to the argument's variable do not show through the
        parameter; headers and structs name their argument."""
        scope: dict[str, Val] = {}
        copy_out: list[tuple[Val, Val]] = []
        for p, a in zip(params, args, strict=True):
            t = self.decls.resolve(p.children[2])
            pname = name_of(p.children[3])
            direction = str(p.children[1].children[0]) if p.children[1] is not None else ""
            if function and not direction:
                direction = "in"      # a function's directionless parameter is an in parameter
            if a.data == "dont_care_arg":
                if direction != "out":
                    raise self.error("_ is only an argument for an out parameter", a)
                scope[pname] = self.local_value(t, pname, stmt)
                continue
            v = self.expr(a, t)
            if direction and v.kind in ("header", "struct") and _aliased(a, body, params):
                # The body also reaches the argument by its own name: the parameter must be a
                # copy (copy-in/copy-out) for the body's writes not to show through it.
                local = self.local_value(t, pname, stmt)
                if direction != "out":
                    self.store(local, v, stmt)
                if direction != "in":
                    copy_out.append((v, local))
                scope[pname] = local
                continue
            if direction and isinstance(t, (BitT, BoolT, EnumT, ErrorT)) and v.kind != "value":
                local = self.local_value(t, pname, stmt)
                if direction != "out":
                    self.store(local, v, stmt)
                if direction != "in":
                    copy_out.append((v, local))
                v = local
            scope[pname] = v
        return scope, copy_out

    def function_signature(self, decl: Tree, args: list[Any], where: Any
                           ) -> tuple[str, list[Tree], Any, Tree]:
        """A function declaration's name, parameters, return type and body, once the call's
        argument count is checked against it."""
        _ann, ret_node, name_node, params_node, body = decl.children
        fname = name_of(name_node)
        params = params_node.children if params_node is not None else []
        if len(params) != len(args):
            raise self.error(f"function {fname} takes {len(params)} arguments, got {len(args)}",
                             where)
        return fname, params, self.decls.resolve(ret_node), body

    def inline_function(self, decl: Tree, args: list[Any], stmt: Any) -> Val | None:
        """A P4 function, inlined. A valued one made only of returns under if/else is one
        expression (usable anywhere); any other body runs in place as statements, with copied
        parameters, its result in a temporary and a flag that skips what follows a return."""
        fname, params, ret_t, body = self.function_signature(decl, args, stmt)
        if not isinstance(ret_t, VoidT) and _only_returns(list(body.children)):
            scope = {name_of(p.children[3]): self.expr(a, self.decls.resolve(p.children[2]))
                     for p, a in zip(params, args, strict=True)}
            self.scopes.append(scope)
            try:
                return self.function_value(list(body.children), ret_t, fname, decl)
            except Unsupported:
                if not self.effects_allowed:
                    raise
            finally:
                self.scopes.pop()
        if not isinstance(ret_t, VoidT) and not _always_returns(list(body.children)):
            raise self.error(f"function {fname} can end without returning a value", decl)
        for p in params:
            if p.children[1] is None or str(p.children[1].children[0]) == "in":
                pname = name_of(p.children[3])
                for node in body.iter_subtrees():
                    if node.data == "assignment" and node.children[0].data == "ident" and \
                            str(node.children[0].children[0]) == pname:
                        raise self.error(f"assigning to the in parameter {pname} of function {fname}", node)
        if not self.effects_allowed:
            raise Unsupported(f"a call of function {fname} here (its body has statements: call it in an "
                              "assignment first)", self.decls.loc(stmt))
        scope, copy_out = self.bind_params(params, args, stmt, function=True, body=body)
        result = None if isinstance(ret_t, VoidT) else self.local_value(ret_t, f"{fname}_retval", decl)
        done = self.local_value(BoolT(), f"{fname}_returned", decl)
        self.store(done, Val(BoolT(), {"type": "bool", "value": False}, const=False), stmt)
        scope["$retval"], scope["$returned"] = (result or done), done
        self.scopes.append(scope)
        self.copy_out_stack.append(copy_out)
        try:
            self.statements(_returns_as_assignments(list(body.children)))
        finally:
            self.copy_out_stack.pop()
            self.scopes.pop()
        for arg, local in copy_out:
            self.store(arg, local, stmt)
        return result

    def function_value(self, stmts: list[Tree], ret_t: Any, fname: str, decl: Tree) -> Val:
        if not stmts:
            raise Unsupported(f"function {fname} can end without returning a value", self.decls.loc(decl))
        s = stmts[0]
        if s.data == "block":
            return self.function_value(list(s.children) + stmts[1:], ret_t, fname, decl)
        if s.data == "return_statement":
            if s.children[0] is None:
                raise self.error(f"function {fname} must return a value", s)
            return self.expr(s.children[0], ret_t)
        if s.data == "if_statement":
            cond, then, other = s.children
            a = self.function_value([then], ret_t, fname, decl)
            b = self.function_value([other] if other is not None else stmts[1:], ret_t, fname, decl)
            c = self.expr(cond, BoolT())
            if c.const is not None:
                return a if c.const else b
            j = {"type": "expression", "value": {"op": "?", "left": as_data(a), "right": as_data(b),
                                                 "cond": as_bool(c)}}
            if isinstance(ret_t, BoolT):
                return Val(ret_t, expression("d2b", None, j))
            return Val(ret_t, j)
        raise Unsupported(f"{s.data.replace('_', ' ')} in function {fname} (a function with a value may "
                          "only return, under if/else)", self.decls.loc(s))

    def extern_function(self, fname: str, args: list[Any], stmt: Any,
                        type_args: Tree | None = None) -> Val | None:
        self.decls.check_arity([d.children[4] for d in self.decls.extern_functions.get(fname, [])],
                               len(args), fname, stmt)
        if fname == "mark_to_drop":
            self.prim("mark_to_drop", [{"type": "header", "value": "standard_metadata"}], stmt)
        elif fname == "hash":
            dst = self.expr(args[0])
            algo = self.enum_member(args[1], "HashAlgorithm")
            base = self.expr(args[2], None)
            data = self.field_list(args[3])
            maxv = self.expr(args[4], None)
            width = self.width_of(dst, args[0])
            base = self.convert(base, BitT(width), args[2]) if isinstance(base.type, IntLitT) else base
            maxv = self.convert(maxv, BitT(32), args[4]) if isinstance(maxv.type, IntLitT) else maxv
            calc = self.json.add_calculation(HASH_ALGORITHMS[algo], data)
            self.prim("modify_field_with_hash_based_offset",
                      [dst.json, as_data(base), {"type": "calculation", "value": calc}, as_data(maxv)],
                      stmt)  # type: ignore[list-item]
        elif fname == "random":
            dst = self.expr(args[0])
            lo, hi = self.expr(args[1], dst.type), self.expr(args[2], dst.type)
            self.prim("modify_field_rng_uniform", [dst.json, as_data(lo), as_data(hi)], stmt)  # type: ignore
        elif fname == "truncate":
            self.prim("truncate", [as_data(self.expr(args[0], BitT(32)))], stmt)
        elif fname in ("assert", "assume"):
            self.prim(fname, [as_bool(self.expr(args[0], BoolT()))], stmt)
        elif fname == "log_msg":
            msg = self.expr(args[0])
            values = self.log_values(args[1]) if len(args) > 1 else []
            self.prim("log_msg", [msg.json, {"type": "parameters_vector", "value": values}],  # type: ignore
                      stmt)
        elif fname == "clone":
            ctype = self.enum_member(args[0], "CloneType")
            session = self.expr(args[1], BitT(32))
            op = "clone_ingress_pkt_to_egress" if ctype == "I2E" else "clone_egress_pkt_to_egress"
            self.prim(op, [as_data(session), hexstr(0)], stmt)
        elif fname in ("resubmit_preserving_field_list", "recirculate_preserving_field_list"):
            if len(args) != 1:
                raise self.error(f"{fname} takes (bit<8> index)", stmt)
            op = "resubmit" if fname.startswith("resubmit") else "recirculate"
            self.prim(op, [hexstr(self.field_list_id(args[0]))], stmt)
        elif fname in ("resubmit", "recirculate"):
            raise Unsupported(f"{fname}(data) is deprecated in v1model: use {fname}_preserving_field_list"
                              f"(index) and @field_list(index) on the metadata fields to keep",
                              self.decls.loc(stmt))
        elif fname == "clone3":
            # v1model's older form: the fields to preserve are listed in the call itself.
            ctype = self.enum_member(args[0], "CloneType")
            session = self.expr(args[1], BitT(32))
            elements = self.field_list(args[2])
            if any(e["type"] != "field" for e in elements):
                raise self.error("clone3 preserves fields only", args[2])
            fid = len(self.json.field_lists) + 1
            self.json.field_lists.append({"id": fid, "name": f"fl_clone3_{fid}", "elements": elements})
            op = "clone_ingress_pkt_to_egress" if ctype == "I2E" else "clone_egress_pkt_to_egress"
            self.prim(op, [as_data(session), hexstr(fid)], stmt)
        elif fname == "clone_preserving_field_list":
            if len(args) != 3:
                raise self.error("clone_preserving_field_list takes (type, session, bit<8> index)", stmt)
            ctype = self.enum_member(args[0], "CloneType")
            session = self.expr(args[1], BitT(32))
            op = "clone_ingress_pkt_to_egress" if ctype == "I2E" else "clone_egress_pkt_to_egress"
            self.prim(op, [as_data(session), hexstr(self.field_list_id(args[2]))], stmt)
        elif fname == "digest":
            self.digest(args, stmt, type_args)
        elif fname in ("verify", "update_checksum", "verify_checksum"):
            raise self.error(f"{fname} is not allowed here", stmt)
        else:
            raise Unsupported(f"call of {fname}", self.decls.loc(stmt))
        return None

    def field_list_id(self, index_node: Any) -> int:
        """The BMv2 field list of the metadata fields annotated @field_list(index) (written when
        the metadata was bound); an index no field carries gets an empty list on first use."""
        index = self.expr(index_node, BitT(8)).const
        if index is None:
            raise self.error("a field list index must be a compile-time constant", index_node)
        name = f"field_list{int(index)}"
        for fl in self.json.field_lists:
            if fl["name"] == name:
                return int(fl["id"])
        fid = len(self.json.field_lists) + 1
        self.json.field_lists.append({"id": fid, "name": name, "elements": []})
        return fid

    def digest(self, args: list[Any], stmt: Any, type_args: Tree | None) -> None:
        receiver = self.expr(args[0], BitT(32))
        data = self.expr(args[1])
        named = self.decls.resolve(type_args.children[0]) if type_args is not None else None
        if data.kind == "list" and isinstance(named, StructLikeT) and named.kind == "struct":
            # digest<S>(id, {a, b}): the list's values as the struct S, named as p4c names it
            values = list(data.members.values())
            if len(values) != len(named.fields):
                raise self.error(f"digest<{named.name}> of {len(values)} values: {named.name} has "
                                 f"{len(named.fields)} fields", args[1])
            members = {n: v for (n, _), v in zip(named.fields, values, strict=True)}
            data = Val(named, kind="struct", members=members)
        if data.kind != "struct":
            raise Unsupported("digest of something other than a struct variable", self.decls.loc(stmt))
        name = data.type.name   # type: ignore[attr-defined]
        existing = [ll for ll in self.json.learn_lists if ll["name"] == name]
        if existing:
            lid = existing[0]["id"]
        else:
            lid = len(self.json.learn_lists) + 1
            self.json.learn_lists.append({"id": lid, "name": name,
                                          "elements": self.digest_fields(data, stmt)})
            self.digest_types.append(data.type)
        self.prim("generate_digest", [as_data(receiver), hexstr(lid)], stmt)

    def digest_fields(self, data: Any, stmt: Any) -> list[dict[str, Any]]:
        """The struct's leaf fields in declaration order (nested structs flattened, as p4c does)."""
        out: list[dict[str, Any]] = []
        for m in data.members.values():
            if m.kind == "struct":
                out.extend(self.digest_fields(m, stmt))
            elif m.kind == "field":
                out.append(m.json)
            else:
                raise Unsupported(f"a {m.type.describe()} member in a digest", self.decls.loc(stmt))
        return out

    def enum_member(self, node: Any, enum_name: str) -> str:
        v = self.expr(node)
        if not isinstance(v.type, EnumT) or v.type.name != enum_name or v.ref is None:
            raise self.error(f"expected a {enum_name} member", node)
        return str(v.ref)

    def log_values(self, node: Any) -> list[dict[str, Any]]:
        """log_msg's values: a list (or tuple/struct value) of bit, int, bool, enum or error values, as
        p4c's BMv2 back end takes them; nested structs and headers are refused (p4c flattens
        them and rewrites the format string)."""
        v = self.expr(node)
        if v.kind not in ("list", "struct") or isinstance(v.type, StackT):
            raise self.error("log_msg: the values must be a list expression such as {a, b}", node)
        out = []
        for m in v.members.values():
            # (p4c's mid end has turned enums into bit<W> by the time its back end checks this)
            if not isinstance(m.type, (BitT, BoolT, EnumT, ErrorT, IntLitT)) or m.kind in ("struct", "list"):
                raise self.error("log_msg: only bit, int, bool, enum and error values can be logged "
                                 "(a header or struct in the list is not supported)", node)
            out.append(as_data(m))
        return out

    def field_list(self, node: Any) -> list[dict[str, Any]]:
        v = self.expr(node)
        vals = list(v.members.values()) if v.kind in ("list", "struct") else [v]
        out = []
        for m in vals:
            if m.kind == "field":
                out.append(m.json)
            elif m.const is not None and isinstance(m.type, BitT):
                out.append({"type": "hexstr", "value": hex(int(m.const)), "bitwidth": m.type.width})
            elif m.kind == "header":
                out.append({"type": "header", "value": m.ref})
            else:
                raise CompileError("field lists may hold fields, headers and sized constants",
                                   self.decls.loc(node))
        return out


def _has_return(node: Any) -> bool:
    return isinstance(node, Tree) and any(n.data == "return_statement" for n in node.iter_subtrees())


def _always_returns(stmts: list[Any]) -> bool:
    """Whether every path through these statements ends in a return."""
    for s in stmts:
        if s.data == "return_statement":
            return True
        if s.data == "block" and _always_returns(list(s.children)):
            return True
        if s.data == "if_statement" and s.children[2] is not None and \
                _always_returns([s.children[1]]) and _always_returns([s.children[2]]):
            return True
    return False


def _only_returns(stmts: list[Any]) -> bool:
    """A function body made of returns under if/else only (lowered as one expression)."""
    for s in stmts:
        if s.data == "block":
            if not _only_returns(list(s.children)):
                return False
        elif s.data == "if_statement":
            if not _only_returns([c for c in s.children[1:] if c is not None]):
                return False
        elif s.data != "return_statement":
            return False
    return True


def _ident(name: str, meta: Any) -> Tree:
    return Tree("ident", [Token("IDENT", name)], meta=meta)


def _aliased(arg: Any, body: Tree | None, params: list[Tree]) -> bool:
    """Whether the body names the variable at the root of the argument `arg` directly (a
    parameter of that name hides it: fn(inout standard_metadata_t stdmeta) called with stdmeta)."""
    root = arg
    while isinstance(root, Tree) and root.data in ("member", "index", "slice"):
        root = root.children[0]
    if body is None or not isinstance(root, Tree) or root.data != "ident":
        return False
    name = str(root.children[0])
    if any(name_of(p.children[3]) == name for p in params):
        return False
    return any(n.data == "ident" and str(n.children[0]) == name for n in body.iter_subtrees())


def _returns_as_assignments(stmts: list[Any]) -> list[Any]:
    """A function body with `return e;` turned into `$retval = e; $returned = true;` and every
    statement that may follow a return guarded by `if (!$returned)`."""
    out: list[Any] = []
    for i, s in enumerate(stmts):
        if s.data == "return_statement":
            if s.children[0] is not None:
                out.append(Tree("assignment", [_ident("$retval", s.meta), s.children[0]], meta=s.meta))
            out.append(Tree("assignment", [_ident("$returned", s.meta), Tree("true", [], meta=s.meta)],
                            meta=s.meta))
            return out
        if not _has_return(s):
            out.append(s)
            continue
        if s.data == "block":
            out.append(Tree("block", _returns_as_assignments(list(s.children)), meta=s.meta))
        elif s.data == "if_statement":
            cond, then, other = s.children
            other_block = Tree("block", _returns_as_assignments([other]), meta=other.meta) \
                if other is not None else None
            then_block = Tree("block", _returns_as_assignments([then]), meta=then.meta)
            out.append(Tree("if_statement", [cond, then_block, other_block], meta=s.meta))
        else:
            raise Unsupported(f"return inside {s.data.replace('_', ' ')}")
        rest = stmts[i + 1:]
        if rest:
            guard = Tree("not_op", [_ident("$returned", s.meta)], meta=s.meta)
            out.append(Tree("if_statement", [guard, Tree("block", _returns_as_assignments(rest), meta=s.meta),
                                             None], meta=s.meta))
        return out
    return out
