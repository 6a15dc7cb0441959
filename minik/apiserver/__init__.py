"""minik-apiserver: the only door into the cluster, and the only process that talks to etcd.

Everything else — minikctl, controllers, the scheduler, kubelets, the proxy, DNS — reads and
writes through it over HTTP (with :mod:`minik.client`), never by importing this package.  It
validates and defaults objects with the shared rules of :mod:`minik.api`, stores them in
etcd (:mod:`minik.apiserver.etcd`, the one module that imports the etcd client), and tells
watchers what changed (:mod:`minik.apiserver.watchcache`).  docs/apiserver.md maps each
concept to its module.
"""
