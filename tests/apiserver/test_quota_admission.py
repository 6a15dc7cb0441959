"""ResourceQuota and LimitRange admission against a real API server (one and two workers).

The quota's ``status`` is written by the test here, as the resourcequota controller would
(its own tests are in tests/controllers/test_resourcequota.py): admission enforces
``status.hard`` and charges ``status.used``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


def pod(name: str, **resources: Obj) -> Obj:
    container: Obj = {"name": "app", "image": "busybox"}
    if resources:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


def make_quota(api: httpx.Client, ns: str, name: str, hard: dict[str, str], **spec: Any) -> Obj:
    """A quota whose status says it is in force with nothing used (as its controller would)."""
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": name},
        "spec": {"hard": hard, **spec},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/resourcequotas", json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    created["status"] = {"hard": hard, "used": {k: "0" for k in hard}}
    r = api.put(f"/api/v1/namespaces/{ns}/resourcequotas/{name}/status", json=created)
    assert r.status_code == 200, r.text
    return dict(r.json())


def used(api: httpx.Client, ns: str, name: str) -> dict[str, str]:
    r = api.get(f"/api/v1/namespaces/{ns}/resourcequotas/{name}")
    return dict(r.json()["status"]["used"])


def test_third_pod_over_two_is_refused(api: httpx.Client, ns: str) -> None:
    make_quota(api, ns, "pods-quota", {"pods": "2"})
    for name in ("one", "two"):
        r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod(name))
        assert r.status_code == 201, r.text
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("three"))
    assert r.status_code == 403, r.text
    status = r.json()
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'pods "three" is forbidden: exceeded quota: pods-quota, requested: pods=1, used: pods=2, limited: pods=2'
    )
    assert used(api, ns, "pods-quota") == {"pods": "2"}
    # a dry run is checked but not charged
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps?dryRun=All", json={"metadata": {"name": "x"}})
    assert r.status_code == 201, r.text


def test_compute_quota_needs_requests_and_charges_them(api: httpx.Client, ns: str) -> None:
    make_quota(api, ns, "compute", {"requests.cpu": "1", "limits.memory": "1Gi"})
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("bare"))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory,requests.cpu'
    )
    sized = {"requests": {"cpu": "600m"}, "limits": {"memory": "512Mi"}}
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("a", **sized)).status_code == 201
    assert used(api, ns, "compute") == {"requests.cpu": "600m", "limits.memory": "512Mi"}
    r = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("b", **sized))
    assert r.status_code == 403
    assert r.json()["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, '
        "used: requests.cpu=600m, limited: requests.cpu=1"
    )


def test_object_counts_and_scopes(api: httpx.Client, ns: str) -> None:
    make_quota(api, ns, "counts", {"count/configmaps": "1", "services.nodeports": "1"})
    make_quota(api, ns, "best-effort", {"pods": "1"}, scopes=["BestEffort"])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}}
    assert api.post(f"/api/v1/namespaces/{ns}/configmaps", json=cm).status_code == 201
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", json={**cm, "metadata": {"name": "c2"}})
    assert r.status_code == 403
    assert "exceeded quota: counts, requested: count/configmaps=1" in r.json()["message"]
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "np"},
        "spec": {"type": "NodePort", "ports": [{"name": "a", "port": 80}, {"name": "b", "port": 81}]},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=svc)
    assert r.status_code == 403
    assert "services.nodeports=2" in r.json()["message"]
    # the BestEffort quota counts pods without requests only
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("be-1")).status_code == 201
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("be-2")).status_code == 403
    burstable = pod("sized", requests={"cpu": "100m"})
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=burstable).status_code == 201
    assert used(api, ns, "best-effort") == {"pods": "1"}


def test_quota_validation(api: httpx.Client, ns: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "bad"},
        "spec": {"hard": {"pods": "1.5", "cpu": "-1"}, "scopes": ["BestEffort", "NotBestEffort"]},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/resourcequotas", json=body)
    assert r.status_code == 422
    causes = {c["field"]: c["message"] for c in r.json()["details"]["causes"]}
    assert causes["spec.hard[pods]"] == 'Invalid value: "1.5": must be an integer'
    assert causes["spec.hard[cpu]"] == 'Invalid value: "-1": must be greater than or equal to 0'
    assert causes["spec.scopes"].endswith("conflicting scopes")


async def _create_many(server: APIServerProcess, ns: str, count: int) -> list[int]:
    async with server.async_client() as client:

        async def one(i: int) -> int:
            r = await client.post(f"/api/v1/namespaces/{ns}/pods", json=pod(f"p-{i}"))
            return r.status_code

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def _concurrent_creates_stop_at_the_quota(server: APIServerProcess, api: httpx.Client, ns: str) -> None:
    make_quota(api, ns, "ten", {"pods": "10"})
    codes = asyncio.run(_create_many(server, ns, 20))
    assert sorted(codes) == [201] * 10 + [403] * 10
    pods = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    assert len(pods) == 10
    assert used(api, ns, "ten") == {"pods": "10"}


def test_concurrent_creates_never_overshoot(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    _concurrent_creates_stop_at_the_quota(apiserver, api, ns)


@pytest.fixture(scope="module")
def two_workers(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    server = launch_apiserver(workdir, etcd_server.url, "--workers", "2")
    yield server
    _stop(server.process)


def test_concurrent_creates_never_overshoot_across_workers(two_workers: APIServerProcess, ns: str) -> None:
    with two_workers.client() as api:
        _concurrent_creates_stop_at_the_quota(two_workers, api, ns)


# ----- LimitRange -------------------------------------------------------------------------------


def make_limit_range(api: httpx.Client, ns: str, *items: Obj) -> httpx.Response:
    body = {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits"},
        "spec": {"limits": list(items)},
    }
    return api.post(f"/api/v1/namespaces/{ns}/limitranges", json=body)


def test_limit_range_defaults_appear_on_a_pod(api: httpx.Client, ns: str) -> None:
    r = make_limit_range(
        api,
        ns,
        {
            "type": "Container",
            "default": {"cpu": "500m", "memory": "256Mi"},
            "defaultRequest": {"cpu": "200m"},
            "min": {"cpu": "100m"},
        },
    )
    assert r.status_code == 201, r.text
    # defaulting filled the memory request from the default limit
    assert r.json()["spec"]["limits"][0]["defaultRequest"] == {"cpu": "200m", "memory": "256Mi"}
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("web"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "200m", "memory": "256Mi"},
    }
    assert body["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app"
    )
    assert body["status"]["qosClass"] == "Burstable"
    # a limit alone becomes the request, as without a LimitRange
    own = api.post(f"/api/v1/namespaces/{ns}/pods", json=pod("own", limits={"cpu": "300m"})).json()
    assert own["spec"]["containers"][0]["resources"]["requests"]["cpu"] == "300m"


def test_limit_range_min_max_and_ratio(api: httpx.Client, ns: str) -> None:
    r = make_limit_range(
        api,
        ns,
        {
            "type": "Container",
            "min": {"cpu": "100m"},
            "max": {"cpu": "1"},
            "maxLimitRequestRatio": {"cpu": "2"},
        },
        {"type": "PersistentVolumeClaim", "max": {"storage": "1Gi"}},
    )
    assert r.status_code == 201, r.text
    r = api.post(
        f"/api/v1/namespaces/{ns}/pods", json=pod("small", requests={"cpu": "50m"}, limits={"cpu": "80m"})
    )
    assert r.status_code == 403
    assert r.json()["message"] == (
        'pods "small" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'
    )
    r = api.post(
        f"/api/v1/namespaces/{ns}/pods", json=pod("spiky", requests={"cpu": "200m"}, limits={"cpu": "1"})
    )
    assert r.status_code == 403
    assert r.json()["message"] == (
        'pods "spiky" is forbidden: cpu max limit to request ratio per Container is 2, '
        "but provided ratio is 5.000000"
    )
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "big"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}},
    }
    r = api.post(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", json=claim)
    assert r.status_code == 403
    assert r.json()["message"] == (
        'persistentvolumeclaims "big" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, '
        "but request is 2Gi"
    )


def test_limit_range_validation(api: httpx.Client, ns: str) -> None:
    r = make_limit_range(api, ns, {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}})
    assert r.status_code == 422
    messages = [c["message"] for c in r.json()["details"]["causes"]]
    assert any("min value 2 is greater than max value 1" in m for m in messages), messages
    r = make_limit_range(api, ns, {"type": "Pod", "default": {"cpu": "1"}})
    assert r.status_code == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.limits[0].default"


def test_tables(api: httpx.Client, ns: str) -> None:
    make_quota(api, ns, "q", {"pods": "3", "limits.cpu": "2"})
    assert make_limit_range(api, ns, {"type": "Container", "max": {"cpu": "1"}}).status_code == 201
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    table = api.get(f"/api/v1/namespaces/{ns}/resourcequotas", headers=accept).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age", "Request", "Limit"]
    cells = table["rows"][0]["cells"]
    assert (cells[0], cells[2], cells[3]) == ("q", "pods: 0/3", "limits.cpu: 0/2")
    table = api.get(f"/api/v1/namespaces/{ns}/limitranges", headers=accept).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
