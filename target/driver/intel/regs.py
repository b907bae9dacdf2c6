"""Register tables of the two chip families, as data (offsets from the datasheets).

A row is (name, offset, stride, count, mode, long name); `stride`/`count` describe arrays such
as per-queue registers (register i lives at offset + i * stride). Modes: RW, RO, RC (clear on
read), RC64 (clear-on-read 64-bit counter whose low word is at offset, high word at offset + 4).
Sources: Intel 82576EB datasheet rev 2.x, chapter 8; Intel 82599 datasheet rev 3.x, chapter 8.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    stride: int
    count: int
    mode: str
    long_name: str

    def at(self, index: int = 0) -> int:
        if not 0 <= index < self.count:
            raise IndexError(f"{self.name}[{index}] out of range (0..{self.count - 1})")
        return self.offset + index * self.stride


def _table(rows: list[tuple[str, int, int, int, str, str]]) -> dict[str, Register]:
    table = {}
    for name, offset, stride, count, mode, long_name in rows:
        if name in table:
            raise ValueError(f"register {name} listed twice")
        table[name] = Register(name, offset, stride, count, mode, long_name)
    return table


# 82576 / I350 ("igb"). Queue registers: 16 RX and 16 TX queues at 0x40 apart.
IGB = _table([
    ("CTRL",      0x00000, 0,    1,   "RW", "Device Control"),
    ("STATUS",    0x00008, 0,    1,   "RO", "Device Status"),
    ("CTRL_EXT",  0x00018, 0,    1,   "RW", "Extended Device Control"),
    ("MDIC",      0x00020, 0,    1,   "RW", "MDI Control"),
    ("ICR",       0x000C0, 0,    1,   "RC", "Interrupt Cause Read"),
    ("IMC",       0x000D8, 0,    1,   "RW", "Interrupt Mask Clear"),
    ("EIMC",      0x01528, 0,    1,   "RW", "Extended Interrupt Mask Clear"),
    ("EEMNGCTL",  0x01010, 0,    1,   "RO", "MNG EEPROM Control (CFG_DONE)"),
    ("RCTL",      0x00100, 0,    1,   "RW", "Receive Control"),
    ("TCTL",      0x00400, 0,    1,   "RW", "Transmit Control"),
    ("RXCSUM",    0x05000, 0,    1,   "RW", "Receive Checksum Control"),
    ("MTA",       0x05200, 4,    128, "RW", "Multicast Table Array"),
    ("RAL",       0x05400, 8,    16,  "RW", "Receive Address Low"),
    ("RAH",       0x05404, 8,    16,  "RW", "Receive Address High"),
    ("MRQC",      0x05818, 0,    1,   "RW", "Multiple Receive Queues Command"),
    ("RETA",      0x05C00, 4,    32,  "RW", "Redirection Table"),
    ("RSSRK",     0x05C80, 4,    10,  "RW", "RSS Random Key"),
    ("RDBAL",     0x0C000, 0x40, 16,  "RW", "RX Descriptor Base Address Low"),
    ("RDBAH",     0x0C004, 0x40, 16,  "RW", "RX Descriptor Base Address High"),
    ("RDLEN",     0x0C008, 0x40, 16,  "RW", "RX Descriptor Ring Length"),
    ("SRRCTL",    0x0C00C, 0x40, 16,  "RW", "Split and Replication RX Control"),
    ("RDH",       0x0C010, 0x40, 16,  "RW", "RX Descriptor Head"),
    ("RDT",       0x0C018, 0x40, 16,  "RW", "RX Descriptor Tail"),
    ("RXDCTL",    0x0C028, 0x40, 16,  "RW", "RX Descriptor Control"),
    ("TDBAL",     0x0E000, 0x40, 16,  "RW", "TX Descriptor Base Address Low"),
    ("TDBAH",     0x0E004, 0x40, 16,  "RW", "TX Descriptor Base Address High"),
    ("TDLEN",     0x0E008, 0x40, 16,  "RW", "TX Descriptor Ring Length"),
    ("TDH",       0x0E010, 0x40, 16,  "RW", "TX Descriptor Head"),
    ("TDT",       0x0E018, 0x40, 16,  "RW", "TX Descriptor Tail"),
    ("TXDCTL",    0x0E028, 0x40, 16,  "RW", "TX Descriptor Control"),
    ("CRCERRS",   0x04000, 0,    1,   "RC", "CRC Error Count"),
    ("MPC",       0x04010, 0,    1,   "RC", "Missed Packets Count"),
    ("GPRC",      0x04074, 0,    1,   "RC", "Good Packets Received Count"),
    ("BPRC",      0x04078, 0,    1,   "RC", "Broadcast Packets Received Count"),
    ("MPRC",      0x0407C, 0,    1,   "RC", "Multicast Packets Received Count"),
    ("GPTC",      0x04080, 0,    1,   "RC", "Good Packets Transmitted Count"),
    ("GORC",      0x04088, 0,    1,   "RC64", "Good Octets Received Count"),
    ("GOTC",      0x04090, 0,    1,   "RC64", "Good Octets Transmitted Count"),
    ("RNBC",      0x040A0, 0,    1,   "RC", "Receive No Buffers Count"),
])

# 82599 / X520 ("ixgbe"). Queue registers for queues 0..63 at 0x40 apart (the datasheet's
# second address range, valid for every queue; SRRCTL too).
IXGBE = _table([
    ("CTRL",      0x00000, 0,    1,   "RW", "Device Control"),
    ("STATUS",    0x00008, 0,    1,   "RO", "Device Status"),
    ("CTRL_EXT",  0x00018, 0,    1,   "RW", "Extended Device Control"),
    ("EICR",      0x00800, 0,    1,   "RC", "Extended Interrupt Cause"),
    ("EIMC",      0x00888, 0,    1,   "RW", "Extended Interrupt Mask Clear"),
    ("EEC",       0x10010, 0,    1,   "RW", "EEPROM/Flash Control (auto-read done)"),
    ("RDRXCTL",   0x02F00, 0,    1,   "RW", "Receive DMA Control (DMA init done)"),
    ("RXCTRL",    0x03000, 0,    1,   "RW", "Receive Control"),
    ("RXPBSIZE",  0x03C00, 4,    8,   "RW", "Receive Packet Buffer Size"),
    ("HLREG0",    0x04240, 0,    1,   "RW", "MAC Core Control 0"),
    ("AUTOC",     0x042A0, 0,    1,   "RW", "Auto-Negotiation Control"),
    ("LINKS",     0x042A4, 0,    1,   "RO", "Link Status"),
    ("RTTDCS",    0x04900, 0,    1,   "RW", "DCB Transmit Descriptor Plane Control"),
    ("DMATXCTL",  0x04A80, 0,    1,   "RW", "DMA Transmit Control"),
    ("RXCSUM",    0x05000, 0,    1,   "RW", "Receive Checksum Control"),
    ("FCTRL",     0x05080, 0,    1,   "RW", "Filter Control"),
    ("MTA",       0x05200, 4,    128, "RW", "Multicast Table Array"),
    ("DTXMXSZRQ", 0x08100, 0,    1,   "RW", "DMA TX Max Total Allow Size Requests"),
    ("RAL",       0x0A200, 8,    128, "RW", "Receive Address Low"),
    ("RAH",       0x0A204, 8,    128, "RW", "Receive Address High"),
    ("TXPBSIZE",  0x0CC00, 4,    8,   "RW", "Transmit Packet Buffer Size"),
    ("RETA",      0x0EB00, 4,    32,  "RW", "Redirection Table"),
    ("RSSRK",     0x0EB80, 4,    10,  "RW", "RSS Random Key"),
    ("MRQC",      0x0EC80, 0,    1,   "RW", "Multiple Receive Queues Command"),
    ("RDBAL",     0x01000, 0x40, 64,  "RW", "RX Descriptor Base Address Low"),
    ("RDBAH",     0x01004, 0x40, 64,  "RW", "RX Descriptor Base Address High"),
    ("RDLEN",     0x01008, 0x40, 64,  "RW", "RX Descriptor Ring Length"),
    ("DCA_RXCTRL", 0x0100C, 0x40, 64, "RW", "RX DCA Control"),
    ("RDH",       0x01010, 0x40, 64,  "RW", "RX Descriptor Head"),
    ("SRRCTL",    0x01014, 0x40, 64,  "RW", "Split and Replication RX Control"),
    ("RDT",       0x01018, 0x40, 64,  "RW", "RX Descriptor Tail"),
    ("RXDCTL",    0x01028, 0x40, 64,  "RW", "RX Descriptor Control"),
    ("TDBAL",     0x06000, 0x40, 128, "RW", "TX Descriptor Base Address Low"),
    ("TDBAH",     0x06004, 0x40, 128, "RW", "TX Descriptor Base Address High"),
    ("TDLEN",     0x06008, 0x40, 128, "RW", "TX Descriptor Ring Length"),
    ("TDH",       0x06010, 0x40, 128, "RW", "TX Descriptor Head"),
    ("TDT",       0x06018, 0x40, 128, "RW", "TX Descriptor Tail"),
    ("TXDCTL",    0x06028, 0x40, 128, "RW", "TX Descriptor Control"),
    ("CRCERRS",   0x04000, 0,    1,   "RC", "CRC Error Count"),
    ("MPC",       0x03FA0, 4,    8,   "RC", "Missed Packets Count per packet buffer"),
    ("RNBC",      0x03FC0, 4,    8,   "RC", "Receive No Buffers Count per packet buffer"),
    ("GPRC",      0x04074, 0,    1,   "RC", "Good Packets Received Count"),
    ("BPRC",      0x04078, 0,    1,   "RC", "Broadcast Packets Received Count"),
    ("MPRC",      0x0407C, 0,    1,   "RC", "Multicast Packets Received Count"),
    ("GPTC",      0x04080, 0,    1,   "RC", "Good Packets Transmitted Count"),
    ("GORC",      0x04088, 0,    1,   "RC64", "Good Octets Received Count"),
    ("GOTC",      0x04090, 0,    1,   "RC64", "Good Octets Transmitted Count"),
])

# PCI device ids of the supported chips (vendor 0x8086), by family.
IGB_DEVICE_IDS = {
    0x10C9: "82576", 0x10E6: "82576 fiber", 0x10E7: "82576 serdes", 0x10E8: "82576 quad",
    0x1521: "I350 copper", 0x1522: "I350 fiber", 0x1523: "I350 backplane", 0x1524: "I350 sgmii",
}
IXGBE_DEVICE_IDS = {
    0x10FB: "82599 SFP+", 0x10F7: "82599 KX4", 0x10FC: "82599 XAUI", 0x1517: "82599 KR",
    0x151C: "82599 T3 LOM", 0x154D: "82599 SFP+ SF2", 0x1528: "X540-T",
}
INTEL_VENDOR_ID = 0x8086
