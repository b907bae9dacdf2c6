"""Turn the engine's trace records into one readable line per event, in BMv2's log words.

Value records (EV_FIELD, EV_KEY, EV_PARAM) follow the event they belong to and are folded into
its line: an extracted header's fields, a table's key before its hit/miss line, an action's
parameters. EV_WRITE is a field a primitive assigned, with its new value.
"""

from __future__ import annotations

from target.pipeline.loader import Program

ERRORS = {0: "NoError", 1: "PacketTooShort", 2: "NoMatch", 3: "StackOutOfBounds",
          4: "HeaderTooShort", 5: "ParserTimeout", 6: "ParserInvalidArgument"}

(EV_PACKET_IN, EV_PARSE_STATE, EV_EXTRACT, EV_PARSER_ERROR, EV_TABLE_HIT, EV_TABLE_MISS,
 EV_ACTION, EV_COND, EV_INGRESS_DONE, EV_DROP, EV_EGRESS, EV_OUT, EV_CLONE, EV_RESUBMIT,
 EV_RECIRC, EV_MULTICAST, EV_ASSERT, EV_LOG, EV_EGRESS_DONE, EV_CHECKSUM_ERROR,
 EV_FIELD, EV_KEY, EV_PARAM, EV_WRITE) = range(1, 25)


def _hex(value: int, width: int) -> str:
    """A value as BMv2 prints it: hex digits, as many as the width needs."""
    width = max(width, 1)
    return f"{value & ((1 << width) - 1):0{(width + 3) // 4}x}"


class TraceFormatter:
    def __init__(self, prog: Program):
        self.p = prog
        self.conds: dict[int, str] = {}
        for start, (name, info) in prog.cond_source.items():
            where = ""
            if info.get("filename"):
                where = f"{info['filename'].rsplit('/', 1)[-1]}({info.get('line', '?')}) "
            fragment = info.get("source_fragment")
            self.conds[start] = f'{where}Condition "{fragment}" ({name})' if fragment \
                else f"{where}Condition {name}"
        self.errors = {v: k for k, v in prog.errors.items()} or ERRORS

    def format(self, records: list[tuple[int, int, int, int, int]]) -> list[str]:
        lines: list[str] = []
        keys: list[str] = []
        for seq, ev, a, b, v in records:
            if ev == EV_FIELD:
                f = self.p.fields[a]
                lines[-1] += f" {f.name.split('.', 1)[1]}={_hex(v, f.width)}"
            elif ev == EV_KEY:
                k = self.p.tables[b].keys[a]
                keys.append(f"{k.name}={_hex(v, k.bitwidth)}")
            elif ev == EV_PARAM:
                params = self.p.actions[b][1]
                if a < len(params):
                    name, width = params[a]
                    sep = "(" if lines[-1].endswith(self.p.actions[b][0]) else ", "
                    lines[-1] += f"{sep}{name}={_hex(v, width)}"
                    if a == len(params) - 1:
                        lines[-1] += ")"
            else:
                line = self.line(seq, ev, a, b, v)
                if ev in (EV_TABLE_HIT, EV_TABLE_MISS) and keys:
                    line += f" (key {', '.join(keys)})"
                if ev in (EV_TABLE_HIT, EV_TABLE_MISS):
                    keys = []
                lines.append(line)
        return lines

    def line(self, seq: int, ev: int, a: int, b: int, v: int) -> str:
        p = self.p
        tag = f"[{seq}]"
        if ev == EV_PACKET_IN:
            kinds = {0: "", 1: " (ingress clone)", 4: " (recirculated)", 6: " (resubmitted)"}
            return f"{tag} packet in on port {a}, {b} bytes{kinds.get(v, '')}"
        if ev == EV_PARSE_STATE:
            return f"{tag} parser state {p.parser_states[a]['name']}"
        if ev == EV_EXTRACT:
            return f"{tag} extract {p.headers[a].name} ({b} bytes):"
        if ev == EV_PARSER_ERROR:
            return f"{tag} parser error {self.errors.get(a, a)}"
        if ev == EV_TABLE_HIT:
            return f"{tag} table {p.tables[a].name}: hit entry {b}"
        if ev == EV_TABLE_MISS:
            return f"{tag} table {p.tables[a].name}: miss, default action"
        if ev == EV_WRITE:
            f = p.fields[a]
            return f"{tag}   {f.name} = {_hex(v, f.width)}"
        if ev == EV_ACTION:
            return f"{tag} action {p.actions[a][0]}"
        if ev == EV_COND:
            return f"{tag} {self.conds.get(a, f'condition@{a}')} is {'true' if b else 'false'}"
        if ev == EV_INGRESS_DONE:
            return f"{tag} ingress done: egress_spec={a} mcast_grp={b}"
        if ev == EV_DROP:
            if a == 2:
                return f"{tag} Priority out of range ({b}), dropping packet"
            return (f"{tag} dropped at the end of {'egress' if a else 'ingress'}: egress_spec is "
                    f"the drop port (mark_to_drop)")
        if ev == EV_EGRESS:
            return f"{tag} egress on port {a} (instance type {b})"
        if ev == EV_OUT:
            return f"{tag} transmitted on port {a}, {b} bytes"
        if ev == EV_CLONE:
            return f"{tag} cloned ({'I2E' if v == 1 else 'E2E'}) by session {a} to port {b}"
        if ev == EV_RESUBMIT:
            return f"{tag} resubmitted"
        if ev == EV_RECIRC:
            return f"{tag} recirculated"
        if ev == EV_MULTICAST:
            return f"{tag} multicast group {a}: {b} copies"
        if ev == EV_ASSERT:
            return f"{tag} assertion failed: packet dropped"
        if ev == EV_LOG:
            return f"{tag} log_msg: {p.strings[a]}"
        if ev == EV_CHECKSUM_ERROR:
            return f"{tag} checksum {p.checksums[a]['name']} does not verify"
        return f"{tag} event {ev} {a} {b} {v}"
