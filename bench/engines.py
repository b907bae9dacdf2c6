"""--engine for the benchmarks: native code (target/pipeline/native_build.py), the interpreter,
or both alternated run by run in one process on the same tables, so that their ratio holds on
a shared machine whose speed changes from minute to minute."""

from __future__ import annotations

import argparse

from target import Switch
from target.pipeline.engine import native_detach, native_resume

CHOICES = ("native", "interp", "both")


def add_argument(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--engine", choices=CHOICES, default="native",
                    help="native code (default), the interpreter, or both alternated run by run")


def switch_mode(engine: str) -> str:
    """Switch(native=...) for an --engine choice."""
    return "off" if engine == "interp" else "wait"


def engines(engine: str) -> list[str]:
    return ["interp", "native"] if engine == "both" else [engine]


def use(sw: Switch, engine: str) -> None:
    """Run the next batches on `engine` (native code must have been built by load)."""
    if engine == "interp":
        if sw.native_ready():
            native_detach(sw.pipeline)
        return
    if not sw.native_ready():
        native_resume(sw.pipeline)      # raises when there is none: the log said why
