"""Status writes and conditions."""

from __future__ import annotations

from typing import Any, cast

from minik.client.kinds import REPLICASETS
from minik.client.rest import APIClient
from minik.controllers.status import set_condition, write_status
from tests.client.fakes import FakeAPI


def test_set_condition_moves_the_transition_time_only_on_a_status_change() -> None:
    conditions: list[dict[str, Any]] = []
    assert set_condition(conditions, "Progressing", "True", "NewRS", "created", "t1")
    assert conditions == [
        {
            "type": "Progressing",
            "status": "True",
            "reason": "NewRS",
            "message": "created",
            "lastTransitionTime": "t1",
        }
    ]
    assert not set_condition(conditions, "Progressing", "True", "NewRS", "created", "t2")  # nothing new
    assert set_condition(conditions, "Progressing", "True", "Updated", "progress", "t3")
    assert conditions[0]["lastTransitionTime"] == "t1" and conditions[0]["reason"] == "Updated"
    assert set_condition(conditions, "Progressing", "False", "Stuck", "deadline", "t4")
    assert conditions[0]["lastTransitionTime"] == "t4"
    set_condition(conditions, "Available", "True", "MinimumReplicasAvailable", "ok", "t5")
    assert [c["type"] for c in conditions] == ["Progressing", "Available"]


async def test_write_status_retries_once_on_a_conflict() -> None:
    api = FakeAPI()
    cached = api.put(REPLICASETS, {"metadata": {"name": "web", "namespace": "ns"}, "spec": {"replicas": 1}})
    api.put(REPLICASETS, {**cached, "spec": {"replicas": 3}})  # someone scaled it meanwhile
    written = await write_status(cast(APIClient, api), REPLICASETS, cached, {"replicas": 1})
    assert written["status"] == {"replicas": 1}
    stored = api.stored(REPLICASETS, "web", "ns")
    assert stored is not None and stored["spec"] == {"replicas": 3} and stored["status"] == {"replicas": 1}
    assert [verb for verb, _, _ in api.calls] == ["update_status", "get", "update_status"]
    assert "status" not in cached  # the cached object is never mutated


async def test_write_status_to_a_gone_or_replaced_object_is_not_an_error() -> None:
    api = FakeAPI()
    cached = api.put(REPLICASETS, {"metadata": {"name": "web", "namespace": "ns"}})
    api.remove(REPLICASETS, "web", "ns")
    assert await write_status(cast(APIClient, api), REPLICASETS, cached, {"replicas": 1}) is cached
    api.put(REPLICASETS, {"metadata": {"name": "web", "namespace": "ns"}})  # a new one, new uid
    assert await write_status(cast(APIClient, api), REPLICASETS, cached, {"replicas": 1}) is cached
    stored = api.stored(REPLICASETS, "web", "ns")
    assert stored is not None and "status" not in stored  # its own reconcile will write it
