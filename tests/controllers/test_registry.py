"""The controller registry: ``--controllers`` selection, and every entry builds a runnable controller."""

from __future__ import annotations

import asyncio

import pytest

from minik.client.controller import Controller
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kubeconfig import ClientConfig
from minik.client.rest import APIClient
from minik.controllers.manager import parse_args
from minik.controllers.registry import CONTROLLERS, BuildContext, select_controllers


def test_controllers_flag_follows_upstream_syntax() -> None:
    every = [s.name for s in CONTROLLERS]
    assert [s.name for s in select_controllers("*")] == every
    assert "job" not in [s.name for s in select_controllers("*,-job")]
    assert [s.name for s in select_controllers("endpoint,garbagecollector")] == [
        "endpoint",
        "garbagecollector",
    ]
    assert [s.name for s in select_controllers("endpoint,-endpoint")] == []
    with pytest.raises(ValueError, match="unknown controller 'nope'"):
        select_controllers("*,-nope")


def test_names_and_event_components_are_unique() -> None:
    assert len({s.name for s in CONTROLLERS}) == len(CONTROLLERS)
    assert len({s.component for s in CONTROLLERS}) == len(CONTROLLERS)


def test_every_controller_builds_from_the_flags_and_names_its_loops() -> None:
    """Building touches no network: informers only connect when the factory starts."""

    async def build_all() -> dict[str, list[str]]:
        client = APIClient(ClientConfig(server="http://127.0.0.1:9"))
        factory = SharedInformerFactory(client)
        args = parse_args(["--controllers", "*", "--concurrent-syncs", "3", "--concurrent-gc-syncs", "4"])
        loops: dict[str, list[str]] = {}
        try:
            for spec in CONTROLLERS:
                recorder = EventRecorder(client, spec.component)
                controller = spec.build(BuildContext(client, factory, recorder, args))
                assert asyncio.iscoroutinefunction(controller.run), spec.name
                found = list(controller.loops)
                assert all(isinstance(loop, Controller) for loop in found), spec.name
                loops[spec.name] = [loop.name for loop in found]
                await recorder.close()
        finally:
            await client.aclose()
        return loops

    loops = asyncio.run(build_all())
    assert set(loops) == {s.name for s in CONTROLLERS}
    assert loops["replicaset"] == ["replicaset"]
    assert loops["replicationcontroller"] == ["replicationcontroller"]
    assert loops["job"] == ["job", "job-orphan-pods"]
    assert loops["podgc"] == []  # a periodic sweep without a work queue
    assert all(loops[name] for name in loops if name != "podgc")
