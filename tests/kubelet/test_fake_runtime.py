"""The fake runtime behaves like a runtime to the pod steps (no Docker needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from minik.kubelet.ipam import IPAM
from minik.kubelet.pods import NodeConfig, PodRunner, PodStartError
from minik.kubelet.runtime.base import ImageNotPresent, ImagePullError, Runtime, RuntimeEvent
from minik.kubelet.runtime.fake import FakeRuntime
from minik.kubelet.sources import DictSource
from minik.kubelet.volumes import pod_dir
from tests.kubelet.conftest import make_pod


def _runner(tmp_path: Path, runtime: FakeRuntime) -> PodRunner:
    return PodRunner(
        runtime,
        node=NodeConfig(root=tmp_path),
        ipam=IPAM("10.244.9.0/24", tmp_path / "ipam.json"),
        source=DictSource(),
    )


async def test_pod_lifecycle_on_the_fake_runtime(tmp_path: Path) -> None:
    runtime = FakeRuntime(images=["minik/workload:1.0"])
    assert isinstance(runtime, Runtime)
    runner = _runner(tmp_path, runtime)
    events: list[RuntimeEvent] = []

    async def collect() -> None:
        async for event in runtime.events():
            events.append(event)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)
    pod = make_pod(
        "f",
        [{"name": "a", "image": "minik/workload:1.0", "volumeMounts": [{"name": "m", "mountPath": "/m"}]}],
        volumes=[{"name": "m", "emptyDir": {"medium": "Memory"}}],
    )
    handle = await runner.run_pod(pod)
    assert handle.ip == "10.244.9.2"
    assert (pod_dir(tmp_path, handle.uid) / "resolv.conf").read_text().startswith("nameserver 10.96.0.10")
    states = await runtime.list_containers(pod_uid=handle.uid)
    assert sorted((s.container_name, s.status) for s in states) == [("POD", "running"), ("a", "running")]
    assert len(runtime.volumes) == 1

    runtime.exit_container(handle.containers["a"], 2)
    assert (await runtime.inspect_container(handle.containers["a"])).exit_code == 2
    await runner.kill_pod(handle.uid, grace_period=0)
    assert await runtime.list_containers() == [] and runtime.volumes == {}
    assert runner.ipam is not None and runner.ipam.allocations() == {}
    for _ in range(5):  # let the collector drain the queue
        await asyncio.sleep(0)
    collector.cancel()
    assert [(e.action, e.container_name) for e in events][:4] == [
        ("create", "POD"),
        ("start", "POD"),
        ("create", "a"),
        ("start", "a"),
    ]
    assert ("die", "a") in [(e.action, e.container_name) for e in events]


async def test_image_policies_and_failed_init(tmp_path: Path) -> None:
    runtime = FakeRuntime(pullable=False)
    runner = _runner(tmp_path, runtime)
    with pytest.raises(ImagePullError):
        await runner.run_pod(make_pod("p", [{"name": "a", "image": "nginx:1.25"}]))
    with pytest.raises(ImageNotPresent):
        await runner.run_pod(make_pod("q", [{"name": "a", "image": "x:1", "imagePullPolicy": "Never"}]))
    runtime.pullable = True
    pod = make_pod("r", [{"name": "a", "image": "x:1"}], initContainers=[{"name": "i", "image": "x:1"}])
    task = asyncio.create_task(runner.run_pod(pod))
    while not [s for s in runtime.containers.values() if s.container_name == "i"]:
        await asyncio.sleep(0)
    init = next(s for s in runtime.containers.values() if s.container_name == "i")
    runtime.exit_container(init.id, 1)
    with pytest.raises(PodStartError, match='init container "i" exited with code 1'):
        await task
