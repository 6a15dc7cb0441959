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
from typing import Any

import httpx
import pytest

from minik.cluster.credentials import write_kubeconfig
from minik.cluster.etcd_process import free_port
from minik.cluster.pki import ensure_client_certificate
from tests.conftest import APIServerProcess, Etcd, launch_apiserver
from tests.conftest import _stop as stop_process
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
def proxy_apiserver(workdir: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    """An API server with RBAC on: it proxies pods/log and pods/exec to kubelets, and answers
    the kubelet's SubjectAccessReviews from RBAC."""
    server = launch_apiserver(workdir, etcd_server.url, "--authorization-mode", "RBAC")
    yield server
    stop_process(server.process)


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


def _bind(
    api: httpx.Client, kind: str, name: str, rules: list[dict[str, Any]], user: str, ns: str = ""
) -> None:
    """A (Cluster)Role with ``rules`` and a (Cluster)RoleBinding of it to ``user``."""
    base = f"/apis/rbac.authorization.k8s.io/v1{f'/namespaces/{ns}' if ns else ''}"
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "rules": rules,
    }
    r = api.post(f"{base}/{kind.lower()}s", json=role)
    assert r.status_code in (201, 409), r.text
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": f"{kind}Binding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }
    r = api.post(f"{base}/{kind.lower()}bindings", json=binding)
    assert r.status_code in (201, 409), r.text


def test_kubelet_api_authenticates_and_authorizes(
    proxy_apiserver: APIServerProcess, kubelet_proc: tuple[KubeletProcess, str], running_pod: tuple[str, str]
) -> None:
    proc, node = kubelet_proc
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

        # A valid token of an identity RBAC does not let use the kubelet's API: 403, naming the attributes.
        component = anonymous.get(
            logs, headers={"Authorization": f"Bearer {proxy_apiserver.tokens['proxy']}"}
        )
        assert component.status_code == 403, component.text
        assert component.json()["message"] == (
            "Forbidden (user=system:minik:proxy, verb=get, resource=nodes, subresource=proxy)"
        )
        # The admin's token (system:masters), checked with a TokenReview: allowed.
        admin = anonymous.get(logs, headers={"Authorization": f"Bearer {proxy_apiserver.token}"})
        assert admin.status_code == 200, admin.text
        assert admin.text.startswith("line-1\n")

    stranger = ensure_client_certificate(pki, "kubelet-test-stranger", "stranger", ("some-team",))
    with _kubelet(proxy_apiserver, stranger) as c:
        r = c.get(f"{base}/stats/summary")
        assert r.status_code == 403, r.text
        assert "user=stranger, verb=get, resource=nodes, subresource=stats" in r.json()["message"]

    # RBAC decides for everyone else: the default ClusterRole system:kubelet-api-admin lets
    # an operator in; a monitoring user with nodes/stats only reads stats.
    with proxy_apiserver.client() as api:
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubelet-test-ops"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:kubelet-api-admin",
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kubelet-test-ops"}
            ],
        }
        assert api.post(
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding
        ).status_code in (201, 409)
        _bind(api, "ClusterRole", "kubelet-test-stats", [
            {"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]}
        ], "kubelet-test-monitor")  # fmt: skip
    ops = ensure_client_certificate(pki, "kubelet-test-ops", "kubelet-test-ops", ("ops",))
    with _kubelet(proxy_apiserver, ops) as c:
        assert c.get(logs).status_code == 200
        done = c.post(f"{base}/exec/{ns}/{name}/c", params={"command": ["echo", "hi"]})
        assert done.status_code == 200 and done.json()["exitCode"] == 0
    monitor = ensure_client_certificate(pki, "kubelet-test-monitor", "kubelet-test-monitor")
    with _kubelet(proxy_apiserver, monitor) as c:
        assert c.get(f"{base}/stats/summary").json()["node"]["nodeName"] == node
        r = c.get(logs)
        assert r.status_code == 403, r.text
        assert "subresource=proxy" in r.json()["message"]

    apiserver_cert = (pki / "apiserver-kubelet-client.crt", pki / "apiserver-kubelet-client.key")
    with _kubelet(proxy_apiserver, apiserver_cert) as c:
        pods = c.get(f"{base}/pods")
        assert pods.status_code == 200 and pods.json()["kind"] == "PodList"


def test_logs_and_exec_through_the_api_server_follow_rbac(
    proxy_apiserver: APIServerProcess, running_pod: tuple[str, str], workdir: Path
) -> None:
    """A user RBAC allows pods/log and pods/exec in the namespace gets them (the API server then
    calls the kubelet with its own certificate); a user without gets the API server's 403."""
    ns, name = running_pod
    pki = proxy_apiserver.ca_file.parent
    with proxy_apiserver.client() as api:
        _bind(api, "Role", "pod-debugger", [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
        ], "debugger", ns)  # fmt: skip
    configs = {}
    for user in ("debugger", "nobody"):
        cert = ensure_client_certificate(pki, f"kubelet-test-{user}", user)
        configs[user] = write_kubeconfig(
            workdir / f"kubeconfig-{user}", proxy_apiserver.url, proxy_apiserver.ca_file, "", user, cert
        )

    def as_user(user: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [KUBECTL, "--kubeconfig", str(configs[user]), "-n", ns, *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    logs = as_user("debugger", "logs", name, "--tail=1")
    assert logs.returncode == 0 and logs.stdout == "line-3\n", logs.stderr
    done = as_user("debugger", "exec", name, "--", "echo", "from-debugger")
    assert done.returncode == 0 and done.stdout == "from-debugger\n", done.stderr
    denied = as_user("nobody", "logs", name)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


def test_kubelet_api_is_https_only(kubelet_proc: tuple[KubeletProcess, str]) -> None:
    proc, _ = kubelet_proc
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{proc.port}/healthz", timeout=5)
