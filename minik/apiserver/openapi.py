"""``/openapi/v3``: the schema of every kind and operation this server serves.

kubectl reads OpenAPI v3 for two things:

* **apply and field validation**: before ``kubectl apply`` (or create, replace, patch)
  sends anything, it asks whether the server validates fields itself. It fetches the
  index ``GET /openapi/v3``::

      {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."},
                 "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=..."}}}

  then the document of the object's group/version, and looks for a ``patch``
  operation tagged with the object's ``x-kubernetes-group-version-kind`` that has a
  ``fieldValidation`` query parameter. Found: it sends ``?fieldValidation=Strict`` and
  lets the server judge (see ``fieldvalidation.py``). Not found, and no
  ``/openapi/v2`` either: it refuses to run without ``--validate=false``.
* **explain**: ``kubectl explain deployment.spec.strategy`` finds the schema in
  ``components.schemas`` whose ``x-kubernetes-group-version-kind`` is apps/v1
  Deployment and walks ``properties`` (through ``allOf``/``$ref``) down the path,
  printing each field's ``description``.

A group/version document has, per resource, the paths upstream has
(``/apis/apps/v1/namespaces/{namespace}/deployments``, ``.../{name}``,
``.../{name}/status``, ``.../{name}/scale``, the all-namespaces list) with their
operations, parameters and ``x-kubernetes-action``; and in ``components.schemas``
the kinds' definitions plus every definition they reference, taken from upstream
(see ``schemas.py``). Documents are built on first request and then served from
memory: they only change when minik does. The ``?hash=`` in the index is the
document's digest, so clients may cache it forever. ``/openapi/v2`` is the same
API as one Swagger 2.0 document, converted from these (``swagger.py``), in JSON or
in the protobuf kubectl asks for (``swagger_pb.py``).
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from minik import KUBERNETES_VERSION
from minik.apiserver import schemas, swagger, swagger_pb
from minik.apiserver.registry import Registry, ResourceType

Obj = dict[str, Any]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def _param(name: str, where: str, description: str, type_: str = "string", required: bool = False) -> Obj:
    p: Obj = {
        "name": name,
        "in": where,
        "description": description,
        "schema": {"type": type_, "uniqueItems": True},
    }
    if required:
        p["required"] = True
    return p


def _P_NAME(kind: str) -> Obj:
    return _param("name", "path", f"name of the {kind}", required=True)


_P_NAMESPACE = _param(
    "namespace", "path", "object name and auth scope, such as for teams and projects", required=True
)
_P_PRETTY = _param("pretty", "query", "If 'true', then the output is pretty printed.")
_P_DRY_RUN = _param(
    "dryRun",
    "query",
    "When present, indicates that modifications should not be persisted. "
    "Valid values are: - All: all dry run stages will be processed",
)
_P_FIELD_MANAGER = _param(
    "fieldManager",
    "query",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
)
_P_FIELD_VALIDATION = _param(
    "fieldValidation",
    "query",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are "
    "silently dropped from the object, and will ignore all but the last duplicate field that the decoder "
    "encounters. - Warn: This will send a warning via the standard warning response header for each unknown "
    "field that is dropped from the object, and for each duplicate field that is encountered. The request will "
    "still succeed if there are no other errors, and will only persist the last of any duplicate fields. This "
    "is the default. - Strict: This will fail the request with a BadRequest error if any unknown fields would "
    "be dropped from the object, or if any duplicate fields are present. The error returned from the server "
    "will contain all unknown and duplicate fields encountered.",
)
_P_FORCE = _param(
    "force",
    "query",
    'Force is going to "force" Apply requests. It means user will re-acquire '
    "conflicting fields owned by other people.",
    "boolean",
)
_LIST_PARAMS = [
    _param(
        "allowWatchBookmarks",
        "query",
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
        "boolean",
    ),
    _param(
        "continue", "query", "The continue option should be set when retrieving more results from the server."
    ),
    _param("fieldSelector", "query", "A selector to restrict the list of returned objects by their fields."),
    _param("labelSelector", "query", "A selector to restrict the list of returned objects by their labels."),
    _param("limit", "query", "limit is a maximum number of responses to return for a list call.", "integer"),
    _param(
        "resourceVersion",
        "query",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    _param(
        "resourceVersionMatch",
        "query",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    _param(
        "sendInitialEvents",
        "query",
        "`sendInitialEvents=true` may be set together with `watch=true`.",
        "boolean",
    ),
    _param("timeoutSeconds", "query", "Timeout for the list/watch call.", "integer"),
    _param(
        "watch",
        "query",
        "Watch for changes to the described resources and return them as a stream of add, "
        "update, and remove notifications.",
        "boolean",
    ),
]
_DELETE_PARAMS = [
    _P_DRY_RUN,
    _param(
        "gracePeriodSeconds",
        "query",
        "The duration in seconds before the object should be deleted.",
        "integer",
    ),
    _param(
        "propagationPolicy",
        "query",
        "Whether and how garbage collection will be performed. Acceptable "
        "values are: 'Orphan', 'Background', 'Foreground'.",
    ),
]

_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
_PATCH_MEDIA = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _ref(name: str | None) -> Obj:
    return {"$ref": schemas.REF_PREFIX + name} if name else {"type": "object"}


def _content(schema: Obj, media: tuple[str, ...] = _MEDIA) -> Obj:
    return {m: {"schema": schema} for m in media}


def _op(
    rt: ResourceType,
    action: str,
    op_id: str,
    description: str,
    response: Obj,
    params: list[Obj],
    body: Obj | None = None,
    body_media: tuple[str, ...] = _MEDIA,
    gvk: tuple[str, str, str] | None = None,
    codes: tuple[str, ...] = ("200",),
) -> Obj:
    group, version, kind = gvk or (rt.group, rt.version, rt.kind)
    op: Obj = {
        "tags": [(rt.group.split(".")[0] if rt.group else "core") + "_" + rt.version],
        "description": description,
        "operationId": op_id,
        "parameters": params,
        "responses": {
            code: {"description": "OK" if code == "200" else "Created", "content": _content(response)}
            for code in codes
        }
        | {"401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
    }
    if body is not None:
        op["requestBody"] = {"content": _content(body, body_media), "required": True}
    return op


def _camel(rt: ResourceType) -> str:
    group = "".join(p.capitalize() for p in (rt.group.split(".")[0] if rt.group else "core").split("-"))
    return f"{group}{rt.version.capitalize()}"


def _paths(rt: ResourceType) -> dict[str, Obj]:
    base = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
    scope = f"{base}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{base}/{rt.plural}"
    ns_word = "Namespaced" if rt.namespaced else ""
    kind = rt.kind
    obj = _ref(schemas.definition_name(rt.group, rt.version, kind))
    lst = _ref(schemas.definition_name(rt.group, rt.version, kind + "List"))
    status = _ref(_META + "Status")
    patch = _ref(_META + "Patch")
    scope_params = [_P_NAMESPACE, _P_PRETTY] if rt.namespaced else [_P_PRETTY]
    write = [_P_DRY_RUN, _P_FIELD_MANAGER, _P_FIELD_VALIDATION]
    prefix = _camel(rt)
    out: dict[str, Obj] = {}
    out[scope] = {
        "description": f"list or create {rt.plural}",
        "parameters": scope_params,
        "get": _op(
            rt,
            "list",
            f"list{prefix}{ns_word}{kind}",
            f"list or watch objects of kind {kind}",
            lst,
            _LIST_PARAMS,
        ),
        "post": _op(
            rt,
            "post",
            f"create{prefix}{ns_word}{kind}",
            f"create a {kind}",
            obj,
            write,
            obj,
            codes=("200", "201", "202"),
        ),
        "delete": _op(
            rt,
            "deletecollection",
            f"deletecollection{prefix}{ns_word}{kind}",
            f"delete collection of {kind}",
            status,
            _DELETE_PARAMS + _LIST_PARAMS,
            _ref(_META + "DeleteOptions"),
        ),
    }
    out[f"{scope}/{{name}}"] = {
        "description": f"operations on a {kind}",
        "parameters": [_P_NAME(kind), *scope_params],
        "get": _op(rt, "get", f"read{prefix}{ns_word}{kind}", f"read the specified {kind}", obj, []),
        "put": _op(
            rt,
            "put",
            f"replace{prefix}{ns_word}{kind}",
            f"replace the specified {kind}",
            obj,
            write,
            obj,
            codes=("200", "201"),
        ),
        "patch": _op(
            rt,
            "patch",
            f"patch{prefix}{ns_word}{kind}",
            f"partially update the specified {kind}",
            obj,
            [*write, _P_FORCE],
            patch,
            _PATCH_MEDIA,
            codes=("200", "201"),
        ),
        "delete": _op(
            rt,
            "delete",
            f"delete{prefix}{ns_word}{kind}",
            f"delete a {kind}",
            status,
            _DELETE_PARAMS,
            _ref(_META + "DeleteOptions"),
        ),
    }
    for sub in rt.subresources:
        if sub == "status":
            out[f"{scope}/{{name}}/status"] = {
                "description": f"the status of a {kind}",
                "parameters": [_P_NAME(kind), *scope_params],
                "get": _op(
                    rt,
                    "get",
                    f"read{prefix}{ns_word}{kind}Status",
                    f"read status of the specified {kind}",
                    obj,
                    [],
                ),
                "put": _op(
                    rt,
                    "put",
                    f"replace{prefix}{ns_word}{kind}Status",
                    f"replace status of the specified {kind}",
                    obj,
                    write,
                    obj,
                    codes=("200", "201"),
                ),
                "patch": _op(
                    rt,
                    "patch",
                    f"patch{prefix}{ns_word}{kind}Status",
                    f"partially update status of the specified {kind}",
                    obj,
                    [*write, _P_FORCE],
                    patch,
                    _PATCH_MEDIA,
                    codes=("200", "201"),
                ),
            }
        elif sub == "scale":
            scale = _ref(schemas.definition_name("autoscaling", "v1", "Scale"))
            gvk = ("autoscaling", "v1", "Scale")
            out[f"{scope}/{{name}}/scale"] = {
                "description": f"the scale of a {kind}",
                "parameters": [_P_NAME("Scale"), *scope_params],
                "get": _op(
                    rt,
                    "get",
                    f"read{prefix}{ns_word}{kind}Scale",
                    f"read scale of the specified {kind}",
                    scale,
                    [],
                    gvk=gvk,
                ),
                "put": _op(
                    rt,
                    "put",
                    f"replace{prefix}{ns_word}{kind}Scale",
                    f"replace scale of the specified {kind}",
                    scale,
                    write,
                    scale,
                    gvk=gvk,
                    codes=("200", "201"),
                ),
                "patch": _op(
                    rt,
                    "patch",
                    f"patch{prefix}{ns_word}{kind}Scale",
                    f"partially update scale of the specified {kind}",
                    scale,
                    [*write, _P_FORCE],
                    patch,
                    _PATCH_MEDIA,
                    gvk=gvk,
                    codes=("200", "201"),
                ),
            }
    if rt.namespaced:
        out[f"{base}/{rt.plural}"] = {
            "description": f"list {rt.plural} in all namespaces",
            "parameters": [_P_PRETTY],
            "get": _op(
                rt,
                "list",
                f"list{prefix}{kind}ForAllNamespaces",
                f"list or watch objects of kind {kind}",
                lst,
                _LIST_PARAMS,
            ),
        }
    return out


class OpenAPI:
    """Builds, caches and serves the ``/openapi/v3`` documents for a registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._docs: dict[str, bytes] | None = None
        self._index: bytes | None = None
        self._v2: bytes | None = None
        self._v2_protobuf: bytes | None = None
        self._all_paths: dict[str, Obj] = {}
        self._all_components: dict[str, Obj] = {}

    @staticmethod
    def _key(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    def _build(self) -> None:
        docs: dict[str, bytes] = {}
        for group, version in self.registry.group_versions():
            rts = [rt for rt in self.registry if rt.group == group and rt.version == version]
            paths: dict[str, Obj] = {}
            roots: list[str] = [_META + n for n in ("Status", "DeleteOptions", "Patch", "APIResourceList")]
            for rt in rts:
                paths.update(_paths(rt))
                for kind in (rt.kind, rt.kind + "List"):
                    name = schemas.definition_name(rt.group, rt.version, kind)
                    if name:
                        roots.append(name)
                if "scale" in rt.subresources:
                    scale = schemas.definition_name("autoscaling", "v1", "Scale")
                    if scale:
                        roots.append(scale)
            components = {name: schemas.openapi_schema(name) for name in schemas.closure(roots)}
            self._all_paths.update(paths)
            self._all_components.update(components)
            doc = {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
                "paths": paths,
                "components": {"schemas": components},
            }
            docs[self._key(group, version)] = orjson.dumps(doc)
        index = {
            "paths": {
                key: {
                    "serverRelativeURL": f"/openapi/v3/{key}?hash={hashlib.sha512(body).hexdigest()[:64].upper()}"
                }
                for key, body in docs.items()
            }
        }
        self._docs, self._index = docs, orjson.dumps(index)

    def v2(self, protobuf: bool = False) -> bytes | None:
        """The body of ``/openapi/v2``: every group/version in one Swagger 2.0 document,
        as JSON or (``protobuf``) as gnostic's ``openapi.v2.Document`` (``swagger_pb.py``)."""
        if not schemas.available():
            return None
        if self._docs is None:
            self._build()
        if self._v2 is None:
            doc = swagger.document(self._all_paths, self._all_components)
            self._v2, self._v2_protobuf = orjson.dumps(doc), swagger_pb.document(doc)
        return self._v2_protobuf if protobuf else self._v2

    def document(self, path: str) -> bytes | None:
        """The body for ``/openapi/v3`` or ``/openapi/v3/<api|apis/...>``; None if there is none."""
        if not schemas.available():
            return None
        if self._docs is None:
            self._build()
        assert self._docs is not None and self._index is not None
        rest = path[len("/openapi/v3") :].strip("/")
        if not rest:
            return self._index
        return self._docs.get(rest)
