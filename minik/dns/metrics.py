"""Counters and a latency histogram for minik-dns, in the Prometheus text format.

What an operator of cluster DNS wants to see, the same things CoreDNS exports:

* ``minik_dns_queries_total{proto, type, rcode}`` — how many questions of each
  type, over UDP or TCP, ended with which response code. A rise of NXDOMAIN is
  usually pods walking their search path (``ndots:5``); a rise of REFUSED is
  someone resolving external names without an upstream; SERVFAIL means trouble.
* ``minik_dns_request_duration_seconds`` — a histogram of the time from
  receiving a query to having its answer, i.e. the server's own work.
* cache hits and misses, and the size of the record index.

Recording is a dict increment and a bisect: it runs on every query, so it is
kept far below the cost of the query itself. No client library is needed for
this little text format (see the exposition format documentation of
Prometheus).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

#: Histogram bucket upper bounds, in seconds. DNS answers from memory take tens of µs.
BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

#: (proto, query type, rcode) as label values.
QueryKey = tuple[str, str, str]


class DNSMetrics:
    def __init__(self) -> None:
        self.queries: dict[QueryKey, int] = {}
        self.cache_hits = 0
        self.cache_misses = 0
        self.forwarded = 0
        self._buckets = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0
        self._count = 0
        #: name → (help, function) for gauges computed when scraped.
        self.gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def observe(self, key: QueryKey, seconds: float) -> None:
        """Count one answered query and its duration."""
        queries = self.queries
        queries[key] = queries.get(key, 0) + 1
        self._buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
        self._sum += seconds
        self._count += 1

    @property
    def total(self) -> int:
        return self._count

    def render(self) -> str:
        lines = [
            "# HELP minik_dns_queries_total DNS queries answered, by transport, query type and response code.",
            "# TYPE minik_dns_queries_total counter",
        ]
        for (proto, qtype, rcode), n in sorted(self.queries.items()):
            lines.append(f'minik_dns_queries_total{{proto="{proto}",type="{qtype}",rcode="{rcode}"}} {n}')
        lines += [
            "# HELP minik_dns_request_duration_seconds Time from receiving a query to having its answer.",
            "# TYPE minik_dns_request_duration_seconds histogram",
        ]
        cumulative = 0
        for bound, n in zip(BUCKETS, self._buckets, strict=False):
            cumulative += n
            lines.append(f'minik_dns_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'minik_dns_request_duration_seconds_bucket{{le="+Inf"}} {self._count}')
        lines.append(f"minik_dns_request_duration_seconds_sum {self._sum:.9f}")
        lines.append(f"minik_dns_request_duration_seconds_count {self._count}")
        for name, help_text, value in (
            (
                "minik_dns_cache_hits_total",
                "Queries answered from the encoded-answer cache.",
                self.cache_hits,
            ),
            (
                "minik_dns_cache_misses_total",
                "Queries that had to be resolved and encoded.",
                self.cache_misses,
            ),
            ("minik_dns_forwarded_total", "Queries sent to the --upstream server.", self.forwarded),
        ):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        for name, (help_text, func) in sorted(self.gauges.items()):
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {func():g}"]
        return "\n".join(lines) + "\n"
