"""Errors of the target API; the P4Runtime server maps each kind onto one gRPC code."""

from __future__ import annotations


class TargetError(Exception):
    """Base of every error the target API raises on a bad request."""


class ProgramError(TargetError):
    """A program the engine cannot run; `path` is the JSON path of the offending construct."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class NotFound(TargetError):
    pass


class AlreadyExists(TargetError):
    pass


class InvalidArgument(TargetError):
    pass


class ResourceExhausted(TargetError):
    pass


class FailedPrecondition(TargetError):
    pass
