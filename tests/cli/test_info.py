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
