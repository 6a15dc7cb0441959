"""The control loops of ``minik-controller-manager``, one concept per module.

Every controller follows the same shape (see :mod:`minik.client.controller`
and ``docs/controllers.md``): informers fill a cache and map events to keys,
a work queue deduplicates the keys, and workers reconcile one key at a time
by comparing desired with actual state and writing the difference through the
API server. Each class takes ``(client, factory, recorder, *, workers=...)``
and has ``async def run()``.

==========================  ================================================
module                      controllers
==========================  ================================================
``replicaset``              ReplicaSet and ReplicationController replicas
``deployment``              Deployment rollouts (with ``rollout``)
``statefulset``             StatefulSet ordered, stable-identity pods
``daemonset``               one pod per eligible node
``job``                     run-to-completion pods
``endpoints``               core/v1 Endpoints of Services with a selector
``endpointslice``           EndpointSlices, and mirroring of hand-made Endpoints
``garbagecollector``        cascading deletion over ownerReferences
``namespace``               emptying and finalizing deleted namespaces
``nodelifecycle``           node health, condition taints, taint eviction
``nodeipam``                per-node pod CIDRs
``podgc``                   orphaned and surplus terminated pods
``loadbalancer``            LoadBalancer addresses from a local pool
``manager``                 the process: flags, leader election, /metrics
==========================  ================================================
"""
