"""The identity APIs: TokenRequest, TokenReview and SelfSubjectReview.

None of them stores anything; each answers a question with the object it was asked,
``status`` filled in (``201 Created``, as upstream):

* **TokenRequest** -- ``POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token``
  (``kubectl create token <name>``): a fresh ServiceAccount token, for ``spec.audiences``
  (default: the API server's), valid ``spec.expirationSeconds`` (at least 600, default
  3600), optionally bound to a Pod or Secret (``spec.boundObjectRef``);
* **TokenReview** -- ``POST /apis/authentication.k8s.io/v1/tokenreviews``: "whose token
  is this?", answered by the same chain that authenticates requests (this is how a
  webhook or a kubelet checks a token it was handed);
* **SelfSubjectReview** -- ``POST /apis/authentication.k8s.io/v1/selfsubjectreviews``
  (``kubectl auth whoami``): "who am I?", i.e. what authentication made of *this* request.
"""

from __future__ import annotations

import datetime
from typing import Any, Protocol

import orjson
from fastapi import Request
from fastapi.responses import Response

from minik.api import errors, identity
from minik.api.field import FieldError, invalid, not_supported, required
from minik.api.identity import UserInfo
from minik.apiserver.authn import serviceaccount as sa_tokens
from minik.apiserver.authn.chain import Authenticator
from minik.apiserver.authn.serviceaccount import Binding, TokenIssuer
from minik.apiserver.bodies import Bodies
from minik.apiserver.registry import Registry, ResourceType
from minik.apiserver.rest import Storage, dry_run_requested

GROUP = "authentication.k8s.io"
API_VERSION = f"{GROUP}/v1"
Obj = dict[str, Any]


class Server(Protocol):
    """What these handlers need from the API server (``app.APIServer``)."""

    storage: Storage
    registry: Registry
    authn: Authenticator | None
    token_issuer: TokenIssuer | None

    bodies: Bodies


def handles(rt: ResourceType, subresource: str | None) -> bool:
    """Is this request one of the identity APIs?"""
    return rt.group == GROUP or (rt.kind == "ServiceAccount" and subresource == "token")


def request_user(request: Request) -> UserInfo:
    """The user authentication found for this request (anonymous if it ran without any)."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, UserInfo) else UserInfo(identity.ANONYMOUS, (identity.UNAUTHENTICATED,))


async def serve(
    server: Server, request: Request, rt: ResourceType, namespace: str | None, name: str | None
) -> Response:
    """Answer one identity request (POST only: these are questions, not objects)."""
    if request.method != "POST" or (rt.group == GROUP and name is not None):
        what = f"{rt.plural}/token" if rt.group != GROUP else rt.plural
        raise errors.method_not_allowed(f"{request.method} is not supported on {what}; only create")
    body = await server.bodies.optional(request) or {}
    if rt.group != GROUP:  # serviceaccounts/<name>/token: the router gives both names
        _check_kind(body, "TokenRequest")
        dry_run = dry_run_requested(dict(request.query_params), request.method)
        return _created(await _token_request(server, namespace or "", name or "", body, dry_run))
    _check_kind(body, rt.kind)
    if rt.kind == "TokenReview":
        return _created(_token_review(server, body))
    return _created(_self_subject_review(request_user(request), body))


def _created(obj: Obj) -> Response:
    return Response(orjson.dumps(obj), status_code=201, media_type="application/json")


def _check_kind(body: Obj, kind: str) -> None:
    if (body.get("kind") and body["kind"] != kind) or (
        body.get("apiVersion") and body["apiVersion"] != API_VERSION
    ):
        raise errors.bad_request(f"the body must be a {kind} ({API_VERSION})")


def _part(body: Obj, key: str) -> Obj:
    """``body[key]`` if it is an object, else an empty one (validation names what is missing)."""
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _timestamp(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strings(value: Any) -> list[str] | None:
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


# -- TokenRequest -------------------------------------------------------------------------


async def _token_request(server: Server, namespace: str, sa_name: str, body: Obj, dry_run: bool) -> Obj:
    """Issue a token for a ServiceAccount; a dry run checks everything but answers no token."""
    meta = _part(body, "metadata")
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.bad_request(
            f"namespace of the provided object ({meta['namespace']}) does not match the namespace "
            f"sent on the request ({namespace})"
        )
    if server.token_issuer is None:
        raise errors.APIError(
            404,
            "NotFound",
            "the API server issues no tokens: start it with --service-account-signing-key-file",
        )
    audiences, expiration, ref = _check_token_spec(_part(body, "spec"), meta, sa_name)
    if not audiences:
        audiences = list(server.authn.api_audiences if server.authn else [server.token_issuer.issuer])
    service_account = await server.storage.get(_resource(server, "serviceaccounts"), namespace, sa_name)
    binding = await _binding(server, namespace, sa_name, ref) if ref else None
    token, expires = server.token_issuer.issue(service_account, audiences, expiration, binding)
    status: Obj = {"token": token, "expirationTimestamp": _timestamp(expires)}
    if dry_run:  # nothing may come out of a dry run that works like the real thing
        del status["token"]
    out_spec: Obj = {"audiences": audiences, "expirationSeconds": expiration}
    if ref:
        out_spec["boundObjectRef"] = {**ref, "uid": binding.uid if binding else ref.get("uid", "")}
    return {
        "kind": "TokenRequest",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": sa_name,
            "namespace": namespace,
            "creationTimestamp": _timestamp(expires - expiration),
        },
        "spec": out_spec,
        "status": status,
    }


def _check_token_spec(spec: Obj, meta: Obj, sa_name: str) -> tuple[list[str], int, Obj | None]:
    """Upstream's TokenRequest validation: (audiences, expirationSeconds, boundObjectRef)."""
    problems: list[FieldError] = []
    if meta.get("name") and meta["name"] != sa_name:
        problems.append(
            invalid("metadata.name", meta["name"], "must match the service account name if specified")
        )
    audiences = _strings(spec.get("audiences"))
    if audiences is None:
        problems.append(invalid("spec.audiences", spec.get("audiences"), "must be a list of strings"))
    expiration = spec.get("expirationSeconds", sa_tokens.DEFAULT_EXPIRATION_SECONDS)
    if expiration is None:
        expiration = sa_tokens.DEFAULT_EXPIRATION_SECONDS
    if not isinstance(expiration, int) or isinstance(expiration, bool):
        problems.append(invalid("spec.expirationSeconds", expiration, "must be a whole number of seconds"))
    elif expiration < sa_tokens.MIN_EXPIRATION_SECONDS:
        problems.append(
            invalid("spec.expirationSeconds", expiration, "may not specify a duration less than 10 minutes")
        )
    elif expiration > sa_tokens.MAX_EXPIRATION_SECONDS:
        problems.append(
            invalid(
                "spec.expirationSeconds", expiration, "may not specify a duration larger than 2^32 seconds"
            )
        )
    ref = spec.get("boundObjectRef")
    if ref is not None:
        if not isinstance(ref, dict):
            problems.append(invalid("spec.boundObjectRef", ref, "must be an object"))
            ref = None
        else:
            if ref.get("kind") not in sa_tokens.BINDABLE_KINDS:
                problems.append(
                    not_supported("spec.boundObjectRef.kind", ref.get("kind"), list(sa_tokens.BINDABLE_KINDS))
                )
            elif ref.get("apiVersion") not in (None, "", "v1"):
                problems.append(
                    not_supported("spec.boundObjectRef.apiVersion", ref.get("apiVersion"), ["v1"])
                )
            if not isinstance(ref.get("name"), str) or not ref.get("name"):
                problems.append(required("spec.boundObjectRef.name"))
    if problems:
        raise errors.invalid("TokenRequest", sa_name, problems, GROUP)
    assert audiences is not None and isinstance(expiration, int)
    return audiences, expiration, ref


def _resource(server: Server, plural: str) -> ResourceType:
    rt = server.registry.lookup("", "v1", plural)
    assert rt is not None, plural
    return rt


async def _binding(server: Server, namespace: str, sa_name: str, ref: Obj) -> Binding:
    """The object a token is to be bound to, as it is now (404 if it is not there, 409 if replaced).

    A Pod must run as this very ServiceAccount (400 otherwise): a token bound to someone
    else's pod would outlive nothing of its own and pass for that pod's credentials.
    """
    kind, name = str(ref["kind"]), str(ref["name"])
    obj = await server.storage.get(_resource(server, f"{kind.lower()}s"), namespace, name)
    if kind == "Pod" and obj.get("spec", {}).get("serviceAccountName") != sa_name:
        raise errors.bad_request(
            f'cannot bind token for serviceaccount "{sa_name}" to pod running with different '
            "serviceaccount name."
        )
    uid = str(obj.get("metadata", {}).get("uid", ""))
    if ref.get("uid") and ref["uid"] != uid:
        raise errors.conflict(
            kind,
            name,
            f"the UID in the bound object reference ({ref['uid']}) does not match the UID in record. "
            "The object might have been deleted and then recreated",
        )
    node_name, node_uid = "", ""
    if kind == "Pod" and obj.get("spec", {}).get("nodeName"):
        node_name = str(obj["spec"]["nodeName"])
        node = server.storage.cache.cache(_resource(server, "nodes")).objects.get(node_name)
        node_uid = str(node.obj.get("metadata", {}).get("uid", "")) if node else ""
    return Binding(kind, name, uid, node_name, node_uid)


# -- TokenReview, SelfSubjectReview ------------------------------------------------------


def _token_review(server: Server, body: Obj) -> Obj:
    spec = _part(body, "spec")
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise errors.bad_request("token is required for TokenReview in authentication")
    asked = _strings(spec.get("audiences"))
    if asked is None:
        raise errors.invalid(
            "TokenReview",
            "",
            [invalid("spec.audiences", spec.get("audiences"), "must be a list of strings")],
            GROUP,
        )
    api_audiences = list(server.authn.api_audiences) if server.authn else []
    result = server.authn.authenticate_token(token, asked or api_audiences) if server.authn else None
    status: Obj
    if result is None:
        status = {"user": {}, "error": "invalid bearer token, token lookup failed"}
    else:
        status = {"authenticated": True, "user": result.user.to_json(), "audiences": list(result.audiences)}
    return _answer("TokenReview", body, spec, status)


def _self_subject_review(user: UserInfo, body: Obj) -> Obj:
    return _answer("SelfSubjectReview", body, None, {"userInfo": user.to_json()})


def _answer(kind: str, body: Obj, spec: Obj | None, status: Obj) -> Obj:
    out: Obj = {
        "kind": kind,
        "apiVersion": API_VERSION,
        "metadata": {**_part(body, "metadata"), "creationTimestamp": None},
    }
    if spec is not None:
        out["spec"] = spec
    out["status"] = status
    return out
