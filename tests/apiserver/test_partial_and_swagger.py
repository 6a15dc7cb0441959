"""Accept-header choices for metadata-only answers and for ``/openapi/v2`` (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.protobuf import iter_fields
from minik.apiserver import partial, swagger, swagger_pb

PB = "application/vnd.kubernetes.protobuf"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", None),
        ("", None),
        ("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1", partial.LIST),
        ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", partial.OBJECT),
        ("application/json; as=PartialObjectMetadata; g=meta.k8s.io; v=v1beta1", partial.OBJECT),
        # client-go's metadata client: protobuf first (minik passes it over), then JSON
        (f"{PB};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,"
         "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json", partial.LIST),
        # the first servable choice decides
        ("application/json,application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", None),
        # another group or version is not this type
        ("application/json;as=PartialObjectMetadata;g=example.com;v=v1", None),
        ("application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v2", None),
    ],
)  # fmt: skip
def test_requested(accept: str, expected: str | None) -> None:
    assert partial.requested(accept) == expected


def test_of_object_and_list_keep_metadata_only() -> None:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "uid": "u"}, "spec": {"x": 1}}
    assert partial.of_object(obj) == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": "p", "uid": "u"},
    }
    lst = partial.of_list([obj], {"resourceVersion": "7", "continue": "c"})
    assert lst["kind"] == "PartialObjectMetadataList" and lst["metadata"]["continue"] == "c"
    assert lst["items"] == [partial.of_object(obj)]


@pytest.mark.parametrize(
    ("accept", "json_ok"),
    [
        ("", True),
        ("application/json", True),
        ("*/*", True),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", False),
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json", True),
    ],
)
def test_openapi_v2_media_types(accept: str, json_ok: bool) -> None:
    assert swagger.wants_json(accept) is json_ok


def test_swagger_schema_spelling() -> None:
    v3 = {
        "properties": {
            "spec": {
                "allOf": [{"$ref": "#/components/schemas/a.Spec"}],
                "default": {},
                "description": "the spec",
            },
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/a.Item"}},
        }
    }
    assert swagger.schema(v3) == {
        "properties": {
            "spec": {"$ref": "#/definitions/a.Spec", "description": "the spec"},
            "items": {"type": "array", "items": {"$ref": "#/definitions/a.Item"}},
        }
    }


def _fields(buf: Any) -> dict[int, list[Any]]:
    """A protobuf message's fields by number (a nested message is left as its bytes)."""
    out: dict[int, list[Any]] = {}
    for number, _wire_type, value in iter_fields(buf):
        out.setdefault(number, []).append(value)
    return out


def test_protobuf_schema_fields() -> None:
    """A Schema in gnostic's numbering: $ref 1, description 4, required 19, enum 20 (Any),
    additionalProperties 21, type 22, items 23, properties 25, x- extensions 31 (NamedAny)."""
    node = {
        "description": "d",
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"type": "string", "enum": ["x"]}, "b": {"$ref": "#/definitions/B"}},
        "additionalProperties": {"type": "integer"},
        "items": {"type": "string"},
        "x-kubernetes-patch-merge-key": "name",
    }
    top = _fields(swagger_pb.schema(node))
    assert top[4] == [b"d"] and top[19] == [b"a"]
    assert _fields(top[22][0])[1] == [b"object"]
    props = [_fields(p) for p in _fields(top[25][0])[1]]
    assert [p[1] for p in props] == [[b"a"], [b"b"]]
    a = _fields(props[0][2][0])
    assert _fields(a[20][0])[2] == [b'"x"']  # Any.yaml: JSON text
    assert _fields(props[1][2][0])[1] == [b"#/definitions/B"]
    extra = _fields(_fields(top[21][0])[1][0])
    assert _fields(extra[22][0])[1] == [b"integer"]
    items = _fields(_fields(top[23][0])[1][0])
    assert _fields(items[22][0])[1] == [b"string"]
    ext = _fields(top[31][0])
    assert ext[1] == [b"x-kubernetes-patch-merge-key"] and _fields(ext[2][0])[2] == [b'"name"']


@pytest.mark.parametrize(
    ("accept", "protobuf"),
    [
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", True),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", True),
        ("application/json, application/com.github.proto-openapi.spec.v2@v1.0+protobuf", False),
        ("", False),
    ],
)
def test_protobuf_openapi_v2_wanted(accept: str, protobuf: bool) -> None:
    assert swagger_pb.wanted(accept) is protobuf
