"""Template hashes and ControllerRevisions: naming a pod template and keeping old ones.

:func:`compute_hash` is the short, DNS-safe hash of a pod template that
Deployments put in ``pod-template-hash`` and DaemonSets and StatefulSets in
``controller-revision-hash``. A ControllerRevision snapshots a template
(:func:`new_controller_revision`) so an old one can be re-created (StatefulSet
partitions, ``kubectl rollout undo``); its ``data`` is the strategic patch
kubectl applies to roll back, so minik's revisions work with the real kubectl.
"""

from __future__ import annotations

from typing import Any

import orjson

from minik.client.objects import Obj, deepcopy, int_field, labels_of, name_of, namespace_of
from minik.controllers.ownership import controller_ref_to

#: Deployment → ReplicaSet → Pod: which template (hash) a ReplicaSet and its pods belong to.
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
#: DaemonSet/StatefulSet pods: which ControllerRevision (template) made them.
CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash"
#: ControllerRevisions: the hash part of their name.
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Map characters into an alphabet without vowels (no accidental words) or
    look-alikes, as upstream's ``rand.SafeEncodeString`` does."""
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def compute_hash(obj: Any, collision_count: int | None = None) -> str:
    """A short DNS-label-safe hash of a JSON value (a pod template), e.g. ``"7d4b9c8f6"``.

    FNV-32a over canonical JSON (sorted keys), plus the collision count when
    one is set — bumping ``status.collisionCount`` is how a controller gets a
    different name after a hash collision with an unrelated object.
    """
    data = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += collision_count.to_bytes(4, "little", signed=False)
    return safe_encode(str(fnv32a(data)))


def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes, for equality of JSON values regardless of key order."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


def revision_data(template: Obj) -> dict[str, Any]:
    """A ControllerRevision's ``data``: a strategic patch that restores ``spec.template``.

    This is the shape ``kubectl rollout undo`` applies for DaemonSets and
    StatefulSets, so minik's revisions work with the real kubectl.
    """
    tmpl = deepcopy(template)
    tmpl["$patch"] = "replace"
    return {"spec": {"template": tmpl}}


def template_from_revision(revision: Obj) -> Obj:
    data = revision.get("data")
    spec = data.get("spec") if isinstance(data, dict) else None
    tmpl = spec.get("template") if isinstance(spec, dict) else None
    result = deepcopy(tmpl) if isinstance(tmpl, dict) else {}
    result.pop("$patch", None)
    return result


def revision_number(revision: Obj) -> int:
    return int_field(revision, "revision")


def new_controller_revision(
    owner: Obj,
    template: Obj,
    revision: int,
    collision_count: int | None,
    *,
    hash_: str | None = None,
    hash_label: str = REVISION_HASH_LABEL,
) -> Obj:
    """An unsaved ControllerRevision snapshotting ``template`` for ``owner``.

    Named ``<owner>-<hash>``. StatefulSets hash the revision data and label it
    ``controller.kubernetes.io/hash`` (the defaults); DaemonSets pass the hash
    of the template itself and ``controller-revision-hash``, as upstream does.
    """
    data = revision_data(template)
    if hash_ is None:
        hash_ = compute_hash(data, collision_count)
    labels = dict(((template.get("metadata") or {}).get("labels")) or {})
    labels[hash_label] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": f"{name_of(owner)}-{hash_}",
            "namespace": namespace_of(owner),
            "labels": labels,
            "ownerReferences": [controller_ref_to(owner)],
        },
        "data": data,
        "revision": revision,
    }


def revision_hash(revision: Obj) -> str:
    """The hash part of a ControllerRevision (its label, else the name suffix)."""
    value = labels_of(revision).get(REVISION_HASH_LABEL)
    if value:
        return value
    return name_of(revision).rsplit("-", 1)[-1]


__all__ = [
    "CONTROLLER_REVISION_HASH_LABEL",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_HASH_LABEL",
    "canonical",
    "compute_hash",
    "new_controller_revision",
    "revision_data",
    "revision_hash",
    "revision_number",
    "template_from_revision",
]
