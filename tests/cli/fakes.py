"""A :class:`Session` that needs no server: discovery answers from a fixed list.

Name resolution, target parsing and the printers run their real code on it; only the
discovery documents (``/api``, ``/apis/...``) are replaced, by what a small cluster with
one custom resource (``widgets.example.com``) would publish.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from rich.console import Console

from minik.cli.session import APIResource, Session
from minik.client import kinds
from minik.client.kinds import ResourceRef

WIDGETS = ResourceRef("example.com", "v1", "widgets", "Widget", True, ("wd",))
GADGETS = ResourceRef("example.com", "v1", "gadgets", "Gadget", False)


def served() -> list[APIResource]:
    def res(ref: ResourceRef, *categories: str) -> APIResource:
        return APIResource(ref, ref.kind.lower(), ("get", "list", "watch"), categories)

    return [
        res(kinds.PODS, "all"),
        res(kinds.SERVICES, "all"),
        res(kinds.CONFIGMAPS),
        res(kinds.NODES),
        res(kinds.DEPLOYMENTS, "all"),
        res(WIDGETS, "all"),
        res(GADGETS),
    ]


def text_console() -> Console:
    """A console that writes plain text to a buffer (``console.file.getvalue()``)."""
    return Console(file=io.StringIO(), width=200, soft_wrap=True, highlight=False, color_system=None)


@dataclass
class OfflineSession(Session):
    namespace_flag: str | None = "team"
    console: Console = field(default_factory=text_console)
    err: Console = field(default_factory=text_console)
    discovery_calls: int = 0

    async def discovery(self) -> list[APIResource]:
        self.discovery_calls += 1
        return served()

    def out(self) -> str:
        file = self.console.file
        assert isinstance(file, io.StringIO)
        return file.getvalue()
