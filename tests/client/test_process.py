"""The process shell: flags with environment fallbacks, value types, logging, signals."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal

import pytest

from minik.client import process
from minik.client.process import Flag, Group, Shell
from minik.client.statusserver import StatusServer

SHELL = Shell(
    prog="minik-test",
    description="a component for tests",
    env_prefix="MINIK_TEST_",
    flags=(
        Flag("--ttl", "seconds", 5, process.integer(minimum=0)),
        Flag("--listen", "where", "127.0.0.1:53", process.host_port, env="MINIK_LISTEN_HERE"),
        Flag("--secret", "never from the environment", "", env=False),
        Group(
            "more",
            (
                Flag("--period", "how often", "2s", process.duration),
                Flag("--fast", "go fast", False, process.boolean, switch=True),
                Flag("--label", "K=V", type=process.key_value, repeated=True),
                Flag("--mode", "how", "a", process.choice("a", "b")),
            ),
        ),
    ),
)


def test_defaults_come_from_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MINIK_TEST_TTL", "MINIK_LISTEN_HERE", "MINIK_TEST_PERIOD", "MINIK_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    args = SHELL.parse([])
    assert (args.ttl, args.listen, args.period, args.fast, args.label, args.mode) == (
        5,
        "127.0.0.1:53",
        2.0,
        False,
        [],
        "a",
    )
    assert (args.log_level, args.log_format) == ("info", "text")


def test_environment_names_are_derived_or_given() -> None:
    flags = {f.name: f for f in SHELL.flags if isinstance(f, Flag)}
    assert SHELL.env_name(flags["--ttl"]) == "MINIK_TEST_TTL"
    assert SHELL.env_name(flags["--listen"]) == "MINIK_LISTEN_HERE"
    assert SHELL.env_name(flags["--secret"]) is None


def test_flag_beats_environment_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK_TEST_TTL", "30")
    monkeypatch.setenv("MINIK_LISTEN_HERE", "0.0.0.0:1053")
    monkeypatch.setenv("MINIK_TEST_PERIOD", "1m30s")
    monkeypatch.setenv("MINIK_TEST_FAST", "true")
    monkeypatch.setenv("MINIK_TEST_SECRET", "ignored")
    monkeypatch.setenv("MINIK_LOG_FORMAT", "json")
    args = SHELL.parse([])
    assert (args.ttl, args.listen, args.period, args.fast, args.secret) == (
        30,
        "0.0.0.0:1053",
        90.0,
        True,
        "",
    )
    assert args.log_format == "json"
    args = SHELL.parse(["--ttl", "7", "--fast=false", "--log-format", "text"])
    assert (args.ttl, args.fast, args.log_format) == (7, False, "text")


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK_TEST_TTL", "")
    monkeypatch.setenv("MINIK_LISTEN_HERE", "")
    args = SHELL.parse([])
    assert (args.ttl, args.listen) == (5, "127.0.0.1:53")


def test_a_bad_environment_value_overridden_by_a_flag_is_no_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK_TEST_TTL", "many")
    assert SHELL.parse(["--ttl", "1"]).ttl == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ttl", "-1"], "argument --ttl: -1 is too small: must be at least 0"),
        (["--ttl", "x"], "argument --ttl: invalid integer 'x'"),
        (["--period", "soon"], "argument --period: invalid duration 'soon'"),
        (["--fast=maybe"], "argument --fast: invalid boolean 'maybe'"),
        (["--label", "novalue"], "argument --label: invalid KEY=VALUE 'novalue'"),
        (["--mode", "c"], "argument --mode: invalid choice 'c' (choose from a, b)"),
        (["--listen", "host:port"], "argument --listen: invalid address 'host:port'"),
        (["--log-format", "xml"], "argument --log-format: invalid choice 'xml'"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        SHELL.parse(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: minik-test")
    assert message in err


def test_a_bad_environment_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MINIK_TEST_PERIOD", "soon")
    with pytest.raises(SystemExit) as info:
        SHELL.parse([])
    assert info.value.code == 2
    assert (
        "argument --period: invalid duration 'soon': use e.g. 15s, 500ms, 1m30s or 2.5 "
        "(from the environment variable MINIK_TEST_PERIOD)" in capsys.readouterr().err
    )


def test_check_errors_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    def at_most_ttl(args: argparse.Namespace) -> None:
        if args.period > args.ttl:
            raise ValueError("--period must not exceed --ttl")

    shell = Shell("minik-test", "d", "MINIK_TEST_", SHELL.flags, check=at_most_ttl)
    assert shell.parse(["--period", "1s"]).period == 1.0
    with pytest.raises(SystemExit) as info:
        shell.parse(["--period", "10s"])
    assert info.value.code == 2
    assert "error: --period must not exceed --ttl" in capsys.readouterr().err


def test_help_names_every_flag_its_default_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        SHELL.parse(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--ttl TTL seconds (default: 5) [MINIK_TEST_TTL]" in out
    assert "(default: 127.0.0.1:53) [MINIK_LISTEN_HERE]" in out
    assert "--secret SECRET never from the environment" in out and "MINIK_TEST_SECRET" not in out
    assert "--log-format {text,json}" in out and "[MINIK_LOG_FORMAT]" in out
    assert "more:" in out


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0), ("2.5", 2.5), ("0", 0.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert process.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "-1s", "1x", "s", "nan", "inf", "1s x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        process.duration(text)


def test_network_types() -> None:
    assert process.cidr("10.96.0.0/12") == "10.96.0.0/12"
    assert process.port_range("30000-32767") == (30000, 32767)
    assert process.port(disable=True)("-1") == -1
    assert process.ip_list("10.96.0.10,fd00::a") == "10.96.0.10,fd00::a"
    for parse, bad in [
        (process.cidr, "10.96.0.1/12"),
        (process.cidr, "10.0.0.0/33"),
        (process.port_range, "32767-30000"),
        (process.port_range, "30000"),
        (process.port(), "-1"),
        (process.port(disable=True), "70000"),
        (process.ip_address, "10.0.0.256"),
        (process.ip_list, "10.0.0.1,nope"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        process.configure_logging("info", "json")
        process.configure_logging("info", "json")  # a second call replaces, never duplicates
        logging.getLogger("minik.test").info("hello %s", "world")
        logging.getLogger("minik.test").debug("not shown")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logging.getLogger("minik.test").exception("failed")
        lines = capsys.readouterr().err.splitlines()
        assert len(lines) == 2
        first, second = (json.loads(line) for line in lines)
        assert {k: first[k] for k in ("level", "logger", "msg")} == {
            "level": "info",
            "logger": "minik.test",
            "msg": "hello world",
        }
        assert first["ts"].endswith("Z") and first["ts"][10] == "T"
        assert second["level"] == "error" and "RuntimeError: boom" in second["exc"]
        process.configure_logging("warning", "text")
        logging.getLogger("minik.test").warning("plain")
        assert capsys.readouterr().err.rstrip().endswith("WARNING minik.test: plain")
    finally:
        root.handlers[:] = [h for h in root.handlers if not isinstance(h, process._ShellHandler)]
        root.setLevel(level)


def test_sigterm_sets_stop_and_serve_returns_the_exit_status() -> None:
    async def serve(stop: asyncio.Event) -> int:
        asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 10)
        return 3

    assert process.run_until_signalled(serve) == 3


def test_an_unhandled_exception_is_logged_and_gives_status_1(caplog: pytest.LogCaptureFixture) -> None:
    async def serve(stop: asyncio.Event) -> int:
        raise RuntimeError("broken")

    assert process.run_until_signalled(serve, name="minik-test") == 1
    assert "minik-test failed" in caplog.text and "RuntimeError: broken" in caplog.text


def test_main_exits_with_the_status_of_serve() -> None:
    seen: list[int] = []

    async def serve(args: argparse.Namespace, stop: asyncio.Event) -> int:
        ttl = int(args.ttl)
        seen.append(ttl)
        return ttl

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        SHELL.main(["--ttl", "0"], serve)  # 0: returns normally
        with pytest.raises(SystemExit) as info:
            SHELL.main(["--ttl", "4"], serve)
        assert info.value.code == 4 and seen == [0, 4]
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_serve_status_is_off_at_port_minus_one() -> None:
    assert await process.serve_status(StatusServer.standard(component="t"), "127.0.0.1", -1) is None
    server = await process.serve_status(StatusServer.standard(component="t"), "127.0.0.1", 0)
    assert server is not None and server.port > 0
    await server.stop()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        SHELL.parse(["--version"])
    assert capsys.readouterr().out.startswith("minik-test ")
