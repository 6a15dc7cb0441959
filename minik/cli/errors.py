"""Errors the user sees: what went wrong and what to do next, never a traceback.

Verbs raise :class:`CLIError` for their own failures (a bad flag combination, a
missing file) and let the client's typed errors
(:mod:`minik.client.errors`) propagate. :func:`explain_error` turns any of them
into the lines ``minikctl`` prints, adding a hint per reason::

    error: pods "x" not found in namespace "default"
      try: minikctl get pods -n default

Verbs that know *which* object they asked for wrap a ``NotFound`` with
:func:`not_found` so the message names the namespace and the command to list
what does exist.
"""

from __future__ import annotations

from minik.api.errors import APIError
from minik.client.errors import (
    AlreadyExistsError,
    APIConnectionError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from minik.client.kubeconfig import KubeconfigError


class CLIError(Exception):
    """A failure with a message for the user and an optional hint (what to do)."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


def not_found(plural: str, name: str, namespace: str | None) -> CLIError:
    """``pods "x" not found in namespace "default"`` with the command that lists them."""
    if namespace:
        return CLIError(
            f'{plural} "{name}" not found in namespace "{namespace}"',
            hint=f"minikctl get {plural} -n {namespace}",
        )
    return CLIError(f'{plural} "{name}" not found', hint=f"minikctl get {plural}")


def explain_error(exc: BaseException, *, server: str | None = None) -> tuple[str, str | None]:
    """(message, hint) for any error a verb may raise."""
    if isinstance(exc, CLIError):
        return exc.message, exc.hint
    if isinstance(exc, KubeconfigError):
        return str(exc), "pass --kubeconfig, set $KUBECONFIG, or start a cluster with: minikctl cluster up"
    if isinstance(exc, APIConnectionError):
        where = f" at {server}" if server else ""
        return (
            f"cannot reach the API server{where}: {exc}",
            "is the cluster running? minikctl cluster status (or minikctl cluster up)",
        )
    if isinstance(exc, InvalidError):
        head = exc.message
        if exc.causes and ": [" in head:  # the causes follow one per line; don't repeat them
            head = head.split(": [", 1)[0] + ":"
        lines = [head]
        for cause in exc.causes:
            field = cause.get("field") or "(object)"
            lines.append(f"  * {field}: {cause.get('message') or cause.get('reason') or 'invalid'}")
        return "\n".join(lines), "fix the field(s) above in the manifest and run the command again"
    if isinstance(exc, AlreadyExistsError):
        return exc.message, "use minikctl apply -f to update an existing object, or delete it first"
    if isinstance(exc, ConflictError):
        msg = exc.message
        if "Apply failed" in msg or "conflict with" in msg:
            return (
                msg,
                "another field manager owns these fields; re-run with --force-conflicts to take them over",
            )
        return msg, "the object changed while we were writing it; run the command again"
    if isinstance(exc, NotFoundError):
        return exc.message, "minikctl api-resources lists resource types; minikctl get <type> lists objects"
    if isinstance(exc, UnauthorizedError):
        return exc.message, "the kubeconfig's token is missing or wrong (minikctl config view)"
    if isinstance(exc, ForbiddenError):
        return exc.message, None
    if isinstance(exc, ServiceUnavailableError):
        return exc.message, "the server or the component it needs is not ready; try again shortly"
    if isinstance(exc, APIError):
        return f"{exc.message} ({exc.reason}, HTTP {exc.code})", None
    return f"{type(exc).__name__}: {exc}", None
