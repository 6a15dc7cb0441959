"""Hostile input to the write path: no validation bypass, no out-of-range numbers, no 500.

Each rejected request gets the expected code, reason and (where there is one) the
field, and etcd's revision is the same before and after: nothing was written, not
even half. The classes (issue 13):

* a body or patch that claims another kind, or renames or moves the object, is
  refused -- validation always follows the resource of the URL;
* a value that does not fit its field's JSON type or integer format (2**31 in an
  ``int32``, 1.5 in an integer, a string for a bool) is refused as upstream's
  decoder refuses it, on every path (create, update, patch, apply, subresources,
  dry runs);
* numbers and shapes in query parameters, DeleteOptions, Binding, finalize and
  Scale bodies that used to end in a 500 are 400s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.apiserver.test_bad_input import etcd_revision
from tests.conftest import APIServerProcess, Etcd

pytestmark = pytest.mark.integration

JSON_PATCH = {"Content-Type": "application/json-patch+json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}

DEPLOY = "/apis/apps/v1/namespaces/NS/deployments"
SERVICES = "/api/v1/namespaces/NS/services"
PODS = "/api/v1/namespaces/NS/pods"


def deployment(name: str = "d", replicas: Any = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def service(name: str, port: Any = 80) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": port}]},
    }


def pod(name: str = "p", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }


def continue_token(rv: Any, start: Any = "x") -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class Case:
    id: str
    method: str
    path: str  # NS: the test namespace
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    code: int = 400
    reason: str = "BadRequest"
    field: str | None = None
    message: str | None = None  # a part of the message


D = f"{DEPLOY}/d"
S1 = f"{SERVICES}/s1"
P = f"{PODS}/p"

CASES = [
    # --- validation bypass: the rules follow the URL, never the body -----------------------
    Case(
        "json patch sets an unknown kind (and replicas -5)",
        "PATCH",
        D,
        [
            {"op": "replace", "path": "/kind", "value": "Foo"},
            {"op": "replace", "path": "/spec/replicas", "value": -5},
        ],
        JSON_PATCH,
        message='the kind in the body ("Foo")',
    ),
    Case(
        "json patch sets another apiVersion (and a new selector)",
        "PATCH",
        D,
        [
            {"op": "replace", "path": "/apiVersion", "value": "example.com/v1"},
            {"op": "replace", "path": "/spec/selector", "value": {"matchLabels": {"other": "x"}}},
        ],
        JSON_PATCH,
        message="the API version in the data (example.com/v1)",
    ),
    Case(
        "json patch makes a Deployment a ConfigMap",
        "PATCH",
        D,
        [{"op": "replace", "path": "/kind", "value": "ConfigMap"}],
        JSON_PATCH,
    ),
    Case(
        "merge patch sets an unknown kind",
        "PATCH",
        D,
        {"kind": "Foo", "spec": {"replicas": -5}},
        MERGE_PATCH,
    ),
    Case(
        "strategic patch sets an unknown kind",
        "PATCH",
        D,
        {"kind": "Foo", "spec": {"replicas": -5}},
        STRATEGIC,
    ),
    Case(
        "json patch on a Service: unknown kind and another's ClusterIP",
        "PATCH",
        S1,
        [
            {"op": "replace", "path": "/kind", "value": "Foo"},
            {"op": "replace", "path": "/spec/clusterIP", "value": "10.96.0.1"},
        ],
        JSON_PATCH,
    ),
    Case(
        "dry-run json patch sets an unknown kind",
        "PATCH",
        f"{D}?dryRun=All",
        [
            {"op": "replace", "path": "/kind", "value": "Foo"},
            {"op": "replace", "path": "/spec/replicas", "value": -5},
        ],
        JSON_PATCH,
    ),
    Case(
        "status patch sets an unknown kind",
        "PATCH",
        f"{D}/status",
        [{"op": "replace", "path": "/kind", "value": "Foo"}],
        JSON_PATCH,
    ),
    Case(
        "update names another kind",
        "PUT",
        D,
        {**deployment(replicas=-5), "kind": "Foo"},
    ),
    Case(
        "json patch renames the object",
        "PATCH",
        D,
        [{"op": "replace", "path": "/metadata/name", "value": "other"}],
        JSON_PATCH,
        message="the name of the object (other) does not match the name on the URL (d)",
    ),
    Case(
        "merge patch renames the object",
        "PATCH",
        D,
        {"metadata": {"name": "other"}},
        MERGE_PATCH,
        message="does not match the name on the URL (d)",
    ),
    Case(
        "merge patch removes the name",
        "PATCH",
        D,
        {"metadata": {"name": None}},
        MERGE_PATCH,
        message="does not match the name on the URL (d)",
    ),
    Case(
        "merge patch moves the object to another namespace",
        "PATCH",
        D,
        {"metadata": {"namespace": "kube-system"}},
        MERGE_PATCH,
        message="namespace",
    ),
    Case(
        "update names another namespace",
        "PUT",
        D,
        {**deployment(), "metadata": {"name": "d", "namespace": "kube-system"}},
    ),
    Case(
        "create names another namespace",
        "POST",
        "/api/v1/namespaces/NS/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "kube-system"}},
        message="the namespace of the provided object does not match the namespace sent on the request",
    ),
    Case(
        "scale patch makes metadata a number",
        "PATCH",
        f"{D}/scale",
        {"metadata": 5},
        MERGE_PATCH,
        field="metadata",
    ),
    Case(
        "scale patch makes the Scale another kind",
        "PATCH",
        f"{D}/scale",
        [
            {"op": "replace", "path": "/kind", "value": "Deployment"},
            {"op": "replace", "path": "/spec/replicas", "value": 9},
        ],
        JSON_PATCH,
    ),
    Case(
        "apply moves the object to another namespace",
        "PATCH",
        f"{D}?fieldManager=t",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: kube-system\n",
        APPLY,
        message="namespace",
    ),
    Case(
        "apply creating in another namespace",
        "PATCH",
        f"{DEPLOY}/new?fieldManager=t",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: new\n  namespace: kube-system\n",
        APPLY,
        message="namespace",
    ),
    Case(
        "binding that is another kind",
        "POST",
        f"{P}/binding",
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "target": {"name": "node-1"}},
    ),
    Case(
        "finalize with another kind",
        "PUT",
        "/api/v1/namespaces/NS/finalize",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "NS"}, "spec": {"finalizers": []}},
    ),
    Case(
        "finalize naming another namespace",
        "PUT",
        "/api/v1/namespaces/NS/finalize",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "default"},
            "spec": {"finalizers": []},
        },
        message="does not match the name on the URL",
    ),
    Case(
        "scale naming another object",
        "PUT",
        f"{D}/scale",
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "other"},
            "spec": {"replicas": 3},
        },
        message="does not match the name on the URL (d)",
    ),
    Case(
        "the rule itself still holds: replicas -5",
        "PATCH",
        D,
        {"spec": {"replicas": -5}},
        MERGE_PATCH,
        422,
        "Invalid",
        "spec.replicas",
    ),
    # --- values that do not fit their field -------------------------------------------------
    Case("replicas 2**31", "POST", DEPLOY, deployment("n", 2**31), field="spec.replicas", message="int32"),
    Case("replicas 2**64", "POST", DEPLOY, deployment("n", 2**64), field="spec.replicas"),
    Case("replicas 1e30", "POST", DEPLOY, deployment("n", 1e30), field="spec.replicas"),
    Case("replicas 1.5", "POST", DEPLOY, deployment("n", 1.5), field="spec.replicas"),
    Case("replicas as a string", "POST", DEPLOY, deployment("n", "3"), field="spec.replicas"),
    Case(
        "dry run of replicas 2**31",
        "POST",
        f"{DEPLOY}?dryRun=All",
        deployment("n", 2**31),
        field="spec.replicas",
    ),
    Case("update to replicas 2**31", "PUT", D, deployment("d", 2**31), field="spec.replicas"),
    Case(
        "merge patch to replicas 2**31",
        "PATCH",
        D,
        {"spec": {"replicas": 2**31}},
        MERGE_PATCH,
        422,
        "Invalid",
        "spec.replicas",
    ),
    Case(
        "json patch to replicas 1e30",
        "PATCH",
        D,
        [{"op": "replace", "path": "/spec/replicas", "value": 1e30}],
        JSON_PATCH,
        422,
        "Invalid",
        "spec.replicas",
    ),
    Case(
        "apply of replicas 2**31",
        "PATCH",
        f"{D}?fieldManager=t",
        b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 2147483648\n",
        APPLY,
        422,
        "Invalid",
        "spec.replicas",
    ),
    Case(
        "apply creating replicas 2**31",
        "PATCH",
        f"{DEPLOY}/new?fieldManager=t",
        json.dumps(deployment("new", 2**31)).encode(),
        APPLY,
        field="spec.replicas",
    ),
    Case(
        "scale to 2**31",
        "PUT",
        f"{D}/scale",
        {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "d"},
            "spec": {"replicas": 2**31},
        },
        field="spec.replicas",
    ),
    Case(
        "scale patch to 1.5",
        "PATCH",
        f"{D}/scale",
        {"spec": {"replicas": 1.5}},
        MERGE_PATCH,
        field="spec.replicas",
    ),
    Case(
        "status with replicas 2**40",
        "PATCH",
        f"{D}/status",
        {"status": {"replicas": 2**40}},
        MERGE_PATCH,
        422,
        "Invalid",
        "status.replicas",
    ),
    Case("service port 2**32", "POST", SERVICES, service("n", 2**32), field="spec.ports[0].port"),
    Case(
        "container port 1e30",
        "POST",
        PODS,
        pod("n", containers=[{"name": "c", "image": "busybox", "ports": [{"containerPort": 1e30}]}]),
        field="spec.containers[0].ports[0].containerPort",
    ),
    Case(
        "terminationGracePeriodSeconds beyond int64",
        "POST",
        PODS,
        pod("n", terminationGracePeriodSeconds=2**63),
        field="spec.terminationGracePeriodSeconds",
    ),
    Case("a bool as a string", "POST", PODS, pod("n", hostNetwork="yes"), field="spec.hostNetwork"),
    Case(
        "a label value as a number",
        "POST",
        PODS,
        {**pod("n"), "metadata": {"name": "n", "labels": {"a": 1}}},
        field="metadata.labels[a]",
    ),
    Case("a list as an object", "POST", PODS, pod("n", containers={"name": "c"}), field="spec.containers"),
    # --- numbers in query parameters ---------------------------------------------------------
    Case("limit beyond int64", "GET", f"{PODS}?limit=99999999999999999999"),
    Case("limit 2**96", "GET", f"{PODS}?limit={2**96}"),
    Case("timeoutSeconds beyond int64", "GET", f"{PODS}?watch=true&timeoutSeconds=99999999999999999999"),
    Case("list resourceVersion beyond int64", "GET", f"{PODS}?resourceVersion=99999999999999999999"),
    Case(
        "watch resourceVersion beyond int64", "GET", f"{PODS}?watch=true&resourceVersion=99999999999999999999"
    ),
    Case(
        "exact list resourceVersion beyond int64",
        "GET",
        f"{PODS}?resourceVersion=99999999999999999999&resourceVersionMatch=Exact",
    ),
    Case("continue with a revision beyond int64", "GET", f"{PODS}?limit=1&continue={continue_token(2**70)}"),
    Case("continue with a string revision", "GET", f"{PODS}?limit=1&continue={continue_token('5')}"),
    Case("continue with revision 0", "GET", f"{PODS}?limit=1&continue={continue_token(0)}"),
    Case(
        "continue with a start that is not a string", "GET", f"{PODS}?limit=1&continue={continue_token(5, 7)}"
    ),
    # --- dryRun takes one value -------------------------------------------------------------
    Case(
        "create with dryRun=true",
        "POST",
        f"{DEPLOY}?dryRun=true",
        deployment("n"),
        code=422,
        reason="Invalid",
        field="dryRun",
    ),
    Case(
        "update with dryRun=1",
        "PUT",
        f"{D}?dryRun=1",
        deployment("d", 3),
        code=422,
        reason="Invalid",
        field="dryRun",
    ),
    Case(
        "patch with dryRun=yes",
        "PATCH",
        f"{D}?dryRun=yes",
        {"spec": {"replicas": 3}},
        MERGE_PATCH,
        422,
        "Invalid",
        "dryRun",
    ),
    Case("delete with dryRun=x", "DELETE", f"{D}?dryRun=x", code=422, reason="Invalid", field="dryRun"),
    Case(
        "delete with DeleteOptions dryRun [x]",
        "DELETE",
        D,
        {"dryRun": ["x"]},
        code=422,
        reason="Invalid",
        field="dryRun",
    ),
    # --- shapes of DeleteOptions, Binding, finalize and Scale bodies -------------------------
    Case(
        "preconditions as a string",
        "DELETE",
        D,
        {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": "x"},
        field="preconditions",
    ),
    Case(
        "precondition uid as a number", "DELETE", D, {"preconditions": {"uid": 5}}, field="preconditions.uid"
    ),
    Case(
        "gracePeriodSeconds as a string",
        "DELETE",
        D,
        {"gracePeriodSeconds": "soon"},
        field="gracePeriodSeconds",
    ),
    Case("gracePeriodSeconds 1e30", "DELETE", D, {"gracePeriodSeconds": 1e30}, field="gracePeriodSeconds"),
    Case("gracePeriodSeconds query beyond int64", "DELETE", f"{D}?gracePeriodSeconds=99999999999999999999"),
    Case("dryRun as a string in DeleteOptions", "DELETE", D, {"dryRun": "All"}, field="dryRun"),
    Case(
        "binding target as a string",
        "POST",
        f"{P}/binding",
        {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": "node-1"},
        field="target",
    ),
    Case(
        "binding target name as a number",
        "POST",
        f"{P}/binding",
        {"metadata": {"name": "p"}, "target": {"name": 7}},
        field="target.name",
    ),
    Case(
        "finalize with spec as a list",
        "PUT",
        "/api/v1/namespaces/NS/finalize",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "NS"}, "spec": []},
        field="spec",
    ),
    Case(
        "finalize with finalizers as a string",
        "PUT",
        "/api/v1/namespaces/NS/finalize",
        {"metadata": {"name": "NS"}, "spec": {"finalizers": "kubernetes"}},
        field="spec.finalizers",
    ),
    Case(
        "scale with spec as a number",
        "PUT",
        f"{D}/scale",
        {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": {"name": "d"}, "spec": 5},
        field="spec",
    ),
    Case("scale with spec as a string", "PUT", f"{D}/scale", {"spec": "x"}, field="spec"),
    Case(
        "scale with replicas as a string",
        "PUT",
        f"{D}/scale",
        {"spec": {"replicas": "3"}},
        field="spec.replicas",
    ),
]


@pytest.fixture()
def objects(api: httpx.Client, ns: str) -> Iterator[str]:
    """The namespace, holding a Deployment ``d``, Services ``s1``, ``s2`` and a Pod ``p``."""
    for path, body in (
        (DEPLOY, deployment("d")),
        (SERVICES, service("s1")),
        (SERVICES, service("s2")),
        (PODS, pod("p")),
    ):
        r = api.post(path.replace("NS", ns), json=body)
        assert r.status_code == 201, r.text
    yield ns


def send(api: httpx.Client, method: str, url: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    if isinstance(body, bytes):
        return api.request(method, url, content=body, headers=headers)
    if body is None:
        return api.request(method, url, headers=headers)
    return api.request(
        method,
        url,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rejected_and_nothing_written(api: httpx.Client, etcd_server: Etcd, objects: str, case: Case) -> None:
    ns = objects
    url = case.path.replace("NS", ns)
    body = (
        json.loads(json.dumps(case.body).replace('"NS"', json.dumps(ns)))
        if isinstance(case.body, dict)
        else case.body
    )
    before = etcd_revision(etcd_server.url)
    r = send(api, case.method, url, body, case.headers)
    assert r.status_code == case.code, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["status"] == "Failure", status
    assert status["reason"] == case.reason and status["code"] == case.code, status
    if case.message is not None:
        assert case.message in status["message"], status["message"]
    if case.field is not None:
        fields = [c.get("field") for c in (status.get("details") or {}).get("causes") or []]
        assert case.field in fields, (fields, status["message"])
    assert etcd_revision(etcd_server.url) == before, "a rejected request must not write anything"


def test_the_bypass_left_the_objects_as_they_were(api: httpx.Client, objects: str) -> None:
    """After every kind-changing patch above, the objects are still what they were."""
    ns = objects
    for patch in (
        [
            {"op": "replace", "path": "/kind", "value": "Foo"},
            {"op": "replace", "path": "/spec/replicas", "value": -5},
        ],
        [
            {"op": "replace", "path": "/apiVersion", "value": "x/v1"},
            {"op": "replace", "path": "/spec/selector/matchLabels/app", "value": "y"},
        ],
    ):
        assert (
            api.patch(
                f"/apis/apps/v1/namespaces/{ns}/deployments/d", json=patch, headers=JSON_PATCH
            ).status_code
            == 400
        )
    d = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/d").json()
    assert d["kind"] == "Deployment" and d["spec"]["replicas"] == 1
    assert d["spec"]["selector"] == {"matchLabels": {"app": "d"}}
    s2 = api.get(f"/api/v1/namespaces/{ns}/services/s2").json()
    s1 = api.get(f"/api/v1/namespaces/{ns}/services/s1").json()
    r = api.patch(
        f"/api/v1/namespaces/{ns}/services/s1",
        json=[
            {"op": "replace", "path": "/kind", "value": "Foo"},
            {"op": "replace", "path": "/spec/clusterIP", "value": s2["spec"]["clusterIP"]},
        ],
        headers=JSON_PATCH,
    )
    assert r.status_code == 400, r.text
    assert (
        api.get(f"/api/v1/namespaces/{ns}/services/s1").json()["spec"]["clusterIP"] == s1["spec"]["clusterIP"]
    )


def test_a_patch_without_the_kind_still_works(api: httpx.Client, objects: str) -> None:
    """Removing kind/apiVersion in a patch is not a change of type: the URL says what it is."""
    ns = objects
    r = api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/d",
        json=[{"op": "remove", "path": "/kind"}, {"op": "replace", "path": "/spec/replicas", "value": 3}],
        headers=JSON_PATCH,
    )
    assert r.status_code == 200, r.text
    assert r.json()["kind"] == "Deployment" and r.json()["spec"]["replicas"] == 3


def test_dry_run_all_writes_nothing_and_reads_ignore_dry_run(
    api: httpx.Client, etcd_server: Etcd, objects: str
) -> None:
    ns = objects
    before = etcd_revision(etcd_server.url)
    r = api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/d?dryRun=All",
        json={"spec": {"replicas": 4}},
        headers=MERGE_PATCH,
    )
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4, r.text
    r = api.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/d?dryRun=All")
    assert r.status_code == 200, r.text
    assert (
        api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/d?dryRun=whatever").json()["spec"]["replicas"]
        == 1
    )
    assert etcd_revision(etcd_server.url) == before


def test_the_largest_int32_is_accepted(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All", json=deployment("big", 2**31 - 1))
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["replicas"] == 2**31 - 1


def test_selectors_upstream_accepts_stay_accepted(api: httpx.Client, ns: str) -> None:
    for selector in ("a in ()", "a in (b,,c)"):
        r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector})
        assert r.status_code == 200, (selector, r.text)


def test_non_ascii_authorization_is_401(apiserver: APIServerProcess) -> None:
    with apiserver.client() as c:
        for value in ("Bearer \u00e9t\u00e9".encode(), b"Bearer \xff\xfe", "Bearer 日本".encode()):
            r = c.get("/api/v1/namespaces", headers={b"Authorization": value})
            assert r.status_code == 401, r.text
            assert r.json()["reason"] == "Unauthorized"


def _bound_pod(api: httpx.Client, ns: str, name: str, **spec: Any) -> httpx.Response:
    """Create a pod and bind it to a node (no kubelet: it stays there); the create's answer."""
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name, **spec))
    assert created.status_code == 201, created.text
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"name": "node-x"},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/pods/{name}/binding", json=binding)
    assert r.status_code == 201, r.text
    return created


def test_a_pod_with_a_huge_grace_period_can_still_be_deleted(api: httpx.Client, ns: str) -> None:
    """Any int64 grace period is accepted (as upstream); a plain delete marks the pod
    (its date clamped, not a 500), and the final delete removes it."""
    _bound_pod(api, ns, "slow", terminationGracePeriodSeconds=2**62)
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/slow")
    assert r.status_code == 200, r.text
    meta = r.json()["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 2**62
    assert meta["deletionTimestamp"].startswith("9999-")
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/slow", params={"gracePeriodSeconds": "0"})
    assert r.status_code == 200, r.text
    assert api.get(f"/api/v1/namespaces/{ns}/pods/slow").status_code == 404
    # An unscheduled pod has nothing to stop: deleted at once, whatever its grace period.
    assert (
        api.post(
            f"/api/v1/namespaces/{ns}/pods", json=pod("idle", terminationGracePeriodSeconds=2**62)
        ).status_code
        == 201
    )
    assert api.delete(f"/api/v1/namespaces/{ns}/pods/idle").status_code == 200
    assert api.get(f"/api/v1/namespaces/{ns}/pods/idle").status_code == 404


def test_a_huge_requested_grace_period_is_clamped(api: httpx.Client, ns: str) -> None:
    _bound_pod(api, ns, "p")
    r = api.request(
        "DELETE",
        f"/api/v1/namespaces/{ns}/pods/p",
        content=json.dumps({"gracePeriodSeconds": 2**63 - 1}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["deletionTimestamp"].startswith("9999-")


def test_negative_grace_periods_mean_one_second(api: httpx.Client, ns: str) -> None:
    """Upstream accepts a negative terminationGracePeriodSeconds (with a warning) and a
    negative gracePeriodSeconds, and treats both as 1 second."""
    created = _bound_pod(api, ns, "neg", terminationGracePeriodSeconds=-5)
    assert created.json()["spec"]["terminationGracePeriodSeconds"] == -5
    assert any(
        "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will be treated as 1"
        in w
        for w in created.headers.get_list("warning")
    ), created.headers
    r = api.post(
        f"/apis/apps/v1/namespaces/{ns}/deployments?dryRun=All",
        json={
            **deployment("w"),
            "spec": {
                **deployment("w")["spec"],
                "template": {
                    "metadata": {"labels": {"app": "w"}},
                    "spec": {
                        "terminationGracePeriodSeconds": -1,
                        "containers": [{"name": "c", "image": "busybox"}],
                    },
                },
            },
        },
    )
    assert r.status_code == 201, r.text
    assert any(
        "spec.template.spec.terminationGracePeriodSeconds: must be >= 0" in w
        for w in r.headers.get_list("warning")
    )
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/neg")
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["deletionGracePeriodSeconds"] == 1
    _bound_pod(api, ns, "neg2")
    r = api.delete(f"/api/v1/namespaces/{ns}/pods/neg2", params={"gracePeriodSeconds": "-3"})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["deletionGracePeriodSeconds"] == 1
