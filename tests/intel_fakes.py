"""Offline stand-ins for the Intel driver's hardware: DMA memory whose bus addresses are its
virtual addresses, and a register file in memory with the side effects the init sequences and
rings rely on (reset self-clears, PHY writes bring the link up, queues move frames between
descriptor rings and a list of "wire" frames). Slow and simple on purpose: the reference the C
ring code is checked against."""

import ctypes
import mmap
import struct

from target.driver.intel.dma import DmaMemory
from target.driver.intel.regs import IGB, IXGBE

BAR_SIZE = 0x20000


class IdentityMemory(DmaMemory):
    """Anonymous memory; bus address == virtual address, so the fake device can reach it."""

    def __init__(self, size: int) -> None:
        self.size = -(-size // 4096) * 4096
        self.buffer = mmap.mmap(-1, self.size)
        self.virt = ctypes.addressof(ctypes.c_char.from_buffer(self.buffer))
        self.page = self.size

    def bus(self, offset: int) -> int:
        assert 0 <= offset < self.size
        return self.virt + offset


class FakeNic:
    """A register file (mmap'ed, so the C code's tail writes land in it) plus a model of the
    device. family is 'igb' or 'ixgbe'."""

    def __init__(self, family: str = "igb", mac: bytes = b"\x52\x54\x00\x00\x00\x0a",
                 link_comes_up: bool = True, reset_clears: bool = True) -> None:
        self.family = family
        self.table = IGB if family == "igb" else IXGBE
        self.mem = mmap.mmap(-1, BAR_SIZE if family == "igb" else 0x20000)
        self.virt = ctypes.addressof(ctypes.c_char.from_buffer(self.mem))
        self.mac = mac
        self.link_comes_up = link_comes_up
        self.reset_clears = reset_clears
        self.writes: list[tuple[str, int]] = []
        self.wire: list[bytes] = []          # frames transmitted, in order
        self.gone = False
        self.resets = 0
        self.counts = {"GPRC": 0, "GPTC": 0, "MPC": 0, "RNBC": 0}

    # register helpers ------------------------------------------------------------------
    def off(self, name: str, index: int = 0) -> int:
        return self.table[name].at(index)

    def get(self, name: str, index: int = 0) -> int:
        return struct.unpack_from("<I", self.mem, self.off(name, index))[0]

    def put(self, name: str, value: int, index: int = 0) -> None:
        struct.pack_into("<I", self.mem, self.off(name, index), value & 0xFFFFFFFF)

    def _name_at(self, offset: int) -> str:
        for reg in self.table.values():
            if offset >= reg.offset and (offset - reg.offset) % max(reg.stride, 1) == 0:
                i = (offset - reg.offset) // reg.stride if reg.stride else 0
                if i < reg.count and reg.offset + i * reg.stride == offset:
                    return f"{reg.name}[{i}]" if reg.count > 1 else reg.name
        return f"{offset:#x}"

    # backend interface -------------------------------------------------------------------
    def read32(self, offset: int) -> int:
        if self.gone:
            return 0xFFFFFFFF
        value = struct.unpack_from("<I", self.mem, offset)[0]
        for name in ("GPRC", "GPTC", "MPC", "RNBC"):
            if offset == self.off(name):
                value = self.counts[name]
                self.counts[name] = 0          # clear on read
        return value

    def write32(self, offset: int, value: int) -> None:
        if self.gone:
            return
        self.writes.append((self._name_at(offset), value))
        struct.pack_into("<I", self.mem, offset, value)
        if offset == self.off("CTRL") and value & (1 << 26):
            self._reset()
        elif self.family == "igb" and offset == self.off("MDIC"):
            ready = value | (1 << 28)
            struct.pack_into("<I", self.mem, offset, ready)
            phy_reg = (value >> 16) & 0x1F
            if phy_reg == 0 and value & (1 << 9) and self.link_comes_up:
                self.put("STATUS", self.get("STATUS") | 2)
        elif self.family == "ixgbe" and offset == self.off("AUTOC") and value & (1 << 12):
            if self.link_comes_up:
                self.put("LINKS", self.get("LINKS") | (1 << 30))

    def _reset(self) -> None:
        self.resets += 1
        self.mem[:] = bytes(len(self.mem))
        if not self.reset_clears:
            self.put("CTRL", 1 << 26)
        self.put("RAL", int.from_bytes(self.mac[:4], "little"))
        self.put("RAH", int.from_bytes(self.mac[4:], "little") | (1 << 31))
        if self.family == "igb":
            self.put("STATUS", 0x80080481)      # link down, as QEMU's model after reset
        else:
            self.put("EEC", 1 << 9)
            self.put("RDRXCTL", 1 << 3)

    # the device's data path ------------------------------------------------------------------
    def _ring(self, prefix: str, q: int) -> tuple[int, int]:
        base = self.get(prefix + "DBAL", q) | self.get(prefix + "DBAH", q) << 32
        return base, self.get(prefix + "DLEN", q) // 16

    def rx_enabled(self) -> bool:
        if self.family == "igb":
            return bool(self.get("RCTL") & 2)
        return bool(self.get("RXCTRL") & 1)

    def transmit(self, q: int = 0) -> int:
        """Send every descriptor between TDH and TDT; returns how many."""
        base, n = self._ring("T", q)
        head, tail = self.get("TDH", q), self.get("TDT", q)
        sent = 0
        while head != tail:
            d = base + head * 16
            addr, cmd, _olinfo = struct.unpack("<QII", ctypes.string_at(d, 16))
            assert cmd & (1 << 29) and (cmd >> 20) & 0xF == 3, "advanced data descriptor expected"
            assert cmd & (1 << 24), "one descriptor per frame expected"
            self.wire.append(ctypes.string_at(addr, cmd & 0xFFFF))
            if cmd & (1 << 27):
                ctypes.memmove(d + 12, struct.pack("<I", 1), 4)     # DD
            head = (head + 1) % n
            sent += 1
            self.counts["GPTC"] += 1
        self.put("TDH", head, q)
        return sent

    def receive(self, frame: bytes, q: int = 0) -> bool:
        """Write a frame into queue q's ring like the device; False (MPC + 1) when no
        descriptor is free or RX is off."""
        if not self.rx_enabled():
            return False
        base, n = self._ring("R", q)
        bufsize = (self.get("SRRCTL", q) & 0x7F) * 1024
        pieces = [frame[i:i + bufsize] for i in range(0, len(frame), bufsize)] or [b""]
        head, tail = self.get("RDH", q), self.get("RDT", q)
        free = (tail - head) % n
        if free < len(pieces):
            self.counts["MPC"] += 1
            return False
        for k, piece in enumerate(pieces):
            d = base + head * 16
            (addr,) = struct.unpack("<Q", ctypes.string_at(d, 8))
            ctypes.memmove(addr, piece, len(piece))
            status = 1 | (2 if k == len(pieces) - 1 else 0)
            ctypes.memmove(d, struct.pack("<QIHH", 0, status, len(piece), 0), 16)
            head = (head + 1) % n
        self.put("RDH", head, q)
        self.counts["GPRC"] += 1
        return True
