"""Build every Cython module under target/ as its own extension.

Modules are discovered by glob so that adding a .pyx needs no edit here.
"""

import fnmatch
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

HERE = Path(__file__).parent
# Portable by default: the same build runs on the host and inside the test VM, whose emulated
# CPU lacks some host extensions. KVICK_MARCH=native builds for this machine only.
COMPILE_ARGS = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function", "-Wno-unreachable-code"]
if os.environ.get("KVICK_MARCH"):
    COMPILE_ARGS.append("-march=" + os.environ["KVICK_MARCH"])
# The executor is one large function per stage calling small helpers a few times each; gcc's
# default growth limits leave those calls out of line (about 50 instructions a packet).
ENGINE_ARGS = ["--param", "max-inline-insns-single=1000", "--param", "large-function-growth=1000",
               "--param", "inline-unit-growth=400", "--param", "max-inline-insns-auto=100"]


def extensions() -> list[Extension]:
    # KVICK_ONLY=glob (e.g. "target/pipeline/lpm*") rebuilds a subset during development.
    only = os.environ.get("KVICK_ONLY")
    exts = []
    pyx_files = sorted(HERE.glob("target/**/*.pyx")) + sorted(HERE.glob("runtime_server/**/*.pyx"))
    for pyx in pyx_files:
        rel = pyx.relative_to(HERE).with_suffix("")
        if only and not fnmatch.fnmatch(str(rel), only):
            continue
        exts.append(
            Extension(
                ".".join(rel.parts),
                [str(rel) + ".pyx"],
                include_dirs=[str(HERE / "target")],
                extra_compile_args=COMPILE_ARGS + (ENGINE_ARGS if rel.name == "engine" else []),
            )
        )
    return exts


setup(
    ext_modules=cythonize(
        extensions(),
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
        },
        nthreads=2,
    )
)
