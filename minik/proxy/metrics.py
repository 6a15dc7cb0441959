"""``/healthz`` and ``/metrics`` for minik-proxy, in Prometheus text format.

The metric names follow upstream kube-proxy's (``kubeproxy_`` became ``minik_proxy_``):

``minik_proxy_sync_proxy_rules_duration_seconds``          histogram: one sync, render + apply
``minik_proxy_network_programming_duration_seconds``       histogram: from the API event that
                                                           changed a service (or the EndpointSlice's
                                                           ``endpoints.kubernetes.io/last-change-
                                                           trigger-time``) to its rules being in the kernel
``minik_proxy_sync_proxy_rules_last_timestamp_seconds``    gauge: wall time of the last successful sync
``minik_proxy_sync_proxy_rules_last_queued_timestamp_seconds`` gauge: when a change was last queued
``minik_proxy_sync_proxy_rules_total``                     gauge: rules we own (lines, map elements
                                                           or portals, depending on the mode)
``minik_proxy_service_ports``                              gauge: service ports in the model
``minik_proxy_sync_proxy_rules_errors_total``              counter: failed syncs (the next one is full)
``minik_proxy_sync_full_total`` / ``..._partial_total``     counters: syncs by kind

``/healthz`` answers 200 while the proxy is keeping up — its last sync succeeded and no change
has been waiting longer than the healthz timeout — and 503 otherwise, with a JSON body in the
shape upstream uses (``lastUpdated``, ``currentTime``), so a node health check notices a
proxy whose rules have stopped following the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300,
)  # fmt: skip


class Histogram:
    """A cumulative Prometheus histogram."""

    def __init__(self, name: str, help: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.name = name
        self.help = help
        self.buckets = tuple(sorted(buckets))
        self.counts = [0] * len(self.buckets)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for bound, n in zip(self.buckets, self.counts, strict=True):
            out.append(f'{self.name}_bucket{{le="{_num(bound)}"}} {n}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{self.name}_sum {_num(self.sum)}")
        out.append(f"{self.name}_count {self.count}")
        return out


def _num(value: float) -> str:
    if math.isinf(value):
        return "+Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class ProxyMetrics:
    """Everything ``/metrics`` shows; the proxier updates the fields."""

    def __init__(self) -> None:
        self.sync_duration = Histogram(
            "minik_proxy_sync_proxy_rules_duration_seconds", "Duration of one sync of the proxy rules."
        )
        self.programming = Histogram(
            "minik_proxy_network_programming_duration_seconds",
            "From a Service/EndpointSlice change to its rules being programmed.",
        )
        self.last_sync_timestamp = 0.0
        self.last_queued_timestamp = 0.0
        self.errors = 0
        self.full_syncs = 0
        self.partial_syncs = 0
        self.rules: Callable[[], int] = lambda: 0
        self.service_ports: Callable[[], int] = lambda: 0
        self.mode = ""

    def render(self) -> str:
        out = [*self.sync_duration.render(), *self.programming.render()]
        gauges: list[tuple[str, str, str, float]] = [
            ("minik_proxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
             "Wall time of the last successful sync.", self.last_sync_timestamp),
            ("minik_proxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge",
             "Wall time a change was last queued for sync.", self.last_queued_timestamp),
            ("minik_proxy_sync_proxy_rules_total", "gauge", "Rules programmed by this proxy.", self.rules()),
            ("minik_proxy_service_ports", "gauge", "Service ports in the model.", self.service_ports()),
            ("minik_proxy_sync_proxy_rules_errors_total", "counter", "Failed syncs.", self.errors),
            ("minik_proxy_sync_full_total", "counter", "Full syncs.", self.full_syncs),
            ("minik_proxy_sync_partial_total", "counter", "Partial (changed-only) syncs.", self.partial_syncs),
        ]  # fmt: skip
        for name, kind, text, value in gauges:
            out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", f"{name} {_num(value)}"]
        out += [
            "# HELP minik_proxy_mode The proxy mode in use (after any ipvs fallback).",
            "# TYPE minik_proxy_mode gauge",
            f'minik_proxy_mode{{mode="{self.mode}"}} 1',
        ]
        return "\n".join(out) + "\n"


class StatusServer:
    """A tiny HTTP server: ``/healthz`` (``health()`` gives ok + JSON body) and ``/metrics``."""

    def __init__(
        self, *, metrics: Callable[[], str] | None, health: Callable[[], tuple[bool, str]] | None
    ) -> None:
        self._metrics = metrics
        self._health = health
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        what = " ".join(p for p, f in (("/healthz", self._health), ("/metrics", self._metrics)) if f)
        log.info("minik-proxy status on http://%s:%d (%s)", host, self.port, what)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def route(self, method: str, path: str) -> tuple[int, str, str]:
        path = path.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", "only GET\n"
        if path in ("/healthz", "/livez") and self._health is not None:
            ok, body = self._health()
            return (200 if ok else 503), "application/json", body + "\n"
        if path == "/metrics" and self._metrics is not None:
            return 200, "text/plain; version=0.0.4; charset=utf-8", self._metrics()
        return 404, "text/plain", "not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request_line = (await reader.readline()).decode("latin-1").split()
                while (await reader.readline()).strip():
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
