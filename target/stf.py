"""Runs p4c's Simple Test Framework (STF) files against kvick.

An STF file installs table entries and PRE state, sends packets and states which packets
must come out. p4c runs these files on BMv2's simple_switch with its bmv2stf.py runner, and
that runner defines what a file means; this module gives the same meaning on kvick's target
API (`target.Switch`). The points where the meaning is not obvious:

- Commands run in file order; each `packet` is processed to completion before the next
  command (BMv2 is asynchronous, but its runner sleeps after every control command).
- `expect` lines are collected for the whole file and checked once, at the end: `wait` is a
  no-op. Only ports named by some `packet` or `expect` line exist (BMv2 gets one
  interface per such port); output to any other port is lost, not a failure.
- On each existing port the received packets must equal the expected ones in number and, in
  order, in content; there is no order across ports. `expect PORT` without data accepts any
  packets on that port. In a pattern `*` is a don't-care nibble and a final `$` forbids
  extra bytes; without `$` the packet may be longer than the pattern.
- Names resolve as bmv2stf resolves them: tables and actions by exact JSON name, else by
  unique string suffix; key fields by the key's JSON `name` with `$valid$`, `.valid`,
  `$N` → `[N]` and dotted-suffix rules.
- Ternary values take their mask from the digits written (`0x**01` masks the low byte only,
  `*` nibbles are don't-care); an LPM value without `/len` gets a prefix as long as its
  written digits. Key fields an entry leaves out are exact 0, ternary don't-care, LPM /0.
- STF priorities let the higher number win, as P4Runtime (and kvick) does; bmv2stf
  inverts them for BMv2, whose lower number wins. kvick gets `stf_priority + 1` because
  P4Runtime priorities start at 1.
- `check_counter` is checked here (bmv2stf only logs it): indexed counters by index,
  direct counters by the `= LABEL` of the entry they belong to. Since BMv2 never checked
  them, some corpus values are another target's (byte counts with a 4-byte FCS);
  `check_counters=False` (`--ignore-counters`) reports them without failing, as bmv2stf.
"""

from __future__ import annotations

import json
import operator
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from target.cli_input import ArgumentParser

# ---------------------------------------------------------------------------------------
# Errors


class StfError(Exception):
    """An STF file that cannot be run: bad syntax, an unknown name, a bad value."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


# ---------------------------------------------------------------------------------------
# Commands (what the parser produces)


@dataclass(frozen=True)
class MatchField:
    """One `name:value` of an `add`; value is the raw text, converted once widths are known."""

    name: str
    value: str


@dataclass(frozen=True)
class ActionCall:
    name: str
    args: tuple[tuple[str, str], ...]  # (param name, raw value text) in the order written


@dataclass(frozen=True)
class AddEntry:
    line: int
    table: str
    priority: int | None  # as written in STF: higher wins
    matches: tuple[MatchField, ...]
    action: ActionCall
    label: str | None  # `= A` names the entry for check_counter / remove


@dataclass(frozen=True)
class SetDefault:
    line: int
    table: str
    action: ActionCall


@dataclass(frozen=True)
class RemoveEntries:
    """`remove all` (label None) or `remove LABEL`."""

    line: int
    label: str | None


@dataclass(frozen=True)
class SendPacket:
    line: int
    port: int
    data: bytes


@dataclass(frozen=True)
class ExpectPacket:
    line: int
    port: int
    pattern: str | None  # upper-case hex with `*` nibbles and an optional final `$`; None=any


@dataclass(frozen=True)
class MirroringAdd:
    line: int
    session: int
    port: int


@dataclass(frozen=True)
class McGroupCreate:
    line: int
    group: int


@dataclass(frozen=True)
class McNodeCreate:
    line: int
    rid: int
    ports: tuple[int, ...]


@dataclass(frozen=True)
class McNodeAssociate:
    line: int
    group: int
    node: int  # node handle: BMv2 numbers created nodes 0, 1, 2, ...


@dataclass(frozen=True)
class CheckCounter:
    line: int
    counter: str
    index: int | None  # set for an indexed counter
    label: str | None  # set for a direct counter: the entry's `= LABEL`
    kind: str | None  # "packets", "bytes", or None: both
    op: str  # one of == != < <= > >=
    value: int


@dataclass(frozen=True)
class RegisterWrite:
    line: int
    register: str
    index: int
    value: int


@dataclass(frozen=True)
class Wait:
    line: int


Command = (
    AddEntry
    | SetDefault
    | RemoveEntries
    | SendPacket
    | ExpectPacket
    | MirroringAdd
    | McGroupCreate
    | McNodeCreate
    | McNodeAssociate
    | CheckCounter
    | RegisterWrite
    | Wait
)

# ---------------------------------------------------------------------------------------
# Parser: one command per line, `#` starts a comment, command words are case-insensitive.

# Punctuation, then "words": names (a.b[0].c, extra$0.h, $A) and values (0x**01, 10/8, 1->5).
_TOKEN = re.compile(r"\s*(?:(==|!=|<=|>=|[()<>,:=])|((?:->|[^\s()<>,:=!])+))")
_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+)$")
_MATCH_VALUE = re.compile(
    r"(?:0[xX][0-9a-fA-F*]+|0[bB][01*]+|0[oO][0-7*]+|[0-9]+|\*)"  # plain, or with don't-cares
    r"(?:/[0-9]+|->(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+)|&&&(?:0[xX][0-9a-fA-F]+|[0-9]+))?$"
)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.\[\]]*$")
_COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def parse_int(text: str, line: int = 0) -> int:
    """An STF number: 0x hex, 0b binary, 0o octal or decimal (leading zeros allowed)."""
    if not _NUMBER.match(text):
        raise StfError(line, f"not a number: {text!r}")
    prefix = text[:2].lower()
    if prefix == "0x":
        return int(text[2:], 16)
    if prefix == "0b":
        return int(text[2:], 2)
    if prefix == "0o":
        return int(text[2:], 8)
    return int(text, 10)


class _Tokens:
    """The tokens of one line with a cursor; errors name the line."""

    def __init__(self, text: str, line: int) -> None:
        self.line = line
        self.items: list[str] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise StfError(line, f"unexpected character {text[pos:].strip()[:1]!r}")
            self.items.append(m.group(1) or m.group(2))
            pos = m.end()
        self.pos = 0

    def peek(self, ahead: int = 0) -> str | None:
        i = self.pos + ahead
        return self.items[i] if i < len(self.items) else None

    def take(self, what: str = "a token") -> str:
        tok = self.peek()
        if tok is None:
            raise StfError(self.line, f"expected {what}, found end of line")
        self.pos += 1
        return tok

    def expect(self, punct: str) -> None:
        tok = self.take(repr(punct))
        if tok != punct:
            raise StfError(self.line, f"expected {punct!r}, found {tok!r}")

    def name(self, what: str) -> str:
        tok = self.take(what)
        if not _NAME.match(tok):
            raise StfError(self.line, f"expected {what}, found {tok!r}")
        return tok

    def number(self, what: str) -> int:
        return parse_int(self.take(what), self.line)

    def end(self) -> None:
        if self.peek() is not None:
            raise StfError(self.line, f"unexpected {self.peek()!r} at end of command")


def _parse_action_call(toks: _Tokens) -> ActionCall:
    name = toks.name("an action name")
    toks.expect("(")
    args: list[tuple[str, str]] = []
    if toks.peek() == ")":
        toks.take()
        return ActionCall(name, ())
    while True:
        param = toks.name("an action parameter name")
        toks.expect(":")
        value = toks.take("a parameter value")
        parse_int(value, toks.line)
        args.append((param, value))
        sep = toks.take("',' or ')'")
        if sep == ")":
            return ActionCall(name, tuple(args))
        if sep != ",":
            raise StfError(toks.line, f"expected ',' or ')', found {sep!r}")


def _parse_add(toks: _Tokens) -> AddEntry:
    table = toks.name("a table name")
    priority = None
    first = toks.peek()
    if first is not None and first.isdigit():
        priority = int(toks.take())
    matches: list[MatchField] = []
    while toks.peek(1) == ":":
        key = toks.name("a key field name")
        toks.expect(":")
        value = toks.take("a key value")
        if not _MATCH_VALUE.match(value):
            raise StfError(toks.line, f"bad value {value!r} for key field {key}")
        matches.append(MatchField(key, value))
    action = _parse_action_call(toks)
    label = None
    if toks.peek() == "=":
        toks.take()
        label = toks.name("an entry label")
    toks.end()
    return AddEntry(toks.line, table, priority, tuple(matches), action, label)


def _parse_packet_data(rest: str, line: int, pattern: bool) -> str:
    data = "".join(rest.split()).upper()
    allowed = "0-9A-F*" if pattern else "0-9A-F"
    body = data[:-1] if pattern and data.endswith("$") else data
    if not re.fullmatch(f"[{allowed}]*", body):
        raise StfError(line, f"bad packet data {rest.strip()!r}")
    return data


def _parse_check_counter(toks: _Tokens) -> CheckCounter:
    counter = toks.name("a counter name")
    toks.expect("(")
    where = toks.take("a counter index or $label")
    toks.expect(")")
    index = label = None
    if where.startswith("$"):
        label = where[1:]
    else:
        index = parse_int(where, toks.line)
    kind, op, value = None, "==", 0  # a bare check asks for an untouched counter
    if toks.peek() is not None:
        kind = toks.take().lower()
        if kind not in ("packets", "bytes"):
            raise StfError(toks.line, f"expected 'packets' or 'bytes', found {kind!r}")
        op = toks.take("a comparison")
        if op not in _COMPARISONS:
            raise StfError(toks.line, f"expected a comparison, found {op!r}")
        value = toks.number("a count")
    toks.end()
    return CheckCounter(toks.line, counter, index, label, kind, op, value)


def parse_line(text: str, line: int) -> Command | None:
    """One STF line to a command, or None for a blank or comment line."""
    text = text.split("#", 1)[0].strip()
    if not text:
        return None
    word, _, rest = text.replace("\t", " ").partition(" ")
    word = word.lower()
    rest = rest.strip()
    if word in ("packet", "expect"):
        port_text, _, data = rest.partition(" ")
        if not port_text.isdigit():
            raise StfError(line, f"{word}: expected a port number, found {port_text!r}")
        port = int(port_text)
        if word == "packet":
            hexdata = _parse_packet_data(data, line, pattern=False)
            if len(hexdata) % 2:
                raise StfError(line, "packet data has an odd number of hex digits")
            return SendPacket(line, port, bytes.fromhex(hexdata))
        pattern = _parse_packet_data(data, line, pattern=True)
        return ExpectPacket(line, port, pattern or None)
    toks = _Tokens(rest, line)
    if word == "add":
        return _parse_add(toks)
    if word == "setdefault":
        table = toks.name("a table name")
        action = _parse_action_call(toks)
        toks.end()
        return SetDefault(line, table, action)
    if word == "remove":
        target = toks.take("'all' or an entry label")
        toks.end()
        if target.lower() == "all":
            return RemoveEntries(line, None)
        return RemoveEntries(line, target.lstrip("$"))
    if word == "wait":
        toks.end()
        return Wait(line)
    if word == "check_counter":
        return _parse_check_counter(toks)
    if word == "mirroring_add":
        session, port = toks.number("a session id"), toks.number("a port")
        toks.end()
        return MirroringAdd(line, session, port)
    if word == "mc_mgrp_create":
        group = toks.number("a group id")
        toks.end()
        return McGroupCreate(line, group)
    if word == "mc_node_create":
        rid = toks.number("a replication id")
        ports = [toks.number("a port")]
        while toks.peek() is not None:
            ports.append(toks.number("a port"))
        return McNodeCreate(line, rid, tuple(ports))
    if word == "mc_node_associate":
        group, node = toks.number("a group id"), toks.number("a node handle")
        toks.end()
        return McNodeAssociate(line, group, node)
    if word == "register_write":
        register = toks.name("a register name")
        index, value = toks.number("an index"), toks.number("a value")
        toks.end()
        return RegisterWrite(line, register, index, value)
    raise StfError(line, f"unknown command {word!r}")


def parse_stf(text: str) -> list[Command]:
    """All commands of an STF text, in file order."""
    commands = []
    for number, line in enumerate(text.splitlines(), start=1):
        command = parse_line(line, number)
        if command is not None:
            commands.append(command)
    return commands


# ---------------------------------------------------------------------------------------
# Program names, read from the BMv2 JSON


@dataclass(frozen=True)
class KeyDesc:
    name: str  # the key's JSON "name" (what P4Info calls it), else its joined target
    match_type: str  # exact, lpm, ternary, range, optional, valid
    bitwidth: int


@dataclass(frozen=True)
class TableDesc:
    name: str
    match_type: str  # the table's overall kind in the JSON
    keys: tuple[KeyDesc, ...]
    actions: tuple[str, ...]

    @property
    def needs_priority(self) -> bool:
        return any(k.match_type in ("ternary", "range", "optional") for k in self.keys)


@dataclass(frozen=True)
class ActionDesc:
    name: str
    params: tuple[tuple[str, int], ...]  # (name, bitwidth) in declaration order


@dataclass(frozen=True)
class CounterDesc:
    name: str
    size: int
    direct_table: str | None  # the table a direct counter is bound to


@dataclass(frozen=True)
class RegisterDesc:
    name: str
    size: int
    bitwidth: int


def _resolve_by_suffix(wanted: str, names: Iterable[str], what: str, line: int) -> str:
    """bmv2stf's rule: the exact name, else the one name ending in `wanted`."""
    names = list(names)
    if wanted in names:
        return wanted
    candidates = [n for n in names if n.endswith(wanted)]
    if len(candidates) > 1:
        # bmv2stf refuses here; a dotted suffix still picks one when plain text cannot.
        dotted = [n for n in candidates if n.endswith("." + wanted)]
        if len(dotted) == 1:
            return dotted[0]
        raise StfError(line, f"{what} {wanted!r} is ambiguous: {', '.join(candidates)}")
    if not candidates:
        raise StfError(line, f"no {what} {wanted!r}")
    return candidates[0]


class ProgramNames:
    """Tables, actions, counters and registers of one BMv2 JSON program, with widths."""

    def __init__(self, program: dict[str, Any]) -> None:
        field_widths: dict[tuple[str, str], int] = {}
        type_fields = {ht["name"]: ht["fields"] for ht in program.get("header_types", [])}
        for header in program.get("headers", []):
            for fdef in type_fields.get(header["header_type"], []):
                if isinstance(fdef[1], int):  # varbit fields ("*") cannot be keys
                    field_widths[(header["name"], fdef[0])] = fdef[1]
        self.actions: dict[str, ActionDesc] = {}
        for action in program.get("actions", []):
            params = tuple((p["name"], int(p["bitwidth"])) for p in action["runtime_data"])
            self.actions[action["name"]] = ActionDesc(action["name"], params)
        self.tables: dict[str, TableDesc] = {}
        for pipeline in program.get("pipelines", []):
            for table in pipeline.get("tables", []):
                keys = []
                for key in table.get("key", []):
                    target = key["target"]
                    joined = ".".join(target) if isinstance(target, list) else str(target)
                    name = key.get("name") or joined
                    if isinstance(target, list) and len(target) == 2:
                        if target[1] == "$valid$":
                            width = 1
                        else:
                            width = field_widths.get((target[0], target[1]), 0)
                    else:
                        width = 0
                    keys.append(KeyDesc(name, key["match_type"], width))
                self.tables[table["name"]] = TableDesc(
                    table["name"], table["match_type"], tuple(keys), tuple(table["actions"])
                )
        self.counters: dict[str, CounterDesc] = {}
        for counter in program.get("counter_arrays", []):
            binding = counter.get("binding") if counter.get("is_direct") else None
            self.counters[counter["name"]] = CounterDesc(
                counter["name"], int(counter.get("size", 0)), binding
            )
        self.registers: dict[str, RegisterDesc] = {}
        for register in program.get("register_arrays", []):
            self.registers[register["name"]] = RegisterDesc(
                register["name"], int(register["size"]), int(register["bitwidth"])
            )

    @classmethod
    def from_file(cls, path: str | Path) -> ProgramNames:
        with open(path) as f:
            return cls(json.load(f))

    def table(self, name: str, line: int = 0) -> TableDesc:
        return self.tables[_resolve_by_suffix(name, self.tables, "table", line)]

    def action(self, table: TableDesc, name: str, line: int = 0) -> ActionDesc:
        resolved = _resolve_by_suffix(name, table.actions, f"action of {table.name}:", line)
        return self.actions[resolved]

    def counter(self, name: str, line: int = 0) -> CounterDesc:
        return self.counters[_resolve_by_suffix(name, self.counters, "counter", line)]

    def register(self, name: str, line: int = 0) -> RegisterDesc:
        return self.registers[_resolve_by_suffix(name, self.registers, "register", line)]


def resolve_key_field(table: TableDesc, written: str, line: int = 0) -> KeyDesc:
    """The key field an STF `name:` refers to, by bmv2stf's rules."""
    names = [k.name for k in table.keys]
    by_name = {k.name: k for k in table.keys}
    # Header stack elements may be written extra$0 for extra[0].
    m = re.match(r"(.*)\$([0-9]+)(.*)", written)
    wanted = f"{m.group(1)}[{m.group(2)}]{m.group(3)}" if m else written
    for candidate in (wanted, wanted + "$", wanted + ".$valid$"):
        if candidate in by_name:
            return by_name[candidate]
    if wanted.endswith(".valid") and wanted[:-5] + "$valid$" in by_name:
        return by_name[wanted[:-5] + "$valid$"]
    found = None
    for name in names:  # like bmv2stf, the last suffix match wins
        if name.endswith("." + wanted) or name.endswith("." + wanted + "$"):
            found = name
        elif wanted == "valid" and name.endswith(".$valid$"):
            found = name
    if found is None and wanted == "valid" and "$valid$" in by_name:
        found = "$valid$"
    if found is None:
        raise StfError(line, f"table {table.name} has no key field {written!r} (keys: "
                       f"{', '.join(names) or 'none'})")
    return by_name[found]


# ---------------------------------------------------------------------------------------
# Values: STF text to match values with the key's width


@dataclass(frozen=True)
class KeyMatch:
    """One key field of an entry, independent of the target's classes.

    kind exact: a=value; lpm: a=value, b=prefix length; ternary: a=value, b=mask;
    range: a=low, b=high; optional: a=value; kind "any" is a don't-care field.
    """

    kind: str
    a: int = 0
    b: int = 0


_DIGIT_BITS = {"0x": 4, "0b": 1, "0o": 3}


def _digits_with_dont_care(text: str) -> tuple[int, int, int] | None:
    """(value, mask, written bits) of a 0x/0b/0o literal whose digits may be `*`."""
    prefix = text[:2].lower()
    bits = _DIGIT_BITS.get(prefix)
    if bits is None:
        return None
    digits = text[2:]
    base = 1 << bits
    value = mask = 0
    for digit in digits:
        value <<= bits
        mask <<= bits
        if digit != "*":
            value |= int(digit, base)
            mask |= base - 1
    return value, mask, bits * len(digits)


def _check_width(value: int, key: KeyDesc, text: str, line: int) -> None:
    if key.bitwidth and value >> key.bitwidth:
        raise StfError(line, f"value {text} does not fit key field {key.name} "
                       f"({key.bitwidth} bits)")


def convert_match(key: KeyDesc, text: str, line: int = 0) -> KeyMatch:
    """Convert one written key value for `key`, the way bmv2stf hands it to BMv2."""
    full = (1 << key.bitwidth) - 1 if key.bitwidth else -1
    kind = key.match_type
    if text == "*" and kind in ("ternary", "lpm", "range", "optional"):
        return KeyMatch("any")
    if kind in ("exact", "valid"):
        value = parse_int(text, line)
        _check_width(value, key, text, line)
        return KeyMatch("exact", value)
    if kind == "ternary":
        if "&&&" in text:
            v_text, m_text = text.split("&&&")
            value, mask = parse_int(v_text, line), parse_int(m_text, line)
        else:
            digits = _digits_with_dont_care(text)
            if digits is None:  # bmv2stf refuses decimal here; take it as all bits cared for
                value, mask = parse_int(text, line), full
            else:
                value, mask, _ = digits
                if key.bitwidth:
                    mask &= full
        _check_width(value, key, text, line)
        if mask == 0:
            return KeyMatch("any")
        return KeyMatch("ternary", value & mask, mask)
    if kind == "lpm":
        if "/" in text:
            v_text, p_text = text.split("/")
            value, prefix = parse_int(v_text, line), int(p_text)
        else:
            digits = _digits_with_dont_care(text)
            if digits is None:
                value, prefix = parse_int(text, line), key.bitwidth
            else:
                value, _, _ = digits
                written = text[2:]
                prefix = (len(written) - written.count("*")) * _DIGIT_BITS[text[:2].lower()]
        _check_width(value, key, text, line)
        if key.bitwidth:
            prefix = min(prefix, key.bitwidth)
            # BMv2 keeps only the prefix bits of the value; kvick refuses host bits.
            value &= full ^ ((1 << (key.bitwidth - prefix)) - 1)
        if prefix == 0:
            return KeyMatch("any")
        return KeyMatch("lpm", value, prefix)
    if kind == "range":
        if "->" in text:
            lo_text, hi_text = text.split("->")
            lo, hi = parse_int(lo_text, line), parse_int(hi_text, line)
        else:
            lo = hi = parse_int(text, line)
        _check_width(hi, key, text, line)
        if lo > hi:
            raise StfError(line, f"empty range {text} for key field {key.name}")
        return KeyMatch("range", lo, hi)
    if kind == "optional":
        value = parse_int(text, line)
        _check_width(value, key, text, line)
        return KeyMatch("optional", value)
    raise StfError(line, f"key field {key.name} has unsupported match type {kind!r}")


def default_match(key: KeyDesc) -> KeyMatch:
    """What bmv2stf sends for a key field an `add` leaves out."""
    if key.match_type in ("exact", "valid"):
        return KeyMatch("exact", 0)
    return KeyMatch("any")


def build_match(table: TableDesc, fields: Iterable[MatchField], line: int = 0) -> list[KeyMatch]:
    """The full key of an entry, one KeyMatch per key field in key order."""
    matches = [default_match(k) for k in table.keys]
    position = {k.name: i for i, k in enumerate(table.keys)}
    for written in fields:
        key = resolve_key_field(table, written.name, line)
        matches[position[key.name]] = convert_match(key, written.value, line)
    return matches


def build_params(action: ActionDesc, args: Iterable[tuple[str, str]], line: int = 0) -> list[int]:
    """Action parameters in declaration order; every parameter must be given."""
    given: dict[str, int] = {}
    widths = dict(action.params)
    for name, text in args:
        if name not in widths:
            raise StfError(line, f"action {action.name} has no parameter {name!r}")
        value = parse_int(text, line)
        if value >> widths[name]:
            raise StfError(line, f"value {text} does not fit parameter {name} of "
                           f"{action.name} ({widths[name]} bits)")
        given[name] = value
    missing = [name for name, _ in action.params if name not in given]
    if missing:
        raise StfError(line, f"action {action.name} needs parameter(s) {', '.join(missing)}")
    return [given[name] for name, _ in action.params]


def target_priority(stf_priority: int | None, table: TableDesc) -> int | None:
    """The kvick priority (higher wins, from 1) for an STF priority (higher wins, from 0).

    A table that needs priorities but gets none in the file gets 1, the lowest.
    """
    if not table.needs_priority:
        return None
    return 1 if stf_priority is None else stf_priority + 1


# ---------------------------------------------------------------------------------------
# Expected packets


def packet_mismatch(pattern: str, frame: bytes) -> str | None:
    """Why `frame` does not match an expect pattern, or None when it does."""
    got = frame.hex().upper()
    exact_length = pattern.endswith("$")
    want = pattern[:-1] if exact_length else pattern
    if len(got) < len(want):
        return f"too short: {len(got) // 2} bytes, pattern needs {len(want) / 2:g}"
    for i, nibble in enumerate(want):
        if nibble != "*" and nibble != got[i]:
            return f"differs at byte {i // 2} (nibble {i}): expected {nibble}, got {got[i]}"
    if exact_length and len(got) > len(want):
        return f"too long: {len(got) // 2} bytes, pattern ends at {len(want) / 2:g} ($)"
    return None


@dataclass
class Output:
    """One transmitted packet and the `packet` line whose processing produced it."""

    port: int
    data: bytes
    cause_line: int


def check_outputs(expects: list[ExpectPacket], outputs: list[Output],
                  ports: set[int]) -> list[str]:
    """bmv2stf's end-of-test check; returns one readable report per failing port."""
    wanted: dict[int, list[ExpectPacket]] = {}
    any_ports: set[int] = set()
    for e in expects:
        if e.pattern is None:
            any_ports.add(e.port)
        else:
            wanted.setdefault(e.port, []).append(e)
    got: dict[int, list[Output]] = {}
    for out in outputs:
        got.setdefault(out.port, []).append(out)
    failures = []
    for port in sorted(ports):
        if port in any_ports:
            continue
        exp, rcv = wanted.get(port, []), got.get(port, [])
        problems = []
        if len(exp) != len(rcv):
            problems.append(f"expected {len(exp)} packet(s), got {len(rcv)}")
        for i in range(min(len(exp), len(rcv))):
            why = packet_mismatch(exp[i].pattern or "", rcv[i].data)
            if why:
                problems.append(f"packet #{i + 1} {why}")
        if problems:
            failures.append(_port_report(port, exp, rcv, problems))
    return failures


def _port_report(port: int, exp: list[ExpectPacket], rcv: list[Output],
                 problems: list[str]) -> str:
    lines = [f"port {port}: " + "; ".join(problems)]
    for i in range(max(len(exp), len(rcv))):
        if i < len(exp):
            lines.append(f"  #{i + 1} expected (line {exp[i].line}): {exp[i].pattern}")
        else:
            lines.append(f"  #{i + 1} expected: nothing")
        if i < len(rcv):
            lines.append(f"  #{i + 1} got (from line {rcv[i].cause_line}):"
                         f"      {rcv[i].data.hex().upper()}")
        else:
            lines.append(f"  #{i + 1} got: nothing")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Result of a run


@dataclass
class StfResult:
    passed: bool
    errors: list[str] = field(default_factory=list)  # commands that failed, counter checks
    port_failures: list[str] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    ignored_outputs: list[Output] = field(default_factory=list)  # to ports BMv2 would not have
    notes: list[str] = field(default_factory=list)

    def report(self) -> str:
        parts = list(self.notes) + list(self.errors) + list(self.port_failures)
        if self.ignored_outputs:
            ports = sorted({o.port for o in self.ignored_outputs})
            parts.append(f"({len(self.ignored_outputs)} packet(s) to unused port(s) "
                         f"{ports} ignored)")
        parts.append("PASS" if self.passed else "FAIL")
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------
# Resolution: every name and value checked against the program before the switch is used


@dataclass(frozen=True)
class TableAdd:
    line: int
    table: str  # full JSON names from here on
    match: tuple[KeyMatch, ...]  # one per key field, in key order
    action: str
    params: tuple[int, ...]
    priority: int | None  # kvick's: higher wins, from 1
    label: str | None


@dataclass(frozen=True)
class TableSetDefault:
    line: int
    table: str
    action: str
    params: tuple[int, ...]


@dataclass(frozen=True)
class CounterCheck:
    line: int
    counter: str
    direct_table: str | None  # set: read the labelled entry's direct counter
    index: int | None
    label: str | None
    kind: str | None
    op: str
    value: int


@dataclass(frozen=True)
class RegisterSet:
    line: int
    register: str
    index: int
    value: int


Step = (
    TableAdd
    | TableSetDefault
    | CounterCheck
    | RegisterSet
    | RemoveEntries
    | SendPacket
    | ExpectPacket
    | MirroringAdd
    | McGroupCreate
    | McNodeCreate
    | McNodeAssociate
    | Wait
)


def resolve(commands: Iterable[Command], names: ProgramNames) -> list[Step]:
    """Commands with every name and value resolved; raises StfError at the first problem."""
    steps: list[Step] = []
    labels: dict[str, str] = {}  # label -> table, for the counter checks that use them
    for c in commands:
        if isinstance(c, AddEntry):
            table = names.table(c.table, c.line)
            match = build_match(table, c.matches, c.line)
            action = names.action(table, c.action.name, c.line)
            params = build_params(action, c.action.args, c.line)
            if c.label is not None:
                labels[c.label] = table.name
            steps.append(TableAdd(c.line, table.name, tuple(match), action.name, tuple(params),
                                  target_priority(c.priority, table), c.label))
        elif isinstance(c, SetDefault):
            table = names.table(c.table, c.line)
            action = names.action(table, c.action.name, c.line)
            params = build_params(action, c.action.args, c.line)
            steps.append(TableSetDefault(c.line, table.name, action.name, tuple(params)))
        elif isinstance(c, CheckCounter):
            counter = names.counter(c.counter, c.line)
            if c.label is not None:
                if c.label not in labels:
                    raise StfError(c.line, f"no entry labelled {c.label!r} before this line")
                if counter.direct_table != labels[c.label]:
                    raise StfError(c.line, f"counter {counter.name} is not the direct counter "
                                   f"of {labels[c.label]}, the table of entry {c.label}")
            elif counter.direct_table is not None:
                raise StfError(c.line, f"direct counter {counter.name} needs an entry $label")
            elif not 0 <= (c.index or 0) < counter.size:
                raise StfError(c.line, f"index {c.index} outside counter {counter.name} "
                               f"of size {counter.size}")
            steps.append(CounterCheck(c.line, counter.name, counter.direct_table, c.index,
                                      c.label, c.kind, c.op, c.value))
        elif isinstance(c, RegisterWrite):
            register = names.register(c.register, c.line)
            if not 0 <= c.index < register.size or c.value >> register.bitwidth:
                raise StfError(c.line, f"register_write {register.name}[{c.index}] = {c.value} "
                               f"does not fit ({register.size} x {register.bitwidth} bits)")
            steps.append(RegisterSet(c.line, register.name, c.index, c.value))
        else:
            steps.append(c)
    return steps


# ---------------------------------------------------------------------------------------
# Runner


def _to_target_match(matches: Iterable[KeyMatch]) -> list[Any]:
    from target import Exact, Lpm, Optional, Range, Ternary

    result: list[Any] = []
    for m in matches:
        if m.kind == "exact":
            result.append(Exact(m.a))
        elif m.kind == "lpm":
            result.append(Lpm(m.a, m.b))
        elif m.kind == "ternary":
            result.append(Ternary(m.a, m.b))
        elif m.kind == "range":
            result.append(Range(m.a, m.b))
        elif m.kind == "optional":
            result.append(Optional(m.a))
        else:
            result.append(None)
    return result


class StfRunner:
    """Applies resolved STF steps to one loaded switch and checks the outcome."""

    def __init__(self, switch: Any, log: Callable[[str], None] | None = None,
                 check_counters: bool = True) -> None:
        self.switch = switch
        self.check_counters = check_counters
        self.log = log or (lambda text: None)
        self.labels: dict[str, tuple[str, int]] = {}  # entry label -> (table, handle)
        self.tables_written: set[str] = set()
        self.mc_nodes: list[tuple[int, tuple[int, ...]]] = []  # handle -> (rid, ports)
        self.mc_groups: dict[int, list[int]] = {}  # group -> node handles, in order
        self.outputs: list[Output] = []
        self.errors: list[str] = []
        self.notes: list[str] = []  # findings that do not fail the run

    def run(self, steps: list[Step]) -> StfResult:
        ports = {s.port for s in steps if isinstance(s, (SendPacket, ExpectPacket))}
        expects = [s for s in steps if isinstance(s, ExpectPacket)]
        for step in steps:
            try:
                self.apply(step)
            except StfError as e:
                self.errors.append(f"error: {e}")
            except Exception as e:  # a target error: the command failed on the switch
                self.errors.append(f"error: line {step.line}: {type(e).__name__}: {e}")
        seen = [o for o in self.outputs if o.port in ports]
        ignored = [o for o in self.outputs if o.port not in ports]
        failures = check_outputs(expects, seen, ports)
        return StfResult(not self.errors and not failures, self.errors, failures, seen, ignored,
                         self.notes)

    def apply(self, step: Step) -> None:
        if isinstance(step, SendPacket):
            for port, data in self.switch.process([(step.port, step.data)]):
                self.outputs.append(Output(port, bytes(data), step.line))
        elif isinstance(step, TableAdd):
            handle = self.switch.table_add(step.table, _to_target_match(step.match),
                                           step.action, list(step.params),
                                           priority=step.priority)
            self.log(f"line {step.line}: {step.table} entry {handle}: {step.action}"
                     f"{list(step.params)}")
            self.tables_written.add(step.table)
            if step.label is not None:
                self.labels[step.label] = (step.table, handle)
        elif isinstance(step, TableSetDefault):
            self.switch.table_set_default(step.table, step.action, list(step.params))
        elif isinstance(step, RemoveEntries):
            self._remove(step)
        elif isinstance(step, CounterCheck):
            try:
                self._check_counter(step)
            except StfError as e:
                if self.check_counters:
                    raise
                self.notes.append(f"ignored: {e}")
        elif isinstance(step, MirroringAdd):
            self.switch.clone_session_set(step.session, [(step.port, 0)])
        elif isinstance(step, McGroupCreate):
            self.mc_groups[step.group] = []
            self.switch.mc_group_set(step.group, [])
        elif isinstance(step, McNodeCreate):
            self.mc_nodes.append((step.rid, step.ports))
        elif isinstance(step, McNodeAssociate):
            self._mc_associate(step)
        elif isinstance(step, RegisterSet):
            self.switch.register_write(step.register, step.index, step.value)
        # ExpectPacket is checked at the end and Wait has nothing to wait for: processing
        # is synchronous.

    def _remove(self, step: RemoveEntries) -> None:
        if step.label is None:
            for table in sorted(self.tables_written):
                self.switch.table_clear(table)
            self.labels.clear()
            return
        if step.label not in self.labels:
            raise StfError(step.line, f"no entry labelled {step.label!r}")
        table, handle = self.labels.pop(step.label)
        self.switch.table_delete(table, handle)

    def _mc_associate(self, step: McNodeAssociate) -> None:
        if step.group not in self.mc_groups:
            raise StfError(step.line, f"multicast group {step.group} not created")
        if not 0 <= step.node < len(self.mc_nodes):
            raise StfError(step.line, f"no multicast node {step.node}")
        self.mc_groups[step.group].append(step.node)
        replicas = []
        for node in self.mc_groups[step.group]:
            rid, node_ports = self.mc_nodes[node]
            replicas.extend((port, rid) for port in node_ports)
        self.switch.mc_group_set(step.group, replicas)

    def _check_counter(self, step: CounterCheck) -> None:
        if step.label is not None:
            if step.label not in self.labels:
                raise StfError(step.line, f"entry {step.label} was not added")
            table, handle = self.labels[step.label]
            packets, nbytes = self.switch.direct_counter_read(table, handle)
            where = f"{step.counter}(${step.label})"
        else:
            packets, nbytes = self.switch.counter_read(step.counter, step.index)
            where = f"{step.counter}({step.index})"
        compare = _COMPARISONS[step.op]
        for kind in [step.kind] if step.kind else ["packets", "bytes"]:
            actual = packets if kind == "packets" else nbytes
            if not compare(actual, step.value):
                raise StfError(step.line, f"check_counter {where}: {kind} is {actual}, "
                               f"expected {step.op} {step.value}")


def run_stf(json_path: str | Path, stf_path: str | Path,
            switch_factory: Callable[[], Any] | None = None,
            log: Callable[[str], None] | None = None, check_counters: bool = True) -> StfResult:
    """Load the program into a fresh switch and run one STF file on it.

    An STF file that sends no packet and checks nothing is refused (StfError): it would
    pass whatever the program does.
    """
    from target import TargetError

    text = _read(stf_path, "STF file")
    document = _read(json_path, "program")
    try:
        names = ProgramNames(json.loads(document))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ProgramFileError(f"{json_path}: not a BMv2 JSON program ({e})") from None
    parsed = parse_stf(text)
    if not any(isinstance(c, (SendPacket, ExpectPacket, CheckCounter)) for c in parsed):
        raise StfError(0, "no packet, expectation or counter check: nothing to test")
    steps = resolve(parsed, names)
    if switch_factory is None:
        from target import Switch

        switch_factory = Switch
    switch = switch_factory()
    try:
        switch.load(document.encode())
    except TargetError as e:
        raise ProgramFileError(f"{json_path}: {e}") from None
    return StfRunner(switch, log, check_counters).run(steps)


class ProgramFileError(Exception):
    """A program or STF file that cannot be read or used; the message names it."""


def _read(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text()
    except UnicodeDecodeError:
        raise ProgramFileError(f"{path}: the {what} is not a text file") from None
    except OSError as e:
        raise ProgramFileError(f"{path}: {e.strerror or e}") from None


def main(argv: list[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """`kvick stf PROGRAM.json FILE.stf`: 0 when every expectation holds, 1 when one fails.

    A file that cannot be used (missing, not a program, not STF, nothing to test) is one
    line on `err` (stderr) and status 1.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    parser = ArgumentParser(prog="kvick stf",
                                     description="Run a p4c STF test on kvick.")
    parser.add_argument("program", help="BMv2 JSON of the program")
    parser.add_argument("stf", help="the .stf test file")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print each entry added and every packet received")
    parser.add_argument("--ignore-counters", action="store_true",
                        help="report check_counter results without failing (as bmv2stf)")
    args = parser.parse_args(argv)
    log = (lambda text: print(text, file=out)) if args.verbose else None
    try:
        result = run_stf(args.program, args.stf, log=log,
                         check_counters=not args.ignore_counters)
    except StfError as e:
        print(f"kvick stf: {args.stf}: {e}", file=err)
        return 1
    except ProgramFileError as e:
        print(f"kvick stf: {e}", file=err)
        return 1
    if args.verbose:
        for o in result.outputs + result.ignored_outputs:
            print(f"out port {o.port} (from line {o.cause_line}): {o.data.hex().upper()}",
                  file=out)
    print(result.report(), file=out)
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
