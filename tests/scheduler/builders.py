"""Builders for Node and Pod dicts and a one-call way to run a plugin, for the scheduler's tests."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from minik.scheduler.cache import Snapshot
from minik.scheduler.config import Profile, default_profile
from minik.scheduler.framework.interface import Handle
from minik.scheduler.framework.runtime import Framework
from minik.scheduler.framework.types import CycleState, NodeInfo, PodInfo, Status
from minik.scheduler.plugins import IN_TREE_PLUGINS

Obj = dict[str, Any]
_uids = itertools.count()


def make_node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: Mapping[str, str] | None = None,
    taints: Sequence[Obj] = (),
    unschedulable: bool = False,
    images: Sequence[Obj] = (),
    extra: Mapping[str, str] | None = None,
    ephemeral: str | None = None,
) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    if ephemeral is not None:
        allocatable["ephemeral-storage"] = ephemeral
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": list(taints), **({"unschedulable": True} if unschedulable else {})},
        "status": {
            "allocatable": allocatable,
            "capacity": dict(allocatable),
            "images": list(images),
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def container(
    name: str = "c",
    *,
    cpu: str | None = None,
    memory: str | None = None,
    image: str = "busybox",
    requests: Mapping[str, str] | None = None,
    **extra: Any,
) -> Obj:
    wanted: Obj = dict(requests or {})
    if cpu is not None:
        wanted["cpu"] = cpu
    if memory is not None:
        wanted["memory"] = memory
    ctr: Obj = {"name": name, "image": image, **extra}
    if wanted:
        ctr["resources"] = {"requests": wanted}
    return ctr


def make_pod(
    name: str = "p",
    *,
    namespace: str = "default",
    cpu: str | None = None,
    memory: str | None = None,
    labels: Mapping[str, str] | None = None,
    node_name: str | None = None,
    containers: Sequence[Obj] | None = None,
    init_containers: Sequence[Obj] = (),
    scheduler_name: str = "default-scheduler",
    priority: int = 0,
    uid: str | None = None,
    **spec: Any,
) -> Obj:
    body: Obj = {
        "schedulerName": scheduler_name,
        "priority": priority,
        "containers": list(containers) if containers is not None else [container(cpu=cpu, memory=memory)],
        **spec,
    }
    if init_containers:
        body["initContainers"] = list(init_containers)
    if node_name:
        body["nodeName"] = node_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid or f"uid-{name}-{next(_uids)}",
            "labels": dict(labels or {}),
        },
        "spec": body,
        "status": {"phase": "Pending"},
    }


def pod_info(pod: Obj) -> PodInfo:
    return PodInfo.from_pod(pod)


def snapshot(nodes: Sequence[Obj], pods: Sequence[Obj] = ()) -> Snapshot:
    return Snapshot.from_objects(list(nodes), list(pods))


def framework(snap: Snapshot, profile: Profile | None = None, **handle: Any) -> Framework:
    return Framework(profile or default_profile(), IN_TREE_PLUGINS, Handle(snap, **handle))


def plugin(name: str, snap: Snapshot, args: Mapping[str, Any] | None = None, **handle: Any) -> Any:
    cls = IN_TREE_PLUGINS[name]
    return cls({**cls.default_args, **(args or {})}, Handle(snap, **handle))


def run_filter(plugin_obj: Any, pod: Obj, snap: Snapshot) -> dict[str, Status | None]:
    """PreFilter then Filter on every node; node name -> status (SKIP at PreFilter = all None)."""
    info = PodInfo.from_pod(pod)
    state = CycleState()
    if hasattr(plugin_obj, "pre_filter"):
        _result, status = plugin_obj.pre_filter(state, info, snap.node_info_list)
        if status is not None:
            if status.code.name == "SKIP":
                return dict.fromkeys(snap.node_info_map)
            return dict.fromkeys(snap.node_info_map, status)
    out: dict[str, Status | None] = {}
    for node in snap.node_info_list:
        out[node.name] = plugin_obj.filter(state, info, node)
    # The batch path must agree with the per-node path.
    statuses: dict[str, Status] = {}
    passed = plugin_obj.filter_nodes(state, info, list(snap.node_info_list), statuses)
    assert {n.name for n in passed} == {k for k, v in out.items() if v is None}
    assert {k: v.reasons for k, v in statuses.items()} == {
        k: v.reasons for k, v in out.items() if v is not None
    }
    return out


def reasons(result: Mapping[str, Status | None]) -> dict[str, tuple[str, ...] | None]:
    return {name: (status.reasons if status is not None else None) for name, status in result.items()}


def run_score(
    plugin_obj: Any, pod: Obj, snap: Snapshot, nodes: Sequence[str] | None = None
) -> dict[str, int]:
    """PreScore, Score (and NormalizeScore) over the nodes; SKIP at PreScore gives {}."""
    info = PodInfo.from_pod(pod)
    state = CycleState()
    node_infos: list[NodeInfo] = (
        [snap.node_info_map[n] for n in nodes] if nodes else list(snap.node_info_list)
    )
    if hasattr(plugin_obj, "pre_filter"):
        _, status = plugin_obj.pre_filter(state, info, snap.node_info_list)
    status = plugin_obj.pre_score(state, info, node_infos) if hasattr(plugin_obj, "pre_score") else None
    if status is not None and status.code.name == "SKIP":
        return {}
    scores = plugin_obj.score_nodes(state, info, node_infos)
    one_by_one = [plugin_obj.score(state, info, n) for n in node_infos]
    assert scores == one_by_one, (scores, one_by_one)
    plugin_obj.normalize_score(state, info, node_infos, scores)
    return {n.name: s for n, s in zip(node_infos, scores, strict=True)}
