"""Validation of the core (``v1``) kinds other than Pods and Services.

Each function states upstream's rule for one kind (``pkg/apis/core/validation``):

* **Namespace** -- a DNS-1123 label (it becomes part of DNS names); ``status.phase`` is
  ``Active`` until deletion starts and ``Terminating`` after.
* **Node** -- taints with a known effect, valid pod CIDRs that never change once set,
  valid resource quantities in capacity and allocatable.
* **ConfigMap / Secret** -- keys usable as file names (they become files in volumes),
  at most 1 MiB of data, and no changes at all once ``immutable: true``.
* **Endpoints** -- routable pod addresses and valid ports; the proxy trusts them blindly.
* **PersistentVolumeClaim** -- access modes and a positive storage request; the spec is
  frozen after creation except that a bound claim may grow.
* **ReplicationController** -- a non-empty equality selector that matches its template.
* **Event**, **ServiceAccount**, **PodTemplate** -- little beyond metadata.
"""

from __future__ import annotations

import base64
import binascii
import json
from ipaddress import ip_network
from typing import Any

from minik.api.field import ErrorType, FieldError, forbidden, invalid, not_supported, required, too_long
from minik.api.validation import names
from minik.api.validation.common import (
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
    immutable,
    index,
    key,
    non_special_ip,
    nonnegative_fields,
    port_num,
    qualified_name,
    replica_status,
    valid_cidr,
    valid_ip,
)
from minik.api.validation.containers import parse_quantity, protocol
from minik.api.validation.meta import (
    duplicate_with_detail,
    kube_finalizer_name,
    validate_label_selector,
    validate_labels,
)
from minik.api.validation.pod import TAINT_EFFECTS, template_labels, validate_pod_template

MAX_SECRET_SIZE = 1024 * 1024
ACCESS_MODES = ["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"]
VOLUME_MODES = ["Block", "Filesystem"]
CLAIM_PHASES = ["Bound", "Lost", "Pending"]
REDACTED = "<secret contents redacted>"
_B64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _status(obj: Obj) -> Obj:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


# --- Namespace -------------------------------------------------------------------------


def _namespace(ns: Obj) -> Errors:
    errs: Errors = []
    for finalizer in get_str_list(_spec(ns), "finalizers", "spec.finalizers", errs):
        errs += kube_finalizer_name(finalizer, "spec.finalizers")
    return errs


def _namespace_status(ns: Obj, old: Obj) -> Errors:
    # Upstream's path really is "status.Phase" (capital P).
    phase = _status(ns).get("phase")
    deleting = bool(_meta(ns).get("deletionTimestamp"))
    if not deleting and phase != "Active":
        return [invalid("status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty")]
    if deleting and phase != "Terminating":
        return [
            invalid("status.Phase", phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")
        ]
    return []


# --- Node ------------------------------------------------------------------------------


def _node(node: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(node, "spec", "spec", errs)
    # Upstream validates taints under the *metadata* path (metadata.taints[0].effect):
    # a historical quirk that clients now match on, so it is kept.
    taints_path = "metadata.taints"
    seen: set[tuple[str, str]] = set()
    for i, taint in dicts(get_list(spec, "taints", "spec.taints", errs), taints_path, errs):
        tp = index(taints_path, i)
        taint_key = get_str(taint, "key", child(tp, "key"), errs)
        errs += qualified_name(taint_key, child(tp, "key"))
        value = get_str(taint, "value", child(tp, "value"), errs)
        msgs = names.is_label_value(value)
        if msgs:
            errs.append(invalid(child(tp, "value"), value, ";".join(msgs)))
        effect = get_str(taint, "effect", child(tp, "effect"), errs)
        if not effect:
            errs.append(required(child(tp, "effect")))
        elif effect not in TAINT_EFFECTS:
            errs.append(not_supported(child(tp, "effect"), effect, TAINT_EFFECTS))
        if (effect, taint_key) in seen:
            errs.append(duplicate_with_detail(tp, taint, "taints must be unique by key and effect pair"))
        seen.add((effect, taint_key))
    cidrs = get_str_list(spec, "podCIDRs", "spec.podCIDRs", errs)
    for i, cidr in enumerate(cidrs):
        errs += valid_cidr(cidr, index("spec.podCIDRs", i))
    if len(cidrs) > 1:
        try:
            versions = {ip_network(c, strict=False).version for c in cidrs}
        except ValueError:
            versions = set()
        if len(versions) != len(cidrs) or len(cidrs) > 2:
            errs.append(
                invalid("spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family")
            )
    get_bool(spec, "unschedulable", "spec.unschedulable", errs)
    return errs + _node_resources(node, {})


def _node_resources(node: Obj, old: Obj) -> Errors:
    """Capacity and allocatable, as the kubelet reports them: valid, non-negative amounts."""
    errs: Errors = []
    status = get_dict(node, "status", "status", errs)
    for field in ("capacity", "allocatable"):
        fp = child("status", field)
        for resource, raw in sorted(get_dict(status, field, fp, errs).items()):
            rp = key(fp, resource)
            errs += qualified_name(resource, rp)
            amount = parse_quantity(raw, rp, errs)
            if amount is not None and amount < 0:
                errs.append(invalid(rp, raw, "must be greater than or equal to 0"))
    return errs


def _node_update(node: Obj, old: Obj) -> Errors:
    """A node's pod CIDR and provider ID are set once (by the controller / the cloud)."""
    errs: Errors = []
    spec, old_spec = _spec(node), _spec(old)
    old_cidrs = old_spec.get("podCIDRs") or []
    if old_cidrs and (spec.get("podCIDRs") or []) != old_cidrs:
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    old_provider = old_spec.get("providerID")
    if old_provider and spec.get("providerID") != old_provider:
        errs.append(
            forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid')
        )
    return errs


# --- ConfigMap and Secret ----------------------------------------------------------------


def _base64_problem(text: str) -> str | None:
    """Why ``text`` is not standard base64 (Go's wording), or None when it is."""
    text = text.replace("\r", "").replace("\n", "")
    try:
        base64.b64decode(text, validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    for i, c in enumerate(text):
        if c not in _B64_ALPHABET and c != "=":
            return f"illegal base64 data at input byte {i}"
    return f"illegal base64 data at input byte {len(text) - len(text) % 4}"


def _decoded(data: dict[str, Any], path: str, errs: Errors, *, redact: bool) -> dict[str, bytes]:
    """Decode a ``map[string][]byte`` (base64 strings on the wire).

    Upstream fails such a body at decoding (400 ``illegal base64 data``); minik reports
    it as a field error, without echoing secret contents.
    """
    out: dict[str, bytes] = {}
    for k in sorted(data):
        value = data[k]
        problem = _base64_problem(value) if isinstance(value, str) else "must be a base64-encoded string"
        if problem is None and isinstance(value, str):
            out[k] = base64.b64decode(value.replace("\r", "").replace("\n", ""))
        elif redact:
            errs.append(invalid(key(path, k), REDACTED, problem or ""))
        else:
            errs.append(FieldError(ErrorType.INVALID, key(path, k), detail=problem or ""))
    return out


def _data_keys(keys: list[str], path: str) -> Errors:
    errs: Errors = []
    for k in sorted(keys):
        errs += [invalid(key(path, k), k, msg) for msg in names.is_config_map_key(k)]
    return errs


def _config_map(cm: Obj) -> Errors:
    errs: Errors = []
    data = get_str_map(cm, "data", "data", errs)
    raw_binary = get_dict(cm, "binaryData", "binaryData", errs)
    binary = _decoded(raw_binary, "binaryData", errs, redact=False)
    errs += _data_keys(list(data), "data")
    for k in sorted(set(data) & set(raw_binary)):
        errs.append(invalid(key("data", k), k, "duplicate of key present in binaryData"))
    errs += _data_keys(list(raw_binary), "binaryData")
    total = sum(len(v.encode()) for v in data.values()) + sum(len(v) for v in binary.values())
    if total > MAX_SECRET_SIZE:
        errs.append(too_long("", MAX_SECRET_SIZE))
    get_bool(cm, "immutable", "immutable", errs)
    return errs


def _immutable_data(obj: Obj, old: Obj, fields: tuple[str, ...]) -> Errors:
    """``immutable: true`` freezes the data (so kubelets can stop watching it) for good."""
    if old.get("immutable") is not True:
        return []
    errs: Errors = []
    if obj.get("immutable") is not True:
        errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            errs.append(forbidden(field, "field is immutable when `immutable` is set"))
    return errs


def _config_map_update(cm: Obj, old: Obj) -> Errors:
    return _immutable_data(cm, old, ("data", "binaryData"))


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def _secret(secret: Obj) -> Errors:
    errs: Errors = []
    raw = get_dict(secret, "data", "data", errs)
    data = _decoded(raw, "data", errs, redact=True)
    errs += _data_keys(list(raw), "data")
    if sum(len(v) for v in data.values()) > MAX_SECRET_SIZE:
        errs.append(too_long("data", MAX_SECRET_SIZE))
    secret_type = get_str(secret, "type", "type", errs)
    if secret_type == "kubernetes.io/service-account-token":
        annotations = _meta(secret).get("annotations")
        if not (isinstance(annotations, dict) and annotations.get("kubernetes.io/service-account.name")):
            errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errs += [required("data[username]"), required("data[password]")]
    elif secret_type in _SECRET_REQUIRED_KEYS:
        for k in _SECRET_REQUIRED_KEYS[secret_type]:
            if k not in raw:
                errs.append(required(key("data", k)))
            elif k.startswith(".docker") and k in data:
                try:
                    json.loads(data[k])
                except ValueError as e:
                    errs.append(invalid(key("data", k), REDACTED, str(e)))
    get_bool(secret, "immutable", "immutable", errs)
    return errs


def _secret_update(secret: Obj, old: Obj) -> Errors:
    errs = immutable(secret.get("type"), old.get("type"), "type")
    return errs + _immutable_data(secret, old, ("data",))


# --- ServiceAccount, Endpoints, Event ---------------------------------------------------------


def _service_account(sa: Obj) -> Errors:
    errs: Errors = []
    get_bool(sa, "automountServiceAccountToken", "automountServiceAccountToken", errs)
    for field in ("secrets", "imagePullSecrets"):
        for i, ref in dicts(get_list(sa, field, field, errs), field, errs):
            get_str(ref, "name", child(index(field, i), "name"), errs)
    return errs


def _endpoints(ep: Obj) -> Errors:
    """Hand-written Endpoints map a Service onto outside addresses, so check them well."""
    errs: Errors = []
    for i, subset in dicts(get_list(ep, "subsets", "subsets", errs), "subsets", errs):
        sp = index("subsets", i)
        ready = get_list(subset, "addresses", child(sp, "addresses"), errs)
        not_ready = get_list(subset, "notReadyAddresses", child(sp, "notReadyAddresses"), errs)
        if not ready and not not_ready:
            errs.append(required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for field, items in (("addresses", ready), ("notReadyAddresses", not_ready)):
            for j, address in dicts(items, child(sp, field), errs):
                errs += _endpoint_address(address, index(child(sp, field), j))
        ports = dicts(get_list(subset, "ports", child(sp, "ports"), errs), child(sp, "ports"), errs)
        for j, port in ports:
            pp = index(child(sp, "ports"), j)
            name = get_str(port, "name", child(pp, "name"), errs)
            if len(ports) > 1 and not name:
                errs.append(required(child(pp, "name")))
            elif name:
                errs += dns1123_label(name, child(pp, "name"))
            errs += port_num(port.get("port"), child(pp, "port"))
            errs += protocol(port, child(pp, "protocol"))
    return errs


def _endpoint_address(address: Obj, path: str) -> Errors:
    errs: Errors = []
    ip = get_str(address, "ip", child(path, "ip"), errs)
    ip_errs = valid_ip(ip, child(path, "ip"))
    errs += ip_errs
    hostname = get_str(address, "hostname", child(path, "hostname"), errs)
    if hostname:
        errs += dns1123_label(hostname, child(path, "hostname"))
    node_name = get_str(address, "nodeName", child(path, "nodeName"), errs)
    if address.get("nodeName") is not None:
        errs += dns1123_subdomain(node_name, child(path, "nodeName"))
    if not ip_errs:
        errs += non_special_ip(ip, child(path, "ip"))
    return errs


def _event(event: Obj) -> Errors:
    """core/v1 Events. New-style events (with ``eventTime``) must say who reported them."""
    errs: Errors = []
    namespace = _meta(event).get("namespace") or ""
    involved = get_dict(event, "involvedObject", "involvedObject", errs)
    involved_ns = get_str(involved, "namespace", "involvedObject.namespace", errs)
    mismatch = invalid("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if not event.get("eventTime"):
        if (not involved_ns and namespace not in ("", "default")) or (
            involved_ns and involved_ns != namespace
        ):
            errs.append(mismatch)
        return errs
    if not involved_ns and namespace not in ("default", "kube-system"):
        errs.append(mismatch)
    controller = get_str(event, "reportingComponent", "reportingComponent", errs)
    if not controller:
        errs.append(required("reportingComponent"))
    errs += qualified_name(controller, "reportingComponent")
    for field, limit in (("reportingInstance", 128), ("action", 128), ("reason", 128)):
        value = get_str(event, field, field, errs)
        if not value:
            errs.append(required(field))
        if len(value) > limit:
            errs.append(invalid(field, "", f"can have at most {limit} characters"))
    event_type = get_str(event, "type", "type", errs)
    if event_type not in ("Normal", "Warning"):
        errs.append(invalid("type", "", f"has invalid value: {event_type}"))
    if len(get_str(event, "message", "message", errs)) > 1024:
        errs.append(invalid("message", "", "can have at most 1024 characters"))
    return errs


# --- PersistentVolumeClaim ---------------------------------------------------------------------


def validate_claim_spec(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    modes = get_str_list(spec, "accessModes", child(path, "accessModes"), errs)
    if not modes:
        errs.append(required(child(path, "accessModes"), "at least 1 access mode is required"))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported(child(path, "accessModes"), mode, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(
            forbidden(child(path, "accessModes"), "may not use ReadWriteOncePod with other access modes")
        )
    errs += validate_label_selector(spec.get("selector"), child(path, "selector"))
    resources = get_dict(spec, "resources", child(path, "resources"), errs)
    requests = get_dict(resources, "requests", child(path, "resources", "requests"), errs)
    # Upstream's path for the storage request is "spec.resources[storage]".
    sp = key(child(path, "resources"), "storage")
    if "storage" not in requests:
        errs.append(required(sp))
    else:
        amount = parse_quantity(requests["storage"], sp, errs)
        if amount is not None and amount <= 0:
            errs.append(invalid(sp, requests["storage"], "must be greater than zero"))
    class_name = get_str(spec, "storageClassName", child(path, "storageClassName"), errs)
    if class_name:
        errs += dns1123_subdomain(class_name, child(path, "storageClassName"))
    if spec.get("volumeMode") is not None:
        mode = get_str(spec, "volumeMode", child(path, "volumeMode"), errs)
        if mode not in VOLUME_MODES:
            errs.append(not_supported(child(path, "volumeMode"), mode, VOLUME_MODES))
    return errs


def _pvc(pvc: Obj) -> Errors:
    errs: Errors = []
    return validate_claim_spec(get_dict(pvc, "spec", "spec", errs), "spec") + errs


def _storage(spec: Obj) -> Any:
    resources = spec.get("resources")
    requests = resources.get("requests") if isinstance(resources, dict) else None
    return requests.get("storage") if isinstance(requests, dict) else None


def _without_storage_request(spec: Obj) -> Obj:
    resources = spec.get("resources")
    if not isinstance(resources, dict) or not isinstance(resources.get("requests"), dict):
        return spec
    requests = {k: v for k, v in resources["requests"].items() if k != "storage"}
    return {**spec, "resources": {**resources, "requests": requests}}


def _pvc_update(pvc: Obj, old: Obj) -> Errors:
    """A claim's spec is frozen (quota and binding depend on it) except that a bound
    claim may ask for more storage, and the binder may fill in ``volumeName`` once."""
    errs: Errors = []
    spec, old_spec = _spec(pvc), _spec(old)
    new_size, old_size = _storage(spec), _storage(old_spec)
    compared_new, compared_old = dict(spec), dict(old_spec)
    if not old_spec.get("volumeName"):
        compared_new.pop("volumeName", None)
        compared_old.pop("volumeName", None)
    if _status(pvc).get("phase") == "Bound":
        compared_new, compared_old = (
            _without_storage_request(compared_new),
            _without_storage_request(compared_old),
        )
    if compared_new != compared_old:
        errs.append(
            forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName "
                "for bound claims",
            )
        )
    new_amount = parse_quantity(new_size, "", []) if new_size is not None else None
    old_amount = parse_quantity(old_size, "", []) if old_size is not None else None
    if new_amount is not None and old_amount is not None and new_amount < old_amount:
        errs.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
    return errs


def _pvc_status(pvc: Obj, old: Obj) -> Errors:
    errs: Errors = []
    phase = get_str(_status(pvc), "phase", "status.phase", errs)
    if phase and phase not in CLAIM_PHASES:
        errs.append(not_supported("status.phase", phase, CLAIM_PHASES))
    return errs


# --- ReplicationController and PodTemplate ---------------------------------------------------------


def _replication_controller(rc: Obj) -> Errors:
    """The original replica controller: its selector is a plain ``key: value`` map."""
    errs: Errors = []
    spec = get_dict(rc, "spec", "spec", errs)
    nonnegative_fields(spec, "spec", ("minReadySeconds",), errs)
    selector = get_str_map(spec, "selector", "spec.selector", errs)
    if not selector:
        errs.append(required("spec.selector"))
    errs += validate_labels(selector, "spec.selector")
    replicas = get_int(spec, "replicas", "spec.replicas", errs)
    if replicas is not None and replicas < 0:
        errs.append(invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    template = spec.get("template")
    if template is None:
        errs.append(required("spec.template"))
        return errs
    labels = template_labels(template)
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(
            invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    errs += validate_pod_template(template, "spec.template")
    errs += _always_restart(template, "spec.template", "ReplicationController")
    return errs


def _always_restart(template: Any, path: str, kind: str) -> Errors:
    """Controllers that keep N replicas running need pods that never stop on their own."""
    errs: Errors = []
    spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(spec, dict):
        return errs
    restart = spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported(child(path, "spec", "restartPolicy"), restart, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                child(path, "spec", "activeDeadlineSeconds"),
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errs


def _rc_status(rc: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(rc, "status", "status", errs)
    replica_status(status, "status", ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"), errs)
    return errs


def _pod_template(pt: Obj) -> Errors:
    return validate_pod_template(pt.get("template"), "template")


RULES: dict[tuple[str, str], KindRules] = {
    ("", "Namespace"): KindRules(name=names.is_dns1123_label, validate=_namespace, status=_namespace_status),
    ("", "Node"): KindRules(validate=_node, update=_node_update, status=_node_resources),
    ("", "ConfigMap"): KindRules(validate=_config_map, update=_config_map_update),
    ("", "Secret"): KindRules(validate=_secret, update=_secret_update),
    ("", "ServiceAccount"): KindRules(validate=_service_account),
    ("", "Endpoints"): KindRules(validate=_endpoints),
    ("", "Event"): KindRules(validate=_event),
    ("", "PersistentVolumeClaim"): KindRules(validate=_pvc, update=_pvc_update, status=_pvc_status),
    ("", "ReplicationController"): KindRules(validate=_replication_controller, status=_rc_status),
    ("", "PodTemplate"): KindRules(validate=_pod_template),
}
