"""StatefulSets against the real apiserver: ordered start and stop, stable storage, partitions."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.controllers.statefulset import StatefulSetController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import PENDING, Harness
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

MERGE = {"Content-Type": "application/merge-patch+json"}


def statefulset(name: str, replicas: int, *, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "volumeMounts": [{"name": "www", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "www"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
            **spec,
        },
    }


def _ready(p: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in p.get("status", {}).get("conditions") or []
    )


class OrderLog:
    """Records, on the harness loop, the order pods appear and start terminating,
    and flags any pod created while its predecessor was not Ready."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.created: list[str] = []
        self.terminating: list[str] = []
        self.violations: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, factory: SharedInformerFactory) -> None:
        informer = factory.informer(PODS)

        def added(pod: Obj) -> None:
            name = pod["metadata"]["name"]
            ordinal = int(name.rsplit("-", 1)[1])
            with self.lock:
                self.created.append(name)
                if ordinal > 0:
                    before = informer.get(f"{pod['metadata']['namespace']}/{self.prefix}-{ordinal - 1}")
                    if before is None or not _ready(before) or before["metadata"].get("deletionTimestamp"):
                        self.violations.append(f"{name} created before {self.prefix}-{ordinal - 1} was Ready")

        def updated(old: Obj, new: Obj) -> None:
            if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
                with self.lock:
                    self.terminating.append(new["metadata"]["name"])

        def deleted(pod: Obj) -> None:
            with self.lock:
                if pod["metadata"]["name"] not in self.terminating:
                    self.terminating.append(pod["metadata"]["name"])

        informer.add_event_handler(on_add=added, on_update=updated, on_delete=deleted)


def start(apiserver: APIServerProcess, ns: str, **options: Any) -> Harness:
    return Harness(apiserver.kubeconfig, ns, [lambda c, f, r: StatefulSetController(c, f, r)], **options)


def get_pod(api: httpx.Client, ns: str, name: str) -> dict[str, Any] | None:
    r = api.get(f"/api/v1/namespaces/{ns}/pods/{name}")
    if r.status_code == 404:
        return None
    r.raise_for_status()
    got: dict[str, Any] = r.json()
    return got


def pod_names(api: httpx.Client, ns: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"])


def claims(api: httpx.Client, ns: str) -> dict[str, dict[str, Any]]:
    items = api.get(f"/api/v1/namespaces/{ns}/persistentvolumeclaims").json()["items"]
    return {c["metadata"]["name"]: c for c in items}


def sts_status(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    got: dict[str, Any] = api.get(f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}").json()["status"]
    return got


def test_ordered_start_stable_identity_and_reverse_scale_down(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    order = OrderLog("web")
    with start(apiserver, ns, observers=[order], ready_delay=0.2):
        api.post(f"/apis/apps/v1/namespaces/{ns}/statefulsets", json=statefulset("web", 3)).raise_for_status()
        wait_until(
            lambda: sts_status(api, ns, "web").get("readyReplicas") == 3, timeout=30, message="3 ready"
        )
        assert order.created == ["web-0", "web-1", "web-2"]
        assert order.violations == []

        web1 = get_pod(api, ns, "web-1")
        assert web1 is not None
        assert web1["spec"]["hostname"] == "web-1" and web1["spec"]["subdomain"] == "web"
        labels = web1["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
        assert labels["apps.kubernetes.io/pod-index"] == "1"
        status = sts_status(api, ns, "web")
        assert labels["controller-revision-hash"] == status["updateRevision"] == status["currentRevision"]
        assert status["replicas"] == 3 and status["currentReplicas"] == 3 and status["updatedReplicas"] == 3
        volume = next(v for v in web1["spec"]["volumes"] if v["name"] == "www")
        assert volume["persistentVolumeClaim"]["claimName"] == "www-web-1"
        assert sorted(claims(api, ns)) == ["www-web-0", "www-web-1", "www-web-2"]
        revisions = api.get(f"/apis/apps/v1/namespaces/{ns}/controllerrevisions").json()["items"]
        assert [r["metadata"]["name"] for r in revisions] == [status["updateRevision"]]

        # A deleted member comes back under the same name and finds its claim again.
        claim_uid = claims(api, ns)["www-web-1"]["metadata"]["uid"]
        api.delete(f"/api/v1/namespaces/{ns}/pods/web-1").raise_for_status()
        wait_until(
            lambda: (
                (p := get_pod(api, ns, "web-1")) is not None
                and p["metadata"]["uid"] != web1["metadata"]["uid"]
                and _ready(p)
            ),
            timeout=30,
            message="web-1 re-created",
        )
        again = get_pod(api, ns, "web-1")
        assert again is not None
        assert (
            next(v for v in again["spec"]["volumes"] if v["name"] == "www")["persistentVolumeClaim"][
                "claimName"
            ]
            == "www-web-1"
        )
        assert claims(api, ns)["www-web-1"]["metadata"]["uid"] == claim_uid

        # Scale down: highest ordinal first, one at a time; claims stay.
        order.terminating.clear()
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets/web", json={"spec": {"replicas": 1}}, headers=MERGE
        ).raise_for_status()
        wait_until(lambda: pod_names(api, ns) == ["web-0"], timeout=30, message="scaled to 1")
        assert order.terminating == ["web-2", "web-1"]
        assert sorted(claims(api, ns)) == ["www-web-0", "www-web-1", "www-web-2"]
        wait_until(lambda: sts_status(api, ns, "web").get("replicas") == 1, timeout=20, message="status 1")

        # Scale up again: web-1 and web-2 re-use their claims.
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets/web", json={"spec": {"replicas": 3}}, headers=MERGE
        ).raise_for_status()
        wait_until(
            lambda: sts_status(api, ns, "web").get("readyReplicas") == 3, timeout=30, message="3 ready again"
        )
        assert claims(api, ns)["www-web-1"]["metadata"]["uid"] == claim_uid
    assert order.violations == []


def test_rolling_update_with_partition(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    order = OrderLog("db")
    with start(apiserver, ns, observers=[order], ready_delay=0.1):
        body = statefulset(
            "db", 3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/statefulsets", json=body).raise_for_status()
        wait_until(lambda: sts_status(api, ns, "db").get("readyReplicas") == 3, timeout=30, message="3 ready")
        old_revision = sts_status(api, ns, "db")["currentRevision"]

        def image(name: str) -> str | None:
            pod = get_pod(api, ns, name)
            return pod["spec"]["containers"][0]["image"] if pod else None

        order.terminating.clear()
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets/db",
            json={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:1.26"}]}}}},
            headers=MERGE,
        ).raise_for_status()
        wait_until(
            lambda: (
                image("db-2") == image("db-1") == "nginx:1.26"
                and sts_status(api, ns, "db").get("updatedReplicas") == 2
                and sts_status(api, ns, "db").get("readyReplicas") == 3
            ),
            timeout=30,
            message="ordinals >= partition updated",
        )
        assert order.terminating == ["db-2", "db-1"]  # reverse ordinal order
        assert image("db-0") == "nginx:1.25"  # below the partition: untouched
        status = sts_status(api, ns, "db")
        assert status["currentRevision"] == old_revision != status["updateRevision"]

        # Deleting db-0 re-creates it at the *current* revision: the partition holds.
        uid0 = get_pod(api, ns, "db-0")["metadata"]["uid"]  # type: ignore[index]
        api.delete(f"/api/v1/namespaces/{ns}/pods/db-0").raise_for_status()
        wait_until(
            lambda: (
                (p := get_pod(api, ns, "db-0")) is not None and p["metadata"]["uid"] != uid0 and _ready(p)
            ),
            timeout=30,
            message="db-0 back",
        )
        assert image("db-0") == "nginx:1.25"
        assert get_pod(api, ns, "db-0")["metadata"]["labels"]["controller-revision-hash"] == old_revision  # type: ignore[index]

        # Partition 0 finishes the rollout, and current becomes update.
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets/db",
            json={"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
            headers=MERGE,
        ).raise_for_status()
        wait_until(
            lambda: (
                image("db-0") == "nginx:1.26"
                and (s := sts_status(api, ns, "db")).get("currentRevision") == s.get("updateRevision")
                and s.get("currentReplicas") == 3
            ),
            timeout=30,
            message="rollout complete",
        )
        revisions = api.get(f"/apis/apps/v1/namespaces/{ns}/controllerrevisions").json()["items"]
        assert sorted(r["revision"] for r in revisions) == [1, 2]
    assert order.violations == []


def test_parallel_policy_does_not_wait(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    # The fake kubelet never makes these pods ready: OrderedReady would stop at par-0.
    with start(apiserver, ns, policy=lambda pod: PENDING):
        body = statefulset("par", 3, podManagementPolicy="Parallel")
        api.post(f"/apis/apps/v1/namespaces/{ns}/statefulsets", json=body).raise_for_status()
        wait_until(
            lambda: pod_names(api, ns) == ["par-0", "par-1", "par-2"], timeout=20, message="all at once"
        )
        wait_until(lambda: sts_status(api, ns, "par").get("replicas") == 3, timeout=20, message="status")
        assert "readyReplicas" not in sts_status(api, ns, "par")
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets/par", json={"spec": {"replicas": 0}}, headers=MERGE
        ).raise_for_status()
        wait_until(lambda: pod_names(api, ns) == [], timeout=20, message="all gone at once")


def test_ordered_ready_waits_for_a_ready_predecessor(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with start(apiserver, ns, policy=lambda pod: PENDING) as harness:
        api.post(
            f"/apis/apps/v1/namespaces/{ns}/statefulsets", json=statefulset("slow", 2)
        ).raise_for_status()
        wait_until(lambda: pod_names(api, ns) == ["slow-0"], timeout=20, message="slow-0 created")
        wait_until(lambda: sts_status(api, ns, "slow").get("replicas") == 1, timeout=20, message="status")
        assert pod_names(api, ns) == ["slow-0"]  # slow-0 is Pending: slow-1 must wait
        harness.set_action("slow-0", "ready")
        wait_until(
            lambda: pod_names(api, ns) == ["slow-0", "slow-1"],
            timeout=20,
            message="slow-1 after slow-0 Ready",
        )
