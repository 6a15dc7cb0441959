"""Create/read/update/delete semantics every resource shares, against a real apiserver + etcd."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest

from tests.conftest import APIServerProcess

pytestmark = pytest.mark.integration


def cm(name: str, data: dict[str, str] | None = None, **meta: object) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, **meta},
        "data": data or {"k": "v"},
    }


def test_create_get_list_update_delete(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    r = api.post(base, json=cm("one"))
    assert r.status_code == 201, r.text
    created = r.json()
    meta = created["metadata"]
    assert meta["namespace"] == ns and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    rv1 = int(meta["resourceVersion"])

    got = api.get(f"{base}/one").json()
    assert got["data"] == {"k": "v"} and got["metadata"]["resourceVersion"] == str(rv1)

    got["data"] = {"k": "changed"}
    r = api.put(f"{base}/one", json=got)
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) > rv1
    assert r.json()["metadata"]["uid"] == meta["uid"]

    items = api.get(base).json()
    assert items["kind"] == "ConfigMapList" and [i["metadata"]["name"] for i in items["items"]] == ["one"]

    r = api.delete(f"{base}/one")
    assert r.status_code == 200 and r.json()["status"] == "Success"
    assert api.get(f"{base}/one").status_code == 404


def test_not_found_is_a_status(api: httpx.Client, ns: str) -> None:
    r = api.get(f"/api/v1/namespaces/{ns}/configmaps/missing")
    assert r.status_code == 404
    body = r.json()
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'configmaps "missing" not found'
    assert body["details"] == {"name": "missing", "kind": "configmaps"}


def test_stale_update_is_409_conflict(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.post(base, json=cm("c")).json()
    second = dict(first, data={"k": "second"})
    assert api.put(f"{base}/c", json=second).status_code == 200
    stale = dict(first, data={"k": "stale"})  # still carries the first resourceVersion
    r = api.put(f"{base}/c", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    assert "the object has been modified" in r.json()["message"]
    assert api.get(f"{base}/c").json()["data"] == {"k": "second"}


def test_update_without_resource_version_is_unconditional(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("u"))
    r = api.put(f"{base}/u", json=cm("u", {"k": "new"}))
    assert r.status_code == 200 and r.json()["data"] == {"k": "new"}


def test_one_winner_among_concurrent_creates(apiserver: APIServerProcess, ns: str) -> None:
    def create(_: int) -> int:
        with apiserver.client() as c:
            return c.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("race")).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(create, range(20)))
    assert sorted(codes) == [201] + [409] * 19


def test_already_exists_reason(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("dup"))
    r = api.post(base, json=cm("dup"))
    assert r.status_code == 409 and r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'configmaps "dup" already exists'


def test_generate_name(api: httpx.Client, ns: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}}
    names = {
        api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body).json()["metadata"]["name"]
        for _ in range(5)
    }
    assert len(names) == 5 and all(n.startswith("gen-") and len(n) == 9 for n in names)


def test_namespace_must_exist(api: httpx.Client) -> None:
    r = api.post("/api/v1/namespaces/does-not-exist/configmaps", json=cm("x"))
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "does-not-exist" not found'


def test_system_namespaces_and_kubernetes_service_exist(api: httpx.Client) -> None:
    names = {n["metadata"]["name"] for n in api.get("/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
    svc = api.get("/api/v1/namespaces/default/services/kubernetes").json()
    assert svc["spec"]["clusterIP"] == "10.96.0.1"


def deployment(name: str, image: str = "busybox:1.36", replicas: int = 1) -> dict[str, object]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


def test_generation_bumps_on_spec_changes_only(api: httpx.Client, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    d = api.post(base, json=deployment("gen")).json()
    assert d["metadata"]["generation"] == 1
    d["metadata"]["labels"] = {"x": "y"}
    d = api.put(f"{base}/gen", json=d).json()
    assert d["metadata"]["generation"] == 1, "a metadata-only change is not a new generation"
    d["spec"]["replicas"] = 3
    d = api.put(f"{base}/gen", json=d).json()
    assert d["metadata"]["generation"] == 2


def test_defaults_are_applied(api: httpx.Client, ns: str) -> None:
    d = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("def", image="nginx")).json()
    spec = d["spec"]
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10 and spec["progressDeadlineSeconds"] == 600
    pod_spec = spec["template"]["spec"]
    assert pod_spec["restartPolicy"] == "Always" and pod_spec["dnsPolicy"] == "ClusterFirst"
    assert pod_spec["containers"][0]["imagePullPolicy"] == "Always"  # untagged image


def test_status_is_written_only_through_the_status_subresource(api: httpx.Client, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    d = api.post(base, json=deployment("st")).json()
    d["status"] = {"replicas": 7}
    d = api.put(f"{base}/st", json=d).json()
    assert d.get("status", {}).get("replicas") is None, "main resource writes never change status"

    d["status"] = {"replicas": 5}
    d["spec"]["replicas"] = 9
    r = api.put(f"{base}/st/status", json=d)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["status"]["replicas"] == 5
    assert d["spec"]["replicas"] == 1, "status writes never change spec"


def test_finalizers_hold_deletion_until_removed(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("fin", finalizers=["example.com/hold"]))
    r = api.delete(f"{base}/fin")
    assert r.status_code == 200
    held = api.get(f"{base}/fin").json()
    assert held["metadata"]["deletionTimestamp"] and held["metadata"]["finalizers"] == ["example.com/hold"]
    held["metadata"]["finalizers"] = []
    assert api.put(f"{base}/fin", json=held).status_code == 200
    assert api.get(f"{base}/fin").status_code == 404


def pod(name: str, node: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def test_pod_deletion_is_graceful_on_a_node(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    created = api.post(base, json=pod("p", node="node-a")).json()
    assert created["status"]["phase"] == "Pending"
    r = api.delete(f"{base}/p")
    assert r.status_code == 200
    marked = api.get(f"{base}/p").json()["metadata"]
    assert marked["deletionGracePeriodSeconds"] == 30 and marked["deletionTimestamp"]
    # The kubelet finishes the delete with gracePeriodSeconds=0.
    r = api.request("DELETE", f"{base}/p", json={"gracePeriodSeconds": 0})
    assert r.status_code == 200
    assert api.get(f"{base}/p").status_code == 404


def test_unscheduled_pod_is_deleted_at_once(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    api.post(base, json=pod("q"))
    assert api.delete(f"{base}/q").status_code == 200
    assert api.get(f"{base}/q").status_code == 404


def test_binding_assigns_a_node_once(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    api.post(base, json=pod("b"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "b"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }
    r = api.post(f"{base}/b/binding", json=binding)
    assert r.status_code == 201, r.text
    p = api.get(f"{base}/b").json()
    assert p["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in p["status"]["conditions"])
    r = api.post(f"{base}/b/binding", json=dict(binding, target={"kind": "Node", "name": "node-2"}))
    assert r.status_code == 409


def test_scale_subresource(api: httpx.Client, ns: str) -> None:
    base = f"/apis/apps/v1/namespaces/{ns}/deployments"
    api.post(base, json=deployment("sc"))
    scale = api.get(f"{base}/sc/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=sc"
    r = api.patch(
        f"{base}/sc/scale",
        content=b'{"spec":{"replicas":3}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3
    assert api.get(f"{base}/sc").json()["spec"]["replicas"] == 3
    r = api.put(
        f"{base}/sc/scale",
        json={
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "sc"},
            "spec": {"replicas": -1},
        },
    )
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.replicas"


def test_label_and_field_selectors(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        api.post(base, json=cm(name, labels={"tier": tier}))

    def names(**params: str) -> list[str]:
        r = api.get(base, params=params)
        assert r.status_code == 200, r.text
        return [i["metadata"]["name"] for i in r.json()["items"]]

    assert names(labelSelector="tier=web") == ["a", "c"]
    assert names(labelSelector="tier in (db)") == ["b"]
    assert names(labelSelector="tier notin (web)") == ["b"]
    assert names(labelSelector="!tier") == []
    assert names(fieldSelector="metadata.name=b") == ["b"]
    assert names(fieldSelector="metadata.name!=b", labelSelector="tier") == ["a", "c"]
    r = api.get(base, params={"fieldSelector": "spec.nodeName=x"})
    assert r.status_code == 400 and "field label not supported" in r.json()["message"]


def test_pod_field_selectors(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/pods"
    api.post(base, json=pod("on-a", node="a"))
    api.post(base, json=pod("on-b", node="b"))
    r = api.get(base, params={"fieldSelector": "spec.nodeName=a"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["on-a"]
    r = api.get("/api/v1/pods", params={"fieldSelector": f"spec.nodeName=b,metadata.namespace={ns}"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["on-b"]


def test_limit_and_continue(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    for i in range(7):
        api.post(base, json=cm(f"p{i}"))
    seen: list[str] = []
    params: dict[str, str] = {"limit": "3"}
    pages = 0
    while True:
        body = api.get(base, params=params).json()
        pages += 1
        seen += [i["metadata"]["name"] for i in body["items"]]
        token = body["metadata"].get("continue")
        if not token:
            break
        params = {"limit": "3", "continue": token}
    assert pages == 3 and seen == [f"p{i}" for i in range(7)]


def test_list_at_exact_resource_version(api: httpx.Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(base, json=cm("first"))
    rv = api.get(base).json()["metadata"]["resourceVersion"]
    api.post(base, json=cm("second"))
    old = api.get(base, params={"resourceVersion": rv, "resourceVersionMatch": "Exact"}).json()
    assert [i["metadata"]["name"] for i in old["items"]] == ["first"]
    now = api.get(base, params={"resourceVersion": rv, "resourceVersionMatch": "NotOlderThan"}).json()
    assert [i["metadata"]["name"] for i in now["items"]] == ["first", "second"]


def test_cluster_wide_list_across_namespaces(api: httpx.Client, ns: str) -> None:
    api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("everywhere"))
    items = api.get("/api/v1/configmaps").json()["items"]
    assert any(i["metadata"]["namespace"] == ns and i["metadata"]["name"] == "everywhere" for i in items)


def test_namespace_deletion_marks_terminating(api: httpx.Client, ns: str) -> None:
    r = api.delete(f"/api/v1/namespaces/{ns}")
    assert r.status_code == 200
    body = api.get(f"/api/v1/namespaces/{ns}").json()
    assert body["status"]["phase"] == "Terminating"
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm("late"))
    assert r.status_code == 403 and "being terminated" in r.json()["message"]
    # The namespace controller empties it and clears spec.finalizers through /finalize.
    body["spec"]["finalizers"] = []
    r = api.put(f"/api/v1/namespaces/{ns}/finalize", json=body)
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/namespaces/{ns}").status_code == 404
