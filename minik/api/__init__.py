"""Everything about API objects that more than one component needs.

Objects are plain JSON dictionaries in exactly the Kubernetes wire shape; this
package holds the rules about them: the catalogue of built-in kinds and their
URLs (``kinds``, read by the API server and by every client), Status errors
(``errors``), field errors (``field``), label and field selectors
(``selectors``), patches (``patch``), defaults (``defaults``) and validation
(``validation``); and the scheduling rules that the scheduler and controllers
must agree on: which nodes a pod's node selector and affinity allow
(``nodeaffinity``) and which taints its tolerations tolerate, for how long
(``taints``).

It is the bottom layer: it imports no other minik package, so the API server,
the client and every component can import it (the contracts in ``.importlinter``
check this).
"""
