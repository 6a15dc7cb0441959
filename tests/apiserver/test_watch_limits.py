"""Watch buffers are bounded: a client that stops reading is disconnected, not buffered for.

Run against an API server of its own with a small ``--watch-buffer-size`` so the
limit is reached in a few hundred writes.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import APIServerProcess, Etcd, _stop, launch_apiserver
from tests.helpers import wait_until

pytestmark = pytest.mark.integration

BUFFER = 100
SLOW_WATCHERS = 20
WRITES = 400
#: Each event is about 32 KiB on the wire: the kernel buffers a stalled connection's
#: first few MiB (up to net.ipv4.tcp_wmem's maximum, 4 MiB), so it takes about 130
#: events to fill those and then BUFFER more to make the server give up.
PAYLOAD = "p" * 32 * 1024


@pytest.fixture()
def server(tmp_path: Path, etcd_server: Etcd) -> Iterator[APIServerProcess]:
    proc = launch_apiserver(
        tmp_path, etcd_server.url, "--watch-buffer-size", str(BUFFER), "--watch-cache-size", "100"
    )
    yield proc
    _stop(proc.process)


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def terminated_watchers(c: httpx.Client) -> int:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith('apiserver_terminated_watchers_total{resource="configmaps"}'):
            return int(float(line.split()[-1]))
    return 0


def registered_watchers(c: httpx.Client) -> int:
    for line in c.get("/metrics").text.splitlines():
        if line.startswith('apiserver_registered_watchers{resource="configmaps"}'):
            return int(float(line.split()[-1]))
    return 0


class SlowWatcher:
    """A watch whose client never reads: a TLS socket with a tiny receive buffer."""

    def __init__(self, server: APIServerProcess, path: str) -> None:
        host, port = server.url.removeprefix("https://").split(":")
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect((host, int(port)))
        self.sock = server.tls().wrap_socket(raw, server_hostname=host)
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {server.token}\r\n\r\n"
        self.sock.sendall(request.encode())

    def read_to_end(self, timeout: float) -> bytes:
        """Everything the server sent, up to the end of the chunked stream."""
        self.sock.settimeout(timeout)
        data = bytearray()
        while not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                break
            data += chunk
        return bytes(data)

    def close(self) -> None:
        self.sock.close()


class FastWatcher(threading.Thread):
    """A watch read as fast as it arrives, in a thread."""

    def __init__(self, server: APIServerProcess, path: str, params: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.client = server.client(timeout=120)
        self.path, self.params = path, params
        self.events: list[dict[str, Any]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        # Bookmarks (every second on the test server) wake the reader to notice stop().
        params = {"watch": "true", "allowWatchBookmarks": "true", **self.params}
        with self.client.stream("GET", self.path, params=params) as r:
            for line in r.iter_lines():
                if self.stopping.is_set():
                    return
                if line:
                    self.events.append(json.loads(line))

    def changes(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] != "BOOKMARK"]

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)
        self.client.close()


def stall_and_recover(server: APIServerProcess, c: httpx.Client, base: str, first: int) -> None:
    """One round: SLOW_WATCHERS stalled watches and a fast one, while WRITES changes happen.

    The slow watches are closed by the server; the fast one gets every change in order.
    """
    rv = c.get(base).json()["metadata"]["resourceVersion"]
    fast = FastWatcher(server, base, {"resourceVersion": rv})
    fast.start()
    slow = [SlowWatcher(server, f"{base}?watch=true&resourceVersion={rv}") for _ in range(SLOW_WATCHERS)]
    closed_before = terminated_watchers(c)
    wait_until(
        lambda: (
            f'apiserver_registered_watchers{{resource="configmaps"}} {SLOW_WATCHERS + 1}'
            in c.get("/metrics").text
        ),
        message="every watch registered",
    )
    try:
        for i in range(first, first + WRITES):
            r = c.put(f"{base}/hot", json={"metadata": {"name": "hot"}, "data": {"i": str(i), "p": PAYLOAD}})
            assert r.status_code == 200, r.text

        # Every slow watcher fell more than BUFFER events behind and was closed ...
        wait_until(
            lambda: terminated_watchers(c) - closed_before >= SLOW_WATCHERS, message="slow watchers closed"
        )
        # ... while the fast one got every change, in order, and is still open.
        wait_until(lambda: len(fast.changes()) >= WRITES, timeout=30, message="fast watcher caught up")
        seen = [int(e["object"]["data"]["i"]) for e in fast.events if e["type"] == "MODIFIED"]
        assert seen == list(range(first, first + WRITES))
        assert fast.is_alive()
    finally:
        ends = [w.read_to_end(timeout=30) for w in slow]
        for w in slow:
            w.close()
        fast.stop()
    # A closed watch ends cleanly (the chunked stream's end), having sent fewer events
    # than were written: the client knows to re-watch.
    for data in ends:
        assert data.endswith(b"\r\n0\r\n\r\n"), data[-200:]
        assert data.count(b'"type":"MODIFIED"') < WRITES


def test_slow_watchers_are_closed_and_memory_is_bounded(server: APIServerProcess) -> None:
    with server.client() as c:
        assert c.post("/api/v1/namespaces", json={"metadata": {"name": "slow"}}).status_code == 201
        base = "/api/v1/namespaces/slow/configmaps"
        assert c.post(base, json={"metadata": {"name": "hot"}, "data": {"i": "0"}}).status_code == 201
        pid = server.process.pid
        baseline = rss_mib(pid)
        stall_and_recover(server, c, base, 1)
        first_round = rss_mib(pid)
        stall_and_recover(server, c, base, 1 + WRITES)
        second_round = rss_mib(pid)
        wait_until(lambda: registered_watchers(c) == 0, message="every watch gone")
    # A stalled client costs the server at most BUFFER events (shared with the cache)
    # and one batch in flight; the rest waits in the kernel's socket buffers. What the
    # first round took is reused by the second instead of adding to it (before buffers
    # were bounded, every stalled watch kept every later event).
    assert first_round - baseline < 80, (baseline, first_round)
    assert second_round - first_round < 30, (baseline, first_round, second_round)
