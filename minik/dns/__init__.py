"""minik-dns: cluster DNS, by the Kubernetes DNS-based service discovery specification.

Every Service gets a name, ``<svc>.<ns>.svc.cluster.local``; pods find each
other through it instead of through IP addresses that change whenever a pod is
replaced. This package is that DNS server, one concept per module, read in
this order:

==============  ===============================================================
``names``       canonical spelling of names; IP ↔ reverse / dashed names
``rr``          record types (A, AAAA, CNAME, PTR, SRV, TXT, SOA)
``schema``      the specification: a Service + its EndpointSlices → records
``records``     :class:`RecordIndex`: all records, kept in step with the API
``resolver``    a question → an answer: NXDOMAIN vs NODATA, CNAME chasing, SOA
``wire``        the DNS message format: parse queries, encode answers, EDNS0, TC
``handler``     query bytes → answer bytes, with the encoded-answer cache
``server``      asyncio UDP + TCP on one port
``upstream``    forwarding outside names — only with ``--upstream``
``metrics``     Prometheus counters and the latency histogram
``watch``       informers on Services, EndpointSlices, Namespaces → the index
``main``        the ``minik-dns`` process: flags, start-up, shutdown, and
                ``/healthz``, ``/readyz``, ``/metrics`` over HTTP (served by
                :class:`minik.client.statusserver.StatusServer`)
==============  ===============================================================
"""

from minik.dns.records import RecordIndex
from minik.dns.resolver import Answer, Rcode, Resolver

__all__ = ["Answer", "Rcode", "RecordIndex", "Resolver"]
