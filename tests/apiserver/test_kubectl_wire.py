"""What kubectl asks for, answered over HTTP: Tables, OpenAPI v3, fieldValidation, protobuf."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_tables_for_list_get_and_watch(api: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/configmaps"
    assert api.post(url, json=configmap("a", x="1")).status_code == 201
    r = api.get(url, headers={"Accept": TABLE})
    t = r.json()
    assert t["kind"] == "Table" and [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert t["rows"][0]["cells"][:2] == ["a", 1]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert t["metadata"]["resourceVersion"]
    assert api.get(f"{url}/a", headers={"Accept": TABLE}).json()["rows"][0]["cells"][0] == "a"
    full = api.get(url, headers={"Accept": TABLE}, params={"includeObject": "Object"}).json()
    assert full["rows"][0]["object"]["data"] == {"x": "1"}
    # Without the Table media type: the plain list.
    assert api.get(url).json()["kind"] == "ConfigMapList"

    rv = t["metadata"]["resourceVersion"]
    assert api.post(url, json=configmap("b")).status_code == 201
    with api.stream(
        "GET",
        url,
        params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "5"},
        headers={"Accept": TABLE},
    ) as stream:
        event = json.loads(next(stream.iter_lines()))
    assert event["type"] == "ADDED" and event["object"]["kind"] == "Table"
    assert [row["cells"][0] for row in event["object"]["rows"]] == ["b"]


def test_openapi_v3(api: httpx.Client) -> None:
    index = api.get("/openapi/v3").json()
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    doc = api.get(url).json()
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    schema = doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert schema["properties"]["spec"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}
    ]
    assert "io.k8s.api.core.v1.PodSpec" in doc["components"]["schemas"]  # referenced definitions come along
    assert api.get("/openapi/v3/apis/nope/v1").status_code == 404


def test_field_validation(api: httpx.Client, ns: str) -> None:
    url = f"/api/v1/namespaces/{ns}/configmaps"
    bad = {**configmap("v", a="1"), "extra": True, "metadata": {"name": "v", "labelz": {}}}
    r = api.post(url, json=bad, params={"fieldValidation": "Strict"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert r.json()["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding '
        'error: unknown field "metadata.labelz", unknown field "extra"'
    )
    r = api.post(url, json=bad, params={"fieldValidation": "Warn"})
    assert r.status_code == 201
    assert r.headers.get_list("warning") == [
        '299 - "unknown field \\"metadata.labelz\\""',
        '299 - "unknown field \\"extra\\""',
    ]
    assert "extra" not in api.get(f"{url}/v").json()
    r = api.post(url, json={**bad, "metadata": {"name": "w"}})  # no parameter: Warn, like upstream
    assert r.status_code == 201 and r.headers.get("warning")
    r = api.post(url, json={**bad, "metadata": {"name": "x"}}, params={"fieldValidation": "Ignore"})
    assert r.status_code == 201 and "warning" not in r.headers
    dup = b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d"},"data":{"a":"1","a":"2"}}'
    r = api.post(
        url, content=dup, params={"fieldValidation": "Strict"}, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and 'duplicate field "a"' in r.json()["message"]
    assert api.post(url, json=configmap("y"), params={"fieldValidation": "Loose"}).status_code == 400
    assert api.post(url, json=configmap("y")).status_code == 201
    # Patches are judged on their result, with the paths of the object.
    r = api.patch(
        f"{url}/y",
        params={"fieldValidation": "Strict"},
        json={"metadata": {"labelz": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 400 and 'unknown field "metadata.labelz"' in r.json()["message"]
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "dd"},
        "spec": {
            "replicaz": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "imagez": 1}]},
            },
        },
    }
    r = api.post(
        f"/apis/apps/v1/namespaces/{ns}/deployments", json=deploy, params={"fieldValidation": "Strict"}
    )
    assert (
        'unknown field "spec.replicaz", unknown field "spec.template.spec.containers[0].imagez"'
        in r.json()["message"]
    )


def _field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field (wire type 2); lengths here stay below 128."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def test_protobuf_bodies(api: httpx.Client, ns: str) -> None:
    """kubectl create configmap sends this: ``k8s\\0`` + runtime.Unknown{typeMeta, raw=ConfigMap}."""
    entry = _field(1, b"greeting") + _field(2, b"hello")
    configmap_pb = _field(1, _field(1, b"from-pb")) + _field(2, entry)  # metadata.name; data map entry
    body = b"k8s\x00" + _field(1, _field(1, b"v1") + _field(2, b"ConfigMap")) + _field(2, configmap_pb)
    protobuf = {
        "Content-Type": "application/vnd.kubernetes.protobuf",
        "Accept": "application/vnd.kubernetes.protobuf,application/json",
    }
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", content=body, headers=protobuf)
    assert r.status_code == 201, r.text
    assert r.headers["content-type"] == "application/json"  # answers stay JSON
    assert r.json()["data"] == {"greeting": "hello"} and r.json()["metadata"]["name"] == "from-pb"
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", content=b"k8s\x00\x0a\x00", headers=protobuf)
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
