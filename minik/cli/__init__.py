"""minikctl: kubectl-like verbs over the Kubernetes API, plus views made for learning.

The top layer: it talks to the API server only through :mod:`minik.client`, like any
other client (``inspect service`` also borrows the proxy's chain names to read the
kernel's rules), and nothing in minik imports it.  One module per family of verbs:

================  ============================================================
``main``          the ``minikctl`` command line: parses argv, dispatches a verb
``session``       one invocation's config, clients and discovery
``targets``       what positional arguments name (``TYPE NAME``, ``TYPE/NAME``)
``get``           ``get``, printed by the server (``Table``) or as data
``describe``      ``describe``: one object as a summary, then its Events
``apply``         ``apply -f`` (server-side apply) and ``create -f``
``delete``        ``delete`` by name, selector, ``--all`` or manifest
``metadata``      ``label`` and ``annotate``
``workloads``     ``scale``, ``rollout``, ``expose``, ``run``
``podio``         ``logs`` and ``exec``, through the API server to the kubelet
``info``          ``explain``, ``api-resources``, ``cluster-info``, ``version``
``inspect``       ``inspect pod|service``: what the kernel and the runtime hold
``printers``      tables, YAML/JSON/name output, status colours
``errors``        what went wrong and what to do next, never a traceback
================  ============================================================

``minikctl cluster up|down|status`` hands over to :mod:`minik.cluster`.  docs/minikctl.md is
the user's guide.
"""
