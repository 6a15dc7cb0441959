"""Container probes: startup, liveness and readiness, as upstream's prober runs them.

One :class:`ContainerProber` per running container that declares probes. It is a single
asyncio task, so the three probes of one container never race each other:

1. the **startup** probe (if any) runs first; until it succeeds, neither liveness nor
   readiness runs (slow starters are not killed). ``failureThreshold`` consecutive
   failures kill the container, exactly like a liveness failure.
2. then **readiness** and **liveness** run side by side, each on its own period.
   Readiness starts *not ready* and flips after ``successThreshold`` consecutive
   successes / ``failureThreshold`` consecutive failures; it only changes the pod's
   Ready condition (and so the Endpoints). Liveness starts *alive*; after
   ``failureThreshold`` consecutive failures the kubelet kills the container, and the
   restart policy (with CrashLoopBackOff backoff) decides what happens next.

Handlers: ``httpGet`` (to the pod IP unless ``host`` is set; a named ``port`` is looked up
in the container's ports; 200 ≤ status < 400 is success; ``httpHeaders`` sent),
``tcpSocket`` (a connect), ``exec`` (exit code 0, through the runtime). Every attempt
is bounded by ``timeoutSeconds``. The prober reports through callbacks and never touches
the API server: the pod worker turns its results into status.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from minik.kubelet.runtime.base import ContainerRuntimeError, Runtime

log = logging.getLogger(__name__)

ResultCallback = Callable[[str, str, bool], None]  # (container name, probe kind, ok)
KillCallback = Callable[[str, str, str], Awaitable[None]]  # (container name, probe kind, message)


def resolve_port(port: Any, container: Mapping[str, Any]) -> int:
    """A probe's ``port``: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    text = str(port)
    if text.isdigit():
        return int(text)
    for p in container.get("ports") or []:
        if p.get("name") == text:
            return int(p["containerPort"])
    raise ValueError(f"probe port {text!r} is not the name of a port of container {container.get('name')!r}")


async def run_probe(
    probe: Mapping[str, Any],
    *,
    container: Mapping[str, Any],
    container_id: str,
    pod_ip: str | None,
    runtime: Runtime,
) -> tuple[bool, str]:
    """One attempt of ``probe``; (success, message)."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "httpGet" in probe:
            spec = probe["httpGet"]
            host = spec.get("host") or pod_ip or "127.0.0.1"
            scheme = str(spec.get("scheme") or "HTTP").lower()
            port = resolve_port(spec.get("port", 80), container)
            path = str(spec.get("path") or "/")
            if not path.startswith("/"):
                path = "/" + path
            headers = {str(h["name"]): str(h.get("value", "")) for h in spec.get("httpHeaders") or []}
            headers.setdefault("User-Agent", "kube-probe/1.37")
            async with httpx.AsyncClient(verify=False, timeout=timeout, trust_env=False) as client:
                response = await client.get(f"{scheme}://{host}:{port}{path}", headers=headers)
            ok = 200 <= response.status_code < 400
            return ok, f"HTTP probe failed with statuscode: {response.status_code}" if not ok else ""
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            host = spec.get("host") or pod_ip or "127.0.0.1"
            port = resolve_port(spec.get("port"), container)
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
            writer.close()
            return True, ""
        if "exec" in probe:
            command: Sequence[str] = list((probe["exec"] or {}).get("command") or [])
            result = await runtime.exec(container_id, command, timeout=timeout)
            if result.exit_code == 0:
                return True, ""
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            return False, f"command {command!r} exited with {result.exit_code}: {output}"
        return (
            False,
            f"unsupported probe handler {sorted(k for k in probe if k.endswith(('Get', 'Socket', 'exec', 'grpc')))}",
        )
    except TimeoutError:
        return False, f"probe timed out after {timeout:g}s"
    except (OSError, httpx.HTTPError, ContainerRuntimeError, ValueError) as exc:
        return False, f"probe failed: {exc}"


class ContainerProber:
    """Runs one container's probes until cancelled (see the module docstring)."""

    def __init__(
        self,
        *,
        container: Mapping[str, Any],
        container_id: str,
        pod_ip: str | None,
        runtime: Runtime,
        on_result: ResultCallback,
        on_kill: KillCallback,
    ) -> None:
        self.container = container
        self.name = str(container["name"])
        self.container_id = container_id
        self.pod_ip = pod_ip
        self.runtime = runtime
        self.on_result = on_result
        self.on_kill = on_kill
        self.ready = "readinessProbe" not in container
        self.started = "startupProbe" not in container
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"probe-{self.name}-{self.container_id[:12]}")

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _run(self) -> None:
        try:
            if not self.started:
                if not await self._loop("startup", self.container["startupProbe"]):
                    return
                self.started = True
                self.on_result(self.name, "startup", True)
            loops = []
            if "readinessProbe" in self.container:
                loops.append(self._loop("readiness", self.container["readinessProbe"]))
            if "livenessProbe" in self.container:
                loops.append(self._loop("liveness", self.container["livenessProbe"]))
            await asyncio.gather(*loops)
        except asyncio.CancelledError:
            raise
        except Exception:  # a prober must never take the kubelet down
            log.exception("prober of container %s failed", self.name)

    async def _loop(self, kind: str, probe: Mapping[str, Any]) -> bool:
        """Probe forever (readiness) or until killed (liveness/startup → False) / started (startup → True)."""
        period = float(probe.get("periodSeconds") or 10)
        success_threshold = int(probe.get("successThreshold") or 1)
        failure_threshold = int(probe.get("failureThreshold") or 3)
        await asyncio.sleep(float(probe.get("initialDelaySeconds") or 0))
        successes = failures = 0
        while True:
            ok, message = await run_probe(
                probe,
                container=self.container,
                container_id=self.container_id,
                pod_ip=self.pod_ip,
                runtime=self.runtime,
            )
            if ok:
                successes, failures = successes + 1, 0
            else:
                successes, failures = 0, failures + 1
                log.debug("%s probe of %s failed (%d): %s", kind, self.name, failures, message)
            if kind == "readiness":
                if ok and successes >= success_threshold and not self.ready:
                    self.ready = True
                    self.on_result(self.name, kind, True)
                elif not ok and failures >= failure_threshold and self.ready:
                    self.ready = False
                    self.on_result(self.name, kind, False)
                elif not ok and failures == 1 and not self.ready:
                    self.on_result(self.name, kind, False)
            elif kind == "startup" and ok:
                return True
            elif not ok and failures >= failure_threshold:
                self.on_result(self.name, kind, False)
                what = "Startup" if kind == "startup" else "Liveness"
                await self.on_kill(self.name, kind, f"{what} probe failed: {message}")
                return False
            await asyncio.sleep(period)
