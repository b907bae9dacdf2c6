"""bench/main_job.py's pieces on a small generated table: compile, bulk load, check, forward."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from target import Switch, rib

MAIN_JOB = Path(__file__).resolve().parent.parent / "bench" / "main_job.py"


def _main_job():
    spec = importlib.util.spec_from_file_location("main_job", MAIN_JOB)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["main_job"] = module
    spec.loader.exec_module(module)
    return module


def test_small_table_forwards_as_the_reference_says() -> None:
    job = _main_job()
    document, p4info, _ = job.compile_router()
    routes = rib.generate_internet_like(25_000, seed=3)
    sw = Switch(pool_size=1024, buf_size=2304, cpu_port=job.CPU_PORT)
    sw.load(document, p4info=p4info)
    job.load_routes(sw, routes)
    job.load_next_hops(sw)
    assert len(sw.table_entries("RouterIngress.ipv4_lpm")) == len(routes)
    frame = job.template_frame()
    job.check_sample(sw, routes, frame, 300)
    destinations = rib.random_routed_addresses(routes, 4096)
    pps, cpu_pps = job.forward(sw, frame, destinations, 20_000, 32)
    assert pps > 0 and cpu_pps > 0


def test_reference_prefers_the_longest_prefix() -> None:
    job = _main_job()
    routes = np.zeros(2, dtype=rib.ROUTE_DTYPE)
    routes["prefix"] = [0x0A000000, 0x0A010000]
    routes["length"] = [8, 16]
    routes["asn"] = [1, 2]
    hops = job.reference_next_hop(routes, np.array([0x0A020304, 0x0A010203, 0x0B000000],
                                                   dtype=np.uint32))
    assert hops == [2, 3, 0]
