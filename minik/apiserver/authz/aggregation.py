"""ClusterRole aggregation: ``admin``, ``edit`` and ``view`` are the union of other roles.

A ClusterRole with an ``aggregationRule`` has its ``rules`` written for it: the rules of
every ClusterRole its label selectors match (``minik.api.rbac.aggregate``). Install a
CustomResource's operator with a ClusterRole labelled
``rbac.authorization.k8s.io/aggregate-to-view: "true"``, and everyone who may ``view`` a
namespace can read the new kind there.

Upstream runs this as a controller in kube-controller-manager. minik runs it inside the
API server, as a small loop fed by the watch cache, for one reason: the bootstrap roles
``admin``/``edit``/``view`` are *only* aggregation, so with the loop elsewhere a cluster
whose controller-manager is not (yet) running would have an ``admin`` role that grants
nothing -- and RBAC would deny what the cluster's own docs promise. The rules themselves
are pure (``minik.api.rbac``), so a controller could take the loop over unchanged.

The loop is level-triggered: any change to any ClusterRole → recompute every aggregated
role from the cache and write the ones whose rules differ. Its own writes come back as
changes and settle at once (nothing differs any more); chains (``view`` → ``edit`` →
``admin``) settle in as many rounds as they are long.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from minik.api import errors, rbac
from minik.apiserver.registry import ResourceType
from minik.apiserver.rest import Storage
from minik.apiserver.watchcache import Closed

log = logging.getLogger(__name__)

Obj = dict[str, Any]


async def reconcile_all(storage: Storage, rt: ResourceType) -> int:
    """Write every aggregated ClusterRole whose rules are out of date; how many were written."""
    cache = storage.cache.cache(rt)
    roles = [e.obj for e in cache.objects.values()]
    written = 0
    for role in roles:
        wanted = rbac.aggregate(role, roles)
        if wanted is None or wanted == (role.get("rules") or []):
            continue
        name = str(role["metadata"]["name"])

        def fill(current: Obj) -> Obj:
            rules = rbac.aggregate(current, [e.obj for e in cache.objects.values()])
            if rules is not None:
                current["rules"] = rules
            return current

        try:
            await storage.guaranteed_update(rt, None, name, fill)
            written += 1
        except errors.APIError as e:  # deleted meanwhile, or invalid: the next change retries
            log.warning("could not aggregate ClusterRole %s: %s", name, e.message)
    return written


async def run(storage: Storage, rt: ResourceType) -> None:
    """Keep aggregated ClusterRoles up to date until cancelled."""
    while True:
        registered = storage.cache.register(
            rt, namespace=None, predicate=lambda _: True, since=None, bookmarks=False
        )
        assert registered is not None  # since=None never answers "too old"
        watcher, _ = registered
        try:
            await reconcile_all(storage, rt)
            while True:
                closed = isinstance(await watcher.queue.get(), Closed)
                while not closed and not watcher.queue.empty():  # a burst of changes: one round
                    closed = isinstance(watcher.queue.get_nowait(), Closed)
                if closed:
                    break  # the cache reloaded, or we fell behind: register again
                await reconcile_all(storage, rt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ClusterRole aggregation failed; starting over")
            await asyncio.sleep(1.0)
        finally:
            watcher.close()
