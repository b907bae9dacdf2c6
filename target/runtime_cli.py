"""`--restore-state FILE`: the switch's state as BMv2's runtime_CLI commands.

BMv2 restores what its `serialize_state` command wrote (SwitchWContexts::serialize): a format
version, the MD5 of the JSON, then every table's entries, action profiles and meters with no
names, in the iteration order of C++ unordered_maps keyed by name — an order only that build of
libstdc++ reproduces — and the only way to write such a file is BMv2's Thrift server, which
kvick does not have. kvick reads instead the state BMv2's users keep in files: the commands
they feed to `simple_switch_CLI` (the P4 tutorials' and p4-utils' `commands.txt`). The subset:

    table_add TABLE ACTION MATCH... => PARAM... [PRIORITY]
    table_set_default TABLE ACTION [PARAM...]
    mc_mgrp_create MGID
    mc_node_create RID PORT...              (node handles count from 0, as BMv2's)
    mc_node_associate MGID NODE_HANDLE
    mirroring_add SESSION PORT
    register_write REGISTER INDEX VALUE

Match fields as runtime_CLI writes them: `V` (exact, optional), `V/PREFIX_LEN` (lpm),
`V&&&MASK` (ternary), `LOW->HIGH` (range); values are decimal, 0x-hex, dotted IPv4 or colon
MAC. A ternary or range table's entry ends with its priority (lower wins, as in BMv2). Blank
lines and `#` comments are skipped. A serialize_state file, or any line kvick cannot apply,
stops the switch with one line naming the file and line.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from target.errors import TargetError
from target.match import Exact, Lpm, Optional, Range, Ternary

SERIALIZE_STATE_VERSION = "06062016_0"     # the first line of BMv2's serialize_state output
BMV2_PRIORITY_LIMIT = 1 << 31             # BMv2's priorities are int32, lower wins


class CommandError(Exception):
    """A command kvick cannot apply; the message names the line."""


def value(text: str) -> int:
    """A runtime_CLI number: decimal, 0x-hex, a dotted IPv4 or a colon-separated MAC address."""
    try:
        if text.count(".") == 3:
            return int(ipaddress.IPv4Address(text))
        if ":" in text and all(len(p) <= 2 for p in text.split(":")):
            return int(text.replace(":", ""), 16)
        return int(text, 0)
    except ValueError:
        raise CommandError(f"{text!r} is not a number, IPv4 or MAC address") from None


def match_field(kind: str, text: str) -> Any:
    if kind in ("exact", "valid"):
        return Exact(value(text))
    if kind == "optional":
        return Optional(None if text == "*" else value(text))
    if kind == "lpm":
        v, sep, plen = text.partition("/")
        if not sep:
            raise CommandError(f"lpm field {text!r} needs VALUE/PREFIX_LEN")
        return Lpm(value(v), value(plen))
    if kind == "ternary":
        v, sep, mask = text.partition("&&&")
        if not sep:
            raise CommandError(f"ternary field {text!r} needs VALUE&&&MASK")
        return Ternary(value(v), value(mask))
    if kind == "range":
        low, sep, high = text.partition("->")
        if not sep:
            raise CommandError(f"range field {text!r} needs LOW->HIGH")
        return Range(value(low), value(high))
    raise CommandError(f"match kind {kind!r} is not supported")


class Restorer:
    """Applies commands to a Switch, keeping runtime_CLI's multicast node handles."""

    def __init__(self, switch: Any):
        self.switch = switch
        self.nodes: list[tuple[int, list[int]]] = []      # handle -> (rid, ports)
        self.groups: dict[int, list[int]] = {}             # mgid -> node handles

    def apply(self, words: list[str]) -> None:
        command, args = words[0], words[1:]
        handler = getattr(self, "_" + command, None)
        if handler is None or command.startswith("_"):
            raise CommandError(f"command {command!r} is not one kvick restores")
        handler(args)

    def _table_add(self, args: list[str]) -> None:
        if len(args) < 2 or "=>" not in args:
            raise CommandError("usage: table_add TABLE ACTION MATCH... => PARAM... [PRIORITY]")
        table, action = args[0], args[1]
        arrow = args.index("=>")
        matches, params = args[2:arrow], args[arrow + 1:]
        sw = self.switch
        info = sw.program.tables[sw.program.table_name(table)]
        if len(matches) != len(info.keys):
            raise CommandError(f"table {info.name} has {len(info.keys)} match fields, "
                               f"got {len(matches)}")
        priority = None
        if info.needs_priority:
            nparams = len(sw.program.actions[sw.program.action_name(action)].params)
            if len(params) != nparams + 1:
                raise CommandError(f"table {info.name} needs a priority after the action's "
                                   f"{nparams} parameters")
            bmv2_priority = value(params.pop())
            if not 0 <= bmv2_priority < BMV2_PRIORITY_LIMIT:
                raise CommandError(f"priority {bmv2_priority} out of range")
            priority = BMV2_PRIORITY_LIMIT - bmv2_priority
        match = [match_field(k.match_type, t) for k, t in zip(info.keys, matches, strict=True)]
        sw.table_add(table, match, action, [value(p) for p in params], priority)

    def _table_set_default(self, args: list[str]) -> None:
        if len(args) < 2:
            raise CommandError("usage: table_set_default TABLE ACTION [PARAM...]")
        self.switch.table_set_default(args[0], args[1], [value(p) for p in args[2:]])

    def _mc_mgrp_create(self, args: list[str]) -> None:
        (mgid,) = self._ints(args, 1, "mc_mgrp_create MGID")
        if mgid in self.groups:
            raise CommandError(f"multicast group {mgid} exists")
        self.groups[mgid] = []

    def _mc_node_create(self, args: list[str]) -> None:
        if len(args) < 1:
            raise CommandError("usage: mc_node_create RID PORT...")
        self.nodes.append((value(args[0]), [value(p) for p in args[1:]]))

    def _mc_node_associate(self, args: list[str]) -> None:
        mgid, node = self._ints(args, 2, "mc_node_associate MGID NODE_HANDLE")
        if mgid not in self.groups:
            raise CommandError(f"no multicast group {mgid} (mc_mgrp_create it first)")
        if not 0 <= node < len(self.nodes):
            raise CommandError(f"no multicast node with handle {node}")
        self.groups[mgid].append(node)
        replicas = [(port, rid) for h in self.groups[mgid] for rid, ports in [self.nodes[h]]
                    for port in ports]
        self.switch.mc_group_set(mgid, replicas)

    def _mirroring_add(self, args: list[str]) -> None:
        session, port = self._ints(args, 2, "mirroring_add SESSION PORT")
        self.switch.clone_session_set(session, [(port, 0)])

    def _register_write(self, args: list[str]) -> None:
        if len(args) != 3:
            raise CommandError("usage: register_write REGISTER INDEX VALUE")
        self.switch.register_write(args[0], value(args[1]), value(args[2]))

    @staticmethod
    def _ints(args: list[str], n: int, usage: str) -> list[int]:
        if len(args) != n:
            raise CommandError(f"usage: {usage}")
        return [value(a) for a in args]


def restore(switch: Any, path: str) -> int:
    """Apply FILE's commands to `switch` (a program loaded); returns how many were applied.
    Raises CommandError naming FILE:LINE, or for a file that cannot be read."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise CommandError(f"{path}: {getattr(err, 'strerror', None) or err}") from None
    if lines and lines[0].strip() == SERIALIZE_STATE_VERSION:
        raise CommandError(f"{path} is a BMv2 serialize_state dump, which kvick cannot read "
                           "(see kvick --help: --restore-state reads runtime_CLI commands)")
    restorer = Restorer(switch)
    applied = 0
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        try:
            restorer.apply(words)
        except (CommandError, TargetError) as err:
            raise CommandError(f"{path}:{number}: {err}") from None
        applied += 1
    return applied
