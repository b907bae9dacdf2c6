"""The numbers Python and C share come from one source (target/pipeline/constants.py) and the
C side was built with them: the generated .pxi files are current, and the compiled engine
reports the same values and the layouts they describe."""

from pathlib import Path

from target.pipeline import constants, opcodes
from target.pipeline.engine import layout

PIPELINE = Path(constants.__file__).parent


def test_generated_files_are_current():
    assert (PIPELINE / "constants.pxi").read_text() == constants.pxi_text()
    lines = (PIPELINE / "opcodes.pxi").read_text().splitlines()
    assert lines[2:] == [f"    OP_{name} = {i}" for i, (name, _) in enumerate(opcodes.OPCODES)]


def test_compiled_constants_match_the_source():
    compiled = layout()
    for _group, names in constants.GROUPS:
        for name in names:
            if name in compiled:
                assert compiled[name] == getattr(constants, name), name
    assert "V1_DEFAULT_DROP_PORT" in compiled and "NREGS" in compiled and "TBL_LPM24" in compiled


def test_sizes_and_offsets():
    c = layout()
    # A packed parameter (bulk writes, P4Runtime fast paths) is one executor value slot.
    assert c["sizeof_s128"] == c["sizeof_u128"] == constants.PARAM_BYTES
    assert c["sizeof_reg_frame"] == constants.NREGS * constants.PARAM_BYTES
    # Instructions: (op, a, b, c) 16-bit, then (d, e) 32-bit, as opcodes.py documents.
    assert c["sizeof_insn"] == 16
    assert [c[f"insn_{f}"] for f in ("op", "a", "b", "c", "d", "e")] == [0, 2, 4, 6, 8, 12]


def test_python_users_read_the_source():
    from target.pipeline import build, loader
    from target.switch import Switch

    assert loader.NREGS == constants.NREGS
    assert build.TBL_LPM24 == constants.TBL_LPM24
    assert (Switch.UPDATE_INSERT, Switch.UPDATE_MODIFY, Switch.UPDATE_DELETE) == (
        constants.UPDATE_INSERT, constants.UPDATE_MODIFY, constants.UPDATE_DELETE)
