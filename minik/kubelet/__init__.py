"""minik-kubelet: the node agent that runs the pods bound to its node, on Docker.

It registers its Node and heartbeats a Lease, watches only the pods bound to it, and
drives each one through a pod worker; it reaches the cluster only through
:mod:`minik.client` and a container runtime only through :mod:`minik.kubelet.runtime`.
Read in this order (docs/kubelet.md follows a pod, with the Docker calls):

===============  ===============================================================
``kubelet``      the control loop: one worker per pod, driven by the API, Docker, relists
``pods``         the steps that bring a pod up on a runtime and take it down
``podconfig``    pod object → runtime configs: hostname, DNS, hosts, resources, security
``envvars``      a container's environment, as upstream computes it
``volumes``      what each volume type becomes on a Docker node
``atomicdir``    replacing a directory's content atomically (configMap/secret volumes)
``sources``      the ConfigMaps, Secrets and tokens a pod refers to
``probes``       startup, liveness and readiness probes
``status``       what the runtime reports → the pod's ``status`` (pure)
``node``         the Node: registration, status, the Lease heartbeat
``ipam``         pod IP addresses, persisted across restarts
``images``       building the images minik needs locally
``server``       the kubelet's HTTP API: health, pods, logs, exec, stats
``runtime``      the CRI-like runtime protocol; Docker and a fake for scale tests
``main``         the ``minik-kubelet`` process (one node, or many fake ones)
===============  ===============================================================
"""
