"""``minikctl logs`` and ``minikctl exec``: through the API server to the pod's kubelet.

``logs`` is ``GET /api/v1/namespaces/<ns>/pods/<name>/log`` with ``container``,
``follow``, ``previous`` and ``tailLines``; the body is plain text, streamed
to stdout as it arrives (``-f`` keeps it open until the container ends or the
user presses Ctrl-C).

``exec`` opens a WebSocket to ``…/pods/<name>/exec?command=…`` with the
subprotocol ``v5.channel.k8s.io``. Every binary message starts with a channel
byte: 1 is the command's stdout, 2 its stderr, 3 a final ``Status`` JSON
(``Success``, or ``Failure`` with reason ``NonZeroExitCode`` and the code in
``details.causes``). minikctl copies 1 and 2 to its own stdout/stderr and exits
with the command's code. Non-interactive only: no stdin, no TTY.

Both need the kubelet of the pod's node; when it is not reachable the API
server answers ``503 ServiceUnavailable`` and minikctl says so plainly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from minik.cli.errors import CLIError, not_found
from minik.cli.session import Session, error_response
from minik.client.errors import APIConnectionError, NotFoundError, ServiceUnavailableError, error_from_status
from minik.client.kinds import PODS

STDOUT, STDERR, STATUS = 1, 2, 3
PROTOCOL = "v5.channel.k8s.io"


def add_parser(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("logs", parents=[parent], help="print a container's logs")
    p.add_argument("pod", metavar="POD", help="pod name (or pod/NAME)")
    p.add_argument("-c", "--container", help="container (default: the only or the default one)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines")
    p.add_argument("-p", "--previous", action="store_true", help="the previous (crashed) instance's logs")
    p.add_argument("--tail", type=int, default=-1, help="only the last N lines")
    p.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    p.set_defaults(func=run_logs)
    e = sub.add_parser("exec", parents=[parent], help="run a command in a container (non-interactive)")
    e.add_argument("pod", metavar="POD", help="pod name (or pod/NAME)")
    e.add_argument("-c", "--container", help="container (default: the only or the default one)")
    e.add_argument("command", nargs="*", metavar="-- COMMAND [ARG...]")
    e.set_defaults(func=run_exec)


def _pod_name(word: str) -> str:
    kind, sep, name = word.partition("/")
    if not sep:
        return word
    if kind.lower() not in ("pod", "pods", "po"):
        raise CLIError(f"{word}: only pods are supported here", hint="pass the pod name: minikctl get pods")
    return name


def _unavailable(verb: str, name: str, exc: ServiceUnavailableError) -> CLIError:
    return CLIError(
        f'cannot {verb} pod "{name}": the API server could not reach its kubelet ({exc.message})',
        hint="the pod's node must run a kubelet the API server can reach: minikctl get nodes; "
        "minikctl describe pod " + name,
    )


async def run_logs(session: Session, args: argparse.Namespace) -> int:
    name, ns = _pod_name(args.pod), session.namespace
    params: dict[str, str] = {}
    if args.container:
        params["container"] = args.container
    if args.follow:
        params["follow"] = "true"
    if args.previous:
        params["previous"] = "true"
    if args.tail >= 0:
        params["tailLines"] = str(args.tail)
    if args.timestamps:
        params["timestamps"] = "true"
    path = PODS.path(namespace=ns, name=name, subresource="log")
    try:
        async with session.http.stream(
            "GET",
            path,
            params=params,
            headers={"Accept": "*/*"},
            timeout=httpx.Timeout(30.0, read=None if args.follow else 60.0),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise error_response(response)
            async for chunk in response.aiter_bytes():
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
    except NotFoundError as exc:
        raise _pod_missing(exc, name, ns) from None
    except ServiceUnavailableError as exc:
        raise _unavailable("get logs of", name, exc) from None
    except httpx.TransportError as exc:
        raise APIConnectionError(f"logs {ns}/{name}: {exc}") from exc
    return 0


def _pod_missing(exc: NotFoundError, name: str, ns: str) -> CLIError:
    if "pods" in exc.message and name in exc.message:
        return not_found("pods", name, ns)
    return CLIError(exc.message, hint=f"minikctl describe pod {name} -n {ns} shows its containers")


async def run_exec(session: Session, args: argparse.Namespace) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.typing import Subprotocol

    command = list(getattr(args, "dash_args", None) or args.command)
    if not command:
        raise CLIError(
            "you must specify at least one command for the container",
            hint=f"minikctl exec {args.pod} -- ls /",
        )
    name, ns = _pod_name(args.pod), session.namespace
    query: list[tuple[str, str]] = [("command", c) for c in command] + [
        ("stdout", "true"),
        ("stderr", "true"),
    ]
    if args.container:
        query.append(("container", args.container))
    server = session.config.server
    url = (
        ("wss" + server[5:] if server.startswith("https") else "ws" + server[4:])
        + PODS.path(namespace=ns, name=name, subresource="exec")
        + "?"
        + urlencode(query)
    )
    headers = {"Authorization": f"Bearer {session.config.token}"} if session.config.token else {}
    status: dict[str, Any] | None = None
    try:
        async with connect(
            url,
            ssl=session.ssl_context(),
            subprotocols=[Subprotocol(PROTOCOL)],
            additional_headers=headers,
            open_timeout=session.request_timeout,
            max_size=None,
        ) as ws:
            async for message in ws:
                data = message if isinstance(message, bytes) else message.encode()
                if not data:
                    continue
                channel, payload = data[0], data[1:]
                if channel == STDOUT:
                    sys.stdout.buffer.write(payload)
                    sys.stdout.flush()
                elif channel == STDERR:
                    sys.stderr.buffer.write(payload)
                    sys.stderr.flush()
                elif channel == STATUS and payload:
                    status = orjson.loads(payload)
    except InvalidStatus as exc:
        body = exc.response.body or b""
        try:
            decoded = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            decoded = None
        err = error_from_status(
            exc.response.status_code, decoded, fallback_message=body.decode(errors="replace")[:300]
        )
        if isinstance(err, ServiceUnavailableError):
            raise _unavailable("exec into", name, err) from None
        if isinstance(err, NotFoundError):
            raise _pod_missing(err, name, ns) from None
        raise err from None
    except (OSError, WebSocketException) as exc:
        raise APIConnectionError(f"exec {ns}/{name}: {exc}") from exc
    return _exit_code(status)


def _exit_code(status: dict[str, Any] | None) -> int:
    if status is None or status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    break
        return 1
    raise CLIError(f"exec failed: {status.get('message') or status}")
