"""How minik's components talk to the API server — client-go, in Python.

Every component (controller-manager, scheduler, kubelet, proxy, dns) is an API
client built from the same pieces, each in its own module:

========================  =====================================================
``kubeconfig``            kubeconfig / flags → :class:`ClientConfig`
``rest``                  :class:`APIClient`: typed verbs + watch over httpx
``errors``                one exception per ``Status`` reason
``kinds``                 kind → URL (:mod:`minik.api.kinds`, re-exported)
``objects``               reading keys, owners, times off plain-dict objects
``store``                 :class:`Indexer`: the informer cache with indexes
``informer``              :class:`Informer`: list → watch → relist-and-diff
``workqueue``             :class:`WorkQueue`: dedup, one worker per key, backoff
``controller``            :class:`Controller`: reconcile(key) → :class:`Result`
``leaderelection``        :class:`LeaderElector` on coordination/v1 Leases
``events``                :class:`EventRecorder`: aggregated, fire-and-forget
``clock``                 injectable time; :class:`FakeClock` for tests
``process``               the process shell: flags + environment, logging, signals
========================  =====================================================

The shape of a controller built from them::

    client = APIClient(load_kubeconfig())
    factory = SharedInformerFactory(client)
    pods = factory.informer(PODS)
    replicasets = factory.informer(REPLICASETS)

    async def reconcile(key: str) -> Result | None:
        rs = replicasets.get(key)          # from the cache; never mutate it
        if rs is None:
            return None                    # deleted: nothing to do
        ...                                # compare, then write through `client`

    ctrl = Controller("replicaset", reconcile, workers=5)
    ctrl.watch(replicasets)
    ctrl.watch_owned(pods, "ReplicaSet")
    factory.start()
    await ctrl.run(wait_for=[pods, replicasets])
"""

from minik.client.clock import REAL_CLOCK, Clock, FakeClock, RealClock
from minik.client.controller import Controller, Reconciler, Result
from minik.client.errors import (
    AlreadyExistsError,
    APIConnectionError,
    APIError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InternalServerError,
    InvalidError,
    MethodNotAllowedError,
    NotFoundError,
    ServerTimeoutError,
    ServiceUnavailableError,
    TooManyRequestsError,
    UnauthorizedError,
)
from minik.client.events import NORMAL, WARNING, EventRecorder
from minik.client.informer import Informer, SharedInformerFactory, wait_for_cache_sync
from minik.client.kinds import (
    CONFIGMAPS,
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
    PODS,
    REPLICASETS,
    REPLICATIONCONTROLLERS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
    ResourceRef,
)
from minik.client.kubeconfig import ClientConfig, KubeconfigError, load_kubeconfig
from minik.client.leaderelection import LeaderElector
from minik.client.objects import Obj, deepcopy, object_key, split_key
from minik.client.rest import APIClient, PatchType, WatchEvent
from minik.client.store import Indexer
from minik.client.workqueue import ShutDown, WorkQueue

__all__ = [
    "CONFIGMAPS",
    "DAEMONSETS",
    "DEPLOYMENTS",
    "ENDPOINTS",
    "ENDPOINTSLICES",
    "EVENTS",
    "JOBS",
    "LEASES",
    "NAMESPACES",
    "NODES",
    "NORMAL",
    "PERSISTENTVOLUMECLAIMS",
    "PODS",
    "REAL_CLOCK",
    "REPLICASETS",
    "REPLICATIONCONTROLLERS",
    "SECRETS",
    "SERVICEACCOUNTS",
    "SERVICES",
    "STATEFULSETS",
    "WARNING",
    "APIClient",
    "APIConnectionError",
    "APIError",
    "AlreadyExistsError",
    "BadRequestError",
    "ClientConfig",
    "Clock",
    "ConflictError",
    "Controller",
    "EventRecorder",
    "FakeClock",
    "ForbiddenError",
    "GoneError",
    "Indexer",
    "Informer",
    "InternalServerError",
    "InvalidError",
    "KubeconfigError",
    "LeaderElector",
    "MethodNotAllowedError",
    "NotFoundError",
    "Obj",
    "PatchType",
    "RealClock",
    "Reconciler",
    "ResourceRef",
    "Result",
    "ServerTimeoutError",
    "ServiceUnavailableError",
    "SharedInformerFactory",
    "ShutDown",
    "TooManyRequestsError",
    "UnauthorizedError",
    "WatchEvent",
    "WorkQueue",
    "deepcopy",
    "load_kubeconfig",
    "object_key",
    "split_key",
    "wait_for_cache_sync",
]
