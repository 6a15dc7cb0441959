"""Everything about API objects that more than one component needs.

Objects are plain JSON dictionaries in exactly the Kubernetes wire shape; this
package holds the rules about them: Status errors (``errors``), field errors
(``field``), label and field selectors (``selectors``), patches (``patch``),
defaults (``defaults``) and validation (``validation``); and the scheduling
rules that the scheduler and controllers must agree on: which nodes a pod's
node selector and affinity allow (``nodeaffinity``) and which taints its
tolerations tolerate, for how long (``taints``).
"""
