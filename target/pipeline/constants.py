"""Numbers shared by the Python side and the C side of the target: the one source.

The Cython modules include the generated `constants.pxi` (written from GROUPS by
setup.py, beside opcodes.pxi); Python code imports the names from here. A number
both sides use is defined here and nowhere else; tests/test_constants.py checks that the
generated file is current and that the C layouts these numbers describe have those sizes.
"""

from __future__ import annotations

# Executor limits
NREGS = 64                  # registers per executor frame (the corpus needs 56)
PARAM_BYTES = 16            # one action parameter slot: a little-endian signed 128-bit value

# Table kinds: which matcher a table uses (build.table_kind)
TBL_KEYLESS = 0
TBL_EXACT = 1
TBL_LPM24 = 2               # one 32-bit LPM field: DIR-24-8
TBL_LPM = 3                 # one LPM field of another width, plus exact fields
TBL_TERNARY = 4             # ternary / range / optional / mixed

# Control graph node kinds
NODE_TABLE = 0              # apply table a
NODE_COND = 1               # condition code a: true -> b, false -> c
NODE_CALL = 2               # run action a, then b

# Parser transition kinds
TRANS_DEFAULT = 0
TRANS_VALUE = 1             # value/mask
TRANS_VSET = 2              # parser value set

# P4Info MatchField.MatchType numbers
MT_EXACT = 2
MT_LPM = 3
MT_TERNARY = 4
MT_RANGE = 5
MT_OPTIONAL = 6

# Update kinds of table writes (P4Runtime's Update.Type numbers)
UPDATE_INSERT = 1
UPDATE_MODIFY = 2
UPDATE_DELETE = 3

# v1model (simple_switch): the drop port and the values of standard_metadata.instance_type
V1_DEFAULT_DROP_PORT = 511  # egress_spec meaning mark_to_drop, unless --drop-port says otherwise
V1_MAX_PRIORITY_QUEUES = 8  # standard_metadata.priority is 3 bits
PKT_INSTANCE_NORMAL = 0
PKT_INSTANCE_CLONE_I2E = 1  # ingress-to-egress clone
PKT_INSTANCE_CLONE_E2E = 2  # egress-to-egress clone
PKT_INSTANCE_RECIRC = 4
PKT_INSTANCE_REPLICATION = 5    # multicast copy
PKT_INSTANCE_RESUBMIT = 6

GROUPS: list[tuple[str, list[str]]] = [
    ("executor limits", ["NREGS", "PARAM_BYTES"]),
    ("table kinds", ["TBL_KEYLESS", "TBL_EXACT", "TBL_LPM24", "TBL_LPM", "TBL_TERNARY"]),
    ("control graph node kinds", ["NODE_TABLE", "NODE_COND", "NODE_CALL"]),
    ("parser transition kinds", ["TRANS_DEFAULT", "TRANS_VALUE", "TRANS_VSET"]),
    ("P4Info match types", ["MT_EXACT", "MT_LPM", "MT_TERNARY", "MT_RANGE", "MT_OPTIONAL"]),
    ("update kinds", ["UPDATE_INSERT", "UPDATE_MODIFY", "UPDATE_DELETE"]),
    ("v1model", ["V1_DEFAULT_DROP_PORT", "V1_MAX_PRIORITY_QUEUES", "PKT_INSTANCE_NORMAL",
                 "PKT_INSTANCE_CLONE_I2E", "PKT_INSTANCE_CLONE_E2E", "PKT_INSTANCE_RECIRC",
                 "PKT_INSTANCE_REPLICATION", "PKT_INSTANCE_RESUBMIT"]),
]


def pxi_text() -> str:
    """The Cython declarations of every constant (what constants.pxi holds)."""
    lines = ["# Generated from target/pipeline/constants.py; do not edit.", "cdef enum:"]
    for comment, names in GROUPS:
        lines.append(f"    # {comment}")
        lines += [f"    {name} = {globals()[name]}" for name in names]
    return "\n".join(lines) + "\n"


def write_pxi(path: str) -> None:
    with open(path, "w") as f:
        f.write(pxi_text())
