"""Deadlines: what stops a slow or silent client from holding the API server.

Every connection costs a socket, a protocol object and usually a task; a client
that opens one and then sends nothing, or declares a 1 MB body and sends one
byte, would hold those forever. Upstream's answer, followed here, has two layers:

* **The request timeout** (``--request-timeout``, default 60 s). A request that is
  not *long-running* (a watch is; pods/log and exec are served outside the
  dispatcher and are exempt too) must be answered within it — reading its body
  included. When it expires the client gets a ``504 Timeout`` Status, as from
  upstream. The handler is not cancelled: like upstream's timeout filter, the
  answer is given up but the work already begun (perhaps an etcd write) runs to
  its end, so nothing is left half done; only its result is dropped (and logged).
  A 504 therefore means "may or may not have happened", as upstream documents.

* **Connection deadlines** on uvicorn's HTTP protocol (:class:`DeadlineHttpToolsProtocol`):
  a request's header must arrive within the header timeout (upstream's
  ``ReadHeaderTimeout`` is 32 s; here it is also at most the request timeout), a
  new connection must start its first request within it, and a response given
  before its request body was read to the end closes the connection — otherwise
  a client trickling the rest of that body would keep it open after the answer.
  Idle keep-alive connections are closed by uvicorn's own ``timeout_keep_alive``.

A client that goes away in the middle of its request is normal life on a network,
not a server error: it is logged at INFO and counted with code 499 ("client closed
request", nginx's convention), never as a 500 with a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import ClientDisconnect, Request
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from minik.api import errors
from minik.apiserver.params import flag
from minik.apiserver.routing import parse_path
from minik.client.process import duration

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Upstream's default ``--request-timeout``.
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Upstream's ``ReadHeaderTimeout`` on the secure port.
MAX_HEADER_TIMEOUT = 32.0
#: The code counted for a request whose client went away before it was answered.
CLIENT_CLOSED_REQUEST = 499


def duration_flag(text: str) -> float:
    """Seconds from a Go-style duration (``60s``, ``1m0s``, ``500ms``) or a plain number; > 0."""
    seconds = duration(text)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be more than zero")
    return seconds


def is_long_running(request: Request) -> bool:
    """Requests exempt from the request timeout: watches (upstream also exempts
    pods/log, exec, attach and proxy, which minik serves outside the dispatcher).

    A watch is a GET of a real ``/watch/`` URL or with ``?watch=true``, read the way the
    router reads them: a namespace named ``watch`` or a POST with ``?watch=true`` is no
    watch and must not escape the timeout.
    """
    if request.method != "GET":
        return False
    info = parse_path(request.url.path)
    return (info is not None and info.watch_path) or flag(request.query_params.get("watch"))


def timed_out() -> errors.APIError:
    """Upstream's answer to a request that outlived the request timeout."""
    return errors.timeout(
        "Timeout: request did not complete within requested timeout - context deadline exceeded"
    )


async def within(seconds: float, work: Awaitable[T], what: str) -> T:
    """``work``'s result if it completes within ``seconds``, else raise :func:`timed_out`.

    On expiry the work keeps running (see the module docstring); its outcome is
    logged when it ends. If the caller itself is cancelled, so is the work."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    log.info("%s: no answer within the request timeout (%gs); answered 504", what, seconds)
    task.add_done_callback(lambda t: _log_late_outcome(t, what))
    raise timed_out()


def _log_late_outcome(task: asyncio.Future[T], what: str) -> None:
    if task.cancelled():
        return
    err = task.exception()
    if err is None or isinstance(err, errors.APIError):
        log.info("%s: finished after its 504 (%s)", what, "done" if err is None else err.code)
    elif isinstance(err, ClientDisconnect):
        log.info("%s: the client went away after its 504", what)
    else:
        log.error("%s: failed after its 504", what, exc_info=err)


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the connection deadlines it lacks (module docstring)."""

    #: Seconds a request's header may take to arrive; set by :func:`set_header_timeout`.
    header_timeout = MAX_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()  # a silent new connection is closed, too

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # With nothing pipelined, ``self.cycle`` is the request just answered.
        body_unread = not self.pipeline and self.cycle is not None and self.cycle.more_body
        super().on_response_complete()
        if body_unread and not self.transport.is_closing():
            # Answered before the body was read to its end (a timeout, a 413, a 401):
            # the rest of it is of no use, and reading it is what a slow client wants.
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._header_too_slow)

    def _disarm_header_deadline(self) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
            self._header_deadline = None

    def _header_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.info(
                "closing a connection from %s: no complete request header within %gs",
                self.client,
                self.header_timeout,
            )
            self.transport.close()


def set_header_timeout(request_timeout: float) -> None:
    """Header deadline of this process's connections: upstream's 32 s, or less with a shorter request timeout."""
    DeadlineHttpToolsProtocol.header_timeout = min(MAX_HEADER_TIMEOUT, request_timeout)
