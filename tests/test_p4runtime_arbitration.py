"""Arbitration: the spec's rules for primaries, backups and notices, and a random walk
checked against a direct restatement of "primary = live controller holding the highest
election id ever seen, or since the last primary left" (PI's reading where the primary
leaves)."""

import random

import pytest

from runtime_server.arbitration import Arbitrator, Controller
from runtime_server.errors import P4RuntimeError, StatusCode

OK, BACKUP, NO_PRIMARY = StatusCode.OK, StatusCode.ALREADY_EXISTS, StatusCode.NOT_FOUND


def codes(notices) -> list[tuple[int | None, StatusCode]]:
    return [(n.controller.election_id, n.code) for n in notices]


def test_first_controller_becomes_primary_and_higher_id_takes_over() -> None:
    arb = Arbitrator({0})
    a, notices = arb.update(None, 0, "", 10)
    assert codes(notices) == [(10, OK)]
    b, notices = arb.update(None, 0, "", 5)
    assert codes(notices) == [(5, BACKUP)]
    assert notices[0].election_id == 10
    c, notices = arb.update(None, 0, "", 20)
    assert codes(notices) == [(10, BACKUP), (5, BACKUP), (20, OK)]
    assert arb.is_primary(0, "", 20) and not arb.is_primary(0, "", 10)
    notices = arb.disconnect(c)
    # The primary left: the live controller with the highest id takes over, as in PI.
    assert codes(notices) == [(5, BACKUP), (10, OK)]
    assert all(n.election_id == 10 for n in notices)
    assert arb.primary(0) is a
    # A higher id still takes over; lower ones stay backups.
    _, notices = arb.update(a, 0, "", 20)
    assert codes(notices) == [(5, BACKUP), (20, OK)]
    _, notices = arb.update(b, 0, "", 7)
    assert codes(notices) == [(7, BACKUP)]
    assert arb.is_primary(0, "", 20)
    assert arb.primary(0) is a
    notices = arb.disconnect(a)
    assert codes(notices) == [(7, OK)]
    assert b.election_id == 7


def test_after_everyone_left_any_id_becomes_primary() -> None:
    arb = Arbitrator({0})
    a, _ = arb.update(None, 0, "", 40)
    arb.disconnect(a)
    _, notices = arb.update(None, 0, "", 20)
    assert codes(notices) == [(20, OK)]


def test_errors_terminate_the_stream() -> None:
    arb = Arbitrator({1})
    with pytest.raises(P4RuntimeError) as err:
        arb.update(None, 2, "", 1)
    assert err.value.code == StatusCode.NOT_FOUND
    a, _ = arb.update(None, 1, "", 1)
    with pytest.raises(P4RuntimeError) as err:
        arb.update(None, 1, "", 1)
    assert err.value.code == StatusCode.INVALID_ARGUMENT
    with pytest.raises(P4RuntimeError) as err:
        arb.update(a, 3, "", 1)
    assert err.value.code == StatusCode.FAILED_PRECONDITION
    with pytest.raises(P4RuntimeError) as err:
        arb.update(a, 1, "other-role", 1)
    assert err.value.code == StatusCode.FAILED_PRECONDITION


def test_unset_election_id_never_becomes_primary() -> None:
    arb = Arbitrator({0})
    a, notices = arb.update(None, 0, "", None)
    assert codes(notices) == [(None, NO_PRIMARY)]
    assert notices[0].election_id is None
    b, _ = arb.update(None, 0, "", None)  # two unset ids do not collide
    assert arb.primary(0) is None


def test_primary_downgrading_itself_notifies_everyone() -> None:
    arb = Arbitrator({0})
    a, _ = arb.update(None, 0, "", 7)
    arb.update(None, 0, "", 3)
    _, notices = arb.update(a, 0, "", 2)
    assert codes(notices) == [(2, NO_PRIMARY), (3, NO_PRIMARY)]


def test_roles_are_independent() -> None:
    arb = Arbitrator({0})
    arb.update(None, 0, "", 5)
    x, notices = arb.update(None, 0, "x", 5)  # same id in another role is fine
    assert codes(notices) == [(5, OK)]
    assert arb.is_primary(0, "x", 5) and arb.is_primary(0, "", 5)
    assert arb.known_role(0, "x") and not arb.known_role(0, "y")


@pytest.mark.parametrize("seed", range(5))
def test_random_walk_matches_the_rule(seed: int) -> None:
    rng = random.Random(seed)
    arb = Arbitrator({0})
    live: list[Controller] = []
    highest = None
    for _ in range(400):
        action = rng.random()
        if action < 0.45 or not live:
            eid = rng.choice([None, *range(1, 12)])
            try:
                c, _ = arb.update(None, 0, "", eid)
            except P4RuntimeError:
                assert eid is not None and any(x.election_id == eid for x in live)
                continue
            live.append(c)
        elif action < 0.75:
            c = rng.choice(live)
            eid = rng.choice([None, *range(1, 12)])
            try:
                arb.update(c, 0, "", eid)
            except P4RuntimeError:
                assert eid is not None and any(x.election_id == eid for x in live if x is not c)
                continue
        else:
            c = live.pop(rng.randrange(len(live)))
            was_primary = arb.primary(0) is c
            arb.disconnect(c)
            if was_primary:  # the highest live id takes over
                highest = max((x.election_id for x in live if x.election_id is not None),
                              default=None)
        ids = [c.election_id for c in live if c.election_id is not None]
        # The highest id only grows while the primary stays; an arbitration update raises it.
        if ids and (highest is None or max(ids) > highest):
            highest = max(ids)
        expected = next((c for c in live if c.election_id is not None
                         and c.election_id == highest), None)
        assert arb.primary(0) is expected
