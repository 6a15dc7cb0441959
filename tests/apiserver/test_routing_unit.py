"""The routing table: each (method, URL shape) goes to its handler; the rest is 405 or 404.

The first tests are pure (``routing.py``); the last ones send requests to an
in-process :class:`APIServer` over the tests' etcd, to see the dispatcher's 404s and
405s as clients do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from minik.api import errors
from minik.apiserver import routing
from minik.apiserver.app import APIServer
from minik.apiserver.handlers import Handlers
from minik.apiserver.registry import Registry, ResourceType
from tests.apiserver.inprocess import open_storage
from tests.conftest import Etcd

REGISTRY = Registry()


def rt(plural: str, group: str = "", version: str = "v1") -> ResourceType:
    found = REGISTRY.lookup(group, version, plural)
    assert found is not None
    return found


# (method, name, subresource, ?watch) → (verb, handler)
EXPECTED: list[tuple[str, str | None, str | None, bool, str, routing.Handler]] = [
    ("GET", None, None, False, "list", Handlers.list),
    ("GET", None, None, True, "watch", Handlers.watch),
    ("POST", None, None, False, "create", Handlers.create),
    ("DELETE", None, None, False, "deletecollection", Handlers.delete_collection),
    ("GET", "x", None, False, "get", Handlers.get),
    ("GET", "x", None, True, "get", Handlers.get),  # ?watch on an object is a get, as before
    ("PUT", "x", None, False, "update", Handlers.update),
    ("PATCH", "x", None, False, "patch", Handlers.patch),
    ("DELETE", "x", None, False, "delete", Handlers.delete),
    ("GET", "x", "status", False, "get", Handlers.get_status),
    ("PUT", "x", "status", False, "update", Handlers.update_status),
    ("PATCH", "x", "status", False, "patch", Handlers.patch_status),
    ("GET", "x", "scale", False, "get", Handlers.get_scale),
    ("PUT", "x", "scale", False, "update", Handlers.update_scale),
    ("PATCH", "x", "scale", False, "patch", Handlers.patch_scale),
    ("POST", "x", "binding", False, "create", Handlers.bind),
    ("POST", "x", "eviction", False, "create", Handlers.evict),
    ("PUT", "x", "finalize", False, "update", Handlers.finalize),
]


@pytest.mark.parametrize(("method", "name", "sub", "watch", "verb", "handler"), EXPECTED)
def test_each_row_resolves_to_its_handler(
    method: str, name: str | None, sub: str | None, watch: bool, verb: str, handler: routing.Handler
) -> None:
    route = routing.resolve(method, rt("pods"), name, sub, watch)
    assert route.verb == verb
    assert route.handler is handler


def test_every_row_of_the_table_is_expected() -> None:
    """A new row needs a line in EXPECTED too (so its handler is checked above)."""
    expected = {(verb, handler) for _, _, _, _, verb, handler in EXPECTED}
    assert {(r.verb, r.handler) for r in routing.ROUTES.values()} == expected
    assert len(routing.ROUTES) == len(EXPECTED) - 1  # the ?watch-on-an-object line shares the get row


@pytest.mark.parametrize(
    ("method", "name", "sub", "message"),
    [
        ("PUT", None, None, "PUT is not supported on a collection"),
        ("PATCH", None, None, "PATCH is not supported on a collection"),
        ("HEAD", None, None, "HEAD is not supported on a collection"),
        ("POST", "x", None, "POST is not supported on pods"),
        ("OPTIONS", "x", None, "OPTIONS is not supported on pods"),
        ("DELETE", "x", "status", "DELETE is not supported on pods/status"),
        ("POST", "x", "scale", "POST is not supported on pods/scale"),
        ("GET", "x", "binding", "GET is not supported on pods/binding"),
        ("PUT", "x", "log", "PUT is not supported on pods/log"),
        ("GET", "x", "eviction", "GET is not supported on pods/eviction"),  # create only
        ("DELETE", "x", "exec", "DELETE is not supported on pods/exec"),
    ],
)
def test_combinations_without_a_row_are_405(
    method: str, name: str | None, sub: str | None, message: str
) -> None:
    with pytest.raises(errors.APIError) as caught:
        routing.resolve(method, rt("pods"), name, sub, False)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        405,
        "MethodNotAllowed",
        message,
    )


def test_parse_path_reads_upstreams_url_grammar() -> None:
    info = routing.parse_path("/apis/apps/v1/namespaces/ns/deployments/web/scale")
    assert info == routing.RequestInfo("apps", "v1", "deployments", "ns", "web", "scale")
    # A namespace's own subresources are not "resources in a namespace".
    assert routing.parse_path("/api/v1/namespaces/ns/finalize") == routing.RequestInfo(
        "", "v1", "namespaces", None, "ns", "finalize"
    )
    watch = routing.parse_path("/api/v1/watch/namespaces/ns/pods")
    assert watch is not None and watch.watch_path and watch.resource == "pods" and watch.name is None
    assert routing.parse_path("/api/v1") is None
    assert routing.parse_path("/apis/apps/v1/namespaces/ns/deployments/web/scale/more") is None
    assert routing.parse_path("/healthz") is None


@pytest.fixture()
async def api(etcd_server: Etcd) -> AsyncIterator[httpx.AsyncClient]:
    async with open_storage(etcd_server.url) as storage:
        server = APIServer(storage, storage.registry, None)
        server.ready.set()
        transport = httpx.ASGITransport(app=server)
        async with httpx.AsyncClient(transport=transport, base_url="http://minik") as client:
            yield client


@pytest.mark.parametrize(
    ("method", "path", "code", "message"),
    [
        ("GET", "/api/v1/widgets", 404, "the server could not find the requested resource"),
        ("GET", "/api/v1/namespaces/default/nodes", 404, "nodes is not a namespaced resource"),
        (
            "GET",
            "/api/v1/namespaces/default/pods/p/ephemeralcontainers",
            404,
            "pods has no subresource 'ephemeralcontainers'",
        ),
        ("GET", "/nothing/here", 404, "the server could not find the requested resource (GET /nothing/here)"),
        ("PUT", "/api/v1/namespaces/default/pods", 405, "PUT is not supported on a collection"),
        ("POST", "/api/v1/pods", 405, "create pods needs a namespace in the path"),
        ("POST", "/api/v1/namespaces/default/configmaps/x", 405, "POST is not supported on configmaps"),
    ],
)
async def test_the_dispatcher_answers_unknown_urls_and_methods_with_a_status(
    api: httpx.AsyncClient, method: str, path: str, code: int, message: str
) -> None:
    response = await api.request(method, path)
    assert response.status_code == code
    status = response.json()
    assert status["kind"] == "Status" and status["code"] == code and status["message"] == message


async def test_the_dispatcher_serves_a_list_through_the_table(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/namespaces/default/configmaps")
    assert response.status_code == 200
    assert response.json()["kind"] == "ConfigMapList"
    metrics = (await api.get("/metrics")).text
    assert 'apiserver_request_total{verb="list",resource="configmaps",code="200"} 1' in metrics
