"""The admission chain: plugins that see every write after it is decoded and before it is stored.

Upstream's API server runs each create, update and delete through a list of *admission
plugins*. A plugin may read other objects (that is what sets admission apart from
validation, which sees one object alone), and comes in two flavours:

* **mutating** plugins run first and may change the object: LimitRanger fills in a
  container's default requests and limits; Priority turns a class name into a number;
* **validating** plugins run after the object was defaulted and validated, on its final
  form, and may only refuse it (403 Forbidden): LimitRanger checks min/max, and
  ResourceQuota charges the object to its namespace's quotas -- so it runs last, when
  nothing else can refuse the write any more.

A plugin says which writes it cares about (``handles``: by group, kind and operation);
the :class:`Chain` runs the mutating ones, in order, then later the validating ones.
``minik.apiserver.rest.Storage`` calls the chain at the one spot every write passes.
Plugins read other objects through the API server's storage -- its watch cache for
lists, etcd for a fresh copy -- and a plugin that must *write* (quota charges its
quotas) does so through the same storage, with the same optimistic concurrency as any
client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from minik.api import errors
from minik.apiserver.registry import ResourceType

Obj = dict[str, Any]

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"


@dataclass
class Attributes:
    """One write, as admission plugins see it (upstream's ``admission.Attributes``)."""

    operation: str  # CREATE, UPDATE or DELETE
    group: str
    version: str
    kind: str
    resource: str  # the plural, as in the URL
    namespace: str | None
    name: str
    obj: Obj  # the object to store (plugins in the mutating phase may change it)
    old: Obj | None = None  # the stored object (UPDATE, DELETE)
    subresource: str | None = None
    dry_run: bool = False

    @classmethod
    def of(
        cls,
        operation: str,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: Obj,
        old: Obj | None = None,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> Attributes:
        """The attributes of a write to a resource of the registry."""
        return cls(
            operation,
            rt.group,
            rt.version,
            rt.kind,
            rt.plural,
            namespace,
            name,
            obj,
            old,
            subresource,
            dry_run,
        )

    def is_kind(self, group: str, kind: str) -> bool:
        return (self.group, self.kind) == (group, kind)


class MutatingPlugin(Protocol):
    """A plugin that may change the object (it runs before defaulting and validation)."""

    name: str

    def handles(self, attrs: Attributes) -> bool: ...

    async def admit(self, attrs: Attributes) -> None: ...


class ValidatingPlugin(Protocol):
    """A plugin that may only refuse (it runs on the final, validated object)."""

    name: str

    def handles(self, attrs: Attributes) -> bool: ...

    async def validate(self, attrs: Attributes) -> None: ...


@dataclass(frozen=True)
class Chain:
    """The plugins of one API server, in the order they run."""

    mutating: Sequence[MutatingPlugin] = ()
    validating: Sequence[ValidatingPlugin] = ()

    async def admit(self, attrs: Attributes) -> None:
        """Run the mutating plugins that handle this write; the first refusal wins."""
        for plugin in self.mutating:
            if plugin.handles(attrs):
                await plugin.admit(attrs)

    async def validate(self, attrs: Attributes) -> None:
        """Run the validating plugins that handle this write; the first refusal wins."""
        for plugin in self.validating:
            if plugin.handles(attrs):
                await plugin.validate(attrs)


def forbidden(attrs: Attributes, message: str) -> errors.APIError:
    """403 ``<resource> "<name>" is forbidden: <message>``, as upstream's ``NewForbidden``."""
    resource = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    details: Obj = {"kind": attrs.resource}
    if attrs.group:
        details["group"] = attrs.group
    if attrs.name:
        details["name"] = attrs.name
    return errors.APIError(
        403, "Forbidden", f'{resource} "{attrs.name}" is forbidden: {message}', details=details
    )


__all__ = [
    "CREATE",
    "DELETE",
    "UPDATE",
    "Attributes",
    "Chain",
    "MutatingPlugin",
    "ValidatingPlugin",
    "forbidden",
]
