"""minikctl explain / api-resources / version / config view / cluster-info / inspect."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from minik.cli.info import redact
from minik.cli.inspect import iptables_lines
from minik.cli.printers import status_style
from tests.cli.conftest import Run
from tests.conftest import APIServerProcess

pytestmark = pytest.mark.integration


def test_explain(ctl: Run) -> None:
    r = ctl("explain", "deployment.spec.strategy")
    assert r.code == 0, r.err
    assert "KIND:       Deployment" in r.out and "GROUP:      apps" in r.out
    assert "FIELD: strategy <DeploymentStrategy>" in r.out
    fields = {
        line.split()[0]: line.split()[1]
        for line in r.out.split("FIELDS:")[1].splitlines()
        if line.startswith("  ") and not line.startswith("    ")
    }
    assert fields == {"rollingUpdate": "<RollingUpdateDeployment>", "type": "<string>"}
    r = ctl("explain", "pods.spec.containers")
    assert "<[]Container>" in r.out and "image" in r.out
    r = ctl("explain", "deployment.spec.nope")
    assert r.code == 1 and 'field "nope" does not exist' in r.err


def test_api_resources(ctl: Run) -> None:
    r = ctl("api-resources")
    assert r.code == 0, r.err
    rows = {line.split()[0]: line.split() for line in r.out.splitlines()[1:]}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    r = ctl("api-resources", "--namespaced=false", "-o", "name")
    assert "nodes" in r.out.split() and "pods" not in r.out.split()


def test_version_client_only(ctl: Run) -> None:
    r = ctl("version", "--client", "-o", "yaml")
    assert yaml.safe_load(r.out)["clientVersion"]["minikctl"]


def test_config_view_redacts(ctl: Run, apiserver: APIServerProcess) -> None:
    r = ctl("config", "view")
    assert r.code == 0, r.err
    assert apiserver.token not in r.out
    doc = yaml.safe_load(r.out)
    assert doc["users"][0]["user"]["token"] == "REDACTED"
    assert apiserver.url in r.out
    r = ctl("config", "view", "--raw", "--minify")
    assert apiserver.token in r.out
    assert redact({"users": [{"user": {"token": "s", "client-key-data": "k"}}]}) == {
        "users": [{"user": {"token": "REDACTED", "client-key-data": "DATA+OMITTED"}}]
    }


def test_kubeconfig_missing_is_a_message(ctl: Run, tmp_path: Path) -> None:
    from minik.cli.main import main

    assert main(["--kubeconfig", str(tmp_path / "none"), "get", "pods"]) == 1


def test_cluster_info(ctl: Run, apiserver: APIServerProcess) -> None:
    r = ctl("cluster-info")
    assert r.code == 0, r.err
    assert f"Kubernetes control plane is running at {apiserver.url}" in r.out


def test_inspect_service_degrades(ctl: Run, api: httpx.Client, ns: str) -> None:
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    assert api.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
    r = ctl("inspect", "service", "s")
    assert r.code == 0, r.err
    assert (
        f"Service {ns}/s" in r.out and "EndpointSlices (0)" in r.out and "Proxy rules on this node" in r.out
    )


def test_inspect_pod(ctl: Run, api: httpx.Client, ns: str) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    assert api.post(f"/api/v1/namespaces/{ns}/pods", json=pod).status_code == 201
    r = ctl("inspect", "pod", "p")
    # No kubelet in this fixture: Docker (if reachable) has no containers of this pod.
    assert r.code == 1 and "Traceback" not in r.err
    assert "no containers for pod" in r.err or "cannot reach Docker" in r.err
    # A pod with real containers needs a kubelet: tests/e2e/test_story.py inspects one.


def test_iptables_lines_follow_service_chains() -> None:
    from minik.proxy.iptables import sep_chain, svc_chain
    from minik.proxy.model import ServicePortName

    name = ServicePortName("default", "web", "", "TCP")
    svc, sep = svc_chain(name), sep_chain(name, "10.244.0.5:80")
    dump = "\n".join(
        [
            "*nat",
            f":{svc} - [0:0]",
            f":{sep} - [0:0]",
            ":KUBE-SVC-OTHER - [0:0]",
            f"-A KUBE-SERVICES -d 10.96.0.20/32 -p tcp --dport 80 -j {svc}",
            f"-A {svc} -j {sep}",
            f"-A {sep} -p tcp -j DNAT --to-destination 10.244.0.5:80",
            "-A KUBE-SVC-OTHER -j KUBE-SEP-OTHER",
            "COMMIT",
        ]
    )
    service = {"metadata": {"namespace": "default", "name": "web"}, "spec": {"ports": [{"port": 80}]}}
    lines = iptables_lines(service, dump)
    assert len(lines) == 5 and not any("OTHER" in line for line in lines)


def test_status_colours() -> None:
    assert status_style("Running") == "green"
    assert status_style("ContainerCreating") == "yellow"
    assert status_style("Pending") == "yellow"
    assert status_style("CrashLoopBackOff") == "red"
    assert status_style("NotReady") == "red"
    assert status_style("Ready") == "green"


def _two_contexts(path: Path, second_server: str = "https://127.0.0.1:2") -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "one",
        "clusters": [
            {
                "name": "c1",
                "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "Q0E="},
            },
            {"name": "c2", "cluster": {"server": second_server}},
        ],
        "users": [{"name": "u1", "user": {"token": "secret-1"}}, {"name": "u2", "user": {"token": "s2"}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2"}},
        ],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def test_config_view_minify_keeps_only_the_chosen_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from minik.cli.main import main

    cfg = str(_two_contexts(tmp_path / "kc"))
    assert main(["--kubeconfig", cfg, "--context", "two", "config", "view", "--minify", "-o", "json"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["current-context"] == "two"
    assert [c["name"] for c in doc["contexts"]] == ["two"]
    assert [c["name"] for c in doc["clusters"]] == ["c2"] and [u["name"] for u in doc["users"]] == ["u2"]
    assert doc["users"][0]["user"]["token"] == "REDACTED"


def test_config_view_redacts_certificate_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from minik.cli.main import main

    cfg = str(_two_contexts(tmp_path / "kc"))
    assert main(["--kubeconfig", cfg, "config", "view"]) == 0
    out = capsys.readouterr().out
    assert "Q0E=" not in out and "secret-1" not in out and "DATA+OMITTED" in out
    assert main(["--kubeconfig", cfg, "--context", "three", "config", "view", "--minify"]) == 1
    assert "no context named 'three'" in capsys.readouterr().err


def test_api_resources_of_one_group_wide(ctl: Run) -> None:
    r = ctl("api-resources", "--api-group", "apps", "-o", "wide")
    assert r.code == 0, r.err
    header, *rows = r.out.splitlines()
    assert header.split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"]
    assert rows and all(row.split()[2] == "apps/v1" or row.split()[1] == "apps/v1" for row in rows)
    deployments = next(row.split() for row in rows if row.startswith("deployments "))
    assert "list" in deployments[5].split(",") and "all" in deployments[6].split(",")


def test_version_prints_the_client_even_without_a_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from minik.cli.main import main
    from minik.cluster.etcd_process import free_port

    cfg = str(_two_contexts(tmp_path / "kc", f"https://127.0.0.1:{free_port()}"))
    assert main(["--kubeconfig", cfg, "--context", "two", "version"]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("Client Version: minikctl ")
    assert "Server Version" not in captured.out
    assert "cannot reach the API server" in captured.err
