"""Run ``minikctl`` in-process against the fixture API server and capture what it prints."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from minik.cli.main import main
from tests.conftest import APIServerProcess


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture()
def ctl(
    apiserver: APIServerProcess, ns: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Run:
    """``ctl("get", "pods")`` runs ``minikctl --kubeconfig … -n <ns> get pods``."""

    def run(*argv: str, stdin: str | None = None, namespace: str | None = ns) -> Result:
        capsys.readouterr()
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        args = ["--kubeconfig", str(apiserver.kubeconfig)]
        if namespace:
            args += ["-n", namespace]
        code = main([*args, *argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run
