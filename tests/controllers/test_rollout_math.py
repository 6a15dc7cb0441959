"""Rolling-update arithmetic (minik.controllers.rollout), checked against upstream's rules."""

from __future__ import annotations

import pytest

from minik.controllers.rollout import (
    ReplicaCounts,
    ScalableSet,
    max_surge,
    max_unavailable,
    new_replicas_for_rolling_update,
    plan_old_scale_down,
    proportional_scale,
    resolve_fenceposts,
    round_half_away,
    scaled_value,
)


@pytest.mark.parametrize(
    ("value", "total", "up", "down"),
    [
        (5, 10, 5, 5),
        ("5", 10, 5, 5),
        ("25%", 10, 3, 2),  # 2.5: surge rounds up, unavailable rounds down
        ("25%", 3, 1, 0),  # 0.75
        ("25%", 4, 1, 1),  # exact
        ("0%", 10, 0, 0),
        ("100%", 7, 7, 7),
        ("1%", 1, 1, 0),
        (None, 10, 0, 0),
    ],
)
def test_scaled_value_rounding(value: int | str | None, total: int, up: int, down: int) -> None:
    assert scaled_value(value, total, round_up=True) == up
    assert scaled_value(value, total, round_up=False) == down


@pytest.mark.parametrize("bad", ["abc", "25 percent", "%"])
def test_scaled_value_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="int-or-percent"):
        scaled_value(bad, 10, round_up=True)


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),
        ("25%", "25%", 3, (1, 0)),
        (0, 0, 10, (0, 1)),  # both zero → one may be unavailable, or nothing could ever move
        ("0%", "0%", 5, (0, 1)),
        ("10%", "10%", 1, (1, 0)),  # tiny: surge 0.1 → 1, unavailable 0.1 → 0
        (0, "10%", 5, (0, 1)),  # surge 0 and unavailable rounds to 0 → 1
        (2, 1, 3, (2, 1)),
    ],
)
def test_resolve_fenceposts(
    surge: int | str, unavailable: int | str, desired: int, expected: tuple[int, int]
) -> None:
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_strategy_helpers() -> None:
    rolling = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 5}}
    assert max_surge(rolling, 3) == 1
    assert max_unavailable(rolling, 3) == 3  # never more than replicas
    assert max_unavailable(rolling, 0) == 0
    recreate = {"type": "Recreate"}
    assert max_surge(recreate, 3) == 0 and max_unavailable(recreate, 3) == 0
    defaulted = {"type": "RollingUpdate"}  # no rollingUpdate block: 25% / 25%
    assert (max_surge(defaulted, 4), max_unavailable(defaulted, 4)) == (1, 1)


def test_new_replicaset_grows_into_the_surge_room() -> None:
    # 3 old pods, surge 1: the new ReplicaSet may have 1.
    assert new_replicas_for_rolling_update(desired=3, surge=1, current_total=3, new_replicas=0) == 1
    # Already at the bound: no growth.
    assert new_replicas_for_rolling_update(desired=3, surge=1, current_total=4, new_replicas=1) == 1
    assert new_replicas_for_rolling_update(desired=3, surge=1, current_total=5, new_replicas=1) == 1
    # Surge 2: up to 2 at once.
    assert new_replicas_for_rolling_update(desired=3, surge=2, current_total=3, new_replicas=0) == 2
    # Never beyond desired, however much room.
    assert new_replicas_for_rolling_update(desired=3, surge=10, current_total=3, new_replicas=0) == 3
    assert new_replicas_for_rolling_update(desired=3, surge=1, current_total=3, new_replicas=3) == 3


def test_old_scale_down_waits_for_new_availability() -> None:
    old = [ReplicaCounts(replicas=3, available=3)]
    # maxUnavailable 0, the new pod is not available yet: nothing may go.
    assert plan_old_scale_down(desired=3, unavailable=0, new_replicas=1, new_available=0, old=old) == [3]
    # Once it is available, exactly one old pod may go.
    assert plan_old_scale_down(desired=3, unavailable=0, new_replicas=1, new_available=1, old=old) == [2]


def test_old_scale_down_removes_unhealthy_pods_first() -> None:
    # 4 desired, 1 may be unavailable; the old ReplicaSet has 2 broken pods.
    old = [ReplicaCounts(replicas=4, available=2)]
    assert plan_old_scale_down(desired=4, unavailable=1, new_replicas=0, new_available=0, old=old) == [3]
    # With more unavailability allowed both broken pods go, and no healthy one.
    assert plan_old_scale_down(desired=4, unavailable=2, new_replicas=0, new_available=0, old=old) == [2]


def test_old_scale_down_takes_the_oldest_first() -> None:
    old = [ReplicaCounts(replicas=2, available=2), ReplicaCounts(replicas=2, available=2)]
    assert plan_old_scale_down(desired=4, unavailable=2, new_replicas=0, new_available=0, old=old) == [0, 2]
    assert plan_old_scale_down(desired=4, unavailable=1, new_replicas=0, new_available=0, old=old) == [1, 2]
    assert plan_old_scale_down(desired=4, unavailable=0, new_replicas=0, new_available=0, old=old) == [2, 2]
    assert plan_old_scale_down(desired=4, unavailable=0, new_replicas=0, new_available=0, old=[]) == []


def test_rolling_update_simulation_keeps_both_bounds() -> None:
    """Drive the two functions like the controller does and check every intermediate state."""
    cases: list[tuple[int, int | str, int | str]] = [
        (3, 1, 0),
        (5, "25%", "25%"),
        (4, 0, 1),
        (10, "50%", "10%"),
        (1, 1, 0),
    ]
    for desired, surge_spec, unavail_spec in cases:
        surge, unavailable = resolve_fenceposts(surge_spec, unavail_spec, desired)
        unavailable = min(unavailable, desired)
        old, new = desired, 0
        new_available = 0
        steps = 0
        while old > 0 or new_available < desired:
            steps += 1
            assert steps < 100
            grown = new_replicas_for_rolling_update(
                desired=desired, surge=surge, current_total=old + new, new_replicas=new
            )
            if grown != new:
                new = grown
            else:
                (old,) = plan_old_scale_down(
                    desired=desired,
                    unavailable=unavailable,
                    new_replicas=new,
                    new_available=new_available,
                    old=[ReplicaCounts(replicas=old, available=old)],
                )
                new_available = new  # the new pods become available before the next pass
            assert old + new <= desired + surge
            assert old + new_available >= desired - unavailable


def test_proportional_scaling() -> None:
    sets = [ScalableSet("new", 3, 10, created=2.0), ScalableSet("old", 7, 10, created=1.0)]
    assert proportional_scale(desired=20, surge=0, status_replicas=10, sets=sets) == {"new": 6, "old": 14}
    # Scale down to 5: 7 -> 3.5 -> 4 (-3), 3 -> 1.5 -> 2 (-1), the leftover -1 goes to the largest.
    assert proportional_scale(desired=5, surge=0, status_replicas=10, sets=sets) == {"new": 2, "old": 3}
    assert proportional_scale(desired=0, surge=0, status_replicas=10, sets=sets) == {"new": 0, "old": 0}
    # Nothing to add: unchanged.
    assert proportional_scale(desired=10, surge=0, status_replicas=10, sets=sets) == {"new": 3, "old": 7}


def test_round_half_away_from_zero() -> None:
    assert [round_half_away(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 2.4)] == [1, 2, 3, -1, -3, 2]
