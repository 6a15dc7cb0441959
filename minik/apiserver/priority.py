"""Priority admission: a pod's ``priorityClassName`` becomes its ``spec.priority``.

Pods do not carry a priority of their own choosing. They name a PriorityClass and the
API server, when the pod is created, copies the class's ``value`` into
``spec.priority`` and its ``preemptionPolicy`` into ``spec.preemptionPolicy``
(upstream's ``Priority`` admission plugin). The scheduler then only reads numbers: it
pops higher priorities first and may preempt lower ones to make room.

The rules, as upstream:

* no class named: the class marked ``globalDefault: true`` is used (its name is
  written into the pod too); without one the pod gets priority 0 and may preempt;
* a class that does not exist: 403 ``no PriorityClass with name x was found``;
* a pod that sets ``priority`` (or ``preemptionPolicy``) itself is only accepted if it
  says what the class says -- otherwise anyone could give themselves any priority;
* on update, a pod that leaves the fields out keeps the stored values (pod
  validation refuses any change to them).

PriorityClasses themselves are checked here for the one rule that needs the other
classes -- at most one may be the global default -- and the two system classes may not
be deleted (``system-cluster-critical``, ``system-node-critical``: the cluster's own
pods name them).

Classes are read from the API server's watch cache, like upstream reads them from an
informer; a name missing there is looked up in etcd before the pod is refused, so a
class created just before the pod is always found.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from minik.api import errors
from minik.api.validation.scheduling import SYSTEM_PRIORITY_CLASSES

Obj = dict[str, Any]

#: A pod without a class when no class is the global default gets this priority.
DEFAULT_PRIORITY = 0
PREEMPT_LOWER_PRIORITY = "PreemptLowerPriority"


@dataclass(frozen=True)
class PriorityClasses:
    """Where admission reads classes from: the cached ones, and one by name, fresh."""

    cached: Callable[[], Iterable[Obj]]
    get: Callable[[str], Awaitable[Obj | None]]


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The class pods without a ``priorityClassName`` get, if any.

    Two defaults can exist after racing creates; like upstream, the lower value wins,
    so a race never raises anyone's priority.
    """
    defaults = [pc for pc in classes if pc.get("globalDefault") is True]
    return min(defaults, key=_value, default=None)


def _value(pc: Obj) -> int:
    value = pc.get("value")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _forbidden(pod: Obj, message: str) -> errors.APIError:
    name = str((pod.get("metadata") or {}).get("name") or "")
    details: Obj = {"kind": "pods"}
    if name:
        details["name"] = name
    return errors.APIError(403, "Forbidden", f'pods "{name}" is forbidden: {message}', details=details)


async def admit_pod_create(pod: Obj, classes: PriorityClasses) -> None:
    """Resolve a new pod's priority from its class, or refuse the pod (403)."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return  # validation reports the missing spec
    class_name = spec.get("priorityClassName")
    policy: str | None
    if not class_name:
        pc = default_class(classes.cached())
        if pc is None:
            priority, policy = DEFAULT_PRIORITY, PREEMPT_LOWER_PRIORITY
        else:
            spec["priorityClassName"] = (pc.get("metadata") or {}).get("name")
            priority, policy = _value(pc), pc.get("preemptionPolicy")
    elif not isinstance(class_name, str):
        return  # validation reports the wrong type
    else:
        found = await classes.get(class_name)
        if found is None:
            raise _forbidden(pod, f"no PriorityClass with name {class_name} was found")
        priority, policy = _value(found), found.get("preemptionPolicy")
    given = spec.get("priority")
    if given is not None and given != priority:
        raise _forbidden(
            pod,
            f"the integer value of priority ({given}) must not be provided in pod spec; "
            f"priority admission controller computed {priority} from the given PriorityClass name",
        )
    spec["priority"] = priority
    if isinstance(policy, str):
        given_policy = spec.get("preemptionPolicy")
        if given_policy is not None and given_policy != policy:
            raise _forbidden(
                pod,
                f"the string value of PreemptionPolicy ({given_policy}) must not be provided in pod spec; "
                f"priority admission controller computed {policy} from the given PriorityClass name",
            )
        spec["preemptionPolicy"] = policy


def keep_pod_priority(new: Obj, old: Obj) -> None:
    """An update that leaves out the admitted fields keeps them (validation forbids changes)."""
    spec, old_spec = new.get("spec"), old.get("spec")
    if not isinstance(spec, dict) or not isinstance(old_spec, dict):
        return
    for name in ("priority", "preemptionPolicy"):
        if spec.get(name) is None and old_spec.get(name) is not None:
            spec[name] = old_spec[name]


def admit_priority_class(pc: Obj, cached: Iterable[Obj]) -> None:
    """Refuse a second global default (403), naming the class that already is one.

    Runs on create and update: marking an existing class as default while another
    one is, is refused the same way."""
    if pc.get("globalDefault") is not True:
        return
    name = (pc.get("metadata") or {}).get("name")
    others = [c for c in cached if (c.get("metadata") or {}).get("name") != name]
    existing = default_class(others)
    if existing is None:
        return
    existing_name = (existing.get("metadata") or {}).get("name")
    raise errors.APIError(
        403,
        "Forbidden",
        f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: '
        f"PriorityClass {existing_name} is marked as default. Only one default can exist",
        details={"name": str(name), "group": "scheduling.k8s.io", "kind": "priorityclasses"},
    )


def is_system_class(group: str, kind: str, name: str) -> bool:
    """Whether ``name`` is one of the built-in PriorityClasses."""
    return (group, kind) == ("scheduling.k8s.io", "PriorityClass") and name in SYSTEM_PRIORITY_CLASSES


def refuse_system_class_delete(name: str) -> None:
    """403 for deleting a built-in class, as upstream's priorityclass storage answers."""
    if name in SYSTEM_PRIORITY_CLASSES:
        raise errors.APIError(
            403,
            "Forbidden",
            f'priorityclasses.scheduling.k8s.io "{name}" is forbidden: '
            "this is a system priority class and cannot be deleted",
            details={"name": name, "group": "scheduling.k8s.io", "kind": "priorityclasses"},
        )
