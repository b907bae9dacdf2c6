"""Turn the engine's trace records into BMv2's per-packet log: the messages of bm_sim and
simple_switch (parser.cpp, pipeline.cpp, tables.cpp, match_tables.cpp, match_units.cpp,
conditionals.cpp, actions.cpp, deparser.cpp, simple_switch.cpp), in their words and at their
levels, each with BMv2's `[packet_id] [cxt 0] ` prefix.

The engine records events, not messages: one record can stand for several BMv2 lines (an
egress pass that transmits is BMv2's egress pipeline, deparser and transmit), and value
records (EV_FIELD, EV_KEY, EV_PARAM) follow the event they belong to. The records of the
packets of one batch interleave (the engine parses a group of packets before their tables run),
so the state of each packet (which parser state is open, how many bytes it parsed, whether its
egress port is still to be told) is kept per packet. kvick adds what BMv2 does not log, each on
its own trace line: the field values of an extracted header and the values primitives write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from target.log_msg import format_log_msg
from target.pipeline.loader import Program

TRACE = 5                    # BMv2's trace level, below logging.DEBUG
DEBUG, INFO, ERROR = logging.DEBUG, logging.INFO, logging.ERROR

ERRORS = {0: "NoError", 1: "PacketTooShort", 2: "NoMatch", 3: "StackOutOfBounds",
          4: "HeaderTooShort", 5: "ParserTimeout", 6: "ParserInvalidArgument"}

(EV_PACKET_IN, EV_PARSE_STATE, EV_EXTRACT, EV_PARSER_ERROR, EV_TABLE_HIT, EV_TABLE_MISS,
 EV_ACTION, EV_COND, EV_INGRESS_DONE, EV_DROP, EV_EGRESS, EV_OUT, EV_CLONE, EV_RESUBMIT,
 EV_RECIRC, EV_MULTICAST, EV_ASSERT, EV_LOG, EV_EGRESS_DONE, EV_CHECKSUM_ERROR,
 EV_FIELD, EV_KEY, EV_PARAM, EV_WRITE) = range(1, 25)

INSTANCE_REPLICATION = 5
_PARSER_EVENTS = (EV_PARSE_STATE, EV_EXTRACT, EV_FIELD, EV_PARSER_ERROR, EV_CHECKSUM_ERROR)

Line = tuple[int, str]       # (logging level, message)


def _hex(value: int, width: int) -> str:
    """A field value: hex digits, as many as the width needs."""
    width = max(width, 1)
    return f"{value & ((1 << width) - 1):0{(width + 3) // 4}x}"


def _where(info: object) -> str:
    """BMv2's SourceInfo prefix: `FILE(LINE) `, the file as the JSON names it."""
    if isinstance(info, dict) and info.get("filename"):
        return f"{info['filename']}({info.get('line', '?')}) "
    return ""


def _hex_bytes(value: int, width: int) -> str:
    """A key value as BMv2's dump_hexstring prints it: whole bytes."""
    nbytes = max((width + 7) // 8, 1)
    return f"{value & ((1 << (8 * nbytes)) - 1):0{2 * nbytes}x}"


@dataclass
class _Packet:
    """What the log still has to say about one packet of the batch."""
    tag: str
    parsing: bool = False            # between "Parser 'parser': start" and its end
    state_open: bool = False         # a parser state entered, its "Bytes parsed" not yet said
    parsed: int = 0
    ingress: bool = False            # "Pipeline 'ingress': start" said, not its end
    egress: bool = False
    egress_port: int | None = None   # "Egress port is N", said unless it resubmits/multicasts
    state: int = -1                  # the parser state entered last
    fields: dict[int, int] = field(default_factory=dict)   # extracted field values
    table: int = -1                  # the table whose key records are arriving
    keys: list[str] = field(default_factory=list)
    action: tuple[int, list[str], bool] | None = None  # action id, param values, from a table
    log_values: list[int] = field(default_factory=list)   # of the log_msg call being recorded


class TraceFormatter:
    def __init__(self, prog: Program):
        self.p = prog
        self.conds: dict[int, str] = {}
        for start, (name, info) in prog.cond_source.items():
            fragment = info.get("source_fragment") or name
            self.conds[start] = f'{_where(info)}Condition "{fragment}" ({name})'
        self.errors = {v: k for k, v in prog.errors.items()} or ERRORS
        raw = prog.raw if isinstance(prog.raw, dict) else {}
        # Per action (the loader numbers them in the JSON's order): "Action" with its source
        # and one "Primitive" line per primitive, as actions.cpp logs them when they run.
        self.action_lines: list[list[str]] = []
        raw_actions = raw.get("actions", [])
        for i, (name, *_rest) in enumerate(prog.actions):
            ja = raw_actions[i] if i < len(raw_actions) and isinstance(raw_actions[i], dict) else {}
            if ja.get("name") != name:
                ja = {}
            lines = [f"{_where(ja.get('source_info'))}Action {name}"]
            for prim in ja.get("primitives", []):
                info = prim.get("source_info") if isinstance(prim, dict) else None
                fragment = info.get("source_fragment") if isinstance(info, dict) else None
                lines.append(f"{_where(info)}Primitive {fragment or '(no source info)'}")
            self.action_lines.append(lines)
        # Per parser state: the fields of its transition key (None: a key kvick cannot
        # rebuild from the extracted values, e.g. a lookahead), [] when it has no select.
        self.state_keys: list[list[tuple[int, int]] | None] = []
        raw_states = {}
        for parser in raw.get("parsers", []):
            for st in parser.get("parse_states", []) if isinstance(parser, dict) else []:
                if isinstance(st, dict):
                    raw_states.setdefault(st.get("name"), st)
        for st in prog.parser_states:
            keys: list[tuple[int, int]] | None = []
            for element in raw_states.get(st["name"], {}).get("transition_key", []):
                value = element.get("value") if isinstance(element, dict) else None
                fid = (prog.field_by_name.get(f"{value[0]}.{value[1]}", -1)
                       if element.get("type") == "field" and isinstance(value, list)
                       and len(value) == 2 else -1)
                if fid < 0 or keys is None:
                    keys = None
                    continue
                keys.append((fid, prog.fields[fid].width))
            self.state_keys.append(keys)

    def format(self, records: list[tuple[int, int, int, int, int]]) -> list[str]:
        """The messages alone (tests, the `--trace` sink of the Switch API)."""
        return [text for _, text in self.format_levels(records)]

    def format_levels(self, records: list[tuple[int, int, int, int, int]]) -> list[Line]:
        out: list[Line] = []
        packets: dict[int, _Packet] = {}
        for seq, ev, a, b, v in records:
            pk = packets.get(seq)
            if pk is None:
                pk = packets[seq] = _Packet(f"[{seq - 1}.0] [cxt 0] ")
            self._event(out, pk, ev, a, b, v)
        for pk in packets.values():
            self._finish_action(out, pk)
            self._say_egress_port(out, pk)
        return out

    # ------------------------------------------------------------------ one record
    def _event(self, out: list[Line], pk: _Packet, ev: int, a: int, b: int, v: int) -> None:
        p = self.p
        say = lambda level, text: out.append((level, pk.tag + text))  # noqa: E731
        if ev == EV_PARAM:
            if pk.action is not None:
                pk.action[1].append(f"{v:x}")
            return
        self._finish_action(out, pk)
        if ev != EV_ACTION and pk.action is not None:
            pk.action = None                         # a table without an action to run
        if ev == EV_FIELD:
            f = p.fields[a]
            pk.fields[a] = v
            if out and out[-1][0] == TRACE and out[-1][1].startswith(pk.tag + "Header "):
                level, text = out[-1]
                out[-1] = (level, f"{text} {f.name.split('.', 1)[1]}={_hex(v, f.width)}")
            return
        if pk.parsing and ev not in _PARSER_EVENTS:
            self._end_parser(out, pk)
        if ev == EV_PACKET_IN:
            say(DEBUG, f"Processing packet received on port {a}")
            say(DEBUG, "Parser 'parser': start")
            pk.parsing, pk.state_open, pk.parsed = True, False, 0
        elif ev == EV_PARSE_STATE:
            self._leave_state(out, pk)
            say(DEBUG, f"Parser 'parser' entering state '{p.parser_states[a]['name']}'")
            pk.state_open, pk.state = True, a
        elif ev == EV_EXTRACT:
            say(DEBUG, f"Extracting header '{p.headers[a].name}'")
            say(TRACE, f"Header '{p.headers[a].name}' ({b} bytes):")
            pk.parsed += b
        elif ev == EV_PARSER_ERROR:
            say(ERROR, f"Exception while parsing: {self.errors.get(a, a)}")
            pk.state_open = False
        elif ev == EV_CHECKSUM_ERROR:
            say(ERROR, f"Checksum '{p.checksums[a]['name']}' is not correct")
        elif ev == EV_KEY:
            self._apply_table(out, pk, b)
            key = p.tables[b].keys[a]
            pk.keys.append(f"* {key.name:<{self._name_width(b)}}: {_hex_bytes(v, key.bitwidth)}")
        elif ev in (EV_TABLE_HIT, EV_TABLE_MISS):
            self._apply_table(out, pk, a)
            if pk.keys:
                say(DEBUG, "Looking up key:\n" + "\n".join(pk.keys) + "\n")
            name = p.tables[a].name
            say(DEBUG, f"Table '{name}': hit with handle {b}" if ev == EV_TABLE_HIT
                else f"Table '{name}': miss")
            pk.table, pk.keys = -1, []
            pk.action = (-1, [], True)             # the table's action follows
        elif ev == EV_ACTION:
            from_table = pk.action is not None and pk.action[0] == -1
            pk.action = (a, [], from_table)
        elif ev == EV_WRITE:
            f = p.fields[a]
            say(TRACE, f"Primitive result: {f.name} = {_hex(v, f.width)}")
        elif ev == EV_COND:
            self._ingress_started(out, pk)
            say(TRACE, f"{self.conds.get(a, f'Condition {a}')} is {'true' if b else 'false'}")
        elif ev == EV_INGRESS_DONE:
            self._ingress_started(out, pk)
            say(DEBUG, "Pipeline 'ingress': end")
            pk.ingress = False
            pk.egress_port = a if b == 0 else None
        elif ev == EV_CLONE:
            say(DEBUG, f"Cloning packet at {'ingress' if v == 1 else 'egress'}")
            say(DEBUG, f"Cloning packet to egress port {b}")
        elif ev == EV_RESUBMIT:
            pk.egress_port = None
            say(DEBUG, "Resubmitting packet")
        elif ev == EV_MULTICAST:
            pk.egress_port = None
            say(DEBUG, "Multicast requested for packet")
        elif ev == EV_DROP:
            self._say_egress_port(out, pk)
            if a == 2:
                say(ERROR, "Priority out of range, dropping packet")
            elif a == 1:
                self._end_egress(out, pk)
                say(DEBUG, "Dropping packet at the end of egress")
            else:
                say(DEBUG, "Dropping packet at the end of ingress")
        elif ev == EV_EGRESS:
            self._say_egress_port(out, pk)
            if b == INSTANCE_REPLICATION:
                say(DEBUG, f"Replicating packet on port {a}")
            say(DEBUG, "Pipeline 'egress': start")
            pk.egress = True
        elif ev == EV_RECIRC:
            self._end_egress(out, pk, deparse=True)
            say(DEBUG, "Recirculating packet")
        elif ev == EV_OUT:
            self._end_egress(out, pk, deparse=True)
            say(DEBUG, f"Transmitting packet of size {b} out of port {a}")
        elif ev == EV_ASSERT:
            say(ERROR, "Assert error (kvick drops the packet; BMv2 stops)")
        elif ev == EV_LOG and b:
            pk.log_values.append(v - (1 << 128) if b == 2 and v >> 127 else v)
        elif ev == EV_LOG:
            # log_msg: info, no packet prefix (BMv2); a bad format is BMv2's error line
            ok, text = format_log_msg(p.strings[a], pk.log_values, p.log_sources[a])
            out.append((INFO if ok else ERROR, text))
            pk.log_values = []
        elif ev != EV_EGRESS_DONE:
            say(TRACE, f"event {ev} {a} {b} {v}")

    # ------------------------------------------------------------------ helpers
    def _name_width(self, table: int) -> int:
        return max([20] + [len(k.name) for k in self.p.tables[table].keys])

    def _leave_state(self, out: list[Line], pk: _Packet) -> None:
        """What parser.cpp says after a state ran: its select key, the bytes parsed so far."""
        if not pk.state_open:
            return
        keys = self.state_keys[pk.state] if 0 <= pk.state < len(self.state_keys) else None
        name = self.p.parser_states[pk.state]["name"] if pk.state >= 0 else "?"
        if keys == []:
            out.append((DEBUG, f"{pk.tag}Parser state '{name}' has no switch, going to "
                               "default next state"))
        elif keys is not None and all(fid in pk.fields for fid, _ in keys):
            key = "".join(_hex_bytes(pk.fields[fid], width) for fid, width in keys)
            out.append((DEBUG, f"{pk.tag}Parser state '{name}': key is {key}"))
        out.append((TRACE, f"{pk.tag}Bytes parsed: {pk.parsed}"))
        pk.state_open = False

    def _end_parser(self, out: list[Line], pk: _Packet) -> None:
        self._leave_state(out, pk)
        out.append((DEBUG, f"{pk.tag}Parser 'parser': end"))
        pk.parsing = pk.state_open = False

    def _ingress_started(self, out: list[Line], pk: _Packet) -> None:
        if not pk.ingress and not pk.egress:
            out.append((DEBUG, f"{pk.tag}Pipeline 'ingress': start"))
            pk.ingress = True

    def _apply_table(self, out: list[Line], pk: _Packet, table: int) -> None:
        if pk.table != table:
            self._ingress_started(out, pk)
            out.append((TRACE, f"{pk.tag}Applying table '{self.p.tables[table].name}'"))
            pk.table, pk.keys = table, []

    def _finish_action(self, out: list[Line], pk: _Packet) -> None:
        """An action's lines once its parameter values are in."""
        if pk.action is None or pk.action[0] < 0:
            return
        action, values, from_table = pk.action
        name = self.p.actions[action][0]
        if from_table:
            out.append((DEBUG, f"{pk.tag}Action entry is {name} - "
                               + "".join(f"{x}," for x in values)))
        for line in self.action_lines[action]:
            out.append((TRACE, pk.tag + line))
        pk.action = None

    def _say_egress_port(self, out: list[Line], pk: _Packet) -> None:
        if pk.egress_port is not None:
            out.append((DEBUG, f"{pk.tag}Egress port is {pk.egress_port}"))
            pk.egress_port = None

    def _end_egress(self, out: list[Line], pk: _Packet, deparse: bool = False) -> None:
        if pk.egress:
            out.append((DEBUG, f"{pk.tag}Pipeline 'egress': end"))
            pk.egress = False
        if deparse:
            out.append((DEBUG, f"{pk.tag}Deparser 'deparser': start"))
            out.append((DEBUG, f"{pk.tag}Deparser 'deparser': end"))
