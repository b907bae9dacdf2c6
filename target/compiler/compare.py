"""Check kvick's compiler against another compiler's output for the same P4 program.

    python3 -m target.compiler.compare PROGRAM.p4 OTHER.json OTHER.p4info.txtpb [--packets N]

Two checks: the P4Infos describe the same objects (names, ids, match fields, action parameters,
sizes, action scopes, controller headers, digests), and the engine does the same thing with
either JSON: identical random table entries are installed in two switches, then identical
packets (Ethernet/IPv4/TCP/UDP frames and frames made of the entries' own key values) go through
`Switch.process`; the transmitted frames, packet-ins and digests must be equal.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target.program_info import read_p4info

# P4Info object kinds compared, and the parts of each compared besides name and id.
_KINDS = ("tables", "actions", "counters", "direct_counters", "meters", "direct_meters",
          "registers", "digests", "action_profiles", "controller_packet_metadata", "value_sets")


def _one(obj: dict[str, Any], key: str, default: Any = None) -> Any:
    values = obj.get(key)
    return values[0] if values else default


def _members(obj: dict[str, Any], key: str) -> list[tuple[Any, ...]]:
    found = []
    for m in obj.get(key, []):
        found.append((_one(m, "id"), _one(m, "name"), _one(m, "bitwidth"), _one(m, "match_type")))
    return found


def p4info_summary(p4info: Any) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(kind, name) -> everything a controller relies on, comparable with ==."""
    info = read_p4info(p4info) or {}
    summary: dict[tuple[str, str], tuple[Any, ...]] = {}
    for kind in _KINDS:
        for obj in info.get(kind, []):
            pre = _one(obj, "preamble", {})
            name = _one(pre, "name")
            refs = sorted((_one(r, "id"), _one(r, "scope", "TABLE_AND_DEFAULT"))
                          for r in obj.get("action_refs", []))
            spec = _one(obj, "spec", {})
            summary[(kind, name)] = (
                _one(pre, "id"), _members(obj, "match_fields"), _members(obj, "params"),
                _members(obj, "metadata"), refs, _one(obj, "size"), _one(spec, "unit"),
                _one(obj, "const_default_action_id"), _one(obj, "implementation_id"),
                sorted(_one(obj, "direct_resource_ids", []) and obj["direct_resource_ids"]),
                _one(obj, "is_const_table"), _one(obj, "with_selector"), _one(obj, "type_spec"),
                sorted(obj.get("table_ids", [])), _one(obj, "idle_timeout_behavior"),
            )
    # Serializable enums: the names and values controllers translate (type_info).
    for enum in _one(info, "type_info", {}).get("serializable_enums", []):
        value = _one(enum, "value", {})
        members = [(_one(m, "name"), _one(m, "value")) for m in value.get("members", [])]
        summary[("serializable_enums", _one(enum, "key"))] = (
            _one(_one(value, "underlying_type", {}), "bitwidth"), members)
    return summary


def p4info_differences(ours: Any, theirs: Any) -> list[str]:
    a, b = p4info_summary(ours), p4info_summary(theirs)
    problems = []
    for key in sorted(set(a) | set(b)):
        if key not in a:
            problems.append(f"{key[0]} {key[1]}: only in the other P4Info")
        elif key not in b:
            problems.append(f"{key[0]} {key[1]}: only in kvick's P4Info")
        elif a[key] != b[key]:
            problems.append(f"{key[0]} {key[1]}: kvick {a[key]} != other {b[key]}")
    return problems


@dataclass
class Behaviour:
    """What one switch did with a packet: frames out, packet-ins, digests."""
    out: list[tuple[int, bytes]]
    packet_ins: list[bytes] = field(default_factory=list)
    digests: list[Any] = field(default_factory=list)


def _value_pool(frames: list[bytes]) -> list[int]:
    """Values that occur in the test frames (so that entries built from them get hits)."""
    pool = list(range(0, 9))
    for frame in frames:
        for width in (1, 2, 4, 6):
            for start in range(0, min(len(frame), 60) - width + 1, 2):
                pool.append(int.from_bytes(frame[start:start + width], "big"))
    return pool


def _ipv4_checksum(header: bytes) -> int:
    total = sum(int.from_bytes(header[i:i + 2], "big") for i in range(0, len(header), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ipv4_frame(src: int, dst: int, ttl: int, tos: int, protocol: int, sport: int, dport: int) -> bytes:
    l4 = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") +
          (bytes(8) + b"\x50\x02\x20\x00" + bytes(4) if protocol == 6 else b"\x00\x10" + bytes(2)))
    payload = bytes(8)
    ip = bytearray(20)
    ip[0], ip[1] = 0x45, tos
    ip[2:4] = (20 + len(l4) + len(payload)).to_bytes(2, "big")
    ip[5], ip[8], ip[9] = 1, ttl, protocol
    ip[12:16], ip[16:20] = src.to_bytes(4, "big"), dst.to_bytes(4, "big")
    ip[10:12] = _ipv4_checksum(bytes(ip)).to_bytes(2, "big")
    ethernet = bytes.fromhex("080000000111" "080000000222" "0800")
    return ethernet + bytes(ip) + l4 + payload


def _frames(rng: random.Random, count: int, addresses: list[int]) -> list[bytes]:
    """Test frames; IPv4 destinations are mostly the given addresses (the entries' keys)."""
    frames = []
    for i in range(count):
        dst = (rng.choice(addresses) if addresses and rng.random() < 0.7
               else 0x0A000000 | rng.randrange(4) << 8 | rng.randrange(1, 5))
        src = 0x0A000000 | rng.randrange(4) << 8 | rng.randrange(1, 5)
        frame = _ipv4_frame(src, dst, rng.choice([0, 1, 64]), rng.randrange(256), 6 if i % 2 else 17,
                            rng.randrange(1, 100), rng.randrange(1, 100))
        if i % 3 == 2:
            # Another protocol after Ethernet: the program's own headers, filled with small values.
            ethertype = rng.choice([0x1212, 0x1234, 0x0806, 0x86DD, 0x88B5])
            body = bytes(rng.choice([0, 1, 2, 3, 0x50, 0x08, 0x2B, 0x45]) for _ in range(60))
            frame = frame[:12] + ethertype.to_bytes(2, "big") + body
        frames.append(frame)
    return frames


def _ipv4_addresses(frames: list[bytes]) -> list[int]:
    return [int.from_bytes(f[start:start + 4], "big") for f in frames if f[12:14] == b"\x08\x00"
            for start in (26, 30)]


def _random_entries(sw: Any, rng: random.Random, pool: list[int], per_table: int,
                    addresses: list[int]) -> list[tuple]:
    from target import Exact, Lpm, Optional, Range, Ternary

    entries = []
    for name, table in sorted(sw.program.tables.items()):
        # Tables outside the P4Info (a compiler's hidden tables, named as it likes) are not
        # the control plane's to fill.
        if table.is_const or table.action_profile or table.id is None:
            continue
        actions = [a for a in table.actions if not a.startswith("NoAction")] or table.actions
        for _ in range(per_table):
            match = []
            for key in table.keys:
                top = (1 << key.bitwidth) - 1
                value = rng.choice(pool) & top
                if key.bitwidth == 32 and addresses and rng.random() < 0.7:
                    value = rng.choice(addresses)
                if key.match_type == "exact":
                    # Small values half the time: metadata keys (hash results, ids) are small.
                    match.append(Exact(rng.randrange(4) & top if rng.random() < 0.5 else value))
                elif key.match_type == "lpm":
                    length = min(key.bitwidth, rng.choice([0, 8, 16, 24, 32, rng.randint(0, key.bitwidth)]))
                    mask = top ^ ((1 << (key.bitwidth - length)) - 1)
                    match.append(Lpm(value & mask, length))
                elif key.match_type == "ternary":
                    mask = rng.choice([top, 0, rng.randrange(top + 1)])
                    match.append(Ternary(value & mask, mask))
                elif key.match_type == "range":
                    other = rng.choice(pool) & top
                    match.append(Range(min(value, other), max(value, other)))
                else:
                    match.append(Optional(value if rng.random() < 0.7 else None))
            action = rng.choice(actions)
            params = [(rng.randrange(1, 5) if rng.random() < 0.5 else rng.choice(pool)) & ((1 << width) - 1)
                      for _, width in sw.program.actions[action].params]
            priority = rng.randint(1, 1000) if table.needs_priority else None
            entries.append((name, match, action, params, priority))
    return entries


def _runtime_value(value: Any) -> int:
    """A value of the P4 tutorials' sN-runtime.json: int, "a.b.c.d", "aa:bb:..", or "0x..",
    alone or as a list of one (as p4runtime_lib's encode takes it)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, int):
        return value
    text = str(value)
    if text.count(".") == 3:
        return int.from_bytes(bytes(int(part) for part in text.split(".")), "big")
    if ":" in text:
        return int(text.replace(":", ""), 16)
    return int(text, 0)


def runtime_entries(sw: Any, path: Path) -> list[tuple]:
    """The table entries of a P4 tutorials runtime file (sN-runtime.json), in compare's form;
    default actions have match None."""
    import json

    from target import Exact, Lpm, Optional, Range, Ternary

    entries = []
    for e in json.loads(path.read_text()).get("table_entries", []):
        params = {k: _runtime_value(v) for k, v in e.get("action_params", {}).items()}
        if e.get("default_action"):
            entries.append((e["table"], None, e["action_name"], params, None))
            continue
        table = sw.program.tables[e["table"]]
        match: list[Any] = []
        for key in table.keys:
            given = e.get("match", {}).get(key.name)
            kind = key.match_type
            if given is None:
                match.append(None if kind in ("ternary", "range", "optional") else Exact(0))
            elif kind == "exact":
                match.append(Exact(_runtime_value(given)))
            elif kind == "lpm":
                match.append(Lpm(_runtime_value(given[0]), int(given[1])))
            elif kind == "ternary":
                match.append(Ternary(_runtime_value(given[0]), _runtime_value(given[1])))
            elif kind == "range":
                match.append(Range(_runtime_value(given[0]), _runtime_value(given[1])))
            else:
                match.append(Optional(_runtime_value(given)))
        entries.append((e["table"], match, e["action_name"], params, e.get("priority")))
    return entries


def _switch(program: Any, p4info: Any) -> tuple[Any, Behaviour]:
    from target import Switch

    sw = Switch(cpu_port=255, pool_size=2048, buf_size=2304)
    sw.load(program, p4info=p4info)
    record = Behaviour([])
    sw.on_packet_in(record.packet_ins.append)
    if hasattr(sw, "on_digest"):
        sw.on_digest(lambda *d: record.digests.append(d))
    for group in (1, 2, 3):
        sw.mc_group_set(group, [(p, 0) for p in range(1, group + 2)])
    for session in (1, 2, 57, 100):    # 57: the CPU clone session of p4-guide and the tutorials
        sw.clone_session_set(session, [(session % 7 + 1, 0)])
    return sw, record


def behaviour_differences(ours: tuple[Any, Any], theirs: tuple[Any, Any], packets: int = 200,
                          seed: int = 1, runtime: list[Path] | None = None,
                          extra: list[tuple[int, bytes]] | None = None,
                          normalise: Callable[[bytes], bytes] | None = None) -> tuple[list[str], int]:
    """Install the same entries in a switch per program and compare what packets do: `packets`
    generated frames, then the `extra` (port, frame) pairs (a program's own protocols).
    `normalise` rewrites each frame sent out before the comparison (clears what differs from
    one run to the next, e.g. timestamps).

    Returns the differences and how many packets produced any output (how much was exercised)."""
    from target import TargetError

    rng = random.Random(seed)
    sw_a, rec_a = _switch(*ours)
    sw_b, rec_b = _switch(*theirs)
    entries = [e for path in runtime or [] for e in runtime_entries(sw_b, path)]
    keys = [getattr(key, "value", None) for e in entries for key in (e[1] or [])]
    addresses = [v for v in keys if isinstance(v, int) and 1 << 24 <= v < 1 << 32]
    frames = _frames(rng, packets, addresses)
    pool = _value_pool(frames)
    problems = []
    entries += _random_entries(sw_b, rng, pool, 8, _ipv4_addresses(frames))
    for name, match, action, params, priority in entries:
        results = []
        for sw in (sw_a, sw_b):
            try:
                if match is None:
                    sw.table_set_default(name, action, params)
                else:
                    sw.table_add(name, match, action, params, priority=priority)
                results.append("ok")
            except TargetError as err:
                results.append(type(err).__name__)
        if results[0] != results[1]:
            problems.append(f"table_add {name} {action}: kvick {results[0]}, other {results[1]}")
    active = 0
    sends = [(1 + i % 4, frame) for i, frame in enumerate(frames)] + list(extra or [])
    for i, (port, frame) in enumerate(sends):
        rec_a.out, rec_b.out = sw_a.process([(port, frame)]), sw_b.process([(port, frame)])
        if normalise is not None:
            rec_a.out = [(p, normalise(f)) for p, f in rec_a.out]
            rec_b.out = [(p, normalise(f)) for p, f in rec_b.out]
        active += bool(rec_b.out or rec_b.packet_ins or rec_b.digests)
        if (rec_a.out, rec_a.packet_ins, rec_a.digests) != (rec_b.out, rec_b.packet_ins, rec_b.digests):
            problems.append(f"packet {i} on port {port} ({frame[:34].hex()}...): kvick "
                            f"{rec_a.out}/{rec_a.packet_ins}/{rec_a.digests}, other "
                            f"{rec_b.out}/{rec_b.packet_ins}/{rec_b.digests}")
            if len(problems) > 5:
                break
        for record in (rec_a, rec_b):
            record.packet_ins.clear()
            record.digests.clear()
    return problems, active


def main(argv: list[str] | None = None) -> int:
    from target.compiler.driver import compile_file
    from target.compiler.errors import CompileError

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("program", type=Path)
    ap.add_argument("other_json", type=Path)
    ap.add_argument("other_p4info", type=Path)
    ap.add_argument("--packets", type=int, default=200)
    ap.add_argument("--runtime", type=Path, action="append", default=[],
                    help="table entries from a P4 tutorials sN-runtime.json (installed first)")
    args = ap.parse_args(argv)
    try:
        document, p4info = compile_file(args.program)
    except CompileError as err:
        print(err.render(), file=sys.stderr)
        return 1
    problems = p4info_differences(p4info, args.other_p4info)
    for p in problems:
        print(f"p4info: {p}")
    behaviour, active = behaviour_differences((document, p4info),
                                              (str(args.other_json), str(args.other_p4info)),
                                              args.packets, runtime=args.runtime)
    for p in behaviour:
        print(f"engine: {p}")
    print(f"{args.program}: {len(problems)} P4Info differences, {len(behaviour)} behaviour differences "
          f"({active} of {args.packets} packets produced output)")
    return 1 if problems or behaviour else 0


if __name__ == "__main__":
    sys.exit(main())
