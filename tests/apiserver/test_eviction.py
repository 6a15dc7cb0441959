"""PodDisruptionBudgets and ``pods/eviction`` over HTTP, against a real API server.

No controller runs here: the tests write a budget's status themselves, the way the
disruption controller would, and then look at what an eviction does with it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


def pdbs(ns: str) -> str:
    return f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def budget(name: str, **spec: Any) -> Obj:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": spec,
    }


def make_budget(api: httpx.Client, ns: str, name: str, status: Obj | None = None, **spec: Any) -> Obj:
    """A budget, with ``status`` written as the disruption controller would write it."""
    r = api.post(pdbs(ns), json=budget(name, **spec))
    assert r.status_code == 201, r.text
    created: Obj = r.json()
    if status is None:
        return created
    created["status"] = {"observedGeneration": created["metadata"]["generation"], **status}
    r = api.put(f"{pdbs(ns)}/{name}/status", json=created)
    assert r.status_code == 200, r.text
    updated: Obj = r.json()
    return updated


def running_pod(
    api: httpx.Client, ns: str, name: str, *, ready: bool = True, labels: Obj | None = None
) -> Obj:
    """A pod bound to a node and running (Ready or not), as its kubelet would report it."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "minik/workload:1.0"}]},
    }
    r = api.post(pods(ns), json=pod)
    assert r.status_code == 201, r.text
    created: Obj = r.json()
    created["status"] = {
        **created["status"],
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    r = api.put(f"{pods(ns)}/{name}/status", json=created)
    assert r.status_code == 200, r.text
    running: Obj = r.json()
    return running


def evict(api: httpx.Client, ns: str, name: str, version: str = "policy/v1", **extra: Any) -> httpx.Response:
    body = {"apiVersion": version, "kind": "Eviction", "metadata": {"name": name, "namespace": ns}, **extra}
    return api.post(f"{pods(ns)}/{name}/eviction", json=body)


def terminating(api: httpx.Client, ns: str, name: str) -> bool:
    r = api.get(f"{pods(ns)}/{name}")
    return r.status_code == 404 or bool(r.json()["metadata"].get("deletionTimestamp"))


# -- the PodDisruptionBudget resource ---------------------------------------------------------


def test_a_budget_is_served_with_status_and_listed_as_a_table(api: httpx.Client, ns: str) -> None:
    make_budget(api, ns, "web", minAvailable=2, status={"disruptionsAllowed": 1})
    r = api.get(pdbs(ns), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert r.status_code == 200, r.text
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Min Available",
        "Max Unavailable",
        "Allowed Disruptions",
        "Age",
    ]
    assert table["rows"][0]["cells"][:4] == ["web", "2", "N/A", 1]
    r = api.get("/apis/policy/v1")
    names = {res["name"]: res for res in r.json()["resources"]}
    assert names["poddisruptionbudgets"]["shortNames"] == ["pdb"]
    assert "poddisruptionbudgets/status" in names
    core = {res["name"]: res for res in api.get("/api/v1").json()["resources"]}
    assert core["pods/eviction"]["kind"] == "Eviction" and core["pods/eviction"]["group"] == "policy"


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        (
            {"minAvailable": 1, "maxUnavailable": 1},
            "spec",
            "minAvailable and maxUnavailable cannot be both set",
        ),
        ({"minAvailable": "abc"}, "spec.minAvailable", "a valid percent string must be"),
        ({"maxUnavailable": "120%"}, "spec.maxUnavailable", "must not be greater than 100%"),
        ({"minAvailable": -1}, "spec.minAvailable", "must be greater than or equal to 0"),
        ({"unhealthyPodEvictionPolicy": "Sometimes"}, "spec.unhealthyPodEvictionPolicy", "Unsupported value"),
        (
            {"selector": {"matchExpressions": [{"key": "app", "operator": "Near"}]}},
            "spec.selector.matchExpressions[0].operator",
            "",
        ),
    ],
)
def test_an_invalid_budget_is_refused_naming_the_field(
    api: httpx.Client, ns: str, spec: Obj, field: str, message: str
) -> None:
    r = api.post(pdbs(ns), json=budget("bad", **spec))
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["reason"] == "Invalid"
    assert any(c["field"] == field for c in status["details"]["causes"]), status
    assert message in status["message"]


def test_the_status_counters_may_not_be_negative(api: httpx.Client, ns: str) -> None:
    created = make_budget(api, ns, "web", minAvailable=1)
    created["status"] = {"disruptionsAllowed": -1}
    r = api.put(f"{pdbs(ns)}/web/status", json=created)
    assert r.status_code == 422, r.text
    assert r.json()["details"]["causes"][0]["field"] == "status.disruptionsAllowed"


# -- eviction ---------------------------------------------------------------------------------


def test_without_a_budget_an_eviction_deletes_the_pod_gracefully(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "lonely")
    r = evict(api, ns, "lonely", deleteOptions={"gracePeriodSeconds": 7})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "Success"
    pod = api.get(f"{pods(ns)}/lonely").json()
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 7
    target = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert target and target[0]["reason"] == "EvictionByEvictionAPI"


def test_a_budget_that_allows_one_disruption_allows_exactly_one(api: httpx.Client, ns: str) -> None:
    for name in ("web-1", "web-2", "web-3"):
        running_pod(api, ns, name)
    make_budget(
        api,
        ns,
        "web",
        minAvailable=2,
        status={"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 3},
    )
    r = evict(api, ns, "web-1")
    assert r.status_code == 201, r.text
    assert terminating(api, ns, "web-1")
    status = api.get(f"{pdbs(ns)}/web").json()["status"]
    assert status["disruptionsAllowed"] == 0
    assert set(status["disruptedPods"]) == {"web-1"}
    allowed = [c for c in status["conditions"] if c["type"] == "DisruptionAllowed"]
    assert allowed[0]["status"] == "False" and allowed[0]["reason"] == "InsufficientPods"

    r = evict(api, ns, "web-2")
    assert r.status_code == 429, r.text
    refusal = r.json()
    assert refusal["reason"] == "TooManyRequests"
    assert refusal["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert refusal["details"]["causes"] == [
        {
            "reason": "DisruptionBudget",
            "message": "The disruption budget web needs 2 healthy pods and has 3 currently",
        }
    ]
    assert not terminating(api, ns, "web-2")


def test_a_dry_run_eviction_spends_nothing_and_deletes_nothing(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "web-1")
    make_budget(api, ns, "web", maxUnavailable=1, status={"disruptionsAllowed": 1})
    r = evict(api, ns, "web-1", deleteOptions={"dryRun": ["All"]})
    assert r.status_code == 201, r.text
    assert not terminating(api, ns, "web-1")
    assert api.get(f"{pdbs(ns)}/web").json()["status"]["disruptionsAllowed"] == 1


def test_a_budget_not_yet_seen_by_its_controller_asks_to_retry(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "web-1")
    make_budget(api, ns, "web", minAvailable=0)  # no status: observedGeneration 0 < generation 1
    r = evict(api, ns, "web-1")
    assert r.status_code == 429, r.text
    assert r.headers["Retry-After"] == "10"
    assert r.json()["details"]["causes"][0]["message"] == (
        "The disruption budget web is still being processed by the server."
    )


def test_two_budgets_over_one_pod_are_refused_as_upstream(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "web-1")
    make_budget(api, ns, "one", minAvailable=0, status={"disruptionsAllowed": 1})
    make_budget(api, ns, "two", maxUnavailable=1, status={"disruptionsAllowed": 1})
    r = evict(api, ns, "web-1")
    assert r.status_code == 500, r.text
    assert r.json()["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
    )
    assert not terminating(api, ns, "web-1")


def test_a_pod_that_is_not_running_yet_is_evicted_whatever_the_budget(api: httpx.Client, ns: str) -> None:
    r = api.post(
        pods(ns),
        json={
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "pending", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "minik/workload:1.0"}]},
        },
    )
    assert r.status_code == 201, r.text
    make_budget(api, ns, "web", minAvailable=5, status={"disruptionsAllowed": 0})
    assert evict(api, ns, "pending").status_code == 201
    assert api.get(f"{pods(ns)}/pending").status_code == 404


def test_an_unready_pod_follows_the_unhealthy_pod_eviction_policy(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "sick", ready=False)
    running_pod(api, ns, "sick-too", ready=False, labels={"app": "api"})
    # IfHealthyBudget (the default): the budget is not met (1 healthy of 2), so no.
    make_budget(
        api,
        ns,
        "web",
        minAvailable=2,
        status={"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 2},
    )
    assert evict(api, ns, "sick").status_code == 429
    # AlwaysAllow: the not-ready pod goes, and no disruption is spent on it.
    make_budget(
        api,
        ns,
        "api",
        selector={"matchLabels": {"app": "api"}},
        minAvailable=2,
        unhealthyPodEvictionPolicy="AlwaysAllow",
        status={"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 2},
    )
    r = evict(api, ns, "sick-too")
    assert r.status_code == 201, r.text
    assert terminating(api, ns, "sick-too")
    assert "disruptedPods" not in api.get(f"{pdbs(ns)}/api").json()["status"]


def test_an_unready_pod_may_go_while_the_healthy_ones_meet_the_budget(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "sick", ready=False)
    make_budget(
        api,
        ns,
        "web",
        minAvailable=2,
        status={"disruptionsAllowed": 0, "currentHealthy": 2, "desiredHealthy": 2},
    )
    assert evict(api, ns, "sick").status_code == 201
    assert terminating(api, ns, "sick")


def test_a_v1beta1_eviction_is_accepted_and_a_wrong_name_is_refused(api: httpx.Client, ns: str) -> None:
    running_pod(api, ns, "web-1")
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "other"}}
    r = api.post(f"{pods(ns)}/web-1/eviction", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "name in URL does not match name in Eviction object"
    assert evict(api, ns, "web-1", version="policy/v1beta1").status_code == 201
    assert terminating(api, ns, "web-1")
    assert evict(api, ns, "missing").status_code == 404


def test_concurrent_evictions_spend_the_budget_exactly_once(api: httpx.Client, ns: str) -> None:
    names = [f"web-{i}" for i in range(6)]
    for name in names:
        running_pod(api, ns, name)
    make_budget(
        api,
        ns,
        "web",
        minAvailable=5,
        status={"disruptionsAllowed": 1, "currentHealthy": 6, "desiredHealthy": 5, "expectedPods": 6},
    )
    with ThreadPoolExecutor(len(names)) as pool:
        codes = list(pool.map(lambda name: evict(api, ns, name).status_code, names))
    assert sorted(codes) == [201, 429, 429, 429, 429, 429], codes
    status = api.get(f"{pdbs(ns)}/web").json()["status"]
    assert status["disruptionsAllowed"] == 0 and len(status["disruptedPods"]) == 1
    assert sum(terminating(api, ns, name) for name in names) == 1
