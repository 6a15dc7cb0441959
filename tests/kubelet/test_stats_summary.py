"""``/stats/summary`` keeps one previous CPU sample per running container, never more."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from starlette.requests import Request

from minik.kubelet.auth import Attributes, KubeletAuth
from minik.kubelet.kubelet import Kubelet
from minik.kubelet.runtime.base import ContainerStats
from minik.kubelet.server import KubeletServer


class AllowAll:
    async def check(self, scope: Any, headers: Mapping[str, str], attrs: Attributes) -> None:
        return None


class Runtime:
    """Lists ``running`` containers and samples each one."""

    def __init__(self) -> None:
        self.running: list[str] = []

    async def list_containers(self, include_exited: bool = True) -> list[SimpleNamespace]:
        return [
            SimpleNamespace(
                id=cid, pod_uid="u", pod_name="p", pod_namespace="ns", container_name=cid, is_sandbox=False
            )
            for cid in self.running
        ]

    async def stats(self, container_id: str) -> ContainerStats:
        return ContainerStats(container_id, datetime.now(UTC), 1, 1, 1, 1)


async def test_samples_of_containers_that_stopped_are_dropped() -> None:
    runtime = Runtime()
    kubelet = SimpleNamespace(runtime=runtime, config=SimpleNamespace(node_name="n"), pods={})
    server = KubeletServer([cast(Kubelet, kubelet)], auth=cast(KubeletAuth, AllowAll()))
    request = Request({"type": "http", "method": "GET", "path": "/stats/summary", "headers": []})
    for generation in range(50):
        runtime.running = [f"c{generation}", "steady"]
        response = await server.summary(request)
        assert response.status_code == 200
    assert set(server._stats_prev) == {"c49", "steady"}
