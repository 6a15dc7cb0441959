"""``/openapi/v2``: the same API as ``/openapi/v3``, spelled as one Swagger 2.0 document.

Tools that validate manifests or generate clients from a live cluster still read
OpenAPI v2 (``GET /openapi/v2``, one document for every group). minik builds it from
the v3 documents (``openapi.py``) instead of describing the API twice; the
differences are only of spelling:

* definitions live under ``definitions`` and are referenced as
  ``#/definitions/<name>`` (v3: ``#/components/schemas/<name>``);
* a described reference is ``{"$ref": ..., "description": ...}`` (v3 wraps it in
  ``allOf`` to keep the description, as upstream does in each version);
* a parameter carries its ``type`` itself (v3: inside ``schema``); the request body is
  a parameter ``in: body``; media types are listed in ``consumes`` and ``produces``.

kubectl asks for v2 only where v3 does not serve (``kubectl explain
--output=plaintext-openapiv2``, or when v3 is missing), and then in protobuf; that
encoding of the same document is ``swagger_pb.py``. A request that accepts neither
JSON nor that protobuf is answered 406.
"""

from __future__ import annotations

from typing import Any

from minik import KUBERNETES_VERSION

Obj = dict[str, Any]

V3_REF = "#/components/schemas/"
V2_REF = "#/definitions/"
_OPERATIONS = ("get", "put", "post", "delete", "patch")


def schema(node: Any) -> Any:
    """One v3 schema node spelled the v2 way (recursively)."""
    if isinstance(node, list):
        return [schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    all_of = node.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], dict) and "$ref" in all_of[0]:
        out["$ref"] = _ref(all_of[0]["$ref"])
        node = {k: v for k, v in node.items() if k not in ("allOf", "default")}
    for key, value in node.items():
        if key == "$ref":
            out[key] = _ref(value)
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: schema(prop) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "allOf"):
            out[key] = schema(value)
        elif key in ("anyOf", "oneOf", "nullable"):
            continue  # Swagger 2.0 has neither; upstream's v2 leaves them out too
        else:
            out[key] = value
    return out


def _ref(ref: str) -> str:
    return V2_REF + ref[len(V3_REF) :] if ref.startswith(V3_REF) else ref


def _parameter(param: Obj) -> Obj:
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema") or {})
    return out


def _operation(op: Obj) -> Obj:
    out = {k: v for k, v in op.items() if k not in ("parameters", "requestBody", "responses")}
    params = [_parameter(p) for p in op.get("parameters") or []]
    body = op.get("requestBody")
    if body:
        content: Obj = body.get("content") or {}
        out["consumes"] = list(content)
        first: Obj = next(iter(content.values()), {})
        params.append({"name": "body", "in": "body", "required": True, "schema": schema(first.get("schema"))})
    out["parameters"] = params
    produces: list[str] = []
    responses: Obj = {}
    for code, response in (op.get("responses") or {}).items():
        converted: Obj = {"description": response.get("description", "")}
        content = response.get("content") or {}
        if content:
            converted["schema"] = schema(next(iter(content.values())).get("schema"))
            produces.extend(m for m in content if m not in produces)
        responses[code] = converted
    if produces:
        out["produces"] = produces
    out["responses"] = responses
    out["schemes"] = ["https"]
    return out


def _path_item(item: Obj) -> Obj:
    out: Obj = {}
    for key, value in item.items():
        if key in _OPERATIONS:
            out[key] = _operation(value)
        elif key == "parameters":
            out[key] = [_parameter(p) for p in value]
        # "description" of a path item is v3 only
    return out


def document(paths: Obj, components: Obj) -> Obj:
    """The Swagger 2.0 document of the given v3 ``paths`` and ``components.schemas``."""
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": {path: _path_item(item) for path, item in sorted(paths.items())},
        "definitions": {name: schema(s) for name, s in sorted(components.items())},
        "securityDefinitions": {
            "BearerToken": {
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
                "description": "Bearer Token authentication",
            }
        },
        "security": [{"BearerToken": []}],
    }


def wants_json(accept: str) -> bool:
    """False when the client asked only for something else (kubectl's protobuf)."""
    if not accept.strip():
        return True
    for part in accept.split(","):
        media_type = part.split(";")[0].strip().lower()
        if media_type in ("application/json", "application/*", "*/*"):
            return True
    return False
