"""The P4Runtime error model: one exception type carrying a canonical gRPC code, and the
google.rpc.Status with one p4.v1.Error per update that a failed Write batch returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import grpc

StatusCode = grpc.StatusCode


class P4RuntimeError(Exception):
    """A request (or one update of a batch) failed with a canonical code."""

    def __init__(self, code: StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


def code_number(code: StatusCode) -> int:
    """The google.rpc.Code number of a grpc.StatusCode."""
    return int(code.value[0])


# Target error kinds (docs/target-api.md) by class name, so that this module does not import
# the engine; subclasses are found through the MRO.
_TARGET_ERROR_CODES = {
    "NotFound": StatusCode.NOT_FOUND,
    "AlreadyExists": StatusCode.ALREADY_EXISTS,
    "InvalidArgument": StatusCode.INVALID_ARGUMENT,
    "ResourceExhausted": StatusCode.RESOURCE_EXHAUSTED,
    "FailedPrecondition": StatusCode.FAILED_PRECONDITION,
    "ProgramError": StatusCode.INVALID_ARGUMENT,
    "TargetError": StatusCode.UNKNOWN,
}


def from_target_error(err: Exception) -> P4RuntimeError:
    """Map a target.TargetError (or ProgramError) onto its P4Runtime code."""
    for cls in type(err).__mro__:
        code = _TARGET_ERROR_CODES.get(cls.__name__)
        if code is not None:
            return P4RuntimeError(code, str(err))
    return P4RuntimeError(StatusCode.INTERNAL, f"{type(err).__name__}: {err}")


def call_target(method, *args, **kwargs):
    """Call a target API method, turning the target's errors into P4RuntimeErrors."""
    try:
        return method(*args, **kwargs)
    except Exception as err:
        if type(err).__module__.startswith("target"):
            raise from_target_error(err) from None
        raise


class BatchFailure(P4RuntimeError):
    """A Write or Read batch in which some items failed: the RPC ends with `status`."""

    def __init__(self, status: RpcStatus, summary: str) -> None:
        super().__init__(status.code, summary)
        self.status = status


@dataclass(frozen=True)
class RpcStatus(grpc.Status):
    """What context.abort_with_status takes: code, message and the binary details trailer."""

    code: StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


# What the per-update statuses may take in the trailer: a default gRPC client refuses
# metadata above 8 KiB (and drops it from about 16 KiB), and binary metadata travels in base64
# (4/3 larger), next to the other trailers.
MAX_STATUS_BYTES = 5120
MAX_ERROR_MESSAGE = 200  # characters of one update's message kept in its p4.v1.Error


def batch_status(
    errors: Sequence[P4RuntimeError | None], message: str = "Write failure."
) -> RpcStatus:
    """UNKNOWN with a google.rpc.Status holding one p4.v1.Error per update, in order.

    `errors[i]` is None for an update that succeeded (its p4.v1.Error has code OK and
    nothing else, as the spec asks). When the list would not fit what a default client
    accepts, it stops after the updates that fit (every failure among them in full) and the
    message says so and counts the failures by code (the spec lets a server summarise).
    """
    from runtime_server.proto import p4runtime_pb2, status_pb2

    status = status_pb2.Status(code=code_number(StatusCode.UNKNOWN))
    summary = f"{message} {_summary(errors)}; details of the first {len(errors)} updates only"
    budget = MAX_STATUS_BYTES - len(summary.encode())  # the message goes in the status too
    size = 0
    kept = 0
    for error in errors:
        detail = p4runtime_pb2.Error()
        if error is not None:
            detail.canonical_code = code_number(error.code)
            detail.message = error.message[:MAX_ERROR_MESSAGE]
        packed = status.details.add()
        packed.Pack(detail)
        size += packed.ByteSize() + 3  # the field's tag and length
        if size > budget:
            del status.details[-1]
            break
        kept += 1
    if kept < len(errors):
        message = f"{message} {_summary(errors)}; details of the first {kept} updates only"
    status.message = message
    return RpcStatus(
        code=StatusCode.UNKNOWN,
        details=message,
        trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),),
    )


def _summary(errors: Sequence[P4RuntimeError | None]) -> str:
    counts: dict[str, int] = {}
    first: tuple[int, P4RuntimeError] | None = None
    for index, error in enumerate(errors):
        if error is not None:
            counts[error.code.name] = counts.get(error.code.name, 0) + 1
            if first is None:
                first = (index, error)
    by_code = ", ".join(f"{name} x{count}" for name, count in sorted(counts.items()))
    failed = sum(counts.values())
    text = f"{failed} of {len(errors)} updates failed ({by_code})"
    if first is not None:
        text += f"; the first at index {first[0]}: {first[1].message[:MAX_ERROR_MESSAGE]}"
    return text
