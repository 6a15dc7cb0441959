"""NodeUnschedulable (cordon), NodeName and NodePorts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler.builders import container, make_node, make_pod, plugin, reasons, run_filter, snapshot


def test_cordoned_node_is_avoided() -> None:
    snap = snapshot([make_node("ok"), make_node("cordoned", unschedulable=True)])
    got = run_filter(plugin("NodeUnschedulable", snap), make_pod(), snap)
    assert reasons(got) == {"ok": None, "cordoned": ("node(s) were unschedulable",)}
    assert got["cordoned"] is not None and got["cordoned"].code.name == "UNSCHEDULABLE_AND_UNRESOLVABLE"


@pytest.mark.parametrize(
    "toleration",
    [
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
        {"operator": "Exists"},
    ],
)
def test_cordon_is_tolerable(toleration: dict[str, str]) -> None:
    snap = snapshot([make_node("cordoned", unschedulable=True)])
    got = run_filter(plugin("NodeUnschedulable", snap), make_pod(tolerations=[toleration]), snap)
    assert reasons(got) == {"cordoned": None}


def test_node_name() -> None:
    snap = snapshot([make_node("n1"), make_node("n2")])
    pod = make_pod(node_name="n2")
    assert reasons(run_filter(plugin("NodeName", snap), pod, snap)) == {
        "n1": ("node(s) didn't match the requested node name",),
        "n2": None,
    }
    assert reasons(run_filter(plugin("NodeName", snap), make_pod(), snap)) == {"n1": None, "n2": None}


def ports(*specs: dict[str, Any]) -> list[dict[str, Any]]:
    return [container(ports=list(specs))]


TAKEN = "node(s) didn't have free ports for the requested pod ports"


@pytest.mark.parametrize(
    ("name", "existing", "wanted", "want"),
    [
        ("free", [{"containerPort": 80, "hostPort": 8080}], [{"containerPort": 80, "hostPort": 8081}], None),
        (
            "same port",
            [{"containerPort": 80, "hostPort": 8080}],
            [{"containerPort": 81, "hostPort": 8080}],
            (TAKEN,),
        ),
        (
            "other protocol",
            [{"containerPort": 53, "hostPort": 53}],
            [{"containerPort": 53, "hostPort": 53, "protocol": "UDP"}],
            None,
        ),
        (
            "different host IPs",
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}],
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}],
            None,
        ),
        (
            "0.0.0.0 against a specific IP",
            [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}],
            [{"containerPort": 80, "hostPort": 80}],
            (TAKEN,),
        ),
        ("container ports alone never conflict", [{"containerPort": 80}], [{"containerPort": 80}], None),
    ],
)
def test_node_ports(name: str, existing: list[Any], wanted: list[Any], want: Any) -> None:
    snap = snapshot([make_node("n1")], [make_pod("old", node_name="n1", containers=ports(*existing))])
    got = run_filter(plugin("NodePorts", snap), make_pod(containers=ports(*wanted)), snap)
    assert reasons(got) == {"n1": want}, name
