"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` shows.

kubectl does not know how to print a Deployment. It asks the server to do it::

    GET /apis/apps/v1/namespaces/default/deployments?limit=500
    Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json

and the server answers a ``Table``: column definitions, then one row of cells per
object::

    {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "42"},
     "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "priority": 0, ...},
                           {"name": "Ready", ...}, ..., {"name": "Images", "priority": 1, ...}],
     "rows": [{"cells": ["web", "2/3", 3, 2, "5m"],
               "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                          "metadata": {...}}}]}

kubectl prints the priority-0 columns, adds the priority-1 ones for ``-o wide``, and
reads namespace and labels (``-A``, ``-L``, ``--show-labels``) from each row's
object, which is the object's metadata only (``?includeObject=Metadata``, the
default; ``None`` leaves it out, ``Object`` sends the whole object). A watch asked
for with the same Accept header sends each event's object as a Table of one row —
that is how ``kubectl get -w`` prints a change as a new line.

The cells are computed by the server *now*: ``AGE`` is "how long ago", and ``STATUS``
of a pod is derived from its phase, its containers' states and its deletion mark the
way kubectl users know (``ContainerCreating``, ``CrashLoopBackOff``, ``Init:0/1``,
``Completed``, ``Terminating``). The printers below follow upstream's
``pkg/printers/internalversion``, column for column. A kind without a printer gets
``NAME`` and ``AGE``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minik.api.selectors import format_label_selector

Obj = dict[str, Any]
Cells = list[Any]

#: The media type parameters that select a Table (``as=Table;g=meta.k8s.io``).
TABLE_MARKER = "as=Table"


def wants_table(accept: str) -> bool:
    """True if the Accept header asks for a Table (kubectl get does; controllers do not)."""
    return TABLE_MARKER in accept and "meta.k8s.io" in accept


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    priority: int = 0
    format: str = ""
    description: str = ""

    def definition(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True)
class Printer:
    columns: tuple[Column, ...]
    cells: Callable[[Obj, float], Cells]
    conditions: Callable[[Obj], list[Obj] | None] | None = None


# -- helpers -------------------------------------------------------------------------------------


def _ts(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """Upstream's ``duration.HumanDuration``: ``45s``, ``3m12s``, ``2h5m``, ``4d``, ``2y30d``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 60 * 2:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: float) -> str:
    """``translateTimestampSince``: the age of a timestamp, ``<unknown>`` if there is none."""
    ts = _ts(value)
    return "<unknown>" if ts is None else human_duration(now - ts)


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def _age(obj: Obj, now: float) -> str:
    return since(_meta(obj).get("creationTimestamp"), now)


def format_labels(labels: Any) -> str:
    """``labels.FormatLabels``: ``a=1,b=2`` sorted, ``<none>`` when empty."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _template_containers(obj: Obj) -> tuple[str, str]:
    containers = ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []
    return (
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


_NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
_AGE = Column("Age", description="CreationTimestamp is the time this object was created.")
_CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
_IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")
_SELECTOR = Column("Selector", priority=1, description="The label selector of the objects this one manages.")


# -- pods ----------------------------------------------------------------------------------------


def _restartable_init(container: Obj | None) -> bool:
    return bool(container) and (container or {}).get("restartPolicy") == "Always"


def _condition_true(conditions: Iterable[Obj], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in conditions)


def pod_cells(pod: Obj, now: float) -> Cells:
    """NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES (upstream's printPod)."""
    spec, status = _spec(pod), _status(pod)
    conditions = status.get("conditions") or []
    restarts = 0
    restartable_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: float | None = None
    last_restartable_restart: float | None = None
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    for c in conditions:
        if c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total += sum(1 for c in init_specs.values() if _restartable_init(c))

    def finished_at(cs: Obj) -> float | None:
        term = (cs.get("lastState") or {}).get("terminated")
        return _ts(term.get("finishedAt")) if isinstance(term, dict) else None

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    n_init = len(spec.get("initContainers") or [])
    for i, cs in enumerate(init_statuses):
        restarts += _int(cs.get("restartCount"))
        done = finished_at(cs)
        if done is not None and (last_restart is None or done > last_restart):
            last_restart = done
        restartable = _restartable_init(init_specs.get(cs.get("name")))
        if restartable:
            restartable_restarts += _int(cs.get("restartCount"))
            if done is not None and (last_restartable_restart is None or done > last_restartable_restart):
                last_restartable_restart = done
        state = cs.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if isinstance(terminated, dict) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, dict):
            if terminated.get("reason"):
                reason = "Init:" + str(terminated["reason"])
            elif terminated.get("signal"):
                reason = f"Init:Signal:{terminated['signal']}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif (
            isinstance(waiting, dict) and waiting.get("reason") and waiting.get("reason") != "PodInitializing"
        ):
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{n_init}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            done = finished_at(cs)
            if done is not None and (last_restart is None or done > last_restart):
                last_restart = done
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, dict) and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif isinstance(terminated, dict) and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif isinstance(terminated, dict):
                if terminated.get("signal"):
                    reason = f"Signal:{terminated['signal']}"
                else:
                    reason = f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif cs.get("ready") and isinstance(state.get("running"), dict):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"

    deleting = bool(_meta(pod).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"

    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips and isinstance(ips[0], dict) else None) or status.get("podIP") or "<none>"
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type = {c.get("type"): c.get("status") for c in conditions}
        true = sum(1 for g in gates if by_type.get(g.get("conditionType")) == "True")
        gates_text = f"{true}/{len(gates)}"
    return [
        _name(pod),
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(pod, now),
        ip,
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_text,
    ]


def pod_conditions(pod: Obj) -> list[Obj] | None:
    phase = _status(pod).get("phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]
    return None


# -- workloads -----------------------------------------------------------------------------------


def deployment_cells(d: Obj, now: float) -> Cells:
    spec, status = _spec(d), _status(d)
    containers, images = _template_containers(d)
    desired = _int(spec.get("replicas"))
    return [
        _name(d),
        f"{_int(status.get('readyReplicas'))}/{desired}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(d, now),
        containers,
        images,
        format_label_selector(spec.get("selector")),
    ]


def replicaset_cells(rs: Obj, now: float) -> Cells:
    spec, status = _spec(rs), _status(rs)
    containers, images = _template_containers(rs)
    selector = spec.get("selector")
    selector_text = (
        format_labels(selector)
        if rs.get("kind") == "ReplicationController"
        else format_label_selector(selector)
    )
    return [
        _name(rs),
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(rs, now),
        containers,
        images,
        selector_text,
    ]


def statefulset_cells(s: Obj, now: float) -> Cells:
    containers, images = _template_containers(s)
    return [
        _name(s),
        f"{_int(_status(s).get('readyReplicas'))}/{_int(_spec(s).get('replicas'))}",
        _age(s, now),
        containers,
        images,
    ]


def daemonset_cells(ds: Obj, now: float) -> Cells:
    spec, status = _spec(ds), _status(ds)
    containers, images = _template_containers(ds)
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [
        _name(ds),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        format_labels(node_selector),
        _age(ds, now),
        containers,
        images,
        format_label_selector(spec.get("selector")),
    ]


def job_cells(job: Obj, now: float) -> Cells:
    spec, status = _spec(job), _status(job)
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    else:
        parallelism = _int(spec.get("parallelism"))
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start, end = _ts(status.get("startTime")), _ts(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration((end if end is not None else now) - start)
    conditions = status.get("conditions") or []
    if _condition_true(conditions, "Complete"):
        state = "Complete"
    elif _condition_true(conditions, "Failed"):
        state = "Failed"
    elif _meta(job).get("deletionTimestamp"):
        state = "Terminating"
    elif _condition_true(conditions, "Suspended"):
        state = "Suspended"
    elif _condition_true(conditions, "FailureTarget"):
        state = "FailureTarget"
    elif _condition_true(conditions, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    containers, images = _template_containers(job)
    return [
        _name(job),
        state,
        completions,
        duration,
        _age(job, now),
        containers,
        images,
        format_label_selector(spec.get("selector")),
    ]


def cronjob_cells(cj: Obj, now: float) -> Cells:
    spec, status = _spec(cj), _status(cj)
    last = _ts(status.get("lastScheduleTime"))
    suspend = spec.get("suspend")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    containers, images = _template_containers({"spec": job_spec})
    return [
        _name(cj),
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or []),
        human_duration(now - last) if last is not None else "<none>",
        _age(cj, now),
        containers,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


# -- networking ----------------------------------------------------------------------------------


def _lb_ips(svc: Obj) -> list[str]:
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    return [str(i.get("ip") or i.get("hostname")) for i in ingress if i.get("ip") or i.get("hostname")]


def ingress_cells(ing: Obj, now: float) -> Cells:
    spec = _spec(ing)
    rules = [r for r in spec.get("rules") or [] if isinstance(r, dict)]
    hosts: list[str] = []
    more = False
    for rule in rules:  # upstream's formatHosts: the first three hosts, then "+ N more..."
        more = more or len(hosts) == 3
        if not more and rule.get("host"):
            hosts.append(str(rule["host"]))
    host_cell = ",".join(hosts) or "*"
    if more:
        host_cell += f" + {len(rules) - 3} more..."
    address = ",".join(_lb_ips(ing))
    if len(address) > 16:
        address = address[:13] + "..."
    return [
        _name(ing),
        spec.get("ingressClassName") or "<none>",
        host_cell,
        address,
        "80, 443" if spec.get("tls") else "80",
        _age(ing, now),
    ]


def service_cells(svc: Obj, now: float) -> Cells:
    spec = _spec(svc)
    type_ = spec.get("type") or "ClusterIP"
    external = list(spec.get("externalIPs") or [])
    if type_ in ("ClusterIP", "NodePort"):
        external_text = ",".join(external) or "<none>"
    elif type_ == "LoadBalancer":
        external_text = ",".join(_lb_ips(svc) + external) or "<pending>"
    elif type_ == "ExternalName":
        external_text = spec.get("externalName") or ""
    else:
        external_text = "<unknown>"
    pieces = []
    for p in spec.get("ports") or []:
        protocol = p.get("protocol") or "TCP"
        if _int(p.get("nodePort")) > 0:
            pieces.append(f"{p.get('port')}:{p.get('nodePort')}/{protocol}")
        else:
            pieces.append(f"{p.get('port')}/{protocol}")
    return [
        _name(svc),
        type_,
        spec.get("clusterIP") or "<none>",
        external_text,
        ",".join(pieces) or "<none>",
        _age(svc, now),
        format_labels(spec.get("selector")),
    ]


def endpoints_cells(ep: Obj, now: float) -> Cells:
    subsets = ep.get("subsets") or []
    if not subsets:
        return [_name(ep), "<none>", _age(ep, now)]
    shown: list[str] = []
    count, most = 0, 3
    for ss in subsets:
        addresses = ss.get("addresses") or []
        ports = ss.get("ports") or []
        if not ports:
            count += len(addresses)
            shown.extend(str(a.get("ip")) for a in addresses[: max(0, most - len(shown))])
            continue
        for port in ports:
            count += len(addresses)
            for a in addresses:
                if len(shown) == most:
                    break
                ip = str(a.get("ip"))
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}")
    text = ",".join(shown)
    if count > most:
        text += f" + {count - most} more..."
    return [_name(ep), text, _age(ep, now)]


def endpointslice_cells(es: Obj, now: float) -> Cells:
    ports = es.get("ports")
    if not ports:
        ports_text = "<unset>"
    else:
        ports_text = ",".join(str(p.get("port")) if p.get("port") is not None else "<unset>" for p in ports)
    addresses = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    addr_text = ",".join(addresses[:3]) or "<unset>"
    if len(addresses) > 3:
        addr_text += f" + {len(addresses) - 3} more..."
    return [_name(es), es.get("addressType", ""), ports_text, addr_text, _age(es, now)]


# -- cluster -------------------------------------------------------------------------------------


def node_cells(node: Obj, now: float) -> Cells:
    spec, status = _spec(node), _status(node)
    states = []
    for c in status.get("conditions") or []:
        if c.get("type") == "Ready":
            states.append("Ready" if c.get("status") == "True" else "NotReady")
    if not states:
        states.append("Unknown")
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    roles: set[str] = set()
    for k, v in (_meta(node).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/") and k[len("node-role.kubernetes.io/") :]:
            roles.add(k[len("node-role.kubernetes.io/") :])
        elif k == "kubernetes.io/role" and v:
            roles.add(str(v))
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for a in status.get("addresses") or []:
            if a.get("type") == kind:
                return str(a.get("address"))
        return "<none>"

    return [
        _name(node),
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def namespace_cells(ns: Obj, now: float) -> Cells:
    return [_name(ns), _status(ns).get("phase", ""), _age(ns, now)]


def event_cells(ev: Obj, now: float) -> Cells:
    first = (
        since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else since(ev.get("eventTime"), now)
    )
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = _int(ev.get("count"))
    series = ev.get("series")
    if isinstance(series, dict):
        last = since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = ev.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    instance = source.get("host") or ev.get("reportingInstance") or ""
    source_text = ", ".join(x for x in (component, instance) if x) if component else ""
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        source_text,
        str(ev.get("message", "")).strip(),
        first,
        count,
        _name(ev),
    ]


def configmap_cells(cm: Obj, now: float) -> Cells:
    return [_name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), _age(cm, now)]


def secret_cells(s: Obj, now: float) -> Cells:
    return [_name(s), s.get("type", ""), len(s.get("data") or {}), _age(s, now)]


def serviceaccount_cells(sa: Obj, now: float) -> Cells:
    return [_name(sa), len(sa.get("secrets") or []), _age(sa, now)]


_ACCESS_MODES = {
    "ReadWriteOnce": "RWO",
    "ReadOnlyMany": "ROX",
    "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}


def pvc_cells(pvc: Obj, now: float) -> Cells:
    spec, status = _spec(pvc), _status(pvc)
    phase = "Terminating" if _meta(pvc).get("deletionTimestamp") else status.get("phase", "")
    bound = bool(spec.get("volumeName"))
    capacity = str((status.get("capacity") or {}).get("storage", "")) if bound else ""
    modes = ",".join(_ACCESS_MODES.get(m, m) for m in status.get("accessModes") or []) if bound else ""
    return [
        _name(pvc),
        phase,
        spec.get("volumeName", ""),
        capacity,
        modes,
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc, now),
        spec.get("volumeMode") or "<unset>",
    ]


def lease_cells(lease: Obj, now: float) -> Cells:
    return [_name(lease), _spec(lease).get("holderIdentity") or "", _age(lease, now)]


def priorityclass_cells(pc: Obj, now: float) -> Cells:
    value = pc.get("value")
    return [
        _name(pc),
        value if isinstance(value, int) else 0,
        pc.get("globalDefault") is True,
        _age(pc, now),
        pc.get("preemptionPolicy") or "",
    ]


def poddisruptionbudget_cells(pdb: Obj, now: float) -> Cells:
    spec = _spec(pdb)

    def bound(name: str) -> str:
        value = spec.get(name)
        return "N/A" if value is None else str(value)

    allowed = _status(pdb).get("disruptionsAllowed")
    return [
        _name(pdb),
        bound("minAvailable"),
        bound("maxUnavailable"),
        allowed if isinstance(allowed, int) else 0,
        _age(pdb, now),
    ]


def controllerrevision_cells(cr: Obj, now: float) -> Cells:
    controller = "<none>"
    for ref in _meta(cr).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")) + (f".{group}" if group else "")
            controller = f"{kind.lower()}/{ref.get('name')}"
    return [_name(cr), controller, _int(cr.get("revision")), _age(cr, now)]


def default_cells(obj: Obj, now: float) -> Cells:
    return [_name(obj), _age(obj, now)]


# -- the catalogue, by kind ----------------------------------------------------------------------


def role_cells(role: Obj, now: float) -> Cells:
    """NAME CREATED-AT: roles print their creation time, not an age (upstream's printRole)."""
    return [_name(role), _meta(role).get("creationTimestamp") or ""]


def rolebinding_cells(binding: Obj, now: float) -> Cells:
    """NAME ROLE AGE, and for -o wide the USERS, GROUPS and SERVICEACCOUNTS it binds."""
    ref = binding.get("roleRef") or {}
    found: dict[str, list[str]] = {"User": [], "Group": [], "ServiceAccount": []}
    for subject in binding.get("subjects") or []:
        if not isinstance(subject, dict) or subject.get("kind") not in found:
            continue
        name = str(subject.get("name", ""))
        if subject.get("kind") == "ServiceAccount":
            name = f"{subject.get('namespace') or ''}:{name}"
        found[str(subject["kind"])].append(name)
    return [
        _name(binding),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(binding, now),
        ", ".join(found["User"]),
        ", ".join(found["Group"]),
        ", ".join(found["ServiceAccount"]),
    ]


def _c(name: str, type_: str = "string", priority: int = 0, description: str = "") -> Column:
    return Column(name, type_, priority, description=description)


PRINTERS: dict[str, Printer] = {
    "Pod": Printer(
        (
            _NAME,
            _c("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
            _c("Status", description="The aggregate status of the containers in this pod."),
            _c(
                "Restarts",
                description="The number of times the containers in this pod have been restarted "
                "and when the last container in this pod has restarted.",
            ),
            _AGE,
            _c("IP", priority=1, description="IP address allocated to the pod."),
            _c("Node", priority=1, description="The node the pod is scheduled to."),
            _c("Nominated Node", priority=1, description="The node the scheduler nominated for preemption."),
            _c("Readiness Gates", priority=1, description="The readiness gates of the pod that are true."),
        ),
        pod_cells,
        pod_conditions,
    ),
    "Deployment": Printer(
        (
            _NAME,
            _c("Ready", description="Number of the pod with ready state"),
            _c(
                "Up-to-date",
                "integer",
                description="Total number of non-terminated pods targeted by this "
                "deployment that have the desired template spec.",
            ),
            _c(
                "Available",
                "integer",
                description="Total number of available pods (ready for at least "
                "minReadySeconds) targeted by this deployment.",
            ),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        deployment_cells,
    ),
    "ReplicaSet": Printer(
        (
            _NAME,
            _c("Desired", "integer", description="Replicas is the number of desired pods."),
            _c("Current", "integer", description="Replicas is the most recently observed number of pods."),
            _c(
                "Ready",
                "integer",
                description="The number of pods targeted by this ReplicaSet with a Ready Condition.",
            ),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        replicaset_cells,
    ),
    "StatefulSet": Printer(
        (
            _NAME,
            _c("Ready", description="Number of the pod with ready state"),
            _AGE,
            _CONTAINERS,
            _IMAGES,
        ),
        statefulset_cells,
    ),
    "DaemonSet": Printer(
        (
            _NAME,
            _c(
                "Desired",
                "integer",
                description="The total number of nodes that should be running the daemon pod.",
            ),
            _c("Current", "integer", description="The number of nodes running at least one daemon pod."),
            _c("Ready", "integer", description="The number of nodes with a ready daemon pod."),
            _c("Up-to-date", "integer", description="The number of nodes running the updated daemon pod."),
            _c("Available", "integer", description="The number of nodes with an available daemon pod."),
            _c("Node Selector", description="The node selector of the pod template."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        daemonset_cells,
    ),
    "Job": Printer(
        (
            _NAME,
            _c("Status", description="Status of the job."),
            _c("Completions", description="The completion status of the job: succeeded/desired."),
            _c("Duration", description="Time required to complete the job."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        job_cells,
    ),
    "CronJob": Printer(
        (
            _NAME,
            _c("Schedule", description="The schedule for running the job, in Cron format."),
            _c("Timezone", description="The time zone name for the given schedule."),
            _c("Suspend", "boolean", description="Whether subsequent executions are suspended."),
            _c("Active", "integer", description="The number of currently running jobs."),
            _c("Last Schedule", description="The last time the job was successfully scheduled."),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        cronjob_cells,
    ),
    "Service": Printer(
        (
            _NAME,
            _c("Type", description="How the service is exposed."),
            _c("Cluster-IP", description="The IP address of the service inside the cluster."),
            _c("External-IP", description="The addresses the service is reachable at from outside."),
            _c("Port(s)", description="The ports the service exposes."),
            _AGE,
            _c(
                "Selector",
                priority=1,
                description="Route service traffic to pods with labels matching this selector.",
            ),
        ),
        service_cells,
    ),
    "Ingress": Printer(
        (
            _NAME,
            _c("Class", description="The name of the IngressClass resource that should be used."),
            _c("Hosts", description="The hosts the rules of the ingress apply to."),
            _c("Address", description="The addresses the ingress is reachable at."),
            _c("Ports", description="The ports the ingress serves (443 when TLS is configured)."),
            _AGE,
        ),
        ingress_cells,
    ),
    "Endpoints": Printer(
        (
            _NAME,
            _c("Endpoints", description="The set of all endpoints is the union of all subsets."),
            _AGE,
        ),
        endpoints_cells,
    ),
    "EndpointSlice": Printer(
        (
            _NAME,
            _c("AddressType", description="The type of address carried by this EndpointSlice."),
            _c("Ports", description="The network ports exposed by each endpoint."),
            _c("Endpoints", description="The addresses of the endpoints."),
            _AGE,
        ),
        endpointslice_cells,
    ),
    "Node": Printer(
        (
            _NAME,
            _c("Status", description="The status of the node"),
            _c("Roles", description="The roles of the node"),
            _AGE,
            _c("Version", description="Kubelet Version reported by the node."),
            _c("Internal-IP", priority=1, description="The node's internal address."),
            _c("External-IP", priority=1, description="The node's external address."),
            _c("OS-Image", priority=1, description="OS Image reported by the node."),
            _c("Kernel-Version", priority=1, description="Kernel Version reported by the node."),
            _c(
                "Container-Runtime", priority=1, description="Container runtime version reported by the node."
            ),
        ),
        node_cells,
    ),
    "Namespace": Printer(
        (
            _NAME,
            _c("Status", description="The status of the namespace"),
            _AGE,
        ),
        namespace_cells,
    ),
    "Event": Printer(
        (
            _c(
                "Last Seen",
                description="The time at which the most recent occurrence of this event was recorded.",
            ),
            _c("Type", description="Type of this event (Normal, Warning)."),
            _c("Reason", description="A short, machine understandable reason for the event."),
            _c("Object", description="The object that this event is about."),
            _c("Subobject", priority=1, description="The field of the object this event is about."),
            _c("Source", priority=1, description="The component reporting this event."),
            _c("Message", description="A human-readable description of the event."),
            _c("First Seen", priority=1, description="The time at which the event was first recorded."),
            _c("Count", "integer", priority=1, description="The number of times this event has occurred."),
            Column("Name", priority=1, format="name", description="Name must be unique within a namespace."),
        ),
        event_cells,
    ),
    "ConfigMap": Printer(
        (
            _NAME,
            _c("Data", "integer", description="The number of keys in data and binaryData."),
            _AGE,
        ),
        configmap_cells,
    ),
    "Secret": Printer(
        (
            _NAME,
            _c("Type", description="The type of the secret"),
            _c("Data", "integer", description="The number of keys in data."),
            _AGE,
        ),
        secret_cells,
    ),
    "ServiceAccount": Printer(
        (
            _NAME,
            _c("Secrets", "integer", description="The number of secrets listed."),
            _AGE,
        ),
        serviceaccount_cells,
    ),
    "PersistentVolumeClaim": Printer(
        (
            _NAME,
            _c("Status", description="The phase of the claim."),
            _c("Volume", description="The volume bound to the claim."),
            _c("Capacity", description="The capacity of the bound volume."),
            _c("Access Modes", description="The access modes of the bound volume."),
            _c("StorageClass", description="The storage class of the claim."),
            _c("VolumeAttributesClass", description="The volume attributes class of the claim."),
            _AGE,
            _c("VolumeMode", priority=1, description="Whether the volume is a filesystem or a block device."),
        ),
        pvc_cells,
    ),
    "ReplicationController": Printer(
        (
            _NAME,
            _c("Desired", "integer", description="Replicas is the number of desired replicas."),
            _c(
                "Current", "integer", description="Replicas is the most recently observed number of replicas."
            ),
            _c(
                "Ready",
                "integer",
                description="The number of ready replicas for this replication controller.",
            ),
            _AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        replicaset_cells,
    ),
    "Lease": Printer(
        (
            _NAME,
            _c("Holder", description="The identity of the holder of the lease."),
            _AGE,
        ),
        lease_cells,
    ),
    "PriorityClass": Printer(
        (
            _NAME,
            _c("Value", "integer", description="The priority pods of this class get."),
            _c("Global-Default", "boolean", description="Whether pods without a class get this one."),
            _AGE,
            _c("PreemptionPolicy", description="Whether pods of this class may preempt lower-priority pods."),
        ),
        priorityclass_cells,
    ),
    "PodDisruptionBudget": Printer(
        (
            _NAME,
            _c("Min Available", description="The minimum number of pods that must stay available."),
            _c("Max Unavailable", description="The maximum number of pods that may be unavailable."),
            _c("Allowed Disruptions", "integer", description="How many pods may be evicted right now."),
            _AGE,
        ),
        poddisruptionbudget_cells,
    ),
    "ControllerRevision": Printer(
        (
            _NAME,
            _c("Controller", description="The controller of the revision."),
            _c("Revision", "integer", description="The revision number."),
            _AGE,
        ),
        controllerrevision_cells,
    ),
}
_ROLE_PRINTER = Printer(
    (_NAME, _c("Created At", "date", description="Time at which the object was created.")), role_cells
)
_ROLEBINDING_PRINTER = Printer(
    (
        _NAME,
        _c("Role", description="The role of the binding."),
        _AGE,
        _c("Users", priority=1, description="The users bound."),
        _c("Groups", priority=1, description="The groups bound."),
        _c("ServiceAccounts", priority=1, description="The service accounts bound."),
    ),
    rolebinding_cells,
)
PRINTERS.update(
    Role=_ROLE_PRINTER,
    ClusterRole=_ROLE_PRINTER,
    RoleBinding=_ROLEBINDING_PRINTER,
    ClusterRoleBinding=_ROLEBINDING_PRINTER,
)
DEFAULT_PRINTER = Printer((_NAME, _AGE), default_cells)


def printer_for(kind: str) -> Printer:
    return PRINTERS.get(kind, DEFAULT_PRINTER)


# -- building Tables -----------------------------------------------------------------------------


def _row(printer: Printer, obj: Obj, now: float, include: str) -> Obj:
    row: Obj = {"cells": printer.cells(obj, now)}
    if printer.conditions is not None:
        conditions = printer.conditions(obj)
        if conditions:
            row["conditions"] = conditions
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": _meta(obj),
        }
    return row


def include_object(query: dict[str, str]) -> str:
    """``?includeObject=None|Metadata|Object`` (default Metadata)."""
    return query.get("includeObject") or "Metadata"


def table(
    kind: str, objects: Iterable[Obj], list_meta: Obj, include: str = "Metadata", headers: bool = True
) -> Obj:
    """A Table of ``objects``, all of kind ``kind``."""
    printer = printer_for(kind)
    now = time.time()
    out: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta}
    out["columnDefinitions"] = [c.definition() for c in printer.columns] if headers else []
    out["rows"] = [_row(printer, o, now, include) for o in objects]
    return out
