"""PodTopologySpread: maxSkew with DoNotSchedule (filter) and ScheduleAnyway (score)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler.builders import make_node, make_pod, plugin, reasons, run_filter, run_score, snapshot

ZONE = "zone"
NODES = [
    make_node("n1", labels={ZONE: "a"}),
    make_node("n2", labels={ZONE: "a"}),
    make_node("n3", labels={ZONE: "b"}),
    make_node("n4"),  # no zone label
]
SKEW = ("node(s) didn't match pod topology spread constraints",)
MISSING = ("node(s) didn't match pod topology spread constraints (missing required label)",)


def web(name: str, node: str, **extra: Any) -> dict[str, Any]:
    return make_pod(name, labels={"app": "web"}, node_name=node, **extra)


def spread(
    when: str = "DoNotSchedule", max_skew: int = 1, key: str = ZONE, **extra: Any
) -> list[dict[str, Any]]:
    return [
        {
            "maxSkew": max_skew,
            "topologyKey": key,
            "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}},
            **extra,
        }
    ]


@pytest.mark.parametrize(
    ("name", "placed", "pod", "want"),
    [
        (
            "skew would exceed maxSkew in the fuller zone",
            [web("w1", "n1"), web("w2", "n2")],
            make_pod(labels={"app": "web"}, topologySpreadConstraints=spread()),
            {"n1": SKEW, "n2": SKEW, "n3": None, "n4": MISSING},
        ),
        (
            "maxSkew 2 allows it",
            [web("w1", "n1")],
            make_pod(labels={"app": "web"}, topologySpreadConstraints=spread(max_skew=2)),
            {"n1": None, "n2": None, "n3": None, "n4": MISSING},
        ),
        (
            "a pod that does not match its own selector adds nothing",
            [web("w1", "n1")],
            make_pod(labels={"app": "other"}, topologySpreadConstraints=spread()),
            {"n1": None, "n2": None, "n3": None, "n4": MISSING},
        ),
        (
            "minDomains: too few domains means a global minimum of 0",
            [web("w1", "n1"), web("w2", "n3")],
            make_pod(labels={"app": "web"}, topologySpreadConstraints=spread(minDomains=3)),
            {"n1": SKEW, "n2": SKEW, "n3": SKEW, "n4": MISSING},
        ),
        (
            "terminating pods and other namespaces are not counted",
            [
                web("w1", "n1"),
                make_pod("gone", labels={"app": "web"}, node_name="n2"),
                make_pod("elsewhere", namespace="other", labels={"app": "web"}, node_name="n2"),
            ],
            make_pod(labels={"app": "web"}, topologySpreadConstraints=spread()),
            {"n1": SKEW, "n2": SKEW, "n3": None, "n4": MISSING},
        ),
        (
            "nodeAffinityPolicy Honor: only eligible nodes count",
            [web("w1", "n1"), web("w2", "n2")],
            make_pod(labels={"app": "web"}, nodeSelector={ZONE: "a"}, topologySpreadConstraints=spread()),
            {"n1": None, "n2": None, "n3": None, "n4": MISSING},
        ),
        (
            "nodeAffinityPolicy Ignore: every node counts",
            [web("w1", "n1"), web("w2", "n2")],
            make_pod(
                labels={"app": "web"},
                nodeSelector={ZONE: "a"},
                topologySpreadConstraints=spread(nodeAffinityPolicy="Ignore"),
            ),
            {"n1": SKEW, "n2": SKEW, "n3": None, "n4": MISSING},
        ),
        (
            "matchLabelKeys narrows the selector to the pod's own revision",
            [
                make_pod("old", labels={"app": "web", "rev": "1"}, node_name="n1"),
                make_pod("old2", labels={"app": "web", "rev": "1"}, node_name="n2"),
            ],
            make_pod(
                labels={"app": "web", "rev": "2"}, topologySpreadConstraints=spread(matchLabelKeys=["rev"])
            ),
            {"n1": None, "n2": None, "n3": None, "n4": MISSING},
        ),
    ],
)
def test_filter(name: str, placed: list[dict[str, Any]], pod: dict[str, Any], want: dict[str, Any]) -> None:
    if name.startswith("terminating"):
        placed[1]["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    snap = snapshot(NODES, placed)
    got = run_filter(plugin("PodTopologySpread", snap), pod, snap)
    assert reasons(got) == want, name
    assert got["n4"] is not None and got["n4"].code.name == "UNSCHEDULABLE_AND_UNRESOLVABLE"


def test_filter_skips_pods_without_constraints() -> None:
    snap = snapshot(NODES)
    assert set(reasons(run_filter(plugin("PodTopologySpread", snap), make_pod(), snap)).values()) == {None}


def test_score_prefers_the_emptier_domain() -> None:
    snap = snapshot(NODES, [web("w1", "n1"), web("w2", "n2")])
    pod = make_pod(labels={"app": "web"}, topologySpreadConstraints=spread("ScheduleAnyway"))
    # zone a holds 2, zone b none; n4 lacks the label and is ignored (0)
    assert run_score(plugin("PodTopologySpread", snap), pod, snap) == {"n1": 0, "n2": 0, "n3": 100, "n4": 0}


def test_score_by_hostname_counts_per_node() -> None:
    snap = snapshot(NODES, [web("w1", "n1"), web("w2", "n1"), web("w3", "n2")])
    pod = make_pod(
        labels={"app": "web"},
        topologySpreadConstraints=spread("ScheduleAnyway", key="kubernetes.io/hostname"),
    )
    scores = run_score(plugin("PodTopologySpread", snap), pod, snap)
    assert scores["n3"] == scores["n4"] == 100 and scores["n1"] < scores["n2"] < 100


def test_default_constraints_are_refused() -> None:
    with pytest.raises(ValueError, match="defaultConstraints"):
        plugin("PodTopologySpread", snapshot([]), {"defaultingType": "List", "defaultConstraints": spread()})
