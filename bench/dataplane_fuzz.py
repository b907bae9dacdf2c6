"""Data-plane fuzzer: random and mutated frames through several programs via the target API.

For each program a switch is set up (kvick's router and L2 learning programs with their
entries; corpus programs with the table entries of their STF test, which must pass first).
Its valid frames (crafted ones, or the STF's packets) give the oracle: what each one makes the
switch send, taken twice before fuzzing (frames whose outputs differ between the two runs are
left out). Then batches of fuzz frames go through Switch.process: random bytes of random
length, valid frames mutated (bit flips, truncation, extension, random bytes over the first
64, a random ingress port), and now and then a batch the target must refuse (an oversized
frame, a str, port 600). After every batch the packet pool must be full again. At the end
every valid frame must still give exactly its oracle output.

    python bench/dataplane_fuzz.py [--frames N] [--seed S] [--programs a,b] [--time-limit S]

Each program runs in a child process, so a crash (even a segfault) is counted with the seed
that reproduces it. Figures: frames fuzzed, crashes, leaks (batches after which buffers were
missing), wrong (valid frames forwarded differently after fuzzing).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scapy.all import ARP, IP, TCP, UDP, Ether, raw  # noqa: E402

from target import Exact, InvalidArgument, Lpm, Switch  # noqa: E402

CORPUS = Path(os.environ.get("KVICK_CORPUS", ROOT.parent / "shared" / "corpus"))
# Corpus programs whose STF passes and whose outputs depend on nothing but the frame and the
# tables: parsers of stacks and sub-parsers, ternary and range tables, checksums, arithmetic.
CORPUS_PROGRAMS = ("header-stack-ops-bmv2", "issue-2123-3-bmv2", "parser-inline-test3",
                   "checksum-l4-bmv2", "p4_14_saturated-bmv2", "table-entries-range-bmv2",
                   "issue1000-bmv2")
PROGRAMS = ("router", "l2_learning") + CORPUS_PROGRAMS
POOL = 512            # small, so that a leak shows within a few batches
MAX_BATCH = 48


@dataclass
class Target:
    name: str
    switch: Switch
    frames: list[tuple[int, bytes]]               # valid frames: the seeds and the oracle
    expected: list[list[tuple[int, bytes]]] = field(default_factory=list)


@dataclass
class Report:
    frames: int = 0           # fuzz frames given to the switch (refused batches included)
    batches: int = 0
    refused: int = 0          # batches the target refused, as it must
    crashes: int = 0          # anything but a refusal (or a dead child process)
    leaks: int = 0            # batches after which the pool was not full again
    checked: int = 0          # valid frames compared with their oracle after fuzzing
    wrong: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Report) -> None:
        for name in ("frames", "batches", "refused", "crashes", "leaks", "checked", "wrong"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes.extend(other.notes)

    def line(self) -> str:
        return (f"frames fuzzed {self.frames}, batches {self.batches} ({self.refused} refused "
                f"as they must be), crashes {self.crashes}, leaks {self.leaks}, valid frames "
                f"checked after {self.checked}, wrong {self.wrong}")


# ---------------------------------------------------------------- the programs
def _compile(name: str) -> dict[str, Any]:
    from target.compiler.driver import compile_file

    document, _p4info = compile_file(ROOT / "p4src" / f"{name}.p4")
    return document


def _router() -> Target:
    sw = Switch(cpu_port=255, pool_size=POOL)
    sw.load(_compile("router"))
    sw.table_add("RouterIngress.ipv4_lpm", [Lpm(0x0A000000, 8)], "RouterIngress.set_next_hop", [7])
    sw.table_add("RouterIngress.ipv4_lpm", [Lpm(0x0A010000, 16)], "RouterIngress.set_next_hop",
                 [8])
    sw.table_add("RouterIngress.next_hop", [Exact(7)], "RouterIngress.forward",
                 [3, 0x020000000003])
    sw.table_add("RouterIngress.next_hop", [Exact(8)], "RouterIngress.forward",
                 [4, 0x020000000004])
    sw.table_add("RouterEgress.port_mac", [Exact(3)], "RouterEgress.set_source_mac",
                 [0x0A0000000103])
    sw.table_add("RouterIngress.local_address", [Exact(0xC0A80001)], "RouterIngress.to_router",
                 [])
    sw.on_packet_in(lambda frame: None)
    eth = Ether(dst="00:00:00:00:01:01", src="00:00:00:00:00:09")
    frames = [
        (1, raw(eth / IP(src="1.1.1.1", dst="10.9.9.9") / UDP(sport=1, dport=2) / (b"x" * 10))),
        (2, raw(eth / IP(src="1.1.1.1", dst="10.1.2.3", ttl=9) / TCP() / (b"y" * 30))),
        (1, raw(eth / IP(dst="10.1.2.3", ttl=1) / UDP())),                  # TTL expires
        (1, raw(eth / IP(dst="10.1.2.3", ihl=6, options=b"\x01\x01\x01\x00") / UDP())),
        (1, raw(eth / IP(dst="172.16.0.1") / UDP())),                       # no route
        (1, raw(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst="192.168.0.1"))),
        (1, raw(eth / IP(dst="192.168.0.1") / UDP())),                      # to the router
        (255, bytes.fromhex("0180") + raw(eth / IP(dst="10.9.9.9") / UDP())),  # packet-out
    ]
    return Target("router", sw, frames)


def _l2_learning() -> Target:
    sw = Switch(pool_size=POOL)
    sw.load(_compile("l2_learning"))
    sw.mc_group_set(1, [(1, 0), (2, 0), (3, 0)])
    sw.on_digest(lambda name, rows: None)
    a, b, c = 0x02000000000A, 0x02000000000B, 0x02000000000C
    for station, port in ((a, 1), (b, 2)):
        sw.table_add("L2Ingress.smac", [Exact(station)], "L2Ingress.known", [])
        sw.table_add("L2Ingress.dmac", [Exact(station)], "L2Ingress.forward", [port])

    def frame(src: int, dst: int) -> bytes:
        return dst.to_bytes(6, "big") + src.to_bytes(6, "big") + b"\x88\xb5" + bytes(46)

    frames = [(1, frame(a, b)), (2, frame(b, a)), (1, frame(a, c)), (3, frame(c, a)),
              (2, frame(c, b))]
    return Target("l2_learning", sw, frames)


def _corpus(name: str) -> Target:
    from target import stf

    folder = CORPUS / name
    program = folder / f"{name}.json"
    sw = Switch(pool_size=POOL)
    sw.load(str(program))
    steps = stf.resolve(stf.parse_stf((folder / f"{name}.stf").read_text()),
                        stf.ProgramNames.from_file(program))
    result = stf.StfRunner(sw).run(steps)
    if not result.passed:
        raise RuntimeError(f"{name}: its STF test does not pass: {result.report()}")
    frames = [(s.port, s.data) for s in steps if isinstance(s, stf.SendPacket)]
    return Target(name, sw, frames)


def build(name: str) -> Target:
    makers: dict[str, Callable[[], Target]] = {"router": _router, "l2_learning": _l2_learning}
    target = makers[name]() if name in makers else _corpus(name)
    first = [target.switch.process([f]) for f in target.frames]
    second = [target.switch.process([f]) for f in target.frames]
    kept = [(f, out) for f, out, again in zip(target.frames, first, second, strict=True)
            if out == again]
    target.frames = [f for f, _ in kept]
    target.expected = [out for _, out in kept]
    return target


# ---------------------------------------------------------------- frames
def mutate(rng: random.Random, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        if kind == 0 and data:                                   # flip bits
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:                                 # truncate
            del data[rng.randrange(len(data)):]
        elif kind == 2:                                          # extend
            data += rng.randbytes(rng.randint(1, 200))
        elif kind == 3 and data:                                 # random bytes in the headers
            at = rng.randrange(min(len(data), 64))
            data[at:at + 4] = rng.randbytes(4)
        elif kind == 4 and len(data) > 14:                       # extreme header values
            at = rng.randrange(12, min(len(data), 60))
            data[at] = rng.choice((0, 0xFF, 0x0F, 0xF0, 0x45, 0x46, 0x4F))
        elif kind == 5 and data:                                 # repeat a slice
            at = rng.randrange(len(data))
            data[at:at] = data[at:at + rng.randint(1, 40)]
    return bytes(data[:9000])


def fuzz_frame(rng: random.Random, target: Target) -> tuple[int, bytes]:
    roll = rng.random()
    if roll < 0.2 or not target.frames:
        frame = rng.randbytes(rng.choice((0, 1, 13, 14, 20, 33, 60, 64, rng.randint(0, 1600))))
    else:
        frame = mutate(rng, rng.choice(target.frames)[1])
    port = rng.choice(target.frames)[0] if target.frames and rng.random() < 0.7 \
        else rng.randrange(511)
    return port, frame


def refused_batch(rng: random.Random, batch: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """The batch with one item the target must refuse (and give every buffer back)."""
    bad = rng.choice(((1, bytes(70000)), (1, "not bytes"), (600, b"\x00" * 64), (-1, b"")))
    batch = list(batch)
    batch.insert(rng.randrange(len(batch) + 1), bad)
    return batch


# ---------------------------------------------------------------- the run
def fuzz(target: Target, frames: int, seed: int, deadline: float) -> Report:
    rng = random.Random(seed)
    report = Report()
    sw = target.switch
    while report.frames < frames and time.monotonic() < deadline:
        batch = [fuzz_frame(rng, target) for _ in range(rng.randint(1, MAX_BATCH))]
        must_refuse = rng.random() < 0.05
        if must_refuse:
            batch = refused_batch(rng, batch)
        report.frames += len(batch)
        report.batches += 1
        try:
            sw.process(batch)
            if must_refuse:
                report.crashes += 1
                report.notes.append(f"{target.name} seed {seed}: a bad batch was accepted")
        except InvalidArgument:
            report.refused += must_refuse
            if not must_refuse:
                report.crashes += 1
                report.notes.append(f"{target.name} seed {seed}: a good batch was refused")
        except Exception as err:  # noqa: BLE001 - anything else is what the fuzzer looks for
            report.crashes += 1
            report.notes.append(f"{target.name} seed {seed} batch {report.batches}: "
                                f"{type(err).__name__}: {err}")
        if sw.pool.available != sw.pool.capacity:
            report.leaks += 1
            report.notes.append(f"{target.name} seed {seed} batch {report.batches}: "
                                f"{sw.pool.capacity - sw.pool.available} buffers missing")
            break
    for frame, expected in zip(target.frames, target.expected, strict=True):
        report.checked += 1
        if sw.process([frame]) != expected:
            report.wrong += 1
            report.notes.append(f"{target.name}: frame {frame[1][:24].hex()}... on port "
                                f"{frame[0]} forwarded differently after fuzzing")
    return report


def run(frames: int, seed: int = 1, programs: tuple[str, ...] = PROGRAMS,
        time_limit: float = 60.0) -> Report:
    """Fuzz `frames` frames through each program, in this process."""
    total = Report()
    deadline = time.monotonic() + time_limit
    for i, name in enumerate(programs):
        target = build(name)
        share = deadline if i == len(programs) - 1 else \
            time.monotonic() + (deadline - time.monotonic()) / (len(programs) - i)
        total.add(fuzz(target, frames, seed + i, share))
    return total


def _child(name: str, frames: int, seed: int, time_limit: float, queue: Any) -> None:
    report = fuzz(build(name), frames, seed, time.monotonic() + time_limit)
    queue.put(json.dumps(report.__dict__))


def run_isolated(name: str, frames: int, seed: int, time_limit: float) -> Report:
    """fuzz() in a child process: a segfault or a hang is a crash, not the end of the run."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(name, frames, seed, time_limit, queue))
    child.start()
    child.join(time_limit + 120)
    if child.is_alive():
        child.kill()
        child.join()
    if child.exitcode != 0 or queue.empty():
        return Report(crashes=1, notes=[f"{name} seed {seed}: the child process died "
                                        f"(exit code {child.exitcode})"])
    return Report(**json.loads(queue.get()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500_000, help="fuzz frames per program")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds per program")
    args = parser.parse_args()
    total = Report()
    started = time.monotonic()
    for i, name in enumerate(args.programs.split(",")):
        report = run_isolated(name, args.frames, args.seed + i, args.time_limit)
        print(f"{name}: {report.line()}", flush=True)
        for note in report.notes[:5]:
            print(f"  {note}", flush=True)
        total.add(report)
    elapsed = time.monotonic() - started
    print(f"total: {total.line()} in {elapsed:.0f} s "
          f"({total.frames / max(elapsed, 1e-9):,.0f} frames/s)")
    print(json.dumps({"frames": total.frames, "crashes": total.crashes, "leaks": total.leaks,
                      "checked": total.checked, "wrong": total.wrong, "seconds": round(elapsed)}))
    return 1 if total.crashes or total.leaks or total.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
