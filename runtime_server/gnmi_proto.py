"""The generated gNMI message modules, imported from one place (as proto.py for P4Runtime).

runtime_server/gen/gnmi is generated, not committed: tools/gen_p4rt_stubs.py creates it from
the descriptors in the pinned finsy wheel.
"""

from __future__ import annotations

try:
    from runtime_server.gen.gnmi import gnmi_ext_pb2, gnmi_pb2, gnmi_pb2_grpc
except ImportError as err:  # pragma: no cover - depends on the machine's setup
    raise ImportError(
        "gNMI stubs are missing: build kvick (`bash tools/install.sh`, or "
        "`python3 setup.py build_ext --inplace`)"
    ) from err

__all__ = ["gnmi_ext_pb2", "gnmi_pb2", "gnmi_pb2_grpc"]
