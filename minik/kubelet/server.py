"""The kubelet's HTTP API: health, pods, container logs, exec, stats.

As upstream's (port 10250), it is served over **HTTPS** only -- with a serving
certificate from the cluster CA that names the node's addresses, issued by the cluster
tooling (``--tls-cert-file``/``--tls-private-key-file``; without them the kubelet makes a
self-signed one, which the API server refuses) -- and every request but ``/healthz`` is
authenticated and authorized by :mod:`minik.kubelet.auth` (client certificates of
``--client-ca-file``, bearer tokens by TokenReview, then a SubjectAccessReview for
``nodes/proxy``, ``nodes/stats`` ...). No credential → 401, not allowed → 403.

Endpoints (the upstream paths):

``GET /healthz``                                       ``ok``
``GET /pods``                                          a PodList of the pods this node runs
``GET /containerLogs/<ns>/<pod>/<container>``          ``follow``, ``tailLines``, ``timestamps``,
                                                       ``previous``, ``sinceSeconds``; streamed
``POST /exec/<ns>/<pod>/<container>?command=…``        non-interactive exec: JSON with
                                                       ``exitCode`` and base64 ``stdout``/``stderr``
``GET /stats/summary``                                 node + per-pod CPU/memory from the runtime

One server may front several kubelets (the fake runtime runs many nodes in one process);
it finds a pod in whichever kubelet's informer has it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from minik.client.objects import format_time
from minik.kubelet.auth import KubeletAuth, request_attributes
from minik.kubelet.kubelet import Kubelet
from minik.kubelet.runtime.base import ContainerRuntimeError, container_for_logs, cpu_nano_cores

log = logging.getLogger(__name__)


def _status(code: int, reason: str, message: str) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    return JSONResponse(body, status_code=code)


class KubeletServer:
    def __init__(self, kubelets: Sequence[Kubelet], *, auth: KubeletAuth) -> None:
        self.kubelets = list(kubelets)
        self.auth = auth
        self._stats_prev: dict[str, Any] = {}

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/healthz", self.healthz),
                Route("/pods", self.pods),
                Route("/containerLogs/{ns}/{pod}/{container}", self.logs),
                Route("/exec/{ns}/{pod}/{container}", self.exec, methods=["POST", "GET"]),
                Route("/stats/summary", self.summary),
            ]
        )

    def _node_of(self, request: Request) -> str:
        """The node a request is about: the pod's, else this server's (first) node."""
        ns, name = request.path_params.get("ns"), request.path_params.get("pod")
        found = self._find(ns, name) if ns and name else None
        if found is not None:
            return found[0].config.node_name
        return self.kubelets[0].config.node_name if self.kubelets else ""

    async def _denied(self, request: Request) -> Response | None:
        """401/403 unless the caller may do this (see :mod:`minik.kubelet.auth`)."""
        attrs = request_attributes(request.method, request.url.path, self._node_of(request))
        denial = await self.auth.check(request.scope, request.headers, attrs)
        return None if denial is None else _status(denial.code, denial.reason, denial.message)

    def _find(self, ns: str, name: str) -> tuple[Kubelet, dict[str, Any]] | None:
        for k in self.kubelets:
            pod = k.pods.get(f"{ns}/{name}")
            if pod is not None:
                return k, pod
        return None

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def pods(self, request: Request) -> Response:
        if denied := await self._denied(request):
            return denied
        items = [p for k in self.kubelets for p in k.pods.list()]
        return JSONResponse({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})

    async def _container(self, request: Request, *, previous: bool = False) -> Any:
        ns, name, container = (request.path_params[k] for k in ("ns", "pod", "container"))
        found = self._find(ns, name)
        if found is None:
            return _status(404, "NotFound", f'pod "{name}" not found on this node')
        kubelet, pod = found
        states = await kubelet.runtime.list_containers(pod_uid=pod["metadata"]["uid"])
        state = container_for_logs(states, pod["metadata"]["uid"], container, previous=previous)
        if state is None:
            what = "previous terminated container" if previous else "container"
            return _status(
                400,
                "BadRequest",
                f'{what} "{container}" in pod "{name}" not found'
                + ("" if previous else " (is it still being created?)"),
            )
        return kubelet, state

    async def logs(self, request: Request) -> Response:
        if denied := await self._denied(request):
            return denied
        q = request.query_params
        truthy = ("true", "1", "yes")
        found = await self._container(request, previous=q.get("previous", "").lower() in truthy)
        if isinstance(found, Response):
            return found
        kubelet, state = found
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        since = (
            datetime.now(UTC) - timedelta(seconds=int(q["sinceSeconds"])) if q.get("sinceSeconds") else None
        )
        stream = kubelet.runtime.logs(
            state.id,
            follow=q.get("follow", "").lower() in truthy and state.running,
            tail=tail,
            timestamps=q.get("timestamps", "").lower() in truthy,
            since=since,
        )

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in stream:
                    yield chunk
            finally:
                await stream.aclose()

        return StreamingResponse(body(), media_type="text/plain")

    async def exec(self, request: Request) -> Response:
        if denied := await self._denied(request):
            return denied
        command = request.query_params.getlist("command")
        if not command:
            return _status(400, "BadRequest", "you must specify at least one command for the container")
        found = await self._container(request)
        if isinstance(found, Response):
            return found
        kubelet, state = found
        if not state.running:
            return _status(400, "BadRequest", f"container {state.container_name} is not running")
        timeout = float(request.query_params.get("timeout", "0")) or None
        try:
            result = await kubelet.runtime.exec(state.id, command, timeout=timeout)
        except ContainerRuntimeError as exc:
            return _status(500, "InternalError", f"exec failed: {exc}")
        return JSONResponse(
            {
                "exitCode": result.exit_code,
                "stdout": base64.b64encode(result.stdout).decode(),
                "stderr": base64.b64encode(result.stderr).decode(),
            }
        )

    async def summary(self, request: Request) -> Response:
        if denied := await self._denied(request):
            return denied
        pods_out: list[dict[str, Any]] = []
        node_cpu = node_mem = 0
        now = format_time(datetime.now(UTC))
        live: set[str] = set()
        for k in self.kubelets:
            states = [s for s in await k.runtime.list_containers(include_exited=False)]
            live.update(s.id for s in states)
            stats = await asyncio.gather(*(k.runtime.stats(s.id) for s in states), return_exceptions=True)
            per_pod: dict[str, dict[str, Any]] = {}
            for s, st in zip(states, stats, strict=True):
                if isinstance(st, BaseException):
                    continue
                prev = self._stats_prev.get(s.id)
                self._stats_prev[s.id] = st
                nano = cpu_nano_cores(prev, st) if prev is not None else 0
                entry = per_pod.setdefault(
                    s.pod_uid,
                    {
                        "podRef": {"name": s.pod_name, "namespace": s.pod_namespace, "uid": s.pod_uid},
                        "startTime": now,
                        "containers": [],
                        "cpu": {"time": now, "usageNanoCores": 0, "usageCoreNanoSeconds": 0},
                        "memory": {"time": now, "usageBytes": 0, "workingSetBytes": 0, "rssBytes": 0},
                    },
                )
                entry["cpu"]["usageNanoCores"] += nano
                entry["cpu"]["usageCoreNanoSeconds"] += st.cpu_usage_core_nanoseconds
                entry["memory"]["usageBytes"] += st.memory_usage_bytes
                entry["memory"]["workingSetBytes"] += st.memory_working_set_bytes
                entry["memory"]["rssBytes"] += st.memory_rss_bytes
                node_cpu += nano
                node_mem += st.memory_working_set_bytes
                if not s.is_sandbox:
                    entry["containers"].append(
                        {
                            "name": s.container_name,
                            "cpu": {
                                "time": now,
                                "usageNanoCores": nano,
                                "usageCoreNanoSeconds": st.cpu_usage_core_nanoseconds,
                            },
                            "memory": {
                                "time": now,
                                "usageBytes": st.memory_usage_bytes,
                                "workingSetBytes": st.memory_working_set_bytes,
                                "rssBytes": st.memory_rss_bytes,
                            },
                        }
                    )
            pods_out.extend(per_pod.values())
        # Only running containers have a previous sample worth keeping: without this the
        # map would grow by every container the node ever ran.
        self._stats_prev = {cid: sample for cid, sample in self._stats_prev.items() if cid in live}
        node_name = self.kubelets[0].config.node_name if self.kubelets else ""
        return JSONResponse(
            {
                "node": {
                    "nodeName": node_name,
                    "cpu": {"time": now, "usageNanoCores": node_cpu},
                    "memory": {"time": now, "workingSetBytes": node_mem},
                },
                "pods": pods_out,
            }
        )
