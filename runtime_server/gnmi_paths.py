"""gNMI paths: conversion between gnmi.Path messages and tuples, wildcard matching.

A concrete path is a tuple of (name, keys) elements, keys a tuple of sorted (key, value) pairs,
so paths can be dict keys. A pattern (a request's path) may use the wildcards of the gNMI path
conventions: an element named `*` (any one element), `...` (any number of elements), a key
value `*`, or a key left out of a list element (every entry). A key value `...` is read as `*`:
ONOS's OpenConfig port discovery asks for /interfaces/interface[name=...]/state.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime_server.gnmi_proto import gnmi_pb2

Elem = tuple[str, tuple[tuple[str, str], ...]]
PathTuple = tuple[Elem, ...]
ANY_KEY = ("*", "...")


class PathError(ValueError):
    """A path the server cannot read (the message is for the client)."""


def elem(name: str, /, **keys: str) -> Elem:
    return name, tuple(sorted(keys.items()))


def from_proto(path: gnmi_pb2.Path) -> PathTuple:
    """The elements of `path`; the deprecated string `element` form is read as well."""
    if path.elem:
        return tuple((e.name, tuple(sorted(e.key.items()))) for e in path.elem)
    return tuple(_parse_legacy(text) for text in path.element)


def _parse_legacy(text: str) -> Elem:
    name, bracket, rest = text.partition("[")
    if not bracket:
        return name, ()
    keys = {}
    for part in ("[" + rest).split("]"):
        if not part:
            continue
        key, eq, value = part.lstrip("[").partition("=")
        if not eq:
            raise PathError(f"malformed path element {text!r}")
        keys[key] = value
    return name, tuple(sorted(keys.items()))


def join(prefix: gnmi_pb2.Path | None, path: gnmi_pb2.Path) -> PathTuple:
    """A request's path under its prefix (the prefix's target and origin are not elements)."""
    head = from_proto(prefix) if prefix is not None else ()
    return head + from_proto(path)


def to_proto(path: Iterable[Elem], out: gnmi_pb2.Path | None = None) -> gnmi_pb2.Path:
    out = gnmi_pb2.Path() if out is None else out
    for name, keys in path:
        e = out.elem.add(name=name)
        for key, value in keys:
            e.key[key] = value
    return out


def to_string(path: Iterable[Elem]) -> str:
    parts = []
    for name, keys in path:
        parts.append(name + "".join(f"[{k}={v}]" for k, v in keys))
    return "/" + "/".join(parts)


def _elem_matches(pattern: Elem, concrete: Elem) -> bool:
    name, keys = pattern
    if name != "*" and name != concrete[0]:
        return False
    have = dict(concrete[1])
    for key, value in keys:
        if value not in ANY_KEY and have.get(key) != value:
            return False
    return True


def match_length(pattern: PathTuple, concrete: PathTuple) -> int | None:
    """How many elements of `concrete` the pattern covers when `concrete` lies at or under
    what the pattern names, else None (`...` covers as many as it needs)."""
    def walk(i: int, j: int) -> int | None:
        if i == len(pattern):
            return j
        if pattern[i][0] == "...":
            for k in range(len(concrete), j - 1, -1):
                found = walk(i + 1, k)
                if found is not None:
                    return found
            return None
        if j < len(concrete) and _elem_matches(pattern[i], concrete[j]):
            return walk(i + 1, j + 1)
        return None

    return walk(0, 0)


def resolve(pattern: PathTuple, concrete: PathTuple) -> PathTuple | None:
    """The concrete node a pattern names on the way to `concrete` (its wildcards filled in),
    or None when `concrete` is not under the pattern."""
    covered = match_length(pattern, concrete)
    return None if covered is None else concrete[:covered]
