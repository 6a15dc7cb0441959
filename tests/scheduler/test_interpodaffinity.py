"""InterPodAffinity: required affinity / anti-affinity (both directions), preferred scoring, namespaces."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from tests.scheduler.builders import make_node, make_pod, plugin, reasons, run_filter, run_score, snapshot

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
NODES = [
    make_node("n1", labels={ZONE: "a"}),
    make_node("n2", labels={ZONE: "a"}),
    make_node("n3", labels={ZONE: "b"}),
    make_node("n4"),  # no zone label
]
AFFINITY = ("node(s) didn't match pod affinity rules",)
ANTI = ("node(s) didn't match pod anti-affinity rules",)
EXISTING = ("node(s) didn't satisfy existing pods anti-affinity rules",)


def term(labels: Mapping[str, str], key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": dict(labels)}, "topologyKey": key, **extra}


def required(kind: str, *terms: dict[str, Any]) -> dict[str, Any]:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def db_on(node: str, namespace: str = "default") -> dict[str, Any]:
    return make_pod(f"db-{node}-{namespace}", namespace=namespace, labels={"app": "db"}, node_name=node)


@pytest.mark.parametrize(
    ("name", "placed", "pod", "want"),
    [
        (
            "affinity: same zone as a db pod",
            [db_on("n1")],
            make_pod(labels={"app": "web"}, affinity=required("podAffinity", term({"app": "db"}))),
            {"n1": None, "n2": None, "n3": AFFINITY, "n4": AFFINITY},
        ),
        (
            "affinity: no db pod anywhere",
            [],
            make_pod(labels={"app": "web"}, affinity=required("podAffinity", term({"app": "db"}))),
            {"n1": AFFINITY, "n2": AFFINITY, "n3": AFFINITY, "n4": AFFINITY},
        ),
        (
            "affinity: the first pod of a self-affine group may start it",
            [],
            make_pod(labels={"app": "db"}, affinity=required("podAffinity", term({"app": "db"}))),
            {"n1": None, "n2": None, "n3": None, "n4": AFFINITY},
        ),
        (
            "affinity: pods in other namespaces don't count",
            [db_on("n1", "other")],
            make_pod(labels={"app": "web"}, affinity=required("podAffinity", term({"app": "db"}))),
            {"n1": AFFINITY, "n2": AFFINITY, "n3": AFFINITY, "n4": AFFINITY},
        ),
        (
            "affinity: listed namespaces",
            [db_on("n3", "other")],
            make_pod(
                labels={"app": "web"},
                affinity=required("podAffinity", term({"app": "db"}, namespaces=["other"])),
            ),
            {"n1": AFFINITY, "n2": AFFINITY, "n3": None, "n4": AFFINITY},
        ),
        (
            "affinity: namespaceSelector {} means every namespace",
            [db_on("n3", "other")],
            make_pod(
                labels={"app": "web"},
                affinity=required("podAffinity", term({"app": "db"}, namespaceSelector={})),
            ),
            {"n1": AFFINITY, "n2": AFFINITY, "n3": None, "n4": AFFINITY},
        ),
        (
            "anti-affinity by hostname spreads replicas",
            [make_pod("web-0", labels={"app": "web"}, node_name="n1")],
            make_pod(labels={"app": "web"}, affinity=required("podAntiAffinity", term({"app": "web"}, HOST))),
            {"n1": ANTI, "n2": None, "n3": None, "n4": None},
        ),
        (
            "anti-affinity by zone; nodes without the label are fine",
            [db_on("n1")],
            make_pod(affinity=required("podAntiAffinity", term({"app": "db"}))),
            {"n1": ANTI, "n2": ANTI, "n3": None, "n4": None},
        ),
        (
            "an existing pod's anti-affinity keeps the incoming pod away (symmetry)",
            [make_pod("loner", node_name="n3", affinity=required("podAntiAffinity", term({"app": "web"})))],
            make_pod(labels={"app": "web"}),
            {"n1": None, "n2": None, "n3": EXISTING, "n4": None},
        ),
    ],
)
def test_filter(
    name: str, placed: Sequence[dict[str, Any]], pod: dict[str, Any], want: dict[str, Any]
) -> None:
    snap = snapshot(NODES, placed)
    got = run_filter(plugin("InterPodAffinity", snap), pod, snap)
    assert reasons(got) == want, name


def test_filter_skips_plain_pods() -> None:
    snap = snapshot(NODES, [db_on("n1")])
    from minik.scheduler.framework.types import CycleState, PodInfo

    _, status = plugin("InterPodAffinity", snap).pre_filter(CycleState(), PodInfo.from_pod(make_pod()), [])
    assert status is not None and status.code.name == "SKIP"


class Namespaces:
    def __init__(self, labels: Mapping[str, Mapping[str, str]]) -> None:
        self._labels = labels

    def labels(self, name: str) -> Mapping[str, str] | None:
        return self._labels.get(name)

    def names(self) -> Sequence[tuple[str, Mapping[str, str]]]:
        return list(self._labels.items())


def test_namespace_selector_is_resolved_through_the_lister() -> None:
    snap = snapshot(NODES, [db_on("n1", "prod-db"), db_on("n3", "test-db")])
    namespaces = Namespaces({"default": {}, "prod-db": {"env": "prod"}, "test-db": {"env": "test"}})
    pod = make_pod(
        affinity=required(
            "podAffinity", term({"app": "db"}, namespaceSelector={"matchLabels": {"env": "prod"}})
        )
    )
    got = run_filter(plugin("InterPodAffinity", snap, namespaces=namespaces), pod, snap)
    assert reasons(got) == {"n1": None, "n2": None, "n3": AFFINITY, "n4": AFFINITY}


def preferred(kind: str, *weighted: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        kind: {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in weighted
            ]
        }
    }


def test_score_preferred_affinity() -> None:
    snap = snapshot(NODES, [db_on("n1")])
    pod = make_pod(affinity=preferred("podAffinity", (10, term({"app": "db"}))))
    assert run_score(plugin("InterPodAffinity", snap), pod, snap) == {"n1": 100, "n2": 100, "n3": 0, "n4": 0}


def test_score_preferred_anti_affinity() -> None:
    snap = snapshot(NODES, [db_on("n1")])
    pod = make_pod(affinity=preferred("podAntiAffinity", (10, term({"app": "db"}))))
    assert run_score(plugin("InterPodAffinity", snap), pod, snap) == {"n1": 0, "n2": 0, "n3": 100, "n4": 100}


def test_score_counts_existing_pods_terms() -> None:
    # An existing pod that wants web pods near it (required, hardPodAffinityWeight) and one that
    # prefers them away: the incoming web pod is drawn to zone b and pushed out of zone a.
    placed = [
        make_pod("wants-web", node_name="n3", affinity=required("podAffinity", term({"app": "web"}))),
        make_pod(
            "avoids-web", node_name="n1", affinity=preferred("podAntiAffinity", (5, term({"app": "web"})))
        ),
    ]
    snap = snapshot(NODES, placed)
    scores = run_score(
        plugin("InterPodAffinity", snap, {"hardPodAffinityWeight": 3}), make_pod(labels={"app": "web"}), snap
    )
    # raw: n1 -5, n2 -5, n3 +3, n4 0 -> min-max scaled
    assert scores == {"n1": 0, "n2": 0, "n3": 100, "n4": 62}


def test_score_skips_when_nothing_matters() -> None:
    snap = snapshot(NODES, [db_on("n1")])
    assert run_score(plugin("InterPodAffinity", snap), make_pod(), snap) == {}
