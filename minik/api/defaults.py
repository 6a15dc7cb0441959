"""Defaulting: the values the API server fills in for fields a client left out.

Kubernetes manifests are short because the server completes them. A Pod written as
``{containers: [{name: web, image: nginx}]}`` is stored with ``restartPolicy: Always``,
``dnsPolicy: ClusterFirst``, ``imagePullPolicy: Always`` (the image is untagged, so it
may change under the same name), a 30 second grace period and more. Controllers,
the scheduler and the kubelet can then rely on every field having a value.

``apply_defaults(obj)`` mutates an object in place and runs on every create and update,
*before* validation -- so validation sees complete objects, exactly as upstream where
defaulting happens while the request body is decoded. It must be idempotent: running it
twice changes nothing more.

Where the values come from, upstream:

* ``pkg/apis/core/v1/defaults.go``, ``apps/v1/defaults.go``, ``batch/v1/defaults.go`` and
  the ``+default=`` markers on the types (``protocol: TCP`` on ports, replicas 1, ...);
* the registry *strategies*, which finish objects on create: the Job's generated
  selector, a Namespace's ``kubernetes`` finalizer, Service ``clusterIPs``/IP families;
* admission plugins that run on every Pod: ServiceAccount (``serviceAccountName:
  default``), Priority (``priority: 0``) and DefaultTolerationSeconds (tolerate
  ``not-ready``/``unreachable`` nodes for 300 s before eviction);
* conversion quirks visible on the wire: ``serviceAccount`` mirrors
  ``serviceAccountName``, Secret ``stringData`` is merged into ``data``, resource
  quantities are written canonically (``"0.5"`` CPU becomes ``"500m"``).

Also here: ``initial_pod_status`` -- a new Pod is ``Pending``, with a QoS class.

What the server keeps from the stored object on an update (uid, timestamps, a
Service's allocated IPs, status) is the API server strategies' business, not this
module's: defaulting only ever looks at the object in front of it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from fractions import Fraction
from typing import Any

__all__ = ["apply_defaults", "initial_pod_status", "qos_class"]

Obj = dict[str, Any]

DEFAULT_SCHEDULER = "default-scheduler"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_GRACE_PERIOD_SECONDS = 30
VOLUME_FILE_MODE = 0o644  # 420: rw-r--r--, the mode of files projected into volumes
CLIENT_IP_AFFINITY_SECONDS = 10800  # three hours
DEFAULT_TOLERATION_SECONDS = 300
JOB_UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
# The two built-in priority classes. The API server's priority admission
# (``minik.apiserver.priority``) resolves every class before defaulting runs; this is only
# the fallback for pods defaulted without it (tools, tests).
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
_VOLUME_SOURCES = frozenset(
    {
        "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
        "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
        "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
        "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
    }
)  # fmt: skip


def apply_defaults(obj: Obj) -> None:
    """Fill in the defaults for ``obj`` in place; unknown kinds are left alone.

    Fields of the wrong type are skipped rather than overwritten, so validation can
    still report them to the client.
    """
    if not isinstance(obj, dict):
        return
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    group = api_version.split("/", 1)[0] if "/" in api_version else ""
    defaulter = _DEFAULTERS.get((group, kind))
    if defaulter is not None:
        defaulter(obj)


# --- small helpers ----------------------------------------------------------------------


def _child(parent: Obj, key: str) -> Obj | None:
    """``parent[key]``, created as ``{}`` when missing; None when it is not an object."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else None


def _existing(parent: Any, key: str) -> Obj | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else None


def _items(parent: Any, key: str) -> list[Obj]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _default(obj: Obj, key: str, value: Any) -> None:
    """Set ``obj[key]`` unless the client gave a value (``""`` counts as none, as in Go)."""
    if obj.get(key) in (None, ""):
        obj[key] = value


def _template_labels(spec: Obj) -> dict[str, str] | None:
    """The labels of ``spec.template``, or None when the template has no label map."""
    labels = (_existing(_existing(spec, "template"), "metadata") or {}).get("labels")
    if not isinstance(labels, dict):
        return None
    return {k: v for k, v in labels.items() if isinstance(v, str)}


def _canonical_resources(resources: Any) -> None:
    """Write quantities canonically, rounded up to milli-units (``"0.5"`` → ``"500m"``).

    Upstream stores quantities in canonical form, and rounds anything finer than a
    thousandth up (asking for 0.1m CPU gets you 1m). Invalid values are left for
    validation to report.
    """
    from minik.api.quantity import QuantityError, format_quantity, parse_quantity_and_format

    if not isinstance(resources, dict):
        return
    for name, raw in list(resources.items()):
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            continue
        try:
            amount, fmt = parse_quantity_and_format(raw.strip() if isinstance(raw, str) else raw)
        except QuantityError:
            continue
        millis = amount * 1000
        if millis.denominator != 1:
            rounded = (
                -(-millis.numerator // millis.denominator)
                if millis > 0
                else millis.numerator // millis.denominator
            )
            amount = Fraction(rounded, 1000)
        resources[name] = format_quantity(amount, style=fmt)


# --- pods and pod templates ------------------------------------------------------------------


def _pull_policy(image: str) -> str:
    """``Always`` for ``:latest`` and untagged images, whose content may change under
    the same name; ``IfNotPresent`` for a fixed tag or a digest."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]  # "localhost:5000/app" has a port, not a tag
    tag = last.partition(":")[2]
    if not tag and not digest:
        tag = "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(action: Obj | None) -> None:
    if action is not None:
        _default(action, "path", "/")
        _default(action, "scheme", "HTTP")


def _probe(probe: Obj | None) -> None:
    if probe is None:
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if probe.get(key) in (None, 0):
            probe[key] = value
    _http_get(_existing(probe, "httpGet"))


def _container(ctr: Obj) -> None:
    image = ctr.get("image")
    if not ctr.get("imagePullPolicy") and isinstance(image, str):
        ctr["imagePullPolicy"] = _pull_policy(image)
    _default(ctr, "terminationMessagePath", TERMINATION_MESSAGE_PATH)
    _default(ctr, "terminationMessagePolicy", "File")
    resources = _child(ctr, "resources")
    if resources is not None:
        _canonical_resources(resources.get("limits"))
        _canonical_resources(resources.get("requests"))
    for port in _items(ctr, "ports"):
        _default(port, "protocol", "TCP")
    for name in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(_existing(ctr, name))
    lifecycle = _existing(ctr, "lifecycle")
    for hook in ("postStart", "preStop"):
        _http_get(_existing(_existing(lifecycle, hook), "httpGet"))
    for var in _items(ctr, "env"):
        field_ref = _existing(_existing(var, "valueFrom"), "fieldRef")
        if field_ref is not None:
            _default(field_ref, "apiVersion", "v1")


def _volume(volume: Obj) -> None:
    if not any(volume.get(source) is not None for source in _VOLUME_SOURCES):
        volume["emptyDir"] = {}
    for source in ("secret", "configMap", "downwardAPI", "projected"):
        body = _existing(volume, source)
        if body is not None and body.get("defaultMode") is None:
            body["defaultMode"] = VOLUME_FILE_MODE
    host_path = _existing(volume, "hostPath")
    if host_path is not None and host_path.get("type") is None:
        host_path["type"] = ""
    for item in _items(_existing(volume, "downwardAPI"), "items"):
        field_ref = _existing(item, "fieldRef")
        if field_ref is not None:
            _default(field_ref, "apiVersion", "v1")
    for projection in _items(_existing(volume, "projected"), "sources"):
        token = _existing(projection, "serviceAccountToken")
        if token is not None and token.get("expirationSeconds") is None:
            token["expirationSeconds"] = 3600
    claim_template = _existing(_existing(volume, "ephemeral"), "volumeClaimTemplate")
    claim_spec = _existing(claim_template, "spec")
    if claim_spec is not None:
        _claim_spec(claim_spec)


def _pod_spec(spec: Obj) -> None:
    """Defaults of every pod spec, in Pods and in templates alike."""
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_GRACE_PERIOD_SECONDS
    _default(spec, "schedulerName", DEFAULT_SCHEDULER)
    for list_name in ("containers", "initContainers", "ephemeralContainers"):
        for ctr in _items(spec, list_name):
            _container(ctr)
    for volume in _items(spec, "volumes"):
        _volume(volume)


def _template(parent: Any, key: str = "template") -> None:
    spec = _existing(_existing(parent, key), "spec")
    if spec is not None:
        _pod_spec(spec)


def _pod(pod: Obj) -> None:
    spec = _child(pod, "spec")
    if spec is None:
        return
    _pod_spec(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    for list_name in ("containers", "initContainers"):
        for ctr in _items(spec, list_name):
            _requests_from_limits(ctr)
    if spec.get("hostNetwork") is True:
        for list_name in ("containers", "initContainers"):
            for ctr in _items(spec, list_name):
                for port in _items(ctr, "ports"):
                    if port.get("hostPort") in (None, 0) and port.get("containerPort") is not None:
                        port["hostPort"] = port["containerPort"]
    # Admission: the ServiceAccount plugin (every pod runs as some service account) ...
    _default(spec, "serviceAccountName", "default")
    _default(spec, "serviceAccount", spec["serviceAccountName"])
    # ... the Priority plugin ...
    if spec.get("priority") is None:
        class_name = spec.get("priorityClassName")
        if not class_name:
            spec["priority"] = 0
        elif class_name in SYSTEM_PRIORITIES:
            spec["priority"] = SYSTEM_PRIORITIES[class_name]
    _default(spec, "preemptionPolicy", "PreemptLowerPriority")
    # ... and DefaultTolerationSeconds.
    _default_tolerations(spec)


def _requests_from_limits(ctr: Obj) -> None:
    """A limit without a request means "request exactly that much" (pods only)."""
    resources = _existing(ctr, "resources")
    limits = _existing(resources, "limits")
    if resources is None or not limits:
        return
    requests = _child(resources, "requests")
    if requests is not None:
        for name, value in limits.items():
            requests.setdefault(name, value)


def _default_tolerations(spec: Obj) -> None:
    """Let pods stay 5 minutes on a node that stops reporting before being evicted.

    The node lifecycle controller taints unhealthy nodes ``NoExecute``; without a
    toleration every pod would be evicted at the first missed heartbeat.
    """
    tolerations = spec.get("tolerations")
    if tolerations is None:
        tolerations = []
    if not isinstance(tolerations, list):
        return
    for taint in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        tolerated = any(
            isinstance(t, dict)
            and t.get("key") in (taint, "", None)
            and t.get("effect") in ("NoExecute", "", None)
            for t in tolerations
        )
        if not tolerated:
            tolerations.append(
                {
                    "key": taint,
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
                }
            )
    spec["tolerations"] = tolerations


def _pod_template(obj: Obj) -> None:
    _template(obj)


# --- services and networking ----------------------------------------------------------------


def _service(svc: Obj) -> None:
    spec = _child(svc, "spec")
    if spec is None:
        return
    _default(spec, "type", "ClusterIP")
    _default(spec, "sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        config = _child(spec, "sessionAffinityConfig")
        client_ip = _child(config, "clientIP") if config is not None else None
        if client_ip is not None and client_ip.get("timeoutSeconds") is None:
            client_ip["timeoutSeconds"] = CLIENT_IP_AFFINITY_SECONDS
    for port in _items(spec, "ports"):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, "") and port.get("port") is not None:
            port["targetPort"] = port["port"]
    kind = spec["type"]
    if kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs")):
        _default(spec, "externalTrafficPolicy", "Cluster")
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        _default(spec, "internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        spec["allocateLoadBalancerNodePorts"] = True
    if kind != "ExternalName":
        _service_ip_fields(spec)
    status = _child(svc, "status")
    if status is not None and status.get("loadBalancer") is None:
        status["loadBalancer"] = {}


def _service_ip_fields(spec: Obj) -> None:
    """Fill clusterIPs from clusterIP, and settle the IP families.

    minik clusters are single-stack IPv4. Headless Services without a selector are the
    upstream exception: their endpoints are managed by hand and may be of any family,
    so they ask for ``RequireDualStack``.
    """
    cluster_ip = spec.get("clusterIP")
    if isinstance(cluster_ip, str) and cluster_ip and not spec.get("clusterIPs"):
        # An old client that only knows the singular field; upstream never fills the
        # singular from the plural (new clients must send both).
        spec["clusterIPs"] = [cluster_ip]
    if spec.get("ipFamilyPolicy") in (None, ""):
        headless = spec.get("clusterIP") == "None"
        spec["ipFamilyPolicy"] = (
            "RequireDualStack" if headless and not spec.get("selector") else "SingleStack"
        )
    if not spec.get("ipFamilies"):
        spec["ipFamilies"] = ["IPv4"]


def _endpoints(ep: Obj) -> None:
    for subset in _items(ep, "subsets"):
        for port in _items(subset, "ports"):
            _default(port, "protocol", "TCP")


def _endpoint_slice(eps: Obj) -> None:
    for port in _items(eps, "ports"):
        _default(port, "protocol", "TCP")
        if port.get("name") is None:
            port["name"] = ""


# --- other core kinds ---------------------------------------------------------------------


def _namespace(ns: Obj) -> None:
    meta = _child(ns, "metadata")
    name = meta.get("name") if meta is not None else None
    if meta is not None and isinstance(name, str) and name:
        labels = _child(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name
    spec = _child(ns, "spec")
    # The "kubernetes" finalizer makes deletion wait for the namespace controller to
    # delete everything inside. Upstream adds it on create only; here defaulting also
    # runs on updates, so it is never added to a namespace already being deleted --
    # otherwise the controller's /finalize, which removes it, could never succeed.
    deleting = meta is not None and bool(meta.get("deletionTimestamp"))
    if spec is not None and spec.get("finalizers") is None and not deleting:
        spec["finalizers"] = ["kubernetes"]
    status = _child(ns, "status")
    if status is not None:
        _default(status, "phase", "Active")


def _node(node: Obj) -> None:
    spec = _child(node, "spec")
    if spec is not None:
        cidr, cidrs = spec.get("podCIDR"), spec.get("podCIDRs")
        if isinstance(cidr, str) and cidr and not cidrs:
            spec["podCIDRs"] = [cidr]
        elif isinstance(cidrs, list) and cidrs and isinstance(cidrs[0], str) and not cidr:
            spec["podCIDR"] = cidrs[0]
    status = _existing(node, "status")
    if status is not None:
        _canonical_resources(status.get("capacity"))
        _canonical_resources(status.get("allocatable"))
        if status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
            status["allocatable"] = dict(status["capacity"])


def _secret(secret: Obj) -> None:
    """``stringData`` is a write-only convenience: merged into ``data`` (base64) and dropped."""
    _default(secret, "type", "Opaque")
    string_data = secret.get("stringData")
    if isinstance(string_data, dict) and string_data:
        data = _child(secret, "data")
        if data is not None:
            for key, value in string_data.items():
                if isinstance(value, str):
                    data[key] = base64.b64encode(value.encode()).decode()
            secret.pop("stringData")
    elif isinstance(string_data, dict):
        secret.pop("stringData")


def _claim_spec(spec: Obj) -> None:
    _default(spec, "volumeMode", "Filesystem")
    resources = _existing(spec, "resources")
    if resources is not None:
        _canonical_resources(resources.get("requests"))
        _canonical_resources(resources.get("limits"))


def _pvc(pvc: Obj) -> None:
    spec = _child(pvc, "spec")
    if spec is not None:
        _claim_spec(spec)
    status = _child(pvc, "status")
    if status is not None:
        _default(status, "phase", "Pending")


def _pv(pv: Obj) -> None:
    spec = _child(pv, "spec")
    if spec is not None:
        _default(spec, "persistentVolumeReclaimPolicy", "Retain")
        _default(spec, "volumeMode", "Filesystem")
        _canonical_resources(spec.get("capacity"))
    status = _child(pv, "status")
    if status is not None:
        _default(status, "phase", "Pending")


def _event(event: Obj) -> None:
    for key in ("reportingComponent", "reportingInstance"):
        if event.get(key) is None:
            event[key] = ""


def _replication_controller(rc: Obj) -> None:
    spec = _child(rc, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    labels = _template_labels(spec)
    if labels is not None:
        # A ReplicationController without a selector selects what its template labels.
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = _child(rc, "metadata")
        if meta is not None and not meta.get("labels"):
            meta["labels"] = dict(labels)
    _template(spec)


# --- apps/v1 ------------------------------------------------------------------------------


def _replica_set(rs: Obj) -> None:
    spec = _child(rs, "spec")
    if spec is not None:
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        _template(spec)


def _deployment(deploy: Obj) -> None:
    spec = _child(deploy, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _child(spec, "strategy")
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _child(strategy, "rollingUpdate")
            if rolling is not None:
                # Up to a quarter more pods during a rollout, and up to a quarter missing.
                rolling.setdefault("maxUnavailable", "25%")
                rolling.setdefault("maxSurge", "25%")
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template(spec)


def _stateful_set(sts: Obj) -> None:
    spec = _child(sts, "spec")
    if spec is None:
        return
    _default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy")
    if strategy is not None:
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
            strategy.setdefault("rollingUpdate", {})
        rolling = _existing(strategy, "rollingUpdate")
        if strategy["type"] == "RollingUpdate" and rolling is not None and rolling.get("partition") is None:
            rolling["partition"] = 0
    retention = _child(spec, "persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        _default(retention, "whenDeleted", "Retain")
        _default(retention, "whenScaled", "Retain")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    for claim in _items(spec, "volumeClaimTemplates"):
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        _pvc(claim)
    _template(spec)


def _daemon_set(ds: Obj) -> None:
    spec = _child(ds, "spec")
    if spec is None:
        return
    strategy = _child(spec, "updateStrategy")
    if strategy is not None:
        _default(strategy, "type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = _child(strategy, "rollingUpdate")
            if rolling is not None:
                rolling.setdefault("maxUnavailable", 1)
                rolling.setdefault("maxSurge", 0)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template(spec)


# --- batch/v1 -----------------------------------------------------------------------------


def _job(job: Obj) -> None:
    spec = _child(job, "spec")
    meta = _child(job, "metadata")
    if spec is None or meta is None:
        return
    if spec.get("manualSelector") is not True:
        _generate_job_selector(job)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1  # a plain Job: run one pod to success
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = 6
    _default(spec, "completionMode", "NonIndexed")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed"
    labels = _template_labels(spec)
    if labels and not meta.get("labels"):
        meta["labels"] = dict(labels)
    _template(spec)


def _generate_job_selector(job: Obj) -> None:
    """Select the Job's pods by its uid, which no other object shares.

    The template is labelled with the uid and name (both the current
    ``batch.kubernetes.io/`` keys and the legacy short ones) and the selector picks the
    uid label. Labels the client already set are kept; if they conflict, validation
    reports it. Nothing happens while the uid is still unknown.
    """
    meta, spec = _existing(job, "metadata"), _existing(job, "spec")
    if meta is None or spec is None:
        return
    uid, name = meta.get("uid"), meta.get("name")
    if not isinstance(uid, str) or not uid:
        return
    template = _child(spec, "template")
    template_meta = _child(template, "metadata") if template is not None else None
    labels = _child(template_meta, "labels") if template_meta is not None else None
    if labels is None:
        return
    for label in JOB_NAME_LABELS:
        if isinstance(name, str):
            labels.setdefault(label, name)
    for label in JOB_UID_LABELS:
        labels.setdefault(label, uid)
    selector = _child(spec, "selector")
    match_labels = _child(selector, "matchLabels") if selector is not None else None
    if match_labels is not None:
        match_labels.setdefault(JOB_UID_LABELS[0], uid)


def _cron_job(cj: Obj) -> None:
    spec = _child(cj, "spec")
    if spec is None:
        return
    _default(spec, "concurrencyPolicy", "Allow")
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    _template(_existing(_existing(spec, "jobTemplate"), "spec"))


def _binding(binding: Obj) -> None:
    """RBAC bindings: ``rbac.authorization.k8s.io`` is the only group a role (or a user or
    group subject) can come from; ServiceAccounts are core, so theirs is ``""``."""
    ref = _existing(binding, "roleRef")
    if ref is not None and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in _items(binding, "subjects"):
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _priority_class(pc: Obj) -> None:
    """A class preempts lower-priority pods unless it says ``Never``."""
    _default(pc, "preemptionPolicy", "PreemptLowerPriority")


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "Pod"): _pod,
    ("", "PodTemplate"): _pod_template,
    ("", "ReplicationController"): _replication_controller,
    ("", "Service"): _service,
    ("", "Endpoints"): _endpoints,
    ("", "Namespace"): _namespace,
    ("", "Node"): _node,
    ("", "Secret"): _secret,
    ("", "PersistentVolumeClaim"): _pvc,
    ("", "PersistentVolume"): _pv,
    ("", "Event"): _event,
    ("apps", "ReplicaSet"): _replica_set,
    ("apps", "Deployment"): _deployment,
    ("apps", "StatefulSet"): _stateful_set,
    ("apps", "DaemonSet"): _daemon_set,
    ("batch", "Job"): _job,
    ("batch", "CronJob"): _cron_job,
    ("discovery.k8s.io", "EndpointSlice"): _endpoint_slice,
    ("rbac.authorization.k8s.io", "RoleBinding"): _binding,
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): _binding,
    ("scheduling.k8s.io", "PriorityClass"): _priority_class,
}


# --- pod status -----------------------------------------------------------------------------


def qos_class(pod: Obj) -> str:
    """The pod's Quality of Service class, computed like upstream's ``GetPodQOS``.

    * **Guaranteed** -- every container sets CPU and memory limits, and requests equal
      limits: these pods are the last to be killed under memory pressure;
    * **BestEffort** -- no container requests or limits any CPU or memory: first to go;
    * **Burstable** -- everything in between.

    Only CPU and memory count; zero quantities count as unset. Call it on a defaulted
    pod (where a limit without a request has become the request too).
    """
    from minik.api.quantity import QuantityError, parse_quantity

    def amounts(value: Any) -> dict[str, Fraction]:
        out: dict[str, Fraction] = {}
        for name, raw in value.items() if isinstance(value, dict) else ():
            if name not in ("cpu", "memory"):
                continue
            try:
                amount = parse_quantity(raw)
            except (QuantityError, TypeError):
                continue
            if amount > 0:
                out[name] = amount
        return out

    spec = pod.get("spec") if isinstance(pod.get("spec"), dict) else {}
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    guaranteed = True
    for list_name in ("containers", "initContainers"):
        for ctr in _items(spec, list_name):
            resources = _existing(ctr, "resources") or {}
            container_limits = amounts(resources.get("limits"))
            # A limit without a request is also the request (pod defaulting does this;
            # counting it here keeps the answer right on a pod not yet defaulted).
            container_requests = container_limits | amounts(resources.get("requests"))
            for name, amount in container_requests.items():
                requests[name] = requests.get(name, Fraction(0)) + amount
            for name, amount in container_limits.items():
                limits[name] = limits.get(name, Fraction(0)) + amount
            if set(container_limits) != {"cpu", "memory"}:
                guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and all(limits.get(name) == amount for name, amount in requests.items())
        and len(requests) == len(limits)
    ):
        return "Guaranteed"
    return "Burstable"


def initial_pod_status(pod: Obj) -> Obj:
    """The status a new Pod starts with: ``Pending`` (not yet scheduled or started),
    with its QoS class, which never changes afterwards."""
    return {"phase": "Pending", "qosClass": qos_class(pod)}
