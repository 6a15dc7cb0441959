"""plan_traffic: the traffic-policy decisions every rule-writing mode shares, as a table.

Each row is one service port — its policies and where its endpoints are — and the plan the
iptables and nftables renderers must both spell.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from minik.proxy.model import (
    EndpointInfo,
    ExternalStep,
    ServicePortInfo,
    ServicePortName,
    TrafficPlan,
    plan_traffic,
)

HERE = EndpointInfo("10.244.0.5", 8080, node_name="node-a", is_local=True)
THERE = EndpointInfo("10.244.1.5", 8080, node_name="node-b", is_local=False)
DRAINING_HERE = EndpointInfo(
    "10.244.0.6", 8080, ready=False, serving=True, terminating=True, node_name="node-a", is_local=True
)
DEAD = EndpointInfo("10.244.1.7", 8080, ready=False, serving=False, node_name="node-b")
CIDR = "10.244.0.0/16"

MASQ, PODS, MASQ_NODE, NODE, POLICY = (
    ExternalStep.MASQUERADE_ALL,
    ExternalStep.PODS_TO_CLUSTER,
    ExternalStep.MASQUERADE_NODE,
    ExternalStep.NODE_TO_CLUSTER,
    ExternalStep.TO_POLICY,
)


def port(
    *endpoints: EndpointInfo,
    node_port: int = 0,
    lb: tuple[str, ...] = (),
    ranges: tuple[str, ...] = (),
    internal_local: bool = False,
    external_local: bool = False,
) -> ServicePortInfo:
    return ServicePortInfo(
        name=ServicePortName("default", "web", "http"),
        cluster_ip="10.96.0.50",
        port=80,
        node_port=node_port,
        load_balancer_ips=lb,
        load_balancer_source_ranges=ranges,
        internal_policy_local=internal_local,
        external_policy_local=external_local,
        endpoints=endpoints,
    )


@dataclass(frozen=True)
class Want:
    internal: str | None
    external: str | None
    no_endpoints: str
    steps: tuple[ExternalStep, ...] = ()
    firewall: bool = False
    cluster: tuple[EndpointInfo, ...] = ()
    local: tuple[EndpointInfo, ...] = ()


CASES = [
    # ClusterIP only: both sets are the cluster-wide one; no external chain.
    ("cluster ip", port(HERE, THERE), Want("cluster", "cluster", "drop", cluster=(HERE, THERE))),
    ("no endpoints: reject", port(), Want(None, None, "reject")),
    ("only dead endpoints: reject", port(DEAD), Want(None, None, "reject")),
    (
        "the last replica drains",
        port(DRAINING_HERE, DEAD),
        Want("cluster", "cluster", "drop", cluster=(DRAINING_HERE,)),
    ),
    (
        "internal Local, endpoints only elsewhere: drop, not reject",
        port(THERE, internal_local=True),
        Want(None, "cluster", "drop"),
    ),
    (
        "internal Local with a local endpoint",
        port(HERE, THERE, internal_local=True),
        Want("local", "cluster", "drop", local=(HERE,)),
    ),
    # NodePort, external Cluster: everything is masqueraded, then the cluster-wide set.
    (
        "node port, Cluster policy",
        port(HERE, THERE, node_port=30080),
        Want("cluster", "cluster", "drop", (MASQ, POLICY), cluster=(HERE, THERE)),
    ),
    (
        "node port without endpoints: no external chain",
        port(node_port=30080),
        Want(None, None, "reject"),
    ),
    # NodePort, external Local: client address kept; pods and the node go cluster-wide.
    (
        "node port, Local policy",
        port(HERE, THERE, node_port=30080, external_local=True),
        Want(
            "cluster", "local", "drop", (PODS, MASQ_NODE, NODE, POLICY), cluster=(HERE, THERE), local=(HERE,)
        ),
    ),
    (
        "node port, Local policy, no local endpoint: external traffic dropped",
        port(THERE, node_port=30080, external_local=True),
        Want("cluster", None, "drop", (PODS, MASQ_NODE, NODE), cluster=(THERE,)),
    ),
    (
        "internal Local without local endpoints on a node port: the cluster set stays for pods",
        port(THERE, node_port=30080, internal_local=True),
        Want(None, "cluster", "drop", (MASQ, POLICY), cluster=(THERE,)),
    ),
    # LoadBalancer source ranges: a firewall, only when something is behind it.
    (
        "load balancer with source ranges",
        port(HERE, node_port=30080, lb=("198.51.100.1",), ranges=("1.2.3.0/24",)),
        Want("cluster", "cluster", "drop", (MASQ, POLICY), firewall=True, cluster=(HERE,)),
    ),
    (
        "load balancer with source ranges, no endpoints",
        port(node_port=30080, lb=("198.51.100.1",), ranges=("1.2.3.0/24",)),
        Want(None, None, "reject"),
    ),
    (
        "load balancer without source ranges",
        port(HERE, lb=("198.51.100.1",)),
        Want("cluster", "cluster", "drop", (MASQ, POLICY), cluster=(HERE,)),
    ),
]


@pytest.mark.parametrize(("info", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(info: ServicePortInfo, want: Want) -> None:
    plan = plan_traffic(info, cluster_cidr=CIDR)
    got = Want(
        plan.internal,
        plan.external,
        plan.no_endpoints,
        plan.external_steps,
        plan.firewall,
        plan.cluster,
        plan.local,
    )
    assert got == want


def test_without_a_pod_cidr_pods_are_not_told_apart() -> None:
    plan = plan_traffic(port(HERE, node_port=30080, external_local=True), cluster_cidr=None)
    assert plan.external_steps == (MASQ_NODE, NODE, POLICY)


@pytest.mark.parametrize(
    ("cluster_cidr", "masquerade_all", "want"),
    [(None, False, None), (CIDR, False, "off-cluster"), (CIDR, True, "all"), (None, True, "all")],
)
def test_cluster_ip_masquerade(cluster_cidr: str | None, masquerade_all: bool, want: str | None) -> None:
    plan = plan_traffic(port(HERE), cluster_cidr=cluster_cidr, masquerade_all=masquerade_all)
    assert plan.masquerade == want


def test_nothing_to_masquerade_when_cluster_ip_traffic_has_nowhere_to_go() -> None:
    plan: TrafficPlan = plan_traffic(port(THERE, internal_local=True), cluster_cidr=CIDR, masquerade_all=True)
    assert plan.internal is None and plan.masquerade is None
