"""``minik-apiserver`` as a process: the shell's JSON logs, and a graceful stop that exits 0."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import Etcd, launch_apiserver

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("workers", ["1", "2"])
def test_json_logs_and_sigterm_exits_0(etcd_server: Etcd, tmp_path: Path, workers: str) -> None:
    server = launch_apiserver(
        tmp_path, etcd_server.url, "--log-format", "json", "--log-level", "info", "--workers", workers
    )
    try:
        with server.client() as api:
            assert api.get("/api/v1/namespaces/default").status_code == 200
    finally:
        os.killpg(server.process.pid, signal.SIGTERM)
        code = server.process.wait(30)
    assert code == 0, server.log()
    records = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert any(r["logger"] == "minik.apiserver" and r["msg"] == "minik-apiserver ready" for r in records)
    assert all(r["ts"].endswith("Z") and r["level"] in ("info", "warning") for r in records), records
