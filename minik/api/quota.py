"""Resource quota arithmetic: what an object costs, which quotas apply, what exceeds.

A ResourceQuota caps what a namespace may hold: ``spec.hard`` maps a resource name to a
quantity (``pods: 10``, ``requests.cpu: 4``, ``count/deployments.apps: 5``). Two parts of
minik need the same answers about it, so they live here, below both:

* the API server's **ResourceQuota admission** charges each new object against the
  quotas of its namespace and refuses it when a quota would be exceeded;
* the **resourcequota controller** recomputes ``status.used`` from what actually exists
  (objects that were deleted give their share back).

Everything here is pure: a *resource list* is a ``dict`` from resource name to an exact
:class:`~fractions.Fraction` (parsed with :mod:`minik.api.quantity`), and an object's
*usage* is the resource list it adds to a namespace -- the names an evaluator knows for
it, as upstream's quota evaluators compute them:

* a **pod** costs ``pods: 1`` and its compute resources under three names each
  (``requests.cpu`` and the legacy ``cpu``, ``limits.cpu``; the same for memory,
  ephemeral storage and extended resources), plus ``count/pods: 1``. A pod that has
  finished (Succeeded/Failed) or whose grace period is over costs only its
  ``count/pods`` -- it no longer uses the node;
* a **service** costs ``services``, ``services.nodeports`` (one per port of a NodePort
  or LoadBalancer service) and ``services.loadbalancers``;
* a **claim** costs ``persistentvolumeclaims`` and ``requests.storage``, also per
  storage class (``<class>.storageclass.storage.k8s.io/requests.storage``);
* **anything** costs ``count/<resource>.<group>`` (``count/<resource>`` for the core
  group), and the four legacy names ``configmaps``, ``secrets``,
  ``replicationcontrollers`` and ``resourcequotas`` for those kinds.

Scopes narrow a quota to some pods (``BestEffort``, ``NotBestEffort``, ``Terminating``,
``NotTerminating``, ``PriorityClass`` through ``scopeSelector``); a quota with a scope
matches pods only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from minik.api.defaults import qos_class
from minik.api.quantity import QuantityError, format_quantity, parse_quantity, parse_quantity_and_format

Obj = dict[str, Any]
ResourceList = dict[str, Fraction]

PODS = "pods"
SERVICES = "services"
NODE_PORTS = "services.nodeports"
LOAD_BALANCERS = "services.loadbalancers"
CLAIMS = "persistentvolumeclaims"
REQUESTS_STORAGE = "requests.storage"
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"

#: Kinds whose object count also has a short legacy name (``configmaps``) besides ``count/...``.
LEGACY_COUNTS: Mapping[tuple[str, str], str] = {
    ("", "pods"): PODS,
    ("", "services"): SERVICES,
    ("", "persistentvolumeclaims"): CLAIMS,
    ("", "configmaps"): "configmaps",
    ("", "secrets"): "secrets",
    ("", "replicationcontrollers"): "replicationcontrollers",
    ("", "resourcequotas"): "resourcequotas",
}

#: The compute resources a pod is charged for under ``requests.X``/``X`` and ``limits.X``.
_COMPUTE = ("cpu", "memory", "ephemeral-storage")

SCOPES = (
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
)
SCOPE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
#: Resources a quota scoped to BestEffort pods may track (they request nothing else).
BEST_EFFORT_RESOURCES = frozenset({PODS, "count/pods"})


def field_dict(obj: Obj, name: str) -> Obj:
    """``obj[name]`` if it is an object, else an empty one (validation reports the wrong type)."""
    value = obj.get(name)
    return value if isinstance(value, dict) else {}


def count_name(plural: str, group: str) -> str:
    """``count/deployments.apps``; ``count/pods`` for the core group."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def parse_list(raw: Any) -> ResourceList:
    """A resource list from an object (``{"cpu": "500m"}``); unreadable entries are skipped
    (validation reports them)."""
    out: ResourceList = {}
    for name, value in raw.items() if isinstance(raw, dict) else ():
        try:
            out[str(name)] = parse_quantity(value)
        except (QuantityError, TypeError, ValueError):
            continue
    return out


def add(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> ResourceList:
    """The sum, name by name (a name in only one side keeps its value)."""
    out = dict(a)
    for name, amount in b.items():
        out[name] = out.get(name, Fraction(0)) + amount
    return out


def subtract(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> ResourceList:
    """``a - b`` for the names in ``a`` (names only in ``b`` are ignored)."""
    return {name: amount - b.get(name, Fraction(0)) for name, amount in a.items()}


def restrict(values: Mapping[str, Fraction], names: Iterable[str]) -> ResourceList:
    """Only the entries named in ``names``."""
    wanted = set(names)
    return {name: amount for name, amount in values.items() if name in wanted}


def format_list(values: Mapping[str, Fraction], like: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Quantities back to strings, each in the suffix family of ``like[name]`` when given
    (``1Gi`` of memory stays binary) -- the form ``status.used`` is written in."""
    out: dict[str, str] = {}
    for name, amount in sorted(values.items()):
        style = None
        example = (like or {}).get(name)
        if example is not None:
            try:
                style = parse_quantity_and_format(example)[1]
            except (QuantityError, TypeError, ValueError):
                style = None
        out[name] = format_quantity(amount, style=style)
    return out


# ----- what an object costs ------------------------------------------------------------------


def _containers(spec: Obj, list_name: str) -> list[Obj]:
    return [c for c in spec.get(list_name) or [] if isinstance(c, dict)]


def _resources(container: Obj, which: str) -> ResourceList:
    resources = container.get("resources")
    return parse_list(resources.get(which)) if isinstance(resources, dict) else {}


def _max(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> ResourceList:
    out = dict(a)
    for name, amount in b.items():
        out[name] = max(out.get(name, amount), amount)
    return out


def pod_requests_and_limits(pod: Obj) -> tuple[ResourceList, ResourceList]:
    """What a pod asks for: the sum over its containers, at least its biggest init
    container (those run one at a time, before the others), plus its overhead."""
    spec = field_dict(pod, "spec")
    requests: ResourceList = {}
    limits: ResourceList = {}
    for ctr in _containers(spec, "containers"):
        requests = add(requests, _resources(ctr, "requests"))
        limits = add(limits, _resources(ctr, "limits"))
    for ctr in _containers(spec, "initContainers"):
        requests = _max(requests, _resources(ctr, "requests"))
        limits = _max(limits, _resources(ctr, "limits"))
    overhead = parse_list(spec.get("overhead"))
    if overhead:
        requests = add(requests, overhead)
        limits = add(limits, {k: v for k, v in overhead.items() if k in limits})
    return requests, limits


def pod_uses_resources(pod: Obj, now: datetime | None = None) -> bool:
    """False for a pod that is done with its node: finished, or terminating past its grace
    (upstream's ``QuotaV1Pod``). Such a pod still counts as an object (``count/pods``)."""
    status = field_dict(pod, "status")
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    meta = field_dict(pod, "metadata")
    deleting = meta.get("deletionTimestamp")
    if isinstance(deleting, str) and meta.get("deletionGracePeriodSeconds") is not None:
        try:
            when = datetime.strptime(deleting, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return True
        grace = timedelta(seconds=int(meta.get("deletionGracePeriodSeconds") or 0))
        # stuck terminating (its node lost, say): charging it would block its replacement
        return (now or datetime.now(UTC)) <= when + grace
    return True


def pod_usage(pod: Obj, now: datetime | None = None) -> ResourceList:
    """What a pod costs its namespace (see the module docs)."""
    usage: ResourceList = {"count/pods": Fraction(1)}
    if not pod_uses_resources(pod, now):
        return usage
    usage[PODS] = Fraction(1)
    requests, limits = pod_requests_and_limits(pod)
    for name, amount in requests.items():
        usage[f"requests.{name}"] = amount
        if name in _COMPUTE:
            usage[name] = amount
    for name, amount in limits.items():
        usage[f"limits.{name}"] = amount
    return usage


def service_usage(service: Obj) -> ResourceList:
    spec = field_dict(service, "spec")
    usage: ResourceList = {SERVICES: Fraction(1), count_name("services", ""): Fraction(1)}
    kind = spec.get("type") or "ClusterIP"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if kind in ("NodePort", "LoadBalancer"):
        usage[NODE_PORTS] = Fraction(len(ports))
    else:
        usage[NODE_PORTS] = Fraction(0)
    usage[LOAD_BALANCERS] = Fraction(1 if kind == "LoadBalancer" else 0)
    return usage


def claim_usage(claim: Obj) -> ResourceList:
    spec = field_dict(claim, "spec")
    usage: ResourceList = {CLAIMS: Fraction(1), count_name("persistentvolumeclaims", ""): Fraction(1)}
    resources = field_dict(spec, "resources")
    storage = parse_list(resources.get("requests")).get("storage")
    storage_class = spec.get("storageClassName")
    if storage is not None:
        usage[REQUESTS_STORAGE] = storage
    if isinstance(storage_class, str) and storage_class:
        prefix = storage_class + STORAGE_CLASS_SUFFIX
        usage[prefix + CLAIMS] = Fraction(1)
        if storage is not None:
            usage[prefix + REQUESTS_STORAGE] = storage
    return usage


def usage_of(plural: str, group: str, obj: Obj, now: datetime | None = None) -> ResourceList:
    """What any object costs: the kind's evaluator, else its object count."""
    if group == "":
        if plural == "pods":
            return pod_usage(obj, now)
        if plural == "services":
            return service_usage(obj)
        if plural == "persistentvolumeclaims":
            return claim_usage(obj)
    usage: ResourceList = {count_name(plural, group): Fraction(1)}
    legacy = LEGACY_COUNTS.get((group, plural))
    if legacy is not None:
        usage[legacy] = Fraction(1)
    return usage


def tracked_by(plural: str, group: str, name: str) -> bool:
    """Whether ``name`` is a resource that objects of ``plural.group`` are charged for
    (so a quota on it constrains them, and the controller counts them for it)."""
    if name == count_name(plural, group) or name == LEGACY_COUNTS.get((group, plural)):
        return True
    if (group, plural) == ("", "pods"):
        return name in _COMPUTE or (name.startswith(("requests.", "limits.")) and name != REQUESTS_STORAGE)
    if (group, plural) == ("", "services"):
        return name in (NODE_PORTS, LOAD_BALANCERS)
    if (group, plural) == ("", "persistentvolumeclaims"):
        return name == REQUESTS_STORAGE or STORAGE_CLASS_SUFFIX in name
    return False


#: The compute resources whose quota makes every container say how much it wants.
_MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def missing_resources(pod: Obj, constrained: Iterable[str]) -> list[str]:
    """Upstream's pod ``Constraints``: a quota on ``requests.cpu`` (or ``limits.memory``...)
    only works if every container says how much it wants. One ``must specify
    limits.cpu,requests.cpu`` message per container that leaves some out (duplicates once)."""
    required = _MUST_SPECIFY & set(constrained)
    spec = field_dict(pod, "spec")
    problems: list[str] = []
    for list_name in ("containers", "initContainers"):
        for ctr in _containers(spec, list_name):
            has: set[str] = set()
            for name in _resources(ctr, "requests"):
                has |= {f"requests.{name}", name}
            has |= {f"limits.{name}" for name in _resources(ctr, "limits")}
            missing = sorted(required - has)
            message = f"must specify {','.join(missing)}"
            if missing and message not in problems:
                problems.append(message)
    return problems


# ----- which quotas apply ----------------------------------------------------------------------


def _priority_class(pod: Obj) -> str:
    spec = field_dict(pod, "spec")
    return str(spec.get("priorityClassName") or "")


def _terminating(pod: Obj) -> bool:
    spec = field_dict(pod, "spec")
    deadline = spec.get("activeDeadlineSeconds")
    return isinstance(deadline, int) and deadline >= 0


def _selector_matches(expression: Obj, pod: Obj) -> bool:
    """One ``scopeSelector`` expression against a pod (only PriorityClass is about pods'
    fields; CrossNamespacePodAffinity matches pods with such terms, which minik has none of)."""
    scope, operator = expression.get("scopeName"), expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    if scope == "PriorityClass":
        value = _priority_class(pod)
        if operator == "In":
            return value in values
        if operator == "NotIn":
            return value not in values
        if operator == "Exists":
            return bool(value)
        if operator == "DoesNotExist":
            return not value
        return False
    return scope_matches(str(scope), pod)


def scope_matches(scope: str, pod: Obj) -> bool:
    """Whether a pod is in one of the simple scopes."""
    if scope == "Terminating":
        return _terminating(pod)
    if scope == "NotTerminating":
        return not _terminating(pod)
    if scope == "BestEffort":
        return qos_class(pod) == "BestEffort"
    if scope == "NotBestEffort":
        return qos_class(pod) != "BestEffort"
    if scope == "PriorityClass":
        return bool(_priority_class(pod))
    return False


def _scope_terms(quota: Obj) -> tuple[list[str], list[Obj]]:
    spec = field_dict(quota, "spec")
    scopes = [str(s) for s in spec.get("scopes") or []]
    selector = field_dict(spec, "scopeSelector")
    expressions = [e for e in selector.get("matchExpressions") or [] if isinstance(e, dict)]
    return scopes, expressions


def quota_matches(quota: Obj, plural: str, group: str, obj: Obj) -> bool:
    """Whether ``quota``'s scopes admit ``obj`` (every scope and expression must hold).

    A quota without scopes covers every object; scopes are about pods, so a scoped quota
    covers no other kind."""
    scopes, expressions = _scope_terms(quota)
    if not scopes and not expressions:
        return True
    if (group, plural) != ("", "pods"):
        return False
    return all(scope_matches(s, obj) for s in scopes) and all(_selector_matches(e, obj) for e in expressions)


# ----- the check ---------------------------------------------------------------------------


def exceeded(
    hard: Mapping[str, Fraction], used: Mapping[str, Fraction], requested: Mapping[str, Fraction]
) -> list[str]:
    """The names whose ``used + requested`` goes over ``hard``, sorted.

    Only names with a positive request count: an object that adds nothing to a resource
    already over its limit (after the limit was lowered) is not refused for it."""
    over = []
    for name, amount in requested.items():
        limit = hard.get(name)
        if limit is None or amount <= 0:
            continue
        if used.get(name, Fraction(0)) + amount > limit:
            over.append(name)
    return sorted(over)


def pretty(
    values: Mapping[str, Fraction], names: Iterable[str], like: Mapping[str, Any] | None = None
) -> str:
    """``pods=1,requests.cpu=500m`` -- how upstream's messages list quantities."""
    shown = format_list({n: values.get(n, Fraction(0)) for n in names}, like)
    return ",".join(f"{name}={amount}" for name, amount in sorted(shown.items()))


__all__ = [
    "ResourceList",
    "add",
    "claim_usage",
    "count_name",
    "exceeded",
    "field_dict",
    "format_list",
    "missing_resources",
    "parse_list",
    "pod_requests_and_limits",
    "pod_usage",
    "pod_uses_resources",
    "pretty",
    "quota_matches",
    "restrict",
    "scope_matches",
    "service_usage",
    "subtract",
    "tracked_by",
    "usage_of",
]
