"""Validation: valid objects pass, and each mistake is reported at upstream's field path.

Every case builds a valid, defaulted object, breaks one thing and checks the
``(field, reason)`` of the error -- the part of a 422 ``Invalid`` Status clients match
on -- and, where the wording matters, the whole ``field: message`` line.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from minik.api.defaults import apply_defaults
from minik.api.field import FieldError
from minik.api.validation import group_kind, validate_create, validate_status_update, validate_update

Obj = dict[str, Any]

INVALID = "FieldValueInvalid"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
NOT_FOUND = "FieldValueNotFound"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"

UID = "6f0c1d2e-0000-4000-8000-000000000001"


# --- valid samples ----------------------------------------------------------------------------


def meta(name: str = "web", namespace: str | None = "default", **extra: Any) -> Obj:
    out: Obj = {"name": name, "uid": UID, "creationTimestamp": "2024-01-01T00:00:00Z", **extra}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def containers() -> list[Obj]:
    return [
        {
            "name": "web",
            "image": "nginx:1.25",
            "ports": [{"name": "http", "containerPort": 80}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            ],
            "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "CFG_"}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
            "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 5},
            "resources": {
                "requests": {"cpu": "100m", "memory": "64Mi"},
                "limits": {"cpu": "1", "memory": "128Mi"},
            },
        }
    ]


def pod_spec(**extra: Any) -> Obj:
    return {
        "containers": containers(),
        "volumes": [{"name": "data", "emptyDir": {}}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "web", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            },
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 50,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": "web"}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            },
        },
        **extra,
    }


def template(labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"labels": labels or {"app": "web"}}, "spec": pod_spec(**spec)}


def build(obj: Obj) -> Obj:
    apply_defaults(obj)
    return obj


def pod() -> Obj:
    return build(
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta(labels={"app": "web"}), "spec": pod_spec()}
    )


def service(**spec: Any) -> Obj:
    body: Obj = {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}
    body.update(spec)
    return build({"apiVersion": "v1", "kind": "Service", "metadata": meta(), "spec": body})


def deployment() -> Obj:
    spec = {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()}
    return build({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(), "spec": spec})


def replica_set() -> Obj:
    spec = {
        "replicas": 2,
        "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]},
        "template": template(),
    }
    return build({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta(), "spec": spec})


def stateful_set() -> Obj:
    spec = {
        "serviceName": "web",
        "selector": {"matchLabels": {"app": "web"}},
        "template": template(volumes=[]),
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ],
    }
    return build({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(), "spec": spec})


def daemon_set() -> Obj:
    spec = {"selector": {"matchLabels": {"app": "web"}}, "template": template()}
    return build({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(), "spec": spec})


def replication_controller() -> Obj:
    spec = {"replicas": 1, "selector": {"app": "web"}, "template": template()}
    return build({"apiVersion": "v1", "kind": "ReplicationController", "metadata": meta(), "spec": spec})


def job() -> Obj:
    spec = {"template": template({"app": "pi"}, restartPolicy="Never"), "backoffLimit": 2}
    return build({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("pi"), "spec": spec})


def cron_job() -> Obj:
    spec = {
        "schedule": "*/5 * * * *",
        "jobTemplate": {"spec": {"template": template(restartPolicy="OnFailure")}},
    }
    return build({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("nightly"), "spec": spec})


def namespace() -> Obj:
    return build({"apiVersion": "v1", "kind": "Namespace", "metadata": meta("team-a", None)})


def node() -> Obj:
    return build(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": meta("node-1", None, labels={"kubernetes.io/hostname": "node-1"}),
            "spec": {
                "podCIDR": "10.244.1.0/24",
                "taints": [{"key": "dedicated", "value": "web", "effect": "NoSchedule"}],
            },
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }
    )


def config_map() -> Obj:
    return build(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("settings"),
            "data": {"app.properties": "a=b", "MODE": "prod"},
            "binaryData": {"logo.png": "iVBORw0KGgo="},
        }
    )


def secret() -> Obj:
    return build(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("db"),
            "data": {"password": "czNjcjN0"},
            "stringData": {"user": "admin"},
        }
    )


def service_account() -> Obj:
    return build({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("robot")})


def endpoints() -> Obj:
    subsets = [
        {
            "addresses": [
                {"ip": "10.244.1.5", "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "web-1"}}
            ],
            "notReadyAddresses": [{"ip": "10.244.2.7"}],
            "ports": [{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}],
        }
    ]
    return build({"apiVersion": "v1", "kind": "Endpoints", "metadata": meta(), "subsets": subsets})


def endpoint_slice() -> Obj:
    return build(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": meta("web-abc12", labels={"kubernetes.io/service-name": "web"}),
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}, "nodeName": "node-1"}],
            "ports": [{"name": "http", "port": 80}],
        }
    )


def pvc() -> Obj:
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": "standard",
    }
    return build(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta("data"), "spec": spec}
    )


def event() -> Obj:
    return build(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": meta("web.17a8b9c0d1e2f3a4"),
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": UID},
            "reason": "Scheduled",
            "message": "Successfully assigned default/web to node-1",
            "type": "Normal",
            "source": {"component": "default-scheduler"},
        }
    )


def lease() -> Obj:
    spec = {
        "holderIdentity": "node-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2024-01-01T00:00:00.000000Z",
    }
    return build(
        {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta("node-1"), "spec": spec}
    )


SAMPLES: dict[str, tuple[Callable[[], Obj], bool]] = {
    "Pod": (pod, True),
    "Service": (service, True),
    "Deployment": (deployment, True),
    "ReplicaSet": (replica_set, True),
    "StatefulSet": (stateful_set, True),
    "DaemonSet": (daemon_set, True),
    "ReplicationController": (replication_controller, True),
    "Job": (job, True),
    "CronJob": (cron_job, True),
    "Namespace": (namespace, False),
    "Node": (node, False),
    "ConfigMap": (config_map, True),
    "Secret": (secret, True),
    "ServiceAccount": (service_account, True),
    "Endpoints": (endpoints, True),
    "EndpointSlice": (endpoint_slice, True),
    "PersistentVolumeClaim": (pvc, True),
    "Event": (event, True),
    "Lease": (lease, True),
}


def lines(errs: list[FieldError]) -> list[str]:
    return [str(e) for e in errs]


def causes(errs: list[FieldError]) -> set[tuple[str, str]]:
    return {(e.field, e.reason) for e in errs}


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_valid_objects_pass(kind: str) -> None:
    make, namespaced = SAMPLES[kind]
    assert lines(validate_create(make(), namespaced=namespaced, kind=group_kind(make()))) == []


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_unchanged_update_passes(kind: str) -> None:
    make, namespaced = SAMPLES[kind]
    obj = make()
    assert (
        lines(
            validate_update(
                copy.deepcopy(obj), obj, namespaced=namespaced, kind=group_kind(copy.deepcopy(obj))
            )
        )
        == []
    )


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_unchanged_status_update_passes(kind: str) -> None:
    make, namespaced = SAMPLES[kind]
    obj = make()
    assert (
        lines(
            validate_status_update(
                copy.deepcopy(obj), obj, namespaced=namespaced, kind=group_kind(copy.deepcopy(obj))
            )
        )
        == []
    )


def test_custom_resources_get_metadata_rules_only() -> None:
    widget: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": meta("w"),
        "spec": {"anything": 1},
    }
    assert validate_create(widget, namespaced=True, kind=group_kind(widget)) == []
    widget["metadata"]["finalizers"] = ["custom"]  # unqualified finalizers are fine outside built-in kinds
    assert validate_create(widget, namespaced=True, kind=group_kind(widget)) == []
    widget["metadata"]["name"] = "Not_Valid"
    assert causes(validate_create(widget, namespaced=True, kind=group_kind(widget))) == {
        ("metadata.name", INVALID)
    }


# --- create failures ----------------------------------------------------------------------------

Mutate = Callable[[Obj], None]


def _set(path: str, value: Any) -> Mutate:
    """A mutation setting ``path`` (dotted, list indexes as numbers) to ``value``."""

    def mutate(obj: Obj) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _del(path: str) -> Mutate:
    def mutate(obj: Obj) -> None:
        *parents, last = path.split(".")
        target: Any = obj
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        del target[int(last) if isinstance(target, list) else last]

    return mutate


def _do(fn: Callable[[Obj], Any]) -> Mutate:
    def mutate(obj: Obj) -> None:
        fn(obj)

    return mutate


def _entry(field: str, key: str, value: Any) -> Mutate:
    """Set ``obj[field][key]``, for keys that contain dots."""

    def mutate(obj: Obj) -> None:
        obj.setdefault(field, {})[key] = value

    return mutate


def _second_container(obj: Obj) -> None:
    spec = obj["spec"]
    spec["containers"].append(copy.deepcopy(spec["containers"][0]))


# (sample kind, mutation, expected (field, reason), expected full line or None)
CREATE_FAILURES: list[tuple[str, Mutate, tuple[str, str], str | None]] = [
    # metadata
    (
        "Pod",
        _del("metadata.name"),
        ("metadata.name", REQUIRED),
        "metadata.name: Required value: name or generateName is required",
    ),
    ("Pod", _set("metadata.name", "Web_1"), ("metadata.name", INVALID), None),
    (
        "Pod",
        _del("metadata.namespace"),
        ("metadata.namespace", REQUIRED),
        "metadata.namespace: Required value",
    ),
    (
        "Namespace",
        _set("metadata.namespace", "default"),
        ("metadata.namespace", FORBIDDEN),
        "metadata.namespace: Forbidden: not allowed on this type",
    ),
    ("Pod", _set("metadata.labels", {"-bad": "x"}), ("metadata.labels", INVALID), None),
    ("Pod", _set("metadata.labels", {"app": "not ok"}), ("metadata.labels", INVALID), None),
    (
        "Pod",
        _set("metadata.labels", {"app": 5}),
        ("metadata.labels[app]", INVALID),
        "metadata.labels[app]: Invalid value: 5: must be a string",
    ),
    ("Pod", _set("metadata.annotations", {"bad key": "v"}), ("metadata.annotations", INVALID), None),
    (
        "Pod",
        _set("metadata.annotations", {"big": "x" * (256 * 1024)}),
        ("metadata.annotations", TOO_LONG),
        "metadata.annotations: Too long: may not be more than 262144 bytes",
    ),
    (
        "Pod",
        _set("metadata.finalizers", ["custom"]),
        ("metadata.finalizers[0]", INVALID),
        'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard finalizer name nor is it fully qualified',
    ),
    ("Pod", _set("metadata.finalizers", ["example.com/bad name"]), ("metadata.finalizers", INVALID), None),
    (
        "Pod",
        _set("metadata.ownerReferences", [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]),
        ("metadata.ownerReferences.uid", INVALID),
        'metadata.ownerReferences.uid: Invalid value: "": must not be empty',
    ),
    (
        "Pod",
        _set(
            "metadata.ownerReferences",
            [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
            ],
        ),
        ("metadata.ownerReferences", INVALID),
        None,
    ),
    (
        "Service",
        _set("metadata.name", "1web"),
        ("metadata.name", INVALID),
        None,
    ),  # DNS-1035: starts with a letter
    ("Namespace", _set("metadata.name", "a.b"), ("metadata.name", INVALID), None),  # a label, not a subdomain
    # pods
    ("Pod", _set("spec.containers", []), ("spec.containers", REQUIRED), "spec.containers: Required value"),
    (
        "Pod",
        _do(_second_container),
        ("spec.containers[1].name", DUPLICATE),
        'spec.containers[1].name: Duplicate value: "web"',
    ),
    (
        "Pod",
        _set(
            "spec.initContainers",
            [
                {
                    "name": "web",
                    "image": "busybox",
                    "imagePullPolicy": "Always",
                    "terminationMessagePolicy": "File",
                }
            ],
        ),
        ("spec.initContainers[0].name", DUPLICATE),
        None,
    ),
    ("Pod", _del("spec.containers.0.image"), ("spec.containers[0].image", REQUIRED), None),
    ("Pod", _set("spec.containers.0.name", "Web"), ("spec.containers[0].name", INVALID), None),
    (
        "Pod",
        _set("spec.containers.0.ports.0.containerPort", 70000),
        ("spec.containers[0].ports[0].containerPort", INVALID),
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    (
        "Pod",
        _set("spec.containers.0.ports.0.name", "http_port"),
        ("spec.containers[0].ports[0].name", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.ports.0.protocol", "HTTP"),
        ("spec.containers[0].ports[0].protocol", NOT_SUPPORTED),
        'spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
    ),
    ("Pod", _set("spec.containers.0.env.0.name", "1BAD"), ("spec.containers[0].env[0].name", INVALID), None),
    (
        "Pod",
        _set("spec.containers.0.env.1.valueFrom", {}),
        ("spec.containers[0].env[1].valueFrom", INVALID),
        'spec.containers[0].env[1].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`',
    ),
    (
        "Pod",
        _set("spec.containers.0.env.1.valueFrom.configMapKeyRef", {"name": "c", "key": "k"}),
        ("spec.containers[0].env[1].valueFrom", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.env.1.valueFrom.fieldRef.fieldPath", "status.phase"),
        ("spec.containers[0].env[1].valueFrom.fieldRef.fieldPath", NOT_SUPPORTED),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.envFrom.0", {"prefix": "X_"}),
        ("spec.containers[0].envFrom", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.volumeMounts.0.name", "missing"),
        ("spec.containers[0].volumeMounts[0].name", NOT_FOUND),
        'spec.containers[0].volumeMounts[0].name: Not found: "missing"',
    ),
    (
        "Pod",
        _set("spec.volumes", [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}]),
        ("spec.volumes[1].name", DUPLICATE),
        None,
    ),
    (
        "Pod",
        _set("spec.volumes.0.configMap", {"name": "c", "defaultMode": 420}),
        ("spec.volumes[0].configMap", FORBIDDEN),
        "spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type",
    ),
    (
        "Pod",
        _set("spec.volumes.0", {"name": "data", "secret": {}}),
        ("spec.volumes[0].secret.secretName", REQUIRED),
        None,
    ),
    (
        "Pod",
        _set("spec.restartPolicy", "Sometimes"),
        ("spec.restartPolicy", NOT_SUPPORTED),
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ),
    ("Pod", _set("spec.dnsPolicy", "Google"), ("spec.dnsPolicy", NOT_SUPPORTED), None),
    ("Pod", _set("spec.dnsPolicy", "None"), ("spec.dnsConfig", REQUIRED), None),
    (
        "Pod",
        _set("spec.containers.0.readinessProbe", {"periodSeconds": 5}),
        ("spec.containers[0].readinessProbe", REQUIRED),
        "spec.containers[0].readinessProbe: Required value: must specify a handler type",
    ),
    (
        "Pod",
        _set("spec.containers.0.readinessProbe.exec", {"command": ["true"]}),
        ("spec.containers[0].readinessProbe.httpGet", FORBIDDEN),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.livenessProbe.successThreshold", 2),
        ("spec.containers[0].livenessProbe.successThreshold", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.livenessProbe.periodSeconds", -1),
        ("spec.containers[0].livenessProbe.periodSeconds", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.resources.requests.cpu", "2"),
        ("spec.containers[0].resources.requests", INVALID),
        'spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
    ),
    (
        "Pod",
        _set("spec.containers.0.resources.limits.memory", "lots"),
        ("spec.containers[0].resources.limits[memory]", INVALID),
        None,
    ),
    (
        "Pod",
        _set("spec.containers.0.resources.limits.gpu", "1"),
        ("spec.containers[0].resources.limits[gpu]", INVALID),
        None,
    ),
    ("Pod", _set("spec.hostname", "Web.1"), ("spec.hostname", INVALID), None),
    ("Pod", _set("spec.subdomain", "web_svc"), ("spec.subdomain", INVALID), None),
    ("Pod", _set("spec.nodeSelector", {"disk": "ssd!"}), ("spec.nodeSelector", INVALID), None),
    (
        "Pod",
        _set("spec.tolerations.0.operator", "Maybe"),
        ("spec.tolerations[0].operator", NOT_SUPPORTED),
        None,
    ),
    (
        "Pod",
        _set("spec.tolerations.0.effect", "NoRun"),
        ("spec.tolerations[0].effect", NOT_SUPPORTED),
        'spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
    ),
    (
        "Pod",
        _set("spec.tolerations.0", {"operator": "Equal", "value": "x"}),
        ("spec.tolerations[0].operator", INVALID),
        None,
    ),
    ("Pod", _set("spec.tolerations.0.tolerationSeconds", 10), ("spec.tolerations[0].effect", INVALID), None),
    (
        "Pod",
        _set(
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.0.matchExpressions.0.operator",
            "Like",
        ),
        (
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator",
            INVALID,
        ),
        None,
    ),
    (
        "Pod",
        _set("spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution.0.weight", 101),
        ("spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight", INVALID),
        None,
    ),
    ("Pod", _set("spec.activeDeadlineSeconds", 0), ("spec.activeDeadlineSeconds", INVALID), None),
    (
        "Pod",
        _set("spec.containers.0.imagePullPolicy", "Sometimes"),
        ("spec.containers[0].imagePullPolicy", NOT_SUPPORTED),
        None,
    ),
    ("Pod", _set("spec.serviceAccountName", "Robot"), ("spec.serviceAccountName", INVALID), None),
    (
        "Pod",
        _set("spec.containers.0.ports", "80"),
        ("spec.containers[0].ports", INVALID),
        'spec.containers[0].ports: Invalid value: "80": must be a list',
    ),
    # services
    (
        "Service",
        _set("spec.ports.0.port", 70000),
        ("spec.ports[0].port", INVALID),
        "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    ("Service", _set("spec.ports", []), ("spec.ports", REQUIRED), "spec.ports: Required value"),
    (
        "Service",
        _do(lambda s: s["spec"]["ports"].append({"port": 81, "protocol": "TCP", "targetPort": 81})),
        ("spec.ports[1].name", REQUIRED),
        None,
    ),
    (
        "Service",
        _do(
            lambda s: s["spec"]["ports"].append(
                {"name": "http", "port": 81, "protocol": "TCP", "targetPort": 81}
            )
        ),
        ("spec.ports[1].name", DUPLICATE),
        None,
    ),
    (
        "Service",
        _do(
            lambda s: s["spec"]["ports"].append(
                {"name": "other", "port": 80, "protocol": "TCP", "targetPort": 81}
            )
        ),
        ("spec.ports[1]", DUPLICATE),
        None,
    ),
    ("Service", _set("spec.ports.0.protocol", "ICMP"), ("spec.ports[0].protocol", NOT_SUPPORTED), None),
    ("Service", _set("spec.ports.0.targetPort", 0), ("spec.ports[0].targetPort", INVALID), None),
    (
        "Service",
        _set("spec.type", "Magic"),
        ("spec.type", NOT_SUPPORTED),
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    ),
    (
        "Service",
        _set("spec.ports.0.nodePort", 30080),
        ("spec.ports[0].nodePort", FORBIDDEN),
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
    ),
    (
        "Service",
        _do(lambda s: s["spec"].update(clusterIP="300.1.1.1", clusterIPs=["300.1.1.1"])),
        ("spec.clusterIPs[0]", INVALID),
        'spec.clusterIPs[0]: Invalid value: "300.1.1.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ),
    (
        "Service",
        _set("spec.clusterIPs", ["10.96.0.1"]),
        ("spec.clusterIPs", INVALID),
        'spec.clusterIPs: Invalid value: ["10.96.0.1"]: must be empty when `clusterIP` is not specified',
    ),
    ("Service", _set("spec.sessionAffinity", "Cookie"), ("spec.sessionAffinity", NOT_SUPPORTED), None),
    ("Service", _set("spec.selector", {"app": "a b"}), ("spec.selector", INVALID), None),
    ("Service", _set("spec.ipFamilies", ["IPv6"]), ("spec.ipFamilies[0]", INVALID), None),
    # Pod-level sample with other mutations
    ("Service", _set("spec.externalTrafficPolicy", "Local"), ("spec.externalTrafficPolicy", INVALID), None),
    # namespaces and nodes
    ("Namespace", _set("spec.finalizers", ["bad"]), ("spec.finalizers", INVALID), None),
    ("Node", _set("spec.taints.0.effect", "NoRun"), ("metadata.taints[0].effect", NOT_SUPPORTED), None),
    ("Node", _set("spec.taints.0.effect", ""), ("metadata.taints[0].effect", REQUIRED), None),
    (
        "Node",
        _do(lambda n: n["spec"]["taints"].append(dict(n["spec"]["taints"][0]))),
        ("metadata.taints[1]", DUPLICATE),
        None,
    ),
    ("Node", _set("spec.podCIDRs", ["10.244.1.0"]), ("spec.podCIDRs[0]", INVALID), None),
    ("Node", _set("status.capacity.cpu", "four"), ("status.capacity[cpu]", INVALID), None),
    # config maps and secrets
    ("ConfigMap", _set("data.bad key", "v"), ("data[bad key]", INVALID), None),
    (
        "ConfigMap",
        _entry("data", "logo.png", "x"),
        ("data[logo.png]", INVALID),
        'data[logo.png]: Invalid value: "logo.png": duplicate of key present in binaryData',
    ),
    (
        "ConfigMap",
        _entry("binaryData", "logo.png", "not base64!"),
        ("binaryData[logo.png]", INVALID),
        "binaryData[logo.png]: Invalid value: illegal base64 data at input byte 3",
    ),
    ("ConfigMap", _set("data.big", "x" * (1024 * 1024 + 1)), ("", TOO_LONG), None),
    (
        "Secret",
        _set("data.password", "%%%"),
        ("data[password]", INVALID),
        'data[password]: Invalid value: "<secret contents redacted>": illegal base64 data at input byte 0',
    ),
    ("Secret", _entry("data", "../x", "eA=="), ("data[../x]", INVALID), None),
    ("Secret", _set("type", "kubernetes.io/tls"), ("data[tls.crt]", REQUIRED), None),
    (
        "Secret",
        _set("type", "kubernetes.io/service-account-token"),
        ("metadata.annotations[kubernetes.io/service-account.name]", REQUIRED),
        None,
    ),
    # endpoints
    (
        "Endpoints",
        _set("subsets.0.addresses.0.ip", "127.0.0.1"),
        ("subsets[0].addresses[0].ip", INVALID),
        'subsets[0].addresses[0].ip: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
    ),
    ("Endpoints", _set("subsets.0.addresses.0.ip", "10.0.0"), ("subsets[0].addresses[0].ip", INVALID), None),
    ("Endpoints", _set("subsets.0.ports.1.name", ""), ("subsets[0].ports[1].name", REQUIRED), None),
    (
        "Endpoints",
        _set("subsets.0", {"ports": [{"port": 80, "protocol": "TCP"}]}),
        ("subsets[0]", REQUIRED),
        None,
    ),
    ("EndpointSlice", _set("addressType", "IPv5"), ("addressType", NOT_SUPPORTED), None),
    ("EndpointSlice", _set("endpoints.0.addresses", []), ("endpoints[0].addresses", REQUIRED), None),
    (
        "EndpointSlice",
        _set("endpoints.0.addresses.0", "fe80::1"),
        ("endpoints[0].addresses[0]", INVALID),
        None,
    ),
    (
        "EndpointSlice",
        _do(lambda e: e["ports"].append({"name": "http", "port": 81, "protocol": "TCP"})),
        ("ports[1].name", DUPLICATE),
        None,
    ),
    # claims
    (
        "PersistentVolumeClaim",
        _set("spec.accessModes", []),
        ("spec.accessModes", REQUIRED),
        "spec.accessModes: Required value: at least 1 access mode is required",
    ),
    (
        "PersistentVolumeClaim",
        _set("spec.accessModes", ["ReadWriteSometimes"]),
        ("spec.accessModes", NOT_SUPPORTED),
        None,
    ),
    ("PersistentVolumeClaim", _set("spec.resources", {}), ("spec.resources[storage]", REQUIRED), None),
    (
        "PersistentVolumeClaim",
        _set("spec.resources.requests.storage", "0"),
        ("spec.resources[storage]", INVALID),
        None,
    ),
    # workloads
    (
        "Deployment",
        _set("spec.template.metadata.labels", {"app": "other"}),
        ("spec.template.metadata.labels", INVALID),
        'spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`',
    ),
    ("Deployment", _del("spec.selector"), ("spec.selector", REQUIRED), None),
    (
        "Deployment",
        _set("spec.selector", {}),
        ("spec.selector", INVALID),
        "spec.selector: Invalid value: {}: empty selector is invalid for deployment",
    ),
    (
        "Deployment",
        _set("spec.selector.matchExpressions", [{"key": "app", "operator": "Near"}]),
        ("spec.selector.matchExpressions[0].operator", INVALID),
        None,
    ),
    (
        "Deployment",
        _set("spec.replicas", -1),
        ("spec.replicas", INVALID),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    ("Deployment", _set("spec.strategy", {"type": "Blue"}), ("spec.strategy", NOT_SUPPORTED), None),
    (
        "Deployment",
        _set("spec.strategy.rollingUpdate", {"maxSurge": 0, "maxUnavailable": "0%"}),
        ("spec.strategy.rollingUpdate.maxUnavailable", INVALID),
        None,
    ),
    (
        "Deployment",
        _set("spec.strategy.rollingUpdate.maxSurge", "ten"),
        ("spec.strategy.rollingUpdate.maxSurge", INVALID),
        None,
    ),
    (
        "Deployment",
        _set("spec.template.spec.restartPolicy", "OnFailure"),
        ("spec.template.spec.restartPolicy", NOT_SUPPORTED),
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always"',
    ),
    (
        "Deployment",
        _set("spec.template.metadata.labels", {"app": "web", "bad key!": "x"}),
        ("spec.template.labels", INVALID),
        None,
    ),
    (
        "Deployment",
        _set("spec.template.spec.containers.0.name", "A"),
        ("spec.template.spec.containers[0].name", INVALID),
        None,
    ),
    (
        "ReplicaSet",
        _set("spec.template.metadata.labels", {"app": "db"}),
        ("spec.template.metadata.labels", INVALID),
        None,
    ),
    ("StatefulSet", _set("spec.podManagementPolicy", "Random"), ("spec.podManagementPolicy", INVALID), None),
    (
        "StatefulSet",
        _set("spec.template.metadata.labels", {"app": "x"}),
        ("spec.template.metadata.labels", INVALID),
        None,
    ),
    (
        "StatefulSet",
        _set("spec.template.spec.containers.0.volumeMounts.0.name", "nope"),
        ("spec.template.spec.containers[0].volumeMounts[0].name", NOT_FOUND),
        None,
    ),
    ("StatefulSet", _set("metadata.name", "web.v1"), ("metadata.name", INVALID), None),
    (
        "DaemonSet",
        _set("spec.updateStrategy.rollingUpdate", {"maxUnavailable": 0, "maxSurge": 0}),
        ("spec.updateStrategy.rollingUpdate.maxUnavailable", REQUIRED),
        None,
    ),
    ("DaemonSet", _del("spec.selector"), ("spec.template.metadata.labels", INVALID), None),
    ("ReplicationController", _set("spec.selector", {}), ("spec.selector", REQUIRED), None),
    (
        "ReplicationController",
        _set("spec.selector", {"app": "db"}),
        ("spec.template.metadata.labels", INVALID),
        None,
    ),
    (
        "Job",
        _set("spec.template.spec.restartPolicy", "Always"),
        ("spec.template.spec.restartPolicy", NOT_SUPPORTED),
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    ),
    ("Job", _set("spec.completions", -1), ("spec.completions", INVALID), None),
    ("Job", _set("spec.parallelism", -2), ("spec.parallelism", INVALID), None),
    ("Job", _set("spec.backoffLimit", -1), ("spec.backoffLimit", INVALID), None),
    ("Job", _set("spec.selector", {"matchLabels": {"app": "pi"}}), ("spec.selector", INVALID), None),
    (
        "Job",
        _set("spec.template.metadata.labels.job-name", "other"),
        ("spec.template.metadata.labels[job-name]", INVALID),
        None,
    ),
    (
        "CronJob",
        _set("spec.jobTemplate.spec.selector", {"matchLabels": {"a": "b"}}),
        ("spec.jobTemplate.spec.selector", INVALID),
        None,
    ),
    # small kinds
    ("Lease", _set("spec.leaseDurationSeconds", 0), ("spec.leaseDurationSeconds", INVALID), None),
    ("Lease", _set("spec.leaseTransitions", -1), ("spec.leaseTransitions", INVALID), None),
    ("Event", _set("involvedObject.namespace", "other"), ("involvedObject.namespace", INVALID), None),
    ("Event", _set("eventTime", "2024-01-01T00:00:00.000000Z"), ("reportingComponent", REQUIRED), None),
]


@pytest.mark.parametrize(
    ("kind", "mutate", "expected", "line"),
    CREATE_FAILURES,
    ids=[f"{kind}-{expected[0] or 'object'}-{i}" for i, (kind, _, expected, _) in enumerate(CREATE_FAILURES)],
)
def test_create_failures(kind: str, mutate: Mutate, expected: tuple[str, str], line: str | None) -> None:
    make, namespaced = SAMPLES[kind]
    obj = make()
    mutate(obj)
    errs = validate_create(obj, namespaced=namespaced, kind=group_kind(obj))
    assert expected in causes(errs), lines(errs)
    if line is not None:
        assert line in lines(errs)


def test_service_external_name() -> None:
    svc = service(type="ExternalName", externalName="db.example.com.")
    del svc["spec"]["selector"]
    assert lines(validate_create(svc, namespaced=True, kind=group_kind(svc))) == []
    svc["spec"]["externalName"] = ""
    assert causes(validate_create(svc, namespaced=True, kind=group_kind(svc))) == {
        ("spec.externalName", REQUIRED)
    }
    svc["spec"].update(externalName="db.example.com", clusterIP="10.96.0.9", ipFamilies=["IPv4"])
    assert {("spec.clusterIPs", FORBIDDEN), ("spec.ipFamilies", FORBIDDEN)} <= causes(
        validate_create(svc, namespaced=True, kind=group_kind(svc))
    )


def test_headless_service_needs_no_ports() -> None:
    svc = service(clusterIP="None", ports=[])
    assert lines(validate_create(svc, namespaced=True, kind=group_kind(svc))) == []


@pytest.mark.parametrize(("node_port", "ok"), [(30000, True), (32767, True), (29999, False), (32768, False)])
def test_node_port_range(node_port: int, ok: bool) -> None:
    svc = service(type="NodePort")
    svc["spec"]["ports"][0]["nodePort"] = node_port
    errs = validate_create(svc, namespaced=True, kind=group_kind(svc))
    assert (lines(errs) == []) is ok
    if not ok:
        assert lines(errs) == [
            f"spec.ports[0].nodePort: Invalid value: {node_port}: provided port is not in the valid range. "
            "The range of valid ports is 30000-32767"
        ]


def test_client_ip_affinity_timeout_range() -> None:
    svc = service(sessionAffinity="ClientIP")
    svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = 86401
    assert causes(validate_create(svc, namespaced=True, kind=group_kind(svc))) == {
        ("spec.sessionAffinityConfig.clientIP.timeoutSeconds", INVALID)
    }


def test_pod_can_mount_a_claim_template_volume_only_in_a_stateful_set() -> None:
    sts = stateful_set()
    assert sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] == "data"
    assert validate_create(sts, namespaced=True, kind=group_kind(sts)) == []


def test_malformed_selector_reports_and_does_not_crash() -> None:
    deploy = deployment()
    deploy["spec"]["selector"] = {"matchLabels": "app=web"}
    assert ("spec.selector.matchLabels", INVALID) in causes(
        validate_create(deploy, namespaced=True, kind=group_kind(deploy))
    )


def test_not_an_object() -> None:
    assert causes(validate_create([], namespaced=True, kind=group_kind([]))) == {("", INVALID)}  # type: ignore[arg-type]


# --- updates ------------------------------------------------------------------------------------

# (sample kind, mutation of the new object, expected (field, reason), full line or None)
UPDATE_FAILURES: list[tuple[str, Mutate, tuple[str, str], str | None]] = [
    (
        "Pod",
        _set("metadata.name", "other"),
        ("metadata.name", INVALID),
        'metadata.name: Invalid value: "other": field is immutable',
    ),
    ("Pod", _set("metadata.uid", "other"), ("metadata.uid", INVALID), None),
    ("Pod", _set("metadata.namespace", "other"), ("metadata.namespace", INVALID), None),
    (
        "Pod",
        _set("metadata.creationTimestamp", "2030-01-01T00:00:00Z"),
        ("metadata.creationTimestamp", INVALID),
        None,
    ),
    ("Pod", _set("spec.containers.0.ports.0.containerPort", 8080), ("spec", FORBIDDEN), None),
    ("Pod", _set("spec.nodeName", "node-2"), ("spec", FORBIDDEN), None),
    (
        "Pod",
        _do(_second_container),
        ("spec.containers", FORBIDDEN),
        "spec.containers: Forbidden: pod updates may not add or remove containers",
    ),
    (
        "Pod",
        _set("spec.tolerations", []),
        ("spec.tolerations", FORBIDDEN),
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds",
    ),
    (
        "Service",
        _do(lambda s: s["spec"].update(clusterIP="10.96.0.99", clusterIPs=["10.96.0.99"])),
        ("spec.clusterIPs[0]", INVALID),
        None,
    ),
    (
        "Deployment",
        _set("spec.selector", {"matchLabels": {"app": "web", "tier": "fe"}}),
        ("spec.selector", INVALID),
        'spec.selector: Invalid value: {"matchLabels":{"app":"web","tier":"fe"}}: field is immutable',
    ),
    ("ReplicaSet", _set("spec.selector", {"matchLabels": {"app": "web"}}), ("spec.selector", INVALID), None),
    (
        "DaemonSet",
        _set("spec.selector", {"matchLabels": {"app": "web", "x": "y"}}),
        ("spec.selector", INVALID),
        None,
    ),
    (
        "StatefulSet",
        _set("spec.serviceName", "other"),
        ("spec", FORBIDDEN),
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
    ("Job", _set("spec.template.spec.containers.0.image", "nginx:1.26"), ("spec.template", INVALID), None),
    ("Job", _set("spec.completions", 5), ("spec.completions", INVALID), None),
    ("Secret", _set("type", "kubernetes.io/tls"), ("type", INVALID), None),
    ("PersistentVolumeClaim", _set("spec.accessModes", ["ReadWriteMany"]), ("spec", FORBIDDEN), None),
    ("Node", _set("spec.podCIDRs", ["10.244.9.0/24"]), ("spec.podCIDRs", FORBIDDEN), None),
    ("EndpointSlice", _set("addressType", "FQDN"), ("addressType", INVALID), None),
]


@pytest.mark.parametrize(
    ("kind", "mutate", "expected", "line"),
    UPDATE_FAILURES,
    ids=[f"{kind}-{expected[0]}-{i}" for i, (kind, _, expected, _) in enumerate(UPDATE_FAILURES)],
)
def test_update_failures(kind: str, mutate: Mutate, expected: tuple[str, str], line: str | None) -> None:
    make, namespaced = SAMPLES[kind]
    old = make()
    if kind == "Service":
        old["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    new = copy.deepcopy(old)
    mutate(new)
    apply_defaults(new)
    errs = validate_update(new, old, namespaced=namespaced, kind=group_kind(new))
    assert expected in causes(errs), lines(errs)
    if line is not None:
        assert line in lines(errs)


def test_immutable_cluster_ip_message() -> None:
    old = service(clusterIP="10.96.0.10")
    new = copy.deepcopy(old)
    new["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"])
    assert lines(validate_update(new, old, namespaced=True, kind=group_kind(new))) == [
        'spec.clusterIPs[0]: Invalid value: ["10.96.0.11"]: may not change once set'
    ]
    new["spec"].update(clusterIP="", clusterIPs=[])
    assert lines(validate_update(new, old, namespaced=True, kind=group_kind(new))) == [
        "spec.clusterIPs[0]: Invalid value: []: primary clusterIP can not be unset"
    ]


def test_service_may_switch_to_and_from_external_name() -> None:
    old = service(clusterIP="10.96.0.10")
    new = build(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": copy.deepcopy(old["metadata"]),
            "spec": {"type": "ExternalName", "externalName": "example.com"},
        }
    )
    assert lines(validate_update(new, old, namespaced=True, kind=group_kind(new))) == []


ALLOWED_UPDATES: list[tuple[str, Mutate]] = [
    ("Pod", _set("spec.containers.0.image", "nginx:1.26")),
    ("Pod", _set("spec.activeDeadlineSeconds", 100)),
    ("Pod", _do(lambda p: p["spec"]["tolerations"].append({"key": "extra", "operator": "Exists"}))),
    ("Pod", _set("spec.tolerations.1.tolerationSeconds", 60)),
    ("Pod", _set("metadata.labels", {"app": "web", "canary": "true"})),
    ("Deployment", _set("spec.replicas", 10)),
    ("Deployment", _set("spec.template.spec.containers.0.image", "nginx:1.26")),
    ("StatefulSet", _set("spec.replicas", 5)),
    ("StatefulSet", _set("spec.template.spec.containers.0.image", "nginx:1.26")),
    ("Service", _set("spec.ports.0.port", 8080)),
    ("ConfigMap", _set("data.MODE", "dev")),
    ("Job", _set("spec.parallelism", 3)),
    ("Job", _set("spec.suspend", True)),
]


@pytest.mark.parametrize(("kind", "mutate"), ALLOWED_UPDATES, ids=[k for k, _ in ALLOWED_UPDATES])
def test_allowed_updates(kind: str, mutate: Mutate) -> None:
    make, namespaced = SAMPLES[kind]
    old = make()
    new = copy.deepcopy(old)
    mutate(new)
    apply_defaults(new)
    assert lines(validate_update(new, old, namespaced=namespaced, kind=group_kind(new))) == []


def test_pod_deadline_can_only_shrink() -> None:
    old = pod()
    old["spec"]["activeDeadlineSeconds"] = 100
    new = copy.deepcopy(old)
    new["spec"]["activeDeadlineSeconds"] = 200
    assert ("spec.activeDeadlineSeconds", INVALID) in causes(
        validate_update(new, old, namespaced=True, kind=group_kind(new))
    )
    new["spec"]["activeDeadlineSeconds"] = 50
    assert validate_update(new, old, namespaced=True, kind=group_kind(new)) == []


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
def test_immutable_data(kind: str) -> None:
    make, namespaced = SAMPLES[kind]
    old = make()
    old["immutable"] = True
    new = copy.deepcopy(old)
    new["data"] = {"other": "dmFsdWU="}
    assert causes(validate_update(new, old, namespaced=namespaced, kind=group_kind(new))) == {
        ("data", FORBIDDEN)
    }
    new = copy.deepcopy(old)
    new["immutable"] = False
    assert causes(validate_update(new, old, namespaced=namespaced, kind=group_kind(new))) == {
        ("immutable", FORBIDDEN)
    }
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"touched": "yes"}  # metadata stays mutable
    assert validate_update(new, old, namespaced=namespaced, kind=group_kind(new)) == []


def test_bound_claim_may_grow_but_not_shrink() -> None:
    old = pvc()
    old["status"] = {"phase": "Bound"}
    old["spec"]["volumeName"] = "pv-1"
    grown = copy.deepcopy(old)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert validate_update(grown, old, namespaced=True, kind=group_kind(grown)) == []
    shrunk = copy.deepcopy(old)
    shrunk["spec"]["resources"]["requests"]["storage"] = "512Mi"
    assert causes(validate_update(shrunk, old, namespaced=True, kind=group_kind(shrunk))) == {
        ("spec.resources.requests.storage", FORBIDDEN)
    }


def test_unbound_claim_may_get_its_volume_name_once() -> None:
    old = pvc()
    new = copy.deepcopy(old)
    new["spec"]["volumeName"] = "pv-1"
    assert validate_update(new, old, namespaced=True, kind=group_kind(new)) == []
    newer = copy.deepcopy(new)
    newer["spec"]["volumeName"] = "pv-2"
    assert causes(validate_update(newer, new, namespaced=True, kind=group_kind(newer))) == {
        ("spec", FORBIDDEN)
    }


def test_suspended_job_may_be_moved_before_it_starts() -> None:
    old = job()
    old["spec"]["suspend"] = True
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["nodeSelector"] = {"zone": "b"}
    assert validate_update(new, old, namespaced=True, kind=group_kind(new)) == []
    old["status"] = {"startTime": "2024-01-01T00:00:00Z"}
    assert causes(validate_update(new, old, namespaced=True, kind=group_kind(new))) == {
        ("spec.template", INVALID)
    }


def test_finalizers_cannot_be_added_while_deleting() -> None:
    old = config_map()
    old["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = ["example.com/hold"]
    assert causes(validate_update(new, old, namespaced=True, kind=group_kind(new))) == {
        ("metadata.finalizers", FORBIDDEN)
    }


# --- status updates -----------------------------------------------------------------------------

STATUS_FAILURES: list[tuple[str, Obj, tuple[str, str], str | None]] = [
    (
        "Deployment",
        {"replicas": -1},
        ("status.replicas", INVALID),
        "status.replicas: Invalid value: -1: must be greater than or equal to 0",
    ),
    (
        "Deployment",
        {"replicas": 1, "readyReplicas": 2},
        ("status.readyReplicas", INVALID),
        "status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas",
    ),
    (
        "Deployment",
        {"replicas": 3, "readyReplicas": 1, "availableReplicas": 2},
        ("status.availableReplicas", INVALID),
        None,
    ),
    (
        "ReplicaSet",
        {"replicas": 2, "fullyLabeledReplicas": 3},
        ("status.fullyLabeledReplicas", INVALID),
        None,
    ),
    (
        "StatefulSet",
        {"replicas": 2, "readyReplicas": 1, "availableReplicas": 2},
        ("status.availableReplicas", INVALID),
        "status.availableReplicas: Invalid value: 2: cannot be greater than status.readyReplicas",
    ),
    ("DaemonSet", {"numberReady": -1}, ("status.numberReady", INVALID), None),
    ("ReplicationController", {"replicas": -3}, ("status.replicas", INVALID), None),
    ("Job", {"active": -1}, ("status.active", INVALID), None),
    (
        "Pod",
        {"phase": "Sleeping", "qosClass": "Burstable"},
        ("status.phase", NOT_SUPPORTED),
        'status.phase: Unsupported value: "Sleeping": supported values: "Pending", "Running", "Succeeded", "Failed", "Unknown"',
    ),
    (
        "Pod",
        {"phase": "Running", "podIP": "10.244.1.300", "qosClass": "Burstable"},
        ("status.podIP", INVALID),
        None,
    ),
    ("Pod", {"phase": "Running", "qosClass": "Guaranteed"}, ("status.qosClass", INVALID), None),
    (
        "Namespace",
        {"phase": "Terminating"},
        ("status.Phase", INVALID),
        "status.Phase: Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty",
    ),
    ("PersistentVolumeClaim", {"phase": "Lost-ish"}, ("status.phase", NOT_SUPPORTED), None),
]


@pytest.mark.parametrize(
    ("kind", "status", "expected", "line"),
    STATUS_FAILURES,
    ids=[f"{kind}-{expected[0]}" for kind, _, expected, _ in STATUS_FAILURES],
)
def test_status_failures(kind: str, status: Obj, expected: tuple[str, str], line: str | None) -> None:
    make, namespaced = SAMPLES[kind]
    old = make()
    if kind == "Pod":
        old["status"] = {"phase": "Pending", "qosClass": "Burstable"}
    new = copy.deepcopy(old)
    new["status"] = status
    errs = validate_status_update(new, old, namespaced=namespaced, kind=group_kind(new))
    assert expected in causes(errs), lines(errs)
    if line is not None:
        assert line in lines(errs)


def test_valid_status_updates() -> None:
    old = deployment()
    new = copy.deepcopy(old)
    new["status"] = {
        "observedGeneration": 1,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
    }
    assert validate_status_update(new, old, namespaced=True, kind=group_kind(new)) == []
    old_pod = pod()
    old_pod["status"] = {"phase": "Pending", "qosClass": "Burstable"}
    new_pod = copy.deepcopy(old_pod)
    new_pod["status"] = {
        "phase": "Running",
        "podIP": "10.244.1.5",
        "podIPs": [{"ip": "10.244.1.5"}],
        "qosClass": "Burstable",
    }
    assert validate_status_update(new_pod, old_pod, namespaced=True, kind=group_kind(new_pod)) == []


def test_collision_count_cannot_go_down() -> None:
    old = deployment()
    old["status"] = {"collisionCount": 2}
    new = copy.deepcopy(old)
    new["status"] = {"collisionCount": 1}
    assert lines(validate_status_update(new, old, namespaced=True, kind=group_kind(new))) == [
        "status.collisionCount: Invalid value: 1: cannot be decremented"
    ]


# --- robustness ----------------------------------------------------------------------------------

WEIRD: list[Any] = [None, "text", [None], {"k": []}]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_wrongly_typed_fields_give_errors_not_exceptions(kind: str) -> None:
    """Every field of every sample, replaced by values of the wrong type: validation must
    answer with field errors (a 422), never raise (a 500)."""
    make, namespaced = SAMPLES[kind]
    original = make()
    for path in _paths(original):
        if path[0] in ("apiVersion", "kind"):
            continue
        for weird in WEIRD:
            obj = copy.deepcopy(original)
            target: Any = obj
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = weird
            validate_create(obj, namespaced=namespaced, kind=group_kind(obj))
            validate_update(obj, original, namespaced=namespaced, kind=group_kind(obj))
            validate_status_update(obj, original, namespaced=namespaced, kind=group_kind(obj))
            apply_defaults(obj)
            validate_create(obj, namespaced=namespaced, kind=group_kind(obj))
