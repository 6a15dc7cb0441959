"""Every component's console entry point answers a bad flag value with a usage error.

A mistyped value — on the command line or in the environment — must end the process
before it connects anywhere, with exit status 2, the usage line and a message naming the
flag; never with a Python traceback.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minik.client.process import Flag, Group, Shell

ROOT = Path(__file__).resolve().parents[2]

#: component module → its command-line shell (``SHELL``)
MODULES = {
    "minik-apiserver": "minik.apiserver.main",
    "minik-controller-manager": "minik.controllers.manager",
    "minik-scheduler": "minik.scheduler.main",
    "minik-kubelet": "minik.kubelet.main",
    "minik-proxy": "minik.proxy.main",
    "minik-dns": "minik.dns.main",
}

# (program, argv, environment, the flag the message must name, a phrase of the message)
BAD = [
    ("minik-apiserver", ["--secure-port", "99999"], {}, "--secure-port", "invalid port '99999'"),
    (
        "minik-apiserver",
        ["--service-cluster-ip-range", "10.96.0.1/12"],
        {},
        "--service-cluster-ip-range",
        "CIDR",
    ),
    (
        "minik-apiserver",
        ["--service-node-port-range", "32767-30000"],
        {},
        "--service-node-port-range",
        "range",
    ),
    ("minik-apiserver", [], {"MINIK_APISERVER_WORKERS": "two"}, "--workers", "MINIK_APISERVER_WORKERS"),
    ("minik-apiserver", [], {"MINIK_GC_THRESHOLD": "1,2"}, "--gc-threshold", "MINIK_GC_THRESHOLD"),
    ("minik-controller-manager", ["--pod-gc-period", "soon"], {}, "--pod-gc-period", "invalid duration"),
    ("minik-controller-manager", ["--leader-elect", "maybe"], {}, "--leader-elect", "invalid boolean"),
    ("minik-controller-manager", ["--cluster-cidr", "10.244.0.0/33"], {}, "--cluster-cidr", "CIDR"),
    ("minik-controller-manager", ["--load-balancer-ip-pool", "x"], {}, "--load-balancer-ip-pool", "pool"),
    ("minik-controller-manager", ["--controllers", "*,-nope"], {}, "--controllers", "unknown controller"),
    (
        "minik-scheduler",
        ["--leader-elect-retry-period", "soon"],
        {},
        "--leader-elect-retry-period",
        "duration",
    ),
    ("minik-scheduler", ["--metrics-port", "http"], {}, "--metrics-port", "invalid port"),
    ("minik-kubelet", ["--owner-label", "team"], {}, "--owner-label", "KEY=VALUE"),
    ("minik-kubelet", ["--runtime", "podman"], {}, "--runtime", "invalid choice 'podman'"),
    ("minik-kubelet", ["--port", "-5"], {}, "--port", "invalid port"),
    ("minik-kubelet", [], {"MINIK_POD_CIDR": "10.244.1.1/24"}, "--pod-cidr", "MINIK_POD_CIDR"),
    ("minik-proxy", ["--proxy-mode", "ebpf"], {}, "--proxy-mode", "invalid choice 'ebpf'"),
    ("minik-proxy", ["--service-cidr", "services"], {}, "--service-cidr", "CIDR"),
    ("minik-proxy", ["--sync-period", "0"], {}, "--sync-period", "greater than 0"),
    ("minik-dns", ["--listen", "127.0.0.1:dns"], {}, "--listen", "HOST:PORT"),
    ("minik-dns", ["--ttl", "-5"], {}, "--ttl", "at least 0"),
    ("minik-dns", ["--log-format", "xml"], {}, "--log-format", "invalid choice 'xml'"),
]


@pytest.mark.parametrize(("prog", "argv", "env", "flag", "phrase"), BAD, ids=[f"{b[0]}:{b[3]}" for b in BAD])
def test_a_bad_value_is_a_usage_error(
    prog: str, argv: list[str], env: dict[str, str], flag: str, phrase: str
) -> None:
    out = subprocess.run(
        [sys.executable, "-m", MODULES[prog], *argv],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith(f"usage: {prog}"), out.stderr
    assert f"{prog}: error:" in out.stderr and flag in out.stderr and phrase in out.stderr, out.stderr


def _flags(shell: Shell) -> list[Flag]:
    return [f for item in shell.flags for f in (item.flags if isinstance(item, Group) else (item,))]


@pytest.mark.parametrize("prog", sorted(MODULES))
def test_help_explains_every_flag_and_its_variable(prog: str) -> None:
    shell = importlib.import_module(MODULES[prog]).SHELL
    assert isinstance(shell, Shell) and shell.prog == prog
    text = " ".join(shell.parser().format_help().split())
    for flag in _flags(shell):
        assert flag.name in text and flag.help.split()[0] in text
        variable = shell.env_name(flag)
        if variable is not None and not flag.repeated:
            assert f"[{variable}]" in text
    assert "--log-level" in text and "--log-format" in text


def test_help_runs_as_a_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "minik.kubelet.main", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0 and "--owner-label K=V" in out.stdout and "[MINIK_NODE_NAME]" in out.stdout
