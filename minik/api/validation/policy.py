"""Validation of ``policy/v1`` PodDisruptionBudgets.

A budget says how many of the pods its selector picks must stay up while someone
*voluntarily* disrupts them (``kubectl drain``, the eviction API): either
``minAvailable`` (at least this many healthy) or ``maxUnavailable`` (at most this many
not healthy) -- each a number or a percentage, and never both, because two limits could
contradict each other. Setting neither is allowed, as upstream: such a budget protects
nothing.

The status is written by the disruption controller and by the eviction subresource
(which decrements ``disruptionsAllowed``); its counters are never negative.
"""

from __future__ import annotations

from minik.api.field import invalid, not_supported
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    get_dict,
    nonnegative_fields,
    not_more_than_100_percent,
    positive_int_or_percent,
)
from minik.api.validation.meta import validate_label_selector

#: What a budget does with pods that are running but not ready (upstream's two policies).
UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]
_STATUS_COUNTERS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")


def _budget_spec(pdb: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(pdb, "spec", "spec", errs)
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for name, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs += positive_int_or_percent(value, child("spec", name))
            errs += not_more_than_100_percent(value, child("spec", name))
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec["selector"], "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


def _budget_status(pdb: Obj, _old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(pdb, "status", "status", errs)
    nonnegative_fields(status, "status", _STATUS_COUNTERS, errs)
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("policy", "PodDisruptionBudget"): KindRules(validate=_budget_spec, status=_budget_status),
}
