"""Regenerate target/pipeline/opcodes.pxi from target/pipeline/opcodes.py."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from target.pipeline.opcodes import write_pxi  # noqa: E402

write_pxi(str(ROOT / "target" / "pipeline" / "opcodes.pxi"))
