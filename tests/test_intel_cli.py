"""`kvick -i N@intel:PCI` refusals: one line on stderr naming the problem, exit status 1, no
traceback. The devices are a sysfs tree in a temporary directory with the files the driver
reads (vendor, device, the driver link), so every refusal is reached without a NIC."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import target.driver.intel.device as intel_device
import target.driver.intel.pci as intel_pci
from target.cli import main

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
