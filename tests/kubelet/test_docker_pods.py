"""Pods on a real Docker engine through the runtime: the sandbox model, volumes, env, exec, logs, stop."""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
from collections.abc import AsyncGenerator
from pathlib import Path

import pytest

from minik.kubelet.images import HASH_LABEL, PAUSE_IMAGE, WORKLOAD_IMAGE, ensure_images
from minik.kubelet.ipam import IPAM
from minik.kubelet.pods import PodRunner
from minik.kubelet.runtime.base import (
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerNotFound,
    container_for_logs,
    cpu_nano_cores,
)
from minik.kubelet.runtime.docker import DockerRuntime
from minik.kubelet.sources import DictSource
from minik.kubelet.volumes import pod_dir, refresh_projected
from tests.kubelet.conftest import SESSION_LABEL, WORKLOAD, make_pod, sleeper

pytestmark = pytest.mark.e2e


async def sh(runtime: DockerRuntime, container_id: str, script: str) -> str:
    result = await runtime.exec(container_id, ["sh", "-c", script], timeout=30)
    assert result.exit_code == 0, (script, result)
    return result.stdout.decode()


async def wait_for_http(runtime: DockerRuntime, container_id: str, url: str) -> str:
    for _ in range(100):
        result = await runtime.exec(container_id, ["sh", "-c", f"timeout 5 wget -qO- {url}"], timeout=30)
        if result.exit_code == 0:
            return result.stdout.decode()
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered: {result}")


def test_images_are_built_once(images: None) -> None:
    assert ensure_images() == []  # already current: nothing rebuilt
    for tag in (PAUSE_IMAGE, WORKLOAD_IMAGE):
        out = subprocess.run(
            ["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{HASH_LABEL}"}}}}', tag],
            capture_output=True,
            text=True,
            check=True,
        )
        assert len(out.stdout.strip()) == 32


async def test_two_containers_share_ip_hostname_and_localhost(
    runner: PodRunner, runtime: DockerRuntime
) -> None:
    pod = make_pod("web-pair", [{"name": "server", "image": WORKLOAD}, sleeper("client")])
    handle = await runner.run_pod(pod)
    assert handle.ip is not None
    server, client = handle.containers["server"], handle.containers["client"]

    # B fetches A over localhost; A answers with the pod name (its hostname) and the pod IP.
    body = await wait_for_http(runtime, client, "http://localhost:8080/")
    assert body.strip() == f"pod=web-pair ip={handle.ip}"

    for cid in (server, client):
        assert (await sh(runtime, cid, "hostname")).strip() == "web-pair"
        ip = await sh(runtime, cid, "ip -4 addr show dev eth0 | awk '/inet /{print $2}'")
        assert ip.strip().split("/")[0] == handle.ip
        resolv = await sh(runtime, cid, "cat /etc/resolv.conf")
        assert "nameserver 10.96.0.10" in resolv
        assert "search default.svc.cluster.local svc.cluster.local cluster.local" in resolv
        assert "options ndots:5" in resolv
        hosts = await sh(runtime, cid, "cat /etc/hosts")
        assert f"{handle.ip}\tweb-pair" in hosts

    # The pod's IPC namespace is shared too (same /dev/shm).
    await sh(runtime, server, "echo shm > /dev/shm/marker")
    assert (await sh(runtime, client, "cat /dev/shm/marker")).strip() == "shm"

    # Hairpin mode is on for the sandbox's bridge port.
    sandbox = await runtime.inspect_container(handle.sandbox_id)
    assert sandbox.pid
    iflink = int(Path(f"/proc/{sandbox.pid}/root/sys/class/net/eth0/iflink").read_text())
    veth = next(p for p in Path("/sys/class/net").iterdir() if int((p / "ifindex").read_text()) == iflink)
    assert (veth / "brport" / "hairpin_mode").read_text().strip() == "1"


async def test_pause_container_visible_in_docker_ps(
    runner: PodRunner, runtime: DockerRuntime, session_id: str
) -> None:
    pod = make_pod("visible", [sleeper("main")], namespace="team-a")
    handle = await runner.run_pod(pod)
    uid = pod["metadata"]["uid"]
    fmt = '{{.Image}}|{{.Label "io.kubernetes.pod.name"}}|{{.Label "io.kubernetes.pod.namespace"}}|{{.Label "io.kubernetes.container.name"}}|{{.Names}}'
    out = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label={LABEL_POD_UID}={uid}",
            "--filter",
            f"label={SESSION_LABEL}={session_id}",
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    rows = sorted(line.split("|") for line in out)
    assert [r[:4] for r in rows] == [
        [PAUSE_IMAGE, "visible", "team-a", "POD"],
        [WORKLOAD, "visible", "team-a", "main"],
    ]
    assert rows[0][4] == f"k8s_POD_visible_team-a_{uid}_0"

    listed = await runtime.list_containers(pod_uid=uid)
    sandbox = next(s for s in listed if s.is_sandbox)
    assert sandbox.id == handle.sandbox_id and sandbox.ip == handle.ip and sandbox.running
    assert sandbox.labels[LABEL_POD_NAME] == "visible" and sandbox.labels[LABEL_POD_NAMESPACE] == "team-a"

    # Another owner (another node or test session) does not see these containers.
    other = DockerRuntime(network=runtime.network, owner_labels={SESSION_LABEL: "someone-else"})
    try:
        assert await other.list_containers(pod_uid=uid) == []
    finally:
        await other.close()


async def test_shared_empty_dirs_disk_and_memory(runner: PodRunner, runtime: DockerRuntime) -> None:
    mounts = [{"name": "scratch", "mountPath": "/scratch"}, {"name": "cache", "mountPath": "/cache"}]
    pod = make_pod(
        "shared",
        [sleeper("writer", volumeMounts=mounts), sleeper("reader", volumeMounts=mounts)],
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        ],
    )
    handle = await runner.run_pod(pod)
    writer, reader = handle.containers["writer"], handle.containers["reader"]
    await sh(runtime, writer, "echo on-disk > /scratch/a; echo in-memory > /cache/b")
    assert (await sh(runtime, reader, "cat /scratch/a /cache/b")).split() == ["on-disk", "in-memory"]
    assert "tmpfs" in await sh(runtime, reader, "grep ' /cache ' /proc/mounts")

    # The memory volume survives an app-container restart: the sandbox holds it mounted.
    await runtime.stop_container(writer, 0)
    await runtime.remove_container(writer)
    await runtime.stop_container(reader, 0)
    await runtime.remove_container(reader)
    again = await runner.start_container(handle, pod, pod["spec"]["containers"][1], restart_count=1)
    assert (await sh(runtime, again, "cat /cache/b")).strip() == "in-memory"

    uid = pod["metadata"]["uid"]
    host_dir = pod_dir(runner.node.root, uid)
    assert (host_dir / "volumes" / "kubernetes.io~empty-dir" / "scratch" / "a").read_text() == "on-disk\n"
    await runner.kill_pod(uid, grace_period=0)
    assert not host_dir.exists()
    assert await runtime.list_containers(pod_uid=uid) == []
    assert runner.ipam is not None and runner.ipam.get(uid) is None


async def test_environment(runner: PodRunner, runtime: DockerRuntime, source: DictSource) -> None:
    source.config_maps[("default", "settings")] = {"data": {"COLOR": "blue", "SIZE": "L"}}
    source.secrets[("default", "creds")] = {"data": {"password": base64.b64encode(b"s3cret").decode()}}
    services = [
        {
            "metadata": {"name": "redis-master", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.11", "ports": [{"port": 6379, "protocol": "TCP"}]},
        }
    ]
    container = sleeper(
        "app",
        env=[
            {"name": "GREETING", "value": "hello"},
            {"name": "MESSAGE", "value": "$(GREETING) world"},
            {"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "MY_COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "COLOR"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
        ],
        envFrom=[{"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
        workingDir="/tmp",
    )
    pod = make_pod("envy", [container])
    handle = await runner.run_pod(pod, services=services)
    env = dict(
        line.split("=", 1)
        for line in (await sh(runtime, handle.containers["app"], "env")).splitlines()
        if "=" in line
    )
    assert env["GREETING"] == "hello" and env["MESSAGE"] == "hello world"
    assert env["MY_POD"] == "envy" and env["MY_IP"] == handle.ip
    assert env["MY_COLOR"] == "blue" and env["PASSWORD"] == "s3cret"
    assert env["CFG_COLOR"] == "blue" and env["CFG_SIZE"] == "L"
    assert env["REDIS_MASTER_SERVICE_HOST"] == "10.96.0.11" and env["REDIS_MASTER_SERVICE_PORT"] == "6379"
    assert env["REDIS_MASTER_PORT_6379_TCP"] == "tcp://10.96.0.11:6379"
    assert (await sh(runtime, handle.containers["app"], "pwd")).strip() == "/tmp"


async def test_exec_returns_output_and_exit_code(runner: PodRunner, runtime: DockerRuntime) -> None:
    handle = await runner.run_pod(make_pod("execs", [sleeper("main")]))
    result = await runtime.exec(handle.containers["main"], ["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (result.exit_code, result.stdout, result.stderr) == (7, b"out\n", b"err\n")
    ok = await runtime.exec(handle.containers["main"], ["true"])
    assert ok.exit_code == 0
    with pytest.raises(TimeoutError):
        await runtime.exec(handle.containers["main"], ["sleep", "30"], timeout=0.5)
    with pytest.raises(ContainerNotFound):
        await runtime.exec("does-not-exist-" + handle.sandbox_id[:8], ["true"])


async def test_logs_tail_timestamps_follow_and_previous(runner: PodRunner, runtime: DockerRuntime) -> None:
    script = "echo first; echo oops >&2; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
    container = {
        "name": "talker",
        "image": WORKLOAD,
        "command": ["sh", "-c", f"trap 'exit 0' TERM; {script}"],
    }
    pod = make_pod("chatty", [container])
    handle = await runner.run_pod(pod)
    cid = handle.containers["talker"]
    await asyncio.sleep(0.5)

    text = b"".join([chunk async for chunk in runtime.logs(cid)]).decode()
    assert (
        "first\n" in text and "oops\n" in text and "tick 0\n" in text
    )  # stdout and stderr interleave freely

    last = b"".join([chunk async for chunk in runtime.logs(cid, tail=1)]).decode()
    assert last.count("\n") == 1 and last.startswith("tick ")

    stamped = b"".join([chunk async for chunk in runtime.logs(cid, tail=2, timestamps=True)]).decode()
    assert all(line[:4].isdigit() and "T" in line.split(" ")[0] for line in stamped.splitlines())

    # follow: new lines keep arriving; stopping the iteration closes the stream.
    seen: list[str] = []
    stream = runtime.logs(cid, follow=True, tail=0)
    async for chunk in stream:
        seen.extend(chunk.decode().splitlines())
        if len(seen) >= 3:
            break
    assert isinstance(stream, AsyncGenerator)  # so that stopping early can close it
    await stream.aclose()
    assert all(line.startswith("tick ") for line in seen)

    # A restarted container: `logs --previous` is the one with the lower restart count.
    await runtime.stop_container(cid, 5)
    new = await runner.start_container(handle, pod, container, restart_count=1)
    states = await runtime.list_containers(pod_uid=pod["metadata"]["uid"])
    current = container_for_logs(states, pod["metadata"]["uid"], "talker")
    previous = container_for_logs(states, pod["metadata"]["uid"], "talker", previous=True)
    assert current is not None and current.id == new and current.restart_count == 1
    assert previous is not None and previous.id == cid and previous.status == "exited"
    old_text = b"".join([chunk async for chunk in runtime.logs(previous.id)]).decode()
    assert "first\n" in old_text


async def test_graceful_stop_honours_sigterm(runner: PodRunner, runtime: DockerRuntime) -> None:
    polite = {
        "name": "polite",
        "image": WORKLOAD,
        "command": ["sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.1; done"],
    }
    stubborn = {
        "name": "stubborn",
        "image": WORKLOAD,
        "command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"],
    }
    handle = await runner.run_pod(make_pod("stopper", [polite, stubborn]))
    await asyncio.sleep(0.3)

    await runtime.stop_container(handle.containers["polite"], 30)
    state = await runtime.inspect_container(handle.containers["polite"])
    assert state.status == "exited" and state.exit_code == 0  # it handled SIGTERM; no SIGKILL was needed
    assert b"got TERM" in b"".join([c async for c in runtime.logs(state.id)])

    await runtime.stop_container(handle.containers["stubborn"], 1)
    state = await runtime.inspect_container(handle.containers["stubborn"])
    assert state.status == "exited" and state.exit_code == 137  # SIGKILL after the grace period
    assert state.finished_at is not None and state.started_at is not None

    # The pause container itself exits 0 on SIGTERM.
    await runtime.stop_container(handle.sandbox_id, 30)
    sandbox = await runtime.inspect_container(handle.sandbox_id)
    assert sandbox.status == "exited" and sandbox.exit_code == 0


async def test_shared_pid_namespace_and_security_context(runner: PodRunner, runtime: DockerRuntime) -> None:
    pod = make_pod(
        "pids",
        [sleeper("a"), sleeper("b", securityContext={"runAsUser": 1234, "runAsGroup": 5678})],
        shareProcessNamespace=True,
    )
    handle = await runner.run_pod(pod)
    processes = await sh(runtime, handle.containers["a"], "ps -o pid,user,args")
    assert "/pause" in processes  # the pause process is PID 1 of the shared namespace
    assert "1234" in processes
    assert (await sh(runtime, handle.containers["b"], "id -u; id -g")).split() == ["1234", "5678"]


async def test_configmap_secret_downward_volumes_and_update(
    runner: PodRunner, runtime: DockerRuntime, source: DictSource
) -> None:
    source.config_maps[("default", "site")] = {"data": {"index.html": "v1", "other": "x"}}
    source.secrets[("default", "tls")] = {"data": {"key": base64.b64encode(b"private").decode()}}
    mounts = [
        {"name": "site", "mountPath": "/etc/site"},
        {"name": "tls", "mountPath": "/etc/tls"},
        {"name": "info", "mountPath": "/etc/podinfo"},
    ]
    pod = make_pod(
        "files",
        [sleeper("main", volumeMounts=mounts)],
        volumes=[
            {
                "name": "site",
                "configMap": {"name": "site", "items": [{"key": "index.html", "path": "html/index.html"}]},
            },
            {"name": "tls", "secret": {"secretName": "tls", "defaultMode": 0o400}},
            {
                "name": "info",
                "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]},
            },
        ],
    )
    handle = await runner.run_pod(pod)
    cid = handle.containers["main"]
    assert (await sh(runtime, cid, "cat /etc/site/html/index.html")) == "v1"
    assert (await sh(runtime, cid, "test -e /etc/site/other || echo absent")).strip() == "absent"
    assert (await sh(runtime, cid, "cat /etc/tls/key; echo; stat -L -c %a /etc/tls/key")).split() == [
        "private",
        "400",
    ]
    assert (await sh(runtime, cid, "cat /etc/podinfo/labels")) == 'app="files"'
    assert (await runtime.exec(cid, ["sh", "-c", "echo x > /etc/site/new"])).exit_code != 0  # read-only

    source.config_maps[("default", "site")] = {"data": {"index.html": "v2"}}
    assert refresh_projected(pod, root=runner.node.root, source=source) == ["site"]
    assert (await sh(runtime, cid, "cat /etc/site/html/index.html")) == "v2"
    assert refresh_projected(pod, root=runner.node.root, source=source) == []


async def test_pvc_volume_outlives_the_pod(
    runner: PodRunner, runtime: DockerRuntime, session_id: str
) -> None:
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}]
    mounts = [{"name": "data", "mountPath": "/data"}]
    first = make_pod("db-0", [sleeper("db", volumeMounts=mounts)], volumes=volumes)
    handle = await runner.run_pod(first)
    await sh(runtime, handle.containers["db"], "echo persisted > /data/f")
    await runner.kill_pod(first["metadata"]["uid"], grace_period=0)

    second = make_pod("db-0", [sleeper("db", volumeMounts=mounts)], volumes=volumes)
    handle = await runner.run_pod(second)
    assert (await sh(runtime, handle.containers["db"], "cat /data/f")).strip() == "persisted"
    await runner.kill_pod(second["metadata"]["uid"], grace_period=0)
    await runtime.remove_volume(f"minik-test-{session_id}-pvc-default-db")


async def test_limits_stats_and_oom(runner: PodRunner, runtime: DockerRuntime) -> None:
    hog = {
        "name": "hog",
        "image": WORKLOAD,
        "resources": {"limits": {"memory": "16Mi", "cpu": "500m"}},
        "command": ["sh", "-c", "sleep 0.5; head -c 200000000 /dev/zero | tr '\\0' a | sort > /dev/null"],
    }
    pod = make_pod("limits", [sleeper("busy", resources={"limits": {"memory": "64Mi", "cpu": "250m"}}), hog])
    handle = await runner.run_pod(pod)
    busy = handle.containers["busy"]
    attrs = runtime.api.inspect_container(busy)["HostConfig"]
    assert attrs["Memory"] == 64 * 1024 * 1024 and attrs["NanoCpus"] == 250_000_000

    first = await runtime.stats(busy)
    await asyncio.sleep(0.5)
    second = await runtime.stats(busy)
    assert second.memory_usage_bytes > 0 and second.memory_working_set_bytes > 0
    assert second.cpu_usage_core_nanoseconds >= first.cpu_usage_core_nanoseconds
    assert cpu_nano_cores(first, second) >= 0

    code = await runtime.wait_container(handle.containers["hog"], timeout=60)
    state = await runtime.inspect_container(handle.containers["hog"])
    assert code == 137 and state.oom_killed


async def test_event_stream_reports_lifecycle(runner: PodRunner, runtime: DockerRuntime) -> None:
    seen: list[tuple[str, str]] = []
    started = asyncio.Event()

    async def watch() -> None:
        stream = runtime.events()
        started.set()
        async for event in stream:
            seen.append((event.action, event.container_name))
            if (event.action, event.container_name) == ("die", "quick"):
                return

    watcher = asyncio.create_task(watch())
    await started.wait()
    await asyncio.sleep(0.3)  # let the stream connect
    pod = make_pod("evented", [{"name": "quick", "image": WORKLOAD, "command": ["sh", "-c", "exit 3"]}])
    await runner.run_pod(pod)
    await asyncio.wait_for(watcher, 30)
    assert ("start", "POD") in seen and ("start", "quick") in seen and ("die", "quick") in seen


async def test_init_containers_run_first_in_order(runner: PodRunner, runtime: DockerRuntime) -> None:
    mounts = [{"name": "work", "mountPath": "/work"}]
    pod = make_pod(
        "initd",
        [sleeper("main", volumeMounts=mounts)],
        volumes=[{"name": "work", "emptyDir": {}}],
        initContainers=[
            {
                "name": "one",
                "image": WORKLOAD,
                "command": ["sh", "-c", "echo one >> /work/order"],
                "volumeMounts": mounts,
            },
            {
                "name": "two",
                "image": WORKLOAD,
                "command": ["sh", "-c", "echo two >> /work/order"],
                "volumeMounts": mounts,
            },
        ],
    )
    handle = await runner.run_pod(pod)
    assert (await sh(runtime, handle.containers["main"], "cat /work/order")).split() == ["one", "two"]


async def test_ipam_reconciles_against_running_sandboxes(
    runner: PodRunner, runtime: DockerRuntime, ipam: IPAM, tmp_path: Path
) -> None:
    handle = await runner.run_pod(make_pod("recon", [sleeper("main")]))
    # A kubelet that lost its state file rebuilds it from the sandboxes' labels and IPs.
    fresh = IPAM(ipam.cidr, tmp_path / "lost.json")
    fresh.allocate("ghost-pod")
    live = {s.pod_uid: s.ip for s in await runtime.list_containers(sandboxes=True) if s.ip}
    released = fresh.reconcile(live)
    assert "ghost-pod" in released
    assert fresh.get(handle.uid) == handle.ip
    assert fresh.allocate("new-pod") != handle.ip


async def test_host_port_and_host_network(runner: PodRunner, runtime: DockerRuntime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = {"name": "server", "image": WORKLOAD, "ports": [{"containerPort": 8080, "hostPort": port}]}
    handle = await runner.run_pod(make_pod("ported", [server]))
    body = ""
    for _ in range(100):  # traffic to loopback only
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            body = (await asyncio.wait_for(reader.read(), 5)).decode()
            writer.close()
            if "200 OK" in body:
                break
        except OSError:
            pass
        await asyncio.sleep(0.1)
    assert f"pod=ported ip={handle.ip}" in body

    host = await runner.run_pod(make_pod("on-host", [sleeper("main")], hostNetwork=True))
    assert host.ip is None
    assert (await sh(runtime, host.containers["main"], "hostname")).strip() == socket.gethostname()
