"""Resource addressing for clients: the catalogue of :mod:`minik.api.kinds`, re-exported.

Components have always found ``PODS``, ``lookup`` and :class:`ResourceRef` here, next to the
REST client that uses them; the catalogue itself lives one layer down, in
:mod:`minik.api.kinds`, so that the API server reads the very same list.
"""

from __future__ import annotations

from minik.api.kinds import (
    BUILTIN,
    CONFIGMAPS,
    CONTROLLERREVISIONS,
    CRONJOBS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    EVENTS,
    JOBS,
    LEASES,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
    ResourceRef,
    for_kind,
    for_object,
    lookup,
    resolve,
)
from minik.client.objects import group_of

__all__ = [
    "BUILTIN",
    "CONFIGMAPS",
    "CONTROLLERREVISIONS",
    "CRONJOBS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "ENDPOINTSLICES",
    "EVENTS",
    "JOBS",
    "LEASES",
    "NAMESPACES",
    "NODES",
    "PERSISTENTVOLUMECLAIMS",
    "PERSISTENTVOLUMES",
    "PODS",
    "REPLICASETS",
    "REPLICATIONCONTROLLERS",
    "SECRETS",
    "SERVICEACCOUNTS",
    "SERVICES",
    "STATEFULSETS",
    "ResourceRef",
    "for_kind",
    "for_object",
    "group_of",
    "lookup",
    "resolve",
]
