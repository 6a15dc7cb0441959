"""Workload verbs: ``scale``, ``rollout status|history|undo|restart``, ``expose``, ``run``.

**scale** patches the ``/scale`` subresource (an ``autoscaling/v1 Scale``), so
it works for anything that has one (deployments, replicasets, statefulsets).

**rollout** reads what the Deployment controller leaves behind. Each template a
deployment has had is a ReplicaSet it owns, annotated
``deployment.kubernetes.io/revision: N``:

* ``history`` lists those revisions (and ``kubernetes.io/change-cause``);
* ``undo [--to-revision N]`` copies revision N's pod template (default: the one
  before the current) back into the deployment, minus the
  ``pod-template-hash`` label the controller added — the controller then
  scales that ReplicaSet up again, and it becomes the newest revision;
* ``restart`` sets the template annotation ``kubectl.kubernetes.io/restartedAt``
  to now: a template change, hence a new rollout of identical pods;
* ``status`` waits (spinner) until ``observedGeneration`` has caught up and all
  replicas are updated and available.

**expose** makes a Service from a deployment's (or pod's) selector and ports;
**run** creates a single Pod.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from minik.cli.errors import CLIError, not_found
from minik.cli.printers import print_rows, to_yaml
from minik.cli.session import Session, kind_name
from minik.cli.targets import ns_for, one_target
from minik.client.errors import NotFoundError
from minik.client.kinds import DEPLOYMENTS, PODS, REPLICASETS, SERVICES, ResourceRef
from minik.client.objects import format_time
from minik.client.rest import PatchType

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
FIELD_MANAGER = "minikctl"


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    s = sub.add_parser("scale", parents=[parent], help="set the number of replicas")
    s.add_argument("targets", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    s.add_argument("--replicas", type=int, required=True, help="the new number of replicas")
    s.set_defaults(func=run_scale)

    r = sub.add_parser("rollout", parents=[parent], help="manage a deployment's rollouts")
    rs = r.add_subparsers(dest="rollout_verb", required=True, metavar="status|history|undo|restart")
    st = rs.add_parser("status", parents=[parent], help="wait until the rollout is complete")
    st.add_argument("targets", nargs="+", metavar="deployment NAME | deployment/NAME")
    st.add_argument("--timeout", type=float, default=300.0, help="seconds to wait (default 300)")
    st.add_argument("--watch", default="true", choices=["true", "false"], help="false: report once and exit")
    st.set_defaults(func=run_rollout_status)
    hi = rs.add_parser("history", parents=[parent], help="list the revisions")
    hi.add_argument("targets", nargs="+", metavar="deployment NAME | deployment/NAME")
    hi.add_argument("--revision", type=int, help="show one revision's pod template")
    hi.set_defaults(func=run_rollout_history)
    un = rs.add_parser("undo", parents=[parent], help="go back to an earlier revision")
    un.add_argument("targets", nargs="+", metavar="deployment NAME | deployment/NAME")
    un.add_argument("--to-revision", type=int, default=0, help="the revision (default: the previous one)")
    un.set_defaults(func=run_rollout_undo)
    re = rs.add_parser("restart", parents=[parent], help="roll out new pods with the same template")
    re.add_argument("targets", nargs="+", metavar="deployment NAME | deployment/NAME")
    re.set_defaults(func=run_rollout_restart)

    e = sub.add_parser("expose", parents=[parent], help="make a Service for a deployment or pod")
    e.add_argument("targets", nargs="+", metavar="TYPE NAME | TYPE/NAME")
    e.add_argument("--port", type=int, help="the Service port (default: the first container port)")
    e.add_argument("--target-port", help="container port number or name (default: --port)")
    e.add_argument("--name", help="Service name (default: the object's name)")
    e.add_argument("--type", default="ClusterIP", choices=["ClusterIP", "NodePort", "LoadBalancer"])
    e.add_argument("--protocol", default="TCP", choices=["TCP", "UDP", "SCTP"])
    e.set_defaults(func=run_expose)

    rn = sub.add_parser("run", parents=[parent], help="create a Pod running one image")
    rn.add_argument("name", metavar="NAME")
    rn.add_argument("--image", required=True, help="container image")
    rn.add_argument("--port", type=int, help="container port to declare")
    rn.add_argument("--labels", help="k=v,k2=v2 (default: run=NAME)")
    rn.add_argument("--env", action="append", default=[], help="K=V environment variable (repeatable)")
    rn.add_argument("--restart", default="Always", choices=["Always", "OnFailure", "Never"])
    rn.add_argument("--command", action="store_true", help="args after -- replace the entrypoint")
    rn.set_defaults(func=run_run)


async def _get(session: Session, ref: ResourceRef, name: str, ns: str | None) -> Obj:
    try:
        return await session.client.get(ref, name, namespace=ns)
    except NotFoundError:
        raise not_found(ref.plural, name, ns) from None


async def _deployment(session: Session, words: list[str], verb: str) -> tuple[str, str, Obj]:
    ref, name = await one_target(session, words, verb=f"rollout {verb}")
    if ref != DEPLOYMENTS:
        raise CLIError(
            f"rollout {verb} supports deployments only, not {ref.plural}",
            hint=f"minikctl rollout {verb} deployment/NAME",
        )
    ns = session.namespace
    return name, ns, await _get(session, ref, name, ns)


async def run_scale(session: Session, args: argparse.Namespace) -> int:
    ref, name = await one_target(session, args.targets, verb="scale")
    ns = ns_for(ref, session)
    if args.replicas < 0:
        raise CLIError("--replicas must be 0 or more")
    try:
        await session.client.patch(
            ref,
            name,
            {"spec": {"replicas": args.replicas}},
            namespace=ns,
            subresource="scale",
            field_manager=FIELD_MANAGER,
        )
    except NotFoundError:
        raise not_found(ref.plural, name, ns) from None
    session.console.out(f"{kind_name(ref)}/{name} scaled", highlight=False)
    return 0


async def owned_replicasets(session: Session, deployment: Obj) -> list[tuple[int, Obj]]:
    """(revision, ReplicaSet) for every RS the deployment controls, oldest first."""
    meta = deployment["metadata"]
    listed = await session.client.list(REPLICASETS, namespace=meta["namespace"])
    out: list[tuple[int, Obj]] = []
    for rs in listed.get("items") or []:
        owners = (rs.get("metadata") or {}).get("ownerReferences") or []
        if not any(o.get("uid") == meta.get("uid") and o.get("controller") for o in owners):
            continue
        try:
            revision = int(((rs["metadata"].get("annotations") or {}).get(REVISION)) or 0)
        except ValueError:
            revision = 0
        out.append((revision, rs))
    return sorted(out, key=lambda pair: pair[0])


async def run_rollout_history(session: Session, args: argparse.Namespace) -> int:
    name, _, deploy = await _deployment(session, args.targets, "history")
    history = await owned_replicasets(session, deploy)
    if args.revision:
        for revision, rs in history:
            if revision == args.revision:
                session.console.out(f"deployment.apps/{name} with revision #{revision}", highlight=False)
                session.console.out(
                    to_yaml((rs.get("spec") or {}).get("template") or {}).rstrip(), highlight=False
                )
                return 0
        raise CLIError(
            f"unable to find the specified revision {args.revision}",
            hint=f"minikctl rollout history deployment/{name}",
        )
    session.console.out(f"deployment.apps/{name}", highlight=False)
    rows = [
        [str(rev), (rs["metadata"].get("annotations") or {}).get(CHANGE_CAUSE) or "<none>"]
        for rev, rs in history
    ]
    print_rows(session.console, ["REVISION", "CHANGE-CAUSE"], rows)
    return 0


def template_of(rs: Obj) -> Obj:
    """An RS's pod template as the deployment had it: without ``pod-template-hash``."""
    template: Obj = dict((rs.get("spec") or {}).get("template") or {})
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    template["metadata"] = meta
    return template


async def run_rollout_undo(session: Session, args: argparse.Namespace) -> int:
    name, ns, deploy = await _deployment(session, args.targets, "undo")
    history = await owned_replicasets(session, deploy)
    revisions = [rev for rev, _ in history]
    if args.to_revision:
        chosen = next((rs for rev, rs in history if rev == args.to_revision), None)
        if chosen is None:
            raise CLIError(
                f"unable to find the specified revision {args.to_revision}",
                hint=f"minikctl rollout history deployment/{name} lists {revisions or 'none'}",
            )
        target = args.to_revision
    else:
        if len(history) < 2:
            raise CLIError(
                f'no rollout history found for deployment "{name}" to go back to',
                hint=f"minikctl rollout history deployment/{name}",
            )
        target, chosen = history[-2]
    template = template_of(chosen)
    current = dict((deploy.get("spec") or {}).get("template") or {})
    if _same_template(current, template):
        session.console.out(
            f"deployment.apps/{name} skipped rollback (current template already matches revision {target})",
            highlight=False,
        )
        return 0
    await session.client.patch(
        DEPLOYMENTS,
        name,
        [{"op": "replace", "path": "/spec/template", "value": template}],
        namespace=ns,
        type=PatchType.JSON,
        field_manager=FIELD_MANAGER,
    )
    session.console.out(f"deployment.apps/{name} rolled back", highlight=False)
    return 0


def _same_template(a: Obj, b: Obj) -> bool:
    def norm(t: Obj) -> Obj:
        meta = dict(t.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        return {"metadata": {k: v for k, v in meta.items() if v}, "spec": t.get("spec")}

    return norm(a) == norm(b)


async def run_rollout_restart(session: Session, args: argparse.Namespace) -> int:
    name, ns, _ = await _deployment(session, args.targets, "restart")
    now = format_time(datetime.now(UTC))
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    await session.client.patch(
        DEPLOYMENTS, name, patch, namespace=ns, type=PatchType.STRATEGIC, field_manager=FIELD_MANAGER
    )
    session.console.out(f"deployment.apps/{name} restarted", highlight=False)
    return 0


def rollout_progress(deploy: Obj) -> tuple[bool, str]:
    """(done, what to print) — kubectl's DeploymentStatusViewer, condensed."""
    name = deploy["metadata"]["name"]
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    meta = deploy["metadata"]
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return False, f'Waiting for deployment "{name}" spec update to be observed...'
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise CLIError(
                f'deployment "{name}" exceeded its progress deadline',
                hint=f"minikctl describe deployment {name}; minikctl get pods -l ...",
            )
    want = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if updated < want:
        return (
            False,
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas '
            "have been updated...",
        )
    if total > updated:
        return (
            False,
            f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas '
            "are pending termination...",
        )
    if available < updated:
        return (
            False,
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated '
            "replicas are available...",
        )
    return True, f'deployment "{name}" successfully rolled out'


async def run_rollout_status(session: Session, args: argparse.Namespace) -> int:
    name, ns, deploy = await _deployment(session, args.targets, "status")
    deadline = time.monotonic() + args.timeout
    done, message = rollout_progress(deploy)
    if done or args.watch == "false":
        session.console.out(message, highlight=False)
        return 0
    with session.err.status(message, spinner="dots") as spinner:
        while not done:
            if time.monotonic() > deadline:
                raise CLIError(
                    f"timed out after {args.timeout:g}s: {message}",
                    hint="is the controller manager running? minikctl cluster status; "
                    f"minikctl describe deployment {name}",
                )
            await asyncio.sleep(0.5)
            deploy = await _get(session, DEPLOYMENTS, name, ns)
            done, message = rollout_progress(deploy)
            spinner.update(message)
    session.console.out(message, highlight=False)
    return 0


async def run_expose(session: Session, args: argparse.Namespace) -> int:
    ref, name = await one_target(session, args.targets, verb="expose")
    ns = ns_for(ref, session)
    obj = await _get(session, ref, name, ns)
    if ref == PODS:
        selector = dict(obj["metadata"].get("labels") or {})
        pod_spec = obj.get("spec") or {}
    elif ref.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        sel = (obj.get("spec") or {}).get("selector") or {}
        if sel.get("matchExpressions"):
            raise CLIError(
                f"{kind_name(ref)}/{name} uses matchExpressions, which a Service selector cannot express"
            )
        selector = dict(sel.get("matchLabels") or {})
        pod_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    elif ref == SERVICES:
        selector = dict((obj.get("spec") or {}).get("selector") or {})
        pod_spec = {}
    else:
        raise CLIError(
            f"cannot expose a {ref.kind}", hint="expose a deployment, replicaset, statefulset or pod"
        )
    if not selector:
        raise CLIError(f"{kind_name(ref)}/{name} has no labels to select its pods by")
    port = args.port
    if port is None:
        ports = [p for c in pod_spec.get("containers") or [] for p in c.get("ports") or []]
        if not ports:
            raise CLIError(
                f"couldn't find a port for {kind_name(ref)}/{name}",
                hint=f"pass --port: minikctl expose {ref.kind.lower()} {name} --port=80",
            )
        port = int(ports[0]["containerPort"])
    target: int | str = args.target_port or port
    if isinstance(target, str) and target.isdigit():
        target = int(target)
    svc_name = args.name or name
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": svc_name,
            "namespace": ns,
            "labels": dict(obj["metadata"].get("labels") or selector),
        },
        "spec": {
            "type": args.type,
            "selector": selector,
            "ports": [{"port": port, "targetPort": target, "protocol": args.protocol}],
        },
    }
    await session.client.create(SERVICES, service, namespace=ns, field_manager=FIELD_MANAGER)
    session.console.out(f"service/{svc_name} exposed", highlight=False)
    return 0


def _pairs(text: str | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"{flag}: {item!r} is not KEY=VALUE")
        out[key] = value
    return out


async def run_run(session: Session, args: argparse.Namespace) -> int:
    ns = session.namespace
    container: Obj = {"name": args.name, "image": args.image}
    extra = list(getattr(args, "dash_args", None) or [])
    if extra:
        container["command" if args.command else "args"] = extra
    if args.port:
        container["ports"] = [{"containerPort": args.port}]
    if args.env:
        container["env"] = [{"name": k, "value": v} for e in args.env for k, v in _pairs(e, "--env").items()]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": args.name,
            "namespace": ns,
            "labels": _pairs(args.labels, "--labels") if args.labels else {"run": args.name},
        },
        "spec": {"containers": [container], "restartPolicy": args.restart},
    }
    await session.client.create(PODS, pod, namespace=ns, field_manager=FIELD_MANAGER)
    session.console.out(f"pod/{args.name} created", highlight=False)
    return 0
