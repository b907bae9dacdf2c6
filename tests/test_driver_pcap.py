"""pcap ports against scapy and against a plain struct-based reference reader/writer."""

import random
import struct
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import raw
from scapy.utils import PcapWriter as ScapyPcapWriter
from scapy.utils import rdpcap, wrpcap

from target.driver.memory import MemoryGenerator, QueuePort, pump
from target.driver.pcap import PcapFormatError, PcapPort, PcapReader, PcapWriter
from target.driver.registry import open_port, register_builtin_drivers
from target.packet import PacketPool

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D


def write_reference_pcap(path: Path, frames: list[bytes], order: str = "<",
                         magic: int = MAGIC_USEC, linktype: int = 1,
                         original_lengths: list[int] | None = None) -> None:
    """The format spelled out with struct, record by record."""
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)]
    for i, frame in enumerate(frames):
        original = original_lengths[i] if original_lengths else len(frame)
        out.append(struct.pack(order + "IIII", 1700000000 + i, i, len(frame), original))
        out.append(frame)
    path.write_bytes(b"".join(out))


def read_reference_pcap(path: Path) -> tuple[int, list[tuple[float, bytes]]]:
    data = path.read_bytes()
    for order in "<>":
        magic = struct.unpack_from(order + "I", data)[0]
        if magic in (MAGIC_USEC, MAGIC_NSEC):
            break
    else:
        raise AssertionError("bad magic")
    scale = 1e-9 if magic == MAGIC_NSEC else 1e-6
    major, minor, _, _, _, linktype = struct.unpack_from(order + "HHiIII", data, 4)
    assert (major, minor, linktype) == (2, 4, 1)
    records = []
    pos = 24
    while pos < len(data):
        sec, frac, captured, original = struct.unpack_from(order + "IIII", data, pos)
        assert captured == original
        records.append((sec + frac * scale, data[pos + 16:pos + 16 + captured]))
        pos += 16 + captured
    return magic, records


def replay(path: Path, pool: PacketPool | None = None, **kwargs) -> tuple[list[bytes], dict]:
    """Every frame a PcapReader delivers, via a QueuePort, and the reader's counters."""
    pool = pool or PacketPool(64)
    reader = PcapReader(path, **kwargs)
    queue = QueuePort(4096)
    reader.open(pool)
    queue.open(pool)
    pump(reader, queue, batch=16, max_packets=1000 if kwargs.get("loop") else None)
    assert pool.available == pool.capacity
    return queue.pop_all(), reader.stats()


def scapy_frames(count: int) -> list[bytes]:
    frames = []
    for i in range(count):
        l4 = UDP(sport=i, dport=53) if i % 2 else TCP(sport=i, dport=80, flags="S")
        frames.append(raw(Ether(dst="02:00:00:00:00:02") / IP(dst=f"10.{i}.0.1") / l4
                          / bytes(i * 7 % 300)))
    return frames


def test_reads_what_scapy_wrote(tmp_path):
    frames = scapy_frames(40)
    wrpcap(str(tmp_path / "in.pcap"), [Ether(f) for f in frames])
    got, stats = replay(tmp_path / "in.pcap")
    assert got == frames
    assert stats["rx_packets"] == 40 and stats["rx_bytes"] == sum(map(len, frames))
    assert stats["rx_dropped"] == stats["rx_errors"] == 0


def test_reads_scapy_nanosecond_files(tmp_path):
    frames = scapy_frames(5)
    writer = ScapyPcapWriter(str(tmp_path / "ns.pcap"), nano=True, linktype=1)
    for f in frames:
        writer.write(Ether(f))
    writer.close()
    assert (tmp_path / "ns.pcap").read_bytes()[:4] == struct.pack("<I", MAGIC_NSEC)
    assert replay(tmp_path / "ns.pcap")[0] == frames


@pytest.mark.parametrize("order", ["<", ">"], ids=["little", "big"])
@pytest.mark.parametrize("magic", [MAGIC_USEC, MAGIC_NSEC], ids=["usec", "nsec"])
def test_reads_both_byte_orders_and_resolutions(tmp_path, order, magic):
    rng = random.Random(magic ^ ord(order))
    frames = [rng.randbytes(rng.randint(14, 1514)) for _ in range(100)]
    write_reference_pcap(tmp_path / "x.pcap", frames, order, magic)
    assert replay(tmp_path / "x.pcap")[0] == frames


def test_scapy_reads_what_the_writer_wrote_with_timestamps(tmp_path):
    frames = scapy_frames(30)
    pool = PacketPool(32)
    queue, writer = QueuePort(64), PcapWriter(tmp_path / "out.pcap")
    queue.open(pool)
    writer.open(pool)
    for f in frames:
        queue.push(f)
    before = time.time()
    assert pump(queue, writer, batch=8) == 30
    after = time.time()
    writer.close()
    packets = rdpcap(str(tmp_path / "out.pcap"))
    assert [raw(p) for p in packets] == frames
    assert all(before - 1e-6 <= float(p.time) <= after + 1e-6 for p in packets)
    assert writer.written == 30 and writer.stats()["tx_packets"] == 30
    assert pool.available == pool.capacity


@pytest.mark.parametrize("nanosecond", [False, True])
def test_writer_output_matches_the_reference_reader(tmp_path, nanosecond):
    rng = random.Random(99)
    frames = [rng.randbytes(rng.randint(1, 2000)) for _ in range(300)]
    pool = PacketPool(64)
    queue, writer = QueuePort(512), PcapWriter(tmp_path / "w.pcap", nanosecond=nanosecond)
    queue.open(pool)
    writer.open(pool)
    for f in frames:
        queue.push(f)
    before = time.time()
    pump(queue, writer, batch=32)
    writer.flush()
    magic, records = read_reference_pcap(tmp_path / "w.pcap")
    assert magic == (MAGIC_NSEC if nanosecond else MAGIC_USEC)
    assert [frame for _, frame in records] == frames
    assert all(before - 1e-6 <= ts <= time.time() for ts, _ in records)
    writer.close()


def test_writer_output_replays_through_the_reader(tmp_path):
    templates = scapy_frames(7)
    pool = PacketPool(64)
    gen = MemoryGenerator(templates, count=500)
    writer = PcapWriter(tmp_path / "gen.pcap")
    gen.open(pool)
    writer.open(pool)
    pump(gen, writer)
    writer.close()
    got, _ = replay(tmp_path / "gen.pcap", pool)
    assert got == [templates[i % 7] for i in range(500)]


def test_pcap_port_replays_one_file_and_records_another(tmp_path):
    frames = scapy_frames(12)
    wrpcap(str(tmp_path / "in.pcap"), [Ether(f) for f in frames])
    pool = PacketPool(16)
    port = PcapPort(tmp_path / "in.pcap", tmp_path / "out.pcap")
    port.open(pool)
    assert pump(port, port, batch=5) == 12
    port.close()
    assert [raw(p) for p in rdpcap(str(tmp_path / "out.pcap"))] == frames
    assert port.records == 12 and port.sent == 12 and port.written == 12


def test_header_only_file_has_no_records(tmp_path):
    write_reference_pcap(tmp_path / "empty.pcap", [])
    got, stats = replay(tmp_path / "empty.pcap")
    assert got == [] and stats["rx_packets"] == 0
    assert PcapReader(tmp_path / "empty.pcap").records == 0


def test_zero_byte_file_is_refused(tmp_path):
    (tmp_path / "zero.pcap").write_bytes(b"")
    with pytest.raises(PcapFormatError, match="empty file"):
        PcapReader(tmp_path / "zero.pcap")


@pytest.mark.parametrize("content, message", [
    (b"\x00" * 24, "bad magic 0x00000000"),
    (b"GIF89a" + bytes(40), "bad magic"),
    (struct.pack("<I", 0x0A0D0D0A) + bytes(40), "pcapng"),
    (struct.pack("<I", MAGIC_USEC) + bytes(10), "shorter than the 24-byte"),
])
def test_bad_headers_are_refused(tmp_path, content, message):
    (tmp_path / "bad.pcap").write_bytes(content)
    with pytest.raises(PcapFormatError, match=message):
        PcapReader(tmp_path / "bad.pcap")


def test_other_link_types_are_refused(tmp_path):
    write_reference_pcap(tmp_path / "raw.pcap", [bytes(20)], linktype=101)
    with pytest.raises(PcapFormatError, match="link type 101"):
        PcapReader(tmp_path / "raw.pcap")


def test_truncated_record_data_names_the_record(tmp_path):
    write_reference_pcap(tmp_path / "t.pcap", [bytes(60), bytes(70), bytes(80)])
    data = (tmp_path / "t.pcap").read_bytes()
    (tmp_path / "t.pcap").write_bytes(data[:-10])
    third = 24 + 16 + 60 + 16 + 70
    with pytest.raises(PcapFormatError, match=f"record 2 at byte {third} .*claims 80.* 70 remain"):
        PcapReader(tmp_path / "t.pcap")


def test_truncated_record_header_names_the_record(tmp_path):
    write_reference_pcap(tmp_path / "t.pcap", [bytes(60)])
    with open(tmp_path / "t.pcap", "ab") as f:
        f.write(bytes(9))
    with pytest.raises(PcapFormatError, match="record 1 at byte 100 .*9 of 16 header bytes"):
        PcapReader(tmp_path / "t.pcap")


def test_frames_longer_than_the_pool_frame_are_counted_and_skipped(tmp_path):
    pool = PacketPool(8, buf_size=1024)
    frames = [bytes([1]) * 100, bytes([2]) * (pool.max_frame + 1), bytes([3]) * pool.max_frame]
    write_reference_pcap(tmp_path / "big.pcap", frames)
    got, stats = replay(tmp_path / "big.pcap", pool)
    assert got == [frames[0], frames[2]]
    assert stats["rx_dropped"] == 1 and stats["rx_packets"] == 2


def test_zero_length_records_are_counted_as_errors(tmp_path):
    write_reference_pcap(tmp_path / "z.pcap", [bytes(60), b"", bytes(61)])
    got, stats = replay(tmp_path / "z.pcap")
    assert [len(f) for f in got] == [60, 61]
    assert stats["rx_errors"] == 1


def test_captured_fcs_is_removed_when_the_header_gives_its_length(tmp_path):
    fcs_4_bytes = 0x04000000 | (2 << 28) | 1
    frames = [bytes(64), bytes(100)]
    write_reference_pcap(tmp_path / "fcs.pcap", frames, linktype=fcs_4_bytes,
                         original_lengths=[64, 200])
    got, _ = replay(tmp_path / "fcs.pcap")
    # The second record was cut by the snap length, so its FCS was never captured.
    assert [len(f) for f in got] == [60, 100]


def test_loop_replays_the_file_round_and_round(tmp_path):
    frames = scapy_frames(3)
    write_reference_pcap(tmp_path / "loop.pcap", frames)
    got, stats = replay(tmp_path / "loop.pcap", loop=True)
    assert got == [frames[i % 3] for i in range(1000)]
    assert stats["rx_packets"] == 1000


def test_rewind_replays_from_the_start(tmp_path):
    frames = scapy_frames(4)
    write_reference_pcap(tmp_path / "r.pcap", frames)
    pool = PacketPool(8)
    reader, queue = PcapReader(tmp_path / "r.pcap"), QueuePort(16)
    reader.open(pool)
    queue.open(pool)
    assert pump(reader, queue) == 4 and pump(reader, queue) == 0
    reader.rewind()
    assert pump(reader, queue) == 4
    assert queue.pop_all() == frames + frames


def test_loop_with_no_deliverable_frame_is_refused_at_open(tmp_path):
    pool = PacketPool(4, buf_size=1024)
    write_reference_pcap(tmp_path / "big.pcap", [bytes(2000), b""])
    with pytest.raises(ValueError, match="no frame fits"):
        PcapReader(tmp_path / "big.pcap", loop=True).open(pool)


def test_writer_after_close_drops_and_counts(tmp_path):
    pool = PacketPool(8)
    gen, writer = MemoryGenerator([bytes(64)], count=5), PcapWriter(tmp_path / "c.pcap")
    gen.open(pool)
    writer.open(pool)
    pump(gen, writer, max_packets=2)
    writer.close()
    pump(gen, writer)
    assert writer.stats()["tx_packets"] == 2 and writer.stats()["tx_dropped"] == 3
    assert len(rdpcap(str(tmp_path / "c.pcap"))) == 2
    assert pool.available == pool.capacity


def test_write_failure_is_reported_by_flush():
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    pool = PacketPool(8)
    gen, writer = MemoryGenerator([bytes(1500)], count=2000), PcapWriter("/dev/full")
    gen.open(pool)
    writer.open(pool)
    pump(gen, writer)
    with pytest.raises(OSError, match="No space left"):
        writer.flush()
    assert writer.stats()["tx_dropped"] > 0
    assert pool.available == pool.capacity
    with pytest.raises(OSError):
        writer.close()


def test_writer_names_the_file_it_cannot_create(tmp_path):
    with pytest.raises(FileNotFoundError, match="nodir"):
        PcapWriter(tmp_path / "nodir" / "x.pcap")


def test_registry_parses_pcap_specs(tmp_path):
    write_reference_pcap(tmp_path / "in.pcap", [bytes(60)])
    reader = open_port(f"pcap:{tmp_path}/in.pcap")
    assert isinstance(reader, PcapReader) and reader.tx_path is None
    both = open_port(f"pcap:{tmp_path}/in.pcap,{tmp_path}/out.pcap")
    assert both.rx_path.endswith("in.pcap") and both.tx_path.endswith("out.pcap")
    writer = open_port(f"pcap-out:{tmp_path}/only.pcap")
    assert isinstance(writer, PcapWriter) and writer.rx_path is None
    assert writer.name == f"pcap:{tmp_path}/only.pcap"


@pytest.mark.parametrize("spec, message", [
    ("bogus:x", "unknown port kind 'bogus'.*known kinds: .*memory, pcap, pcap-out"),
    ("pcap:", "needs an argument"),
    ("pcap:a,b,c", "pcap takes"),
])
def test_registry_rejects_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        open_port(spec)


def test_registry_is_a_fresh_dict_each_time():
    first = register_builtin_drivers()
    first["extra"] = first["pcap"]
    assert "extra" not in register_builtin_drivers()
