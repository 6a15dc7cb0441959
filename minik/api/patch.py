"""The three PATCH body formats the API server applies, as pure functions.

A PATCH request says how to change a stored object; its ``Content-Type`` says
which of three languages the body speaks:

``application/json-patch+json`` — RFC 6902 JSON Patch (:func:`apply_json_patch`)
    A list of operations (``add``, ``remove``, ``replace``, ``move``, ``copy``,
    ``test``) addressed by RFC 6901 JSON pointers (``/spec/containers/0/image``,
    with ``~1`` for ``/`` and ``~0`` for ``~`` inside a key, ``-`` for "after the
    last element"). Precise and order-sensitive; ``kubectl patch --type=json``
    and controllers that need ``test`` as a precondition send it.

``application/merge-patch+json`` — RFC 7386 JSON Merge Patch (:func:`apply_merge_patch`)
    A partial object: objects merge key by key, ``null`` deletes a key, anything
    else (lists included) replaces. ``kubectl patch --type=merge``, ``kubectl
    scale`` (on the ``/scale`` subresource) and most non-Go clients send it. It
    is also the only dialect that works on custom resources besides JSON Patch.

``application/strategic-merge-patch+json`` — Kubernetes strategic merge patch
(:func:`apply_strategic_merge_patch`)
    A merge patch that knows the schema: a list whose Go field carries
    ``patchStrategy:"merge"`` is merged element by element using its
    ``patchMergeKey`` (containers by ``name``, ports by ``containerPort``...), so
    a patch can change one container without restating the others. Client-side
    ``kubectl apply``, ``kubectl patch`` (the default type), ``kubectl
    annotate/label/set image`` and the Python client's ``patch_*`` methods with
    a dict body send it. Directives, keys starting with ``$``, say what plain
    JSON cannot: ``$patch: replace|delete|merge``, ``$retainKeys``,
    ``$setElementOrder/<list>`` and ``$deleteFromPrimitiveList/<list>``.

The schema knowledge lives in :data:`STRATEGIC_MERGE_FIELDS`, a table of field
paths per ``"<apiVersion>/<kind>"`` with the tags copied from upstream's
``k8s.io/api`` Go structs. Fields not in the table behave as in a JSON merge
patch: maps merge, lists are replaced. Upstream refuses strategic merge patches
for custom resources (415); :func:`strategic_merge_supported` tells the API
server which types have a table.

The semantics follow ``k8s.io/apimachinery/pkg/util/strategicpatch``, including
its ordering rule for merged lists: elements named in the patch keep the
patch's order (or ``$setElementOrder``'s), elements only on the server keep
their relative order, and the two are interleaved by the server's order — so a
new element named in a patch without ``$setElementOrder`` lands *before* the
server's elements, exactly as on a real cluster. Two deliberate differences:
``$patch: merge`` on a map is accepted as the explicit default (upstream rejects
it), and directives inside values that are added rather than merged are applied
to an empty value instead of being stored verbatim.

Every function copies its inputs before working, so callers (the watch cache,
informer stores) can pass shared objects. Failures raise :class:`PatchError`
with a message fit for the ``Status`` a client sees.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "STRATEGIC_MERGE_FIELDS",
    "FieldPatch",
    "PatchError",
    "PatchNotApplicable",
    "PatchTooLarge",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_strategic_merge_patch",
    "create_strategic_merge_patch",
    "strategic_merge_supported",
]


class PatchError(ValueError):
    """A malformed patch (400 Bad Request); the message says which part and why.

    The HTTP code follows the error's *class*, never its text: this base class is a
    patch the server could not read as one, :class:`PatchNotApplicable` a well-formed
    patch that does not fit the object, :class:`PatchTooLarge` one over the limits.
    """


class PatchNotApplicable(PatchError):
    """A well-formed patch that cannot be applied to this object (422 Invalid, as upstream).

    Upstream answers 422 when a JSON patch's operations fail on the object (a failed
    ``test``, a path that does not exist, an unknown ``op``) and when a strategic merge
    patch meets a list of lists or contradicts its own ``$retainKeys``.
    """


class PatchTooLarge(PatchError):
    """A JSON patch with too many operations, or whose copies would grow without bound (413)."""


#: Upstream's limit on the operations of one JSON patch (``maxJSONPatchOperations``).
MAX_JSON_PATCH_OPERATIONS: Final = 10_000
#: How many JSON nodes the ``copy`` operations of one patch may duplicate in total. A
#: ``copy`` of a value into itself doubles it, so without a budget some forty operations
#: in a two-kilobyte body would ask for 2**40 nodes (upstream's library has the same kind
#: of budget, ``AccumulatedCopySizeLimit``).
MAX_COPIED_NODES: Final = 100_000


# --------------------------------------------------------------------------- helpers


def _show(value: Any, limit: int = 80) -> str:
    """A short JSON rendering of a value for error messages."""
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: numbers compare by value, but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _identity(value: Any) -> Hashable:
    """A hashable stand-in for a JSON value with JSON equality (``1 == 1.0``, ``true != 1``)."""
    if value is None or isinstance(value, str):
        return (_json_type(value), value)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int | float):
        return ("number", float(value) if isinstance(value, float) and not value.is_integer() else int(value))
    return ("json", json.dumps(value, sort_keys=True))


# --------------------------------------------------------------------------- RFC 6902


_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")


class _OpError(Exception):
    """A JSON Patch failure inside one operation; the caller adds which one."""


def _parse_pointer(pointer: Any, member: str) -> list[str]:
    """Split an RFC 6901 JSON pointer into unescaped reference tokens."""
    if not isinstance(pointer, str):
        raise _OpError(f'"{member}" must be a string (a JSON pointer), got {_json_type(pointer)}')
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _OpError(f"{member} {pointer!r} is not a JSON pointer: it must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        if _BAD_ESCAPE.search(token):
            raise _OpError(f"{member} {pointer!r} has an invalid escape: '~' must be followed by 0 or 1")
    return [token.replace("~1", "/").replace("~0", "~") for token in tokens]


def _array_index(token: str, length: int, pointer: str, *, inserting: bool) -> int:
    if token == "-":
        if inserting:
            return length
        raise _OpError(
            f"path {pointer}: '-' (the end of the array) only works with add, move and copy targets"
        )
    if not _ARRAY_INDEX.fullmatch(token):
        raise _OpError(f"path {pointer}: {token!r} is not a valid array index")
    index = int(token)
    limit = length if inserting else length - 1
    if index > limit:
        raise _OpError(f"path {pointer}: index {index} is out of range (the array has {length} elements)")
    return index


def _resolve(doc: Any, tokens: list[str], pointer: str) -> Any:
    """The value at ``tokens`` inside ``doc``; every step must exist."""
    node = doc
    for depth, token in enumerate(tokens):
        if isinstance(node, dict):
            if token not in node:
                raise _OpError(f"path {pointer} does not exist")
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), pointer, inserting=False)]
        else:
            where = "/" + "/".join(tokens[:depth]) if depth else "the document root"
            raise _OpError(
                f"path {pointer} does not exist: {where} is a {_json_type(node)}, not an object or array"
            )
    return node


def _container(doc: Any, tokens: list[str], pointer: str) -> Any:
    """The object or array that holds the last token of ``tokens``."""
    parent = _resolve(doc, tokens[:-1], pointer)
    if not isinstance(parent, dict | list):
        raise _OpError(f"path {pointer} does not exist: its parent is a {_json_type(parent)}")
    return parent


def _add(doc: Any, tokens: list[str], pointer: str, value: Any) -> Any:
    if not tokens:
        return value
    parent = _container(doc, tokens, pointer)
    if isinstance(parent, dict):
        parent[tokens[-1]] = value
    else:
        parent.insert(_array_index(tokens[-1], len(parent), pointer, inserting=True), value)
    return doc


def _remove(doc: Any, tokens: list[str], pointer: str) -> Any:
    """Remove the value at ``tokens`` and return it."""
    if not tokens:
        raise _OpError("cannot remove the whole document (path is empty)")
    parent = _container(doc, tokens, pointer)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise _OpError(f"path {pointer} does not exist")
        return parent.pop(tokens[-1])
    return parent.pop(_array_index(tokens[-1], len(parent), pointer, inserting=False))


def _replace(doc: Any, tokens: list[str], pointer: str, value: Any) -> Any:
    if not tokens:
        return value
    parent = _container(doc, tokens, pointer)
    if isinstance(parent, dict):
        if tokens[-1] not in parent:
            raise _OpError(f"path {pointer} does not exist")
        parent[tokens[-1]] = value
    else:
        parent[_array_index(tokens[-1], len(parent), pointer, inserting=False)] = value
    return doc


def _nodes(value: Any, budget: int) -> int:
    """How many JSON nodes ``value`` holds, counting no further than ``budget + 1``."""
    count, stack = 0, [value]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _member(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise _OpError(f'missing "{name}"')
    return op[name]


def _apply_op(doc: Any, op: dict[str, Any], copy_budget: list[int]) -> Any:
    """Apply one operation; ``copy_budget[0]`` is what copies may still duplicate."""
    kind = op["op"]
    pointer = _member(op, "path")
    tokens = _parse_pointer(pointer, "path")
    if kind == "add":
        return _add(doc, tokens, pointer, _member(op, "value"))
    if kind == "remove":
        _remove(doc, tokens, pointer)
        return doc
    if kind == "replace":
        return _replace(doc, tokens, pointer, _member(op, "value"))
    if kind == "test":
        expected = _member(op, "value")
        actual = _resolve(doc, tokens, pointer)
        if not _json_equal(actual, expected):
            raise _OpError(
                f"test failed: path {pointer or '(root)'} is {_show(actual)}, expected {_show(expected)}"
            )
        return doc
    # move and copy read "from" first
    source = _member(op, "from")
    from_tokens = _parse_pointer(source, "from")
    if kind == "copy":
        value = _resolve(doc, from_tokens, source)
        copy_budget[0] -= _nodes(value, copy_budget[0])
        if copy_budget[0] < 0:
            raise PatchTooLarge(
                f"the copies of this patch would duplicate more than {MAX_COPIED_NODES} JSON values"
            )
        return _add(doc, tokens, pointer, copy.deepcopy(value))
    # move
    if tokens[: len(from_tokens)] == from_tokens and len(tokens) > len(from_tokens):
        raise _OpError(f"cannot move {source or '(root)'} into its own child {pointer}")
    if tokens == from_tokens:
        _resolve(doc, from_tokens, source)  # must still exist
        return doc
    value = _remove(doc, from_tokens, source)
    return _add(doc, tokens, pointer, value)


_JSON_PATCH_OPS: Final = ("add", "remove", "replace", "move", "copy", "test")


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 6902 JSON Patch to ``doc`` and return the result.

    Operations run in order against a copy; if any fails, nothing is applied and
    :class:`PatchError` names the operation by its 0-based position in the
    list, e.g. ``json patch op 2 (replace): path /spec/x does not exist``.
    """
    if not isinstance(patch, list):
        raise PatchError(f"json patch must be an array of operations, got {_json_type(patch)}")
    if len(patch) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {len(patch)}"
        )
    copy_budget = [MAX_COPIED_NODES]
    result = copy.deepcopy(doc)
    for position, op in enumerate(copy.deepcopy(patch)):
        if not isinstance(op, dict):
            raise PatchError(f"json patch op {position}: must be an object, got {_json_type(op)}")
        kind = op.get("op")
        if kind not in _JSON_PATCH_OPS:
            allowed = ", ".join(_JSON_PATCH_OPS)
            what = 'missing "op"' if "op" not in op else f"unknown op {_show(kind)}"
            raise PatchNotApplicable(f"json patch op {position}: {what}; allowed: {allowed}")
        try:
            result = _apply_op(result, op, copy_budget)
        except _OpError as err:
            raise PatchNotApplicable(f"json patch op {position} ({kind}): {err}") from None
    return result


# --------------------------------------------------------------------------- RFC 7386


def _merge_patch_into(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch_into(target.get(key), value)
    return target


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON Merge Patch to ``doc`` and return the result.

    Objects merge recursively, ``null`` removes a key, any other value (arrays
    included) replaces what was there. A patch that is not an object replaces
    the whole document. Never fails: every JSON value is a valid merge patch.
    """
    return _merge_patch_into(copy.deepcopy(doc), copy.deepcopy(patch))


# --------------------------------------------------------------------------- strategic merge: schema


@dataclass(frozen=True, slots=True)
class FieldPatch:
    """The upstream struct tags of one field: ``patchStrategy`` and ``patchMergeKey``.

    ``strategy`` is the tag as written upstream: ``"merge"`` (lists merge by
    ``merge_key``; lists of primitives are unioned), ``"replace"`` (the value is
    replaced, even a map), ``"retainKeys"`` (a map whose patch may carry
    ``$retainKeys``), ``"merge,retainKeys"``, or ``""`` for a field that has no
    tag (lists replaced, maps merged) and is listed only to document that.
    """

    strategy: str
    merge_key: str | None = None

    @property
    def merges(self) -> bool:
        return "merge" in self.strategy.split(",")

    @property
    def replaces(self) -> bool:
        return self.strategy == "replace"


def _merge_by(key: str, *, retain_keys: bool = False) -> FieldPatch:
    return FieldPatch("merge,retainKeys" if retain_keys else "merge", key)


_MERGE_PRIMITIVES: Final = FieldPatch("merge")  # a set of strings, unioned
_RETAIN_KEYS: Final = FieldPatch("retainKeys")
_REPLACE: Final = FieldPatch("replace")
_NO_STRATEGY: Final = FieldPatch("")  # listed for the record: upstream has no tag, lists are replaced

Fields = dict[str, FieldPatch]


def _under(prefix: str, fields: Mapping[str, FieldPatch]) -> Fields:
    """Re-root a field table at ``prefix`` (a dotted path)."""
    return {f"{prefix}.{path}": patch for path, patch in fields.items()}


# Paths are dotted field names; list elements are transparent, so
# "containers.ports" is the ports list of every element of "containers".
# The tags were checked against the struct tags compiled into kubectl 1.33
# (k8s.io/api); _NO_STRATEGY entries record lists upstream deliberately replaces.

_OBJECT_META: Final[Fields] = {
    "finalizers": _MERGE_PRIMITIVES,  # patchStrategy:"merge"
    "ownerReferences": _merge_by("uid"),  # patchStrategy:"merge" patchMergeKey:"uid"
}

_CONTAINER: Final[Fields] = {  # Container and EphemeralContainerCommon
    "ports": _merge_by("containerPort"),
    "env": _merge_by("name"),
    "volumeMounts": _merge_by("mountPath"),
    "volumeDevices": _merge_by("devicePath"),
    "envFrom": _NO_STRATEGY,
    "resizePolicy": _NO_STRATEGY,
}

_POD_SPEC: Final[Fields] = {
    "volumes": _merge_by("name", retain_keys=True),  # each volume's source is a one-of: $retainKeys
    "initContainers": _merge_by("name"),
    **_under("initContainers", _CONTAINER),
    "containers": _merge_by("name"),
    **_under("containers", _CONTAINER),
    "ephemeralContainers": _merge_by("name"),
    **_under("ephemeralContainers", _CONTAINER),
    "imagePullSecrets": _merge_by("name"),
    "hostAliases": _merge_by("ip"),
    "topologySpreadConstraints": _merge_by("topologyKey"),
    "schedulingGates": _merge_by("name"),
    "resourceClaims": _merge_by("name", retain_keys=True),
    "tolerations": _NO_STRATEGY,
    "readinessGates": _NO_STRATEGY,
}

_POD_TEMPLATE_SPEC: Final[Fields] = {**_under("metadata", _OBJECT_META), **_under("spec", _POD_SPEC)}

_POD_STATUS: Final[Fields] = {
    "conditions": _merge_by("type"),
    "podIPs": _merge_by("ip"),
    "hostIPs": _merge_by("ip"),
    "resourceClaimStatuses": _merge_by("name", retain_keys=True),
    "containerStatuses": _NO_STRATEGY,
    "initContainerStatuses": _NO_STRATEGY,
    "ephemeralContainerStatuses": _NO_STRATEGY,
}

_CONDITIONS: Final[Fields] = {"status.conditions": _merge_by("type")}


def _workload(template: str) -> Fields:
    """A type embedding a pod template at ``template`` and owning status conditions."""
    return {**_under(template, _POD_TEMPLATE_SPEC), **_CONDITIONS}


STRATEGIC_MERGE_FIELDS: Final[Mapping[str, Mapping[str, FieldPatch]]] = {
    type_key: {**_under("metadata", _OBJECT_META), **fields}
    for type_key, fields in {
        "v1/Pod": {**_under("spec", _POD_SPEC), **_under("status", _POD_STATUS)},
        "v1/PodTemplate": _under("template", _POD_TEMPLATE_SPEC),
        "v1/ReplicationController": _workload("spec.template"),
        "v1/Node": {
            "spec.podCIDRs": _MERGE_PRIMITIVES,
            "spec.taints": _NO_STRATEGY,
            "status.conditions": _merge_by("type"),
            "status.addresses": _merge_by("type"),
            "status.images": _NO_STRATEGY,
            "status.volumesInUse": _NO_STRATEGY,
            "status.volumesAttached": _NO_STRATEGY,
        },
        "v1/Service": {
            "spec.ports": _merge_by("port"),  # upstream's list-map key is (port, protocol); SMP uses port
            "spec.clusterIPs": _NO_STRATEGY,
            "spec.externalIPs": _NO_STRATEGY,
            "status.conditions": _merge_by("type"),
        },
        "v1/Endpoints": {"subsets": _NO_STRATEGY},
        "v1/Namespace": {"spec.finalizers": _NO_STRATEGY, **_CONDITIONS},
        "v1/ServiceAccount": {"secrets": _merge_by("name"), "imagePullSecrets": _NO_STRATEGY},
        "v1/PersistentVolumeClaim": _CONDITIONS,
        "v1/ConfigMap": {},
        "v1/Secret": {},
        "v1/Event": {},
        "apps/v1/Deployment": {**_workload("spec.template"), "spec.strategy": _RETAIN_KEYS},
        "apps/v1/ReplicaSet": _workload("spec.template"),
        "apps/v1/StatefulSet": {**_workload("spec.template"), "spec.updateStrategy": _NO_STRATEGY},
        "apps/v1/DaemonSet": {**_workload("spec.template"), "spec.updateStrategy": _NO_STRATEGY},
        "apps/v1/ControllerRevision": {},
        "batch/v1/Job": _workload("spec.template"),
        "batch/v1/CronJob": {
            **_under("spec.jobTemplate.metadata", _OBJECT_META),
            **_under("spec.jobTemplate.spec.template", _POD_TEMPLATE_SPEC),
            "status.active": _NO_STRATEGY,
        },
        "policy/v1/PodDisruptionBudget": {"spec.selector": _REPLACE, **_CONDITIONS},
        "coordination.k8s.io/v1/Lease": {},
        "scheduling.k8s.io/v1/PriorityClass": {},
        "discovery.k8s.io/v1/EndpointSlice": {"endpoints": _NO_STRATEGY, "ports": _NO_STRATEGY},
        # a built-in type (so kubectl apply sends it strategic patches), not a custom resource
        "apiextensions.k8s.io/v1/CustomResourceDefinition": {"spec.versions": _NO_STRATEGY},
    }.items()
}
"""Strategic merge metadata per ``"<apiVersion>/<kind>"``: field path → upstream tags."""

_DEFAULT_FIELDS: Final[Mapping[str, FieldPatch]] = _under("metadata", _OBJECT_META)


def strategic_merge_supported(type_key: str) -> bool:
    """Whether :func:`apply_strategic_merge_patch` knows the schema of ``type_key``."""
    return type_key in STRATEGIC_MERGE_FIELDS


# --------------------------------------------------------------------------- strategic merge: apply

_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS_DIRECTIVE: Final = "$retainKeys"
_SET_ORDER_PREFIX: Final = "$setElementOrder/"
_DELETE_PRIMITIVES_PREFIX: Final = "$deleteFromPrimitiveList/"
# Real fields whose names start with "$" (CRD schemas, JSONSchemaProps): not directives.
_DOLLAR_FIELDS: Final = frozenset({"$ref", "$schema"})


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is_directive(key: str) -> bool:
    return key.startswith("$") and key not in _DOLLAR_FIELDS


class _Merger:
    """Strategic merge of one patch into one (already copied) document.

    ``path`` is the schema path (dotted field names, no indices) used to look
    up :class:`FieldPatch`; ``where`` is the same place with list indices, for
    error messages (``spec.containers[1].ports``).
    """

    def __init__(self, fields: Mapping[str, FieldPatch]) -> None:
        self.fields = fields

    def meta(self, path: str) -> FieldPatch:
        return self.fields.get(path, _NO_STRATEGY)

    # ---- maps

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], path: str, where: str
    ) -> dict[str, Any]:
        if _DIRECTIVE in patch:
            directive = patch.pop(_DIRECTIVE)
            if directive == "replace":
                return self.merge_map({}, patch, path, where)
            if directive == "delete":
                return {}
            if directive != "merge":
                raise PatchError(
                    f"{where or '(root)'}: unknown $patch directive {_show(directive)}; allowed: replace, delete, merge"
                )

        if _RETAIN_KEYS_DIRECTIVE in patch:
            original = self._retain_keys(original, patch, where)

        for key in [k for k in patch if k.startswith(_SET_ORDER_PREFIX)]:
            self._set_element_order(original, patch, key, path, where)

        deletions: list[tuple[str, Any]] = []
        for key, value in patch.items():
            if key.startswith(_DELETE_PRIMITIVES_PREFIX):
                deletions.append((key, value))
            elif _is_directive(key):
                raise PatchError(
                    f"{where or '(root)'}: unknown patch directive {key!r}; allowed: $patch, $retainKeys, "
                    f"{_SET_ORDER_PREFIX}<list>, {_DELETE_PRIMITIVES_PREFIX}<list>"
                )
            elif value is None:
                original.pop(key, None)
            else:
                original[key] = self.merge_value(
                    original.get(key), value, _child(path, key), _child(where, key)
                )

        for key, value in deletions:
            self._delete_from_primitive_list(original, key, value, where)
        return original

    def merge_value(self, original: Any, patch: Any, path: str, where: str) -> Any:
        """Merge ``patch`` into ``original`` (``None`` when absent) at ``path``."""
        if isinstance(patch, dict):
            if isinstance(original, dict) and not self.meta(path).replaces:
                return self.merge_map(original, patch, path, where)
            return self.merge_map({}, patch, path, where)
        if isinstance(patch, list):
            if not self.meta(path).merges:
                return patch  # no strategy: replaced, like a JSON merge patch
            return self.merge_list(original if isinstance(original, list) else [], patch, path, where)
        return patch

    def _retain_keys(self, original: dict[str, Any], patch: dict[str, Any], where: str) -> dict[str, Any]:
        keys = patch.pop(_RETAIN_KEYS_DIRECTIVE)
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise PatchError(
                f"{where or '(root)'}: $retainKeys must be a list of field names, got {_show(keys)}"
            )
        retained = set(keys)
        for key, value in patch.items():
            if value is None or _is_directive(key):
                continue
            if key not in retained:
                raise PatchNotApplicable(
                    f"{where or '(root)'}: the patch sets {key!r} but $retainKeys {_show(keys)} does not list it"
                )
        return {key: value for key, value in original.items() if key in retained}

    def _delete_from_primitive_list(self, original: dict[str, Any], key: str, value: Any, where: str) -> None:
        field = key[len(_DELETE_PRIMITIVES_PREFIX) :]
        if not field:
            raise PatchError(f"{where or '(root)'}: {key!r} must name a list after the '/'")
        if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
            raise PatchError(f"{_child(where, key)}: must be a list of primitive values, got {_show(value)}")
        current = original.get(field)
        if isinstance(current, list):
            doomed = {_identity(v) for v in value}
            original[field] = [v for v in current if _identity(v) not in doomed]

    # ---- lists

    def merge_list(self, original: list[Any], patch: list[Any], path: str, where: str) -> list[Any]:
        """Merge a list whose field has ``patchStrategy: merge``."""
        if not original and not patch:
            return original
        merge_key = self.meta(path).merge_key
        if _element_kind(original, patch, where) == "primitive":
            merged = _unique(original + patch)
            return _order(merged, patch, original, _identity)

        if merge_key is None:
            raise PatchError(f"{where}: cannot merge a list of objects without a merge key")
        key_of = _key_getter(merge_key)
        original, patch = self._special_elements(original, patch, merge_key, path, where)
        merged = list(original)
        positions = {_identity(e.get(merge_key)): i for i, e in reversed(list(enumerate(merged)))}
        for index, element in enumerate(patch):
            element_where = f"{where}[{index}]"
            if merge_key not in element:
                raise PatchError(f"{element_where}: does not contain declared merge key {merge_key!r}")
            found = positions.get(key_of(element))
            if found is None:
                positions[key_of(element)] = len(merged)
                merged.append(self.merge_map({}, element, path, element_where))
            else:
                merged[found] = self.merge_map(merged[found], element, path, element_where)
        return _order(merged, patch, original, key_of)

    def _special_elements(
        self, original: list[Any], patch: list[Any], merge_key: str, path: str, where: str
    ) -> tuple[list[Any], list[Any]]:
        """Apply ``$patch: delete`` / ``$patch: replace`` elements; return (original, rest of patch)."""
        rest: list[Any] = []
        replace = False
        for index, element in enumerate(patch):
            directive = element.get(_DIRECTIVE)
            if directive is None or directive == "merge":
                rest.append(element)
            elif directive == "delete":
                if merge_key not in element:
                    raise PatchError(
                        f"{where}[{index}]: $patch: delete needs the merge key {merge_key!r} to say which element"
                    )
                doomed = _identity(element[merge_key])
                original = [e for e in original if _identity(e.get(merge_key)) != doomed]
            elif directive == "replace":
                replace = True
            else:
                raise PatchError(
                    f"{where}[{index}]: unknown $patch directive {_show(directive)}; allowed: replace, delete, merge"
                )
        if replace:
            return [self.merge_map({}, e, path, f"{where}[{i}]") for i, e in enumerate(rest)], []
        return original, rest

    def _set_element_order(
        self, original: dict[str, Any], patch: dict[str, Any], key: str, path: str, where: str
    ) -> None:
        """Merge the list ``$setElementOrder/<field>`` names, then order it as the directive says."""
        order = patch.pop(key)
        field = key[len(_SET_ORDER_PREFIX) :]
        field_where = _child(where, field)
        if not field:
            raise PatchError(f"{where or '(root)'}: {key!r} must name a list after the '/'")
        if not isinstance(order, list):
            raise PatchError(f"{_child(where, key)}: must be a list, got {_show(order)}")
        field_path = _child(path, field)
        meta = self.meta(field_path)
        current = original.get(field)
        changes = patch.get(field)
        if changes is None and field in patch:
            return  # the field is being deleted; nothing to order
        if current is not None and not isinstance(current, list):
            raise PatchError(
                f"{field_where}: {key} given but the field is a {_json_type(current)}, not a list"
            )
        if changes is not None and not isinstance(changes, list):
            raise PatchError(
                f"{field_where}: {key} given but the patch value is a {_json_type(changes)}, not a list"
            )
        if current is None and changes is None:
            return
        if not meta.merges:
            return  # ordering only means something for merged lists; the patch list replaces as usual

        key_of: Callable[[Any], Hashable]
        if meta.merge_key is None:
            if any(isinstance(item, dict | list) for item in order):
                raise PatchError(f"{_child(where, key)}: must list primitive values, got {_show(order)}")
            key_of = _identity
        else:
            for index, item in enumerate(order):
                if not isinstance(item, dict) or meta.merge_key not in item:
                    raise PatchError(
                        f"{_child(where, key)}[{index}]: does not contain declared merge key {meta.merge_key!r}"
                    )
            key_of = _key_getter(meta.merge_key)
        if changes is not None:
            _check_order(changes, order, key_of, field_where, key)
            patch.pop(field)
            merged = self.merge_list(current or [], changes, field_path, field_where)
        else:
            merged = list(current or [])
        wanted = {key_of(item) for item in order}
        in_order = [e for e in merged if key_of(e) in wanted]
        server_only = [e for e in merged if key_of(e) not in wanted]
        original[field] = _interleave(server_only, _sorted_by(in_order, order, key_of), current or [], key_of)


def _element_kind(original: list[Any], patch: list[Any], where: str) -> str:
    """``"object"`` or ``"primitive"``; mixed lists and lists of lists are errors."""
    kinds = {
        "object" if isinstance(e, dict) else "list" if isinstance(e, list) else "primitive"
        for e in original + patch
    }
    if "list" in kinds:
        raise PatchNotApplicable(f"{where}: lists of lists cannot be merged")
    if len(kinds) > 1:
        raise PatchError(
            f"{where}: list element types are not identical (objects mixed with primitive values)"
        )
    return kinds.pop() if kinds else "primitive"


def _key_getter(merge_key: str) -> Callable[[Any], Hashable]:
    def key_of(element: Any) -> Hashable:
        return _identity(element.get(merge_key) if isinstance(element, dict) else element)

    return key_of


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Hashable] = set()
    result = []
    for value in values:
        identity = _identity(value)
        if identity not in seen:
            seen.add(identity)
            result.append(value)
    return result


def _sorted_by(items: list[Any], order: list[Any], key_of: Callable[[Any], Hashable]) -> list[Any]:
    """``items`` (all named in ``order``) sorted by their first position in ``order``."""
    positions: dict[Hashable, int] = {}
    for index, item in enumerate(order):
        positions.setdefault(key_of(item), index)
    return sorted(items, key=lambda item: positions[key_of(item)])


def _interleave(
    server_only: list[Any], patched: list[Any], server_order: list[Any], key_of: Callable[[Any], Hashable]
) -> list[Any]:
    """Upstream's merge of two ordered lists: a server-only element goes first only
    when both it and the next patched element are on the server and it comes earlier
    there; otherwise the patched element wins the slot. Both relative orders are kept.
    """
    positions: dict[Hashable, int] = {}
    for index, item in enumerate(server_order):
        positions.setdefault(key_of(item), index)
    result: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            result.append(server_only[i])
            i += 1
            continue
        if i < len(server_only):
            left = positions.get(key_of(server_only[i]))
            right = positions.get(key_of(patched[j]))
            if left is not None and right is not None and left < right:
                result.append(server_only[i])
                i += 1
                continue
        result.append(patched[j])
        j += 1
    return result


def _order(
    merged: list[Any], patch: list[Any], original: list[Any], key_of: Callable[[Any], Hashable]
) -> list[Any]:
    """Order a merged list: patch elements in patch order, the rest in server order."""
    named = {key_of(e) for e in patch}
    in_patch = [e for e in merged if key_of(e) in named]
    server_only = [e for e in merged if key_of(e) not in named]
    return _interleave(server_only, _sorted_by(in_patch, patch, key_of), original, key_of)


def _check_order(
    changes: list[Any], order: list[Any], key_of: Callable[[Any], Hashable], where: str, directive: str
) -> None:
    """Every element the patch list sets must appear in the order list, in the same relative order."""
    wanted = [key_of(e) for e in changes if not (isinstance(e, dict) and _DIRECTIVE in e)]
    position = 0
    keys = [key_of(item) for item in order]
    for identity in wanted:
        while position < len(keys) and keys[position] != identity:
            position += 1
        if position == len(keys):
            raise PatchError(
                f"{where}: the order of the patch list {_show(changes)} doesn't match {directive} {_show(order)}"
            )
        position += 1


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], type_key: str) -> dict[str, Any]:
    """Apply a Kubernetes strategic merge patch to ``doc`` of type ``type_key``.

    ``type_key`` is ``"<apiVersion>/<kind>"`` (``"v1/Pod"``, ``"apps/v1/Deployment"``);
    an unknown type gets only the ``metadata`` rules, and its lists are replaced.
    """
    if not isinstance(doc, dict):
        raise PatchError(f"strategic merge patch needs an object to patch, got {_json_type(doc)}")
    if not isinstance(patch, dict):
        raise PatchError(f"strategic merge patch must be a JSON object, got {_json_type(patch)}")
    merger = _Merger(STRATEGIC_MERGE_FIELDS.get(type_key, _DEFAULT_FIELDS))
    return merger.merge_map(copy.deepcopy(doc), copy.deepcopy(patch), "", "")


# --------------------------------------------------------------------------- strategic merge: two-way diff


class _Differ:
    """Builds the patch that turns ``original`` into ``modified`` (upstream's two-way diff)."""

    def __init__(self, fields: Mapping[str, FieldPatch]) -> None:
        self.fields = fields

    def diff_maps(
        self, original: dict[str, Any], modified: dict[str, Any], path: str, *, retain_keys: bool = False
    ) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        for key, new in modified.items():
            field_path = _child(path, key)
            if key not in original:
                patch[key] = copy.deepcopy(new)
                continue
            old = original[key]
            meta = self.fields.get(field_path, _NO_STRATEGY)
            if isinstance(old, dict) and isinstance(new, dict) and not meta.replaces:
                nested = self.diff_maps(old, new, field_path, retain_keys="retainKeys" in meta.strategy)
                if nested:
                    patch[key] = nested
            elif isinstance(old, list) and isinstance(new, list) and meta.merges:
                self.diff_lists(patch, key, old, new, field_path, meta)
            elif not _json_equal(old, new):
                patch[key] = copy.deepcopy(new)
        for key in original:
            if key not in modified:
                patch[key] = None
        if retain_keys and (patch or any(k not in original for k in modified)):
            patch[_RETAIN_KEYS_DIRECTIVE] = sorted(k for k, v in modified.items() if v is not None)
        return patch

    def diff_lists(
        self, patch: dict[str, Any], key: str, old: list[Any], new: list[Any], path: str, meta: FieldPatch
    ) -> None:
        if not old:
            if new:
                patch[key] = copy.deepcopy(new)
            return
        kind = _element_kind(old, new, path)
        if kind == "primitive":
            old_ids = {_identity(v) for v in old}
            new_ids = {_identity(v) for v in new}
            added = [v for v in _unique(new) if _identity(v) not in old_ids]
            removed = [v for v in _unique(old) if _identity(v) not in new_ids]
            if added:
                patch[key] = added
            if removed:
                patch[_DELETE_PRIMITIVES_PREFIX + key] = removed
            if removed or not _json_equal(old, new):
                patch[_SET_ORDER_PREFIX + key] = copy.deepcopy(new)
            return
        merge_key = meta.merge_key
        if merge_key is None:
            raise PatchError(f"{path}: cannot diff a list of objects without a merge key")
        key_of = _key_getter(merge_key)
        for element in old + new:
            if merge_key not in element:
                raise PatchError(f"{path}: element {_show(element)} does not contain merge key {merge_key!r}")
        old_by_key = {key_of(e): e for e in old}
        new_keys = {key_of(e) for e in new}
        changes: list[Any] = []
        for element in new:
            previous = old_by_key.get(key_of(element))
            if previous is None:
                changes.append(copy.deepcopy(element))
                continue
            nested = self.diff_maps(previous, element, path, retain_keys="retainKeys" in meta.strategy)
            if nested:
                nested[merge_key] = copy.deepcopy(element[merge_key])
                changes.append(nested)
        deletions = [
            {_DIRECTIVE: "delete", merge_key: copy.deepcopy(e[merge_key])}
            for e in old
            if key_of(e) not in new_keys
        ]
        same_order = [key_of(e) for e in old] == [key_of(e) for e in new]
        if changes or deletions:
            patch[key] = changes + deletions
        if changes or deletions or not same_order:
            patch[_SET_ORDER_PREFIX + key] = [{merge_key: copy.deepcopy(e[merge_key])} for e in new]


def create_strategic_merge_patch(
    original: dict[str, Any], modified: dict[str, Any], type_key: str
) -> dict[str, Any]:
    """The strategic merge patch that turns ``original`` into ``modified`` (a two-way diff).

    Removed map keys become ``null``, removed elements of merged lists become
    ``$patch: delete`` elements (objects) or ``$deleteFromPrimitiveList``
    (primitives), and ``$setElementOrder`` records the new order, as upstream's
    ``CreateTwoWayMergePatch`` does. Applying the result to ``original`` with
    :func:`apply_strategic_merge_patch` gives ``modified``.
    """
    if not isinstance(original, dict) or not isinstance(modified, dict):
        raise PatchError("a strategic merge patch can only be computed between two objects")
    return _Differ(STRATEGIC_MERGE_FIELDS.get(type_key, _DEFAULT_FIELDS)).diff_maps(original, modified, "")
