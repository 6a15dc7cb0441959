"""``minik-apiserver --workers 2``: two processes on one port behave as one API server.

Each worker has its own watch cache (like two apiserver replicas). What a client relies on
must still hold whichever process answers: a read after a write sees the write, a LIST is
consistent, and a watch resumes from a resourceVersion another process handed out.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_workers(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    server = launch_apiserver(workdir, etcd_server.url, "--workers", "2")
    yield server
    _stop(server.process)


def worker_pids(server: APIServerProcess) -> set[int]:
    """The processes serving the port: children of the supervisor that run the app."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    return {int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text()}


def test_two_processes_serve_the_port(two_workers: APIServerProcess) -> None:
    assert len(worker_pids(two_workers)) == 2


def test_every_read_sees_the_write_before_it_whichever_worker_answers(two_workers: APIServerProcess) -> None:
    ns = f"w-{secrets.token_hex(3)}"
    with two_workers.client() as api:
        r = api.post(
            "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
        assert r.status_code == 201, r.text
    created: list[str] = []
    for i in range(20):
        # A new connection each time: the kernel hands it to either worker.
        with two_workers.client() as api:
            body = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"cm-{i}"},
                "data": {"i": str(i)},
            }
            r = api.post(f"/api/v1/namespaces/{ns}/configmaps", json=body)
            assert r.status_code == 201, r.text
            created.append(f"cm-{i}")
        with two_workers.client() as api:
            assert api.get(f"/api/v1/namespaces/{ns}/configmaps/cm-{i}").status_code == 200
        with two_workers.client() as api:
            listed = api.get(f"/api/v1/namespaces/{ns}/configmaps").json()
            assert [item["metadata"]["name"] for item in listed["items"]] == sorted(created)


def test_a_watch_resumes_from_a_version_another_worker_handed_out(two_workers: APIServerProcess) -> None:
    ns = f"w-{secrets.token_hex(3)}"
    with two_workers.client() as api:
        api.post(
            "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        )
        first = api.post(
            f"/api/v1/namespaces/{ns}/configmaps",
            json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}},
        ).json()
        for name in ("b", "c"):
            api.post(
                f"/api/v1/namespaces/{ns}/configmaps",
                json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
            )
    for _ in range(6):  # several connections, so both workers answer some of them
        with two_workers.client() as api:
            params = {
                "watch": "true",
                "resourceVersion": first["metadata"]["resourceVersion"],
                "timeoutSeconds": "1",
            }
            with api.stream("GET", f"/api/v1/namespaces/{ns}/configmaps", params=params) as stream:
                names = [
                    json.loads(line)["object"]["metadata"]["name"] for line in stream.iter_lines() if line
                ]
            assert names == ["b", "c"]
