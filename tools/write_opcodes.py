"""Regenerate target/pipeline/opcodes.pxi and constants.pxi from their Python sources."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from target.pipeline import constants, opcodes  # noqa: E402

opcodes.write_pxi(str(ROOT / "target" / "pipeline" / "opcodes.pxi"))
constants.write_pxi(str(ROOT / "target" / "pipeline" / "constants.pxi"))
