"""P4Info (text format) with p4c's id rule: an 8-bit type prefix over the low 24 bits of the
Jenkins one-at-a-time hash of the object's fully qualified name; @id overrides; on a collision
the next free id after the hashed one is taken."""

from __future__ import annotations

import re

from target.compiler.errors import CompileError
from target.compiler.lower import Lowered
from target.compiler.types import BitT, BoolT, EnumT, ErrorT, StructLikeT

PREFIX = {"action": 0x01, "table": 0x02, "value_set": 0x03, "controller_header": 0x04,
          "action_profile": 0x11, "counter": 0x12, "direct_counter": 0x13, "meter": 0x14,
          "direct_meter": 0x15, "register": 0x16, "digest": 0x17}


def jenkins_one_at_a_time(text: str) -> int:
    h = 0
    for byte in text.encode():
        h = (h + byte) & 0xFFFFFFFF
        h = (h + (h << 10)) & 0xFFFFFFFF
        h ^= h >> 6
    h = (h + (h << 3)) & 0xFFFFFFFF
    h ^= h >> 11
    return (h + (h << 15)) & 0xFFFFFFFF


_ID_ANNOTATION = re.compile(r"^@id\(\s*(0[xX][0-9a-fA-F]+|\d+)\s*\)$")


def id_annotation(annotations: list[str]) -> int | None:
    """The value of an @id(N) among annotation texts, or None."""
    for text in annotations:
        m = _ID_ANNOTATION.match(text.strip())
        if m:
            return int(m.group(1), 0)
    return None


class IdAllocator:
    def __init__(self) -> None:
        self.taken: set[int] = set()

    def reserve(self, kind: str, value: int, name: str) -> int:
        """An @id(value): a 24-bit value gets the type prefix (as p4c does); a full id must
        already carry it. Ids given twice are an error."""
        prefix = PREFIX[kind] << 24
        oid = prefix | value if value >> 24 == 0 else value
        if oid >> 24 != PREFIX[kind]:
            raise CompileError(f"@id({value}) of {name} does not carry the {kind} prefix {PREFIX[kind]:#x}")
        if oid in self.taken:
            raise CompileError(f"@id({value}) of {name} is used by another {kind}")
        self.taken.add(oid)
        return oid

    def assign(self, kind: str, name: str) -> int:
        prefix = PREFIX[kind] << 24
        low = jenkins_one_at_a_time(name) & 0xFFFFFF
        while prefix | low in self.taken:
            low = (low + 1) & 0xFFFFFF
        self.taken.add(prefix | low)
        return prefix | low


def _aliases(names: list[str]) -> dict[str, str]:
    """The shortest dotted suffix of each name that no other name shares."""
    out = {}
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            suffix = ".".join(parts[-k:])
            if sum(1 for n in names if n == suffix or n.endswith("." + suffix)) == 1:
                out[name] = suffix
                break
        else:
            out[name] = name
    return out


def _q(text: str) -> str:
    # An annotation's string may span lines (sai_p4's @entry_restriction): \n in the text format.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def p4info_text(low: Lowered) -> str:
    ids = IdAllocator()
    # @id annotations first, so that hashed ids move out of their way.
    action_ids: dict[str, int] = {}
    table_ids: dict[str, int] = {}
    for name, info in low.called_actions.items():
        if name not in low.actions:
            low.actions[name] = info
    for name in sorted(low.actions):
        given = id_annotation(low.actions[name].annotations)
        if given is not None:
            action_ids[name] = ids.reserve("action", given, name)
    for t in low.tables:
        given = id_annotation(t.annotations)
        if given is not None:
            table_ids[t.name] = ids.reserve("table", given, t.name)
    for name in sorted(low.actions):
        if name not in action_ids:
            action_ids[name] = ids.assign("action", name)
    for t in low.tables:
        if t.name not in table_ids:
            table_ids[t.name] = ids.assign("table", t.name)
    vset_ids = {v[0]: ids.assign("value_set", v[0]) for v in low.value_sets}
    profile_ids = {name: ids.assign("action_profile", name) for name in sorted(low.profiles)}
    counter_ids = {c[0]: ids.assign("direct_counter" if c[3] else "counter", c[0]) for c in low.counters}
    register_ids = {r[0]: ids.assign("register", r[0]) for r in low.registers}
    meter_ids = {m[0]: ids.assign("meter", m[0]) for m in low.meters}
    direct_meter_ids = {name: ids.assign("direct_meter", name) for name in low.direct_meters}
    # p4c hashes the header type's name, not the "packet_in"/"packet_out" object name.
    header_ids = {h[0]: ids.assign("controller_header", h[1]) for h in low.controller_headers}
    # A digest is named after the struct type it sends.
    digest_ids = {d.name: ids.assign("digest", d.name) for d in low.digests}
    used_actions = {a for t in low.tables for a, _ in t.actions} | set(low.called_actions)
    names = list(table_ids) + [a for a in action_ids if a in used_actions] + list(counter_ids) + \
        list(register_ids) + list(meter_ids) + list(profile_ids) + list(direct_meter_ids) + \
        list(vset_ids)
    alias = _aliases(names)
    lines = ["# proto-file: p4/config/v1/p4info.proto", "# proto-message: p4.config.v1.P4Info", "",
             "pkg_info {", '  arch: "v1model"', "}"]

    def preamble(oid: int, name: str, annotations: list[str] = ()) -> None:   # type: ignore[assignment]
        lines.extend(["  preamble {", f"    id: {oid}", f"    name: {_q(name)}",
                      f"    alias: {_q(alias.get(name, name))}"])
        # p4c keeps @id out of the P4Info (the id says it).
        lines.extend(f"    annotations: {_q(a)}" for a in annotations if id_annotation([a]) is None)
        lines.append("  }")

    for t in sorted(low.tables, key=lambda t: table_ids[t.name]):
        lines.append("tables {")
        preamble(table_ids[t.name], t.name)
        for i, (kname, kind, width, _) in enumerate(t.keys, 1):
            lines.extend(["  match_fields {", f"    id: {i}", f"    name: {_q(kname)}"] +
                         ([] if i - 1 in t.error_keys else [f"    bitwidth: {width}"]) +
                         [f"    match_type: {kind.upper()}", "  }"])
        for aname, anns in t.actions:
            lines.extend(["  action_refs {", f"    id: {action_ids[aname]}"])
            if "@defaultonly" in anns:
                lines.append("    scope: DEFAULT_ONLY")
            elif "@tableonly" in anns:
                lines.append("    scope: TABLE_ONLY")
            lines.extend(f"    annotations: {_q(a)}" for a in anns)
            lines.append("  }")
        if t.default_const and t.default is not None:
            lines.append(f"  const_default_action_id: {action_ids[t.default[0]]}")
        if t.profile is not None:
            lines.append(f"  implementation_id: {profile_ids[t.profile]}")
        if t.direct_counter:
            lines.append(f"  direct_resource_ids: {counter_ids[t.direct_counter]}")
        if t.direct_meter:
            lines.append(f"  direct_resource_ids: {direct_meter_ids[t.direct_meter]}")
        lines.append(f"  size: {t.size}")
        if t.support_timeout:
            lines.append("  idle_timeout_behavior: NOTIFY_CONTROL")
        if t.entries:
            lines.extend(([] if t.entries_mutable else ["  is_const_table: true"]) +
                         ["  has_initial_entries: true"])
        lines.append("}")
    for aname in sorted(used_actions, key=lambda a: action_ids[a]):
        info = low.actions[aname]
        lines.append("actions {")
        preamble(action_ids[aname], aname, info.annotations)
        for i, (pname, width) in enumerate(info.params, 1):
            lines.extend(["  params {", f"    id: {i}", f"    name: {_q(pname)}", f"    bitwidth: {width}",
                          "  }"])
        lines.append("}")
    for name in sorted(low.profiles, key=lambda n: profile_ids[n]):
        prof = low.profiles[name]
        lines.append("action_profiles {")
        preamble(profile_ids[name], name)
        lines.extend(f"  table_ids: {table_ids[t]}" for t in sorted(prof.tables, key=lambda t: table_ids[t]))
        if prof.algo is not None:
            lines.append("  with_selector: true")
        lines.extend([f"  size: {prof.size}", "}"])
    unit = {"packets": "PACKETS", "bytes": "BYTES", "packets_and_bytes": "BOTH"}
    for name, u, size, table in sorted(low.counters, key=lambda c: counter_ids[c[0]]):
        lines.append("direct_counters {" if table else "counters {")
        preamble(counter_ids[name], name)
        lines.extend(["  spec {", f"    unit: {unit[u]}", "  }"])
        lines.append(f"  direct_table_id: {table_ids[table]}" if table else f"  size: {size}")
        lines.append("}")
    for name, u, size in sorted(low.meters, key=lambda m: meter_ids[m[0]]):
        lines.append("meters {")
        preamble(meter_ids[name], name)
        lines.extend(["  spec {", f"    unit: {unit[u]}", "  }", f"  size: {size}", "}"])
    table_of = {t.name: table_ids[t.name] for t in low.tables}
    for name in sorted(low.direct_meters, key=lambda n: direct_meter_ids[n]):
        u, table = low.direct_meters[name]
        lines.append("direct_meters {")
        preamble(direct_meter_ids[name], name)
        lines.extend(["  spec {", f"    unit: {unit[u]}", "  }", f"  direct_table_id: {table_of[table]}",
                      "}"])
    for kind, _type_name, fields in sorted(low.controller_headers, key=lambda h: header_ids[h[0]]):
        lines.append("controller_packet_metadata {")
        lines.extend(["  preamble {", f"    id: {header_ids[kind]}", f"    name: {_q(kind)}",
                      f"    alias: {_q(kind)}",
                      f'    annotations: "@controller_header(\\"{kind}\\")"', "  }"])
        for i, (fname, width) in enumerate(fields, 1):
            lines.extend(["  metadata {", f"    id: {i}", f"    name: {_q(fname)}", f"    bitwidth: {width}",
                          "  }"])
        lines.append("}")
    for name, fields, size in sorted(low.value_sets, key=lambda v: vset_ids[v[0]]):
        lines.append("value_sets {")
        preamble(vset_ids[name], name)
        for i, (fname, width) in enumerate(fields, 1):
            lines.extend(["  match {", f"    id: {i}"] + ([f"    name: {_q(fname)}"] if fname else []) +
                         [f"    bitwidth: {width}", "    match_type: EXACT", "  }"])
        lines.extend([f"  size: {size}", "}"])
    for name, width, size in sorted(low.registers, key=lambda r: register_ids[r[0]]):
        lines.append("registers {")
        preamble(register_ids[name], name)
        lines.extend(["  type_spec {", "    bitstring {", "      bit {", f"        bitwidth: {width}",
                      "      }", "    }", "  }", f"  size: {size}", "}"])
    for d in sorted(low.digests, key=lambda d: digest_ids[d.name]):
        lines.append("digests {")
        preamble(digest_ids[d.name], d.name)
        lines.extend(["  type_spec {", "    struct {", f"      name: {_q(d.name)}", "    }", "  }", "}"])
    lines.extend(_type_info(low.digests, low.serializable_enums, low.errors))
    return "\n".join(lines) + "\n"


def _type_spec(t: object, indent: str) -> list[str]:
    """A P4DataTypeSpec for a digest member."""
    if isinstance(t, BitT):
        kind = "int" if t.signed else "bit"
        return [f"{indent}bitstring {{", f"{indent}  {kind} {{", f"{indent}    bitwidth: {t.width}",
                f"{indent}  }}", f"{indent}}}"]
    if isinstance(t, BoolT):
        return [f"{indent}bool {{", f"{indent}}}"]
    if isinstance(t, StructLikeT) and t.kind == "struct":
        return [f"{indent}struct {{", f"{indent}  name: {_q(t.name)}", f"{indent}}}"]
    if isinstance(t, EnumT):
        kind = "serializable_enum" if t.underlying is not None else "enum"
        return [f"{indent}{kind} {{", f"{indent}  name: {_q(t.name)}", f"{indent}}}"]
    if isinstance(t, ErrorT):
        return [f"{indent}error {{", f"{indent}}}"]
    raise CompileError(f"a {t.describe()} member in a digest has no P4Info type")   # type: ignore[attr-defined]


def _type_info(digests: list[StructLikeT], enums: dict[str, EnumT], errors: list[str]) -> list[str]:
    """type_info with every struct the digests send (nested ones too), the enums, the error
    members when a digest sends an error, and the serializable enums, each keyed by name in
    order (P4TypeInfo's field order, as p4c writes it)."""
    structs: dict[str, StructLikeT] = {}
    plain_enums: dict[str, EnumT] = {}
    enums = dict(enums)
    sends_error = False

    def collect(t: StructLikeT) -> None:
        nonlocal sends_error
        structs[t.name] = t
        for _, ft in t.fields:
            if isinstance(ft, StructLikeT) and ft.kind == "struct":
                collect(ft)
            elif isinstance(ft, EnumT):
                (enums if ft.underlying is not None else plain_enums)[ft.name] = ft
            elif isinstance(ft, ErrorT):
                sends_error = True

    for d in digests:
        collect(d)
    if not structs and not enums:
        return ["type_info {", "}"]
    lines = ["type_info {"]
    for name in sorted(structs):
        lines.extend(["  structs {", f"    key: {_q(name)}", "    value {"])
        for fname, ft in structs[name].fields:
            lines.extend(["      members {", f"        name: {_q(fname)}", "        type_spec {"])
            lines.extend(_type_spec(ft, "          "))
            lines.extend(["        }", "      }"])
        lines.extend(["    }", "  }"])
    for name in sorted(plain_enums):
        lines.extend(["  enums {", f"    key: {_q(name)}", "    value {"])
        for member in plain_enums[name].members:
            lines.extend(["      members {", f"        name: {_q(member)}", "      }"])
        lines.extend(["    }", "  }"])
    if sends_error:
        lines.extend(["  error {"] + [f"    members: {_q(e)}" for e in errors] + ["  }"])
    for name in sorted(enums):
        enum = enums[name]
        assert enum.underlying is not None
        width = enum.underlying.width
        lines.extend(["  serializable_enums {", f"    key: {_q(name)}", "    value {",
                      "      underlying_type {", f"        bitwidth: {width}", "      }"])
        for member in enum.members:
            value = enum.values[member] & ((1 << width) - 1)
            lines.extend(["      members {", f"        name: {_q(member)}",
                          f"        value: {_bytes(value, width)}", "      }"])
        lines.extend(["    }", "  }"])
    lines.append("}")
    return lines


def _bytes(value: int, width: int) -> str:
    """A protobuf text-format bytes literal: the value in (width + 7) // 8 big-endian bytes."""
    data = value.to_bytes((width + 7) // 8, "big")
    return '"' + "".join(f"\\{b:03o}" for b in data) + '"'
