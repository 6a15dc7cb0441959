"""Validation of ``policy/v1`` PodDisruptionBudgets.

A budget says how many of the pods its selector picks must stay up during *voluntary*
disruptions (evictions, ``kubectl drain``): either ``minAvailable`` or ``maxUnavailable``
-- never both --, each an integer or a percentage up to 100%. A nil selector picks no
pods; an empty one (``{}``) picks every pod in the namespace. ``unhealthyPodEvictionPolicy``
(``IfHealthyBudget`` or ``AlwaysAllow``) tells the eviction API whether pods that are
not Ready may be evicted while the budget is not met.
"""

from __future__ import annotations

from minik.api.field import invalid, not_supported
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    get_dict,
    nonnegative_fields,
    not_more_than_100_percent,
    positive_int_or_percent,
)
from minik.api.validation.meta import validate_label_selector

UNHEALTHY_POD_EVICTION_POLICIES = ["AlwaysAllow", "IfHealthyBudget"]


def _pdb(pdb: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(pdb, "spec", "spec", errs)
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        errs.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for name, value in (("minAvailable", min_available), ("maxUnavailable", max_unavailable)):
        if value is not None:
            errs += positive_int_or_percent(value, f"spec.{name}")
            errs += not_more_than_100_percent(value, f"spec.{name}")
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES))
    return errs


def _pdb_status(pdb: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(pdb, "status", "status", errs)
    nonnegative_fields(
        status, "status", ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"), errs
    )
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("policy", "PodDisruptionBudget"): KindRules(validate=_pdb, status=_pdb_status),
}
