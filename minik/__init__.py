"""minik: a small, real Kubernetes control plane written to be read.

Each sub-package is one component of the Kubernetes architecture. ``api`` holds
what every component shares (errors, selectors, patches, defaults, validation);
``client`` is how components talk to the API server; the rest are the
components themselves, which never import one another.
"""

__version__ = "0.1.0"

#: The Kubernetes version minik's API imitates (reported by ``/version``).
KUBERNETES_VERSION = "v1.37.0"
