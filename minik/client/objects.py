"""Helpers for Kubernetes objects as plain JSON dicts.

minik's client never wraps objects in classes: what the API server sends is
what callers get, a ``dict`` in the exact wire shape (``metadata.name``,
``spec.nodeName``, ...). These helpers read the few fields every piece of
client machinery needs — the cache key, the resourceVersion, owner references —
without each caller re-spelling ``obj.get("metadata", {}).get(...)``.

Keys follow client-go's ``MetaNamespaceKeyFunc``: ``namespace/name`` for
namespaced objects and plain ``name`` for cluster-scoped ones (Nodes,
Namespaces). A key is what flows through a work queue; a reconciler splits it
back with :func:`split_key` and reads the object from the informer cache.

**Objects from a cache are shared.** Every reader of an informer sees the same
dict; mutating it corrupts the cache for all of them and makes the next diff
wrong. Take a :func:`deepcopy` before changing anything (sample-controller's
``DeepCopy()`` rule).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

#: A Kubernetes object (or any JSON object) as decoded from the wire.
Obj = dict[str, Any]


def deepcopy(obj: Obj) -> Obj:
    """A deep copy of a JSON object, safe to mutate.

    Round-tripping through orjson is several times faster than
    :func:`copy.deepcopy` for JSON-shaped data, and everything the API server
    sends is JSON-shaped.
    """
    result: Obj = orjson.loads(orjson.dumps(obj))
    return result


def metadata(obj: Obj) -> dict[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def spec_of(obj: Obj) -> dict[str, Any]:
    """``obj.spec``, or ``{}`` when it is missing or not an object."""
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def status_of(obj: Obj) -> dict[str, Any]:
    """``obj.status``, or ``{}`` when it is missing or not an object."""
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def labels_of(obj: Obj) -> dict[str, str]:
    labels = metadata(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(obj: Obj) -> dict[str, str]:
    annotations = metadata(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def generation_of(obj: Obj) -> int:
    return int(metadata(obj).get("generation") or 0)


def is_being_deleted(obj: Obj) -> bool:
    """A ``deletionTimestamp`` is set: the object is only waiting for its finalizers (or grace)."""
    return bool(metadata(obj).get("deletionTimestamp"))


def int_field(obj: dict[str, Any], key: str, default: int = 0) -> int:
    """``obj[key]`` if it is an integer (a JSON ``true`` is not), else ``default``."""
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def finalizers_of(obj: Obj) -> list[str]:
    value = metadata(obj).get("finalizers")
    return [str(f) for f in value] if isinstance(value, list) else []


def get_condition(status: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The condition of type ``kind`` in ``status.conditions`` (pods, nodes, Jobs, …), if any."""
    for cond in status.get("conditions") or []:
        if isinstance(cond, dict) and cond.get("type") == kind:
            return cond
    return None


def name_of(obj: Obj) -> str:
    return str(metadata(obj).get("name") or "")


def namespace_of(obj: Obj) -> str | None:
    ns = metadata(obj).get("namespace")
    return str(ns) if ns else None


def uid_of(obj: Obj) -> str | None:
    uid = metadata(obj).get("uid")
    return str(uid) if uid else None


def resource_version_of(obj: Obj) -> str | None:
    rv = metadata(obj).get("resourceVersion")
    return str(rv) if rv else None


def object_key(obj: Obj) -> str:
    """``namespace/name`` (or ``name`` for a cluster-scoped object)."""
    name = name_of(obj)
    if not name:
        raise ValueError("object has no metadata.name")
    ns = namespace_of(obj)
    return f"{ns}/{name}" if ns else name


def make_key(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str | None, str]:
    """The inverse of :func:`object_key`: ``(namespace or None, name)``."""
    namespace, sep, name = key.partition("/")
    if not sep:
        return None, key
    if not namespace or not name or "/" in name:
        raise ValueError(f"invalid object key {key!r}: want namespace/name or name")
    return namespace, name


def owner_references(obj: Obj) -> list[dict[str, Any]]:
    refs = metadata(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def controller_ref(obj: Obj) -> dict[str, Any] | None:
    """The one owner reference with ``controller: true``, if any."""
    for ref in owner_references(obj):
        if ref.get("controller") is True:
            return ref
    return None


def group_of(api_version: str) -> str:
    """``apps`` for ``apps/v1``; ``""`` (the core group) for ``v1``."""
    group, sep, _ = api_version.rpartition("/")
    return group if sep else ""


def format_time(dt: datetime) -> str:
    """A ``metav1.Time``: RFC 3339 in UTC with whole seconds (``2024-01-01T00:00:00Z``)."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(dt: datetime) -> str:
    """A ``metav1.MicroTime``: RFC 3339 in UTC with microseconds
    (``2024-01-01T00:00:00.000000Z``), as Leases and ``eventTime`` use."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime:
    """Parse a ``Time`` or ``MicroTime`` (any RFC 3339 the API server emits)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_optional_time(value: Any) -> datetime | None:
    """Like :func:`parse_time`, but ``None`` for a missing or malformed value
    (a controller must not crash on a hand-edited timestamp)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        return None


def creation_time(obj: Obj) -> datetime | None:
    return parse_optional_time(metadata(obj).get("creationTimestamp"))


def creation_sort_key(obj: Obj) -> tuple[float, str]:
    """Oldest first; the name breaks ties (creation times have whole seconds)."""
    created = creation_time(obj)
    return (created.timestamp() if created else 0.0, name_of(obj))
