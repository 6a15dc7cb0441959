"""API errors as Kubernetes ``Status`` objects.

Every failure a client sees is a ``Status`` (``kind: Status``) with an HTTP code
and a machine-readable ``reason`` (NotFound, AlreadyExists, Conflict, Invalid,
BadRequest, Gone, Unauthorized, ...). Clients branch on ``reason``, people read
``message``, and ``details.causes`` names the fields at fault. The constructors
below word their messages the way upstream's apimachinery does, because
users paste them into search engines.
"""

from __future__ import annotations

from typing import Any

from minik.api.field import FieldError


class APIError(Exception):
    """An error that the API server answers with a ``Status`` body."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            status["details"] = self.details
        return status

    def __repr__(self) -> str:
        return f"APIError({self.code}, {self.reason!r}, {self.message!r})"


def _details(name: str | None, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": kind}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        404,
        "NotFound",
        f'{_qualified(resource, group)} "{name}" not found',
        details=_details(name, group, resource),
    )


def no_such_resource(message: str, resource: str = "", group: str = "") -> APIError:
    """A 404 for a URL that names no object: an unknown resource, subresource or path.

    Like upstream, its ``details`` are there even when empty: clients read them
    without checking (``kubectl debug`` tells "this server has no ephemeral
    containers" from a NotFound whose ``details.name`` is empty).
    """
    details: dict[str, Any] = {}
    if resource:
        details["kind"] = resource
    if group:
        details["group"] = group
    return APIError(404, "NotFound", message, details=details)


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    return APIError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(name, group, resource),
    )


def conflict(resource: str, name: str, why: str, group: str = "") -> APIError:
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}',
        details=_details(name, group, resource),
    )


def stale_write(resource: str, name: str, group: str = "") -> APIError:
    """The 409 a write with an out-of-date ``metadata.resourceVersion`` gets."""
    return conflict(
        resource,
        name,
        "the object has been modified; please apply your changes to the latest version and try again",
        group,
    )


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> APIError:
    """422 Invalid with one cause per field error."""
    qualified = f"{kind}.{group}" if group else kind
    summary = ", ".join(str(e) for e in errors)
    message = f'{qualified} "{name}" is invalid: '
    message += f"[{summary}]" if len(errors) > 1 else summary
    details = _details(name, group, kind)
    details["causes"] = [e.to_cause() for e in errors]
    return APIError(422, "Invalid", message, details=details)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def unauthorized(message: str = "Unauthorized") -> APIError:
    return APIError(401, "Unauthorized", message)


def forbidden(message: str) -> APIError:
    return APIError(403, "Forbidden", message)


def method_not_allowed(message: str) -> APIError:
    return APIError(405, "MethodNotAllowed", message)


def not_acceptable(message: str) -> APIError:
    return APIError(406, "NotAcceptable", message)


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(
        415,
        "UnsupportedMediaType",
        f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml; got "{content_type}"',
    )


def request_entity_too_large(limit: int) -> APIError:
    """A request body over the server's limit (upstream's wording)."""
    return entity_too_large(f"limit is {limit}")


def entity_too_large(why: str) -> APIError:
    return APIError(413, "RequestEntityTooLarge", f"Request entity too large: {why}")


def service_unavailable(message: str) -> APIError:
    return APIError(503, "ServiceUnavailable", message)


def timeout(message: str) -> APIError:
    return APIError(504, "Timeout", message)


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", f"Internal error occurred: {message}")
