"""Small things on the wire that clients nobody here wrote rely on (issue 13, "wire fidelity")."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

PARTIAL = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
PARTIAL_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# What client-go's metadata client sends: protobuf first (minik passes it over), then JSON.
CLIENT_GO_LIST = f"application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,{PARTIAL_LIST},application/json"


def _configmap(api: httpx.Client, ns: str, name: str, labels: dict[str, str] | None = None) -> None:
    body = {"metadata": {"name": name, "labels": labels or {}}, "data": {"secret": "not in metadata"}}
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body)
    assert r.status_code == 201, r.text


def test_version_answers_with_and_without_a_trailing_slash(apiserver) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=apiserver.url, verify=apiserver.tls()) as c:
        plain, slashed = c.get("/version"), c.get("/version/")
    assert slashed.status_code == 200
    assert slashed.json() == plain.json()


def test_object_not_found_names_the_object(api: httpx.Client, ns: str) -> None:
    core = api.get(f"/api/v1/namespaces/{ns}/pods/missing").json()
    assert core["reason"] == "NotFound"
    assert core["details"] == {"name": "missing", "kind": "pods"}  # core: no group, as upstream
    apps = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/missing").json()
    assert apps["details"] == {"name": "missing", "group": "apps", "kind": "deployments"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/pods/x/ephemeralcontainers",  # kubectl debug's probe
        "/api/v1/widgets",
        "/apis/example.com/v1/widgets/x",
        "/api/v1/namespaces/default/nodes/x",
        "/nowhere",
        "/openapi/v9",
    ],
)
def test_every_404_carries_details(api: httpx.Client, path: str) -> None:
    """kubectl reads ``details`` of a NotFound without checking it is there (it panicked)."""
    r = api.get(path)
    assert r.status_code == 404
    status = r.json()
    assert status["reason"] == "NotFound"
    assert isinstance(status["details"], dict)
    assert status["details"].get("name", "") == ""  # no object was named: not "the pod is missing"


def test_partial_object_metadata_list_and_get(api: httpx.Client, ns: str) -> None:
    _configmap(api, ns, "a", {"k": "v"})
    _configmap(api, ns, "b")
    listed = api.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": CLIENT_GO_LIST})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert body["metadata"]["resourceVersion"]
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    for item in body["items"]:
        assert set(item) == {"kind", "apiVersion", "metadata"}
        assert (item["kind"], item["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
        assert item["metadata"]["uid"] and item["metadata"]["namespace"] == ns
    assert body["items"][0]["metadata"]["labels"] == {"k": "v"}

    got = api.get(f"/api/v1/namespaces/{ns}/configmaps/a", headers={"Accept": PARTIAL}).json()
    assert got["kind"] == "PartialObjectMetadata" and "data" not in got
    assert got["metadata"]["name"] == "a"

    patched = api.patch(
        f"/api/v1/namespaces/{ns}/configmaps/a",
        content=json.dumps({"metadata": {"labels": {"p": "1"}}}),
        headers={"Content-Type": "application/merge-patch+json", "Accept": PARTIAL},
    ).json()
    assert patched["kind"] == "PartialObjectMetadata" and patched["metadata"]["labels"]["p"] == "1"

    # A plain JSON choice ahead of the partial one wins: the whole object.
    whole = api.get(
        f"/api/v1/namespaces/{ns}/configmaps/a", headers={"Accept": f"application/json,{PARTIAL}"}
    )
    assert whole.json()["kind"] == "ConfigMap"


def test_partial_metadata_of_the_wrong_shape_is_406(api: httpx.Client, ns: str) -> None:
    _configmap(api, ns, "a")
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": PARTIAL})
    assert r.status_code == 406 and r.json()["reason"] == "NotAcceptable"
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps/a", headers={"Accept": PARTIAL_LIST})
    assert r.status_code == 406


def test_partial_object_metadata_watch(api: httpx.Client, ns: str) -> None:
    _configmap(api, ns, "w")
    with api.stream(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=5",
        headers={"Accept": PARTIAL},
    ) as r:
        assert r.status_code == 200
        line = next(r.iter_lines())
    event = json.loads(line)
    assert event["type"] == "ADDED"
    assert event["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": event["object"]["metadata"],
    }
    assert event["object"]["metadata"]["name"] == "w"

    # A watch-list's bookmark carries an object of the watched type: PartialObjectMetadata.
    with api.stream(
        "GET",
        f"/api/v1/namespaces/{ns}/configmaps",
        params={
            "watch": "true",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "5",
        },
        headers={"Accept": PARTIAL},
    ) as r:
        lines = r.iter_lines()
        added, mark = json.loads(next(lines)), json.loads(next(lines))
    assert added["type"] == "ADDED" and added["object"]["kind"] == "PartialObjectMetadata"
    assert mark["type"] == "BOOKMARK"
    assert (mark["object"]["kind"], mark["object"]["apiVersion"]) == (
        "PartialObjectMetadata",
        "meta.k8s.io/v1",
    )
    assert mark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_remaining_item_count_on_a_cut_list(api: httpx.Client, ns: str) -> None:
    for i in range(5):
        _configmap(api, ns, f"c{i}", {"even": str(i % 2 == 0).lower()})
    url = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.get(url, params={"limit": 2}).json()["metadata"]
    assert first["remainingItemCount"] == 3
    second = api.get(url, params={"limit": 2, "continue": first["continue"]}).json()["metadata"]
    assert second["remainingItemCount"] == 1
    last = api.get(url, params={"limit": 2, "continue": second["continue"]}).json()["metadata"]
    assert "remainingItemCount" not in last and "continue" not in last
    # With a selector the server cannot know how many more match: upstream leaves it out too.
    filtered = api.get(url, params={"limit": 1, "labelSelector": "even=true"}).json()["metadata"]
    assert "continue" in filtered and "remainingItemCount" not in filtered


def test_discovery_reports_the_real_port(apiserver, api: httpx.Client) -> None:  # type: ignore[no-untyped-def]
    doc = api.get("/api", headers={"Accept": "application/json"}).json()
    port = urlsplit(apiserver.url).port
    [entry] = doc["serverAddressByClientCIDRs"]
    assert entry["clientCIDR"] == "0.0.0.0/0"
    assert entry["serverAddress"].rsplit(":", 1)[1] == str(port)


def test_openapi_v2_is_the_v3_api_in_swagger_2(api: httpx.Client) -> None:
    r = api.get("/openapi/v2", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["swagger"] == "2.0" and doc["info"]["title"] == "Kubernetes"
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
    }
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    params = {p["name"]: p for p in patch["parameters"]}
    assert params["fieldValidation"]["in"] == "query" and params["fieldValidation"]["type"] == "string"
    assert params["body"]["in"] == "body" and params["body"]["schema"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
    }
    assert patch["responses"]["200"]["schema"] == {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in doc["paths"]
    deployment = doc["definitions"]["io.k8s.api.apps.v1.Deployment"]
    assert deployment["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    strategy = doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys" and "allOf" not in strategy
    containers = doc["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"  # what client-side apply merges by
    text = r.text
    assert "#/components/" not in text
    refs = set(re.findall(r'"\$ref":"#/definitions/([^"]+)"', text))
    assert refs and refs <= set(doc["definitions"])


def test_openapi_v2_in_protobuf_and_unservable_media_types(api: httpx.Client) -> None:
    """kubectl asks for gnostic protobuf only (client-go decodes it whatever the Content-Type)."""
    r = api.get(
        "/openapi/v2", headers={"Accept": "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert r.content.startswith(b"\x0a\x032.0")  # field 1 (swagger), a string of 3 bytes: "2.0"
    r = api.get("/openapi/v2", headers={"Accept": "application/xml"})
    assert r.status_code == 406 and r.json()["reason"] == "NotAcceptable"
