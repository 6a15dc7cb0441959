"""``/openapi/v2`` in protobuf: the Swagger 2.0 document as gnostic's ``openapi.v2.Document``.

kubectl never asks for ``/openapi/v2`` in JSON: client-go's ``OpenAPISchema()`` sends
``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes the
answer as protobuf whatever its Content-Type says. It asks when ``/openapi/v3`` is
missing and for ``kubectl explain --output=plaintext-openapiv2``. So the document
``swagger.py`` builds is also written in the message format of gnostic's
``OpenAPIv2.proto`` (package ``openapi.v2``), which is what upstream serves.

The format, in the few rules this writer needs:

* a message is a sequence of fields, each a *key* (``field_number << 3 | wire_type``,
  as a varint) and a value; proto3 leaves out fields holding their zero value;
* wire type 0 is a varint (integers, booleans), 1 eight little-endian bytes (doubles),
  2 a varint length and that many bytes (strings, nested messages, and each element of
  a repeated string or message field);
* gnostic spells JSON objects with free keys as repeated ``Named*`` pairs
  (``{name = 1, value = 2}``), one-of alternatives as a wrapper message with one field
  set, and any JSON value (defaults, enum members, ``x-`` extensions) as an ``Any``
  whose ``yaml`` field (2) holds the value's text. JSON is YAML, so that text is the
  value as JSON.

Only what ``swagger.document`` produces is written (no ``$ref`` parameters, no
responses by reference, API-key security); anything else in a node is left out.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

import orjson

Obj = dict[str, Any]

#: The Content-Type of the answer. Clients ask with an ``@`` in it (the old spelling),
#: which Go's MIME parser rejects in a response header; upstream answers with a dot.
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_MEDIA_PREFIX = "application/com.github.proto-openapi.spec.v2"


def wanted(accept: str) -> bool:
    """True when ``accept`` names the protobuf OpenAPI v2 before any JSON."""
    for part in accept.split(","):
        media_type = part.split(";")[0].strip()
        if media_type.startswith(_MEDIA_PREFIX):
            return True
        if media_type.lower() in ("application/json", "application/*", "*/*"):
            return False
    return False


# -- the wire format ------------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # two's complement, as protobuf writes negative int64s
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, value: Any) -> bytes:
    return _bytes(number, value.encode()) if isinstance(value, str) and value else b""


def _strings(number: int, values: Any) -> bytes:
    if isinstance(values, str):
        values = [values]
    return b"".join(_bytes(number, v.encode()) for v in values or () if isinstance(v, str))


def _bool(number: int, value: Any) -> bytes:
    return _varint(number << 3) + b"\x01" if value is True else b""


def _int(number: int, value: Any) -> bytes:
    ok = isinstance(value, int) and not isinstance(value, bool) and value != 0
    return _varint(number << 3) + _varint(value) if ok else b""


def _double(number: int, value: Any) -> bytes:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and value != 0
    return _varint(number << 3 | 1) + struct.pack("<d", float(value)) if ok else b""


def _message(number: int, payload: bytes, *, keep_empty: bool = False) -> bytes:
    return _bytes(number, payload) if payload or keep_empty else b""


def _each(number: int, items: Iterable[bytes]) -> bytes:
    return b"".join(_bytes(number, item) for item in items)


# -- gnostic's building blocks --------------------------------------------------------------------


def _any(value: Any) -> bytes:
    """``Any {yaml = 2}``: the value as text (JSON, which YAML reads)."""
    return _bytes(2, orjson.dumps(value))


def _named(name: str, value: bytes) -> bytes:
    """A ``Named*`` pair: ``{name = 1, value = 2}``."""
    return _string(1, name) + _bytes(2, value)


def _extensions(number: int, node: Obj) -> bytes:
    """Every ``x-...`` key of ``node`` as repeated ``NamedAny``."""
    return _each(number, (_named(k, _any(v)) for k, v in node.items() if k.startswith("x-")))


def _map(number: int, pairs: Any, encode: Callable[[Any], bytes]) -> bytes:
    """A free-keyed JSON object as a message of repeated ``Named*`` pairs at field 1."""
    if not isinstance(pairs, dict):
        return b""
    return _bytes(number, _each(1, (_named(k, encode(v)) for k, v in pairs.items())))


# -- Schema ---------------------------------------------------------------------------------------


def schema(node: Any) -> bytes:
    """``openapi.v2.Schema``."""
    if not isinstance(node, dict):
        return b""
    out = [
        _string(1, node.get("$ref")),
        _string(2, node.get("format")),
        _string(3, node.get("title")),
        _string(4, node.get("description")),
        _message(5, _any(node["default"])) if "default" in node else b"",
        _double(6, node.get("multipleOf")),
        _double(7, node.get("maximum")),
        _bool(8, node.get("exclusiveMaximum")),
        _double(9, node.get("minimum")),
        _bool(10, node.get("exclusiveMinimum")),
        _int(11, node.get("maxLength")),
        _int(12, node.get("minLength")),
        _string(13, node.get("pattern")),
        _int(14, node.get("maxItems")),
        _int(15, node.get("minItems")),
        _bool(16, node.get("uniqueItems")),
        _int(17, node.get("maxProperties")),
        _int(18, node.get("minProperties")),
        _strings(19, node.get("required")),
        _each(20, (_any(v) for v in node.get("enum") or ())),
    ]
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):  # AdditionalPropertiesItem: {schema = 1 | boolean = 2}
        out.append(_bytes(21, _bytes(1, schema(extra))))
    elif isinstance(extra, bool):
        out.append(_bytes(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00")))
    out.append(_message(22, _strings(1, node.get("type"))))  # TypeItem {repeated value = 1}
    items = node.get("items")
    if isinstance(items, dict | list):  # ItemsItem {repeated Schema schema = 1}
        listed = items if isinstance(items, list) else [items]
        out.append(_bytes(23, _each(1, (schema(i) for i in listed))))
    out.append(_each(24, (schema(s) for s in node.get("allOf") or ())))
    out.append(_map(25, node.get("properties"), schema))  # Properties {repeated NamedSchema}
    out.append(_string(26, node.get("discriminator")))
    out.append(_bool(27, node.get("readOnly")))
    out.append(_message(30, _any(node["example"])) if "example" in node else b"")
    out.append(_extensions(31, node))
    return b"".join(out)


# -- paths ----------------------------------------------------------------------------------------

# NonBodyParameter's one-of, by "in": (its field, then that sub-schema's field numbers for
# type and uniqueItems — they differ because form and query have allowEmptyValue at 5).
_NON_BODY = {"header": (1, 5, 19), "formData": (2, 6, 20), "query": (3, 6, 20), "path": (4, 5, 19)}


def _parameter(param: Obj) -> bytes:
    """``ParametersItem {parameter = 1}`` holding a body or a non-body ``Parameter``."""
    where = param.get("in")
    common = (
        _bool(1, param.get("required"))
        + _string(2, where)
        + _string(3, param.get("description"))
        + _string(4, param.get("name"))
    )
    if where == "body":
        body = (
            _string(1, param.get("description"))
            + _string(2, param.get("name"))
            + _string(3, where)
            + _bool(4, param.get("required"))
            + _message(5, schema(param.get("schema")), keep_empty=True)
        )
        parameter = _bytes(1, body)
    else:
        choice, type_field, unique_field = _NON_BODY.get(str(where), _NON_BODY["query"])
        sub = common + _string(type_field, param.get("type")) + _bool(unique_field, param.get("uniqueItems"))
        parameter = _bytes(2, _bytes(choice, sub))
    return _bytes(1, parameter)


def _responses(responses: Obj) -> bytes:
    """``Responses {repeated NamedResponseValue response_code = 1}``."""

    def value(response: Obj) -> bytes:
        body = _string(1, response.get("description"))
        if "schema" in response:
            body += _bytes(2, _bytes(1, schema(response["schema"])))  # SchemaItem {schema = 1}
        return _bytes(1, body)  # ResponseValue {response = 1}

    return _each(1, (_named(code, value(r)) for code, r in responses.items()))


def _operation(op: Obj) -> bytes:
    return b"".join(
        [
            _strings(1, op.get("tags")),
            _string(2, op.get("summary")),
            _string(3, op.get("description")),
            _string(5, op.get("operationId")),
            _strings(6, op.get("produces")),
            _strings(7, op.get("consumes")),
            _each(8, (_parameter(p) for p in op.get("parameters") or ())),
            _message(9, _responses(op.get("responses") or {}), keep_empty=True),
            _strings(10, op.get("schemes")),
            _bool(11, op.get("deprecated")),
            _extensions(13, op),
        ]
    )


_VERBS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Obj) -> bytes:
    out = [_bytes(number, _operation(item[verb])) for verb, number in _VERBS.items() if verb in item]
    out.append(_each(9, (_parameter(p) for p in item.get("parameters") or ())))
    out.append(_extensions(10, item))
    return b"".join(out)


# -- the document ---------------------------------------------------------------------------------


def _security_scheme(scheme: Obj) -> bytes:
    """``SecurityDefinitionsItem`` (only the API-key kind, at 2, is written)."""
    key = (
        _string(1, scheme.get("type"))
        + _string(2, scheme.get("name"))
        + _string(3, scheme.get("in"))
        + _string(4, scheme.get("description"))
    )
    return _bytes(2, key) if scheme.get("type") == "apiKey" else b""


def document(doc: Obj) -> bytes:
    """``openapi.v2.Document`` of a Swagger 2.0 document (as ``swagger.document`` builds it)."""
    info = doc.get("info") or {}
    requirements = (
        _each(1, (_named(name, _strings(1, scopes)) for name, scopes in requirement.items()))
        for requirement in doc.get("security") or ()
    )
    return b"".join(
        [
            _string(1, doc.get("swagger")),
            _message(2, _string(1, info.get("title")) + _string(2, info.get("version"))),
            _strings(5, doc.get("schemes")),
            _strings(6, doc.get("consumes")),
            _strings(7, doc.get("produces")),
            _bytes(8, _each(2, (_named(p, _path_item(i)) for p, i in (doc.get("paths") or {}).items()))),
            _map(9, doc.get("definitions"), schema),
            _each(12, requirements),
            _map(13, doc.get("securityDefinitions"), _security_scheme),
            _extensions(16, doc),
        ]
    )
