"""minik.cli.podio: which pod ``logs``/``exec`` mean, and ``exec``'s exit status from the final Status.

Streaming through a real kubelet is covered end to end (tests/e2e); without a kubelet the
API server answers 503, which tests/cli/test_workloads.py checks.
"""

from __future__ import annotations

from typing import Any

import pytest

from minik.cli.errors import CLIError
from minik.cli.podio import _exit_code, _pod_name
from tests.cli.conftest import Run


@pytest.mark.parametrize(("word", "name"), [("web-1", "web-1"), ("pod/web-1", "web-1"), ("po/x", "x")])
def test_pod_names(word: str, name: str) -> None:
    assert _pod_name(word) == name


def test_other_kinds_are_refused() -> None:
    with pytest.raises(CLIError, match="deploy/web: only pods are supported here"):
        _pod_name("deploy/web")


def non_zero(code: Any) -> dict[str, Any]:
    return {
        "kind": "Status",
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def test_exit_status_of_the_command() -> None:
    assert _exit_code(None) == 0  # the stream ended without a Status: nothing failed
    assert _exit_code({"kind": "Status", "status": "Success"}) == 0
    assert _exit_code(non_zero(3)) == 3
    assert _exit_code(non_zero(137)) == 137
    assert _exit_code(non_zero("not a number")) == 1
    no_causes = {"status": "Failure", "reason": "NonZeroExitCode", "details": {}}
    assert _exit_code(no_causes) == 1


def test_another_failure_is_an_error_message() -> None:
    with pytest.raises(CLIError, match='exec failed: container "x" not found'):
        _exit_code({"status": "Failure", "reason": "InternalError", "message": 'container "x" not found'})


@pytest.mark.integration
def test_exec_needs_a_command(ctl: Run) -> None:
    r = ctl("exec", "web")
    assert r.code == 1
    assert "you must specify at least one command for the container" in r.err
    assert "try: minikctl exec web -- ls /" in r.err


@pytest.mark.integration
def test_logs_of_a_missing_pod(ctl: Run, ns: str) -> None:
    r = ctl("logs", "pod/ghost")
    assert r.code == 1
    assert f'pods "ghost" not found in namespace "{ns}"' in r.err and f"minikctl get pods -n {ns}" in r.err
    r = ctl("logs", "deploy/web")
    assert r.code == 1 and "only pods are supported here" in r.err
