"""The per-packet log (-L trace|debug): what BMv2's log shows, from the engine's trace records."""

from __future__ import annotations

import logging

import pytest
from scapy.all import IP, UDP, Ether, raw
from shared_data import CORPUS, require

from target import Lpm, Switch, packet_log

BASIC = CORPUS / "tutorial_basic" / "tutorial_basic"


@pytest.fixture()
def switch() -> Switch:
    sw = Switch(pool_size=256)
    sw.load(str(require(BASIC.with_suffix(".json"))), str(BASIC.with_suffix(".p4info.txtpb")))
    sw.table_add("MyIngress.ipv4_lpm", [Lpm(0x0A000202, 32)], "MyIngress.ipv4_forward",
                 [0x080000000202, 2])
    return sw


ROUTED = raw(Ether(dst="08:00:00:00:01:00", src="08:00:00:00:01:11") /
             IP(src="10.0.1.1", dst="10.0.2.2", ttl=64) / UDP() / b"hi")


def test_log_shows_fields_keys_params_conditions_writes_and_drops(switch: Switch) -> None:
    lines: list[str] = []
    switch.set_trace(True, lines.append)
    switch.process([(1, ROUTED), (1, raw(Ether() / IP(dst="10.9.9.9") / UDP()))])
    text = "\n".join(lines)
    for expected in (
        "[1] extract ethernet (14 bytes): dstAddr=080000000100 srcAddr=080000000111 etherType=0800",
        "ttl=40 protocol=11",                                     # field values of ipv4
        '[1] basic.p4(116) Condition "hdr.ipv4.isValid()" (node_2) is true',   # source_info
        "[1] table MyIngress.ipv4_lpm: hit entry 0 (key hdr.ipv4.dstAddr=0a000202)",
        "[1] action MyIngress.ipv4_forward(dstAddr=080000000202, port=002)",
        "[1]   standard_metadata.egress_spec = 002",               # primitive effects
        "[1]   ipv4.ttl = 3f",
        "[1] transmitted on port 2",
        "[2] table MyIngress.ipv4_lpm: miss, default action (key hdr.ipv4.dstAddr=0a090909)",
        "[2] dropped at the end of ingress: egress_spec is the drop port (mark_to_drop)",
    ):
        assert expected in text, (expected, text)


def test_log_is_switched_on_and_off_at_run_time(switch: Switch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)         # the root logger at info, as `-L info` sets it
    caplog.handler.setLevel(logging.NOTSET)  # the handler passes all, as the CLI's does
    log = packet_log.attach(switch, "info", True)          # -L info: no packet lines
    switch.process([(1, ROUTED)])
    assert not [r for r in caplog.records if r.name == "kvick.packet"]
    log.toggle()                                             # what SIGUSR1 does
    switch.process([(1, ROUTED)])
    packet_lines = [r.getMessage() for r in caplog.records if r.name == "kvick.packet"]
    assert any("hit entry 0" in line for line in packet_lines)
    log.toggle()
    before = len(packet_lines)
    switch.process([(1, ROUTED)])
    assert len([r for r in caplog.records if r.name == "kvick.packet"]) == before
