"""Slow and silent clients cannot hold the API server: the request timeout and connection deadlines.

An apiserver of its own runs with ``--request-timeout 2s`` so that every deadline
expires within a test. Raw TLS sockets play the slow clients (an HTTP library
would not send half a request); the checks are what a user relies on: a slow
body is answered ``504 Timeout`` and its connection closed, a half-sent header or a
silent connection is closed, hundreds of such sockets do not stop a normal
request, watches are exempt, and none of it shows up as a 500 or a traceback.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from starlette.requests import Request

from minik.apiserver.deadlines import duration_flag, is_long_running
from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver

pytestmark = pytest.mark.integration

REQUEST_TIMEOUT = 2.0
#: How long a test waits for something the server must do within REQUEST_TIMEOUT.
PATIENCE = 20.0
SLOWLORIS = 200


@pytest.fixture(scope="module")
def server(workdir: object, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    proc = launch_apiserver(workdir, etcd_server.url, "--request-timeout", f"{REQUEST_TIMEOUT:g}s")  # type: ignore[arg-type]
    yield proc
    _stop(proc.process)


def tls_socket(server: APIServerProcess) -> ssl.SSLSocket:
    host, port = server.url.removeprefix("https://").split(":")
    raw = socket.create_connection((host, int(port)), timeout=PATIENCE)
    return server.tls().wrap_socket(raw, server_hostname=host)


def head(server: APIServerProcess, method: str, path: str, length: int, *, token: bool = True) -> bytes:
    auth = f"Authorization: Bearer {server.token}\r\n" if token else ""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: minik\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def read_until_closed(sock: ssl.SSLSocket) -> bytes:
    """Everything the server sends until it closes the connection (a timeout fails the test)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


def status_of(response: bytes) -> tuple[int, dict[str, object]]:
    header, _, body = response.partition(b"\r\n\r\n")
    code = int(header.split(b" ", 2)[1])
    return code, json.loads(body) if body.startswith(b"{") else {}


def test_a_body_that_never_arrives_is_answered_504_and_its_connection_closed(
    server: APIServerProcess,
) -> None:
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", "/api/v1/namespaces/default/configmaps", 1_000_000) + b"{")
        code, status = status_of(read_until_closed(sock))
    assert code == 504
    assert status["reason"] == "Timeout"
    assert status["message"] == (
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    )


def test_an_answer_before_the_body_is_read_closes_the_connection(server: APIServerProcess) -> None:
    """Unauthenticated: 401 at once, and the rest of the declared body is not waited for."""
    with tls_socket(server) as sock:
        sock.sendall(
            head(server, "POST", "/api/v1/namespaces/default/configmaps", 1_000_000, token=False) + b"{"
        )
        code, _ = status_of(read_until_closed(sock))
    assert code == 401


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /api/v1/namespaces HTTP/1.1\r\nHost: minik\r\n"],
    ids=["silent-connection", "half-a-header"],
)
def test_a_connection_without_a_complete_header_is_closed(server: APIServerProcess, sent: bytes) -> None:
    with tls_socket(server) as sock:
        sock.sendall(sent)
        assert read_until_closed(sock) == b""


def test_slowloris_sockets_do_not_block_a_normal_request_and_are_all_closed(server: APIServerProcess) -> None:
    socks: list[ssl.SSLSocket] = []
    try:
        for i in range(SLOWLORIS):
            sock = tls_socket(server)
            if i % 2:
                sock.sendall(head(server, "PUT", "/api/v1/namespaces/default/configmaps/x", 1_000_000) + b"{")
            else:
                sock.sendall(b"POST /api/v1/namespaces HTTP/1.1\r\nHost: minik\r\nX-Slow: ")
            socks.append(sock)
        with server.client(timeout=PATIENCE) as api:
            assert api.get("/api/v1/namespaces/default").status_code == 200
        open_ = set(socks)
        deadline = time.monotonic() + PATIENCE
        while open_ and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_), [], [], 1.0)
            for sock in readable:
                try:
                    while sock.recv(65536):  # a 504 first for the slow bodies, then the close
                        pass
                except ssl.SSLWantReadError:
                    continue
                except ConnectionResetError:
                    pass
                open_.discard(sock)
        assert not open_, f"{len(open_)} of {SLOWLORIS} slow connections are still open"
    finally:
        for sock in socks:
            sock.close()


def test_a_client_that_goes_away_mid_body_is_not_a_server_error(server: APIServerProcess) -> None:
    with tls_socket(server) as sock:
        sock.sendall(head(server, "POST", "/api/v1/namespaces/default/secrets", 1000) + b'{"kind":')
        time.sleep(0.2)  # let the server start reading the body before the client leaves
    logged = "the client of POST /api/v1/namespaces/default/secrets went away before its answer"
    deadline = time.monotonic() + PATIENCE
    while logged not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert logged in server.log()
    with server.client() as api:
        metrics = api.get("/metrics").text
    assert 'code="499"' in metrics


def test_a_watch_outlives_the_request_timeout(server: APIServerProcess) -> None:
    params = {"watch": "true", "allowWatchBookmarks": "true", "timeoutSeconds": "30"}
    started = time.monotonic()
    with (
        server.client(timeout=PATIENCE) as api,
        api.stream("GET", "/api/v1/namespaces/default/configmaps", params=params) as stream,
    ):
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line and time.monotonic() - started > 2 * REQUEST_TIMEOUT:
                assert json.loads(line)["type"] in ("BOOKMARK", "ADDED")
                break


@pytest.mark.parametrize(
    ("method", "path", "query", "long_running"),
    [
        ("GET", "/api/v1/namespaces/web/pods", "watch=true", True),
        ("GET", "/api/v1/namespaces/web/pods", "watch=1&watch=", False),  # the last repeat wins
        ("GET", "/api/v1/watch/namespaces/web/pods", "", True),
        ("GET", "/apis/apps/v1/watch/deployments", "", True),
        ("GET", "/api/v1/namespaces/watch/pods", "", False),  # a namespace named watch
        ("GET", "/api/v1/namespaces/web/configmaps/watch/", "", False),
        ("POST", "/api/v1/namespaces/web/pods", "watch=true", False),
        ("DELETE", "/api/v1/watch/namespaces/web/pods", "", False),
        ("GET", "/api/v1/namespaces/web/pods", "", False),
    ],
)
def test_only_a_get_that_watches_escapes_the_timeout(
    method: str, path: str, query: str, long_running: bool
) -> None:
    scope = {"type": "http", "method": method, "path": path, "query_string": query.encode(), "headers": []}
    assert is_long_running(Request(scope)) is long_running


def test_request_timeout_flag() -> None:
    assert duration_flag("60s") == 60.0
    assert duration_flag("1m0s") == 60.0
    assert duration_flag("1m30s") == 90.0
    assert duration_flag("500ms") == 0.5
    assert duration_flag("2") == 2.0
    for bad in ("", "0s", "-1", "5 minutes", "1d"):
        with pytest.raises(argparse.ArgumentTypeError):
            duration_flag(bad)


def test_normal_requests_are_unaffected(server: APIServerProcess) -> None:
    with server.client() as api:
        r = api.post(
            "/api/v1/namespaces/default/configmaps",
            json={
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"generateName": "t-"},
                "data": {"a": "b"},
            },
        )
        assert r.status_code == 201, r.text
        assert (
            api.delete(f"/api/v1/namespaces/default/configmaps/{r.json()['metadata']['name']}").status_code
            == 200
        )


def test_none_of_it_is_a_500_or_a_traceback(server: APIServerProcess) -> None:
    """Runs last in this module (pytest keeps file order): the log and metrics of all the above."""
    with server.client() as api:
        metrics = api.get("/metrics").text
    assert 'code="500"' not in metrics
    assert "Traceback" not in server.log()
    assert " ERROR " not in server.log()
