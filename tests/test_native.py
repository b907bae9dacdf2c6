"""Native code per program (target/pipeline/native_*.py): the interpreter is the reference.

The differential test runs every corpus program that kvick passes through both engines — its
STF file, then random and mutated frames in batches — and requires the same output frames and
ports, counters, registers, digests, table statistics and drop and error counts."""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from shared_data import CORPUS, corpus_params, needs_corpus

from target import Switch, stf
from target.pipeline import native_build, native_gen
from target.pipeline.engine import native_export, native_layout

HERE = Path(__file__).resolve().parent
PIPELINE = HERE.parent / "target" / "pipeline"
KNOWN_FAILURES = HERE / "stf_known_failures.txt"


def c_layout(tmp_path: Path) -> dict[str, int]:
    """The sizes and offsets native_abi.h gives, compiled on its own."""
    ctx = ["phv", "valid", "vlen", "stack_next", "pkt", "cursor", "cursor_bits", "error",
           "exit_flag", "failed", "params", "clone_session", "clone_fl", "clone_set",
           "resubmit_fl", "recirc_fl", "truncate_len", "digest_id", "seq", "now_ns"]
    pkt = ["data", "len", "port", "buf", "buf_size"]
    lines = ['#include <stdio.h>', '#include "native_abi.h"', "int main(void) {",
             '  printf("abi_version %d\\n", KVN_ABI_VERSION);',
             '  printf("sizeof_ctx %zu\\n", sizeof(kvn_ctx_t));',
             '  printf("sizeof_pkt %zu\\n", sizeof(kvn_pkt_t));',
             '  printf("sizeof_field %zu\\n", sizeof(kv_field_t));']
    lines += [f'  printf("ctx.{f} %zu\\n", offsetof(kvn_ctx_t, {f}));' for f in ctx]
    lines += [f'  printf("pkt.{f} %zu\\n", offsetof(kvn_pkt_t, {f}));' for f in pkt]
    lines += ["  static const uint32_t layout[KVN_LAYOUT_N] = KVN_LAYOUT;",
              "  for (int i = 0; i < KVN_LAYOUT_N; i++)",
              '    printf("tables.%d %u\\n", i, layout[i]);']
    lines += ["  return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layout"
    subprocess.run(["cc", "-I", str(PIPELINE), "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    return {k: int(v) for k, v in (line.split() for line in out.splitlines())}


def test_the_interface_header_matches_the_engine(tmp_path: Path) -> None:
    c = c_layout(tmp_path)
    engine = native_layout()
    flat = {"abi_version": engine["abi_version"], "sizeof_ctx": engine["sizeof_ctx"],
            "sizeof_pkt": engine["sizeof_pkt"], "sizeof_field": engine["sizeof_field"]}
    flat.update({f"ctx.{k}": v for k, v in engine["ctx"].items()})
    flat.update({f"pkt.{k}": v for k, v in engine["pkt"].items()})
    flat.update({f"tables.{i}": v for i, v in enumerate(engine["tables"])})
    assert flat == c


# ------------------------------------------------------------------ the differential test
def passing_programs() -> list:
    failing = {line.split("\t")[0].strip() for line in KNOWN_FAILURES.read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    return [pytest.param(p.parent.name, id=p.parent.name)
            for p in sorted(CORPUS.glob("*/*.stf")) if p.parent.name not in failing]


def mutated_frames(frames: list[tuple[int, bytes]], seed: str) -> list[tuple[int, bytes]]:
    """Frames around the STF's own: truncated, with bits flipped, and random ones."""
    rng = random.Random(seed)
    ports = sorted({p for p, _ in frames}) or [0]
    out = []
    for port, data in frames[:8]:
        for cut in sorted({0, 1, 13, 14, 20, 33, 34, len(data) // 2, len(data) - 1}):
            if 0 <= cut < len(data):
                out.append((port, data[:cut]))
        for _ in range(6):
            b = bytearray(data)
            for _ in range(rng.randint(1, 4)):
                if b:
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            out.append((rng.choice(ports), bytes(b)))
    for _ in range(24):
        out.append((rng.choice(ports), bytes(rng.randrange(256)
                                              for _ in range(rng.randint(0, 120)))))
    return out


def state_of(sw: Switch) -> dict[str, object]:
    pl = sw.pipeline
    prog = sw.compiled
    assert pl is not None and prog is not None
    counters = [[pl.counter_get(i, k) for k in range(min(c["size"], 512))]
                for i, c in enumerate(prog.counters)]
    registers = [[pl.register_get(i, k) for k in range(min(r["size"], 512))]
                 for i, r in enumerate(prog.registers)]
    tables = [pl.table_stats(i) for i in range(len(prog.tables))]
    entries = [[pl.entry_counter(i, e) for e in range(64)] for i in range(len(prog.tables))]
    return {"counters": counters, "registers": registers, "tables": tables,
            "entry_counters": entries, "digests": pl.take_digests(), "stats": pl.stats()}


def run_both(name: str) -> tuple[list, list, dict, dict, bool]:
    folder = CORPUS / name
    document = (folder / f"{name}.json").read_text()
    steps = stf.resolve(stf.parse_stf((folder / f"{name}.stf").read_text()),
                        stf.ProgramNames(json.loads(document)))
    results = []
    native_on = False
    for mode in ("off", "wait"):
        sw = Switch(native=mode)
        sw.load(document.encode())
        if mode == "wait":
            native_on = sw.native_ready()
        sw.pipeline.seed_random(7)
        runner = stf.StfRunner(sw)
        runner.run(steps)
        outputs = [(o.port, o.data) for o in runner.outputs]
        sent = [(s.port, s.data) for s in steps if isinstance(s, stf.SendPacket)]
        extra = sw.process(mutated_frames(sent, name))
        results.append((outputs + [(-1, b"")] + extra, state_of(sw)))
    (interp_out, interp_state), (native_out, native_state) = results
    return interp_out, native_out, interp_state, native_state, native_on


@needs_corpus
@pytest.mark.parametrize("name", corpus_params(passing_programs))
def test_native_matches_the_interpreter(name: str) -> None:
    interp_out, native_out, interp_state, native_state, native_on = run_both(name)
    assert native_on, f"{name}: no native code"
    assert native_out == interp_out
    assert native_state == interp_state


# ------------------------------------------------------------------ building and loading
def basic_program() -> bytes:
    return (CORPUS / "tutorial_basic" / "tutorial_basic.json").read_bytes()


@needs_corpus
def test_without_a_compiler_the_interpreter_runs_and_the_log_says_why(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("CC", "/nonexistent/kvick-no-cc")
    monkeypatch.setenv("XDG_CACHE_HOME", "/nonexistent/kvick-no-cache")
    with caplog.at_level(logging.WARNING, logger="kvick.native"):
        sw = Switch(native="wait")
        sw.load(basic_program())
    assert not sw.native_ready()
    assert "no C compiler" in caplog.text and "the interpreter runs it" in caplog.text
    # forwarding works: a frame that is not IPv4 leaves on port 0 (egress_spec untouched)
    assert sw.process([(1, bytes(60))]) == [(0, bytes(60))]


@needs_corpus
def test_the_object_is_cached_by_program_and_generator(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    sw = Switch()
    sw.load(basic_program())
    first = native_build.build(sw.pipeline)
    again = native_build.build(sw.pipeline)
    assert not first.cached and again.cached and first.path == again.path
    assert first.path.parent == tmp_path / "kvick" / "native"
    other = Switch()
    other.load((CORPUS / "ternary2-bmv2" / "ternary2-bmv2.json").read_bytes())
    assert native_build.build(other.pipeline).path != first.path


@needs_corpus
def test_a_bad_mode_is_refused() -> None:
    from target.errors import InvalidArgument
    with pytest.raises(InvalidArgument, match="native must be one of"):
        Switch(native="fast")


@needs_corpus
def test_native_takes_over_between_batches_without_loss_or_reorder() -> None:
    """Frames sent while the background build runs and after it: all come out, in order,
    the same as the interpreter alone gives them."""
    from target import Lpm

    def setup(mode: str) -> Switch:
        sw = Switch(native=mode)
        sw.load(basic_program())
        for k in range(4):
            sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000000 + (k << 8), 24)],
                         "MyIngress.ipv4_forward", [0x000000000100 + k, k + 1])
        return sw

    def frame(i: int) -> bytes:
        eth = bytes(12) + b"\x08\x00"
        ip = bytes([0x45, 0, 0, 46, (i >> 8) & 0xFF, i & 0xFF, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1,
                    10, 0, i % 4, 7])
        return eth + ip + bytes(26)

    ref = setup("off")
    sw = setup("on")
    got, want = [], []
    i = 0
    while not sw.native_ready(timeout=0) or i < 64:
        batch = [(0, frame(i + k)) for k in range(8)]
        got += sw.process(batch)
        want += ref.process(batch)
        i += 8
        assert i < 200000, "the native build never finished"
    assert sw.native_ready()
    batch = [(0, frame(i + k)) for k in range(64)]
    got += sw.process(batch)
    want += ref.process(batch)
    assert got == want and len(got) == i + 64


@needs_corpus
def test_a_block_the_generator_cannot_translate_stays_interpreted() -> None:
    sw = Switch()
    sw.load(basic_program())
    ex = native_export(sw.pipeline)
    action_pc = ex["actions"][2]
    ex["code"][action_pc] = (250, 0, 0, 0, 0, 0)     # an opcode the generator does not know
    gen = native_gen.generate(ex)
    assert gen.interpreted == [(action_pc, "250")]
    # the table's switch runs it through the interpreter
    assert f"env->exec_code(env->pl, wk, x, {action_pc}u)" in gen.source
    assert "ACTIONS[3] = {act_0, act_1, NULL}" in gen.source


# ------------------------------------------------------------------ the native batch loop
# The traffic manager's cases kvn_finish covers or hands back, with priority queues: unicast,
# drops at the end of ingress and of egress, a priority with no queue, a multicast group (the
# engine's traffic manager), a frame too short for the parser; egress records what it saw.
TM_PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<16> port; bit<8> prio; bit<8> op; bit<16> grp; bit<8> qid; bit<16> spec0;
             bit<16> rid; bit<32> plen; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        sm.egress_spec = (bit<9>)h.h.port;
        sm.priority = (bit<3>)h.h.prio;
        sm.mcast_grp = h.h.grp;
        if (h.h.op == 1) { mark_to_drop(sm); }
        if (h.h.op == 2) { truncate(10); }
    }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    apply {
        h.h.qid = (bit<8>)sm.priority;
        h.h.spec0 = (bit<16>)sm.egress_spec;
        h.h.rid = sm.egress_rid;
        h.h.plen = sm.packet_length;
        if (h.h.op == 3) { mark_to_drop(sm); }
        if (h.h.op == 4) { truncate(12); }
    }
}
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""


def tm_frames() -> list[tuple[int, bytes]]:
    rng = random.Random(14)
    frames = []
    for _ in range(300):
        port = rng.choice([1, 2, 3, 511, 300])
        prio, op = rng.choice([0, 0, 1, 3]), rng.choice([0] * 6 + [1, 2, 3, 4])
        grp = rng.choice([0, 0, 0, 0, 5, 6])
        h = port.to_bytes(2, "big") + bytes([prio, op]) + grp.to_bytes(2, "big") + bytes(9)
        cut = rng.choice([30] * 9 + [5])        # 5 bytes: too short for the parser
        frames.append((rng.randrange(4), (h + bytes(rng.randrange(40)))[:cut]))
    return frames


@needs_corpus
def test_the_native_batch_loop_matches_the_interpreter_on_the_traffic_manager() -> None:
    from target.compiler.driver import compile_text
    from target.pipeline.engine import native_batch_loop
    document, _ = compile_text(TM_PROGRAM)
    results = []
    for mode in ("off", "wait"):
        sw = Switch(native=mode, priority_queues=2)
        sw.load(document)
        sw.mc_group_set(5, [(1, 7), (2, 8), (3, 9)])
        sw.mc_group_set(6, [])
        assert native_batch_loop(sw.pipeline) is (mode == "wait")
        out = []
        frames = tm_frames()
        for k in range(0, len(frames), 37):
            out += sw.process(frames[k:k + 37])
        results.append((out, sw.pipeline.stats()))
    assert results[0] == results[1]
    assert results[1][1]["priority_drops"] > 0 and len(results[1][0]) > 100


@needs_corpus
@pytest.mark.parametrize(("name", "loop"), [("tutorial_basic", True), ("tutorial_multicast", True),
                                            ("v1model-special-ops-bmv2", False)])
def test_programs_that_clone_resubmit_or_recirculate_keep_the_general_batch_loop(
        name: str, loop: bool) -> None:
    from target.pipeline.engine import native_batch_loop
    sw = Switch(native="wait")
    sw.load((CORPUS / name / f"{name}.json").read_bytes())
    assert sw.native_ready() and native_batch_loop(sw.pipeline) is loop


@needs_corpus
def test_route_lookups_at_every_prefix_length_match_the_interpreter() -> None:
    """The generated DIR-24-8 lookup (native_match.h) against the engine's: routes of every
    length from /4 to /32 (longer than /24 go through tbl8 groups), nested in one another,
    and destinations at and around each prefix's ends; frames, ports and the table's hit and
    miss counts must be the same."""
    from target import Lpm
    rng = random.Random(14)
    routes = {}
    for depth in range(4, 33):
        for _ in range(6):
            net = rng.getrandbits(32) & ~((1 << (32 - depth)) - 1) & 0xFFFFFFFF
            routes[(net, depth)] = len(routes) % 250 + 1
    base = 0x0A000000          # nested ones: 10/8 down to 10.0.0.0/32
    for depth in range(8, 33):
        routes[(base, depth)] = depth

    def setup(mode: str) -> Switch:
        sw = Switch(native=mode)
        sw.load(basic_program())
        for (net, depth), port in routes.items():
            sw.table_add("MyIngress.ipv4_lpm", [Lpm(net, depth)],
                         "MyIngress.ipv4_forward", [0x000000000100 + port, port])
        return sw

    dsts = []
    for net, depth in routes:
        last = net | ((1 << (32 - depth)) - 1)
        dsts += [net, last, (net - 1) & 0xFFFFFFFF, (last + 1) & 0xFFFFFFFF]
    dsts += [rng.getrandbits(32) for _ in range(200)]

    def frame(dst: int) -> bytes:
        ip = bytes([0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1]) + dst.to_bytes(4, "big")
        return bytes(12) + b"\x08\x00" + ip + bytes(26)

    frames = [(0, frame(d)) for d in dsts]
    ref, sw = setup("off"), setup("wait")
    assert sw.native_ready()
    assert sw.process(frames) == ref.process(frames)
    assert sw.pipeline.table_stats(0) == ref.pipeline.table_stats(0)
    hits, misses = ref.pipeline.table_stats(0)
    assert hits > len(routes) and misses > 0


@needs_corpus
def test_ternary_direct_counter_meter_and_selector_tables_match_the_interpreter() -> None:
    """onos_basic's tables outside the STF corpus' kinds: a ternary ACL with direct counters,
    a 48-bit LPM table (the generic LPM probes) with a direct meter, and an action selector
    (the engine's member and group resolution, called from native code)."""
    from target import Exact, Lpm, Ternary
    document = (CORPUS / "onos_basic" / "onos_basic.json").read_bytes()
    prof = "ingress.wcmp_control.wcmp_selector"
    any9 = [Ternary(0, 0)] * 9

    def acl(**match: tuple[int, int]) -> list:
        names = ["port", "eth_src", "eth_dst", "eth_type", "ip_src", "ip_dst", "proto", "l4s",
                 "l4d"]
        return [Ternary(*match[n]) if n in match else any9[0] for n in names]

    def setup(mode: str) -> Switch:
        sw = Switch(native=mode)
        sw.load(document)
        t0 = "ingress.table0_control.table0"
        sw.table_add(t0, acl(eth_type=(0x0800, 0xFFFF), ip_dst=(0x0A000000, 0xFF000000)),
                     "ingress.table0_control.set_next_hop_id", [7], priority=10)
        sw.table_add(t0, acl(port=(2, 0x1FF)), "ingress.table0_control.set_egress_port", [3],
                     priority=20)
        sw.table_add(t0, acl(proto=(17, 0xFF), l4d=(53, 0xFFFF)),
                     "ingress.table0_control.drop", [], priority=30)
        for m in range(4):
            sw.act_prof_add_member(prof, m, "ingress.wcmp_control.set_egress_port", [m + 1])
        sw.act_prof_create_group(prof, 1)
        sw.act_prof_set_group_members(prof, 1, [0, 1, 2, 3])
        sw.table_add("ingress.wcmp_control.wcmp_table", [Exact(7)], group=1)
        host = "ingress.host_meter_control.host_meter_table"
        handle = sw.table_add(host, [Lpm(0x020000000000, 16)],
                              "ingress.host_meter_control.read_meter", [])
        # a rate no run reaches again: the first packets take the burst, the rest are red
        sw.direct_meter_set(host, handle, 0.001, 3, 0.001, 6)
        return sw

    rng = random.Random(5)
    frames = []
    for i in range(300):
        src = (0x02 << 40 | rng.getrandbits(16)) if i % 2 else rng.getrandbits(48)
        dst_ip = (0x0A << 24 | rng.getrandbits(24)) if i % 3 else rng.getrandbits(32)
        udp = (rng.getrandbits(16)).to_bytes(2, "big") + bytes([0, 53 if i % 5 == 0 else 80,
                                                                0, 26, 0, 0])
        ip = bytes([0x45, 0, 0, 46, 0, i & 0xFF, 0, 0, 64, 17 if i % 4 else 6, 0, 0,
                    192, 168, 0, 1]) + dst_ip.to_bytes(4, "big")
        frames.append((i % 3, rng.getrandbits(48).to_bytes(6, "big") + src.to_bytes(6, "big")
                       + b"\x08\x00" + ip + udp + bytes(18)))
    ref, sw = setup("off"), setup("wait")
    assert sw.native_ready()
    assert sw.process(frames) == ref.process(frames)
    assert state_of(sw) == state_of(ref)
    names = [t.name for t in ref.compiled.tables]
    for name, missed in (("ingress.table0_control.table0", True),
                         ("ingress.wcmp_control.wcmp_table", False),
                         ("ingress.host_meter_control.host_meter_table", True)):
        hits, misses = ref.pipeline.table_stats(names.index(name))
        assert hits > 0 and (misses > 0) == missed, name


def test_a_span_checksum_summed_in_the_machines_byte_order_is_the_internet_checksum(
        tmp_path: Path) -> None:
    """native_gen's update checksum over one span of header bytes holding its target, at
    every even target offset of spans of 2 to 40 bytes starting at odd and even addresses:
    the 16 bits it stores are RFC 1071's checksum of the span with the target zeroed."""
    rng = random.Random(14)
    lines = ["#include <stdio.h>", "#include <string.h>", '#include "csum.h"',
             "typedef struct { uint8_t *phv; } ctx_t;", "int main(void) {",
             "  uint8_t buf[64]; ctx_t xs = {buf}; ctx_t *x = &xs;"]
    want = []
    for length in range(2, 42, 2):
        for off in range(0, length, 2):
            start = rng.choice([0, 1, 2, 3, 6])
            data = bytes(rng.randrange(256) for _ in range(64))
            at = start + off
            gen = native_gen.Generator({"code": [], "consts": [], "headers": [{"metadata": 0}],
                                        "fields": [(8 * at, 16, 0, 0, 0, 1, 0, at, 0, 2)]})
            lines.append("  memcpy(buf, \"" + "".join(f"\\x{b:02x}" for b in data) + "\", 64);")
            lines += gen.span_checksum({"target": 0, "span_byte": start, "span_len": length,
                                        "span_target_shift": 0})
            lines.append(f'  printf("%u\\n", (unsigned)(buf[{at}] << 8 | buf[{at + 1}]));')
            span = bytearray(data[start:start + length])
            span[off:off + 2] = b"\0\0"
            total = sum(int.from_bytes(span[k:k + 2], "big") for k in range(0, length, 2))
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            want.append(~total & 0xFFFF)
    lines += ["  return 0;", "}"]
    src = tmp_path / "csum.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "csum"
    subprocess.run(["cc", "-O1", "-I", str(PIPELINE), "-o", str(exe), str(src)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    assert [int(v) for v in out.split()] == want


EXIT_DURING_BUILD = """
import atexit, logging, sys, threading, time
# Registered before anything else, so it runs last at exit: a slow shutdown (the gRPC server
# stopping, say) during which the background build's daemon thread still runs.
atexit.register(time.sleep, 3.0)
logging.basicConfig(format="%(message)s")
from target import Switch
sw = Switch(native="on")
sw.load(open(sys.argv[1], "rb").read())
time.sleep(0.3)                  # the C compiler (a wrapper that waits 1 s first) is running
sys.exit(1)
"""


@needs_corpus
def test_an_exit_during_the_background_build_says_nothing_more(tmp_path: Path) -> None:
    """kvick refusing its command line (one line, status 1) while native code builds in the
    background must not add a line: the build's sources stay where nothing removes them at
    exit (a temporary directory is removed by an exit handler while the compiler reads it)."""
    slow_cc = tmp_path / "slow-cc"
    slow_cc.write_text("#!/bin/sh\nsleep 1\nexec cc \"$@\"\n")
    slow_cc.chmod(0o755)
    script = tmp_path / "exit_during_build.py"
    script.write_text(EXIT_DURING_BUILD)
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(repo), CC=str(slow_cc),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, str(script),
                           str(CORPUS / "tutorial_basic" / "tutorial_basic.json")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == "", done.stderr


@needs_corpus
def test_two_threads_building_one_program_stage_apart(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    """Two switches of one process building the same program at once each compile their own
    staged files (named by process and thread), so neither removes the other's source."""
    import threading
    calls = tmp_path / "calls"
    slow_cc = tmp_path / "slow-cc"
    slow_cc.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nsleep 1\nexec cc "$@"\n')
    slow_cc.chmod(0o755)
    monkeypatch.setenv("CC", str(slow_cc))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    switches = [Switch(), Switch()]
    for sw in switches:
        sw.load(basic_program())
    results: list = []
    threads = [threading.Thread(target=lambda sw=sw: results.append(native_build.build(sw.pipeline)))
               for sw in switches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and results[0].path == results[1].path and results[0].path.exists()
    outputs = [line.split(" -o ")[1].split()[0] for line in calls.read_text().splitlines()]
    assert len(outputs) == 2 and outputs[0] != outputs[1], outputs
