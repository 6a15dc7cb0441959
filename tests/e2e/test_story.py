"""Issue 9: the end-to-end story, walking the concepts of the mission in order.

Each step is driven through ``minikctl`` (the project's own client) and, where it is cheap,
checked again through the real ``kubectl``: pods (shared namespaces, the pause container),
a Deployment behind a Service (ClusterIP, NodePort, DNS), self-healing and EndpointSlices,
a rolling update without a failed request and a rollback, a StatefulSet's stable identity
and data, Service environment variables, and a node's death. The tests of this module build
on each other and run in file order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.cluster import local, supervisor
from minik.cluster.crashloop import HELD
from tests.e2e.conftest import Cluster
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

NS = "e2e-story"
DOMAIN = "cluster.local"


# -- helpers -----------------------------------------------------------------------------------


def minikctl(
    cluster: Cluster, *args: str, check: bool = True, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "minik.cli.main", "--kubeconfig", str(cluster.kubeconfig), *args]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, cwd=str(local.REPO)
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"minikctl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


def minikctl_apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    # One document per object (JSON is YAML): kubectl's validation of a ``kind: List`` needs
    # /openapi/v2, which minik does not serve.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("\n---\n".join(json.dumps(o) for o in objects))
        f.flush()
        minikctl(cluster, "apply", "-f", f.name)


def get_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("-n", NS, "get", *args, "-o", "json").stdout)


def ready_pods(cluster: Cluster, selector: str) -> dict[str, dict[str, Any]]:
    out = {}
    for pod in get_json(cluster, "pods", "-l", selector)["items"]:
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
        if conds.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
            out[pod["metadata"]["name"]] = pod
    return out


def slice_ips(cluster: Cluster, svc: str) -> set[str]:
    ips: set[str] = set()
    for sl in get_json(cluster, "endpointslices", "-l", f"kubernetes.io/service-name={svc}")["items"]:
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True):
                ips.update(ep.get("addresses") or [])
    return ips


def pod_exec(cluster: Cluster, pod: str, script: str, container: str | None = None) -> str:
    args = ["exec", "-n", NS, pod, *(["-c", container] if container else []), "--", "sh", "-c", script]
    return minikctl(cluster, *args).stdout


def workload_container(name: str, version: str = "1") -> dict[str, Any]:
    return {
        "name": name,
        "image": "minik/workload:1.0",
        "ports": [{"containerPort": 8080}],
        "env": [{"name": "VERSION", "value": version}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1},
        # Stay up while the proxy stops sending new connections here (no failed request
        # during a rollout): the endpoint goes away first, the process a moment later.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "2"]}}},
    }


def hello_deployment(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "namespace": NS},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "hello"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "hello"}},
                "spec": {
                    "terminationGracePeriodSeconds": 10,
                    "containers": [workload_container("hello", version)],
                },
            },
        },
    }


@pytest.fixture(scope="module")
def story(cluster: Cluster) -> Cluster:
    cluster.kubectl("create", "namespace", NS)
    minikctl(cluster, "run", "client", "-n", NS, "--image", "minik/workload:1.0")
    cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
    return cluster


# -- pods -----------------------------------------------------------------------------------


def test_1_a_pod_shares_one_network_and_hostname_and_has_a_pause_container(story: Cluster) -> None:
    cluster = story
    minikctl_apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "duo", "namespace": NS},
            "spec": {
                "containers": [
                    {"name": "web", "image": "minik/workload:1.0"},
                    {"name": "sidecar", "image": "minik/workload:1.0", "command": ["sleep", "3600"]},
                ]
            },
        },
    )
    cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/duo", "--timeout=120s")
    pod = get_json(cluster, "pod", "duo")
    pod_ip = pod["status"]["podIP"]
    # localhost: the sidecar reaches the web container's port without any address of its own.
    answer = wait_until(
        lambda: pod_exec(
            cluster, "duo", "timeout 3 wget -qO- http://localhost:8080/ || true", "sidecar"
        ).strip(),
        timeout=20,
        interval=0.5,
        message="localhost:8080",
    )
    assert answer == f"pod=duo ip={pod_ip}", answer
    # Same IP and hostname (= the pod's name) in both containers.
    for container in ("web", "sidecar"):
        addr = pod_exec(cluster, "duo", "ip -4 -o addr show eth0", container)
        assert f"inet {pod_ip}/" in addr, (container, addr)
        assert pod_exec(cluster, "duo", "hostname", container).strip() == "duo"
    # Real kubectl sees the same thing.
    assert cluster.kubectl("-n", NS, "exec", "duo", "-c", "sidecar", "--", "hostname").stdout.strip() == "duo"
    # The pause container, first, in docker ps and in minikctl inspect pod.
    uid = pod["metadata"]["uid"]
    names = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label=io.kubernetes.pod.uid={uid}",
            "--format",
            '{{.Label "io.kubernetes.container.name"}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(names) == ["POD", "sidecar", "web"], names
    inspect = minikctl(cluster, "inspect", "pod", "duo", "-n", NS).stdout
    assert "POD" in inspect and "sidecar" in inspect and "web" in inspect, inspect


# -- a Deployment behind a Service ------------------------------------------------------------


def test_2_a_deployment_behind_a_service_by_cluster_ip_node_port_and_dns(story: Cluster) -> None:
    cluster = story
    minikctl_apply(cluster, hello_deployment("1"))
    minikctl(cluster, "rollout", "status", "-n", NS, "deployment/hello", "--timeout", "120")
    minikctl(cluster, "expose", "-n", NS, "deployment/hello", "--port", "80", "--target-port", "8080")
    minikctl(
        cluster,
        "expose",
        "-n",
        NS,
        "deployment/hello",
        "--port",
        "80",
        "--target-port",
        "8080",
        "--name",
        "hello-np",
        "--type",
        "NodePort",
    )
    pods = set(ready_pods(cluster, "app=hello"))
    assert len(pods) == 3
    ip = get_json(cluster, "service", "hello")["spec"]["clusterIP"]
    node_port = get_json(cluster, "service", "hello-np")["spec"]["ports"][0]["nodePort"]
    node = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
    node_ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
    for url in (
        f"http://{ip}/",
        f"http://{node_ip}:{node_port}/",
        f"http://hello.{NS}.svc.{DOMAIN}/",
        "http://hello/",
    ):

        def seen(url: str = url) -> set[str] | None:
            script = f"for i in $(seq 15); do timeout 2 wget -qO- {url} | cut -d' ' -f1; done"
            got = set(pod_exec(cluster, "client", script).split())
            return got if got == {f"pod={p}" for p in pods} else None

        wait_until(seen, timeout=30, interval=0.5, message=f"every replica through {url}")
    # From the host too, through real kubectl's view of the Service.
    assert cluster.kubectl("-n", NS, "get", "svc", "hello", "-o", "jsonpath={.spec.clusterIP}").stdout == ip
    assert httpx.get(f"http://{ip}/", timeout=3).text.startswith("pod=hello-")


def test_3_a_deleted_pod_is_replaced_and_the_endpoint_slice_follows(story: Cluster) -> None:
    cluster = story
    before = ready_pods(cluster, "app=hello")
    victim = sorted(before)[0]
    victim_ip = before[victim]["status"]["podIP"]
    minikctl(cluster, "delete", "pod", victim, "-n", NS)

    def replaced() -> dict[str, dict[str, Any]] | None:
        now = ready_pods(cluster, "app=hello")
        return now if len(now) == 3 and victim not in now else None

    now = wait_until(replaced, timeout=60, interval=0.5, message="a replacement pod")
    want = {p["status"]["podIP"] for p in now.values()}
    wait_until(
        lambda: slice_ips(cluster, "hello") == want,
        timeout=20,
        interval=0.2,
        message=f"the EndpointSlice following the pods ({want})",
    )
    assert victim_ip not in want or victim_ip in {p["status"]["podIP"] for p in now.values()}


# -- rolling update and rollback -----------------------------------------------------------------


class Poller(threading.Thread):
    """Requests to the ClusterIP from the host, one fresh connection each, counted."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.ok, self.failed, self.errors = url, threading.Event(), 0, 0, []  # type: ignore[var-annotated]
        self.versions: set[str] = set()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                r = httpx.get(self.url, timeout=3, headers={"Connection": "close"})
                if r.status_code == 200:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(r.status_code)
            except httpx.HTTPError as e:
                self.failed += 1
                self.errors.append(repr(e))
            time.sleep(0.05)


def versions(cluster: Cluster) -> set[str]:
    out = set()
    for name in ready_pods(cluster, "app=hello"):
        done = minikctl(cluster, "exec", "-n", NS, name, "--", "sh", "-c", "echo $VERSION", check=False)
        out.add(done.stdout.strip() if done.returncode == 0 else "?")
    return out


def test_4_a_rollout_without_a_failed_request_then_a_rollback(story: Cluster) -> None:
    cluster = story
    ip = get_json(cluster, "service", "hello")["spec"]["clusterIP"]
    poller = Poller(f"http://{ip}/")
    poller.start()
    try:
        time.sleep(1)  # a baseline of successful requests before the change
        minikctl_apply(cluster, hello_deployment("2"))
        minikctl(cluster, "rollout", "status", "-n", NS, "deployment/hello", "--timeout", "180")
        wait_until(
            lambda: versions(cluster) == {"2"} and len(ready_pods(cluster, "app=hello")) == 3,
            timeout=60,
            interval=0.5,
            message="every pod at version 2",
        )
        time.sleep(3)  # the old pods' preStop + the proxy's last sync
    finally:
        poller.stop.set()
        poller.join(10)
    assert poller.ok > 20, (poller.ok, poller.failed)
    assert poller.failed == 0, (
        f"{poller.failed} of {poller.ok + poller.failed} requests failed: {poller.errors[:10]}"
    )

    history = minikctl(cluster, "rollout", "history", "-n", NS, "deployment/hello").stdout
    assert "2" in history, history
    minikctl(cluster, "rollout", "undo", "-n", NS, "deployment/hello")
    minikctl(cluster, "rollout", "status", "-n", NS, "deployment/hello", "--timeout", "180")
    wait_until(
        lambda: versions(cluster) == {"1"} and len(ready_pods(cluster, "app=hello")) == 3,
        timeout=60,
        interval=0.5,
        message="every pod back at version 1",
    )
    # Real kubectl reads the same history and agrees the rollout is complete.
    cluster.kubectl("-n", NS, "rollout", "status", "deployment/hello", "--timeout=60s")
    assert "REVISION" in cluster.kubectl("-n", NS, "rollout", "history", "deployment/hello").stdout


# -- a StatefulSet keeps its name and its data ------------------------------------------------------


def test_5_a_statefulset_keeps_web_1s_name_and_data(story: Cluster) -> None:
    cluster = story
    labels = {"app": "web"}
    minikctl_apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 8080}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "serviceName": "web",
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "minik/workload:1.0",
                                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "data"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Mi"}},
                        },
                    }
                ],
            },
        },
    )
    wait_until(
        lambda: {"web-0", "web-1"} <= set(ready_pods(cluster, "app=web")),
        timeout=120,
        interval=0.5,
        message="web-0 and web-1 ready",
    )
    old = get_json(cluster, "pod", "web-1")
    old_uid, old_node = old["metadata"]["uid"], old["spec"]["nodeName"]
    pod_exec(cluster, "web-1", "echo remembered-by-web-1 > /data/note && sync")
    # Cordon web-1's node: its replacement must land on the other node and still find
    # the claim's data there (the claim's storage is not tied to a node).
    cluster.kubectl("cordon", old_node)
    try:
        minikctl(cluster, "delete", "pod", "web-1", "-n", NS)

        def new_web_1() -> bool:
            pods = ready_pods(cluster, "app=web")
            return "web-1" in pods and pods["web-1"]["metadata"]["uid"] != old_uid

        wait_until(new_web_1, timeout=120, interval=0.5, message="a new web-1")
    finally:
        cluster.kubectl("uncordon", old_node)
    assert get_json(cluster, "pod", "web-1")["spec"]["nodeName"] != old_node
    assert pod_exec(cluster, "web-1", "cat /data/note").strip() == "remembered-by-web-1"
    assert pod_exec(cluster, "web-1", "hostname").strip() == "web-1"
    # Its stable DNS name points at the new pod.
    new_ip = get_json(cluster, "pod", "web-1")["status"]["podIP"]
    out = wait_until(
        lambda: (
            (
                o := minikctl(
                    cluster,
                    "exec",
                    "-n",
                    NS,
                    "client",
                    "--",
                    "nslookup",
                    f"web-1.web.{NS}.svc.{DOMAIN}",
                    check=False,
                ).stdout
            )
            and new_ip in o
            and o
        ),
        timeout=20,
        interval=0.5,
        message="web-1's DNS name → its new IP",
    )
    assert new_ip in out
    assert cluster.kubectl("-n", NS, "get", "pvc", "data-web-1").returncode == 0


# -- service discovery by environment ------------------------------------------------------------


def test_6_service_variables_in_a_pod_created_after_the_service(story: Cluster) -> None:
    cluster = story
    minikctl_apply(
        cluster,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "redis-master", "namespace": NS},
            "spec": {"selector": {"app": "redis"}, "ports": [{"port": 6379}]},
        },
    )
    ip = get_json(cluster, "service", "redis-master")["spec"]["clusterIP"]
    minikctl(cluster, "run", "envpod", "-n", NS, "--image", "minik/workload:1.0")
    cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/envpod", "--timeout=120s")
    env = pod_exec(cluster, "envpod", "env")
    assert f"REDIS_MASTER_SERVICE_HOST={ip}" in env, env
    assert "REDIS_MASTER_SERVICE_PORT=6379" in env, env
    assert "HELLO_SERVICE_HOST=" in env, env
    # The client pod was created before these Services: it has none of their variables.
    assert "REDIS_MASTER_SERVICE_HOST" not in pod_exec(cluster, "client", "env")


# -- a node dies ------------------------------------------------------------------------------------


def test_7_a_dead_nodes_pods_come_back_on_the_other_node(story: Cluster) -> None:
    cluster = story
    s = cluster.settings
    layout = local.Layout(s.home)
    tolerations = [
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}
        for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")
    ]
    minikctl_apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "survivor", "namespace": NS},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "survivor"}},
                "template": {
                    "metadata": {"labels": {"app": "survivor"}},
                    "spec": {
                        "tolerations": tolerations,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "s", "image": "minik/workload:1.0"}],
                    },
                },
            },
        },
    )
    minikctl(cluster, "rollout", "status", "-n", NS, "deployment/survivor", "--timeout", "120")
    pods = ready_pods(cluster, "app=survivor")
    victim_node = sorted(p["spec"]["nodeName"] for p in pods.values())[0]
    other = next(s.node_name(i) for i in range(s.nodes) if s.node_name(i) != victim_node)
    name = f"kubelet-{victim_node}"
    # A kubelet killed with SIGKILL is back within seconds (the supervisor restarts it):
    # hold it, so that its SIGKILL sticks and the node stays dead.
    supervisor.hold(layout.run, name, kill=True)
    supervisor.wait_for_state(layout.run, name, {HELD}, timeout=30)
    killed = time.monotonic()
    try:

        def on_other_node() -> bool:
            now = ready_pods(cluster, "app=survivor")
            return len(now) == 2 and all(p["spec"]["nodeName"] == other for p in now.values())

        wait_until(on_other_node, timeout=90, interval=1, message=f"survivor pods back on {other}")
        print(f"pods back on {other} {time.monotonic() - killed:.1f}s after {victim_node}'s kubelet died")
        node = json.loads(cluster.kubectl("get", "node", victim_node, "-o", "json").stdout)
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] != "True", ready
        # The minikctl view agrees.
        assert other in minikctl(cluster, "get", "pods", "-n", NS, "-l", "app=survivor", "-o", "wide").stdout
    finally:
        supervisor.release(layout.run, name)
        wait_until(
            lambda: local._nodes_ready(local.API(s.url, layout.pki / "ca.crt", cluster.token), s),
            timeout=60,
            interval=1,
            message=f"{victim_node} Ready again",
        )


def test_8_cleanup(story: Cluster) -> None:
    story.kubectl("delete", "namespace", NS, "--wait=false")
    assert Path(story.kubeconfig).exists()
