"""Storage under stress and failure: concurrent writers, finalizer races, etcd's size limit, etcd down.

Each case is something a client does or meets in production; each must end in a
proper answer (never a 500) and leave the store consistent.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from minik.apiserver.etcd import EtcdClient
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver
from tests.helpers import wait_until

pytestmark = pytest.mark.integration


def cm(name: str, **meta: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta}, "data": {"k": name}}


MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture(scope="module")
def two_workers(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    """Two API server processes on one port: their writers race through etcd, not a lock."""
    server = launch_apiserver(workdir, etcd_server.url, "--workers", "2")
    yield server
    _stop(server.process)


@pytest.fixture(params=["one process", "two workers"])
def any_server(request: pytest.FixtureRequest) -> APIServerProcess:
    """Both shapes: one process (writers take turns) and two (writers retry on conflict)."""
    name = "apiserver" if request.param == "one process" else "two_workers"
    server: APIServerProcess = request.getfixturevalue(name)
    return server


def new_namespace(server: APIServerProcess) -> str:
    name = f"t-{secrets.token_hex(4)}"
    with server.client() as c:
        assert c.post("/api/v1/namespaces", json={"metadata": {"name": name}}).status_code == 201
    return name


# -- concurrent writers ---------------------------------------------------------------------


def test_concurrent_patches_all_apply(any_server: APIServerProcess) -> None:
    """100 patches without a resourceVersion at once: each is applied, none gets 409."""
    apiserver = any_server
    base = f"/api/v1/namespaces/{new_namespace(apiserver)}/configmaps"
    with apiserver.client() as api:
        assert api.post(base, json=cm("hot")).status_code == 201

    async def patch_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=apiserver.url,
            verify=apiserver.tls(),
            timeout=60,
            limits=limits,
            headers={"Authorization": f"Bearer {apiserver.token}"},
        ) as client:
            return await asyncio.gather(
                *(
                    client.patch(
                        f"{base}/hot", content=f'{{"metadata":{{"labels":{{"l{i}":"v"}}}}}}', headers=MERGE
                    )
                    for i in range(100)
                )
            )

    responses = asyncio.run(patch_all())
    assert [r.status_code for r in responses if r.status_code != 200] == [], [
        r.text for r in responses if r.status_code != 200
    ][:3]
    with apiserver.client() as api:
        labels = api.get(f"{base}/hot").json()["metadata"]["labels"]
    assert sorted(labels) == sorted(f"l{i}" for i in range(100))


def test_stale_resource_version_still_conflicts(api: httpx.Client, ns: str) -> None:
    """Only a write that names the version it read can conflict (optimistic concurrency)."""
    base = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(base, json=cm("c")).json()
    api.patch(f"{base}/c", content='{"data":{"k":"newer"}}', headers=MERGE)
    stale = {**created, "data": {"k": "stale"}}
    r = api.put(f"{base}/c", json=stale)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    stale_rv = created["metadata"]["resourceVersion"]
    patch = f'{{"metadata":{{"resourceVersion":"{stale_rv}"}},"data":{{"k":"x"}}}}'
    assert api.patch(f"{base}/c", content=patch, headers=MERGE).status_code == 409
    assert api.get(f"{base}/c").json()["data"] == {"k": "newer"}


def test_finalizer_removal_racing_other_writers_never_500(two_workers: APIServerProcess) -> None:
    """Removing the last finalizer of a deleting object while others patch it: 200 or 404, never 500.

    The patch that removes the finalizer deletes the object; when another writer got
    in between, the delete must re-read and apply again, not fail. Two worker
    processes, so that the writers really race (in one process they take turns).
    """
    apiserver = two_workers
    base = f"/api/v1/namespaces/{new_namespace(apiserver)}/configmaps"

    async def race(client: httpx.AsyncClient, name: str) -> list[int]:
        created = await client.post(base, json=cm(name, finalizers=["example.com/hold"]))
        assert created.status_code == 201, created.text
        marked = await client.request(
            "DELETE", f"{base}/{name}", json={"kind": "DeleteOptions", "propagationPolicy": "Foreground"}
        )
        assert marked.status_code in (200, 202), marked.text
        # Label patches sent just before the finalizer removals commit while those are
        # between their read and their delete: each delete must notice and try again.
        labels = [
            client.patch(
                f"{base}/{name}", content=f'{{"metadata":{{"labels":{{"w{i}":"x"}}}}}}', headers=MERGE
            )
            for i in range(6)
        ]
        removals = [
            client.patch(f"{base}/{name}", content='{"metadata":{"finalizers":null}}', headers=MERGE)
            for _ in range(6)
        ]
        writers = [*labels, *removals] if len(name) % 2 else [*removals, *labels]
        codes = [r.status_code for r in await asyncio.gather(*writers)]
        gone = await client.get(f"{base}/{name}")
        assert gone.status_code == 404, gone.text
        return codes

    async def main() -> list[int]:
        async with httpx.AsyncClient(
            base_url=apiserver.url,
            verify=apiserver.tls(),
            timeout=60,
            headers={"Authorization": f"Bearer {apiserver.token}"},
        ) as client:
            codes: list[int] = []
            for round_ in range(40):
                codes += await race(client, f"f-{round_}" + "x" * (round_ % 2))
            return codes

    codes = asyncio.run(main())
    assert set(codes) <= {200, 404}, sorted(set(codes))
    assert 404 in codes and 200 in codes  # both outcomes happened: the race was real


# -- etcd's request limit ---------------------------------------------------------------------


def pod(name: str, env_value: str) -> dict[str, object]:
    container = {"name": "c", "image": "busybox", "env": [{"name": "BIG", "value": env_value}]}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


def etcd_revision(url: str) -> int:
    """etcd's revision: unchanged across a request means the request wrote nothing at all."""

    async def read() -> int:
        client = EtcdClient([url])
        try:
            return await client.current_revision()
        finally:
            await client.close()

    return asyncio.run(read())


def test_object_over_etcds_limit_is_413_and_not_stored(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    """2 MiB fits the API server's body limit but not etcd's (1.5 MiB): 413, nothing written."""
    base = f"/api/v1/namespaces/{ns}/pods"
    before = etcd_revision(apiserver.etcd_url)
    r = api.post(base, json=pod("big", "x" * (2 * 1024 * 1024)))
    assert r.status_code == 413, r.text
    assert etcd_revision(apiserver.etcd_url) == before
    status = r.json()
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: etcdserver: request is too large"
    assert api.get(f"{base}/big").status_code == 404

    assert api.post(base, json=pod("grows", "small")).status_code == 201
    huge_image = (
        '[{"op":"replace","path":"/spec/containers/0/image","value":"busybox:' + "y" * (2 << 20) + '"}]'
    )
    before = etcd_revision(apiserver.etcd_url)
    r = api.patch(
        f"{base}/grows", content=huge_image, headers={"Content-Type": "application/json-patch+json"}
    )
    assert r.status_code == 413, r.text
    assert etcd_revision(apiserver.etcd_url) == before
    assert api.get(f"{base}/grows").json()["spec"]["containers"][0]["image"] == "busybox"


def test_body_over_the_apiservers_limit_is_413(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", content=b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}")
    assert r.status_code == 413
    assert r.json()["message"] == "Request entity too large: limit is 3145728"


# -- etcd down --------------------------------------------------------------------------------


@dataclass
class OwnEtcd:
    """An etcd this test can stop and start again on the same ports and data."""

    data_dir: Path
    client_port: int
    peer_port: int
    log_file: Path

    def start(self) -> None:
        self.process = start_etcd(
            self.data_dir, client_port=self.client_port, peer_port=self.peer_port, log_file=self.log_file
        )
        wait_for_port(self.client_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"


@pytest.fixture()
def own_etcd(tmp_path: Path) -> Iterator[OwnEtcd]:
    etcd = OwnEtcd(tmp_path / "etcd", free_port(), free_port(), tmp_path / "etcd.log")
    etcd.start()
    yield etcd
    _stop(etcd.process)


def test_etcd_down_is_503_and_not_ready_then_recovers_without_loss(tmp_path: Path, own_etcd: OwnEtcd) -> None:
    server = launch_apiserver(tmp_path, own_etcd.url)
    try:
        with server.client(timeout=30) as c:
            base = "/api/v1/namespaces/default/configmaps"
            for i in range(30):
                assert c.post(base, json=cm(f"ack-{i}")).status_code == 201
            r = c.get("/readyz", params={"verbose": ""})
            assert r.status_code == 200
            assert r.text == "[+]ping ok\n[+]etcd ok\n[+]watch-cache ok\nreadyz check passed\n"
            for endpoint in ("healthz", "livez"):
                r = c.get(f"/{endpoint}", params={"verbose": ""})
                assert r.text == f"[+]ping ok\n[+]etcd ok\n{endpoint} check passed\n"

            _stop(own_etcd.process)

            json_body = {"Content-Type": "application/json"}
            for method, path, body, headers in (
                ("GET", f"{base}/ack-0", b"", {}),
                ("GET", base, b"", {}),
                ("POST", base, orjson.dumps(cm("while-down")), json_body),
                ("PATCH", f"{base}/ack-1", b'{"data":{"k":"x"}}', MERGE),
                ("DELETE", f"{base}/ack-2", b"", {}),
                ("GET", "/api/v1/namespaces/default/pods/p/log", b"", {}),  # a framework route
                ("GET", f"{base}?watch=true", b"", {}),
            ):
                r = c.request(method, path, content=body, headers=headers)
                assert r.status_code == 503, (method, path, r.status_code, r.text)
                assert r.headers["retry-after"] == "1"
                assert r.json()["reason"] == "ServiceUnavailable"
            ready = c.get("/readyz", params={"verbose": ""})
            assert ready.status_code == 500
            assert "[-]etcd failed: reason withheld" in ready.text and "[+]ping ok" in ready.text
            assert ready.text.endswith("readyz check failed\n")
            assert c.get("/livez").status_code == 500
            assert c.get("/readyz", params={"exclude": "etcd"}).text == "ok"
            assert "Traceback" not in server.log()

            own_etcd.start()
            wait_until(lambda: c.get("/readyz").status_code == 200, timeout=30, message="ready again")
            assert c.get("/readyz").text == "ok"
            names = {item["metadata"]["name"] for item in c.get(base).json()["items"]}
            assert {f"ack-{i}" for i in range(30)} <= names, "an acknowledged write was lost"
            assert "while-down" not in names  # answered 503: it must not have been written
            assert c.post(base, json=cm("after")).status_code == 201
    finally:
        _stop(server.process)
