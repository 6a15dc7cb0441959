"""NodeAffinity: nodeSelector, required terms with every operator, matchFields, preferred terms."""

from __future__ import annotations

from typing import Any

import pytest

from minik.scheduler.framework.types import CycleState, PodInfo
from tests.scheduler.builders import make_node, make_pod, plugin, reasons, run_filter, run_score, snapshot

NODES = [
    make_node("n1", labels={"zone": "a", "disk": "ssd", "cores": "8"}),
    make_node("n2", labels={"zone": "b", "disk": "hdd", "cores": "16"}),
    make_node("n3", labels={"zone": "c", "cores": "many"}),
]
NO = ("node(s) didn't match Pod's node affinity/selector",)


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "operator": op}
    if values:
        out["values"] = list(values)
    return out


@pytest.mark.parametrize(
    ("name", "spec", "fits"),
    [
        ("no constraints", {}, {"n1", "n2", "n3"}),
        ("nodeSelector", {"nodeSelector": {"disk": "ssd"}}, {"n1"}),
        ("nodeSelector, all labels must match", {"nodeSelector": {"disk": "ssd", "zone": "b"}}, set()),
        ("In", {"affinity": required({"matchExpressions": [expr("zone", "In", "a", "b")]})}, {"n1", "n2"}),
        (
            "NotIn matches a missing label",
            {"affinity": required({"matchExpressions": [expr("disk", "NotIn", "ssd")]})},
            {"n2", "n3"},
        ),
        ("Exists", {"affinity": required({"matchExpressions": [expr("disk", "Exists")]})}, {"n1", "n2"}),
        (
            "DoesNotExist",
            {"affinity": required({"matchExpressions": [expr("disk", "DoesNotExist")]})},
            {"n3"},
        ),
        (
            "Gt compares integers",
            {"affinity": required({"matchExpressions": [expr("cores", "Gt", "10")]})},
            {"n2"},
        ),
        (
            "Lt skips non-integer labels",
            {"affinity": required({"matchExpressions": [expr("cores", "Lt", "10")]})},
            {"n1"},
        ),
        (
            "expressions in a term are ANDed",
            {
                "affinity": required(
                    {"matchExpressions": [expr("zone", "In", "a", "b"), expr("disk", "In", "hdd")]}
                )
            },
            {"n2"},
        ),
        (
            "terms are ORed",
            {
                "affinity": required(
                    {"matchExpressions": [expr("zone", "In", "a")]},
                    {"matchExpressions": [expr("zone", "In", "c")]},
                )
            },
            {"n1", "n3"},
        ),
        ("an empty term matches nothing", {"affinity": required({})}, set()),
        (
            "an invalid term is ignored",
            {
                "affinity": required(
                    {"matchExpressions": [expr("cores", "Gt", "x")]},
                    {"matchExpressions": [expr("zone", "In", "b")]},
                )
            },
            {"n2"},
        ),
        (
            "nodeSelector AND affinity",
            {
                "nodeSelector": {"disk": "ssd"},
                "affinity": required({"matchExpressions": [expr("zone", "In", "b")]}),
            },
            set(),
        ),
        (
            "matchFields metadata.name",
            {"affinity": required({"matchFields": [expr("metadata.name", "In", "n2")]})},
            {"n2"},
        ),
        (
            "matchFields NotIn",
            {"affinity": required({"matchFields": [expr("metadata.name", "NotIn", "n2")]})},
            {"n1", "n3"},
        ),
    ],
)
def test_filter(name: str, spec: dict[str, Any], fits: set[str]) -> None:
    snap = snapshot(NODES)
    got = reasons(run_filter(plugin("NodeAffinity", snap), make_pod(**spec), snap))
    assert {n for n, r in got.items() if r is None} == fits, name
    assert all(r in (None, NO) for r in got.values())


def test_prefilter_narrows_to_pinned_nodes() -> None:
    snap = snapshot(NODES)
    pod = PodInfo.from_pod(
        make_pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1", "n2")]},
                {
                    "matchFields": [expr("metadata.name", "In", "n3")],
                    "matchExpressions": [expr("zone", "Exists")],
                },
            )
        )
    )
    result, status = plugin("NodeAffinity", snap).pre_filter(CycleState(), pod, snap.node_info_list)
    assert status is None and result is not None and result.node_names == {"n1", "n2", "n3"}


def test_prefilter_does_not_narrow_when_a_term_allows_any_node() -> None:
    snap = snapshot(NODES)
    pod = PodInfo.from_pod(
        make_pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1")]},
                {"matchExpressions": [expr("zone", "Exists")]},
            )
        )
    )
    result, status = plugin("NodeAffinity", snap).pre_filter(CycleState(), pod, snap.node_info_list)
    assert status is None and result is None


def test_prefilter_conflicting_pins() -> None:
    snap = snapshot(NODES)
    pod = PodInfo.from_pod(
        make_pod(
            affinity=required(
                {"matchFields": [expr("metadata.name", "In", "n1"), expr("metadata.name", "In", "n2")]}
            )
        )
    )
    _, status = plugin("NodeAffinity", snap).pre_filter(CycleState(), pod, snap.node_info_list)
    assert status is not None and status.reasons == ("pod affinity terms conflict",)


def test_added_affinity_is_enforced() -> None:
    snap = snapshot(NODES)
    pl = plugin(
        "NodeAffinity",
        snap,
        {
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "a", "c")]}]
                }
            }
        },
    )
    got = reasons(run_filter(pl, make_pod(nodeSelector={"zone": "c"}), snap))
    assert got == {"n1": NO, "n2": ("node(s) didn't match scheduler-enforced node affinity",), "n3": None}


def preferred(*weighted: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "preference": term} for w, term in weighted
            ]
        }
    }


def test_score_sums_matching_weights_and_normalizes() -> None:
    snap = snapshot(NODES)
    pod = make_pod(
        affinity=preferred(
            (20, {"matchExpressions": [expr("disk", "Exists")]}),
            (60, {"matchExpressions": [expr("zone", "In", "b")]}),
        )
    )
    # raw: n1 20, n2 80, n3 0 -> scaled so the best is 100
    assert run_score(plugin("NodeAffinity", snap), pod, snap) == {"n1": 25, "n2": 100, "n3": 0}


def test_score_skips_without_preferences() -> None:
    snap = snapshot(NODES)
    assert run_score(plugin("NodeAffinity", snap), make_pod(), snap) == {}
