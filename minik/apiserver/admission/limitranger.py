"""LimitRanger: a namespace's LimitRanges give containers defaults and bounds.

A LimitRange (``v1``) lists items, one per ``type``:

* ``Container`` -- ``default`` (limits) and ``defaultRequest`` (requests) fill in what a
  container leaves out; ``min``/``max`` bound each container's requests and limits;
  ``maxLimitRequestRatio`` bounds how far a limit may exceed its request;
* ``Pod`` -- ``min``/``max``/``maxLimitRequestRatio`` on the sum over the pod's containers;
* ``PersistentVolumeClaim`` -- ``min``/``max`` on a claim's ``requests.storage``.

As upstream's plugin it works in both admission phases. **Mutating** (pod create): each
container gets the defaults it lacks, and the pod an annotation
``kubernetes.io/limit-ranger`` saying what was set, so ``kubectl describe`` shows why a
pod has limits nobody wrote. **Validating** (pod create, claim create and update): every
bound must hold, or the write is refused with 403 and upstream's message, e.g.
``minimum cpu usage per Container is 100m, but request is 50m``.

The mutating half runs before the API server's own defaulting. Upstream runs it after,
where a container with a limit but no request already has the limit as its request; so
a default *request* is not given for a resource the container limits -- the defaulting
that follows copies the limit, as upstream ends up with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction
from typing import Any

from minik.api.quantity import QuantityError, canonical_quantity, format_quantity, parse_quantity
from minik.api.quota import field_dict, pod_requests_and_limits
from minik.apiserver.admission import CREATE, UPDATE, Attributes, forbidden

Obj = dict[str, Any]
Raw = dict[str, Any]  # a resource list as written: name -> quantity string

ANNOTATION = "kubernetes.io/limit-ranger"
CONTAINER, POD, CLAIM = "Container", "Pod", "PersistentVolumeClaim"


def _items(ranges: Iterable[Obj], kind: str) -> list[Obj]:
    """The items of one type, over all LimitRanges, in the order given."""
    out = []
    for lr in ranges:
        spec = field_dict(lr, "spec")
        out += [i for i in spec.get("limits") or [] if isinstance(i, dict) and i.get("type") == kind]
    return out


def _raw(value: Any) -> Raw:
    return dict(value) if isinstance(value, dict) else {}


# ----- mutating: defaults -----------------------------------------------------------------------


def default_pod(pod: Obj, ranges: Iterable[Obj]) -> None:
    """Give every container the Container defaults it lacks; note what was set."""
    items = _items(ranges, CONTAINER)
    spec = pod.get("spec")
    if not items or not isinstance(spec, dict):
        return
    notes: list[str] = []
    for list_name, what in (("initContainers", "init container"), ("containers", "container")):
        for ctr in spec.get(list_name) or []:
            if isinstance(ctr, dict):
                notes += _default_container(ctr, items, what)
    if notes:
        meta = pod.setdefault("metadata", {})
        annotations = meta.get("annotations")
        if not isinstance(annotations, dict):
            annotations = meta["annotations"] = {}
        annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)


def _default_container(ctr: Obj, items: list[Obj], what: str) -> list[str]:
    resources = ctr.get("resources")
    if not isinstance(resources, dict):
        resources = ctr["resources"] = {}
    limits, requests = _raw(resources.get("limits")), _raw(resources.get("requests"))
    set_limits, set_requests = [], []
    for item in items:
        for name, value in _raw(item.get("default")).items():
            if name not in limits:
                limits[name] = value
                set_limits.append(name)
        for name, value in _raw(item.get("defaultRequest")).items():
            # a limit alone becomes the request (pod defaulting, see the module docs)
            if name not in requests and name not in _raw(resources.get("limits")):
                requests[name] = value
                set_requests.append(name)
    notes = []
    if set_requests:
        resources["requests"] = requests
        notes.append(f"{', '.join(sorted(set_requests))} request for {what} {ctr.get('name')}")
    if set_limits:
        resources["limits"] = limits
        notes.append(f"{', '.join(sorted(set_limits))} limit for {what} {ctr.get('name')}")
    return notes


# ----- validating: bounds -------------------------------------------------------------------------


def _amount(values: Raw, name: str) -> Fraction | None:
    try:
        return parse_quantity(values[name]) if name in values else None
    except (QuantityError, TypeError, ValueError):
        return None


def _shown(value: Any) -> str:
    try:
        return canonical_quantity(value)
    except (QuantityError, TypeError, ValueError):
        return str(value)


def min_problem(kind: str, name: str, enforced: Any, requests: Raw, limits: Raw) -> str | None:
    """Requests (and limits, when given) must be at least ``min``."""
    bound = parse_quantity(enforced)
    request, limit = _amount(requests, name), _amount(limits, name)
    if request is None:
        return f"minimum {name} usage per {kind} is {_shown(enforced)}.  No request is specified"
    if request < bound:
        return (
            f"minimum {name} usage per {kind} is {_shown(enforced)}, but request is {_shown(requests[name])}"
        )
    if limit is not None and limit < bound:
        return f"minimum {name} usage per {kind} is {_shown(enforced)}, but limit is {_shown(limits[name])}"
    return None


def max_problem(kind: str, name: str, enforced: Any, requests: Raw, limits: Raw) -> str | None:
    """A limit must be given and be at most ``max`` (and so must a request, when given)."""
    bound = parse_quantity(enforced)
    request, limit = _amount(requests, name), _amount(limits, name)
    if limit is None:
        return f"maximum {name} usage per {kind} is {_shown(enforced)}.  No limit is specified"
    if limit > bound:
        return f"maximum {name} usage per {kind} is {_shown(enforced)}, but limit is {_shown(limits[name])}"
    if request is not None and request > bound:
        return (
            f"maximum {name} usage per {kind} is {_shown(enforced)}, but request is {_shown(requests[name])}"
        )
    return None


def ratio_problem(kind: str, name: str, enforced: Any, requests: Raw, limits: Raw) -> str | None:
    """``limit / request`` must be at most ``maxLimitRequestRatio``."""
    bound = parse_quantity(enforced)
    request, limit = _amount(requests, name), _amount(limits, name)
    shown = _shown(enforced)
    if not request:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"
    if not limit:
        return f"{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"
    ratio = limit / request
    if ratio > bound:
        return (
            f"{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {float(ratio):f}"
        )
    return None


def _check(kind: str, item: Obj, requests: Raw, limits: Raw) -> list[str]:
    problems: list[str | None] = []
    problems += [min_problem(kind, n, v, requests, limits) for n, v in sorted(_raw(item.get("min")).items())]
    problems += [max_problem(kind, n, v, requests, limits) for n, v in sorted(_raw(item.get("max")).items())]
    ratios = _raw(item.get("maxLimitRequestRatio"))
    problems += [ratio_problem(kind, n, v, requests, limits) for n, v in sorted(ratios.items())]
    return [p for p in problems if p is not None]


def pod_problems(pod: Obj, ranges: Iterable[Obj]) -> list[str]:
    """Every bound a (defaulted) pod breaks, Container items first, then Pod items."""
    ranges = list(ranges)
    spec = field_dict(pod, "spec")
    problems: list[str] = []
    for item in _items(ranges, CONTAINER):
        for list_name in ("initContainers", "containers"):
            for ctr in spec.get(list_name) or []:
                resources = ctr.get("resources") if isinstance(ctr, dict) else None
                resources = resources if isinstance(resources, dict) else {}
                requests, limits = _raw(resources.get("requests")), _raw(resources.get("limits"))
                problems += _check(CONTAINER, item, requests, limits)
    pod_items = _items(ranges, POD)
    if pod_items:
        requests_sum, limits_sum = pod_requests_and_limits(pod)
        requests = {k: format_quantity(v) for k, v in requests_sum.items()}
        limits = {k: format_quantity(v) for k, v in limits_sum.items()}
        for item in pod_items:
            problems += _check(POD, item, requests, limits)
    return problems


def claim_problems(claim: Obj, ranges: Iterable[Obj]) -> list[str]:
    """A claim's storage request against PersistentVolumeClaim items (limits on claims are
    not user input: only the request is bounded)."""
    spec = field_dict(claim, "spec")
    resources = field_dict(spec, "resources")
    requests = _raw(resources.get("requests"))
    problems: list[str | None] = []
    for item in _items(ranges, CLAIM):
        problems += [min_problem(CLAIM, n, v, requests, {}) for n, v in sorted(_raw(item.get("min")).items())]
        for name, value in sorted(_raw(item.get("max")).items()):
            request = _amount(requests, name)
            if request is not None and request > parse_quantity(value):
                problems.append(
                    f"maximum {name} usage per {CLAIM} is {_shown(value)}, but request is {_shown(requests[name])}"
                )
    return [p for p in problems if p is not None]


def aggregate(problems: list[str]) -> str:
    """One message for several problems, as upstream's ``NewAggregate`` prints them."""
    return problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"


class LimitRanger:
    """The admission plugin; ``limit_ranges(namespace)`` lists a namespace's LimitRanges."""

    name = "LimitRanger"

    def __init__(self, limit_ranges: Callable[[str], list[Obj]]) -> None:
        self._limit_ranges = limit_ranges

    def handles(self, attrs: Attributes) -> bool:
        if attrs.subresource is not None or not attrs.namespace:
            return False
        if attrs.is_kind("", "Pod"):
            # containers cannot be added or changed later: only a new pod is defaulted
            return attrs.operation == CREATE
        return attrs.is_kind("", "PersistentVolumeClaim") and attrs.operation in (CREATE, UPDATE)

    async def admit(self, attrs: Attributes) -> None:
        if attrs.is_kind("", "Pod"):
            default_pod(attrs.obj, self._limit_ranges(str(attrs.namespace)))

    async def validate(self, attrs: Attributes) -> None:
        ranges = self._limit_ranges(str(attrs.namespace))
        if not ranges:
            return
        if attrs.is_kind("", "Pod"):
            problems = pod_problems(attrs.obj, ranges)
        else:
            problems = claim_problems(attrs.obj, ranges)
        if problems:
            raise forbidden(attrs, aggregate(problems))


__all__ = ["ANNOTATION", "LimitRanger", "claim_problems", "default_pod", "pod_problems"]
