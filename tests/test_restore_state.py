"""--restore-state FILE: the switch's state as BMv2's runtime_CLI commands (target/runtime_cli.py).

BMv2's own serialize_state dump cannot be read (tables in a C++ hash map's order, no names);
kvick applies the commands BMv2's users keep for simple_switch_CLI, and refuses a dump or a bad
line with one line naming the file and line.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from test_cli_bmv2_flags import Kvick, pcap, pcap_frames

from target import Switch
from target.compiler.driver import compile_text
from target.runtime_cli import CommandError, restore

# h.dst picks the port through a ternary table (priorities matter), h.mc a multicast group
# through an exact one; egress stamps register r[h.reg] into h.seen, so register_write shows.
PROGRAM = """
#include <core.p4>
#include <v1model.p4>
header h_t { bit<32> dst; bit<16> mc; bit<8> reg; bit<32> seen; }
struct headers { h_t h; }
struct meta_t { }
parser P(packet_in pk, out headers h, inout meta_t m, inout standard_metadata_t sm) {
    state start { pk.extract(h.h); transition accept; }
}
control VC(inout headers h, inout meta_t m) { apply { } }
control I(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    action to_port(bit<9> port) { sm.egress_spec = port; }
    action to_group(bit<16> grp) { sm.mcast_grp = grp; }
    action drop() { mark_to_drop(sm); }
    table route { key = { h.h.dst: ternary; } actions = { to_port; drop; } default_action = drop(); }
    table groups { key = { h.h.mc: exact; } actions = { to_group; NoAction; } default_action = NoAction(); }
    apply { route.apply(); groups.apply(); }
}
control E(inout headers h, inout meta_t m, inout standard_metadata_t sm) {
    register<bit<32>>(4) r;
    apply { r.read(h.h.seen, (bit<32>)h.h.reg); }
}
control CC(inout headers h, inout meta_t m) { apply { } }
control D(packet_out pk, in headers h) { apply { pk.emit(h.h); } }
V1Switch(P(), VC(), I(), E(), CC(), D()) main;
"""

COMMANDS = """\
# routes: the more specific entry has the better (lower) BMv2 priority
table_add route to_port 10.0.0.0&&&255.0.0.0 => 1 20
table_add I.route I.to_port 10.0.2.0&&&0xffffff00 => 2 10
table_set_default route to_port 3
table_add groups to_group 7 => 5
mc_mgrp_create 5
mc_node_create 0 1 2
mc_node_create 1 4
mc_node_associate 5 0
mc_node_associate 5 1
mirroring_add 9 4
register_write E.r 2 0xdeadbeef
"""


@pytest.fixture(scope="module")
def program() -> dict:
    document, _ = compile_text(PROGRAM)
    return document


def frame(dst: str, mc: int = 0, reg: int = 0) -> bytes:
    return bytes(int(x) for x in dst.split(".")) + mc.to_bytes(2, "big") + bytes([reg]) + bytes(4)


def restored(program: dict, tmp_path: Path, text: str) -> Switch:
    sw = Switch()
    sw.load(program)
    path = tmp_path / "commands.txt"
    path.write_text(text)
    restore(sw, str(path))
    return sw


def test_commands_fill_tables_groups_sessions_and_registers(program: dict, tmp_path: Path) -> None:
    sw = restored(program, tmp_path, COMMANDS)
    assert [p for p, _ in sw.process([(9, frame("10.0.2.7"))])] == [2]      # priority 10 wins
    assert [p for p, _ in sw.process([(9, frame("10.1.1.1"))])] == [1]
    assert [p for p, _ in sw.process([(9, frame("11.1.1.1"))])] == [3]      # the default
    assert sorted(p for p, _ in sw.process([(9, frame("11.1.1.1", mc=7))])) == [1, 2, 4]
    assert sorted(sw.mc_group_get(5)) == [(1, 0), (2, 0), (4, 1)]
    assert sw.clone_session_get(9)[0] == [(4, 0)]
    [(_, out)] = sw.process([(9, frame("10.1.1.1", reg=2))])
    assert out[7:11] == bytes.fromhex("deadbeef")


@pytest.mark.parametrize(("text", "message"), [
    ("06062016_0\n\x8b\x12\n3\n", "is a BMv2 serialize_state dump"),
    ("table_add route to_port 10.0.0.0&&&255.0.0.0 => 1\n",
     ":1: table I.route needs a priority after the action's 1 parameters"),
    ("\n# fine\ntable_add nosuch to_port 1 => 1\n", ":3: no table named 'nosuch'"),
    ("table_add route to_port 10.0.0.1 => 1 5\n", ":1: ternary field '10.0.0.1' needs VALUE&&&MASK"),
    ("table_dump route\n", ":1: command 'table_dump' is not one kvick restores"),
    ("mc_node_associate 1 0\n", ":1: no multicast group 1"),
    ("register_write E.r 2 zz\n", ":1: 'zz' is not a number"),
])
def test_refusals_name_the_line(program: dict, tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        restored(program, tmp_path, text)


def test_the_command_line_restores_before_forwarding(program: dict, tmp_path: Path) -> None:
    (tmp_path / "prog.json").write_text(json.dumps(program))
    (tmp_path / "commands.txt").write_text(COMMANDS)
    (tmp_path / "h1_in.pcap").write_bytes(pcap([frame("10.0.2.7"), frame("11.1.1.1")]))
    for name in ("h2", "h3"):
        (tmp_path / f"{name}_in.pcap").write_bytes(pcap([]))
    sw = Kvick(["--use-files", "0", "-i", "9@h1", "-i", "2@h2", "-i", "3@h3", "prog.json",
                "--restore-state", "commands.txt"], tmp_path)
    assert sw.listening()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not pcap_frames(tmp_path / "h3_out.pcap"):
        time.sleep(0.1)
    rc, _out, err = sw.stop()
    assert rc == 0, err
    assert pcap_frames(tmp_path / "h2_out.pcap") == [frame("10.0.2.7")]
    assert pcap_frames(tmp_path / "h3_out.pcap") == [frame("11.1.1.1")]


def test_the_command_line_refuses_a_bad_file_in_one_line(program: dict, tmp_path: Path) -> None:
    (tmp_path / "prog.json").write_text(json.dumps(program))
    (tmp_path / "state.bin").write_text("06062016_0\nxx\n")
    sw = Kvick(["prog.json", "--restore-state", "state.bin"], tmp_path)
    rc = sw.process.wait(timeout=120)
    err = sw.process.stderr.read()
    assert rc == 1
    assert err.strip().splitlines() == [
        "kvick: --restore-state state.bin is a BMv2 serialize_state dump, which kvick cannot "
        "read (see kvick --help: --restore-state reads runtime_CLI commands)"]
