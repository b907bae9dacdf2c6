"""C code for one loaded program, generated from what the interpreter runs.

The input is engine.native_export(pipeline): the instruction array, constants, fields,
headers, parse graph and control graph exactly as the engine holds them. Each code block
(action, condition, parser state) becomes a C function: the interpreter's branch for each
instruction, with its operands (field offsets and masks, constants, registers, jump targets)
written in as constants, so the C compiler folds the field accesses of bits.h into single
loads and stores. Parser states become straight code with gotos between them, and both
controls one function walking the control graph. Each table's apply is generated too: its key
built with constant offsets and widths, the lookup of its match kind inlined (native_match.h;
ternary and range tables call the engine's), the action chosen by a switch on its id and the
next node a constant per action. Externs and the rest stay the engine's, called through the
callbacks of native_abi.h.

A block using an instruction this generator does not translate is left to the interpreter
(the native code calls it through the environment), so generated code is never wrong for lack
of a translation; `interpreted` lists those blocks with the opcode that kept each one out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from target.pipeline import constants as K
from target.pipeline.opcodes import OPCODES

OP = {name: i for i, (name, _doc) in enumerate(OPCODES)}
NAME = {i: name for name, i in OP.items()}
GENERATOR_VERSION = 5

ERR_PACKET_TOO_SHORT = 1
ERR_NO_MATCH = 2
ERR_STACK_OOB = 3
ERR_PARSER_TIMEOUT = 5
PARSER_MAX_STEPS = 10000
SHORT_BLOCK = 12        # instructions of a code block generated always-inline

ARITH = {"ADD": "+", "SUB": "-", "MUL": "*"}
BITWISE = {"AND": "&", "OR": "|", "XOR": "^"}
COMPARE = {"EQ": "==", "NE": "!=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
CMPFK_OPS = ["==", "!=", "<", "<=", ">", ">="]


class Unsupported(Exception):
    """The program cannot be translated at all (the whole program stays interpreted)."""


class _BlockUnsupported(Exception):
    pass


@dataclass
class Generated:
    source: str
    interpreted: list[tuple[int, str]] = field(default_factory=list)  # (pc, opcode name)


def u128(v: int) -> str:
    v &= (1 << 128) - 1
    if v < 1 << 63:
        return f"((kv_u128){v}ULL)"
    return f"((((kv_u128){v >> 64:#x}ULL) << 64) | (kv_u128){v & ((1 << 64) - 1):#x}ULL)"


def s128(v: int) -> str:
    if -(1 << 63) < v < 1 << 63:
        return f"((kv_s128){v}LL)"
    return f"((kv_s128){u128(v)})"


class Generator:
    def __init__(self, ex: dict[str, Any]) -> None:
        self.ex = ex
        self.code: list[tuple[int, int, int, int, int, int]] = ex["code"]
        self.consts: list[int] = ex["consts"]
        self.fields: list[tuple[int, ...]] = ex["fields"]
        self.headers: list[dict[str, int]] = ex["headers"]
        self.blocks: dict[int, str | None] = {}     # pc -> function name (None: interpreted)
        self.out: list[str] = []
        self.interpreted: list[tuple[int, str]] = []
        self.stack_tables: set[int] = set()     # stacks whose element tables the code indexes
        self.table_out: list[str] = []          # the tables' functions (after ACTIONS)
        self._rmw_words: set[int] | None = None

    # ------------------------------------------------------------------ operands
    def word(self, f: int) -> int | None:
        """The aligned 64-bit word of the packet state that holds all of field f (None: a
        field that is not narrow, or crosses a word boundary, or is not metadata). Only
        metadata: the deparser copies a header's bytes with 16-byte loads, which cannot take
        their data from an 8-byte store still in flight to part of them, and the word's
        read-modify-write made every header field write such a store (basic.p4 lost ~15 %
        of its rate when ipv4's TTL word was written whole)."""
        bitoff, width, _signed, varbit, hdr, narrow = self.fields[f][:6]
        if not narrow or varbit or bitoff // 64 != (bitoff + width - 1) // 64:
            return None
        if not self.headers[hdr].get("metadata", 0):
            return None
        return bitoff // 64

    def rmw_words(self) -> set[int]:
        """Words holding a field that is not whole bytes (written by a read-modify-write)."""
        if self._rmw_words is None:
            self._rmw_words = {w for f in range(len(self.fields))
                               if not self.fields[f][9] and (w := self.word(f)) is not None}
        return self._rmw_words

    def rd(self, f: int) -> str:
        bitoff, width, _signed, _varbit, _hdr, narrow, _shift, byte, _mask, whole = self.fields[f]
        if narrow and whole in (1, 2, 4, 8):
            # whole bytes at a byte boundary: a load of exactly their size
            return f"((kv_s128)kvn_load_be{8 * whole}(x->phv + {byte}))"
        w = self.word(f)
        if w is not None:
            # the field's aligned word, as wr() writes it (kvn_word_write says why)
            return (f"((kv_s128)kvn_word_read(x->phv + {8 * w}, {64 - bitoff % 64 - width}u, "
                    f"{(1 << width) - 1:#x}ULL))")
        return f"kv_field_read(&KF[{f}], x->phv, x->vlen)"

    def wr(self, f: int, v: str) -> str:
        bitoff, width = self.fields[f][:2]
        w = self.word(f)
        if w is not None and w in self.rmw_words():
            return (f"kvn_word_write(x->phv + {8 * w}, {64 - bitoff % 64 - width}u, "
                    f"{(1 << width) - 1:#x}ULL, (uint64_t)({v}));")
        return f"kv_field_write(&KF[{f}], x->phv, {v});"

    def k(self, i: int) -> str:
        return s128(self.consts[i])

    def set_valid(self, h: int) -> str:
        hd = self.headers[h]
        if hd["union_id"] >= 0:
            return f"env->set_valid(env->pl, wk, x, {h}u);"
        return (f"if (!x->valid[{h}]) {{ memset(x->phv + {hd['byteoff']}, 0, {hd['nbytes']}); "
                f"x->valid[{h}] = 1; }}")

    def copy_header(self, d: int, s: int) -> str:
        if d == s:
            return ";"
        return (f"{{ memmove(x->phv + {self.headers[d]['byteoff']}, x->phv + "
                f"{self.headers[s]['byteoff']}, {self.headers[d]['nbytes']}); "
                f"x->valid[{d}] = x->valid[{s}]; x->vlen[{d}] = x->vlen[{s}]; }}")

    def rd_last(self, sid: int, e: int) -> str:
        """Field e of stack sid's last extracted element (the stack is not empty)."""
        counter, hdrs = self.ex["stacks"][sid]
        self.stack_tables.add(sid)
        return (f"kv_field_read(&KF[SF{sid}[x->stack_next[{counter}] - 1] + {e}u], x->phv, "
                f"x->vlen)")

    @staticmethod
    def twice(ret: str, name: str, params: str, args: str, body: list[str]) -> list[str]:
        """A function the batch loop inlines (name_i) and its out-of-line entry point (name),
        which the engine's general path calls."""
        call = f"{name}_i({args});"
        return ([f"KVN_INLINE {ret} {name}_i({params}) {{"] + body + ["}", "",
                 f"static {ret} {name}({params}) {{",
                 f"    {call}" if ret == "void" else f"    return {call}", "}", ""])

    # ------------------------------------------------------------------ code blocks
    def reachable(self, pc: int) -> list[int]:
        seen: set[int] = set()
        todo = [pc]
        while todo:
            p = todo.pop()
            if p in seen or p >= len(self.code):
                continue
            seen.add(p)
            op, _a, _b, _c, d, _e = self.code[p]
            if op == OP["JMP"]:
                todo.append(d)
            elif op == OP["JZ"]:
                todo += [p + 1, d]
            elif op not in (OP["RET"], OP["EXIT"]):
                todo.append(p + 1)
        return sorted(seen)

    def insn(self, p: int) -> list[str]:
        op, a, b, c, d, e = self.code[p]
        n = NAME.get(op, str(op))
        ra, rb, rc = f"r{a}", f"r{b}", f"r{c}"
        fw = self.fields
        if n == "LDK":
            return [f"{ra} = {self.k(d)};"]
        if n == "LDF":
            return [f"{ra} = {self.rd(d)};"]
        if n == "LDP":
            return [f"{ra} = x->params[{d}];"]
        if n == "LDV":
            return [f"{ra} = x->valid[{d}];"]
        if n == "STF":
            return [self.wr(d, ra)]
        if n == "STFP":
            return [self.wr(d, f"x->params[{e}]")]
        if n == "STFK":
            return [self.wr(d, self.k(e))]
        if n == "CPF":
            if fw[d][5] and fw[e][5]:
                return [self.wr(d, self.rd(e))]
            w = f"x->vlen[{fw[e][4]}]" if fw[e][3] else f"{fw[d][1]}u"
            lines = [f"{{ uint32_t w = {w}; kv_bits_copy(x->phv, {fw[d][0]}u, x->phv, "
                     f"{fw[e][0]}u, w);"]
            if fw[d][3]:
                lines.append(f"  x->vlen[{fw[d][4]}] = w;")
            return lines + ["}"]
        if n == "FOPK":
            kv = self.k(b)
            expr = {0: f"(kv_s128)((kv_u128)va + (kv_u128){kv})",
                    1: f"(kv_s128)((kv_u128)va - (kv_u128){kv})",
                    2: f"va & {kv}", 3: f"va | {kv}"}.get(a, f"va ^ {kv}")
            return [f"{{ kv_s128 va = {self.rd(e)}; {self.wr(d, expr)} }}"]
        if n == "RET":
            return [f"return {ra};"]
        if n in ARITH:
            return [f"{ra} = (kv_s128)((kv_u128){rb} {ARITH[n]} (kv_u128){rc});"]
        if n == "DIV":
            return [f"{ra} = {rc} != 0 ? {rb} / {rc} : 0;"]
        if n == "MOD":
            return [f"{ra} = {rc} != 0 ? {rb} % {rc} : 0;"]
        if n == "SHL":
            return [f"{ra} = {rc} < 128 ? (kv_s128)((kv_u128){rb} << (uint32_t){rc}) : 0;"]
        if n == "SHR":
            return [f"if ({rc} >= 128) {ra} = {rb} < 0 ? -1 : 0; "
                    f"else {ra} = {rb} >> (uint32_t){rc};"]
        if n in BITWISE:
            return [f"{ra} = {rb} {BITWISE[n]} {rc};"]
        if n == "CMPFK":
            if b > 5:
                return [f"{ra} = {self.rd(d)} >= {self.k(e)};"]
            return [f"{ra} = {self.rd(d)} {CMPFK_OPS[b]} {self.k(e)};"]
        if n in COMPARE:
            return [f"{ra} = {rb} {COMPARE[n]} {rc};"]
        if n == "LAND":
            return [f"{ra} = ({rb} != 0) && ({rc} != 0);"]
        if n == "LOR":
            return [f"{ra} = ({rb} != 0) || ({rc} != 0);"]
        if n == "LNOT":
            return [f"{ra} = {rb} == 0;"]
        if n == "BNOT":
            return [f"{ra} = ~{rb};"]
        if n == "NEG":
            return [f"{ra} = (kv_s128)(0 - (kv_u128){rb});"]
        if n == "MASK":
            return [f"{ra} = (kv_s128)((kv_u128){rb} & kv_mask128({d}u));"]
        if n == "SEXT":
            return [f"{ra} = kv_sext((kv_u128){rb}, {d}u);"]
        if n == "USAT":
            return [f"{{ kv_s128 va = {rb}, vb = (kv_s128)kv_mask128({d}u); "
                    f"{ra} = va < 0 ? 0 : (va > vb ? vb : va); }}"]
        if n == "SSAT":
            return [f"{{ kv_s128 va = {rb}, vb = (kv_s128)kv_mask128({d}u - 1); "
                    f"{ra} = va < -vb - 1 ? -vb - 1 : (va > vb ? vb : va); }}"]
        if n == "SEL":
            return [f"{ra} = {rb} != 0 ? {rc} : r{d};"]
        if n == "MOV":
            return [f"{ra} = {rb};"]
        if n == "JMP":
            return [f"goto L{d};"]
        if n == "JZ":
            return [f"if ({ra} == 0) goto L{d};"]
        if n == "LDVU":
            members = self.ex["unions"][d]
            any_valid = " | ".join(f"x->valid[{m}]" for m in members) or "0"
            return [f"{ra} = ({any_valid}) ? 1 : 0;"]
        if n == "LDLA":
            return [f"{ra} = env->lookahead(env->pl, wk, x, {e}u, {d}u);",
                    "if (x->error != 0) return 0;"]
        if n in ("LDLAST", "LDLASTIDX"):
            counter, hdrs = self.ex["stacks"][d]
            lines = [f"if (x->stack_next[{counter}] == 0) "
                     f"{{ x->error = {ERR_STACK_OOB}; return 0; }}"]
            if n == "LDLASTIDX":
                return lines + [f"{ra} = x->stack_next[{counter}] - 1;"]
            return lines + [f"{ra} = {self.rd_last(d, e)};"]
        if n == "LDSIZE":
            return [f"{ra} = x->stack_next[{self.ex['stacks'][d][0]}];"]
        if n in ("LDFDYN", "LDVDYN", "STFDYN", "SETVALIDDYN"):
            size = len(self.ex["stacks"][d][1])
            self.stack_tables.add(d)
            ok = f"{rb} >= 0 && {rb} < {size}"
            elem = f"(uint32_t){rb}"
            if n == "LDFDYN":
                return [f"{ra} = ({ok}) ? kv_field_read(&KF[SF{d}[{elem}] + {e}u], x->phv, "
                        f"x->vlen) : 0;"]
            if n == "LDVDYN":
                return [f"{ra} = ({ok}) ? x->valid[SH{d}[{elem}]] : 0;"]
            if n == "STFDYN":
                return [f"if ({ok}) kv_field_write(&KF[SF{d}[{elem}] + {e}u], x->phv, {ra});"]
            if a:
                return [f"if ({ok}) env->set_valid(env->pl, wk, x, SH{d}[{elem}]);"]
            return [f"if ({ok}) x->valid[SH{d}[{elem}]] = 0;"]
        if n in ("PUSH", "POP"):
            return [f"env->stack_shift(env->pl, wk, x, {d}u, {e}u, {int(n == 'PUSH')});"]
        if n == "HCOPYDYN":
            size = len(self.ex["stacks"][d][1])
            self.stack_tables.add(d)
            h = f"SH{d}[(uint32_t){rb}]"
            pair = f"{h}, {e}u" if a == 0 else f"{e}u, {h}"
            return [f"if ({rb} >= 0 && {rb} < {size}) "
                    f"env->copy_header(env->pl, wk, x, {pair});"]
        if n == "STKCOPY":
            dc, dh = self.ex["stacks"][d]
            sc, sh = self.ex["stacks"][e]
            return ([self.copy_header(hd, hs) for hd, hs in zip(dh, sh, strict=False)]
                    + [f"x->stack_next[{dc}] = x->stack_next[{sc}];"])
        if n in ("SETVALID", "SETUNION"):
            return [self.set_valid(d)]
        if n == "SETINVALID":
            return [f"x->valid[{d}] = 0;"]
        if n == "HCOPY":
            return [self.copy_header(d, e)]
        if n == "HCOPYSEL":
            return [f"if ({ra} != 0) {self.copy_header(d, e)} else {self.copy_header(d, b)}"]
        if n == "DROP":
            if self.ex["f_egress_spec"] < 0 or self.ex["f_mcast_grp"] < 0:
                raise _BlockUnsupported(n)
            return [self.wr(self.ex["f_egress_spec"], s128(self.ex["drop_port"])),
                    self.wr(self.ex["f_mcast_grp"], s128(0))]
        if n == "EXIT":
            return ["x->exit_flag = 1;", "return r0;"]
        if n == "COUNT":
            size = self.ex["counter_sizes"][d]
            return [f"kvn_counter_count(((kvn_worker_t *)wk)->counter_cells[{d}], {size}u, "
                    f"{ra}, x);"]
        if n == "METER":
            return [f"env->meter(env->pl, x, {d}u, {ra}, {e}u);"]
        if n == "REGRD":
            return [f"env->reg_read(env->pl, x, {d}u, {ra}, {e}u);"]
        if n == "REGWR":
            return [f"env->reg_write(env->pl, {d}u, {ra}, {rb});"]
        if n in ("CLONE_I2E", "CLONE_E2E"):
            return [f"x->clone_session = (int32_t){ra}; x->clone_fl = {d}; x->clone_set = 1;"]
        if n == "RESUBMIT":
            return [f"x->resubmit_fl = {d};"]
        if n == "RECIRC":
            return [f"x->recirc_fl = {d};"]
        if n == "DIGEST":
            return [f"x->digest_id = {d};"]
        if n == "HASH":
            return [f"{{ uint64_t hv = env->calc(env->pl, wk, x, {d}u);",
                    f"  if ({rb} != 0) {self.wr(e, f'{ra} + (kv_s128)(hv % (uint64_t){rb})')}",
                    f"  else {self.wr(e, ra)} }}"]
        if n == "RANDOM":
            return [f"{{ kv_s128 va = {ra}, vb = {rb}; if (vb >= va) "
                    + self.wr(e, "va + (kv_s128)(env->random(env->pl, wk) % "
                                 "(uint64_t)(vb - va + 1))") + " }"]
        if n == "TRUNCATE":
            return [f"x->truncate_len = (int32_t){ra};"]
        if n == "LOG":
            return [";"]        # native code runs only while the per-packet log is off
        if n == "ASSERT":
            return [f"if ({ra} == 0) {{ x->failed = 1; env->assert_failed(wk); return r0; }}"]
        if n == "STVL":
            return [f"{{ uint32_t w = x->vlen[{fw[e][4]}]; kv_bits_copy(x->phv, {fw[d][0]}u, "
                    f"x->phv, {fw[e][0]}u, w); x->vlen[{fw[d][4]}] = w; }}"]
        if n == "EXTRACT":
            return [f"if (!env->extract(env->pl, wk, x, {d}u, 0)) return r0;"]
        if n == "EXTRACT_VL":
            return [f"if (!env->extract(env->pl, wk, x, {d}u, {ra})) return r0;"]
        if n == "EXTRACT_NEXT":
            return [f"if (!env->extract_next(env->pl, wk, x, {d}u, 0)) return r0;"]
        if n == "EXTRACT_NEXT_VL":
            return [f"if (!env->extract_next(env->pl, wk, x, {d}u, {ra})) return r0;"]
        if n == "VERIFY":
            return [f"if ({ra} == 0) {{ x->error = (int32_t){rb}; return r0; }}"]
        if n == "ADVANCE":
            return [f"{{ kv_s128 va = {ra} + x->cursor_bits;",
                    "  if (va < 0 || x->pkt == NULL || x->cursor + (uint32_t)(va / 8) > x->pkt->len)"
                    f" {{ x->error = {ERR_PACKET_TOO_SHORT}; return r0; }}",
                    "  x->cursor += (uint32_t)(va / 8); x->cursor_bits = (uint32_t)(va % 8); }"]
        raise _BlockUnsupported(n)

    def block(self, pc: int) -> str | None:
        """The function running the code block at pc (None: the interpreter runs it)."""
        if pc in self.blocks:
            return self.blocks[pc]
        name = f"blk_{pc}"
        try:
            body: list[str] = []
            pcs = self.reachable(pc)
            targets = {self.code[p][4] for p in pcs if self.code[p][0] in (OP["JMP"], OP["JZ"])}
            for p in pcs:
                if p in targets:
                    body.append(f" L{p}:")
                body += ["    " + line for line in self.insn(p)]
        except _BlockUnsupported as exc:
            self.interpreted.append((pc, str(exc)))
            self.blocks[pc] = None
            return None
        regs = sorted({int(m) for m in re.findall(r"\br(\d+)\b", "\n".join(body))} | {0})
        # a short block (most actions and conditions) is inlined where it is called: the call
        # costs as much as its body, and the caller's constants fold into it
        kind = "KVN_INLINE" if len(pcs) <= SHORT_BLOCK else "static"
        self.out.append(f"{kind} kv_s128 {name}(const kvn_env_t *env, void *wk, kvn_ctx_t *x) {{")
        self.out.append("    kv_s128 " + ", ".join(f"r{r} = 0" for r in regs) + ";")
        self.out += body
        self.out.append("}")
        self.out.append("")
        self.blocks[pc] = name
        return name

    def call_block(self, pc: int) -> str:
        name = self.block(pc)
        if name is None:
            return f"env->exec_code(env->pl, wk, x, {pc}u)"
        return f"{name}(env, wk, x)"

    # ------------------------------------------------------------------ parser
    def keycode(self, pc: int) -> list[str]:
        """The transition key code into r[] (the interpreter's exec_code_into subset)."""
        lines = []
        while True:
            op, a, _b, _c, d, e = self.code[pc]
            pc += 1
            if op == OP["RET"]:
                return lines
            if op == OP["LDF"]:
                lines.append(f"r[{a}] = {self.rd(d)};")
            elif op == OP["LDK"]:
                lines.append(f"r[{a}] = {self.k(d)};")
            elif op == OP["LDV"]:
                lines.append(f"r[{a}] = x->valid[{d}];")
            elif op == OP["LDLA"]:
                lines.append(f"r[{a}] = env->lookahead(env->pl, wk, x, {e}u, {d}u);")
            elif op == OP["LDLAST"]:
                counter = self.ex["stacks"][d][0]
                lines.append(f"if (x->stack_next[{counter}] == 0) "
                             f"{{ x->error = {ERR_STACK_OOB}; r[{a}] = 0; }}")
                lines.append(f"else r[{a}] = {self.rd_last(d, e)};")
            # any other instruction: skipped, as exec_code_into skips it

    def parser(self) -> None:
        states = self.ex["pstates"]
        body = []
        for i, st in enumerate(states):
            body.append(f" S{i}:")
            body.append(f"    if (++steps > {PARSER_MAX_STEPS}) "
                        f"{{ x->error = {ERR_PARSER_TIMEOUT}; return; }}")
            h = st["simple_hdr"]
            if h >= 0:
                hd = self.headers[h]
                nb = hd["fixed_bits"] >> 3
                body += [f"    if (x->cursor + {nb}u > x->pkt->len) "
                         f"{{ x->error = {ERR_PACKET_TOO_SHORT}; return; }}",
                         f"    kv_copy_small(x->phv + {hd['byteoff']}, x->pkt->data + x->cursor, "
                         f"{nb});",
                         f"    x->cursor += {nb}u;",
                         f"    x->valid[{h}] = 1;"]
            else:
                body += [f"    {self.call_block(st['code'])};",
                         "    if (x->error != 0) return;"]
            comps = st["comps"]
            bits = sum(((w + 7) // 8) * 8 for _r, w in comps)
            if st["key_field"] >= 0:
                w = comps[0][1]
                body.append(f"    key = (kv_u128){self.rd(st['key_field'])} & kv_mask128({w}u);")
            elif comps:
                body.append("    {")
                body.append(f"      kv_s128 r[{K.NREGS}];")
                body += ["      " + line for line in self.keycode(st["keycode"])]
                parts = []
                for reg, w in comps:
                    nbits = ((w + 7) // 8) * 8
                    parts.append((nbits, f"((kv_u128)r[{reg}] & kv_mask128({w}u))"))
                expr = "(kv_u128)0"
                for nbits, p in parts:
                    expr = f"(({expr} << {nbits}) | {p})" if nbits < 128 else p
                body.append(f"      key = {expr};")
                body.append("      if (x->error != 0) return;")
                body.append("    }")
            else:
                body.append("    key = 0;")
            del bits
            for kind, nxt, value, mask, vset in st["trans"]:
                go = "return;" if nxt < 0 else f"goto S{nxt};"
                if kind == K.TRANS_DEFAULT:
                    body.append(f"    {go}")
                    break
                if kind == K.TRANS_VALUE:
                    body.append(f"    if ((key & {u128(mask)}) == {u128(value)}) {go}")
                else:
                    body.append(f"    if (env->vset_match(env->pl, {vset}u, key, {u128(mask)})) "
                                f"{go}")
            else:
                body.append(f"    x->error = {ERR_NO_MATCH}; return;")
        init = self.ex["parser_init"]
        self.out += self.twice("void", "kvn_parser", "const kvn_env_t *env, void *wk, void *xv",
                               "env, wk, xv",
                               ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                                "    uint32_t steps = 0;",
                                "    kv_u128 key;",
                                "    (void)key; (void)steps;",
                                "    return;" if init < 0 else f"    goto S{init};"] + body)

    # ------------------------------------------------------------------ controls
    def may_stop(self, pc: int) -> bool:
        """Whether the code block at pc can end its control (exit, or a failed assert)."""
        if self.block(pc) is None:
            return True         # the interpreter runs it: anything goes
        return any(self.code[p][0] in (OP["EXIT"], OP["ASSERT"]) for p in self.reachable(pc))

    def run_action(self, pc: int) -> list[str]:
        """An action's block, then the end of the control if it exited or failed."""
        lines = [f"{self.call_block(pc)};"]
        if self.may_stop(pc):
            lines.append("if (x->exit_flag || x->failed) return -1;")
        return lines

    def reach_nodes(self, start: int) -> list[int]:
        """The control graph's nodes reachable from start."""
        nodes, tables = self.ex["nodes"], self.ex["tables"]
        seen: set[int] = set()
        todo = [start]
        while todo:
            i = todo.pop()
            if i < 0 or i in seen:
                continue
            seen.add(i)
            kind, a, b, c = nodes[i]
            if kind == K.NODE_COND:
                todo += [b, c]
            elif kind == K.NODE_TABLE:
                t = tables[a]
                todo += [t["base_next"], t["hit_next"], t["miss_next"]]
                todo += [t["next_by_action"][act] for act in t["actions"]]
                if t["indirect"]:
                    todo += t["next_by_action"]
            else:
                todo.append(b)
        return sorted(seen)

    def run_nodes(self, which: list[int], dynamic: str) -> list[str]:
        """The nodes `which` to the end of their control, each table's lookup and finish in
        place and the next node a goto; `dynamic` continues from `node` when only the engine's
        table knows the next node (an action outside the table's list, an indirect table)."""
        nodes = self.ex["nodes"]

        def go(n: int) -> str:
            return "return -1;" if n < 0 else f"goto N{n};"

        run = []
        for i in which:
            kind, a, b, c = nodes[i]
            run.append(f" N{i}:")
            if kind == K.NODE_COND:
                run.append(f"    if ({self.call_block(a)} != 0) {go(b)} else {go(c)}")
            elif kind == K.NODE_TABLE and self.ex["tables"][a]["indirect"]:
                run += [f"    node = env->table_finish(env->pl, wk, x, {a}u, tlook_{a}(env, wk, x));",
                        "    if (x->exit_flag || x->failed) return -1;",
                        f"    {dynamic}"]
            elif kind == K.NODE_TABLE:
                body = self.finish_body(a, self.ex["tables"][a], go,
                                        f"node = t->next_by_action[act]; {dynamic}", True)
                run += ["    {"] + ["        " + line for line in body] + ["    }"]
            else:
                run.append("    x->params = NULL;")
                run += ["    " + line for line in self.run_action(self.ex["actions"][a])]
                run.append(f"    {go(b)}")
        return run

    def control(self) -> None:
        """The controls' graph: kvn_control_stop, conditions only, returning the first table
        or action-call node; kvn_control_run from any node to the end of its control; and
        the egress control again from its start, inlined into the egress pass. The exit
        check follows the actions that can exit (as run_control: conditions cannot)."""
        nodes = self.ex["nodes"]
        cases = " ".join(f"case {i}: goto N{i};" for i in range(len(nodes)))

        def go(n: int) -> str:
            return "return -1;" if n < 0 else f"goto N{n};"

        stop = []
        for i, (kind, a, b, c) in enumerate(nodes):
            stop.append(f" N{i}:")
            if kind == K.NODE_COND:
                stop.append(f"    if ({self.call_block(a)} != 0) {go(b)} else {go(c)}")
            else:
                stop.append(f"    return {i};")
        head = ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;", "    (void)x;", " dispatch:",
                f"    switch (node) {{ {cases} default: return -1; }}"]
        self.out += ["static int32_t kvn_control_stop(const kvn_env_t *env, void *wk, void *xv, "
                     "int32_t node) {"] + head + stop + ["}", ""]
        # kvn_control_run_i is inlined into kvn_finish_i, so that the batch loop continues
        # from the first table into the rest of ingress without a call (its prologue, the
        # callee-saved registers and the epilogue cost about 30 instructions per packet)
        self.out += self.twice("int32_t", "kvn_control_run",
                               "const kvn_env_t *env, void *wk, void *xv, int32_t node",
                               "env, wk, xv, node",
                               ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                                "    if (x->exit_flag || x->failed) return -1;"] + head[2:]
                               + self.run_nodes(list(range(len(nodes))), "goto dispatch;"))
        self.out += ["static int32_t kvn_control(const kvn_env_t *env, void *wk, void *xv, "
                     "int32_t node, int stop) {",
                     "    return stop ? kvn_control_stop(env, wk, xv, node) "
                     ": kvn_control_run(env, wk, xv, node);",
                     "}", ""]
        init = self.ex["egress_init"]
        if init >= 0:
            self.out += ["KVN_INLINE int32_t kvn_control_egress(const kvn_env_t *env, void *wk, "
                         "kvn_ctx_t *x) {",
                         "    int32_t node;",
                         "    (void)node;",
                         "    if (x->exit_flag || x->failed) return -1;",
                         f"    goto N{init};"] + self.run_nodes(
                             self.reach_nodes(init),
                             "return kvn_control_run(env, wk, x, node);") + ["}", ""]

    # ------------------------------------------------------------------ tables
    def table_key(self, t: dict[str, Any]) -> list[str]:
        """Build the table's key bytes as the engine's table_lookup does, with constants."""
        kb = t["key_bytes"]
        keys = t["keys"]

        def stored(width: int, nbytes: int, is_valid: int) -> bool:
            # written whole as a big-endian integer of nbytes: the value masked to its width
            # leaves the pad bits above it zero, as clearing the key first would
            return is_valid == 0 and width <= 64 and nbytes <= 8
        # the key's every byte written by its fields: no clearing first (the lookups read
        # exactly key_bytes)
        covered = (sum(k[2] for k in keys) == kb
                   and all(stored(k[1], k[2], k[4]) or (k[4] and k[2] == 1) for k in keys))
        lines = [f"uint8_t key[{kb + 32}] __attribute__((aligned(8)));"]
        if not covered:
            lines.append(f"memset(key, 0, {kb + 16});")
        for src, width, nbytes, off, is_valid, has_mask, whole, mask in keys:
            if is_valid:
                lines.append(f"key[{off}] = x->valid[{src}];")
            elif whole:
                lines.append(f"kv_store_be_bytes(key + {off}, (uint64_t){self.rd(src)}, "
                             f"{nbytes});")
            elif stored(width, nbytes, is_valid):
                m = (1 << width) - 1
                if has_mask:
                    m &= mask
                lines.append(f"kv_store_be_bytes(key + {off}, (uint64_t){self.rd(src)} & "
                             f"{m:#x}ULL, {nbytes});")
            elif width <= 128:
                value = f"(kv_u128){self.rd(src)} & kv_mask128({width}u)"
                if has_mask:
                    value = f"({value}) & {u128(mask)}"
                lines.append(f"kv_bits_write(key, {off * 8 + nbytes * 8 - width}u, {width}u, "
                             f"{value});")
            else:
                lines.append(f"kv_bits_copy(key, {off * 8 + nbytes * 8 - width}u, x->phv, "
                             f"{self.fields[src][0]}u, {width}u);")
        return lines

    def table_lookup(self, ti: int, t: dict[str, Any]) -> list[str]:
        """The entry id table ti's lookup finds (-1: miss)."""
        kind, kb = t["kind"], t["key_bytes"]
        head = [f"static int64_t tlook_{ti}(const kvn_env_t *env, void *wk, kvn_ctx_t *x) {{",
                f"    const kvn_table_t *t = &((kvn_worker_t *)wk)->st->tables[{ti}];",
                "    (void)env; (void)t;"]
        if self.entryless(t):
            body = ["return -1;"]
        elif kind == K.TBL_KEYLESS:
            # its one possible entry, id 0, when the control plane set it (target/entries.py)
            body = ["return t->entry_rec[0] != 0xFFFFFFFFu ? 0 : -1;"]
        elif kind == K.TBL_LPM24:
            # the address alone: its tbl24 entry was prefetched after parsing (run_batch)
            body = [f"return kvn_dir24_lookup((const kvn_dir24_t *)t->matcher, "
                    f"(uint32_t){self.rd(t['keys'][0][0])});"]
        elif kind == K.TBL_EXACT:
            # an empty table (often: a router's own addresses, an ACL) misses without a key
            body = ["if (((const kvn_exact_t *)t->matcher)->count == 0) return -1;"]
            body += self.table_key(t) + [
                f"return kvn_exact_lookup((const kvn_exact_t *)t->matcher, key, {kb}u);"]
        elif kind == K.TBL_LPM:
            body = self.table_key(t) + [
                f"return kvn_lpm_lookup((const kvn_lpm_t *)t->matcher, key, {kb}u);"]
        else:
            body = self.table_key(t) + ["return env->ternary_lookup(t->matcher, key);"]
        return head + ["    " + line for line in body] + ["}", ""]

    @staticmethod
    def entryless(t: dict[str, Any]) -> bool:
        """A keyless table with a const default (p4c's action-call tables): it never holds an
        entry (target/entries.py refuses them), so it has no lookup and no hit path."""
        return t["kind"] == K.TBL_KEYLESS and bool(t["default_const"])

    def const_default(self, t: dict[str, Any]) -> bool:
        """A default action the control plane cannot change (the program says const): the
        miss path calls it with its parameters as constants instead of reading them."""
        return bool(t["default_const"]) and 0 <= t["default_action"] < len(self.ex["actions"])

    def finish_body(self, ti: int, t: dict[str, Any], go: Any, go_dynamic: str,
                    inline_lookup: bool) -> list[str]:
        """Table ti applied: its lookup (or the entry id e given), statistics, direct counter
        and meter, the action by a switch on its id (its parameters at constant offsets of
        the record), then go(next node), a constant per action (go_dynamic: an action
        outside the table's list, whose next node only the engine's table knows)."""
        keyless = self.entryless(t)
        acts = self.ex["actions"]

        def nxt(act: int | None, hit: bool) -> int | None:
            if t["has_hit_miss"]:
                return t["hit_next"] if hit else t["miss_next"]
            if act is None:
                return None
            return t["base_next"] if act < 0 else t["next_by_action"][act]

        def switch(hit: bool) -> list[str]:
            lines = ["switch (act) {"]
            for act in dict.fromkeys(t["actions"]):
                lines += [f"case {act}:", "    x->params = (kv_s128 *)params;"]
                lines += ["    " + line for line in self.run_action(acts[act])]
                lines.append("    " + go(nxt(act, hit)))
            dyn = nxt(None, hit)
            lines += ["default:",
                      f"    if (act < 0) {go(nxt(-1, hit))}",
                      "    x->params = (kv_s128 *)params;",
                      "    kvn_any_action(env, wk, x, act);",
                      "    if (x->exit_flag || x->failed) return -1;",
                      "    " + (go(dyn) if dyn is not None else go_dynamic),
                      "}"]
            return lines

        body = [f"const kvn_table_t *t = &((kvn_worker_t *)wk)->st->tables[{ti}];",
                f"uint64_t *stats = ((kvn_worker_t *)wk)->table_stats + {2 * ti};",
                "const kv_s128 *params;",
                "int32_t act;",
                "(void)t; (void)params; (void)act;"]
        if inline_lookup and not keyless:
            body.append(f"int64_t e = tlook_{ti}_i(env, wk, x);")
        if not keyless:
            body += ["if (e >= 0) {",
                     "    stats[0] += 1;",
                     "    if (t->entry_last_hit != NULL) t->entry_last_hit[e] = x->now_ns;",
                     f"    params = &t->recs[(size_t)t->entry_rec[e] * {t['rec_stride']}u];",
                     "    act = (int32_t)params[0];",
                     "    params += 1;"]
            if t["with_counters"]:
                # the worker's own cells (counters.pxi)
                body += [f"    {{ uint64_t *dc = ((kvn_worker_t *)wk)->entry_cells[{ti}] + 2 * e;",
                         "      kvn_count_own(dc, 1);",
                         "      kvn_count_own(dc + 1, x->pkt != NULL ? x->pkt->len : 0); }"]
            if t["direct_meter"] >= 0:
                body.append(f"    env->direct_meter(env->pl, x, {ti}u, e);")
            body += ["    " + line for line in switch(True)]
            body.append("}")
        body.append("stats[1] += 1;")
        if self.const_default(t):
            da = t["default_action"]
            if t["default_params"]:
                body.append(f"x->params = (kv_s128 *)DEFAULT_{ti};")
            body += self.run_action(acts[da])
            body.append(go(nxt(da, False)))
        else:
            body += ["act = t->default_action;", "params = t->default_params;"] + switch(False)
        return body

    def table_finish(self, ti: int, t: dict[str, Any]) -> list[str]:
        """tfin_N: table ti applied with entry e (the batch loop looked it up): returns the
        next node."""
        head = [f"static int32_t tfin_{ti}(const kvn_env_t *env, void *wk, kvn_ctx_t *x, "
                "int64_t e) {"]
        if t["indirect"]:
            # action profiles and selectors: member and group resolution stay the engine's
            return head + [f"    return env->table_finish(env->pl, wk, x, {ti}u, e);", "}", ""]
        body = self.finish_body(ti, t, lambda n: f"return {n};", "return t->next_by_action[act];",
                                False)
        if self.entryless(t):
            body.insert(0, "(void)e;")
        return head + ["    " + line for line in body] + ["}", ""]

    def default_params(self) -> list[str]:
        """The parameters of each const default action, as the engine stores them."""
        lines = []
        for ti, t in enumerate(self.ex["tables"]):
            if self.const_default(t) and t["default_params"]:
                vals = ", ".join(s128(v & ((1 << 128) - 1)) for v in t["default_params"])
                lines.append(f"static const kv_s128 DEFAULT_{ti}[] = {{{vals}}};")
        return lines

    def tables(self) -> None:
        """Every table's lookup and finish, and the program's entry points over them."""
        tables = self.ex["tables"]
        out = self.table_out
        for ti, t in enumerate(tables):
            out += self.inlined(self.table_lookup(ti, t), "env, wk, x")
            out += self.inlined(self.table_finish(ti, t), "env, wk, x, e")
        look = " ".join(f"case {i}: return tlook_{i}(env, wk, x);" for i in range(len(tables)))
        fin = " ".join(f"case {i}: return tfin_{i}(env, wk, x, e);" for i in range(len(tables)))
        out += ["static int64_t kvn_table_lookup(const kvn_env_t *env, void *wk, void *xv, "
                "uint32_t ti) {",
                "    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                "    (void)x;",
                f"    switch (ti) {{ {look} default: return -1; }}",
                "}",
                "",
                "static int32_t kvn_table_finish(const kvn_env_t *env, void *wk, void *xv, "
                "uint32_t ti, int64_t e) {",
                "    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                "    (void)x;",
                f"    switch (ti) {{ {fin} default: return -1; }}",
                "}",
                ""]

    def inlined(self, fn: list[str], args: str) -> list[str]:
        """A table function (`static T name(...) {` ... `}`) as name_i, which the batch loop
        inlines, and name calling it."""
        m = re.match(r"static (\w+) (\w+)\((.*)\) \{$", fn[0])
        assert m is not None, fn[0]
        ret, name, params = m.groups()
        return self.twice(ret, name, params, args, fn[1:-2])

    def table_protos(self) -> list[str]:
        protos = []
        for ti in range(len(self.ex["tables"])):
            protos += [f"static int64_t tlook_{ti}(const kvn_env_t *env, void *wk, kvn_ctx_t *x);",
                       f"KVN_INLINE int64_t tlook_{ti}_i(const kvn_env_t *env, void *wk, "
                       "kvn_ctx_t *x);",
                       f"static int32_t tfin_{ti}(const kvn_env_t *env, void *wk, kvn_ctx_t *x, "
                       "int64_t e);"]
        return protos

    # ------------------------------------------------------------------ v1model passes
    def metadata(self, name: str, value: str) -> list[str]:
        f = self.ex[name]
        return [f"    {self.wr(f, value)}"] if f >= 0 else []

    def passes(self) -> None:
        ex = self.ex
        body = ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                f"    if (!preserved) {self.wr(ex['f_ingress_port'], '(kv_s128)port')}"]
        if ex["f_instance_type"] >= 0:
            body.append(f"    if (instance) {self.wr(ex['f_instance_type'], '(kv_s128)instance')}")
        body += self.metadata("f_packet_length", "(kv_s128)plen")
        body += self.metadata("f_ingress_ts", "(kv_s128)(x->now_ns / 1000)")
        body += ["    kvn_parser_i(env, wk, x);"]
        self.out += self.twice("void", "kvn_ingress",
                               "const kvn_env_t *env, void *wk, void *xv, uint32_t port, "
                               "uint32_t instance, uint32_t plen, int preserved",
                               "env, wk, xv, port, instance, plen, preserved", body)
        body = ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;"]
        body += self.metadata("f_egress_port", "(kv_s128)port")
        # as simple_switch: anything but the drop port (cut to the field's width)
        body += self.metadata("f_egress_spec", s128(ex["drop_port"] + 1))
        body += self.metadata("f_packet_length", "(kv_s128)plen")
        body += self.metadata("f_egress_ts", "(kv_s128)(x->now_ns / 1000)")
        if ex["egress_init"] >= 0:
            body.append("    kvn_control_egress(env, wk, x);")
        self.out += self.twice("void", "kvn_egress",
                               "const kvn_env_t *env, void *wk, void *xv, uint32_t port, "
                               "uint32_t plen", "env, wk, xv, port, plen", body)
        # checksum updates, then the deparser writing the valid headers back to front in
        # front of the payload (v1model.pxi's update_checksums and deparse)
        body = []
        for c in ex["cksums"]:
            if not c["update"]:
                continue
            lines = []
            t = c["target"]
            if c["span_len"]:
                lines += self.span_checksum(c)
            elif c["csum_direct"]:
                terms = " + ".join(f"kv_sum_be16(x->phv + {b >> 3}, {w >> 3})"
                                   for b, w in c["segs"]) or "0"
                lines.append(self.wr(t, f"(kv_s128)kv_csum_fold({terms})"))
            else:
                lines.append(self.wr(t, f"(kv_s128)env->calc(env->pl, wk, x, {c['calc']}u)"))
            if c["cond"] >= 0:
                body.append(f"    if ({self.call_block(c['cond'])} != 0) {{")
                body += ["        " + line for line in lines]
                body.append("    }")
            else:
                body += ["    " + line for line in lines]
        body += ["    kvn_pkt_t *p = x->pkt;",
                 "    if (x->cursor > p->len) x->cursor = p->len;",
                 "    uint8_t *end = p->data + x->cursor, *start = end;",
                 "    uint32_t nb;"]
        for h in reversed(ex["deparser"]):
            hd = self.headers[h]
            nb = f"{hd['fixed_bits'] >> 3}u"
            if hd["varbit_max"]:
                nb = f"({hd['fixed_bits']}u + x->vlen[{h}]) >> 3"
            body += [f"    if (x->valid[{h}]) {{",
                     f"        nb = {nb};",
                     "        if (start - nb < p->buf) return env->deparse_moving(env->pl, wk, x);",
                     "        start -= nb;",
                     f"        kv_copy_small(start, x->phv + {hd['byteoff']}, nb);",
                     "    }"]
        body += ["    uint32_t hlen = (uint32_t)(end - start);",
                 "    p->len = hlen + (p->len - x->cursor);",
                 "    p->data = start;",
                 "    x->cursor = hlen;"]
        if any(insn[0] == OP["TRUNCATE"] for insn in self.code):
            # (without a truncate() in the program truncate_len stays 0)
            body.append("    if (x->truncate_len > 0 && (uint32_t)x->truncate_len < p->len) "
                        "p->len = (uint32_t)x->truncate_len;")
        body.append("    return 1;")
        self.out += self.twice("int", "kvn_emit", "const kvn_env_t *env, void *wk, void *xv",
                               "env, wk, xv", ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;"] + body)

    def span_checksum(self, c: dict[str, Any]) -> list[str]:
        """An update checksum over one contiguous span of header bytes that holds its 16-bit
        target (engine.pyx's _set_cksum): the sum of the span less the target's old value,
        folded. On a little-endian machine the sum is taken in the machine's byte order,
        without swapping each word: the ones' complement sum of byte-swapped words is the
        byte-swapped sum (RFC 1071, 2.B), so the folded result is stored as it is. Words are
        summed 32 bits at a time from the span's start (kv_sum_be16's grouping), so the old
        value counts as the high half of its 32-bit word or as itself, by its offset."""
        t, start, length = c["target"], c["span_byte"], c["span_len"]
        be = [f"{{ uint64_t old = (uint64_t){self.rd(t)};",
              "  " + self.wr(t, f"(kv_s128)kv_csum_fold(kv_sum_be16(x->phv + {start}, {length}) "
                                f"- (old << {c['span_target_shift']}))") + " }"]
        at = self.fields[t][0] >> 3
        off = at - start
        # in the machine's order a word's high half is at offset 2 of its 4 bytes (a final
        # lone 16-bit word is at offset 0 of its 4)
        shift = 16 if off % 4 == 2 else 0
        native = [f"{{ uint16_t old, sum; memcpy(&old, x->phv + {at}, 2);",
                  f"  sum = (uint16_t)kv_csum_fold(kv_sum_ne16(x->phv + {start}, {length}) - "
                  f"((uint64_t)old << {shift}));",
                  f"  memcpy(x->phv + {at}, &sum, 2); }}"]
        return (["#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__"] + native + ["#else"] + be
                + ["#endif"])

    # ------------------------------------------------------------------ traffic manager
    # Opcodes whose effects only the engine's general traffic manager carries out (clone
    # sessions, job queue passes, digests): a program using any of them gets no kvn_finish.
    GENERAL_TM_OPS = ("CLONE_I2E", "CLONE_E2E", "RESUBMIT", "RECIRC", "DIGEST")

    def finish(self) -> bool:
        """kvn_finish: after the ingress control of a received packet, the traffic manager's
        unicast case and the egress pass in the packet's own slot, exactly as v1model.pxi's
        ingress_end, do_egress and egress_end run them when nothing is queued, for a program
        without clone, resubmit, recirculate or digest (False: none generated)."""
        ex = self.ex
        ops = {OP[n] for n in self.GENERAL_TM_OPS}
        if any(insn[0] in ops for insn in self.code):
            return False
        if ex["f_egress_spec"] < 0 or ex["f_mcast_grp"] < 0:
            return False
        has_assert = any(insn[0] == OP["ASSERT"] for insn in self.code)
        body = ["    x->exit_flag = 0;"]
        if has_assert:
            body.append("    if (x->failed) return KVN_DROP;")
        body += [f"    uint32_t spec = (uint32_t){self.rd(ex['f_egress_spec'])};",
                 # a multicast group: the engine's traffic manager from here (nothing changed)
                 f"    if ((uint32_t){self.rd(ex['f_mcast_grp'])} != 0) return KVN_GENERAL;",
                 f"    if (spec == {ex['drop_port']}u) return KVN_DROP;"]
        body += self.metadata("f_instance_type", "0")
        # the egress pass runs in place: the port as the job holds it (16 bits), and the
        # context as ctx_init leaves it (what the program can change of it without the
        # opcodes above: the sub-byte cursor, error, parameters, truncation)
        body += ["    uint32_t port = (uint16_t)spec;",
                 "    x->cursor_bits = 0; x->error = 0; x->params = NULL; x->truncate_len = 0;"]
        if ex["f_priority"] >= 0:
            body += [f"    uint32_t pr = (uint32_t){self.rd(ex['f_priority'])};",
                     "    if (pr >= priority_queues) return KVN_PRIORITY_DROP;"]
        else:
            body.append("    uint32_t pr = 0; (void)priority_queues;")
        body += self.metadata("f_qid", "(kv_s128)pr")
        body += ["    *priority = pr;",
                 "    kvn_egress_i(env, wk, x, port, plen);",
                 "    x->exit_flag = 0;"]
        if has_assert:
            body.append("    if (x->failed) return KVN_DROP;")
        # without an egress control, egress_spec holds what kvn_egress wrote: not the drop
        # port unless the field's width cuts drop_port + 1 down to it
        spec_width = self.fields[ex["f_egress_spec"]][1]
        if ex["egress_init"] >= 0 or (ex["drop_port"] + 1) % (1 << spec_width) == ex["drop_port"]:
            body.append(f"    if ((uint32_t){self.rd(ex['f_egress_spec'])} == {ex['drop_port']}u) "
                        "return KVN_DROP;")
        body += ["    if (!kvn_emit_i(env, wk, x)) return KVN_DROP;",
                 "    return (int32_t)port;"]
        # the batch loop's copy runs the control inline; the engine's (general path) calls
        # it, so that a large program's control is compiled twice, not three times
        params = ("const kvn_env_t *env, void *wk, void *xv, int32_t node, uint32_t plen, "
                  "uint32_t priority_queues, uint32_t *priority")
        for head, run in (("KVN_INLINE int32_t kvn_finish_i", "kvn_control_run_i"),
                          ("static int32_t kvn_finish", "kvn_control_run")):
            self.out += [f"{head}({params}) {{", "    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                         f"    if (node >= 0) {run}(env, wk, x, node);"] + body + ["}", ""]
        return True

    def batch(self) -> list[str]:
        """kvn_batch: run_batch's grouped loop for this program, as native_groups ran it
        through the entry points (native_loop.pxi), with the program's parts inlined. GROUP
        received packets at a time, in three passes, so that the memory misses of the first
        table (a random DIR-24-8 slot, then the entry's record) overlap across packets:
          1. standard metadata, parser, conditions up to the first table, its prefetch;
          2. its lookup, `ahead` packets before 3., and the entry's prefetch;
          3. the table's finish, the rest of ingress, traffic manager, egress, deparser."""
        ex = self.ex
        nodes, tables = ex["nodes"], ex["tables"]
        firsts = [(n, nodes[n][1]) for n in self.first_nodes() if nodes[n][0] == K.NODE_TABLE]
        lpm24 = ex["lpm24_tables"]

        def tbl(ti: int) -> str:
            return f"(&((kvn_worker_t *)wk)->st->tables[{ti}])"

        def dir24_key(ti: int) -> str:
            return f"(uint32_t){self.rd(tables[ti]['keys'][0][0])}"

        def tbl24_prefetch(ti: int) -> str:
            # the tbl24 entry itself (controls.pxi's table_prefetch says why not tbl18)
            return (f"kvn_prefetch(kvn_dir24_entry((const kvn_dir24_t *){tbl(ti)}->matcher, "
                    f"{dir24_key(ti)}));")

        def entry_prefetch(ti: int, e: str) -> list[str]:
            lines = [f"if ({e} >= 0) {{", f"    kvn_prefetch(&{tbl(ti)}->entry_rec[{e}]);"]
            if tables[ti]["with_counters"]:
                lines.append(f"    kvn_prefetch_write(&((kvn_worker_t *)wk)->entry_cells[{ti}]"
                             f"[2 * {e}]);")
            return lines + ["}"]

        def unless_first(ti: int) -> str:
            # lpm24 tables other than the packet's first table (native_groups' loop)
            conds = [f"node != {n}" for n, a in firsts if a == ti]
            return f"if ({' && '.join(conds)}) " if conds else ""

        # 1. the first table's memory, and every other DIR-24-8 table's
        pre = ["    switch (node) {"]
        for n, ti in firsts:
            if tables[ti]["kind"] == K.TBL_LPM24:
                pre += [f"    case {n}: {tbl24_prefetch(ti)} break;"]
        pre += ["    default: break;", "    }"]
        pre += [f"    {unless_first(ti)}{tbl24_prefetch(ti)}" for ti in lpm24]
        # 2. the first table's lookup and its entry's prefetch
        look = ["    int64_t e = -1;", "    switch (node) {"]
        for n, ti in firsts:
            look += [f"    case {n}:", f"        e = tlook_{ti}_i(env, wk, x);"]
            look += ["        " + line for line in entry_prefetch(ti, "e")] + ["        break;"]
        look += ["    default: break;", "    }"]
        for ti in lpm24:
            look += [f"    {unless_first(ti)}{{",
                     f"        int64_t e2 = kvn_dir24_lookup((const kvn_dir24_t *){tbl(ti)}"
                     f"->matcher, {dir24_key(ti)});"]
            look += ["        " + line for line in entry_prefetch(ti, "e2")] + ["    }"]
        look.append("    return e;")
        # 3. the first table's finish
        fin = ["        switch (node) {"]
        fin += [f"        case {n}: node = tfin_{ti}_i(env, wk, x, gent[k]); break;"
                for n, ti in firsts]
        fin += ["        default: break;", "        }"]
        group = ex["group"]
        zero = ex["state_bytes"]
        return ([
            "KVN_INLINE int64_t kvn_group_lookup(const kvn_env_t *env, void *wk, kvn_ctx_t *x, "
            "int32_t node) {",
            "    (void)env;"] + look + ["}", "",
            "static int kvn_batch(const kvn_env_t *env, void *wk, void *gxv, kvn_pkt_t **pkts, "
            "int n, kvn_out_t *outs, int max_out, uint32_t priority_queues, uint64_t seq, "
            "uint32_t ahead) {",
            "    kvn_ctx_t *gx = (kvn_ctx_t *)gxv;",
            f"    int32_t gnode[{group}];",
            f"    int64_t gent[{group}];",
            "    int nout = 0;",
            f"    for (int i = 0; i < n; i += {group}) {{",
            f"        int g = n - i < {group} ? n - i : {group};",
            "        for (int k = 0; k < g; k++) {",
            "            kvn_pkt_t *p = pkts[i + k];",
            "            kvn_ctx_t *x = &gx[k];",
            "            if (i + k + 2 < n) kvn_prefetch(pkts[i + k + 2]->data);   "
            "/* the parser's first load */",
            # the rest of ctx_init: what the previous packet of the slot may have changed
            "            x->pkt = p; x->seq = ++seq; x->cursor = 0; x->cursor_bits = 0;",
            "            x->error = 0; x->exit_flag = 0; x->failed = 0; x->params = NULL;",
            "            x->truncate_len = 0;",
            "            int32_t node = kvn_start_i(env, wk, x, (uint16_t)p->port, p->len);",
            "            gnode[k] = node;"]
            + ["        " + line for line in pre] + [
            "        }",
            "        int a = (int)ahead < g ? (int)ahead : g;",
            "        for (int k = 0; k < a; k++)",
            "            gent[k] = kvn_group_lookup(env, wk, &gx[k], gnode[k]);",
            "        for (int k = 0; k < g; k++) {",
            "            if (k + (int)ahead < g)",
            "                gent[k + ahead] = kvn_group_lookup(env, wk, &gx[k + ahead], "
            "gnode[k + ahead]);",
            "            kvn_pkt_t *p = pkts[i + k];",
            "            kvn_ctx_t *x = &gx[k];",
            "            int32_t node = gnode[k];"]
            + ["    " + line for line in fin] + [
            "            uint32_t prio = 0;",
            "            int32_t port = kvn_finish_i(env, wk, x, node, p->len, priority_queues, "
            "&prio);",
            "            if (port >= 0) {",
            "                if (nout < max_out) {",
            "                    p->port = (uint32_t)port;",
            "                    outs[nout].pkt = p;",
            "                    outs[nout].port = (uint32_t)port;",
            "                    outs[nout].priority = prio;",
            "                    nout++;",
            "                } else {",
            "                    env->drop(env->pl, wk, p, 0);",
            "                }",
            "            } else if (port == KVN_GENERAL) {",
            "                nout = env->general(env->pl, wk, x, p, (uint32_t)k, outs, nout, "
            "max_out);",
            "            } else {",
            "                env->drop(env->pl, wk, p, port == KVN_PRIORITY_DROP);",
            "            }",
            "            /* ready for the slot's next packet */"]
            + ["            " + line for line in self.clear_slot(zero)] + [
            "        }",
            "    }",
            "    return nout;",
            "}",
            ""])

    CLEAR_STORES_MAX = 32     # 16-byte stores clearing a slot; a larger state: memset

    def clear_slot(self, nbytes: int) -> list[str]:
        """Zero a slot's first nbytes (its state) as kv_zero_words does. A memset of a
        constant size becomes `rep stos`, which takes tens of cycles to start; 16-byte stores
        (the slot has slack past its state for the rounding) do not."""
        if nbytes > 16 * self.CLEAR_STORES_MAX:
            return [f"memset(x->phv, 0, {(nbytes + 7) & ~7});"]
        return ["{ uint8_t *z = x->phv;",
                "  " + " ".join(f"kvn_zero16(z + {off});" for off in range(0, nbytes, 16)) + " }"]

    def start(self) -> None:
        """kvn_start: a received packet's ingress pass up to its first table (or action call)
        node: standard metadata, parser (the engine counts a parser error), verification."""
        verify = any(c["verify"] for c in self.ex["cksums"])
        self.first()
        body = ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;",
                "    kvn_ingress_i(env, wk, x, port, 0, plen, 0);",
                "    if (x->error != 0) env->parser_error(env->pl, wk, x);"]
        if verify:
            body.append("    env->verify(env->pl, wk, x);")
        body.append("    return kvn_first_i(env, wk, x);")
        self.out += self.twice("int32_t", "kvn_start",
                               "const kvn_env_t *env, void *wk, void *xv, uint32_t port, "
                               "uint32_t plen", "env, wk, xv, port, plen", body)

    def first_nodes(self) -> list[int]:
        """The nodes a received packet's ingress control can reach through conditions alone:
        its first table or action call (kvn_control with stop_at_table returns one of them)."""
        nodes = self.ex["nodes"]
        seen: set[int] = set()
        todo = [self.ex["ingress_init"]]
        while todo:
            n = todo.pop()
            if n < 0 or n in seen:
                continue
            seen.add(n)
            if nodes[n][0] == K.NODE_COND:
                todo += [nodes[n][2], nodes[n][3]]
        return sorted(seen)

    def first(self) -> None:
        """kvn_first_i: the ingress control's conditions from its start, as kvn_control with
        stop_at_table walks them: the first table or action-call node, or -1."""
        nodes = self.ex["nodes"]

        def go(n: int) -> str:
            return "return -1;" if n < 0 else f"goto N{n};"

        body = ["    kvn_ctx_t *x = (kvn_ctx_t *)xv;", "    (void)x;",
                f"    {go(self.ex['ingress_init'])}"]
        for n in self.first_nodes():
            kind, a, b, c = nodes[n]
            body.append(f" N{n}:")
            if kind == K.NODE_COND:
                body.append(f"    if ({self.call_block(a)} != 0) {go(b)} else {go(c)}")
            else:
                body.append(f"    return {n};")
        self.out += ["KVN_INLINE int32_t kvn_first_i(const kvn_env_t *env, void *wk, void *xv) {"]
        self.out += body + ["}", ""]

    # ------------------------------------------------------------------ the object
    def generate(self) -> Generated:
        head = [f"/* kvick native code, generator {GENERATOR_VERSION}: generated, do not edit */",
                "#include <string.h>",
                '#include "native_abi.h"',
                '#include "native_match.h"',
                "",
                "static const kv_field_t KF[] = {"]
        for (bitoff, width, signed, varbit, hdr, narrow, shift, byte, mask, whole) in self.fields:
            head.append(f"    {{{bitoff}u, {width}u, {signed}, {varbit}, {hdr}u, {narrow}, {shift}, "
                        f"{byte}u, {mask:#x}ULL, {whole}}},")
        if not self.fields:
            head.append("    {0}")
        head += ["};", ""] + self.default_params()
        self.parser()
        self.control()
        self.passes()
        has_finish = self.finish()
        self.tables()
        self.start()
        acts = []
        for aid, pc in enumerate(self.ex["actions"]):
            name = self.block(pc)
            if name is None:
                acts.append("NULL")
                continue
            self.out += [f"static void act_{aid}(const kvn_env_t *env, void *wk, void *x) "
                         f"{{ {name}(env, wk, (kvn_ctx_t *)x); }}"]
            acts.append(f"act_{aid}")
        n_actions = len(acts)
        # a table's action outside its declared list (never, from a checked control plane):
        # any action by id, as the engine's run_action
        any_cases = " ".join(f"case {aid}: {self.call_block(pc)}; break;"
                             for aid, pc in enumerate(self.ex["actions"]))
        tail = ["",
                f"static const kvn_action_fn ACTIONS[{max(1, n_actions)}] = {{"
                + ", ".join(acts or ["NULL"]) + "};",
                "",
                "static void kvn_any_action(const kvn_env_t *env, void *wk, kvn_ctx_t *x, "
                "int32_t act) {",
                f"    switch (act) {{ {any_cases} default: break; }}",
                "}",
                ""] + self.table_out + (self.batch() if has_finish else []) + [
                "",
                "__attribute__((visibility(\"default\")))",
                "int kvn_init(const kvn_env_t *env, kvn_program_t *out) {",
                "    static const uint32_t offs[8] = KVN_CTX_OFFSETS;",
                "    static const uint32_t layout[KVN_LAYOUT_N] = KVN_LAYOUT;",
                "    if (env->abi_version != KVN_ABI_VERSION || env->ctx_size != sizeof(kvn_ctx_t)"
                " || env->pkt_size != sizeof(kvn_pkt_t) || env->field_size != sizeof(kv_field_t)"
                " || memcmp(env->ctx_offsets, offs, sizeof(offs)) != 0"
                " || memcmp(env->layout, layout, sizeof(layout)) != 0)",
                "        return -1;",
                "    out->parser = kvn_parser;",
                "    out->control = kvn_control;",
                "    out->ingress = kvn_ingress;",
                "    out->egress = kvn_egress;",
                "    out->emit = kvn_emit;",
                f"    out->finish = {'kvn_finish' if has_finish else 'NULL'};",
                "    out->start = kvn_start;",
                "    out->actions = ACTIONS;",
                f"    out->n_actions = {n_actions};",
                f"    out->n_interpreted = {len(self.interpreted)};",
                "    out->table_lookup = kvn_table_lookup;",
                "    out->table_finish = kvn_table_finish;",
                f"    out->batch = {'kvn_batch' if has_finish else 'NULL'};",
                "    return 0;",
                "}"]
        # per stack used by index: its element headers and their first fields
        for sid in sorted(self.stack_tables):
            hdrs = self.ex["stacks"][sid][1]
            head.append(f"static const uint32_t SH{sid}[] = {{{', '.join(map(str, hdrs)) or '0'}}};")
            ff = [self.headers[h]["first_field"] for h in hdrs]
            head.append(f"static const uint32_t SF{sid}[] = {{{', '.join(map(str, ff)) or '0'}}};")
        # blocks are emitted as they are first used: declare them all before the users
        protos = [line.replace(" {", ";") for line in self.out
                  if re.match(r"(static|KVN_INLINE) kv_s128 blk_", line)] + self.table_protos() + [
                      "static void kvn_any_action(const kvn_env_t *env, void *wk, kvn_ctx_t *x, "
                      "int32_t act);"]
        source = "\n".join(head + protos + [""] + self.out + tail) + "\n"
        return Generated(source, sorted(self.interpreted))


def generate(export: dict[str, Any]) -> Generated:
    """C source for an exported program; raises Unsupported when it cannot be translated."""
    return Generator(export).generate()
