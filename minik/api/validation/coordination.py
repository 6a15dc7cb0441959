"""Validation of ``coordination.k8s.io/v1`` Leases.

A Lease is a tiny lock object: leader election (controller-manager, scheduler) and node
heartbeats (one Lease per node in ``kube-node-lease``) work by renewing one. Only the
numbers need care -- a lease that lasts zero seconds could never be held.
"""

from __future__ import annotations

from minik.api.field import forbidden, invalid
from minik.api.validation.common import Errors, KindRules, Obj, get_dict, get_int, get_str


def _lease(lease: Obj) -> Errors:
    errs: Errors = []
    spec = get_dict(lease, "spec", "spec", errs)
    duration = get_int(spec, "leaseDurationSeconds", "spec.leaseDurationSeconds", errs)
    if duration is not None and duration <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = get_int(spec, "leaseTransitions", "spec.leaseTransitions", errs)
    if transitions is not None and transitions < 0:
        errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    get_str(spec, "holderIdentity", "spec.holderIdentity", errs)
    if get_str(spec, "preferredHolder", "spec.preferredHolder", errs) and not spec.get("strategy"):
        errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return errs


RULES: dict[tuple[str, str], KindRules] = {
    ("coordination.k8s.io", "Lease"): KindRules(validate=_lease),
}
