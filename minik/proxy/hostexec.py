"""Running the host's networking tools (iptables-restore, nft, ip, sysctl), optionally in a netns.

Every applier talks to the kernel only through a :class:`Runner`, for two reasons: tests
and benchmarks run the very same code inside a scratch network namespace (``Runner(netns=
"minik-test-1234")`` prefixes ``ip netns exec``), and unit tests can substitute a recording
fake.  Failures raise :class:`CommandError` with the command, its exit code and stderr, so a
rejected rule says which line the kernel refused.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field


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
