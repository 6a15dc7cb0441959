"""PodDisruptionBudget validation: one of minAvailable/maxUnavailable, ints or percentages ≤ 100%."""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.validation import group_kind, validate_create, validate_status_update


def pdb(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
    }


def errors(obj: dict[str, Any]) -> list[str]:
    return [f"{e.field}: {e.detail}" for e in validate_create(obj, namespaced=True, kind=group_kind(obj))]


@pytest.mark.parametrize(
    "spec",
    [
        {"minAvailable": 2},
        {"minAvailable": "50%"},
        {"maxUnavailable": 1},
        {"maxUnavailable": "100%", "unhealthyPodEvictionPolicy": "AlwaysAllow"},
        {"minAvailable": 0, "unhealthyPodEvictionPolicy": "IfHealthyBudget"},
        {},
    ],
)
def test_valid_budgets(spec: dict[str, Any]) -> None:
    assert errors(pdb(**spec)) == []


def test_invalid_budgets() -> None:
    assert errors(pdb(minAvailable=1, maxUnavailable=1)) == [
        "spec: minAvailable and maxUnavailable cannot be both set"
    ]
    assert errors(pdb(minAvailable=-1)) == ["spec.minAvailable: must be greater than or equal to 0"]
    assert errors(pdb(maxUnavailable="150%")) == ["spec.maxUnavailable: must not be greater than 100%"]
    assert errors(pdb(minAvailable="half"))[0].startswith("spec.minAvailable: a valid percent string")
    assert errors(pdb(unhealthyPodEvictionPolicy="Never"))[0].startswith("spec.unhealthyPodEvictionPolicy")
    bad_selector = pdb(selector={"matchExpressions": [{"key": "app", "operator": "Near"}]})
    assert errors(bad_selector)[0].startswith("spec.selector.matchExpressions[0].operator")


def test_status_counts_are_not_negative() -> None:
    old = pdb(minAvailable=1)
    new = pdb(minAvailable=1) | {"status": {"disruptionsAllowed": -1, "currentHealthy": 2}}
    errs = validate_status_update(new, old, namespaced=True, kind=group_kind(new))
    assert [e.field for e in errs] == ["status.disruptionsAllowed"]
