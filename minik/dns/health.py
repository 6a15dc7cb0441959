"""A tiny HTTP endpoint for probes and scrapes: ``/healthz``, ``/readyz``, ``/metrics``.

* ``/healthz`` — the process is alive and its event loop answers (liveness).
* ``/readyz`` — the record index has been filled from the API server, so
  answers are complete (readiness). Before that, a pod resolving a Service
  could get a wrong NXDOMAIN; a load balancer should wait.
* ``/metrics`` — Prometheus text (:mod:`minik.dns.metrics`).

Three GET routes do not deserve a web framework: this reads one request line
and its headers with asyncio streams, answers, and closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


class StatusServer:
    def __init__(self, *, metrics: Callable[[], str], ready: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._ready = ready
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("minik-dns status on http://%s:%d (/healthz /readyz /metrics)", host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def route(self, method: str, path: str) -> tuple[int, str, str]:
        """``(status, content type, body)`` for one request."""
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", "only GET\n"
        if path == "/healthz":
            return 200, "text/plain", "ok\n"
        if path == "/readyz":
            return (200, "text/plain", "ok\n") if self._ready() else (503, "text/plain", "index not synced\n")
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4; charset=utf-8", self._metrics()
        return 404, "text/plain", "not found: try /healthz, /readyz or /metrics\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()).strip():  # headers: not needed
                    pass
            method, path = [*request_line, "", ""][:2]
            status, content_type, body = self.route(method, path)
            payload = body.encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (b"" if method == "HEAD" else payload))
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
