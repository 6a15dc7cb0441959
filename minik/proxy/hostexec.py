"""Running the host's networking tools (iptables-restore, nft, ip, sysctl), optionally in a netns.

Every applier talks to the kernel only through a :class:`Runner`, for two reasons: tests
and benchmarks run the very same code inside a scratch network namespace (``Runner(netns=
"minik-test-1234")`` prefixes ``ip netns exec``), and unit tests can substitute a recording
fake.  Failures raise :class:`CommandError` with the command, its exit code and stderr, so a
rejected rule says which line the kernel refused.

``nft`` scripts go through :meth:`Runner.nft`, which uses libnftables in-process (ctypes)
when the library is there and ``nft -f -`` otherwise.  Same parser, same single atomic
transaction per script; what it saves is a fork/exec of ``nft`` (and of ``ip netns exec``,
which remounts /sys) on every sync — tens of milliseconds of the network programming
latency.  The libnftables context is long-lived, and every call is made from a thread inside
the target namespace, so the context's netlink socket (and any socket it reopens) always
belongs to the right namespace.
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


class LibNftables:
    """One libnftables context: ``run(script)`` is ``nft -f -`` without the process."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        ctx = lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
        if not ctx:
            raise OSError("nft_ctx_new failed")
        self._ctx: int = ctx
        lib.nft_ctx_buffer_output(ctx)
        lib.nft_ctx_buffer_error(ctx)

    @staticmethod
    def load() -> ctypes.CDLL | None:
        """The library with its prototypes declared, or None when it is not installed."""
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError:
            return None
        ptr, s = ctypes.c_void_p, ctypes.c_char_p
        for name, restype, argtypes in (
            ("nft_ctx_new", ptr, [ctypes.c_uint32]),
            ("nft_ctx_free", None, [ptr]),
            ("nft_ctx_buffer_output", ctypes.c_int, [ptr]),
            ("nft_ctx_buffer_error", ctypes.c_int, [ptr]),
            ("nft_ctx_get_output_buffer", s, [ptr]),
            ("nft_ctx_get_error_buffer", s, [ptr]),
            ("nft_run_cmd_from_buffer", ctypes.c_int, [ptr, s]),
        ):
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        return lib

    def run(self, script: str) -> str:
        """Apply ``script`` as one transaction; raise :class:`CommandError` on failure."""
        rc = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
        out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode(errors="replace")
        err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise CommandError(["libnftables", "-f", "-"], rc, err or "nft_run_cmd_from_buffer failed")
        return out

    def close(self) -> None:
        if self._ctx:
            self._lib.nft_ctx_free(self._ctx)
            self._ctx = 0


_LIBNFT: list[ctypes.CDLL | None] = []


def _libnftables() -> ctypes.CDLL | None:
    if not _LIBNFT:
        _LIBNFT.append(LibNftables.load())
    return _LIBNFT[0]


@dataclass
class Runner:
    """Runs commands on the host or inside network namespace ``netns``."""

    netns: str | None = None
    #: Every command run, newest last (kept short): useful in logs and tests.
    history: list[str] = field(default_factory=list)
    #: Apply nft scripts with libnftables in-process when it is installed (else ``nft -f -``).
    libnftables: bool = True
    _nft_ctx: LibNftables | None = field(default=None, init=False, repr=False, compare=False)
    _nft_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def nft(self, script: str) -> str:
        """Apply an ``nft -f`` script as one atomic transaction (in ``netns`` if set)."""
        self.history.append("nft -f -")
        del self.history[:-50]
        lib = _libnftables() if self.libnftables else None
        if lib is None:
            return self.run(["nft", "-f", "-"], input=script)
        with self._nft_lock:
            return self._in_netns(lambda: self._nft_context(lib).run(script))

    def _nft_context(self, lib: ctypes.CDLL) -> LibNftables:
        if self._nft_ctx is None:
            self._nft_ctx = LibNftables(lib)
        return self._nft_ctx

    def _in_netns(self, fn: Callable[[], T]) -> T:
        return netns_call(self.netns, fn) if self.netns else fn()

    def close(self) -> None:
        """Free the libnftables context (a later :meth:`nft` makes a new one)."""
        with self._nft_lock:
            if self._nft_ctx is not None:
                ctx, self._nft_ctx = self._nft_ctx, None
                self._in_netns(ctx.close)

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
    """A ``socket_factory`` for :class:`~minik.proxy.userspace.UserspaceApplier` in ``netns``."""

    def factory(kind: int) -> socket.socket:
        return netns_call(netns, lambda: socket.socket(socket.AF_INET, kind))

    return factory


_CLONE_NEWNET = 0x40000000


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)
