"""A pod worker whose sync fails retries with back-off and logs one line, no traceback."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from minik.client.errors import APIConnectionError
from minik.kubelet.kubelet import PodWorker


class _FailingKubelet:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.workers: dict[str, Any] = {}

    async def sync_pod(self, worker: PodWorker) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise APIConnectionError("PATCH pods/p/status: no answer within 30s")


async def test_failed_syncs_back_off_and_log_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    kubelet = _FailingKubelet(failures=2)
    worker = PodWorker(kubelet, "uid-1", {"metadata": {"name": "p", "uid": "uid-1"}})  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.WARNING, logger="minik.kubelet.kubelet"):
        task = asyncio.create_task(worker.run())
        while kubelet.calls < 1 or worker.deadline is None:
            await asyncio.sleep(0.01)
        assert worker.failures == 1
        assert worker.deadline - loop.time() == pytest.approx(1.0, abs=0.2)
        while kubelet.calls < 2 or worker.deadline is None:
            await asyncio.sleep(0.01)
        assert worker.failures == 2
        assert worker.deadline - loop.time() == pytest.approx(2.0, abs=0.2)  # doubled
        worker.wake.set()  # an informer event does not wait for the back-off
        while kubelet.calls < 3:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        assert worker.failures == 0  # a success resets it
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    failed = [r for r in caplog.records if "sync of pod uid-1 failed" in r.getMessage()]
    assert len(failed) == 2 and not any(r.exc_info for r in failed)
