"""The local cluster: ``make up`` / ``make down`` / ``minikctl cluster up|down|status``.

One command starts every component of the architecture as a process on this machine,
in the order their dependencies need, under a supervisor (:mod:`minik.cluster.supervisor`,
itself in the background) that restarts any component that exits, with backoff:

    etcd → apiserver → controller-manager → scheduler → kubelets (N nodes) → kube-proxy → dns

then bootstraps what a cluster needs beyond its components (the ``kube-dns`` Service
with hand-made Endpoints pointing at the DNS process: the "map an outside service"
pattern, dogfooded), waits until every node is Ready, and deploys the demo.

Everything lives under ``$MINIK_HOME`` (default ``~/.minik``)::

    pki/  tokens.csv  kubeconfig  kubeconfig-<component>
    etcd/            etcd's data
    kubelet/<node>/  each kubelet's state (IPAM, pod files)
    logs/<name>.log  run/<name>.pid
    run/supervisor-plan.json   what the supervisor runs (each component's command line)
    run/supervisor-state.json  each component's state, pid, restarts, last exit

``up`` is idempotent (a second call reports what already runs); ``down`` stops the
supervisor, which stops every component (SIGTERM, then SIGKILL after a grace period), removes the pods' containers (by the cluster's owner label), the pod network,
and every rule, route and sysctl the proxy made.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.cluster import pidfile, supervisor
from minik.cluster.crashloop import HELD, RUNNING, ComponentState
from minik.cluster.credentials import COMPONENTS, ensure_tokens, write_kubeconfig
from minik.cluster.etcd_process import etcd_argv
from minik.cluster.pki import (
    ensure_client_certificate,
    ensure_kubelet_certificates,
    ensure_pki,
    ensure_service_account_key,
)
from minik.kubelet.node import primary_ip
from minik.kubelet.runtime.base import LABEL_CLUSTER

REPO = Path(__file__).resolve().parents[2]
OWNER_LABEL = LABEL_CLUSTER


def minik_home() -> Path:
    return Path(os.environ.get("MINIK_HOME", Path.home() / ".minik")).expanduser()


@dataclass
class Settings:
    """Every knob of the local cluster (flags, with environment-variable fallbacks)."""

    home: Path
    name: str = "minik"
    nodes: int = 2
    proxy_mode: str = "iptables"
    apiserver_port: int = 6443
    etcd_port: int = 2379
    etcd_peer_port: int = 0  # 0: etcd_port + 1
    service_cidr: str = "10.96.0.0/12"
    cluster_cidr: str = "10.244.0.0/16"
    cluster_dns: str = "10.96.0.10"
    dns_port: int = 1053
    kubelet_base_port: int = 10250
    demo: bool = True
    extra: dict[str, list[str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    @property
    def pod_network(self) -> str:
        return f"{self.name}-pods"

    @property
    def pod_gateway(self) -> str:
        """The host's address on the pod bridge: where pods reach host processes (DNS)."""
        base = self.cluster_cidr.split("/")[0].rsplit(".", 2)[0]
        return f"{base}.0.1"

    def node_name(self, i: int) -> str:
        return f"{self.name}-node-{i + 1}"


@dataclass
class Layout:
    home: Path

    @property
    def pki(self) -> Path:
        return self.home / "pki"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def kubeconfig(self) -> Path:
        return self.home / "kubeconfig"

    @property
    def tokens(self) -> Path:
        return self.home / "tokens.csv"

    def component_kubeconfig(self, component: str) -> Path:
        return self.home / f"kubeconfig-{component}"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.logs / f"{name}.log"


# -- processes -------------------------------------------------------------------------------


def _running_pid(layout: Layout, name: str) -> int | None:
    """``name``'s pid if its pid file names a process of ours that still runs.

    A stale file (the process is gone, or the number now belongs to another process, say
    after a reboot) is removed: see :mod:`minik.cluster.pidfile`.
    """
    return pidfile.read(layout.pid_file(name), expect=str(layout.home))


def _stop(layout: Layout, name: str, timeout: float = 15.0) -> None:
    pid = _running_pid(layout, name)
    if pid is None:
        return
    _say(f"stopping {name} (pid {pid})")
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _running_pid(layout, name):
        time.sleep(0.1)
    if _running_pid(layout, name):
        _signal_group(pid, signal.SIGKILL)
    layout.pid_file(name).unlink(missing_ok=True)


def _signal_group(pid: int, signum: int) -> None:
    """Signal ``pid``'s process group (each component leads its own), or just ``pid``.

    It may exit at any moment, so a vanished process is no error.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)


def _say(message: str) -> None:
    print(f"==> {message}", flush=True)


def _wait(what: str, check: Any, timeout: float) -> Any:
    """Wait for ``check()`` with a visible spinner, never a silent pause."""
    frames = "|/-\\"
    deadline = time.monotonic() + timeout
    i = 0
    tty = sys.stdout.isatty()
    while time.monotonic() < deadline:
        result = check()
        if result:
            print(f"\r    {what}: ready{' ' * 20}", flush=True)
            return result
        if tty:
            print(f"\r    {what}: waiting {frames[i % 4]}", end="", flush=True)
        i += 1
        time.sleep(0.25)
    print()
    raise SystemExit(f"{what} did not become ready within {timeout:.0f}s (logs: {minik_home() / 'logs'})")


def _has_module(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# -- talking to the apiserver (stdlib only: this runs before anything else is up) ------------


class API:
    def __init__(self, url: str, ca: Path, token: str) -> None:
        self.url = url
        self.context = ssl.create_default_context(cafile=str(ca))
        self.token = token

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": content_type,
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=10) as r:
                raw = r.read()
                try:
                    return r.status, json.loads(raw or b"null")
                except ValueError:
                    return r.status, raw.decode(errors="replace")
        except urllib.error.HTTPError as e:
            try:
                return e.code, json.loads(e.read() or b"null")
            except ValueError:
                return e.code, None
        except OSError:
            return 0, None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", context=self.context, timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def apply(self, obj: dict[str, Any], manager: str = "minik-cluster") -> int:
        """Server-side apply of one object (creates or updates it)."""
        kind, meta = obj["kind"], obj["metadata"]
        api_version = obj["apiVersion"]
        plural = _PLURALS[kind]
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        ns = meta.get("namespace")
        path = f"{base}/namespaces/{ns}/{plural}/{meta['name']}" if ns else f"{base}/{plural}/{meta['name']}"
        code, _ = self.request(
            "PATCH",
            f"{path}?fieldManager={manager}&force=true",
            obj,
            content_type="application/apply-patch+yaml",
        )
        return code


_PLURALS = {
    "Service": "services",
    "Endpoints": "endpoints",
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "Namespace": "namespaces",
    "ConfigMap": "configmaps",
}


# -- the components -----------------------------------------------------------------------------


def _component_argv(s: Settings, layout: Layout, component: str, node: int = 0) -> list[str] | None:
    py = sys.executable
    kc = str(layout.component_kubeconfig(component))
    extra = s.extra.get(component, [])
    if component == "apiserver":
        return [
            py,
            "-m",
            "minik.apiserver.main",
            "--etcd-servers",
            f"http://127.0.0.1:{s.etcd_port}",
            "--secure-port",
            str(s.apiserver_port),
            "--tls-cert-file",
            str(layout.pki / "apiserver.crt"),
            "--tls-private-key-file",
            str(layout.pki / "apiserver.key"),
            "--token-auth-file",
            str(layout.tokens),
            "--client-ca-file",
            str(layout.pki / "ca.crt"),
            "--service-account-signing-key-file",
            str(layout.pki / "sa.key"),
            "--service-cluster-ip-range",
            s.service_cidr,
            "--kubelet-client-certificate",
            str(layout.pki / "apiserver-kubelet-client.crt"),
            "--kubelet-client-key",
            str(layout.pki / "apiserver-kubelet-client.key"),
            "--kubelet-certificate-authority",
            str(layout.pki / "ca.crt"),
            *extra,
        ]
    if component == "controller-manager":
        return [
            py,
            "-m",
            "minik.controllers.manager",
            "--kubeconfig",
            kc,
            "--port",
            "0",
            "--cluster-cidr",
            s.cluster_cidr,
            "--service-cluster-ip-range",
            s.service_cidr,
            *extra,
        ]
    if component == "scheduler":
        if not _has_module("minik.scheduler.main"):
            return None
        return [py, "-m", "minik.scheduler.main", "--kubeconfig", kc, "--metrics-port", "0", *extra]
    if component == "kubelet":
        name = s.node_name(node)
        return [
            py,
            "-m",
            "minik.kubelet.main",
            "--node-name",
            name,
            "--kubeconfig",
            kc,
            "--runtime",
            "docker",
            "--pod-network-name",
            s.pod_network,
            "--cluster-cidr",
            s.cluster_cidr,
            "--wait-for-pod-cidr",
            "--port",
            str(s.kubelet_base_port + node),
            "--root-dir",
            str(s.home / "kubelet" / name),
            "--cluster-dns",
            s.cluster_dns,
            "--node-ip",
            primary_ip(),
            "--tls-cert-file",
            str(layout.pki / f"kubelet-{name}.crt"),
            "--tls-private-key-file",
            str(layout.pki / f"kubelet-{name}.key"),
            "--client-ca-file",
            str(layout.pki / "ca.crt"),
            "--owner-label",
            f"{OWNER_LABEL}={s.name}",
            *extra,
        ]
    if component == "proxy":
        return [
            py,
            "-m",
            "minik.proxy.main",
            "--kubeconfig",
            kc,
            "--proxy-mode",
            s.proxy_mode,
            "--node-name",
            s.node_name(0),
            "--cluster-cidr",
            s.cluster_cidr,
            "--service-cidr",
            s.service_cidr,
            "--state-dir",
            str(s.home / "proxy"),
            "--healthz-port",
            "0",
            "--metrics-port",
            "0",
            *extra,
        ]
    if component == "dns":
        return [
            py,
            "-m",
            "minik.dns.main",
            "--kubeconfig",
            kc,
            "--listen",
            f"0.0.0.0:{s.dns_port}",
            "--metrics-port",
            "0",
            *extra,
        ]
    raise ValueError(component)


def _process_names(s: Settings) -> list[tuple[str, str, int]]:
    """(process name, component, node index) in start order."""
    names = [
        ("apiserver", "apiserver", 0),
        ("controller-manager", "controller-manager", 0),
        ("scheduler", "scheduler", 0),
    ]
    names += [(f"kubelet-{s.node_name(i)}", "kubelet", i) for i in range(s.nodes)]
    names += [("proxy", "proxy", 0), ("dns", "dns", 0)]
    return names


def dns_objects(s: Settings) -> list[dict[str, Any]]:
    """kube-dns: a selector-less Service plus hand-made Endpoints pointing at minik-dns."""
    ports = [
        {"name": "dns", "port": 53, "targetPort": s.dns_port, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "targetPort": s.dns_port, "protocol": "TCP"},
    ]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "kube-dns",
                "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "minik-dns"},
            },
            "spec": {"clusterIP": s.cluster_dns, "ports": ports},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
            "subsets": [
                {
                    "addresses": [{"ip": s.pod_gateway}],
                    "ports": [
                        {"name": p["name"], "port": s.dns_port, "protocol": p["protocol"]} for p in ports
                    ],
                }
            ],
        },
    ]


def _nodes_ready(api: API, s: Settings) -> bool:
    code, body = api.request("GET", "/api/v1/nodes")
    if code != 200:
        return False
    ready = {
        n["metadata"]["name"]
        for n in body["items"]
        if any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (n.get("status") or {}).get("conditions") or []
        )
    }
    return all(s.node_name(i) in ready for i in range(s.nodes))


def prepare(s: Settings) -> tuple[Layout, Path, dict[str, str]]:
    """Directories, certificates, tokens and every kubeconfig → (layout, CA file, tokens)."""
    layout = Layout(s.home)
    for d in (layout.home, layout.logs, layout.run):
        d.mkdir(parents=True, exist_ok=True)
    ca, _crt, _key = ensure_pki(layout.pki)
    ensure_service_account_key(layout.pki)
    admin_cert = ensure_client_certificate(layout.pki, "admin", "admin", ("system:masters",))
    ensure_kubelet_certificates(layout.pki, [s.node_name(i) for i in range(s.nodes)], primary_ip())
    tokens = ensure_tokens(layout.tokens)
    write_kubeconfig(layout.kubeconfig, s.url, ca, tokens["admin"], client_cert=admin_cert)
    for component in COMPONENTS:
        if component != "admin":
            write_kubeconfig(
                layout.component_kubeconfig(component),
                s.url,
                ca,
                tokens[component],
                user=f"system:minik:{component}",
            )
    return layout, ca, tokens


def plan(s: Settings, layout: Layout, only: set[str] | None = None) -> supervisor.Plan:
    """What the supervisor runs, in start order: etcd, then every component of ``only``
    (component kinds: ``apiserver``, ``kubelet``, ...; default all)."""
    specs = [
        supervisor.ComponentSpec(
            name="etcd",
            argv=etcd_argv(
                layout.home / "etcd", client_port=s.etcd_port, peer_port=s.etcd_peer_port or s.etcd_port + 1
            ),
            log=str(layout.log_file("etcd")),
            ready_tcp_port=s.etcd_port,
        )
    ]
    for name, component, node in _process_names(s):
        if only is not None and component not in only:
            continue
        argv = _component_argv(s, layout, component, node)
        if argv is None:
            _say(f"{name}: not available in this version of minik, skipped")
            continue
        ready = component == "apiserver"
        specs.append(
            supervisor.ComponentSpec(
                name=name,
                argv=argv,
                log=str(layout.log_file(name)),
                cwd=str(REPO),
                ready_url=f"{s.url}/readyz" if ready else None,
                ready_ca=str(layout.pki / "ca.crt") if ready else None,
            )
        )
    return supervisor.Plan(components=specs)


def supervise(s: Settings, layout: Layout, the_plan: supervisor.Plan) -> None:
    """Start the supervisor with ``the_plan`` unless one already runs for this ``$MINIK_HOME``."""
    pid = supervisor.running_pid(layout.run)
    if pid is not None:
        _say(f"the supervisor already runs (pid {pid}); `make down` first to change what it runs")
        return
    # Components left by a supervisor that was killed would hold the ports: replace them.
    for name in [c.name for c in reversed(the_plan.components)]:
        _stop(layout, name)
    shutil.rmtree(layout.run / supervisor.HOLD_DIR, ignore_errors=True)
    the_plan.write(layout.run / supervisor.PLAN_FILE)
    pid = supervisor.launch(layout.run, layout.log_file("supervisor"))
    names = ", ".join(c.name for c in the_plan.components)
    _say(f"starting the supervisor (pid {pid}; log {layout.log_file('supervisor')}): {names}")


def up(s: Settings) -> None:
    layout, ca, tokens = prepare(s)
    supervise(s, layout, plan(s, layout))
    api = API(s.url, ca, tokens["admin"])

    def apiserver_ready() -> bool:
        if api.ready():
            return True
        if supervisor.running_pid(layout.run) is None:
            raise SystemExit(f"the supervisor exited; see {layout.log_file('supervisor')}")
        return False

    _wait("etcd and the apiserver", apiserver_ready, 120)
    for obj in dns_objects(s):
        code = api.apply(obj)
        if code not in (200, 201):
            raise SystemExit(f"could not create {obj['kind']} kube-system/kube-dns (HTTP {code})")
    _wait(f"{s.nodes} node(s) Ready", lambda: _nodes_ready(api, s), 180)
    _check_alive(layout)
    if s.demo:
        deploy_demo(api, s)
    print(f"""
minik is up: etcd, apiserver, controller-manager, scheduler, {s.nodes} kubelet(s), kube-proxy ({s.proxy_mode}), dns,
each restarted by the supervisor if it exits.

  kubeconfig: {layout.kubeconfig}
  logs:       {layout.logs}/

Try:
  export KUBECONFIG={layout.kubeconfig}
  .venv/bin/kubectl get nodes,pods,svc -o wide
  docker ps --filter label={OWNER_LABEL}={s.name}     # each pod: a pause container + its app containers
  sudo iptables-save | grep KUBE-SVC                  # the rules kube-proxy wrote for each Service
  .venv/bin/minikctl cluster status                   # each component: state, pid, restarts, last exit

Stop it with: make down
""")


def _check_alive(layout: Layout) -> None:
    """Every component must run now (or be held on purpose); for one that does not, show why."""
    state = supervisor.read_state(layout.run)
    if state is None:
        raise SystemExit(f"the supervisor is not running (see {layout.log_file('supervisor')})")
    for record in state.components:
        if record.state == HELD:
            _say(f"{record.name} is held (stopped on request): minikctl cluster start {record.name}")
        elif record.state != RUNNING:
            tail = layout.log_file(record.name).read_text(errors="replace").splitlines()[-15:]
            print(
                f"\n{record.name} is {record.state}, last exit {record.describe_exit() or '-'}; "
                f"the end of {layout.log_file(record.name)}:\n  " + "\n  ".join(tail),
                file=sys.stderr,
            )
        elif record.restarts:
            _say(f"{record.name} was restarted {record.restarts} time(s), last exit {record.describe_exit()}")
    down = [r.name for r in state.components if r.state not in (RUNNING, HELD)]
    if down:
        raise SystemExit(
            f"minik did not start: {', '.join(down)} not running (make down, then fix and retry)"
        )


def _demo_objects() -> list[dict[str, Any]]:
    import yaml

    objects: list[dict[str, Any]] = []
    for name in ("deployment.yaml", "service.yaml", "statefulset.yaml"):
        path = REPO / "examples" / name
        if path.exists():
            objects += [d for d in yaml.safe_load_all(path.read_text()) if d]
    for obj in objects:
        obj.setdefault("metadata", {}).setdefault("namespace", "default")
    return objects


def deploy_demo(api: API, s: Settings) -> None:
    _say("deploying the demo (examples/): a Deployment of 3 behind a NodePort Service, a StatefulSet of 2")
    for obj in _demo_objects():
        code = api.apply(obj)
        if code not in (200, 201):
            _say(f"could not apply {obj['kind']} {obj['metadata']['name']} (HTTP {code})")

    def demo_ready() -> bool:
        code, body = api.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dhello")
        if code != 200:
            return False
        ready = [
            p
            for p in body["items"]
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
        ]
        return len(ready) >= 3

    _wait("demo pods Ready", demo_ready, 180)
    code, svc = api.request("GET", "/api/v1/namespaces/default/services/hello")
    if code != 200:
        return
    port = svc["spec"]["ports"][0]["nodePort"]

    def answer() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                return str(r.read().decode().strip())
        except OSError as e:
            return f"(no answer: {e})"

    # The proxy programs each endpoint as it becomes ready: wait until the Service
    # has answered from more than one pod, then show a few answers.
    _wait("the Service answering from several pods", lambda: len({answer() for _ in range(6)}) > 1, 30)
    _say(f"the demo answers on http://127.0.0.1:{port}/ — each connection may land on a different pod:")
    for _ in range(6):
        print("    " + answer())


def restart_proxy(s: Settings, mode: str) -> None:
    """Switch kube-proxy to another mode: hold it, remove its rules, start it in ``mode``."""
    layout = Layout(s.home)
    supervisor.hold(layout.run, "proxy")
    supervisor.wait_for_state(layout.run, "proxy", {HELD}, timeout=30)
    subprocess.run(
        [sys.executable, "-m", "minik.proxy.main", "--cleanup", "--state-dir", str(s.home / "proxy")],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    s.proxy_mode = mode
    argv = _component_argv(s, layout, "proxy")
    assert argv is not None
    plan_file = layout.run / supervisor.PLAN_FILE
    current = supervisor.Plan.read(plan_file)
    current.components[:] = [
        dataclasses.replace(c, argv=argv) if c.name == "proxy" else c for c in current.components
    ]
    current.write(plan_file)
    _say(f"starting proxy in {mode} mode")
    supervisor.release(layout.run, "proxy")
    supervisor.wait_for_state(layout.run, "proxy", {RUNNING}, timeout=30)


def stop_processes(s: Settings) -> None:
    """Stop the supervisor (which stops every component), then anything it left behind."""
    layout = Layout(s.home)
    pid = supervisor.running_pid(layout.run)
    if pid is not None:
        _say(f"stopping the supervisor (pid {pid}) and every component it runs")
        try:
            grace = supervisor.Plan.read(layout.run / supervisor.PLAN_FILE).stop_grace
        except (OSError, ValueError, KeyError, TypeError):
            grace = 10.0
        names = len(_process_names(s)) + 1
        if not supervisor.stop(layout.run, timeout=grace * names + 10):
            _say("the supervisor did not stop in time: killed it")
    # A supervisor that was killed (or an older minik) leaves components behind: by pid file.
    for name in [n for n, _, _ in reversed(_process_names(s))] + ["etcd"]:
        _stop(layout, name)


def down(s: Settings, *, purge: bool = False) -> None:
    layout = Layout(s.home)
    stop_processes(s)
    # kube-proxy leaves its rules in place on exit, as upstream does; clean them up.
    _say("removing the proxy's rules, routes and sysctls")
    subprocess.run(
        [sys.executable, "-m", "minik.proxy.main", "--cleanup", "--state-dir", str(s.home / "proxy")],
        cwd=str(REPO),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    if shutil.which("docker"):
        _say(f"removing the pods' containers (label {OWNER_LABEL}={s.name}) and the pod network")
        ids = subprocess.run(
            ["docker", "ps", "-aq", "--filter", f"label={OWNER_LABEL}={s.name}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], stdout=subprocess.DEVNULL, check=False)
        subprocess.run(
            ["docker", "network", "rm", s.pod_network],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    if purge:
        for d in ("etcd", "kubelet", "proxy"):
            shutil.rmtree(layout.home / d, ignore_errors=True)
        if shutil.which("docker"):
            # The claims' volumes go with etcd's data: no PersistentVolumeClaim refers
            # to them any more. (Without --purge they stay, like the claims themselves.)
            volumes = subprocess.run(
                ["docker", "volume", "ls", "-q", "--filter", f"label={OWNER_LABEL}={s.name}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout.split()
            if volumes:
                subprocess.run(
                    ["docker", "volume", "rm", "-f", *volumes], stdout=subprocess.DEVNULL, check=False
                )
        _say("removed etcd's data, the kubelets' state and the claims' volumes")


def status(s: Settings) -> None:
    """Each component's state, pid, restarts and last exit (from the supervisor's state file)."""
    layout = Layout(s.home)
    api = (
        API(s.url, layout.pki / "ca.crt", ensure_tokens(layout.tokens)["admin"])
        if layout.tokens.exists()
        else None
    )
    pid = supervisor.running_pid(layout.run)
    state = supervisor.read_state(layout.run)
    records = state.components if state else [ComponentState(name) for name in _all_names(s)]
    now = time.time()
    print(f"{'COMPONENT':<28} {'STATE':<22} {'PID':<8} {'RESTARTS':<9} {'LAST EXIT':<26} STARTED")
    for record in records:
        running = _running_pid(layout, record.name)
        if state is None or pid is None:  # nobody supervises: only the pid files tell
            record.state, record.pid = ("running", running) if running else ("not running", None)
        elif record.state == RUNNING and running is None:
            record.state = "exited"  # just now: the supervisor notices within a fraction of a second
        label = record.state
        if record.name == "apiserver" and record.pid and api is not None:
            label = "ready" if api.ready() else "running, not ready"
        if record.last_exit is not None and record.last_exit_code is not None:
            last_exit = f"{record.describe_exit()} {_ago(now - record.last_exit)}"
        else:
            last_exit = "-"
        started = _ago(now - record.last_start) if record.last_start else "-"
        print(
            f"{record.name:<28} {label:<22} {record.pid or '-'!s:<8} {record.restarts:<9} {last_exit:<26} {started}"
        )
    print(
        f"supervisor: {f'running (pid {pid})' if pid else 'not running'} (log: {layout.log_file('supervisor')})"
    )
    if api is not None and api.ready():
        code, body = api.request("GET", "/api/v1/nodes")
        if code == 200:
            for n in body["items"]:
                cond = {c["type"]: c["status"] for c in n.get("status", {}).get("conditions") or []}
                print(f"node {n['metadata']['name']:<23} Ready={cond.get('Ready', '?')}")


def _all_names(s: Settings) -> list[str]:
    return ["etcd", *[n for n, _, _ in _process_names(s)]]


def _ago(seconds: float) -> str:
    """``12s ago``, ``5m ago``, ``3h ago``: the way kubectl prints ages."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.0f}h ago"


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings(
        home=minik_home(),
        nodes=args.nodes,
        proxy_mode=args.proxy_mode,
        apiserver_port=args.apiserver_port,
        etcd_port=args.etcd_port,
        service_cidr=args.service_cidr,
        cluster_cidr=args.cluster_cidr,
        demo=not getattr(args, "no_demo", False),
    )


def main(argv: list[str] | None = None) -> None:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="minik-cluster", description="Run a local minik cluster.")
    parser.add_argument(
        "--nodes", type=int, default=int(env("MINIK_NODES", "2")), help="kubelets to run [MINIK_NODES]"
    )
    parser.add_argument(
        "--proxy-mode",
        default=env("MINIK_PROXY_MODE", "iptables"),
        choices=["iptables", "nftables", "userspace", "ipvs"],
        help="[MINIK_PROXY_MODE]",
    )
    parser.add_argument("--apiserver-port", type=int, default=int(env("MINIK_APISERVER_PORT", "6443")))
    parser.add_argument("--etcd-port", type=int, default=int(env("MINIK_ETCD_PORT", "2379")))
    parser.add_argument("--service-cidr", default=env("MINIK_SERVICE_CIDR", "10.96.0.0/12"))
    parser.add_argument("--cluster-cidr", default=env("MINIK_CLUSTER_CIDR", "10.244.0.0/16"))
    sub = parser.add_subparsers(dest="command", required=True)
    u = sub.add_parser("up", help="start the cluster and the demo (idempotent)")
    u.add_argument("--no-demo", action="store_true", help="do not deploy examples/")
    d = sub.add_parser("down", help="stop everything `up` started and remove what it created")
    d.add_argument(
        "--purge",
        action="store_true",
        help="also delete etcd's data, the kubelets' state and the claims' volumes",
    )
    sub.add_parser("status", help="show each component's state, pid, restarts and last exit")
    stop = sub.add_parser("stop", help="stop one component and keep it stopped (the supervisor holds it)")
    stop.add_argument("component", help="a name from `status`: etcd, scheduler, kubelet-minik-node-1, ...")
    stop.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM: as if it crashed")
    start = sub.add_parser("start", help="start a component stopped with `stop` again")
    start.add_argument("component")
    mode = sub.add_parser("proxy-mode", help="restart kube-proxy in another mode (its old rules removed)")
    mode.add_argument("mode", choices=["iptables", "nftables", "userspace", "ipvs"])
    args = parser.parse_args(argv)
    s = settings_from_args(args)
    if args.command == "up":
        up(s)
    elif args.command == "down":
        down(s, purge=args.purge)
    elif args.command == "stop":
        stop_component(s, args.component, kill=args.kill)
    elif args.command == "start":
        start_component(s, args.component)
    elif args.command == "proxy-mode":
        _supervised_names(s)
        restart_proxy(s, args.mode)
    else:
        status(s)


def _supervised_names(s: Settings) -> list[str]:
    """The components the running supervisor owns (a usage error if none runs)."""
    layout = Layout(s.home)
    state = supervisor.read_state(layout.run)
    if supervisor.running_pid(layout.run) is None or state is None:
        raise SystemExit("the cluster is not running (minikctl cluster up)")
    return [c.name for c in state.components]


def stop_component(s: Settings, name: str, *, kill: bool = False) -> None:
    """``systemctl stop`` for one component: the supervisor stops it and does not restart it."""
    names = _supervised_names(s)
    if name not in names:
        raise SystemExit(f"no component {name!r}; the components are: {', '.join(names)}")
    layout = Layout(s.home)
    supervisor.hold(layout.run, name, kill=kill)
    record = supervisor.wait_for_state(layout.run, name, {HELD}, timeout=60)
    _say(f"{name} stopped (exit {record.describe_exit() or '-'}); `start {name}` starts it again")


def start_component(s: Settings, name: str) -> None:
    names = _supervised_names(s)
    if name not in names:
        raise SystemExit(f"no component {name!r}; the components are: {', '.join(names)}")
    layout = Layout(s.home)
    supervisor.release(layout.run, name)
    record = supervisor.wait_for_state(layout.run, name, {RUNNING}, timeout=120)
    _say(f"{name} running (pid {record.pid})")


if __name__ == "__main__":
    main()
