"""minik-proxy's metrics in Prometheus text format (served by :mod:`minik.client.statusserver`).

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

import math
from collections.abc import Callable, Sequence

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
