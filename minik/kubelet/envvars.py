"""A container's environment, computed the way upstream's kubelet does.

Precedence, lowest first (a later source overrides an earlier one with the same name):

1. **Service links** — for every Service of the pod's namespace that exists when the pod
   starts (``enableServiceLinks``, default true), the Docker-links-style variables
   ``<SVC>_SERVICE_HOST``, ``<SVC>_SERVICE_PORT``, ``<SVC>_PORT_<port>_<PROTO>…``; the
   ``kubernetes`` Service of the ``default`` namespace is always included.
2. ``envFrom`` — every key of a ConfigMap/Secret (with an optional prefix), in order.
3. ``env`` — literal values (with ``$(VAR)`` expanded against what is defined so far) or
   ``valueFrom``: ``fieldRef`` (pod fields), ``resourceFieldRef`` (the container's
   limits/requests), ``configMapKeyRef`` and ``secretKeyRef``.

A reference to a missing ConfigMap, Secret or key that is not ``optional`` raises
:class:`EnvError`; upstream reports it as the container's ``CreateContainerConfigError``.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from minik.api.quantity import parse_quantity
from minik.kubelet.sources import ObjectSource


class EnvError(ValueError):
    """The environment cannot be built (reason CreateContainerConfigError)."""


_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")
_VALID_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` from ``env``; ``$$`` is a literal ``$``; unknown refs stay as written."""

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REF.sub(repl, text)


def field_value(pod: Mapping[str, Any], path: str) -> str:
    """The value of a downward-API ``fieldRef.fieldPath`` for ``pod``."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(p.get("ip", "") for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p.get("ip", "") for p in status.get("hostIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    match = re.fullmatch(r"metadata\.(labels|annotations)(?:\['(.+)'\])?", path)
    if match:
        values: Mapping[str, str] = meta.get(match.group(1)) or {}
        if match.group(2) is not None:
            return str(values.get(match.group(2), ""))
        # The whole map, one key="value" per line, sorted (as upstream's downward API).
        return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))
    raise EnvError(f"unsupported fieldRef.fieldPath {path!r}")


def resource_value(pod: Mapping[str, Any], container_name: str, resource: str, divisor: str | None) -> str:
    """The value of a ``resourceFieldRef`` (e.g. ``limits.memory``) divided by ``divisor``, rounded up."""
    containers = [
        *(pod.get("spec") or {}).get("containers", []),
        *(pod.get("spec") or {}).get("initContainers", []),
    ]
    container = next((c for c in containers if c.get("name") == container_name), None)
    if container is None:
        raise EnvError(f"resourceFieldRef: no container named {container_name!r}")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise EnvError(f"unsupported resourceFieldRef.resource {resource!r}")
    raw = ((container.get("resources") or {}).get(kind) or {}).get(name)
    if raw is None:
        return "0" if kind == "requests" else ""  # upstream: node allocatable for unset limits
    value = parse_quantity(raw) / parse_quantity(divisor or "1")
    return str(max(1, math.ceil(value)) if value > 0 else 0)


def _data(obj: Mapping[str, Any], *, secret: bool) -> dict[str, str]:
    if secret:
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}
    out = dict(obj.get("data") or {})
    for k, v in (obj.get("binaryData") or {}).items():
        out[k] = base64.b64decode(v).decode(errors="replace")
    return out


def _key_ref(ref: Mapping[str, Any], namespace: str, source: ObjectSource, *, secret: bool) -> str | None:
    kind = "secret" if secret else "configmap"
    name = str(ref.get("name", ""))
    obj = source.secret(namespace, name) if secret else source.config_map(namespace, name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise EnvError(f'{kind} "{name}" not found')
    data = _data(obj, secret=secret)
    key = str(ref.get("key", ""))
    if key not in data:
        if ref.get("optional"):
            return None
        raise EnvError(f"couldn't find key {key} in {kind} {namespace}/{name}")
    return data[key]


def service_env(
    services: Iterable[Mapping[str, Any]], namespace: str, *, enable_service_links: bool = True
) -> dict[str, str]:
    """The Docker-links-style variables for the Services a pod in ``namespace`` should see."""
    env: dict[str, str] = {}
    chosen = []
    for svc in services:
        meta = svc.get("metadata") or {}
        own = meta.get("namespace") == namespace and enable_service_links
        master = meta.get("namespace") == "default" and meta.get("name") == "kubernetes"
        ip = (svc.get("spec") or {}).get("clusterIP")
        if (own or master) and ip and ip != "None":
            chosen.append(svc)
    for svc in sorted(chosen, key=lambda s: str(s["metadata"]["name"])):
        prefix = str(svc["metadata"]["name"]).upper().replace("-", "_")
        spec = svc["spec"]
        ip = str(spec["clusterIP"])
        ports = spec.get("ports") or []
        if not ports:
            continue
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{str(port['name']).upper().replace('-', '_')}"] = str(
                    port["port"]
                )
        first = ports[0]
        env[f"{prefix}_PORT"] = f"{str(first.get('protocol', 'TCP')).lower()}://{ip}:{first['port']}"
        for port in ports:
            proto = str(port.get("protocol", "TCP"))
            base = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
            env[base] = f"{proto.lower()}://{ip}:{port['port']}"
            env[f"{base}_PROTO"] = proto.lower()
            env[f"{base}_PORT"] = str(port["port"])
            env[f"{base}_ADDR"] = ip
    return env


def container_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    source: ObjectSource,
    *,
    services: Iterable[Mapping[str, Any]] = (),
) -> dict[str, str]:
    """The complete environment of ``container`` (see the module docstring for precedence)."""
    namespace = str((pod.get("metadata") or {}).get("namespace", "default"))
    spec = pod.get("spec") or {}
    env = service_env(
        services, namespace, enable_service_links=spec.get("enableServiceLinks", True) is not False
    )
    for item in container.get("envFrom") or []:
        prefix = str(item.get("prefix", ""))
        secret = "secretRef" in item
        ref = item.get("secretRef") if secret else item.get("configMapRef")
        if not ref:
            continue
        name = str(ref.get("name", ""))
        obj = source.secret(namespace, name) if secret else source.config_map(namespace, name)
        if obj is None:
            if ref.get("optional"):
                continue
            raise EnvError(f'{"secret" if secret else "configmap"} "{name}" not found')
        for key, data in _data(obj, secret=secret).items():
            if _VALID_ENV_NAME.match(prefix + key):  # upstream skips invalid names (with an Event)
                env[prefix + key] = data
    for var in container.get("env") or []:
        name = str(var["name"])
        value_from = var.get("valueFrom")
        if not value_from:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        value: str | None
        if "fieldRef" in value_from:
            value = field_value(pod, str(value_from["fieldRef"]["fieldPath"]))
        elif "resourceFieldRef" in value_from:
            ref = value_from["resourceFieldRef"]
            value = resource_value(
                pod,
                str(ref.get("containerName") or container["name"]),
                str(ref["resource"]),
                ref.get("divisor"),
            )
        elif "configMapKeyRef" in value_from:
            value = _key_ref(value_from["configMapKeyRef"], namespace, source, secret=False)
        elif "secretKeyRef" in value_from:
            value = _key_ref(value_from["secretKeyRef"], namespace, source, secret=True)
        else:
            raise EnvError(f"env {name}: unsupported valueFrom {sorted(value_from)}")
        if value is not None:
            env[name] = value
    return env
