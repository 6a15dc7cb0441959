"""Validation of pod specs, pod templates and Pod objects.

A pod spec appears in many places -- in every Pod, and as ``spec.template.spec`` of every
workload controller -- so it is validated by one function that takes the path prefix it
lives under. Containers have their own module (``containers.py``); this one covers what
belongs to the pod as a whole: volumes (each with exactly one source), restart and DNS
policy, scheduling constraints (node selector, affinity, tolerations), hostname and
subdomain, service account and node name.

Pods are nearly immutable. Once created, only container images, ``activeDeadlineSeconds``
(made shorter), tolerations (only added) and a negative grace period can change:
everything else about a running pod was already handed to a kubelet. To run a pod
differently you replace it -- which is exactly what Deployments do.
"""

from __future__ import annotations

import copy
from typing import Any

from minik.api.field import duplicate, forbidden, invalid, not_supported, required
from minik.api.validation import names
from minik.api.validation.common import (
    MAX_INT32,
    Errors,
    KindRules,
    Obj,
    child,
    dicts,
    dns1123_label,
    dns1123_subdomain,
    get_bool,
    get_dict,
    get_int,
    get_list,
    get_str,
    get_str_list,
    get_str_map,
    index,
    is_int,
    nonnegative,
    qualified_name,
    valid_ip,
)
from minik.api.validation.containers import (
    FILE_MODE_MSG,
    local_descending_path,
    parse_quantity,
    validate_containers,
)
from minik.api.validation.meta import (
    validate_annotations,
    validate_label_selector,
    validate_labels,
)

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
TOLERATION_OPERATORS = ["Equal", "Exists"]
POD_PHASES = ["Pending", "Running", "Succeeded", "Failed", "Unknown"]
HOST_PATH_TYPES = [
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
]
# In upstream's order: when a volume names two sources, the later one is the error.
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)  # fmt: skip
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048
POD_UPDATE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


# --- the pod spec ------------------------------------------------------------------------


def validate_pod_spec(spec: Obj, path: str, *, extra_volumes: set[str] | None = None) -> Errors:
    """Upstream's ValidatePodSpec. ``extra_volumes`` are names mounts may also refer to
    (a StatefulSet's volumeClaimTemplates become volumes of its pods)."""
    errs: Errors = []
    volumes = _volumes(get_list(spec, "volumes", child(path, "volumes"), errs), child(path, "volumes"))
    errs += volumes[1]
    errs += validate_containers(spec, path, volumes[0] | (extra_volumes or set()))
    errs += _host_network(spec, path)
    errs += _enum(spec, "restartPolicy", child(path, "restartPolicy"), RESTART_POLICIES)
    errs += _enum(spec, "dnsPolicy", child(path, "dnsPolicy"), DNS_POLICIES)
    node_selector = get_str_map(spec, "nodeSelector", child(path, "nodeSelector"), errs)
    errs += validate_labels(node_selector, child(path, "nodeSelector"))
    errs += _image_pull_secrets(spec, child(path, "imagePullSecrets"))
    errs += _affinity(get_dict(spec, "affinity", child(path, "affinity"), errs), child(path, "affinity"))
    errs += _dns_config(spec, child(path, "dnsConfig"))
    errs += _topology_spread(spec, child(path, "topologySpreadConstraints"))
    for field in ("serviceAccountName", "nodeName", "priorityClassName"):
        value = get_str(spec, field, child(path, field), errs)
        if value:
            errs += dns1123_subdomain(value, child(path, field))
    deadline = get_int(spec, "activeDeadlineSeconds", child(path, "activeDeadlineSeconds"), errs)
    if deadline is not None and not 1 <= deadline <= MAX_INT32:
        errs.append(
            invalid(
                child(path, "activeDeadlineSeconds"),
                deadline,
                f"must be between 1 and {MAX_INT32}, inclusive",
            )
        )
    get_int(spec, "terminationGracePeriodSeconds", child(path, "terminationGracePeriodSeconds"), errs)
    get_int(spec, "priority", child(path, "priority"), errs)
    for field in ("hostname", "subdomain"):
        value = get_str(spec, field, child(path, field), errs)
        if value:
            errs += dns1123_label(value, child(path, field))
    tolerations = get_list(spec, "tolerations", child(path, "tolerations"), errs)
    errs += validate_tolerations(tolerations, child(path, "tolerations"))
    errs += _host_aliases(spec, child(path, "hostAliases"))
    errs += _scheduling_gates(spec, path)
    for flag in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "enableServiceLinks"):
        get_bool(spec, flag, child(path, flag), errs)
    return errs


def _enum(obj: Obj, name: str, path: str, allowed: list[str]) -> Errors:
    errs: Errors = []
    value = get_str(obj, name, path, errs)
    if errs:
        return errs
    if not value:
        return [required(path)]
    if value not in allowed:
        return [not_supported(path, value, allowed)]
    return []


def _volumes(volumes: list[Any], path: str) -> tuple[set[str], Errors]:
    """The names of the valid volumes, and the errors of the others.

    A volume with an error is left out of the name set, so mounts of it also fail --
    as upstream, where an invalid volume is as good as absent.
    """
    errs: Errors = []
    valid: set[str] = set()
    for i, volume in dicts(volumes, path, errs):
        vp = index(path, i)
        own: Errors = []
        own += _volume_source(volume, vp)
        name = get_str(volume, "name", child(vp, "name"), own)
        if not name:
            own.append(required(child(vp, "name")))
        else:
            own += dns1123_label(name, child(vp, "name"))
        if name in valid:
            own.append(duplicate(child(vp, "name"), name))
        if own:
            errs += own
        else:
            valid.add(name)
    return valid, errs


def _volume_source(volume: Obj, path: str) -> Errors:
    """Exactly one source per volume; a few common sources get their own checks."""
    errs: Errors = []
    found = False
    for source in VOLUME_SOURCES:
        if volume.get(source) is None:
            continue
        sp = child(path, source)
        if found:
            errs.append(forbidden(sp, "may not specify more than 1 volume type"))
            continue
        found = True
        body = get_dict(volume, source, sp, errs)
        errs += _source_details(source, body, sp)
    if not found:
        errs.append(required(path, "must specify a volume type"))
    return errs


def _source_details(source: str, body: Obj, path: str) -> Errors:
    errs: Errors = []
    if source == "hostPath":
        host_path = get_str(body, "path", child(path, "path"), errs)
        if not host_path:
            return [*errs, required(child(path, "path"))]
        if ".." in host_path.split("/"):
            errs.append(invalid(child(path, "path"), host_path, "must not contain '..'"))
        kind = get_str(body, "type", child(path, "type"), errs)
        if kind not in HOST_PATH_TYPES:
            errs.append(not_supported(child(path, "type"), kind, HOST_PATH_TYPES))
    elif source in ("secret", "configMap"):
        name_field = "secretName" if source == "secret" else "name"
        if not get_str(body, name_field, child(path, name_field), errs):
            errs.append(required(child(path, name_field)))
        errs += _file_mode(body, "defaultMode", child(path, "defaultMode"))
        errs += _key_to_paths(get_list(body, "items", child(path, "items"), errs), child(path, "items"))
    elif source == "persistentVolumeClaim":
        if not get_str(body, "claimName", child(path, "claimName"), errs):
            errs.append(required(child(path, "claimName")))
    elif source == "emptyDir":
        if body.get("sizeLimit") is not None:
            amount = parse_quantity(body["sizeLimit"], child(path, "sizeLimit"), errs)
            if amount is not None and amount < 0:
                errs.append(
                    forbidden(child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity")
                )
    elif source == "nfs":
        if not get_str(body, "server", child(path, "server"), errs):
            errs.append(required(child(path, "server")))
        nfs_path = get_str(body, "path", child(path, "path"), errs)
        if not nfs_path:
            errs.append(required(child(path, "path")))
        elif not nfs_path.startswith("/"):
            errs.append(invalid(child(path, "path"), nfs_path, "must be an absolute path"))
    elif source == "csi":
        if not get_str(body, "driver", child(path, "driver"), errs):
            errs.append(required(child(path, "driver")))
    elif source in ("downwardAPI", "projected"):
        errs += _file_mode(body, "defaultMode", child(path, "defaultMode"))
    return errs


def _file_mode(obj: Obj, name: str, path: str) -> Errors:
    errs: Errors = []
    mode = get_int(obj, name, path, errs)
    if mode is not None and not 0 <= mode <= 0o777:
        errs.append(invalid(path, mode, FILE_MODE_MSG))
    return errs


def _key_to_paths(items: list[Any], path: str) -> Errors:
    errs: Errors = []
    for i, item in dicts(items, path, errs):
        ip = index(path, i)
        if not get_str(item, "key", child(ip, "key"), errs):
            errs.append(required(child(ip, "key")))
        item_path = get_str(item, "path", child(ip, "path"), errs)
        if not item_path:
            errs.append(required(child(ip, "path")))
        errs += local_descending_path(item_path, child(ip, "path"))
        if item_path.startswith(".."):
            errs.append(invalid(child(ip, "path"), item_path, "must not start with '..'"))
        errs += _file_mode(item, "mode", child(ip, "mode"))
    return errs


def _host_network(spec: Obj, path: str) -> Errors:
    """With the node's network, a container port *is* a host port: the two must agree."""
    if spec.get("hostNetwork") is not True:
        return []
    errs: Errors = []
    for list_name in ("containers", "initContainers"):
        items = spec.get(list_name)
        if not isinstance(items, list):
            continue
        for ci, ctr in enumerate(items):
            ports = ctr.get("ports") if isinstance(ctr, dict) else None
            for pi, port in enumerate(ports if isinstance(ports, list) else []):
                if not isinstance(port, dict):
                    continue
                host_port, container_port = port.get("hostPort"), port.get("containerPort")
                if is_int(host_port) and host_port != 0 and host_port != container_port:
                    pp = child(index(child(index(child(path, list_name), ci), "ports"), pi), "hostPort")
                    errs.append(
                        invalid(pp, host_port, "must match `containerPort` when `hostNetwork` is true")
                    )
    return errs


def _image_pull_secrets(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, ref in dicts(get_list(spec, "imagePullSecrets", path, errs), path, errs):
        get_str(ref, "name", child(index(path, i), "name"), errs)
    return errs


def validate_tolerations(tolerations: list[Any], path: str) -> Errors:
    """A toleration lets a pod onto nodes with a matching taint.

    An empty key with ``Exists`` tolerates everything; ``tolerationSeconds`` only makes
    sense for ``NoExecute``, the effect that evicts running pods after a delay.
    """
    errs: Errors = []
    for i, tol in dicts(tolerations, path, errs):
        tp = index(path, i)
        tol_key = get_str(tol, "key", child(tp, "key"), errs)
        operator = get_str(tol, "operator", child(tp, "operator"), errs)
        value = get_str(tol, "value", child(tp, "value"), errs)
        effect = get_str(tol, "effect", child(tp, "effect"), errs)
        seconds = get_int(tol, "tolerationSeconds", child(tp, "tolerationSeconds"), errs)
        if tol_key:
            errs += qualified_name(tol_key, child(tp, "key"))
        if not tol_key and operator != "Exists":
            errs.append(
                invalid(
                    child(tp, "operator"),
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if seconds is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    child(tp, "effect"), effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"
                )
            )
        if operator in ("Equal", ""):
            msgs = names.is_label_value(value)
            if msgs:
                errs.append(invalid(child(tp, "operator"), value, ";".join(msgs)))
        elif operator == "Exists":
            if value:
                errs.append(
                    invalid(child(tp, "operator"), tol, "value must be empty when `operator` is 'Exists'")
                )
        else:
            errs.append(not_supported(child(tp, "operator"), operator, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(tp, "effect"), effect, TAINT_EFFECTS))
    return errs


# --- scheduling constraints ----------------------------------------------------------------


def _affinity(affinity: Obj, path: str) -> Errors:
    errs: Errors = []
    node = get_dict(affinity, "nodeAffinity", child(path, "nodeAffinity"), errs)
    np = child(path, "nodeAffinity")
    req_name = "requiredDuringSchedulingIgnoredDuringExecution"
    pref_name = "preferredDuringSchedulingIgnoredDuringExecution"
    if node.get(req_name) is not None:
        errs += validate_node_selector(
            get_dict(node, req_name, child(np, req_name), errs), child(np, req_name)
        )
    pp = child(np, pref_name)
    for i, term in dicts(get_list(node, pref_name, pp, errs), pp, errs):
        errs += _weight(term, child(index(pp, i), "weight"))
        preference = get_dict(term, "preference", child(index(pp, i), "preference"), errs)
        errs += _node_selector_term(preference, child(index(pp, i), "preference"))
    for kind in ("podAffinity", "podAntiAffinity"):
        kp = child(path, kind)
        pod = get_dict(affinity, kind, kp, errs)
        rp = child(kp, req_name)
        for i, term in dicts(get_list(pod, req_name, rp, errs), rp, errs):
            errs += _pod_affinity_term(term, index(rp, i))
        wp = child(kp, pref_name)
        for i, term in dicts(get_list(pod, pref_name, wp, errs), wp, errs):
            errs += _weight(term, child(index(wp, i), "weight"))
            inner = get_dict(term, "podAffinityTerm", child(index(wp, i), "podAffinityTerm"), errs)
            errs += _pod_affinity_term(inner, child(index(wp, i), "podAffinityTerm"))
    return errs


def _weight(term: Obj, path: str) -> Errors:
    errs: Errors = []
    weight = get_int(term, "weight", path, errs)
    if not errs and (weight is None or not 1 <= weight <= 100):
        errs.append(invalid(path, weight if weight is not None else 0, "must be in the range 1-100"))
    return errs


def validate_node_selector(selector: Obj, path: str) -> Errors:
    errs: Errors = []
    tp = child(path, "nodeSelectorTerms")
    terms = dicts(get_list(selector, "nodeSelectorTerms", tp, errs), tp, errs)
    if not terms:
        errs.append(required(tp, "must have at least one node selector term"))
    for i, term in terms:
        errs += _node_selector_term(term, index(tp, i))
    return errs


def _node_selector_term(term: Obj, path: str) -> Errors:
    errs: Errors = []
    ep = child(path, "matchExpressions")
    for j, req in dicts(get_list(term, "matchExpressions", ep, errs), ep, errs):
        rp = index(ep, j)
        operator = get_str(req, "operator", child(rp, "operator"), errs)
        values = get_str_list(req, "values", child(rp, "values"), errs)
        if operator in ("In", "NotIn"):
            if not values:
                errs.append(
                    required(child(rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'")
                )
        elif operator in ("Exists", "DoesNotExist"):
            if values:
                errs.append(
                    forbidden(
                        child(rp, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        elif operator in ("Gt", "Lt"):
            if len(values) != 1:
                errs.append(
                    required(
                        child(rp, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"
                    )
                )
        else:
            errs.append(invalid(child(rp, "operator"), operator, "not a valid selector operator"))
        errs += qualified_name(get_str(req, "key", child(rp, "key"), errs), child(rp, "key"))
    fp = child(path, "matchFields")
    for j, req in dicts(get_list(term, "matchFields", fp, errs), fp, errs):
        rp = index(fp, j)
        operator = get_str(req, "operator", child(rp, "operator"), errs)
        values = get_str_list(req, "values", child(rp, "values"), errs)
        if operator in ("In", "NotIn"):
            if len(values) != 1:
                errs.append(
                    required(
                        child(rp, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            errs.append(invalid(child(rp, "operator"), operator, "not a valid selector operator"))
        field_key = get_str(req, "key", child(rp, "key"), errs)
        if field_key != "metadata.name":
            errs.append(invalid(child(rp, "key"), field_key, "not a valid field selector key"))
        else:
            for k, v in enumerate(values):
                errs += dns1123_subdomain(v, index(child(rp, "values"), k))
    return errs


def _pod_affinity_term(term: Obj, path: str) -> Errors:
    errs: Errors = []
    errs += validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs += validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    for ns in get_str_list(term, "namespaces", child(path, "namespaces"), errs):
        errs += [invalid(child(path, "namespace"), ns, m) for m in names.is_dns1123_label(ns)]
    topology_key = get_str(term, "topologyKey", child(path, "topologyKey"), errs)
    if not topology_key:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    errs += qualified_name(topology_key, child(path, "topologyKey"))
    return errs


def _topology_spread(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, constraint in dicts(get_list(spec, "topologySpreadConstraints", path, errs), path, errs):
        cp = index(path, i)
        skew = get_int(constraint, "maxSkew", child(cp, "maxSkew"), errs)
        if skew is None or skew <= 0:
            errs.append(
                invalid(child(cp, "maxSkew"), skew if skew is not None else 0, "must be greater than zero")
            )
        topology_key = get_str(constraint, "topologyKey", child(cp, "topologyKey"), errs)
        if not topology_key:
            errs.append(required(child(cp, "topologyKey"), "can not be empty"))
        else:
            errs += qualified_name(topology_key, child(cp, "topologyKey"))
        errs += _enum(
            constraint,
            "whenUnsatisfiable",
            child(cp, "whenUnsatisfiable"),
            ["DoNotSchedule", "ScheduleAnyway"],
        )
        errs += validate_label_selector(constraint.get("labelSelector"), child(cp, "labelSelector"))
    return errs


def _dns_config(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    present = spec.get("dnsConfig") is not None
    config = get_dict(spec, "dnsConfig", path, errs)
    nameservers = get_str_list(config, "nameservers", child(path, "nameservers"), errs)
    if spec.get("dnsPolicy") == "None":
        if not present:
            return [*errs, required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not nameservers:
            return [
                *errs,
                required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                ),
            ]
    if not present:
        return errs
    if len(nameservers) > MAX_DNS_NAMESERVERS:
        errs.append(
            invalid(
                child(path, "nameservers"),
                nameservers,
                f"must not have more than {MAX_DNS_NAMESERVERS} nameservers",
            )
        )
    for i, ns in enumerate(nameservers):
        errs += valid_ip(ns, index(child(path, "nameservers"), i))
    searches = get_str_list(config, "searches", child(path, "searches"), errs)
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        errs.append(
            invalid(
                child(path, "searches"),
                searches,
                f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths",
            )
        )
    if len(" ".join(searches)) > MAX_DNS_SEARCH_LIST_CHARS:
        errs.append(
            invalid(
                child(path, "searches"),
                searches,
                f"must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list",
            )
        )
    for i, search in enumerate(searches):
        if search != ".":
            errs += dns1123_subdomain(search.removesuffix("."), index(child(path, "searches"), i))
    op = child(path, "options")
    for i, option in dicts(get_list(config, "options", op, errs), op, errs):
        if not get_str(option, "name", child(index(op, i), "name"), errs):
            errs.append(required(index(op, i), "Option.Name must not be empty"))
    return errs


def _host_aliases(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, alias in dicts(get_list(spec, "hostAliases", path, errs), path, errs):
        ap = index(path, i)
        errs += valid_ip(get_str(alias, "ip", child(ap, "ip"), errs), child(ap, "ip"))
        for j, hostname in enumerate(get_str_list(alias, "hostnames", child(ap, "hostnames"), errs)):
            errs += dns1123_subdomain(hostname, index(child(ap, "hostnames"), j))
    return errs


def _scheduling_gates(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    gp = child(path, "schedulingGates")
    gates = dicts(get_list(spec, "schedulingGates", gp, errs), gp, errs)
    seen: set[str] = set()
    for i, gate in gates:
        name = get_str(gate, "name", child(index(gp, i), "name"), errs)
        errs += qualified_name(name, child(index(gp, i), "name"))
        if name in seen:
            errs.append(duplicate(child(index(gp, i), "name"), name))
        seen.add(name)
    if gates and spec.get("nodeName"):
        errs.append(
            forbidden(child(path, "nodeName"), "cannot be set until all schedulingGates have been cleared")
        )
    return errs


# --- templates and Pod objects -------------------------------------------------------------


def validate_pod_template(template: Any, path: str, *, extra_volumes: set[str] | None = None) -> Errors:
    """Upstream's ValidatePodTemplateSpec.

    Quirk kept from upstream: syntax errors in template labels are reported at
    ``<path>.labels`` (e.g. ``spec.template.labels``), while a selector mismatch names
    ``spec.template.metadata.labels``.
    """
    if not isinstance(template, dict):
        return [required(path)] if template is None else [invalid(path, template, "must be an object")]
    errs: Errors = []
    meta = get_dict(template, "metadata", child(path, "metadata"), errs)
    errs += validate_labels(get_str_map(meta, "labels", child(path, "labels"), errs), child(path, "labels"))
    annotations = get_str_map(meta, "annotations", child(path, "annotations"), errs)
    errs += validate_annotations(annotations, child(path, "annotations"))
    spec = get_dict(template, "spec", child(path, "spec"), errs)
    errs += validate_pod_spec(spec, child(path, "spec"), extra_volumes=extra_volumes)
    if spec.get("ephemeralContainers"):
        errs.append(
            forbidden(
                child(path, "spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"
            )
        )
    return errs


def template_labels(template: Any) -> dict[str, str]:
    """The labels of a pod template, ignoring anything that is not a string map."""
    meta = template.get("metadata") if isinstance(template, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(v, str)}


def validate_pod(pod: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(pod, "spec", "spec", errs)
    errs += validate_pod_spec(spec, "spec")
    if spec.get("ephemeralContainers"):
        errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return errs


def validate_pod_update(pod: Obj, old: Obj) -> Errors:
    """Only a handful of pod fields may change once the pod exists (see module docstring)."""
    errs: Errors = []
    spec = get_dict(pod, "spec", "spec", errs)
    old_spec = old.get("spec")
    if not isinstance(old_spec, dict):
        old_spec = {}
    errs += validate_pod_spec(spec, "spec")

    for list_name in ("containers", "initContainers"):
        new_list, old_list = spec.get(list_name) or [], old_spec.get(list_name) or []
        if isinstance(new_list, list) and isinstance(old_list, list) and len(new_list) != len(old_list):
            errs.append(forbidden(f"spec.{list_name}", "pod updates may not add or remove containers"))
            return errs

    old_deadline = old_spec.get("activeDeadlineSeconds")
    new_deadline = spec.get("activeDeadlineSeconds")
    if isinstance(old_deadline, int):
        if new_deadline is None:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"
                )
            )
        elif isinstance(new_deadline, int) and new_deadline > old_deadline:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value"
                )
            )

    errs += _only_added_tolerations(spec.get("tolerations"), old_spec.get("tolerations"))

    # Compare what remains after letting the mutable fields take their new values.
    munged = copy.deepcopy(old_spec)
    for list_name in ("containers", "initContainers"):
        new_list, old_list = spec.get(list_name), munged.get(list_name)
        if not isinstance(new_list, list) or not isinstance(old_list, list):
            continue
        for new_ctr, old_ctr in zip(new_list, old_list, strict=False):
            if isinstance(new_ctr, dict) and isinstance(old_ctr, dict):
                _set_or_drop(old_ctr, "image", new_ctr.get("image"))
    _set_or_drop(munged, "activeDeadlineSeconds", new_deadline)
    _set_or_drop(munged, "tolerations", spec.get("tolerations"))
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if is_int(old_grace) and old_grace < 0 and spec.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = 1
    _set_or_drop(munged, "schedulingGates", spec.get("schedulingGates"))
    munged.pop("ephemeralContainers", None)
    new_cmp = {k: v for k, v in spec.items() if k != "ephemeralContainers"}
    if new_cmp != munged:
        changed = sorted(k for k in set(new_cmp) | set(munged) if new_cmp.get(k) != munged.get(k))
        errs.append(
            forbidden("spec", POD_UPDATE_MSG + "\n  changed: " + ", ".join(f"spec.{k}" for k in changed))
        )
    return errs


def _set_or_drop(obj: Obj, name: str, value: Any) -> None:
    if value is None:
        obj.pop(name, None)
    else:
        obj[name] = value


def _only_added_tolerations(new: Any, old: Any) -> Errors:
    """Existing tolerations must survive unchanged, except that tolerationSeconds may change."""
    new_list = [t for t in new if isinstance(t, dict)] if isinstance(new, list) else []
    old_list = [t for t in old if isinstance(t, dict)] if isinstance(old, list) else []

    def without_seconds(t: Obj) -> Obj:
        return {k: v for k, v in t.items() if k != "tolerationSeconds"}

    remaining = [without_seconds(t) for t in new_list]
    for tol in old_list:
        if without_seconds(tol) not in remaining:
            return [
                forbidden(
                    "spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return []


def validate_pod_status(pod: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(pod, "status", "status", errs)
    phase = get_str(status, "phase", "status.phase", errs)
    if phase and phase not in POD_PHASES:
        errs.append(not_supported("status.phase", phase, POD_PHASES))
    nominated = get_str(status, "nominatedNodeName", "status.nominatedNodeName", errs)
    if nominated:
        errs += dns1123_subdomain(nominated, "status.nominatedNodeName")
    for field in ("podIP", "hostIP"):
        value = get_str(status, field, f"status.{field}", errs)
        if value:
            errs += valid_ip(value, f"status.{field}")
    for field in ("podIPs", "hostIPs"):
        path = f"status.{field}"
        for i, entry in dicts(get_list(status, field, path, errs), path, errs):
            errs += valid_ip(
                get_str(entry, "ip", child(index(path, i), "ip"), errs), child(index(path, i), "ip")
            )
    old_status = old.get("status")
    old_qos = old_status.get("qosClass") if isinstance(old_status, dict) else None
    if old_qos and status.get("qosClass") != old_qos:
        errs.append(invalid("status.qosClass", status.get("qosClass"), "field is immutable"))
    for list_name in ("containerStatuses", "initContainerStatuses"):
        lp = f"status.{list_name}"
        for i, cs in dicts(get_list(status, list_name, lp, errs), lp, errs):
            errs += nonnegative(
                get_int(cs, "restartCount", child(index(lp, i), "restartCount"), errs),
                child(index(lp, i), "restartCount"),
            )
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("", "Pod"): KindRules(validate=validate_pod, update=validate_pod_update, status=validate_pod_status),
}
