"""DaemonSets: node eligibility (unit), then one pod per (fake) Node against the real apiserver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.controllers.daemonset import (
    DaemonSetController,
    daemon_tolerations,
    node_should_run,
    pin_to_node,
    target_node,
)
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import Harness
from tests.helpers import wait_until

MERGE = {"Content-Type": "application/merge-patch+json"}

# -- unit ------------------------------------------------------------------------------------------


def node(name: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def ds_with(**pod_spec: Any) -> Obj:
    return {
        "spec": {"template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [], **pod_spec}}}
    }


def test_daemon_pods_tolerate_node_conditions() -> None:
    tolerations = daemon_tolerations({"tolerations": [{"key": "x", "operator": "Exists"}]})
    keys = {(t["key"], t.get("effect")) for t in tolerations}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in keys
    assert all("tolerationSeconds" not in t for t in tolerations)  # never evicted for node trouble
    assert any(t["key"] == "x" for t in tolerations)
    host_net = daemon_tolerations({"hostNetwork": True})
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") in {
        (t["key"], t["effect"]) for t in host_net
    }


def test_node_eligibility() -> None:
    plain = ds_with()
    assert node_should_run(plain, node("n")) == (True, True)
    assert node_should_run(ds_with(nodeSelector={"disk": "ssd"}), node("n")) == (False, False)
    assert node_should_run(ds_with(nodeSelector={"disk": "ssd"}), node("n", {"disk": "ssd"})) == (True, True)
    # NoSchedule: no new pod, but a running one may stay; NoExecute: it must go.
    assert node_should_run(plain, node("n", taints=[{"key": "k", "effect": "NoSchedule"}])) == (False, True)
    assert node_should_run(plain, node("n", taints=[{"key": "k", "effect": "NoExecute"}])) == (False, False)
    assert node_should_run(plain, node("n", taints=[{"key": "k", "effect": "PreferNoSchedule"}])) == (
        True,
        True,
    )
    # Cordoned and unreachable nodes still run daemons.
    cordoned = node(
        "n",
        taints=[
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
        ],
    )
    assert node_should_run(plain, cordoned) == (True, True)
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["special"]}]},
                ]
            }
        }
    }
    assert node_should_run(ds_with(affinity=affinity), node("n", {"zone": "b"}))[0]
    assert node_should_run(ds_with(affinity=affinity), node("special"))[0]
    assert not node_should_run(ds_with(affinity=affinity), node("n", {"zone": "c"}))[0]
    assert not node_should_run(ds_with(nodeName="other"), node("n"))[0]


def test_pinning_replaces_required_affinity() -> None:
    spec: dict[str, Any] = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": []}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}],
            }
        }
    }
    pin_to_node(spec, "n7")
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    assert spec["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 1}
    ]
    assert target_node({"spec": spec}) == "n7"
    assert target_node({"spec": {**spec, "nodeName": "bound"}}) == "bound"


# -- integration -----------------------------------------------------------------------------------


class Nodes:
    """Creates fake Node objects (cluster-scoped!) labelled for this test, and removes them."""

    def __init__(self, api: httpx.Client, ns: str) -> None:
        self.api = api
        self.ns = ns
        self.names: list[str] = []

    def add(
        self, suffix: str, labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None
    ) -> str:
        name = f"{self.ns}-{suffix}"
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"minik-test": self.ns, **(labels or {})}},
            "spec": {"taints": taints or []},
        }
        self.api.post("/api/v1/nodes", json=body).raise_for_status()
        self.names.append(name)
        return name

    def cleanup(self) -> None:
        for name in self.names:
            self.api.delete(f"/api/v1/nodes/{name}")


@pytest.fixture
def nodes(api: httpx.Client, ns: str) -> Iterator[Nodes]:
    made = Nodes(api, ns)
    try:
        yield made
    finally:
        made.cleanup()


def daemonset(name: str, ns: str, **extra: Any) -> dict[str, Any]:
    labels = {"app": name}
    pod_spec = {
        "containers": [{"name": "agent", "image": "busybox:1.36"}],
        "nodeSelector": {"minik-test": ns},
    }
    pod_spec.update(extra.pop("pod_spec", {}))
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
            **extra,
        },
    }


def ds_pods(api: httpx.Client, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ds_status(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    got: dict[str, Any] = api.get(f"/apis/apps/v1/namespaces/{ns}/daemonsets/{name}").json().get("status", {})
    return got


def start(apiserver: APIServerProcess, ns: str, **options: Any) -> Harness:
    return Harness(apiserver.kubeconfig, ns, [lambda c, f, r: DaemonSetController(c, f, r)], **options)


@pytest.mark.integration
def test_one_pod_per_eligible_node(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, nodes: Nodes
) -> None:
    n1, n2 = nodes.add("n1"), nodes.add("n2")
    tainted = nodes.add("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    with start(apiserver, ns):
        api.post(f"/apis/apps/v1/namespaces/{ns}/daemonsets", json=daemonset("agent", ns)).raise_for_status()

        def placed() -> dict[str, str]:
            return {p["spec"].get("nodeName", ""): p["metadata"]["name"] for p in ds_pods(api, ns)}

        wait_until(lambda: set(placed()) == {n1, n2}, timeout=20, message="a pod on n1 and n2")
        wait_until(lambda: ds_status(api, ns, "agent").get("numberReady") == 2, timeout=20, message="2 ready")
        status = ds_status(api, ns, "agent")
        assert status["desiredNumberScheduled"] == 2 and status["currentNumberScheduled"] == 2
        assert status["numberMisscheduled"] == 0 and status["updatedNumberScheduled"] == 2
        assert status["numberAvailable"] == 2 and "numberUnavailable" not in status
        pod = ds_pods(api, ns)[0]
        assert target_node(pod) == pod["spec"]["nodeName"]  # pinned by affinity, bound by "the scheduler"
        keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
        assert pod["metadata"]["labels"]["controller-revision-hash"]

        # A new node gets a pod; a node that stops matching loses its pod.
        n3 = nodes.add("n3")
        wait_until(lambda: n3 in placed(), timeout=20, message="pod on the new node")
        api.patch(
            f"/api/v1/nodes/{n1}", json={"metadata": {"labels": {"minik-test": "elsewhere"}}}, headers=MERGE
        ).raise_for_status()
        wait_until(lambda: set(placed()) == {n2, n3}, timeout=20, message="pod removed from n1")
        wait_until(
            lambda: ds_status(api, ns, "agent").get("desiredNumberScheduled") == 2,
            timeout=20,
            message="status",
        )
        assert tainted not in placed()

        # A daemon that tolerates the taint runs there too.
        body = daemonset(
            "gpu-agent",
            ns,
            pod_spec={
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
                ]
            },
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/daemonsets", json=body).raise_for_status()
        wait_until(
            lambda: ds_status(api, ns, "gpu-agent").get("currentNumberScheduled") == 3,
            timeout=20,
            message="gpu-agent on n2, n3 and the tainted node",
        )

        def gpu_nodes() -> set[str | None]:
            return {
                p["spec"].get("nodeName")
                for p in ds_pods(api, ns)
                if p["metadata"]["labels"]["app"] == "gpu-agent"
            }

        wait_until(lambda: gpu_nodes() == {n2, n3, tainted}, timeout=20, message="gpu-agent pods bound")


class Availability:
    """On every pod event: how many of ``nodes`` lack a ready, live daemon pod."""

    def __init__(self, nodes: list[str]) -> None:
        self.nodes = nodes
        self.armed = False
        self.worst = 0
        self.events = 0
        self.lock = threading.Lock()

    def __call__(self, factory: SharedInformerFactory) -> None:
        informer = factory.informer(PODS)

        def check(*_: Any) -> None:
            if not self.armed:
                return
            ready_on = {
                p["spec"].get("nodeName")
                for p in informer.list()
                if not p["metadata"].get("deletionTimestamp")
                and any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in p.get("status", {}).get("conditions") or []
                )
            }
            with self.lock:
                self.events += 1
                self.worst = max(self.worst, len([n for n in self.nodes if n not in ready_on]))

        informer.add_event_handler(on_add=check, on_update=check, on_delete=check)


@pytest.mark.integration
def test_rolling_update_respects_max_unavailable(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, nodes: Nodes
) -> None:
    names = [nodes.add(f"r{i}") for i in range(3)]
    watch = Availability(names)
    with start(apiserver, ns, observers=[watch], ready_delay=0.2):
        body = daemonset(
            "roll", ns, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/daemonsets", json=body).raise_for_status()
        wait_until(
            lambda: ds_status(api, ns, "roll").get("numberAvailable") == 3, timeout=20, message="3 available"
        )
        old_hash = ds_pods(api, ns)[0]["metadata"]["labels"]["controller-revision-hash"]

        watch.armed = True
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/daemonsets/roll",
            json={
                "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "busybox:1.37"}]}}}
            },
            headers=MERGE,
        ).raise_for_status()

        def done() -> bool:
            st = ds_status(api, ns, "roll")
            pods = ds_pods(api, ns)
            return (
                st.get("updatedNumberScheduled") == 3
                and st.get("numberAvailable") == 3
                and len(pods) == 3
                and all(p["spec"]["containers"][0]["image"] == "busybox:1.37" for p in pods)
            )

        wait_until(done, timeout=40, message="all nodes updated")
        assert {p["metadata"]["labels"]["controller-revision-hash"] for p in ds_pods(api, ns)} != {old_hash}
        revisions = api.get(f"/apis/apps/v1/namespaces/{ns}/controllerrevisions").json()["items"]
        assert sorted(r["revision"] for r in revisions) == [1, 2]
    assert watch.events > 0
    assert watch.worst <= 1, f"{watch.worst} nodes were without a ready daemon pod at once"


@pytest.mark.integration
def test_surge_update_starts_the_new_pod_first(
    apiserver: APIServerProcess, api: httpx.Client, ns: str, nodes: Nodes
) -> None:
    names = [nodes.add(f"s{i}") for i in range(2)]
    watch = Availability(names)
    with start(apiserver, ns, observers=[watch], ready_delay=0.2):
        body = daemonset(
            "surge",
            ns,
            updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/daemonsets", json=body).raise_for_status()
        wait_until(
            lambda: ds_status(api, ns, "surge").get("numberAvailable") == 2, timeout=20, message="2 available"
        )
        watch.armed = True
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/daemonsets/surge",
            json={
                "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "busybox:1.37"}]}}}
            },
            headers=MERGE,
        ).raise_for_status()
        wait_until(
            lambda: (
                len(ds_pods(api, ns)) == 2
                and all(p["spec"]["containers"][0]["image"] == "busybox:1.37" for p in ds_pods(api, ns))
                and ds_status(api, ns, "surge").get("numberAvailable") == 2
            ),
            timeout=40,
            message="surged update done",
        )
    assert watch.worst == 0, "with maxUnavailable 0 every node keeps a ready daemon pod"
