"""NodeResourcesFit (filter, LeastAllocated/MostAllocated/RequestedToCapacityRatio) and BalancedAllocation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler.builders import (
    container,
    make_node,
    make_pod,
    plugin,
    reasons,
    run_filter,
    run_score,
    snapshot,
)

BUSY = make_pod("busy", cpu="3500m", memory="1Gi", node_name="n1")


@pytest.mark.parametrize(
    ("name", "pod", "node", "placed", "want"),
    [
        ("fits on an empty node", make_pod(cpu="1", memory="1Gi"), make_node("n1"), [], None),
        ("insufficient cpu", make_pod(cpu="1"), make_node("n1"), [BUSY], ("Insufficient cpu",)),
        (
            "every shortfall is a reason",
            make_pod(cpu="1", memory="8Gi"),
            make_node("n1"),
            [BUSY],
            ("Insufficient cpu", "Insufficient memory"),
        ),
        ("zero-request pod fits a full node", make_pod(), make_node("n1"), [BUSY], None),
        (
            "zero-request pod still needs a pod slot",
            make_pod(),
            make_node("n1", pods="1"),
            [BUSY],
            ("Too many pods",),
        ),
        (
            "init container larger than the node",
            make_pod(containers=[container(cpu="100m")], init_containers=[container("init", cpu="5")]),
            make_node("n1"),
            [],
            ("Insufficient cpu",),
        ),
        (
            "init container within the node",
            make_pod(containers=[container(cpu="100m")], init_containers=[container("init", cpu="3")]),
            make_node("n1"),
            [],
            None,
        ),
        (
            "overhead counts",
            make_pod(cpu="450m", overhead={"cpu": "100m"}),
            make_node("n1"),
            [BUSY],
            ("Insufficient cpu",),
        ),
        (
            "ephemeral storage",
            make_pod(containers=[container(requests={"ephemeral-storage": "2Gi"})]),
            make_node("n1", ephemeral="1Gi"),
            [],
            ("Insufficient ephemeral-storage",),
        ),
        (
            "extended resource the node lacks",
            make_pod(containers=[container(requests={"example.com/gpu": "1"})]),
            make_node("n1"),
            [],
            ("Insufficient example.com/gpu",),
        ),
        (
            "extended resource the node has",
            make_pod(containers=[container(requests={"example.com/gpu": "1"})]),
            make_node("n1", extra={"example.com/gpu": "2"}),
            [],
            None,
        ),
    ],
)
def test_fit_filter(
    name: str, pod: dict[str, Any], node: dict[str, Any], placed: list[Any], want: Any
) -> None:
    snap = snapshot([node], placed)
    got = reasons(run_filter(plugin("NodeResourcesFit", snap), pod, snap))
    assert got == {"n1": want}, name


def test_fit_rejection_is_resolvable() -> None:
    snap = snapshot([make_node("n1")], [BUSY])
    status = run_filter(plugin("NodeResourcesFit", snap), make_pod(cpu="1"), snap)["n1"]
    assert status is not None and status.code.name == "UNSCHEDULABLE"


@pytest.mark.parametrize(
    "args",
    [{"ignoredResources": ["example.com/gpu"]}, {"ignoredResourceGroups": ["example.com"]}],
)
def test_fit_ignored_extended_resources(args: dict[str, Any]) -> None:
    snap = snapshot([make_node("n1")])
    pod = make_pod(containers=[container(requests={"example.com/gpu": "1"})])
    assert reasons(run_filter(plugin("NodeResourcesFit", snap, args), pod, snap)) == {"n1": None}


TWO_NODES = [make_node("a", cpu="4", memory="8Gi"), make_node("b", cpu="4", memory="8Gi")]
ON_B = [make_pod("x", cpu="2", memory="2Gi", node_name="b")]


@pytest.mark.parametrize(
    ("name", "strategy", "pod", "want"),
    [
        ("least allocated", {"type": "LeastAllocated"}, make_pod(cpu="1", memory="2Gi"), {"a": 75, "b": 37}),
        ("most allocated", {"type": "MostAllocated"}, make_pod(cpu="1", memory="2Gi"), {"a": 25, "b": 62}),
        (
            "resource weights",
            {
                "type": "LeastAllocated",
                "resources": [{"name": "cpu", "weight": 2}, {"name": "memory", "weight": 1}],
            },
            make_pod(cpu="1", memory="2Gi"),
            {"a": 75, "b": 33},
        ),
        (
            "zero requests score as 100m/200Mi",
            {"type": "LeastAllocated"},
            make_pod(),
            {"a": 97, "b": 59},
        ),
        (
            "most allocated caps at capacity",
            {"type": "MostAllocated"},
            make_pod(cpu="8", memory="16Gi"),
            {"a": 100, "b": 100},
        ),
        (
            "requested to capacity ratio (bin packing shape)",
            {
                "type": "RequestedToCapacityRatio",
                "requestedToCapacityRatio": {
                    "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                },
            },
            make_pod(cpu="1", memory="2Gi"),
            {"a": 25, "b": 63},  # (75 + 50) / 2 rounded half away from zero
        ),
    ],
)
def test_fit_score(name: str, strategy: dict[str, Any], pod: dict[str, Any], want: dict[str, int]) -> None:
    snap = snapshot(TWO_NODES, ON_B)
    fit = plugin("NodeResourcesFit", snap, {"scoringStrategy": strategy})
    assert run_score(fit, pod, snap) == want, name


def test_fit_rejects_unknown_strategy() -> None:
    with pytest.raises(ValueError, match=r"scoringStrategy\.type"):
        plugin("NodeResourcesFit", snapshot([]), {"scoringStrategy": {"type": "Random"}})


@pytest.mark.parametrize(
    ("name", "pod", "want"),
    [
        ("equal fractions score 100", make_pod(cpu="1", memory="2Gi"), {"a": 100, "b": 87}),
        ("fractions are capped at 1", make_pod(cpu="8", memory="2Gi"), {"a": 62, "b": 75}),
    ],
)
def test_balanced_allocation(name: str, pod: dict[str, Any], want: dict[str, int]) -> None:
    snap = snapshot(TWO_NODES, ON_B)
    assert run_score(plugin("NodeResourcesBalancedAllocation", snap), pod, snap) == want, name


def test_balanced_allocation_skips_best_effort_pods() -> None:
    snap = snapshot(TWO_NODES, ON_B)
    assert run_score(plugin("NodeResourcesBalancedAllocation", snap), make_pod(), snap) == {}
