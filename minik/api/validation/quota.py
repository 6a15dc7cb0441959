"""Validation of the namespace policy kinds: LimitRange and ResourceQuota (``v1``).

* **LimitRange** -- each item has a ``type`` (one item per type), valid resource names and
  quantities, and bounds that can all hold at once: ``min <= defaultRequest <= default <=
  max`` per resource, a ``maxLimitRequestRatio`` of at least 1 and no more than
  ``max/min``. A ``Pod`` item has no defaults (pods are not defaulted as a whole); a
  ``PersistentVolumeClaim`` item bounds storage, so it needs a storage min or max.
* **ResourceQuota** -- ``hard`` names resources quota knows (standard names, or with a
  ``/``: ``count/deployments.apps``, ``requests.example.com/gpu``) and non-negative
  quantities, whole numbers for counts; scopes are known, not contradictory
  (``Terminating`` with ``NotTerminating``), and only restrict resources pods use
  (``BestEffort`` pods use no CPU or memory, so such a quota may only count pods).

The messages are upstream's (``pkg/apis/core/validation``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from minik.api.field import duplicate, forbidden, invalid, not_supported, required
from minik.api.quantity import canonical_quantity
from minik.api.quota import SCOPE_OPERATORS, SCOPES
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    dicts,
    get_dict,
    get_list,
    index,
    key,
    qualified_name,
)
from minik.api.validation.containers import parse_quantity

LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")
_BOUNDS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
_STANDARD_LIMITS = frozenset({"cpu", "memory", "ephemeral-storage", "storage"})

#: Quota resources counted in whole objects (a quota of "1.5 pods" means nothing).
_INTEGER_QUOTA = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
_STANDARD_QUOTA = _INTEGER_QUOTA | {
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
}
#: What a scoped quota may track: the resources of the pods it selects.
_POD_RESOURCES = frozenset(
    {
        "pods",
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
_CONFLICTING_SCOPES = (("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort"))


def _shown(value: Any) -> str:
    try:
        return canonical_quantity(value)
    except (ValueError, TypeError):
        return str(value)


# ----- LimitRange ------------------------------------------------------------------------------


def _limit_resource_name(name: str, kind: str, path: str) -> Errors:
    errs = qualified_name(name, path)
    if not errs and "/" not in name and name not in _STANDARD_LIMITS and not name.startswith("hugepages-"):
        errs.append(invalid(path, name, "must be a standard limit type or fully qualified"))
    return errs


def _quantities(item: Obj, field: str, path: str, errs: Errors) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    values = get_dict(item, field, child(path, field), errs)
    for name, raw in values.items():
        where = key(child(path, field), str(name))
        errs += _limit_resource_name(str(name), str(item.get("type")), where)
        amount = parse_quantity(raw, where, errs)
        if amount is not None:
            out[str(name)] = amount
    return out


def _limit_item(item: Obj, path: str) -> Errors:
    errs: Errors = []
    kind = item.get("type")
    if not kind:
        errs.append(required(child(path, "type"), ""))
    elif not isinstance(kind, str):
        errs.append(invalid(child(path, "type"), kind, "must be a string"))
    else:
        errs += qualified_name(kind, child(path, "type"))
    raw = {f: get_dict(item, f, child(path, f), []) for f in _BOUNDS}
    bounds = {f: _quantities(item, f, path, errs) for f in _BOUNDS}
    if kind == "Pod":
        for name in ("default", "defaultRequest"):
            if bounds[name] or raw[name]:
                errs.append(forbidden(child(path, name), "may not be specified when `type` is 'Pod'"))
    if kind == "PersistentVolumeClaim" and "storage" not in bounds["min"] and "storage" not in bounds["max"]:
        errs.append(
            required(
                child(path, "limits"),
                "either minimum or maximum storage value is required, but neither was provided",
            )
        )
    low, high, limit, request = bounds["min"], bounds["max"], bounds["default"], bounds["defaultRequest"]

    def shown(field: str, name: str) -> str:
        return _shown(raw[field][name])

    for name in sorted(set().union(*bounds.values())):
        if name in low and name in high and low[name] > high[name]:
            errs.append(
                invalid(
                    key(child(path, "min"), name),
                    raw["min"][name],
                    f"min value {shown('min', name)} is greater than max value {shown('max', name)}",
                )
            )
        if name in request:
            where, value = key(child(path, "defaultRequest"), name), raw["defaultRequest"][name]
            if name in low and low[name] > request[name]:
                errs.append(
                    invalid(
                        where,
                        value,
                        f"min value {shown('min', name)} is greater than default request value {shown('defaultRequest', name)}",
                    )
                )
            if name in high and request[name] > high[name]:
                errs.append(
                    invalid(
                        where,
                        value,
                        f"default request value {shown('defaultRequest', name)} is greater than max value {shown('max', name)}",
                    )
                )
            if name in limit and request[name] > limit[name]:
                errs.append(
                    invalid(
                        where,
                        value,
                        f"default request value {shown('defaultRequest', name)} is greater than default limit value {shown('default', name)}",
                    )
                )
        if name in limit:
            where, value = key(child(path, "default"), name), raw["default"][name]
            if name in low and low[name] > limit[name]:
                errs.append(
                    invalid(
                        where,
                        value,
                        f"min value {shown('min', name)} is greater than default value {shown('default', name)}",
                    )
                )
            if name in high and limit[name] > high[name]:
                errs.append(
                    invalid(
                        where,
                        value,
                        f"default value {shown('default', name)} is greater than max value {shown('max', name)}",
                    )
                )
        ratios = bounds["maxLimitRequestRatio"]
        if name in ratios:
            where, value = key(child(path, "maxLimitRequestRatio"), name), raw["maxLimitRequestRatio"][name]
            if ratios[name] < 1:
                errs.append(
                    invalid(where, value, f"ratio {shown('maxLimitRequestRatio', name)} is less than 1")
                )
            if name in low and name in high and low[name] > 0:
                most = high[name] / low[name]
                if ratios[name] > most:
                    errs.append(
                        invalid(
                            where,
                            value,
                            f"ratio {shown('maxLimitRequestRatio', name)} is greater than max/min = {float(most):f}",
                        )
                    )
    return errs


def _limit_range(lr: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(lr, "spec", "spec", errs)
    path = child("spec", "limits")
    seen: set[str] = set()
    for i, item in dicts(get_list(spec, "limits", path, errs), path, errs):
        kind = item.get("type")
        if isinstance(kind, str) and kind in seen:
            errs.append(duplicate(child(index(path, i), "type"), kind))
        if isinstance(kind, str):
            seen.add(kind)
        errs += _limit_item(item, index(path, i))
    return errs


# ----- ResourceQuota ----------------------------------------------------------------------------


def _quota_list(values: Obj, path: str) -> Errors:
    errs: Errors = []
    for name, raw in values.items():
        where = key(path, str(name))
        name = str(name)
        name_errs = qualified_name(name, where)
        if not name_errs and "/" not in name and name not in _STANDARD_QUOTA and "hugepages-" not in name:
            name_errs.append(invalid(where, name, "must be a standard resource for quota"))
        errs += name_errs
        amount = parse_quantity(raw, where, errs)
        if amount is None:
            continue
        if amount < 0:
            errs.append(invalid(where, raw, "must be greater than or equal to 0"))
        elif (name in _INTEGER_QUOTA or name.startswith("count/")) and amount.denominator != 1:
            errs.append(invalid(where, raw, "must be an integer"))
    return errs


def _scopes(spec: Obj, hard: Obj) -> Errors:
    errs: Errors = []
    path = child("spec", "scopes")
    scopes = [s for s in get_list(spec, "scopes", path, errs)]
    selector = get_dict(spec, "scopeSelector", child("spec", "scopeSelector"), errs)
    expr_path = child("spec", "scopeSelector", "matchExpressions")
    used: list[str] = []
    for i, scope in enumerate(scopes):
        if scope not in SCOPES:
            errs.append(invalid(index(path, i), scope, "unsupported scope"))
        else:
            used.append(str(scope))
    for i, expr in dicts(get_list(selector, "matchExpressions", expr_path, errs), expr_path, errs):
        where = index(expr_path, i)
        scope, operator = expr.get("scopeName"), expr.get("operator")
        values = expr.get("values") or []
        if scope not in SCOPES:
            errs.append(invalid(child(where, "scopeName"), scope, "unsupported scope"))
        else:
            used.append(str(scope))
        if operator not in SCOPE_OPERATORS:
            errs.append(not_supported(child(where, "operator"), operator, list(SCOPE_OPERATORS)))
        elif operator in ("In", "NotIn") and not values:
            errs.append(
                required(
                    child(where, "values"),
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                )
            )
        elif operator in ("Exists", "DoesNotExist") and values:
            errs.append(
                invalid(
                    child(where, "values"),
                    values,
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                )
            )
        elif (
            scope in ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort") and operator != "Exists"
        ):
            errs.append(
                invalid(
                    child(where, "operator"),
                    operator,
                    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort or ResourceQuotaScopeNotBestEffort",
                )
            )
    for a, b in _CONFLICTING_SCOPES:
        if a in used and b in used:
            errs.append(invalid(path, scopes, "conflicting scopes"))
    if used:
        best_effort = "BestEffort" in used
        for name in hard:
            fits = name in ("pods", "count/pods") or (
                not best_effort
                and (name in _POD_RESOURCES or str(name).startswith(("requests.", "limits.", "hugepages-")))
            )
            if not fits:
                errs.append(invalid(child("spec", "hard"), name, "unsupported scope applied to resource"))
    return errs


def _resource_quota(rq: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(rq, "spec", "spec", errs)
    hard = get_dict(spec, "hard", child("spec", "hard"), errs)
    errs += _quota_list(hard, child("spec", "hard"))
    errs += _scopes(spec, hard)
    return errs


def _resource_quota_status(rq: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(rq, "status", "status", errs)
    for name in ("hard", "used"):
        errs += _quota_list(get_dict(status, name, child("status", name), errs), child("status", name))
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("", "LimitRange"): KindRules(validate=_limit_range),
    ("", "ResourceQuota"): KindRules(validate=_resource_quota, status=_resource_quota_status),
}
