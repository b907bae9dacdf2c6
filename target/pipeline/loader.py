"""Compile BMv2 JSON (as p4c-bm2-ss emits it for v1model) into the executor's arrays.

Everything the data path needs is resolved here, once: header instances get byte offsets in the
packet header vector (PHV), fields become (bit offset, width) records, expressions and
primitives become register-machine instructions (opcodes.py), parser states and controls become
small graphs of ids. Nothing after this looks up a name.

Anything the engine cannot run faithfully is refused with ProgramError naming the JSON path.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from typing import Any

from target.errors import ProgramError
from target.pipeline.constants import NREGS  # deeper expressions are refused
from target.pipeline.dialects import upgrade
from target.pipeline.opcodes import OP

PHV_SLACK = 32       # spare bytes after the PHV so wide unaligned loads never run off the end

INSTANCE_NORMAL = 0
INSTANCE_INGRESS_CLONE = 1
INSTANCE_EGRESS_CLONE = 2
INSTANCE_RECIRC = 4
INSTANCE_REPLICATION = 5
INSTANCE_RESUBMIT = 6

Insn = tuple[int, int, int, int, int, int]

# Opcodes whose result is always 0 or 1.
_BOOL_OPS = {OP[n] for n in ("LDV", "LDVU", "LDVDYN", "EQ", "NE", "LT", "LE", "GT", "GE", "CMPFK", "LAND",
                             "LOR", "LNOT")}


def _operation(e: dict[str, Any]) -> dict[str, Any] | None:
    """The {op, left, right} node of an expression operand, through p4c's nested wrappers."""
    v = e.get("value") if e.get("type") == "expression" else None
    while isinstance(v, dict) and v.get("type") == "expression":
        v = v.get("value")
    return v if isinstance(v, dict) else None


def _strip_width_mask(e: dict[str, Any], width: int) -> dict[str, Any]:
    """`x & (2^width - 1)` stored into a width-bit field is just x: the store truncates."""
    v = _operation(e)
    if not isinstance(v, dict) or v.get("op") != "&":
        return e
    full = (1 << width) - 1
    for keep, other in (("left", "right"), ("right", "left")):
        c = v.get(other)
        if isinstance(c, dict) and c.get("type") == "hexstr" and parse_int(c["value"]) == full:
            return v[keep]
    return e


def parse_int(text: str | int | bool | None) -> int:
    if isinstance(text, bool):
        return int(text)
    if isinstance(text, int):
        return text
    if text is None:
        raise ValueError("missing number")
    t = text.strip()
    neg = t.startswith("-")
    if neg:
        t = t[1:]
    v = int(t, 16) if t.lower().startswith("0x") else int(t, 0)
    return -v if neg else v


@dataclass
class HeaderInfo:
    name: str
    id: int
    type_name: str
    metadata: bool
    byteoff: int                  # start of the header's bytes in the PHV
    fixed_bits: int               # bits of the non-varbit fields
    nbytes: int                   # bytes reserved (fixed part + varbit maximum)
    fields: list[tuple[str, int, bool]]   # (name, width or -1 for varbit, signed)
    first_field: int              # id of the header's first field
    varbit_field: int = -1        # index within `fields` of the varbit field, or -1
    varbit_max: int = 0           # bits
    union: int = -1
    stack: int = -1


@dataclass
class FieldInfo:
    name: str                     # "header.field"
    header: int
    bitoff: int                   # from the PHV start
    width: int                    # bits; for varbit: the maximum
    signed: bool
    varbit: bool = False


@dataclass
class TableKey:
    name: str
    match_type: str               # exact / lpm / ternary / range / optional / valid
    bitwidth: int
    field: int                    # field id, or header id for "valid"
    mask: int | None              # constant mask p4c applies to the key field (slices)
    is_valid: bool = False        # the key is a header's validity bit; `field` is the header id


@dataclass
class TableInfoC:
    name: str
    id: int
    keys: list[TableKey]
    match_type: str
    actions: list[int]
    action_names: list[str]
    max_size: int
    with_counters: bool
    direct_meters: str | None
    support_timeout: bool
    impl: str                     # simple / indirect / indirect_ws
    action_profile: str | None
    next_by_action: dict[int, int]
    base_default_next: int
    hit_next: int
    miss_next: int
    has_hit_miss: bool
    default_action: int
    default_params: list[int]
    default_const: bool
    default_entry_const: bool
    const_entries: list[dict[str, Any]]
    is_const: bool


@dataclass
class Program:
    """Everything the engine needs, as plain Python data, plus names for the API and traces."""

    raw: dict[str, Any]
    headers: list[HeaderInfo] = field(default_factory=list)
    header_by_name: dict[str, int] = field(default_factory=dict)
    fields: list[FieldInfo] = field(default_factory=list)
    field_by_name: dict[str, int] = field(default_factory=dict)
    stacks: list[tuple[str, list[int]]] = field(default_factory=list)
    stack_by_name: dict[str, int] = field(default_factory=dict)
    stack_counter: list[int] = field(default_factory=list)   # next-index counter per stack
    unions: list[tuple[str, list[int]]] = field(default_factory=list)
    union_by_name: dict[str, int] = field(default_factory=dict)
    phv_bytes: int = 0
    code: list[Insn] = field(default_factory=list)
    consts: list[int] = field(default_factory=list)
    strings: list[str] = field(default_factory=list)           # log_msg formats
    log_sources: list[str] = field(default_factory=list)       # their `file(line)`, as BMv2
    actions: list[tuple[str, list[tuple[str, int]], int]] = field(default_factory=list)
    action_by_name: dict[str, int] = field(default_factory=dict)
    # parser
    parser_states: list[dict[str, Any]] = field(default_factory=list)
    parser_init: int = -1
    errors: dict[str, int] = field(default_factory=dict)
    parse_vsets: list[tuple[str, int, int]] = field(default_factory=list)   # name, bits, size
    vset_by_name: dict[str, int] = field(default_factory=dict)
    # controls: nodes are ("table", idx) or ("cond", code start, true_next, false_next)
    nodes: list[tuple[Any, ...]] = field(default_factory=list)
    # code start of a condition -> its name and the JSON's source_info (for the packet log)
    cond_source: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    ingress_init: int = -1
    egress_init: int = -1
    tables: list[TableInfoC] = field(default_factory=list)
    table_by_name: dict[str, int] = field(default_factory=dict)
    action_profiles: list[dict[str, Any]] = field(default_factory=list)
    deparser: list[int] = field(default_factory=list)
    checksums: list[dict[str, Any]] = field(default_factory=list)
    calculations: list[dict[str, Any]] = field(default_factory=list)
    calc_by_name: dict[str, int] = field(default_factory=dict)
    field_lists: dict[int, list[int]] = field(default_factory=dict)   # id -> field ids
    learn_lists: dict[int, tuple[str, list[int]]] = field(default_factory=dict)
    counters: list[dict[str, Any]] = field(default_factory=list)
    counter_by_name: dict[str, int] = field(default_factory=dict)
    meters: list[dict[str, Any]] = field(default_factory=list)
    meter_by_name: dict[str, int] = field(default_factory=dict)
    registers: list[dict[str, Any]] = field(default_factory=list)
    register_by_name: dict[str, int] = field(default_factory=dict)
    std: dict[str, int] = field(default_factory=dict)   # standard_metadata field ids

    def const(self, value: int) -> int:
        self.consts.append(value)
        return len(self.consts) - 1


def _need(e: Any, known: dict[int, int] | None = None) -> int:
    """Registers needed to compute e with the loader's allocation (an estimate for ordering).

    An instruction's result takes a register while its operands are still held, so a binary
    node needs max(first, second + 1, 3); leaves need one. `known`: the figures of nodes
    already measured (by id), so that ordering each node of a deep expression does not walk
    its subtree again."""
    if not isinstance(e, dict):
        return 1
    v = e.get("value")
    if e.get("type") != "expression" or not isinstance(v, dict):
        return 1
    if known is not None and id(e) in known:
        return known[id(e)]
    if "op" not in v:
        need = _need(v, known)
    else:
        operands = [x for x in (v.get("cond"), v.get("left"), v.get("right")) if isinstance(x, dict)]
        needs = sorted((_need(x, known) for x in operands if x.get("type") == "expression"),
                       reverse=True) or [1]
        need = max([n + k for k, n in enumerate(needs)]
                   + [len(operands) + 1, 2 if v.get("op") != "d2b" else 3])
    if known is not None:
        known[id(e)] = need
    return need


class _Compiler:
    def __init__(self, raw: dict[str, Any]):
        self.j = raw
        self.p = Program(raw=raw)
        self.needs: dict[int, int] = {}     # _need's figures by id of node of `raw` (alive)
        self.reset_regs()
        self.at = "$"  # the JSON object being compiled, for errors raised without a path

    # ---------------------------------------------------------------- layout
    def layout(self) -> None:
        j, p = self.j, self.p
        types = {}
        for i, ht in enumerate(j.get("header_types", [])):
            self.at = f"header_types[{i}]"
            types[ht["name"]] = (i, ht)
        off = 0
        for i, h in enumerate(j.get("headers", [])):
            self.at = f"headers[{i}]"
            path = f"headers[{i}]"
            if h["header_type"] not in types:
                raise ProgramError(f"{path}.header_type", f"unknown header type {h['header_type']!r}")
            ti, ht = types[h["header_type"]]
            flds: list[tuple[str, int, bool]] = []
            fixed = 0
            varbit = -1
            vmax = 0
            for k, fdef in enumerate(ht["fields"]):
                fname, width = fdef[0], fdef[1]
                signed = bool(fdef[2]) if len(fdef) > 2 else False
                if width == "*":
                    if varbit >= 0:
                        raise ProgramError(f"header_types[{ti}].fields[{k}]",
                                           "more than one varbit field in a header")
                    varbit = k
                    vmax = int(ht.get("max_length", 0)) * 8 - sum(
                        f[1] for f in ht["fields"] if f[1] != "*")
                    if vmax <= 0:
                        raise ProgramError(f"header_types[{ti}].max_length",
                                           "varbit header without a usable max_length")
                    flds.append((fname, -1, False))
                    continue
                if not isinstance(width, int) or width <= 0:
                    raise ProgramError(f"header_types[{ti}].fields[{k}]", f"bad width {width!r}")
                fixed += width
                flds.append((fname, width, signed))
            metadata = bool(h.get("metadata", False))
            if not metadata and fixed % 8 and varbit < 0:
                raise ProgramError(f"{path}", f"header {h['name']} is {fixed} bits, not whole bytes")
            nbytes = (fixed + vmax + 7) // 8
            info = HeaderInfo(h["name"], h.get("id", i), ht["name"], metadata, off, fixed,
                              nbytes, flds, len(p.fields), varbit, vmax)
            if h["name"] in p.header_by_name:
                raise ProgramError(f"{path}.name", f"duplicate header {h['name']!r}")
            p.header_by_name[h["name"]] = len(p.headers)
            p.headers.append(info)
            bit = off * 8
            for fname, width, signed in flds:
                if width < 0:
                    # The varbit field's bits start here; the fields after it move with its
                    # current length, which only extract/emit see (they copy bytes).
                    fi = FieldInfo(f"{h['name']}.{fname}", len(p.headers) - 1, bit, vmax, False, True)
                    bit += vmax
                else:
                    fi = FieldInfo(f"{h['name']}.{fname}", len(p.headers) - 1, bit, width, signed)
                    bit += width
                p.field_by_name[fi.name] = len(p.fields)
                p.fields.append(fi)
            if varbit >= 0 and varbit != len(flds) - 1:
                raise ProgramError(f"header_types[{ti}]",
                                   "a varbit field followed by other fields is not supported")
            off += nbytes + 1   # one spare byte keeps the next header's first bits addressable
        # Validity bytes come after all header data.
        p.phv_bytes = off
        for i, s in enumerate(j.get("header_stacks", [])):
            self.at = f"header_stacks[{i}]"
            ids = [self._hdr_by_json_id(x, f"header_stacks[{i}].header_ids") for x in s["header_ids"]]
            p.stack_by_name[s["name"]] = len(p.stacks)
            p.stack_counter.append(len(p.stacks))
            p.stacks.append((s["name"], ids))
            for h in ids:
                p.headers[h].stack = len(p.stacks) - 1
        for i, u in enumerate(j.get("header_unions", [])):
            self.at = f"header_unions[{i}]"
            ids = [self._hdr_by_json_id(x, f"header_unions[{i}].header_ids") for x in u["header_ids"]]
            p.union_by_name[u["name"]] = len(p.unions)
            p.unions.append((u["name"], ids))
            for h in ids:
                p.headers[h].union = len(p.unions) - 1
        union_by_jid = {u.get("id", k): k for k, u in enumerate(j.get("header_unions", []))}
        for k, us in enumerate(j.get("header_union_stacks", [])):
            # A stack of unions becomes one stack per member name ("u.byte": the "byte" member
            # of u[0], u[1], ...), all sharing the union stack's next index.
            path = f"header_union_stacks[{k}]"
            members: dict[str, list[int]] = {}
            for uj in us["header_union_ids"]:
                if uj not in union_by_jid:
                    raise ProgramError(f"{path}.header_union_ids", f"no header union with id {uj}")
                uname, hids = p.unions[union_by_jid[uj]]
                for h in hids:
                    member = p.headers[h].name[len(uname) + 1:]
                    members.setdefault(member, []).append(h)
            counter = len(p.stacks)
            for member, hids in members.items():
                p.stack_by_name[f"{us['name']}.{member}"] = len(p.stacks)
                p.stacks.append((f"{us['name']}.{member}", hids))
                p.stack_counter.append(counter)
        # Older programs keep some of these elsewhere; dialects.upgrade aliases them.
        aliases = {a[0]: a[1] for a in j.get("field_aliases", []) if isinstance(a, list) and len(a) == 2}
        for name in ("ingress_port", "egress_spec", "egress_port", "instance_type",
                     "packet_length", "mcast_grp", "egress_rid", "checksum_error",
                     "parser_error", "ingress_global_timestamp", "egress_global_timestamp",
                     "enq_timestamp", "enq_qdepth", "deq_timedelta", "deq_qdepth", "priority",
                     "qid"):
            fid = p.field_by_name.get(f"standard_metadata.{name}", -1)
            alias = aliases.get(f"standard_metadata.{name}")
            if fid < 0 and isinstance(alias, list) and len(alias) == 2:
                fid = p.field_by_name.get(f"{alias[0]}.{alias[1]}", -1)
            p.std[name] = fid
        for name in ("ingress_port", "egress_spec", "egress_port", "instance_type",
                     "packet_length", "mcast_grp", "egress_rid"):
            if p.std[name] < 0:
                raise ProgramError("headers", f"standard_metadata.{name} is missing: not v1model")
        for name, code in j.get("errors", []):
            p.errors[name] = code

    def _hdr_by_json_id(self, jid: int, path: str) -> int:
        for i, h in enumerate(self.p.headers):
            if h.id == jid:
                return i
        raise ProgramError(path, f"no header with id {jid}")

    # ---------------------------------------------------------------- helpers
    def field_id(self, ref: list[str], path: str) -> int:
        if not isinstance(ref, list) or len(ref) != 2:
            raise ProgramError(path, f"bad field reference {ref!r}")
        hname, fname = ref
        if hname not in self.p.header_by_name:
            raise ProgramError(path, f"unknown header {hname!r}")
        key = f"{hname}.{fname}"
        if key not in self.p.field_by_name:
            raise ProgramError(path, f"unknown field {key!r}")
        return self.p.field_by_name[key]

    def header_id(self, name: str, path: str) -> int:
        if name not in self.p.header_by_name:
            raise ProgramError(path, f"unknown header {name!r}")
        return self.p.header_by_name[name]

    def reset_regs(self) -> None:
        """A new statement: every register is free again."""
        self.nreg = 0
        self.freed: list[int] = []

    def reg(self, path: str) -> int:
        # Registers are a stack per statement: an operand's register is released once its
        # node's value is computed, so a statement needs registers for its depth, not its size.
        if self.freed:
            return heapq.heappop(self.freed)
        r = self.nreg
        self.nreg += 1
        if self.nreg > NREGS:
            raise ProgramError(path, f"expression needs more than {NREGS} registers")
        return r

    def release(self, *regs: int) -> None:
        """Give back operand registers after the instruction reading them was emitted.

        The result of that instruction is always on a register allocated while its operands
        were still held, so no opcode ever has its destination equal to one of its sources
        (SEL, SEXT, LDFDYN and the fused comparisons may write before reading everything)."""
        for r in regs:
            heapq.heappush(self.freed, r)

    def emit(self, code: list[Insn], op: str, a: int = 0, b: int = 0, c: int = 0,
             d: int = 0, e: int = 0) -> None:
        code.append((OP[op], a, b, c, d, e))

    # ---------------------------------------------------------------- expressions
    _BINOPS = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV", "%": "MOD", "<<": "SHL",
               ">>": "SHR", "&": "AND", "|": "OR", "^": "XOR", "==": "EQ", "!=": "NE",
               "<": "LT", "<=": "LE", ">": "GT", ">=": "GE", "and": "LAND", "or": "LOR"}

    _CMP_KINDS = {"==": 0, "!=": 1, "<": 2, "<=": 3, ">": 4, ">=": 5}

    def expr(self, e: dict[str, Any], code: list[Insn], path: str) -> int:
        """Compile e; return the register holding its value."""
        t = e.get("type")
        v = e.get("value")
        p = self.p
        if t == "expression":
            if isinstance(v, dict) and "op" not in v:
                return self.expr(v, code, f"{path}.value")
            return self.expr_op(v, code, f"{path}.value")
        if t == "field":
            if isinstance(v, list) and len(v) == 2 and v[1] == "$valid$":
                r = self.reg(path)
                self.emit(code, "LDV", r, d=self.header_id(v[0], f"{path}.value"))
                return r
            fid = self.field_id(v, f"{path}.value")
            r = self.reg(path)
            fi = p.fields[fid]
            if fi.width > 128:
                raise ProgramError(path, f"arithmetic on {fi.name} ({fi.width} bits) is not supported")
            # A varbit field reads as the number its current bits spell (the engine uses the
            # header's current varbit length), which is what comparisons of varbits need.
            self.emit(code, "LDF", r, d=fid)
            return r
        if t in ("hexstr", "bool"):
            r = self.reg(path)
            val = parse_int(v) if t == "hexstr" else (1 if v else 0)
            self.emit(code, "LDK", r, d=p.const(val))
            return r
        if t == "runtime_data":
            r = self.reg(path)
            self.emit(code, "LDP", r, d=int(v))
            return r
        if t == "header":
            # A header used as a value: only validity makes sense (inside "valid"/d2b).
            r = self.reg(path)
            self.emit(code, "LDV", r, d=self.header_id(v, path))
            return r
        if t == "lookahead":
            r = self.reg(path)
            self.emit(code, "LDLA", r, d=int(v[1]), e=int(v[0]))
            return r
        if t == "stack_field":
            sid = self._stack(v[0], path)
            r = self.reg(path)
            self.emit(code, "LDLAST", r, d=sid, e=self._stack_field_index(sid, v[1], path))
            return r
        if t == "local":
            # Inside expressions p4c names action parameters "local".
            r = self.reg(path)
            self.emit(code, "LDP", r, d=int(v))
            return r
        raise ProgramError(path, f"unsupported operand type {t!r}")

    def _stack(self, name: str, path: str) -> int:
        if name not in self.p.stack_by_name or self.p.stack_by_name[name] < 0:
            raise ProgramError(path, f"unknown header stack {name!r}")
        return self.p.stack_by_name[name]

    def _stack_field_index(self, sid: int, fname: str, path: str) -> int:
        h = self.p.headers[self.p.stacks[sid][1][0]]
        for k, (n, _w, _s) in enumerate(h.fields):
            if n == fname:
                return k
        raise ProgramError(path, f"unknown field {fname!r} in stack {self.p.stacks[sid][0]}")

    def _field_index_operand(self, sid: int, operand: Any, path: str) -> int:
        if isinstance(operand, int):
            return operand
        if isinstance(operand, dict) and operand.get("type") == "string":
            return self._stack_field_index(sid, operand["value"], path)
        if isinstance(operand, dict):
            return parse_int(operand["value"])
        raise ProgramError(path, f"bad field index {operand!r}")

    def _stack_ref(self, e: dict[str, Any], code: list[Insn], path: str) -> tuple[int, int]:
        """(stack id, index register) for a dereference_header_stack expression."""
        if e.get("type") != "expression" or e["value"].get("op") != "dereference_header_stack":
            raise ProgramError(path, "expected a header stack element")
        v = e["value"]
        sid = self._stack(v["left"]["value"], f"{path}.value.left")
        ri = self.expr(v["right"], code, f"{path}.value.right")
        return sid, ri

    def expr_op(self, v: dict[str, Any], code: list[Insn], path: str) -> int:
        op = v.get("op")
        left, right = v.get("left"), v.get("right")
        if op in self._BINOPS:
            # Sethi-Ullman: the operand needing more registers first (expressions are pure).
            if _need(right, self.needs) > _need(left, self.needs):
                rr = self.expr(right, code, f"{path}.right")
                rl = self.expr(left, code, f"{path}.left")
            else:
                rl = self.expr(left, code, f"{path}.left")
                rr = self.expr(right, code, f"{path}.right")
            r = self.reg(path)
            kind = self._CMP_KINDS.get(op)
            if (kind is not None and len(code) >= 2 and code[-2][0] == OP["LDF"]
                    and code[-2][1] == rl and code[-1][0] == OP["LDK"] and code[-1][1] == rr):
                # field CMP constant, the shape of most conditions: one instruction
                fid, const = code[-2][4], code[-1][4]
                del code[-2:]
                self.emit(code, "CMPFK", r, kind, d=fid, e=const)
            else:
                self.emit(code, self._BINOPS[op], r, rl, rr)
            self.release(rl, rr)
            return r
        if op in ("not", "~"):
            rr = self.expr(right, code, f"{path}.right")
            r = self.reg(path)
            self.emit(code, "LNOT" if op == "not" else "BNOT", r, rr)
            self.release(rr)
            return r
        if op == "-" and left is None:
            rr = self.expr(right, code, f"{path}.right")
            r = self.reg(path)
            self.emit(code, "NEG", r, rr)
            self.release(rr)
            return r
        if op in ("d2b", "b2d"):
            rr = self.expr(right, code, f"{path}.right")
            # b2d is the identity on 0/1; d2b of a value that is already 0/1 too.
            if op == "b2d" or (code and code[-1][1] == rr and code[-1][0] in _BOOL_OPS):
                return rr
            r = self.reg(path)
            rz = self.reg(path)
            self.emit(code, "LDK", rz, d=self.p.const(0))
            self.emit(code, "NE", r, rr, rz)
            self.release(rr, rz)
            return r
        if op == "valid":
            r = self.reg(path)
            if right.get("type") == "header":
                self.emit(code, "LDV", r, d=self.header_id(right["value"], f"{path}.right"))
            elif right.get("type") == "expression":
                sid, ri = self._stack_ref(right, code, f"{path}.right")
                self.emit(code, "LDVDYN", r, ri, d=sid)
                self.release(ri)
            else:
                raise ProgramError(f"{path}.right", "valid() of an unsupported operand")
            return r
        if op == "valid_union":
            r = self.reg(path)
            name = right["value"]
            if name not in self.p.union_by_name:
                raise ProgramError(f"{path}.right", f"unknown header union {name!r}")
            self.emit(code, "LDVU", r, d=self.p.union_by_name[name])
            return r
        if op in ("two_comp_mod", "usat_cast", "sat_cast"):
            rl = self.expr(left, code, f"{path}.left")
            width = parse_int(right["value"])
            r = self.reg(path)
            self.emit(code, {"two_comp_mod": "SEXT", "usat_cast": "USAT", "sat_cast": "SSAT"}[op],
                      r, rl, d=width)
            self.release(rl)
            return r
        if op == "?":
            # All three are computed (they are pure); the neediest first, as for binary ops.
            parts = {"cond": v["cond"], "left": left, "right": right}
            regs: dict[str, int] = {}
            for name in sorted(parts, key=lambda k: -_need(parts[k], self.needs)):
                regs[name] = self.expr(parts[name], code, f"{path}.{name}")
            r = self.reg(path)
            self.emit(code, "SEL", r, regs["cond"], regs["left"], d=regs["right"])
            self.release(*regs.values())
            return r
        if op == "access_field":
            sid, ri = self._stack_ref(left, code, f"{path}.left")
            fidx = self._field_index_operand(sid, right, f"{path}.right")
            r = self.reg(path)
            self.emit(code, "LDFDYN", r, ri, d=sid, e=fidx)
            self.release(ri)
            return r
        if op == "last_stack_index":
            sid = self._stack(right["value"], f"{path}.right")
            r = self.reg(path)
            self.emit(code, "LDLASTIDX", r, d=sid)
            return r
        if op == "size_stack":
            sid = self._stack(right["value"], f"{path}.right")
            r = self.reg(path)
            self.emit(code, "LDSIZE", r, d=sid)
            return r
        raise ProgramError(path, f"unsupported expression operator {op!r}")

    # ---------------------------------------------------------------- statements
    def assign(self, dst: dict[str, Any], src: dict[str, Any], code: list[Insn], path: str) -> None:
        p = self.p
        if dst.get("type") == "field":
            fid = self.field_id(dst["value"], f"{path}[0]")
            fi = p.fields[fid]
            while src.get("type") == "expression" and "op" not in src["value"]:
                src = src["value"]
            if src.get("type") == "field" and src["value"][1] != "$valid$":
                sfid = self.field_id(src["value"], f"{path}[1]")
                if p.fields[sfid].width == fi.width and p.fields[sfid].signed == fi.signed:
                    self.emit(code, "CPF", d=fid, e=sfid)
                    return
            if fi.width > 128:
                raise ProgramError(path, f"assignment to {fi.name} ({fi.width} bits) from an expression")
            if src.get("type") == "runtime_data":
                self.emit(code, "STFP", d=fid, e=int(src["value"]))
                return
            if src.get("type") == "hexstr":
                self.emit(code, "STFK", d=fid, e=p.const(parse_int(src["value"])))
                return
            src = _strip_width_mask(src, fi.width)
            if self._fused_field_op(fid, src, code):
                return
            r = self.expr(src, code, f"{path}[1]")
            self.emit(code, "STF", r, d=fid)
            return
        while dst.get("type") == "expression" and "op" not in dst["value"]:
            dst = dst["value"]
        if dst.get("type") == "expression":
            v = dst["value"]
            if v.get("op") == "access_field":
                sid, ri = self._stack_ref(v["left"], code, f"{path}[0].value.left")
                fidx = self._field_index_operand(sid, v["right"], f"{path}[0].value.right")
                rs = self.expr(src, code, f"{path}[1]")
                self.emit(code, "STFDYN", rs, ri, d=sid, e=fidx)
                return
        raise ProgramError(f"{path}[0]", f"unsupported assignment target {dst.get('type')!r}")

    def _header_select(self, dst: dict[str, Any], src: dict[str, Any], code: list[Insn],
                       path: str) -> bool:
        """`hdr = cond ? hdr_a : hdr_b`, which p4c emits for a mux of whole headers."""
        v = _operation(src)
        if not isinstance(v, dict) or v.get("op") != "?" or dst.get("type") != "header":
            return False
        left, right = v.get("left") or {}, v.get("right") or {}
        if left.get("type") != "header" or right.get("type") != "header":
            return False
        rb = self.header_id(right["value"], f"{path}[1].value.right")
        if rb > 0xFFFF:
            return False
        rc = self.expr(v["cond"], code, f"{path}[1].value.cond")
        self.emit(code, "HCOPYSEL", rc, rb, d=self.header_id(dst["value"], f"{path}[0]"),
                  e=self.header_id(left["value"], f"{path}[1].value.left"))
        return True

    _FUSABLE = {"+": 0, "-": 1, "&": 2, "|": 3, "^": 4}

    def _fused_field_op(self, dst: int, src: dict[str, Any], code: list[Insn]) -> bool:
        """`dst = field OP constant` in one instruction (e.g. the TTL decrement)."""
        v = _operation(src)
        if not isinstance(v, dict) or v.get("op") not in self._FUSABLE:
            return False
        left, right = v.get("left") or {}, v.get("right") or {}
        if left.get("type") != "field" or right.get("type") != "hexstr":
            return False
        if left["value"][1] == "$valid$":
            return False
        sfid = self.field_id(left["value"], "fused")
        f = self.p.fields[sfid]
        if f.signed or f.varbit or f.width > 128:
            return False
        k = self.p.const(parse_int(right["value"]))
        if k > 0xFFFF:
            return False
        self.emit(code, "FOPK", self._FUSABLE[v["op"]], k, d=dst, e=sfid)
        return True

    def header_operand(self, prm: dict[str, Any], code: list[Insn], path: str) -> tuple[str, int, int]:
        """('hdr', header id, 0) or ('dyn', stack id, index register)."""
        t = prm.get("type")
        if t == "header":
            return ("hdr", self.header_id(prm["value"], path), 0)
        if t == "expression":
            sid, ri = self._stack_ref(prm, code, path)
            return ("dyn", sid, ri)
        raise ProgramError(path, f"expected a header, got {t!r}")

    def primitive(self, prim: dict[str, Any], code: list[Insn], path: str) -> None:
        p = self.p
        op = prim["op"]
        prm = prim.get("parameters", [])
        pp = f"{path}.parameters"
        self.reset_regs()
        if op in ("assign", "modify_field"):
            self.assign(prm[0], prm[1], code, pp)
        elif op == "assign_VL":
            d = self.field_id(prm[0]["value"], f"{pp}[0]")
            s = self.field_id(prm[1]["value"], f"{pp}[1]")
            self.emit(code, "STVL", d=d, e=s)
        elif op in ("assign_header", "assign_union"):
            if op == "assign_union":
                dst_u = p.union_by_name.get(prm[0]["value"])
                src_u = p.union_by_name.get(prm[1]["value"])
                if dst_u is None or src_u is None:
                    raise ProgramError(pp, "unknown header union")
                for dh, sh in zip(p.unions[dst_u][1], p.unions[src_u][1], strict=True):
                    self.emit(code, "HCOPY", d=dh, e=sh)
                return
            if self._header_select(prm[0], prm[1], code, pp):
                return
            kd, d, rd = self.header_operand(prm[0], code, f"{pp}[0]")
            ks, s, rs = self.header_operand(prm[1], code, f"{pp}[1]")
            if kd == "hdr" and ks == "hdr":
                self.emit(code, "HCOPY", d=d, e=s)
            elif kd == "dyn" and ks == "hdr":
                self.emit(code, "HCOPYDYN", 0, rd, d=d, e=s)
            elif kd == "hdr" and ks == "dyn":
                self.emit(code, "HCOPYDYN", 1, rs, d=s, e=d)
            else:
                raise ProgramError(pp, "copying between two dynamically indexed stack elements")
        elif op == "assign_header_stack":
            d = self._stack(prm[0]["value"], f"{pp}[0]")
            s = self._stack(prm[1]["value"], f"{pp}[1]")
            self.emit(code, "STKCOPY", d=d, e=s)
        elif op in ("add_header", "remove_header"):
            k, h, ri = self.header_operand(prm[0], code, f"{pp}[0]")
            if k == "hdr":
                if op == "add_header":
                    self.emit(code, "SETUNION" if p.headers[h].union >= 0 else "SETVALID", d=h)
                else:
                    self.emit(code, "SETINVALID", d=h)
            else:
                self.emit(code, "SETVALIDDYN", 1 if op == "add_header" else 0, ri, d=h)
        elif op == "no_op":
            pass
        elif op == "mark_to_drop" or op == "drop":
            self.emit(code, "DROP")
        elif op == "exit":
            self.emit(code, "EXIT")
        elif op in ("push", "pop"):
            sid = self._stack(prm[0]["value"], f"{pp}[0]")
            self.emit(code, "PUSH" if op == "push" else "POP", d=sid, e=parse_int(prm[1]["value"]))
        elif op == "count":
            cid = self._named(p.counter_by_name, prm[0]["value"], f"{pp}[0]", "counter")
            r = self.expr(prm[1], code, f"{pp}[1]")
            self.emit(code, "COUNT", r, d=cid)
        elif op == "execute_meter":
            mid = self._named(p.meter_by_name, prm[0]["value"], f"{pp}[0]", "meter")
            r = self.expr(prm[1], code, f"{pp}[1]")
            dst = self.field_id(prm[2]["value"], f"{pp}[2]")
            self.emit(code, "METER", r, d=mid, e=dst)
        elif op == "register_read":
            dst = self.field_id(prm[0]["value"], f"{pp}[0]")
            rid = self._named(p.register_by_name, prm[1]["value"], f"{pp}[1]", "register")
            r = self.expr(prm[2], code, f"{pp}[2]")
            self.emit(code, "REGRD", r, d=rid, e=dst)
        elif op == "register_write":
            rid = self._named(p.register_by_name, prm[0]["value"], f"{pp}[0]", "register")
            ri = self.expr(prm[1], code, f"{pp}[1]")
            rv = self.expr(prm[2], code, f"{pp}[2]")
            self.emit(code, "REGWR", ri, rv, d=rid)
        elif op in ("clone_ingress_pkt_to_egress", "clone_egress_pkt_to_egress"):
            r = self.expr(prm[0], code, f"{pp}[0]")
            fl = parse_int(prm[1]["value"]) if len(prm) > 1 else 0
            self.emit(code, "CLONE_I2E" if op.startswith("clone_ingress") else "CLONE_E2E", r, d=fl)
        elif op in ("resubmit", "recirculate"):
            fl = parse_int(prm[0]["value"]) if prm else 0
            self.emit(code, "RESUBMIT" if op == "resubmit" else "RECIRC", d=fl)
        elif op == "generate_digest":
            lid = parse_int(prm[1]["value"])
            if lid not in p.learn_lists:
                raise ProgramError(f"{pp}[1]", f"unknown learn list {lid}")
            r = self.expr(prm[0], code, f"{pp}[0]")
            self.emit(code, "DIGEST", r, d=lid)
        elif op == "modify_field_with_hash_based_offset":
            dst = self.field_id(prm[0]["value"], f"{pp}[0]")
            rb = self.expr(prm[1], code, f"{pp}[1]")
            cid = self._named(p.calc_by_name, prm[2]["value"], f"{pp}[2]", "calculation")
            rm = self.expr(prm[3], code, f"{pp}[3]")
            self.emit(code, "HASH", rb, rm, d=cid, e=dst)
        elif op == "modify_field_rng_uniform":
            dst = self.field_id(prm[0]["value"], f"{pp}[0]")
            rl = self.expr(prm[1], code, f"{pp}[1]")
            rh = self.expr(prm[2], code, f"{pp}[2]")
            self.emit(code, "RANDOM", rl, rh, e=dst)
        elif op == "truncate":
            r = self.expr(prm[0], code, f"{pp}[0]")
            self.emit(code, "TRUNCATE", r)
        elif op == "log_msg":
            self._log_msg(prim, code, pp)
        elif op in ("assert", "assume"):
            r = self.expr(prm[0], code, f"{pp}[0]")
            self.emit(code, "ASSERT", r)
        elif op == "_jump":
            self.emit(code, "JMP", d=parse_int(prm[0]["value"]))
        elif op == "_jump_if_zero":
            r = self.expr(prm[0], code, f"{pp}[0]")
            self.emit(code, "JZ", r, d=parse_int(prm[1]["value"]))
        else:
            raise ProgramError(f"{path}.op", f"unsupported primitive {op!r}")

    def _log_msg(self, prim: dict[str, Any], code: list[Insn], pp: str) -> None:
        """log_msg(format, {values}): one LOG per value (e: 1 unsigned, 2 signed), then the
        message's LOG. The values are only recorded while the packet log is on; the text is
        formatted from them in target/trace.py as BMv2's log_msg primitive does."""
        p, prm = self.p, prim.get("parameters", [])
        values = prm[1].get("value") if len(prm) > 1 else []
        if not isinstance(values, list):        # p4c writes {} for a call without values
            values = []
        for k, v in enumerate(values):
            self.reset_regs()
            path = f"{pp}[1].value[{k}]"
            r = self.expr(v, code, path)
            # Registers are signed 128-bit: only an unsigned 128-bit field needs telling apart.
            unsigned = False
            if v.get("type") == "field" and v["value"][1] != "$valid$":
                unsigned = not p.fields[self.field_id(v["value"], path)].signed
            self.emit(code, "LOG", r, e=1 if unsigned else 2)
        info = prim.get("source_info")
        where = f"{info['filename']}({info.get('line', 0)})" \
            if isinstance(info, dict) and info.get("filename") else "[no source available]"
        p.strings.append(str(prm[0].get("value", "")) if prm else "")
        p.log_sources.append(where)
        self.emit(code, "LOG", d=len(p.strings) - 1)

    def _named(self, table: dict[str, int], name: str, path: str, what: str) -> int:
        if name not in table:
            raise ProgramError(path, f"unknown {what} {name!r}")
        return table[name]

    # ---------------------------------------------------------------- objects
    def externs(self) -> None:
        j, p = self.j, self.p
        for i, c in enumerate(j.get("counter_arrays", [])):
            self.at = f"counter_arrays[{i}]"
            p.counter_by_name[c["name"]] = len(p.counters)
            p.counters.append({"name": c["name"], "id": c.get("id", i), "size": int(c.get("size", 0)),
                               "is_direct": bool(c.get("is_direct")),
                               "binding": c.get("binding")})
        for i, m in enumerate(j.get("meter_arrays", [])):
            self.at = f"meter_arrays[{i}]"
            p.meter_by_name[m["name"]] = len(p.meters)
            p.meters.append({"name": m["name"], "id": m.get("id", i), "size": int(m.get("size", 0)),
                             "type": m.get("type", "bytes"), "rate_count": m.get("rate_count", 2),
                             "is_direct": bool(m.get("is_direct")), "binding": m.get("binding"),
                             "result_target": m.get("result_target")})
        for i, r in enumerate(j.get("register_arrays", [])):
            self.at = f"register_arrays[{i}]"
            if int(r["bitwidth"]) > 128:
                raise ProgramError(f"register_arrays[{i}].bitwidth", "registers wider than 128 bits")
            p.register_by_name[r["name"]] = len(p.registers)
            p.registers.append({"name": r["name"], "id": r.get("id", i), "size": int(r.get("size", 0)),
                                "bitwidth": int(r["bitwidth"])})
        for i, c in enumerate(j.get("calculations", [])):
            self.at = f"calculations[{i}]"
            inputs = self.field_list_elements(c.get("input", []), f"calculations[{i}].input")
            p.calc_by_name[c["name"]] = len(p.calculations)
            p.calculations.append({"name": c["name"], "algo": c["algo"], "inputs": inputs,
                                   "path": f"calculations[{i}]"})
        for i, fl in enumerate(j.get("field_lists", [])):
            self.at = f"field_lists[{i}]"
            ids = []
            for k, el in enumerate(fl.get("elements", [])):
                if el.get("type") != "field":
                    raise ProgramError(f"field_lists[{i}].elements[{k}]", "only fields in field lists")
                ids.append(self.field_id(el["value"], f"field_lists[{i}].elements[{k}]"))
            p.field_lists[int(fl["id"])] = ids
        for i, ll in enumerate(j.get("learn_lists", [])):
            self.at = f"learn_lists[{i}]"
            ids = [self.field_id(el["value"], f"learn_lists[{i}].elements[{k}]")
                   for k, el in enumerate(ll.get("elements", []))]
            p.learn_lists[int(ll["id"])] = (ll["name"], ids)
        for vs in j.get("parse_vsets", []):
            p.vset_by_name[vs["name"]] = len(p.parse_vsets)
            p.parse_vsets.append((vs["name"], int(vs["compressed_bitwidth"]), int(vs["max_size"])))

    def field_list_elements(self, elems: list[dict[str, Any]], path: str) -> list[tuple[str, int]]:
        """Inputs of a calculation: ('field', id), ('const', value<<16|width) or ('payload', 0)."""
        out: list[tuple[str, int]] = []
        for k, el in enumerate(elems):
            t = el.get("type")
            if t == "field":
                out.append(("field", self.field_id(el["value"], f"{path}[{k}]")))
            elif t == "hexstr":
                bw = int(el.get("bitwidth", 0))
                if bw <= 0:
                    raise ProgramError(f"{path}[{k}]", "constant without bitwidth")
                out.append(("const", self.p.const(parse_int(el["value"])) << 16 | bw))
            elif t == "payload":
                out.append(("payload", 0))
            elif t == "header":
                h = self.header_id(el["value"], f"{path}[{k}]")
                hi = self.p.headers[h]
                for f in range(len(hi.fields)):
                    out.append(("field", hi.first_field + f))
            else:
                raise ProgramError(f"{path}[{k}]", f"unsupported field list element {t!r}")
        return out

    def actions(self) -> None:
        p = self.p
        for i, a in enumerate(self.j.get("actions", [])):
            self.at = f"actions[{i}]"
            params = [(rd["name"], int(rd["bitwidth"])) for rd in a.get("runtime_data", [])]
            for k, (_n, w) in enumerate(params):
                if w > 128:
                    raise ProgramError(f"actions[{i}].runtime_data[{k}]",
                                       "action parameters wider than 128 bits")
            start = len(p.code)
            code: list[Insn] = []
            for k, prim in enumerate(a.get("primitives", [])):
                self.at = f"actions[{i}].primitives[{k}]"
                self.primitive(prim, code, f"actions[{i}].primitives[{k}]")
            # Relative jump targets of _jump are primitive indexes; p4c does not emit them for
            # v1model today, so refuse rather than guess.
            if any(c[0] in (OP["JMP"], OP["JZ"]) for c in code):
                raise ProgramError(f"actions[{i}]", "_jump primitives are not supported")
            self.emit(code, "RET")
            p.code.extend(code)
            p.action_by_name.setdefault(a["name"], len(p.actions))
            if a.get("id", i) != len(p.actions):
                raise ProgramError(f"actions[{i}].id", "action ids must be 0..n-1 in order")
            p.actions.append((a["name"], params, start))

    # ---------------------------------------------------------------- parser
    def parser(self) -> None:
        p = self.p
        parsers = self.j.get("parsers", [])
        if len(parsers) != 1:
            raise ProgramError("parsers", f"expected one parser, found {len(parsers)}")
        ps = parsers[0]
        names = {s["name"]: i for i, s in enumerate(ps["parse_states"])}
        for i, st in enumerate(ps["parse_states"]):
            self.at = f"parsers[0].parse_states[{i}]"
            path = f"parsers[0].parse_states[{i}]"
            code: list[Insn] = []
            for k, po in enumerate(st.get("parser_ops", [])):
                self.parser_op(po, code, f"{path}.parser_ops[{k}]")
            # Transition key: components compiled to registers, each with its byte width.
            keycode: list[Insn] = []
            self.reset_regs()
            comps: list[tuple[int, int]] = []
            for k, tk in enumerate(st.get("transition_key", [])):
                kp = f"{path}.transition_key[{k}]"
                t = tk.get("type")
                if t == "field":
                    fid = self.field_id(tk["value"], kp)
                    width = p.fields[fid].width
                elif t == "lookahead":
                    width = int(tk["value"][1])
                elif t == "stack_field":
                    sid = self._stack(tk["value"][0], kp)
                    fidx = self._stack_field_index(sid, tk["value"][1], kp)
                    width = p.headers[p.stacks[sid][1][0]].fields[fidx][1]
                else:
                    raise ProgramError(kp, f"unsupported transition key {t!r}")
                if width > 128:
                    raise ProgramError(kp, "transition key component wider than 128 bits")
                r = self.expr(tk, keycode, kp)
                comps.append((r, width))
            keycode.append((OP["RET"], 0, 0, 0, 0, 0))
            trans = []
            for k, tr in enumerate(st.get("transitions", [])):
                tp = f"{path}.transitions[{k}]"
                nxt = tr.get("next_state")
                target = -1 if nxt is None else names.get(nxt)
                if target is None:
                    raise ProgramError(f"{tp}.next_state", f"unknown parser state {nxt!r}")
                ttype = tr.get("type", "hexstr")
                if ttype == "default":
                    trans.append(("default", 0, 0, target))
                elif ttype == "hexstr":
                    val = parse_int(tr["value"])
                    mask = parse_int(tr["mask"]) if tr.get("mask") is not None else -1
                    trans.append(("value", val, mask, target))
                elif ttype == "parse_vset":
                    vs = tr["value"]
                    if vs not in p.vset_by_name:
                        raise ProgramError(f"{tp}.value", f"unknown parser value set {vs!r}")
                    mask = parse_int(tr["mask"]) if tr.get("mask") is not None else -1
                    trans.append(("vset", p.vset_by_name[vs], mask, target))
                else:
                    raise ProgramError(f"{tp}.type", f"unsupported transition type {ttype!r}")
            code.append((OP["RET"], 0, 0, 0, 0, 0))
            start = len(p.code)
            p.code.extend(code)
            kstart = len(p.code)
            p.code.extend(keycode)
            p.parser_states.append({"name": st["name"], "code": start, "keycode": kstart,
                                    "comps": comps, "transitions": trans})
        init = ps.get("init_state")
        if init not in names:
            raise ProgramError("parsers[0].init_state", f"unknown state {init!r}")
        p.parser_init = names[init]

    def parser_op(self, po: dict[str, Any], code: list[Insn], path: str) -> None:
        op = po.get("op")
        prm = po.get("parameters", [])
        pp = f"{path}.parameters"
        self.reset_regs()
        p = self.p
        if op == "extract":
            t = prm[0].get("type")
            if t == "regular":
                self.emit(code, "EXTRACT", d=self.header_id(prm[0]["value"], f"{pp}[0]"))
            elif t == "stack":
                self.emit(code, "EXTRACT_NEXT", d=self._stack(prm[0]["value"], f"{pp}[0]"))
            elif t == "union_stack":
                us, member = prm[0]["value"]
                self.emit(code, "EXTRACT_NEXT", d=self._stack(f"{us}.{member}", f"{pp}[0]"))
            else:
                raise ProgramError(f"{pp}[0].type", f"unsupported extract target {t!r}")
        elif op == "extract_VL":
            r = self.expr(prm[1], code, f"{pp}[1]")
            t = prm[0].get("type")
            if t == "regular":
                h = self.header_id(prm[0]["value"], f"{pp}[0]")
                if p.headers[h].varbit_field < 0:
                    raise ProgramError(f"{pp}[0]", "extract_VL of a header without varbit field")
                self.emit(code, "EXTRACT_VL", r, d=h)
            elif t == "stack":
                self.emit(code, "EXTRACT_NEXT_VL", r, d=self._stack(prm[0]["value"], f"{pp}[0]"))
            else:
                raise ProgramError(f"{pp}[0].type", f"unsupported extract target {t!r}")
        elif op == "set":
            self.assign(prm[0], prm[1], code, pp)
        elif op == "verify":
            rc = self.expr(prm[0], code, f"{pp}[0]")
            re_ = self.expr(prm[1], code, f"{pp}[1]")
            self.emit(code, "VERIFY", rc, re_)
        elif op == "advance":
            r = self.expr(prm[0], code, f"{pp}[0]")
            self.emit(code, "ADVANCE", r)
        elif op == "primitive":
            self.primitive(prm[0], code, f"{pp}[0]")
        else:
            raise ProgramError(f"{path}.op", f"unsupported parser operation {op!r}")

    # ---------------------------------------------------------------- controls
    def pipelines(self) -> None:
        p = self.p
        pls = {pl["name"]: (i, pl) for i, pl in enumerate(self.j.get("pipelines", []))}
        for name in ("ingress", "egress"):
            if name not in pls:
                raise ProgramError("pipelines", f"no {name!r} pipeline: not a v1model program")
        for name in ("ingress", "egress"):
            i, pl = pls[name]
            init = self.pipeline(pl, f"pipelines[{i}]")
            if name == "ingress":
                p.ingress_init = init
            else:
                p.egress_init = init

    def pipeline(self, pl: dict[str, Any], path: str) -> int:
        p = self.p
        local: dict[str, int] = {}
        # Allocate node ids first so that forward references resolve.
        for t in pl.get("tables", []):
            local[t["name"]] = len(p.nodes)
            p.nodes.append(("table", -1))
        for c in pl.get("conditionals", []):
            local[c["name"]] = len(p.nodes)
            p.nodes.append(("cond", -1, -1, -1))
        for c in pl.get("action_calls", []):
            local[c["name"]] = len(p.nodes)
            p.nodes.append(("call", -1, -1))

        def nxt(name: str | None, where: str) -> int:
            if name is None:
                return -1
            if name not in local:
                raise ProgramError(where, f"unknown next node {name!r}")
            return local[name]

        for i, ap in enumerate(pl.get("action_profiles", [])):
            self.at = f"{path}.action_profiles[{i}]"
            sel = ap.get("selector")
            sel_inputs = None
            if sel is not None:
                sel_inputs = self.field_list_elements(sel.get("input", []),
                                                      f"{path}.action_profiles[{i}].selector.input")
            p.action_profiles.append({"name": ap["name"], "id": ap.get("id", i),
                                      "size": int(ap.get("max_size", 0)),
                                      "selector_algo": sel.get("algo") if sel else None,
                                      "selector_inputs": sel_inputs})
        for i, t in enumerate(pl.get("tables", [])):
            self.at = f"{path}.tables[{i}]"
            tp = f"{path}.tables[{i}]"
            keys = []
            for k, kd in enumerate(t.get("key", [])):
                kp = f"{tp}.key[{k}]"
                mt = kd["match_type"]
                if mt not in ("exact", "lpm", "ternary", "range", "optional", "valid"):
                    raise ProgramError(f"{kp}.match_type", f"unsupported match type {mt!r}")
                tgt = kd["target"]
                if mt == "valid" or (isinstance(tgt, list) and tgt[1] == "$valid$"):
                    h = self.header_id(tgt[0] if isinstance(tgt, list) else tgt, kp)
                    keys.append(TableKey(kd.get("name", ""), mt, 1, h, None, True))
                    continue
                fid = self.field_id(tgt, f"{kp}.target")
                mask = parse_int(kd["mask"]) if kd.get("mask") is not None else None
                keys.append(TableKey(kd.get("name") or p.fields[fid].name, mt,
                                     p.fields[fid].width, fid, mask))
            actions = []
            for k, an in enumerate(t.get("actions", [])):
                if an not in p.action_by_name:
                    raise ProgramError(f"{tp}.actions[{k}]", f"unknown action {an!r}")
                actions.append(p.action_by_name[an])
            if "action_ids" in t and list(t["action_ids"]) != actions:
                actions = [int(a) for a in t["action_ids"]]
            nt = t.get("next_tables", {})
            has_hm = "__HIT__" in nt or "__MISS__" in nt
            by_action: dict[int, int] = {}
            if not has_hm:
                for an in nt:
                    if an not in p.action_by_name:
                        raise ProgramError(f"{tp}.next_tables", f"unknown action {an!r}")
                # Keyed by name, but several actions may share one (p4c's P4_14 conversion
                # emits four "on_miss"): resolve through this table's own action ids, as BMv2.
                for aid in actions:
                    an = p.actions[aid][0]
                    if an in nt:
                        by_action[aid] = nxt(nt[an], f"{tp}.next_tables.{an}")
            de = t.get("default_entry") or {}
            impl = t.get("type", "simple")
            if impl not in ("simple", "indirect", "indirect_ws"):
                raise ProgramError(f"{tp}.type", f"unsupported table type {impl!r}")
            if "default_entry" in t and "action_id" in de:
                dact = int(de["action_id"])
                dparams = [parse_int(x) for x in de.get("action_data", [])]
            else:
                # No default_entry (older compilers): on a miss no action runs, as in BMv2.
                dact = -1
                dparams = []
            entries = t.get("entries", [])
            info = TableInfoC(
                name=t["name"], id=t.get("id", i), keys=keys, match_type=t.get("match_type", "exact"),
                actions=actions, action_names=[p.actions[a][0] for a in actions],
                max_size=int(t.get("max_size", 1024)), with_counters=bool(t.get("with_counters")),
                direct_meters=t.get("direct_meters"), support_timeout=bool(t.get("support_timeout")),
                impl=impl, action_profile=t.get("action_profile"),
                next_by_action=by_action,
                base_default_next=nxt(t.get("base_default_next"), f"{tp}.base_default_next"),
                hit_next=nxt(nt.get("__HIT__"), f"{tp}.next_tables.__HIT__") if has_hm else -1,
                miss_next=nxt(nt.get("__MISS__"), f"{tp}.next_tables.__MISS__") if has_hm else -1,
                has_hit_miss=has_hm, default_action=dact, default_params=dparams,
                default_const=bool(de.get("action_const")),
                default_entry_const=bool(de.get("action_entry_const")),
                const_entries=entries, is_const=bool(entries) and not t.get("entries_mutable", False))
            tidx = len(p.tables)
            p.table_by_name[t["name"]] = tidx
            p.tables.append(info)
            p.nodes[local[t["name"]]] = ("table", tidx)
        for i, c in enumerate(pl.get("conditionals", [])):
            self.at = f"{path}.conditionals[{i}]"
            cp = f"{path}.conditionals[{i}]"
            self.reset_regs()
            code: list[Insn] = []
            r = self.expr(c["expression"], code, f"{cp}.expression")
            code.append((OP["RET"], r, 0, 0, 0, 0))   # the block's value: the condition
            start = len(p.code)
            p.code.extend(code)
            info = c.get("source_info")
            p.cond_source[start] = (c["name"], info if isinstance(info, dict) else {})
            p.nodes[local[c["name"]]] = ("cond", start, nxt(c.get("true_next"), f"{cp}.true_next"),
                                         nxt(c.get("false_next"), f"{cp}.false_next"))
        for i, c in enumerate(pl.get("action_calls", [])):
            self.at = f"{path}.action_calls[{i}]"
            cp = f"{path}.action_calls[{i}]"
            aid = int(c["action_id"])
            p.nodes[local[c["name"]]] = ("call", aid, nxt(c.get("next_node"), f"{cp}.next_node"))
        init = pl.get("init_table")
        return nxt(init, f"{path}.init_table")

    def deparser_and_checksums(self) -> None:
        p = self.p
        dps = self.j.get("deparsers", [])
        if len(dps) != 1:
            raise ProgramError("deparsers", f"expected one deparser, found {len(dps)}")
        for k, name in enumerate(dps[0].get("order", [])):
            p.deparser.append(self.header_id(name, f"deparsers[0].order[{k}]"))
        if dps[0].get("primitives"):
            raise ProgramError("deparsers[0].primitives", "deparser primitives are not supported")
        for i, c in enumerate(self.j.get("checksums", [])):
            self.at = f"checksums[{i}]"
            cp = f"checksums[{i}]"
            if c.get("type", "generic") not in ("generic", "ipv4"):
                raise ProgramError(f"{cp}.type", f"unsupported checksum type {c.get('type')!r}")
            calc = self._named(p.calc_by_name, c["calculation"], f"{cp}.calculation", "calculation")
            tgt = self.field_id(c["target"], f"{cp}.target")
            cond = -1
            if c.get("if_cond") is not None:
                self.reset_regs()
                code: list[Insn] = []
                r = self.expr(c["if_cond"], code, f"{cp}.if_cond")
                code.append((OP["RET"], r, 0, 0, 0, 0))
                cond = len(p.code)
                p.code.extend(code)
            verify = bool(c.get("verify", True))
            update = bool(c.get("update", True))
            p.checksums.append({"name": c["name"], "calc": calc, "target": tgt, "cond": cond,
                                "verify": verify, "update": update})

    def compile(self) -> Program:
        self.at = "header_types"
        self.layout()
        self.at = "externs"
        self.externs()
        self.at = "actions"
        self.actions()
        self.at = "parsers"
        self.parser()
        self.at = "pipelines"
        self.pipelines()
        self.at = "deparsers"
        self.deparser_and_checksums()
        for k, ext in enumerate(self.j.get("extern_instances", [])):
            raise ProgramError(f"extern_instances[{k}]",
                               f"extern {ext.get('type')!r} is not supported")
        return self.p


def load_json(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    if isinstance(source, dict):
        return source
    if isinstance(source, bytes | bytearray):
        text = bytes(source).decode()
    else:
        with open(source) as f:
            text = f.read()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ProgramError("$", f"not JSON: {e}") from None
    except RecursionError:
        raise ProgramError("$", "not JSON a program can be: nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProgramError("$", "a BMv2 JSON program is an object")
    return raw


def compile_program(source: str | bytes | dict[str, Any]) -> Program:
    raw = load_json(source)
    for key in ("header_types", "headers", "parsers", "deparsers", "actions", "pipelines"):
        if key not in raw:
            raise ProgramError(key, "missing: not a BMv2 JSON program")
    compiler = _Compiler(raw)
    try:
        compiler.j = upgrade(raw)   # compiled in the current dialect; Program.raw stays as given
        return compiler.compile()
    except ProgramError:
        raise
    except RecursionError:
        raise ProgramError(compiler.at, "nested too deeply") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError,
            ZeroDivisionError) as e:
        raise ProgramError(compiler.at, f"malformed program ({type(e).__name__}: {e})") from None
