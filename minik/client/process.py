"""The process shell every minik component runs in: flags, environment, logging, signals.

The apiserver, controller-manager, scheduler, kubelet, proxy and DNS each do their own
work, but around it they need the same few things (upstream keeps them in one place too,
``k8s.io/component-base``). They live here, once:

* **Flags, declared as data.** A component lists its :class:`Flag`\\ s (in :class:`Group`\\ s
  for ``--help``); :class:`Shell` turns the table into an ``argparse`` parser.
* **An environment fallback for every flag, named once.** The variable is derived from
  the component's prefix and the flag's name (``--metrics-port`` of ``MINIK_DNS_`` reads
  ``MINIK_DNS_METRICS_PORT``) unless the flag names its own (``KUBECONFIG``,
  ``MINIK_ETCD_SERVERS``, …: the names that existed before the shell keep working). The
  command line wins over the environment, the environment over the default; an empty
  variable counts as unset. ``--help`` prints each flag's variable in brackets. This is
  what lets one image run under docker compose with nothing but environment settings.
* **Usage errors, never tracebacks.** Every value goes through a ``type`` callable from
  this module (:func:`integer`, :func:`port`, :func:`duration`, :func:`cidr`,
  :func:`key_value`, :class:`choice`, …) that raises ``argparse.ArgumentTypeError``. A bad
  value — typed on the command line or read from the environment — ends the process with
  the usage line, a message naming the flag (and the variable it came from), and exit
  status 2, before anything connects anywhere.
* **Logging.** ``--log-level`` and ``--log-format text|json`` for every component, one
  line per record; JSON is one object per line for log collectors.
* **Signals.** :meth:`Shell.main` runs the component's ``serve(args, stop)`` coroutine and
  sets ``stop`` on SIGTERM or SIGINT; the component stops gracefully and returns its exit
  status. :func:`serve_status` starts the component's ``/healthz``/``/metrics`` server
  (:mod:`minik.client.statusserver`) unless its port flag is ``-1``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from minik import __version__
from minik.client.statusserver import StatusServer

log = logging.getLogger(__name__)

#: A flag's value parser: text in, value out, ``argparse.ArgumentTypeError`` for bad text.
Parse = Callable[[str], Any]
#: What a component runs: its parsed flags and the event SIGTERM/SIGINT set → exit status.
Serve = Callable[[argparse.Namespace, asyncio.Event], Awaitable[int | None]]

# -- value types ---------------------------------------------------------------------------------


def text(value: str) -> str:
    """Any string (the default type)."""
    return str(value)


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Parse:
    """A whole number, optionally bounded (``--ttl`` must not be negative, ...)."""

    def parse(value: str) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {value!r}") from None
        if minimum is not None and number < minimum:
            raise argparse.ArgumentTypeError(f"{number} is too small: must be at least {minimum}")
        if maximum is not None and number > maximum:
            raise argparse.ArgumentTypeError(f"{number} is too large: must be at most {maximum}")
        return number

    return parse


def number(*, minimum: float | None = None, above: float | None = None) -> Parse:
    """A number of seconds (or any real), at least ``minimum`` or greater than ``above``."""

    def parse(value: str) -> float:
        try:
            result = float(str(value).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number {value!r}") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"invalid number {value!r}: must be finite")
        if minimum is not None and result < minimum:
            raise argparse.ArgumentTypeError(f"{value!r} is too small: must be at least {minimum:g}")
        if above is not None and result <= above:
            raise argparse.ArgumentTypeError(f"{value!r} is too small: must be greater than {above:g}")
        return result

    return parse


def port(*, disable: bool = False) -> Parse:
    """A TCP/UDP port, 0 = any free one; with ``disable``, ``-1`` turns the server off."""
    lowest = -1 if disable else 0
    check = integer(minimum=lowest, maximum=65535)

    def parse(value: str) -> int:
        try:
            return int(check(value))
        except argparse.ArgumentTypeError:
            what = "-1 (off), 0 (any free port) or 1-65535" if disable else "0 (any free port) or 1-65535"
            raise argparse.ArgumentTypeError(f"invalid port {value!r}: use {what}") from None

    return parse


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def duration(value: str) -> float:
    """Seconds from a Go duration (``15s``, ``500ms``, ``1m30s``) or a plain number of seconds."""
    raw = str(value).strip()
    with contextlib.suppress(ValueError):
        seconds = float(raw)
        if seconds >= 0 and seconds != float("inf"):
            return seconds
    pos, total = 0, 0.0
    while raw and pos < len(raw):
        match = _DURATION_PART.match(raw, pos)
        if match is None:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not raw or pos < len(raw):
        raise argparse.ArgumentTypeError(f"invalid duration {value!r}: use e.g. 15s, 500ms, 1m30s or 2.5")
    return total


def boolean(value: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``)."""
    lowered = str(value).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {value!r}: use true or false")


class choice:  # lower case: used like the other types, type=choice("text", "json")
    """One of a fixed set of words (case-insensitive with ``fold_case``)."""

    def __init__(self, *values: str, fold_case: bool = False) -> None:
        self.values = values
        self.fold_case = fold_case
        self.metavar = "{" + ",".join(values) + "}"

    def __call__(self, value: str) -> str:
        word = str(value).strip()
        if self.fold_case:
            word = word.lower()
        if word not in self.values:
            raise argparse.ArgumentTypeError(
                f"invalid choice {value!r} (choose from {', '.join(self.values)})"
            )
        return word


def key_value(value: str) -> tuple[str, str]:
    """``KEY=VALUE`` (a label, say) → ``(key, value)``; the key must not be empty."""
    key, sep, rest = str(value).partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"invalid KEY=VALUE {value!r}: expected e.g. team=blue")
    return key.strip(), rest


def cidr(value: str) -> str:
    """An IP network in CIDR notation (``10.96.0.0/12``), host bits zero; returned as given."""
    try:
        ipaddress.ip_network(str(value).strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid CIDR {value!r}: {exc}") from None
    return str(value).strip()


def ip_address(value: str) -> str:
    """One IP address (``192.168.1.10``); returned as given."""
    try:
        ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid IP address {value!r}") from None
    return str(value).strip()


def ip_list(value: str) -> str:
    """Comma-separated IP addresses (``10.96.0.10,fd00::a``); returned as given."""
    for item in str(value).split(","):
        try:
            ipaddress.ip_address(item.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid IP address {item.strip()!r} in {value!r}") from None
    return str(value)


def port_range(value: str) -> tuple[int, int]:
    """``LOW-HIGH`` (``30000-32767``) → ``(low, high)``, both ports, low ≤ high."""
    low, sep, high = str(value).partition("-")
    try:
        bounds = int(low), int(high)
    except ValueError:
        bounds = (0, -1)
    if not sep or not (1 <= bounds[0] <= bounds[1] <= 65535):
        raise argparse.ArgumentTypeError(f"invalid port range {value!r}: use LOW-HIGH, e.g. 30000-32767")
    return bounds


def host_port(value: str) -> str:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (or a bare host); returned as given."""
    raw = str(value).strip()
    if raw.startswith("["):
        host, _, rest = raw[1:].partition("]")
        number_text = rest.removeprefix(":")
    elif raw.count(":") == 1:
        host, _, number_text = raw.partition(":")
    else:
        host, number_text = raw, ""
    if not host or (number_text and not number_text.isdigit()) or (number_text and int(number_text) > 65535):
        raise argparse.ArgumentTypeError(f"invalid address {value!r}: use HOST:PORT, e.g. 127.0.0.1:5353")
    return raw


def optional(parse: Parse) -> Parse:
    """``parse``, but the empty string stays empty (a flag whose empty value means "none")."""

    def parse_unless_empty(value: str) -> Any:
        return parse(value) if str(value) else ""

    parse_unless_empty.__name__ = getattr(parse, "__name__", "value")
    return parse_unless_empty


# -- the flag table ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flag:
    """One command-line flag: its name, meaning, default, value type and environment variable.

    ``env``: ``True`` derives the variable from the shell's prefix (``--metrics-port`` →
    ``<PREFIX>METRICS_PORT``), a string names it, ``False`` means the flag has none.
    ``switch``: a boolean that may be given bare (``--leader-elect``) or with a value
    (``--leader-elect=false``). ``repeated``: may be given several times → a list (such a
    flag has no environment variable).
    """

    name: str
    help: str
    default: Any = None
    type: Parse = text
    env: str | bool = True
    aliases: tuple[str, ...] = ()
    dest: str | None = None
    metavar: str | None = None
    switch: bool = False
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """Flags shown together under a heading in ``--help``."""

    title: str
    flags: tuple[Flag, ...]


def status_flags(
    *,
    default_port: int,
    port_flag: str = "--metrics-port",
    address_flag: str = "--metrics-bind-address",
    default_address: str = "127.0.0.1",
    serves: str = "/healthz, /readyz and /metrics",
    port_env: str | bool = True,
    address_env: str | bool = True,
    title: str = "health and metrics",
) -> Group:
    """The two flags of a component's status server: its port (``-1`` = off) and address."""
    return Group(
        title,
        (
            Flag(
                port_flag,
                f"port of {serves} over plain HTTP; 0 picks a free port, -1 disables",
                default_port,
                port(disable=True),
                env=port_env,
            ),
            Flag(address_flag, f"address of {serves}", default_address, env=address_env),
        ),
    )


class EnvValue(str):
    """A default read from the environment: remembers its variable for error messages."""

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvValue:
        self = super().__new__(cls, value)
        self.variable = variable
        return self


LOG_FLAGS = Group(
    "logging",
    (
        Flag(
            "--log-level",
            "least severe records written",
            "info",
            choice("debug", "info", "warning", "warn", "error", "critical", fold_case=True),
            env="MINIK_LOG_LEVEL",
        ),
        Flag(
            "--log-format",
            "text for people, json for log collectors (one object per line)",
            "text",
            choice("text", "json"),
            env="MINIK_LOG_FORMAT",
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class Shell:
    """One component's command line and process life: :meth:`parse`, then :meth:`main`.

    ``check`` runs after parsing for rules between flags; a ``ValueError`` it raises becomes
    a usage error (exit status 2) like a bad value does.
    """

    prog: str
    description: str
    env_prefix: str
    flags: tuple[Flag | Group, ...]
    check: Callable[[argparse.Namespace], None] | None = None

    def env_name(self, flag: Flag) -> str | None:
        """The environment variable ``flag`` falls back to (``None``: it has none)."""
        if flag.env is True:
            return self.env_prefix + flag.name.removeprefix("--").upper().replace("-", "_")
        return flag.env or None

    def parser(self) -> argparse.ArgumentParser:
        """An ``argparse`` parser whose defaults are the environment's values where set."""
        p = argparse.ArgumentParser(
            prog=self.prog,
            description=self.description,
            epilog="Every flag falls back to the environment variable named in brackets; "
            "a flag given on the command line wins over it.",
        )
        for item in (*self.flags, LOG_FLAGS):
            if isinstance(item, Group):
                group = p.add_argument_group(item.title)
                for flag in item.flags:
                    self._add(group, flag)
            else:
                self._add(p, item)
        p.add_argument("--version", action="version", version=f"{self.prog} {__version__}")
        return p

    def parse(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parse ``argv`` (default: ``sys.argv[1:]``); bad values exit 2 with the usage line."""
        p = self.parser()
        args = p.parse_args(argv)
        if self.check is not None:
            try:
                self.check(args)
            except ValueError as exc:
                p.error(str(exc))
        return args

    def main(self, argv: Sequence[str] | None, serve: Serve, *, fast_loop: bool = False) -> None:
        """Parse, set up logging, run ``serve`` until it returns; exit with its status.

        ``fast_loop`` runs the event loop on uvloop when it is installed (the components
        whose throughput is measured: scheduler, DNS).
        """
        args = self.parse(argv)
        configure_logging(args.log_level, args.log_format)
        code = run_until_signalled(lambda stop: serve(args, stop), fast_loop=fast_loop, name=self.prog)
        if code:
            raise SystemExit(code)

    def _add(self, into: argparse._ActionsContainer, flag: Flag) -> None:
        variable = None if flag.repeated else self.env_name(flag)
        default: Any = flag.default
        # Read when the parser is built, not at import: tests and supervisors set it later.
        # An empty variable counts as unset (``KUBECONFIG=`` means "no kubeconfig given").
        if variable is not None and os.environ.get(variable):
            default = EnvValue(os.environ[variable], variable)
        options: dict[str, Any] = {
            "default": default,
            "type": _naming_the_source(flag.type),
            "help": _help(flag, variable),
        }
        metavar = flag.metavar or getattr(flag.type, "metavar", None)
        if metavar is not None:
            options["metavar"] = metavar
        if flag.dest is not None:
            options["dest"] = flag.dest
        if flag.switch:
            options.update(nargs="?", const=True, metavar=flag.metavar or "true|false")
        if flag.repeated:
            options.update(action="append", default=list(flag.default or []))
        into.add_argument(flag.name, *flag.aliases, **options)


def _naming_the_source(parse: Parse) -> Parse:
    """``parse``, with errors about an environment value naming the variable."""

    def convert(value: str) -> Any:
        try:
            return parse(value)
        except (argparse.ArgumentTypeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, argparse.ArgumentTypeError) else f"invalid value {value!r}"
            if isinstance(value, EnvValue):
                message += f" (from the environment variable {value.variable})"
            raise argparse.ArgumentTypeError(message) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _help(flag: Flag, variable: str | None) -> str:
    parts = [flag.help]
    shown = flag.default
    if isinstance(shown, bool):
        shown = str(shown).lower()
    if shown not in (None, "", [], ()):
        parts.append(f"(default: {shown})")
    if variable is not None:
        parts.append(f"[{variable}]")
    return " ".join(parts).replace("%", "%%")


# -- logging -------------------------------------------------------------------------------------


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message (+ exception)."""

    def __init__(self) -> None:
        super().__init__()
        self.converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _ShellHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs (so a second call replaces only it)."""


def configure_logging(level: str, fmt: str = "text", *, show_pid: bool = False) -> None:
    """Records at ``level`` and above to stderr, as ``text`` or ``json``.

    Replaces only the handler a previous call installed: handlers others put on the root
    logger (pytest's log capture, say) stay. ``show_pid`` adds the process id to text lines,
    for programs that run several processes into one stream (the apiserver's ``--workers``).
    """
    handler = _ShellHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        line = TEXT_FORMAT.replace("%(levelname)s", "%(process)d %(levelname)s") if show_pid else TEXT_FORMAT
        handler.setFormatter(logging.Formatter(line))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _ShellHandler)] + [handler]
    root.setLevel(level.upper())
    if root.level > logging.DEBUG:
        # httpx logs every request (each watch reconnect) at INFO: noise unless debugging.
        logging.getLogger("httpx").setLevel(logging.WARNING)


# -- running -------------------------------------------------------------------------------------


def run_until_signalled(
    serve: Callable[[asyncio.Event], Awaitable[int | None]], *, fast_loop: bool = False, name: str = "minik"
) -> int:
    """Run ``serve(stop)`` on a new event loop; SIGTERM/SIGINT set ``stop``. → exit status.

    ``serve`` returns its exit status (``None`` = 0). An exception it does not handle is
    logged with its traceback (inside the log record, JSON-safe) and gives status 1.
    Signals can only be caught on the main thread; elsewhere (a test calling ``main`` in a
    thread) ``stop`` is never set by a signal.
    """
    loop_factory = None
    if fast_loop:
        with contextlib.suppress(ImportError):
            import uvloop

            loop_factory = uvloop.new_event_loop

    async def guarded() -> int:
        stop = asyncio.Event()
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        try:
            return await serve(stop) or 0
        except Exception:
            log.exception("%s failed", name)
            return 1

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(guarded())


async def serve_status(server: StatusServer, address: str, port: int) -> StatusServer | None:
    """Start ``server`` on ``address:port`` → it, or ``None`` when ``port`` is -1 (off)."""
    if port < 0:
        return None
    await server.start(address, port)
    return server
