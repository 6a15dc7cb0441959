"""Rolling-update arithmetic, as pure functions over counts (no API, no clock).

A Deployment rolling update moves pods from old ReplicaSets to a new one while
two bounds hold (``spec.strategy.rollingUpdate``)::

    total pods        <= replicas + maxSurge        (never too many)
    available pods    >= replicas - maxUnavailable  (never too few)

``maxSurge`` and ``maxUnavailable`` are each an integer or a percentage of
``replicas``. Percentages round in the *safe* direction for each bound: surge
rounds **up** (25% of 3 is 1 extra pod, not 0) and unavailable rounds **down**
(25% of 3 is 0 missing pods, not 1). If both come out as 0 no progress would be
possible, so ``maxUnavailable`` becomes 1 — upstream's ``ResolveFenceposts``.

Each pass of the controller then does one of two things:

* **scale up** the new ReplicaSet by whatever room the surge bound leaves
  (:func:`new_replicas_for_rolling_update`), or
* **scale down** old ReplicaSets by whatever the availability bound allows
  (:func:`plan_old_scale_down`): first old pods that are not available anyway
  (they cost nothing), then available ones, oldest ReplicaSet first. Pods of
  the new ReplicaSet that are not available yet count against the budget,
  because they might never become available.

and waits for the next event. With maxSurge=1, maxUnavailable=0 and 3 replicas
the steps are: new 0→1 (4 pods); wait until it is available; old 3→2; new
1→2; … — at every moment at least 3 pods are available and at most 4 exist.

:func:`proportional_scale` handles the user scaling a Deployment *during* a
rollout: the extra (or missing) replicas are spread over the ReplicaSets that
have pods in proportion to their size, so a half-finished rollout stays half
finished instead of jumping.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IntOrPercent = int | str | None

_PERCENT = re.compile(r"^\s*(\d+)\s*%\s*$")


def scaled_value(value: IntOrPercent, total: int, *, round_up: bool) -> int:
    """An int-or-percent resolved against ``total`` (``GetScaledValueFromIntOrPercent``).

    ``5`` → 5; ``"25%"`` of 10 → 2.5 → 3 (``round_up``) or 2; ``None`` → 0.
    A numeric string without ``%`` is accepted as an integer.
    """
    if value is None:
        return 0
    if isinstance(value, bool):
        raise ValueError(f"invalid int-or-percent {value!r}")
    if isinstance(value, int):
        return value
    m = _PERCENT.match(value)
    if m is None:
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"invalid int-or-percent {value!r}: want an integer or a percentage like '25%'"
            ) from None
    percent = int(m.group(1))
    scaled = percent * total
    return -(-scaled // 100) if round_up else scaled // 100


def resolve_fenceposts(
    max_surge: IntOrPercent, max_unavailable: IntOrPercent, desired: int
) -> tuple[int, int]:
    """``(surge, unavailable)`` for ``desired`` replicas; never both zero."""
    surge = scaled_value(max_surge, desired, round_up=True)
    unavailable = scaled_value(max_unavailable, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        # Both zero would deadlock the rollout: allow one pod to be missing.
        unavailable = 1
    return surge, unavailable


def max_surge(strategy: Mapping[str, Any] | None, replicas: int) -> int:
    """The surge of a Deployment strategy (0 for Recreate)."""
    rolling = _rolling(strategy)
    if rolling is None:
        return 0
    surge, _ = resolve_fenceposts(
        _ios(rolling.get("maxSurge")), _ios(rolling.get("maxUnavailable")), replicas
    )
    return surge


def max_unavailable(strategy: Mapping[str, Any] | None, replicas: int) -> int:
    """The allowed unavailability of a Deployment strategy (0 for Recreate or 0 replicas),
    never more than ``replicas``."""
    rolling = _rolling(strategy)
    if rolling is None or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(
        _ios(rolling.get("maxSurge")), _ios(rolling.get("maxUnavailable")), replicas
    )
    return min(unavailable, replicas)


def _rolling(strategy: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    if not strategy or strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    rolling = strategy.get("rollingUpdate")
    if isinstance(rolling, dict):
        return rolling
    return {"maxSurge": "25%", "maxUnavailable": "25%"}


def _ios(value: object) -> IntOrPercent:
    if value is None or isinstance(value, int | str):
        return value
    raise ValueError(f"invalid int-or-percent {value!r}")


def new_replicas_for_rolling_update(
    *, desired: int, surge: int, current_total: int, new_replicas: int
) -> int:
    """How big the new ReplicaSet may become now (``NewRSNewReplicas``).

    ``current_total`` is every pod the Deployment's ReplicaSets have or are
    about to have; the new ReplicaSet grows into the room left under
    ``desired + surge`` but never beyond ``desired``.
    """
    max_total = desired + surge
    if current_total >= max_total:
        return new_replicas
    room = max_total - current_total
    return new_replicas + max(0, min(room, desired - new_replicas))


@dataclass(frozen=True, slots=True)
class ReplicaCounts:
    """What the scale-down planner needs to know about one old ReplicaSet."""

    replicas: int  # spec.replicas
    available: int  # status.availableReplicas (at most replicas)


def plan_old_scale_down(
    *,
    desired: int,
    unavailable: int,
    new_replicas: int,
    new_available: int,
    old: Sequence[ReplicaCounts],
) -> list[int]:
    """New ``spec.replicas`` for each old ReplicaSet (``old`` ordered oldest first).

    Mirrors upstream's ``reconcileOldReplicaSets``: (1) remove unavailable old
    pods as far as ``all - minAvailable - newUnavailable`` allows, then
    (2) scale down available old pods as far as ``available - minAvailable``
    allows, oldest ReplicaSet first.
    """
    result = [rs.replicas for rs in old]
    old_total = sum(result)
    if old_total == 0:
        return result
    all_pods = old_total + new_replicas
    min_available = desired - unavailable
    new_unavailable = max(new_replicas - new_available, 0)

    # (1) Old pods that are not available: free to remove, within the budget.
    budget = all_pods - min_available - new_unavailable
    if budget <= 0:
        return result
    cleaned = 0
    for i, rs in enumerate(old):
        if cleaned >= budget:
            break
        unhealthy = result[i] - min(rs.available, result[i])
        if result[i] == 0 or unhealthy <= 0:
            continue
        step = min(budget - cleaned, unhealthy)
        result[i] -= step
        cleaned += step

    # (2) Available old pods: only as many as keep minAvailable available.
    available = new_available + sum(min(rs.available, result[i]) for i, rs in enumerate(old))
    budget = available - min_available
    scaled = 0
    for i in range(len(old)):
        if scaled >= budget:
            break
        if result[i] == 0:
            continue
        step = min(result[i], budget - scaled)
        result[i] -= step
        scaled += step
    return result


def round_half_away(x: float) -> int:
    """Go's ``math.Round``: halves go away from zero (Python's round() goes to even)."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


@dataclass(frozen=True, slots=True)
class ScalableSet:
    """One ReplicaSet in a proportional scaling decision."""

    name: str
    replicas: int
    max_replicas_annotation: int | None  # deployment.kubernetes.io/max-replicas when last scaled
    created: float  # creation time, for tie-breaks


def proportional_scale(
    *, desired: int, surge: int, status_replicas: int, sets: Sequence[ScalableSet]
) -> dict[str, int]:
    """New sizes when a Deployment is scaled while several ReplicaSets have pods.

    The change (``desired + surge`` minus what the sets hold now) is shared in
    proportion to each set's size relative to the size the Deployment had when
    it was last scaled (the ``max-replicas`` annotation); rounding leftovers go
    to the largest set (``dc.scale`` upstream). Sets with 0 replicas get none.
    """
    allowed = desired + surge if desired > 0 else 0
    current = sum(s.replicas for s in sets)
    to_add = allowed - current
    sizes = {s.name: s.replicas for s in sets}
    if to_add == 0 or not sets:
        return sizes
    if to_add > 0:  # largest first, newer first on ties
        ordered = sorted(sets, key=lambda s: (-s.replicas, -s.created, s.name))
    else:  # largest first, older first on ties
        ordered = sorted(sets, key=lambda s: (-s.replicas, s.created, s.name))
    added = 0
    for s in ordered:
        if s.replicas == 0 or to_add == added:
            continue
        if desired == 0:
            fraction = -s.replicas
        else:
            annotated = s.max_replicas_annotation or status_replicas
            if not annotated:
                fraction = 0
            else:
                fraction = round_half_away(s.replicas * (desired + surge) / annotated) - s.replicas
        allowed_change = to_add - added
        change = min(fraction, allowed_change) if to_add > 0 else max(fraction, allowed_change)
        sizes[s.name] = s.replicas + change
        added += change
    if added != to_add:
        first = ordered[0].name
        sizes[first] = max(sizes[first] + (to_add - added), 0)
    return sizes


__all__ = [
    "ReplicaCounts",
    "ScalableSet",
    "max_surge",
    "max_unavailable",
    "new_replicas_for_rolling_update",
    "plan_old_scale_down",
    "proportional_scale",
    "resolve_fenceposts",
    "round_half_away",
    "scaled_value",
]
