"""kvick: a P4 programmable software switch. `Switch` is the one target API."""

from target.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ProgramError,
    ResourceExhausted,
    TargetError,
)
from target.match import Exact, Lpm, Optional, Range, Ternary

__all__ = ["Switch", "Exact", "Lpm", "Ternary", "Range", "Optional", "TargetError",
           "ProgramError", "NotFound", "AlreadyExists", "InvalidArgument", "ResourceExhausted",
           "FailedPrecondition"]


def __getattr__(name: str):   # Switch imports the compiled modules: load them on first use
    if name == "Switch":
        from target.switch import Switch
        return Switch
    raise AttributeError(name)
