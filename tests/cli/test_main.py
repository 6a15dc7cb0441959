"""minik.cli.main: the verbs, global flags anywhere, ``--``, and errors as messages with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from minik.cli.main import build_parser, main

VERBS = (
    "get",
    "describe",
    "apply",
    "create",
    "delete",
    "logs",
    "exec",
    "scale",
    "rollout",
    "expose",
    "run",
    "label",
    "annotate",
    "explain",
    "api-resources",
    "cluster-info",
    "version",
    "config",
    "inspect",
    "cluster",
)


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([verb, "--help"])
    assert info.value.code == 0
    assert f"minikctl {verb}" in capsys.readouterr().out


def test_an_unknown_verb_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_no_verb_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: minikctl" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["-n", "team", "--context", "c", "--request-timeout", "5", "get", "pods"],
        ["get", "pods", "-n", "team", "--context", "c", "--request-timeout", "5"],
        ["--context", "c", "get", "-n", "team", "pods", "--request-timeout=5"],
    ],
)
def test_global_flags_before_or_after_the_verb(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert (args.verb, args.targets) == ("get", ["pods"])
    assert (args.namespace, args.context, args.request_timeout) == ("team", "c", 5.0)


def test_a_flag_after_the_verb_wins() -> None:
    args = build_parser().parse_args(["-n", "first", "get", "pods", "-n", "second"])
    assert args.namespace == "second"


def test_usage_errors_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["get", "pods", "-o", "xml"])
    assert info.value.code == 2
    assert "argument -o/--output: invalid choice: 'xml'" in capsys.readouterr().err


def test_a_verbs_own_error_is_a_message_and_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get"]) == 1  # no server needed to know a type is missing
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "error: you must specify the type of resource to get"
    assert err.splitlines()[1].startswith("  try: e.g. minikctl get pods")
    assert "Traceback" not in err


def test_words_after_dashdash_are_never_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-kubeconfig"
    # Without the split, argparse would reject --bogus (exit 2); with it, exec runs and
    # fails on the missing kubeconfig instead (exit 1, with the hint).
    code = main(["--kubeconfig", str(missing), "exec", "pod-1", "--", "ls", "--bogus"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error: cannot read kubeconfig {missing}" in err
    assert "try: pass --kubeconfig, set $KUBECONFIG" in err


def test_cluster_is_handed_to_the_local_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINIK_HOME", str(tmp_path))
    assert main(["cluster", "--nodes", "1", "status"]) == 0
    out = capsys.readouterr().out
    assert out.split()[:3] == ["COMPONENT", "STATE", "PID"]
    assert "kubelet-minik-node-1" in out and "not running" in out


def test_label_words_may_follow_its_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``kubectl label pods --all status=unhealthy`` (kubectl's own example) parses.

    It gets as far as reading the (missing) kubeconfig: exit 1, not a usage error (2).
    """
    missing = str(tmp_path / "none")
    assert main(["--kubeconfig", missing, "label", "pods", "--all", "status=unhealthy"]) == 1
    assert main(["--kubeconfig", missing, "annotate", "pods", "-l", "app=web", "note=x", "k-"]) == 1
    assert "cannot read kubeconfig" in capsys.readouterr().err


def test_unknown_flags_stay_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["label", "pods", "--all", "--bogus", "a=b"], ["get", "pods", "-l", "a=b", "extra"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        assert "unrecognized arguments:" in capsys.readouterr().err
