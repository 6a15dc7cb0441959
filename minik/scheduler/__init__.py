"""minik-scheduler: assigns pending pods to nodes, the way kube-scheduler does.

One concept per module (``docs/scheduler.md`` walks through the cycle)::

    main.py           flags, informers, leader election, /healthz /metrics
    eventhandlers.py  informer events -> cache (assigned pods, nodes) and queue (pending pods)
    queue.py          activeQ / backoffQ / unschedulable pods, moved back by cluster events
    scheduler.py      the loop: pop -> snapshot -> filter -> score -> assume -> reserve -> bind
    cache.py          nodes + placed pods (incl. assumed ones), incremental snapshots, indexes
    diagnosis.py      "0/3 nodes are available: ..." exactly as upstream words it
    preemption.py     which lower-priority pods to evict, and on which node (DefaultPreemption)
    config.py         KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1)
    framework/        PodInfo/NodeInfo/Status, the extension points, the plugin runtime,
                      the nominator (room held for a preemptor while its victims terminate)
    plugins/          the in-tree plugins (NodeResourcesFit, TaintToleration, InterPodAffinity, ...)
    metrics.py        Prometheus text metrics and the status endpoint

Pods are ordered by ``spec.priority`` (the API server resolves it from the pod's
PriorityClass); a pod that fits nowhere may preempt pods of lower priority
(``plugins/defaultpreemption.py``).
"""
