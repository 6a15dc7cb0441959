"""Validation of ``metadata`` and of the label machinery every kind shares.

Every object, whatever its kind, carries the same ``ObjectMeta``: a name that must be a
valid DNS name (so it can appear in URLs, DNS records and hostnames), a namespace for
namespaced kinds, labels and annotations with qualified-name keys, owner references
that the garbage collector follows, and finalizers that hold deletion back. Upstream
checks all of this in ``apimachinery/pkg/api/validation/objectmeta.go`` plus a few extra
rules for built-in kinds in ``pkg/apis/core/validation``; this module follows both,
including their field paths, so ``metadata.labels: Invalid value: "-x": ...`` reads
exactly like a real cluster's answer.

Labels get special care because selectors are built on them: a label key is a
qualified name (``example.com/name``), a value is at most 63 characters of
``[A-Za-z0-9._-]``. Annotations only need qualified keys but may hold large values,
up to 256 KiB in total per object.
"""

from __future__ import annotations

from typing import Any

from minik.api.field import ErrorType, FieldError, forbidden, invalid, required, too_long
from minik.api.validation import names
from minik.api.validation.common import (
    Errors,
    NameRule,
    Obj,
    child,
    dicts,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    get_str_list,
    get_str_map,
    immutable,
    index,
    nonnegative,
    qualified_name,
)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
STANDARD_FINALIZERS = frozenset({"kubernetes", "orphan", "foregroundDeletion"})
_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _mask_trailing_dash(name: str) -> str:
    """A generateName prefix may end in '-': the random suffix follows it."""
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def validate_object_meta(obj: Obj, *, namespaced: bool, name_rule: NameRule, builtin: bool = True) -> Errors:
    """Upstream's ValidateObjectMeta for a create.

    ``builtin`` adds the extra finalizer rule upstream applies to its own kinds: a
    finalizer without a ``domain/`` prefix must be one of the standard names.
    """
    errs: Errors = []
    meta = get_dict(obj, "metadata", "metadata", errs)
    generate_name = get_str(meta, "generateName", "metadata.generateName", errs)
    if generate_name:
        errs += [
            invalid("metadata.generateName", generate_name, msg)
            for msg in name_rule(_mask_trailing_dash(generate_name))
        ]
    name = get_str(meta, "name", "metadata.name", errs)
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs += [invalid("metadata.name", name, msg) for msg in name_rule(name)]

    namespace = get_str(meta, "namespace", "metadata.namespace", errs)
    if namespaced:
        if not namespace:
            errs.append(required("metadata.namespace"))
        else:
            errs += [
                invalid("metadata.namespace", namespace, msg) for msg in names.is_dns1123_label(namespace)
            ]
    elif namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))

    errs += nonnegative(get_int(meta, "generation", "metadata.generation", errs), "metadata.generation")
    errs += _common_meta(meta, builtin=builtin)
    return errs


def validate_object_meta_update(obj: Obj, old: Obj, *, builtin: bool = True) -> Errors:
    """Upstream's ValidateObjectMetaUpdate: identity fields never change.

    Name and namespace are part of the URL, the uid is the identity the garbage
    collector and owner references rely on, and the creation timestamp is history.
    (The API server copies uid and creationTimestamp from the stored object when a
    client leaves them out, before validation, as upstream does.)
    """
    errs: Errors = []
    meta = get_dict(obj, "metadata", "metadata", errs)
    old_meta = old.get("metadata")
    if not isinstance(old_meta, dict):
        old_meta = {}

    if old_meta.get("deletionTimestamp"):
        new_finalizers = set(get_str_list(meta, "finalizers", "metadata.finalizers", []))
        extra = sorted(new_finalizers - set(_strings(old_meta.get("finalizers"))))
        if extra:
            shown = "[]string{" + ", ".join(f'"{f}"' for f in extra) + "}"
            errs.append(
                forbidden(
                    "metadata.finalizers",
                    f"no new finalizers can be added if the object is being deleted, found new finalizers {shown}",
                )
            )

    generation = get_int(meta, "generation", "metadata.generation", errs)
    old_generation = old_meta.get("generation")
    if generation is not None and isinstance(old_generation, int) and generation < old_generation:
        errs.append(invalid("metadata.generation", generation, "must not be decremented"))

    for field in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        errs += immutable(meta.get(field), old_meta.get(field), f"metadata.{field}")
    errs += _common_meta(meta, builtin=builtin)
    return errs


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _common_meta(meta: Obj, *, builtin: bool) -> Errors:
    errs: Errors = []
    errs += validate_labels(get_str_map(meta, "labels", "metadata.labels", errs), "metadata.labels")
    errs += validate_annotations(
        get_str_map(meta, "annotations", "metadata.annotations", errs), "metadata.annotations"
    )
    errs += validate_owner_references(get_list(meta, "ownerReferences", "metadata.ownerReferences", errs))
    finalizers = get_str_list(meta, "finalizers", "metadata.finalizers", errs)
    errs += validate_finalizers(finalizers, "metadata.finalizers")
    if builtin:
        for i, finalizer in enumerate(finalizers):
            errs += kube_finalizer_name(finalizer, index("metadata.finalizers", i), qualified_checked=True)
    return errs


def validate_labels(labels: dict[str, str], path: str) -> Errors:
    """Every key a qualified name, every value a label value; errors name the map itself.

    Upstream reports both kinds of problem at the path of the whole map
    (``metadata.labels``), showing the offending key or value as the bad value.
    Keys are visited in sorted order so the error list is stable.
    """
    errs: Errors = []
    for k in sorted(labels):
        errs += qualified_name(k, path)
        errs += [invalid(path, labels[k], msg) for msg in names.is_label_value(labels[k])]
    return errs


def validate_annotations(annotations: dict[str, str], path: str) -> Errors:
    errs: Errors = []
    for k in sorted(annotations):
        # Case does not matter in annotation keys, so upstream lower-cases before checking.
        errs += [invalid(path, k, msg) for msg in names.is_qualified_name(k.lower())]
    total = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_owner_references(refs: list[Any]) -> Errors:
    """Owner references are what the garbage collector walks; each must name its owner fully.

    At most one reference may be the *controller*: the one object that manages this
    one (the ReplicaSet of a Pod). Two controllers would fight over it. Upstream
    reports per-reference problems without an index (``metadata.ownerReferences.uid``).
    """
    path = "metadata.ownerReferences"
    errs: Errors = []
    first_controller = ""
    for _, ref in dicts(refs, path, errs):
        api_version = get_str(ref, "apiVersion", child(path, "apiVersion"), errs)
        kind = get_str(ref, "kind", child(path, "kind"), errs)
        name = get_str(ref, "name", child(path, "name"), errs)
        uid = get_str(ref, "uid", child(path, "uid"), errs)
        version = api_version.rsplit("/", 1)[-1]
        if not version:
            errs.append(invalid(child(path, "apiVersion"), api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(child(path, "kind"), kind, "must not be empty"))
        if not name:
            errs.append(invalid(child(path, "name"), name, "must not be empty"))
        if not uid:
            errs.append(invalid(child(path, "uid"), uid, "must not be empty"))
        if api_version == "v1" and kind == "Event":
            errs.append(invalid(path, ref, "/v1, Kind=Event is disallowed from being an owner"))
        if get_bool(ref, "controller", child(path, "controller"), errs):
            current = f"{kind}/{name}"
            if first_controller:
                errs.append(
                    invalid(
                        path,
                        refs,
                        'Only one reference can have Controller set to true. Found "true" in '
                        f"references for {first_controller} and {current}",
                    )
                )
            else:
                first_controller = current
    return errs


def validate_finalizers(finalizers: list[str], path: str) -> Errors:
    errs: Errors = []
    for finalizer in finalizers:
        errs += qualified_name(finalizer, path)
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def kube_finalizer_name(name: str, path: str, *, qualified_checked: bool = False) -> Errors:
    """Built-in kinds: an unprefixed finalizer must be one Kubernetes itself defines.

    (Upstream also repeats the qualified-name check at the indexed path; minik reports
    that problem once, at ``metadata.finalizers``, when ``qualified_checked`` is set.)
    """
    errs = [] if qualified_checked else qualified_name(name, path)
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(
            invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified")
        )
    return errs


def validate_label_selector(selector: Any, path: str) -> Errors:
    """Upstream's ValidateLabelSelector for a structured ``metav1.LabelSelector``.

    Checks syntax only; whether a selector matches anything is the caller's business.
    """
    errs: Errors = []
    if selector is None:
        return errs
    if not isinstance(selector, dict):
        return [invalid(path, selector, "must be an object")]
    match_labels = get_str_map(selector, "matchLabels", child(path, "matchLabels"), errs)
    errs += validate_labels(match_labels, child(path, "matchLabels"))
    exprs_path = child(path, "matchExpressions")
    for i, expr in dicts(get_list(selector, "matchExpressions", exprs_path, errs), exprs_path, errs):
        errs += _selector_requirement(expr, index(exprs_path, i))
    return errs


def _selector_requirement(expr: Obj, path: str) -> Errors:
    errs: Errors = []
    operator = get_str(expr, "operator", child(path, "operator"), errs)
    values = get_str_list(expr, "values", child(path, "values"), errs)
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                forbidden(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    else:
        errs.append(invalid(child(path, "operator"), operator, "not a valid selector operator"))
    errs += qualified_name(get_str(expr, "key", child(path, "key"), errs), child(path, "key"))
    for i, value in enumerate(values):
        errs += [invalid(index(child(path, "values"), i), value, msg) for msg in names.is_label_value(value)]
    return errs


def has_label(labels: dict[str, str], path: str, label: str, expected: str) -> Errors:
    """Upstream's ValidateHasLabel: ``labels[label]`` must be exactly ``expected``."""
    lpath = f"{child(path, 'labels')}[{label}]"
    if label not in labels:
        return [required(lpath, f"must be '{expected}'")]
    if labels[label] != expected:
        return [invalid(lpath, labels, f"must be '{expected}'")]
    return []


def duplicate_with_detail(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, value, detail)
