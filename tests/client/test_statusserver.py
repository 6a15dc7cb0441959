"""The status endpoint: /healthz, /readyz, /metrics."""

from __future__ import annotations

import httpx

from minik.client.statusserver import StatusServer


async def test_routes() -> None:
    ready = False
    status = StatusServer.standard(
        component="test", metrics=lambda: "minik_dns_queries_total 0\n", ready=lambda: ready
    )
    await status.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{status.port}") as client:
            assert (await client.get("/healthz")).text == "ok\n"
            assert (await client.get("/livez")).text == "ok\n"
            assert (await client.get("/readyz")).status_code == 503
            ready = True
            assert (await client.get("/readyz")).status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
            assert "minik_dns_queries_total" in metrics.text
            assert (await client.get("/nope")).status_code == 404
            assert (await client.post("/healthz")).status_code == 405
    finally:
        await status.stop()
