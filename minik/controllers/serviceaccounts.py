"""The ``default`` ServiceAccount of every namespace (upstream's ``serviceaccount`` controller).

Every pod runs as some ServiceAccount, ``default`` unless it names another, so every
namespace needs one called ``default`` -- the moment it is created, and again whenever
someone deletes it. This controller keeps it there: it watches namespaces and
ServiceAccounts, and for each namespace that is not being deleted and has no
``default`` ServiceAccount, creates one.

The key is the *namespace* name: a new namespace and a deleted ``default`` account both
lead to the same question ("does this namespace have its account?"), answered from the
informer caches. Creating it twice is harmless -- the second create gets
``AlreadyExists``, which means the job is done.
"""

from __future__ import annotations

import logging

from minik.client.controller import Controller, Result
from minik.client.errors import AlreadyExistsError, NotFoundError
from minik.client.events import EventRecorder
from minik.client.informer import SharedInformerFactory
from minik.client.kinds import NAMESPACES, SERVICEACCOUNTS
from minik.client.objects import Obj, metadata, name_of, namespace_of
from minik.client.rest import APIClient

log = logging.getLogger(__name__)

DEFAULT_NAME = "default"


class ServiceAccountsController:
    """Creates the ``default`` ServiceAccount in every namespace that lacks one."""

    name = "serviceaccount"

    def __init__(
        self,
        client: APIClient,
        factory: SharedInformerFactory,
        recorder: EventRecorder | None = None,
        *,
        workers: int = 1,
        names: tuple[str, ...] = (DEFAULT_NAME,),
    ) -> None:
        self.client = client
        self.names = names
        self.namespaces = factory.informer(NAMESPACES)
        self.accounts = factory.informer(SERVICEACCOUNTS)
        self.controller = Controller(self.name, self.reconcile, workers=workers)
        self.loops = [self.controller]
        self.namespaces.add_event_handler(
            on_add=self._enqueue_namespace, on_update=lambda old, new: self._enqueue_namespace(new)
        )
        self.accounts.add_event_handler(on_delete=self._account_deleted)

    def _enqueue_namespace(self, ns: Obj) -> None:
        self.controller.enqueue(name_of(ns))

    def _account_deleted(self, account: Obj) -> None:
        namespace = namespace_of(account)
        if namespace and name_of(account) in self.names:
            self.controller.enqueue(namespace)

    async def run(self) -> None:
        await self.controller.run(wait_for=[self.namespaces, self.accounts])

    async def reconcile(self, namespace: str) -> Result | None:
        ns = self.namespaces.get(namespace)
        if (
            ns is None
            or metadata(ns).get("deletionTimestamp")
            or ns.get("status", {}).get("phase") == "Terminating"
        ):
            return None  # gone or going: its accounts go with it
        for name in self.names:
            if self.accounts.get(f"{namespace}/{name}") is not None:
                continue
            account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}
            try:
                await self.client.create(SERVICEACCOUNTS, account, namespace=namespace)
                log.info("created ServiceAccount %s/%s", namespace, name)
            except AlreadyExistsError:
                pass  # the cache was behind; it is there
            except NotFoundError:
                return None  # the namespace went away meanwhile
        return None
