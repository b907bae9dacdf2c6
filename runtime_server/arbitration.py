"""Primary/backup arbitration between controllers (spec: "Client Arbitration and Controller
Replication").  Pure bookkeeping: the StreamChannel handler feeds it arbitration updates and
disconnects, and sends the notices it returns.

Election ids are Python ints (high << 64 | low); None is an unset election id. The spec
makes it lower than every id, so such a controller never becomes primary ("lowest"); PI, the
P4Runtime server of BMv2's simple_switch_grpc, reads it as 0 ("zero"), which PI's own PTF
tests rely on: they arbitrate and write without one.

Where the spec leaves room this follows PI too: when the primary's stream ends, the live
controller with the highest election id becomes primary at once (the spec's stricter reading,
no primary until someone claims at least the departed primary's id, leaves a switch whose
controller died unmanageable by backups that do not know that id).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from runtime_server.errors import P4RuntimeError, StatusCode


@dataclass(eq=False)
class Controller:
    """One live StreamChannel that has sent a successful arbitration update; `client` names
    the host (or certificate) it came from (streams.client_of)."""

    device_id: int
    role: str
    election_id: int | None
    client: str = ""


@dataclass(frozen=True)
class Notice:
    """A MasterArbitrationUpdate to send to `controller`.

    `code` is OK for the primary, ALREADY_EXISTS for a backup while there is a primary,
    NOT_FOUND for a backup while there is none.  `election_id` is the highest id seen for the
    role, None if there has never been a primary.
    """

    controller: Controller
    code: StatusCode
    election_id: int | None
    role_config: bytes | None


@dataclass
class _RoleState:
    controllers: list[Controller] = field(default_factory=list)
    primary: Controller | None = None
    highest_election_id: int | None = None
    role_config: bytes | None = None


class Arbitrator:
    """Arbitration state for the devices one server serves."""

    def __init__(self, device_ids: set[int], unset_election_id: str = "lowest") -> None:
        if unset_election_id not in ("lowest", "zero"):
            raise ValueError(f"unset_election_id {unset_election_id!r}: 'lowest' or 'zero'")
        self._unset_is_zero = unset_election_id == "zero"
        self._device_ids = set(device_ids)
        self._roles: dict[tuple[int, str], _RoleState] = {}
        self._lock = threading.Lock()

    def update(
        self,
        controller: Controller | None,
        device_id: int,
        role: str,
        election_id: int | None,
        role_config: bytes | None = None,
        client: str = "",
    ) -> tuple[Controller, list[Notice]]:
        """Apply a MasterArbitrationUpdate from a stream; `controller` is None for its first.

        Returns the stream's Controller and the notices to send.  Raises the error that must
        terminate the stream.
        """
        if election_id is None and self._unset_is_zero:
            election_id = 0
        with self._lock:
            if controller is None:
                if device_id not in self._device_ids:
                    raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown device id {device_id}")
                state = self._roles.setdefault((device_id, role), _RoleState())
                self._check_unique(state, election_id, None)
                controller = Controller(device_id, role, election_id, client)
                state.controllers.append(controller)
                was_primary = False
            else:
                if device_id != controller.device_id:
                    raise P4RuntimeError(
                        StatusCode.FAILED_PRECONDITION,
                        f"device id {device_id} differs from this stream's {controller.device_id}",
                    )
                if role != controller.role:
                    raise P4RuntimeError(
                        StatusCode.FAILED_PRECONDITION,
                        f"role {role!r} differs from this stream's {controller.role!r}; "
                        "open a new stream to change roles",
                    )
                state = self._roles[(device_id, role)]
                self._check_unique(state, election_id, controller)
                controller.election_id = election_id
                was_primary = state.primary is controller
            return controller, self._elect(state, controller, was_primary, role_config)

    def disconnect(self, controller: Controller) -> list[Notice]:
        """Forget a stream that closed; if it was the primary, the live controller with the
        highest election id takes over (none if no one has an id), and everyone is told."""
        with self._lock:
            state = self._roles.get((controller.device_id, controller.role))
            if state is None or controller not in state.controllers:
                return []
            state.controllers.remove(controller)
            if state.primary is not controller:
                return []
            candidates = [c for c in state.controllers if c.election_id is not None]
            successor = max(candidates, key=lambda c: c.election_id, default=None)
            state.primary = successor
            state.highest_election_id = None if successor is None else successor.election_id
            others = [self._notice(state, c) for c in state.controllers if c is not successor]
            if successor is None:
                return others
            return [*others, self._notice(state, successor)]

    def is_primary(self, device_id: int, role: str, election_id: int | None) -> bool:
        """True when (device_id, role, election_id) names the current primary.

        With unset ids read as zero, a request without an id is also accepted while no
        controller at all has a stream for (device_id, role), as PI does (grpc_cli, tests)."""
        with self._lock:
            state = self._roles.get((device_id, role))
            if election_id is None and self._unset_is_zero:
                if state is None or not state.controllers:
                    return True
                election_id = 0
            return (
                state is not None
                and state.primary is not None
                and election_id is not None
                and state.primary.election_id == election_id
            )

    def primary(self, device_id: int, role: str = "") -> Controller | None:
        with self._lock:
            state = self._roles.get((device_id, role))
            return None if state is None else state.primary

    def role_config(self, device_id: int, role: str) -> bytes | None:
        """The role config the role's primary sent most recently (None: none)."""
        with self._lock:
            state = self._roles.get((device_id, role))
            return None if state is None else state.role_config

    def primaries(self, device_id: int) -> list[Controller]:
        """The primary of every role of the device that has one."""
        with self._lock:
            return [state.primary for (dev, _), state in self._roles.items()
                    if dev == device_id and state.primary is not None]

    def controllers(self, device_id: int) -> list[Controller]:
        with self._lock:
            return [
                c for (dev, _), state in self._roles.items() if dev == device_id
                for c in state.controllers
            ]

    def known_role(self, device_id: int, role: str) -> bool:
        """The default role always exists; a named one once a controller claimed it."""
        with self._lock:
            return role == "" or (device_id, role) in self._roles

    @staticmethod
    def _check_unique(state: _RoleState, election_id: int | None, me: Controller | None) -> None:
        if election_id is None:
            return
        for other in state.controllers:
            if other is not me and other.election_id == election_id:
                raise P4RuntimeError(
                    StatusCode.INVALID_ARGUMENT,
                    f"election id {election_id} is already used by another controller",
                )

    def _elect(
        self,
        state: _RoleState,
        controller: Controller,
        was_primary: bool,
        role_config: bytes | None,
    ) -> list[Notice]:
        election_id = controller.election_id
        highest = state.highest_election_id
        if election_id is not None and (highest is None or election_id >= highest):
            had_primary = state.primary is not None
            state.primary = controller
            state.highest_election_id = election_id
            state.role_config = role_config
            if not had_primary:
                return [self._notice(state, c) for c in state.controllers]
            # A change of primary (or the primary re-asserting itself): everyone else first,
            # then the new primary.
            others = [self._notice(state, c) for c in state.controllers if c is not controller]
            return [*others, self._notice(state, controller)]
        if was_primary:
            state.primary = None
            return [self._notice(state, c) for c in state.controllers]
        return [self._notice(state, controller)]

    @staticmethod
    def _notice(state: _RoleState, controller: Controller) -> Notice:
        if state.primary is controller:
            code = StatusCode.OK
        elif state.primary is not None:
            code = StatusCode.ALREADY_EXISTS
        else:
            code = StatusCode.NOT_FOUND
        return Notice(controller, code, state.highest_election_id, state.role_config)
