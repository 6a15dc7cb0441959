"""Pod → runtime config translation, env resolution, atomic volume files (no Docker needed)."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest

from minik.kubelet.atomicdir import FileContent, write_atomic
from minik.kubelet.envvars import EnvError, container_env, expand, service_env
from minik.kubelet.podconfig import (
    PodConfigError,
    container_config,
    hostnames,
    hosts_file,
    resolv_conf,
    sandbox_config,
)
from minik.kubelet.pods import pull_policy
from minik.kubelet.sources import DictSource
from minik.kubelet.volumes import VolumeError, container_mounts, projected_files
from tests.kubelet.conftest import make_pod


def test_hostname_and_fqdn() -> None:
    pod = make_pod("web-0", [], hostname="db", subdomain="nginx", namespace="prod")
    assert hostnames(pod) == ("db", "db.nginx.prod.svc.cluster.local")
    long = make_pod("x" * 70, [])
    assert hostnames(long)[0] == "x" * 63


def test_resolv_conf_per_dns_policy(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example\noptions edns0\n")
    pod = make_pod("p", [], namespace="shop")
    assert resolv_conf(pod, cluster_dns=["10.96.0.10"], host_resolv=host) == (
        "nameserver 10.96.0.10\nsearch shop.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
    )
    host_net = make_pod("p", [], hostNetwork=True)
    assert "192.0.2.53" in resolv_conf(host_net, cluster_dns=["10.96.0.10"], host_resolv=host)
    with_host_net = make_pod("p", [], hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    assert "10.96.0.10" in resolv_conf(with_host_net, cluster_dns=["10.96.0.10"], host_resolv=host)
    custom = make_pod(
        "p",
        [],
        dnsPolicy="None",
        dnsConfig={
            "nameservers": ["1.2.3.4"],
            "searches": ["a.b"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}],
        },
    )
    assert (
        resolv_conf(custom, cluster_dns=["10.96.0.10"])
        == "nameserver 1.2.3.4\nsearch a.b\noptions ndots:2 rotate\n"
    )
    with pytest.raises(PodConfigError, match="dnsPolicy"):
        resolv_conf(make_pod("p", [], dnsPolicy="Bogus"), cluster_dns=[])


def test_hosts_file_has_pod_name_and_aliases() -> None:
    pod = make_pod(
        "web-0",
        [],
        hostname="web-0",
        subdomain="web",
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}],
    )
    text = hosts_file(pod, "10.244.0.7")
    assert "127.0.0.1\tlocalhost" in text
    assert "10.244.0.7\tweb-0.web.default.svc.cluster.local\tweb-0" in text
    assert "10.1.2.3\tfoo.local\tbar.local" in text


def test_sandbox_config_collects_host_ports() -> None:
    pod = make_pod(
        "p",
        [
            {
                "name": "c",
                "image": "i",
                "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}],
            }
        ],
    )
    config = sandbox_config(pod, ip="10.244.0.9", resolv_conf_path=None, hosts_path=None)
    assert config.ip == "10.244.0.9" and config.hostname == "p"
    assert [(p.container_port, p.host_port, p.protocol) for p in config.ports] == [(80, 8080, "TCP")]


def test_container_config_resources_security_and_expansion() -> None:
    container = {
        "name": "app",
        "image": "minik/workload:1.0",
        "command": ["sh", "-c"],
        "args": ["echo $(GREETING) $$HOME"],
        "resources": {"limits": {"memory": "128Mi", "cpu": "1500m"}, "requests": {"cpu": "250m"}},
        "securityContext": {
            "runAsUser": 1000,
            "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
        },
    }
    pod = make_pod(
        "p", [container], securityContext={"runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [4000]}
    )
    config = container_config(pod, container, env={"GREETING": "hi"}, restart_count=2)
    assert config.command == ("sh", "-c") and config.args == ("echo hi $HOME",)
    assert config.memory_limit_bytes == 128 * 1024 * 1024
    assert config.nano_cpus == 1_500_000_000 and config.cpu_shares == 256
    assert config.user == "1000:3000" and config.supplemental_groups == ("4000", "2000")
    assert config.cap_add == ("NET_ADMIN",) and config.cap_drop == ("ALL",)
    assert config.no_new_privileges and config.read_only_root_filesystem and config.restart_count == 2
    root = {"name": "r", "image": "i", "securityContext": {"runAsNonRoot": True, "runAsUser": 0}}
    with pytest.raises(PodConfigError, match="runAsNonRoot"):
        container_config(make_pod("p", [root]), root, env={})


def test_expand() -> None:
    assert expand("$(A)-$(B)-$$(A)-$(MISSING)", {"A": "1", "B": "2"}) == "1-2-$(A)-$(MISSING)"


def test_service_env_follows_docker_links_naming() -> None:
    services = [
        {
            "metadata": {"name": "redis-master", "namespace": "ns"},
            "spec": {"clusterIP": "10.0.0.11", "ports": [{"name": "redis", "port": 6379, "protocol": "TCP"}]},
        },
        {
            "metadata": {"name": "headless", "namespace": "ns"},
            "spec": {"clusterIP": "None", "ports": [{"port": 1}]},
        },
        {
            "metadata": {"name": "kubernetes", "namespace": "default"},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443}]},
        },
        {
            "metadata": {"name": "elsewhere", "namespace": "other"},
            "spec": {"clusterIP": "10.0.0.12", "ports": [{"port": 80}]},
        },
    ]
    env = service_env(services, "ns")
    assert env["REDIS_MASTER_SERVICE_HOST"] == "10.0.0.11"
    assert env["REDIS_MASTER_SERVICE_PORT"] == "6379"
    assert env["REDIS_MASTER_SERVICE_PORT_REDIS"] == "6379"
    assert env["REDIS_MASTER_PORT"] == "tcp://10.0.0.11:6379"
    assert env["REDIS_MASTER_PORT_6379_TCP_ADDR"] == "10.0.0.11"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert not any(k.startswith(("HEADLESS", "ELSEWHERE")) for k in env)
    assert set(service_env(services, "ns", enable_service_links=False)) == {
        k for k in env if k.startswith("KUBERNETES_")
    }


def test_container_env_precedence_and_missing_refs() -> None:
    source = DictSource(
        config_maps={("default", "cm"): {"data": {"A": "from-cm", "B": "b"}}},
        secrets={("default", "s"): {"data": {"A": base64.b64encode(b"from-secret").decode()}}},
    )
    container = {
        "name": "c",
        "image": "i",
        "envFrom": [{"configMapRef": {"name": "cm"}}, {"secretRef": {"name": "s"}}],
        "env": [
            {"name": "B", "value": "literal"},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
            {
                "name": "MEM",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
        ],
        "resources": {"limits": {"memory": "64Mi"}},
    }
    pod = make_pod("p", [container])
    env = container_env(pod, container, source)
    assert env["A"] == "from-secret" and env["B"] == "literal" and "OPT" not in env and env["MEM"] == "64"
    bad = {
        "name": "c",
        "image": "i",
        "env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "zz"}}}],
    }
    with pytest.raises(EnvError, match="couldn't find key zz"):
        container_env(make_pod("p", [bad]), bad, source)


def test_projected_files_and_mount_errors() -> None:
    source = DictSource(
        config_maps={("default", "cm"): {"data": {"a": "1"}}}, tokens={("default", "default"): "tok"}
    )
    pod = make_pod("p", [])
    volume = {
        "name": "v",
        "projected": {
            "defaultMode": 0o440,
            "sources": [
                {"configMap": {"name": "cm"}},
                {"serviceAccountToken": {"path": "token"}},
                {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            ],
        },
    }
    files = projected_files(pod, volume, source)
    assert files == {
        "a": FileContent(b"1", 0o440),
        "token": FileContent(b"tok", 0o440),
        "name": FileContent(b"p", 0o440),
    }
    with pytest.raises(VolumeError, match='configmap "missing" not found'):
        projected_files(pod, {"name": "v", "configMap": {"name": "missing"}}, source)
    with pytest.raises(VolumeError, match="names no volume"):
        container_mounts({"name": "c", "volumeMounts": [{"name": "ghost", "mountPath": "/x"}]}, {})


def test_pull_policy_defaults() -> None:
    assert pull_policy({"image": "nginx"}) == "Always"
    assert pull_policy({"image": "nginx:latest"}) == "Always"
    assert pull_policy({"image": "registry:5000/nginx:1.25"}) == "IfNotPresent"
    assert pull_policy({"image": "minik/workload:1.0", "imagePullPolicy": "Never"}) == "Never"


def test_atomic_directory_swap(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert write_atomic(target, {"a": FileContent(b"1"), "dir/b": FileContent(b"2", 0o600)})
    assert (target / "a").read_bytes() == b"1" and (target / "dir" / "b").read_bytes() == b"2"
    assert (target / "a").is_symlink() and os.readlink(target / "a") == "..data/a"
    assert not write_atomic(target, {"a": FileContent(b"1"), "dir/b": FileContent(b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert write_atomic(target, {"a": FileContent(b"new")})
    assert (target / "a").read_bytes() == b"new"
    assert not (target / "dir").exists() and not (target / first).exists()
    assert sorted(p.name for p in target.iterdir()) == sorted(["a", "..data", os.readlink(target / "..data")])
    with pytest.raises(ValueError, match="invalid path"):
        write_atomic(target, {"../escape": FileContent(b"x")})


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"limits": {"memory": "1e400"}}, "limits.memory"),
        ({"limits": {"cpu": "1e400"}}, "limits.cpu"),
        ({"limits": {"memory": "9223372036854775808"}}, "limits.memory"),  # 2**63: one past int64
    ],
)
def test_a_valid_quantity_the_runtime_cannot_hold_is_a_config_error(resources: Any, field: str) -> None:
    """The API server accepts 1e400 (as upstream); the kubelet reports the pod, it does not crash."""
    container = {"name": "big", "image": "i", "resources": resources}
    with pytest.raises(
        PodConfigError, match=f'container "big": {field} .* larger than the container runtime'
    ):
        container_config(make_pod("p", [container]), container, env={})


def test_cpu_shares_are_exact_and_clamped_as_upstream() -> None:
    def shares(cpu: str) -> int | None:
        container = {"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}
        return container_config(make_pod("p", [container]), container, env={}).cpu_shares

    assert shares("1e400") == 262_144  # a request is a weight: clamped, never an error
    assert shares("1m") == 2 and shares("2") == 2048 and shares("0") is None
    container = {"name": "c", "image": "i", "resources": {"limits": {"memory": "1e18", "cpu": "1n"}}}
    config = container_config(make_pod("p", [container]), container, env={})
    assert config.memory_limit_bytes == 10**18 and config.nano_cpus == 1
