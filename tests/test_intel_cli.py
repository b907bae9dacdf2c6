"""`kvick -i N@intel:PCI` refusals: one line on stderr naming the problem, exit status 1, no
traceback. The devices are a sysfs tree in a temporary directory with the files the driver
reads (vendor, device, the driver link), so every refusal is reached without a NIC."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from intel_fakes import FakeNic, IdentityMemory

import target.driver.intel.device as intel_device
import target.driver.intel.pci as intel_pci
from target.cli import main
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
