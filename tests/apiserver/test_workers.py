"""``minik-apiserver --workers 2``: two processes on one port behave as one API server.

Each worker has its own watch cache (like two apiserver replicas). What a client relies on
must still hold when one process takes the write and the *other* answers the read: a GET
right after a create finds the object, a LIST is consistent, and a watch resumes from a
resourceVersion the other process handed out. The tests pin one connection to each worker
(the kernel hands every new connection to either; ``ss`` says which process accepted it)
and write through one, read through the other.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_workers(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    server = launch_apiserver(workdir, etcd_server.url, "--workers", "2")
    yield server
    _stop(server.process)


def worker_pids(server: APIServerProcess) -> set[int]:
    """The processes serving the port: the children uvicorn spawned to run the app."""
    pid = server.process.pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(c) for c in children if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()}


class Connection:
    """One kept-alive HTTPS connection and the apiserver process at its other end."""

    def __init__(self, server: APIServerProcess) -> None:
        host, port = server.url.removeprefix("https://").split(":")
        self.token = server.token
        self.conn = http.client.HTTPSConnection(host, int(port), context=server.tls(), timeout=30)
        self.conn.connect()  # the TLS handshake is done: a worker has accepted the connection
        local_port = self.conn.sock.getsockname()[1]
        self.pid = accepting_pid(int(port), local_port)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.conn.close()


def accepting_pid(server_port: int, client_port: int) -> int:
    """The pid owning the server side of the connection ``client_port`` → ``server_port``."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        out = subprocess.run(
            ["ss", "-tnpH", "state", "established", f"( sport = :{server_port} and dport = :{client_port} )"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found = re.search(r"pid=(\d+)", out)
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise AssertionError(f"no process holds the server side of :{client_port} → :{server_port}")


@pytest.fixture()
def one_per_worker(two_workers: APIServerProcess) -> Iterator[tuple[Connection, Connection]]:
    """A connection to each of the two workers (new connections until both have answered)."""
    by_pid: dict[int, Connection] = {}
    spare: list[Connection] = []
    for _ in range(40):
        c = Connection(two_workers)
        if c.pid in by_pid:
            spare.append(c)  # held open, so the next connection is not this one reused
        else:
            by_pid[c.pid] = c
        if len(by_pid) == 2:
            break
    for c in spare:
        c.close()
    assert set(by_pid) == worker_pids(two_workers), "40 new connections never reached both workers"
    first, second = by_pid.values()
    yield first, second
    first.close()
    second.close()


def make_namespace(conn: Connection) -> str:
    ns = f"w-{secrets.token_hex(3)}"
    status, body = conn.call(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    assert status == 201, body
    return ns


def test_two_processes_serve_the_port(two_workers: APIServerProcess) -> None:
    assert len(worker_pids(two_workers)) == 2


def test_a_write_through_one_worker_is_read_through_the_other(
    one_per_worker: tuple[Connection, Connection],
) -> None:
    writer, reader = one_per_worker
    ns = make_namespace(writer)
    for i in range(10):
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"i": str(i)}}
        status, body = writer.call("POST", f"/api/v1/namespaces/{ns}/configmaps", cm)
        assert status == 201, body
        # At once, through the other process and its own watch cache:
        status, body = reader.call("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-{i}")
        assert status == 200, body
        status, body = reader.call("GET", f"/api/v1/namespaces/{ns}/configmaps")
        assert status == 200, body
        assert [item["metadata"]["name"] for item in json.loads(body)["items"]] == sorted(
            f"cm-{j}" for j in range(i + 1)
        )
        writer, reader = reader, writer  # and the other way round


def test_a_watch_resumes_from_a_version_the_other_worker_handed_out(
    one_per_worker: tuple[Connection, Connection],
) -> None:
    writer, watcher = one_per_worker
    ns = make_namespace(writer)
    names = ("a", "b", "c")
    versions = []
    for name in names:
        status, body = writer.call(
            "POST",
            f"/api/v1/namespaces/{ns}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}},
        )
        assert status == 201, body
        versions.append(json.loads(body)["metadata"]["resourceVersion"])
    query = f"watch=true&resourceVersion={versions[0]}&timeoutSeconds=1"
    status, body = watcher.call("GET", f"/api/v1/namespaces/{ns}/configmaps?{query}")
    assert status == 200, body
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "b"), ("ADDED", "c")]
