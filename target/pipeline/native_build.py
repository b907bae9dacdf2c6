"""Building and attaching a program's native code (native_gen.py writes it).

The generated C is compiled by the system C compiler into a shared object cached under
$XDG_CACHE_HOME/kvick/native (~/.cache when unset), named by a hash of the source — itself a
function of the program and the generator — and of the interface header and compiler flags, so
a program loaded again starts native at once. Anything that keeps native code out (no
compiler, a build failure, an untranslatable program) leaves the interpreter running and says
why in the log: the interpreter is always correct, native code is only faster.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from target.pipeline import native_gen
from target.pipeline.engine import native_active, native_attach, native_export

log = logging.getLogger("kvick.native")

HERE = Path(__file__).resolve().parent
HEADERS = ("native_abi.h", "native_match.h", "bits.h", "csum.h")
CFLAGS = ["-O2", "-fPIC", "-shared", "-fno-strict-aliasing", "-fvisibility=hidden",
          "-Wno-unused-function", "-Wno-unused-label", "-Wno-unused-variable"]
MODES = ("on", "off", "wait")
__all__ = ["MODES", "NativeUnavailable", "build", "enable", "native_active", "start"]


class NativeUnavailable(Exception):
    """Native code cannot run for this program on this machine (the message says why)."""


@dataclass
class NativeResult:
    path: Path
    cached: bool
    seconds: float                       # generating and compiling (0 when cached)
    interpreted: list[tuple[int, str]] = field(default_factory=list)


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kvick" / "native"


def compiler() -> str | None:
    cc = os.environ.get("CC") or "cc"
    return shutil.which(cc)


STALE_STAGING_S = 3600.0


def remove_stale_staging(out_dir: Path) -> None:
    """Remove staged sources and objects of builds that never finished (a process killed while
    it compiled) once they are an hour old; a build still running keeps its own."""
    now = time.time()
    for staged in out_dir.glob(".*.*"):
        try:
            if now - staged.stat().st_mtime > STALE_STAGING_S:
                staged.unlink()
        except OSError:
            pass                    # another process removed it first


def build(pipeline: Any) -> NativeResult:
    """Generate and compile (or find in the cache) the native code of a Pipeline."""
    start = time.monotonic()
    try:
        gen = native_gen.generate(native_export(pipeline))
    except native_gen.Unsupported as exc:
        raise NativeUnavailable(f"program not translated: {exc}") from None
    cc = compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler (cc, or $CC) on this machine")
    digest = hashlib.sha256()
    digest.update(gen.source.encode())
    for name in HEADERS:
        digest.update((HERE / name).read_bytes())
    digest.update(" ".join([cc, *CFLAGS]).encode())
    key = digest.hexdigest()[:32]
    out_dir = cache_dir()
    target = out_dir / f"{key}.so"
    if target.exists():
        return NativeResult(target, True, 0.0, gen.interpreted)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NativeUnavailable(f"cannot create the cache directory {out_dir}: {exc}") from None
    # The source and the object are staged in the cache directory itself, under names of this
    # process and thread, not in a temporary directory: an exit handler removes temporary
    # directories while a background build's compiler may still be reading from them. Another
    # process may build the same object at once: the rename is atomic either way.
    remove_stale_staging(out_dir)
    stem = f".{key}.{os.getpid()}.{threading.get_ident()}"
    src, staged = out_dir / f"{stem}.c", out_dir / f"{stem}.so"
    try:
        src.write_text(gen.source)
        proc = subprocess.run([cc, *CFLAGS, "-I", str(HERE), "-o", str(staged), str(src)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            first = next((line for line in proc.stderr.splitlines() if "error" in line),
                         proc.stderr.strip()[:200])
            raise NativeUnavailable(f"the C compiler failed: {first}")
        os.replace(staged, target)
    except OSError as exc:
        raise NativeUnavailable(f"cannot build in {out_dir}: {exc}") from None
    finally:
        src.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
    return NativeResult(target, False, time.monotonic() - start, gen.interpreted)


def attach(pipeline: Any, result: NativeResult) -> None:
    try:
        native_attach(pipeline, str(result.path))
    except (OSError, ValueError) as exc:
        raise NativeUnavailable(str(exc)) from None


def enable(pipeline: Any, name: str = "program") -> bool:
    """Build and attach; False (and a log line saying why) when the interpreter stays."""
    try:
        result = build(pipeline)
        attach(pipeline, result)
    except NativeUnavailable as exc:
        log.warning("native code for %s: %s; the interpreter runs it", name, exc)
        return False
    how = "from the cache" if result.cached else f"built in {result.seconds:.2f} s"
    if result.interpreted:
        ops = sorted({op for _pc, op in result.interpreted})
        log.info("native code for %s running (%s); %d code block(s) stay interpreted (%s)",
                 name, how, len(result.interpreted), ", ".join(ops))
    else:
        log.info("native code for %s running (%s)", name, how)
    return True


def start(pipeline: Any, mode: str, name: str = "program") -> threading.Thread | None:
    """Apply a --native mode: "off" nothing, "wait" build now, "on" build in the background
    while the interpreter forwards (the returned thread; native code takes over when done)."""
    if mode not in MODES:
        raise ValueError(f"native mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return None
    if mode == "wait":
        enable(pipeline, name)
        return None
    thread = threading.Thread(target=enable, args=(pipeline, name), name="kvick-native",
                              daemon=True)
    thread.start()
    return thread
