"""Validation of API objects, the way upstream's API server validates them.

The API server runs, for every write::

    create:  (uid, creationTimestamp)  ->  apply_defaults  ->  validate_create
    update:  (keep uid, timestamps, status)  ->  apply_defaults  ->  validate_update
    status:  (keep everything but status)  ->  validate_status_update

Each function returns a list of ``FieldError``; an empty list means the object is
valid, otherwise the server answers ``422 Invalid`` with one ``details.causes`` entry
per error (``spec.containers[1].name: Duplicate value: "a"``).

Validation runs *after* defaulting, exactly as upstream: a Deployment without a
``strategy`` is valid because defaulting filled it in, while a Job without a
``restartPolicy`` is not, because the pod default ``Always`` is not allowed for Jobs.

The rules are chosen by the *resource the request names* -- the caller passes the
``(group, kind)`` of the URL's resource, never what the body claims to be. A body that
calls itself another kind (a JSON patch replacing ``/kind``, say) must not pick its own,
laxer rules; the API server rejects such a body before it gets here.

Rules are grouped by API group, one module each: ``meta`` (what every object shares),
``pod`` and ``containers`` (pod specs, also inside templates), ``service``, ``core``
(other v1 kinds), ``apps``, ``batch``, ``discovery``, ``coordination``, ``scheduling``, ``policy``, ``networking`` and ``rbac``. Kinds minik
does not know (custom resources, say) get the metadata rules only.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from minik.api.field import FieldError, invalid
from minik.api.validation.common import KindRules, api_group

__all__ = ["GroupKind", "group_kind", "validate_create", "validate_status_update", "validate_update"]

_DEFAULT_RULES = KindRules()


@cache
def _registry() -> dict[tuple[str, str], KindRules]:
    # Imported on first use: the rule modules need minik.api.selectors, which itself
    # imports minik.api.validation.names, so importing them here eagerly would be circular.
    from minik.api.validation import (
        apps,
        batch,
        coordination,
        core,
        discovery,
        networking,
        pod,
        policy,
        rbac,
        scheduling,
        service,
    )

    rules: dict[tuple[str, str], KindRules] = {}
    for module in (
        pod,
        service,
        core,
        apps,
        batch,
        discovery,
        networking,
        policy,
        coordination,
        scheduling,
        rbac,
    ):
        rules.update(module.RULES)
    return rules


GroupKind = tuple[str, str]


def group_kind(obj: Any) -> GroupKind:
    """What an object says it is: ``("apps", "Deployment")``. Only for callers with no URL
    (tests, tools); the API server validates by the resource of the request."""
    if not isinstance(obj, dict):
        return ("", "")
    kind = obj.get("kind")
    return (api_group(obj), kind if isinstance(kind, str) else "")


def _rules(kind: GroupKind) -> tuple[KindRules, bool]:
    """The rules for a kind, and whether it is a kind minik knows."""
    found = _registry().get(kind)
    return (found, True) if found is not None else (_DEFAULT_RULES, False)


def _not_an_object(obj: Any) -> list[FieldError]:
    return [] if isinstance(obj, dict) else [invalid("", obj, "must be a JSON object")]


def validate_create(obj: dict[str, Any], *, namespaced: bool, kind: GroupKind) -> list[FieldError]:
    """Everything wrong with a new object (metadata and body)."""
    from minik.api.validation.meta import validate_object_meta

    if bad := _not_an_object(obj):
        return bad
    rules, builtin = _rules(kind)
    errs = validate_object_meta(obj, namespaced=namespaced, name_rule=rules.name, builtin=builtin)
    if rules.validate is not None:
        errs += rules.validate(obj)
    return errs


def validate_update(
    obj: dict[str, Any], old: dict[str, Any], *, namespaced: bool, kind: GroupKind
) -> list[FieldError]:
    """Everything wrong with a replacement for ``old``: the create rules for the body,
    plus what may not change (identity in metadata, immutable spec fields)."""
    from minik.api.validation.meta import validate_object_meta_update

    if bad := _not_an_object(obj) or _not_an_object(old):
        return bad
    rules, builtin = _rules(kind)
    errs = validate_object_meta_update(obj, old, builtin=builtin)
    if rules.validate is not None:
        errs += rules.validate(obj)
    if rules.update is not None:
        errs += rules.update(obj, old)
    return errs


def validate_status_update(
    obj: dict[str, Any], old: dict[str, Any], *, namespaced: bool, kind: GroupKind
) -> list[FieldError]:
    """A write to the ``status`` subresource: metadata identity plus status rules.

    The spec of ``obj`` is not looked at -- upstream's status strategy discards spec
    changes made through the status endpoint, and the API server should do the same.
    """
    from minik.api.validation.meta import validate_object_meta_update

    if bad := _not_an_object(obj) or _not_an_object(old):
        return bad
    rules, builtin = _rules(kind)
    errs = validate_object_meta_update(obj, old, builtin=builtin)
    if rules.status is not None:
        errs += rules.status(obj, old)
    return errs
