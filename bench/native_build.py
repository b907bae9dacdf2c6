"""Benchmark: how long native code takes to build for the largest programs of ../shared/corpus.

For each program: load it (interpreter), then generate its C and compile it with the system C
compiler into an empty cache directory (native_build.build), timing generation and compilation
apart, and attach it; then build again to show the cached load. Prints one line per program and
a JSON object last.

    python bench/native_build.py [--programs NAME ...] [--all]

--all builds every corpus program the interpreter loads (slow: minutes) and reports the largest.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from target import Switch, rib  # noqa: E402
from target.pipeline import native_build, native_gen  # noqa: E402
from target.pipeline.engine import native_export  # noqa: E402

LARGEST = ("p4c_fabric_20190420_fabric", "p4c_dash_dash-pipeline-v1model-bmv2", "p4c_omec_up4",
           "p4c_pins_pins_fabric")


def measure(json_path: Path) -> dict:
    sw = Switch()
    sw.load(json_path.read_bytes())
    t0 = time.perf_counter()
    gen = native_gen.generate(native_export(sw.pipeline))
    gen_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="kvick-bench-native-") as cache:
        os.environ["XDG_CACHE_HOME"] = cache
        t0 = time.perf_counter()
        built = native_build.build(sw.pipeline)
        build_s = time.perf_counter() - t0
        native_build.attach(sw.pipeline, built)
        t0 = time.perf_counter()
        again = native_build.build(sw.pipeline)
        cached_s = time.perf_counter() - t0
        size = built.path.stat().st_size
    assert not built.cached and again.cached
    return {"program": json_path.stem, "c_lines": gen.source.count("\n"),
            "generate_s": round(gen_s, 3), "build_s": round(build_s, 3),
            "compile_s": round(build_s - gen_s, 3), "cached_s": round(cached_s, 3),
            "object_kib": round(size / 1024, 1), "interpreted_blocks": len(gen.interpreted)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--programs", nargs="*", default=list(LARGEST), help="corpus folder names")
    ap.add_argument("--all", action="store_true", help="every corpus program; report the largest")
    args = ap.parse_args()
    corpus = rib.shared_data_dir() / "corpus"
    names = sorted(p.name for p in corpus.iterdir() if p.is_dir()) if args.all else args.programs
    results = []
    for name in names:
        path = corpus / name / f"{name}.json"
        try:
            r = measure(path)
        except Exception as exc:            # a program the interpreter or generator refuses
            if not args.all:
                raise SystemExit(f"{name}: {exc}") from None
            continue
        results.append(r)
        if not args.all:
            print(f"{name}: {r['c_lines']:,} lines of C, generated in {r['generate_s']:.2f} s, "
                  f"built in {r['build_s']:.2f} s ({r['object_kib']:.0f} KiB), "
                  f"from the cache in {r['cached_s']:.3f} s; "
                  f"{r['interpreted_blocks']} block(s) stay interpreted")
    if args.all:
        results.sort(key=lambda r: -r["c_lines"])
        for r in results[:8]:
            print(f"{r['program']}: {r['c_lines']:,} lines, built in {r['build_s']:.2f} s")
        print(f"{len(results)} programs built; longest build {max(r['build_s'] for r in results):.2f} s")
    print(json.dumps({"programs": results, "cc": native_build.compiler(),
                      "load_avg": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
