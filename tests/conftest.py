"""Fixtures that start real parts: an etcd from the wheel and a minik-apiserver process.

Every integration test talks to a real API server over HTTPS with a bearer token,
backed by a real etcd, exactly as kubectl would. Each test gets a namespace of
its own (``ns``), so tests never see each other's objects.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from minik.cluster.credentials import ensure_tokens, write_kubeconfig
from minik.cluster.etcd_process import free_port, start_etcd, wait_for_port
from minik.cluster.pki import (
    KUBELET_CLIENT_GROUPS,
    KUBELET_CLIENT_USER,
    ensure_client_certificate,
    ensure_pki,
    ensure_service_account_key,
)

# Whole-cluster suites last, the compose cluster before the local one: each owns the host's
# KUBE-* chains (under a file lock) while it runs, and the local cluster lives until the end
# of the session. Running them after everything else keeps their processes, sysctls and
# rules out of the way of the unit and component tests.
_LAST = {"compose": 1, "e2e": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        parts = Path(str(item.path)).relative_to(Path(__file__).parent).parts
        return _LAST.get(parts[0], 0) if len(parts) > 1 else 0

    items.sort(key=rank)


@dataclass
class Etcd:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path


@dataclass
class APIServerProcess:
    url: str
    token: str
    ca_file: Path
    kubeconfig: Path
    process: subprocess.Popen[bytes]
    log_file: Path
    etcd_url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=self.tls(),
            timeout=timeout,
            headers={"Authorization": f"Bearer {token or self.token}"},
        )

    def async_client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            verify=self.tls(),
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def tls(self) -> ssl.SSLContext:
        """A TLS context that trusts the cluster CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="minik-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def launch_etcd(workdir: Path) -> Etcd:
    client_port, peer_port = free_port(), free_port()
    data = workdir / f"etcd-{client_port}"
    proc = start_etcd(
        data,
        client_port=client_port,
        peer_port=peer_port,
        log_file=workdir / f"etcd-{client_port}.log",
        unsafe_no_fsync=True,
    )
    wait_for_port(client_port)
    return Etcd(f"http://127.0.0.1:{client_port}", proc, data)


def launch_apiserver(workdir: Path, etcd_url: str, *extra: str) -> APIServerProcess:
    pki = workdir / "pki"
    ca, crt, key = ensure_pki(pki)
    sa_key = ensure_service_account_key(pki)
    kubelet_client = ensure_client_certificate(
        pki, "apiserver-kubelet-client", KUBELET_CLIENT_USER, KUBELET_CLIENT_GROUPS
    )
    tokens = ensure_tokens(workdir / "tokens.csv")
    port = free_port()
    log_file = workdir / f"apiserver-{port}.log"
    args = [
        sys.executable,
        "-m",
        "minik.apiserver.main",
        "--etcd-servers",
        etcd_url,
        "--secure-port",
        str(port),
        "--tls-cert-file",
        str(crt),
        "--tls-private-key-file",
        str(key),
        "--token-auth-file",
        str(workdir / "tokens.csv"),
        "--client-ca-file",
        str(ca),
        "--service-account-signing-key-file",
        str(sa_key),
        "--kubelet-client-certificate",
        str(kubelet_client[0]),
        "--kubelet-client-key",
        str(kubelet_client[1]),
        "--kubelet-certificate-authority",
        str(ca),
        "--watch-bookmark-interval",
        "1",
        "--etcd-compaction-interval",
        "0",
        *extra,
    ]
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"https://127.0.0.1:{port}"
    kubeconfig = write_kubeconfig(workdir / f"kubeconfig-{port}", url, ca, tokens["admin"])
    server = APIServerProcess(url, tokens["admin"], ca, kubeconfig, proc, log_file, etcd_url, tokens)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"minik-apiserver exited early:\n{server.log()}")
        try:
            with server.client(timeout=2) as c:
                if c.get("/readyz").status_code == 200:
                    return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    _stop(proc)
    raise RuntimeError(f"minik-apiserver did not become ready:\n{server.log()}")


@pytest.fixture(scope="session")
def etcd_server(workdir: Path) -> Iterator[Etcd]:
    server = launch_etcd(workdir)
    yield server
    _stop(server.process)


@pytest.fixture(scope="session")
def apiserver(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    server = launch_apiserver(workdir, etcd_server.url)
    yield server
    _stop(server.process)


@pytest.fixture()
def api(apiserver: APIServerProcess) -> Iterator[httpx.Client]:
    with apiserver.client() as client:
        yield client


@pytest.fixture()
def ns(api: httpx.Client) -> Iterator[str]:
    """A fresh namespace for one test."""
    name = f"t-{secrets.token_hex(4)}"
    r = api.post(
        "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    assert r.status_code == 201, r.text
    yield name
