"""The API server on a 3-member etcd cluster keeps serving when one member is lost."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from minik.cluster.etcd_process import start_etcd_cluster
from tests.conftest import _stop, launch_apiserver
from tests.helpers import wait_until

pytestmark = pytest.mark.integration


def test_apiserver_survives_losing_one_of_three_etcd_members(workdir: Path) -> None:
    base = workdir / f"etcd-cluster-{int(time.time() * 1000)}"
    procs, urls = start_etcd_cluster(base, log_dir=workdir, unsafe_no_fsync=True)
    server = None
    try:
        server = launch_apiserver(workdir, ",".join(urls))
        with server.client(timeout=10) as api:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "before"},
                "data": {"a": "1"},
            }
            assert api.post("/api/v1/namespaces/default/configmaps", json=body).status_code == 201
            # Lose the member the API server most likely talks to (the first one).
            os.killpg(procs[0].pid, signal.SIGKILL)
            procs[0].wait(5)

            def write_succeeds() -> bool:
                try:
                    after = dict(body, metadata={"name": "after"})
                    r = api.post("/api/v1/namespaces/default/configmaps", json=after)
                    return r.status_code in (201, 409)
                except httpx.HTTPError:
                    return False

            wait_until(write_succeeds, timeout=30, interval=0.5, message="a write after losing a member")
            names = {
                i["metadata"]["name"]
                for i in api.get("/api/v1/namespaces/default/configmaps").json()["items"]
            }
            assert {"before", "after"} <= names
            api.delete("/api/v1/namespaces/default/configmaps/before")
            api.delete("/api/v1/namespaces/default/configmaps/after")
    finally:
        if server is not None:
            _stop(server.process)
        for p in procs:
            _stop(p)
