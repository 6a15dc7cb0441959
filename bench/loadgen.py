"""A small, fast HTTP/1.1 load generator for the benchmarks (not httpx: too slow to load a server).

Each connection is a raw asyncio stream (TLS, keep-alive) that sends one request
at a time and reads ``Content-Length`` or chunked bodies; ``concurrency``
connections run at once. With uvloop this drives several thousand requests per
second from one core, so the server, not the client, is what gets measured.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else float("nan")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str, ca_file: str | None) -> Connection:
        parts = urlsplit(url)
        context = None
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file)
        reader, writer = await asyncio.open_connection(
            parts.hostname, parts.port, ssl=context, limit=64 * 1024 * 1024
        )
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        code = int(status_line.split()[1])
        length, chunked = -1, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value:
                chunked = True
        if chunked:
            body = bytearray()
            while True:
                size = int((await self.reader.readline()).strip(), 16)
                if size == 0:
                    await self.reader.readline()
                    break
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
            return code, bytes(body)
        return code, await self.reader.readexactly(length) if length > 0 else b""

    def close(self) -> None:
        self.writer.close()


def build_request(
    method: str, url: str, token: str, body: bytes = b"", content_type: str = "application/json"
) -> bytes:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def run(
    url: str,
    make_request: Callable[[int], bytes],
    *,
    total: int,
    concurrency: int,
    ca_file: str | None = None,
    rate: float | None = None,
) -> Result:
    """Send ``total`` requests over ``concurrency`` connections; optionally paced to ``rate``/s."""
    result = Result()
    counter = iter(range(total))
    started = time.perf_counter()

    async def worker() -> None:
        conn = await Connection.open(url, ca_file)
        try:
            for i in counter:
                if rate:
                    due = started + i / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                t0 = time.perf_counter()
                code, _ = await conn.request(make_request(i))
                result.latencies.append(time.perf_counter() - t0)
                result.codes[code] = result.codes.get(code, 0) + 1
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - started
    return result
