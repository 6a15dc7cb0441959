"""Issue 7, end to end: Services on real packet paths in every proxy mode.

One Deployment of three ``minik/workload`` replicas sits behind several Services (plain
ClusterIP, NodePort, ClientIP affinity, userspace schedulers, one with no endpoints); the
module-scoped ``proxy_mode`` fixture switches kube-proxy between iptables, nftables,
userspace and ipvs (which falls back to iptables on this kernel) and every test runs in
each mode. At the end the proxy is back in iptables mode and its tables are checked for
leftovers of the other modes.
"""

from __future__ import annotations

import collections
import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Cluster
from tests.helpers import wait_until

pytestmark = pytest.mark.e2e

NS = "e2e-svc"
REPLICAS = 3
MODES = ["iptables", "nftables", "userspace", "ipvs"]


def apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    # One document per object (JSON is YAML): kubectl's validation of a ``kind: List`` needs
    # /openapi/v2, which minik does not serve.
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write("\n---\n".join(json.dumps(o) for o in objects))
        f.flush()
        cluster.kubectl("apply", "-f", f.name)


def service(
    name: str,
    *,
    selector: dict[str, str] | None = None,
    type_: str = "ClusterIP",
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "annotations": annotations or {}},
        "spec": {
            "type": type_,
            "selector": selector if selector is not None else {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            **spec,
        },
    }


def get_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("-n", NS, "get", *args, "-o", "json").stdout)


def web_pods(cluster: Cluster) -> dict[str, str]:
    """name → IP of the web pods that are Ready."""
    out = {}
    for pod in get_json(cluster, "pods", "-l", "app=web")["items"]:
        conds = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions") or []}
        if conds.get("Ready") == "True" and not pod["metadata"].get("deletionTimestamp"):
            out[pod["metadata"]["name"]] = pod["status"].get("podIP")
    return out


def cluster_ip(cluster: Cluster, name: str) -> str:
    return str(get_json(cluster, "service", name)["spec"]["clusterIP"])


def host_get(url: str, timeout: float = 2.0) -> str | None:
    """One request on a fresh connection (no keep-alive): one balancing decision each."""
    try:
        r = httpx.get(url, timeout=timeout, headers={"Connection": "close"})
        return r.text.split()[0] if r.status_code == 200 and r.text.startswith("pod=") else None
    except httpx.HTTPError:
        return None


def host_answers(url: str, n: int) -> list[str | None]:
    return [host_get(url) for _ in range(n)]


def pod_answers(cluster: Cluster, pod: str, url: str, n: int) -> list[str]:
    script = f"for i in $(seq {n}); do timeout 2 wget -qO- {url} || echo FAIL; done"
    done = cluster.kubectl("-n", NS, "exec", pod, "--", "sh", "-c", script, check=False, timeout=n * 3 + 30)
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def endpoint_ready(cluster: Cluster, svc: str) -> dict[str, bool]:
    """IP → ready, from the Service's EndpointSlices."""
    out: dict[str, bool] = {}
    for sl in get_json(cluster, "endpointslices", "-l", f"kubernetes.io/service-name={svc}")["items"]:
        for ep in sl.get("endpoints") or []:
            for ip in ep.get("addresses") or []:
                out[ip] = bool((ep.get("conditions") or {}).get("ready", True))
    return out


@pytest.fixture(scope="module")
def workload(cluster: Cluster) -> Iterator[Cluster]:
    cluster.kubectl("create", "namespace", NS)
    container = {
        "name": "web",
        "image": "minik/workload:1.0",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080},
            "periodSeconds": 1,
            "failureThreshold": 1,
            "successThreshold": 1,
        },
    }
    apply(
        cluster,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": NS, "labels": {"app": "client"}},
            "spec": {"containers": [{"name": "client", "image": "minik/workload:1.0"}]},
        },
        service("web"),
        service("web-np", type_="NodePort"),
        service(
            "web-aff", sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 300}}
        ),
        service("web-sh", annotations={"minik.dev/ipvs-scheduler": "sh"}),
        service("web-rr", annotations={"minik.dev/ipvs-scheduler": "rr"}),
        service("empty", selector={"app": "nothing-matches-this"}),
    )
    cluster.kubectl("-n", NS, "rollout", "status", "deployment/web", "--timeout=120s")
    cluster.kubectl("-n", NS, "wait", "--for=condition=Ready", "pod/client", "--timeout=120s")
    wait_until(
        lambda: len(web_pods(cluster)) == REPLICAS, timeout=60, interval=0.5, message="3 ready web pods"
    )
    try:
        yield cluster
    finally:
        if cluster.settings.proxy_mode != "iptables":
            cluster.restart_proxy("iptables")
        cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


@pytest.fixture(scope="module", params=MODES)
def proxy_mode(request: pytest.FixtureRequest, workload: Cluster) -> str:
    cluster = workload
    mode: str = request.param
    if mode != cluster.settings.proxy_mode:
        cluster.restart_proxy(mode)
    ip = cluster_ip(cluster, "web")
    pods = set(web_pods(cluster))
    wait_until(
        lambda: set(filter(None, host_answers(f"http://{ip}/", 15))) >= {f"pod={p}" for p in pods},
        timeout=60,
        interval=0.5,
        message=f"every replica answering in {mode} mode",
    )
    return mode


def test_every_replica_answers_and_the_spread_is_fair(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    ip = cluster_ip(cluster, "web")
    expected = {f"pod={p}" for p in web_pods(cluster)}
    n = 60
    # From the host.
    got = host_answers(f"http://{ip}/", n)
    assert None not in got, f"{got.count(None)} of {n} host requests failed: {got}"
    counts = collections.Counter(got)
    assert set(counts) == expected, counts
    assert min(counts.values()) >= n // REPLICAS // 3, f"lopsided from the host: {counts}"
    # From another pod.
    got_pod = pod_answers(cluster, "client", f"http://{ip}/", n)
    counts = collections.Counter(got_pod)
    assert "FAIL" not in counts and sum(counts.values()) == n, counts
    assert set(counts) == expected, counts
    assert min(counts.values()) >= n // REPLICAS // 3, f"lopsided from a pod: {counts}"


def test_an_unready_pod_gets_no_new_connections(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    ip = cluster_ip(cluster, "web")
    pods = web_pods(cluster)
    victim, victim_ip = sorted(pods.items())[0]
    cluster.kubectl("-n", NS, "exec", victim, "--", "rm", "-f", "/var/www/healthz")
    try:
        wait_until(
            lambda: endpoint_ready(cluster, "web").get(victim_ip) is False,
            timeout=30,
            interval=0.1,
            message=f"{victim} not ready in the EndpointSlice",
        )
        changed = time.monotonic()
        time.sleep(max(0.0, 1.0 - (time.monotonic() - changed)))  # the one second the proxy is allowed
        got = host_answers(f"http://{ip}/", 30)
        assert None not in got, got
        assert f"pod={victim}" not in got, f"{victim} still got new connections: {collections.Counter(got)}"
        assert len(set(got)) == REPLICAS - 1, collections.Counter(got)
    finally:
        cluster.kubectl("-n", NS, "exec", victim, "--", "sh", "-c", "echo ok > /var/www/healthz", check=False)
        wait_until(
            lambda: endpoint_ready(cluster, "web").get(victim_ip) is True,
            timeout=30,
            interval=0.2,
            message=f"{victim} ready again",
        )
    wait_until(
        lambda: f"pod={victim}" in host_answers(f"http://{ip}/", 15),
        timeout=20,
        interval=0.2,
        message=f"{victim} answering again",
    )


def test_session_affinity_client_ip_sticks(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    ip = cluster_ip(cluster, "web-aff")
    got = host_answers(f"http://{ip}/", 20)
    assert None not in got and len(set(got)) == 1, collections.Counter(got)
    got_pod = pod_answers(cluster, "client", f"http://{ip}/", 15)
    assert "FAIL" not in got_pod and len(set(got_pod)) == 1, collections.Counter(got_pod)


def test_node_port_from_loopback_and_the_node_address(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    port = get_json(cluster, "service", "web-np")["spec"]["ports"][0]["nodePort"]
    expected = {f"pod={p}" for p in web_pods(cluster)}
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    addresses = {"127.0.0.1"} | {
        a["address"] for n in nodes for a in n["status"].get("addresses") or [] if a["type"] == "InternalIP"
    }
    for address in sorted(addresses):
        got = host_answers(f"http://{address}:{port}/", 30)
        assert None not in got, f"NodePort {address}:{port}: {got}"
        assert set(got) == expected, f"NodePort {address}:{port}: {collections.Counter(got)}"


def test_hairpin_a_pod_reaches_itself_through_its_service(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    ip = cluster_ip(cluster, "web")
    pod = sorted(web_pods(cluster))[0]
    got = pod_answers(cluster, pod, f"http://{ip}/", 24)
    assert "FAIL" not in got, got
    assert f"pod={pod}" in got, f"{pod} never reached itself: {collections.Counter(got)}"


def test_a_service_without_endpoints_refuses_at_once(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    ip = cluster_ip(cluster, "empty")
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(httpx.HTTPError) as caught:
            httpx.get(f"http://{ip}/", timeout=5)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, f"took {elapsed:.2f}s ({caught.value!r}): a timeout, not a refusal"
        if proxy_mode != "userspace":  # the userspace proxy accepts, then closes at once
            assert isinstance(caught.value, httpx.ConnectError), repr(caught.value)
    # And from a pod: wget fails well before its timeout.
    started = time.monotonic()
    done = cluster.kubectl(
        "-n", NS, "exec", "client", "--", "sh", "-c", f"timeout 5 wget -qO- http://{ip}/", check=False
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 4, "a pod's connection to an endpoint-less Service hung"


# Per-Service ipvs schedulers are observable in userspace mode (ipvs itself is absent here).
@pytest.mark.parametrize("proxy_mode", ["userspace"], indirect=True)
def test_userspace_schedulers_sh_sticks_and_rr_cycles(proxy_mode: str, workload: Cluster) -> None:
    cluster = workload
    sh = host_answers(f"http://{cluster_ip(cluster, 'web-sh')}/", 12)
    assert None not in sh and len(set(sh)) == 1, f"sh: {collections.Counter(sh)}"
    rr = host_answers(f"http://{cluster_ip(cluster, 'web-rr')}/", 3 * REPLICAS)
    assert None not in rr, rr
    for i in range(0, len(rr), REPLICAS):
        assert len(set(rr[i : i + REPLICAS])) == REPLICAS, f"rr does not cycle: {rr}"
    assert rr[:REPLICAS] == rr[REPLICAS : 2 * REPLICAS], f"rr order is not stable: {rr}"


@pytest.mark.parametrize("proxy_mode", ["ipvs"], indirect=True)
def test_ipvs_falls_back_to_iptables_with_a_warning(proxy_mode: str, workload: Cluster) -> None:
    log = workload.log("proxy").lower()
    assert "falling back to the iptables proxier" in log, log[-2000:]


# Runs once, last: pytest groups this module's tests by proxy mode in MODES order, and this
# is the last test of the last group.
@pytest.mark.parametrize("proxy_mode", [MODES[-1]], indirect=True)
def test_back_in_iptables_mode_no_leftovers(proxy_mode: str, workload: Cluster) -> None:
    """After every mode ran: back to iptables; its chains, nothing of nft or userspace."""
    cluster = workload
    if cluster.settings.proxy_mode != "iptables":
        cluster.restart_proxy("iptables")
    ip = cluster_ip(cluster, "web")
    wait_until(
        lambda: host_get(f"http://{ip}/"), timeout=60, interval=0.5, message="ClusterIP in iptables mode"
    )
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, check=True).stdout
    for chain in (
        ":KUBE-SERVICES",
        ":KUBE-NODEPORTS",
        ":KUBE-POSTROUTING",
        ":KUBE-MARK-MASQ",
        ":KUBE-SVC-",
        ":KUBE-SEP-",
        ":KUBE-FORWARD",
    ):
        assert chain in saved, f"{chain} missing from iptables-save"
    assert "MINIK-NFT-FORWARD" not in saved, "nftables mode's DOCKER-USER hook left behind"
    assert "KUBE-PORTALS" not in saved, "userspace mode's portal chains left behind"
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    assert "minik" not in tables, f"an nft table of ours is left: {tables}"
