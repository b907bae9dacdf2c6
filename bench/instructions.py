"""Instructions per packet of the engine, native code against the interpreter (callgrind).

Instruction counts do not depend on what else the machine runs, unlike packet rates on a
shared host. Each engine runs in its own process under valgrind's callgrind, counting only
inside the engine's batch function (run_batch, which the engine loop calls: parser,
controls, tables, traffic manager, deparser; not the driver loop around it), over random
routed destinations:

    python bench/instructions.py [--program basic|router|both] [--routes N] [--packets N]

basic is the P4 tutorials' basic.p4 (bench/router.py), router is p4src/router.p4
(bench/main_job.py). The last line is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 256


def child(program: str, engine: str, routes_n: int, packets: int) -> None:
    """Set up one switch and forward the packets through the engine loop (under callgrind)."""
    from target import Switch, rib

    routes = rib.generate_internet_like(routes_n)
    dsts = rib.random_routed_addresses(routes, packets)
    mode = "wait" if engine == "native" else "off"
    if program == "basic":
        from scapy.all import IP, UDP, Ether, raw

        from bench import router
        corpus = rib.shared_data_dir() / "corpus"
        sw = Switch(pool_size=8192, buf_size=2304, native=mode)
        sw.load(router.router_program(corpus))
        router.load_routes(sw, routes)
        frame = raw(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02") /
                    IP(src="198.18.0.1", dst="1.1.1.1", ttl=64) / UDP(sport=1234, dport=80) /
                    bytes(18))
    else:
        from bench import main_job
        document, p4info, _ = main_job.compile_router()
        sw = Switch(pool_size=8192, buf_size=2304, cpu_port=main_job.CPU_PORT, native=mode)
        sw.load(document, p4info=p4info)
        main_job.load_routes(sw, routes)
        main_job.load_next_hops(sw)
        frame = main_job.template_frame()
    if engine == "native" and not sw.native_ready():
        raise SystemExit("no native code (the log says why)")
    if program == "basic":
        router.run_loop(sw, [frame], 30, dsts, packets, BATCH)
    else:
        main_job.forward(sw, frame, dsts, packets, BATCH)


def measure(program: str, engine: str, routes_n: int, packets: int) -> int:
    """Instructions callgrind counted inside run_batch."""
    with tempfile.TemporaryDirectory(prefix="kvick-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               "--collect-atstart=no", "--toggle-collect=*6engine_run_batch",
               sys.executable, __file__, "--child", engine, "--program", program,
               "--routes", str(routes_n), "--packets", str(packets)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONMALLOC": "malloc"})
        if proc.returncode != 0:
            raise SystemExit(f"{program}/{engine}: callgrind run failed:\n{proc.stderr[-2000:]}")
        m = re.search(r"^(?:summary|totals):\s+(\d+)", out.read_text(), re.M)
        if m is None:
            raise SystemExit(f"{program}/{engine}: no instruction total in callgrind's output")
        return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", choices=["basic", "router", "both"], default="both")
    ap.add_argument("--routes", type=int, default=50_000, help="routes of a generated table")
    ap.add_argument("--packets", type=int, default=20_000, help="packets per engine")
    ap.add_argument("--child", choices=["native", "interp"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.program, args.child, args.routes, args.packets)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    programs = ["basic", "router"] if args.program == "both" else [args.program]
    result: dict[str, float] = {}
    for program in programs:
        per = {}
        for engine in ("interp", "native"):
            per[engine] = measure(program, engine, args.routes, args.packets) / args.packets
            result[f"{program}_{engine}_ipp"] = round(per[engine], 1)
        print(f"{program}: interpreter {per['interp']:,.0f}, native {per['native']:,.0f} "
              f"instructions per packet in run_batch ({per['interp'] / per['native']:.2f}x fewer; "
              f"{args.packets:,} packets of 64 B, {args.routes:,} routes)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
