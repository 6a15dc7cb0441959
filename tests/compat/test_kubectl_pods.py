"""The real ``kubectl logs`` and ``kubectl exec`` through minik's API server to a kubelet.

The pod runs on real Docker under a kubelet process that serves HTTPS and authenticates
and authorizes every caller (:mod:`minik.kubelet.auth`); kubectl talks only to the API
server, which proxies to the kubelet with its own client certificate
(:mod:`minik.apiserver.podproxy`; exec over the ``v5.channel.k8s.io`` WebSocket protocol).
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minik.cluster.etcd_process import free_port
from minik.cluster.pki import ensure_client_certificate
from tests.conftest import APIServerProcess
from tests.helpers import wait_until
from tests.kubelet.conftest import (  # noqa: F401  (fixtures)
    SESSION_LABEL,
    WORKLOAD,
    docker_api,
    docker_engine,
    images,
    kubelet_root,
    pod_network,
    session_id,
)
from tests.kubelet.harness import KubeletProcess, kubelet_args, kubelet_tls_args

pytestmark = pytest.mark.e2e

KUBECTL = str(Path(sys.executable).with_name("kubectl"))


@pytest.fixture(scope="module")
def proxy_apiserver(apiserver: APIServerProcess) -> APIServerProcess:
    """The session API server: it proxies pods/log and pods/exec to kubelets."""
    return apiserver


@pytest.fixture(scope="module")
def kubelet_proc(
    proxy_apiserver: APIServerProcess,
    pod_network: tuple[str, str],  # noqa: F811
    session_id: str,  # noqa: F811
    kubelet_root: Path,  # noqa: F811  (fixtures imported from tests.kubelet.conftest)
    workdir: Path,
) -> Iterator[tuple[KubeletProcess, str]]:
    network, cidr = pod_network
    node = f"compat-{session_id}"
    port = free_port()
    argv = kubelet_args(
        node=node,
        kubeconfig=proxy_apiserver.kubeconfig,
        root=kubelet_root / "compat",
        network=network,
        cidr=cidr,
        port=port,
        owner=f"{SESSION_LABEL}={session_id}",
        extra=kubelet_tls_args(workdir / "pki", node),
    )
    proc = KubeletProcess(argv, workdir / f"kubelet-{node}.log", port)
    proc.start()
    yield proc, node
    proc.kill()


def kubectl(server: APIServerProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(server.kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@pytest.fixture
def running_pod(
    proxy_apiserver: APIServerProcess, kubelet_proc: tuple[KubeletProcess, str]
) -> Iterator[tuple[str, str]]:
    _, node = kubelet_proc
    ns = f"kc-{int(time.time() * 1000) % 10**8}"
    with proxy_apiserver.client() as c:
        assert c.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).status_code == 201
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "talker"},
            "spec": {
                "nodeName": node,
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "c",
                        "image": WORKLOAD,
                        "command": [
                            "sh",
                            "-c",
                            "for i in 1 2 3; do echo line-$i; done; trap 'exit 0' TERM; while true; do sleep 0.2; done",
                        ],
                    }
                ],
            },
        }
        assert c.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201

        def up() -> bool:
            p = c.get(f"/api/v1/namespaces/{ns}/pods/talker").json()
            return (p.get("status") or {}).get("phase") == "Running"

        wait_until(up, timeout=60, message="talker Running")
    yield ns, "talker"
    with proxy_apiserver.client() as c:
        c.delete(f"/api/v1/namespaces/{ns}/pods/talker")


def test_kubectl_logs(proxy_apiserver: APIServerProcess, running_pod: tuple[str, str]) -> None:
    ns, name = running_pod
    out = wait_until(
        lambda: kubectl(proxy_apiserver, "-n", ns, "logs", name).stdout, timeout=20, message="logs"
    )
    assert out.splitlines() == ["line-1", "line-2", "line-3"]
    assert kubectl(proxy_apiserver, "-n", ns, "logs", name, "--tail=1").stdout == "line-3\n"
    stamped = kubectl(proxy_apiserver, "-n", ns, "logs", name, "-c", "c", "--timestamps").stdout.splitlines()
    assert stamped[0].endswith(" line-1") and stamped[0][:4].isdigit()
    missing = kubectl(proxy_apiserver, "-n", ns, "logs", name, "-c", "nope", check=False)
    assert missing.returncode != 0 and "not valid" in missing.stderr

    # follow: the stream stays open and delivers what is there.
    follow = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(proxy_apiserver.kubeconfig), "-n", ns, "logs", "-f", name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "line-1\n"
        time.sleep(0.5)
        assert follow.poll() is None  # still following
    finally:
        follow.kill()
        follow.wait()


def test_kubectl_exec(proxy_apiserver: APIServerProcess, running_pod: tuple[str, str]) -> None:
    ns, name = running_pod
    done = kubectl(proxy_apiserver, "-n", ns, "exec", name, "--", "sh", "-c", "hostname; echo oops >&2")
    assert done.stdout == "talker\n"
    assert "oops" in done.stderr
    failed = kubectl(proxy_apiserver, "-n", ns, "exec", name, "--", "sh", "-c", "exit 7", check=False)
    assert failed.returncode == 7, (failed.stdout, failed.stderr)


def _kubelet(proxy_apiserver: APIServerProcess, cert: tuple[Path, Path] | None = None) -> httpx.Client:
    """A client that trusts the kubelet's serving certificate (the cluster CA), optionally with a
    client certificate."""
    return httpx.Client(verify=ssl_context(proxy_apiserver.ca_file, cert), timeout=30)


def ssl_context(ca: Path, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def test_kubelet_api_authenticates_and_authorizes(
    proxy_apiserver: APIServerProcess, kubelet_proc: tuple[KubeletProcess, str], running_pod: tuple[str, str]
) -> None:
    proc, _ = kubelet_proc
    ns, name = running_pod
    base = f"https://127.0.0.1:{proc.port}"
    pki = proxy_apiserver.ca_file.parent
    logs = f"{base}/containerLogs/{ns}/{name}/c"
    with _kubelet(proxy_apiserver) as anonymous:
        assert anonymous.get(f"{base}/healthz").text == "ok"  # the one public path
        for path in ("/pods", f"/containerLogs/{ns}/{name}/c", "/stats/summary"):
            r = anonymous.get(f"{base}{path}")
            assert r.status_code == 401, (path, r.text)
            assert r.json()["reason"] == "Unauthorized"
        assert anonymous.post(f"{base}/exec/{ns}/{name}/c", params={"command": "true"}).status_code == 401
        bad = anonymous.get(f"{base}/pods", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401

        # A valid token of an identity that may not use the kubelet's API: 403, naming the attributes.
        component = anonymous.get(
            logs, headers={"Authorization": f"Bearer {proxy_apiserver.tokens['proxy']}"}
        )
        assert component.status_code == 403, component.text
        assert component.json()["message"] == (
            "Forbidden (user=system:minik:proxy, verb=get, resource=nodes, subresource=proxy)"
        )
        # The admin's token (system:masters), checked with a TokenReview: allowed.
        admin = anonymous.get(logs, headers={"Authorization": f"Bearer {proxy_apiserver.token}"})
        assert admin.status_code == 200, proc.log()[-3000:]
        assert admin.text.startswith("line-1\n")

    stranger = ensure_client_certificate(pki, "kubelet-test-stranger", "stranger", ("some-team",))
    with _kubelet(proxy_apiserver, stranger) as c:
        r = c.get(f"{base}/stats/summary")
        assert r.status_code == 403, r.text
        assert "user=stranger, verb=get, resource=nodes, subresource=stats" in r.json()["message"]
    apiserver_cert = (pki / "apiserver-kubelet-client.crt", pki / "apiserver-kubelet-client.key")
    with _kubelet(proxy_apiserver, apiserver_cert) as c:
        pods = c.get(f"{base}/pods")
        assert pods.status_code == 200 and pods.json()["kind"] == "PodList"
        done = c.post(f"{base}/exec/{ns}/{name}/c", params={"command": ["echo", "hi"]})
        assert done.status_code == 200 and done.json()["exitCode"] == 0


def test_kubelet_api_is_https_only(kubelet_proc: tuple[KubeletProcess, str]) -> None:
    proc, _ = kubelet_proc
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{proc.port}/healthz", timeout=5)
