"""The JSON types a body must have, as upstream's typed decoder enforces them.

Upstream decodes every request body into Go structs before anything else looks at
it. A value that does not fit its Go field is refused right there: ``"3"`` or
``3.5`` for ``replicas`` (an ``int32``), ``2147483648`` for an ``int32``, ``2**64``
for an ``int64``, a string where a list goes, an object where a string goes. minik
keeps bodies as plain dicts, so without this check such values travelled on: a
Deployment with ``replicas: 2147483648`` was stored, and the controllers set about
creating that many pods.

This module walks an object against its kind's schema (the definitions
``schemas.py`` loads) and reports every value whose JSON type does not fit, with
the field's path. It checks *types and integer ranges only*; what a valid value
is (``replicas >= 0``) is the business of ``minik.api.validation``. Fields the
schema does not know are left alone (``fieldvalidation.py`` deals with those), and
``null`` always fits (upstream decodes it as "not set").

Two schema types accept more than one JSON type, as upstream's decoder does:
a *quantity* (``cpu: 1`` or ``cpu: "100m"``) and an *int-or-string*
(``targetPort: 8080`` or ``targetPort: http``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from minik.api import errors
from minik.api import field as fielderr
from minik.apiserver import schemas

Obj = dict[str, Any]

INT32 = (-(1 << 31), (1 << 31) - 1)
INT64 = (-(1 << 63), (1 << 63) - 1)

# Shape kinds.
OBJECT, MAP, ARRAY, ANY = "object", "map", "array", "any"
INTEGER, NUMBER, BOOLEAN, STRING, QUANTITY, INT_OR_STRING = (
    "integer",
    "number",
    "boolean",
    "string",
    "quantity",
    "int-or-string",
)


@dataclass(eq=False)
class Shape:
    """The JSON type one value must have (``object`` fields, ``map`` values, ``array`` items)."""

    kind: str
    fields: dict[str, Shape] = field(default_factory=dict)
    elem: Shape | None = None
    bits: int = 64  # integers only: 32 or 64


_ANY_SHAPE = Shape(ANY)


def _type_of(schema: Obj) -> str | None:
    value = schema.get("type")
    if isinstance(value, list):
        real = [t for t in value if t != "null"]
        return real[0] if len(real) == 1 else None
    return value if isinstance(value, str) else None


class _Compiler:
    def __init__(self, defs: dict[str, Obj]) -> None:
        self.defs = defs
        self.memo: dict[str, Shape] = {}

    def definition(self, name: str) -> Shape:
        if name in self.memo:
            return self.memo[name]
        d = self.defs.get(name)
        if d is None:
            return _ANY_SHAPE
        if name.endswith("resource.Quantity"):
            shape = Shape(QUANTITY)
        elif name.endswith("intstr.IntOrString"):
            shape = Shape(INT_OR_STRING)
        else:
            shape = Shape(ANY)
            self.memo[name] = shape  # before recursing: definitions may refer to themselves
            filled = self.schema(d)
            shape.kind, shape.fields, shape.elem, shape.bits = (
                filled.kind,
                filled.fields,
                filled.elem,
                filled.bits,
            )
        self.memo[name] = shape
        return shape

    def schema(self, s: Obj) -> Shape:
        if "$ref" in s:
            return self.definition(s["$ref"].rsplit("/", 1)[-1])
        if s.get("allOf"):
            return self.schema(s["allOf"][0])
        if s.get("x-kubernetes-preserve-unknown-fields") or s.get("x-kubernetes-embedded-resource"):
            return _ANY_SHAPE
        if "oneOf" in s or "anyOf" in s:
            return _ANY_SHAPE
        t = _type_of(s)
        if t == "array":
            items = s.get("items")
            return Shape(ARRAY, elem=self.schema(items) if isinstance(items, dict) else _ANY_SHAPE)
        if t == "object" or "properties" in s:
            if "properties" in s:
                return Shape(OBJECT, fields={k: self.schema(v) for k, v in s["properties"].items()})
            extra = s.get("additionalProperties")
            if isinstance(extra, dict):
                return Shape(MAP, elem=self.schema(extra))
            return _ANY_SHAPE  # an object of no declared shape (RawExtension, FieldsV1)
        if t == "integer":
            return Shape(INTEGER, bits=32 if s.get("format") == "int32" else 64)
        if t in (NUMBER, BOOLEAN, STRING):
            return Shape(t)
        return _ANY_SHAPE


@functools.cache
def _compiler() -> _Compiler:
    return _Compiler(schemas.definitions())


@functools.cache
def shape_of(definition: str) -> Shape | None:
    """The compiled shape of an upstream definition (``io.k8s.api.core.v1.Binding``)."""
    if definition not in schemas.definitions():
        return None
    return _compiler().definition(definition)


def shape_for(group: str, version: str, kind: str) -> Shape | None:
    """The shape of a served kind; None when no schema is known for it."""
    name = schemas.definition_name(group, version, kind)
    return shape_of(name) if name is not None else None


def warm_up(kinds: list[tuple[str, str, str]]) -> None:
    """Compile the shapes of the served kinds now (start-up), not on a first request."""
    for group, version, kind in kinds:
        shape_for(group, version, kind)


# -- checking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One value that does not fit its field: where, what was sent, what was expected."""

    path: str
    value: Any
    expected: str

    def detail(self) -> str:
        return f"cannot unmarshal {_describe(self.value)} into a field of type {self.expected}"

    def message(self) -> str:
        return f"{self.path or '<root>'}: {self.detail()}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return (
            f"number {value!r}"
            if not isinstance(value, float) or math.isfinite(value)
            else "a non-finite number"
        )
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _fits(value: Any, shape: Shape) -> str | None:
    """None if a scalar fits its shape, else what was expected."""
    kind = shape.kind
    if kind == INTEGER:
        low, high = INT32 if shape.bits == 32 else INT64
        return None if _is_int(value) and low <= value <= high else f"int{shape.bits}"
    if kind == STRING:
        return None if isinstance(value, str) else "string"
    if kind == BOOLEAN:
        return None if isinstance(value, bool) else "bool"
    if kind == NUMBER:
        ok = _is_int(value) or (isinstance(value, float) and math.isfinite(value))
        return None if ok else "float64"
    if kind == QUANTITY:
        ok = isinstance(value, str) or _is_int(value) or (isinstance(value, float) and math.isfinite(value))
        return None if ok else "Quantity (a string or a number)"
    if kind == INT_OR_STRING:
        ok = isinstance(value, str) or (_is_int(value) and INT32[0] <= value <= INT32[1])
        return None if ok else "IntOrString (a string or an int32)"
    return None


def _path(steps: list[str | int]) -> str:
    """``["spec", "ports", 0, "port"]`` -> ``spec.ports[0].port`` (map keys in brackets too)."""
    out = ""
    for step in steps:
        if isinstance(step, int):
            out += f"[{step}]"
        elif step.startswith("["):
            out += step
        else:
            out += f".{step}" if out else step
    return out


def _walk(value: Any, shape: Shape, steps: list[str | int], out: list[Mismatch]) -> None:
    # The hot path of every write: the path is built only when something is wrong.
    kind = shape.kind
    if kind == OBJECT:
        if not isinstance(value, dict):
            out.append(Mismatch(_path(steps), value, "object"))
            return
        fields = shape.fields
        for key, item in value.items():
            child = fields.get(key)
            if child is None or item is None or child.kind == ANY:
                continue
            if child.kind == STRING and isinstance(item, str):
                continue  # the commonest field, checked without a call
            steps.append(key)
            _walk(item, child, steps, out)
            steps.pop()
    elif kind in (MAP, ARRAY):
        is_map = kind == MAP
        if not isinstance(value, dict if is_map else list):
            out.append(Mismatch(_path(steps), value, kind))
            return
        elem = shape.elem
        assert elem is not None
        if elem.kind == ANY:
            return
        items: Iterable[tuple[Any, Any]] = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if item is not None:
                steps.append(f"[{key}]" if is_map else key)
                _walk(item, elem, steps, out)
                steps.pop()
    else:
        expected = _fits(value, shape)
        if expected is not None:
            out.append(Mismatch(_path(steps), value, expected))


def mismatches(obj: Any, shape: Shape | None) -> list[Mismatch]:
    """Every value in ``obj`` whose JSON type (or integer range) does not fit ``shape``."""
    if shape is None:
        return []
    out: list[Mismatch] = []
    if obj is not None and shape.kind != ANY:
        _walk(obj, shape, [], out)
    return out


# -- the errors a client sees ------------------------------------------------------------------


def _causes(found: list[Mismatch]) -> list[dict[str, str]]:
    return [
        {"reason": "FieldValueInvalid", "message": m.message(), "field": m.path or "<root>"} for m in found
    ]


def check_body(obj: Any, shape: Shape | None, kind: str, version: str) -> None:
    """A request body that does not decode: 400, as upstream's decoder answers.

    The message keeps upstream's opening (``Deployment in version "v1" cannot be
    handled as a Deployment: ...``); ``details.causes`` names each field.
    """
    found = mismatches(obj, shape)
    if found:
        raise errors.APIError(
            400,
            "BadRequest",
            f'{kind} in version "{version}" cannot be handled as a {kind}: '
            + "; ".join(m.message() for m in found[:10]),
            details={"kind": kind, "causes": _causes(found)},
        )


def check_result(obj: Any, shape: Shape | None, kind: str, name: str, group: str) -> None:
    """An object made by the server (a patch applied, an apply merged) that does not
    decode: 422 Invalid naming the fields, as upstream answers a patch whose result does
    not fit the type."""
    found = mismatches(obj, shape)
    if found:
        raise errors.invalid(
            kind, name, [fielderr.invalid(m.path or "<root>", m.value, m.detail()) for m in found], group
        )
