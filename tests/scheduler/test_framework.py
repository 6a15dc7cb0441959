"""The framework: plugin expansion and weights, PreFilter/Filter/Score plumbing, node sampling."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from minik.scheduler.config import parse_config
from minik.scheduler.framework.interface import (
    FilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    ReservePlugin,
    ScorePlugin,
)
from minik.scheduler.framework.runtime import Framework
from minik.scheduler.framework.types import Code, CycleState, FrameworkError, NodeInfo, PodInfo, Status
from minik.scheduler.plugins import IN_TREE_PLUGINS
from minik.scheduler.scheduler import Scheduler, num_feasible_nodes_to_find
from tests.scheduler.builders import framework, make_node, make_pod, snapshot

BASE = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def profile(**plugins: Any) -> Any:
    return parse_config({**BASE, "profiles": [{"plugins": plugins}]}).profiles[0]


def test_default_profile_layout() -> None:
    fwk = framework(snapshot([]))
    layout = fwk.list_plugins()
    assert layout["filter"] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert layout["score"] == [
        "TaintToleration=3",
        "NodeAffinity=2",
        "NodeResourcesFit=1",
        "PodTopologySpread=2",
        "InterPodAffinity=2",
        "NodeResourcesBalancedAllocation=1",
        "ImageLocality=1",
    ]
    assert layout["bind"] == ["DefaultBinder"] and layout["queueSort"] == ["PrioritySort"]
    assert layout["postFilter"] == ["DefaultPreemption"] and layout["reserve"] == []


def test_specific_point_overrides_multipoint_and_weights() -> None:
    fwk = Framework(
        profile(
            score={
                "enabled": [{"name": "ImageLocality", "weight": 9}],
                "disabled": [{"name": "TaintToleration"}],
            },
            filter={"disabled": [{"name": "NodePorts"}]},
        ),
        IN_TREE_PLUGINS,
        framework(snapshot([])).handle,
    )
    layout = fwk.list_plugins()
    assert layout["score"][0] == "ImageLocality=9"  # an override moves to the front, as upstream
    assert "TaintToleration=3" not in layout["score"]
    assert "TaintToleration" in layout["filter"]  # only disabled at score
    assert "NodePorts" not in layout["filter"] and "NodePorts" in layout["preFilter"]


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        ({"score": {"enabled": [{"name": "Nope"}]}}, "does not exist"),
        ({"score": {"enabled": [{"name": "NodeName"}]}}, "does not implement score"),
        ({"bind": {"disabled": [{"name": "*"}]}}, "at least one bind plugin"),
        ({"queueSort": {"disabled": [{"name": "*"}]}}, "exactly one queueSort"),
    ],
)
def test_invalid_profiles(plugins: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Framework(profile(**plugins), IN_TREE_PLUGINS, framework(snapshot([])).handle)


def test_bad_plugin_args_are_reported_with_the_plugin() -> None:
    doc = {
        **BASE,
        "profiles": [
            {"pluginConfig": [{"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 500}}]}
        ],
    }
    with pytest.raises(ValueError, match="InterPodAffinity: hardPodAffinityWeight"):
        Scheduler(config=parse_config(doc))


@pytest.mark.parametrize(
    ("percentage", "nodes", "want"),
    [
        (0, 50, 50),
        (0, 100, 100),
        (0, 1000, 420),
        (0, 5000, 500),
        (0, 6000, 300),
        (0, 200, 100),
        (10, 5000, 500),
        (10, 500, 100),
        (100, 1000, 1000),
    ],
)
def test_num_feasible_nodes_to_find(percentage: int, nodes: int, want: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == want


class RejectOdd(FilterPlugin):
    name = "RejectOdd"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return Status(Code.UNSCHEDULABLE, ("odd",)) if int(node.name[1:]) % 2 else None


def test_find_feasible_rotates_and_stops_at_the_limit() -> None:
    snap = snapshot([make_node(f"n{i}") for i in range(10)])
    fwk = framework(snap)
    fwk.filter_plugins = [RejectOdd({}, fwk.handle)]
    statuses: dict[str, Status] = {}
    feasible, processed = fwk.find_feasible(
        CycleState(), PodInfo.from_pod(make_pod()), snap.node_info_list, start=3, limit=2, statuses=statuses
    )
    assert [n.name for n in feasible] == ["n4", "n6"]
    assert processed == 4 and set(statuses) == {"n3", "n5"}


def test_find_feasible_reports_every_node_when_none_fit() -> None:
    snap = snapshot([make_node(f"n{i}") for i in range(5)])
    fwk = framework(snap)
    fwk.filter_plugins = [RejectOdd({}, fwk.handle)]
    statuses: dict[str, Status] = {}
    feasible, processed = fwk.find_feasible(
        CycleState(), PodInfo.from_pod(make_pod()), snap.node_info_list, start=0, limit=100, statuses=statuses
    )
    assert [n.name for n in feasible] == ["n0", "n2", "n4"] and processed == 5
    assert all(s.plugin == "RejectOdd" for s in statuses.values())


class Broken(FilterPlugin):
    name = "Broken"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return Status(Code.ERROR, ("boom",))


def test_filter_error_raises() -> None:
    snap = snapshot([make_node("n1")])
    fwk = framework(snap)
    fwk.filter_plugins = [Broken({}, fwk.handle)]
    with pytest.raises(FrameworkError, match="boom"):
        fwk.find_feasible(
            CycleState(), PodInfo.from_pod(make_pod()), snap.node_info_list, start=0, limit=1, statuses={}
        )


class OnlyN2(PreFilterPlugin):
    name = "OnlyN2"

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        return PreFilterResult({"n2"}), None


def test_prefilter_results_intersect() -> None:
    snap = snapshot([make_node("n1"), make_node("n2")])
    fwk = framework(snap)
    fwk.pre_filter_plugins = [OnlyN2({}, fwk.handle), OnlyN2({}, fwk.handle)]
    result, status = fwk.run_pre_filter(CycleState(), PodInfo.from_pod(make_pod()), snap.node_info_list)
    assert status is None and result is not None and result.node_names == {"n2"}


class Constant(ScorePlugin):
    name = "Constant"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 500


def test_out_of_range_scores_are_an_error() -> None:
    snap = snapshot([make_node("n1"), make_node("n2")])
    fwk = framework(snap)
    fwk.score_plugins = [Constant({}, fwk.handle)]
    fwk.score_weights["Constant"] = 1
    with pytest.raises(FrameworkError, match="outside"):
        fwk.run_score(CycleState(), PodInfo.from_pod(make_pod()), snap.node_info_list)


class Recording(ReservePlugin):
    name = "Recording"
    calls: list[str] = []

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        self.calls.append(f"reserve {node_name}")
        return Status(Code.UNSCHEDULABLE, ("no room in the plugin's book",)) if node_name == "n2" else None

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        self.calls.append(f"unreserve {node_name}")


def test_reserve_and_unreserve() -> None:
    fwk = framework(snapshot([]))
    fwk.reserve_plugins = [Recording({}, fwk.handle)]
    pod = PodInfo.from_pod(make_pod())
    assert fwk.run_reserve(CycleState(), pod, "n1") is None
    status = fwk.run_reserve(CycleState(), pod, "n2")
    assert status is not None and status.plugin == "Recording"
    fwk.run_unreserve(CycleState(), pod, "n2")
    assert Recording.calls == ["reserve n1", "reserve n2", "unreserve n2"]
