"""minik.cli.errors: every failure becomes a message and a hint saying what to do next."""

from __future__ import annotations

import pytest

from minik.api.errors import APIError
from minik.cli.errors import CLIError, explain_error, not_found
from minik.client.errors import (
    AlreadyExistsError,
    APIConnectionError,
    ConflictError,
    ForbiddenError,
    InvalidError,
    NotFoundError,
    ServiceUnavailableError,
    UnauthorizedError,
    error_from_status,
)
from minik.client.kubeconfig import KubeconfigError


def status(code: int, reason: str, message: str, **details: object) -> APIError:
    body: dict[str, object] = {"kind": "Status", "code": code, "reason": reason, "message": message}
    if details:
        body["details"] = details
    return error_from_status(code, body)


def test_not_found_in_a_namespace_names_the_listing_command() -> None:
    err = not_found("pods", "web-1", "team")
    assert err.message == 'pods "web-1" not found in namespace "team"'
    assert err.hint == "minikctl get pods -n team"
    assert err.exit_code == 1


def test_not_found_cluster_scoped() -> None:
    err = not_found("nodes", "n1", None)
    assert (err.message, err.hint) == ('nodes "n1" not found', "minikctl get nodes")


def test_a_cli_error_is_shown_as_raised() -> None:
    assert explain_error(CLIError("bad flags", hint="use --x")) == ("bad flags", "use --x")
    assert explain_error(CLIError("no hint")) == ("no hint", None)


def test_missing_kubeconfig_says_how_to_get_one() -> None:
    message, hint = explain_error(KubeconfigError("cannot read kubeconfig /x: No such file"))
    assert message == "cannot read kubeconfig /x: No such file"
    assert hint is not None and "--kubeconfig" in hint and "minikctl cluster up" in hint


def test_connection_errors_name_the_server() -> None:
    exc = APIConnectionError("GET https://127.0.0.1:1/api: connection refused")
    message, hint = explain_error(exc, server="https://127.0.0.1:1")
    assert message.startswith("cannot reach the API server at https://127.0.0.1:1: ")
    assert hint is not None and "minikctl cluster status" in hint
    message, _ = explain_error(exc)
    assert message.startswith("cannot reach the API server: ")


def test_invalid_lists_each_field_once() -> None:
    exc = status(
        422,
        "Invalid",
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be >= 0, '
        "spec.template: Required value]",
        causes=[
            {"field": "spec.replicas", "reason": "FieldValueInvalid", "message": "Invalid value: -1"},
            {"field": "spec.template", "reason": "FieldValueRequired"},
            {"message": "something about the whole object"},
        ],
    )
    assert isinstance(exc, InvalidError)
    message, hint = explain_error(exc)
    assert message.splitlines() == [
        'Deployment.apps "web" is invalid:',
        "  * spec.replicas: Invalid value: -1",
        "  * spec.template: FieldValueRequired",
        "  * (object): something about the whole object",
    ]
    assert hint == "fix the field(s) above in the manifest and run the command again"


def test_invalid_without_causes_keeps_the_whole_message() -> None:
    exc = status(422, "Invalid", "Pod is invalid: [x: y]")
    assert explain_error(exc)[0] == "Pod is invalid: [x: y]"


@pytest.mark.parametrize(
    ("exc", "hint_part"),
    [
        (status(409, "AlreadyExists", 'pods "x" already exists'), "minikctl apply -f"),
        (status(409, "Conflict", "Apply failed with 1 conflict: conflict with kubectl"), "--force-conflicts"),
        (status(409, "Conflict", "the object has been modified"), "run the command again"),
        (status(404, "NotFound", "the server could not find the requested resource"), "api-resources"),
        (status(401, "Unauthorized", "Unauthorized"), "token"),
        (status(503, "ServiceUnavailable", "etcd is not ready"), "try again"),
    ],
)
def test_each_reason_has_its_hint(exc: APIError, hint_part: str) -> None:
    message, hint = explain_error(exc)
    assert message == exc.message
    assert hint is not None and hint_part in hint


def test_types_match_the_reasons_above() -> None:
    assert isinstance(status(409, "AlreadyExists", "m"), AlreadyExistsError)
    assert isinstance(status(409, "Conflict", "m"), ConflictError)
    assert isinstance(status(404, "NotFound", "m"), NotFoundError)
    assert isinstance(status(401, "Unauthorized", "m"), UnauthorizedError)
    assert isinstance(status(503, "ServiceUnavailable", "m"), ServiceUnavailableError)


def test_forbidden_has_no_hint_to_offer() -> None:
    exc = status(403, "Forbidden", 'pods is forbidden: namespace "x" is terminating')
    assert isinstance(exc, ForbiddenError)
    assert explain_error(exc) == ('pods is forbidden: namespace "x" is terminating', None)


def test_other_api_errors_show_reason_and_code() -> None:
    exc = status(429, "TooManyRequests", "slow down")
    assert explain_error(exc) == ("slow down (TooManyRequests, HTTP 429)", None)


def test_anything_else_is_one_line_with_its_type() -> None:
    assert explain_error(ValueError("boom")) == ("ValueError: boom", None)
