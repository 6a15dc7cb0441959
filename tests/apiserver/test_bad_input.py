"""Malformed requests get the right Status, and nothing is written to etcd.

Each case records etcd's revision before and after: any write, even a half
write, would move it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from minik.apiserver.etcd import EtcdClient
from tests.conftest import Etcd

pytestmark = pytest.mark.integration


def etcd_revision(url: str) -> int:
    async def read() -> int:
        client = EtcdClient([url])
        try:
            return await client.current_revision()
        finally:
            await client.close()

    return asyncio.run(read())


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    body = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": body}


def deployment(name: str, selector: dict[str, Any], template_labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": selector,
            "template": {
                "metadata": {"labels": template_labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


CASES: list[tuple[str, str, str, dict[str, str], Any, int, str, str | None]] = [
    # (id, method, path (NS = the test namespace), headers, body, code, reason, field)
    (
        "bad json",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {"Content-Type": "application/json"},
        b'{"apiVersion": "v1", "kind": "Pod", ',
        400,
        "BadRequest",
        None,
    ),
    (
        "bad yaml",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {"Content-Type": "application/yaml"},
        b"kind: Pod\n  bad: [indent\n",
        400,
        "BadRequest",
        None,
    ),
    ("not an object", "POST", "/api/v1/namespaces/NS/pods", {}, [1, 2, 3], 400, "BadRequest", None),
    (
        "empty body",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {"Content-Type": "application/json"},
        b"",
        400,
        "BadRequest",
        None,
    ),
    (
        "wrong kind for path",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
        400,
        "BadRequest",
        None,
    ),
    (
        "wrong apiVersion",
        "POST",
        "/apis/apps/v1/namespaces/NS/deployments",
        {},
        {**deployment("d", {"matchLabels": {"a": "b"}}, {"a": "b"}), "apiVersion": "apps/v1beta1"},
        400,
        "BadRequest",
        None,
    ),
    (
        "name too long",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x" * 300}},
        422,
        "Invalid",
        "metadata.name",
    ),
    (
        "bad name chars",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}},
        422,
        "Invalid",
        "metadata.name",
    ),
    (
        "no name",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}},
        422,
        "Invalid",
        "metadata.name",
    ),
    (
        "bad label key",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "labels": {"bad key!": "v"}}},
        422,
        "Invalid",
        "metadata.labels",
    ),
    (
        "pod without containers",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {},
        pod(containers=[]),
        422,
        "Invalid",
        "spec.containers",
    ),
    (
        "duplicate container names",
        "POST",
        "/api/v1/namespaces/NS/pods",
        {},
        pod(containers=[{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]),
        422,
        "Invalid",
        "spec.containers[1].name",
    ),
    (
        "service port out of range",
        "POST",
        "/api/v1/namespaces/NS/services",
        {},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 70000}]},
        },
        422,
        "Invalid",
        "spec.ports[0].port",
    ),
    (
        "selector does not match template",
        "POST",
        "/apis/apps/v1/namespaces/NS/deployments",
        {},
        deployment("d", {"matchLabels": {"app": "a"}}, {"app": "b"}),
        422,
        "Invalid",
        "spec.template.metadata.labels",
    ),
    (
        "resourceVersion on create",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rv", "resourceVersion": "5"}},
        400,
        "BadRequest",
        None,
    ),
    (
        "unsupported media type",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {"Content-Type": "application/cbor"},
        b"\x00\x01",
        415,
        "UnsupportedMediaType",
        None,
    ),
    (
        "malformed protobuf",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {"Content-Type": "application/vnd.kubernetes.protobuf"},
        b"\x00\x01",
        400,
        "BadRequest",
        None,
    ),
    (
        "body too large",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "big"},
            "data": {"k": "x" * (4 * 1024 * 1024)},
        },
        413,
        "RequestEntityTooLarge",
        None,
    ),
    ("unknown resource", "GET", "/api/v1/namespaces/NS/gizmos", {}, None, 404, "NotFound", None),
    ("unknown group", "GET", "/apis/nope.example.com/v1/things", {}, None, 404, "NotFound", None),
    (
        "bad label selector",
        "GET",
        "/api/v1/namespaces/NS/pods?labelSelector=a%20in%20(",
        {},
        None,
        400,
        "BadRequest",
        None,
    ),
    ("bad limit", "GET", "/api/v1/namespaces/NS/pods?limit=abc", {}, None, 400, "BadRequest", None),
    (
        "bad continue",
        "GET",
        "/api/v1/namespaces/NS/pods?limit=1&continue=garbage",
        {},
        None,
        400,
        "BadRequest",
        None,
    ),
    (
        "bad resourceVersion",
        "GET",
        "/api/v1/namespaces/NS/pods?resourceVersion=abc",
        {},
        None,
        400,
        "BadRequest",
        None,
    ),
    (
        "name mismatch on update",
        "PUT",
        "/api/v1/namespaces/NS/configmaps/exists",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}},
        400,
        "BadRequest",
        None,
    ),
    (
        "update of missing object",
        "PUT",
        "/api/v1/namespaces/NS/configmaps/missing",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "missing"}},
        404,
        "NotFound",
        None,
    ),
    (
        "json patch test fails",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/json-patch+json"},
        [{"op": "test", "path": "/data/k", "value": "nope"}],
        422,
        "Invalid",
        None,
    ),
    (
        "json patch bad path",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/json-patch+json"},
        [{"op": "replace", "path": "/nope/deeper", "value": 1}],
        422,  # upstream: an operation that fails on the object is 422, whatever the reason
        "Invalid",
        None,
    ),
    (
        # The list of allowed ops names "test": the code must not depend on the message's words.
        "json patch unknown op",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/json-patch+json"},
        [{"op": 5, "path": "/data/k"}],
        422,
        "Invalid",
        None,
    ),
    (
        "json patch that is not a list",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/json-patch+json"},
        {"op": "test", "path": "/data/k", "value": "v"},
        400,  # upstream: a patch that does not decode as one is 400
        "BadRequest",
        None,
    ),
    (
        "json patch operation that is not an object",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/json-patch+json"},
        ["test"],
        400,
        "BadRequest",
        None,
    ),
    (
        "strategic patch with a bad directive",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/strategic-merge-patch+json"},
        {"data": {"$patch": "test"}},
        400,
        "BadRequest",
        None,
    ),
    (
        "strategic patch contradicting its retainKeys",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/strategic-merge-patch+json"},
        {"data": {"$retainKeys": ["a"], "b": "x"}},
        422,  # upstream: ErrPatchContentNotMatchRetainKeys is 422
        "Invalid",
        None,
    ),
    (
        "patch with unknown content type",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "text/plain"},
        b"{}",
        415,
        "UnsupportedMediaType",
        None,
    ),
    (
        "patch making the object invalid",
        "PATCH",
        "/api/v1/namespaces/NS/configmaps/exists",
        {"Content-Type": "application/merge-patch+json"},
        {"metadata": {"labels": {"-bad-": "x"}}},
        422,
        "Invalid",
        "metadata.labels",
    ),
    (
        "bad propagation policy",
        "DELETE",
        "/api/v1/namespaces/NS/configmaps/exists",
        {},
        {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Sometimes"},
        422,
        "Invalid",
        None,
    ),
    (
        "stale delete precondition",
        "DELETE",
        "/api/v1/namespaces/NS/configmaps/exists",
        {},
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": "1"}},
        409,
        "Conflict",
        None,
    ),
    (
        "pods/log is read-only",
        "POST",
        "/api/v1/namespaces/NS/pods/p/log",
        {},
        {},
        405,
        "MethodNotAllowed",
        None,
    ),
    (
        "subresource that does not exist",
        "GET",
        "/api/v1/namespaces/NS/configmaps/exists/scale",
        {},
        None,
        404,
        "NotFound",
        None,
    ),
    # a namespaced object has no URL outside its namespace
    *(
        (f"namespaced {what} without a namespace", method, path, headers, body, 404, "NotFound", None)
        for what, method, path, headers, body in (
            (
                "eviction",
                "POST",
                "/api/v1/pods/p/eviction",
                {},
                {"kind": "Eviction", "apiVersion": "policy/v1"},
            ),
            ("binding", "POST", "/api/v1/pods/p/binding", {}, {"kind": "Binding", "apiVersion": "v1"}),
            (
                "apply",
                "PATCH",
                "/api/v1/configmaps/exists?fieldManager=t",
                {"content-type": "application/apply-patch+yaml"},
                b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: exists\n",
            ),
            ("get", "GET", "/api/v1/configmaps/exists", {}, None),
            ("token", "POST", "/api/v1/serviceaccounts/default/token", {}, {}),
        )
    ),
    (
        "POST under the /watch/ prefix",
        "POST",
        "/api/v1/watch/namespaces/NS/configmaps",
        {},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sneaky"}},
        405,
        "MethodNotAllowed",
        None,
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "headers", "body", "code", "reason", "field"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input(
    api: httpx.Client,
    etcd_server: Etcd,
    ns: str,
    case: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: Any,
    code: int,
    reason: str,
    field: str | None,
) -> None:
    r = api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "exists"}, "data": {"k": "v"}},
    )
    assert r.status_code == 201
    before = etcd_revision(etcd_server.url)
    url = path.replace("NS", ns)
    if isinstance(body, bytes):
        r = api.request(method, url, content=body, headers=headers)
    elif body is None:
        r = api.request(method, url, headers=headers)
    else:
        r = api.request(method, url, json=body, headers=headers)
    assert r.status_code == code, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["status"] == "Failure"
    assert status["reason"] == reason and status["code"] == code and status["message"]
    if field is not None:
        fields = [c["field"] for c in status["details"]["causes"]]
        assert any(f == field or f.startswith(field) for f in fields), fields
    assert etcd_revision(etcd_server.url) == before, "a rejected request must not write anything"
