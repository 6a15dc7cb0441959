"""The control loops of ``minik-controller-manager``, one concept per module.

Every controller follows the same shape (see :mod:`minik.client.controller`
and ``docs/controllers.md``): informers fill a cache and map events to keys,
a work queue deduplicates the keys, and workers reconcile one key at a time
by comparing desired with actual state and writing the difference through the
API server. Each class takes ``(client, factory, recorder, *, workers=...)``
and has ``async def run()`` and ``loops`` (see :mod:`minik.controllers.registry`).

==========================  ================================================
module                      controllers
==========================  ================================================
``replicaset``              ReplicaSet and ReplicationController replicas
``deployment``              Deployment rollouts (with ``rollout``)
``statefulset``             StatefulSet ordered, stable-identity pods
``daemonset``               one pod per eligible node
``job``                     run-to-completion pods
``cronjob``                 Jobs on a cron schedule
``disruption``              PodDisruptionBudget status (what eviction reads)
``endpoints``               core/v1 Endpoints of Services with a selector
``endpointslice``           EndpointSlices, and mirroring of hand-made Endpoints
``garbagecollector``        cascading deletion over ownerReferences
``namespace``               emptying and finalizing deleted namespaces
``nodelifecycle``           node health, condition taints, taint eviction
``evictionlimits``          how fast each zone's nodes may be tainted
                            ``NoExecute`` (the rules ``nodelifecycle`` applies)
``nodeipam``                per-node pod CIDRs
``podgc``                   orphaned and surplus terminated pods
``loadbalancer``            LoadBalancer addresses from a local pool
``resourcequota``           ResourceQuota ``status.used`` recomputed from
                            what exists
``serviceaccounts``         the ``default`` ServiceAccount of each namespace
``registry``                the list of controllers and how each is built
``manager``                 the process: flags, leader election, /metrics
==========================  ================================================

The rooms the controllers share (each with its own tests in ``tests/controllers``):

==========================  ================================================
module                      what it holds
==========================  ================================================
``pods``                    pod readiness, availability, deletion ranking
``ownership``               controller references, adopting and releasing
``expectations``            creations/deletions asked for but not yet seen
``podcontrol``              creating and deleting pods (events, slow start)
``status``                  status subresource writes, conditions
``revisions``               template hashes, ControllerRevisions
``servicepods``             which pods a Service selects (both endpoint
                            controllers)
``rollout``                 Deployment rollout arithmetic
==========================  ================================================

Generic object accessors (``spec_of``, ``labels_of``, ``get_condition``, …)
live beside ``name_of`` in :mod:`minik.client.objects`.
"""
