"""ReplicaSet / ReplicationController against the real apiserver, with the fake kubelet
making pods Running and Ready.

The pieces have their own unit tests: expectations (test_expectations.py), the
deletion ranking (test_pods.py), slow-start batches and PodControl (test_podcontrol.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PODS
from minik.controllers.replicaset import ReplicaSetController, ReplicationControllerController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import NOT_READY, Harness
from tests.helpers import wait_until

# -- integration -----------------------------------------------------------------------------------


def replicaset(name: str, replicas: int, labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
            **spec,
        },
    }


def bare_pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
    }


def pods_in(api: httpx.Client, ns: str, selector: str = "") -> list[dict[str, Any]]:
    r = api.get(f"/api/v1/namespaces/{ns}/pods", params={"labelSelector": selector} if selector else None)
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def owner_uid(p: dict[str, Any]) -> str | None:
    for ref in p["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref["uid"])
    return None


class MaxPods:
    """Watches pods on the harness loop and remembers the most live pods ever seen at once."""

    def __init__(self) -> None:
        self.max = 0
        self.lock = threading.Lock()

    def __call__(self, factory: SharedInformerFactory) -> None:
        informer = factory.informer(PODS)

        def check(*_: Any) -> None:
            count = sum(1 for p in informer.list() if not p["metadata"].get("deletionTimestamp"))
            with self.lock:
                self.max = max(self.max, count)

        informer.add_event_handler(on_add=check, on_update=check, on_delete=check)


@pytest.fixture
def rs_harness(apiserver: APIServerProcess, ns: str) -> Iterator[Harness]:
    watcher = MaxPods()
    with Harness(
        apiserver.kubeconfig,
        ns,
        [
            lambda c, f, r: ReplicaSetController(c, f, r),
            lambda c, f, r: ReplicationControllerController(c, f, r),
        ],
        observers=[watcher],
    ) as h:
        h.max_pods = watcher  # type: ignore[attr-defined]
        yield h


@pytest.mark.integration
def test_replicaset_keeps_replicas_and_replaces_a_deleted_pod(
    api: httpx.Client, ns: str, rs_harness: Harness
) -> None:
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=replicaset("web", 3, {"app": "web"}))
    assert r.status_code == 201, r.text

    def status() -> dict[str, Any]:
        got: dict[str, Any] = api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets/web").json()
        return got

    wait_until(lambda: status()["status"].get("readyReplicas") == 3, timeout=20, message="3 ready replicas")
    st = status()
    assert st["status"]["replicas"] == 3
    assert st["status"]["availableReplicas"] == 3
    assert st["status"]["fullyLabeledReplicas"] == 3
    assert st["status"]["observedGeneration"] == st["metadata"]["generation"]
    pods = live(pods_in(api, ns))
    assert len(pods) == 3
    assert rs_harness.max_pods.max == 3  # type: ignore[attr-defined]  # expectations: never a double create
    for p in pods:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
        ref = p["metadata"]["ownerReferences"][0]
        assert ref["kind"] == "ReplicaSet" and ref["controller"] and ref["blockOwnerDeletion"]
        assert ref["uid"] == st["metadata"]["uid"]

    victim = pods[0]["metadata"]["name"]
    api.delete(f"/api/v1/namespaces/{ns}/pods/{victim}").raise_for_status()
    wait_until(
        lambda: (
            {p["metadata"]["name"] for p in live(pods_in(api, ns))} - {victim}
            and len(live(pods_in(api, ns))) == 3
            and victim not in {p["metadata"]["name"] for p in pods_in(api, ns)}
        ),
        timeout=20,
        message="a replacement pod",
    )
    wait_until(lambda: status()["status"].get("readyReplicas") == 3, timeout=20, message="ready again")

    # Scale down: 1 pod stays.
    api.patch(
        f"/apis/apps/v1/namespaces/{ns}/replicasets/web",
        json={"spec": {"replicas": 1}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    wait_until(lambda: len(pods_in(api, ns)) == 1, timeout=20, message="scaled down to 1")
    wait_until(lambda: status()["status"].get("replicas") == 1, timeout=20, message="status 1")

    events = api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
    reasons = {e["reason"] for e in events if e["involvedObject"]["name"] == "web"}
    assert {"SuccessfulCreate", "SuccessfulDelete"} <= reasons


@pytest.mark.integration
def test_replicaset_scale_down_deletes_not_ready_pods_first(
    api: httpx.Client, ns: str, rs_harness: Harness
) -> None:
    api.post(
        f"/apis/apps/v1/namespaces/{ns}/replicasets", json=replicaset("rank", 3, {"app": "rank"})
    ).raise_for_status()
    wait_until(
        lambda: len([p for p in pods_in(api, ns) if p["status"].get("phase") == "Running"]) == 3,
        timeout=20,
        message="3 running",
    )
    sick = pods_in(api, ns)[1]["metadata"]["name"]
    rs_harness.set_action(sick, NOT_READY)
    wait_until(
        lambda: (
            api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets/rank").json()["status"].get("readyReplicas")
            == 2
        ),
        timeout=20,
        message="one not ready",
    )
    api.patch(
        f"/apis/apps/v1/namespaces/{ns}/replicasets/rank",
        json={"spec": {"replicas": 2}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    wait_until(lambda: len(pods_in(api, ns)) == 2, timeout=20, message="scaled to 2")
    assert sick not in {p["metadata"]["name"] for p in pods_in(api, ns)}


@pytest.mark.integration
def test_replicaset_adopts_an_orphan_and_releases_a_relabelled_pod(
    api: httpx.Client, ns: str, rs_harness: Harness
) -> None:
    # An orphan that matches exists before the ReplicaSet: it is adopted, so only 1 more is made.
    api.post(f"/api/v1/namespaces/{ns}/pods", json=bare_pod("orphan", {"app": "adopt"})).raise_for_status()
    # The fake kubelet shares the controllers' pod cache: once it ran the pod, the cache has it.
    wait_until(
        lambda: api.get(f"/api/v1/namespaces/{ns}/pods/orphan").json()["status"].get("phase") == "Running",
        timeout=20,
        message="orphan running",
    )
    rs = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=replicaset("adopt", 2, {"app": "adopt"}))
    rs.raise_for_status()
    rs_uid = rs.json()["metadata"]["uid"]
    wait_until(
        lambda: owner_uid(api.get(f"/api/v1/namespaces/{ns}/pods/orphan").json()) == rs_uid,
        timeout=20,
        message="orphan adopted",
    )
    wait_until(lambda: len(pods_in(api, ns)) == 2, timeout=20, message="2 pods")
    assert rs_harness.max_pods.max == 2  # type: ignore[attr-defined]

    # Relabel the adopted pod: it is released (keeps running, no owner) and replaced.
    api.patch(
        f"/api/v1/namespaces/{ns}/pods/orphan",
        json={"metadata": {"labels": {"app": "elsewhere"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    ).raise_for_status()
    wait_until(
        lambda: owner_uid(api.get(f"/api/v1/namespaces/{ns}/pods/orphan").json()) is None,
        timeout=20,
        message="pod released",
    )
    wait_until(lambda: len(pods_in(api, ns, "app=adopt")) == 2, timeout=20, message="replacement created")
    assert api.get(f"/api/v1/namespaces/{ns}/pods/orphan").status_code == 200  # released, not deleted


@pytest.mark.integration
def test_replicaset_match_expressions(api: httpx.Client, ns: str, rs_harness: Harness) -> None:
    body = replicaset("expr", 2, {"tier": "web", "env": "prod"})
    body["spec"]["selector"] = {
        "matchLabels": {"tier": "web"},
        "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "staging"]}],
    }
    api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=body).raise_for_status()
    # An orphan with env=dev does not match and is left alone.
    api.post(
        f"/api/v1/namespaces/{ns}/pods", json=bare_pod("dev", {"tier": "web", "env": "dev"})
    ).raise_for_status()
    wait_until(lambda: len(pods_in(api, ns, "env=prod")) == 2, timeout=20, message="2 prod pods")
    assert owner_uid(api.get(f"/api/v1/namespaces/{ns}/pods/dev").json()) is None


@pytest.mark.integration
def test_replication_controller(api: httpx.Client, ns: str, rs_harness: Harness) -> None:
    rc = {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "legacy"},
        "spec": {
            "replicas": 2,
            "selector": {"app": "legacy"},
            "template": {
                "metadata": {"labels": {"app": "legacy"}},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.25"}]},
            },
        },
    }
    api.post(f"/api/v1/namespaces/{ns}/replicationcontrollers", json=rc).raise_for_status()

    def status() -> dict[str, Any]:
        got: dict[str, Any] = api.get(f"/api/v1/namespaces/{ns}/replicationcontrollers/legacy").json()[
            "status"
        ]
        return got

    wait_until(lambda: status().get("readyReplicas") == 2, timeout=20, message="2 ready")
    pods = pods_in(api, ns)
    assert len(pods) == 2
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController" for p in pods)
    assert status()["availableReplicas"] == 2
    api.delete(f"/api/v1/namespaces/{ns}/pods/{pods[0]['metadata']['name']}").raise_for_status()
    wait_until(
        lambda: (
            pods[0]["metadata"]["name"] not in {p["metadata"]["name"] for p in pods_in(api, ns)}
            and len(live(pods_in(api, ns))) == 2
        ),
        timeout=20,
        message="replacement",
    )
