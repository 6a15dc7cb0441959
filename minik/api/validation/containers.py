"""Validation of the containers inside a pod spec.

A container is where most user mistakes live: a missing image, two ports with the same
name, an environment variable that reads from two sources at once, a probe without a
handler, a volume mount naming a volume the pod does not have, a request bigger than its
limit. Upstream's rules (``pkg/apis/core/validation``: validateContainers,
validateContainerPorts, ValidateEnv, validateProbe, ValidateContainerResourceRequirements,
...) are followed here with their wording and paths, e.g.::

    spec.containers[1].name: Duplicate value: "a"
    spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1

Note that the request/limit error names ``resources.requests`` without the resource
key: that is upstream's path, kept so the message matches what people search for.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from minik.api.field import duplicate, forbidden, invalid, not_found, not_supported, required
from minik.api.validation import names
from minik.api.validation.common import (
    Errors,
    Obj,
    child,
    dicts,
    dns1123_label,
    dns1123_subdomain,
    get_dict,
    get_int,
    get_list,
    get_str,
    index,
    key,
    nonnegative,
    port_num,
    port_num_or_name,
    qualified_name,
)

PROTOCOLS = ["SCTP", "TCP", "UDP"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
# What ``env[].valueFrom.fieldRef`` may read (the downward API for environment variables).
ENV_FIELD_PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
# Field paths the v1 downward-API converter knows at all; others fail conversion.
_CONVERTIBLE_FIELD_PATHS = {
    *ENV_FIELD_PATHS,
    "metadata.annotations",
    "metadata.labels",
    "spec.restartPolicy",
    "spec.schedulerName",
    "status.phase",
}
RESOURCE_FIELD_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]
STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
FILE_MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
NOT_INIT = "may not be set for init containers without restartPolicy=Always"


def validate_containers(spec: Obj, path: str, volumes: set[str]) -> Errors:
    """``spec.containers`` and ``spec.initContainers`` of one pod spec.

    ``volumes`` holds the names of the pod's valid volumes, for volume mounts to refer to.
    Names must be unique across both lists, since ``kubectl logs -c`` and the
    kubelet's status both address containers by name alone.
    """
    errs: Errors = []
    cpath = child(path, "containers")
    containers = dicts(get_list(spec, "containers", cpath, errs), cpath, errs)
    if not containers and not errs:
        errs.append(required(cpath))
    seen: set[str] = set()
    for i, ctr in containers:
        cp = index(cpath, i)
        errs += _container_common(ctr, cp, volumes)
        name = ctr.get("name")
        if isinstance(name, str) and name:
            if name in seen:
                errs.append(duplicate(child(cp, "name"), name))
            seen.add(name)
        errs += _probes(ctr, cp)
        errs += _lifecycle(ctr, cp)
        if "restartPolicy" in ctr:
            errs.append(forbidden(child(cp, "restartPolicy"), "may not be set for non-init containers"))

    ipath = child(path, "initContainers")
    init_seen: set[str] = set()
    for i, ctr in dicts(get_list(spec, "initContainers", ipath, errs), ipath, errs):
        ip = index(ipath, i)
        errs += _container_common(ctr, ip, volumes)
        name = ctr.get("name")
        if isinstance(name, str) and name:
            if name in seen or name in init_seen:
                errs.append(duplicate(child(ip, "name"), name))
            init_seen.add(name)
        restart = get_str(ctr, "restartPolicy", child(ip, "restartPolicy"), errs)
        if restart and restart != "Always":
            errs.append(not_supported(child(ip, "restartPolicy"), restart, ["Always"]))
        if restart == "Always":  # a sidecar: it keeps running, so probes make sense
            errs += _probes(ctr, ip)
            errs += _lifecycle(ctr, ip)
        else:
            for field in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if ctr.get(field) is not None:
                    errs.append(forbidden(child(ip, field), NOT_INIT))

    errs += _host_port_conflicts(containers, cpath)
    return errs


def _container_common(ctr: Obj, path: str, volumes: set[str]) -> Errors:
    errs: Errors = []
    name = get_str(ctr, "name", child(path, "name"), errs)
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs += dns1123_label(name, child(path, "name"))
    if not get_str(ctr, "image", child(path, "image"), errs):
        errs.append(required(child(path, "image")))

    policy = get_str(ctr, "terminationMessagePolicy", child(path, "terminationMessagePolicy"), errs)
    if not policy:
        errs.append(required(child(path, "terminationMessagePolicy")))
    elif policy not in TERMINATION_MESSAGE_POLICIES:
        errs.append(
            not_supported(child(path, "terminationMessagePolicy"), policy, TERMINATION_MESSAGE_POLICIES)
        )

    errs += _ports(get_list(ctr, "ports", child(path, "ports"), errs), child(path, "ports"))
    errs += _env(get_list(ctr, "env", child(path, "env"), errs), child(path, "env"))
    errs += _env_from(get_list(ctr, "envFrom", child(path, "envFrom"), errs), child(path, "envFrom"))
    errs += _volume_mounts(
        get_list(ctr, "volumeMounts", child(path, "volumeMounts"), errs), child(path, "volumeMounts"), volumes
    )

    pull = get_str(ctr, "imagePullPolicy", child(path, "imagePullPolicy"), errs)
    if not pull:
        errs.append(required(child(path, "imagePullPolicy")))
    elif pull not in PULL_POLICIES:
        errs.append(not_supported(child(path, "imagePullPolicy"), pull, PULL_POLICIES))

    errs += validate_resources(
        get_dict(ctr, "resources", child(path, "resources"), errs), child(path, "resources")
    )
    return errs


def _ports(ports: list[Any], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, port in dicts(ports, path, errs):
        pp = index(path, i)
        name = get_str(port, "name", child(pp, "name"), errs)
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                errs += [invalid(child(pp, "name"), name, m) for m in msgs]
            elif name in seen:
                errs.append(duplicate(child(pp, "name"), name))
            else:
                seen.add(name)
        container_port = port.get("containerPort")
        if container_port in (None, 0):
            errs.append(required(child(pp, "containerPort")))
        else:
            errs += port_num(container_port, child(pp, "containerPort"))
        host_port = port.get("hostPort")
        if host_port not in (None, 0):
            errs += port_num(host_port, child(pp, "hostPort"))
        errs += protocol(port, child(pp, "protocol"))
    return errs


def protocol(obj: Obj, path: str) -> Errors:
    errs: Errors = []
    value = get_str(obj, "protocol", path, errs)
    if errs:
        return errs
    if not value:
        return [required(path)]
    if value not in PROTOCOLS:
        return [not_supported(path, value, PROTOCOLS)]
    return []


def _host_port_conflicts(containers: list[tuple[int, Obj]], path: str) -> Errors:
    """Two containers of one pod cannot both bind the same host port and protocol."""
    errs: Errors = []
    seen: set[str] = set()
    for ci, ctr in containers:
        ports = ctr.get("ports")
        if not isinstance(ports, list):
            continue
        for pi, port in enumerate(ports):
            if not isinstance(port, dict):
                continue
            host_port = port.get("hostPort")
            if not isinstance(host_port, int) or host_port == 0:
                continue
            ident = f"{port.get('hostIP', '')}/{port.get('protocol', '')}/{host_port}"
            if ident in seen:
                errs.append(duplicate(child(index(child(index(path, ci), "ports"), pi), "hostPort"), ident))
            seen.add(ident)
    return errs


def _env(env: list[Any], path: str) -> Errors:
    errs: Errors = []
    for i, var in dicts(env, path, errs):
        vp = index(path, i)
        name = get_str(var, "name", child(vp, "name"), errs)
        if not name:
            errs.append(required(child(vp, "name")))
        else:
            errs += [invalid(child(vp, "name"), name, m) for m in names.is_env_var_name(name)]
        if var.get("valueFrom") is not None:
            value = get_str(var, "value", child(vp, "value"), errs)
            errs += _value_from(
                get_dict(var, "valueFrom", child(vp, "valueFrom"), errs), value, child(vp, "valueFrom")
            )
    return errs


def _value_from(source: Obj, value: str, path: str) -> Errors:
    """An env var takes its value from exactly one place: a pod field, a resource, a key."""
    errs: Errors = []
    count = 0
    if source.get("fieldRef") is not None:
        count += 1
        errs += _field_ref(
            get_dict(source, "fieldRef", child(path, "fieldRef"), errs), child(path, "fieldRef")
        )
    if source.get("resourceFieldRef") is not None:
        count += 1
        ref = get_dict(source, "resourceFieldRef", child(path, "resourceFieldRef"), errs)
        resource = get_str(ref, "resource", child(path, "resourceFieldRef", "resource"), errs)
        if not resource:
            errs.append(required(child(path, "resourceFieldRef", "resource")))
        elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(
            ("requests.hugepages-", "limits.hugepages-")
        ):
            errs.append(
                not_supported(child(path, "resourceFieldRef", "resource"), resource, RESOURCE_FIELD_PATHS)
            )
    for kind in ("configMapKeyRef", "secretKeyRef"):
        if source.get(kind) is not None:
            count += 1
            errs += _key_selector(get_dict(source, kind, child(path, kind), errs), child(path, kind))
    if count == 0:
        errs.append(
            invalid(
                path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
        )
    elif value:
        errs.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _field_ref(ref: Obj, path: str) -> Errors:
    errs: Errors = []
    if not get_str(ref, "apiVersion", child(path, "apiVersion"), errs):
        return [*errs, required(child(path, "apiVersion"))]
    field_path = get_str(ref, "fieldPath", child(path, "fieldPath"), errs)
    if not field_path:
        return [*errs, required(child(path, "fieldPath"))]
    base, _, rest = field_path.partition("[")
    if base not in _CONVERTIBLE_FIELD_PATHS:
        return [
            *errs,
            invalid(
                child(path, "fieldPath"),
                field_path,
                f"error converting fieldPath: field label not supported: {field_path}",
            ),
        ]
    if rest:  # metadata.labels['app']
        subscript = rest.rstrip("]").strip("'")
        if base == "metadata.annotations":
            errs += qualified_name(subscript.lower(), path)
        elif base == "metadata.labels":
            errs += qualified_name(subscript, path)
        else:
            errs.append(invalid(path, base, "does not support subscript"))
    elif base not in ENV_FIELD_PATHS:
        errs.append(not_supported(child(path, "fieldPath"), base, ENV_FIELD_PATHS))
    return errs


def _key_selector(ref: Obj, path: str) -> Errors:
    errs: Errors = []
    name = get_str(ref, "name", child(path, "name"), errs)
    errs += dns1123_subdomain(name, child(path, "name"))
    k = get_str(ref, "key", child(path, "key"), errs)
    if not k:
        errs.append(required(child(path, "key")))
    else:
        errs += [invalid(child(path, "key"), k, m) for m in names.is_config_map_key(k)]
    return errs


def _env_from(sources: list[Any], path: str) -> Errors:
    errs: Errors = []
    for i, source in dicts(sources, path, errs):
        sp = index(path, i)
        prefix = get_str(source, "prefix", child(sp, "prefix"), errs)
        if prefix:
            errs += [invalid(child(sp, "prefix"), prefix, m) for m in names.is_env_var_name(prefix)]
        count = 0
        for kind in ("configMapRef", "secretRef"):
            if source.get(kind) is None:
                continue
            count += 1
            ref = get_dict(source, kind, child(sp, kind), errs)
            name = get_str(ref, "name", child(sp, kind, "name"), errs)
            if not name:
                errs.append(required(child(sp, kind, "name")))
            else:
                errs += dns1123_subdomain(name, child(sp, kind, "name"))
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _volume_mounts(mounts: list[Any], path: str, volumes: set[str]) -> Errors:
    errs: Errors = []
    mount_points: set[str] = set()
    for i, mount in dicts(mounts, path, errs):
        mp = index(path, i)
        name = get_str(mount, "name", child(mp, "name"), errs)
        if not name:
            errs.append(required(child(mp, "name")))
        if name not in volumes:
            errs.append(not_found(child(mp, "name"), name))
        mount_path = get_str(mount, "mountPath", child(mp, "mountPath"), errs)
        if not mount_path:
            errs.append(required(child(mp, "mountPath")))
        if mount_path in mount_points:
            errs.append(invalid(child(mp, "mountPath"), mount_path, "must be unique"))
        mount_points.add(mount_path)
        sub_path = get_str(mount, "subPath", child(mp, "subPath"), errs)
        if sub_path:
            errs += local_descending_path(sub_path, child(path, "subPath"))
    return errs


def local_descending_path(value: str, path: str) -> Errors:
    """A path that stays inside the volume: relative, and never stepping up with '..'."""
    errs: Errors = []
    if value.startswith("/"):
        errs.append(invalid(path, value, "must be a relative path"))
    if ".." in value.replace("\\", "/").split("/"):
        errs.append(invalid(path, value, "must not contain '..'"))
    return errs


# --- probes and lifecycle hooks ----------------------------------------------------------


def _probes(ctr: Obj, path: str) -> Errors:
    errs: Errors = []
    for field in ("livenessProbe", "readinessProbe", "startupProbe"):
        if ctr.get(field) is None:
            continue
        pp = child(path, field)
        probe = get_dict(ctr, field, pp, errs)
        errs += _handler(probe, pp, ("exec", "httpGet", "tcpSocket", "grpc"))
        for number in (
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        ):
            errs += nonnegative(get_int(probe, number, child(pp, number), errs), child(pp, number))
        grace = get_int(
            probe, "terminationGracePeriodSeconds", child(pp, "terminationGracePeriodSeconds"), errs
        )
        if field == "readinessProbe" and probe.get("terminationGracePeriodSeconds") is not None:
            errs.append(
                invalid(
                    child(pp, "terminationGracePeriodSeconds"), grace, "must not be set for readinessProbes"
                )
            )
        elif grace is not None and grace <= 0:
            errs.append(invalid(child(pp, "terminationGracePeriodSeconds"), grace, "must be greater than 0"))
        success = probe.get("successThreshold")
        if field != "readinessProbe" and isinstance(success, int) and success != 1:
            # A liveness or startup probe acts on the first failure or success, so
            # "succeed N times" has no meaning for it.
            errs.append(invalid(child(pp, "successThreshold"), success, "must be 1"))
    return errs


def _lifecycle(ctr: Obj, path: str) -> Errors:
    errs: Errors = []
    lp = child(path, "lifecycle")
    lifecycle = get_dict(ctr, "lifecycle", lp, errs)
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            hp = child(lp, hook)
            errs += _handler(
                get_dict(lifecycle, hook, hp, errs), hp, ("exec", "httpGet", "tcpSocket", "sleep")
            )
    return errs


def _handler(handler: Obj, path: str, kinds: tuple[str, ...]) -> Errors:
    """Exactly one way to probe (or hook): run a command, GET a URL, open a socket, ..."""
    errs: Errors = []
    found = 0
    for kind in kinds:
        if handler.get(kind) is None:
            continue
        if found:
            errs.append(forbidden(child(path, kind), "may not specify more than 1 handler type"))
            continue
        found += 1
        hp = child(path, kind)
        action = get_dict(handler, kind, hp, errs)
        if kind == "exec":
            if not get_list(action, "command", child(hp, "command"), errs):
                errs.append(required(child(hp, "command")))
        elif kind == "httpGet":
            if not get_str(action, "path", child(hp, "path"), errs):
                errs.append(required(child(hp, "path")))
            errs += port_num_or_name(action.get("port"), child(hp, "port"))
            scheme = get_str(action, "scheme", child(hp, "scheme"), errs)
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(child(hp, "scheme"), scheme, ["HTTP", "HTTPS"]))
        elif kind == "tcpSocket":
            errs += port_num_or_name(action.get("port"), child(hp, "port"))
        elif kind == "grpc":
            errs += port_num(action.get("port"), child(hp, "port"))
        elif kind == "sleep":
            seconds = get_int(action, "seconds", child(hp, "seconds"), errs)
            if seconds is None or seconds <= 0:
                errs.append(invalid(child(hp, "seconds"), action.get("seconds"), "must be greater than 0"))
    if not found:
        errs.append(required(path, "must specify a handler type"))
    return errs


# --- resources ---------------------------------------------------------------------------


def parse_quantity(value: Any, path: str, errs: Errors) -> Fraction | None:
    """A quantity such as ``"500m"`` or ``"1Gi"``, or None (with an error) when malformed."""
    from minik.api.quantity import ERR_FORMAT_WRONG, QuantityError
    from minik.api.quantity import parse_quantity as parse

    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        errs.append(invalid(path, value, ERR_FORMAT_WRONG))
        return None
    try:
        return parse(value.strip() if isinstance(value, str) else value)
    except QuantityError as e:
        errs.append(invalid(path, value, str(e)))
        return None


def _overcommit_allowed(resource: str) -> bool:
    """Only CPU, memory and ephemeral storage may be requested below their limit.

    Hugepages and extended resources (``example.com/gpu``) are handed out whole, so a
    container's request must equal its limit.
    """
    return resource in STANDARD_CONTAINER_RESOURCES


def _resource_name(resource: str, path: str) -> Errors:
    errs = qualified_name(resource, path)
    if (
        not errs
        and "/" not in resource
        and resource not in STANDARD_CONTAINER_RESOURCES
        and not resource.startswith("hugepages-")
    ):
        errs.append(invalid(path, resource, "must be a standard resource for containers"))
    return errs


def validate_resources(resources: Obj, path: str) -> Errors:
    errs: Errors = []
    lim_path, req_path = child(path, "limits"), child(path, "requests")
    raw_limits = get_dict(resources, "limits", lim_path, errs)
    limits: dict[str, Fraction] = {}
    for resource, raw in sorted(raw_limits.items()):
        rp = key(lim_path, resource)
        errs += _resource_name(resource, rp)
        amount = parse_quantity(raw, rp, errs)
        if amount is not None:
            if amount < 0:
                errs.append(invalid(rp, raw, "must be greater than or equal to 0"))
            limits[resource] = amount
    for resource, raw in sorted(get_dict(resources, "requests", req_path, errs).items()):
        rp = key(req_path, resource)
        errs += _resource_name(resource, rp)
        amount = parse_quantity(raw, rp, errs)
        if amount is None:
            continue
        if amount < 0:
            errs.append(invalid(rp, raw, "must be greater than or equal to 0"))
        limit = limits.get(resource)
        if limit is not None:
            shown = raw_limits[resource]
            if amount != limit and not _overcommit_allowed(resource):
                errs.append(invalid(req_path, raw, f"must be equal to {resource} limit of {shown}"))
            elif amount > limit:
                errs.append(
                    invalid(req_path, raw, f"must be less than or equal to {resource} limit of {shown}")
                )
        elif not _overcommit_allowed(resource) and resource not in raw_limits:
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    return errs
