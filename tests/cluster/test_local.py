"""minik.cluster.local without Docker: settings, command lines, start order, kube-dns, status, API.

Nothing here starts a cluster: the command lines are checked as data, ``status`` reads pid
files this test writes, and the stdlib API client talks to the fixture API server.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from minik.cluster import local, pidfile
from minik.cluster.credentials import COMPONENTS
from minik.cluster.local import API, Layout, Settings, dns_objects
from tests.conftest import APIServerProcess

COMPONENT_NAMES = ("apiserver", "controller-manager", "scheduler", "kubelet", "proxy", "dns")


def flags(argv: list[str]) -> dict[str, str]:
    """``--flag value`` pairs of a command line (a flag without a value maps to "")."""
    out: dict[str, str] = {}
    for i, word in enumerate(argv):
        if word.startswith("--"):
            nxt = argv[i + 1] if i + 1 < len(argv) else ""
            out[word] = "" if nxt.startswith("--") else nxt
    return out


def argv_of(s: Settings, component: str, node: int = 0) -> list[str]:
    argv = local._component_argv(s, Layout(s.home), component, node)
    assert argv is not None, component
    return argv


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path,
        name="demo",
        nodes=3,
        apiserver_port=7443,
        etcd_port=3379,
        service_cidr="10.100.0.0/16",
        cluster_cidr="10.200.0.0/16",
        cluster_dns="10.100.0.10",
        dns_port=2053,
        kubelet_base_port=11250,
    )


def test_settings_derive_names_and_addresses(settings: Settings) -> None:
    assert settings.url == "https://127.0.0.1:7443"
    assert settings.pod_network == "demo-pods"
    assert settings.pod_gateway == "10.200.0.1"  # the first address of the pod CIDR
    assert [settings.node_name(i) for i in range(3)] == ["demo-node-1", "demo-node-2", "demo-node-3"]


def test_layout_under_home(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert layout.kubeconfig == tmp_path / "kubeconfig"
    assert layout.tokens == tmp_path / "tokens.csv"
    assert layout.component_kubeconfig("scheduler") == tmp_path / "kubeconfig-scheduler"
    assert layout.pid_file("dns") == tmp_path / "run" / "dns.pid"
    assert layout.log_file("dns") == tmp_path / "logs" / "dns.log"
    assert layout.pki == tmp_path / "pki"


def test_start_order_follows_dependencies(settings: Settings) -> None:
    order = [name for name, _, _ in local._process_names(settings)]
    assert order == [
        "apiserver",
        "controller-manager",
        "scheduler",
        "kubelet-demo-node-1",
        "kubelet-demo-node-2",
        "kubelet-demo-node-3",
        "proxy",
        "dns",
    ]
    kubelets = [(c, n) for name, c, n in local._process_names(settings) if name.startswith("kubelet")]
    assert kubelets == [("kubelet", 0), ("kubelet", 1), ("kubelet", 2)]


@pytest.mark.parametrize("component", COMPONENT_NAMES)
def test_every_command_line_runs_an_existing_module_with_its_own_credentials(
    settings: Settings, component: str
) -> None:
    argv = argv_of(settings, component)
    assert argv[1] == "-m"
    assert importlib.util.find_spec(argv[2]) is not None, argv[2]
    if component == "apiserver":
        assert "--kubeconfig" not in argv  # it is the server: it reads the token file instead
    else:
        assert component in COMPONENTS  # `up` writes a kubeconfig (and a token) for it
        assert flags(argv)["--kubeconfig"] == str(settings.home / f"kubeconfig-{component}")


def test_apiserver_command_line(settings: Settings) -> None:
    f = flags(argv_of(settings, "apiserver"))
    assert f["--etcd-servers"] == "http://127.0.0.1:3379"
    assert f["--secure-port"] == "7443"
    assert f["--tls-cert-file"] == str(settings.home / "pki" / "apiserver.crt")
    assert f["--tls-private-key-file"] == str(settings.home / "pki" / "apiserver.key")
    assert f["--token-auth-file"] == str(settings.home / "tokens.csv")
    assert f["--service-cluster-ip-range"] == "10.100.0.0/16"
    # kubelets are called with the API server's own certificate, and must present one from the CA
    assert f["--kubelet-client-certificate"] == str(settings.home / "pki" / "apiserver-kubelet-client.crt")
    assert f["--kubelet-client-key"] == str(settings.home / "pki" / "apiserver-kubelet-client.key")
    assert f["--kubelet-certificate-authority"] == str(settings.home / "pki" / "ca.crt")


def test_kubelet_command_lines_differ_per_node(settings: Settings) -> None:
    first, third = flags(argv_of(settings, "kubelet", 0)), flags(argv_of(settings, "kubelet", 2))
    assert (first["--node-name"], third["--node-name"]) == ("demo-node-1", "demo-node-3")
    assert (first["--port"], third["--port"]) == ("11250", "11252")
    assert third["--root-dir"] == str(settings.home / "kubelet" / "demo-node-3")
    for f in (first, third):
        assert f["--runtime"] == "docker"
        assert f["--pod-network-name"] == "demo-pods"
        assert f["--cluster-cidr"] == "10.200.0.0/16"
        assert f["--cluster-dns"] == "10.100.0.10"
        assert f["--client-ca-file"] == str(settings.home / "pki" / "ca.crt")
        assert "--token-auth-file" not in f  # the kubelet asks the API server (TokenReview) instead
        assert f["--owner-label"] == f"{local.OWNER_LABEL}=demo"  # what `down` removes containers by
    assert first["--tls-cert-file"] == str(settings.home / "pki" / "kubelet-demo-node-1.crt")
    assert third["--tls-private-key-file"] == str(settings.home / "pki" / "kubelet-demo-node-3.key")


def test_other_components_command_lines(settings: Settings) -> None:
    cm = flags(argv_of(settings, "controller-manager"))
    assert cm["--cluster-cidr"] == "10.200.0.0/16" and cm["--service-cluster-ip-range"] == "10.100.0.0/16"
    settings.proxy_mode = "nftables"
    proxy = flags(argv_of(settings, "proxy"))
    assert proxy["--proxy-mode"] == "nftables"
    assert proxy["--service-cidr"] == "10.100.0.0/16" and proxy["--cluster-cidr"] == "10.200.0.0/16"
    assert proxy["--state-dir"] == str(settings.home / "proxy")
    assert flags(argv_of(settings, "dns"))["--listen"] == "0.0.0.0:2053"


def test_extra_flags_go_last_and_only_to_their_component(settings: Settings) -> None:
    settings.extra = {"scheduler": ["--v", "4"]}
    assert argv_of(settings, "scheduler")[-2:] == ["--v", "4"]
    assert "--v" not in argv_of(settings, "dns")


def test_an_unknown_component_is_an_error(settings: Settings) -> None:
    with pytest.raises(ValueError, match="etcd"):
        local._component_argv(settings, Layout(settings.home), "etcd")


def test_kube_dns_points_at_the_dns_process_through_the_pod_gateway(settings: Settings) -> None:
    service, endpoints = dns_objects(settings)
    assert (service["kind"], endpoints["kind"]) == ("Service", "Endpoints")
    for obj in (service, endpoints):
        assert (obj["metadata"]["namespace"], obj["metadata"]["name"]) == ("kube-system", "kube-dns")
    spec = service["spec"]
    assert "selector" not in spec  # selector-less: the Endpoints are written by hand
    assert spec["clusterIP"] == "10.100.0.10"
    assert {(p["protocol"], p["port"], p["targetPort"]) for p in spec["ports"]} == {
        ("UDP", 53, 2053),
        ("TCP", 53, 2053),
    }
    (subset,) = endpoints["subsets"]
    assert subset["addresses"] == [{"ip": "10.200.0.1"}]
    # Endpoints ports are matched to Service ports by name.
    assert {p["name"] for p in subset["ports"]} == {p["name"] for p in spec["ports"]}
    assert {p["port"] for p in subset["ports"]} == {2053}


# -- status ----------------------------------------------------------------------------------


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINIK_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait(5)


def status_rows(out: str) -> dict[str, list[str]]:
    """The component table of ``status`` → {name: [state, pid or ""]}."""
    lines = [line for line in out.splitlines() if not line.startswith(("supervisor: ", "node "))]
    assert lines[0].split() == ["COMPONENT", "STATE", "PID", "RESTARTS", "LAST", "EXIT", "STARTED"]
    rows: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, state, pid = line[:28].strip(), line[29:51].strip(), line[52:60].strip()
        rows[name] = [state, "" if pid == "-" else pid]
    return rows


def test_status_of_a_cluster_that_never_ran(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local.main(["--nodes", "1", "status"])
    out = capsys.readouterr().out
    assert "supervisor: not running" in out
    rows = status_rows(out)
    assert list(rows) == [
        "etcd",
        "apiserver",
        "controller-manager",
        "scheduler",
        "kubelet-minik-node-1",
        "proxy",
        "dns",
    ]
    assert all(state == ["not running", ""] for state in rows.values())


def test_status_reads_pid_files(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    sleeper: subprocess.Popen[bytes],
) -> None:
    monkeypatch.setenv("MINIK_NODES", "3")  # the environment fallback of --nodes
    layout = Layout(home)
    layout.run.mkdir()
    pidfile.write(layout.pid_file("scheduler"), sleeper.pid)
    dead = subprocess.Popen(["true"])
    dead.wait(5)
    layout.pid_file("dns").write_text(str(dead.pid))
    layout.pid_file("proxy").write_text("garbage")
    local.main(["status"])
    rows = status_rows(capsys.readouterr().out)
    assert "kubelet-minik-node-3" in rows
    assert rows["scheduler"] == ["running", str(sleeper.pid)]
    assert rows["dns"] == ["not running", ""] and rows["proxy"] == ["not running", ""]
    # Stale pid files are removed; the live one stays.
    assert not layout.pid_file("dns").exists() and not layout.pid_file("proxy").exists()
    assert layout.pid_file("scheduler").exists()


# -- the stdlib API client (it runs before anything else is up) ------------------------------


def test_api_client_against_a_real_server(apiserver: APIServerProcess, api: httpx.Client, ns: str) -> None:
    client = API(apiserver.url, apiserver.ca_file, apiserver.token)
    assert client.ready()
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": ns},
        "data": {"a": "1"},
    }
    assert client.apply(cm) == 201  # server-side apply creates
    cm["data"] = {"a": "2"}
    assert client.apply(cm) == 200  # and then updates
    code, body = client.request("GET", f"/api/v1/namespaces/{ns}/configmaps/c")
    assert code == 200 and body["data"] == {"a": "2"}
    managers = {m["manager"] for m in body["metadata"]["managedFields"]}
    assert managers == {"minik-cluster"}
    code, body = client.request("GET", f"/api/v1/namespaces/{ns}/configmaps/missing")
    assert code == 404 and body["reason"] == "NotFound"
    wrong = API(apiserver.url, apiserver.ca_file, "wrong-token")
    assert wrong.request("GET", "/api/v1/namespaces")[0] == 401


def test_api_client_when_nothing_listens(apiserver: APIServerProcess) -> None:
    from minik.cluster.etcd_process import free_port

    client = API(f"https://127.0.0.1:{free_port()}", apiserver.ca_file, apiserver.token)
    assert not client.ready()
    assert client.request("GET", "/api/v1/nodes") == (0, None)


def test_status_asks_a_running_apiserver_about_nodes(
    home: Path,
    apiserver: APIServerProcess,
    api: httpx.Client,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``status`` of a cluster whose API server is the fixture's: readiness and node conditions."""
    layout = Layout(home)
    layout.run.mkdir()
    layout.pki.mkdir()
    shutil.copy(apiserver.ca_file, layout.pki / "ca.crt")
    shutil.copy(apiserver.ca_file.parent.parent / "tokens.csv", layout.tokens)
    pidfile.write(layout.pid_file("apiserver"), apiserver.process.pid)
    node = f"status-{secrets.token_hex(3)}"
    assert api.post("/api/v1/nodes", json={"metadata": {"name": node}}).status_code == 201
    try:
        ready = {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
        patched = api.patch(
            f"/api/v1/nodes/{node}/status",
            json=ready,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert patched.status_code == 200, patched.text
        port = apiserver.url.rsplit(":", 1)[1]
        local.main(["--apiserver-port", port, "status"])
        out = capsys.readouterr().out
        rows = status_rows("\n".join(line for line in out.splitlines() if not line.startswith("node ")))
        assert rows["apiserver"] == ["ready", str(apiserver.process.pid)]
        assert f"node {node:<23} Ready=True" in out.splitlines()
    finally:
        api.delete(f"/api/v1/nodes/{node}")
