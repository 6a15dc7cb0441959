"""The small HTTP endpoint every component serves: ``/healthz``, ``/readyz``, ``/metrics``.

Kubernetes components each expose the same three things on a plain-HTTP port, and so do
minik's scheduler, controller-manager, kube-proxy and DNS:

* ``/healthz`` (and ``/livez``) — the process is alive and its event loop answers: what a
  liveness probe or a supervisor checks;
* ``/readyz`` — the component can do its job (its caches are filled from the API server):
  what a readiness probe or a load balancer waits for;
* ``/metrics`` — Prometheus text exposition (version 0.0.4).

A handful of GET routes do not deserve a web framework: :class:`StatusServer` reads one
request line and its headers with asyncio streams, answers from a table of routes, and
closes the connection. Each component decides what its routes say
(:meth:`StatusServer.standard` covers the common case).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

#: ``(status code, content type, body)`` of one answer.
Answer = tuple[int, str, str]
#: A route computes its answer when asked (metrics are rendered per scrape).
Route = Callable[[], Answer]

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def ok(body: str = "ok\n") -> Answer:
    return 200, "text/plain", body


class StatusServer:
    """Serves ``routes`` (path → :data:`Route`) over HTTP/1.1, one request per connection."""

    def __init__(self, routes: Mapping[str, Route], *, component: str = "minik") -> None:
        self.routes = dict(routes)
        self.component = component
        self._server: asyncio.Server | None = None
        self.port = 0

    @classmethod
    def standard(
        cls,
        *,
        component: str,
        metrics: Callable[[], str] | None = None,
        ready: Callable[[], bool] | None = None,
        not_ready: str = "not ready",
    ) -> StatusServer:
        """``/healthz`` + ``/livez`` always ok; ``/readyz`` from ``ready``; ``/metrics`` from ``metrics``."""
        routes: dict[str, Route] = {"/healthz": ok, "/livez": ok}
        is_ready = ready or (lambda: True)
        routes["/readyz"] = lambda: ok() if is_ready() else (503, "text/plain", f"{not_ready}\n")
        if metrics is not None:
            render = metrics
            routes["/metrics"] = lambda: (200, PROMETHEUS_TEXT, render())
        return cls(routes, component=component)

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0: any free port, then read :attr:`port`)."""
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info(
            "%s status on http://%s:%d (%s)", self.component, host, self.port, " ".join(sorted(self.routes))
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def route(self, method: str, path: str) -> Answer:
        """The answer to one request (the query string is ignored)."""
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", "only GET\n"
        route = self.routes.get(path)
        if route is None:
            return 404, "text/plain", f"not found: try {', '.join(sorted(self.routes))}\n"
        return route()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()).strip():
                    pass  # headers: nothing in them changes the answer
            method, path = [*request_line, "", ""][:2]
            status, content_type, body = self.route(method, path)
            payload = body.encode()
            head = (
                f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}\r\nContent-Type: {content_type}\r\n"
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
