"""Questions to the authorizer: ``authorization.k8s.io/v1`` access reviews.

These kinds are never stored. A client POSTs one and gets it back with ``status`` filled
in -- the authorizer's answer for the request it describes:

* **SelfSubjectAccessReview** -- "may *I* do this?" (``kubectl auth can-i``);
* **SubjectAccessReview** -- "may *this user* (with these groups) do this?" (what
  webhooks and the kubelet ask; needs the right to create subjectaccessreviews);
* **LocalSubjectAccessReview** -- the same, limited to the namespace of its URL;
* **SelfSubjectRulesReview** -- "what may I do in this namespace?" (``kubectl auth
  can-i --list``).
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from fastapi import Request
from fastapi.responses import Response

from minik.api import errors, rbac
from minik.api.field import FieldError, invalid
from minik.api.rbac import Attributes, Decision, PolicyRule, UserInfo
from minik.apiserver.authz.attributes import ANONYMOUS, current_user
from minik.apiserver.bodies import Bodies
from minik.apiserver.registry import ResourceType

GROUP = "authorization.k8s.io"
Obj = dict[str, Any]


class Answers(Protocol):
    """What the reviews ask the authorizer chain (``authorizer.Chain``)."""

    @property
    def always_allows(self) -> bool: ...

    def authorize(self, attrs: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[PolicyRule], list[str]]: ...


class Server(Protocol):
    @property
    def authorizer(self) -> Answers: ...

    bodies: Bodies


def _strs(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _attributes(user: UserInfo, spec: Obj) -> Attributes:
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(res, dict):
        return Attributes(
            user,
            str(res.get("verb") or ""),
            api_group=str(res.get("group") or ""),
            api_version=str(res.get("version") or ""),
            resource=str(res.get("resource") or ""),
            subresource=str(res.get("subresource") or ""),
            namespace=str(res.get("namespace") or ""),
            name=str(res.get("name") or ""),
        )
    non = non if isinstance(non, dict) else {}
    return Attributes(
        user, str(non.get("verb") or ""), resource_request=False, path=str(non.get("path") or "")
    )


#: The string fields of a review's attributes (the selectors, objects, are not read).
_RESOURCE_FIELDS = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
_NON_RESOURCE_FIELDS = ("path", "verb")


def _check_shapes(spec: Obj) -> list[FieldError]:
    """The attributes are objects of strings, ``user``/``uid`` strings, ``groups`` a list of
    strings: a number or a list where a string belongs is 422 naming the field, not a
    question silently asked about ``"5"`` or ``"['a']"``."""
    errs = []
    for key, fields in (
        ("resourceAttributes", _RESOURCE_FIELDS),
        ("nonResourceAttributes", _NON_RESOURCE_FIELDS),
    ):
        attrs = spec.get(key)
        if attrs is None:
            continue
        if not isinstance(attrs, dict):
            errs.append(invalid(f"spec.{key}", attrs, "must be an object"))
            continue
        errs.extend(
            invalid(f"spec.{key}.{f}", attrs[f], "must be a string")
            for f in fields
            if attrs.get(f) is not None and not isinstance(attrs[f], str)
        )
    errs.extend(
        invalid(f"spec.{f}", spec[f], "must be a string")
        for f in ("user", "uid")
        if spec.get(f) is not None and not isinstance(spec[f], str)
    )
    groups = spec.get("groups")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, str) for g in groups)):
        errs.append(invalid("spec.groups", groups, "must be a list of strings"))
    return errs


def _check_spec(spec: Obj, *, needs_subject: bool) -> list[FieldError]:
    errs = _check_shapes(spec)
    res, non = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if res is not None and non is not None:
        errs.append(
            invalid(
                "spec.nonResourceAttributes",
                non,
                "cannot be specified in combination with resourceAttributes",
            )
        )
    if res is None and non is None:
        errs.append(
            invalid(
                "spec.resourceAttributes",
                None,
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )
        )
    if needs_subject and not spec.get("user") and not spec.get("groups"):
        errs.append(
            invalid("spec.user", spec.get("user", ""), "at least one of user or group must be specified")
        )
    return errs


def _rules_status(chain: Answers, user: UserInfo, namespace: str) -> Obj:
    if chain.always_allows or rbac.MASTERS in user.groups:
        rules: list[PolicyRule] = list(rbac.FULL_AUTHORITY)
        problems: list[str] = []
    else:
        rules, problems = chain.rules_for(user, namespace)
    resource_rules = []
    non_resource_rules = []
    for r in rules:
        if r.non_resource_urls:
            non_resource_rules.append({"verbs": list(r.verbs), "nonResourceURLs": list(r.non_resource_urls)})
        else:
            entry: Obj = {
                "verbs": list(r.verbs),
                "apiGroups": list(r.api_groups),
                "resources": list(r.resources),
            }
            if r.resource_names:
                entry["resourceNames"] = list(r.resource_names)
            resource_rules.append(entry)
    status: Obj = {
        "resourceRules": resource_rules,
        "nonResourceRules": non_resource_rules,
        "incomplete": bool(problems),
    }
    if problems:
        status["evaluationError"] = ", ".join(problems)
    return status


async def serve(
    server: Server,
    request: Request,
    rt: ResourceType,
    namespace: str | None,
    name: str | None,
    query: dict[str, str],
) -> Response:
    """Answer one review (POST to the collection; anything else is 405)."""
    if request.method != "POST" or name is not None:
        raise errors.method_not_allowed(f"{request.method} is not supported on {rt.plural}; only create")
    body = await server.bodies.for_write(request, rt, query)
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if (kind and kind != rt.kind) or (api_version and api_version != rt.api_version):
        raise errors.bad_request(f"the body must be a {rt.kind} ({rt.api_version})")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise errors.invalid(rt.kind, "", [invalid("spec", spec, "must be an object")], GROUP)
    user = current_user.get() or ANONYMOUS
    if rt.kind == "SelfSubjectRulesReview":
        if spec.get("namespace") is not None and not isinstance(spec["namespace"], str):
            raise errors.invalid(
                rt.kind, "", [invalid("spec.namespace", spec["namespace"], "must be a string")], GROUP
            )
        if not spec.get("namespace"):
            raise errors.bad_request("no namespace on request")
        status = _rules_status(server.authorizer, user, str(spec["namespace"]))
    else:
        self_review = rt.kind == "SelfSubjectAccessReview"
        problems = _check_spec(spec, needs_subject=not self_review)
        if rt.kind == "LocalSubjectAccessReview":
            res = spec.get("resourceAttributes")
            if isinstance(res, dict) and res.get("namespace") != namespace:
                problems.append(
                    invalid(
                        "spec.resourceAttributes.namespace",
                        res.get("namespace"),
                        "must match metadata.namespace",
                    )
                )
            if spec.get("nonResourceAttributes") is not None:
                problems.append(
                    invalid(
                        "spec.nonResourceAttributes",
                        spec["nonResourceAttributes"],
                        "disallowed on this kind of request",
                    )
                )
        if problems:
            raise errors.invalid(rt.kind, "", problems, GROUP)
        if not self_review:
            user = UserInfo(str(spec.get("user") or ""), _strs(spec.get("groups")))
        decision = server.authorizer.authorize(_attributes(user, spec))
        status = {"allowed": decision.allowed}
        if decision.reason:
            status["reason"] = decision.reason
    raw_meta = body.get("metadata")
    meta: Obj = raw_meta if isinstance(raw_meta, dict) else {}
    answer = {
        "kind": rt.kind,
        "apiVersion": rt.api_version,
        "metadata": {**meta, "creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
    return Response(orjson.dumps(answer), status_code=201, media_type="application/json")
