"""P4_16 for loops in a control's apply block, as a cycle in the BMv2 control graph.

p4c unrolls loops whose bounds it can compute (its midend's LoopUnroll) and refuses the others
for BMv2. kvick's engines follow a pipeline's next-node links wherever they lead, so every loop
becomes one condition node whose true branch runs the body and the update and then goes back to
it: bounds known only at run time, and a loop variable the body modifies, need no unrolling.

The three forms and their meaning (P4_16 1.2.5, 12.9; as p4test behaves):
- `for (init; cond; update) body`: variables declared in init are visible in the loop only.
- `for (T v in lo..hi) body`: lo and hi are evaluated once, before the first iteration; v takes
  lo, lo+1, ..., hi (nothing when lo > hi) whatever the body assigns to it.
- `for (T v in (list<T>) {e0, e1, ...}) body`: the elements are evaluated once, before the first
  iteration; v takes their values in order.
`break` goes to what follows the loop, `continue` to the update (the next element)."""

from __future__ import annotations

from typing import Any

from lark import Token, Tree

from target.compiler.declarations import name_of
from target.compiler.errors import CompileError, Unsupported
from target.compiler.expressions import Val, const_val
from target.compiler.types import BitT, BoolT, P4Type

LOOP_STATEMENTS = ("for_statement", "for_in_statement", "break_statement", "continue_statement")
# A loop that compile-time values show never ends is refused after this many iterations.
_MAX_SIMULATED = 1 << 17
# A three-clause loop not shown to end at compile time drops its packet after this many
# iterations of one run of the loop: a packet must not hold a forwarding worker forever
# (loop-var-modifiable-in-body2 with dst[15:8] = 255 has i go 254, 255, 0, ...).
RUN_TIME_LIMIT = 1 << 16
# Loops inside actions are unrolled up to this many iterations.
MAX_UNROLLED = 1024


class LoopLowering:
    """Mixed into ProgramLowering: for statements of an apply block as graph nodes, and loops
    inside actions, functions and parser states unrolled."""

    # Provided by ProgramLowering / StatementLowering.
    scopes: list[dict[str, Val]]
    decls: Any
    json: Any
    out: list[dict[str, Any]]
    graph_tables: list[dict[str, Any]]
    conditionals: list[dict[str, Any]]

    def loop_node(self, s: Tree, nxt: str | None) -> str | None:
        """The entry node of a loop statement, `break` or `continue` (s.data in LOOP_STATEMENTS)."""
        targets: list[tuple[str | None, str]] = getattr(self, "loop_targets", [])
        self.loop_targets = targets
        if s.data in ("break_statement", "continue_statement"):
            if not targets:
                raise CompileError(f"{s.data.split('_')[0]} outside of a for loop", self.decls.loc(s))
            return targets[-1][0] if s.data == "break_statement" else targets[-1][1]
        self.scopes.append({})
        try:
            if s.data == "for_statement":
                return self.three_clause_loop(s, nxt)
            return self.for_in_loop(s, nxt)
        finally:
            self.scopes.pop()

    # ------------------------------------------------------------------ inside actions
    def unrolled_loop(self, s: Tree) -> bool:
        """A loop inside an action, function or parser state, where primitives run straight:
        unrolled, as p4c does, when its iterations are known at compile time (a range of
        constants, a list, a three-clause loop iterations() can count). Returns whether the
        statements always exit (an unconditional exit in the body)."""
        if s.data in ("break_statement", "continue_statement"):
            raise Unsupported(f"{s.data.split('_')[0]} in a loop inside an action, function or parser "
                              "state (loops there are unrolled)", self.decls.loc(s))
        if any(n.data in ("break_statement", "continue_statement") for n in s.children[-1].iter_subtrees()):
            raise Unsupported("break or continue in a loop inside an action, function or parser state "
                              "(loops there are unrolled)", self.decls.loc(s))
        self.scopes.append({})
        try:
            return self._unrolled(s)
        finally:
            self.scopes.pop()

    def _unrolled(self, s: Tree) -> bool:
        body = s.children[-1]
        copies: list[list[Tree]] = []     # per iteration: statements before the body
        pre: list[Tree] = []
        after: list[Tree] = []            # per iteration, after the body (a three-clause update)
        if s.data == "for_statement":
            pre, cond, after = self.three_clause_parts(s)
            count = self.iterations(s, pre, cond, after, body)
            if count is None:
                raise Unsupported("a for loop inside an action, function or parser state whose number "
                                  "of iterations is not known at compile time (it is unrolled)",
                                  self.decls.loc(s))
            copies = [[] for _ in range(count)]
        else:
            _ann, type_tree, name, _direction, collection, _ = s.children
            t = self.decls.resolve(type_tree)
            v_tree = _ident(name_of(name), s)
            if collection.data == "range":
                lo, hi = (self.expr(e, t).const for e in collection.children)
                if lo is None or hi is None:
                    raise Unsupported("a for-in range inside an action, function or parser state "
                                      "whose bounds are not compile-time constants (it is unrolled)",
                                      self.decls.loc(collection))
                copies = [[_assign(v_tree, _number(v, s), s)] for v in range(int(lo), int(hi) + 1)]
            else:
                temps, pre = self.list_elements(collection, t, s)
                copies = [[_assign(v_tree, tmp, s)] for tmp in temps]
            self.scopes[-1][name_of(name)] = self.local_value(t, name_of(name), s)
        if len(copies) > MAX_UNROLLED:
            raise Unsupported(f"a loop of {len(copies)} iterations inside an action, function or parser "
                              f"state (loops there are unrolled, up to {MAX_UNROLLED} iterations)",
                              self.decls.loc(s))
        for st in pre:
            self.statement(st)
        for first in copies:
            for st in first + [body] + after:
                if self.statement(st):
                    return True
        return False

    # ------------------------------------------------------------------ the three forms
    def three_clause_parts(self, s: Tree) -> tuple[list[Tree], Tree | None, list[Tree]]:
        """A three-clause loop's initialisers and updates as statements, and its condition;
        the variables it declares go into the innermost scope (the loop's own)."""
        inits, cond, updates, _body = s.children
        pre: list[Tree] = []
        for item in (inits.children if inits is not None else []):
            if item.data == "for_var":
                _ann, type_tree, name, value = item.children
                vname = name_of(name)
                pre.append(_assign(_ident(vname, item), value, item))
                self.scopes[-1][vname] = self.local_value(self.decls.resolve(type_tree), vname, item)
            else:
                pre.append(_simple(item))
        return pre, cond, [_simple(u) for u in (updates.children if updates is not None else [])]

    def three_clause_loop(self, s: Tree, nxt: str | None) -> str | None:
        body = s.children[-1]
        pre, cond, step = self.three_clause_parts(s)
        if self.iterations(s, pre, cond, step, body) is not None:
            return self.loop_graph(s, pre, cond, body, step, nxt)
        g = self.hidden(BitT(32), "for_iterations", s)
        pre.append(_assign(g, _number(0, s), s))
        step.append(_assign(g, _plus_one(g, s), s))
        return self.loop_graph(s, pre, cond, body, step, nxt, guard=g)

    def for_in_loop(self, s: Tree, nxt: str | None) -> str | None:
        _ann, type_tree, name, direction, collection, body = s.children
        if str(direction) != "in":
            raise self.error(f"expected 'in' in a for loop, found {str(direction)!r}", s)
        t = self.decls.resolve(type_tree)
        vname = name_of(name)
        v_tree = _ident(vname, s)
        if collection.data == "range":
            lo, hi = collection.children
            c, h, more = self.hidden(t, "for_index", s), self.hidden(t, "for_last", s), \
                self.hidden(BoolT(), "for_more", s)
            pre = [_assign(c, lo, s), _assign(h, hi, s),
                   _assign(more, _binop(c, "REL_OP", "<=", h, s), s)]
            step = [_assign(more, _binop(c, "EQ_OP", "!=", h, s), s),
                    _assign(c, _plus_one(c, s), s)]
            first = _assign(v_tree, c, s)
            self.scopes[-1][vname] = self.local_value(t, vname, s)
            return self.loop_graph(s, pre, more, Tree("block", [first, body], meta=s.meta), step, nxt)
        temps, pre = self.list_elements(collection, t, s)
        if not temps:
            return nxt
        k = self.hidden(BitT(32), "for_position", s)
        pre.append(_assign(k, _number(0, s), s))
        value = temps[-1]
        for i in range(len(temps) - 2, -1, -1):
            is_i = _binop(k, "EQ_OP", "==", _number(i, s), s)
            value = Tree("cond", [is_i, temps[i], value], meta=s.meta)
        cond = _binop(k, "REL_OP", "<", _number(len(temps), s), s)
        step = [_assign(k, _plus_one(k, s), s)]
        self.scopes[-1][vname] = self.local_value(t, vname, s)
        return self.loop_graph(s, pre, cond, Tree("block", [_assign(v_tree, value, s), body], meta=s.meta),
                               step, nxt)

    def list_elements(self, collection: Tree, t: P4Type, s: Tree) -> tuple[list[Tree], list[Tree]]:
        """A for-in list's elements, each in a variable of its own, and the assignments that
        evaluate them once, before the first iteration."""
        items = _list_items(collection)
        if items is None:
            raise Unsupported("for-in over something other than a range lo..hi or a list {...}",
                              self.decls.loc(collection))
        temps = [self.hidden(t, f"for_item{i}", s) for i in range(len(items))]
        return temps, [_assign(tmp, e, s) for tmp, e in zip(temps, items, strict=True)]

    def hidden(self, t: P4Type, hint: str, s: Tree) -> Tree:
        """A variable of the compiler's own (its scope name cannot be written in P4)."""
        key = f"${hint}{len(self.json.scalar_fields)}"
        self.scopes[-1][key] = self.local_value(t, hint, s)
        return _ident(key, s)

    # ------------------------------------------------------------------ the graph
    def loop_graph(self, s: Tree, pre: list[Tree], cond: Tree | None, body: Tree, step: list[Tree],
                   nxt: str | None, guard: Tree | None = None) -> str | None:
        """pre, then the head: cond ? (body, step, back to the head) : nxt. The graph is built
        back to front, so the body's last node goes to a placeholder that becomes the head's
        name once the head exists. With a guard (an iteration count that step increments),
        the RUN_TIME_LIMIT-th iteration drops the packet and leaves the control instead."""
        back = f"$loop{id(s)}"
        step_entry = self.build(step, back) if step else back
        self.loop_targets.append((nxt, step_entry))
        try:
            body_entry = self.build([body], step_entry)
        finally:
            self.loop_targets.pop()
        if guard is not None:
            self.out = []
            self.prim("mark_to_drop", [{"type": "header", "value": "standard_metadata"}], s)
            self.prim("exit", [], s)
            stop = self.hidden_table(self.out, None)
            limit = _binop(guard, "REL_OP", "<", _number(RUN_TIME_LIMIT, s), s)
            body_entry = self.conditional_node(limit, body_entry, stop)
        if cond is None:
            if body_entry == back:
                raise self.error("a for loop without a condition, body or update never ends", s)
            head = body_entry
        else:
            head = self.conditional_node(cond, body_entry, nxt)
        self.retarget(back, head)
        return self.build(pre, head) if pre else head

    def retarget(self, placeholder: str, name: str | None) -> None:
        for tj in self.graph_tables:
            if tj.get("base_default_next") == placeholder:
                tj["base_default_next"] = name
            nt = tj.get("next_tables", {})
            for k, v in nt.items():
                if v == placeholder:
                    nt[k] = name
        for c in self.conditionals:
            for k in ("true_next", "false_next"):
                if c.get(k) == placeholder:
                    c[k] = name

    # ------------------------------------------------------------------ endless loops
    def iterations(self, s: Tree, pre: list[Tree], cond: Tree | None, step: list[Tree],
                   body: Tree) -> int | None:
        """How many times the loop runs, when compile-time values show it. A loop of one variable that starts
        at a constant and whose condition and update use only it and constants (the body
        neither assigns it nor leaves the loop) is simulated: when its values come back round
        (p4-guide's loop-3-clause-tricky1: bit<3> i = 0, 2, 4, 6, 0, ...) it is refused, since
        a packet would never leave it."""
        if cond is None or len(pre) != 1 or len(step) != 1 or pre[0].data != "assignment" or \
                step[0].data != "assignment":
            return None
        target = pre[0].children[0]
        if target.data != "ident" or step[0].children[0] != target:
            return None
        vname = str(target.children[0])
        leaves = ("break_statement", "exit_statement", "return_statement")
        if any(n.data in leaves or (n.data == "assignment" and n.children[0] == target)
               for n in body.iter_subtrees()):
            return None
        saved = self.out
        try:
            self.out = []
            var = self.lookup(vname, target)
            if not isinstance(var.type, BitT):
                return None
            v = self.expr(pre[0].children[1], var.type)
            seen: list[int] = []
            seen_set: set[int] = set()
            again = None
            for _ in range(_MAX_SIMULATED):
                if v.const is None or self.out:
                    return None
                value = int(v.const)
                self.scopes.append({vname: const_val(value, var.type)})
                try:
                    c = self.expr(cond)
                    if c.const is None or self.out:
                        return None
                    if not c.const:
                        return len(seen)
                    if value in seen_set:
                        again = value
                        break
                    seen.append(value)
                    seen_set.add(value)
                    v = self.expr(step[0].children[1], var.type)
                finally:
                    self.scopes.pop()
        except CompileError:
            return None     # not a value the simulation can compute: the program's own errors come later
        finally:
            self.out = saved
        if again is None:
            return None
        shown = ", ".join(str(x) for x in seen[:8]) + (", ..." if len(seen) > 8 else "")
        raise self.error(f"this loop never ends: {vname} takes the values {shown} and then {again} again", s)


def _binop(a: Tree, kind: str, op: str, b: Tree, at: Tree) -> Tree:
    return Tree("binop", [a, Token(kind, op), b], meta=at.meta)


def _plus_one(x: Tree, at: Tree) -> Tree:
    return _binop(x, "ADD_OP", "+", _number(1, at), at)


def _ident(name: str, at: Tree) -> Tree:
    return Tree("ident", [Token("IDENT", name)], meta=at.meta)


def _number(value: int, at: Tree) -> Tree:
    return Tree("number", [Token("NUMBER", str(value))], meta=at.meta)


def _assign(target: Tree, value: Tree, at: Tree) -> Tree:
    return Tree("assignment", [target, value], meta=at.meta)


def _simple(item: Tree) -> Tree:
    """An init or update clause as the statement it is."""
    if item.data == "for_call":
        return Tree("call_statement", [item.children[0]], meta=item.meta)
    return Tree("assignment", list(item.children), meta=item.meta)


def _list_items(node: Tree) -> list[Any] | None:
    """The elements of `(list<T>) {a, b}` or `{a, b}`."""
    if node.data == "cast":
        node = node.children[1]
    if not isinstance(node, Tree) or node.data != "list_expr":
        return None
    return list(node.children[0].children) if node.children[0] is not None else []
