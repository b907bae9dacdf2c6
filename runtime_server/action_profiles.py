"""ActionProfileMember, ActionProfileGroup and one-shot action sets onto the target's action
profile API.

The server keeps each profile's members and groups as written (for reads and for the
reference checks the spec asks: a member in a group, or a member/group used by a table entry,
cannot be deleted).  A one-shot action set becomes members and a group with ids from a range
the controller does not use (it may not mix both styles on one profile at once).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from runtime_server.entry_codec import decode_action, encode_action
from runtime_server.errors import P4RuntimeError, StatusCode, call_target
from runtime_server.p4info_index import Kind, P4InfoIndex
from runtime_server.proto import p4runtime_pb2

INSERT = p4runtime_pb2.Update.INSERT
MODIFY = p4runtime_pb2.Update.MODIFY
DELETE = p4runtime_pb2.Update.DELETE


def _invalid(message: str) -> P4RuntimeError:
    return P4RuntimeError(StatusCode.INVALID_ARGUMENT, message)


@dataclass
class Oneshot:
    """The target's member and group ids behind one action set."""
    profile_id: int
    group_id: int
    member_ids: list[int]


class TargetIds:
    """Controller ids of members (or groups) onto dense target ids, lowest free first."""

    def __init__(self) -> None:
        self.by_controller: dict[int, int] = {}
        self.by_target: dict[int, int | None] = {}   # None: a one-shot's, no controller id
        self.free: list[int] = []
        self.next = 1

    def assign(self, controller_id: int | None) -> int:
        if self.free:
            target_id = heapq.heappop(self.free)
        else:
            target_id = self.next
            self.next += 1
        if controller_id is not None:
            self.by_controller[controller_id] = target_id
        self.by_target[target_id] = controller_id
        return target_id

    def target(self, controller_id: int) -> int:
        return self.by_controller[controller_id]

    def controller(self, target_id: int) -> int | None:
        return self.by_target.get(target_id)

    def release(self, controller_id: int) -> None:
        self.release_target(self.by_controller.pop(controller_id))

    def release_target(self, target_id: int) -> None:
        if target_id in self.by_target:
            del self.by_target[target_id]
            heapq.heappush(self.free, target_id)


@dataclass
class ProfileState:
    name: str
    allowed_actions: set[int]
    max_group_size: int
    has_selector: bool
    members: dict[int, bytes] = field(default_factory=dict)  # id -> canonical member bytes
    groups: dict[int, bytes] = field(default_factory=dict)  # id -> canonical group bytes
    group_members: dict[int, set[int]] = field(default_factory=dict)
    member_refs: dict[int, int] = field(default_factory=dict)  # table entries per member
    group_refs: dict[int, int] = field(default_factory=dict)
    style: str | None = None  # "explicit" or "oneshot" while anything of that style exists
    oneshots: int = 0  # live one-shot groups (the entries' action sets)
    # The target indexes its member and group arrays by id, so it gets dense ids of its own
    # (a controller may use any 32-bit id); one-shot members and groups have target ids only.
    member_ids: TargetIds = field(default_factory=lambda: TargetIds())
    group_ids: TargetIds = field(default_factory=lambda: TargetIds())


class ActionProfiles:
    def __init__(self, switch, index: P4InfoIndex) -> None:
        self.switch = switch
        self.index = index
        self.profiles: dict[int, ProfileState] = {}
        for profile in index.entities(Kind.ACTION_PROFILE):
            allowed: set[int] = set()
            for table_id in profile.table_ids:
                allowed |= set(index.tables[table_id].action_scopes)
            self.profiles[profile.preamble.id] = ProfileState(
                profile.preamble.name, allowed, profile.max_group_size, profile.with_selector
            )

    def _profile(self, profile_id: int) -> ProfileState:
        state = self.profiles.get(profile_id)
        if state is None:
            raise P4RuntimeError(StatusCode.NOT_FOUND, f"unknown action profile id {profile_id}")
        return state

    def _use_style(self, state: ProfileState, style: str) -> None:
        in_use = state.members or state.groups or state.oneshots
        if state.style not in (None, style) and in_use:
            raise _invalid(
                f"action profile {state.name!r} is programmed with {state.style} members and "
                "groups; it cannot mix in the other style"
            )
        state.style = style

    # ---- members ----------------------------------------------------------------------------

    def write_member(self, update_type: int, member: p4runtime_pb2.ActionProfileMember) -> None:
        state = self._profile(member.action_profile_id)
        member_id = member.member_id
        if member_id == 0:
            raise _invalid("member id 0 is reserved")
        if update_type == DELETE:
            if member_id not in state.members:
                raise P4RuntimeError(StatusCode.NOT_FOUND, f"Member id does not exist: "
                                     f"{member_id}: {state.name}")
            if any(member_id in ids for ids in state.group_members.values()):
                raise P4RuntimeError(StatusCode.FAILED_PRECONDITION,
                                     f"{state.name}: member {member_id} is in a group")
            if state.member_refs.get(member_id):
                raise P4RuntimeError(StatusCode.FAILED_PRECONDITION,
                                     f"{state.name}: member {member_id} is used by table entries")
            call_target(self.switch.act_prof_delete_member, state.name,
                        state.member_ids.target(member_id))
            state.member_ids.release(member_id)
            del state.members[member_id]
            return
        if update_type not in (INSERT, MODIFY):
            raise _invalid(f"Invalid update type: {update_type}")
        if not member.HasField("action"):
            raise _invalid(f"{state.name}: a member needs an action")
        exists = member_id in state.members
        if update_type == INSERT and exists:
            raise P4RuntimeError(StatusCode.ALREADY_EXISTS,
                                 f"Duplicate member id: {member_id}: {state.name}")
        if update_type == MODIFY and not exists:
            raise P4RuntimeError(StatusCode.NOT_FOUND,
                                 f"Member id does not exist: {member_id}: {state.name}")
        if update_type == INSERT:
            self._use_style(state, "explicit")
        info, params = decode_action(self.index, member.action, state.allowed_actions, state.name)
        if update_type == INSERT:
            target_id = state.member_ids.assign(member_id)
            try:
                call_target(self.switch.act_prof_add_member, state.name, target_id, info.name,
                            params)
            except P4RuntimeError:
                state.member_ids.release(member_id)
                raise
        else:
            call_target(self.switch.act_prof_modify_member, state.name,
                        state.member_ids.target(member_id), info.name, params)
        canonical = p4runtime_pb2.ActionProfileMember(
            action_profile_id=member.action_profile_id, member_id=member_id,
            action=encode_action(info, params),
        )
        state.members[member_id] = canonical.SerializeToString()

    def read_members(self, request: p4runtime_pb2.ActionProfileMember) -> Iterator[bytes]:
        for profile_id in self._selected(request.action_profile_id):
            state = self.profiles[profile_id]
            if state.style == "oneshot":
                continue  # one-shot members are read back as the entries' action sets
            if request.member_id:
                found = state.members.get(request.member_id)
                if found is not None:
                    yield found
            else:
                yield from state.members.values()

    # ---- groups -----------------------------------------------------------------------------

    def write_group(self, update_type: int, group: p4runtime_pb2.ActionProfileGroup) -> None:
        state = self._profile(group.action_profile_id)
        group_id = group.group_id
        if not state.has_selector:
            raise _invalid(f"action profile {state.name!r} has no selector: it has no groups")
        if group_id == 0:
            raise _invalid("0 is not a valid group id: group id 0 is reserved")
        if update_type == DELETE:
            if group_id not in state.groups:
                raise P4RuntimeError(StatusCode.NOT_FOUND,
                                     f"Group id does not exist: {group_id}: {state.name}")
            if state.group_refs.get(group_id):
                raise P4RuntimeError(StatusCode.FAILED_PRECONDITION,
                                     f"{state.name}: group {group_id} is used by table entries")
            call_target(self.switch.act_prof_delete_group, state.name,
                        state.group_ids.target(group_id))
            state.group_ids.release(group_id)
            del state.groups[group_id]
            del state.group_members[group_id]
            return
        if update_type not in (INSERT, MODIFY):
            raise _invalid(f"Invalid update type: {update_type}")
        exists = group_id in state.groups
        if update_type == INSERT and exists:
            raise P4RuntimeError(StatusCode.ALREADY_EXISTS,
                                 f"Duplicate group id: {group_id}: {state.name}")
        if update_type == MODIFY:
            if not exists:
                raise P4RuntimeError(StatusCode.NOT_FOUND,
                                     f"Group id does not exist: {group_id}: {state.name}")
            old = p4runtime_pb2.ActionProfileGroup.FromString(state.groups[group_id])
            if old.max_size != group.max_size:
                raise _invalid(f"Cannot change group max_size after group creation: "
                               f"{state.name}")
        if update_type == INSERT:
            self._use_style(state, "explicit")
        self._check_max_size(state, group.max_size)
        expanded = self._expand_members(state, group.members, group.max_size)
        if update_type == INSERT:
            target_id = state.group_ids.assign(group_id)
            try:
                call_target(self.switch.act_prof_create_group, state.name, target_id)
            except P4RuntimeError:
                state.group_ids.release(group_id)
                raise
        else:
            target_id = state.group_ids.target(group_id)
        try:
            call_target(self.switch.act_prof_set_group_members, state.name, target_id,
                        [state.member_ids.target(m) for m in expanded])
        except P4RuntimeError:
            if update_type == INSERT:
                call_target(self.switch.act_prof_delete_group, state.name, target_id)
                state.group_ids.release(group_id)
            raise
        canonical = p4runtime_pb2.ActionProfileGroup()
        canonical.CopyFrom(group)
        for member in canonical.members:
            member.ClearField("watch")
        state.groups[group_id] = canonical.SerializeToString()
        state.group_members[group_id] = {m.member_id for m in group.members}

    def _check_max_size(self, state: ProfileState, max_size: int) -> None:
        if state.max_group_size and not 0 < max_size <= state.max_group_size:
            raise _invalid(f"{state.name}: max_size {max_size} outside 1..{state.max_group_size}")

    def _expand_members(self, state: ProfileState, members, max_size: int) -> list[int]:
        """Member ids repeated by weight: the target picks uniformly among the list."""
        seen: set[int] = set()
        expanded: list[int] = []
        for member in members:
            if member.member_id in seen:
                raise _invalid(f"Duplicate member id {member.member_id} for group, use weights "
                               f"instead: {state.name}")
            seen.add(member.member_id)
            if member.weight <= 0:
                raise _invalid(f"Member weight must be a positive integer value: {state.name}: "
                               f"member {member.member_id}")
            if member.watch_port or member.watch:
                raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "watch ports")
            if member.member_id not in state.members:
                raise P4RuntimeError(StatusCode.NOT_FOUND, "Member id does not exist: "
                                     f"{member.member_id}: {state.name}")
            expanded.extend([member.member_id] * member.weight)
        if max_size and len(expanded) > max_size:
            raise P4RuntimeError(StatusCode.RESOURCE_EXHAUSTED,
                                 f"{state.name}: {len(expanded)} weighted members > {max_size}")
        return expanded

    def read_groups(self, request: p4runtime_pb2.ActionProfileGroup) -> Iterator[bytes]:
        for profile_id in self._selected(request.action_profile_id):
            state = self.profiles[profile_id]
            if state.style == "oneshot":
                continue
            if request.group_id:
                found = state.groups.get(request.group_id)
                if found is not None:
                    yield found
            else:
                yield from state.groups.values()

    def _selected(self, profile_id: int) -> list[int]:
        if profile_id == 0:
            return list(self.profiles)
        self._profile(profile_id)
        return [profile_id]

    # ---- references from table entries ----------------------------------------------------

    def check_member_reference(self, profile_id: int, member_id: int) -> int:
        """The target's id of the member a table entry names (NOT_FOUND if none)."""
        state = self._profile(profile_id)
        if member_id not in state.members:
            raise P4RuntimeError(StatusCode.NOT_FOUND,
                                 f"Member id does not exist: {member_id}: {state.name}")
        return state.member_ids.target(member_id)

    def check_group_reference(self, profile_id: int, group_id: int) -> int:
        """The target's id of the group a table entry names (NOT_FOUND if none)."""
        state = self._profile(profile_id)
        if group_id not in state.groups:
            raise P4RuntimeError(StatusCode.NOT_FOUND,
                                 f"Group id does not exist: {group_id}: {state.name}")
        return state.group_ids.target(group_id)

    def controller_member(self, profile_id: int, target_id: int) -> int | None:
        """The controller's id of a target member id (None for one-shot members)."""
        return self._profile(profile_id).member_ids.controller(target_id)

    def controller_group(self, profile_id: int, target_id: int) -> int | None:
        """The controller's id of a target group id (None for one-shot groups)."""
        return self._profile(profile_id).group_ids.controller(target_id)

    def add_reference(self, profile_id: int, kind: str, ref_id: int, delta: int) -> None:
        state = self._profile(profile_id)
        refs = state.member_refs if kind == "member" else state.group_refs
        refs[ref_id] = refs.get(ref_id, 0) + delta

    # ---- one-shot action sets -------------------------------------------------------------

    def create_oneshot(self, profile_id: int, action_set, allowed: set[int],
                       table_name: str) -> Oneshot:
        state = self._profile(profile_id)
        if not state.has_selector:
            raise _invalid(f"{table_name}: an action set needs an action selector")
        self._use_style(state, "oneshot")
        actions = list(action_set.action_profile_actions)
        if not actions:
            raise _invalid(f"{table_name}: an empty action set")
        decoded = []
        total = 0
        for item in actions:
            if item.weight <= 0:
                raise _invalid(f"{table_name}: an action set entry has weight 0")
            if item.watch_port or item.watch:
                raise P4RuntimeError(StatusCode.UNIMPLEMENTED, "watch ports")
            decoded.append((decode_action(self.index, item.action, allowed, table_name),
                            item.weight))
            total += item.weight
        if state.max_group_size and total > state.max_group_size:
            raise _invalid(f"{table_name}: action set weights {total} exceed max group size "
                           f"{state.max_group_size}")
        group_id = state.group_ids.assign(None)
        created: list[int] = []
        try:
            for (info, params), _ in decoded:
                member_id = state.member_ids.assign(None)
                try:
                    call_target(self.switch.act_prof_add_member, state.name, member_id,
                                info.name, params)
                except P4RuntimeError:
                    state.member_ids.release_target(member_id)
                    raise
                created.append(member_id)
            call_target(self.switch.act_prof_create_group, state.name, group_id)
            expanded = [m for m, (_, weight) in zip(created, decoded, strict=True)
                        for _ in range(weight)]
            call_target(self.switch.act_prof_set_group_members, state.name, group_id, expanded)
        except P4RuntimeError:
            self.release_oneshot(Oneshot(profile_id, group_id, created), group_created=False)
            raise
        state.oneshots += 1
        return Oneshot(profile_id, group_id, created)

    def release_oneshot(self, oneshot: Oneshot, group_created: bool = True) -> None:
        state = self.profiles[oneshot.profile_id]
        if group_created:
            state.oneshots -= 1
            try:
                call_target(self.switch.act_prof_delete_group, state.name, oneshot.group_id)
            except P4RuntimeError as err:
                if err.code != StatusCode.NOT_FOUND:
                    raise
        state.group_ids.release_target(oneshot.group_id)
        for member_id in oneshot.member_ids:
            call_target(self.switch.act_prof_delete_member, state.name, member_id)
            state.member_ids.release_target(member_id)

