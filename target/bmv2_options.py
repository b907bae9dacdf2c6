"""simple_switch_grpc's flags, one by one: what each means for kvick.

BMv2's switch takes its general options (src/bm_sim/options_parse.cpp) and, after `--`, the
target's (targets/simple_switch_grpc/main.cpp). Scripts pass them all; kvick accepts every one.
A flag either works, or, where it needs something kvick does not have (Thrift, nanomsg, the
debugger, BMv2's C++ modules), prints one warning line and the switch runs, as a BMv2 built
without that feature does. FLAGS is the table (`kvick --help-flags` prints it).
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from target.pipeline.dialects import JSON_MAJOR, JSON_MAX_MINOR
from target.trace import TRACE

WORKS, WARNS = "works", "warns"

# Every flag of simple_switch_grpc -> (what kvick does, how).
FLAGS: dict[str, tuple[str, str]] = {
    "-h/--help": (WORKS, "prints the options"),
    "-i/--interface N@IFACE": (WORKS, "port N is IFACE (a kvick port spec is accepted too)"),
    "--pcap [DIR]": (WORKS, "writes DIR/IFACE_in.pcap and DIR/IFACE_out.pcap per port"),
    "--use-files N": (WORKS, "ports are IFACE_in.pcap/IFACE_out.pcap, replayed after N s; "
                             "gRPC is served at once"),
    "--packet-in ADDR": (WARNS, "nanomsg packet injection: kvick has no nanomsg"),
    "--thrift-port N": (WARNS, "kvick has no Thrift server: use P4Runtime"),
    "--device-id N": (WORKS, "P4Runtime device id"),
    "--nanolog ADDR": (WARNS, "nanomsg event logger: kvick has no nanomsg"),
    "--log-console": (WORKS, "log on stdout"),
    "--log-file FILE": (WORKS, "log to FILE (rotated as BMv2 rotates)"),
    "-L/--log-level LEVEL": (WORKS, "trace|debug: BMv2's per-packet messages, at their levels "
                                    "(target/trace.py)"),
    "--log-flush": (WORKS, "every log line reaches the file when it is written"),
    "--log-file-max-size N": (WORKS, "rotation size of --log-file"),
    "--log-file-max-files N": (WORKS, "rotated files kept"),
    "--notifications-addr ADDR": (WARNS, "nanomsg notifications: digests and idle timeouts "
                                         "go to the P4Runtime stream"),
    "--debugger": (WARNS, "kvick has no BMv2 debugger"),
    "--debugger-addr ADDR": (WARNS, "kvick has no BMv2 debugger"),
    "--restore-state FILE": (WORKS, "FILE's runtime_CLI commands (table_add, table_set_default, "
                                    "mc_*, mirroring_add, register_write) are applied at start; "
                                    "BMv2's serialize_state dumps are refused (target/runtime_cli.py)"),
    "--dump-packet-data N": (WORKS, "logs the first N bytes of each packet received and sent"),
    "-v/--version": (WORKS, "prints kvick's version"),
    "--json-version": (WORKS, f"prints {JSON_MAJOR}.{JSON_MAX_MINOR}, the newest BMv2 JSON read"),
    "--no-p4": (WORKS, "start without a program"),
    "--max-port-count N": (WORKS, "more -i ports than N are refused"),
    "--load-modules LIST": (WARNS, "BMv2 C++ extern modules cannot be loaded by kvick"),
    "--grpc-server-addr ADDR": (WORKS, "P4Runtime and gNMI address"),
    "--cpu-port N": (WORKS, "P4Runtime packet-in/out port"),
    "--drop-port N": (WORKS, "the egress_spec that drops (and mark_to_drop writes); 0-511, "
                             "default 511; no port may have that number"),
    "--dp-grpc-server-addr ADDR": (WARNS, "BMv2's dataplane gRPC service is not served"),
    "--priority-queues N": (WORKS, "N (1-8) strict-priority queues per port chosen by "
                                   "standard_metadata.priority (qid tells it); a batch's packets "
                                   "for one port leave highest priority first (with --workers, "
                                   "each worker's batch)"),
    "--max-mc-groups N": (WORKS, "more multicast groups are refused (RESOURCE_EXHAUSTED); "
                                 "no bound unless given"),
    "--max-l1-entries N": (WORKS, "bounds the PRE's nodes (one per replication id of a group)"),
    "--max-l2-entries N": (WORKS, "bounds the PRE's nodes (one per replication id of a group)"),
    "--disable-swap": (WORKS, "accepted; kvick always swaps a new pipeline in whole"),
    "--warn-on-invalid-hdr-read": (WARNS, "not logged: kvick reads an invalid header's fields "
                                          "as they are in its header vector"),
    "--ret-zero-on-invalid-hdr-read": (WARNS, "not done: kvick reads an invalid header's "
                                              "fields as they are in its header vector"),
    "--grpc-server-ssl": (WORKS, "gRPC over TLS only"),
    "--grpc-server-cert PEM": (WORKS, "the server's certificate"),
    "--grpc-server-key PEM": (WORKS, "the server's private key"),
    "--grpc-server-cacert PEM": (WORKS, "the CA that client certificates are checked against"),
    "--grpc-server-with-client-auth": (WORKS, "mutual TLS: a client certificate is required"),
}


def flag_table() -> str:
    """FLAGS as a Markdown table (what `kvick --help-flags` prints)."""
    rows = ["| simple_switch_grpc flag | kvick | what it does |", "|---|---|---|"]
    rows += [f"| `{flag}` | {status} | {how} |" for flag, (status, how) in FLAGS.items()]
    return "\n".join(rows)

# TRACE (target.trace) is below logging.DEBUG, as BMv2's trace is below its debug
logging.addLevelName(TRACE, "TRACE")
LEVELS = {"trace": TRACE, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING,
          "error": logging.ERROR, "off": logging.CRITICAL + 1}
DEFAULT_MAX_PORT_COUNT = 512
DEFAULT_LOG_FILE_MAX_SIZE = 5 * 1024 * 1024
DEFAULT_LOG_FILE_MAX_FILES = 3


class FlagError(Exception):
    """A value BMv2 refuses too (its wording where it has one)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """simple_switch_grpc's flags beyond kvick's core ones (-i, --no-p4, --cpu-port, ...)."""
    add = parser.add_argument
    add("--log-console", action="store_true", help="log on stdout")
    add("--log-file", metavar="FILE", help="log to FILE")
    add("-L", "--log-level", choices=list(LEVELS),
        help="trace|debug|info|warn|error|off (default trace when logging, as BMv2)")
    add("--log-flush", action="store_true", help="flush the log file after every line")
    add("--log-file-max-size", type=int, metavar="BYTES")
    add("--log-file-max-files", type=int, metavar="N")
    add("--pcap", nargs="?", const=".", metavar="DIR",
        help="write DIR/IFACE_in.pcap and DIR/IFACE_out.pcap for every port (DIR default .)")
    add("--use-files", type=int, metavar="WAIT_S",
        help="ports are the files IFACE_in.pcap/IFACE_out.pcap, processed after WAIT_S seconds")
    add("--dump-packet-data", type=int, metavar="N",
        help="log the first N bytes of every packet received and sent (info level)")
    add("--max-port-count", type=int, default=DEFAULT_MAX_PORT_COUNT, metavar="N")
    add("--drop-port", type=int, metavar="N", help="the drop port (default 511)")
    add("--priority-queues", type=int, metavar="N",
        help="strict-priority queues per port, chosen by standard_metadata.priority")
    add("-v", "--version", action="store_true", help="print the version and exit")
    add("--json-version", action="store_true",
        help="print the newest BMv2 JSON version read (MAJOR.MINOR) and exit")
    add("--disable-swap", action="store_true", help=argparse.SUPPRESS)
    add("--trace", action="store_true", help="the same as --log-console -L trace")
    # Accepted for BMv2's command lines; each prints one warning (see FLAGS).
    for flag, kind in (("--thrift-port", int), ("--packet-in", str), ("--nanolog", str),
                       ("--notifications-addr", str), ("--debugger-addr", str),
                       ("--load-modules", str),
                       ("--dp-grpc-server-addr", str)):
        add(flag, type=kind, help=argparse.SUPPRESS)
    add("--max-mc-groups", type=int, metavar="N", help="at most N multicast groups")
    add("--max-l1-entries", type=int, metavar="N", help="at most N multicast nodes (L1)")
    add("--max-l2-entries", type=int, metavar="N", help="at most N multicast nodes (L2)")
    add("--debugger", action="store_true", help=argparse.SUPPRESS)
    add("--warn-on-invalid-hdr-read", action="store_true", help=argparse.SUPPRESS)
    add("--ret-zero-on-invalid-hdr-read", action="store_true", help=argparse.SUPPRESS)
    add("--help-flags", action="store_true",
        help="print every simple_switch_grpc flag with what kvick does with it, and exit")
    add("--restore-state", metavar="FILE",
        help="apply FILE's simple_switch_CLI commands (table_add, table_set_default, mc_mgrp_create, "
             "mc_node_create, mc_node_associate, mirroring_add, register_write) at start; kvick "
             "cannot read BMv2's serialize_state dumps")


def information(args: argparse.Namespace) -> str | None:
    """What -v / --json-version print (the switch then exits 0), else None."""
    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("kvick")
        except PackageNotFoundError:
            v = "0.1.0 (source tree)"
        return f"kvick {v}, simple_switch_grpc-compatible, BMv2 JSON up to {JSON_MAJOR}.{JSON_MAX_MINOR}"
    if args.json_version:
        return f"{JSON_MAJOR}.{JSON_MAX_MINOR}"
    if args.help_flags:
        return flag_table()
    return None


def check(args: argparse.Namespace) -> list[str]:
    """Validate the flags as BMv2 does; returns the warning lines to print."""
    if args.trace:
        args.log_console = True
        args.log_level = args.log_level or "trace"
    warnings: list[str] = []
    if args.log_console and args.log_file:
        raise FlagError("--log-console and --log-file are exclusive")
    for flag, attr in (("--log-flush", "log_flush"), ("--log-file-max-size", "log_file_max_size"),
                       ("--log-file-max-files", "log_file_max_files")):
        if getattr(args, attr) not in (None, False) and not args.log_file:
            warnings.append(f"Ignoring {flag} option because --log-file not specified")
    if args.log_file_max_size is not None and args.log_file_max_size <= 0:
        raise FlagError("--log-file-max-size must be greater than 0")
    if args.pcap is not None and not os.path.isdir(args.pcap):
        raise FlagError(f"Directory '{args.pcap}' specified with '--pcap' does not exist.")
    if args.use_files is not None and args.use_files < 0:
        args.use_files = 0                      # BMv2 waits 0 s for a negative time
    if args.dump_packet_data is not None:
        if args.dump_packet_data < 0:
            raise FlagError("--dump-packet-data must not be negative")
        if args.dump_packet_data > 0 and LEVELS[effective_level(args)] > logging.INFO:
            warnings.append("You asked for some packet data to be dumped for each packet on "
                            "ingress and egress, but you set a log level which excludes 'info' "
                            "messages. Therefore, '--dump-packet-data' will be ignored.")
    if args.max_port_count < 0:
        raise FlagError("Invalid --max-port-count argument, cannot be negative")
    if args.max_port_count == 0:
        warnings.append("You provided a --max-port-count value of 0, that does not seem quite right")
    if len(args.interface) > args.max_port_count:
        raise FlagError(f"{len(args.interface)} interfaces given but --max-port-count is "
                        f"{args.max_port_count}")
    if args.drop_port is not None and not 0 <= args.drop_port < 512:
        raise FlagError(f"--drop-port {args.drop_port}: v1model ports are 9 bits (0-511)")
    if args.priority_queues is not None and not 1 <= args.priority_queues <= 8:
        raise FlagError(f"--priority-queues {args.priority_queues}: v1model's priority is "
                        "3 bits, so 1 to 8 queues")
    for attr in ("max_mc_groups", "max_l1_entries", "max_l2_entries"):
        value = getattr(args, attr)
        if value is not None and not 1 <= value <= 2**31 - 1:
            raise FlagError(f"{attr.replace('_', '-')} must be between 1 and {2**31 - 1}")
    notes = {
        "thrift_port": "kvick has no Thrift runtime server; --thrift-port ignored (use P4Runtime)",
        "packet_in": "kvick has no nanomsg; --packet-in ignored, the -i interfaces are used",
        "nanolog": "kvick has no nanomsg event logger; --nanolog ignored (see --log-console)",
        "notifications_addr": "kvick has no nanomsg; --notifications-addr ignored (digests and "
                              "idle timeouts go to the P4Runtime stream)",
        "debugger": "kvick has no BMv2 debugger; --debugger ignored (see -L trace)",
        "debugger_addr": "kvick has no BMv2 debugger; --debugger-addr ignored (see -L trace)",
        "load_modules": "kvick cannot load BMv2 C++ modules; --load-modules ignored",
        "dp_grpc_server_addr": "kvick does not serve BMv2's dataplane gRPC service; "
                               "--dp-grpc-server-addr ignored",
        "warn_on_invalid_hdr_read": "kvick does not log reads of invalid headers; "
                                    "--warn-on-invalid-hdr-read ignored",
        "ret_zero_on_invalid_hdr_read": "kvick reads an invalid header's fields as they are; "
                                        "--ret-zero-on-invalid-hdr-read ignored",
    }
    for attr, text in notes.items():
        if getattr(args, attr) not in (None, False):
            warnings.append(text)
    return warnings


def switch_settings(args: argparse.Namespace) -> dict[str, int]:
    """The Switch's simple_switch settings from --drop-port and --priority-queues."""
    settings = {}
    if args.drop_port is not None:
        settings["drop_port"] = args.drop_port
    if args.priority_queues is not None:
        settings["priority_queues"] = args.priority_queues
    return settings


def apply_limits(args: argparse.Namespace, switch: Any) -> None:
    """--max-mc-groups / --max-l1-entries / --max-l2-entries onto the switch's PRE."""
    switch.max_mc_groups = args.max_mc_groups
    switch.max_l1_entries = args.max_l1_entries
    switch.max_l2_entries = args.max_l2_entries


def effective_level(args: argparse.Namespace) -> str:
    """-L's value; BMv2 logs at trace when logging is on and no level is given."""
    if args.log_level:
        return args.log_level
    return "trace" if (args.log_console or args.log_file) else "info"


class _BmLetters(logging.Formatter):
    """BMv2's log lines (bm_sim/logger.cpp's pattern): [HH:MM:SS.mmm] [bmv2] [L] [thread N]
    message. The logger's name is BMv2's, so that what reads BMv2's logs reads kvick's."""

    LETTERS = {TRACE: "T", logging.DEBUG: "D", logging.INFO: "I", logging.WARNING: "W",
               logging.ERROR: "E", logging.CRITICAL: "C"}

    def format(self, record: logging.LogRecord) -> str:
        record.letter = self.LETTERS.get(record.levelno, "I")
        return super().format(record)


def configure_logging(args: argparse.Namespace) -> logging.Handler | None:
    """Send kvick's log where BMv2's flags say; returns the handler (None: no log asked)."""
    handler: logging.Handler
    if args.log_console:
        handler = logging.StreamHandler(sys.stdout)
    elif args.log_file:
        handler = logging.handlers.RotatingFileHandler(
            args.log_file, maxBytes=args.log_file_max_size or DEFAULT_LOG_FILE_MAX_SIZE,
            backupCount=(DEFAULT_LOG_FILE_MAX_FILES if args.log_file_max_files is None
                         else args.log_file_max_files))
    else:
        return None
    handler.setFormatter(_BmLetters("[%(asctime)s.%(msecs)03d] [bmv2] [%(letter)s] "
                                    "[thread %(tid)d] %(message)s", datefmt="%H:%M:%S"))
    if not args.log_flush and isinstance(handler, logging.FileHandler):
        handler = _Buffered(handler)
    handler.addFilter(_thread_id)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(LEVELS[effective_level(args)])
    return handler


def _thread_id(record: logging.LogRecord) -> bool:
    """The OS thread id of the thread that logs (BMv2's %t), taken when the record is made:
    a buffered record is written later, by another thread."""
    record.tid = threading.get_native_id()
    return True


class _Buffered(logging.handlers.MemoryHandler):
    """Without --log-flush BMv2 leaves lines in its buffer; kvick writes them by the 64, and
    warnings and worse at once (so that a failure is never left unwritten)."""

    def __init__(self, target: logging.Handler):
        super().__init__(capacity=64, flushLevel=logging.WARNING, target=target)


def port_wrapper(args: argparse.Namespace) -> Callable[[int, str, Any], Any]:
    """A function (port number, interface name, opened Port) -> the Port to add: recording
    --pcap files and --dump-packet-data lines when those are asked for."""
    dump = args.dump_packet_data or 0
    if LEVELS[effective_level(args)] > logging.INFO or not (args.log_console or args.log_file):
        dump = 0
    if args.pcap is None and dump == 0:
        return lambda _num, _name, port: port
    from target.driver.capture import CapturePort

    packets = logging.getLogger("kvick.packets")

    def wrap(num: int, name: str, port: Any) -> Any:
        rx = tx = None
        if args.pcap is not None:
            base = os.path.join(args.pcap, os.path.basename(name.split(":")[-1]))
            rx, tx = base + "_in.pcap", base + "_out.pcap"

        def on_dump(sent: bool, length: int, data: bytes) -> None:
            packets.info("%s packet of length %d on port %d: %s",
                         "Sending" if sent else "Received", length, num, data.hex())

        return CapturePort(port, rx, tx, dump, on_dump if dump else None)

    return wrap
