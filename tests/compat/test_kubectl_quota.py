"""The real kubectl against quotas and limit ranges: create, describe, get, and the refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.compat.test_kubectl import Kubectl, row_of

pytestmark = pytest.mark.integration

LIMIT_RANGE = """
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 200m}
    max: {cpu: "1"}
"""


@pytest.fixture()
def kubectl(apiserver: Any, ns: str, workdir: Path) -> Kubectl:
    cache = workdir / "kubectl-cache"
    cache.mkdir(exist_ok=True)
    return Kubectl(apiserver.kubeconfig, cache, ns, workdir)


def test_create_and_describe_quota_and_limit_range(kubectl: Kubectl, api: httpx.Client, ns: str) -> None:
    assert "created" in kubectl("create", "quota", "q", "--hard=pods=2,requests.cpu=1")
    # what the resourcequota controller would write (its own tests run the real one)
    body = api.get(f"/api/v1/namespaces/{ns}/resourcequotas/q").json()
    body["status"] = {"hard": {"pods": "2", "requests.cpu": "1"}, "used": {"pods": "0", "requests.cpu": "0"}}
    assert api.put(f"/api/v1/namespaces/{ns}/resourcequotas/q/status", json=body).status_code == 200
    kubectl("create", "-f", kubectl.file("limitrange.yaml", LIMIT_RANGE))
    described = kubectl("describe", "limitrange", "limits")
    assert "Container" in described and "500m" in described and "200m" in described

    kubectl("run", "a", "--image=nginx")
    resources = kubectl("get", "pod", "a", "-o", "jsonpath={.spec.containers[0].resources}")
    assert (
        resources == '{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"200m","memory":"256Mi"}}'
    )
    kubectl("run", "b", "--image=nginx")
    refused = kubectl.run("run", "c", "--image=nginx")
    assert refused.returncode != 0
    assert (
        'Error from server (Forbidden): pods "c" is forbidden: exceeded quota: q, '
        "requested: pods=1, used: pods=2, limited: pods=2"
    ) in refused.stderr

    described = kubectl("describe", "quota", "q")
    lines = [line.split() for line in described.splitlines()]
    assert ["pods", "2", "2"] in lines and ["requests.cpu", "400m", "1"] in lines
    row = row_of(kubectl("get", "quota"), "q")
    assert row["REQUEST"] == "pods: 2/2, requests.cpu: 400m/1"
