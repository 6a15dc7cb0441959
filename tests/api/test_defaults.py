"""Defaulting: every value the API server fills in, checked against upstream's choices."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minik.api.defaults import apply_defaults, initial_pod_status, qos_class

Obj = dict[str, Any]


def get(obj: Any, path: str) -> Any:
    """``get(obj, "spec.containers.0.name")``; a missing step gives ``KeyError``."""
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def defaulted(obj: Obj) -> Obj:
    apply_defaults(obj)
    return obj


def container(**extra: Any) -> Obj:
    return {"name": "web", "image": "nginx:1.25", **extra}


def pod(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u-1"},
        "spec": {"containers": [container()], **spec},
    }


def template(labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"labels": labels or {"app": "web"}}, "spec": {"containers": [container()], **spec}}


def workload(api_version: str, kind: str, **spec: Any) -> Obj:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": "w", "namespace": "default", "uid": "0000-1111"},
        "spec": spec,
    }


# --- pods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.restartPolicy", "Always"),
        ("spec.dnsPolicy", "ClusterFirst"),
        ("spec.terminationGracePeriodSeconds", 30),
        ("spec.schedulerName", "default-scheduler"),
        ("spec.securityContext", {}),
        ("spec.enableServiceLinks", True),
        ("spec.serviceAccountName", "default"),
        ("spec.serviceAccount", "default"),
        ("spec.priority", 0),
        ("spec.preemptionPolicy", "PreemptLowerPriority"),
        ("spec.containers.0.imagePullPolicy", "IfNotPresent"),
        ("spec.containers.0.terminationMessagePath", "/dev/termination-log"),
        ("spec.containers.0.terminationMessagePolicy", "File"),
        ("spec.containers.0.resources", {}),
    ],
)
def test_pod_defaults(path: str, expected: Any) -> None:
    assert get(defaulted(pod()), path) == expected


def test_pod_status_is_not_defaulted() -> None:
    assert "status" not in defaulted(pod())


def test_given_values_are_kept() -> None:
    p = defaulted(
        pod(
            restartPolicy="Never",
            dnsPolicy="Default",
            terminationGracePeriodSeconds=0,
            serviceAccountName="robot",
        )
    )
    assert p["spec"]["restartPolicy"] == "Never"
    assert p["spec"]["dnsPolicy"] == "Default"
    assert p["spec"]["terminationGracePeriodSeconds"] == 0
    assert p["spec"]["serviceAccountName"] == "robot"
    assert p["spec"]["serviceAccount"] == "robot"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("docker.io/library/nginx", "Always"),
        ("localhost:5000/app", "Always"),  # a registry port is not a tag
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "Always"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    p = pod()
    p["spec"]["containers"][0]["image"] = image
    assert defaulted(p)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_explicit_pull_policy_is_kept() -> None:
    p = pod()
    p["spec"]["containers"][0].update(image="nginx", imagePullPolicy="Never")
    assert defaulted(p)["spec"]["containers"][0]["imagePullPolicy"] == "Never"


def test_init_containers_and_ports() -> None:
    p = pod(initContainers=[container(name="init", image="busybox")])
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    p = defaulted(p)
    assert p["spec"]["initContainers"][0]["imagePullPolicy"] == "Always"
    assert [port["protocol"] for port in p["spec"]["containers"][0]["ports"]] == ["TCP", "UDP"]


def test_host_network_copies_container_ports_to_host_ports() -> None:
    p = pod(hostNetwork=True)
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    assert defaulted(p)["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe", "startupProbe"])
def test_probe_defaults(probe: str) -> None:
    p = pod()
    p["spec"]["containers"][0][probe] = {"httpGet": {"port": 80}}
    got = defaulted(p)["spec"]["containers"][0][probe]
    assert got == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_probe_values_are_kept() -> None:
    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": 80}, "periodSeconds": 2}
    assert defaulted(p)["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] == 2


def test_lifecycle_http_hook_and_field_ref_defaults() -> None:
    p = pod()
    ctr = p["spec"]["containers"][0]
    ctr["lifecycle"] = {"preStop": {"httpGet": {"port": 80}}}
    ctr["env"] = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    ctr = defaulted(p)["spec"]["containers"][0]
    assert ctr["lifecycle"]["preStop"]["httpGet"]["scheme"] == "HTTP"
    assert ctr["env"][0]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ({"name": "v"}, {"name": "v", "emptyDir": {}}),
        (
            {"name": "v", "configMap": {"name": "c"}},
            {"name": "v", "configMap": {"name": "c", "defaultMode": 420}},
        ),
        (
            {"name": "v", "secret": {"secretName": "s"}},
            {"name": "v", "secret": {"secretName": "s", "defaultMode": 420}},
        ),
        (
            {"name": "v", "secret": {"secretName": "s", "defaultMode": 256}},
            {"name": "v", "secret": {"secretName": "s", "defaultMode": 256}},
        ),
        ({"name": "v", "hostPath": {"path": "/x"}}, {"name": "v", "hostPath": {"path": "/x", "type": ""}}),
        ({"name": "v", "emptyDir": {"medium": "Memory"}}, {"name": "v", "emptyDir": {"medium": "Memory"}}),
        (
            {"name": "v", "persistentVolumeClaim": {"claimName": "c"}},
            {"name": "v", "persistentVolumeClaim": {"claimName": "c"}},
        ),
        (
            {"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}},
            {
                "name": "v",
                "projected": {
                    "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}],
                    "defaultMode": 420,
                },
            },
        ),
    ],
)
def test_volume_defaults(volume: Obj, expected: Obj) -> None:
    assert defaulted(pod(volumes=[volume]))["spec"]["volumes"] == [expected]


NOT_READY = {
    "key": "node.kubernetes.io/not-ready",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}
UNREACHABLE = {
    "key": "node.kubernetes.io/unreachable",
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, [NOT_READY, UNREACHABLE]),
        ([], [NOT_READY, UNREACHABLE]),
        # A toleration for one of the taints (any seconds) suppresses that default only.
        (
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 5,
                }
            ],
            [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 5,
                },
                UNREACHABLE,
            ],
        ),
        # "Tolerate everything" needs no help.
        ([{"operator": "Exists"}], [{"operator": "Exists"}]),
        # A NoSchedule toleration of the same key does not count.
        (
            [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"}],
            [
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoSchedule"},
                NOT_READY,
                UNREACHABLE,
            ],
        ),
    ],
)
def test_default_toleration_seconds(given: list[Obj] | None, expected: list[Obj]) -> None:
    p = pod() if given is None else pod(tolerations=given)
    assert defaulted(p)["spec"]["tolerations"] == expected


def test_requests_default_to_limits_and_quantities_are_canonical() -> None:
    p = pod()
    p["spec"]["containers"][0]["resources"] = {
        "limits": {"cpu": "0.5", "memory": "1024Mi"},
        "requests": {"cpu": "100m"},
    }
    resources = defaulted(p)["spec"]["containers"][0]["resources"]
    assert resources == {
        "limits": {"cpu": "500m", "memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }


def test_quantities_round_up_to_milli_units() -> None:
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "0.0001", "memory": "bogus"}}
    assert defaulted(p)["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1m", "memory": "bogus"}


@pytest.mark.parametrize(
    ("class_name", "priority"),
    [(None, 0), ("system-node-critical", 2000001000), ("system-cluster-critical", 2000000000)],
)
def test_priority(class_name: str | None, priority: int) -> None:
    p = pod() if class_name is None else pod(priorityClassName=class_name)
    assert defaulted(p)["spec"]["priority"] == priority


# --- pod templates --------------------------------------------------------------------------


TEMPLATE_OWNERS = [
    ("v1", "ReplicationController"),
    ("v1", "PodTemplate"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"),
]


@pytest.mark.parametrize(("api_version", "kind"), TEMPLATE_OWNERS)
def test_pod_templates_get_pod_spec_defaults_only(api_version: str, kind: str) -> None:
    if kind == "PodTemplate":
        obj = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": "t", "namespace": "d"},
            "template": template(),
        }
        spec = defaulted(obj)["template"]["spec"]
    else:
        spec = defaulted(workload(api_version, kind, template=template()))["spec"]["template"]["spec"]
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    # Admission plugins only act on Pods, not on templates.
    for pod_only in ("serviceAccountName", "tolerations", "enableServiceLinks", "priority"):
        assert pod_only not in spec


def test_cron_job_defaults() -> None:
    cj = workload("batch/v1", "CronJob", schedule="* * * * *", jobTemplate={"spec": {"template": template()}})
    spec = defaulted(cj)["spec"]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["suspend"] is False
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 1
    assert spec["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "Always"


# --- services and endpoints -------------------------------------------------------------------


def service(**spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": spec,
    }


def test_cluster_ip_service_defaults() -> None:
    svc = defaulted(
        service(
            selector={"app": "web"},
            ports=[{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}],
        )
    )
    assert svc["spec"] == {
        "selector": {"app": "web"},
        "ports": [
            {"port": 80, "protocol": "TCP", "targetPort": 80},
            {"port": 53, "protocol": "UDP", "targetPort": "dns"},
        ],
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }
    assert svc["status"] == {"loadBalancer": {}}


@pytest.mark.parametrize("kind", ["NodePort", "LoadBalancer"])
def test_externally_accessible_services_get_external_traffic_policy(kind: str) -> None:
    spec = defaulted(service(type=kind, ports=[{"port": 80, "targetPort": 0}]))["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["ports"][0]["targetPort"] == 80
    assert spec.get("allocateLoadBalancerNodePorts") is (True if kind == "LoadBalancer" else None)


def test_cluster_ip_with_external_ips_is_externally_accessible() -> None:
    spec = defaulted(service(ports=[{"port": 80}], externalIPs=["192.0.2.1"]))["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_client_ip_affinity_gets_a_timeout() -> None:
    spec = defaulted(service(ports=[{"port": 80}], sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_no_affinity_drops_affinity_config() -> None:
    spec = defaulted(
        service(ports=[{"port": 80}], sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}})
    )["spec"]
    assert "sessionAffinityConfig" not in spec


def test_external_name_gets_no_ip_fields() -> None:
    spec = defaulted(service(type="ExternalName", externalName="example.com"))["spec"]
    for field in ("ipFamilies", "ipFamilyPolicy", "clusterIP", "clusterIPs", "internalTrafficPolicy"):
        assert field not in spec


@pytest.mark.parametrize(
    ("given", "ip", "ips"),
    [
        ({"clusterIP": "10.96.0.10"}, "10.96.0.10", ["10.96.0.10"]),
        ({"clusterIP": "None"}, "None", ["None"]),
    ],
)
def test_cluster_ips_follow_cluster_ip(given: Obj, ip: str, ips: list[str]) -> None:
    spec = defaulted(service(ports=[{"port": 80}], selector={"a": "b"}, **given))["spec"]
    assert (spec["clusterIP"], spec["clusterIPs"]) == (ip, ips)


@pytest.mark.parametrize(("selector", "policy"), [({"app": "db"}, "SingleStack"), (None, "RequireDualStack")])
def test_headless_ip_family_policy(selector: Obj | None, policy: str) -> None:
    svc = service(clusterIP="None") if selector is None else service(clusterIP="None", selector=selector)
    assert defaulted(svc)["spec"]["ipFamilyPolicy"] == policy


def test_endpoints_and_endpoint_slice_ports_default_to_tcp() -> None:
    ep = {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}],
    }
    assert defaulted(ep)["subsets"][0]["ports"][0]["protocol"] == "TCP"
    eps = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "addressType": "IPv4",
        "ports": [{"port": 80}],
    }
    assert defaulted(eps)["ports"] == [{"port": 80, "protocol": "TCP", "name": ""}]


# --- other core kinds ---------------------------------------------------------------------


def test_namespace_defaults() -> None:
    ns = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}


def test_terminating_namespace_does_not_regain_its_finalizer() -> None:
    ns = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "gone", "deletionTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {},
        "status": {"phase": "Terminating"},
    }
    assert defaulted(ns)["spec"] == {}


def test_node_defaults() -> None:
    node: Obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "spec": {"podCIDR": "10.244.1.0/24"},
        "status": {"capacity": {"cpu": "4", "memory": "8192Mi", "pods": "110"}},
    }
    node = defaulted(node)
    assert node["spec"]["podCIDRs"] == ["10.244.1.0/24"]
    assert node["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi", "pods": "110"}


def test_secret_defaults_and_string_data() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "d"},
        "data": {"a": "b2xk"},
        "stringData": {"a": "new", "user": "admin"},
    }
    secret = defaulted(secret)
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"a": "bmV3", "user": "YWRtaW4="}
    assert "stringData" not in secret


def test_pvc_defaults() -> None:
    pvc: Obj = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "c", "namespace": "d"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}},
    }
    pvc = defaulted(pvc)
    assert pvc["spec"]["volumeMode"] == "Filesystem"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert pvc["status"] == {"phase": "Pending"}


def test_event_reporting_fields() -> None:
    event = defaulted({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "d"}})
    assert (event["reportingComponent"], event["reportingInstance"]) == ("", "")


# --- controllers --------------------------------------------------------------------------


def test_replication_controller_defaults() -> None:
    rc = defaulted(workload("v1", "ReplicationController", template=template({"app": "web"})))
    assert rc["spec"]["replicas"] == 1
    assert rc["spec"]["selector"] == {"app": "web"}
    assert rc["metadata"]["labels"] == {"app": "web"}


def test_replication_controller_keeps_its_selector_and_labels() -> None:
    rc = workload(
        "v1",
        "ReplicationController",
        selector={"app": "x"},
        replicas=0,
        template=template({"app": "x", "v": "1"}),
    )
    rc["metadata"]["labels"] = {"team": "a"}
    rc = defaulted(rc)
    assert (rc["spec"]["selector"], rc["spec"]["replicas"], rc["metadata"]["labels"]) == (
        {"app": "x"},
        0,
        {"team": "a"},
    )


def test_replica_set_defaults() -> None:
    assert defaulted(workload("apps/v1", "ReplicaSet", template=template()))["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.replicas", 1),
        (
            "spec.strategy",
            {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        ),
        ("spec.revisionHistoryLimit", 10),
        ("spec.progressDeadlineSeconds", 600),
    ],
)
def test_deployment_defaults(path: str, expected: Any) -> None:
    assert get(defaulted(workload("apps/v1", "Deployment", template=template())), path) == expected


def test_recreate_deployment_gets_no_rolling_update() -> None:
    deploy = defaulted(workload("apps/v1", "Deployment", strategy={"type": "Recreate"}, template=template()))
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}


def test_partial_rolling_update_is_completed() -> None:
    deploy = workload(
        "apps/v1", "Deployment", strategy={"rollingUpdate": {"maxSurge": 0}}, template=template()
    )
    assert defaulted(deploy)["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": "25%"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.replicas", 1),
        ("spec.podManagementPolicy", "OrderedReady"),
        ("spec.updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
        ("spec.revisionHistoryLimit", 10),
        ("spec.persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"}),
        ("spec.volumeClaimTemplates.0.spec.volumeMode", "Filesystem"),
        ("spec.volumeClaimTemplates.0.status", {"phase": "Pending"}),
        ("spec.volumeClaimTemplates.0.kind", "PersistentVolumeClaim"),
    ],
)
def test_stateful_set_defaults(path: str, expected: Any) -> None:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    sts = workload(
        "apps/v1", "StatefulSet", serviceName="w", template=template(), volumeClaimTemplates=[claim]
    )
    assert get(defaulted(sts), path) == expected


def test_stateful_set_on_delete_strategy_is_kept() -> None:
    sts = defaulted(
        workload("apps/v1", "StatefulSet", updateStrategy={"type": "OnDelete"}, template=template())
    )
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_daemon_set_defaults() -> None:
    spec = defaulted(workload("apps/v1", "DaemonSet", template=template()))["spec"]
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
    }
    assert spec["revisionHistoryLimit"] == 10


# --- jobs -----------------------------------------------------------------------------------


def job(**spec: Any) -> Obj:
    obj = workload("batch/v1", "Job", template=template({"app": "pi"}, restartPolicy="Never"), **spec)
    obj["metadata"]["name"] = "pi"
    return obj


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("spec.completions", 1),
        ("spec.parallelism", 1),
        ("spec.backoffLimit", 6),
        ("spec.completionMode", "NonIndexed"),
        ("spec.suspend", False),
        ("spec.podReplacementPolicy", "TerminatingOrFailed"),
        ("spec.selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": "0000-1111"}}),
        ("spec.template.metadata.labels.batch.kubernetes.io/controller-uid", "0000-1111"),
        ("spec.template.spec.restartPolicy", "Never"),
    ],
)
def test_job_defaults(path: str, expected: Any) -> None:
    obj = defaulted(job())
    if "labels.batch.kubernetes.io/" in path:  # a label key with dots
        prefix, label = path.split("labels.", 1)
        assert get(obj, prefix + "labels")[label] == expected
    else:
        assert get(obj, path) == expected


def test_job_generated_labels() -> None:
    labels = defaulted(job())["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "app": "pi",
        "batch.kubernetes.io/controller-uid": "0000-1111",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "0000-1111",
        "job-name": "pi",
    }


def test_job_metadata_labels_default_to_the_template_labels() -> None:
    obj = defaulted(job())
    assert obj["metadata"]["labels"] == obj["spec"]["template"]["metadata"]["labels"]


def test_job_with_manual_selector_is_left_alone() -> None:
    obj = defaulted(job(manualSelector=True, selector={"matchLabels": {"app": "pi"}}))
    assert obj["spec"]["selector"] == {"matchLabels": {"app": "pi"}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {"app": "pi"}


def test_work_queue_job_keeps_completions_unset() -> None:
    spec = defaulted(job(parallelism=5))["spec"]
    assert spec["parallelism"] == 5
    assert "completions" not in spec


def test_job_without_uid_gets_no_selector_yet() -> None:
    obj = job()
    del obj["metadata"]["uid"]
    assert "selector" not in defaulted(obj)["spec"]


# --- properties of the whole -----------------------------------------------------------------


def all_samples() -> list[Obj]:
    return [
        pod(volumes=[{"name": "v"}]),
        service(ports=[{"port": 80}], sessionAffinity="ClientIP", type="NodePort"),
        job(),
        *(workload(v, k, template=template()) for v, k in TEMPLATE_OWNERS if k != "PodTemplate"),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"a": "b"}},
    ]


@pytest.mark.parametrize("obj", all_samples(), ids=lambda o: o["kind"])
def test_defaulting_is_idempotent(obj: Obj) -> None:
    once = defaulted(copy.deepcopy(obj))
    assert defaulted(copy.deepcopy(once)) == once


def test_unknown_kinds_and_non_objects_are_left_alone() -> None:
    crd = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {}}
    assert defaulted(copy.deepcopy(crd)) == crd
    no_kind: Obj = {"spec": {}}
    assert defaulted(no_kind) == {"spec": {}}
    apply_defaults([])  # type: ignore[arg-type]


WEIRD = [None, 7, "text", [], {}, True, [1, "x"], {"k": 1}]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    obj = copy.deepcopy(obj)
    target = obj
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return obj


@pytest.mark.parametrize("obj", all_samples(), ids=lambda o: o["kind"])
def test_wrongly_typed_fields_never_crash_defaulting(obj: Obj) -> None:
    full = defaulted(copy.deepcopy(obj))
    for path in _paths(full):
        if path[0] in ("apiVersion", "kind"):
            continue
        for weird in WEIRD:
            apply_defaults(_replace(obj if _has(obj, path) else full, path, weird))


def _has(obj: Any, path: tuple[Any, ...]) -> bool:
    try:
        for step in path:
            obj = obj[step]
    except (KeyError, IndexError, TypeError):
        return False
    return True


# --- pod status -------------------------------------------------------------------------------


def resources(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    out: Obj = {}
    if requests is not None:
        out["requests"] = requests
    if limits is not None:
        out["limits"] = limits
    return out


@pytest.mark.parametrize(
    ("containers", "qos"),
    [
        ([{}], "BestEffort"),
        ([resources({"cpu": "0", "memory": "0"})], "BestEffort"),  # zero counts as unset
        ([resources({"ephemeral-storage": "1Gi"})], "BestEffort"),  # only cpu and memory count
        ([resources({"cpu": "100m"})], "Burstable"),
        ([resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "2", "memory": "1Gi"})], "Burstable"),
        ([resources({"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
        ([resources(None, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),  # the limit is the request
        ([resources({"cpu": "1000m", "memory": "1024Mi"}, {"cpu": "1", "memory": "1Gi"})], "Guaranteed"),
        ([resources(None, {"cpu": "1"})], "Burstable"),  # no memory limit
        ([resources(None, {"cpu": "1", "memory": "1Gi"}), {}], "Burstable"),  # one container without
    ],
)
def test_qos_class(containers: list[Obj], qos: str) -> None:
    p = pod()
    p["spec"]["containers"] = [container(name=f"c{i}", resources=r) for i, r in enumerate(containers)]
    assert qos_class(p) == qos
    assert qos_class(defaulted(p)) == qos


def test_init_containers_count_for_qos() -> None:
    p = pod(initContainers=[container(name="init", resources=resources({"cpu": "1"}))])
    assert qos_class(p) == "Burstable"


def test_initial_pod_status() -> None:
    assert initial_pod_status(defaulted(pod())) == {"phase": "Pending", "qosClass": "BestEffort"}
