"""A request's method and URL → what the authorizer is asked (upstream's RequestInfo)."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from minik.api.rbac import UserInfo
from minik.apiserver.authz.attributes import request_attributes

U = UserInfo("u")


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/web/pods", {}, ("list", "", "pods", "", "web", "")),
        ("GET", "/api/v1/namespaces/web/pods", {"watch": "true"}, ("watch", "", "pods", "", "web", "")),
        ("GET", "/api/v1/watch/namespaces/web/pods", {}, ("watch", "", "pods", "", "web", "")),
        (
            "GET",
            "/api/v1/namespaces/web/pods",
            {"fieldSelector": "metadata.name=a"},
            ("list", "", "pods", "", "web", "a"),
        ),
        ("GET", "/api/v1/namespaces/web/pods/a", {}, ("get", "", "pods", "", "web", "a")),
        ("GET", "/api/v1/namespaces/web/pods/a/log", {}, ("get", "", "pods", "log", "web", "a")),
        ("POST", "/api/v1/namespaces/web/pods", {}, ("create", "", "pods", "", "web", "")),
        ("PUT", "/api/v1/namespaces/web/pods/a/status", {}, ("update", "", "pods", "status", "web", "a")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/web/deployments/d/scale",
            {},
            ("patch", "apps", "deployments", "scale", "web", "d"),
        ),
        ("DELETE", "/api/v1/namespaces/web/pods", {}, ("deletecollection", "", "pods", "", "web", "")),
        ("DELETE", "/api/v1/namespaces/web/pods/a", {}, ("delete", "", "pods", "", "web", "a")),
        ("GET", "/apis/apps/v1/deployments", {}, ("list", "apps", "deployments", "", "", "")),
        ("GET", "/api/v1/nodes/n1", {}, ("get", "", "nodes", "", "", "n1")),
        # a namespace's own URL carries the namespace
        ("GET", "/api/v1/namespaces/web", {}, ("get", "", "namespaces", "", "web", "web")),
        (
            "PUT",
            "/api/v1/namespaces/web/finalize",
            {},
            ("update", "", "namespaces", "finalize", "web", "web"),
        ),
        ("GET", "/api/v1/namespaces", {}, ("list", "", "namespaces", "", "", "")),
        # the /watch/ prefix means watch only on a GET (the router answers 405 to the rest)
        ("POST", "/api/v1/watch/namespaces/web/configmaps", {}, ("create", "", "configmaps", "", "web", "")),
        ("DELETE", "/api/v1/watch/namespaces/web/pods", {}, ("deletecollection", "", "pods", "", "web", "")),
    ],
)
def test_resource_requests(method: str, path: str, query: dict[str, str], expected: tuple[str, ...]) -> None:
    a = request_attributes(U, method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api"),
        ("GET", "/api/v1"),
        ("GET", "/apis"),
        ("GET", "/apis/apps/v1"),
        ("GET", "/metrics"),
        ("GET", "/openapi/v3"),
    ],
)
def test_non_resource_requests(method: str, path: str) -> None:
    a = request_attributes(U, method, path)
    assert not a.resource_request
    assert (a.verb, a.path) == (method.lower(), path)


def test_websocket_exec_is_create() -> None:
    a = request_attributes(U, "GET", "/api/v1/namespaces/web/pods/a/exec", websocket=True)
    assert (a.verb, a.subresource) == ("create", "exec")


def test_query_is_read_as_the_handler_reads_it() -> None:
    """A blank repeat of fieldSelector or watch wins, as it does in the handler's query."""
    query = dict(QueryParams("fieldSelector=metadata.name%3Da&fieldSelector=&watch=1&watch="))
    a = request_attributes(U, "GET", "/api/v1/namespaces/web/configmaps", query)
    assert (a.verb, a.name) == ("list", "")
