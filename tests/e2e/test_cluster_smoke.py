"""The smallest end-to-end proof: a Deployment behind a Service, reached by ClusterIP and by name."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Cluster
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e


def test_deployment_behind_a_service_by_cluster_ip_and_dns(cluster: Cluster) -> None:
    cluster.kubectl("create", "namespace", "smoke")
    cluster.kubectl(
        "-n",
        "smoke",
        "create",
        "deployment",
        "echo",
        "--image=minik/workload:1.0",
        "--replicas=2",
        "--port=8080",
    )
    cluster.kubectl("-n", "smoke", "expose", "deployment", "echo", "--port=80", "--target-port=8080")
    cluster.kubectl("-n", "smoke", "rollout", "status", "deployment/echo", "--timeout=120s")
    client_pod = wait_until(
        lambda: (
            cluster.kubectl(
                "-n", "smoke", "get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[0].metadata.name}"
            ).stdout
        ),
        timeout=30,
        message="a pod",
    )

    def answers() -> set[str]:
        seen = set()
        for _ in range(10):
            done = cluster.kubectl(
                "-n",
                "smoke",
                "exec",
                client_pod,
                "--",
                "sh",
                "-c",
                "timeout 3 wget -qO- http://echo.smoke.svc.cluster.local/",
                check=False,
            )
            if done.returncode == 0:
                seen.add(done.stdout.split()[0])
        return seen

    # Every replica answers through the Service's name (DNS → ClusterIP → proxy → pod).
    def both_replicas() -> set[str] | None:
        seen = answers()
        return seen if len(seen) == 2 else None

    seen = wait_until(
        both_replicas, timeout=60, interval=1, message="both replicas answering through the Service"
    )
    assert all(line.startswith("pod=echo-") for line in seen)
