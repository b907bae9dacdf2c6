"""dir24_pair: the engine's two copies of a DIR-24-8 table, whose tbl24 arrays share one mapping
interleaved by half pages. Each must stay a table of its own (against LpmRef, on every lookup
way, at every prefix boundary), and the engine must build its DIR-24-8 tables this way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_lpm_dir24 import assert_same_lookups, ip, probe_addresses, random_rules

from target import Lpm, Switch
from target.pipeline import native_gen
from target.pipeline.engine import native_detach, native_export, native_resume
from target.pipeline.lpm_dir24 import Dir24Lpm, dir24_pair
from target.pipeline.lpm_ref import LpmRef

CORPUS = Path(__file__).resolve().parents[1] / "../shared/corpus"


@pytest.mark.parametrize("seed", range(3))
def test_each_table_of_a_pair_matches_its_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tables = dir24_pair()
    refs = (LpmRef(), LpmRef())
    rules = [random_rules(rng, 2000), random_rules(rng, 2000)]
    # Written in turns, so that a bug writing the other half of a page shows in the other.
    for k in range(2000):
        for side in (0, 1):
            prefix, length, value = rules[side][k]
            tables[side].add(prefix, length, value)
            refs[side].add(prefix, length, value)
    for side in (0, 1):
        prefix, length, _ = rules[side][0]
        assert tables[side].delete(prefix, length) == refs[side].delete(prefix, length)
    probes = np.concatenate([probe_addresses(rng, refs[0], rules[0] + rules[1]),
                             probe_addresses(rng, refs[1], rules[0] + rules[1])])
    for side in (0, 1):
        assert tables[side].paired
        assert sorted(tables[side].rules()) == sorted(refs[side].rules())
        assert_same_lookups(tables[side], refs[side], probes)
        sample = probes[rng.integers(0, len(probes), 500)].tolist()
        assert [tables[side].lookup(a) for a in sample] == [refs[side].lookup(a) for a in sample]


def test_short_prefixes_and_clear_leave_the_other_table_alone() -> None:
    first, second = dir24_pair()
    first.add(0, 0, 1)                          # every tbl24 entry of the first
    second.add(ip("10.0.0.0"), 8, 2)
    second.add(ip("10.1.2.128"), 25, 3)
    assert (first.lookup(ip("10.1.2.200")), second.lookup(ip("10.1.2.200"))) == (1, 3)
    assert (first.lookup(ip("11.0.0.1")), second.lookup(ip("11.0.0.1"))) == (1, -1)
    # Entries 511 and 512 of the first sit in different half pages: both are its own.
    for addr in (511 << 8, 512 << 8, (1 << 32) - 1):
        assert first.lookup(addr, way="dir24") == 1
    first.clear()
    assert first.lookup(ip("10.1.2.200"), way="dir24") == -1
    assert second.lookup(ip("10.1.2.200"), way="dir24") == 3
    assert second.lookup(ip("10.200.0.0"), way="dir24") == 2
    second.delete(ip("10.0.0.0"), 8)
    assert second.lookup(ip("10.200.0.0"), way="range") == -1
    assert not Dir24Lpm().paired


def test_the_second_table_keeps_the_first_mapping_alive() -> None:
    first, second = dir24_pair()
    second.add(ip("192.0.2.0"), 24, 9)
    del first
    assert second.lookup(ip("192.0.2.1")) == 9


def test_a_pair_keeps_no_range_chunks() -> None:
    with pytest.raises(ValueError, match="no range chunks"):
        Dir24Lpm(ranges=True, _pair=True)


def test_the_engine_pairs_its_dir24_tables() -> None:
    """The two copies of basic.p4's LPM table share pages, and forwarding reads the right copy
    through a write that changes the route (native code and the interpreter)."""
    sw = Switch(native="wait")
    sw.load(CORPUS / "tutorial_basic" / "tutorial_basic.json",
            CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb")
    ti = sw._table("MyIngress.ipv4_lpm").index
    sides = sw.pipeline.matchers[ti].sides
    assert sides[0].paired and sides[1].paired
    frame = bytes.fromhex("0200000000010200000000020800" "45000014000100004011f96bc0a80001"
                          "0a010203")
    for port in (3, 5):
        sw.table_clear("MyIngress.ipv4_lpm")
        sw.table_add("MyIngress.ipv4_lpm", [Lpm(ip("10.1.0.0"), 16)], "MyIngress.ipv4_forward",
                     [0x020000000000 | port, port])
        sw.pipeline.settle()
        for engine in ("native", "interp"):
            if engine == "native":
                native_resume(sw.pipeline)
            else:
                native_detach(sw.pipeline)
            assert sw.native_ready() == (engine == "native")
            out = sw.pipeline.process([(1, frame)])
            assert [p for p, _ in out] == [port], engine


def test_native_code_reaches_tbl24_entries_only_through_the_pair_layout() -> None:
    """Generated code indexes tbl24 only through kvn_dir24_entry (a raw tbl24[addr >> 8]
    prefetches the wrong line of a pair: still right, but 2.6x slower)."""
    sw = Switch()
    sw.load(CORPUS / "tutorial_basic" / "tutorial_basic.json",
            CORPUS / "tutorial_basic" / "tutorial_basic.p4info.txtpb")
    source = native_gen.generate(native_export(sw.pipeline)).source
    assert "kvn_dir24_entry(" in source
    assert "->tbl24[" not in source
