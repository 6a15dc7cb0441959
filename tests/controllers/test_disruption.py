"""The disruption controller: the numbers of a budget's status, and the controller running
against the real API server with a ReplicaSet whose pods the fake kubelet makes Ready."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from minik.client.objects import format_time
from minik.controllers.disruption import (
    DisruptionController,
    ExpectedScaleError,
    ScaleFinder,
    count_healthy,
    disrupted_pods,
    expected_counts,
)
from minik.controllers.replicaset import ReplicaSetController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import NOT_READY, READY, Harness
from tests.helpers import wait_until

Obj = dict[str, Any]
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Store:
    """Just enough of an informer: objects by ``namespace/name``."""

    def __init__(self, *objs: Obj) -> None:
        self.objs = {f"{o['metadata']['namespace']}/{o['metadata']['name']}": o for o in objs}

    def get(self, key: str) -> Obj | None:
        return self.objs.get(key)


def owned(kind: str, name: str, uid: str, api_version: str = "apps/v1") -> list[Obj]:
    return [{"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": True}]


def workload(kind: str, name: str, uid: str, replicas: int, owners: list[Obj] | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "uid": uid}
    if owners:
        meta["ownerReferences"] = owners
    return {"kind": kind, "metadata": meta, "spec": {"replicas": replicas}}


def pod(name: str, *, ready: bool = True, owners: list[Obj] | None = None, deleting: bool = False) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if owners:
        meta["ownerReferences"] = owners
    if deleting:
        meta["deletionTimestamp"] = format_time(NOW)
    return {
        "metadata": meta,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def pdb(**spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns"}, "spec": spec, "status": {}}


def finder(*objs: Obj) -> ScaleFinder:
    by_kind: dict[str, list[Obj]] = {}
    for o in objs:
        by_kind.setdefault(o["kind"], []).append(o)
    stores = [
        Store(*by_kind.get(k, []))
        for k in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")
    ]
    return ScaleFinder(*stores)  # type: ignore[arg-type]


# -- the numbers ------------------------------------------------------------------------------------

RS = owned("ReplicaSet", "web-abc", "rs-1")
CLUSTER = finder(workload("ReplicaSet", "web-abc", "rs-1", 4))


@pytest.mark.parametrize(
    ("spec", "expected", "desired"),
    [
        ({"minAvailable": 2}, 3, 2),  # a number: expected is the pods found
        ({"minAvailable": "50%"}, 4, 2),  # a percentage: of the controller's scale (4)
        ({"minAvailable": "51%"}, 4, 3),  # rounded up
        ({"maxUnavailable": 1}, 4, 3),
        ({"maxUnavailable": "30%"}, 4, 2),  # 30% of 4 = 1.2, rounded up to 2 unavailable
        ({"maxUnavailable": 9}, 4, 0),  # never below 0
        ({}, 0, 0),  # neither: protects nothing
    ],
)
def test_expected_and_desired_follow_upstream(spec: Obj, expected: int, desired: int) -> None:
    pods = [pod(f"web-{i}", owners=RS) for i in range(3)]
    assert expected_counts(pdb(**spec), pods, CLUSTER)[:2] == (expected, desired)


def test_a_deployment_s_scale_counts_once_for_all_its_replicasets() -> None:
    deploy = owned("Deployment", "web", "dep-1")
    cluster = finder(
        workload("Deployment", "web", "dep-1", 5),
        workload("ReplicaSet", "web-old", "rs-old", 1, deploy),
        workload("ReplicaSet", "web-new", "rs-new", 4, deploy),
        workload("StatefulSet", "db", "sts-1", 2),
        workload("ReplicationController", "legacy", "rc-1", 3),
    )
    pods = [
        pod("a", owners=owned("ReplicaSet", "web-old", "rs-old")),
        pod("b", owners=owned("ReplicaSet", "web-new", "rs-new")),
        pod("c", owners=owned("StatefulSet", "db", "sts-1")),
        pod("d", owners=owned("ReplicationController", "legacy", "rc-1", "v1")),
        pod("bare"),
    ]
    assert cluster.expected_scale(pods) == (5 + 2 + 3, ["bare"])


def test_a_controller_that_cannot_be_found_fails_the_sync() -> None:
    stray = [pod("a", owners=owned("ReplicaSet", "gone", "rs-9"))]
    with pytest.raises(ExpectedScaleError, match='found no controllers for pod "a"'):
        expected_counts(pdb(maxUnavailable=1), stray, CLUSTER)
    # A number needs no scale: the same pods are simply counted.
    assert expected_counts(pdb(minAvailable=1), stray, CLUSTER)[:2] == (1, 1)


def test_evicted_pods_are_not_counted_healthy_until_they_go_or_time_out() -> None:
    budget = pdb(minAvailable=1)
    budget["status"]["disruptedPods"] = {
        "fresh": format_time(NOW - timedelta(seconds=30)),
        "stale": format_time(NOW - timedelta(seconds=150)),
        "deleting": format_time(NOW - timedelta(seconds=5)),
        "gone": format_time(NOW - timedelta(seconds=5)),
    }
    pods = [
        pod("fresh"),
        pod("stale"),
        pod("deleting", deleting=True),
        pod("other"),
        pod("sick", ready=False),
    ]
    kept, overdue, recheck = disrupted_pods(budget, pods, NOW)
    assert set(kept) == {"fresh"} and overdue == ["stale"]
    assert recheck == NOW + timedelta(seconds=90)
    assert count_healthy(pods, kept) == 2  # stale and other; not fresh, deleting or sick


# -- the controller against the API server --------------------------------------------------------


def replicaset(replicas: int) -> Obj:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


@pytest.fixture
def harness(apiserver: APIServerProcess, ns: str) -> Iterator[Harness]:
    with Harness(
        apiserver.kubeconfig,
        ns,
        [lambda c, f, r: ReplicaSetController(c, f, r), lambda c, f, r: DisruptionController(c, f, r)],
        node_name="node-a",
    ) as h:
        yield h


@pytest.mark.integration
def test_the_controller_keeps_the_budget_counting(api: httpx.Client, ns: str, harness: Harness) -> None:
    base = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    r = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", json=replicaset(3))
    assert r.status_code == 201, r.text
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }
    assert api.post(base, json=body).status_code == 201

    def status() -> Obj:
        got: Obj = api.get(f"{base}/web").json().get("status") or {}
        return got

    def numbers() -> tuple[int | None, int | None, int | None, int | None]:
        s = status()
        return (
            s.get("expectedPods"),
            s.get("currentHealthy"),
            s.get("desiredHealthy"),
            s.get("disruptionsAllowed"),
        )

    wait_until(
        lambda: numbers() == (3, 3, 2, 1), timeout=20, message="3 healthy of 3, one disruption allowed"
    )
    s = status()
    assert s["observedGeneration"] == 1
    assert [(c["type"], c["status"], c["reason"]) for c in s["conditions"]] == [
        ("DisruptionAllowed", "True", "SufficientPods")
    ]

    # One pod turns not-ready: no disruption left.
    pods = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    harness.set_action(pods[0]["metadata"]["name"], NOT_READY)
    wait_until(lambda: numbers() == (3, 2, 2, 0), timeout=20, message="one pod not ready, nothing allowed")
    assert status()["conditions"][0]["reason"] == "InsufficientPods"
    harness.set_action(pods[0]["metadata"]["name"], READY)
    wait_until(lambda: numbers() == (3, 3, 2, 1), timeout=20, message="healthy again")

    # An eviction spends the disruption; the ReplicaSet replaces the pod and the budget recovers.
    victim = pods[1]["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}}
    r = api.post(f"/api/v1/namespaces/{ns}/pods/{victim}/eviction", json=eviction)
    assert r.status_code == 201, r.text
    wait_until(
        lambda: numbers() == (3, 3, 2, 1) and victim not in (status().get("disruptedPods") or {}),
        timeout=30,
        message="a replacement pod and the budget back at one allowed disruption",
    )
    names = {p["metadata"]["name"] for p in api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]}
    assert victim not in names and len(names) == 3

    # Scaling the ReplicaSet moves expectedPods (maxUnavailable is counted from the scale).
    rs = api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets/web").json()
    rs["spec"]["replicas"] = 4
    assert api.put(f"/apis/apps/v1/namespaces/{ns}/replicasets/web", json=rs).status_code == 200
    wait_until(lambda: numbers() == (4, 4, 3, 1), timeout=20, message="expected pods follow the scale")


@pytest.mark.integration
def test_a_budget_whose_pods_cannot_be_scaled_fails_safe_and_says_why(
    api: httpx.Client, ns: str, harness: Harness
) -> None:
    base = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    stray = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "stray",
            "labels": {"app": "odd"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "gone",
                    "uid": "0000-gone",
                    "controller": True,
                }
            ],
        },
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    bare = {**stray, "metadata": {"name": "bare", "labels": {"app": "bare"}}}
    for pod in (stray, bare):
        assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
    for app in ("odd", "bare"):
        body = {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": app},
            "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": app}}},
        }
        assert api.post(base, json=body).status_code == 201

    def condition(name: str) -> tuple[Any, ...]:
        status = api.get(f"{base}/{name}").json().get("status") or {}
        conds = status.get("conditions") or [{}]
        return status.get("disruptionsAllowed"), conds[0].get("status"), conds[0].get("reason")

    wait_until(lambda: condition("odd") == (0, "False", "SyncFailed"), timeout=20, message="odd fails safe")
    # A pod without a controller: nothing to scale from, so expected 0 and nothing allowed -- and a warning.
    wait_until(
        lambda: condition("bare") == (0, "False", "InsufficientPods"), timeout=20, message="bare synced"
    )

    def reasons() -> set[str]:
        items = api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
        return {e["reason"] for e in items if e["involvedObject"]["kind"] == "PodDisruptionBudget"}

    wait_until(
        lambda: {"CalculateExpectedPodCountFailed", "UnmanagedPods"} <= reasons(),
        timeout=20,
        message="events",
    )
