"""The v1model program: binds main's six blocks, lays out headers and metadata, and lowers the
parser, the controls (tables, actions, apply graphs), checksums and the deparser to BMv2 JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree

from target.compiler.bmv2 import Bmv2Json, expression, hexstr
from target.compiler.declarations import Declarations, name_of
from target.compiler.errors import CompileError, Unsupported
from target.compiler.expressions import Val, as_bool, as_data
from target.compiler.loops import LOOP_STATEMENTS, LoopLowering
from target.compiler.statements import HASH_ALGORITHMS, StatementLowering, _ident, _returns_as_assignments
from target.compiler.types import (
    BitT,
    BoolT,
    EnumT,
    ErrorT,
    ExternT,
    P4Type,
    StackT,
    StructLikeT,
    VarbitT,
    VoidT,
    bit_width,
)


@dataclass
class TableInfo:
    name: str
    node: Tree
    keys: list[tuple[str, str, int, dict]] = field(default_factory=list)  # (name, kind, width, json)
    actions: list[tuple[str, list[str]]] = field(default_factory=list)    # (qualified, annotations)
    default: tuple[str, list[int]] | None = None
    default_const: bool = False
    size: int = 1024
    direct_counter: str | None = None
    direct_meter: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)
    applied: bool = False
    profile: str | None = None                                  # implementation's name
    entries_mutable: bool = False                               # `entries` without const
    selector_inputs: list[dict] = field(default_factory=list)   # `selector` keys, in order
    key_prims: list[dict] = field(default_factory=list)         # computing expression keys
    error_keys: set[int] = field(default_factory=set)           # indices of error-typed keys
    action_ids: dict[str, int] = field(default_factory=dict)    # JSON ids of bound actions
    support_timeout: bool = False                               # entries may have idle timeouts


@dataclass
class ProfileInfo:
    """An action_profile or action_selector instance, and the tables it implements."""
    name: str
    size: int
    algo: str | None          # BMv2 hash algorithm name of a selector, None for a plain profile
    control: str = ""
    tables: list[str] = field(default_factory=list)
    inputs: list[dict] | None = None      # the selector's fields (its tables' `selector` keys)


@dataclass
class ActionInfo:
    name: str
    params: list[tuple[str, int]]
    json_id: int
    annotations: list[str] = field(default_factory=list)


@dataclass
class Lowered:
    """What the P4Info writer needs besides the JSON."""
    tables: list[TableInfo] = field(default_factory=list)
    actions: dict[str, ActionInfo] = field(default_factory=dict)
    counters: list[tuple[str, str, int, str | None]] = field(default_factory=list)  # name, unit, size, table
    registers: list[tuple[str, int, int]] = field(default_factory=list)
    meters: list[tuple[str, str, int]] = field(default_factory=list)
    direct_meters: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name: unit, table
    digests: list[StructLikeT] = field(default_factory=list)
    controller_headers: list[tuple[str, str, list[tuple[str, int]]]] = field(default_factory=list)
    # Serializable enums the control plane sees (controller header fields, keys, action
    # parameters): P4Info's type_info lists them, as p4c's does.
    serializable_enums: dict[str, EnumT] = field(default_factory=dict)
    profiles: dict[str, ProfileInfo] = field(default_factory=dict)
    called_actions: dict[str, ActionInfo] = field(default_factory=dict)   # called directly, not by a table
    # name, fields (name, width), size
    value_sets: list[tuple[str, list[tuple[str, int]], int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)      # the program's error members, in order


class ProgramLowering(LoopLowering, StatementLowering):
    def __init__(self, decls: Declarations, program_name: str) -> None:
        super().__init__(decls, Bmv2Json(program_name))
        self.lowered = Lowered()
        self.bound_actions: dict[tuple[str, tuple[str, ...]], ActionInfo] = {}
        self.action_depth = 0     # > 0 while lowering an action's body
        # Extern instances by qualified name: a control instance applied more than once (passed to
        # several constructors) declares its counters and registers once, and every apply uses them.
        self.declared_objects: dict[str, Val] = {}
        self.inlined_controls: set[str] = set()
        self.json.errors = [[e, i] for i, e in enumerate(decls.errors)]
        self.lowered.errors = list(decls.errors)

    # ------------------------------------------------------------------ layout
    def run(self) -> dict[str, Any]:
        main = self.decls.main
        if main is None:
            raise CompileError("no `main` package instantiation")
        ctor = main.children[1]
        if str(ctor.children[0]) != "V1Switch":
            raise Unsupported(f"architecture package {ctor.children[0]} (only V1Switch)",
                              self.decls.loc(ctor))
        blocks = [str(a.children[0]) for a in ctor.children[2].children]
        if len(blocks) != 6:
            raise self.error("V1Switch takes six blocks", ctor)
        parser, verify, ingress, egress, compute, deparser = blocks
        ptree = self.decls.parsers[parser]
        params = ptree.children[2].children
        htype = self.decls.resolve(params[1].children[2])
        mtype = self.decls.resolve(params[2].children[2])
        self.hdr = self.bind_headers(htype, "")
        self.meta = self.bind_metadata(mtype, mtype.name if isinstance(mtype, StructLikeT) else "meta")
        # p4c writes the @field_list lists before any other, numbered from 1 in the order their
        # indexes first appear on the metadata fields, named field_list<index>.
        for index, elements in self.preserved_fields.items():
            self.json.field_lists.append({"id": len(self.json.field_lists) + 1,
                                          "name": f"field_list{index}", "elements": elements})
        self.stdmeta = Val(self.decls.types["standard_metadata_t"], kind="header", ref="standard_metadata")
        self.collect_controller_headers(htype)
        self.global_instances()
        self.lower_parser(ptree)
        self.pipeline(self.decls.controls[ingress], "ingress")
        self.pipeline(self.decls.controls[egress], "egress")
        self.checksums(self.decls.controls[verify], verify=True)
        self.checksums(self.decls.controls[compute], verify=False)
        self.deparser(self.decls.controls[deparser])
        self.lowered.digests = self.digest_types
        self.direct_meter_arrays()
        # Actions only called directly are inlined where called; they get a JSON action too (as
        # in p4c's JSON) so that the P4Info that lists them matches the device config.
        for name, info in self.lowered.called_actions.items():
            if name not in self.lowered.actions:
                info.json_id = self.json.add_action(name, [], [])
        return self.json.document()

    def global_instances(self) -> None:
        """Top-level extern instances: one object each, named as declared (or by @name), with
        no control prefix, as p4c names them; every control that names one shares it."""
        self.scopes = [{}]
        self.control_name = ""
        for node in self.decls.instances:
            ctor = node.children[1]
            if str(ctor.children[0]) in self.decls.controls or str(ctor.children[0]) in self.decls.parsers:
                raise Unsupported("top-level instances of controls or parsers", self.decls.loc(node))
            self.instance(node, "")
        self.global_objects = self.scopes[0]
        self.scopes = []

    def bind_headers(self, t: Any, prefix: str) -> Val:
        if not isinstance(t, StructLikeT) or t.kind != "struct":
            raise self.error("the parser's headers parameter must be a struct", None)
        v = Val(t, kind="struct")
        for fname, ftype in t.fields:
            inst = f"{prefix}{fname}"
            if isinstance(ftype, StructLikeT) and ftype.kind == "header":
                self.json.add_header(inst, self.header_type(ftype))
                v.members[fname] = Val(ftype, kind="header", ref=inst)
            elif isinstance(ftype, StackT) and ftype.element.kind == "header_union":
                v.members[fname] = self.union_stack_value(ftype, inst)
            elif isinstance(ftype, StackT):
                self.json.add_stack(inst, self.header_type(ftype.element), ftype.size)
                v.members[fname] = Val(ftype, kind="stack", ref=inst)
            elif isinstance(ftype, StructLikeT) and ftype.kind == "struct":
                v.members[fname] = self.bind_headers(ftype, f"{inst}_")
            elif isinstance(ftype, StructLikeT) and ftype.kind == "header_union":
                v.members[fname] = self.union_value(ftype, inst)
            else:
                raise Unsupported(f"{ftype.describe()} in the headers struct", None)
        return v

    def bind_metadata(self, t: Any, prefix: str) -> Val:
        if not isinstance(t, StructLikeT):
            raise self.error("the metadata parameter must be a struct", None)
        v = Val(t, kind="struct")
        for fname, ftype in t.fields:
            path = f"{prefix}.{fname}"
            if isinstance(ftype, StructLikeT) and ftype.kind == "struct":
                v.members[fname] = self.bind_metadata(ftype, path)
            elif isinstance(ftype, StructLikeT) and ftype.kind == "header":
                self.json.add_header(path.replace(".", "_"), self.header_type(ftype))
                v.members[fname] = Val(ftype, kind="header", ref=path.replace(".", "_"))
            elif isinstance(ftype, (BitT, BoolT, EnumT, ErrorT)):
                ref = self.json.scalar(path, bit_width(ftype), isinstance(ftype, BitT) and ftype.signed)
                v.members[fname] = Val(ftype, {"type": "field", "value": ref},
                                       kind="field")
                for index_node in t.field_annotations.get(fname, {}).get("field_list", []):
                    index = self.decls.const_int(index_node)
                    self.preserved_fields.setdefault(index, []).append({"type": "field", "value": ref})
            else:
                raise Unsupported(f"{ftype.describe()} in metadata", None)
        return v

    def collect_controller_headers(self, htype: StructLikeT) -> None:
        for _fname, ftype in htype.fields:
            if isinstance(ftype, StructLikeT) and "controller_header" in ftype.annotations:
                args = ftype.annotations["controller_header"]
                kind = str(args[0].children[0])[1:-1]
                self.lowered.controller_headers.append(
                    (kind, ftype.name, [(n, bit_width(t)) for n, t in ftype.fields]))
                for _n, t in ftype.fields:
                    self.note_enum(t)

    def note_enum(self, t: Any) -> None:
        """Remember a serializable enum the control plane sees."""
        if isinstance(t, EnumT) and t.underlying is not None:
            self.lowered.serializable_enums.setdefault(t.name, t)

    def block_scope(self, decl: Tree, roles: list[str]) -> dict[str, Val]:
        params = decl.children[2].children if decl.children[2] is not None else []
        scope: dict[str, Val] = {}
        for p, role in zip(params, roles, strict=False):
            pname = name_of(p.children[3])
            scope[pname] = {"hdr": self.hdr, "meta": self.meta, "std": self.stdmeta,
                            "packet": Val(ExternT("packet"), kind="object", ref=("packet", pname))}[role]
        return scope

    # ------------------------------------------------------------------ parser
    def lower_parser(self, decl: Tree) -> None:
        self.parse_states: list[dict[str, Any]] = []
        self.parse_state_names: set[str] = set()
        self.scopes = [self.block_scope(decl, ["packet", "hdr", "meta", "std"])]
        self.inline_parser(decl, "", None)
        for sid, state in enumerate(self.parse_states):
            state["id"] = sid
        self.json.parsers.append({"name": "parser", "id": 0, "init_state": "start",
                                  "parse_states": self.parse_states})

    def state_name(self, wanted: str) -> str:
        name, n = wanted, 0
        while name in self.parse_state_names:
            n += 1
            name = f"{wanted}_{n}"
        self.parse_state_names.add(name)
        return name

    def inline_parser(self, decl: Tree, prefix: str, accept: str | None) -> str:
        """Lowers a parser's states (the top-level parser, or a sub-parser at one of its apply()
        calls, with its own copies of its locals); `accept` is the state its accept goes to.
        Returns the name of its start state."""
        pname = name_of(decl.children[1])
        states = [c for c in decl.children[4:] if isinstance(c, Tree) and c.data == "parser_state"]
        names = [name_of(s.children[1]) for s in states]
        if "start" not in names:
            raise self.error("parser has no start state", decl)
        # As p4c does for v1model: BMv2 has no reject state, so parsing ends as if accepted (the
        # packet goes to ingress; verify() is the way to record an error).
        state_map: dict[str, str | None] = {"accept": accept, "reject": None}
        for n in names:
            state_map[n] = self.state_name(f"{prefix}{n}")
        init_ops: list[dict[str, Any]] = []
        for c in decl.children[4:]:
            if not isinstance(c, Tree) or c.data == "parser_state":
                continue
            if c.data == "value_set_decl":
                self.value_set(c, pname)
            elif c.data in ("variable_decl", "const_decl"):
                init_ops.extend(self.parser_statement(c))
            elif c.data == "instantiation" and str(c.children[1].children[0]) in self.decls.parsers:
                iname = name_of(c.children[2])
                sub = self.decls.parsers[str(c.children[1].children[0])]
                self.scopes[-1][iname] = Val(ExternT("parser"), kind="object", ref=("parser", iname, sub))
            else:
                raise Unsupported(f"parser-local {c.data.replace('_', ' ')}", self.decls.loc(c))
        for state in states:
            current = state_map[name_of(state.children[1])]
            assert current is not None
            ops: list[dict[str, Any]] = init_ops if name_of(state.children[1]) == "start" else []
            for stmt in state.children[2:-1]:
                sub = self.subparser_call(stmt)
                if sub is None:
                    ops.extend(self.parser_statement(stmt))
                    continue
                following = self.state_name(f"{current}_after_{sub[0]}")
                ops.extend(sub[2])
                entry = self.call_subparser(sub[1], sub[3], f"{current}_{sub[0]}_", following)
                self.parse_states.append({"name": current, "id": 0, "parser_ops": ops, "transition_key": [],
                                          "transitions": [{"type": "default", "value": None, "mask": None,
                                                           "next_state": entry}]})
                current, ops = following, []
            key, transitions = self.transition(state.children[-1], state_map, ops)
            self.parse_states.append({"name": current, "id": 0, "parser_ops": ops, "transitions": transitions,
                                      "transition_key": key})
        return str(state_map["start"])

    def subparser_call(self, stmt: Tree) -> tuple[str, Tree, list[dict[str, Any]], dict[str, Val]] | None:
        """`p.apply(args);` of a parser instance: (instance name, its declaration, the operations
        that prepare the arguments, the sub-parser's parameter scope), else None."""
        if stmt.data != "call_statement":
            return None
        call = stmt.children[0]
        name = self.applied_name(call)
        if name is None:
            return None
        try:
            v = self.lookup(name, call)
        except CompileError:
            v = None
        if v is not None and v.kind == "object" and v.ref[0] == "parser":
            _, iname, sub = v.ref
        elif v is None and name in self.decls.parsers:
            iname, sub = name, self.decls.parsers[name]   # direct invocation: the type's name
        else:
            return None
        args = list(call.children[1].children) if call.children[1] is not None else []
        self.out = []
        scope = self.bind_block_params(sub, args, stmt)
        ops = []
        for p in self.out:
            ops.append({"op": "set", "parameters": p["parameters"]} if p["op"] == "assign"
                       else {"op": "primitive", "parameters": [p]})
        return iname, sub, ops, scope

    def bind_block_params(self, decl: Tree, args: list[Any], stmt: Tree) -> dict[str, Val]:
        """A parser's or control's parameters bound to the arguments of an apply() call: each
        names its argument (out headers start invalid, as the callee's copy would)."""
        params = decl.children[2].children if decl.children[2] is not None else []
        if len(params) != len(args):
            raise self.error(f"{name_of(decl.children[1])} takes {len(params)} arguments, got {len(args)}",
                             stmt)
        scope: dict[str, Val] = {}
        for p, a in zip(params, args, strict=True):
            t = self.decls.resolve(p.children[2])
            v = self.expr(a, None if isinstance(t, ExternT) else t)
            direction = str(p.children[1].children[0]) if p.children[1] is not None else ""
            if direction == "out":
                self.invalidate_headers(v, stmt)
            scope[name_of(p.children[3])] = v
        return scope

    def invalidate_headers(self, v: Val, stmt: Tree) -> None:
        if v.kind == "header":
            self.prim("remove_header", [{"type": "header", "value": v.ref}], stmt)
        elif v.kind == "struct":
            for m in v.members.values():
                self.invalidate_headers(m, stmt)

    def call_subparser(self, decl: Tree, scope: dict[str, Val], prefix: str, accept: str) -> str:
        saved = self.scopes
        self.scopes = [scope]
        try:
            return self.inline_parser(decl, prefix, accept)
        finally:
            self.scopes = saved

    def value_set(self, node: Tree, parser_name: str) -> None:
        """`value_set<T>(size) name;`: a BMv2 parse_vset the control plane fills (T is bit<W> or a
        struct of bit fields, matched exactly as one concatenated value)."""
        _ann, type_node, size_node, name_node = node.children
        t = self.decls.resolve(type_node)
        if isinstance(t, BitT):
            fields = [("", t.width)]
        elif isinstance(t, StructLikeT) and t.kind == "struct" and \
                all(isinstance(f, BitT) for _, f in t.fields):
            fields = [(n, bit_width(f)) for n, f in t.fields]
        else:
            raise Unsupported(f"value_set of {t.describe()}", self.decls.loc(node))
        qname = self.qualified(node, parser_name, name_index=3)
        size = self.decls.const_int(size_node)
        width = sum(w for _, w in fields)
        self.json.parse_vsets.append({"name": qname, "id": len(self.json.parse_vsets),
                                      "compressed_bitwidth": width, "max_size": size})
        self.lowered.value_sets.append((qname, fields, size))
        self.scopes[-1][name_of(name_node)] = Val(t, kind="object", ref=("value_set", qname, width))

    def discarded_lookahead(self, v: Val | None) -> list[dict[str, Any]]:
        if v is None:
            return []
        if v.kind == "struct":
            return [op for m in v.members.values() for op in self.discarded_lookahead(m)]
        tmp = {"type": "field", "value": self.json.scalar("tmp", bit_width(v.type))}
        return [{"op": "set", "parameters": [tmp, as_data(v)]}]

    def parser_statement(self, stmt: Tree) -> list[dict[str, Any]]:
        if stmt.data == "call_statement":
            call = stmt.children[0]
            callee = call.children[0]
            args = list(call.children[-1].children) if call.children[-1] is not None else []
            if callee.data == "member":
                base = self.expr(callee.children[0])
                method = name_of(callee.children[1])
                if base.kind == "object" and base.ref[0] == "packet":
                    if method == "extract":
                        return [self.extract(args, stmt)]
                    if method == "advance":
                        n = self.expr(args[0], BitT(32))
                        return [{"op": "advance", "parameters": [as_data(n)]}]
                    if method == "lookahead":
                        # Its value is unused, but BMv2 still reads it (as p4c's temporary shows).
                        return self.discarded_lookahead(self.call(call, stmt))
                    raise Unsupported(f"packet_in.{method} as a statement", self.decls.loc(stmt))
            if callee.data == "ident" and str(callee.children[0]) == "verify":
                cond = self.expr(args[0], BoolT())
                err = self.expr(args[1], ErrorT())
                return [{"op": "verify", "parameters": [as_bool(cond), as_data(err)]}]
        self.out = []
        self.statement(stmt)
        ops = []
        for p in self.out:
            if p["op"] == "assign":
                ops.append({"op": "set", "parameters": p["parameters"]})
            else:
                ops.append({"op": "primitive", "parameters": [p]})
        return ops

    def extract(self, args: list[Any], stmt: Tree) -> dict[str, Any]:
        if len(args) not in (1, 2):
            raise self.error("extract takes (header) or (header, bit<32> varbit size)", stmt)
        target = args[0]
        if target.data == "dont_care_arg":
            # extract<T>(_): the header is read into a temporary nobody looks at (skips its bits).
            call = stmt.children[0]
            if call.data != "generic_call" or len(args) != 1:
                raise self.error("extract(_) needs the header type: extract<T>(_)", stmt)
            tmp = self.local_value(self.decls.resolve(call.children[1].children[0]), "arg", stmt)
            if tmp.kind != "header":
                raise self.error("extract needs a header type", stmt)
            return {"op": "extract", "parameters": [{"type": "regular", "value": tmp.ref}]}
        if len(args) == 2:
            inner = target.children[0] if target.data == "member" else None
            if inner is not None and inner.data == "member" and name_of(inner.children[1]) == "next" \
                    and self.expr(inner.children[0]).kind == "union_stack":
                raise Unsupported("extract with a size into a member of a header union stack's next",
                                  self.decls.loc(stmt))
            if target.data == "member" and name_of(target.children[1]) == "next":
                v = self.expr(target.children[0])
                elem, where = getattr(v.type, "element", None), {"type": "stack", "value": v.ref}
            else:
                v = self.expr(target)
                elem, where = v.type, {"type": "regular", "value": v.ref}
            if v.kind not in ("header", "stack") or not isinstance(elem, StructLikeT) or \
                    not any(isinstance(f, VarbitT) for _, f in elem.fields):
                raise self.error("extract with a size needs a header with a varbit field", stmt)
            bits = self.expr(args[1], BitT(32))
            return {"op": "extract_VL", "parameters": [where, {"type": "expression", "value": as_data(bits)}]}
        if target.data == "member" and name_of(target.children[1]) == "next":
            stack = self.expr(target.children[0])
            if stack.kind == "stack":
                return {"op": "extract", "parameters": [{"type": "stack", "value": stack.ref}]}
        inner = target.children[0] if target.data == "member" else None
        if inner is not None and inner.data == "member" and name_of(inner.children[1]) == "next":
            ustack = self.expr(inner.children[0])
            if ustack.kind == "union_stack":
                # stack_of_unions.next.member: that member of the next union (the others invalid).
                member = name_of(target.children[1])
                element = ustack.type.element   # type: ignore[attr-defined]
                if element.field_type(member) is None:
                    raise self.error(f"{element.describe()} has no member {member}", target.children[1])
                where = {"type": "union_stack", "value": [ustack.ref, member]}
                return {"op": "extract", "parameters": [where]}
        v = self.expr(target)
        if v.kind != "header":
            raise self.error("extract needs a header", stmt)
        return {"op": "extract", "parameters": [{"type": "regular", "value": v.ref}]}

    def transition(self, node: Tree, state_map: dict[str, str | None], ops: list[dict]) -> tuple[list, list]:
        def target(n: Any) -> str | None:
            s = name_of(n)
            if s not in state_map:
                raise self.error(f"unknown parser state {s}", n)
            return state_map[s]

        if node.data == "goto":
            return [], [{"type": "default", "value": None, "mask": None,
                         "next_state": target(node.children[0])}]
        keys_node, *cases = node.children
        keys, widths = [], []
        for k in keys_node.children:
            v = self.expr(k)
            w = self.width_of(v, k)
            if v.kind == "field" or (v.json is not None and v.json["type"] in ("lookahead", "stack_field")):
                keys.append(v.json)
            else:
                tmp = {"type": "field", "value": self.json.scalar("select_key", w)}
                ops.append({"op": "set", "parameters": [tmp, as_data(v)]})
                keys.append(tmp)
            widths.append((w, v.type))
        transitions = []
        for case in cases:
            keyset, state = case.children
            parts = keyset.children if keyset.data == "tuple_keyset" else [keyset]
            if keyset.data in ("default_keyset", "dont_care_keyset"):
                parts = [keyset] * len(widths)      # a lone default matches every key
            # A value set matches all the keys at once (of a struct type, as many fields as keys):
            # BMv2 compares it with the keys' concatenation.
            vset = self.value_set_case(keyset)
            if vset is None and len(parts) != len(widths):
                raise self.error("select case has the wrong number of values", keyset)
            if vset is not None:
                if sum(w for w, _ in widths) != vset[2]:
                    raise Unsupported(f"value set {vset[1]} ({vset[2]} bits) as a case of this select "
                                      f"(its keys have {sum(w for w, _ in widths)} bits)",
                                      self.decls.loc(keyset))
                transitions.append({"type": "parse_vset", "value": vset[1], "mask": None,
                                    "next_state": target(state)})
                continue
            if all(p.data in ("default_keyset", "dont_care_keyset") for p in parts):
                transitions.append({"type": "default", "value": None, "mask": None,
                                    "next_state": target(state)})
                continue
            # Each component is a list of (value, mask) alternatives (a range is several prefixes);
            # the case is their cross product, in order.
            alternatives: list[list[tuple[int, int]]] = []
            masked = False
            for p, (w, t) in zip(parts, widths, strict=True):
                full = (1 << w) - 1
                if p.data in ("default_keyset", "dont_care_keyset"):
                    alternatives.append([(0, 0)])
                    masked = True
                elif p.data == "mask_keyset":
                    val, msk = (self.select_constant(c, t) for c in p.children)
                    alternatives.append([(val & msk, msk)])
                    masked = True
                elif p.data == "range_keyset":
                    lo, hi = (self.select_constant(c, t) for c in p.children)
                    alternatives.append(range_prefixes(lo & full, hi & full, w))
                    masked = True
                else:
                    alternatives.append([(self.select_constant(p, t) & full, full)])
            combos: list[tuple[int, int]] = [(0, 0)]
            for (w, _), alts in zip(widths, alternatives, strict=True):
                shift = 8 * ((w + 7) // 8)
                combos = [(v << shift | av, m << shift | am) for v, m in combos for av, am in alts]
                if len(combos) > self.MAX_SELECT_EXPANSION:
                    raise Unsupported(f"a select case that expands to more than {self.MAX_SELECT_EXPANSION} "
                                      "masked values", self.decls.loc(keyset))
            digits = 2 * sum((w + 7) // 8 for w, _ in widths)
            for value, mask in combos:
                transitions.append({"type": "hexstr", "value": f"0x{value:0{digits}x}",
                                    "mask": f"0x{mask:0{digits}x}" if masked else None,
                                    "next_state": target(state)})
        return keys, transitions

    MAX_SELECT_EXPANSION = 256

    def value_set_case(self, keyset: Tree) -> tuple | None:
        if keyset.data != "ident":
            return None
        for scope in reversed(self.scopes):
            v = scope.get(str(keyset.children[0]))
            if v is not None:
                return v.ref if v.kind == "object" and v.ref[0] == "value_set" else None
        return None

    def select_constant(self, node: Tree, t: Any) -> int:
        c = self.expr(node, t)
        if c.const is None:
            raise Unsupported("select case that is not a constant", self.decls.loc(node))
        return int(c.const)

    # ------------------------------------------------------------------ controls
    def control_locals(self, decl: Tree, cname: str) -> dict[str, TableInfo]:
        tables: dict[str, TableInfo] = {}
        self.actions = dict(self.decls.actions)
        self.local_functions = {}
        self.control_name = cname
        for local in decl.children[4:-1]:
            kind = local.data
            if kind == "action_decl":
                self.actions[name_of(local.children[1])] = local
            elif kind == "instantiation" and str(local.children[1].children[0]) in self.decls.controls:
                # Its tables are named after the instance's @name, as p4c names them.
                iname = self.decls.annotations(local.children[0]).string("name") or name_of(local.children[2])
                sub = self.decls.controls[str(local.children[1].children[0])]
                # Named where it is declared: a control passed to another's constructor and applied
                # there keeps its objects' names (p4-guide's instantiation/extern-ref-4.p4).
                self.scopes[-1][name_of(local.children[2])] = Val(
                    ExternT("control"), kind="object",
                    ref=("control", iname, sub, f"{cname}.{iname}", self.control_ctor_args(sub, local)))
            elif kind == "instantiation":
                self.instance(local, cname)
            elif kind == "table_decl":
                tables[name_of(local.children[1])] = TableInfo(self.qualified(local, cname), local)
                self.scopes[-1][name_of(local.children[1])] = Val(ExternT("table"), kind="object",
                                                                  ref=("table", name_of(local.children[1])))
            elif kind == "function_decl":
                self.local_functions[name_of(local.children[2])] = local
            elif kind in ("variable_decl", "const_decl"):
                # Initialisers run when the control starts, before its apply block (as in p4c).
                self.statement(local)
            else:
                raise Unsupported(f"control-local {kind.replace('_', ' ')}", self.decls.loc(local))
        return tables

    def control_ctor_args(self, sub: Tree, local: Tree) -> dict[str, Val]:
        """A control instance's constructor arguments bound to its constructor parameters
        (`ctrl1(my_leaf) c;` with `control ctrl1(...)(IdxUpdater iupd)`): other control
        instances, or compile-time values."""
        params = sub.children[3].children if sub.children[3] is not None else []
        ctor = local.children[1]
        args = list(ctor.children[2].children) if ctor.children[2] is not None else []
        if len(params) != len(args):
            raise self.error(f"{name_of(sub.children[1])} takes {len(params)} constructor arguments, "
                             f"got {len(args)}", local)
        bound: dict[str, Val] = {}
        for p, a in zip(params, args, strict=True):
            v = self.expr(a)
            if not (v.kind == "object" and v.ref[0] == "control") and v.const is None:
                raise Unsupported(f"constructor argument {self.text_of(a)} of a control (a control "
                                  "instance or a compile-time value is taken)", self.decls.loc(a))
            if v.const is not None:
                v = self.expr(a, self.decls.resolve(p.children[2]))
            bound[name_of(p.children[3])] = v
        return bound

    def qualified(self, node: Tree, cname: str, name_index: int = 1) -> str:
        """p4c's fully qualified name: Control.local, or what @name says (".x" is global)."""
        ann = self.decls.annotations(node.children[0])
        given = ann.string("name")
        if given is not None:
            if given.startswith("."):
                return given[1:]
            return f"{cname}.{given}" if cname else given
        name = name_of(node.children[name_index])
        return f"{cname}.{name}" if cname else name

    def instance(self, node: Tree, cname: str) -> None:
        ctor = node.children[1]
        ename = str(ctor.children[0])
        type_list = ctor.children[1].children if ctor.children[1] is not None else []
        type_args = tuple(self.decls.resolve(t) for t in type_list)
        args = list(ctor.children[2].children) if ctor.children[2] is not None else []
        iname = name_of(node.children[2])
        qname = self.qualified(node, cname, name_index=2)
        if qname in self.declared_objects:
            self.scopes[-1][iname] = self.declared_objects[qname]
            return
        self.decls.check_arity(self.decls.extern_methods(ename, ename), len(args), f"{ename}'s constructor",
                               node)
        if ename == "counter":
            size = self.decls.const_int(args[0])
            unit = self.enum_member(args[1], "CounterType")
            self.json.counters.append({"name": qname, "id": len(self.json.counters), "is_direct": False,
                                       "size": size})
            self.lowered.counters.append((qname, unit, size, None))
            kind = "counter"
        elif ename == "direct_counter":
            unit = self.enum_member(args[0], "CounterType")
            self.lowered.counters.append((qname, unit, 0, "?"))
            kind = "direct_counter"
        elif ename == "register":
            size = self.decls.const_int(args[0])
            if not isinstance(type_args[0], BitT):     # p4c's BMv2 back end refuses them too
                raise Unsupported(f"register of {type_args[0].describe()} (BMv2 registers hold "
                                  "bit<W> or int<W> values)", self.decls.loc(node))
            width = bit_width(type_args[0])
            self.json.registers.append({"name": qname, "id": len(self.json.registers), "size": size,
                                        "bitwidth": width})
            self.lowered.registers.append((qname, width, size))
            kind = "register"
        elif ename == "direct_meter":
            self.lowered.direct_meters[qname] = (self.enum_member(args[0], "MeterType"), None)
            kind = "direct_meter"
        elif ename in ("action_profile", "action_selector"):
            self.profile_instance(ename, args, qname, node)
            kind = "action_profile"
        elif ename == "meter":
            size = self.decls.const_int(args[0])
            unit = self.enum_member(args[1], "MeterType")
            self.json.meters.append({"name": qname, "id": len(self.json.meters), "is_direct": False,
                                     "size": size, "rate_count": 2, "type": unit})
            self.lowered.meters.append((qname, unit, size))
            kind = "meter"
        else:
            raise Unsupported(f"extern instance {ename}", self.decls.loc(node))
        self.scopes[-1][iname] = Val(ExternT(ename, type_args), kind="object", ref=(kind, qname))
        self.declared_objects[qname] = self.scopes[-1][iname]

    def direct_meter_arrays(self) -> None:
        """Direct meters go into meter_arrays once their tables and read() targets are known."""
        sizes = {t.name: t.size for t in self.lowered.tables}
        for name, (unit, table) in list(self.lowered.direct_meters.items()):
            if table is None and name not in self.direct_meter_targets:
                # Declared, never attached nor read (sai_p4's tor.p4 attaches its ACL meter only
                # in other instantiations): nothing to run or control, left out as p4c does.
                del self.lowered.direct_meters[name]
                continue
            if table is None:
                raise CompileError(f"direct meter {name} is not attached to a table (meters = ...)")
            mj: dict[str, Any] = {"name": name, "id": len(self.json.meters), "is_direct": True,
                                  "rate_count": 2, "type": unit, "size": sizes[table], "binding": table}
            mj["result_target"] = self.direct_meter_targets.get(name)
            self.json.meters.append(mj)

    def profile_instance(self, ename: str, args: list[Any], qname: str, node: Tree) -> ProfileInfo:
        if qname in self.lowered.profiles:
            raise self.error(f"two action profiles are named {qname}", node)
        if ename == "action_selector":
            if len(args) != 3:
                raise self.error("action_selector takes (algorithm, size, output width)", node)
            algo = HASH_ALGORITHMS[self.enum_member(args[0], "HashAlgorithm")]
            size = self.decls.const_int(args[1])
        else:
            if len(args) != 1:
                raise self.error("action_profile takes (size)", node)
            algo, size = None, self.decls.const_int(args[0])
        info = ProfileInfo(qname, size, algo, self.control_name)
        self.lowered.profiles[qname] = info
        return info

    def implementation(self, t: TableInfo, prop: Tree, value: Tree) -> None:
        """`implementation = name;` or an inline `action_selector(...)` / `action_profile(...)`.
        An inline one is named by the property's @name, else after its table (as p4c does)."""
        if value.data == "ctor_call":
            ename = str(value.children[0])
            if ename not in ("action_profile", "action_selector"):
                raise Unsupported(f"implementation = {ename}(...)", self.decls.loc(value))
            given = self.decls.annotations(prop.children[0]).string("name")
            name = given.lstrip(".") if given is not None else t.name
            args = list(value.children[2].children) if value.children[2] is not None else []
            t.profile = self.profile_instance(ename, args, name, value).name
            return
        v = self.expr(value)
        if v.kind != "object" or v.ref[0] != "action_profile":
            raise self.error("implementation must be an action_profile or action_selector", value)
        t.profile = v.ref[1]

    def counters_property(self, t: TableInfo, prop: Tree, value: Tree) -> str:
        """`counters = name;` or an inline `direct_counter(...)`, named (as p4c names it) by the
        property's @name as written, else after its table."""
        if value.data == "ctor_call":
            if str(value.children[0]) != "direct_counter":
                raise Unsupported(f"counters = {value.children[0]}(...)", self.decls.loc(value))
            args = list(value.children[2].children) if value.children[2] is not None else []
            if len(args) != 1:
                raise self.error("direct_counter takes (CounterType)", value)
            given = self.decls.annotations(prop.children[0]).string("name")
            name = given.lstrip(".") if given is not None else t.name
            self.lowered.counters.append((name, self.enum_member(args[0], "CounterType"), 0, "?"))
            return name
        c = self.expr(value)
        if c.kind != "object" or c.ref[0] != "direct_counter":
            raise self.error("counters must name a direct_counter", value)
        return c.ref[1]

    def selector_input(self, v: Val, node: Tree) -> dict[str, Any]:
        if v.kind != "field":
            raise Unsupported("selector keys that are not fields", self.decls.loc(node))
        return v.json    # type: ignore[return-value]

    def profile_table(self, t: TableInfo, tj: dict[str, Any]) -> None:
        """Turns a table's JSON into an indirect one over its profile (p4c writes no default
        entry for those: the default is the control plane's)."""
        if t.profile is None:
            if t.selector_inputs:
                raise self.error(f"table {t.name} has selector keys but no action_selector", t.node)
            return
        prof = self.lowered.profiles[t.profile]
        if not prof.control:
            # A top-level profile goes into the JSON pipeline of the first control using it.
            prof.control = self.control_name
        if prof.algo is None and t.selector_inputs:
            raise self.error(f"table {t.name} has selector keys but {prof.name} is an action_profile",
                             t.node)
        if prof.algo is not None and not t.selector_inputs:
            raise self.error(f"table {t.name} uses action_selector {prof.name} but has no selector keys",
                             t.node)
        if t.entries:
            raise Unsupported("const entries in a table with an implementation", self.decls.loc(t.node))
        if prof.inputs is None:
            prof.inputs = t.selector_inputs
        elif prof.inputs != t.selector_inputs:
            raise self.error(f"tables sharing {prof.name} must have the same selector keys", t.node)
        prof.tables.append(t.name)
        tj["type"] = "indirect_ws" if prof.algo is not None else "indirect"
        tj["action_profile"] = prof.name
        del tj["default_entry"]

    def profiles_json(self, cname: str) -> list[dict[str, Any]]:
        out = []
        for prof in self.lowered.profiles.values():
            if prof.control != cname and not prof.control.startswith(f"{cname}."):
                continue
            pj: dict[str, Any] = {"name": prof.name, "id": len(out), "max_size": prof.size}
            if prof.algo is not None:
                pj["selector"] = {"algo": prof.algo, "input": prof.inputs or []}
            out.append(pj)
        return out

    def inline_action(self, action: Tree, args: list[Any], stmt: Any) -> None:
        """A direct call; p4c lists such actions in the P4Info even when no table names them
        (without parameters: the call binds them all), but not those called only from other
        actions' bodies, which its front end inlines away."""
        if self.action_depth == 0:
            local = name_of(action.children[1]) not in self.decls.actions
            qname = self.qualified(action, self.control_name) \
                if local and getattr(self, "control_name", "") else name_of(action.children[1])
            self.lowered.called_actions.setdefault(
                qname, ActionInfo(qname, [], -1, self.decls.annotations(action.children[0]).texts))
        self.action_depth += 1
        try:
            super().inline_action(action, args, stmt)
        finally:
            self.action_depth -= 1

    def action_json(self, decl: Tree, cname: str | None, bound: list[Tree] | None = None) -> ActionInfo:
        """The JSON action of an action a table names. Directional parameters come first and
        take the arguments the table's action list gives (`bound`); as p4c does, each distinct
        binding is its own JSON action (same name), copying in and out around the body."""
        qname = self.action_qname(decl, cname)
        params = decl.children[2].children if decl.children[2] is not None else []
        ndir = sum(1 for p in params if p.children[1] is not None)
        if ndir and any(p.children[1] is not None for p in params[ndir:]):
            raise self.error("directional parameters must come before the others", decl)
        if not ndir and qname in self.lowered.actions:
            return self.lowered.actions[qname]
        if ndir:
            if bound is None or len(bound) < ndir:
                if bound is None and qname in self.lowered.actions:
                    return self.lowered.actions[qname]
                raise self.error(f"action {name_of(decl.children[1])} needs arguments for its "
                                 f"{ndir} directional parameters here", decl)
            key = (qname, tuple(repr(b) for b in bound[:ndir]))
            if key in self.bound_actions:
                return self.bound_actions[key]
        scope: dict[str, Val] = {}
        plist = []
        self.out = []
        copy_out: list = []
        if ndir:
            scope, copy_out = self.bind_params(params[:ndir], list(bound or [])[:ndir], decl,
                                               body=decl.children[3])
        for i, p in enumerate(params[ndir:]):
            t = self.decls.resolve(p.children[2])
            pname = name_of(p.children[3])
            plist.append((pname, bit_width(t)))
            self.note_enum(t)
            scope[pname] = Val(t, {"type": "runtime_data", "value": i})
        self.scopes.append(scope)
        self.copy_out_stack.append(copy_out)
        self.action_depth += 1
        saved_in_action, self.in_action = self.in_action, True
        try:
            self.statement(decl.children[3])
        finally:
            self.in_action = saved_in_action
            self.action_depth -= 1
            self.copy_out_stack.pop()
        self.scopes.pop()
        for arg, local in copy_out:
            self.store(arg, local, decl)
        ann = self.decls.annotations(decl.children[0])
        info = ActionInfo(qname, plist, self.json.add_action(qname, plist, self.out), ann.texts)
        if ndir:
            self.bound_actions[key] = info
            self.lowered.actions.setdefault(qname, info)
        else:
            self.lowered.actions[qname] = info
        return info

    def action_qname(self, decl: Tree, cname: str | None) -> str:
        local = cname and name_of(decl.children[1]) not in self.decls.actions
        return self.qualified(decl, cname) if local else name_of(decl.children[1])

    @staticmethod
    def table_action(t: TableInfo, info: ActionInfo) -> ActionInfo:
        """This table's JSON action of that name (its own binding of directional parameters)."""
        if t.action_ids.get(info.name, info.json_id) == info.json_id:
            return info
        return ActionInfo(info.name, info.params, t.action_ids[info.name], info.annotations)

    def action_args(self, info: ActionInfo, args: list[Tree]) -> list[Tree]:
        """The control-plane arguments of a call naming `info`: those after the directional ones."""
        return args[len(args) - len(info.params):] if len(args) > len(info.params) else args

    def table(self, t: TableInfo) -> dict[str, Any]:
        decl = t.node
        t.annotations = self.decls.annotations(decl.children[0]).texts
        default_node = None
        entries_node = None
        for prop in decl.children[2:]:
            if prop.data == "key_property":
                for ke in prop.children[1:]:
                    expr_node, kind_node, kann = ke.children
                    v = self.expr(expr_node)
                    kname = self.decls.annotations(kann).string("name") or self.text_of(expr_node)
                    kind = name_of(kind_node)
                    if kind == "selector":
                        t.selector_inputs.append(self.selector_input(v, expr_node))
                        continue
                    if kind not in ("exact", "lpm", "ternary", "range", "optional"):
                        raise Unsupported(f"match kind {kind}", self.decls.loc(kind_node))
                    width = self.width_of(v, expr_node)
                    if isinstance(v.type, ErrorT):
                        t.error_keys.add(len(t.keys))       # p4c gives error keys no bitwidth
                    self.note_enum(v.type)
                    t.keys.append((kname, kind, width, self.key_target(t, v, expr_node)))
            elif prop.data == "actions_property":
                for item in prop.children[1:]:
                    aann, ref = item.children
                    aname = name_of(ref.children[0])
                    if aname not in self.actions:
                        raise self.error(f"unknown action {aname}", ref)
                    bound = ref.children[1].children if ref.children[1] is not None else None
                    info = self.action_json(self.actions[aname], self.control_name, bound)
                    t.action_ids[info.name] = info.json_id
                    t.actions.append((info.name, self.decls.annotations(aann).texts))
            elif prop.data == "entries_property":
                # `entries` without const: initial entries the control plane may change.
                t.entries_mutable = prop.children[0] is None
                entries_node = prop
            elif prop.data == "simple_property":
                _ann, const, pname_node, value = prop.children
                pname = name_of(pname_node)
                if pname == "size":
                    t.size = self.decls.const_int(value)
                elif pname == "default_action":
                    default_node, t.default_const = value, const is not None
                elif pname == "counters":
                    t.direct_counter = self.counters_property(t, prop, value)
                elif pname == "meters":
                    mv = self.expr(value)
                    if mv.kind != "object" or mv.ref[0] != "direct_meter":
                        raise self.error("meters must name a direct_meter", value)
                    unit, bound = self.lowered.direct_meters[mv.ref[1]]
                    if bound is not None:
                        raise self.error(f"direct meter {mv.ref[1]} already belongs to table {bound}", value)
                    self.lowered.direct_meters[mv.ref[1]] = (unit, t.name)
                    t.direct_meter = mv.ref[1]
                elif pname == "implementation":
                    self.implementation(t, prop, value)
                elif pname == "support_timeout":
                    flag = self.expr(value)
                    if not isinstance(flag.type, BoolT) or flag.const is None:
                        raise self.error("support_timeout must be true or false", value)
                    t.support_timeout = bool(flag.const)
                else:
                    raise Unsupported(f"table property {pname}", self.decls.loc(prop))
        if default_node is None:
            if "NoAction" not in [a for a, _ in t.actions]:
                info = self.action_json(self.decls.actions["NoAction"], None)
                t.actions.append((info.name, ["@defaultonly"]))
            t.default = ("NoAction", [])
        else:
            callee = default_node.children[0] if default_node.data == "call" else default_node
            aname = name_of(callee.children[0]) if callee.data in ("ident", "global_ident") else None
            if aname is None or aname not in self.actions:
                raise self.error("default_action must name one of the table's actions", default_node)
            info = self.action_json(self.actions[aname], self.control_name)
            info = self.table_action(t, info)
            args = default_node.children[1].children if default_node.data == "call" and \
                default_node.children[1] is not None else []
            args = self.action_args(info, list(args))
            values = []
            for (pname, w), a in zip(info.params, args, strict=True):
                c = self.expr(a, BitT(w))
                if c.const is None:
                    raise self.error(f"default action argument {pname} must be a constant", a)
                values.append(int(c.const))
            t.default = (info.name, values)
        if entries_node is not None:
            t.entries = [self.const_entry(t, e, i) for i, e in enumerate(entries_node.children[2:])]
        if t.direct_counter is not None:
            self.lowered.counters = [(n, u, s, t.name if n == t.direct_counter else tb)
                                     for n, u, s, tb in self.lowered.counters]
            self.json.counters.append({"name": t.direct_counter, "id": len(self.json.counters),
                                       "is_direct": True, "binding": t.name})
        match_type = "exact"
        kinds = {k for _, k, _, _ in t.keys}
        for k in ("range", "ternary", "optional", "lpm"):
            if k in kinds:
                match_type = "ternary" if k == "optional" else k
                break
        action_ids = [t.action_ids.get(a, self.lowered.actions[a].json_id) for a, _ in t.actions]
        # Optional keys are ternary in BMv2 JSON (as p4c writes them; the P4Info says OPTIONAL).
        tj = {"name": t.name, "id": 0, "key": [{"match_type": "ternary" if k == "optional" else k, "name": n,
                                                 "target": j, "mask": None} for n, k, _, j in t.keys],
               # A const table holds exactly its entries (p4c sizes it so in the JSON).
               "match_type": match_type, "type": "simple",
               "max_size": len(t.entries) if t.entries and not t.entries_mutable else t.size,
               "with_counters": t.direct_counter is not None, "support_timeout": t.support_timeout,
               "direct_meters": t.direct_meter, "action_ids": action_ids,
               "actions": [a for a, _ in t.actions],
               "base_default_next": None, "next_tables": {},
               **({"entries": t.entries} if t.entries else {}),
               **({"entries_mutable": True} if t.entries and t.entries_mutable else {}),
               "default_entry": {"action_id": t.action_ids.get(t.default[0],
                                                               self.lowered.actions[t.default[0]].json_id),
                                 "action_const": t.default_const,
                                 "action_data": [hex(v) for v in t.default[1]],
                                 "action_entry_const": t.default_const}}
        self.profile_table(t, tj)
        return tj

    def const_entry(self, t: TableInfo, entry: Tree, index: int) -> dict[str, Any]:
        """One `const entries` item as BMv2 JSON; earlier entries win (priority index + 1)."""
        _ann, keyset, ref, after = entry.children
        sets = keyset.children if keyset.data == "tuple_keyset" else [keyset]
        if not t.keys and len(sets) == 1 and sets[0].data in ("dont_care_keyset", "default_keyset"):
            sets = []     # a keyless table's one entry matches every packet (`_: a;`)
        if len(sets) != len(t.keys):
            raise self.error(f"entry has {len(sets)} key values, table {t.name} has {len(t.keys)} keys",
                             keyset)
        match_key = [self.entry_key(kind, width, s)
                     for (_, kind, width, _), s in zip(t.keys, sets, strict=True)]
        aname = name_of(ref.children[0].children[0])
        if aname not in self.actions:
            raise self.error(f"unknown action {aname}", ref)
        info = self.action_json(self.actions[aname], self.control_name)
        if info.name not in [a for a, _ in t.actions]:
            raise self.error(f"action {aname} is not in table {t.name}'s actions", ref)
        info = self.table_action(t, info)
        args = self.action_args(info, ref.children[1].children if ref.children[1] is not None else [])
        if len(args) != len(info.params):
            raise self.error(f"{aname} takes {len(info.params)} arguments, the entry gives {len(args)}", ref)
        data = []
        for (pname, width), arg in zip(info.params, args, strict=True):
            c = self.expr(arg, BitT(width))
            if c.const is None:
                raise self.error(f"entry argument {pname} must be a constant", arg)
            data.append(_hex(int(c.const) & ((1 << width) - 1), width))
        # p4c's @priority(N) after the action (BMv2: the smallest number wins); else the position.
        priority = self.decls.annotations(after).integer("priority") if after is not None else None
        return {"match_key": match_key, "action_entry": {"action_id": info.json_id, "action_data": data},
                "priority": index + 1 if priority is None else priority}

    def entry_key(self, kind: str, width: int, node: Tree) -> dict[str, Any]:
        top = (1 << width) - 1
        wildcard = node.data in ("dont_care_keyset", "default_keyset")

        def constant(n: Tree) -> int:
            c = self.expr(n, BitT(width))
            if c.const is None:
                raise self.error("entry key values must be constants", n)
            return int(c.const) & top

        if kind == "range":
            if wildcard:
                return {"match_type": "range", "start": _hex(0, width), "end": _hex(top, width)}
            if node.data == "range_keyset":
                lo, hi = (constant(c) for c in node.children)
            else:
                lo = hi = constant(node)
            return {"match_type": "range", "start": _hex(lo, width), "end": _hex(hi, width)}
        if wildcard:
            if kind == "exact":
                raise self.error("an exact key needs a value", node)
            value, mask = 0, 0
        elif node.data == "mask_keyset":
            value, mask = constant(node.children[0]), constant(node.children[1])
        elif node.data == "range_keyset":
            raise self.error(f"a range for a {kind} key", node)
        else:
            value, mask = constant(node), top
        if kind == "exact":
            if mask != top:
                raise self.error("a mask for an exact key", node)
            return {"match_type": "exact", "key": _hex(value, width)}
        if kind == "lpm":
            length = bin(mask).count("1")
            if mask != (top ^ ((1 << (width - length)) - 1)):
                raise self.error("an lpm key's mask must be a prefix", node)
            return {"match_type": "lpm", "key": _hex(value & mask, width), "prefix_length": length}
        if kind == "optional":
            if mask not in (0, top):
                raise self.error("an optional key is a value or _", node)
            return {"match_type": "ternary", "key": _hex(value & mask, width), "mask": _hex(mask, width)}
        return {"match_type": "ternary", "key": _hex(value & mask, width), "mask": _hex(mask, width)}

    def text_of(self, node: Tree) -> str:
        """A key's name as p4c gives it: the expression as written."""
        if node.data == "member":
            return f"{self.text_of(node.children[0])}.{name_of(node.children[1])}"
        if node.data in ("ident", "global_ident"):
            return str(node.children[0])
        if node.data == "call" and node.children[1] is None and node.children[0].data == "member" and \
                name_of(node.children[0].children[1]) == "isValid":
            return f"{self.text_of(node.children[0].children[0])}.$valid$"    # as p4c names it
        if node.data == "slice":    # p4c prints a slice without the spaces it was written with
            base, hi, lo = node.children
            return f"{self.text_of(base)}[{self.text_of(hi).strip()}:{self.text_of(lo).strip()}]"
        meta = node.meta
        if getattr(meta, "empty", True):
            raise Unsupported("this key expression (name it with @name)", self.decls.loc(node))
        lines = self.decls.source.text.split("\n")[meta.line - 1:meta.end_line]
        if len(lines) == 1:
            return lines[0][meta.column - 1:meta.end_column - 1]
        lines[0], lines[-1] = lines[0][meta.column - 1:], lines[-1][:meta.end_column - 1]
        return " ".join(line.strip() for line in lines)

    def key_target(self, t: TableInfo, v: Val, node: Tree) -> Any:
        """The field a key matches: the field itself, a header's validity bit for isValid(), or
        (as p4c does for other expressions) a metadata field set just before the table."""
        if v.kind == "field":
            return v.json["value"]   # type: ignore[index]
        valid = v.json
        if isinstance(valid, dict) and valid.get("type") == "expression" and \
                valid["value"].get("op") == "d2b":
            inner = valid["value"]["right"]
            if inner.get("type") == "field" and inner["value"][1] == "$valid$":
                return inner["value"]
        if not isinstance(v.type, (BitT, BoolT, EnumT, ErrorT)):
            raise self.error(f"a table key of type {v.type.describe()}", node)
        ref = self.json.scalar("key", self.width_of(v, node))
        t.key_prims.append({"op": "assign", "parameters": [{"type": "field", "value": ref}, as_data(v)]})
        return ref

    def pipeline(self, decl: Tree, pname: str) -> None:
        cname = name_of(decl.children[1])
        self.scopes = [self.block_scope(decl, ["hdr", "meta", "std"])]
        self.out = []
        tables = self.control_locals(decl, cname)
        self.tables = tables
        self.table_json: dict[str, dict[str, Any]] = {}
        self.conditionals: list[dict[str, Any]] = []
        self.graph_tables: list[dict[str, Any]] = []
        local_inits, self.out = self.out, []
        self.return_target: str | None = None
        init = self.build(list(decl.children[-1].children), None)
        if local_inits:
            init = self.hidden_table(local_inits, init)
        for t in tables.values():
            if not t.applied:     # declared but not applied: still controllable, as in p4c
                self.graph_tables.append(self.table(t))
            self.lowered.tables.append(t)
        for i, tj in enumerate(self.graph_tables):
            tj["id"] = i
        loc = self.decls.loc(decl)
        self.json.pipelines.append({"name": pname, "id": len(self.json.pipelines), "init_table": init,
                                    "tables": self.graph_tables, "action_profiles": self.profiles_json(cname),
                                    "conditionals": self.conditionals,
                                    "source_info": {"filename": loc.file if loc else "",
                                                    "line": loc.line if loc else 0,
                                                    "column": 1, "source_fragment": cname}})

    # The apply block becomes a graph of table and condition nodes, built back to front: each
    # statement knows the node that follows it.
    def build(self, stmts: list[Tree], nxt: str | None) -> str | None:
        segments: list[list[Tree]] = []
        for s in self.declare_locals(stmts):
            if self.is_simple(s) and segments and self.is_simple(segments[-1][0]):
                segments[-1].append(s)
            else:
                segments.append([s])
        for seg in reversed(segments):
            nxt = self.node(seg, nxt)
        return nxt

    def declare_locals(self, stmts: list[Tree]) -> list[Tree]:
        """The graph is built back to front, so an apply block's variables are declared first,
        in order; an initialiser stays in place as an assignment."""
        out = []
        for s in stmts:
            if s.data == "variable_decl":
                _ann, type_tree, name, init = s.children
                vname = name_of(name)
                self.scopes[-1][vname] = self.local_value(self.decls.resolve(type_tree), vname, s)
                if init is not None:
                    target = Tree("ident", [Token("IDENT", vname)], meta=s.meta)
                    out.append(Tree("assignment", [target, init], meta=s.meta))
            elif s.data == "const_decl":
                self.statement(s)
            else:
                out.append(s)
        return [h for s in out for h in self.hoist_table_applies(s)]

    # `t.apply().hit` inside a larger expression: the table is applied by an if of its own
    # before the statement, setting a temporary that the expression reads (as p4c does); the
    # right operand of && and || is applied only when it is evaluated.
    def is_hit_apply(self, node: Any) -> bool:
        return isinstance(node, Tree) and node.data == "member" and \
            name_of(node.children[1]) in ("hit", "miss") and self.table_apply(node.children[0]) is not None

    def boolean_shaped(self, node: Any) -> bool:
        """Whether an expression is a bool by its form: hit/miss, true/false, !, &&, ||, a
        comparison, or ?: of such."""
        if not isinstance(node, Tree):
            return False
        if node.data in ("true", "false", "lor_op", "land_op", "not_op") or self.is_hit_apply(node):
            return True
        if node.data == "binop":
            return str(node.children[1]) in ("==", "!=", "<", ">", "<=", ">=")
        return node.data == "cond" and all(self.boolean_shaped(c) for c in node.children[1:])

    def has_hit_apply(self, node: Any) -> bool:
        return isinstance(node, Tree) and any(self.is_hit_apply(n) for n in node.iter_subtrees())

    def hoist_table_applies(self, s: Tree) -> list[Tree]:
        if s.data == "assignment" and self.has_hit_apply(s.children[1]):
            pre, e = self.hoisted(s.children[1], s)
            return pre + [Tree("assignment", [s.children[0], e], meta=s.meta)]
        if s.data == "if_statement" and self.has_hit_apply(s.children[0]):
            cond = s.children[0]
            while cond.data == "not_op":
                cond = cond.children[0]
            if self.is_hit_apply(cond):
                return [s]     # if_node branches on the table's hit/miss itself
            pre, e = self.hoisted(s.children[0], s)
            return pre + [Tree("if_statement", [e, *s.children[1:]], meta=s.meta)]
        if s.data == "switch_statement" and self.has_hit_apply(s.children[0]):
            # switch on a value computed from hit/miss (p4-guide's exit-2-bmv2)
            pre, e = self.hoisted(s.children[0], s)
            return pre + [Tree("switch_statement", [e, *s.children[1:]], meta=s.meta)]
        return [s]

    def hoisted(self, node: Tree, s: Tree) -> tuple[list[Tree], Tree]:
        if not self.has_hit_apply(node):
            return [], node
        m = s.meta

        def assign(name: str, value: Tree) -> Tree:
            return Tree("assignment", [Tree("ident", [Token("IDENT", name)], meta=m), value], meta=m)

        def block(*stmts: Tree) -> Tree:
            return Tree("block", list(stmts), meta=m)

        def temp() -> str:
            name = f"tmp_hit_{len(self.json.scalar_fields)}"
            self.scopes[-1][name] = self.local_value(BoolT(), name, s)
            return name

        def ident(name: str) -> Tree:
            return Tree("ident", [Token("IDENT", name)], meta=m)

        true, false = Tree("true", [], meta=m), Tree("false", [], meta=m)
        if self.is_hit_apply(node):
            tmp = temp()
            return [Tree("if_statement", [node, block(assign(tmp, true)), block(assign(tmp, false))],
                         meta=m)], ident(tmp)
        if node.data in ("lor_op", "land_op"):
            a, b = node.children
            pa, ea = self.hoisted(a, s)
            if not self.has_hit_apply(b):
                return pa, Tree(node.data, [ea, b], meta=node.meta)
            pb, eb = self.hoisted(b, s)
            tmp = temp()
            right = block(*pb, assign(tmp, eb))
            if node.data == "lor_op":
                return pa + [Tree("if_statement", [ea, block(assign(tmp, true)), right], meta=m)], ident(tmp)
            return pa + [Tree("if_statement", [ea, right, block(assign(tmp, false))], meta=m)], ident(tmp)
        if node.data == "cond" and any(self.has_hit_apply(c) for c in node.children[1:]):
            cond, yes, no = node.children
            if not self.has_hit_apply(cond):
                c = self.expr(cond, BoolT())
                if c.const is not None:
                    return self.hoisted(yes if c.const else no, s)
            if not (self.boolean_shaped(yes) and self.boolean_shaped(no)):
                raise Unsupported("table apply() in a branch of ?: whose value is not a bool",
                                  self.decls.loc(node))
            # c ? x : y with a run-time c: an if of its own applies only the taken branch's tables.
            pc, ec = self.hoisted(cond, s)
            px, ex = self.hoisted(yes, s)
            py, ey = self.hoisted(no, s)
            tmp = temp()
            return pc + [Tree("if_statement", [ec, block(*px, assign(tmp, ex)), block(*py, assign(tmp, ey))],
                              meta=m)], ident(tmp)
        pre: list[Tree] = []
        children = []
        kids = list(node.children)
        for i, c in enumerate(kids):
            if isinstance(c, Tree):
                if not self.has_hit_apply(c) and _has_call(c) and \
                        any(self.has_hit_apply(k) for k in kids[i + 1:]):
                    # P4_16 evaluates operands left to right: a call before a table apply in
                    # the same expression runs (with its effects) before the table does.
                    t = self.value_type(c)
                    if not isinstance(t, (BitT, BoolT)):
                        raise Unsupported(f"a call of {t.describe()} value before a table apply() "
                                          "in one expression", self.decls.loc(c))
                    name = f"tmp_call_{len(self.json.scalar_fields)}"
                    self.scopes[-1][name] = self.local_value(t, name, s)
                    pre.append(assign(name, c))
                    c = ident(name)
                pc, c = self.hoisted(c, s)
                pre += pc
            children.append(c)
        return pre, Tree(node.data, children, meta=node.meta)

    def value_type(self, node: Tree) -> P4Type:
        """The type of an expression, found by lowering it into code that is thrown away."""
        saved_out, saved_effects = self.out, self.effects_allowed
        self.out, self.effects_allowed = [], True
        try:
            return self.expr(node).type
        finally:
            self.out, self.effects_allowed = saved_out, saved_effects

    def is_simple(self, s: Tree) -> bool:
        if s.data in ("if_statement", "switch_statement", "return_statement", "block") or \
                s.data in LOOP_STATEMENTS:
            return False
        if self.branching_function_call(s) is not None:
            return False
        return not (s.data == "call_statement" and (self.table_apply(s.children[0]) is not None or
                                                    self.control_apply(s.children[0]) is not None))

    @staticmethod
    def applied_name(call: Any) -> str | None:
        """The name X of a call `X.apply(...)`; the lexer makes X a type name (type_member)
        when X is a control or parser type, which is a direct invocation."""
        if not (isinstance(call, Tree) and call.data == "call"
                and call.children[0].data in ("member", "type_member")
                and name_of(call.children[0].children[1]) == "apply"):
            return None
        base = call.children[0].children[0]
        if not isinstance(base, Tree):
            return str(base)
        return str(base.children[0]) if base.data == "ident" else None

    def control_apply(self, node: Any) -> tuple[str, Tree, str | None, dict[str, Val]] | None:
        """(instance name, declaration) when `node` applies a control: an instance's
        `c.apply(...)`, or a control type's `C.apply(...)` (direct invocation)."""
        name = self.applied_name(node)
        if name is None or name in self.tables:
            return None
        for scope in reversed(self.scopes):
            if name in scope:
                v = scope[name]
                if v.kind == "object" and v.ref[0] == "control":
                    return v.ref[1], v.ref[2], v.ref[3], v.ref[4]
                return None
        if name in self.decls.controls:
            return name, self.decls.controls[name], None, {}
        return None

    def inline_control(self, iname: str, decl: Tree, call: Tree, stmt: Tree, nxt: str | None,
                       qname: str | None = None, ctor: dict[str, Val] | None = None) -> str | None:
        """A control applied from another: its tables and actions are named Caller.instance.x (as
        p4c names them; qname when the instance was declared elsewhere) and its apply block is
        built in place, parameters naming the arguments and constructor parameters theirs."""
        args = list(call.children[1].children) if call.children[1] is not None else []
        self.out = []
        scope = dict(ctor or {})
        scope.update(self.bind_block_params(decl, args, stmt))
        arg_prims = self.out
        saved = (self.scopes, self.tables, self.actions, self.local_functions, self.control_name,
                 self.return_target)
        cname = qname or f"{self.control_name}.{iname}"
        if any(t.name.startswith(f"{cname}.") for t in self.lowered.tables):
            if self.decls.controls.get(iname) is decl:
                # P4_16 §14.1: each direct invocation is an instance named as the type.
                raise self.error(f"{iname} is invoked directly more than once here: its tables "
                                 f"would share the control-plane name {cname}", stmt)
            raise Unsupported(f"applying control instance {cname} twice", self.decls.loc(stmt))
        if qname is None and cname in self.inlined_controls and \
                any(local.data == "instantiation" for local in decl.children[4:-1]):
            raise self.error(f"{iname} is invoked directly more than once here: its extern instances "
                             f"would share the control-plane names {cname}.*", stmt)
        self.inlined_controls.add(cname)
        try:
            self.scopes = [scope]
            self.out = []
            tables = self.control_locals(decl, cname)
            local_inits, self.out = self.out, []
            self.tables, self.return_target = tables, nxt
            entry = self.build(list(decl.children[-1].children), nxt)
            for t in tables.values():
                if not t.applied:
                    self.graph_tables.append(self.table(t))
                self.lowered.tables.append(t)
        finally:
            (self.scopes, self.tables, self.actions, self.local_functions, self.control_name,
             self.return_target) = saved
        if arg_prims or local_inits:
            entry = self.hidden_table(arg_prims + local_inits, entry)
        return entry

    def table_apply(self, node: Any) -> TableInfo | None:
        if isinstance(node, Tree) and node.data == "call" and node.children[0].data == "member" \
                and name_of(node.children[0].children[1]) == "apply":
            base = node.children[0].children[0]
            if base.data == "ident" and str(base.children[0]) in self.tables:
                if node.children[1] is not None:
                    raise self.error("a table's apply() takes no arguments", node.children[1])
                return self.tables[str(base.children[0])]
        return None

    def applied_table(self, t: TableInfo, next_tables: dict[str, str | None], default: str | None) -> str:
        if t.applied:
            raise Unsupported(f"applying table {t.name} twice", self.decls.loc(t.node))
        t.applied = True
        tj = self.table(t)
        tj["next_tables"] = next_tables or {a: default for a in tj["actions"]}
        tj["base_default_next"] = default
        self.graph_tables.append(tj)
        if t.key_prims:
            return self.hidden_table(t.key_prims, t.name)
        return t.name

    def node(self, seg: list[Tree], nxt: str | None) -> str | None:
        s = seg[0]
        if s.data == "block":
            return self.build(list(s.children), nxt)
        if s.data == "return_statement":
            return self.return_target
        if s.data == "call_statement":
            t = self.table_apply(s.children[0])
            if t is not None:
                return self.applied_table(t, {}, nxt)
            invoked = self.control_apply(s.children[0])
            if invoked is not None:
                return self.inline_control(invoked[0], invoked[1], s.children[0], s, nxt,
                                           invoked[2], invoked[3])
        if s.data == "if_statement":
            return self.if_node(s, nxt)
        if s.data == "switch_statement":
            return self.switch_node(s, nxt)
        if s.data in LOOP_STATEMENTS:
            return self.loop_node(s, nxt)
        called = self.branching_function_call(s)
        if called is not None:
            return self.function_node(s, *called, nxt)
        self.out = []
        self.scopes.append({})
        for st in seg:
            self.statement(st)
        self.scopes.pop()
        return self.hidden_table(self.out, nxt)

    def branching_function_call(self, s: Tree) -> tuple[Tree, list[Tree]] | None:
        """(declaration, arguments) when s calls, from an apply block, a function with an extern
        or method call under an if (`f(x);` or `y = f(x);`). BMv2 actions are straight-line code,
        so such a body cannot be one predicated action: it is inlined into the control's graph
        (as p4c inlines functions before lowering), its ifs becoming conditions."""
        call = s.children[0] if s.data == "call_statement" else \
            s.children[1] if s.data == "assignment" else None
        if not (isinstance(call, Tree) and call.data == "call" and call.children[0].data == "ident"):
            return None
        fname = str(call.children[0].children[0])
        if fname in self.actions:
            return None
        decl = self.local_functions.get(fname) or self.decls.functions.get(fname)
        if decl is None:
            return None
        ifs = [n for n in decl.children[4].iter_subtrees() if n.data == "if_statement"]
        if not any(c.data == "call_statement" for n in ifs for c in n.iter_subtrees()):
            return None
        return decl, list(call.children[1].children) if call.children[1] is not None else []

    def function_node(self, s: Tree, decl: Tree, args: list[Tree], nxt: str | None) -> str | None:
        """A function inlined as graph nodes: a hidden table copies the arguments in, the body is
        built in place (returns as assignments to a result and a flag guarding what follows),
        and a hidden table copies out and assigns the result."""
        fname, params, ret_t, body = self.function_signature(decl, args, s)
        self.out = []
        scope, copy_out = self.bind_params(params, args, s, function=True, body=body)
        result = None if isinstance(ret_t, VoidT) else self.local_value(ret_t, f"{fname}_retval", decl)
        done = self.local_value(BoolT(), f"{fname}_returned", decl)
        self.store(done, Val(BoolT(), {"type": "bool", "value": False}, const=False), s)
        head = self.out
        # The tail: copy-out, then the caller's assignment of the result.
        self.out = []
        for arg, local in copy_out:
            self.store(arg, local, s)
        if s.data == "assignment":
            if result is None:
                raise self.error(f"function {fname} returns no value", s)
            self.scopes.append({"$retval": result})
            self.statement(Tree("assignment", [s.children[0], _ident("$retval", s.meta)], meta=s.meta))
            self.scopes.pop()
        after = self.hidden_table(self.out, nxt) if self.out else nxt
        scope["$retval"], scope["$returned"] = (result or done), done
        self.scopes.append(scope)
        try:
            entry = self.build(_returns_as_assignments(list(body.children)), after)
        finally:
            self.scopes.pop()
        return self.hidden_table(head, entry)

    def hidden_table(self, prims: list[dict[str, Any]], nxt: str | None) -> str:
        """A keyless table whose one action runs `prims`, then goes to `nxt` (as p4c's tbl_act)."""
        name = f"act_{len(self.json.actions)}"
        aid = self.json.add_action(name, [], prims)
        tname = f"tbl_{name}"
        self.graph_tables.append({
            "name": tname, "id": 0, "key": [], "match_type": "exact", "type": "simple", "max_size": 1024,
            "with_counters": False, "support_timeout": False, "direct_meters": None,
            "action_ids": [aid], "actions": [name], "base_default_next": nxt, "next_tables": {name: nxt},
            "default_entry": {"action_id": aid, "action_const": True, "action_data": [],
                              "action_entry_const": True}})
        return tname

    def if_node(self, s: Tree, nxt: str | None) -> str | None:
        cond, then, other = s.children
        then_entry = self.build([then], nxt)
        else_entry = self.build([other], nxt) if other is not None else nxt
        if _applies_table(cond):
            return self.split_condition(cond, then_entry, else_entry, nxt)
        negated = False
        c = cond
        while c.data == "not_op":
            negated, c = not negated, c.children[0]
        if c.data == "member" and name_of(c.children[1]) in ("hit", "miss"):
            if negated:
                then_entry, else_entry = else_entry, then_entry
            return self.hit_miss_node(c, then_entry, else_entry, nxt)
        return self.conditional_node(cond, then_entry, else_entry)

    def hit_miss_node(self, c: Tree, then_entry: str | None, else_entry: str | None,
                      nxt: str | None) -> str | None:
        """`t.apply().hit` (or `.miss`) as a condition: the table itself, its hit and miss
        branches going to then_entry or else_entry."""
        t = self.table_apply(c.children[0])
        if t is None:
            raise Unsupported("hit/miss of something other than a table's apply()", self.decls.loc(c))
        hit, miss = (then_entry, else_entry) if name_of(c.children[1]) == "hit" \
            else (else_entry, then_entry)
        return self.applied_table(t, {"__HIT__": hit, "__MISS__": miss}, nxt)

    def conditional_node(self, cond: Tree, then_entry: str | None, else_entry: str | None) -> str:
        """A conditional node on `cond`. A condition calling a function with statements (or an
        extern with effects) runs them in a keyless table just before the condition, as p4c's
        temporaries do."""
        self.out = []
        saved, self.effects_allowed = self.effects_allowed, True
        try:
            v = self.expr(cond, BoolT())
        finally:
            self.effects_allowed = saved
        prims, self.out = self.out, []
        name = self.json.node_name()
        self.conditionals.append({"name": name, "id": len(self.conditionals), "expression": as_bool(v),
                                  "true_next": then_entry, "false_next": else_entry})
        return self.hidden_table(prims, name) if prims else name

    def split_condition(self, c: Tree, then_entry: str | None, else_entry: str | None,
                        nxt: str | None) -> str | None:
        """A condition that applies tables (`a && t.apply().hit`) as nested graph nodes: each
        operand of && and || is its own conditional or table node, so a table is applied only
        when P4's short-circuit order reaches it."""
        if c.data == "not_op":
            return self.split_condition(c.children[0], else_entry, then_entry, nxt)
        if c.data == "land_op":
            right = self.split_condition(c.children[1], then_entry, else_entry, nxt)
            return self.split_condition(c.children[0], right, else_entry, nxt)
        if c.data == "lor_op":
            right = self.split_condition(c.children[1], then_entry, else_entry, nxt)
            return self.split_condition(c.children[0], then_entry, right, nxt)
        if c.data == "member" and name_of(c.children[1]) in ("hit", "miss"):
            return self.hit_miss_node(c, then_entry, else_entry, nxt)
        return self.conditional_node(c, then_entry, else_entry)

    def switch_node(self, s: Tree, nxt: str | None) -> str | None:
        subject, *cases = s.children
        if not (subject.data == "member" and name_of(subject.children[1]) == "action_run"):
            return self.value_switch(s, nxt)
        t = self.table_apply(subject.children[0])
        if t is None:
            raise self.error("switch needs a table's apply().action_run", subject)
        labels: dict[str, str | None] = {}
        pending: list[str] = []
        default_entry = nxt
        for case in cases:
            label, body = case.children
            lname = "default" if label.data == "default_label" else name_of(label.children[0])
            pending.append(lname)
            if body is None:
                continue
            entry = self.build([body], nxt)
            for lab in pending:
                if lab == "default":
                    default_entry = entry
                else:
                    if lab not in self.actions:
                        raise self.error(f"unknown action {lab} in switch", label)
                    labels[self.action_qname(self.actions[lab], self.control_name)] = entry
            pending = []
        tj_next: dict[str, str | None] = {}
        name = self.applied_table(t, {"__placeholder__": None}, nxt)
        tj = next(g for g in self.graph_tables if g["name"] == t.name)
        for a in tj["actions"]:
            tj_next[a] = labels.get(a, default_entry)
        tj["next_tables"] = tj_next
        return name

    def value_switch(self, s: Tree, nxt: str | None) -> str | None:
        """switch on a bit<W>/enum value: a chain of conditions, one per case (labels that share
        a body are one condition), the default case last."""
        subject, *cases = s.children
        v = self.expr(subject)
        if not isinstance(v.type, (BitT, EnumT, ErrorT)):
            raise self.error(f"switch on {v.type.describe()}", subject)
        groups: list[tuple[list[Tree | None], Tree]] = []
        pending: list[Tree | None] = []
        for case in cases:
            label, body = case.children
            pending.append(None if label.data == "default_label" else label.children[0])
            if body is not None:
                groups.append((pending, body))
                pending = []
        default_body = next((body for labels, body in groups if None in labels), None)
        entry = self.build([default_body], nxt) if default_body is not None else nxt
        for labels, body in reversed(groups):
            if None in labels:
                continue
            then_entry = self.build([body], nxt)
            cond: dict[str, Any] | None = None
            for label in labels:
                lv = self.convert(self.expr(label, v.type), v.type, label)
                eq = expression("==", as_data(v), as_data(lv))
                cond = eq if cond is None else expression("or", cond, eq)
            name = self.json.node_name()
            self.conditionals.append({"name": name, "id": len(self.conditionals), "expression": cond,
                                      "true_next": then_entry, "false_next": entry})
            entry = name
        return entry

    # ------------------------------------------------------------------ checksums and deparser
    def checksums(self, decl: Tree, verify: bool) -> None:
        self.scopes = [self.block_scope(decl, ["hdr", "meta"])]
        for stmt in decl.children[-1].children:
            if stmt.data != "call_statement" or stmt.children[0].children[0].data != "ident":
                raise Unsupported("statements other than checksum calls in a checksum control",
                                  self.decls.loc(stmt))
            fname = str(stmt.children[0].children[0].children[0])
            args = stmt.children[0].children[-1].children
            expected = ("verify_checksum", "verify_checksum_with_payload") if verify else \
                ("update_checksum", "update_checksum_with_payload")
            if fname not in expected:
                raise Unsupported(f"{fname} in this control", self.decls.loc(stmt))
            cond = self.expr(args[0], BoolT())
            data = self.field_list(args[1])
            if fname.endswith("with_payload"):
                data.append({"type": "payload", "value": None})
            target = self.expr(args[2])
            algo = self.enum_member(args[3], "HashAlgorithm")
            calc = self.json.add_calculation(HASH_ALGORITHMS[algo], data)
            number = len(self.json.checksums)
            self.json.checksums.append({"name": f"cksum_{number}", "id": number,
                                        "target": target.json["value"], "type": "generic",  # type: ignore
                                        "calculation": calc, "verify": verify, "update": not verify,
                                        "if_cond": as_bool(cond)})

    def deparser(self, decl: Tree) -> None:
        self.scopes = [self.block_scope(decl, ["packet", "hdr"])]
        order: list[str] = []

        def walk(stmts: list[Tree]) -> None:
            for stmt in stmts:
                if stmt.data == "block":
                    walk(list(stmt.children))
                    continue
                if stmt.data != "call_statement":
                    raise Unsupported("statements other than emit in the deparser", self.decls.loc(stmt))
                args = stmt.children[0].children[-1].children
                v = self.expr(args[0])
                if v.kind not in ("header", "stack", "struct", "union", "union_stack"):
                    raise self.error("emit needs a header", stmt)
                emit(v, stmt)

        def emit(v: Val, stmt: Tree) -> None:
            if v.kind == "header":
                order.append(v.ref)
            elif v.kind == "stack":
                order.extend(f"{v.ref}[{i}]" for i in range(v.type.size))  # type: ignore[attr-defined]
            elif v.kind in ("struct", "union", "union_stack"):
                for m in v.members.values():     # a struct's headers, stacks and structs, in order
                    emit(m, stmt)
            elif v.kind != "field":
                raise self.error("emit needs a header", stmt)

        walk(list(decl.children[-1].children))
        self.json.deparsers.append({"name": "deparser", "id": 0, "order": order, "primitives": []})


def range_prefixes(lo: int, hi: int, width: int) -> list[tuple[int, int]]:
    """lo..hi (inclusive) as the fewest (value, mask) prefixes, in increasing order; empty if lo > hi."""
    full = (1 << width) - 1
    out = []
    while lo <= hi:
        size = lo & -lo if lo else 1 << width      # the largest aligned block starting at lo
        while lo + size - 1 > hi:
            size >>= 1
        out.append((lo, full & ~(size - 1)))
        lo += size
    return out


def hex_value(v: Val) -> str:
    return hexstr(int(v.const or 0))["value"]


_ = as_data


def _hex(value: int, width: int) -> str:
    """A BMv2 JSON byte string: hex, zero-padded to whole bytes (as p4c writes it)."""
    return f"0x{value:0{2 * ((width + 7) // 8)}x}"


def _applies_table(cond: Tree) -> bool:
    """Whether a condition combines a table's apply().hit/miss with other operands (&&, ||)."""
    if cond.data not in ("land_op", "lor_op", "not_op"):
        return False
    return any(n.data in ("land_op", "lor_op") for n in cond.iter_subtrees()) and any(
        n.data == "member" and name_of(n.children[1]) in ("hit", "miss") for n in cond.iter_subtrees())


def _has_call(node: Tree) -> bool:
    return any(n.data in ("call", "generic_call") for n in node.iter_subtrees())
