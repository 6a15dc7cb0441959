"""Subresources that are views onto, or actions on, a parent object.

* ``/scale`` shows a workload as an ``autoscaling/v1 Scale`` (just replicas and a
  selector string) so that ``kubectl scale`` and autoscalers work on any kind.
* ``/binding`` is how the scheduler assigns a pod to a node: it sets
  ``spec.nodeName`` once and only once.
* ``/finalize`` is how the namespace controller clears ``spec.finalizers`` after
  it has emptied a terminating namespace.
* ``/log`` and ``/exec`` are served by the pod's kubelet; until a kubelet serves
  the node, the answer says so.
"""

from __future__ import annotations

import copy
from typing import Any

from minik.api import errors
from minik.api import field as fielderr
from minik.api.selectors import selector_to_dict_string
from minik.apiserver import wiretypes
from minik.apiserver.registry import ResourceType
from minik.apiserver.rest import Storage, now_rfc3339

Obj = dict[str, Any]


_SCALE = "io.k8s.api.autoscaling.v1.Scale"
_BINDING = "io.k8s.api.core.v1.Binding"
_NAMESPACE = "io.k8s.api.core.v1.Namespace"


def _expect_kind(body: Obj, kind: str, api_version: str) -> None:
    """A subresource body is of one type; one that names another is refused (as upstream's decoder)."""
    if body.get("kind") not in (None, "", kind) or body.get("apiVersion") not in (None, "", api_version):
        raise errors.bad_request(
            f"the body must be a {api_version} {kind}, not {body.get('apiVersion')} {body.get('kind')}"
        )


def to_scale(rt: ResourceType, obj: Obj) -> Obj:
    meta = obj["metadata"]
    spec = obj.get("spec", {})
    selector = spec.get("selector") or {}
    if rt.kind == "ReplicationController":
        selector_text = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    else:
        selector_text = selector_to_dict_string(selector)
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": selector_text,
        },
    }


def replicas_from_scale(scale: Obj, name: str) -> int:
    if not isinstance(scale, dict) or scale.get("kind") not in (None, "Scale"):
        raise errors.bad_request("the body must be an autoscaling/v1 Scale")
    # The JSON types first (spec an object, replicas an int32), as upstream's decoder.
    wiretypes.check_body(scale, wiretypes.shape_of(_SCALE), "Scale", "autoscaling/v1")
    replicas = (scale.get("spec") or {}).get("replicas") or 0
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise errors.invalid(
            "Scale", name, [fielderr.invalid("spec.replicas", replicas, "must be an integer")], "autoscaling"
        )
    if replicas < 0:
        raise errors.invalid(
            "Scale",
            name,
            [fielderr.invalid("spec.replicas", replicas, "must be greater than or equal to 0")],
            "autoscaling",
        )
    return replicas


async def update_scale(
    storage: Storage,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    scale: Obj,
    *,
    dry_run: bool = False,
    patched: bool = False,
) -> Obj:
    """Set the replicas a Scale asks for. A ``patched`` Scale was made from the current
    one, so the resourceVersion it carries is no precondition."""
    replicas = replicas_from_scale(scale, name)
    if (scale.get("metadata") or {}).get("name") not in (None, "", name):
        raise errors.bad_request(
            f"the name of the object ({scale['metadata']['name']}) does not match the name on the URL ({name})"
        )
    wanted_rv = None if patched else (scale.get("metadata") or {}).get("resourceVersion") or None

    def set_replicas(current: Obj) -> Obj:
        current.setdefault("spec", {})["replicas"] = replicas
        return current

    updated = await storage.guaranteed_update(
        rt, namespace, name, set_replicas, precondition_rv=wanted_rv, dry_run=dry_run
    )
    return to_scale(rt, updated)


async def bind(storage: Storage, rt: ResourceType, namespace: str, name: str, binding: Obj) -> Obj:
    _expect_kind(binding, "Binding", "v1")
    wiretypes.check_body(binding, wiretypes.shape_of(_BINDING), "Binding", "v1")
    target = binding.get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", name, [fielderr.required("target.name")])
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid(
            "Binding", name, [fielderr.not_supported("target.kind", target.get("kind"), ["Node"])]
        )
    if (binding.get("metadata") or {}).get("name") not in (None, name):
        raise errors.bad_request("the name of the binding does not match the pod")

    def assign(pod: Obj) -> Obj:
        current = pod.get("spec", {}).get("nodeName")
        if current:
            raise errors.conflict("pods/binding", name, f'pod {name} is already assigned to node "{current}"')
        if pod["metadata"].get("deletionTimestamp"):
            raise errors.conflict(
                "pods/binding", name, f"pod {name} is being deleted, cannot be assigned to a host"
            )
        pod.setdefault("spec", {})["nodeName"] = node
        status = pod.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "True",
                "lastProbeTime": None,
                "lastTransitionTime": now_rfc3339(),
            }
        )
        status["conditions"] = conditions
        return pod

    # spec.nodeName is otherwise immutable and status is otherwise kept: binding is a
    # server-side write that may change both, so it bypasses the update strategy.
    await storage.guaranteed_update(rt, namespace, name, assign, subresource="binding", server_side=True)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


async def finalize_namespace(storage: Storage, rt: ResourceType, name: str, body: Obj) -> Obj:
    _expect_kind(body, "Namespace", "v1")
    wiretypes.check_body(body, wiretypes.shape_of(_NAMESPACE), "Namespace", "v1")
    if (body.get("metadata") or {}).get("name") not in (None, "", name):
        raise errors.bad_request(
            f"the name of the object ({body['metadata']['name']}) does not match the name on the URL ({name})"
        )
    finalizers = list((body.get("spec") or {}).get("finalizers") or [])

    def set_finalizers(ns: Obj) -> Obj:
        ns.setdefault("spec", {})["finalizers"] = copy.deepcopy(finalizers)
        if not finalizers:
            ns["spec"].pop("finalizers")
        return ns

    return await storage.guaranteed_update(
        rt, None, name, set_finalizers, subresource="finalize", server_side=True
    )


async def kubelet_endpoint(
    storage: Storage, namespace: str, pod_name: str, what: str
) -> tuple[str, int, Obj]:
    """Where the kubelet that runs a pod serves its API, or the Status that says why not."""
    pods = storage.registry.lookup("", "v1", "pods")
    nodes = storage.registry.lookup("", "v1", "nodes")
    assert pods is not None and nodes is not None
    pod = await storage.get(pods, namespace, pod_name)
    node_name = pod.get("spec", {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {pod_name} does not have a host assigned")
    try:
        node = await storage.get(nodes, None, node_name)
    except errors.APIError:
        raise errors.service_unavailable(f'node "{node_name}" of pod {pod_name} no longer exists') from None
    port = (((node.get("status") or {}).get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get(
        "Port"
    )
    # Only the address the Node registered is dialled: a Node without one is unreachable
    # (upstream's 503), never quietly this host's loopback, where something else may listen.
    known = [a for a in (node.get("status") or {}).get("addresses") or [] if isinstance(a, dict)]
    internal = [a.get("address") for a in known if a.get("type") == "InternalIP"]
    address = next((a for a in internal if a and isinstance(a, str)), None)
    if address is None:
        listed = ", ".join(f"{a.get('type')} {a.get('address')}" for a in known)
        raise errors.service_unavailable(f"no preferred addresses found; known addresses: [{listed}]")
    if not port:
        raise errors.service_unavailable(
            f"cannot {what} pod {pod_name}: no kubelet is serving node {node_name!r} "
            "(its Node has no status.daemonEndpoints.kubeletEndpoint.Port)"
        )
    return address, int(port), pod
