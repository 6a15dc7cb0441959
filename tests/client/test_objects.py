"""Accessors for objects as plain JSON dicts: tolerant of missing and malformed fields."""

from __future__ import annotations

from datetime import UTC, datetime

from minik.client.objects import (
    annotations_of,
    creation_sort_key,
    creation_time,
    finalizers_of,
    format_time,
    generation_of,
    get_condition,
    int_field,
    is_being_deleted,
    labels_of,
    parse_optional_time,
    spec_of,
    status_of,
)


def test_missing_or_malformed_parts_read_as_empty() -> None:
    broken = {
        "metadata": {"labels": "not-a-map", "annotations": None, "finalizers": "x"},
        "spec": [],
        "status": 3,
    }
    assert spec_of(broken) == {} and status_of(broken) == {}
    assert labels_of(broken) == {} and annotations_of(broken) == {} and finalizers_of(broken) == []
    assert generation_of(broken) == 0 and not is_being_deleted(broken)
    assert labels_of({}) == {} and spec_of({}) == {}


def test_present_parts_are_returned_as_stored() -> None:
    obj = {
        "metadata": {
            "labels": {"app": "web"},
            "annotations": {"a": "1"},
            "generation": 4,
            "finalizers": ["kubernetes.io/pvc-protection"],
            "deletionTimestamp": "2024-01-01T00:00:00Z",
        },
        "spec": {"replicas": 3},
        "status": {"conditions": [{"type": "Ready", "status": "True"}, "junk"]},
    }
    assert labels_of(obj) == {"app": "web"} and annotations_of(obj) == {"a": "1"}
    assert generation_of(obj) == 4 and is_being_deleted(obj)
    assert finalizers_of(obj) == ["kubernetes.io/pvc-protection"]
    assert spec_of(obj) is obj["spec"]  # not a copy: read-only use on cached objects
    assert get_condition(status_of(obj), "Ready") == {"type": "Ready", "status": "True"}
    assert get_condition(status_of(obj), "Available") is None


def test_int_field_refuses_booleans_and_strings() -> None:
    assert int_field({"replicas": 3}, "replicas") == 3
    assert int_field({"replicas": True}, "replicas", 1) == 1  # JSON true is not 1 replica
    assert int_field({"replicas": "3"}, "replicas", 1) == 1
    assert int_field({}, "replicas") == 0


def test_times_parse_leniently_and_sort_oldest_first() -> None:
    assert parse_optional_time("2024-01-01T00:00:05Z") == datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert parse_optional_time("yesterday") is None and parse_optional_time(None) is None
    assert format_time(datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)) == "2024-01-01T00:00:05Z"
    old = {"metadata": {"name": "b", "creationTimestamp": "2024-01-01T00:00:00Z"}}
    new = {"metadata": {"name": "a", "creationTimestamp": "2024-01-02T00:00:00Z"}}
    tie = {"metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z"}}
    assert [o["metadata"]["name"] for o in sorted([new, old, tie], key=creation_sort_key)] == ["a", "b", "a"]
    assert creation_time({"metadata": {}}) is None
