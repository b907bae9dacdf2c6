"""CounterEntry, MeterEntry, RegisterEntry and ValueSetEntry onto the target's extern API.

These arrays always exist, so only MODIFY is a valid update (INSERT/DELETE are
INVALID_ARGUMENT); an unset index means every index.  Meter configurations and value-set
members are kept as written, for read-write symmetry.
"""

from __future__ import annotations

from collections.abc import Iterator

from runtime_server.bytestrings import decode_unsigned, encode_unsigned
from runtime_server.entry_codec import decode_key, encode_key
from runtime_server.errors import P4RuntimeError, StatusCode, call_target
from runtime_server.p4info_index import Kind, MatchFieldInfo, MatchType, P4InfoIndex
from runtime_server.proto import p4runtime_pb2

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


def _indices(entity_index, has_index: bool, size: int, what: str) -> range:
    """The indices an entry addresses: one, or all when the index is unset."""
    if not has_index:
        return range(size)
    index = entity_index.index
    if index < 0:
        raise _invalid(f"A negative number is not a valid index value: {what}: {index}")
    if index >= size:
        raise P4RuntimeError(StatusCode.OUT_OF_RANGE, f"{what}: index {index} >= size {size}")
    return range(index, index + 1)


def _selected(index: P4InfoIndex, kind: Kind, entity_id: int) -> list:
    if entity_id == 0:
        return index.entities(kind)
    try:
        return [index.get(kind, entity_id)]
    except KeyError:
        raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown {kind.name.lower()} id "
                                                   f"{entity_id}") from None


class Externs:
    def __init__(self, switch, index: P4InfoIndex) -> None:
        self.switch = switch
        self.index = index
        self.meter_configs: dict[tuple[int, int], bytes] = {}
        self.value_sets: dict[int, list[bytes]] = {}

    # ---- counters -----------------------------------------------------------------------

    def write_counter(self, update_type: int, entry: p4runtime_pb2.CounterEntry) -> None:
        if update_type != MODIFY:
            verb = "INSERT" if update_type == INSERT else "DELETE" if update_type == DELETE \
                else str(update_type)
            raise _invalid(f"{verb} update type not supported for counters: CounterEntry can "
                           "only be modified")
        counter = _selected(self.index, Kind.COUNTER, entry.counter_id)[0] \
            if entry.counter_id else None
        if counter is None:
            raise _invalid("CounterEntry write needs a counter id")
        name = counter.preamble.name
        indices = _indices(entry.index, entry.HasField("index"), counter.size, name)
        if not entry.HasField("data"):
            return
        for i in indices:
            call_target(self.switch.counter_write, name, i, entry.data.packet_count,
                        entry.data.byte_count)

    def read_counter(self, request: p4runtime_pb2.CounterEntry) -> Iterator[bytes]:
        for counter in _selected(self.index, Kind.COUNTER, request.counter_id):
            name = counter.preamble.name
            indices = _indices(request.index, request.HasField("index"), counter.size, name)
            for i in indices:
                packets, octets = call_target(self.switch.counter_read, name, i)
                out = p4runtime_pb2.CounterEntry(counter_id=counter.preamble.id)
                out.index.index = i
                out.data.packet_count = packets
                out.data.byte_count = octets
                yield out.SerializeToString()

    # ---- meters ---------------------------------------------------------------------------

    def write_meter(self, update_type: int, entry: p4runtime_pb2.MeterEntry) -> None:
        if update_type != MODIFY:
            verb = "INSERT" if update_type == INSERT else "DELETE" if update_type == DELETE \
                else str(update_type)
            raise _invalid(f"{verb} update type not supported for meters: MeterEntry can only "
                           "be modified")
        if entry.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        if not entry.meter_id:
            raise _invalid("MeterEntry write needs a meter id")
        meter = _selected(self.index, Kind.METER, entry.meter_id)[0]
        name = meter.preamble.name
        indices = _indices(entry.index, entry.HasField("index"), meter.size, name)
        config = entry.config if entry.HasField("config") else None
        for i in indices:
            if config is None:
                call_target(self.switch.meter_reset, name, i)
                self.meter_configs.pop((meter.preamble.id, i), None)
            else:
                call_target(self.switch.meter_set, name, i, config.cir, config.cburst,
                            config.pir, config.pburst)
                self.meter_configs[(meter.preamble.id, i)] = config.SerializeToString()

    def read_meter(self, request: p4runtime_pb2.MeterEntry) -> Iterator[bytes]:
        if request.HasField("counter_data"):
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "per-color meter counters")
        for meter in _selected(self.index, Kind.METER, request.meter_id):
            name = meter.preamble.name
            for i in _indices(request.index, request.HasField("index"), meter.size, name):
                out = p4runtime_pb2.MeterEntry(meter_id=meter.preamble.id)
                out.index.index = i
                config = self.meter_configs.get((meter.preamble.id, i))
                if config is not None:
                    out.config.ParseFromString(config)
                yield out.SerializeToString()

    # ---- registers ------------------------------------------------------------------------

    def write_register(self, update_type: int, entry: p4runtime_pb2.RegisterEntry) -> None:
        if update_type != MODIFY:
            raise _invalid("RegisterEntry can only be modified")
        if not entry.register_id:
            raise _invalid("RegisterEntry write needs a register id")
        register = _selected(self.index, Kind.REGISTER, entry.register_id)[0]
        name = register.preamble.name
        indices = _indices(entry.index, entry.HasField("index"), register.size, name)
        width = register.type_spec.bitstring.bit.bitwidth
        if not width:
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED,
                                 f"register {name!r}: only bit<W> registers are supported")
        if entry.data.WhichOneof("data") != "bitstring":
            raise _invalid(f"register {name!r}: data must be a bitstring")
        value = decode_unsigned(entry.data.bitstring, width, f"register {name!r}")
        for i in indices:
            call_target(self.switch.register_write, name, i, value)

    def read_register(self, request: p4runtime_pb2.RegisterEntry) -> Iterator[bytes]:
        for register in _selected(self.index, Kind.REGISTER, request.register_id):
            name = register.preamble.name
            for i in _indices(request.index, request.HasField("index"), register.size, name):
                out = p4runtime_pb2.RegisterEntry(register_id=register.preamble.id)
                out.index.index = i
                out.data.bitstring = encode_unsigned(call_target(self.switch.register_read,
                                                                 name, i))
                yield out.SerializeToString()

    # ---- parser value sets ----------------------------------------------------------------

    def write_value_set(self, update_type: int, entry: p4runtime_pb2.ValueSetEntry) -> None:
        if update_type != MODIFY:
            raise _invalid("ValueSetEntry can only be modified")
        value_set = _selected(self.index, Kind.VALUE_SET, entry.value_set_id)[0] \
            if entry.value_set_id else None
        if value_set is None:
            raise _invalid("ValueSetEntry write needs a value set id")
        name = value_set.preamble.name
        fields = tuple(MatchFieldInfo(m.id, m.name, m.bitwidth, m.match_type)
                       for m in value_set.match)
        by_id = {f.id: f for f in fields}
        if len(entry.members) > value_set.size:
            raise P4RuntimeError(StatusCode.RESOURCE_EXHAUSTED,
                                 f"value set {name!r} holds at most {value_set.size} members")
        keys = []
        for member in entry.members:
            keys.append(decode_key(fields, by_id, member.match, name))
        if len(set(keys)) != len(keys):
            raise P4RuntimeError(StatusCode.ALREADY_EXISTS, f"value set {name!r}: duplicate member")
        call_target(self.switch.value_set_set, name, [_concatenate(fields, k) for k in keys])
        canonical = []
        for key in keys:
            member = p4runtime_pb2.ValueSetMember()
            member.match.extend(encode_key(fields, key))
            canonical.append(member.SerializeToString())
        self.value_sets[value_set.preamble.id] = canonical

    def read_value_set(self, request: p4runtime_pb2.ValueSetEntry) -> Iterator[bytes]:
        for value_set in _selected(self.index, Kind.VALUE_SET, request.value_set_id):
            out = p4runtime_pb2.ValueSetEntry(value_set_id=value_set.preamble.id)
            for member in self.value_sets.get(value_set.preamble.id, []):
                out.members.add().ParseFromString(member)
            yield out.SerializeToString()


def _concatenate(fields: tuple[MatchFieldInfo, ...], key) -> tuple[int, int]:
    """One (value, mask) over the value set's fields laid end to end, first field highest."""
    value = mask = 0
    for field, item in zip(fields, key, strict=True):
        full = (1 << field.bitwidth) - 1
        if item is None:
            field_value, field_mask = 0, 0
        elif field.match_type == MatchType.TERNARY:
            field_value, field_mask = item
        elif field.match_type == MatchType.LPM:
            field_value = item[0]
            field_mask = full ^ ((1 << (field.bitwidth - item[1])) - 1)
        elif field.match_type == MatchType.RANGE:
            raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "range members in a value set")
        else:
            field_value, field_mask = item[0], full
        value = (value << field.bitwidth) | field_value
        mask = (mask << field.bitwidth) | field_mask
    return value, mask
