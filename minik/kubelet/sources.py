"""Where the kubelet reads the API objects a pod refers to (ConfigMaps, Secrets, tokens).

Env vars and volumes name other objects: ``configMapKeyRef``, ``secretKeyRef``, configMap
and secret volumes, projected service-account tokens. The code that turns a pod into
containers (:mod:`.envvars`, :mod:`.volumes`) reads them through this small protocol, so it
works the same against the kubelet's informer caches and against plain dicts in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class ObjectSource(Protocol):
    """Read access to the objects a pod may refer to; ``None`` means "does not exist"."""

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None: ...

    def service_account_token(
        self, namespace: str, service_account: str, *, audience: str | None, expiration_seconds: int
    ) -> str | None: ...


@dataclass
class DictSource:
    """An :class:`ObjectSource` over dicts keyed by ``(namespace, name)`` — for tests and tools."""

    config_maps: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def config_map(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.config_maps.get((namespace, name))

    def secret(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.secrets.get((namespace, name))

    def service_account_token(
        self, namespace: str, service_account: str, *, audience: str | None, expiration_seconds: int
    ) -> str | None:
        return self.tokens.get((namespace, service_account))
