"""Server-side printing, cell by cell (no server needed)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from minik.apiserver import tables
from minik.client.objects import format_time

NOW = time.time()


def ts(seconds_ago: float) -> str:
    return format_time(datetime.fromtimestamp(NOW - seconds_ago, UTC))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (10 * 3600, "10h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400 + 86400, "3y1d"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def pod(status: dict[str, Any], *, init: bool = False, deleting: bool = False, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "creationTimestamp": ts(30)}
    if deleting:
        meta["deletionTimestamp"] = ts(0)
    containers = [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]
    s: dict[str, Any] = {"containers": containers, **spec}
    if init:
        s["initContainers"] = [{"name": "i1", "image": "z"}, {"name": "i2", "image": "z"}]
    return {"kind": "Pod", "metadata": meta, "spec": s, "status": status}


def cs(
    name: str, state: dict[str, Any], ready: bool = False, restarts: int = 0, **extra: Any
) -> dict[str, Any]:
    return {"name": name, "state": state, "ready": ready, "restartCount": restarts, **extra}


RUNNING = {"running": {"startedAt": ts(20)}}


@pytest.mark.parametrize(
    ("p", "ready", "status"),
    [
        (pod({"phase": "Pending"}), "0/2", "Pending"),
        (
            pod(
                {
                    "phase": "Pending",
                    "containerStatuses": [
                        cs("a", {"waiting": {"reason": "ContainerCreating"}}),
                        cs("b", {"waiting": {"reason": "ContainerCreating"}}),
                    ],
                }
            ),
            "0/2",
            "ContainerCreating",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        cs("a", RUNNING, ready=True),
                        cs("b", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=4),
                    ],
                }
            ),
            "1/2",
            "CrashLoopBackOff",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [cs("a", RUNNING, ready=True), cs("b", RUNNING, ready=True)],
                }
            ),
            "2/2",
            "Running",
        ),
        (
            pod(
                {
                    "phase": "Succeeded",
                    "containerStatuses": [
                        cs("a", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                        cs("b", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                    ],
                }
            ),
            "0/2",
            "Completed",
        ),
        (
            pod(
                {
                    "phase": "Failed",
                    "containerStatuses": [
                        cs("a", {"terminated": {"exitCode": 2}}),
                        cs("b", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                    ],
                }
            ),
            "0/2",
            "ExitCode:2",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        cs("a", RUNNING, ready=True),
                        cs("b", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                    ],
                }
            ),
            "1/2",
            "NotReady",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        cs("i1", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                        cs("i2", RUNNING),
                    ],
                },
                init=True,
            ),
            "0/2",
            "Init:1/2",
        ),
        (
            pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        cs("i1", {"waiting": {"reason": "CrashLoopBackOff"}}, restarts=2)
                    ],
                },
                init=True,
            ),
            "0/2",
            "Init:CrashLoopBackOff",
        ),
        (
            pod(
                {"phase": "Pending", "initContainerStatuses": [cs("i1", {"terminated": {"exitCode": 3}})]},
                init=True,
            ),
            "0/2",
            "Init:ExitCode:3",
        ),
        (
            pod(
                {
                    "phase": "Running",
                    "containerStatuses": [cs("a", RUNNING, ready=True), cs("b", RUNNING, ready=True)],
                },
                deleting=True,
            ),
            "2/2",
            "Terminating",
        ),
        (pod({"phase": "Succeeded"}, deleting=True), "0/2", "Succeeded"),
        (
            pod(
                {
                    "phase": "Pending",
                    "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
                }
            ),
            "0/2",
            "SchedulingGated",
        ),
    ],
)
def test_pod_ready_and_status(p: dict[str, Any], ready: str, status: str) -> None:
    cells = tables.pod_cells(p, NOW)
    assert cells[1:3] == [ready, status]


def test_pod_restarts_and_wide_cells() -> None:
    p = pod(
        {
            "phase": "Running",
            "podIPs": [{"ip": "10.1.2.3"}],
            "nominatedNodeName": "",
            "containerStatuses": [
                cs(
                    "a",
                    RUNNING,
                    ready=True,
                    restarts=2,
                    lastState={"terminated": {"exitCode": 1, "finishedAt": ts(90)}},
                ),
                cs("b", RUNNING, ready=True, restarts=1),
            ],
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "example.com/gate", "status": "True"},
            ],
        },
        nodeName="n1",
        readinessGates=[{"conditionType": "example.com/gate"}],
    )
    assert tables.pod_cells(p, NOW) == [
        "p",
        "2/2",
        "Running",
        "3 (90s ago)",
        "30s",
        "10.1.2.3",
        "n1",
        "<none>",
        "1/1",
    ]
    assert tables.pod_conditions(p) is None
    assert tables.pod_conditions(pod({"phase": "Succeeded"}))[0]["reason"] == "Succeeded"  # type: ignore[index]


def test_service_cells() -> None:
    svc = {
        "metadata": {"name": "s", "creationTimestamp": ts(5)},
        "spec": {
            "type": "NodePort",
            "clusterIP": "10.0.0.9",
            "selector": {"b": "2", "a": "1"},
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        },
    }
    assert tables.service_cells(svc, NOW) == [
        "s",
        "NodePort",
        "10.0.0.9",
        "<none>",
        "80:30080/TCP,53/UDP",
        "5s",
        "a=1,b=2",
    ]
    lb = {"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1"}, "status": {}}
    assert tables.service_cells(lb, NOW)[3] == "<pending>"


def test_endpoints_cells_show_three_and_count_the_rest() -> None:
    ep = {
        "metadata": {"name": "e"},
        "subsets": [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(5)], "ports": [{"port": 8080}]}],
    }
    assert tables.endpoints_cells(ep, NOW)[1] == "10.0.0.0:8080,10.0.0.1:8080,10.0.0.2:8080 + 2 more..."


def test_node_cells() -> None:
    node = {
        "metadata": {"name": "n", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"unschedulable": True},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "nodeInfo": {"kubeletVersion": "v1"},
        },
    }
    cells = tables.node_cells(node, NOW)
    assert cells[:3] == ["n", "NotReady,SchedulingDisabled", "control-plane"]
    assert cells[4:] == ["v1", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_job_status() -> None:
    job = {
        "metadata": {"name": "j"},
        "spec": {"completions": 3},
        "status": {
            "succeeded": 3,
            "startTime": ts(100),
            "completionTime": ts(40),
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    assert tables.job_cells(job, NOW)[1:4] == ["Complete", "3/3", "60s"]


def test_table_shape() -> None:
    t = tables.table(
        "ConfigMap",
        [{"metadata": {"name": "c", "namespace": "n"}, "data": {"a": "1"}}],
        {"resourceVersion": "7"},
    )
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
    row = t["rows"][0]
    assert row["cells"] == ["c", 1, "<unknown>"]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": "c", "namespace": "n"},
    }
    assert "object" not in tables.table("ConfigMap", [{"metadata": {}}], {}, "None")["rows"][0]
    assert tables.printer_for("Widget") is tables.DEFAULT_PRINTER
