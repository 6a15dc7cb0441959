"""minik-scheduler: assigns pending pods to nodes, the way kube-scheduler does.

One concept per module (``docs/scheduler.md`` walks through the cycle)::

    main.py           flags, informers, leader election, /healthz /metrics
    eventhandlers.py  informer events -> cache (assigned pods, nodes) and queue (pending pods)
    queue.py          activeQ / backoffQ / unschedulable pods, moved back by cluster events
    scheduler.py      the loop: pop -> snapshot -> filter -> score -> assume -> reserve -> bind
    cache.py          nodes + placed pods (incl. assumed ones), incremental snapshots, indexes
    diagnosis.py      "0/3 nodes are available: ..." exactly as upstream words it
    config.py         KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1)
    framework/        PodInfo/NodeInfo/Status, the extension points, the plugin runtime
    plugins/          the in-tree plugins (NodeResourcesFit, TaintToleration, InterPodAffinity, ...)
    metrics.py        Prometheus text metrics and the status endpoint

Priority classes and preemption are not implemented yet: pods are ordered by
``spec.priority``, but a pending high-priority pod never evicts others.
"""
