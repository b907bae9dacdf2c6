"""The build is complete: every Cython module is compiled and imports, and the generated
P4Runtime messages are there. A missing extension fails here (never a skip), whatever else
the suite does with it."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MODULES = sorted(
    ".".join(pyx.relative_to(REPO).with_suffix("").parts)
    for top in ("target", "runtime_server") for pyx in (REPO / top).rglob("*.pyx")
)


def test_there_are_cython_modules() -> None:
    assert "target.loop" in MODULES and "target.pipeline.engine" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_cython_module_is_compiled(name: str) -> None:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None and not spec.origin.endswith(".pyx"), (
        f"{name} is not compiled: run `bash tools/install.sh` "
        "(or `python3 setup.py build_ext --inplace`)")
    importlib.import_module(name)


def test_p4runtime_messages_are_generated() -> None:
    from runtime_server.proto import p4info_pb2, p4runtime_pb2, p4runtime_pb2_grpc

    assert p4runtime_pb2.WriteRequest.DESCRIPTOR.full_name == "p4.v1.WriteRequest"
    assert p4info_pb2.P4Info.DESCRIPTOR.full_name == "p4.config.v1.P4Info"
    assert hasattr(p4runtime_pb2_grpc, "P4RuntimeStub")
