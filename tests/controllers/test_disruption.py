"""The disruption controller: PodDisruptionBudget status from the pods and their controllers.

Unit tests of the arithmetic first, then the controller against the real API server with
the ReplicaSet and Deployment controllers and the fake kubelet making pods Ready.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from minik.controllers.deployment import DeploymentController
from minik.controllers.disruption import DisruptionController, allowed, count_healthy, disrupted_pods
from minik.controllers.replicaset import ReplicaSetController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import NOT_READY, READY, Harness
from tests.helpers import wait_until

NOW = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = stamp(NOW)
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": str(ready)}]}}


def test_allowed_disruptions() -> None:
    assert allowed(3, 2, 3) == 1
    assert allowed(1, 2, 3) == 0  # never negative
    assert allowed(3, 0, 0) == 0  # nothing expected yet: a new budget is safe


def test_healthy_pods_and_recent_evictions() -> None:
    pods = [pod("a"), pod("b"), pod("c", ready=False), pod("d", deleting=True), pod("e")]
    budget = {
        "status": {
            "disruptedPods": {
                "e": stamp(NOW - timedelta(seconds=30)),  # evicted 30 s ago: still going
                "b": stamp(NOW - timedelta(minutes=3)),  # 3 min and still there: not trusted
                "d": stamp(NOW),  # terminating: done
                "gone": stamp(NOW),  # no such pod: done
            }
        }
    }
    disrupted, recheck = disrupted_pods(budget, pods, NOW)
    assert disrupted == {"e": stamp(NOW - timedelta(seconds=30))}
    assert recheck == NOW + timedelta(seconds=90)  # when "e" stops being trusted
    assert count_healthy(pods, disrupted) == 2  # a and b


# -- integration -----------------------------------------------------------------------------------


def deployment(name: str, replicas: int) -> dict[str, Any]:
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
                "spec": {"containers": [{"name": "app", "image": "x"}]},
            },
        },
    }


def budget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def status_of(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    got: dict[str, Any] = (
        api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}").json().get("status") or {}
    )
    return got


def counts(status: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        status.get(k) for k in ("expectedPods", "desiredHealthy", "currentHealthy", "disruptionsAllowed")
    )


def test_budget_status_follows_the_pods(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    harness = Harness(
        apiserver.kubeconfig,
        ns,
        [
            lambda c, f, r: DeploymentController(c, f, r),
            lambda c, f, r: ReplicaSetController(c, f, r),
            lambda c, f, r: DisruptionController(c, f, r),
        ],
        policy=lambda p: READY,
    )
    with harness:
        api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("web", 3)).raise_for_status()
        for b in (
            budget("min-two", minAvailable=2),
            budget("min-half", minAvailable="50%"),
            budget("max-one", maxUnavailable=1),
            budget("max-third", maxUnavailable="34%"),
        ):
            api.post(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", json=b).raise_for_status()
        nobody = budget("nobody", minAvailable=1)
        nobody["spec"]["selector"] = {"matchLabels": {"app": "none"}}
        api.post(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", json=nobody).raise_for_status()

        expected = {
            "min-two": (3, 2, 3, 1),
            "min-half": (3, 2, 3, 1),  # 50% of 3 rounds up to 2
            "max-one": (3, 2, 3, 1),
            "max-third": (3, 1, 3, 2),  # 34% of 3 rounds up to 2 unavailable
            "nobody": (0, 1, 0, 0),
        }
        for name, want in expected.items():

            def reached(n: str = name, w: tuple[int, ...] = want) -> bool:
                return counts(status_of(api, ns, n)) == w

            wait_until(reached, timeout=30, message=name)
        cond = status_of(api, ns, "min-two")["conditions"][0]
        assert (cond["type"], cond["status"], cond["reason"]) == (
            "DisruptionAllowed",
            "True",
            "SufficientPods",
        )
        assert status_of(api, ns, "min-two")["observedGeneration"] == 1
        cond = status_of(api, ns, "nobody")["conditions"][0]
        assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")

        # One pod stops being Ready: one fewer healthy, no disruption allowed for min-two.
        pods = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
        harness.set_action(pods[0]["metadata"]["name"], NOT_READY)
        wait_until(
            lambda: counts(status_of(api, ns, "min-two")) == (3, 2, 2, 0), timeout=30, message="2 healthy"
        )
        assert status_of(api, ns, "min-two")["conditions"][0]["reason"] == "InsufficientPods"

        # Scaling the Deployment changes what percentages are taken of.
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/web",
            json={"spec": {"replicas": 5}},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
        wait_until(
            lambda: counts(status_of(api, ns, "min-half")) == (5, 3, 4, 1), timeout=30, message="scaled"
        )
        wait_until(
            lambda: counts(status_of(api, ns, "min-two")) == (5, 2, 4, 2), timeout=30, message="min-two"
        )


def test_unmanaged_pods_with_a_percentage(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    harness = Harness(apiserver.kubeconfig, ns, [lambda c, f, r: DisruptionController(c, f, r)])
    with harness:
        for i in range(2):
            bare = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"bare-{i}", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "x"}]},
            }
            api.post(f"/api/v1/namespaces/{ns}/pods", json=bare).raise_for_status()
        api.post(
            f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", json=budget("pct", minAvailable="50%")
        ).raise_for_status()
        api.post(
            f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", json=budget("int", minAvailable=1)
        ).raise_for_status()
        # An integer minAvailable counts the pods themselves; a percentage needs their
        # controllers, and bare pods have none: they are left out, with a warning.
        wait_until(lambda: counts(status_of(api, ns, "int")) == (2, 1, 2, 1), timeout=30, message="int")
        wait_until(lambda: counts(status_of(api, ns, "pct")) == (0, 0, 2, 0), timeout=30, message="pct")

        def warned() -> bool:
            events = api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
            return any(e["reason"] == "UnmanagedPods" for e in events)

        wait_until(warned, timeout=30, message="the UnmanagedPods event")
