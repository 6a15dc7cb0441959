"""APIClient against httpx.MockTransport: URLs, bodies, errors, watch streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from minik.client import kinds
from minik.client.errors import (
    AlreadyExistsError,
    APIConnectionError,
    APIError,
    ConflictError,
    GoneError,
    InvalidError,
    NotFoundError,
    TooManyRequestsError,
    UnauthorizedError,
    error_from_status,
)
from minik.client.kinds import DEPLOYMENTS, ENDPOINTSLICES, LEASES, NODES, PODS
from minik.client.kubeconfig import ClientConfig
from minik.client.rest import APIClient, PatchType, WatchEvent, split_lines

Handler = Callable[[httpx.Request], httpx.Response]


def status(code: int, reason: str, message: str, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class Server:
    """Records requests and answers them with a handler."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.handler = handler or (lambda r: httpx.Response(200, json={"kind": "Pod", "metadata": {}}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def body(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[APIClient]:
    config = ClientConfig(server="https://apiserver:6443", token="tok")
    async with APIClient(config, transport=httpx.MockTransport(server)) as c:
        yield c


# -- addressing ------------------------------------------------------------------------------------


def test_paths() -> None:
    assert PODS.path(namespace="d", name="p", subresource="status") == "/api/v1/namespaces/d/pods/p/status"
    assert PODS.path() == "/api/v1/pods"
    assert NODES.path(name="n1") == "/api/v1/nodes/n1"
    assert DEPLOYMENTS.path(namespace="d") == "/apis/apps/v1/namespaces/d/deployments"
    assert (
        LEASES.path(namespace="kube-system", name="x")
        == "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x"
    )
    assert ENDPOINTSLICES.api_version == "discovery.k8s.io/v1"
    with pytest.raises(ValueError, match="cluster-scoped"):
        NODES.path(namespace="d", name="n1")
    with pytest.raises(ValueError):
        PODS.path(namespace="d", subresource="status")


def test_lookup() -> None:
    assert kinds.lookup("pods") is kinds.lookup("Pod") is kinds.lookup("po") is PODS
    assert kinds.lookup("deployments.apps") is kinds.lookup("deploy") is DEPLOYMENTS
    assert kinds.for_kind("apps/v1", "Deployment") is DEPLOYMENTS
    assert kinds.for_object({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}) is LEASES
    assert str(DEPLOYMENTS) == "deployments.apps"
    with pytest.raises(KeyError):
        kinds.lookup("widgets")
    expected = {
        "Pod", "Service", "Endpoints", "Node", "Namespace", "ConfigMap", "Secret", "Event",
        "ReplicationController", "PersistentVolumeClaim", "ServiceAccount", "Deployment", "ReplicaSet",
        "StatefulSet", "DaemonSet", "Job", "EndpointSlice", "Lease",
    }  # fmt: skip
    assert expected <= {r.kind for r in kinds.BUILTIN}


# -- verbs -----------------------------------------------------------------------------------------


async def test_get_sends_token_and_accept(client: APIClient, server: Server) -> None:
    await client.get(PODS, "web", namespace="shop")
    req = server.last
    assert req.method == "GET"
    assert req.url.path == "/api/v1/namespaces/shop/pods/web"
    assert req.headers["authorization"] == "Bearer tok"
    assert req.headers["accept"] == "application/json"
    with pytest.raises(ValueError, match="namespaced"):
        await client.get(PODS, "web")
    await client.get("nodes", "n1")
    assert server.last.url.path == "/api/v1/nodes/n1"


async def test_list_params(client: APIClient, server: Server) -> None:
    await client.list(
        PODS,
        namespace="d",
        label_selector="app=web",
        field_selector="spec.nodeName=n1",
        limit=50,
        continue_="tok",
        resource_version="0",
    )
    params = dict(server.last.url.params)
    assert server.last.url.path == "/api/v1/namespaces/d/pods"
    assert params == {
        "labelSelector": "app=web",
        "fieldSelector": "spec.nodeName=n1",
        "limit": "50",
        "continue": "tok",
        "resourceVersion": "0",
    }
    await client.list(PODS)
    assert server.last.url.path == "/api/v1/pods"
    assert dict(server.last.url.params) == {}


async def test_list_all_follows_continue_tokens(server: Server, client: APIClient) -> None:
    pages = {
        None: {
            "metadata": {"resourceVersion": "10", "continue": "c1"},
            "items": [{"metadata": {"name": "a"}}],
        },
        "c1": {
            "metadata": {"resourceVersion": "10", "continue": "c2"},
            "items": [{"metadata": {"name": "b"}}],
        },
        "c2": {"metadata": {"resourceVersion": "10"}, "items": [{"metadata": {"name": "c"}}]},
    }
    server.handler = lambda r: httpx.Response(
        200, json={"kind": "PodList", "apiVersion": "v1", **pages[r.url.params.get("continue")]}
    )
    merged = await client.list_all(PODS, page_size=1)
    assert [i["metadata"]["name"] for i in merged["items"]] == ["a", "b", "c"]
    assert merged["metadata"] == {"resourceVersion": "10"}
    assert merged["kind"] == "PodList"
    assert [r.url.params.get("limit") for r in server.requests] == ["1", "1", "1"]


async def test_list_all_relists_when_continue_expires(server: Server, client: APIClient) -> None:
    def handler(r: httpx.Request) -> httpx.Response:
        if r.url.params.get("continue"):
            return httpx.Response(410, json=status(410, "Expired", "continue token too old"))
        if r.url.params.get("limit"):
            return httpx.Response(
                200, json={"metadata": {"resourceVersion": "5", "continue": "c"}, "items": [{}]}
            )
        return httpx.Response(200, json={"metadata": {"resourceVersion": "9"}, "items": [{}, {}]})

    server.handler = handler
    merged = await client.list_all(PODS)
    assert len(merged["items"]) == 2
    assert merged["metadata"]["resourceVersion"] == "9"


async def test_create_update_status(client: APIClient, server: Server) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "d", "resourceVersion": "7"},
    }
    await client.create(PODS, pod, field_manager="minik")
    assert (server.last.method, server.last.url.path) == ("POST", "/api/v1/namespaces/d/pods")
    assert server.last.url.params["fieldManager"] == "minik"
    assert server.last.headers["content-type"] == "application/json"
    assert server.body() == pod
    await client.update(PODS, pod)
    assert (server.last.method, server.last.url.path) == ("PUT", "/api/v1/namespaces/d/pods/p")
    assert server.body()["metadata"]["resourceVersion"] == "7"
    await client.update_status(PODS, pod)
    assert (server.last.method, server.last.url.path) == ("PUT", "/api/v1/namespaces/d/pods/p/status")
    await client.create(DEPLOYMENTS, {"metadata": {"name": "x"}}, namespace="other", dry_run=True)
    assert server.last.url.path == "/apis/apps/v1/namespaces/other/deployments"
    assert server.last.url.params["dryRun"] == "All"


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("merge", "application/merge-patch+json"),
        ("strategic", "application/strategic-merge-patch+json"),
        ("json", "application/json-patch+json"),
        (PatchType.APPLY, "application/apply-patch+yaml"),
    ],
)
async def test_patch_types(client: APIClient, server: Server, kind: Any, content_type: str) -> None:
    body: Any = (
        [{"op": "add", "path": "/spec/replicas", "value": 3}] if kind == "json" else {"spec": {"replicas": 3}}
    )
    await client.patch(
        DEPLOYMENTS, "web", body, namespace="d", type=kind, field_manager="m", subresource="scale"
    )
    assert server.last.method == "PATCH"
    assert server.last.url.path == "/apis/apps/v1/namespaces/d/deployments/web/scale"
    assert server.last.headers["content-type"] == content_type
    assert server.body() == body


async def test_apply_needs_field_manager(client: APIClient) -> None:
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(PODS, "p", {}, namespace="d", type="apply")
    with pytest.raises(ValueError, match="unknown patch type"):
        await client.patch(PODS, "p", {}, namespace="d", type="bogus")


async def test_delete_options(client: APIClient, server: Server) -> None:
    await client.delete(
        PODS,
        "p",
        namespace="d",
        grace_period_seconds=0,
        propagation_policy="Foreground",
        preconditions={"uid": "u1", "resourceVersion": "9"},
    )
    assert (server.last.method, server.last.url.path) == ("DELETE", "/api/v1/namespaces/d/pods/p")
    assert server.body() == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Foreground",
        "preconditions": {"uid": "u1", "resourceVersion": "9"},
    }
    with pytest.raises(ValueError):
        await client.delete(PODS, "p", namespace="d", propagation_policy="Sometimes")


async def test_create_binding(client: APIClient, server: Server) -> None:
    pod = {"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"}}
    await client.create_binding(pod, "node-1")
    assert (server.last.method, server.last.url.path) == ("POST", "/api/v1/namespaces/shop/pods/web/binding")
    assert server.body() == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    }


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (404, "NotFound", NotFoundError),
        (409, "AlreadyExists", AlreadyExistsError),
        (409, "Conflict", ConflictError),
        (410, "Expired", GoneError),
        (410, "Gone", GoneError),
        (422, "Invalid", InvalidError),
        (401, "Unauthorized", UnauthorizedError),
        (429, "TooManyRequests", TooManyRequestsError),
    ],
)
async def test_status_bodies_become_typed_errors(
    client: APIClient, server: Server, code: int, reason: str, cls: type[APIError]
) -> None:
    server.handler = lambda r: httpx.Response(code, json=status(code, reason, f"it is {reason}", name="p"))
    with pytest.raises(cls) as info:
        await client.get(PODS, "p", namespace="d")
    assert info.value.code == code
    assert info.value.reason == reason
    assert info.value.message == f"it is {reason}"
    assert info.value.details == {"name": "p"}
    assert isinstance(info.value, APIError)


async def test_invalid_error_exposes_causes(client: APIClient, server: Server) -> None:
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}]
    server.handler = lambda r: httpx.Response(
        422, json=status(422, "Invalid", 'Pod "p" is invalid', kind="Pod", causes=causes)
    )
    with pytest.raises(InvalidError) as info:
        await client.create(PODS, {"metadata": {"name": "p", "namespace": "d"}})
    assert info.value.causes == causes


async def test_non_status_error_body(client: APIClient, server: Server) -> None:
    server.handler = lambda r: httpx.Response(502, text="<html>bad gateway</html>")
    with pytest.raises(APIError) as info:
        await client.get(PODS, "p", namespace="d")
    assert info.value.code == 502
    assert "bad gateway" in info.value.message


def test_error_from_status_reason_beats_code() -> None:
    assert isinstance(error_from_status(409, status(409, "AlreadyExists", "x")), AlreadyExistsError)
    assert isinstance(error_from_status(409, {"kind": "Status"}), ConflictError)
    assert isinstance(error_from_status(None, status(410, "Expired", "old")), GoneError)
    err = error_from_status(429, {"kind": "Status", "details": {"retryAfterSeconds": 3}})
    assert isinstance(err, TooManyRequestsError) and err.retry_after == 3.0


async def test_connection_errors_are_one_type(client: APIClient, server: Server) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server.handler = refuse
    with pytest.raises(APIConnectionError, match="connection refused") as info:
        await client.get(PODS, "p", namespace="d")
    assert isinstance(info.value, ConnectionError)


# -- watch -----------------------------------------------------------------------------------------


def event(kind: str, name: str, rv: str) -> bytes:
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": name, "resourceVersion": rv}}
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def streaming(chunks: list[bytes], *, error: Exception | None = None) -> Handler:
    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk
        if error is not None:
            raise error

    return lambda r: httpx.Response(200, content=body(), headers={"content-type": "application/json"})


async def test_watch_reassembles_events_across_chunks(client: APIClient, server: Server) -> None:
    stream = event("ADDED", "a", "11") + event("MODIFIED", "a", "12") + event("BOOKMARK", "", "13")
    stream += event("DELETED", "a", "14")
    # split at awkward places: mid-event, several events in one chunk, lone newlines
    chunks = [stream[:7], stream[7:150], stream[150:151], stream[151:-1], stream[-1:], b"\n\n"]
    server.handler = streaming(chunks)
    got = []
    async with client.watch(PODS, namespace="d", resource_version="10", timeout_seconds=60) as events:
        async for event_type, obj in events:
            got.append((event_type, obj["metadata"]["resourceVersion"]))
    assert got == [("ADDED", "11"), ("MODIFIED", "12"), ("BOOKMARK", "13"), ("DELETED", "14")]
    params = dict(server.last.url.params)
    assert server.last.url.path == "/api/v1/namespaces/d/pods"
    assert params == {
        "watch": "true",
        "resourceVersion": "10",
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "60",
    }


async def test_watch_error_event_410_raises_gone(client: APIClient, server: Server) -> None:
    error = json.dumps(
        {"type": "ERROR", "object": status(410, "Expired", "too old resource version: 5 (20)")}
    )
    server.handler = streaming([event("ADDED", "a", "21"), error.encode() + b"\n"])
    got: list[WatchEvent] = []
    with pytest.raises(GoneError, match="too old resource version"):
        async for ev in client.watch(PODS, resource_version="5"):
            got.append(ev)
    assert [e.type for e in got] == ["ADDED"]


async def test_watch_http_410_raises_gone(client: APIClient, server: Server) -> None:
    server.handler = lambda r: httpx.Response(410, json=status(410, "Expired", "too old"))
    with pytest.raises(GoneError):
        async for _ in client.watch(PODS, resource_version="1"):
            pass


async def test_watch_other_error_event(client: APIClient, server: Server) -> None:
    error = json.dumps({"type": "ERROR", "object": status(500, "InternalError", "etcd went away")})
    server.handler = streaming([error.encode() + b"\n"])
    with pytest.raises(APIError, match="etcd went away") as info:
        async for _ in client.watch(PODS):
            pass
    assert not isinstance(info.value, GoneError)


async def test_watch_broken_stream_is_a_connection_error(client: APIClient, server: Server) -> None:
    server.handler = streaming([event("ADDED", "a", "2")], error=httpx.ReadError("connection reset"))
    got = []
    with pytest.raises(APIConnectionError, match="connection reset"):
        async for ev in client.watch(PODS):
            got.append(ev)
    assert len(got) == 1


async def test_watch_malformed_line(client: APIClient, server: Server) -> None:
    server.handler = streaming([b"{not json}\n"])
    with pytest.raises(APIConnectionError, match="malformed"):
        async for _ in client.watch(PODS):
            pass


async def test_watch_can_be_closed_early(client: APIClient, server: Server) -> None:
    server.handler = streaming([event("ADDED", "a", "2"), event("ADDED", "b", "3")])
    stream = client.watch(PODS)
    async for _ in stream:
        break
    await stream.aclose()


async def test_split_lines_tail_without_newline() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for c in (b'{"a"', b":1}\n{", b'"b":2}'):
            yield c

    assert [line async for line in split_lines(chunks())] == [b'{"a":1}', b'{"b":2}']
