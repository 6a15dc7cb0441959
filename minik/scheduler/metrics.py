"""The scheduler's metrics and its small HTTP endpoint (``/healthz``, ``/readyz``, ``/metrics``).

Metric names follow kube-scheduler's so dashboards carry over:

==============================================  =========  =============================================
``scheduler_schedule_attempts_total``           counter    attempts by ``result`` (scheduled,
                                                           unschedulable, error) and ``profile``
``scheduler_scheduling_attempt_duration_seconds``  histogram  one attempt: cycle start to bind done
``scheduler_e2e_scheduling_duration_seconds``   histogram  end to end: the pod's first attempt until it
                                                           is bound (includes queueing and backoff)
``scheduler_pending_pods``                      gauge      pods per ``queue`` (active, backoff,
                                                           unschedulable)
``scheduler_cache_size``                        gauge      ``type``: nodes, pods, assumed_pods
``scheduler_leader``                            gauge      1 while this instance holds the lease
==============================================  =========  =============================================

No client library: a counter is a dict entry and the text format is a dozen
lines. ``/readyz`` is 200 once the informers have synced; ``/healthz`` 200
while the event loop answers.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Upstream's buckets for scheduling durations: 1 ms doubling to ~16 s.
BUCKETS = tuple(0.001 * 2**i for i in range(15))

Labels = tuple[tuple[str, str], ...]


class Histogram:
    __slots__ = ("buckets", "counts", "sum", "total")

    def __init__(self, buckets: tuple[float, ...] = BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0
        self.total = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.buckets, value)] += 1
        self.sum += value
        self.total += 1

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding quantile ``q`` (for reports)."""
        if not self.total:
            return float("nan")
        target = q * self.total
        running = 0
        for i, count in enumerate(self.counts):
            running += count
            if running >= target:
                return self.buckets[i] if i < len(self.buckets) else float("inf")
        return float("inf")


def _fmt_labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = [*labels, extra] if extra is not None else list(labels)
    if not items:
        return ""
    return "{" + ",".join(f'{k}="{v}"' for k, v in items) + "}"


class SchedulerMetrics:
    def __init__(self) -> None:
        self.attempts: dict[Labels, int] = {}
        self.attempt_duration: dict[Labels, Histogram] = {}
        self.e2e_duration: dict[Labels, Histogram] = {}
        self.gauges: dict[str, Callable[[], dict[Labels, float]]] = {}
        self.leader = 0

    def observe_attempt(self, profile: str, result: str, duration: float) -> None:
        labels = (("profile", profile), ("result", result))
        self.attempts[labels] = self.attempts.get(labels, 0) + 1
        hist = self.attempt_duration.get(labels)
        if hist is None:
            hist = self.attempt_duration[labels] = Histogram()
        hist.observe(duration)

    def observe_e2e(self, profile: str, duration: float) -> None:
        labels = (("profile", profile), ("result", "scheduled"))
        hist = self.e2e_duration.get(labels)
        if hist is None:
            hist = self.e2e_duration[labels] = Histogram()
        hist.observe(duration)

    def count(self, result: str) -> int:
        return sum(n for labels, n in self.attempts.items() if ("result", result) in labels)

    def render(self) -> str:
        out: list[str] = [
            "# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by result.",
            "# TYPE scheduler_schedule_attempts_total counter",
        ]
        for labels, n in sorted(self.attempts.items()):
            out.append(f"scheduler_schedule_attempts_total{_fmt_labels(labels)} {n}")
        for name, help_text, hists in (
            (
                "scheduler_scheduling_attempt_duration_seconds",
                "Scheduling attempt latency (scheduling algorithm + binding).",
                self.attempt_duration,
            ),
            (
                "scheduler_e2e_scheduling_duration_seconds",
                "From a pod's first scheduling attempt until it is bound.",
                self.e2e_duration,
            ),
        ):
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} histogram")
            for labels, hist in sorted(hists.items()):
                running = 0
                for bound, count in zip((*hist.buckets, float("inf")), hist.counts, strict=True):
                    running += count
                    le = "+Inf" if bound == float("inf") else f"{bound:g}"
                    out.append(f"{name}_bucket{_fmt_labels(labels, ('le', le))} {running}")
                out.append(f"{name}_sum{_fmt_labels(labels)} {hist.sum:.6f}")
                out.append(f"{name}_count{_fmt_labels(labels)} {hist.total}")
        for name, collect in sorted(self.gauges.items()):
            out.append(f"# TYPE {name} gauge")
            for labels, value in sorted(collect().items()):
                out.append(f"{name}{_fmt_labels(labels)} {value:g}")
        out.append("# TYPE scheduler_leader gauge")
        out.append(f"scheduler_leader {self.leader}")
        return "\n".join(out) + "\n"
