"""Accept-header choices for metadata-only answers and for ``/openapi/v2`` (pure functions)."""

from __future__ import annotations

import pytest

from minik.apiserver import partial, swagger

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
