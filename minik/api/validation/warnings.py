"""Warnings for objects that are accepted but probably not what their author meant.

Upstream answers some questionable values with a ``Warning`` header instead of an
error, because rejecting them would break objects that were already accepted
(``pkg/api/pod/warnings.go``). The server sends these back with a successful write;
kubectl prints them as ``Warning: ...``.

Only the warnings minik acts on are here: a negative
``terminationGracePeriodSeconds`` is stored as sent but treated as 1 second when
the pod is deleted (see ``PodStrategy.grace_period``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["warnings_for"]

Obj = dict[str, Any]

#: Where a kind keeps its pod spec, as a path of field names.
_POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}


def warnings_for(kind: str, obj: Any) -> list[str]:
    """The warnings a write of ``obj`` (of the URL's ``kind``) gets back."""
    path = _POD_SPEC_PATHS.get(kind)
    if path is None:
        return []
    spec = obj
    for step in path:
        spec = spec.get(step) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return []
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and not isinstance(grace, bool) and grace < 0:
        field = ".".join((*path, "terminationGracePeriodSeconds"))
        return [f"{field}: must be >= 0; negative values are invalid and will be treated as 1"]
    return []
