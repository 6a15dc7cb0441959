"""The CronJob controller against the real API server, on a fake clock.

The controller takes "now" from a :class:`FakeClock` whose wall time starts at the real
time (the API server stamps creation times with it), and its work queue waits on that
clock too, so a test moves time to the next minute with ``advance`` instead of sleeping.
Only the cronjob controller runs: Jobs are finished by the test writing their status, as
the Job controller would.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from minik.client.clock import FakeClock
from minik.controllers.cronjob import SCHEDULED_TIMESTAMP_ANNOTATION, CronJobController
from tests.conftest import APIServerProcess
from tests.controllers.fake_kubelet import Harness
from tests.helpers import wait_until


def cronjob(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": "*/1 * * * *",
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "OnFailure",
                            "containers": [{"name": "tick", "image": "busybox:1.36"}],
                        }
                    }
                }
            },
            **spec,
        },
    }


class Cluster:
    """The harness, its fake clock, and reads of what the controller did."""

    def __init__(self, apiserver: APIServerProcess, api: httpx.Client, ns: str, *, start: datetime) -> None:
        self.api, self.ns = api, ns
        self.clock = FakeClock(wall_start=start)
        self.harness = Harness(
            apiserver.kubeconfig,
            ns,
            [lambda c, f, r: CronJobController(c, f, r, clock=self.clock)],
            kubelet=False,
        )

    def __enter__(self) -> Cluster:
        self.harness.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.harness.stop()

    def create(self, body: dict[str, Any]) -> None:
        self.api.post(f"/apis/batch/v1/namespaces/{self.ns}/cronjobs", json=body).raise_for_status()

    def to_next_minute(self) -> datetime:
        """Advance the fake clock to just past the next whole minute; return that minute.

        Counted from the later of the fake and the real time: the API server stamps
        creation times with the real one, and a scheduled time before creation never runs.
        """
        now = self.clock.wall()
        base = max(now, datetime.now(UTC))
        target = base.replace(second=0, microsecond=0) + timedelta(minutes=1)
        self.harness.call(lambda: self.clock.advance((target - now).total_seconds() + 0.5))
        return target

    def jobs(self) -> dict[str, dict[str, Any]]:
        items = self.api.get(f"/apis/batch/v1/namespaces/{self.ns}/jobs").json()["items"]
        return {j["metadata"]["name"]: j for j in items if not j["metadata"].get("deletionTimestamp")}

    def status(self, name: str) -> dict[str, Any]:
        got: dict[str, Any] = (
            self.api.get(f"/apis/batch/v1/namespaces/{self.ns}/cronjobs/{name}").json().get("status") or {}
        )
        return got

    def active(self, name: str) -> list[str]:
        return sorted(a["name"] for a in self.status(name).get("active") or [])

    def events(self, reason: str) -> list[str]:
        items = self.api.get(f"/api/v1/namespaces/{self.ns}/events").json()["items"]
        return [e["message"] for e in items if e["reason"] == reason]

    def finish(self, job: str, kind: str = "Complete") -> None:
        """Write a finished status to ``job``, as the Job controller would."""
        now = self.clock.wall().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self.api.get(f"/apis/batch/v1/namespaces/{self.ns}/jobs/{job}").json()
        body["status"] = {
            "startTime": now,
            "conditions": [{"type": kind, "status": "True", "lastTransitionTime": now}],
            **({"succeeded": 1, "completionTime": now} if kind == "Complete" else {"failed": 1}),
        }
        self.api.put(f"/apis/batch/v1/namespaces/{self.ns}/jobs/{job}/status", json=body).raise_for_status()


def job_for(cj: str, minute: datetime) -> str:
    return f"{cj}-{int(minute.timestamp()) // 60}"


def test_a_job_per_scheduled_minute_with_owner_and_annotation(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with Cluster(apiserver, api, ns, start=datetime.now(UTC)) as c:
        c.create(cronjob("tick"))
        first = c.to_next_minute()
        name = job_for("tick", first)
        job = wait_until(lambda: c.jobs().get(name), timeout=20, message="the first Job")
        assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        assert job["metadata"]["ownerReferences"][0]["controller"] is True
        assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION] == first.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        wait_until(lambda: c.active("tick") == [name], timeout=20, message="status.active")
        assert c.status("tick")["lastScheduleTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert len(c.jobs()) == 1, "nothing else is due"

        # Allow: the next minute starts another while the first still runs.
        second = c.to_next_minute()
        wait_until(
            lambda: c.active("tick") == sorted([name, job_for("tick", second)]),
            timeout=20,
            message="two active Jobs",
        )
        # A finished Job leaves status.active; a succeeded one sets lastSuccessfulTime.
        c.finish(name)
        wait_until(
            lambda: c.active("tick") == [job_for("tick", second)], timeout=20, message="active shrinks"
        )
        wait_until(
            lambda: c.status("tick").get("lastSuccessfulTime"), timeout=20, message="lastSuccessfulTime"
        )
        wait_until(lambda: c.events("SawCompletedJob"), timeout=20, message="SawCompletedJob event")


def test_forbid_skips_while_a_job_runs(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    with Cluster(apiserver, api, ns, start=datetime.now(UTC)) as c:
        c.create(cronjob("solo", concurrencyPolicy="Forbid"))
        first = job_for("solo", c.to_next_minute())
        wait_until(lambda: c.active("solo") == [first], timeout=20, message="the first Job")
        second = job_for("solo", c.to_next_minute())
        wait_until(lambda: c.events("JobAlreadyActive"), timeout=20, message="the JobAlreadyActive event")
        assert list(c.jobs()) == [first], "Forbid: no second Job while the first runs"
        # The skipped time is still the most recent unmet one (no startingDeadlineSeconds):
        # as upstream, it starts as soon as the first Job is done.
        c.finish(first)
        wait_until(lambda: c.active("solo") == [second], timeout=20, message="the skipped time's Job")


def test_replace_deletes_the_running_job(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    with Cluster(apiserver, api, ns, start=datetime.now(UTC)) as c:
        c.create(cronjob("fresh", concurrencyPolicy="Replace"))
        first = job_for("fresh", c.to_next_minute())
        wait_until(lambda: c.active("fresh") == [first], timeout=20, message="the first Job")
        second = job_for("fresh", c.to_next_minute())
        wait_until(lambda: c.active("fresh") == [second], timeout=20, message="the replacement")
        wait_until(lambda: list(c.jobs()) == [second], timeout=20, message="the first Job deleted")
        assert any(first in m for m in c.events("SuccessfulDelete"))


def test_history_limits_keep_the_newest_finished_jobs(
    apiserver: APIServerProcess, api: httpx.Client, ns: str
) -> None:
    with Cluster(apiserver, api, ns, start=datetime.now(UTC)) as c:
        c.create(cronjob("hist", successfulJobsHistoryLimit=1, failedJobsHistoryLimit=1))
        names: list[str] = []
        for kind in ("Complete", "Complete", "Failed", "Failed"):
            name = job_for("hist", c.to_next_minute())

            def running(n: str = name) -> bool:
                return c.active("hist") == [n]

            wait_until(running, timeout=20, message=f"Job {name}")
            c.finish(name, kind)
            wait_until(lambda: c.active("hist") == [], timeout=20, message=f"{name} done")
            names.append(name)
        # One of each kind is kept: the newest.
        wait_until(lambda: sorted(c.jobs()) == sorted([names[1], names[3]]), timeout=20, message="history")


def test_suspend_and_too_many_missed_times(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    # The controller's clock is three days ahead of the API server's: every minute
    # since the CronJob's creation was "missed" -- thousands of them.
    with Cluster(apiserver, api, ns, start=datetime.now(UTC) + timedelta(days=3)) as c:
        c.create(cronjob("paused", suspend=True))
        c.create(cronjob("late"))
        wait_until(lambda: c.events("TooManyMissedTimes"), timeout=20, message="the TooManyMissedTimes event")
        wait_until(lambda: len(c.jobs()) == 1, timeout=20, message="one Job for late")
        c.to_next_minute()
        wait_until(lambda: len(c.jobs()) == 2, timeout=20, message="late's next Job")
        assert all(name.startswith("late-") for name in c.jobs()), "a suspended CronJob creates nothing"
        assert c.status("paused").get("lastScheduleTime") is None

        # Resumed, it starts the most recent missed time at once (no deadline set).
        body = api.get(f"/apis/batch/v1/namespaces/{ns}/cronjobs/paused").json()
        body["spec"]["suspend"] = False
        api.put(f"/apis/batch/v1/namespaces/{ns}/cronjobs/paused", json=body).raise_for_status()
        wait_until(
            lambda: [n for n in c.jobs() if n.startswith("paused-")], timeout=20, message="paused's Job"
        )
        assert len([n for n in c.jobs() if n.startswith("paused-")]) == 1
