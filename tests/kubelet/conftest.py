"""Fixtures for the kubelet's Docker tests: a real engine, the local images, a pod network.

Docker is required, not optional: ``docker_engine`` runs ``scripts/docker.sh`` (which
installs and starts the engine when it can) and *fails* the tests with its output when no
engine can be had — a silent skip would make a broken setup look green.

Everything a session creates carries the label ``io.minik.test-session=<random id>``
(the runtime's owner label): containers, volumes and the pod network. Teardown removes
exactly those, by label; nothing else on the engine is touched.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import pytest_asyncio

from minik.kubelet.images import ensure_images
from minik.kubelet.ipam import IPAM
from minik.kubelet.pods import NodeConfig, PodRunner
from minik.kubelet.runtime.docker import DockerRuntime
from minik.kubelet.runtime.docker_network import ensure_pod_network, remove_pod_network
from minik.kubelet.sources import DictSource

REPO = Path(__file__).resolve().parents[2]
SESSION_LABEL = "io.minik.test-session"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    try:
        done = subprocess.run(
            ["bash", str(REPO / "scripts" / "docker.sh")],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("scripts/docker.sh did not finish within 15 minutes", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            "these tests need a Docker engine and scripts/docker.sh could not provide one "
            f"(exit {done.returncode}):\n{done.stdout}{done.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def docker_api(docker_engine: None) -> Iterator[docker.APIClient]:
    api = docker.APIClient(version="auto")
    yield api
    api.close()


@pytest.fixture(scope="session")
def images(docker_engine: None) -> None:
    ensure_images()


@pytest.fixture(scope="session")
def session_id() -> str:
    return secrets.token_hex(4)


def _free_subnet(api: docker.APIClient) -> str:
    """A /24 in 10.250.0.0/16 that no Docker network on this engine overlaps."""
    used = []
    for network in api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet") and ":" not in config["Subnet"]:
                used.append(ipaddress.IPv4Network(config["Subnet"]))
    candidates = list(ipaddress.IPv4Network("10.250.0.0/16").subnets(new_prefix=24))
    random.shuffle(candidates)
    for candidate in candidates:
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RuntimeError("no free /24 left in 10.250.0.0/16 for the test pod network")


def _remove_by_label(api: docker.APIClient, label: str) -> None:
    for container in api.containers(all=True, filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_container(container["Id"], force=True, v=True)
    for volume in (api.volumes(filters={"label": label}) or {}).get("Volumes") or []:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_volume(volume["Name"], force=True)


@pytest.fixture(scope="session")
def pod_network(docker_api: docker.APIClient, images: None, session_id: str) -> Iterator[tuple[str, str]]:
    """(network name, CIDR) of a pod bridge network private to this test session."""
    name = f"minik-test-{session_id}"
    cidr = _free_subnet(docker_api)
    ensure_pod_network(docker_api, name, cidr, labels={SESSION_LABEL: session_id})
    yield name, cidr
    label = f"{SESSION_LABEL}={session_id}"
    _remove_by_label(docker_api, label)
    remove_pod_network(docker_api, name)


@pytest.fixture(scope="session")
def ipam(pod_network: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> IPAM:
    _, cidr = pod_network
    return IPAM(cidr, tmp_path_factory.mktemp("ipam") / "ipam.json")


@pytest.fixture(scope="session")
def kubelet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kubelet")


@pytest_asyncio.fixture
async def runtime(pod_network: tuple[str, str], session_id: str) -> AsyncIterator[DockerRuntime]:
    rt = DockerRuntime(network=pod_network[0], owner_labels={SESSION_LABEL: session_id})
    yield rt
    await rt.close()


@pytest.fixture
def source() -> DictSource:
    return DictSource()


@pytest_asyncio.fixture
async def runner(
    runtime: DockerRuntime, ipam: IPAM, kubelet_root: Path, source: DictSource, session_id: str
) -> AsyncIterator[PodRunner]:
    """A PodRunner; every pod it leaves behind is killed (grace 0) after the test."""
    node = NodeConfig(
        root=kubelet_root, cluster_dns=("10.96.0.10",), volume_prefix=f"minik-test-{session_id}-"
    )
    pod_runner = PodRunner(runtime, node=node, ipam=ipam, source=source, labels={SESSION_LABEL: session_id})
    yield pod_runner
    for uid in {s.pod_uid for s in await runtime.list_containers()}:
        await pod_runner.kill_pod(uid, grace_period=0)


def make_pod(
    name: str, containers: list[dict[str, Any]], namespace: str = "default", **spec: Any
) -> dict[str, Any]:
    """A pod in wire shape with a fresh uid."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "restartPolicy": "Always", "containers": containers, **spec},
        "status": {},
    }


WORKLOAD = "minik/workload:1.0"


def sleeper(name: str, **extra: Any) -> dict[str, Any]:
    """A workload container that just stays up (its shell exits at once on SIGTERM)."""
    return {
        "name": name,
        "image": WORKLOAD,
        "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.2; done"],
        **extra,
    }
