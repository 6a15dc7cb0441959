"""From what the runtime reports to a pod's ``status`` — pure functions, no I/O.

The pod worker gathers the facts (the containers Docker lists for the pod, what it
remembers about failed starts and back-offs, the probes' verdicts) and this module turns
them into the status upstream's kubelet would write:

- ``containerStatuses`` / ``initContainerStatuses``: the *latest* container of each name
  (highest restart count) gives ``state``; the one before it gives ``lastState``.
  A container that exited and waits for its back-off is ``waiting: CrashLoopBackOff`` with
  the exit in ``lastState`` — what ``kubectl get pods`` shows as STATUS.
  Terminated reasons: ``OOMKilled``, ``Completed`` (exit 0), ``Error``.
- ``phase`` as upstream's ``getPhase``: Pending until every app container has started at
  least once; Running while any runs or will be restarted; Succeeded/Failed when all have
  terminated for good.
- conditions ``PodReadyToStartContainers``, ``Initialized``, ``ContainersReady``,
  ``Ready``, ``PodScheduled``; a condition keeps its ``lastTransitionTime`` while its
  status does not change, so an unchanged pod produces an identical status and the worker
  can skip the write.
- ``qosClass`` from requests and limits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from minik.client.objects import format_time
from minik.kubelet.runtime.base import ContainerState


def rfc3339(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return format_time(ts)


def now_rfc3339() -> str:
    return format_time(datetime.now(UTC))


def history(states: Sequence[ContainerState], name: str) -> list[ContainerState]:
    """The containers named ``name`` (no sandboxes), newest first."""
    mine = [s for s in states if not s.is_sandbox and s.container_name == name]
    mine.sort(key=lambda s: (s.restart_count, s.created_at or datetime.min.replace(tzinfo=UTC)), reverse=True)
    return mine


def terminated(state: ContainerState) -> dict[str, Any]:
    code = state.exit_code if state.exit_code is not None else -1
    reason = "OOMKilled" if state.oom_killed else ("Completed" if code == 0 else "Error")
    out: dict[str, Any] = {
        "exitCode": code,
        "reason": reason,
        "startedAt": rfc3339(state.started_at),
        "finishedAt": rfc3339(state.finished_at),
        "containerID": f"docker://{state.id}",
    }
    if state.error:
        out["message"] = state.error
    return {"terminated": {k: v for k, v in out.items() if v is not None}}


def qos_class(pod: Mapping[str, Any]) -> str:
    containers = list((pod.get("spec") or {}).get("containers") or []) + list(
        (pod.get("spec") or {}).get("initContainers") or []
    )
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in limits or str(requests.get(r, limits[r])) != str(limits[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


@dataclass
class PodFacts:
    """Everything the status is computed from."""

    states: Sequence[ContainerState]
    waiting: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (reason, message)
    ready: Mapping[str, bool] = field(default_factory=dict)  # container id -> readiness verdict
    started: Mapping[str, bool] = field(default_factory=dict)  # container id -> startup verdict
    init_done: bool = True
    failed_reason: str | None = None  # e.g. an init container failed with restartPolicy Never
    pod_ip: str | None = None
    host_ip: str = ""
    start_time: str | None = None
    sandbox_ready: bool = False
    force_unready: bool = False  # the fake runtime's minik.dev/ready=false


def _container_status(
    spec: Mapping[str, Any], facts: PodFacts, *, init: bool, app_blocked: bool
) -> tuple[dict[str, Any], str]:
    """(containerStatus, kind) where kind is running|waiting|exited-ok|exited-fail|fresh."""
    name = str(spec["name"])
    mine = history(facts.states, name)
    latest = mine[0] if mine else None
    status: dict[str, Any] = {
        "name": name,
        "image": spec.get("image", ""),
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": latest.restart_count if latest else 0,
    }
    if latest is not None:
        status["containerID"] = f"docker://{latest.id}"
        status["imageID"] = latest.image_id or ""
    waiting = facts.waiting.get(name)
    kind = "fresh"
    if latest is not None and latest.running:
        status["state"] = {"running": {"startedAt": rfc3339(latest.started_at) or now_rfc3339()}}
        status["started"] = facts.started.get(latest.id, True)
        status["ready"] = (not init) and facts.ready.get(latest.id, True) and not facts.force_unready
        if len(mine) > 1 and mine[1].status == "exited":
            status["lastState"] = terminated(mine[1])
        kind = "running"
    elif waiting is not None:
        status["state"] = {
            "waiting": {"reason": waiting[0], **({"message": waiting[1]} if waiting[1] else {})}
        }
        if latest is not None and latest.status == "exited":
            status["lastState"] = terminated(latest)
            kind = "exited-ok" if latest.exit_code == 0 else "exited-fail"
            if waiting[0] in ("CrashLoopBackOff",):
                kind = "backoff"
    elif latest is not None and latest.status == "exited":
        status["state"] = terminated(latest)
        if len(mine) > 1 and mine[1].status == "exited":
            status["lastState"] = terminated(mine[1])
        kind = "exited-ok" if latest.exit_code == 0 else "exited-fail"
    else:
        reason = "PodInitializing" if app_blocked else "ContainerCreating"
        status["state"] = {"waiting": {"reason": reason}}
    status.setdefault("lastState", {})
    return status, kind


def _condition(
    kind: str, ok: bool, previous: Mapping[str, Mapping[str, Any]], reason: str = "", message: str = ""
) -> dict[str, Any]:
    value = "True" if ok else "False"
    before = previous.get(kind)
    when = before.get("lastTransitionTime") if before and before.get("status") == value else None
    out: dict[str, Any] = {
        "type": kind,
        "status": value,
        "lastProbeTime": None,
        "lastTransitionTime": when or now_rfc3339(),
    }
    if not ok and reason:
        out["reason"] = reason
        if message:
            out["message"] = message
    return out


def pod_status(pod: Mapping[str, Any], facts: PodFacts) -> dict[str, Any]:
    """The pod's status for these facts (see the module docstring)."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    previous_status = pod.get("status") or {}
    previous = {c.get("type"): c for c in previous_status.get("conditions") or []}

    init_statuses = [
        _container_status(c, facts, init=True, app_blocked=False)[0] for c in spec.get("initContainers") or []
    ]
    app = [
        _container_status(c, facts, init=False, app_blocked=not facts.init_done)
        for c in spec.get("containers") or []
    ]
    statuses = [s for s, _ in app]
    kinds = [k for _, k in app]

    if facts.failed_reason:
        phase = "Failed"
    elif not facts.init_done or any(k == "fresh" for k in kinds):
        phase = "Pending"
    elif any(k == "running" for k in kinds) or policy == "Always":
        phase = "Running"
    elif all(k == "exited-ok" for k in kinds):
        phase = "Succeeded"
    elif policy == "OnFailure":
        phase = "Running"
    else:
        phase = "Failed"

    unready = [s["name"] for s in statuses if not s["ready"]]
    terminal = phase in ("Succeeded", "Failed")
    not_init = [
        s["name"]
        for s, c in zip(init_statuses, spec.get("initContainers") or [], strict=False)
        if "terminated" not in s["state"] or s["state"]["terminated"].get("exitCode") != 0
    ]
    conditions = [
        _condition("PodReadyToStartContainers", facts.sandbox_ready, previous),
        _condition(
            "Initialized",
            facts.init_done,
            previous,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(not_init)}]",
        ),
        _condition(
            "Ready",
            not unready and not terminal,
            previous,
            "PodCompleted" if terminal else "ContainersNotReady",
            "" if terminal else f"containers with unready status: [{' '.join(unready)}]",
        ),
        _condition(
            "ContainersReady",
            not unready and not terminal,
            previous,
            "PodCompleted" if terminal else "ContainersNotReady",
            "" if terminal else f"containers with unready status: [{' '.join(unready)}]",
        ),
        _condition("PodScheduled", True, previous),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": facts.host_ip,
        "hostIPs": [{"ip": facts.host_ip}] if facts.host_ip else [],
        "startTime": facts.start_time,
        "containerStatuses": statuses,
        "qosClass": qos_class(pod),
    }
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    if facts.pod_ip:
        status["podIP"] = facts.pod_ip
        status["podIPs"] = [{"ip": facts.pod_ip}]
    if facts.failed_reason:
        status["message"] = facts.failed_reason
    return status


def same_status(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two statuses say the same thing (the fields the kubelet owns)."""
    return all(a.get(k) == b.get(k) for k in set(a) | {"phase", "conditions", "containerStatuses", "podIP"})
