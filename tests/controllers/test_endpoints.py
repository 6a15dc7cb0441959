"""Endpoints, EndpointSlices and slice mirroring: unit rules, then the controllers on a real API server."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from minik.client.kinds import ENDPOINTS, ENDPOINTSLICES, PODS, SERVICES
from minik.client.kubeconfig import load_kubeconfig
from minik.client.objects import Obj
from minik.client.rest import APIClient
from minik.controllers.endpoints import EndpointsController, desired_subsets
from minik.controllers.endpointslice import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    MIRRORING_CONTROLLER_NAME,
    SERVICE_NAME_LABEL,
    EndpointSliceController,
    EndpointSliceMirroringController,
    SliceTracker,
)
from minik.controllers.servicepods import find_port
from tests.conftest import APIServerProcess

from .kubelet_stub import KubeletStub, controllers_running, eventually, pod_manifest

# -- unit: the per-pod rules -------------------------------------------------------------------


def _pod(
    name: str, ip: str | None, *, ready: bool = True, ports: list[Obj] | None = None, **extra: Any
) -> Obj:
    pod: Obj = {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", **extra.pop("meta", {})},
        "spec": {"containers": [{"name": "c", "ports": ports or []}], **extra},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }
    if ip:
        pod["status"]["podIP"] = ip
    return pod


def _svc(ports: list[Obj], **spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"selector": {"app": "web"}, "ports": ports, **spec},
    }


def test_find_port_by_name_number_and_protocol() -> None:
    pod = _pod(
        "a",
        "10.0.0.1",
        ports=[
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
        ],
    )
    assert find_port(pod, {"port": 80, "targetPort": "http", "protocol": "TCP"}) == 8080
    assert find_port(pod, {"port": 80, "targetPort": 9000}) == 9000
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) == 53
    assert find_port(pod, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None  # protocol must match
    assert find_port(pod, {"port": 80, "targetPort": "nope"}) is None


def test_subsets_group_pods_by_resolved_ports_and_readiness() -> None:
    svc = _svc([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    pods = [
        _pod("a", "10.0.0.2", ports=[{"name": "http", "containerPort": 8080}]),
        _pod("b", "10.0.0.1", ports=[{"name": "http", "containerPort": 8080}], ready=False),
        _pod("c", "10.0.0.3", ports=[{"name": "http", "containerPort": 9090}]),
        _pod("d", None, ports=[{"name": "http", "containerPort": 8080}]),  # no IP yet
        _pod("e", "10.0.0.5", ports=[{"name": "other", "containerPort": 1}]),  # cannot serve the port
        _pod(
            "f", "10.0.0.6", ports=[{"name": "http", "containerPort": 8080}], meta={"deletionTimestamp": "x"}
        ),
    ]
    subsets, truncated = desired_subsets(svc, pods)
    assert not truncated
    assert [(s.get("addresses", []), s.get("notReadyAddresses", []), s["ports"]) for s in subsets] == [
        (
            [
                {
                    "ip": "10.0.0.2",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"},
                }
            ],
            [
                {
                    "ip": "10.0.0.1",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "b", "uid": "uid-b"},
                }
            ],
            [{"name": "http", "port": 8080, "protocol": "TCP"}],
        ),
        (
            [
                {
                    "ip": "10.0.0.3",
                    "targetRef": {"kind": "Pod", "namespace": "ns", "name": "c", "uid": "uid-c"},
                }
            ],
            [],
            [{"name": "http", "port": 9090, "protocol": "TCP"}],
        ),
    ]
    # publishNotReadyAddresses: everyone (terminating too) is an address.
    published, _ = desired_subsets({**svc, "spec": {**svc["spec"], "publishNotReadyAddresses": True}}, pods)
    assert sorted(a["ip"] for s in published for a in s.get("addresses", [])) == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.6",
    ]


def test_endpoints_are_truncated_at_1000_ready_first() -> None:
    svc = _svc([{"port": 80, "targetPort": 80}])
    pods = [_pod(f"p{i}", f"10.1.{i // 250}.{i % 250 + 1}", ready=i >= 10) for i in range(1005)]
    subsets, truncated = desired_subsets(svc, pods)
    assert truncated
    assert len(subsets[0]["addresses"]) == 995  # every ready pod…
    assert len(subsets[0]["notReadyAddresses"]) == 5  # …and only what is left of the budget


def test_slice_tracker_waits_for_the_cache() -> None:
    now = [0.0]
    tracker = SliceTracker(ttl=5, now=lambda: now[0])
    tracker.expect("ns/web", "web-abcde", "10")
    assert tracker.stale("ns/web", [])
    assert tracker.stale("ns/web", [{"metadata": {"name": "web-abcde", "resourceVersion": "9"}}])
    assert not tracker.stale("ns/web", [{"metadata": {"name": "web-abcde", "resourceVersion": "11"}}])
    tracker.expect_deleted("ns/web", "web-abcde")
    assert tracker.stale("ns/web", [{"metadata": {"name": "web-abcde", "resourceVersion": "11"}}])
    now[0] = 6.0  # expectations expire: a lost event cannot wedge a Service
    assert not tracker.stale("ns/web", [{"metadata": {"name": "web-abcde", "resourceVersion": "11"}}])


# -- integration --------------------------------------------------------------------------------


@pytest.fixture
async def client(apiserver: APIServerProcess) -> AsyncIterator[APIClient]:
    async with APIClient(load_kubeconfig(apiserver.kubeconfig)) as c:
        yield c


def _make_endpoints(c: APIClient, f: Any, r: Any) -> EndpointsController:
    return EndpointsController(c, f, r)


def _make_slices(c: APIClient, f: Any, r: Any) -> EndpointSliceController:
    return EndpointSliceController(c, f, r)


def _make_mirroring(c: APIClient, f: Any, r: Any) -> EndpointSliceMirroringController:
    return EndpointSliceMirroringController(c, f, r)


async def _endpoints(client: APIClient, ns: str, name: str) -> Obj | None:
    try:
        return await client.get(ENDPOINTS, name, namespace=ns)
    except Exception:
        return None


async def _slices(client: APIClient, ns: str, service: str, manager: str = CONTROLLER_NAME) -> list[Obj]:
    listed = await client.list(
        ENDPOINTSLICES,
        namespace=ns,
        label_selector=f"{SERVICE_NAME_LABEL}={service},{MANAGED_BY_LABEL}={manager}",
    )
    return list(listed["items"])


def _slice_endpoints(slices: list[Obj]) -> dict[str, Obj]:
    return {e["addresses"][0]: e for s in slices for e in s.get("endpoints") or []}


def _addresses(ep: Obj | None, field: str = "addresses") -> list[str]:
    if ep is None:
        return []
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get(field) or [])


@pytest.mark.integration
async def test_endpoints_and_slices_follow_pods(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    await client.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns, "labels": {"tier": "fe"}},
            "spec": {
                "selector": {"app": "web"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": "http"},
                    {"name": "metrics", "port": 9090, "targetPort": 9100},
                ],
            },
        },
    )
    http = [{"name": "http", "containerPort": 8080}]
    for name, ports in (
        ("a", http),
        ("b", [{"name": "http", "containerPort": 8081}]),
        ("c", http),
        ("d", http),
    ):
        await client.create(PODS, pod_manifest(name, ns, labels={"app": "web"}, ports=ports, node="node-x"))
    await client.create(PODS, pod_manifest("other", ns, labels={"app": "db"}, ports=http))
    ips = {}
    for name, ready in (("a", True), ("b", True), ("c", False), ("other", True)):
        ips[name] = (await kubelet.set_pod_status(ns, name, ready=ready))["status"]["podIP"]
    # d has no IP yet (still pending): in nobody's endpoints.

    async with controllers_running(client, _make_endpoints, _make_slices):
        ep = await eventually(lambda: _endpoints(client, ns, "web"), message="endpoints created")
        await eventually(
            lambda: _check(
                client,
                ns,
                lambda e: (
                    _addresses(e) == sorted([ips["a"], ips["b"]])
                    and _addresses(e, "notReadyAddresses") == [ips["c"]]
                ),
            ),
            message="ready a, b and not-ready c",
        )
        ep = await client.get(ENDPOINTS, "web", namespace=ns)
        assert ep["metadata"]["labels"]["tier"] == "fe"
        by_ports = {tuple((p["name"], p["port"]) for p in s["ports"]): s for s in ep["subsets"]}
        # b serves "http" on 8081: a subset of its own. The numeric targetPort is used as is.
        assert set(by_ports) == {(("http", 8080), ("metrics", 9100)), (("http", 8081), ("metrics", 9100))}
        address_a = next(a for s in ep["subsets"] for a in s.get("addresses", []) if a["ip"] == ips["a"])
        assert address_a["nodeName"] == "node-x"
        assert address_a["targetRef"]["kind"] == "Pod" and address_a["targetRef"]["name"] == "a"

        slices = await eventually(lambda: _slices(client, ns, "web"), message="slices")
        assert all(s["metadata"]["ownerReferences"][0]["kind"] == "Service" for s in slices)
        eps = await eventually(
            lambda: _slice_eps_if(client, ns, "web", lambda e: set(e) == {ips["a"], ips["b"], ips["c"]}),
            message="slice endpoints a, b, c",
        )
        assert eps[ips["c"]]["conditions"] == {"ready": False, "serving": False, "terminating": False}
        assert eps[ips["a"]]["conditions"] == {"ready": True, "serving": True, "terminating": False}

        # Readiness flip: c becomes ready; both objects follow quickly.
        started = time.monotonic()
        await kubelet.set_pod_status(ns, "c", ready=True)
        await eventually(
            lambda: _slice_eps_if(client, ns, "web", lambda e: e[ips["c"]]["conditions"]["ready"]),
            interval=0.01,
            message="c ready in the slice",
        )
        print(f"readiness flip visible in the slice after {time.monotonic() - started:.3f}s")
        await eventually(
            lambda: _check(client, ns, lambda e: ips["c"] in _addresses(e)), message="c ready in endpoints"
        )

        # Terminating: a graceful delete (a is on a node) keeps a in the slice as terminating,
        # but takes it out of Endpoints at once.
        await client.delete(PODS, "a", namespace=ns)
        eps = await eventually(
            lambda: _slice_eps_if(client, ns, "web", lambda e: e[ips["a"]]["conditions"]["terminating"]),
            message="a terminating in the slice",
        )
        assert eps[ips["a"]]["conditions"] == {"ready": False, "serving": True, "terminating": True}
        await eventually(
            lambda: _check(client, ns, lambda e: ips["a"] not in _addresses(e)), message="a out of endpoints"
        )

        # A relabelled pod leaves the Service.
        await client.patch(PODS, "b", {"metadata": {"labels": {"app": "moved"}}}, namespace=ns)
        await eventually(
            lambda: _check(client, ns, lambda e: ips["b"] not in _addresses(e)), message="b out of endpoints"
        )
        await eventually(
            lambda: _slice_eps_if(client, ns, "web", lambda e: ips["b"] not in e),
            message="b out of the slice",
        )

        # The Service goes: so do its Endpoints and slices.
        await client.delete(SERVICES, "web", namespace=ns)
        await eventually(lambda: _gone(client, ns), message="endpoints deleted with the service")
        await eventually(lambda: _no_slices(client, ns, "web"), message="slices deleted with the service")


async def _check(client: APIClient, ns: str, predicate: Any, name: str = "web") -> bool:
    return bool(predicate(await _endpoints(client, ns, name)))


async def _slice_eps_if(client: APIClient, ns: str, service: str, predicate: Any) -> dict[str, Obj] | None:
    eps = _slice_endpoints(await _slices(client, ns, service))
    try:
        return eps if predicate(eps) else None
    except KeyError:
        return None


async def _gone(client: APIClient, ns: str, name: str = "web") -> bool:
    return await _endpoints(client, ns, name) is None


async def _no_slices(client: APIClient, ns: str, service: str) -> bool:
    return not await _slices(client, ns, service)


@pytest.mark.integration
async def test_publish_not_ready_and_statefulset_hostnames(client: APIClient, ns: str) -> None:
    kubelet = KubeletStub(client)
    await client.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": {"app": "db"},
                "ports": [{"name": "pg", "port": 5432}],
            },
        },
    )
    for i in range(2):
        await client.create(
            PODS, pod_manifest(f"db-{i}", ns, labels={"app": "db"}, hostname=f"db-{i}", subdomain="db")
        )
    ips = [(await kubelet.set_pod_status(ns, f"db-{i}", ready=False))["status"]["podIP"] for i in range(2)]
    async with controllers_running(client, _make_endpoints, _make_slices):
        await eventually(
            lambda: _check(client, ns, lambda e: _addresses(e) == sorted(ips), name="db"),
            message="not-ready pods published as addresses",
        )
        ep = await client.get(ENDPOINTS, "db", namespace=ns)
        hostnames = {a["ip"]: a.get("hostname") for s in ep["subsets"] for a in s["addresses"]}
        assert hostnames == {ips[0]: "db-0", ips[1]: "db-1"}
        assert "service.kubernetes.io/headless" in ep["metadata"]["labels"]
        eps = await eventually(
            lambda: _slice_eps_if(client, ns, "db", lambda e: len(e) == 2), message="slice"
        )
        assert eps[ips[0]]["hostname"] == "db-0"
        assert eps[ips[0]]["conditions"] == {"ready": True, "serving": False, "terminating": False}


@pytest.mark.integration
async def test_selectorless_endpoints_are_left_alone_and_mirrored(client: APIClient, ns: str) -> None:
    await client.create(
        SERVICES,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ext", "namespace": ns},
            "spec": {"ports": [{"name": "https", "port": 443}]},
        },
    )
    hand_made = await client.create(
        ENDPOINTS,
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "ext", "namespace": ns, "labels": {"x": "y"}},
            "subsets": [
                {
                    "addresses": [{"ip": "192.0.2.10"}],
                    "notReadyAddresses": [{"ip": "192.0.2.11"}],
                    "ports": [{"name": "https", "port": 8443}],
                }
            ],
        },
    )
    async with controllers_running(client, _make_endpoints, _make_slices, _make_mirroring):
        slices = await eventually(
            lambda: _slices(client, ns, "ext", MIRRORING_CONTROLLER_NAME), message="mirrored slice"
        )
        assert len(slices) == 1
        assert slices[0]["metadata"]["labels"]["x"] == "y"
        assert slices[0]["ports"] == [{"name": "https", "port": 8443, "protocol": "TCP"}]
        eps = _slice_endpoints(slices)
        assert eps["192.0.2.10"]["conditions"]["ready"] is True
        assert eps["192.0.2.11"]["conditions"]["ready"] is False
        assert await _slices(client, ns, "ext") == []  # the selector controller keeps out

        # The mirror follows edits of the hand-made object...
        current = await client.get(ENDPOINTS, "ext", namespace=ns)
        current["subsets"][0]["addresses"].append({"ip": "192.0.2.12"})
        await client.update(ENDPOINTS, current)
        await eventually(lambda: _mirrored_has(client, ns, "192.0.2.12"), message="mirror follows")
        # ...and which the Endpoints controller never rewrote.
        untouched = await client.get(ENDPOINTS, "ext", namespace=ns)
        assert untouched["metadata"]["uid"] == hand_made["metadata"]["uid"]
        assert "endpointslice.kubernetes.io/skip-mirror" not in untouched["metadata"].get("labels", {})

        await client.delete(ENDPOINTS, "ext", namespace=ns)
        await eventually(lambda: _no_mirror(client, ns), message="mirror removed")


async def _mirrored_has(client: APIClient, ns: str, ip: str) -> bool:
    return ip in _slice_endpoints(await _slices(client, ns, "ext", MIRRORING_CONTROLLER_NAME))


async def _no_mirror(client: APIClient, ns: str) -> bool:
    return not await _slices(client, ns, "ext", MIRRORING_CONTROLLER_NAME)


# -- unit: slice placement ------------------------------------------------------------------------


class _FakeSliceAPI:
    """Records slice writes; answers like the API server would (names, resourceVersions)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._n = 0

    async def create(self, ref: Any, obj: Obj, *, namespace: str | None = None) -> Obj:
        self._n += 1
        name = obj["metadata"]["generateName"] + f"x{self._n}"
        self.calls.append(("create", name))
        return {**obj, "metadata": {**obj["metadata"], "name": name, "resourceVersion": str(self._n)}}

    async def update(self, ref: Any, obj: Obj, *, namespace: str | None = None) -> Obj:
        self._n += 1
        self.calls.append(("update", obj["metadata"]["name"]))
        return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._n)}}

    async def delete(self, ref: Any, name: str, **_: Any) -> Obj:
        self.calls.append(("delete", name))
        return {}


def _writer(existing: list[Obj], max_endpoints: int = 2) -> tuple[Any, _FakeSliceAPI]:
    from types import SimpleNamespace

    from minik.client.store import Indexer
    from minik.controllers.endpointslice import SERVICE_INDEX, _SliceWriter, index_by_service

    store = Indexer({SERVICE_INDEX: index_by_service})
    for eps in existing:
        store.add(eps)
    api = _FakeSliceAPI()
    writer = _SliceWriter(
        cast(Any, api),
        cast(Any, SimpleNamespace(store=store)),
        SliceTracker(),
        manager=CONTROLLER_NAME,
        max_endpoints=max_endpoints,
    )
    return writer, api


def _existing(name: str, ports: list[Obj], ips: list[str]) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": "1",
            "labels": {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME},
        },
        "addressType": "IPv4",
        "ports": ports,
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
    }


_SERVICE = {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid"}, "spec": {}}
_PORTS = [{"name": "", "port": 80, "protocol": "TCP"}]
_GROUP = ("IPv4", (("", 80, "TCP", ""),))


def _eps(*ips: str) -> dict[str, Obj]:
    return {
        ip: {"addresses": [ip], "conditions": {"ready": True, "serving": True, "terminating": False}}
        for ip in ips
    }


async def test_slices_keep_endpoints_in_place_and_fill_up() -> None:
    writer, api = _writer([_existing("web-a", _PORTS, ["10.0.0.1", "10.0.0.9"])])
    await writer.sync(
        _SERVICE, {_GROUP: _eps("10.0.0.1", "10.0.0.9", "10.0.0.5")}, labels={}, placeholder=True
    )
    # web-a is full with its own two endpoints; the new one needs a second slice.
    assert [c[0] for c in api.calls] == ["update", "create"] and api.calls[0][1] == "web-a"


async def test_placeholder_is_reused_for_the_first_endpoints() -> None:
    writer, api = _writer([_existing("web-p", [], [])])
    await writer.sync(_SERVICE, {_GROUP: _eps("10.0.0.1")}, labels={}, placeholder=True)
    assert api.calls == [("update", "web-p")]
    writer, api = _writer([_existing("web-a", _PORTS, ["10.0.0.1"])])
    await writer.sync(_SERVICE, {}, labels={}, placeholder=True)  # last pod gone: back to a placeholder
    assert api.calls == [("update", "web-a")]


async def test_many_endpoints_are_split_into_bounded_slices() -> None:
    writer, api = _writer([], max_endpoints=100)
    await writer.sync(
        _SERVICE,
        {_GROUP: _eps(*(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(250)))},
        labels={},
        placeholder=True,
    )
    assert [c[0] for c in api.calls] == ["create"] * 3
