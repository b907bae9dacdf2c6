"""Instruction set of the pipeline's executor.

The loader (loader.py) turns BMv2 JSON actions, conditions and parser states into arrays of
fixed-size instructions `(op, a, b, c, d, e)`; the Cython executor (engine.pyx) runs them per
packet. Registers hold signed 128-bit values; fields wider than 128 bits are only copied.

Operand conventions: `a`, `b`, `c` are 16-bit (registers, small ids); `d`, `e` are 32-bit
(field ids, constant-pool indexes, jump targets). This file is the single source of the
numbering: engine.pyx includes the generated `opcodes.pxi`, written from OPCODES at build time.
"""

from __future__ import annotations

OPCODES: list[tuple[str, str]] = [
    # --- loads into register a
    ("LDK", "r[a] = const[d]"),
    ("LDF", "r[a] = field d (sign-extended when the field is signed)"),
    ("LDP", "r[a] = action parameter d"),
    ("LDV", "r[a] = header d is valid"),
    ("LDVU", "r[a] = some member of header union d is valid"),
    ("LDLA", "r[a] = d bits at bit offset e after the parser's cursor (lookahead)"),
    ("LDFDYN", "r[a] = field e of header stack d element r[b]"),
    ("LDVDYN", "r[a] = header stack d element r[b] is valid"),
    ("LDLAST", "r[a] = field e of the last extracted element of stack d"),
    ("LDLASTIDX", "r[a] = index of the last extracted element of stack d"),
    ("LDSIZE", "r[a] = stack d's next index"),
    # --- arithmetic: r[a] = r[b] OP r[c]
    ("ADD", "+"), ("SUB", "-"), ("MUL", "*"), ("DIV", "/"), ("MOD", "%"),
    ("SHL", "<<"), ("SHR", ">> (arithmetic, as an arbitrary-precision value)"),
    ("AND", "&"), ("OR", "|"), ("XOR", "^"),
    ("EQ", "=="), ("NE", "!="), ("LT", "<"), ("LE", "<="), ("GT", ">"), ("GE", ">="),
    ("LAND", "and"), ("LOR", "or"),
    ("LNOT", "r[a] = not r[b]"),
    ("BNOT", "r[a] = ~r[b] (arbitrary precision: -x-1)"),
    ("NEG", "r[a] = -r[b]"),
    ("MASK", "r[a] = r[b] & (2^d - 1)"),
    ("SEXT", "r[a] = r[b] sign-extended from d bits (two_comp_mod)"),
    ("USAT", "r[a] = r[b] clamped to [0, 2^d - 1]"),
    ("SSAT", "r[a] = r[b] clamped to [-2^(d-1), 2^(d-1) - 1]"),
    ("SEL", "r[a] = r[b] ? r[c] : r[d]"),
    ("MOV", "r[a] = r[b]"),
    # --- control flow inside a code block
    ("JMP", "goto d"),
    ("JZ", "if r[a] == 0: goto d"),
    ("RET", "end of block; its value is r[a]"),
    # --- stores and header operations
    ("STF", "field d = r[a]"),
    ("STFDYN", "field e of stack d element r[b] = r[a]"),
    ("CPF", "field d = field e (same width; any width)"),
    ("STFP", "field d = action parameter e"),
    ("STFK", "field d = const[e]"),
    ("SETVALID", "header d becomes valid (fields zeroed if it was invalid)"),
    ("SETINVALID", "header d becomes invalid"),
    ("SETVALIDDYN", "stack d element r[b] becomes valid (a=1) or invalid (a=0)"),
    ("HCOPY", "header d = header e (data and validity)"),
    ("HCOPYDYN", "stack d element r[b] = header e (a=0) or header e = that element (a=1)"),
    ("STKCOPY", "stack d = stack e, element by element"),
    ("PUSH", "stack d push_front e elements"),
    ("POP", "stack d pop_front e elements"),
    ("DROP", "mark_to_drop"),
    ("EXIT", "leave the control"),
    ("COUNT", "counter array d, index r[a]"),
    ("METER", "meter array d, index r[a]; colour into field e"),
    ("REGRD", "field e = register array d [r[a]]"),
    ("REGWR", "register array d [r[a]] = r[b]"),
    ("CLONE_I2E", "clone session r[a] with field list d"),
    ("CLONE_E2E", "clone session r[a] with field list d"),
    ("RESUBMIT", "resubmit with field list d"),
    ("RECIRC", "recirculate with field list d"),
    ("DIGEST", "generate digest from learn list d"),
    ("HASH", "field e = r[a] + calc d % r[b] (r[b] == 0: r[a])"),
    ("RANDOM", "field e = uniform in [r[a], r[b]]"),
    ("TRUNCATE", "truncate the packet to r[a] bytes"),
    ("LOG", "trace only: e == 0, log_msg format d; e == 1/2, r[a] (unsigned/signed) is its next value"),
    ("ASSERT", "if r[a] == 0: the packet fails an assertion and is dropped"),
    ("DIRECT_COUNT", "no-op marker; direct counters are updated on table hit"),
    # --- parser operations
    ("EXTRACT", "extract header d"),
    ("EXTRACT_NEXT", "extract the next element of stack d"),
    ("EXTRACT_VL", "extract header d with r[a] bits in its varbit field"),
    ("EXTRACT_NEXT_VL", "extract the next element of stack d, r[a] varbit bits"),
    ("VERIFY", "if r[a] == 0: parser error r[b], stop"),
    ("ADVANCE", "move the cursor r[a] bits"),
    ("STVL", "varbit field d = varbit field e (assign_VL)"),
    ("HASHF", "field e = calc d (no base, no modulo; for verify/update checksums)"),
    ("SETUNION", "header d becomes valid and invalidates the other members of its union"),
    # --- fused forms of common statement shapes (loader.py's peepholes)
    ("FOPK", "field d = field e OP const[b], OP by a: 0 +, 1 -, 2 &, 3 |, 4 ^"),
    ("HCOPYSEL", "header d = header e if r[a] else header b (assign_header from ?:)"),
    ("CMPFK", "r[a] = field d CMP const[e], CMP by b: 0 ==, 1 !=, 2 <, 3 <=, 4 >, 5 >="),
]

OP: dict[str, int] = {name: i for i, (name, _) in enumerate(OPCODES)}


def write_pxi(path: str) -> None:
    """Write the Cython constants the executor switches on."""
    lines = ["# Generated from target/pipeline/opcodes.py; do not edit.", "cdef enum:"]
    lines += [f"    OP_{name} = {i}" for i, (name, _) in enumerate(OPCODES)]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
