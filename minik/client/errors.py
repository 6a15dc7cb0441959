"""Typed client errors, built from the API server's ``Status`` bodies.

Every failed request to a Kubernetes API server answers with a ``Status``
object carrying an HTTP ``code`` and a machine-readable ``reason``. The client
turns it into one exception class per reason, all subclasses of
:class:`minik.api.errors.APIError`, so callers write::

    try:
        await client.update(PODS, pod)
    except ConflictError:
        ...  # someone wrote first: re-read from the cache and try again

instead of comparing codes. The mapping follows apimachinery's
``errors.ReasonForError``: the *reason* decides when it is known (409 is both
``AlreadyExists`` and ``Conflict``; 410 is ``Gone`` or ``Expired``), the code
decides otherwise, and anything unrecognised is a plain :class:`APIError`.

Failures that never reached the server (refused, reset, timed out, broken
stream) are one type, :class:`APIConnectionError`, which is also a builtin
:class:`ConnectionError`. The client never retries by itself: whether a
request is safe to repeat is the caller's decision (an informer reconnects, a
controller requeues, a CLI reports).
"""

from __future__ import annotations

from typing import Any

from minik.api.errors import APIError

__all__ = [
    "APIConnectionError",
    "APIError",
    "AlreadyExistsError",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "GoneError",
    "InternalServerError",
    "InvalidError",
    "MethodNotAllowedError",
    "NotFoundError",
    "ServerTimeoutError",
    "ServiceUnavailableError",
    "TooManyRequestsError",
    "UnauthorizedError",
    "error_from_status",
]


class NotFoundError(APIError):
    """404: the object (or the resource type) does not exist."""


class AlreadyExistsError(APIError):
    """409 AlreadyExists: a create named an object that exists."""


class ConflictError(APIError):
    """409 Conflict: a write carried a stale ``metadata.resourceVersion`` (or a
    precondition failed). Re-read and retry; never blindly overwrite."""


class InvalidError(APIError):
    """422 Invalid: the object failed validation; ``causes`` names the fields."""

    @property
    def causes(self) -> list[dict[str, Any]]:
        causes = (self.details or {}).get("causes")
        return list(causes) if isinstance(causes, list) else []


class BadRequestError(APIError):
    """400: the request itself was malformed."""


class UnauthorizedError(APIError):
    """401: no or a wrong bearer token."""


class ForbiddenError(APIError):
    """403: authenticated but not allowed (or a namespace is terminating)."""


class MethodNotAllowedError(APIError):
    """405: the verb is not supported on this resource."""


class GoneError(APIError):
    """410 Gone/Expired: the requested resourceVersion (or continue token) is
    older than what the server keeps. A watcher must relist."""


class TooManyRequestsError(APIError):
    """429: throttled; ``retry_after`` says how long the server asks to wait."""

    @property
    def retry_after(self) -> float | None:
        details = self.details or {}
        value = details.get("retryAfterSeconds") or self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


class InternalServerError(APIError):
    """500: the server failed."""


class ServiceUnavailableError(APIError):
    """503: the server (or its storage) is not ready."""


class ServerTimeoutError(APIError):
    """504 / reason Timeout: the server gave up waiting (e.g. on storage)."""


class APIConnectionError(ConnectionError):
    """The request did not get an answer: connection refused or reset, TLS
    failure, a timeout, or a watch stream that broke in the middle."""


_BY_REASON: dict[str, type[APIError]] = {
    "NotFound": NotFoundError,
    "AlreadyExists": AlreadyExistsError,
    "Conflict": ConflictError,
    "Invalid": InvalidError,
    "BadRequest": BadRequestError,
    "Unauthorized": UnauthorizedError,
    "Forbidden": ForbiddenError,
    "MethodNotAllowed": MethodNotAllowedError,
    "Gone": GoneError,
    "Expired": GoneError,
    "TooManyRequests": TooManyRequestsError,
    "InternalError": InternalServerError,
    "ServiceUnavailable": ServiceUnavailableError,
    "Timeout": ServerTimeoutError,
    "ServerTimeout": ServerTimeoutError,
}

_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: GoneError,
    422: InvalidError,
    429: TooManyRequestsError,
    500: InternalServerError,
    503: ServiceUnavailableError,
    504: ServerTimeoutError,
}

_DEFAULT_REASON: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def error_from_status(
    code: int | None,
    status: Any,
    *,
    headers: dict[str, str] | None = None,
    fallback_message: str = "",
) -> APIError:
    """The typed exception for an HTTP error answer (or an ERROR watch event).

    ``status`` is the decoded body; if it is not a ``Status`` object (a proxy's
    HTML page, say) the code alone decides and the message says what came back.
    """
    body: dict[str, Any] = status if isinstance(status, dict) and status.get("kind") == "Status" else {}
    status_code = body.get("code")
    if isinstance(status_code, int) and status_code > 0:
        code = status_code
    code = code or 500
    reason = str(body.get("reason") or _DEFAULT_REASON.get(code, "Unknown"))
    message = str(body.get("message") or fallback_message or f"the server responded with HTTP {code}")
    details = body.get("details") if isinstance(body.get("details"), dict) else None
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or APIError
    return cls(code, reason, message, details=details, headers=headers)
