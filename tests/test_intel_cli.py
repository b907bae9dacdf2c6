"""`kvick -i N@intel:PCI` refusals: one line on stderr naming the problem, exit status 1, no
traceback. The devices are a sysfs tree in a temporary directory with the files the driver
reads (vendor, device, the driver link), so every refusal is reached without a NIC."""

import logging
import os
import signal
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from intel_fakes import FakeNic, IdentityMemory
from shared_data import needs_corpus, program

import target.driver.intel.device as intel_device
import target.driver.intel.pci as intel_pci
from target.cli import main, parse_switch_args, run_switch
from target.driver.intel.chip import LinkTimeouts

IGB_82576 = ("0x8086", "0x10c9")


def add_device(sysfs: Path, address: str, ids: tuple[str, str], driver: str | None = None) -> None:
    dev = sysfs / "devices" / address
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(ids[0] + "\n")
    (dev / "device").write_text(ids[1] + "\n")
    if driver is not None:
        (sysfs / "drivers" / driver).mkdir(parents=True, exist_ok=True)
        os.symlink(sysfs / "drivers" / driver, dev / "driver")


@pytest.fixture
def sysfs(tmp_path, monkeypatch) -> Iterator[Path]:
    add_device(tmp_path, "0000:00:0a.0", IGB_82576, driver="igb")
    add_device(tmp_path, "0000:00:0b.0", ("0x1af4", "0x1000"))           # a virtio NIC
    add_device(tmp_path, "0000:00:0c.0", IGB_82576)
    add_device(tmp_path, "0000:00:0d.0", ("0x8086", "0x1533"))           # an I210: unsupported
    monkeypatch.setattr(intel_pci, "SYSFS_PCI", str(tmp_path))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield tmp_path
    for sig, handler in handlers.items():      # main() installs its own
        signal.signal(sig, handler)


def run_cli(capsys, spec: str) -> str:
    # Port 1 opens fine first: the refusal of port 2 must also release it.
    status = main(["--no-p4", "--grpc-server-addr", "127.0.0.1:0", "-i", "1@memory:sink",
                   "-i", f"2@intel:{spec}"])
    err = capsys.readouterr().err
    assert status == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"kvick: port 2 (intel:{spec}): ")
    return err


@pytest.mark.parametrize("spec, text", [
    ("0000:00:0a.0", "bound to the kernel driver 'igb'"),
    ("0000:00:0b.0", "not an Intel device (vendor 0x1af4"),
    ("0000:00:0d.0", "does not support"),
    ("0000:00:1f.7", "no PCI device 0000:00:1f.7"),
    ("03:00", "not a PCI address"),
    ("0000:00:0c.0,access=vfio", "not vfio-pci"),
])
def test_refusal_is_one_line_and_exit_status_1(sysfs, capsys, spec, text):
    assert text in run_cli(capsys, spec)


def test_without_hugepages(sysfs, capsys, monkeypatch):
    monkeypatch.setattr(intel_device, "hugepages_available", lambda: 0)
    assert "no free 2 MiB hugepages" in run_cli(capsys, "0000:00:0c.0")


def test_without_root(sysfs, capsys, monkeypatch):
    monkeypatch.setattr(intel_device.os, "geteuid", lambda: 1000)
    assert "need root" in run_cli(capsys, "0000:00:0c.0")


@pytest.fixture
def fake_devices(monkeypatch) -> list[intel_device.IntelDevice]:
    """IntelDevice.open gives devices on fake NICs (tests/intel_fakes.py), kept in a list."""
    opened: list[intel_device.IntelDevice] = []
    fast = LinkTimeouts(reset=0.05, config_done=0.001, queue_enable=0.05, mdio=0.05, link=0.05)

    def fake_open(cls, address, access="pagemap", sysfs=None, timeouts=None):
        dev = cls.from_backend(FakeNic(), "igb", IdentityMemory, address, fast)
        opened.append(dev)
        return dev

    monkeypatch.setattr(intel_device.IntelDevice, "open", classmethod(fake_open))
    return opened


def test_workers_split_the_port_and_a_refusal_releases_every_share(sysfs, capsys, fake_devices):
    """--workers 2: the port opens as two shares (queues 0 and 1, TX queues 0 and 1); a later
    port's refusal closes both."""
    status = main(["--no-p4", "--grpc-server-addr", "127.0.0.1:0", "--workers", "2",
                   "-i", "1@intel:0000:00:0c.0", "-i", "2@memory:sink", "-i", "3@nonsense:x"])
    err = capsys.readouterr().err
    assert status == 1 and "unknown port kind 'nonsense'" in err
    (dev,) = fake_devices
    nic = dev.chip.regs.backend
    assert dev._port is None and dev._shares == []
    names = [name for name, _ in nic.writes]
    for q in (0, 1):                         # both rings were set up, then stopped
        assert f"RDLEN[{q}]" in names and f"TDLEN[{q}]" in names
        assert not nic.get("RXDCTL", q) & (1 << 25) and not nic.get("TXDCTL", q) & (1 << 25)
    assert ("RETA[0]", 0x01000100) in nic.writes             # RSS over both queues


def test_fewer_queues_than_workers_is_refused(sysfs, capsys, fake_devices):
    status = main(["--no-p4", "--grpc-server-addr", "127.0.0.1:0", "--workers", "2",
                   "-i", "1@intel:0000:00:0c.0,queues=1"])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1, err
    assert "has 1 RX queue(s) and 2 workers need one each: give queues=2" in err
    assert fake_devices[0]._port is None


@needs_corpus
def test_every_worker_runs_zero_copy_from_the_command(sysfs, fake_devices, tmp_path, caplog):
    """`kvick --workers 2 -i 1@intel:A -i 2@intel:B`: the command makes one DMA pool per
    worker, so all four shares are zero copy; frames of both RSS queues cross the switch, and
    on exit each port logs per worker how many frames went in place and how many were
    copied."""
    basic = program("tutorial_basic")
    routes = tmp_path / "routes.txt"
    routes.write_text("table_add MyIngress.ipv4_lpm MyIngress.ipv4_forward 10.1.0.0/16 => "
                      "02:00:00:00:02:01 2\n")
    args = parse_switch_args([basic + ".json", "--restore-state", str(routes), "--workers", "2",
                              "--native", "off", "--grpc-server-addr", "127.0.0.1:0",
                              "-i", "1@intel:0000:00:0c.0", "-i", "2@intel:0000:00:0a.0"])
    stop = threading.Event()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(run_switch(args, stop)))
    caplog.set_level(logging.INFO, logger="kvick.intel")
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while (len(fake_devices) < 2 or not all(d._shares for d in fake_devices)) \
                and time.monotonic() < deadline:
            time.sleep(0.01)
        dev_a, dev_b = fake_devices
        shares = [dev_a._port, *dev_a._shares, dev_b._port, *dev_b._shares]
        assert len(shares) == 4 and all(s.zero_copy for s in shares)
        nic_a, nic_b = dev_a.chip.regs.backend, dev_b.chip.regs.backend
        frames = [routed_frame(q, i) for i in range(10) for q in (0, 1)]
        for i, f in enumerate(frames):
            assert nic_a.receive(f, i % 2)
        while len(nic_b.wire) < len(frames) and time.monotonic() < deadline:
            nic_b.transmit(0)
            nic_b.transmit(1)
            time.sleep(0.005)
        assert sorted(f[30:34] for f in nic_b.wire) == sorted(f[30:34] for f in frames)
        assert all(f[:6] == bytes.fromhex("020000000201") for f in nic_b.wire)
    finally:
        stop.set()
        runner.join(60)
    assert result == [0]
    lines = [r.getMessage() for r in caplog.records if r.name == "kvick.intel"]
    for k in (0, 1):
        assert (f"port 1 (intel:0000:00:0c.0) worker {k}: received 10 zero copy, 0 copied; "
                f"sent 0 zero copy, 0 copied") in lines, lines
        assert (f"port 2 (intel:0000:00:0a.0) worker {k}: received 0 zero copy, 0 copied; "
                f"sent 10 zero copy, 0 copied") in lines, lines


def routed_frame(q: int, seq: int) -> bytes:
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 46, seq, 0, 64, 17, 0, bytes([10, 9, 9, q]),
                     bytes([10, 1, q, seq]))
    return bytes.fromhex("52540000000a" "525400000006") + b"\x08\x00" + ip + bytes(26)


def test_too_few_hugepages_for_the_pools_is_one_line(sysfs, capsys, fake_devices, monkeypatch):
    def no_memory(self, capacity, buf_size=4096):
        raise intel_device.DmaError("cannot map 24 MiB of 2 MiB hugepages (3 free)")

    monkeypatch.setattr(intel_device.IntelDevice, "make_pool", no_memory)
    status = main(["--no-p4", "--grpc-server-addr", "127.0.0.1:0", "--workers", "2",
                   "-i", "1@intel:0000:00:0c.0"])
    err = capsys.readouterr().err
    assert status == 1 and err == ("kvick: port 1 (intel:0000:00:0c.0): cannot map 24 MiB of "
                                   "2 MiB hugepages (3 free)\n")
