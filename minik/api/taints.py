"""Taints and tolerations: which pods a node lets in, and for how long.

A *taint* on a node (``spec.taints``: ``key``, ``value``, ``effect``) repels
pods; a *toleration* on a pod (``spec.tolerations``) lets the pod ignore a
taint that matches it. The effect says what an untolerated taint does:
``NoSchedule`` keeps new pods off, ``PreferNoSchedule`` only discourages them,
and ``NoExecute`` also evicts pods already running there.

Three components ask the same question — the scheduler (TaintToleration,
NodeUnschedulable, PodTopologySpread), the DaemonSet controller and the taint
eviction controller — so the answer lives here, once, as upstream keeps it in
``k8s.io/api/core/v1/toleration.go`` and ``component-helpers``.

**Matching** (upstream ``Toleration.ToleratesTaint``): a toleration matches a
taint when

* its effect is empty (any effect) or equal to the taint's, and
* its key is empty (any key) or equal to the taint's, and
* its operator is ``Exists`` (the value is ignored), or ``Equal`` — the
  default when the operator is empty — and the values are equal.

Any other operator matches nothing. So ``{operator: Exists}`` with no key and
no effect tolerates *every* taint, the classic escape hatch for node agents.

**How long** (upstream's taint eviction controller): a pod stays on a node
with ``NoExecute`` taints only if each of them is tolerated; for each taint
the *first* matching toleration in the pod's list is the one used
(:func:`matching_tolerations`), and the pod may stay for the smallest
``tolerationSeconds`` among those (:func:`min_toleration_seconds`) — forever
if none sets it, at once if one is zero or negative.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "EQUAL",
    "EXISTS",
    "NO_EXECUTE",
    "NO_SCHEDULE",
    "PREFER_NO_SCHEDULE",
    "Taint",
    "Toleration",
    "find_untolerated_taint",
    "matching_tolerations",
    "min_toleration_seconds",
    "taints_of",
    "tolerates_taint",
    "tolerations_of",
]

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

EQUAL = "Equal"
EXISTS = "Exists"


@dataclass(frozen=True, slots=True)
class Taint:
    """One node taint, its fields as strings (a missing field is ``""``)."""

    key: str
    value: str
    effect: str

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Taint:
        return cls(str(raw.get("key") or ""), str(raw.get("value") or ""), str(raw.get("effect") or ""))


class Toleration(NamedTuple):
    """One pod toleration, parsed once so that matching compares plain strings.

    ``operator`` is already defaulted to ``Equal``; ``seconds`` is
    ``tolerationSeconds`` (``None``: not set, tolerate forever).
    """

    key: str
    operator: str
    value: str
    effect: str
    seconds: float | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Toleration:
        seconds = raw.get("tolerationSeconds")
        return cls(
            str(raw.get("key") or ""),
            str(raw.get("operator") or EQUAL),
            str(raw.get("value") or ""),
            str(raw.get("effect") or ""),
            float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None,
        )

    def tolerates(self, taint: Taint) -> bool:
        """Upstream ``Toleration.ToleratesTaint`` (see the module docs)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == EXISTS:
            return True
        if self.operator == EQUAL:
            return self.value == taint.value
        return False


def taints_of(node_spec: Mapping[str, Any]) -> tuple[Taint, ...]:
    """The taints of a node's ``spec`` (entries that are not objects are skipped)."""
    return tuple(Taint.from_dict(t) for t in node_spec.get("taints") or () if isinstance(t, dict))


def tolerations_of(pod_spec: Mapping[str, Any]) -> tuple[Toleration, ...]:
    """The tolerations of a pod's ``spec`` (entries that are not objects are skipped)."""
    return tuple(Toleration.from_dict(t) for t in pod_spec.get("tolerations") or () if isinstance(t, dict))


def tolerates_taint(tolerations: Iterable[Toleration], taint: Taint) -> bool:
    """Whether any of ``tolerations`` matches ``taint`` (upstream ``TolerationsTolerateTaint``)."""
    return any(t.tolerates(taint) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[Taint], tolerations: Sequence[Toleration], effects: Container[str] | None = None
) -> Taint | None:
    """The first of ``taints`` no toleration matches, or ``None`` if all are tolerated.

    Only taints whose effect is in ``effects`` are considered (all when
    ``None``). Upstream ``FindMatchingUntoleratedTaint`` with an effect filter.
    """
    for taint in taints:
        if effects is not None and taint.effect not in effects:
            continue
        if not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


def matching_tolerations(
    taints: Iterable[Taint], tolerations: Sequence[Toleration]
) -> list[Toleration] | None:
    """For each taint the first toleration that matches it; ``None`` if some taint has none.

    Upstream ``GetMatchingTolerations``: only the *first* match counts, so the
    order of a pod's tolerations decides which ``tolerationSeconds`` applies.
    """
    used: list[Toleration] = []
    for taint in taints:
        for toleration in tolerations:
            if toleration.tolerates(taint):
                used.append(toleration)
                break
        else:
            return None
    return used


def min_toleration_seconds(tolerations: Sequence[Toleration]) -> float | None:
    """How long ``tolerations`` let a pod stay: ``None`` forever, else seconds (``0``: now).

    Upstream ``getMinTolerationTime``: the smallest ``tolerationSeconds`` set;
    zero or negative means evict at once; none set means forever; no
    tolerations at all means at once.
    """
    if not tolerations:
        return 0.0
    smallest: float | None = None
    for toleration in tolerations:
        seconds = toleration.seconds
        if seconds is None:
            continue
        if seconds <= 0:
            return 0.0
        smallest = seconds if smallest is None else min(smallest, seconds)
    return smallest
