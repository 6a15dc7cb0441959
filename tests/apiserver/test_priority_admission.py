"""Priority admission, without a server: a pod's class becomes its priority, or the pod is refused."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from minik.api import errors
from minik.apiserver import priority

Obj = dict[str, Any]


def pclass(name: str, value: int, *, default: bool = False, policy: str = "PreemptLowerPriority") -> Obj:
    pc: Obj = {"metadata": {"name": name}, "value": value, "preemptionPolicy": policy}
    if default:
        pc["globalDefault"] = True
    return pc


def source(*classes: Obj) -> priority.PriorityClasses:
    by_name = {c["metadata"]["name"]: c for c in classes}

    async def get(name: str) -> Obj | None:
        return by_name.get(name)

    return priority.PriorityClasses(lambda: list(classes), get)


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}], **spec}}


def admit(p: Obj, *classes: Obj) -> Obj:
    asyncio.run(priority.admit_pod_create(p, source(*classes)))
    return p["spec"]  # type: ignore[no-any-return]


def refused(p: Obj, *classes: Obj) -> errors.APIError:
    with pytest.raises(errors.APIError) as caught:
        asyncio.run(priority.admit_pod_create(p, source(*classes)))
    return caught.value


def test_the_named_class_gives_priority_and_preemption_policy() -> None:
    spec = admit(pod(priorityClassName="high"), pclass("high", 1000, policy="Never"))
    assert spec["priority"] == 1000 and spec["preemptionPolicy"] == "Never"


def test_without_a_class_and_without_a_default_the_priority_is_zero() -> None:
    spec = admit(pod(), pclass("high", 1000))
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert "priorityClassName" not in spec


def test_without_a_class_the_global_default_is_named_and_used() -> None:
    spec = admit(pod(), pclass("high", 1000), pclass("normal", 50, default=True, policy="Never"))
    assert spec["priorityClassName"] == "normal"
    assert spec["priority"] == 50 and spec["preemptionPolicy"] == "Never"


def test_of_two_racing_defaults_the_lower_value_wins() -> None:
    spec = admit(pod(), pclass("a", 70, default=True), pclass("b", 20, default=True))
    assert (spec["priorityClassName"], spec["priority"]) == ("b", 20)


def test_an_unknown_class_is_forbidden_with_upstreams_message() -> None:
    e = refused(pod(priorityClassName="gold"))
    assert e.code == 403 and e.reason == "Forbidden"
    assert str(e) == 'pods "p" is forbidden: no PriorityClass with name gold was found'


def test_a_priority_the_pod_sets_itself_must_match_its_class() -> None:
    assert admit(pod(priorityClassName="high", priority=1000), pclass("high", 1000))["priority"] == 1000
    e = refused(pod(priorityClassName="high", priority=5), pclass("high", 1000))
    assert e.code == 403
    assert "the integer value of priority (5) must not be provided in pod spec" in str(e)
    assert "computed 1000 from the given PriorityClass name" in str(e)
    e = refused(pod(priority=7))  # no class: the computed priority is 0
    assert "the integer value of priority (7)" in str(e)


def test_a_preemption_policy_the_pod_sets_itself_must_match_its_class() -> None:
    e = refused(pod(priorityClassName="high", preemptionPolicy="Never"), pclass("high", 10))
    assert e.code == 403
    assert "the string value of PreemptionPolicy (Never) must not be provided in pod spec" in str(e)


def test_an_update_that_leaves_priority_out_keeps_the_stored_values() -> None:
    new: Obj = {"spec": {}}
    priority.keep_pod_priority(new, {"spec": {"priority": 100, "preemptionPolicy": "Never"}})
    assert new["spec"] == {"priority": 100, "preemptionPolicy": "Never"}


def test_only_one_class_may_be_the_global_default() -> None:
    existing = [pclass("first", 10, default=True)]
    priority.admit_priority_class(pclass("second", 20), existing)  # not a default: fine
    priority.admit_priority_class(pclass("first", 10, default=True), existing)  # itself: fine
    with pytest.raises(errors.APIError) as caught:
        priority.admit_priority_class(pclass("second", 20, default=True), existing)
    assert caught.value.code == 403
    assert "PriorityClass first is marked as default. Only one default can exist" in str(caught.value)
