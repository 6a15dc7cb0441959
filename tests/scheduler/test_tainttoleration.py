"""TaintToleration: NoSchedule/NoExecute filter, PreferNoSchedule score (matching: tests/api/test_taints.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler.builders import make_node, make_pod, plugin, reasons, run_filter, run_score, snapshot


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


NODES = [
    make_node("clean"),
    make_node("control-plane", taints=[taint("node-role.kubernetes.io/control-plane")]),
    make_node("gpu", taints=[taint("dedicated", "gpu"), taint("zone-drain", "true", "NoExecute")]),
    make_node("soft", taints=[taint("spot", "true", "PreferNoSchedule")]),
]


@pytest.mark.parametrize(
    ("name", "tolerations", "want"),
    [
        (
            "no tolerations",
            [],
            {
                "clean": None,
                "control-plane": ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",),
                "gpu": ("node(s) had untolerated taint {dedicated: gpu}",),
                "soft": None,
            },
        ),
        (
            "the first untolerated taint is reported",
            [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            {
                "clean": None,
                "control-plane": ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",),
                "gpu": ("node(s) had untolerated taint {zone-drain: true}",),
                "soft": None,
            },
        ),
        (
            "Exists with an empty key tolerates everything",
            [{"operator": "Exists"}],
            dict.fromkeys(["clean", "control-plane", "gpu", "soft"]),
        ),
    ],
)
def test_filter(name: str, tolerations: list[dict[str, Any]], want: dict[str, Any]) -> None:
    snap = snapshot(NODES)
    got = run_filter(plugin("TaintToleration", snap), make_pod(tolerations=tolerations), snap)
    assert reasons(got) == want, name
    for status in got.values():
        assert status is None or status.code.name == "UNSCHEDULABLE_AND_UNRESOLVABLE"


SOFT_NODES = [
    make_node("none"),
    make_node("one", taints=[taint("a", "1", "PreferNoSchedule")]),
    make_node("two", taints=[taint("a", "1", "PreferNoSchedule"), taint("b", "2", "PreferNoSchedule")]),
]


@pytest.mark.parametrize(
    ("name", "tolerations", "want"),
    [
        ("fewer intolerable taints score higher", [], {"none": 100, "one": 50, "two": 0}),
        (
            "tolerated PreferNoSchedule taints don't count",
            [{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}],
            {"none": 100, "one": 100, "two": 0},
        ),
        (
            "a NoSchedule toleration does not help with PreferNoSchedule",
            [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
            {"none": 100, "one": 50, "two": 0},
        ),
        ("tolerating everything: all equal", [{"operator": "Exists"}], {"none": 100, "one": 100, "two": 100}),
    ],
)
def test_score(name: str, tolerations: list[dict[str, Any]], want: dict[str, int]) -> None:
    snap = snapshot(SOFT_NODES)
    assert run_score(plugin("TaintToleration", snap), make_pod(tolerations=tolerations), snap) == want, name
