"""Build every Cython module under target/ as its own extension, and generate the P4Runtime
and gNMI message classes (runtime_server/gen) with tools/gen_p4rt_stubs.py.

Modules are discovered by glob so that adding a .pyx needs no edit here; the generated packages
are whatever the generator writes. Both happen in a wheel build (`pip install .`) and in the
development build (`setup.py build_ext --inplace`).
"""

import fnmatch
import importlib.util
import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
GEN = HERE / "runtime_server" / "gen"
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


def generate_stubs() -> list[str]:
    """Generate runtime_server/gen (skipped when its stamp is current); its package names."""
    spec = importlib.util.spec_from_file_location("gen_p4rt_stubs", HERE / "tools" / "gen_p4rt_stubs.py")
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    if generator.main(["--out", str(GEN), "--quiet"]) != 0:
        raise SystemExit("setup.py: generating the P4Runtime/gNMI message classes failed")
    return sorted(".".join(d.relative_to(HERE).parts) for d in [GEN, *GEN.rglob("*")]
                  if (d / "__init__.py").is_file())


class BuildPy(build_py):
    def run(self) -> None:
        for package in generate_stubs():
            if package not in self.packages:
                self.packages.append(package)
        super().run()


def write_pxi_files() -> None:
    """target/pipeline/opcodes.pxi and constants.pxi from their Python sources (one numbering
    for Python and C), each rewritten only when it changed so that the engine is not recompiled."""
    for name in ("opcodes", "constants"):
        source = HERE / "target" / "pipeline" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, source)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        pxi = source.with_suffix(".pxi")
        fresh = source.with_suffix(".pxi.new")
        module.write_pxi(str(fresh))
        if pxi.exists() and pxi.read_text() == fresh.read_text():
            fresh.unlink()
        else:
            fresh.replace(pxi)


class BuildExt(build_ext):
    def finalize_options(self) -> None:
        super().finalize_options()
        if not self.parallel:  # pip builds call build_ext without -j: use every core
            self.parallel = os.cpu_count() or 1

    def run(self) -> None:
        if self.inplace:  # the development build: the stubs beside the sources, as a wheel has them
            generate_stubs()
        super().run()


write_pxi_files()  # before cythonize() below reads engine.pyx and what it includes


setup(
    cmdclass={"build_py": BuildPy, "build_ext": BuildExt},
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
