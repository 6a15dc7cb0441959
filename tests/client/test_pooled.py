"""PooledAPIClient's HTTP/1.1 path against a tiny local server (no TLS needed to test the protocol)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from minik.client.errors import APIConnectionError, NotFoundError
from minik.client.kubeconfig import ClientConfig
from minik.client.pooled import PooledAPIClient
from minik.cluster.etcd_process import free_port


class Server:
    """Answers every request; ``close_after`` makes it drop each connection after N answers."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[str, str, bytes]] = []
        self.close_after: int | None = None
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {
                    k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((method, target, body))
                if target.startswith("/missing"):
                    payload = json.dumps(
                        {"kind": "Status", "code": 404, "reason": "NotFound", "message": 'pods "x" not found'}
                    ).encode()
                    writer.write(
                        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
                    )
                elif target.startswith("/chunked"):
                    writer.write(
                        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
                    )
                else:
                    payload = json.dumps(
                        {
                            "method": method,
                            "target": target,
                            "body": body.decode(),
                            "auth": headers.get("authorization"),
                        }
                    ).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                await writer.drain()
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture()
async def server() -> AsyncIterator[Server]:
    s = Server()
    await s.start()
    yield s
    assert s.server is not None
    s.server.close()


def client(port: int, **kwargs: object) -> PooledAPIClient:
    return PooledAPIClient(ClientConfig(server=f"http://127.0.0.1:{port}", token="secret"), **kwargs)  # type: ignore[arg-type]


async def test_requests_reuse_one_connection(server: Server) -> None:
    c = client(server.port)
    try:
        first = await c.request("GET", "/api/v1/pods", params={"limit": "5"})
        second = await c.create_binding({"metadata": {"name": "p", "namespace": "ns", "uid": "u"}}, "n1")
    finally:
        await c.aclose()
    assert first == {"method": "GET", "target": "/api/v1/pods?limit=5", "body": "", "auth": "Bearer secret"}
    assert second["target"] == "/api/v1/namespaces/ns/pods/p/binding"
    binding = json.loads(second["body"])
    assert binding["target"] == {"apiVersion": "v1", "kind": "Node", "name": "n1"}
    assert binding["metadata"]["uid"] == "u"
    assert server.connections == 1


async def test_chunked_answers(server: Server) -> None:
    c = client(server.port)
    try:
        assert await c.request("GET", "/chunked") == {"a": 1}
    finally:
        await c.aclose()


async def test_error_answers_become_typed_exceptions(server: Server) -> None:
    c = client(server.port)
    try:
        with pytest.raises(NotFoundError, match='pods "x" not found'):
            await c.request("GET", "/missing")
    finally:
        await c.aclose()


async def test_a_connection_closed_by_the_server_is_replaced(server: Server) -> None:
    server.close_after = 1
    c = client(server.port)
    try:
        for i in range(3):
            await asyncio.sleep(0.01)
            assert (await c.request("GET", f"/x{i}"))["target"] == f"/x{i}"
    finally:
        await c.aclose()
    assert [t for _, t, _ in server.requests] == ["/x0", "/x1", "/x2"]


async def test_idle_connections_are_not_reused(server: Server) -> None:
    c = client(server.port, idle_timeout=0.0)
    try:
        await c.request("GET", "/a")
        await c.request("GET", "/b")
    finally:
        await c.aclose()
    assert server.connections == 2


async def test_concurrency_is_bounded(server: Server) -> None:
    c = client(server.port, max_connections=3)
    try:
        await asyncio.gather(*(c.request("GET", f"/{i}") for i in range(20)))
    finally:
        await c.aclose()
    assert server.connections <= 3 and len(server.requests) == 20


async def test_refused_connection() -> None:
    c = client(free_port())
    try:
        with pytest.raises(APIConnectionError, match="connect to"):
            await c.request("GET", "/")
    finally:
        await c.aclose()
