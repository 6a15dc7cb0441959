"""``minikctl``: kubectl-like verbs over the Kubernetes API, plus minik's own views.

``minikctl cluster up|down|status`` manages the local cluster
(:mod:`minik.cluster.local`); every other verb is an API client that works
against minik and against any Kubernetes API server reachable with a bearer
token. One module per group of verbs:

=================  ==========================================================
``get``            get (tables from the server, -o yaml|json|name|wide, -w)
``describe``       describe (summary + events)
``apply``          apply -f (server-side apply), create -f
``delete``         delete (by name, -f, -l; waits with a spinner)
``podio``          logs, exec (through pods/log and pods/exec)
``workloads``      scale, rollout status|history|undo|restart, expose, run
``metadata``       label, annotate
``info``           explain, api-resources, cluster-info, version, config view
``inspect``        inspect pod|service: containers, namespaces, proxy rules
=================  ==========================================================

Global flags (``--kubeconfig``, ``--context``, ``-n``, ``--request-timeout``)
are accepted before or after the verb. Every failure is printed as a message
with a hint (:mod:`minik.cli.errors`), never as a traceback; the exit status
is 1 for errors, 2 for usage errors, and ``exec``'s command's own status.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from minik.cli import apply, delete, describe, get, info, inspect, metadata, podio, workloads
from minik.cli.errors import explain_error
from minik.cli.session import Session
from minik.cluster import local

Handler = Callable[[Session, argparse.Namespace], Awaitable[int]]

MODULES = (get, describe, apply, delete, podio, workloads, metadata, info, inspect)


def _global_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--kubeconfig",
        default=default,
        help="kubeconfig file (default: $KUBECONFIG, $MINIK_HOME/kubeconfig, ~/.kube/config)",
    )
    parser.add_argument("--context", default=default, help="kubeconfig context to use")
    parser.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=default,
        help="seconds to wait for a request; for -w/-f streams, how long to keep watching",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minikctl",
        description="Talk to a Kubernetes API server (minik or any other), kubectl style; "
        "`minikctl cluster up|down|status` runs a local minik cluster.",
    )
    _global_flags(parser, None)
    parent = argparse.ArgumentParser(add_help=False)
    _global_flags(parent, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.add_parser(
        "cluster",
        help="local cluster: up | down | status | stop | start | proxy-mode (see minikctl cluster --help)",
    )
    for module in MODULES:
        module.add_parser(sub, parent)
    return parser


async def _run(session: Session, handler: Handler, args: argparse.Namespace) -> int:
    try:
        return await handler(session, args)
    finally:
        await session.aclose()


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["cluster"]:
        local.main(args_list[1:])
        return 0
    dash_args: list[str] = []
    if "--" in args_list:  # everything after -- is the command of exec/run, never flags
        cut = args_list.index("--")
        args_list, dash_args = args_list[:cut], args_list[cut + 1 :]
    parser = build_parser()
    args, extra = parser.parse_known_args(args_list)
    # argparse stops a positional list at the first flag: `label pods --all k=v` leaves k=v over.
    # kubectl takes such words anywhere, so they join the verb's words (unknown flags stay errors).
    if extra:
        words = getattr(args, "words", None)
        if not isinstance(words, list) or any(e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        words.extend(extra)
    args.dash_args = dash_args
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    session = Session(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace_flag=args.namespace,
        request_timeout=args.request_timeout or 30.0,
        watch_timeout=args.request_timeout,
    )
    try:
        return asyncio.run(_run(session, args.func, args))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message, hint = explain_error(exc, server=session.known_server())
        session.err.print(f"error: {message}", markup=False, highlight=False)
        if hint:
            session.err.print(f"  try: {hint}", markup=False, highlight=False)
        return int(getattr(exc, "exit_code", 1))


if __name__ == "__main__":
    sys.exit(main())
