"""Go zero values: the fields upstream always sends, filled in before an object is stored.

Upstream's API server decodes every object into a Go struct and encodes it again
with ``encoding/json``. A struct field whose JSON tag has no ``omitempty`` is
*always* written, with its zero value when nobody set it: a new ReplicaSet is
answered with ``status: {replicas: 0}``, not ``status: {}``. Clients were built
against that. The typed models of the official Python client (and
``kubernetes_asyncio``, and every client generated from the OpenAPI) refuse an
object whose *required* field is missing: ``V1ReplicaSetStatus(replicas=None)``
raises, so a ``status: {}`` breaks create, get, list and watch of that kind.

Upstream's OpenAPI marks exactly those always-written fields as ``required`` (a
field is required unless it is ``omitempty`` or tagged ``+optional``), and
minik serves the same schemas (``schemas.py``). So the rule here is read from the
schemas, for every kind at once, instead of being restated per kind: wherever an
object holds a struct, each required field of that struct that is absent (or
``null``) gets the zero value of its type::

    integer, number -> 0        boolean -> false       string -> ""
    array -> []                 map -> {}              struct -> {} (and its own
    Quantity -> "0"             IntOrString -> 0        required fields, in turn)

Two deliberate differences from Go's encoder: a required list is written as
``[]`` where Go would write ``null`` (which the same typed clients reject), and
timestamps and raw embedded objects (whose Go zero is ``null``) are left out.

:func:`fill` runs on every write, after validation (so a missing field the client
had to give is still reported as missing) and before the object is committed, so
what etcd holds, and what every get, list and watch serves, is complete. Only the
parts of an object that can contain a required field are walked: the shapes are
compiled once per kind and pruned to those paths.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from minik.apiserver import schemas

Obj = dict[str, Any]

# How a field holds the struct below it.
ONE, LIST, MAP = "one", "list", "map"

# Definitions whose zero value is not written at all (Go writes null for them).
_SKIPPED = ("meta.v1.Time", "meta.v1.MicroTime", "runtime.RawExtension", "meta.v1.FieldsV1")
_SCALAR_ZEROS: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "string": ""}


@dataclass(eq=False)
class Shape:
    """What to complete in one struct: its required fields, and where structs nest."""

    name: str
    #: field -> zero value (a fresh copy is made for each use). A struct's zero is
    #: ``{}``, which is then completed like any struct found in ``children``.
    required: dict[str, Any] = field(default_factory=dict)
    #: field -> (how it holds structs: one, a list of, a map of; their shape).
    children: dict[str, tuple[str, Shape]] = field(default_factory=dict)


def _ref_name(schema: Obj) -> str | None:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of and isinstance(all_of[0], dict):
        return _ref_name(all_of[0])
    return None


def _type_of(schema: Obj) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        real = [x for x in t if x != "null"]
        return str(real[0]) if real else None
    return t if isinstance(t, str) else None


class _Compiler:
    """Compiles definitions into :class:`Shape` trees, then prunes what needs no walking."""

    def __init__(self, defs: dict[str, Obj]) -> None:
        self.defs = defs
        self.shapes: dict[str, Shape] = {}

    def is_struct(self, name: str) -> bool:
        d = self.defs.get(name) or {}
        return "properties" in d and _type_of(d) in ("object", None) and "oneOf" not in d

    def shape(self, name: str) -> Shape:
        found = self.shapes.get(name)
        if found is not None:
            return found
        shape = Shape(name)
        self.shapes[name] = shape  # before recursing: definitions may refer to themselves
        d = self.defs.get(name) or {}
        props: Obj = d.get("properties") or {}
        for field_name in d.get("required") or []:
            prop = props.get(field_name)
            if isinstance(prop, dict):
                self._required(shape, field_name, prop)
        for field_name, prop in props.items():
            if isinstance(prop, dict):
                held = self._holds_struct(prop)
                if held is not None:
                    shape.children[field_name] = (held[0], self.shape(held[1]))
        return shape

    def _required(self, shape: Shape, field_name: str, prop: Obj) -> None:
        ref = _ref_name(prop)
        if ref is not None:
            if ref.endswith(_SKIPPED):
                return
            if ref.endswith("resource.Quantity"):
                shape.required[field_name] = "0"
            elif ref.endswith("intstr.IntOrString"):
                shape.required[field_name] = 0
            elif self.is_struct(ref):
                shape.required[field_name] = {}
            return
        t = _type_of(prop)
        if t == "array":
            shape.required[field_name] = []
        elif t == "object":
            shape.required[field_name] = {}
        elif t in _SCALAR_ZEROS:
            shape.required[field_name] = _SCALAR_ZEROS[t]

    def _holds_struct(self, prop: Obj) -> tuple[str, str] | None:
        """(one|list|map, definition) when the field holds structs, else None."""
        ref = _ref_name(prop)
        if ref is not None:
            return (ONE, ref) if self.is_struct(ref) else None
        t = _type_of(prop)
        inner = prop.get("items") if t == "array" else prop.get("additionalProperties")
        if isinstance(inner, dict):
            ref = _ref_name(inner)
            if ref is not None and self.is_struct(ref):
                return (LIST if t == "array" else MAP), ref
        return None

    def prune(self) -> None:
        """Drop the children whose subtree has no required field: no need to walk them."""
        useful = {n for n, s in self.shapes.items() if s.required}
        changed = True
        while changed:  # a fixpoint, because shapes may be recursive
            changed = False
            for n, s in self.shapes.items():
                if n not in useful and any(child.name in useful for _, child in s.children.values()):
                    useful.add(n)
                    changed = True
        for s in self.shapes.values():
            s.children = {f: c for f, c in s.children.items() if c[1].name in useful}


@functools.cache
def shape_for(group: str, version: str, kind: str) -> Shape | None:
    """The compiled shape of a kind; None when no schema is known or nothing is required."""
    name = schemas.definition_name(group, version, kind)
    if name is None:
        return None
    compiler = _Compiler(schemas.definitions())
    shape = compiler.shape(name)
    compiler.prune()
    return shape if shape.required or shape.children else None


def _zero(value: Any) -> Any:
    if isinstance(value, dict):
        return {}
    if isinstance(value, list):
        return []
    return value


def _fill(obj: Obj, shape: Shape) -> None:
    for field_name, zero in shape.required.items():
        if obj.get(field_name) is None:
            obj[field_name] = _zero(zero)
    for field_name, (how, child) in shape.children.items():
        value = obj.get(field_name)
        if how == ONE:
            if isinstance(value, dict):
                _fill(value, child)
        elif how == LIST:
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, dict):
                        _fill(item, child)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, dict):
                    _fill(item, child)


def fill(obj: Obj, group: str, version: str, kind: str) -> None:
    """Give every absent required field of ``obj`` (at any depth) its Go zero value, in place."""
    shape = shape_for(group, version, kind)
    if shape is not None:
        _fill(obj, shape)


def warm_up(kinds: list[tuple[str, str, str]]) -> None:
    """Compile the shapes of the given kinds now (start-up), not on the first write."""
    for group, version, kind in kinds:
        shape_for(group, version, kind)
