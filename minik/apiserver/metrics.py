"""Prometheus metrics: request counts and latencies by verb, resource and code."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minik.apiserver.watchcache import WatchCache

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * (len(_BUCKETS) + 1))
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        verb = verb.lower()
        self.requests[(verb, resource, code)] += 1
        counts = self.latency[(verb, resource)]
        for i, bound in enumerate(_BUCKETS):
            if seconds <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        self.latency_sum[(verb, resource)] += seconds

    def render(self, cache: WatchCache | None = None) -> str:
        lines = [
            "# HELP apiserver_request_total Requests by verb, resource and HTTP code.",
            "# TYPE apiserver_request_total counter",
        ]
        for (verb, resource, code), n in sorted(self.requests.items()):
            lines.append(f'apiserver_request_total{{verb="{verb}",resource="{resource}",code="{code}"}} {n}')
        lines += [
            "# HELP apiserver_request_duration_seconds Request latency.",
            "# TYPE apiserver_request_duration_seconds histogram",
        ]
        for (verb, resource), counts in sorted(self.latency.items()):
            cumulative = 0
            labels = f'verb="{verb}",resource="{resource}"'
            for bound, n in zip(_BUCKETS, counts, strict=False):
                cumulative += n
                lines.append(
                    f'apiserver_request_duration_seconds_bucket{{{labels},le="{bound}"}} {cumulative}'
                )
            cumulative += counts[-1]
            lines.append(f'apiserver_request_duration_seconds_bucket{{{labels},le="+Inf"}} {cumulative}')
            lines.append(
                f"apiserver_request_duration_seconds_sum{{{labels}}} {self.latency_sum[(verb, resource)]:.6f}"
            )
            lines.append(f"apiserver_request_duration_seconds_count{{{labels}}} {cumulative}")
        if cache is not None:
            lines += [
                "# HELP apiserver_storage_objects Objects in the watch cache by resource.",
                "# TYPE apiserver_storage_objects gauge",
            ]
            for plural, c in sorted(cache.caches.items()):
                lines.append(f'apiserver_storage_objects{{resource="{plural}"}} {len(c.objects)}')
            lines += [
                "# HELP apiserver_watch_cache_revision The etcd revision the watch cache has applied.",
                "# TYPE apiserver_watch_cache_revision gauge",
                f"apiserver_watch_cache_revision {cache.rev}",
                "# HELP apiserver_registered_watchers Open watches by resource.",
                "# TYPE apiserver_registered_watchers gauge",
            ]
            for plural, c in sorted(cache.caches.items()):
                lines.append(f'apiserver_registered_watchers{{resource="{plural}"}} {len(c.watchers)}')
            lines += [
                "# HELP apiserver_terminated_watchers_total Watches closed because their client fell behind.",
                "# TYPE apiserver_terminated_watchers_total counter",
            ]
            for plural, c in sorted(cache.caches.items()):
                lines.append(f'apiserver_terminated_watchers_total{{resource="{plural}"}} {c.closed_slow}')
        return "\n".join(lines) + "\n"
