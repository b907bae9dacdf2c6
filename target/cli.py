"""The `kvick` command: a simple_switch_grpc-compatible switch, plus subcommands.

    kvick [options] [PROGRAM.json]        run the switch with its P4Runtime server
    kvick stf PROGRAM.json FILE.stf       run an STF test (target.stf)
    kvick compile FILE.p4 -o OUT.json     compile with kvick's P4_16 compiler (target/compiler)
    kvick run FILE.p4 [options]           compile (cached by content hash) and run the switch

simple_switch_grpc's flags are accepted before and after a `--` separator (scripts put the
gRPC options after it), so scripts written for BMv2 run with the binary name swapped.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from dataclasses import dataclass

from target import bmv2_options, packet_log
from target.cli_input import (
    ArgumentParser,
    InputError,
    check_address,
    describe,
    one_line,
    read_bytes,
    read_p4info,
)

log = logging.getLogger("kvick")

# Each subcommand with its one-line description, for `kvick --help`.
SUBCOMMANDS = {
    "stf": "kvick stf PROGRAM.json FILE.stf     run a p4c STF test on kvick",
    "compile": "kvick compile FILE.p4 -o OUT.json   compile with kvick's P4_16 compiler",
    "run": "kvick run FILE.p4 [options]         compile (cached) and run the switch",
}


class UsageError(Exception):
    """A command line kvick refuses; the message says why."""


@dataclass(frozen=True)
class Interface:
    port: int
    spec: str  # what target.driver.registry.open_port opens


def _interface(text: str) -> tuple[int, str]:
    number, sep, name = text.partition("@")
    if not sep or not number.isdigit() or not name:
        raise argparse.ArgumentTypeError(f"expected PORT@INTERFACE, got {text!r}")
    return int(number), name


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="kvick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="kvick: a P4 software switch (simple_switch_grpc-compatible options).",
        epilog="subcommands:\n" + "\n".join(f"  {line}" for line in SUBCOMMANDS.values())
        + "\n\nEach subcommand's own options: kvick SUBCOMMAND --help.",
    )
    parser.add_argument("program", nargs="?", help="BMv2 JSON program to load at start")
    parser.add_argument("-i", "--interface", action="append", default=[], type=_interface,
                        metavar="PORT@IFACE",
                        help="attach a port (repeatable). IFACE: a Linux interface (AF_PACKET), "
                        "xdp:IF[@QUEUE], intel:PCI[,queues=N][,access=pagemap|vfio][,ring=N] "
                        "(RSS over N RX queues; default one per --workers worker, each worker "
                        "polling its queues and sending on a TX queue of its own), "
                        "pcap:IN[,OUT], pcap-out:OUT, memory:queue[:N]|sink")
    parser.add_argument("--no-p4", action="store_true",
                        help="start without a program (a controller sets one over P4Runtime)")
    parser.add_argument("--cpu-port", type=int, help="port number of the CPU port (packet I/O)")
    parser.add_argument("--device-id", type=int, default=0, help="P4Runtime device id")
    parser.add_argument("--grpc-server-addr", default="0.0.0.0:9559",
                        help="P4Runtime server address (default 0.0.0.0:9559)")
    parser.add_argument("--grpc-server-ssl", action="store_true",
                        help="serve gRPC over TLS only (with --grpc-server-cert/-key)")
    parser.add_argument("--grpc-server-cert", metavar="PEM", help="the server's certificate")
    parser.add_argument("--grpc-server-key", metavar="PEM", help="the server's private key")
    parser.add_argument("--grpc-server-cacert", metavar="PEM",
                        help="CA certificate that client certificates must be signed by")
    parser.add_argument("--grpc-server-with-client-auth", action="store_true",
                        help="mutual TLS: require a client certificate signed by the CA")
    parser.add_argument("--unset-election-id", choices=["zero", "lowest"], default="zero",
                        help="a P4Runtime election id left unset reads as 0, as BMv2's server "
                        "does (default), or as lower than any id, as the spec says")
    parser.add_argument("--grpc-frontend", choices=["aio", "native"], default=None,
                        help="the gRPC server: kvick's native HTTP/2 front end (default; "
                        "KVICK_GRPC_FRONTEND sets another; no TLS: with the TLS flags grpc.aio "
                        "serves), or grpc.aio")
    bmv2_options.add_arguments(parser)     # the rest of simple_switch_grpc's flags
    parser.add_argument("--p4info", metavar="PATH",
                        help="P4Info of PROGRAM: the server starts with that pipeline set")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="packets per engine batch (default 256)")
    parser.add_argument("--busy-poll", action="store_true",
                        help="poll the ports even when idle (lowest latency, one core always busy)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="engine threads, each owning its share of the ports' RX queues "
                             "(default 1)")
    parser.add_argument("--control-nice", type=int, default=0, metavar="N",
                        help="run the control plane's threads (P4Runtime writes) at SCHED_BATCH "
                             "nice N (1..19), below the workers; 0 (default) leaves them")
    parser.add_argument("--native", choices=["on", "off", "wait"], default="on",
                        help="compile each loaded program to C: on (default) forwards with the "
                             "interpreter until the native code is built, wait forwards only "
                             "once it is, off never builds it")
    return parser


def parse_switch_args(argv: list[str]) -> argparse.Namespace:
    """Parse the switch's options; `--` separators are dropped (options may follow them)."""
    args = build_parser().parse_args([a for a in argv if a != "--"])
    if bmv2_options.information(args) is not None:
        return args                         # -v / --json-version: nothing else matters
    try:
        args.warnings = bmv2_options.check(args)
    except bmv2_options.FlagError as err:
        raise UsageError(str(err)) from None
    if args.program is None and not args.no_p4:
        raise UsageError("give a PROGRAM.json or --no-p4")
    if args.program is not None and args.no_p4:
        raise UsageError("--no-p4 and a PROGRAM.json exclude each other")
    if args.p4info is not None and args.program is None:
        raise UsageError("--p4info needs a PROGRAM.json")
    if args.restore_state is not None and args.program is None:
        raise UsageError("--restore-state needs a PROGRAM.json")
    from runtime_server.tls import TlsConfigError

    try:
        tls_options(args).check()
    except TlsConfigError as err:
        raise UsageError(str(err)) from None
    if args.batch_size <= 0:
        raise UsageError("--batch-size must be positive")
    from target.workers import MAX_WORKERS

    if not 1 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be 1..{MAX_WORKERS}")
    ports = [p for p, _ in args.interface]
    if len(set(ports)) != len(ports):
        raise UsageError("a port number is given twice with -i")
    if args.cpu_port is not None and args.cpu_port in ports:
        raise UsageError(f"--cpu-port {args.cpu_port} is also an -i port")
    return args


def tls_options(args: argparse.Namespace):
    from runtime_server.tls import TlsOptions

    return TlsOptions(args.grpc_server_ssl, args.grpc_server_cert, args.grpc_server_key,
                      args.grpc_server_cacert, args.grpc_server_with_client_auth)


def interfaces(args: argparse.Namespace) -> list[Interface]:
    """The ports to open; with --use-files, interface X becomes X_in.pcap / X_out.pcap."""
    if args.use_files is not None:
        return [Interface(port, f"pcap:{name}_in.pcap,{name}_out.pcap")
                for port, name in args.interface]
    return [Interface(port, name) for port, name in args.interface]


def run_switch(args: argparse.Namespace, stop: threading.Event) -> int:
    """Build the switch, its ports and its P4Runtime server; serve until `stop` is set."""
    from runtime_server import gnmi, gnmi_model
    from runtime_server.errors import P4RuntimeError
    from runtime_server.server import P4RuntimeServer
    from target import Switch, TargetError

    log_handler = bmv2_options.configure_logging(args)
    # Input the switch cannot use (files, address, port numbers) is refused before anything
    # starts: one line and exit status 1 (InputError, printed by main).
    check_address(args.grpc_server_addr)
    from target.driver.intel import pools as intel_pools
    from target.driver.registry import open_port

    # Intel devices first: every worker's pool is DMA memory of theirs (zero copy).
    try:
        intel = intel_pools.open_intel_ports(
            [(i.port, i.spec) for i in interfaces(args)], open_port)
        pools = intel_pools.worker_pools(intel, args.workers)
    except intel_pools.PortOpenError as err:
        raise InputError(f"port {err.num} ({err.spec}): {describe(err.cause)}") from None
    intel_ports = list(intel.values())
    try:
        switch = Switch(batch_size=args.batch_size, cpu_port=args.cpu_port,
                        device_id=args.device_id, busy_poll=args.busy_poll,
                        workers=args.workers, native=args.native, pools=pools,
                        control_nice=args.control_nice, **bmv2_options.switch_settings(args))
    except TargetError as err:
        intel_pools.close_devices(intel_ports)
        raise InputError(str(err)) from None
    bmv2_options.apply_limits(args, switch)
    packet_log.attach(switch, bmv2_options.effective_level(args), log_handler is not None)
    program = p4info = None
    if args.program is not None:
        program = read_bytes(args.program)
        p4info = read_p4info(args.p4info) if args.p4info is not None else None
        try:
            switch.load(program, p4info=p4info[1] if p4info else None)
        except TargetError as err:
            raise InputError(f"{args.program}: {one_line(str(err))}") from None
        if args.restore_state is not None:
            from target.runtime_cli import CommandError, restore

            try:
                applied = restore(switch, args.restore_state)
            except CommandError as err:
                raise InputError(f"--restore-state {one_line(str(err))}") from None
            log.info("restored %d commands from %s", applied, args.restore_state)
    running = threading.Event()
    engine_lock = threading.Lock()

    def start_engine() -> None:
        # The engine loop needs a program: with --no-p4 it starts at the first commit (a
        # later load restarts it by itself).
        with engine_lock:
            if not running.is_set():
                switch.start()
                running.set()

    def refuse(message: str) -> int:
        print(f"kvick: {message}", file=sys.stderr)
        for num in list(switch.ports):
            switch.remove_port(num)
        return 1

    def attach_ports() -> bool:
        from target.driver.intel.errors import IntelDriverError

        wrap = bmv2_options.port_wrapper(args)
        with engine_lock:
            # The engine loop takes its ports when it starts: ports added later need a restart.
            if running.is_set():
                switch.stop()
            try:
                for interface, (_, name) in zip(interfaces(args), args.interface, strict=True):
                    print(f"Adding interface {name} as port {interface.port}"
                          f"{' (files)' if args.use_files is not None else ''}", flush=True)
                    port = intel.pop(interface.port, None) or open_port(interface.spec)
                    switch.add_port(interface.port, wrap(interface.port, name, port))
            except (IntelDriverError, TargetError, ValueError, OSError) as err:
                # A device that cannot be used (missing, kernel driver, no rights, a bad spec or
                # port number) is the user's to fix: say so in one line, release what is open.
                refuse(f"port {interface.port} ({interface.spec}): {describe(err)}")
                return False
            finally:
                if running.is_set():
                    switch.start()
        return True

    # --use-files N: as BMv2, gRPC is served at once and the files are processed after N s.
    if args.interface and args.use_files is None and not attach_ports():
        return 1

    # gNMI (OpenConfig interfaces, names as given with -i) shares the P4Runtime port.
    oc_interfaces = gnmi_model.Interfaces(switch, dict(args.interface))
    gnmi_handler = gnmi.handler(gnmi.GnmiService(oc_interfaces))
    from runtime_server.tls import TlsConfigError

    try:
        server = P4RuntimeServer(switch, device_id=args.device_id,
                                 address=args.grpc_server_addr, on_commit=start_engine,
                                 handlers=(gnmi_handler,),
                                 credentials=tls_options(args).credentials(),
                                 unset_election_id=args.unset_election_id,
                                 frontend=args.grpc_frontend)
    except TlsConfigError as err:  # a certificate or key that cannot be used: one line
        return refuse(describe(err))
    except (OSError, RuntimeError) as err:
        # The server refuses a busy address or one not of this host in one line (OSError);
        # gRPC itself says no more than "failed to bind" (RuntimeError).
        return refuse(f"--grpc-server-addr {args.grpc_server_addr}: {describe(err)}")
    oc_interfaces.start()
    if program is not None:
        if p4info is not None:
            try:
                server.service.preload(program, p4info[0])
            except P4RuntimeError as err:
                oc_interfaces.close()
                server.stop()
                return refuse(f"--p4info {args.p4info}: {one_line(str(err))}")
        start_engine()
    log.info("kvick: device %d, P4Runtime on port %d", args.device_id, server.port)
    from runtime_server.native_server import NativeP4RuntimeServer

    frontend = "native" if isinstance(server, NativeP4RuntimeServer) else "grpc.aio"
    print(f"kvick: P4Runtime server listening on port {server.port} ({frontend})", flush=True)
    failed = False
    if args.interface and args.use_files is not None and not stop.wait(args.use_files):
        if not attach_ports():
            failed = True
            stop.set()
    try:
        stop.wait()
    finally:
        oc_interfaces.close()
        server.stop()
        if running.is_set():
            switch.stop()
        intel_pools.log_zero_copy(switch)
        for num in list(switch.ports):
            switch.remove_port(num)          # flushes --pcap and --use-files output files
        intel_pools.close_devices(intel_ports)
        if log_handler is not None:
            log_handler.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "stf":
        from target import stf

        return stf.main(argv[1:])
    if argv and argv[0] == "compile":
        from target.compiler.command import main as compile_main

        return compile_main(argv[1:])
    if argv[:1] == ["run"] and ({"-h", "--help"} & set(argv[1:])):
        print("usage: kvick run FILE.p4 [switch options]\n\ncompiles FILE.p4 with kvick's "
              "compiler (cached by content hash), then runs the switch with the options below.\n")
        build_parser().print_help()
        return 0
    if argv and argv[0] == "run":
        from target.compiler.run_command import prepare

        prepared = prepare(argv[1:])
        if isinstance(prepared, int):
            return prepared
        argv = prepared
    try:
        args = parse_switch_args(argv)
    except UsageError as err:
        print(f"kvick: {err}", file=sys.stderr)
        return 1
    info = bmv2_options.information(args)
    if info is not None:
        print(info)
        return 0
    for line in args.warnings:
        print(f"kvick: {line}", file=sys.stderr)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        return run_switch(args, stop)
    except InputError as err:
        print(f"kvick: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
