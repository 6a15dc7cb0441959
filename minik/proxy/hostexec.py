"""Running the host's networking tools (iptables-restore, nft, ip, sysctl), optionally in a netns.

Every applier talks to the kernel only through a :class:`Runner`, for two reasons: tests
and benchmarks run the very same code inside a scratch network namespace (``Runner(netns=
"minik-test-1234")`` prefixes ``ip netns exec``), and unit tests can substitute a recording
fake.  Failures raise :class:`CommandError` with the command, its exit code and stderr, so a
rejected rule says which line the kernel refused.
"""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar, cast

T = TypeVar("T")


class CommandError(RuntimeError):
    """A host command failed; ``stderr`` carries the tool's own explanation."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"{' '.join(argv)} exited {returncode}: {stderr.strip()}")


@dataclass
class Runner:
    """Runs commands on the host or inside network namespace ``netns``."""

    netns: str | None = None
    #: Every command run, newest last (kept short): useful in logs and tests.
    history: list[str] = field(default_factory=list)

    def argv(self, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> str:
        """Run ``argv`` (feeding ``input`` on stdin); return stdout, raise on failure if ``check``."""
        full = self.argv(argv)
        self.history.append(" ".join(argv))
        del self.history[:-50]
        proc = subprocess.run(full, input=input, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise CommandError(full, proc.returncode, proc.stderr)
        return proc.stdout

    def ok(self, argv: Sequence[str]) -> bool:
        """True when ``argv`` exits 0 (for ``iptables -C`` style checks)."""
        return subprocess.run(self.argv(argv), capture_output=True, check=False).returncode == 0

    def read_sysctl(self, name: str) -> str:
        return self.run(["sysctl", "-n", name]).strip()

    def write_sysctl(self, name: str, value: str) -> None:
        self.run(["sysctl", "-q", "-w", f"{name}={value}"])


def netns_call(netns: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a short-lived thread that has joined network namespace ``netns``.

    Sockets keep the namespace they were created in, so this is how the userspace mode opens
    its listeners (and backend connections) inside ``--netns`` while the process — and its
    API connection — stay in the caller's namespace."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            fd = os.open(f"/var/run/netns/{netns}", os.O_RDONLY)
        except OSError as err:
            box["error"] = err
            return
        try:
            if _libc().setns(fd, _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns({netns})")
            box["value"] = fn()
        except BaseException as err:  # re-raised in the caller
            box["error"] = err
        finally:
            os.close(fd)

    thread = threading.Thread(target=target, name=f"netns {netns}")
    thread.start()
    thread.join()
    if "error" in box:
        raise cast(BaseException, box["error"])
    return cast(T, box["value"])


def netns_socket_factory(netns: str) -> Callable[[int], socket.socket]:
    """A ``socket_factory`` for :class:`~minik.proxy.userspace.UserspaceProxier` in ``netns``."""

    def factory(kind: int) -> socket.socket:
        return netns_call(netns, lambda: socket.socket(socket.AF_INET, kind))

    return factory


_CLONE_NEWNET = 0x40000000


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
