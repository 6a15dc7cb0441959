"""A whole minik cluster for end-to-end tests: every component, real Docker, real rules.

The ``cluster`` fixture starts what ``make up`` starts (etcd, apiserver,
controller-manager, scheduler, two kubelets, kube-proxy, dns), in a temporary
``MINIK_HOME`` with its own ports, pod CIDR (10.245.0.0/16), Docker network and
container label, so it never collides with a developer's own cluster's containers.
kube-proxy writes upstream's fixed chain names (KUBE-SERVICES, ...) into the host's
tables, of which there can be only one owner: the fixture refuses to start while
another kube-proxy's chains are present, and says so.
"""

from __future__ import annotations

import contextlib
import fcntl
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from minik.cluster import local
from minik.cluster.credentials import ensure_tokens
from minik.cluster.etcd_process import free_port
from tests.helpers import wait_until


@dataclass
class Cluster:
    settings: local.Settings
    kubeconfig: Path
    ca_file: Path
    token: str

    @property
    def url(self) -> str:
        return self.settings.url

    def client(self, timeout: float = 30.0) -> httpx.Client:
        import ssl

        return httpx.Client(
            base_url=self.url,
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=timeout,
            headers={"Authorization": f"Bearer {self.token}"},
        )

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        import sys

        kubectl = str(Path(sys.executable).with_name("kubectl"))
        done = subprocess.run(
            [kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
            )
        return done

    def restart_proxy(self, mode: str) -> None:
        local.restart_proxy(self.settings, mode)

    def log(self, component: str) -> str:
        path = self.settings.home / "logs" / f"{component}.log"
        return path.read_text(errors="replace") if path.exists() else ""


#: Held for as long as a test owns the host's kube-proxy tables (this fixture, the
#: compose smoke test): two such tests on one machine wait for each other.
HOST_LOCK = Path("/tmp/minik-host-network.lock")


@contextlib.contextmanager
def host_network_lock(timeout: float = 1800) -> Iterator[None]:
    with open(HOST_LOCK, "w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test holds {HOST_LOCK} (a cluster owning the host's proxy tables)")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _foreign_kube_proxy() -> bool:
    nat = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=False).stdout
    return ":KUBE-SERVICES" in nat


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with host_network_lock():
        yield from _cluster(tmp_path_factory)


def _cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if _foreign_kube_proxy():
        pytest.fail(
            "another kube-proxy's chains (KUBE-SERVICES) are in this host's nat table: stop that "
            "cluster first (make down), since the end-to-end cluster's proxy must own them"
        )
    home = tmp_path_factory.mktemp("minik-e2e")
    etcd_port = free_port()
    settings = local.Settings(
        home=home,
        name=f"mke2e{secrets.token_hex(3)}",
        nodes=2,
        proxy_mode="iptables",
        apiserver_port=free_port(),
        etcd_port=etcd_port,
        etcd_peer_port=free_port(),
        cluster_cidr="10.245.0.0/16",
        dns_port=free_port(),
        kubelet_base_port=free_port(),
        demo=False,
        # Fast node lifecycle, so that test_story can watch a dead node's pods come back elsewhere
        # within seconds: Lease renewed every 2 s, a node silent for 10 s is Unknown and tainted.
        extra={
            "controller-manager": ["--node-monitor-grace-period", "10s"],
            "kubelet": ["--lease-interval", "2"],
        },
    )
    try:
        local.up(settings)
        layout = local.Layout(home)
        token = ensure_tokens(layout.tokens)["admin"]
        handle = Cluster(settings, layout.kubeconfig, layout.pki / "ca.crt", token)
        with handle.client() as api:
            wait_until(
                lambda: api.get("/api/v1/namespaces/default/serviceaccounts").status_code == 200,
                timeout=30,
                message="the apiserver",
            )
        yield handle
    finally:
        local.down(settings, purge=True)
    # `down --purge` leaves nothing of the cluster in Docker (test_story's claims made volumes).
    owned = f"label={local.OWNER_LABEL}={settings.name}"
    for what, argv in (
        ("containers", ["docker", "ps", "-aq", "--filter", owned]),
        ("volumes", ["docker", "volume", "ls", "-q", "--filter", owned]),
    ):
        left = subprocess.run(argv, capture_output=True, text=True, check=False).stdout.split()
        assert not left, f"cluster down --purge left {what}: {left}"
