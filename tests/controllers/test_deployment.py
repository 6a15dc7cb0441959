"""Deployments against the real apiserver: rolling update bounds, rollback, history, Recreate.

The Deployment and ReplicaSet controllers run in-process with the fake kubelet
(pods become Ready a moment after they are scheduled). The bounds of a rolling
update are checked by an observer on *every* pod watch event, not by sampling.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PODS
from minik.client.objects import Obj
from minik.controllers.deployment import DeploymentController
from minik.controllers.replicaset import ReplicaSetController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import NOT_READY, READY, Harness
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

MERGE = {"Content-Type": "application/merge-patch+json"}


def deployment(name: str, replicas: int, *, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            **spec,
        },
    }


class Invariant:
    """Runs ``check(pods)`` on every pod event once armed; collects violations."""

    def __init__(self, check: Callable[[list[Obj]], str | None]) -> None:
        self.check = check
        self.armed = False
        self.events = 0
        self.violations: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, factory: SharedInformerFactory) -> None:
        informer = factory.informer(PODS)

        def on_event(*_: Any) -> None:
            if not self.armed:
                return
            problem = self.check(informer.list())
            with self.lock:
                self.events += 1
                if problem:
                    self.violations.append(problem)

        informer.add_event_handler(on_add=on_event, on_update=on_event, on_delete=on_event)


def _live(pods: list[Obj]) -> list[Obj]:
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def _ready(p: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in p.get("status", {}).get("conditions") or []
    )


def start(apiserver: APIServerProcess, ns: str, **options: Any) -> Harness:
    return Harness(
        apiserver.kubeconfig,
        ns,
        [lambda c, f, r: DeploymentController(c, f, r), lambda c, f, r: ReplicaSetController(c, f, r)],
        **options,
    )


def get_deploy(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    r = api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    r.raise_for_status()
    got: dict[str, Any] = r.json()
    return got


def replicasets(api: httpx.Client, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/apis/apps/v1/namespaces/{ns}/replicasets").json()["items"]
    return sorted(
        items, key=lambda rs: int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    )


def pods(api: httpx.Client, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    return items


def rollout_done(api: httpx.Client, ns: str, name: str) -> bool:
    """What ``kubectl rollout status`` checks, field by field."""
    d = get_deploy(api, ns, name)
    st = d.get("status", {})
    if st.get("observedGeneration", 0) < d["metadata"]["generation"]:
        return False
    want = d["spec"]["replicas"]
    progressing = next((c for c in st.get("conditions", []) if c["type"] == "Progressing"), None)
    if progressing and progressing["reason"] == "ProgressDeadlineExceeded":
        raise AssertionError(f"deployment {name} exceeded its progress deadline")
    return bool(
        st.get("updatedReplicas", 0) == want
        and st.get("replicas", 0) == want
        and st.get("availableReplicas", 0) == want
    )


def set_image(api: httpx.Client, ns: str, name: str, image: str) -> None:
    api.patch(
        f"/apis/apps/v1/namespaces/{ns}/deployments/{name}",
        json={"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}},
        headers=MERGE,
    ).raise_for_status()


def undo(api: httpx.Client, ns: str, name: str, to_revision: int) -> None:
    """What ``kubectl rollout undo --to-revision`` does: copy that ReplicaSet's template back."""
    rs = next(
        rs
        for rs in replicasets(api, ns)
        if rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == str(to_revision)
    )
    template = rs["spec"]["template"]
    template["metadata"]["labels"].pop("pod-template-hash")
    d = get_deploy(api, ns, name)
    d["spec"]["template"] = template
    api.put(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}", json=d).raise_for_status()


def images(api: httpx.Client, ns: str) -> set[str]:
    return {p["spec"]["containers"][0]["image"] for p in pods(api, ns)}


def test_rolling_update_keeps_the_bounds_then_rolls_back(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    replicas, surge, unavailable = 4, 1, 1

    def bounds(all_pods: list[Obj]) -> str | None:
        live = _live(all_pods)
        ready = [p for p in live if _ready(p)]
        if len(live) > replicas + surge:
            return f"{len(live)} pods exist (max {replicas + surge})"
        if len(ready) < replicas - unavailable:
            return f"only {len(ready)} ready pods (min {replicas - unavailable})"
        return None

    invariant = Invariant(bounds)
    with start(apiserver, ns, observers=[invariant], ready_delay=0.2):
        body = deployment(
            "web",
            replicas,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=body).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "web"), timeout=30, message="initial rollout")
        d = get_deploy(api, ns, "web")
        assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
        conditions = {c["type"]: c for c in d["status"]["conditions"]}
        assert conditions["Available"]["status"] == "True"
        assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
        (rs1,) = replicasets(api, ns)
        hash1 = rs1["metadata"]["labels"]["pod-template-hash"]
        assert rs1["metadata"]["name"] == f"web-{hash1}"
        assert rs1["spec"]["selector"]["matchLabels"]["pod-template-hash"] == hash1
        assert all(p["metadata"]["labels"]["pod-template-hash"] == hash1 for p in pods(api, ns))

        invariant.armed = True
        set_image(api, ns, "web", "nginx:1.26")
        wait_until(
            lambda: rollout_done(api, ns, "web") and images(api, ns) == {"nginx:1.26"},
            timeout=60,
            message="rollout to nginx:1.26",
        )
        rs1, rs2 = replicasets(api, ns)
        assert rs1["spec"]["replicas"] == 0 and rs2["spec"]["replicas"] == replicas
        assert rs2["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        assert (
            get_deploy(api, ns, "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        )

        # Roll back to revision 1: the old ReplicaSet becomes the new one, as revision 3.
        undo(api, ns, "web", 1)
        wait_until(
            lambda: rollout_done(api, ns, "web") and images(api, ns) == {"nginx:1.25"},
            timeout=60,
            message="rollback to nginx:1.25",
        )
        names = {rs["metadata"]["name"]: rs for rs in replicasets(api, ns)}
        assert len(names) == 2, "a rollback re-uses the old ReplicaSet"
        back = names[f"web-{hash1}"]
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert back["spec"]["replicas"] == replicas
        assert (
            get_deploy(api, ns, "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
        )
        assert all(p["metadata"]["labels"]["pod-template-hash"] == hash1 for p in pods(api, ns))

    assert invariant.events > 20, "the observer must have seen the rollouts"
    assert invariant.violations == []
    reasons = [
        e["reason"]
        for e in api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
        if e["involvedObject"]["kind"] == "Deployment"
    ]
    assert "ScalingReplicaSet" in reasons


def test_surge_only_rollout_never_loses_a_ready_pod(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    replicas = 3

    def bounds(all_pods: list[Obj]) -> str | None:
        live = _live(all_pods)
        if len(live) > replicas + 1:
            return f"{len(live)} pods"
        if len([p for p in live if _ready(p)]) < replicas:
            return "a ready pod was lost"
        return None

    invariant = Invariant(bounds)
    with start(apiserver, ns, observers=[invariant], ready_delay=0.1):
        body = deployment(
            "surge",
            replicas,
            strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        )
        api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=body).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "surge"), timeout=30, message="initial rollout")
        invariant.armed = True
        # kubectl rollout restart: only a template annotation changes, which is a new revision.
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/surge",
            json={
                "spec": {
                    "template": {
                        "metadata": {
                            "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-01-01T00:00:00Z"}
                        }
                    }
                }
            },
            headers=MERGE,
        ).raise_for_status()
        wait_until(
            lambda: rollout_done(api, ns, "surge") and len(replicasets(api, ns)) == 2,
            timeout=60,
            message="restart",
        )
        assert all(
            p["metadata"].get("annotations", {}).get("kubectl.kubernetes.io/restartedAt")
            for p in pods(api, ns)
        )
    assert invariant.violations == []


def test_revision_history_limit_deletes_the_oldest(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with start(apiserver, ns):
        body = deployment("hist", 1, revisionHistoryLimit=1)
        api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=body).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "hist"), timeout=30, message="v1")
        for version in ("1.26", "1.27", "1.28"):
            set_image(api, ns, "hist", f"nginx:{version}")
            wait_until(
                lambda v=version: rollout_done(api, ns, "hist") and images(api, ns) == {f"nginx:{v}"},  # type: ignore[misc]
                timeout=30,
                message=f"rollout {version}",
            )
        wait_until(
            lambda: len(replicasets(api, ns)) == 2, timeout=20, message="history trimmed to 1 old ReplicaSet"
        )
        revisions = [
            rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] for rs in replicasets(api, ns)
        ]
        assert revisions == ["3", "4"]


def test_recreate_never_runs_old_and_new_together(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    def exclusive(all_pods: list[Obj]) -> str | None:
        seen = {p["spec"]["containers"][0]["image"] for p in all_pods}
        return f"old and new pods at once: {sorted(seen)}" if len(seen) > 1 else None

    invariant = Invariant(exclusive)
    with start(apiserver, ns, observers=[invariant], ready_delay=0.1):
        api.post(
            f"/apis/apps/v1/namespaces/{ns}/deployments",
            json=deployment("db", 3, strategy={"type": "Recreate"}),
        ).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "db"), timeout=30, message="initial rollout")
        invariant.armed = True
        set_image(api, ns, "db", "nginx:1.26")
        wait_until(
            lambda: rollout_done(api, ns, "db") and images(api, ns) == {"nginx:1.26"},
            timeout=60,
            message="recreate",
        )
    assert invariant.events > 0
    assert invariant.violations == []


def test_paused_deployment_scales_but_does_not_roll(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with start(apiserver, ns):
        api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("p", 2)).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "p"), timeout=30, message="initial rollout")
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/p", json={"spec": {"paused": True}}, headers=MERGE
        ).raise_for_status()
        wait_until(
            lambda: any(
                c["reason"] == "DeploymentPaused" for c in get_deploy(api, ns, "p")["status"]["conditions"]
            ),
            timeout=20,
            message="paused condition",
        )
        set_image(api, ns, "p", "nginx:1.26")
        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/p", json={"spec": {"replicas": 3}}, headers=MERGE
        ).raise_for_status()
        wait_until(lambda: len(_live(pods(api, ns))) == 3, timeout=20, message="scaled while paused")
        assert len(replicasets(api, ns)) == 1 and images(api, ns) == {"nginx:1.25"}

        api.patch(
            f"/apis/apps/v1/namespaces/{ns}/deployments/p", json={"spec": {"paused": False}}, headers=MERGE
        ).raise_for_status()
        wait_until(
            lambda: rollout_done(api, ns, "p") and images(api, ns) == {"nginx:1.26"},
            timeout=60,
            message="resumed rollout",
        )
        assert len(_live(pods(api, ns))) == 3


def test_progress_deadline_exceeded(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    def policy(pod: Obj) -> str:
        image = pod["spec"]["containers"][0]["image"]
        return NOT_READY if image == "broken:1" else READY

    with start(apiserver, ns, policy=policy):
        api.post(
            f"/apis/apps/v1/namespaces/{ns}/deployments",
            json=deployment("slow", 2, progressDeadlineSeconds=2),
        ).raise_for_status()
        wait_until(lambda: rollout_done(api, ns, "slow"), timeout=30, message="initial rollout")
        set_image(api, ns, "slow", "broken:1")

        def progressing() -> dict[str, Any]:
            return next(
                c for c in get_deploy(api, ns, "slow")["status"]["conditions"] if c["type"] == "Progressing"
            )

        wait_until(
            lambda: progressing()["reason"] == "ProgressDeadlineExceeded",
            timeout=20,
            message="deadline exceeded",
        )
        cond = progressing()
        assert cond["status"] == "False"
        assert "has timed out progressing" in cond["message"]
        # maxUnavailable 25% of 2 rounds down to 0: both old pods still serve.
        assert len([p for p in _live(pods(api, ns)) if _ready(p)]) == 2


@pytest.fixture
def ignore() -> Iterator[None]:
    yield
