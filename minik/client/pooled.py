"""A leaner request path for hot loops: the scheduler's binds, the controllers' creates.

The scheduler sends two or three small requests per pod (the binding, the
``Scheduled`` event, the ``PodScheduled=False`` condition for pods that do not
fit). Through :class:`httpx.AsyncClient` each costs the scheduler process
2-4 ms of CPU on this class of machine — httpx's request/response models,
httpcore's pool and h11 are pure Python and were measured to top out near
200-300 requests/s, well below what the API server itself sustains. At
270 pods/s that alone would take more than one core.

:class:`PooledAPIClient` keeps everything of
:class:`~minik.client.rest.APIClient` (the typed verbs, the error mapping, the
watch streams, which stay on httpx) and replaces only its plumbing method
:meth:`~minik.client.rest.APIClient.request` with a small HTTP/1.1 client:

* a pool of keep-alive connections (plain asyncio streams, TLS with the
  kubeconfig's CA), at most ``max_connections`` open, idle ones reused LIFO;
* requests written as one ``bytes`` buffer, the response head read with one
  ``readuntil(b"\\r\\n\\r\\n")``, bodies by ``Content-Length`` or chunked;
* a connection idle for longer than ``idle_timeout`` is discarded rather than
  reused: uvicorn closes idle connections after 5 s, and a request written into
  a connection the server is closing gets no answer at all. If a *reused*
  connection still breaks before a single byte of the answer arrived, the
  request is sent once more on a fresh connection — the server closed it
  before reading (what browsers do too). Anything else surfaces as
  :class:`~minik.client.errors.APIConnectionError`, as with ``APIClient``.

The scheduler uses it for its binds; the controller-manager for the pod creates of
a ReplicaSet scaled up (up to 500 at once, in slow-start batches).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from minik import __version__
from minik.client.errors import APIConnectionError, error_from_status
from minik.client.kubeconfig import ClientConfig
from minik.client.rest import APIClient

__all__ = ["PooledAPIClient"]


class _Broken(Exception):
    """The connection failed; ``sent_nothing_back`` says whether the server answered at all."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


class _Connection:
    __slots__ = ("last_used", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def roundtrip(self, raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
        """Send one request; return code, headers (lower-case names), body and keep-alive."""
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError) as exc:
            partial = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
            raise _Broken(f"{type(exc).__name__}: {exc}", answered=partial) from exc
        try:
            lines = head.decode("latin-1").split("\r\n")
            code = int(lines[0].split(" ", 2)[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            if headers.get("transfer-encoding", "").lower().endswith("chunked"):
                body = await self._read_chunked()
            elif "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:
                body = await self.reader.read()  # until the server closes
                headers["connection"] = "close"
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, ssl.SSLError) as exc:
            raise _Broken(
                f"malformed or truncated answer: {type(exc).__name__}: {exc}", answered=True
            ) from exc
        keep_alive = headers.get("connection", "").lower() != "close"
        return code, headers, body, keep_alive

    async def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size_line = await self.reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Trailers (rare) end with an empty line too.
                while (await self.reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            body += await self.reader.readexactly(size + 2)
            del body[-2:]


class PooledAPIClient(APIClient):
    """:class:`~minik.client.rest.APIClient` with a pooled raw-HTTP/1.1 ``request`` (see module docs)."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        max_connections: int = 32,
        idle_timeout: float = 4.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        parts = urlsplit(config.server)
        self._host = parts.hostname or "127.0.0.1"
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._ssl: ssl.SSLContext | None = None
        if self._tls:
            verify = config.ssl_context()
            if isinstance(verify, ssl.SSLContext):
                self._ssl = verify
            elif verify:
                self._ssl = ssl.create_default_context()
            else:
                self._ssl = ssl.create_default_context()
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        host_header = parts.netloc.rsplit("@", 1)[-1]
        common = [
            f"Host: {host_header}",
            "Accept: application/json",
            f"User-Agent: {kwargs.get('user_agent') or f'minik/{__version__}'}",
        ]
        if config.token:
            common.append(f"Authorization: Bearer {config.token}")
        self._common_headers = ("\r\n".join(common) + "\r\n").encode("latin-1")
        self._max_connections = max_connections
        self._idle_timeout = idle_timeout
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False

    async def aclose(self) -> None:
        self._closed = True
        for conn in self._idle:
            conn.close()
        self._idle.clear()
        await super().aclose()

    async def _connect(self) -> _Connection:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port, ssl=self._ssl, limit=16 * 1024 * 1024),
                self._timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise APIConnectionError(f"connect to {self.config.server}: {type(exc).__name__}: {exc}") from exc
        return _Connection(reader, writer)

    def _checkout_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.last_used < self._idle_timeout and not conn.reader.at_eof():
                return conn
            conn.close()
        return None

    async def _send(self, method: str, url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """One round trip on a pooled connection (retried once if a reused one was closed)."""
        conn = self._checkout_idle()
        for attempt in (0, 1):
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            try:
                code, headers, payload, keep_alive = await asyncio.wait_for(
                    conn.roundtrip(raw), self._timeout
                )
            except _Broken as exc:
                conn.close()
                conn = None
                if reused and not exc.answered and attempt == 0:
                    continue  # the server closed an idle connection under us
                raise APIConnectionError(f"{method} {url}: {exc}") from exc
            except TimeoutError as exc:
                conn.close()
                raise APIConnectionError(f"{method} {url}: no answer within {self._timeout}s") from exc
            except BaseException:
                conn.close()  # cancelled mid-request: the stream is in an unknown state
                raise
            if keep_alive and not self._closed:
                conn.last_used = time.monotonic()
                self._idle.append(conn)
            else:
                conn.close()
            return code, headers, payload
        raise AssertionError("unreachable")

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        target = f"{path}?{urlencode(params)}" if params else path
        head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._common_headers
        if body is not None:
            content = orjson.dumps(body)
            raw = b"".join(
                (
                    head,
                    f"Content-Type: {content_type}\r\nContent-Length: {len(content)}\r\n\r\n".encode(
                        "latin-1"
                    ),
                    content,
                )
            )
        else:
            raw = head + b"\r\n"
        url = f"{self.config.server}{path}"
        async with self._slots:
            code, headers, payload = await self._send(method, url, raw)
        decoded: Any = None
        if payload:
            try:
                decoded = orjson.loads(payload)
            except orjson.JSONDecodeError:
                decoded = payload.decode("utf-8", "replace")
        if code >= 400:
            text = decoded[:500] if isinstance(decoded, str) else ""
            raise error_from_status(
                code,
                decoded,
                headers=headers,
                fallback_message=f"the server responded with HTTP {code}" + (f": {text}" if text else ""),
            )
        return decoded
