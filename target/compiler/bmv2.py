"""The BMv2 JSON document being built (the format p4c-bm2-ss emits, JSON_format.md)."""

from __future__ import annotations

from typing import Any

STANDARD_METADATA_FIELDS = [
    ("ingress_port", 9), ("egress_spec", 9), ("egress_port", 9), ("instance_type", 32),
    ("packet_length", 32), ("enq_timestamp", 32), ("enq_qdepth", 19), ("deq_timedelta", 32),
    ("deq_qdepth", 19), ("ingress_global_timestamp", 48), ("egress_global_timestamp", 48),
    ("mcast_grp", 16), ("egress_rid", 16), ("checksum_error", 1), ("parser_error", 32),
    ("priority", 3),
]
FIELD_ALIASES = [
    ("queueing_metadata.enq_timestamp", "enq_timestamp"), ("queueing_metadata.enq_qdepth", "enq_qdepth"),
    ("queueing_metadata.deq_timedelta", "deq_timedelta"), ("queueing_metadata.deq_qdepth", "deq_qdepth"),
    ("intrinsic_metadata.ingress_global_timestamp", "ingress_global_timestamp"),
    ("intrinsic_metadata.egress_global_timestamp", "egress_global_timestamp"),
    ("intrinsic_metadata.mcast_grp", "mcast_grp"), ("intrinsic_metadata.egress_rid", "egress_rid"),
    ("intrinsic_metadata.priority", "priority"),
]


def hexstr(value: int, width: int | None = None) -> dict[str, Any]:
    if width is not None:
        value &= (1 << width) - 1
    return {"type": "hexstr", "value": hex(value)}


def expression(op: str, left: dict | None, right: dict | None) -> dict[str, Any]:
    return {"type": "expression", "value": {"op": op, "left": left, "right": right}}


def _padded(fields: list[list]) -> list[list]:
    total = sum(f[1] for f in fields)
    if total % 8:
        fields = fields + [[f"_padding_{len(fields)}", 8 - total % 8, False]]
    return fields


class Bmv2Json:
    """Collects header types, instances, actions, pipelines and externs; `document()` assembles."""

    def __init__(self, program_name: str) -> None:
        self.program_name = program_name
        self.header_types: list[dict[str, Any]] = []
        self.header_type_ids: dict[str, int] = {}
        self.headers: list[dict[str, Any]] = []
        self.header_stacks: list[dict[str, Any]] = []
        self.header_union_types: list[dict[str, Any]] = []
        self.header_unions: list[dict[str, Any]] = []
        self.header_union_stacks: list[dict[str, Any]] = []
        self.scalar_fields: list[list] = []
        self.scalar_names: set[str] = set()
        self.actions: list[dict[str, Any]] = []
        self.calculations: list[dict[str, Any]] = []
        self.checksums: list[dict[str, Any]] = []
        self.counters: list[dict[str, Any]] = []
        self.meters: list[dict[str, Any]] = []
        self.registers: list[dict[str, Any]] = []
        self.learn_lists: list[dict[str, Any]] = []
        self.parse_vsets: list[dict[str, Any]] = []
        self.field_lists: list[dict[str, Any]] = []
        self.parsers: list[dict[str, Any]] = []
        self.deparsers: list[dict[str, Any]] = []
        self.pipelines: list[dict[str, Any]] = []
        self.errors: list[list] = []
        self.enums: list[dict[str, Any]] = []
        self.node_count = 0
        self.add_header_type("standard_metadata", [[n, w, False] for n, w in STANDARD_METADATA_FIELDS])
        self.headers.append({"name": "scalars", "id": 0, "header_type": "scalars_0", "metadata": True,
                             "pi_omit": True})
        self.add_header("standard_metadata", "standard_metadata", metadata=True)

    def add_header_type(self, name: str, fields: list[list], max_length: int | None = None) -> str:
        """`max_length` (bytes) for a header with a varbit field (its width written "*")."""
        if name not in self.header_type_ids:
            self.header_type_ids[name] = len(self.header_types) + 1
            self.header_types.append({"name": name, "id": len(self.header_types) + 1,
                                      "fields": fields,
                                      **({"max_length": max_length} if max_length is not None else {})})
        return name

    def add_header(self, name: str, header_type: str, metadata: bool = False) -> int:
        hid = len(self.headers)
        self.headers.append({"name": name, "id": hid, "header_type": header_type, "metadata": metadata,
                             "pi_omit": True})
        return hid

    def add_stack(self, name: str, header_type: str, size: int) -> None:
        ids = [self.add_header(f"{name}[{i}]", header_type) for i in range(size)]
        self.header_stacks.append({"name": name, "id": len(self.header_stacks), "header_type": header_type,
                                   "size": size, "header_ids": ids})

    def add_union(self, name: str, union_type: str, members: list[tuple[str, str]]) -> None:
        """A header union instance: one header per member, named `name.member` (as p4c does)."""
        if all(t["name"] != union_type for t in self.header_union_types):
            self.header_union_types.append({"name": union_type, "id": len(self.header_union_types),
                                            "headers": [[m, h] for m, h in members]})
        ids = [self.add_header(f"{name}.{m}", h) for m, h in members]
        self.header_unions.append({"name": name, "id": len(self.header_unions), "union_type": union_type,
                                   "header_ids": ids, "pi_omit": True})

    def scalar(self, hint: str, width: int, signed: bool = False) -> list[str]:
        """A new metadata field in `scalars`; returns its JSON field reference value. An int<W>
        one is signed, as p4c declares it, so that BMv2 reads it as a signed value."""
        name, n = hint, 0
        while name in self.scalar_names:
            name, n = f"{hint}_{n}", n + 1
        self.scalar_names.add(name)
        self.scalar_fields.append([name, width, signed])
        return ["scalars", name]

    def add_action(self, name: str, params: list[tuple[str, int]], primitives: list[dict]) -> int:
        aid = len(self.actions)
        self.actions.append({"name": name, "id": aid,
                             "runtime_data": [{"name": n, "bitwidth": w} for n, w in params],
                             "primitives": primitives})
        return aid

    def add_calculation(self, algo: str, inputs: list[dict]) -> str:
        name = f"calc_{len(self.calculations)}"
        self.calculations.append({"name": name, "id": len(self.calculations), "algo": algo, "input": inputs})
        return name

    def node_name(self) -> str:
        self.node_count += 1
        return f"node_{self.node_count}"

    def document(self) -> dict[str, Any]:
        scalars = {"name": "scalars_0", "id": 0, "fields": _padded(self.scalar_fields)}
        types = [scalars] + self.header_types
        return {
            "header_types": types,
            "headers": self.headers,
            "header_stacks": self.header_stacks,
            "header_union_types": self.header_union_types, "header_unions": self.header_unions,
            "header_union_stacks": self.header_union_stacks,
            "field_lists": self.field_lists,
            "errors": self.errors,
            "enums": self.enums,
            "parsers": self.parsers,
            "parse_vsets": self.parse_vsets,
            "deparsers": self.deparsers,
            "meter_arrays": self.meters,
            "counter_arrays": self.counters,
            "register_arrays": self.registers,
            "calculations": self.calculations,
            "learn_lists": self.learn_lists,
            "actions": self.actions,
            "pipelines": self.pipelines,
            "checksums": self.checksums,
            "force_arith": [],
            "extern_instances": [],
            "field_aliases": [[alias, ["standard_metadata", f]] for alias, f in FIELD_ALIASES],
            "program": self.program_name,
            "__meta__": {"version": [2, 23], "compiler": "kvick"},
        }
