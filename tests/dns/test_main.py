"""The minik-dns process: flags, --objects, the status port, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.query
import dns.rcode
import httpx
import pytest

from minik.dns.main import DNSApp, parse_args, read_objects

from .objects import zoo_objects

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def test_defaults() -> None:
    args = parse_args([])
    assert args.listen == "127.0.0.1:5353"
    assert (args.domain, args.ttl, args.upstream) == ("cluster.local", 5, "")


def test_read_objects_accepts_lists_and_yaml_documents(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"kind": "List", "items": zoo_objects()}))
    assert len(list(read_objects(tmp_path / "a.json"))) == len(zoo_objects())
    (tmp_path / "b.yaml").write_text(
        "kind: Namespace\nmetadata: {name: x}\n---\nkind: Namespace\nmetadata: {name: y}\n"
    )
    assert [o["metadata"]["name"] for o in read_objects(tmp_path / "b.yaml")] == ["x", "y"]


async def test_the_app_in_process(tmp_path: Path) -> None:
    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps({"kind": "List", "items": zoo_objects()}))
    app = DNSApp(
        parse_args(
            [
                "--listen",
                "127.0.0.1:0",
                "--objects",
                str(objects),
                "--metrics-port",
                "0",
                "--domain",
                "cluster.local",
                "--ttl",
                "7",
            ]
        )
    )
    await app.start()
    try:
        assert app.ready
        q = dns.message.make_query("web.default.svc.cluster.local", "A")
        r = await dns.asyncquery.udp(q, "127.0.0.1", port=app.server.port, timeout=2)
        assert r.answer[0].to_text() == "web.default.svc.cluster.local. 7 IN A 10.96.0.20"
        assert app.status is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.status.port}") as client:
            text = (await client.get("/metrics")).text
        assert 'minik_dns_queries_total{proto="udp",type="A",rcode="NOERROR"} 1' in text
        assert "minik_dns_index_names" in text
    finally:
        await app.stop()


def test_the_console_script_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    objects = tmp_path / "objects.json"
    objects.write_text(json.dumps({"kind": "List", "items": zoo_objects()}))
    port, metrics_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minik.dns.main",
            "--listen",
            f"127.0.0.1:{port}",
            "--objects",
            str(objects),
            "--metrics-port",
            str(metrics_port),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = dns.query.udp(
                    dns.message.make_query("web.default.svc.cluster.local", "A"),
                    "127.0.0.1",
                    port=port,
                    timeout=0.2,
                )
                break
            except dns.exception.Timeout:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline
        assert r.answer[0][0].to_text() == "10.96.0.20"
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/readyz").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_without_an_api_server_or_objects_it_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update(HOME=str(tmp_path), MINIK_HOME=str(tmp_path / "minik"))
    out = subprocess.run(
        [sys.executable, "-m", "minik.dns.main", "--listen", "127.0.0.1:0", "--metrics-port", "-1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 1
    assert "kubeconfig" in out.stderr and "--objects" in out.stderr


@pytest.mark.parametrize("flag", [["--help"]])
def test_help(flag: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "minik.dns.main", *flag], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0
    for name in ("--listen", "--domain", "--ttl", "--upstream", "--metrics-port", "--kubeconfig"):
        assert name in out.stdout


async def test_before_the_api_server_answers_cluster_names_are_servfail_and_not_ready() -> None:
    port = free_port()  # nothing listens there: the informers keep retrying
    app = DNSApp(
        parse_args(["--listen", "127.0.0.1:0", "--metrics-port", "0", "--server", f"http://127.0.0.1:{port}"])
    )
    await app.start()
    try:
        q = dns.message.make_query("web.default.svc.cluster.local", "A")
        r = await dns.asyncquery.udp(q, "127.0.0.1", port=app.server.port, timeout=2)
        assert r.rcode() == dns.rcode.SERVFAIL
        assert not app.ready
        assert app.status is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.status.port}") as client:
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await app.stop()
