"""PriorityClass validation: the user range, the reserved ``system-`` names, immutability."""

from __future__ import annotations

from typing import Any

from minik.api.defaults import apply_defaults
from minik.api.validation import validate_create, validate_update

KIND = ("scheduling.k8s.io", "PriorityClass")


def pclass(name: str, value: Any, **fields: Any) -> dict[str, Any]:
    pc = {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name},
        "value": value,
    }
    pc.update(fields)
    apply_defaults(pc)
    return pc


def problems(pc: dict[str, Any]) -> list[str]:
    return [str(e) for e in validate_create(pc, namespaced=False, kind=KIND)]


def test_a_user_class_up_to_a_billion_is_valid_and_preempts_by_default() -> None:
    pc = pclass("high", 1_000_000_000)
    assert problems(pc) == [] and pc["preemptionPolicy"] == "PreemptLowerPriority"
    assert problems(pclass("negative", -5)) == []


def test_above_a_billion_is_for_system_classes_only() -> None:
    assert problems(pclass("huge", 1_000_000_001)) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
    ]


def test_system_names_need_exactly_the_system_values() -> None:
    assert problems(pclass("system-node-critical", 2_000_001_000)) == []
    reserved = "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only."
    assert problems(pclass("system-mine", 5)) == [
        f"{reserved} error: system-mine is not a known system priority class"
    ]
    assert problems(pclass("system-node-critical", 7)) == [
        f"{reserved} error: value of system-node-critical PriorityClass must be 2000001000"
    ]
    assert problems(pclass("system-cluster-critical", 2_000_000_000, globalDefault=True)) == [
        f"{reserved} error: globalDefault of system-cluster-critical PriorityClass must be false"
    ]


def test_the_preemption_policy_is_one_of_two() -> None:
    assert problems(pclass("p", 1, preemptionPolicy="Never")) == []
    [problem] = problems(pclass("p", 1, preemptionPolicy="Sometimes"))
    assert problem.startswith('preemptionPolicy: Unsupported value: "Sometimes"')


def test_value_and_preemption_policy_never_change() -> None:
    old = pclass("p", 10)
    assert validate_update(pclass("p", 10, description="new words"), old, namespaced=False, kind=KIND) == []
    changed = [str(e) for e in validate_update(pclass("p", 11), old, namespaced=False, kind=KIND)]
    assert changed == ["value: Forbidden: may not be changed in an update."]
    changed = [
        str(e)
        for e in validate_update(pclass("p", 10, preemptionPolicy="Never"), old, namespaced=False, kind=KIND)
    ]
    assert changed == ['preemptionPolicy: Invalid value: "Never": field is immutable']
