"""minik.cli.inspect: namespace ids from /proc and the iptables lines that implement a Service.

(tests/cli/test_info.py runs ``inspect pod|service`` against the API server without a node.)
"""

from __future__ import annotations

import os
import subprocess

from minik.cli.inspect import NAMESPACES, iptables_lines, namespace_ids
from minik.proxy.iptables import sep_chain, svc_chain
from minik.proxy.model import ServicePortName


def test_namespace_ids_of_this_process() -> None:
    ids = namespace_ids(os.getpid())
    assert set(ids) == set(NAMESPACES)
    for ns, value in ids.items():
        assert value.isdigit()
        assert os.readlink(f"/proc/self/ns/{ns}") == f"{ns}:[{value}]"


def test_a_child_shares_its_parents_namespaces() -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert namespace_ids(child.pid) == namespace_ids(os.getpid())
    finally:
        child.kill()
        child.wait(5)


def test_an_unreadable_process_is_marked() -> None:
    child = subprocess.Popen(["true"])
    child.wait(5)  # reaped: the pid names no process any more
    assert namespace_ids(child.pid) == dict.fromkeys(NAMESPACES, "?")


def test_every_port_of_a_service_and_only_its_endpoints() -> None:
    http = ServicePortName("shop", "web", "http", "TCP")
    metrics = ServicePortName("shop", "web", "metrics", "TCP")
    other = ServicePortName("shop", "db", "", "TCP")
    sep_http, sep_metrics, sep_other = (
        sep_chain(http, "10.244.0.5:80"),
        sep_chain(metrics, "10.244.0.5:9090"),
        sep_chain(other, "10.244.0.9:5432"),
    )
    dump = "\n".join(
        [
            "*nat",
            f":{svc_chain(http)} - [0:0]",
            f":{svc_chain(metrics)} - [0:0]",
            f":{svc_chain(other)} - [0:0]",
            f"-A {svc_chain(http)} -j {sep_http}",
            f"-A {svc_chain(metrics)} -j {sep_metrics}",
            f"-A {svc_chain(other)} -j {sep_other}",
            f"-A {sep_http} -p tcp -j DNAT --to-destination 10.244.0.5:80",
            f"-A {sep_other} -p tcp -j DNAT --to-destination 10.244.0.9:5432",
            "COMMIT",
        ]
    )
    service = {
        "metadata": {"namespace": "shop", "name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]},
    }
    lines = iptables_lines(service, dump)
    assert lines == [
        f":{svc_chain(http)} - [0:0]",
        f":{svc_chain(metrics)} - [0:0]",
        f"-A {svc_chain(http)} -j {sep_http}",
        f"-A {svc_chain(metrics)} -j {sep_metrics}",
        f"-A {sep_http} -p tcp -j DNAT --to-destination 10.244.0.5:80",
    ]
