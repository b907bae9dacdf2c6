"""Table entries as the control plane sees them: validation, encoding, identity and storage.

A table's entries are kept compactly, indexed by entry id (the handle the API returns and the
id the match structure maps keys to): the encoded key in one bytearray (value bytes, then mask
bytes; for range fields the low and high bounds take those places), priorities in an int64
array, and a used-flag per id. The action and its parameters live only in the engine's C
arrays. A 512k-route IPv4 table costs 13 bytes per route here.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from target.errors import AlreadyExists, InvalidArgument, ResourceExhausted
from target.match import Exact, Lpm, MatchField, Optional, Range, Ternary
from target.pipeline import build
from target.program_info import TableInfo


@dataclass
class Encoded:
    """A validated match: what the match structure and the store need."""

    value: bytes          # key bytes, each field masked
    mask: bytes           # per-field mask (0 for range fields)
    ranges: list[tuple[int, bytes, bytes]]
    prefix_len: int | None
    stored: bytes         # value|mask with range bounds in place: the stored form
    priority: int | None


@dataclass
class TableEntries:
    info: TableInfo
    index: int            # table index in the engine
    kind: int             # build.TBL_*
    matcher: Any
    key_bytes: int = 0
    layout: list[tuple[int, int]] = field(default_factory=list)   # (byte offset, bytes) per key
    keys: bytearray = field(default_factory=bytearray)
    prio: array = field(default_factory=lambda: array("q"))
    used: bytearray = field(default_factory=bytearray)
    ident: dict[bytes, int] = field(default_factory=dict)   # LPM/ternary: stored+priority -> id
    free: list[int] = field(default_factory=list)
    # Ids given up inside the engine write section now open: reusable only after it is
    # published (release_held). Until then the workers on the live copy may still hit the old
    # entry and count into its direct counter, which a new entry with that id would inherit.
    held: list[int] = field(default_factory=list)
    held_all: bool = False        # clear() inside the section: every id below next_id
    next_id: int = 0
    count: int = 0
    default: tuple[str, list[int]] | None = None
    action_ids: dict[Any, int] = field(default_factory=dict)   # action name or id -> engine id

    def __post_init__(self) -> None:
        keys = self.info.keys
        self._lpm_only = (len(keys) == 1 and keys[0].match_type == "lpm" and keys[0].mask is None
                          and not self.info.needs_priority)
        self._lpm_width = keys[0].bitwidth if keys else 0
        off = 0
        for k in self.info.keys:
            nb = (k.bitwidth + 7) // 8
            self.layout.append((off, nb))
            off += nb
        self.key_bytes = off

    # ------------------------------------------------------------------ validation
    def encode(self, match: list[Any], priority: int | None) -> Encoded:
        if self._lpm_only and priority is None and len(match) == 1 and type(match[0]) is Lpm:
            return self._encode_lpm(match[0])
        return self._encode_any(match, priority)

    def _encode_lpm(self, m: Lpm) -> Encoded:
        """The common case of routing tables: one LPM field, checked with less ceremony."""
        w, nb = self._lpm_width, self.key_bytes
        v, plen = m.value, m.prefix_len
        if type(v) is not int or type(plen) is not int or v < 0 or v >> w or not 0 <= plen <= w:
            return self._encode_any([m], None)        # let the general path say what is wrong
        msk = ((1 << w) - 1) ^ ((1 << (w - plen)) - 1)
        if v & ~msk:
            raise InvalidArgument(f"key {self.info.keys[0].name}: host bits set below /{plen}")
        vb = v.to_bytes(nb, "big")
        mb = msk.to_bytes(nb, "big")
        return Encoded(vb, mb, [], plen, vb + mb, None)

    def _encode_any(self, match: list[Any], priority: int | None) -> Encoded:
        keys = self.info.keys
        if len(match) != len(keys):
            raise InvalidArgument(f"table {self.info.name} has {len(keys)} key fields, "
                                  f"got {len(match)}")
        if self.info.needs_priority:
            if priority is None:
                raise InvalidArgument(f"table {self.info.name} needs a priority")
            if not isinstance(priority, int) or not 0 <= priority < 1 << 62:
                raise InvalidArgument(f"table {self.info.name}: bad priority {priority!r}")
        elif priority is not None:
            raise InvalidArgument(f"table {self.info.name} takes no priority")
        value = bytearray()
        mask = bytearray()
        stored_v = bytearray()
        stored_m = bytearray()
        ranges: list[tuple[int, bytes, bytes]] = []
        plen = None
        for i, (k, m) in enumerate(zip(keys, match, strict=True)):
            w = k.bitwidth
            nb = (w + 7) // 8
            full = (1 << w) - 1
            kmask = k.mask if k.mask is not None else full
            mt = k.match_type
            lo = hi = None
            if mt in ("exact", "valid"):
                if not isinstance(m, Exact):
                    raise InvalidArgument(f"key {k.name} is {mt}: expected Exact, got {m!r}")
                _fits(k.name, m.value, w)
                v, msk = m.value, full
            elif mt == "lpm":
                if m is None:
                    m = Lpm(0, 0)
                if not isinstance(m, Lpm):
                    raise InvalidArgument(f"key {k.name} is lpm: expected Lpm, got {m!r}")
                _fits(k.name, m.value, w)
                if not isinstance(m.prefix_len, int) or not 0 <= m.prefix_len <= w:
                    raise InvalidArgument(f"key {k.name}: prefix length {m.prefix_len} not in 0..{w}")
                msk = full ^ ((1 << (w - m.prefix_len)) - 1)
                if m.value & ~msk:
                    raise InvalidArgument(f"key {k.name}: host bits set below /{m.prefix_len}")
                v = m.value
                plen = m.prefix_len
            elif mt == "ternary":
                if m is None:
                    m = Ternary(0, 0)
                if not isinstance(m, Ternary):
                    raise InvalidArgument(f"key {k.name} is ternary: expected Ternary, got {m!r}")
                _fits(k.name, m.value, w)
                _fits(k.name, m.mask, w)
                if m.value & ~m.mask:
                    raise InvalidArgument(f"key {k.name}: value has bits outside the mask")
                v, msk = m.value, m.mask
            elif mt == "range":
                if m is None:
                    m = Range(0, full)
                if not isinstance(m, Range):
                    raise InvalidArgument(f"key {k.name} is range: expected Range, got {m!r}")
                _fits(k.name, m.low, w)
                _fits(k.name, m.high, w)
                if m.low > m.high:
                    raise InvalidArgument(f"key {k.name}: range low {m.low} > high {m.high}")
                v, msk = 0, 0
                lo, hi = m.low, m.high
                ranges.append((i, lo.to_bytes(nb, "big"), hi.to_bytes(nb, "big")))
            elif mt == "optional":
                if m is None:
                    m = Optional(None)
                if not isinstance(m, Optional):
                    raise InvalidArgument(f"key {k.name} is optional: expected Optional, got {m!r}")
                if m.value is None:
                    v, msk = 0, 0
                else:
                    _fits(k.name, m.value, w)
                    v, msk = m.value, full
            else:
                raise InvalidArgument(f"key {k.name}: unknown match type {mt}")
            msk &= kmask
            v &= msk
            vb = v.to_bytes(nb, "big")
            mb = msk.to_bytes(nb, "big")
            value += vb
            mask += mb
            if lo is not None:
                stored_v += lo.to_bytes(nb, "big")
                stored_m += hi.to_bytes(nb, "big")
            else:
                stored_v += vb
                stored_m += mb
        return Encoded(bytes(value), bytes(mask), ranges, plen, bytes(stored_v + stored_m),
                       priority)

    # ------------------------------------------------------------------ identity
    def _ident_key(self, enc: Encoded) -> bytes:
        return enc.stored + (enc.priority or 0).to_bytes(8, "big", signed=True)

    def find(self, enc: Encoded) -> int | None:
        if self.kind == build.TBL_KEYLESS:
            return 0 if self.exists(0) else None
        if self.kind == build.TBL_EXACT:
            return self.matcher.get(enc.value)
        if self.kind == build.TBL_LPM24:
            return self.matcher.get(int.from_bytes(enc.value, "big"), enc.prefix_len)
        return self.ident.get(self._ident_key(enc))

    # ------------------------------------------------------------------ changes
    def id_limit(self) -> int:
        """Entry ids are below this. A keyless table's one key is the empty one: as in BMv2,
        it holds one entry at most, always id 0 (the engine looks up "entry 0, if any")."""
        return 1 if self.kind == build.TBL_KEYLESS else self.info.size

    def reserve_id(self, enc: Any = None) -> int:
        """A free entry id for an insert of `enc`; a full table refuses an insert of a match
        it already holds as that (AlreadyExists), as the bulk path does."""
        if self.free:
            return self.free.pop()
        if self.next_id >= self.id_limit():
            if enc is not None and self.find(enc) is not None:
                raise AlreadyExists(f"table {self.info.name}: an entry with this match exists")
            if self.held:
                # Full but for ids given up in this very section: a write that deletes and
                # inserts in a full table still fits (the one case a new entry may count a
                # few of the old one's last hits).
                return self.held.pop()
            raise ResourceExhausted(f"table {self.info.name} is full ({self.id_limit()} entries)")
        self.next_id += 1
        return self.next_id - 1

    def release_id(self, eid: int) -> None:
        """Give an id up; it is taken again only after the write section (release_held)."""
        self.held.append(eid)

    def release_held(self) -> None:
        """The write section is published: the ids it gave up can be reused (the next section
        opens only once no worker reads the copy that still had their entries)."""
        if self.held_all:
            self.held_all = False
            self.held = []
            used = self.used
            top = min(self.next_id, len(used))
            while top and not used[top - 1]:
                top -= 1
            self.next_id = top
            self.free = [i for i in range(top) if not used[i]] if self.count else []
            return
        for eid in sorted(self.held, reverse=True):
            if eid == self.next_id - 1:
                self.next_id -= 1
            else:
                self.free.append(eid)
        self.held = []

    def matcher_add(self, enc: Encoded, eid: int) -> None:
        """Insert into the match structure (caller is inside Switch._engine_write)."""
        kind = self.kind
        if kind == build.TBL_KEYLESS and self.info.default_is_const:
            # p4c's action-call tables (and any keyless table whose program fixes its default):
            # the engine never looks them up
            raise InvalidArgument(f"table {self.info.name} has no key and a const default "
                                  "action: it takes no entries")
        if self.find(enc) is not None:
            raise AlreadyExists(f"table {self.info.name}: an entry with this match exists")
        try:
            if kind == build.TBL_KEYLESS:
                pass                      # no match structure: the entry is the table's hit
            elif kind == build.TBL_LPM24:
                self.matcher.add(int.from_bytes(enc.value, "big"), enc.prefix_len, eid)
            elif kind == build.TBL_EXACT:
                self.matcher.add(enc.value, eid)
            elif kind == build.TBL_LPM:
                self.matcher.add(enc.value, enc.prefix_len, eid)
            else:
                self.matcher.add(enc.value, enc.mask, enc.ranges,
                                 enc.priority if enc.priority is not None else 0, eid)
        except KeyError:
            raise AlreadyExists(f"table {self.info.name}: an entry with this match exists") from None
        except ValueError as e:
            raise InvalidArgument(f"table {self.info.name}: {e}") from None
        self._store(enc, eid)

    def matcher_delete(self, eid: int) -> None:
        enc = self.encoded(eid)
        kind = self.kind
        if kind == build.TBL_LPM24:
            self.matcher.delete(int.from_bytes(enc.value, "big"), enc.prefix_len)
        elif kind == build.TBL_TERNARY:
            self.matcher.delete(eid)
        elif kind == build.TBL_EXACT:
            self.matcher.delete(enc.value)
        elif kind == build.TBL_LPM:
            self.matcher.delete(enc.value, enc.prefix_len)
        if kind in (build.TBL_LPM, build.TBL_TERNARY):
            self.ident.pop(self._ident_key(enc), None)
        self.used[eid] = 0
        self.count -= 1

    def clear(self) -> None:
        """Forget every entry (the match structure is cleared by the caller)."""
        self.keys = bytearray()
        self.prio = array("q")
        self.used = bytearray()
        self.ident = {}
        self.count = 0
        # The ids stay taken until the section is published (release_held): ids freed in
        # earlier sections (free) and fresh ones are what inserts after this may take.
        self.held_all = True

    def grow(self, max_id: int) -> None:
        """Room in the row arrays for ids up to `max_id` (doubling); priorities only for
        tables that have them."""
        stride = 2 * self.key_bytes
        need = (max_id + 1) * stride
        if len(self.keys) < need:
            grow = max(need, 2 * len(self.keys))
            self.keys.extend(bytes(grow - len(self.keys)))
            rows = grow // max(1, stride) + 1
            self.used.extend(bytes(rows - len(self.used)))
            if self.info.needs_priority:
                self.prio.extend([0] * (rows - len(self.prio)))
        if len(self.used) <= max_id:      # a keyless table stores no key bytes
            self.used.extend(bytes(max_id + 1 - len(self.used)))

    def _store(self, enc: Encoded, eid: int) -> None:
        stride = 2 * self.key_bytes
        self.grow(eid)
        self.keys[eid * stride:(eid + 1) * stride] = enc.stored
        if self.info.needs_priority:
            self.prio[eid] = enc.priority or 0
        self.used[eid] = 1
        self.count += 1
        if self.kind in (build.TBL_LPM, build.TBL_TERNARY):
            self.ident[self._ident_key(enc)] = eid

    # ------------------------------------------------------------------ reading back
    def ids(self) -> list[int]:
        return [i for i in range(min(self.next_id, len(self.used))) if self.used[i]]

    def exists(self, eid: int) -> bool:
        return 0 <= eid < len(self.used) and self.used[eid] == 1

    def encoded(self, eid: int) -> Encoded:
        """Re-create the encoded form of a stored entry."""
        return self.encode(self.match(eid), self.priority(eid))

    def priority(self, eid: int) -> int | None:
        return self.prio[eid] if self.info.needs_priority else None

    def match(self, eid: int) -> list[MatchField]:
        stride = 2 * self.key_bytes
        raw = self.keys[eid * stride:(eid + 1) * stride]
        out: list[MatchField] = []
        for k, (off, nb) in zip(self.info.keys, self.layout, strict=True):
            v = int.from_bytes(raw[off:off + nb], "big")
            m = int.from_bytes(raw[self.key_bytes + off:self.key_bytes + off + nb], "big")
            mt = k.match_type
            if mt in ("exact", "valid"):
                out.append(Exact(v))
            elif mt == "lpm":
                out.append(Lpm(v, bin(m).count("1")))
            elif mt == "ternary":
                out.append(Ternary(v, m))
            elif mt == "range":
                out.append(Range(v, m))
            else:
                out.append(Optional(None if m == 0 else v))
        return out

    def memory_bytes(self) -> int:
        return len(self.keys) + len(self.used) + self.prio.itemsize * len(self.prio)


def _fits(name: str, value: Any, width: int) -> None:
    if not isinstance(value, int) or value < 0 or value >> width:
        raise InvalidArgument(f"key {name}: {value!r} does not fit {width} bits")


# ---- bulk control-plane path
# Stored rows (value bytes then mask bytes per field, range bounds in their places) are what
# the P4Runtime server's wire decoder produces and its wire encoder reads back; these helpers
# turn them into what the match structures take, without match objects in between.

def encoded_from_stored(st: TableEntries, stored: bytes, priority: int | None) -> Encoded:
    """The Encoded form of a stored row (the inverse of TableEntries._store's layout)."""
    kb = st.key_bytes
    value = bytearray(stored[:kb])
    mask = bytearray(stored[kb:])
    ranges: list[tuple[int, bytes, bytes]] = []
    plen = None
    for i, (k, (off, nb)) in enumerate(zip(st.info.keys, st.layout, strict=True)):
        if k.match_type == "range":
            ranges.append((i, bytes(value[off:off + nb]), bytes(mask[off:off + nb])))
            value[off:off + nb] = bytes(nb)
            mask[off:off + nb] = bytes(nb)
        elif k.match_type == "lpm":
            plen = int.from_bytes(mask[off:off + nb], "big").bit_count()
    return Encoded(bytes(value), bytes(mask), ranges, plen, bytes(stored),
                   priority if st.info.needs_priority else None)


def unpack_params(packed: Any, stride: int, j: int) -> list[int]:
    """Update j's values of a packed parameter column (`stride` 16-byte little-endian
    values per update, the form Pipeline.entries_set_packed takes)."""
    view = memoryview(packed)[16 * stride * j:16 * stride * (j + 1)]
    return [int.from_bytes(view[16 * k:16 * (k + 1)], "little") for k in range(stride)]


def stored_rows(st: TableEntries, ids: list[int]) -> bytes:
    """The stored rows of `ids`, concatenated in that order."""
    stride = 2 * st.key_bytes
    keys = memoryview(st.keys)
    if ids and ids[-1] - ids[0] == len(ids) - 1:      # a dense run: one copy
        return bytes(keys[ids[0] * stride:(ids[-1] + 1) * stride])
    return b"".join([keys[i * stride:(i + 1) * stride] for i in ids])


def reserve_ids(st: TableEntries, count: int) -> list[int]:
    """`count` free ids (recycled ones first), or ResourceExhausted and none reserved."""
    recycled = min(count, len(st.free))
    fresh = min(count - recycled, max(0, st.id_limit() - st.next_id))
    held = count - recycled - fresh         # ids given up in this section (reserve_id)
    if held > len(st.held):
        raise ResourceExhausted(f"table {st.info.name} is full ({st.id_limit()} entries)")
    ids = [st.free.pop() for _ in range(recycled)]
    ids.extend(range(st.next_id, st.next_id + fresh))
    ids.extend(st.held.pop() for _ in range(held))
    st.next_id += fresh
    return ids


def grow_store(st: TableEntries, max_id: int) -> None:
    """Room in the row arrays for ids up to `max_id`."""
    st.grow(max_id)


def reclaim_id(st: TableEntries, eid: int) -> None:
    """Take `eid` back from the free ids (undoing a delete restores the same handle)."""
    if eid in st.held:
        st.held.remove(eid)
    elif eid >= st.next_id:
        st.free.extend(range(st.next_id, eid))
        st.next_id = eid + 1
    else:
        st.free.remove(eid)
