# The client types every model field Optional (any field may be absent on the wire) and
# leaves its config and watch helpers untyped; these tests assert on the fields our answers
# must carry, so mypy is told not to demand a None check before each of them.
# mypy: disable-error-code="union-attr, index, operator, arg-type, no-untyped-call"
"""The official ``kubernetes`` Python client, unmodified, against minik.

Nobody on this project wrote that client: if its typed models deserialize our
answers and its watch helper follows our streams, minik speaks Kubernetes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client, config, watch
from kubernetes.client import ApiException

from tests.helpers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.compat]


@pytest.fixture()
def k8s(apiserver) -> Iterator[client.ApiClient]:  # type: ignore[no-untyped-def]
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    yield api_client
    api_client.close()


def test_namespaces_crud(k8s: client.ApiClient) -> None:
    core = client.CoreV1Api(k8s)
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(generate_name="pyc-")))
    name = ns.metadata.name
    assert ns.status.phase == "Active"
    assert name in [n.metadata.name for n in core.list_namespace().items]
    patched = core.patch_namespace(name, {"metadata": {"labels": {"team": "a"}}})
    # Like upstream, every namespace carries its own name as a label.
    assert patched.metadata.labels == {"team": "a", "kubernetes.io/metadata.name": name}
    deleted = core.delete_namespace(name)
    assert deleted is not None
    assert core.read_namespace(name).status.phase == "Terminating"


def test_pods_crud_and_status(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    body = client.V1Pod(
        metadata=client.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="c",
                    image="busybox:1.36",
                    ports=[client.V1ContainerPort(container_port=8080, name="http")],
                )
            ]
        ),
    )
    created = core.create_namespaced_pod(ns, body)
    assert created.status.phase == "Pending" and created.spec.restart_policy == "Always"
    assert created.spec.containers[0].ports[0].protocol == "TCP"
    pods = core.list_namespaced_pod(ns, label_selector="app=web")
    assert [p.metadata.name for p in pods.items] == ["web"]
    read = core.read_namespaced_pod("web", ns)
    read.status.phase = "Running"
    updated = core.replace_namespaced_pod_status("web", ns, read)
    assert updated.status.phase == "Running"
    patched = core.patch_namespaced_pod("web", ns, {"metadata": {"annotations": {"note": "hi"}}})
    assert patched.metadata.annotations == {"note": "hi"}
    core.delete_namespaced_pod("web", ns)
    with pytest.raises(ApiException) as e:
        core.read_namespaced_pod("web", ns)
    assert e.value.status == 404


def test_services(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    svc = core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="db"),
            spec=client.V1ServiceSpec(
                selector={"app": "db"},
                type="NodePort",
                ports=[client.V1ServicePort(port=5432, target_port="pg")],
            ),
        ),
    )
    assert svc.spec.cluster_ip.startswith("10.") and 30000 <= svc.spec.ports[0].node_port <= 32767
    assert svc.spec.ports[0].target_port == "pg"
    listed = core.list_namespaced_service(ns)
    assert [s.metadata.name for s in listed.items] == ["db"]
    core.patch_namespaced_service("db", ns, {"spec": {"ports": [{"port": 5432, "targetPort": 5433}]}})
    assert core.read_namespaced_service("db", ns).spec.ports[0].target_port == 5433
    core.delete_namespaced_service("db", ns)


def test_configmaps_conflict_is_an_api_exception(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    cm = core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"), data={"mode": "a"})
    )
    cm.data = {"mode": "b"}
    core.replace_namespaced_config_map("settings", ns, cm)
    cm.data = {"mode": "c"}  # still the old resourceVersion
    with pytest.raises(ApiException) as e:
        core.replace_namespaced_config_map("settings", ns, cm)
    assert e.value.status == 409
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(
            ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="settings"))
        )
    assert e.value.status == 409 and "AlreadyExists" in e.value.body


def test_deployments_and_scale(k8s: client.ApiClient, ns: str) -> None:
    apps = client.AppsV1Api(k8s)
    labels = {"app": "api"}
    dep = apps.create_namespaced_deployment(
        ns,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="api"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels=labels),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels=labels),
                    spec=client.V1PodSpec(containers=[client.V1Container(name="api", image="busybox:1.36")]),
                ),
            ),
        ),
    )
    assert dep.spec.strategy.type == "RollingUpdate" and dep.metadata.generation == 1
    patched = apps.patch_namespaced_deployment(
        "api",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "api", "image": "busybox:1.37"}]}}}},
    )
    assert patched.spec.template.spec.containers[0].image == "busybox:1.37"
    assert patched.metadata.generation == 2
    scale = apps.patch_namespaced_deployment_scale("api", ns, {"spec": {"replicas": 5}})
    assert scale.spec.replicas == 5
    assert apps.read_namespaced_deployment("api", ns).spec.replicas == 5
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment(
            ns,
            client.V1Deployment(
                metadata=client.V1ObjectMeta(name="bad"),
                spec=client.V1DeploymentSpec(
                    selector=client.V1LabelSelector(match_labels={"app": "x"}),
                    template=client.V1PodTemplateSpec(
                        metadata=client.V1ObjectMeta(labels={"app": "y"}),
                        spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="i")]),
                    ),
                ),
            ),
        )
    assert e.value.status == 422
    apps.delete_namespaced_deployment("api", ns)


def test_watch_stream(k8s: client.ApiClient, ns: str) -> None:
    core = client.CoreV1Api(k8s)
    rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str]] = []
    w = watch.Watch()

    def follow() -> None:
        for event in w.stream(core.list_namespaced_config_map, ns, resource_version=rv, timeout_seconds=20):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    core.create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="w"), data={"a": "1"})
    )
    core.patch_namespaced_config_map("w", ns, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("w", ns)
    wait_until(lambda: len(seen) == 3, timeout=15, message="three watch events")
    t.join(5)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
