"""Jobs against the real apiserver: completions with parallelism, backoffLimit, deadlines,
and exactly-once counting through the job-tracking finalizer."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from minik.client.informer import SharedInformerFactory
from minik.client.kinds import PODS
from minik.controllers.job import TRACKING_FINALIZER, JobController, wanted_active
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import FAIL, PENDING, READY, SUCCEED, Harness
from tests.helpers import wait_until


def test_wanted_active() -> None:
    assert wanted_active(parallelism=2, completions=3, succeeded=0, active=0) == 2
    assert wanted_active(parallelism=2, completions=3, succeeded=2, active=1) == 1
    assert wanted_active(parallelism=2, completions=3, succeeded=3, active=0) == 0
    assert wanted_active(parallelism=5, completions=3, succeeded=0, active=0) == 3
    # Work queue (no completions): run `parallelism` until one succeeds, then stop adding.
    assert wanted_active(parallelism=3, completions=None, succeeded=0, active=1) == 3
    assert wanted_active(parallelism=3, completions=None, succeeded=1, active=2) == 2


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "work", "image": "busybox:1.36"}]}
            },
            **spec,
        },
    }


def get_job(api: httpx.Client, ns: str, name: str) -> dict[str, Any]:
    r = api.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{name}")
    r.raise_for_status()
    got: dict[str, Any] = r.json()
    return got


def condition(api: httpx.Client, ns: str, name: str, kind: str) -> dict[str, Any] | None:
    for c in get_job(api, ns, name).get("status", {}).get("conditions") or []:
        if c["type"] == kind and c["status"] == "True":
            return dict(c)
    return None


def pods(api: httpx.Client, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(f"/api/v1/namespaces/{ns}/pods").json()["items"]
    return items


class MaxRunning:
    def __init__(self) -> None:
        self.max = 0
        self.created: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, factory: SharedInformerFactory) -> None:
        informer = factory.informer(PODS)

        def check(*_: Any) -> None:
            running = [
                p
                for p in informer.list()
                if not p["metadata"].get("deletionTimestamp")
                and p["status"].get("phase") not in ("Succeeded", "Failed")
            ]
            with self.lock:
                self.max = max(self.max, len(running))
                self.created |= {p["metadata"]["name"] for p in informer.list()}

        informer.add_event_handler(on_add=check, on_update=check, on_delete=check)


def start(apiserver: APIServerProcess, ns: str, **options: Any) -> Harness:
    return Harness(
        apiserver.kubeconfig,
        ns,
        [lambda c, f, r: JobController(c, f, r, pod_failure_backoff=0.05)],
        **options,
    )


@pytest.mark.integration
def test_job_completes_with_parallelism(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    watch = MaxRunning()
    with start(apiserver, ns, observers=[watch], policy=lambda p: SUCCEED, ready_delay=0.3):
        api.post(
            f"/apis/batch/v1/namespaces/{ns}/jobs", json=job("pi", completions=3, parallelism=2)
        ).raise_for_status()
        wait_until(lambda: condition(api, ns, "pi", "Complete"), timeout=30, message="job complete")
        status = get_job(api, ns, "pi")["status"]
        assert status["succeeded"] == 3
        assert "failed" not in status and "active" not in status
        assert status["startTime"] <= status["completionTime"]
        assert status["uncountedTerminatedPods"] == {}
        done = pods(api, ns)
        assert len(done) == 3 and all(p["status"]["phase"] == "Succeeded" for p in done)
        assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in done)
        assert all(p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "pi" for p in done)
        assert all(p["spec"]["restartPolicy"] == "Never" for p in done)

        # Deleting finished pods does not un-count them.
        for p in done:
            api.delete(f"/api/v1/namespaces/{ns}/pods/{p['metadata']['name']}").raise_for_status()
        wait_until(lambda: pods(api, ns) == [], timeout=20, message="pods gone")
        assert get_job(api, ns, "pi")["status"]["succeeded"] == 3
    assert watch.max == 2, "never more than `parallelism` pods at once"
    assert len(watch.created) == 3
    events = {
        e["reason"]
        for e in api.get(f"/api/v1/namespaces/{ns}/events").json()["items"]
        if e["involvedObject"]["kind"] == "Job"
    }
    assert {"SuccessfulCreate", "Completed"} <= events


@pytest.mark.integration
def test_job_fails_after_backoff_limit(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    with start(apiserver, ns, policy=lambda p: FAIL, ready_delay=0.1):
        api.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job("crash", backoffLimit=2)).raise_for_status()
        cond = wait_until(lambda: condition(api, ns, "crash", "Failed"), timeout=30, message="job failed")
        assert cond is not None and cond["reason"] == "BackoffLimitExceeded"
        status = get_job(api, ns, "crash")["status"]
        assert status["failed"] == 3  # backoffLimit 2: the third failure ends it
        assert "succeeded" not in status and "completionTime" not in status
        failed = pods(api, ns)
        assert len(failed) == 3 and all(p["status"]["phase"] == "Failed" for p in failed)
        assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in failed)


@pytest.mark.integration
def test_job_active_deadline(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    with start(apiserver, ns, policy=lambda p: READY):
        api.post(
            f"/apis/batch/v1/namespaces/{ns}/jobs",
            json=job("forever", parallelism=2, completions=2, activeDeadlineSeconds=1),
        ).raise_for_status()
        cond = wait_until(lambda: condition(api, ns, "forever", "Failed"), timeout=30, message="deadline")
        assert cond is not None and cond["reason"] == "DeadlineExceeded"
        wait_until(lambda: pods(api, ns) == [], timeout=20, message="running pods deleted")
        status = get_job(api, ns, "forever")["status"]
        assert status["failed"] == 2 and "active" not in status


@pytest.mark.integration
def test_pods_of_a_deleted_job_are_released(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    with start(apiserver, ns, policy=lambda p: PENDING):
        api.post(
            f"/apis/batch/v1/namespaces/{ns}/jobs", json=job("gone", parallelism=2, completions=2)
        ).raise_for_status()
        wait_until(lambda: len(pods(api, ns)) == 2, timeout=20, message="2 pods")
        assert all(TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in pods(api, ns))
        api.delete(f"/apis/batch/v1/namespaces/{ns}/jobs/gone").raise_for_status()
        wait_until(
            lambda: all(
                TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods(api, ns)
            ),
            timeout=20,
            message="finalizers released",
        )


@pytest.mark.integration
def test_lowering_parallelism_deletes_without_counting(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with start(apiserver, ns, policy=lambda p: READY):
        api.post(
            f"/apis/batch/v1/namespaces/{ns}/jobs", json=job("wide", parallelism=3, completions=6)
        ).raise_for_status()
        wait_until(
            lambda: get_job(api, ns, "wide").get("status", {}).get("ready") == 3,
            timeout=20,
            message="3 running",
        )
        api.patch(
            f"/apis/batch/v1/namespaces/{ns}/jobs/wide",
            json={"spec": {"parallelism": 1}},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
        wait_until(lambda: len(pods(api, ns)) == 1, timeout=20, message="2 pods removed")
        wait_until(
            lambda: get_job(api, ns, "wide")["status"].get("active") == 1, timeout=20, message="status"
        )
        assert "failed" not in get_job(api, ns, "wide")["status"]


@pytest.mark.integration
def test_suspended_job_runs_nothing_until_resumed(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with start(apiserver, ns, policy=lambda p: SUCCEED, ready_delay=0.1):
        api.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job("later", suspend=True)).raise_for_status()
        cond = wait_until(lambda: condition(api, ns, "later", "Suspended"), timeout=20, message="suspended")
        assert cond is not None and cond["reason"] == "JobSuspended"
        assert pods(api, ns) == [] and "startTime" not in get_job(api, ns, "later")["status"]
        api.patch(
            f"/apis/batch/v1/namespaces/{ns}/jobs/later",
            json={"spec": {"suspend": False}},
            headers={"Content-Type": "application/merge-patch+json"},
        ).raise_for_status()
        wait_until(
            lambda: condition(api, ns, "later", "Complete"), timeout=20, message="complete after resume"
        )
        conditions = {c["type"]: c for c in get_job(api, ns, "later")["status"]["conditions"]}
        assert (
            conditions["Suspended"]["status"] == "False" and conditions["Suspended"]["reason"] == "JobResumed"
        )
        assert get_job(api, ns, "later")["status"]["succeeded"] == 1
