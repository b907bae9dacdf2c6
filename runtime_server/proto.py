"""The generated P4Runtime message modules, imported from one place.

runtime_server/gen/ is generated, not committed: kvick's build (setup.py, run by
tools/install.sh and `pip install .`) creates it with tools/gen_p4rt_stubs.py.
"""

from __future__ import annotations

from types import ModuleType

try:
    from runtime_server.gen.p4.config.v1 import p4info_pb2, p4types_pb2
    from runtime_server.gen.p4.v1 import p4data_pb2, p4runtime_pb2
except ImportError as err:  # pragma: no cover - depends on the machine's setup
    raise ImportError(
        "P4Runtime stubs are missing: build kvick (`bash tools/install.sh`, or "
        "`python3 setup.py build_ext --inplace`)"
    ) from err

from google.rpc import code_pb2, status_pb2


def __getattr__(name: str) -> ModuleType:
    # The service stubs import grpc: loaded on first use, so that code needing only the
    # messages (the compiler's P4Info, the tests of it) does not need grpc.
    if name == "p4runtime_pb2_grpc":
        from runtime_server.gen.p4.v1 import p4runtime_pb2_grpc

        return p4runtime_pb2_grpc
    raise AttributeError(name)

__all__ = [
    "code_pb2",
    "p4data_pb2",
    "p4info_pb2",
    "p4runtime_pb2",
    "p4types_pb2",
    "status_pb2",
]
