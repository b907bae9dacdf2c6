"""A PCI device through sysfs: identity, bound driver, bus mastering, BAR0 mapping."""

import mmap
import os
import re

from target.driver.intel.errors import IntelDriverError
from target.driver.intel.regs import IGB_DEVICE_IDS, INTEL_VENDOR_ID, IXGBE_DEVICE_IDS

PCI_COMMAND = 0x04
PCI_COMMAND_MEMORY = 1 << 1
PCI_COMMAND_MASTER = 1 << 2      # PCIe base spec 7.5.1.1: the device may issue DMA
ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
SYSFS_PCI = "/sys/bus/pci"       # where devices are looked up unless a caller names another tree


class PciError(IntelDriverError):
    """The device cannot be used as asked; the message says why and what to do."""


class PciDevice:
    def __init__(self, address: str, sysfs: str | None = None) -> None:
        sysfs = SYSFS_PCI if sysfs is None else sysfs
        address = address.lower()
        if len(address) == 7:
            address = "0000:" + address
        if not ADDRESS.match(address):
            raise PciError(f"{address!r} is not a PCI address like 0000:03:00.0")
        self.address = address
        self.sysfs = sysfs
        self.path = f"{sysfs}/devices/{address}"
        if not os.path.isdir(self.path):
            raise PciError(f"no PCI device {address} (is it plugged in? 'lspci -D' lists devices)")

    def _read_hex(self, name: str) -> int:
        with open(f"{self.path}/{name}") as f:
            return int(f.read().strip(), 16)

    @property
    def vendor(self) -> int:
        return self._read_hex("vendor")

    @property
    def device_id(self) -> int:
        return self._read_hex("device")

    def family(self) -> str:
        """'igb' or 'ixgbe'; PciError for anything this driver does not know."""
        vendor, device = self.vendor, self.device_id
        if vendor != INTEL_VENDOR_ID:
            raise PciError(f"{self.address} is not an Intel device (vendor {vendor:#06x}, "
                           f"device {device:#06x})")
        if device in IGB_DEVICE_IDS:
            return "igb"
        if device in IXGBE_DEVICE_IDS:
            return "ixgbe"
        raise PciError(f"{self.address} is an Intel device {device:#06x} this driver does not "
                       f"support (igb: 82576/I350, ixgbe: 82599/X520)")

    def driver(self) -> str | None:
        link = f"{self.path}/driver"
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def iommu_group(self) -> int | None:
        link = f"{self.path}/iommu_group"
        return int(os.path.basename(os.readlink(link))) if os.path.islink(link) else None

    def unbind(self) -> None:
        driver = self.driver()
        if driver is not None:
            with open(f"{self.path}/driver/unbind", "w") as f:
                f.write(self.address)

    def bind_vfio(self) -> None:
        """Hand the device to vfio-pci (the module must be loaded)."""
        self.unbind()
        with open(f"{self.path}/driver_override", "w") as f:
            f.write("vfio-pci")
        with open(f"{self.sysfs}/drivers_probe", "w") as f:
            f.write(self.address)

    def enable_bus_master(self) -> None:
        """Memory space and bus master on. Unbinding a kernel driver clears bus mastering, and
        a device without it never writes a received frame."""
        fd = self._open("config", os.O_RDWR)
        try:
            command = int.from_bytes(os.pread(fd, 2, PCI_COMMAND), "little")
            command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
            os.pwrite(fd, command.to_bytes(2, "little"), PCI_COMMAND)
        finally:
            os.close(fd)

    def map_bar0(self) -> tuple[mmap.mmap, int]:
        """BAR0 (the register file) mapped read-write through sysfs resource0."""
        fd = self._open("resource0", os.O_RDWR | os.O_SYNC)
        try:
            size = os.fstat(fd).st_size
            return mmap.mmap(fd, size, flags=mmap.MAP_SHARED,
                             prot=mmap.PROT_READ | mmap.PROT_WRITE), size
        finally:
            os.close(fd)

    def _open(self, name: str, flags: int) -> int:
        try:
            return os.open(f"{self.path}/{name}", flags)
        except PermissionError as e:
            raise PciError(f"no permission to open {self.path}/{name}: the Intel driver needs "
                           f"root (or use VFIO with access to /dev/vfio)") from e
        except FileNotFoundError as e:
            raise PciError(f"PCI device {self.address} disappeared ({name} is gone)") from e
