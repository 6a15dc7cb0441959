"""``/healthz``, ``/livez`` and ``/readyz``: named checks, reported the way upstream does.

Each endpoint runs a list of named checks. All passing → ``200 ok``; any failing
→ ``500`` and the list, so a probe, a load balancer or ``kubectl get --raw
'/readyz?verbose'`` sees what is wrong::

    [+]ping ok
    [-]etcd failed: reason withheld
    [+]watch-cache ok
    readyz check failed

``?verbose`` lists the checks on success too (ending ``readyz check passed``);
``?exclude=<name>`` skips a check (reported as ``excluded: ok``). As upstream, the
reason a check failed is logged, not sent: health endpoints need no credentials.

Which checks each endpoint runs:

* ``ping`` (all): the server answers at all;
* ``etcd`` (all): etcd answers a read within :data:`ETCD_TIMEOUT` seconds;
* ``watch-cache`` (readyz): the watch cache is loaded and the start-up objects
  exist, so lists and watches can be served.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minik.apiserver.rest import Storage

log = logging.getLogger(__name__)

#: How long the etcd check waits for an answer before it counts as failed.
ETCD_TIMEOUT = 2.0

#: A check returns None when healthy, else the reason (logged, never sent).
Check = Callable[[], Awaitable[str | None]]


@dataclass
class Report:
    """The outcome of one endpoint's checks, in order."""

    results: list[tuple[str, str | None]] = field(default_factory=list)  # (name, failure)
    excluded: list[str] = field(default_factory=list)
    unknown_excludes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(failure is None for _, failure in self.results)

    def render(self, endpoint: str, verbose: bool) -> str:
        """The response body: ``ok``, or one line per check and a verdict."""
        if self.passed and not verbose:
            return "ok"
        lines = []
        for name, failure in self.results:
            lines.append(f"[+]{name} ok" if failure is None else f"[-]{name} failed: reason withheld")
        lines += [f"[+]{name} excluded: ok" for name in self.excluded]
        for name in self.unknown_excludes:
            lines.append(f'warn: some health checks cannot be excluded: no matches for "{name}"')
        lines.append(f"{endpoint} check {'passed' if self.passed else 'failed'}")
        return "\n".join(lines) + "\n"


async def run_checks(checks: Sequence[tuple[str, Check]], exclude: Sequence[str] = ()) -> Report:
    """Run every check not excluded, all at once (a slow etcd costs one timeout, not several)."""
    names = {name for name, _ in checks}
    report = Report(unknown_excludes=[n for n in exclude if n not in names])
    chosen = [(name, check) for name, check in checks if name not in exclude]
    report.excluded = [name for name, _ in checks if name in exclude]
    failures = await asyncio.gather(*(check() for _, check in chosen))
    report.results = [(name, failure) for (name, _), failure in zip(chosen, failures, strict=True)]
    return report


class Checks:
    """The checks of one API server, by endpoint."""

    def __init__(self, storage: Storage, ready: asyncio.Event) -> None:
        # The storage object is made before start-up connects it to etcd; it is read
        # at each check, so a check sees the connection once it exists.
        self.storage = storage
        self.ready = ready
        common: list[tuple[str, Check]] = [("ping", self._ping), ("etcd", self._etcd)]
        self.by_endpoint: dict[str, list[tuple[str, Check]]] = {
            "healthz": common,
            "livez": common,
            "readyz": [*common, ("watch-cache", self._watch_cache)],
        }

    async def run(self, endpoint: str, exclude: Sequence[str] = ()) -> Report:
        report = await run_checks(self.by_endpoint[endpoint], exclude)
        for name, failure in report.results:
            if failure is not None:
                log.warning("%s check %s failed: %s", endpoint, name, failure)
        return report

    async def _ping(self) -> str | None:
        return None

    async def _etcd(self) -> str | None:
        client = self.storage.etcd
        if client is None:  # before start-up connected it
            return "not connected to etcd yet"
        try:
            await asyncio.wait_for(client.current_revision(), ETCD_TIMEOUT)
        except TimeoutError:
            return f"etcd did not answer within {ETCD_TIMEOUT}s"
        except Exception as e:  # every way etcd can fail is a failed check
            return str(e)
        return None

    async def _watch_cache(self) -> str | None:
        return None if self.ready.is_set() else "the watch cache is not loaded yet"
