"""Every patch content type, over HTTP."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def deployment(name: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"a": "1", "b": "2"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1.25", "env": [{"name": "X", "value": "1"}]},
                        {"name": "side", "image": "busybox:1.36"},
                    ]
                },
            },
        },
    }


def patch(api: httpx.Client, url: str, content_type: str, body: object) -> httpx.Response:
    import json

    return api.patch(url, content=json.dumps(body).encode(), headers={"Content-Type": content_type})


def test_strategic_merge_patch_merges_containers_by_name(api: httpx.Client, ns: str) -> None:
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/smp"
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("smp"))
    r = patch(
        api,
        url,
        "application/strategic-merge-patch+json",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}},
    )
    assert r.status_code == 200, r.text
    containers = r.json()["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:1.27"), ("side", "busybox:1.36")]
    assert containers[0]["env"] == [{"name": "X", "value": "1"}]
    assert r.json()["metadata"]["generation"] == 2


def test_merge_patch_replaces_lists_and_deletes_with_null(api: httpx.Client, ns: str) -> None:
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/mp"
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("mp"))
    r = patch(api, url, "application/merge-patch+json", {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"b": "2", "c": "3"}


def test_json_patch(api: httpx.Client, ns: str) -> None:
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/jp"
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("jp"))
    r = patch(
        api,
        url,
        "application/json-patch+json",
        [
            {"op": "test", "path": "/spec/replicas", "value": 1},
            {"op": "replace", "path": "/spec/replicas", "value": 4},
            {"op": "remove", "path": "/spec/template/spec/containers/1"},
        ],
    )
    assert r.status_code == 200, r.text
    assert r.json()["spec"]["replicas"] == 4
    assert len(r.json()["spec"]["template"]["spec"]["containers"]) == 1


def test_status_patch(api: httpx.Client, ns: str) -> None:
    api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("sp"))
    r = patch(
        api,
        f"/apis/apps/v1/namespaces/{ns}/deployments/sp/status",
        "application/merge-patch+json",
        {"status": {"replicas": 1, "readyReplicas": 1}, "spec": {"replicas": 9}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"]["readyReplicas"] == 1 and r.json()["spec"]["replicas"] == 1


def test_patch_naming_a_stale_resource_version_conflicts(api: httpx.Client, ns: str) -> None:
    created = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("rvp")).json()
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/rvp"
    assert (
        patch(api, url, "application/merge-patch+json", {"metadata": {"labels": {"z": "1"}}}).status_code
        == 200
    )
    r = patch(
        api,
        url,
        "application/merge-patch+json",
        {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"z": "2"}}},
    )
    assert r.status_code == 409


def test_apply_patch_creates_when_absent(api: httpx.Client, ns: str) -> None:
    import yaml

    body = yaml.safe_dump(deployment("ssa")).encode()
    url = f"/apis/apps/v1/namespaces/{ns}/deployments/ssa?fieldManager=test"
    r = api.patch(url, content=body, headers={"Content-Type": "application/apply-patch+yaml"})
    assert r.status_code in (200, 201), r.text
    assert api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/ssa").status_code == 200


def test_a_dry_run_patch_or_apply_answers_the_result_and_writes_nothing(api: httpx.Client, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(base, json=deployment("dry"))
    before = api.get(f"{base}/dry").json()
    r = patch(api, f"{base}/dry?dryRun=All", "application/merge-patch+json", {"spec": {"replicas": 5}})
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 5
    after = api.get(f"{base}/dry").json()
    assert after["spec"]["replicas"] == 1
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    # Server-side apply of an absent object with dryRun: 201 with the object, nothing created.
    r = api.patch(
        f"{base}/dry-apply?dryRun=All&fieldManager=t",
        content=b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dry-apply\n"
        b"spec:\n  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n"
        b"    spec: {containers: [{name: c, image: busybox}]}\n",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert r.status_code == 201, r.text
    assert api.get(f"{base}/dry-apply").status_code == 404
