"""Validation of ``batch/v1`` Jobs and CronJobs (whose job template is checked like a Job).

A Job runs pods *to completion*, so its pods must not restart forever: the template's
``restartPolicy`` is ``OnFailure`` or ``Never`` (a Job that omits it gets the pod default
``Always`` and is rejected -- a common first surprise).

Unless ``manualSelector: true``, the API server generates the Job's selector from its
uid (see ``minik.api.defaults``) and labels the template to match. Validation then
checks that nobody tampered with that pairing: the template carries
``controller-uid``/``job-name`` labels with the right values, and the selector is the
generated one. The generated selector is what keeps two Jobs with the same
``app: x`` template labels from adopting each other's pods.

After creation the selector, the completion mode and -- unless the Job is suspended and
has never started -- the pod template are frozen.
"""

from __future__ import annotations

import copy
from typing import Any

from minik.api.field import invalid, not_supported, required
from minik.api.validation.common import (
    Errors,
    KindRules,
    Obj,
    get_dict,
    immutable,
    nonnegative_fields,
)
from minik.api.validation.meta import has_label, validate_label_selector
from minik.api.validation.pod import template_labels, validate_pod_template

UID_LABELS = ("batch.kubernetes.io/controller-uid", "controller-uid")
NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
COMPLETION_MODES = ["NonIndexed", "Indexed"]


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def validate_job_spec(spec: Obj, path: str) -> Errors:
    """The parts of a Job spec shared with CronJob job templates."""
    errs: Errors = []
    values = nonnegative_fields(
        spec,
        path,
        ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"),
        errs,
    )
    mode = spec.get("completionMode")
    if mode is not None and mode not in COMPLETION_MODES:
        errs.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    if mode == "Indexed" and "completions" not in values:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    errs += validate_pod_template(spec.get("template"), f"{path}.template")
    template = spec.get("template")
    pod_spec = template.get("spec") if isinstance(template, dict) else None
    if isinstance(pod_spec, dict):
        restart = pod_spec.get("restartPolicy")
        if restart not in ("OnFailure", "Never"):
            errs.append(not_supported(f"{path}.template.spec.restartPolicy", restart, ["OnFailure", "Never"]))
    return errs


def _job(job: Obj) -> Errors:
    from minik.api.selectors import LabelSelector, SelectorError

    errs: Errors = []
    spec = get_dict(job, "spec", "spec", errs)
    if spec.get("manualSelector") is not True:
        errs += _generated_selector(job, spec)
    errs += validate_job_spec(spec, "spec")
    raw = spec.get("selector")
    if raw is None:
        errs.append(required("spec.selector"))
        return errs
    errs += validate_label_selector(raw, "spec.selector")
    try:
        selector = LabelSelector.from_dict(raw)
    except SelectorError:
        return errs
    labels = template_labels(spec.get("template"))
    if not selector.matches(labels):
        errs.append(
            invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    return errs


def _generated_selector(job: Obj, spec: Obj) -> Errors:
    from minik.api.selectors import LabelSelector, SelectorError

    raw = spec.get("selector")
    if raw is None:
        return []
    meta = _meta(job)
    uid, name = meta.get("uid") or "", meta.get("name") or ""
    errs: Errors = []
    if not uid:
        errs.append(required("metadata.uid"))
    labels = template_labels(spec.get("template"))
    for label in UID_LABELS:
        errs += has_label(labels, "spec.template.metadata", label, str(uid))
    for label in NAME_LABELS:
        errs += has_label(labels, "spec.template.metadata", label, str(name))
    expected = {label: str(uid) for label in UID_LABELS} | {label: str(name) for label in NAME_LABELS}
    try:
        if not LabelSelector.from_dict(raw).matches(expected):
            errs.append(invalid("spec.selector", raw, "`selector` not auto-generated"))
    except SelectorError:
        pass
    return errs


def _job_update(job: Obj, old: Obj) -> Errors:
    spec, old_spec = _spec(job), _spec(old)
    errs: Errors = []
    errs += _completions_update(spec, old_spec)
    errs += immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector")
    errs += immutable(spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode")
    errs += immutable(spec.get("podFailurePolicy"), old_spec.get("podFailurePolicy"), "spec.podFailurePolicy")

    template, old_template = spec.get("template"), old_spec.get("template")
    old_status = old.get("status")
    never_started = not (isinstance(old_status, dict) and old_status.get("startTime"))
    if old_spec.get("suspend") is True and never_started:
        # A suspended Job that never ran may still be told where to run (queueing
        # systems such as Kueue rely on this): scheduling directives stay mutable.
        if _without_scheduling_directives(template) != _without_scheduling_directives(old_template):
            errs.append(invalid("spec.template", template, "field is immutable"))
    else:
        errs += immutable(template, old_template, "spec.template")
    return errs


def _without_scheduling_directives(template: Any) -> Any:
    if not isinstance(template, dict):
        return template
    out = copy.deepcopy(template)
    meta, spec = out.get("metadata"), out.get("spec")
    if isinstance(meta, dict):
        meta.pop("labels", None)
        meta.pop("annotations", None)
    if isinstance(spec, dict):
        for name in ("nodeSelector", "tolerations", "schedulingGates"):
            spec.pop(name, None)
        affinity = spec.get("affinity")
        if isinstance(affinity, dict):
            affinity.pop("nodeAffinity", None)
            if not affinity:
                spec.pop("affinity")
    return out


def _completions_update(spec: Obj, old_spec: Obj) -> Errors:
    """Completions are fixed, except that an Indexed Job may scale elastically by changing
    completions and parallelism together."""
    new, old = spec.get("completions"), old_spec.get("completions")
    if new == old:
        return []
    if spec.get("completionMode") != "Indexed":
        return [invalid("spec.completions", new, "field is immutable")]
    if new != spec.get("parallelism"):
        return [invalid("spec.completions", new, "can only be modified in tandem with spec.parallelism")]
    return []


def _job_status(job: Obj, old: Obj) -> Errors:
    errs: Errors = []
    status = get_dict(job, "status", "status", errs)
    nonnegative_fields(status, "status", ("active", "succeeded", "failed", "ready", "terminating"), errs)
    return errs


#: A CronJob's name plus "-" and the 8+ digit minute stamp must fit a Job's pod labels (63).
CRON_JOB_NAME_MAX = 52


def _cron_job(cj: Obj) -> Errors:
    errs: Errors = []
    name = _meta(cj).get("name")
    if isinstance(name, str) and len(name) > CRON_JOB_NAME_MAX:
        errs.append(invalid("metadata.name", name, f"must be no more than {CRON_JOB_NAME_MAX} characters"))
    spec = get_dict(cj, "spec", "spec", errs)
    errs += _schedule(spec)
    policy = spec.get("concurrencyPolicy")
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in CONCURRENCY_POLICIES:
        errs.append(not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES))
    nonnegative_fields(
        spec,
        "spec",
        ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"),
        errs,
    )
    job_template = get_dict(spec, "jobTemplate", "spec.jobTemplate", errs)
    job_spec = get_dict(job_template, "spec", "spec.jobTemplate.spec", errs)
    errs += validate_job_spec(job_spec, "spec.jobTemplate.spec")
    selector: Any = job_spec.get("selector")
    if selector is not None:
        errs.append(invalid("spec.jobTemplate.spec.selector", selector, "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        errs.append(not_supported("spec.jobTemplate.spec.manualSelector", True, ["nil", "false"]))
    return errs


CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]


def _schedule(spec: Obj) -> Errors:
    """``schedule`` parses as standard cron; ``timeZone`` is an IANA name; no ``TZ=`` inside."""
    from minik.api.cron import ScheduleError, TimeZoneError, load_time_zone, parse_schedule

    errs: Errors = []
    schedule = spec.get("schedule")
    time_zone = spec.get("timeZone")
    if time_zone is not None:
        if not isinstance(time_zone, str) or time_zone == "":
            errs.append(invalid("spec.timeZone", time_zone, "timeZone must be nil or non-empty string"))
        elif time_zone.lower() == "local":
            errs.append(
                invalid(
                    "spec.timeZone",
                    time_zone,
                    "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                )
            )
        else:
            try:
                load_time_zone(time_zone)
            except TimeZoneError as e:
                errs.append(invalid("spec.timeZone", time_zone, str(e)))
    if not isinstance(schedule, str) or not schedule:
        errs.append(required("spec.schedule"))
        return errs
    try:
        parse_schedule(schedule)
    except (ScheduleError, TimeZoneError) as e:
        errs.append(invalid("spec.schedule", schedule, str(e)))
    if "TZ" in schedule:
        errs.append(
            invalid(
                "spec.schedule", schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            )
        )
    return errs


def _cron_job_status(cj: Obj, old: Obj) -> Errors:
    errs: Errors = []
    get_dict(cj, "status", "status", errs)
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("batch", "Job"): KindRules(validate=_job, update=_job_update, status=_job_status),
    ("batch", "CronJob"): KindRules(validate=_cron_job, status=_cron_job_status),
}
