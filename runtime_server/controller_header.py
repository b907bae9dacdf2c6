"""PacketIn/PacketOut metadata <-> the @controller_header header on the CPU port's frames.

A v1model program that talks to the controller parses a `packet_out` header in front of
frames coming from the CPU port and emits a `packet_in` header in front of frames it sends
there, as BMv2's simple_switch_grpc expects.  P4Info lists that header's fields (its
ControllerPacketMetadata); the JSON gives the full layout, including padding fields that some
programs leave out of P4Info.  Fields are packed big-endian, most significant bit first.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime_server.bytestrings import decode_unsigned, encode_unsigned
from runtime_server.errors import P4RuntimeError, StatusCode
from runtime_server.p4info_index import MetadataFieldInfo


@dataclass(frozen=True)
class HeaderField:
    name: str
    bitwidth: int
    metadata_id: int  # 0 for a field that P4Info does not expose (padding)


@dataclass(frozen=True)
class ControllerHeader:
    fields: tuple[HeaderField, ...]

    @property
    def length(self) -> int:
        """Header length in bytes."""
        return sum(f.bitwidth for f in self.fields) // 8

    @classmethod
    def layout(cls, metadata: tuple[MetadataFieldInfo, ...], program: dict) -> ControllerHeader:
        """The header's layout: a JSON header type whose field names include the P4Info
        metadata names in order, else the P4Info fields padded at the end to a whole byte."""
        wanted = [m.name for m in metadata]
        by_name = {m.name: m for m in metadata}
        for header_type in program.get("header_types", []):
            json_fields = [(f[0], f[1]) for f in header_type.get("fields", [])]
            names = [name for name, _ in json_fields]
            if wanted and [n for n in names if n in by_name] == wanted and \
                    all(isinstance(width, int) for _, width in json_fields):
                total = sum(width for _, width in json_fields)
                if total % 8 == 0:
                    return cls(tuple(
                        HeaderField(name, width, by_name[name].id if name in by_name else 0)
                        for name, width in json_fields
                    ))
        fields = [HeaderField(m.name, m.bitwidth, m.id) for m in metadata]
        pad = -sum(m.bitwidth for m in metadata) % 8
        if pad:
            fields.append(HeaderField("_pad", pad, 0))
        return cls(tuple(fields))

    def pack(self, metadata: dict[int, bytes]) -> bytes:
        """The header bytes for PacketOut metadata (metadata_id -> value); INVALID_ARGUMENT
        for an unknown field, OUT_OF_RANGE when a value is too wide. A field left out is zero,
        as in BMv2's P4Runtime server (ONOS sends only egress_port, not the padding field its
        programs declare)."""
        exposed = {f.metadata_id for f in self.fields if f.metadata_id}
        unknown = set(metadata) - exposed
        if unknown:
            raise P4RuntimeError(
                StatusCode.INVALID_ARGUMENT, f"unknown packet metadata id(s) {sorted(unknown)}"
            )
        word = 0
        for f in self.fields:
            value = 0
            if f.metadata_id in metadata:
                value = decode_unsigned(metadata[f.metadata_id], f.bitwidth, f"metadata {f.name}")
            word = (word << f.bitwidth) | value
        return word.to_bytes(self.length, "big") if self.length else b""

    def unpack(self, frame: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
        """(metadata_id, canonical value) per exposed field, and the payload after the header."""
        if len(frame) < self.length:
            raise ValueError(f"frame of {len(frame)} bytes is shorter than the header")
        word = int.from_bytes(frame[: self.length], "big")
        shift = self.length * 8
        metadata = []
        for f in self.fields:
            shift -= f.bitwidth
            if f.metadata_id:
                value = (word >> shift) & ((1 << f.bitwidth) - 1)
                metadata.append((f.metadata_id, encode_unsigned(value)))
        return metadata, frame[self.length :]
