# The clients leave their config and watch helpers untyped; mypy is told not to demand types
# from them.
# mypy: disable-error-code="no-untyped-call"
"""Every served kind, round-tripped through the official clients' *typed* models.

The generated models of ``kubernetes`` (sync) and ``kubernetes_asyncio`` refuse an
object that lacks a field upstream's OpenAPI marks required: ``V1ReplicaSetStatus``
raises on ``replicas=None``. Upstream's API server always writes those fields (Go
zero values), so these clients never see them missing; minik must not either
(``minik/apiserver/zerovalues.py``). Each case creates a minimal object of one kind
and reads it back through create, get, list, watch and patch (and its ``status`` and
``scale`` subresources), each answer deserialized into the typed model. No controllers
run here, so what is checked is exactly what the API server itself answers (a fresh
ReplicaSet's ``status``, ...).

The set of cases must equal the set of kinds the server serves: a new kind fails
``test_every_served_kind_has_a_case`` until it has a case here.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client as sync_client
from kubernetes import config as sync_config
from kubernetes import watch as sync_watch
from kubernetes_asyncio import client as async_client
from kubernetes_asyncio import config as async_config
from kubernetes_asyncio import watch as async_watch

from minik.apiserver.registry import Registry

pytestmark = [pytest.mark.integration, pytest.mark.compat]

Obj = dict[str, Any]

_LABELS = {"app": "typed"}


def _pod_template(restart: str = "Always") -> Obj:
    return {
        "metadata": {"labels": dict(_LABELS)},
        "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "busybox:1.36"}]},
    }


def _workload() -> Obj:
    return {"selector": {"matchLabels": dict(_LABELS)}, "template": _pod_template()}


#: kind -> (API class name, the body apart from kind/apiVersion/metadata.name)
CASES: dict[str, tuple[str, Callable[[], Obj]]] = {
    "Namespace": ("CoreV1Api", lambda: {}),
    "Node": ("CoreV1Api", lambda: {"spec": {"unschedulable": True}}),
    "Pod": ("CoreV1Api", lambda: {"spec": _pod_template()["spec"]}),
    "Service": ("CoreV1Api", lambda: {"spec": {"selector": dict(_LABELS), "ports": [{"port": 80}]}}),
    "Endpoints": (
        "CoreV1Api",
        lambda: {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
    ),
    "Event": (
        "CoreV1Api",
        lambda: {
            "involvedObject": {"kind": "ConfigMap", "name": "c", "apiVersion": "v1"},
            "reason": "Tested",
            "message": "a typed round trip",
            "type": "Normal",
        },
    ),
    "ConfigMap": ("CoreV1Api", lambda: {"data": {"k": "v"}}),
    "Secret": ("CoreV1Api", lambda: {"stringData": {"k": "v"}}),
    "ReplicationController": (
        "CoreV1Api",
        lambda: {"spec": {"replicas": 0, "selector": dict(_LABELS), "template": _pod_template()}},
    ),
    "PersistentVolumeClaim": (
        "CoreV1Api",
        lambda: {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
    ),
    "ServiceAccount": ("CoreV1Api", lambda: {}),
    "Deployment": ("AppsV1Api", lambda: {"spec": {"replicas": 0, **_workload()}}),
    "ReplicaSet": ("AppsV1Api", lambda: {"spec": {"replicas": 0, **_workload()}}),
    "StatefulSet": ("AppsV1Api", lambda: {"spec": {"replicas": 0, "serviceName": "typed", **_workload()}}),
    "DaemonSet": ("AppsV1Api", lambda: {"spec": _workload()}),
    "ControllerRevision": ("AppsV1Api", lambda: {"revision": 1, "data": {"spec": {}}}),
    "Job": (
        "BatchV1Api",
        lambda: {"spec": {"suspend": True, "template": _pod_template("Never")}},
    ),
    "EndpointSlice": (
        "DiscoveryV1Api",
        lambda: {"addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}], "ports": [{"port": 80}]},
    ),
    "Lease": ("CoordinationV1Api", lambda: {"spec": {"holderIdentity": "typed"}}),
    "CronJob": (
        "BatchV1Api",
        lambda: {
            "spec": {
                "schedule": "*/5 * * * *",
                "suspend": True,
                "jobTemplate": {"spec": {"template": _pod_template("Never")}},
            }
        },
    ),
    "PodDisruptionBudget": (
        "PolicyV1Api",
        lambda: {"spec": {"minAvailable": 1, "selector": {"matchLabels": dict(_LABELS)}}},
    ),
    "Ingress": (
        "NetworkingV1Api",
        lambda: {"spec": {"defaultBackend": {"service": {"name": "typed", "port": {"number": 80}}}}},
    ),
    "PriorityClass": ("SchedulingV1Api", lambda: {"value": 1000, "description": "a typed round trip"}),
    "Role": (
        "RbacAuthorizationV1Api",
        lambda: {"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
    ),
    "ClusterRole": (
        "RbacAuthorizationV1Api",
        lambda: {"rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]},
    ),
    "RoleBinding": (
        "RbacAuthorizationV1Api",
        lambda: {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "typed"}],
        },
    ),
    "ClusterRoleBinding": (
        "RbacAuthorizationV1Api",
        lambda: {
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "typed"}],
        },
    ),
}

#: Every stored kind (create-only reviews such as TokenReview are answered, never stored).
_RESOURCES = {rt.kind: rt for rt in Registry() if "get" in rt.verbs}
#: Models not named ``V1<Kind>`` (core's Event; events.k8s.io has a ``V1Event`` of its own).
_MODELS = {"Event": "CoreV1Event"}


def _model(module: Any, kind: str) -> type:
    return getattr(module, _MODELS.get(kind, f"V1{kind}"))  # type: ignore[no-any-return]


def _snake(kind: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def _body(kind: str, name: str, namespace: str) -> Obj:
    rt = _RESOURCES[kind]
    body = {"apiVersion": rt.api_version, "kind": kind, "metadata": {"name": name}, **CASES[kind][1]()}
    if kind == "Event":  # an Event names an object of its own namespace
        body["involvedObject"]["namespace"] = namespace
    return body


def _name(kind: str) -> str:
    return f"typed-{kind.lower()}-{secrets.token_hex(3)}"


def _patch() -> Obj:
    return {"metadata": {"labels": {"patched": "yes"}}}


class _Calls:
    """The typed client methods of one kind: ``create_namespaced_pod``, ``list_node``, ..."""

    def __init__(self, api: Any, kind: str, namespace: str) -> None:
        self.api, self.namespaced = api, _RESOURCES[kind].namespaced
        self.snake, self.ns = _snake(kind), namespace

    def method(self, verb: str, subresource: str = "") -> Callable[..., Any]:
        """``verb`` on the kind (``subresource``: ``_status`` or ``_scale``)."""
        scope = "namespaced_" if self.namespaced else ""
        return getattr(self.api, f"{verb}_{scope}{self.snake}{subresource}")  # type: ignore[no-any-return]

    def args(self, *first: Any) -> tuple[Any, ...]:
        return (*first, self.ns) if self.namespaced else first


def _check(obj: Any, model: type[Any], name: str, kind: str) -> None:
    assert isinstance(obj, model), f"{kind}: expected {model.__name__}, got {type(obj).__name__}"
    assert obj.metadata.name == name


def test_every_served_kind_has_a_case() -> None:
    assert set(CASES) == set(_RESOURCES)


# -- sync: the official ``kubernetes`` client ------------------------------------------------------


@pytest.fixture(scope="module")
def sync_api(apiserver) -> Iterator[sync_client.ApiClient]:  # type: ignore[no-untyped-def]
    api_client = sync_config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


@pytest.mark.parametrize("kind", sorted(CASES))
def test_typed_round_trip_sync(sync_api: sync_client.ApiClient, ns: str, kind: str) -> None:
    api = getattr(sync_client, CASES[kind][0])(sync_api)
    model = _model(sync_client, kind)
    calls = _Calls(api, kind, ns)
    name = _name(kind)
    created = calls.method("create")(*calls.args(), _body(kind, name, ns))
    try:
        _check(created, model, name, kind)
        _check(calls.method("read")(*calls.args(name)), model, name, kind)
        listed = calls.method("list")(*calls.args(), field_selector=f"metadata.name={name}")
        assert [item.metadata.name for item in listed.items] == [name]
        _check(listed.items[0], model, name, kind)
        events = sync_watch.Watch().stream(
            calls.method("list"), *calls.args(), field_selector=f"metadata.name={name}", timeout_seconds=5
        )
        for event in events:
            assert event["type"] == "ADDED"
            _check(event["object"], model, name, kind)
            break
        else:
            raise AssertionError(f"{kind}: the watch ended without an ADDED event")
        patched = calls.method("patch")(*calls.args(name), _patch())
        _check(patched, model, name, kind)
        assert patched.metadata.labels["patched"] == "yes"
        subresources = _RESOURCES[kind].subresources
        if "status" in subresources:
            _check(calls.method("read", "_status")(*calls.args(name)), model, name, kind)
        if "scale" in subresources:
            _check(calls.method("read", "_scale")(*calls.args(name)), sync_client.V1Scale, name, kind)
    finally:
        calls.method("delete")(*calls.args(name))


# -- asyncio: ``kubernetes_asyncio`` -------------------------------------------------------------


async def _async_round_trip(kubeconfig: str, ns: str, kind: str) -> None:
    api_client = await async_config.new_client_from_config(config_file=kubeconfig)
    async with api_client:
        api = getattr(async_client, CASES[kind][0])(api_client)
        model = _model(async_client, kind)
        calls = _Calls(api, kind, ns)
        name = _name(kind)
        created = await calls.method("create")(*calls.args(), _body(kind, name, ns))
        try:
            _check(created, model, name, kind)
            _check(await calls.method("read")(*calls.args(name)), model, name, kind)
            listed = await calls.method("list")(*calls.args(), field_selector=f"metadata.name={name}")
            assert [item.metadata.name for item in listed.items] == [name]
            _check(listed.items[0], model, name, kind)
            seen = None
            async with async_watch.Watch() as watcher:
                async for event in watcher.stream(
                    calls.method("list"),
                    *calls.args(),
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=5,
                ):
                    seen = event
                    break
            assert seen is not None, f"{kind}: the watch ended without an event"
            assert seen["type"] == "ADDED"
            _check(seen["object"], model, name, kind)
            patched = await calls.method("patch")(*calls.args(name), _patch())
            _check(patched, model, name, kind)
            assert patched.metadata.labels["patched"] == "yes"
            subresources = _RESOURCES[kind].subresources
            if "status" in subresources:
                _check(await calls.method("read", "_status")(*calls.args(name)), model, name, kind)
            if "scale" in subresources:
                scale = await calls.method("read", "_scale")(*calls.args(name))
                _check(scale, async_client.V1Scale, name, kind)
        finally:
            await calls.method("delete")(*calls.args(name))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_typed_round_trip_asyncio(apiserver, ns: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(_async_round_trip(str(apiserver.kubeconfig), ns, kind))


def test_version_api(sync_api: sync_client.ApiClient, apiserver) -> None:  # type: ignore[no-untyped-def]
    """``VersionApi.get_code`` asks ``GET /version/`` (with the slash)."""
    info = sync_client.VersionApi(sync_api).get_code()
    assert info.major == "1" and info.git_version.startswith("v1.")

    async def get() -> Any:
        api_client = await async_config.new_client_from_config(config_file=str(apiserver.kubeconfig))
        async with api_client:
            return await async_client.VersionApi(api_client).get_code()

    assert asyncio.run(get()).git_version == info.git_version
