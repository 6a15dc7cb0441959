"""The resourcequota controller keeps ``status.used`` true: with the controller-manager
process, and in-process for the finer cases (existing objects, finished pods)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.client.kinds import CONFIGMAPS, PODS, RESOURCEQUOTAS
from minik.client.kubeconfig import load_kubeconfig
from minik.client.rest import APIClient
from minik.controllers.resourcequota import ResourceQuotaController, compute_usage, resources_for
from tests.conftest import APIServerProcess, _stop
from tests.controllers.test_manager import Manager
from tests.helpers import wait_until

from .kubelet_stub import KubeletStub, controllers_running, eventually

pytestmark = pytest.mark.integration

Obj = dict[str, Any]


def pod(name: str, cpu: str | None = None) -> Obj:
    container: Obj = {"name": "app", "image": "busybox"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


def quota(name: str, hard: dict[str, str]) -> Obj:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard}}


@pytest.fixture
def manager(apiserver: APIServerProcess, tmp_path: Path) -> Iterator[Manager]:
    lease = f"cm-{secrets.token_hex(3)}"
    started = Manager(apiserver, tmp_path, "quota-cm", lease, "resourcequota")
    yield started
    _stop(started.process)


def test_the_controller_manager_keeps_used_and_frees_quota(
    manager: Manager, api: httpx.Client, ns: str
) -> None:
    base = f"/api/v1/namespaces/{ns}"
    assert api.post(f"{base}/resourcequotas", json=quota("pods", {"pods": "2"})).status_code == 201

    def status() -> Obj:
        return dict(api.get(f"{base}/resourcequotas/pods").json().get("status") or {})

    wait_until(
        lambda: status() == {"hard": {"pods": "2"}, "used": {"pods": "0"}},
        timeout=30,
        message="status filled in",
    )
    for name in ("a", "b"):
        assert api.post(f"{base}/pods", json=pod(name)).status_code == 201
    assert status()["used"] == {"pods": "2"}
    r = api.post(f"{base}/pods", json=pod("c"))
    assert r.status_code == 403
    assert "exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2" in r.json()["message"]
    # deleting a pod gives its share back: the controller recomputes
    assert api.delete(f"{base}/pods/a", params={"gracePeriodSeconds": "0"}).status_code == 200
    wait_until(lambda: status()["used"] == {"pods": "1"}, timeout=30, message="the deleted pod's share freed")
    assert api.post(f"{base}/pods", json=pod("c")).status_code == 201
    # raising the limit takes effect once the controller copies it into status.hard
    r = api.patch(
        f"{base}/resourcequotas/pods",
        json={"spec": {"hard": {"pods": "5"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    wait_until(
        lambda: status() == {"hard": {"pods": "5"}, "used": {"pods": "2"}},
        timeout=30,
        message="new limit in force",
    )
    assert api.post(f"{base}/pods", json=pod("d")).status_code == 201


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


async def test_existing_objects_are_counted_and_finished_pods_free_compute(
    client: APIClient, ns: str
) -> None:
    await client.create(PODS, pod("busy", cpu="300m"), namespace=ns)
    await client.create(PODS, pod("done", cpu="200m"), namespace=ns)
    await client.create(CONFIGMAPS, {"metadata": {"name": "cm"}}, namespace=ns)
    hard = {"pods": "10", "requests.cpu": "2", "count/configmaps": "5"}
    await client.create(RESOURCEQUOTAS, quota("q", hard), namespace=ns)

    async def used() -> Obj:
        got = await client.get(RESOURCEQUOTAS, "q", namespace=ns)
        return dict((got.get("status") or {}).get("used") or {})

    def make(c: APIClient, f: Any, r: Any) -> ResourceQuotaController:
        return ResourceQuotaController(c, f, r, resync_period=60)

    async with controllers_running(client, make, namespace=ns):
        # count/configmaps also counts the namespace's kube-root-ca.crt, if any controller made one
        expected_cms = len((await client.list(CONFIGMAPS, namespace=ns))["items"])
        want = {"pods": "2", "requests.cpu": "500m", "count/configmaps": str(expected_cms)}
        await eventually(lambda: _equals(used(), want), timeout=30, message="usage of existing objects")
        await KubeletStub(client).set_pod_status(ns, "done", phase="Succeeded", ready=False)
        want = {"pods": "1", "requests.cpu": "300m", "count/configmaps": str(expected_cms)}
        await eventually(lambda: _equals(used(), want), timeout=30, message="the finished pod's cpu freed")


async def _equals(value: Any, want: Obj) -> bool:
    return bool(await value == want)


def test_compute_usage_counts_what_the_quota_names_and_its_scopes_admit() -> None:
    scoped = {
        "spec": {
            "hard": {"pods": "5", "requests.cpu": "2", "count/configmaps": "3"},
            "scopes": ["NotBestEffort"],
        }
    }
    assert {r.plural for r in resources_for(scoped)} == {"pods", "configmaps"}
    objects = {
        PODS: [pod("sized", cpu="250m"), pod("sized-too", cpu="500m"), pod("best-effort")],
        CONFIGMAPS: [{"metadata": {"name": "c"}}],
    }
    # a scoped quota counts matching pods only, and no configmaps (scopes are about pods)
    assert compute_usage(scoped, objects) == {
        "pods": 2,
        "requests.cpu": Fraction(3, 4),
        "count/configmaps": 0,
    }
    unscoped = {"spec": {"hard": {"pods": "5", "count/configmaps": "3"}}}
    assert compute_usage(unscoped, objects) == {"pods": 3, "count/configmaps": 1}
