"""PriorityClasses over HTTP: the built-in classes, upstream's rules, the table, pod admission."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

BASE = "/apis/scheduling.k8s.io/v1/priorityclasses"


def pclass(name: str, value: int, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
        **fields,
    }


@pytest.fixture()
def name(api: httpx.Client) -> Iterator[str]:
    """A class name for one test; the class (cluster-scoped) is deleted afterwards."""
    chosen = f"pc-{secrets.token_hex(4)}"
    yield chosen
    api.delete(f"{BASE}/{chosen}")


def test_the_system_classes_exist_from_the_start(api: httpx.Client) -> None:
    r = api.get(f"{BASE}/system-node-critical")
    assert r.status_code == 200, r.text
    assert r.json()["value"] == 2000001000 and r.json()["preemptionPolicy"] == "PreemptLowerPriority"
    assert api.get(f"{BASE}/system-cluster-critical").json()["value"] == 2000000000
    r = api.delete(f"{BASE}/system-node-critical")
    assert r.status_code == 403
    assert r.json()["message"] == (
        'priorityclasses.scheduling.k8s.io "system-node-critical" is forbidden: '
        "this is a system priority class and cannot be deleted"
    )
    assert api.get(f"{BASE}/system-node-critical").status_code == 200


def test_a_class_is_created_with_its_default_policy_and_listed_as_a_table(
    api: httpx.Client, name: str
) -> None:
    r = api.post(BASE, json=pclass(name, 1000, description="for tests"))
    assert r.status_code == 201, r.text
    assert r.json()["preemptionPolicy"] == "PreemptLowerPriority"
    r = api.get(BASE, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    assert [c["name"] for c in r.json()["columnDefinitions"]] == [
        "Name", "Value", "Global-Default", "Age", "PreemptionPolicy"
    ]  # fmt: skip
    row = next(row for row in r.json()["rows"] if row["cells"][0] == name)
    assert row["cells"][1:3] == [1000, False] and row["cells"][4] == "PreemptLowerPriority"


def test_user_classes_stay_below_a_billion_and_system_names_are_reserved(
    api: httpx.Client, name: str
) -> None:
    r = api.post(BASE, json=pclass(name, 1_000_000_001))
    assert r.status_code == 422, r.text
    assert (
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        in r.json()["message"]
    )
    r = api.post(BASE, json=pclass("system-mine", 5))
    assert r.status_code == 422
    assert (
        "priority class names with 'system-' prefix are reserved for system use only" in r.json()["message"]
    )
    r = api.post(BASE, json=pclass(name, 5, preemptionPolicy="Sometimes"))
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "preemptionPolicy"


def test_value_and_preemption_policy_are_immutable(api: httpx.Client, name: str) -> None:
    assert api.post(BASE, json=pclass(name, 10)).status_code == 201
    patch = {"Content-Type": "application/merge-patch+json"}
    r = api.patch(f"{BASE}/{name}", json={"value": 11}, headers=patch)
    assert (
        r.status_code == 422 and "value: Forbidden: may not be changed in an update." in r.json()["message"]
    )
    r = api.patch(f"{BASE}/{name}", json={"preemptionPolicy": "Never"}, headers=patch)
    assert r.status_code == 422 and "field is immutable" in r.json()["message"]
    r = api.patch(f"{BASE}/{name}", json={"description": "changed"}, headers=patch)
    assert r.status_code == 200 and r.json()["description"] == "changed"


def test_a_pod_gets_its_priority_from_its_class(api: httpx.Client, ns: str, name: str) -> None:
    assert api.post(BASE, json=pclass(name, 4242, preemptionPolicy="Never")).status_code == 201
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"priorityClassName": name, "containers": [{"name": "c", "image": "busybox"}]},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["priority"] == 4242 and r.json()["spec"]["preemptionPolicy"] == "Never"
    # an update that does not mention priority keeps it
    r = api.patch(
        f"/api/v1/namespaces/{ns}/pods/p",
        json={"metadata": {"labels": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["priority"] == 4242
    body["metadata"] = {"name": "q"}
    body["spec"]["priorityClassName"] = "no-such-class"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    assert r.status_code == 403
    assert r.json()["message"] == 'pods "q" is forbidden: no PriorityClass with name no-such-class was found'
    body["spec"]["priorityClassName"] = "system-node-critical"
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    assert r.status_code == 201 and r.json()["spec"]["priority"] == 2000001000
