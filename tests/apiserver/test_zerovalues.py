"""Go zero values filled from the schemas' required fields (``minik/apiserver/zerovalues.py``)."""

from __future__ import annotations

from typing import Any

from minik.apiserver import zerovalues
from minik.apiserver.registry import Registry


def test_a_new_replicaset_status_gets_replicas_zero() -> None:
    obj: dict[str, Any] = {"spec": {"selector": {"matchLabels": {"a": "b"}}}, "status": {}}
    zerovalues.fill(obj, "apps", "v1", "ReplicaSet")
    assert obj["status"] == {"replicas": 0}


def test_daemonset_status_gets_every_required_counter() -> None:
    obj: dict[str, Any] = {"spec": {}, "status": {"numberReady": 2}}
    zerovalues.fill(obj, "apps", "v1", "DaemonSet")
    assert obj["status"] == {
        "numberReady": 2,
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
    }


def test_values_given_are_kept_and_null_counts_as_missing() -> None:
    obj: dict[str, Any] = {"status": {"replicas": 3}}
    zerovalues.fill(obj, "", "v1", "ReplicationController")
    assert obj["status"] == {"replicas": 3}
    obj = {"status": {"replicas": None}}
    zerovalues.fill(obj, "apps", "v1", "StatefulSet")
    assert obj["status"]["replicas"] == 0


def test_absent_optional_structs_are_not_created() -> None:
    """``status`` is optional: a kind without one stays without one."""
    obj: dict[str, Any] = {"metadata": {"name": "x"}, "spec": {"selector": {}}}
    zerovalues.fill(obj, "apps", "v1", "ReplicaSet")
    assert "status" not in obj


def test_nested_lists_and_struct_zeros() -> None:
    """Required fields are completed at any depth: list items, and a required struct's own fields."""
    obj: dict[str, Any] = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "c", "ports": [{"name": "http"}]}],
                    "affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{}]}},
                }
            }
        }
    }
    zerovalues.fill(obj, "apps", "v1", "Deployment")
    pod = obj["spec"]["template"]["spec"]
    assert pod["containers"][0]["ports"] == [{"name": "http", "containerPort": 0}]
    term = pod["affinity"]["podAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
    assert term == {"weight": 0, "podAffinityTerm": {"topologyKey": ""}}
    assert obj["spec"]["selector"] == {}  # required struct, no required fields


def test_each_zero_is_a_fresh_value() -> None:
    a: dict[str, Any] = {"endpoints": [{}, {}]}
    zerovalues.fill(a, "discovery.k8s.io", "v1", "EndpointSlice")
    assert a["addressType"] == ""
    a["endpoints"][0]["addresses"].append("10.0.0.1")
    assert a["endpoints"][1]["addresses"] == []


def test_timestamps_are_not_invented() -> None:
    """A required timestamp's Go zero is ``null``: it is left out rather than made up."""
    obj: dict[str, Any] = {"metadata": {"name": "e"}, "series": {}}
    zerovalues.fill(obj, "events.k8s.io", "v1", "Event")
    assert "eventTime" not in obj  # required, but a MicroTime
    assert obj["series"] == {"count": 0}  # lastObservedTime is required too, but a MicroTime


def test_every_served_kind_has_a_shape_and_unknown_kinds_are_left_alone() -> None:
    for rt in Registry():
        assert zerovalues.shape_for(rt.group, rt.version, rt.kind) is not None, rt.kind
    obj: dict[str, Any] = {"spec": {}}
    zerovalues.fill(obj, "example.com", "v1", "Widget")
    assert obj == {"spec": {}}
