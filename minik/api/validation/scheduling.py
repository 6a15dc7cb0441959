"""Validation of ``scheduling.k8s.io/v1`` PriorityClasses.

A PriorityClass names a number: pods that say ``priorityClassName: high`` get its
``value`` as their ``spec.priority`` when they are created (the API server's priority
admission, ``minik.apiserver.priority``). Because that number is copied into pods, it
can never change afterwards -- an update that changes ``value`` or ``preemptionPolicy``
is refused, as upstream.

Two ranges are kept apart: user classes go up to one billion, everything above is
for the two built-in classes that keep the cluster itself running
(``system-cluster-critical``, ``system-node-critical``). Names starting ``system-`` are
reserved for those two, with exactly their values.
"""

from __future__ import annotations

from minik.api.field import forbidden, not_supported
from minik.api.validation.common import Errors, KindRules, Obj, get_bool, get_int, get_str, immutable

#: The highest value a user-created class may have (upstream's HighestUserDefinablePriority).
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
#: The built-in classes by name: their value; neither is the global default.
SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
SYSTEM_PREFIX = "system-"
PREEMPTION_POLICIES = ["Never", "PreemptLowerPriority"]


def _system_class_problem(name: str, value: int, global_default: bool) -> str | None:
    """Why ``name`` may not use the reserved prefix with these values (None: it may)."""
    if name not in SYSTEM_PRIORITY_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_PRIORITY_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_PRIORITY_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return None


def _priority_class(pc: Obj) -> Errors:
    errs: Errors = []
    meta = pc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        name = ""
    value = get_int(pc, "value", "value", errs)
    global_default = get_bool(pc, "globalDefault", "globalDefault", errs) or False
    get_str(pc, "description", "description", errs)
    if name.startswith(SYSTEM_PREFIX):
        problem = _system_class_problem(name, value or 0, global_default)
        if problem is not None:
            errs.append(
                forbidden(
                    "metadata.name",
                    f"priority class names with '{SYSTEM_PREFIX}' prefix are reserved for system use only."
                    f" error: {problem}",
                )
            )
    elif value is not None and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errs.append(
            forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE_PRIORITY}",
            )
        )
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        errs.append(not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    return errs


def _priority_class_update(pc: Obj, old: Obj) -> Errors:
    errs: Errors = []
    if pc.get("value") != old.get("value"):
        errs.append(forbidden("value", "may not be changed in an update."))
    errs += immutable(pc.get("preemptionPolicy"), old.get("preemptionPolicy"), "preemptionPolicy")
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("scheduling.k8s.io", "PriorityClass"): KindRules(
        validate=_priority_class, update=_priority_class_update
    ),
}
