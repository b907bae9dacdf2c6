"""Named register access for the init sequences (slow path, Python).

`Registers` resolves names through a chip's register table and talks to a backend with
read32/write32: `MappedBar` for a real BAR (one volatile 32-bit access each, in C), or a test
double. Every wait has a timeout: some bits never change on some devices (QEMU's igb never sets
EEMNGCTL.CFG_DONE), and a driver must not hang on them.
"""

import time
from typing import Protocol

from target.driver.intel.errors import IntelDriverError
from target.driver.intel.regs import Register
from target.driver.intel.ring import mmio_read32, mmio_write32


class DeviceGone(IntelDriverError):
    """The device no longer answers (reads return all ones): removed, reset or powered off."""


class RegisterTimeout(RuntimeError):
    pass


class RegisterBackend(Protocol):
    virt: int   # address of the BAR in this process (0 for a backend that is not memory)

    def read32(self, offset: int) -> int: ...
    def write32(self, offset: int, value: int) -> None: ...


class MappedBar:
    """A BAR mapped into the process at `virt` (resource0 or VFIO region mmap)."""

    def __init__(self, virt: int, size: int, owner: object) -> None:
        self.virt = virt
        self.size = size
        self._owner = owner     # the mmap object: the mapping lives as long as this does

    def read32(self, offset: int) -> int:
        self._check(offset)
        return mmio_read32(self.virt, offset)

    def write32(self, offset: int, value: int) -> None:
        self._check(offset)
        mmio_write32(self.virt, offset, value & 0xFFFFFFFF)

    def _check(self, offset: int) -> None:
        if offset < 0 or offset + 4 > self.size or offset & 3:
            raise ValueError(f"register offset {offset:#x} outside the {self.size:#x}-byte BAR")


class Registers:
    def __init__(self, backend: RegisterBackend, table: dict[str, Register]) -> None:
        self.backend = backend
        self.table = table

    def offset(self, name: str, index: int = 0) -> int:
        return self.table[name].at(index)

    def read(self, name: str, index: int = 0) -> int:
        return self.backend.read32(self.offset(name, index))

    def write(self, name: str, value: int, index: int = 0) -> None:
        self.backend.write32(self.offset(name, index), value & 0xFFFFFFFF)

    def set_bits(self, name: str, bits: int, index: int = 0) -> None:
        self.write(name, self.read(name, index) | bits, index)

    def clear_bits(self, name: str, bits: int, index: int = 0) -> None:
        self.write(name, self.read(name, index) & ~bits, index)

    def wait(self, name: str, mask: int, value: int, timeout: float, index: int = 0,
             what: str = "") -> bool:
        """Poll until (reg & mask) == value; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.read(name, index)
            if current == 0xFFFFFFFF and mask != 0xFFFFFFFF:
                raise DeviceGone(f"{name} reads all ones while waiting for {what or name}")
            if current & mask == value:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.001)

    def must_wait(self, name: str, mask: int, value: int, timeout: float, what: str,
                  index: int = 0) -> None:
        if not self.wait(name, mask, value, timeout, index, what):
            raise RegisterTimeout(f"timed out after {timeout:g} s waiting for {what} "
                                  f"({name} = {self.read(name, index):#010x})")

    def read_counter(self, name: str, index: int = 0) -> int:
        """A statistics register (clear on read); 64-bit ones read low then high word."""
        reg = self.table[name]
        low = self.backend.read32(reg.at(index))
        if reg.mode == "RC64":
            return low | (self.backend.read32(reg.at(index) + 4) << 32)
        return low
