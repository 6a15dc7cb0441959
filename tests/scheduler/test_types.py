"""Pod requests (init containers, sidecars, overhead, zero requests) and NodeInfo accounting."""

from __future__ import annotations

import pytest

from minik.scheduler.framework.types import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    NodeInfo,
    PodInfo,
    compute_pod_requests,
)
from tests.scheduler.builders import container, make_node, make_pod

Mi = 1024 * 1024
Gi = 1024 * Mi


@pytest.mark.parametrize(
    ("name", "spec", "cpu", "memory", "nz_cpu", "nz_memory"),
    [
        (
            "one container",
            {"containers": [container(cpu="100m", memory="100Mi")]},
            100,
            100 * Mi,
            100,
            100 * Mi,
        ),
        (
            "zero requests: nothing for filtering, 100m/200Mi for scoring",
            {"containers": [container()]},
            0,
            0,
            DEFAULT_MILLI_CPU_REQUEST,
            DEFAULT_MEMORY_REQUEST,
        ),
        (
            "defaults per container and per resource",
            {"containers": [container("a", cpu="200m"), container("b", memory="1Gi")]},
            200,
            Gi,
            200 + DEFAULT_MILLI_CPU_REQUEST,
            DEFAULT_MEMORY_REQUEST + Gi,
        ),
        (
            "init container larger than the sum wins",
            {
                "containers": [container("a", cpu="100m"), container("b", cpu="200m")],
                "initContainers": [container("i", cpu="500m", memory="1Gi")],
            },
            500,
            Gi,
            500,
            Gi,
        ),
        (
            "init container smaller than the sum does not count",
            {
                "containers": [container("a", cpu="1", memory="2Gi")],
                "initContainers": [container("i1", cpu="200m", memory="1Gi"), container("i2", cpu="300m")],
            },
            1000,
            2 * Gi,
            1000,
            2 * Gi,
        ),
        (
            "max per resource, independently",
            {
                "containers": [container("a", cpu="1", memory="100Mi")],
                "initContainers": [container("i", cpu="100m", memory="1Gi")],
            },
            1000,
            Gi,
            1000,
            Gi,
        ),
        (
            "a sidecar adds to the sum and to later init containers",
            {
                "containers": [container("a", cpu="200m", memory="100Mi")],
                "initContainers": [
                    container("sidecar", cpu="100m", memory="100Mi", restartPolicy="Always"),
                    container("init", cpu="500m", memory="100Mi"),
                ],
            },
            600,
            200 * Mi,
            600,
            200 * Mi,
        ),
        (
            "overhead is added on top",
            {
                "containers": [container(cpu="100m", memory="100Mi")],
                "overhead": {"cpu": "50m", "memory": "10Mi"},
            },
            150,
            110 * Mi,
            150,
            110 * Mi,
        ),
    ],
)
def test_compute_pod_requests(
    name: str, spec: dict[str, object], cpu: int, memory: int, nz_cpu: int, nz_memory: int
) -> None:
    requests, non_zero_cpu, non_zero_mem = compute_pod_requests(spec)
    assert (requests.milli_cpu, requests.memory) == (cpu, memory), name
    assert (non_zero_cpu, non_zero_mem) == (nz_cpu, nz_memory), name


def test_extended_and_ephemeral_requests() -> None:
    spec = {"containers": [container(requests={"example.com/gpu": "2", "ephemeral-storage": "1Gi"})]}
    requests, _, _ = compute_pod_requests(spec)
    assert requests.scalar == {"example.com/gpu": 2}
    assert requests.ephemeral_storage == Gi


def test_unparsable_quantities_count_zero() -> None:
    requests, _, _ = compute_pod_requests(
        {"containers": [{"name": "c", "resources": {"requests": {"cpu": "lots"}}}]}
    )
    assert requests.milli_cpu == 0


def test_node_info_accounting_add_remove() -> None:
    info = NodeInfo("n1", make_node("n1", cpu="4", memory="8Gi"))
    assert (info.alloc_cpu, info.alloc_mem, info.alloc_pods) == (4000, 8 * Gi, 110)
    a = PodInfo.from_pod(make_pod("a", cpu="1", memory="1Gi", node_name="n1"))
    b = PodInfo.from_pod(make_pod("b", node_name="n1"))  # best effort
    info.add_pod(a)
    info.add_pod(b)
    assert (info.req_cpu, info.req_mem) == (1000, Gi)
    assert (info.nz_cpu, info.nz_mem) == (1000 + DEFAULT_MILLI_CPU_REQUEST, Gi + DEFAULT_MEMORY_REQUEST)
    assert info.remove_pod(a.uid) is a
    assert (info.req_cpu, info.req_mem, len(info.pods)) == (0, 0, 1)
    assert info.remove_pod("nope") is None


def test_snapshot_copy_is_independent() -> None:
    info = NodeInfo("n1", make_node("n1"))
    copy = info.snapshot()
    info.add_pod(PodInfo.from_pod(make_pod("a", cpu="1", node_name="n1")))
    assert copy.req_cpu == 0 and not copy.pods


def test_host_port_conflicts() -> None:
    info = NodeInfo("n1", make_node("n1"))
    pod = make_pod(
        "web",
        node_name="n1",
        containers=[
            container(
                ports=[
                    {"containerPort": 80, "hostPort": 8080},
                    {"containerPort": 53, "hostPort": 53, "protocol": "UDP", "hostIP": "10.0.0.1"},
                ]
            )
        ],
    )
    info.add_pod(PodInfo.from_pod(pod))
    assert info.port_conflict("0.0.0.0", "TCP", 8080)
    assert info.port_conflict("10.0.0.2", "TCP", 8080)  # 0.0.0.0 holds every address
    assert not info.port_conflict("0.0.0.0", "UDP", 8080)
    assert info.port_conflict("0.0.0.0", "UDP", 53)  # 0.0.0.0 conflicts with any address
    assert info.port_conflict("10.0.0.1", "UDP", 53)
    assert not info.port_conflict("10.0.0.2", "UDP", 53)
    assert not info.port_conflict("0.0.0.0", "TCP", 0)


def test_pod_info_affinity_parse_error_is_kept() -> None:
    pod = make_pod(
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
                        "topologyKey": "zone",
                    }
                ]
            }
        }
    )
    info = PodInfo.from_pod(pod)
    assert info.parse_error is not None and "Bogus" in info.parse_error


def test_assumed_copy_does_not_touch_the_original() -> None:
    pod = make_pod("a")
    info = PodInfo.from_pod(pod)
    assumed = info.assumed_on("n9")
    assert assumed.node_name == "n9" and assumed.pod["spec"]["nodeName"] == "n9"
    assert "nodeName" not in pod["spec"] and info.node_name == ""
