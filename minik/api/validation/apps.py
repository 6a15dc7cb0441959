"""Validation of the ``apps/v1`` workload controllers: Deployment, ReplicaSet,
StatefulSet and DaemonSet.

All four own pods through a *label selector* and stamp pods out of a *template*. The
central rule follows from that: the selector must be non-empty and must match the
template's labels -- otherwise the controller would create pods it does not recognise
as its own and keep creating more, forever::

    spec.template.metadata.labels: Invalid value: {"app":"web"}: `selector` does not match template `labels`

For the same reason the selector is immutable after creation: changing it would orphan
every existing pod. Pods of these controllers must restart forever
(``restartPolicy: Always``), since "N replicas running" is the whole point.

StatefulSets freeze even more of their spec: the service name, volume claim templates
and pod management policy define the identity of pods that already exist.
"""

from __future__ import annotations

from minik.api.field import forbidden, invalid, not_supported, required
from minik.api.validation import names
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    child,
    collision_count_not_decremented,
    dicts,
    get_dict,
    get_int,
    get_list,
    get_str,
    immutable,
    index,
    int_or_percent_value,
    nonnegative,
    nonnegative_fields,
    not_more_than_100_percent,
    positive_int_or_percent,
    replica_status,
)
from minik.api.validation.core import validate_claim_spec
from minik.api.validation.meta import validate_label_selector
from minik.api.validation.pod import template_labels, validate_pod_template

SELECTOR_MISMATCH = "`selector` does not match template `labels`"


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def selector_matches_template(
    spec: Obj, *, kind: str, require: bool = True, skip_empty: bool = True
) -> Errors:
    """The selector checks every workload shares.

    ``require``: a missing selector is an error (it is for all but DaemonSet, where
    only the mismatch is reported). ``skip_empty``: an empty selector ``{}`` matches
    everything, so the template check is pointless -- but it is still rejected as
    "empty selector is invalid".
    """
    from minik.api.selectors import LabelSelector, SelectorError

    errs: Errors = []
    raw = spec.get("selector")
    if raw is None:
        if require:
            errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(raw, "spec.selector")
        if isinstance(raw, dict) and not raw.get("matchLabels") and not raw.get("matchExpressions"):
            errs.append(invalid("spec.selector", raw, f"empty selector is invalid for {kind}"))
    try:
        selector = LabelSelector.from_dict(raw)
    except SelectorError:
        errs.append(invalid("spec.selector", raw, "invalid label selector"))
        return errs
    if skip_empty and selector.empty:
        return errs
    labels = template_labels(spec.get("template"))
    if not selector.matches(labels):
        errs.append(invalid("spec.template.metadata.labels", labels, SELECTOR_MISMATCH))
    return errs


def _always_restart_template(spec: Obj, kind: str) -> Errors:
    errs: Errors = []
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if not isinstance(pod_spec, dict):
        return errs
    restart = pod_spec.get("restartPolicy")
    if restart != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", restart, ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errs


def _template(spec: Obj, *, extra_volumes: set[str] | None = None) -> Errors:
    template = spec.get("template")
    if template is None:
        return [required("spec.template")]
    return validate_pod_template(template, "spec.template", extra_volumes=extra_volumes)


def _selector_immutable(obj: Obj, old: Obj) -> Errors:
    return immutable(_spec(obj).get("selector"), _spec(old).get("selector"), "spec.selector")


# --- ReplicaSet and Deployment ---------------------------------------------------------------


def _replica_set(rs: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(rs, "spec", "spec", errs)
    nonnegative_fields(spec, "spec", ("replicas", "minReadySeconds"), errs)
    # Upstream's message says "deployment" here too: the two share this code.
    errs += selector_matches_template(spec, kind="deployment")
    errs += _template(spec)
    errs += _always_restart_template(spec, "ReplicaSet")
    return errs


def _replica_set_status(rs: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(rs, "status", "status", errs)
    replica_status(status, "status", ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"), errs)
    return errs


def _deployment(deploy: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(deploy, "spec", "spec", errs)
    values = nonnegative_fields(
        spec, "spec", ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"), errs
    )
    errs += selector_matches_template(spec, kind="deployment")
    errs += _template(spec)
    errs += _always_restart_template(spec, "ReplicaSet")
    errs += _deployment_strategy(get_dict(spec, "strategy", "spec.strategy", errs))
    deadline = values.get("progressDeadlineSeconds")
    if deadline is not None and deadline <= values.get("minReadySeconds", 0):
        errs.append(invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def _deployment_strategy(strategy: Obj) -> Errors:
    """RollingUpdate replaces pods gradually: at most ``maxSurge`` extra and at most
    ``maxUnavailable`` missing at any time. Both zero would mean no progress is possible."""
    errs: Errors = []
    kind = strategy.get("type")
    path = "spec.strategy.rollingUpdate"
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(forbidden(path, "may not be specified when strategy `type` is 'Recreate'"))
    elif kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            errs.append(required(path, "this should be defaulted and never be nil"))
            return errs
        max_unavailable, max_surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
        errs += positive_int_or_percent(max_unavailable, child(path, "maxUnavailable"))
        errs += positive_int_or_percent(max_surge, child(path, "maxSurge"))
        if not int_or_percent_value(max_unavailable) and not int_or_percent_value(max_surge):
            errs.append(
                invalid(child(path, "maxUnavailable"), max_unavailable, "may not be 0 when `maxSurge` is 0")
            )
        errs += not_more_than_100_percent(max_unavailable, child(path, "maxUnavailable"))
    else:
        errs.append(not_supported("spec.strategy", strategy, ["Recreate", "RollingUpdate"]))
    return errs


def _deployment_status(deploy: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(deploy, "status", "status", errs)
    replica_status(status, "status", ("updatedReplicas", "readyReplicas", "availableReplicas"), errs)
    nonnegative_fields(status, "status", ("unavailableReplicas",), errs)
    collision_count_not_decremented(status, old, errs)
    return errs


# --- StatefulSet ---------------------------------------------------------------------------------


def _stateful_set(sts: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(sts, "spec", "spec", errs)
    policy = spec.get("podManagementPolicy")
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs += _stateful_set_strategy(get_dict(spec, "updateStrategy", "spec.updateStrategy", errs))
    retention = get_dict(
        spec, "persistentVolumeClaimRetentionPolicy", "spec.persistentVolumeClaimRetentionPolicy", errs
    )
    for field in ("whenDeleted", "whenScaled"):
        value = retention.get(field)
        if retention and value not in ("Retain", "Delete"):
            errs.append(
                not_supported(
                    child("spec.persistentVolumeClaimRetentionPolicy", field), value, ["Retain", "Delete"]
                )
            )
    nonnegative_fields(spec, "spec", ("replicas", "minReadySeconds"), errs)
    ordinals = get_dict(spec, "ordinals", "spec.ordinals", errs)
    errs += nonnegative(get_int(ordinals, "start", "spec.ordinals.start", errs), "spec.ordinals.start")
    errs += selector_matches_template(spec, kind="statefulset", skip_empty=True)
    claim_names = _volume_claim_templates(spec, errs)
    errs += _template(spec, extra_volumes=claim_names)
    errs += _always_restart_template(spec, "StatefulSet")
    service_name = get_str(spec, "serviceName", "spec.serviceName", errs)
    if service_name:
        errs += [invalid("spec.serviceName", service_name, m) for m in names.is_dns1123_label(service_name)]
    return errs


def _volume_claim_templates(spec: Obj, errs: Errors) -> set[str]:
    """Each claim template becomes one PVC per pod (``data-web-0``) and a volume of that name."""
    path = "spec.volumeClaimTemplates"
    claim_names: set[str] = set()
    for i, claim in dicts(get_list(spec, "volumeClaimTemplates", path, errs), path, errs):
        cp = index(path, i)
        meta = get_dict(claim, "metadata", child(cp, "metadata"), errs)
        name = get_str(meta, "name", child(cp, "metadata", "name"), errs)
        if not name:
            errs.append(required(child(cp, "metadata", "name"), "name or generateName is required"))
        else:
            errs += [
                invalid(child(cp, "metadata", "name"), name, m) for m in names.is_dns1123_subdomain(name)
            ]
            claim_names.add(name)
        errs += validate_claim_spec(get_dict(claim, "spec", child(cp, "spec"), errs), child(cp, "spec"))
    return claim_names


def _stateful_set_strategy(strategy: Obj) -> Errors:
    errs: Errors = []
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    path = "spec.updateStrategy.rollingUpdate"
    if not kind:
        errs.append(required("spec.updateStrategy"))
    elif kind == "OnDelete":
        if rolling is not None:
            errs.append(invalid(path, rolling, "only allowed for updateStrategy 'RollingUpdate'"))
    elif kind == "RollingUpdate":
        if isinstance(rolling, dict):
            errs += nonnegative(
                get_int(rolling, "partition", child(path, "partition"), errs), child(path, "partition")
            )
            if rolling.get("maxUnavailable") is not None:
                value = rolling["maxUnavailable"]
                errs += positive_int_or_percent(value, child(path, "maxUnavailable"))
                if int_or_percent_value(value) == 0:
                    errs.append(invalid(child(path, "maxUnavailable"), value, "cannot be 0"))
                errs += not_more_than_100_percent(value, child(path, "maxUnavailable"))
    else:
        errs.append(invalid("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    return errs


_STS_MUTABLE = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _stateful_set_update(sts: Obj, old: Obj) -> Errors:
    spec = {k: v for k, v in _spec(sts).items() if k not in _STS_MUTABLE}
    old_spec = {k: v for k, v in _spec(old).items() if k not in _STS_MUTABLE}
    if spec != old_spec:
        return [
            forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            )
        ]
    return []


def _stateful_set_status(sts: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(sts, "status", "status", errs)
    replica_status(
        status,
        "status",
        ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"),
        errs,
        available_over_ready="cannot be greater than status.readyReplicas",
    )
    collision_count_not_decremented(status, old, errs)
    return errs


# --- DaemonSet -------------------------------------------------------------------------------


def _daemon_set(ds: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(ds, "spec", "spec", errs)
    # DaemonSet checks the selector's syntax and its match with the template, but (unlike
    # the others) a missing selector only shows up as that mismatch.
    errs += selector_matches_template(spec, kind="daemonset", require=False, skip_empty=False)
    errs += _template(spec)
    errs += _always_restart_template(spec, "DaemonSet")
    nonnegative_fields(spec, "spec", ("minReadySeconds", "templateGeneration", "revisionHistoryLimit"), errs)
    errs += _daemon_set_strategy(get_dict(spec, "updateStrategy", "spec.updateStrategy", errs))
    return errs


def _daemon_set_strategy(strategy: Obj) -> Errors:
    """A DaemonSet runs one pod per node, so an update either surges (start the new pod
    first) or makes some nodes unavailable -- exactly one of the two."""
    errs: Errors = []
    kind = strategy.get("type")
    path = "spec.updateStrategy.rollingUpdate"
    if kind == "OnDelete":
        return errs
    if kind != "RollingUpdate":
        return [not_supported("spec.updateStrategy", strategy, ["RollingUpdate", "OnDelete"])]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [required(path)]
    max_unavailable, max_surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    for name, value in (("maxUnavailable", max_unavailable), ("maxSurge", max_surge)):
        errs += positive_int_or_percent(value, child(path, name))
        errs += not_more_than_100_percent(value, child(path, name))
    has_unavailable = bool(int_or_percent_value(max_unavailable))
    has_surge = bool(int_or_percent_value(max_surge))
    if has_unavailable and has_surge:
        errs.append(
            invalid(child(path, "maxSurge"), max_surge, "may not be set when maxUnavailable is non-zero")
        )
    elif not has_unavailable and not has_surge:
        errs.append(required(child(path, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


def _daemon_set_update(ds: Obj, old: Obj) -> Errors:
    errs = _selector_immutable(ds, old)
    new_gen, old_gen = _spec(ds).get("templateGeneration"), _spec(old).get("templateGeneration")
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(invalid("spec.templateGeneration", new_gen, "must not be decremented"))
    return errs


def _daemon_set_status(ds: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(ds, "status", "status", errs)
    nonnegative_fields(
        status,
        "status",
        (
            "currentNumberScheduled",
            "numberMisscheduled",
            "desiredNumberScheduled",
            "numberReady",
            "observedGeneration",
            "updatedNumberScheduled",
            "numberAvailable",
            "numberUnavailable",
            "collisionCount",
        ),
        errs,
    )
    collision_count_not_decremented(status, old, errs)
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("apps", "ReplicaSet"): KindRules(
        validate=_replica_set, update=_selector_immutable, status=_replica_set_status
    ),
    ("apps", "Deployment"): KindRules(
        validate=_deployment, update=_selector_immutable, status=_deployment_status
    ),
    ("apps", "StatefulSet"): KindRules(
        name=names.is_dns1123_label,
        validate=_stateful_set,
        update=_stateful_set_update,
        status=_stateful_set_status,
    ),
    ("apps", "DaemonSet"): KindRules(
        validate=_daemon_set, update=_daemon_set_update, status=_daemon_set_status
    ),
}
