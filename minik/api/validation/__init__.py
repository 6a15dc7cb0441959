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

Rules are grouped by API group, one module each: ``meta`` (what every object shares),
``pod`` and ``containers`` (pod specs, also inside templates), ``service``, ``core``
(other v1 kinds), ``apps``, ``batch``, ``discovery``, ``coordination`` and ``rbac``. Kinds minik
does not know (custom resources, say) get the metadata rules only.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from minik.api.field import FieldError, invalid
from minik.api.validation.common import KindRules, api_group

__all__ = ["validate_create", "validate_status_update", "validate_update"]

_DEFAULT_RULES = KindRules()


@cache
def _registry() -> dict[tuple[str, str], KindRules]:
    # Imported on first use: the rule modules need minik.api.selectors, which itself
    # imports minik.api.validation.names, so importing them here eagerly would be circular.
    from minik.api.validation import apps, batch, coordination, core, discovery, pod, rbac, service

    rules: dict[tuple[str, str], KindRules] = {}
    for module in (pod, service, core, apps, batch, discovery, coordination, rbac):
        rules.update(module.RULES)
    return rules


def _rules(obj: dict[str, Any]) -> tuple[KindRules, bool]:
    """The rules for this object's kind, and whether it is a kind minik knows."""
    kind = obj.get("kind")
    found = _registry().get((api_group(obj), kind if isinstance(kind, str) else ""))
    return (found, True) if found is not None else (_DEFAULT_RULES, False)


def _not_an_object(obj: Any) -> list[FieldError]:
    return [] if isinstance(obj, dict) else [invalid("", obj, "must be a JSON object")]


def validate_create(obj: dict[str, Any], *, namespaced: bool) -> list[FieldError]:
    """Everything wrong with a new object (metadata and body)."""
    from minik.api.validation.meta import validate_object_meta

    if bad := _not_an_object(obj):
        return bad
    rules, builtin = _rules(obj)
    errs = validate_object_meta(obj, namespaced=namespaced, name_rule=rules.name, builtin=builtin)
    if rules.validate is not None:
        errs += rules.validate(obj)
    return errs


def validate_update(obj: dict[str, Any], old: dict[str, Any], *, namespaced: bool) -> list[FieldError]:
    """Everything wrong with a replacement for ``old``: the create rules for the body,
    plus what may not change (identity in metadata, immutable spec fields)."""
    from minik.api.validation.meta import validate_object_meta_update

    if bad := _not_an_object(obj) or _not_an_object(old):
        return bad
    rules, builtin = _rules(obj)
    errs = validate_object_meta_update(obj, old, builtin=builtin)
    if rules.validate is not None:
        errs += rules.validate(obj)
    if rules.update is not None:
        errs += rules.update(obj, old)
    return errs


def validate_status_update(obj: dict[str, Any], old: dict[str, Any], *, namespaced: bool) -> list[FieldError]:
    """A write to the ``status`` subresource: metadata identity plus status rules.

    The spec of ``obj`` is not looked at -- upstream's status strategy discards spec
    changes made through the status endpoint, and the API server should do the same.
    """
    from minik.api.validation.meta import validate_object_meta_update

    if bad := _not_an_object(obj) or _not_an_object(old):
        return bad
    rules, builtin = _rules(obj)
    errs = validate_object_meta_update(obj, old, builtin=builtin)
    if rules.status is not None:
        errs += rules.status(obj, old)
    return errs
