"""Metadata-only answers: ``PartialObjectMetadata`` and ``PartialObjectMetadataList``.

Some clients need every object's metadata but none of its spec: the garbage
collector and the namespace controller upstream, ``kubectl get --show-kind`` of
arbitrary kinds, operators that only read owners and labels (client-go's
``metadata`` client and metadata informers). They ask with the Accept header::

    GET .../pods        Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1
    GET .../pods/web    Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1

and the server answers the same list or object reduced to its metadata::

    {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
     "metadata": {"resourceVersion": "42"},
     "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": {"name": "web", "namespace": "default", ...}}]}

A watch asked for the same way sends each event's object as a
``PartialObjectMetadata``. Like upstream, a list asked for as a single
``PartialObjectMetadata`` (or an object as a list) is 406 Not Acceptable.

The Accept header is a list of choices in order of preference; client-go puts
protobuf first, which minik does not encode, so that choice is passed over and the
first choice minik can serve decides.
"""

from __future__ import annotations

from typing import Any

from minik.api import errors

Obj = dict[str, Any]

GROUP = "meta.k8s.io"
API_VERSION = "meta.k8s.io/v1"
OBJECT = "PartialObjectMetadata"
LIST = "PartialObjectMetadataList"
_VERSIONS = ("v1", "v1beta1")
_UNSERVED = ("application/vnd.kubernetes.protobuf", "application/cbor")


def _media_ranges(accept: str) -> list[tuple[str, dict[str, str]]]:
    """``a/b;k=v,c/d`` → ``[("a/b", {"k": "v"}), ("c/d", {})]``."""
    ranges = []
    for part in accept.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        values = {}
        for param in params:
            key, _, value = param.partition("=")
            values[key.strip().lower()] = value.strip()
        if kind:
            ranges.append((kind.lower(), values))
    return ranges


def requested(accept: str) -> str | None:
    """``OBJECT`` or ``LIST`` when the first servable choice of ``accept`` asks for one; else None."""
    if "PartialObjectMetadata" not in accept:  # the common case costs one substring search
        return None
    for media_type, params in _media_ranges(accept):
        if media_type.startswith(_UNSERVED):
            continue
        wanted = params.get("as")
        if wanted in (OBJECT, LIST) and params.get("g") == GROUP and params.get("v") in _VERSIONS:
            return wanted
        return None  # a plain JSON (or Table) choice comes first
    return None


def not_acceptable(wanted: str, collection: bool) -> errors.APIError:
    expected = LIST if collection else OBJECT
    return errors.not_acceptable(
        f"only the following media types are accepted: application/json;as={expected};g={GROUP};v=v1 "
        f"(asked for {wanted} on {'a list' if collection else 'an object'})"
    )


def of_object(obj: Obj) -> Obj:
    """One object reduced to its metadata."""
    return {"kind": OBJECT, "apiVersion": API_VERSION, "metadata": obj.get("metadata") or {}}


def of_list(items: list[Obj], list_meta: Obj) -> Obj:
    """A list answer reduced to its items' metadata (the list's own metadata kept whole)."""
    return {
        "kind": LIST,
        "apiVersion": API_VERSION,
        "metadata": list_meta,
        "items": [of_object(item) for item in items],
    }
