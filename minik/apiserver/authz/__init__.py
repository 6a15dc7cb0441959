"""Authorization: who may do what (issue 15).

* ``attributes.py`` -- a request's method and URL → what it asks to do;
* ``impersonation.py`` -- acting as someone else (``kubectl --as``), if allowed;
* ``authorizer.py`` -- the chain ``--authorization-mode`` configures (``AlwaysAllow``,
  ``RBAC``), with RBAC read from the API server's own watch cache;
* ``escalation.py`` -- the write rules of the RBAC kinds: you cannot grant what you lack;
* ``aggregation.py`` -- ClusterRoles whose rules are the union of others';
* ``bootstrap.py`` -- upstream's default roles and bindings, created at start;
* ``reviews.py`` -- SubjectAccessReview and friends (``kubectl auth can-i``).

The rules themselves are pure and live in ``minik.api.rbac``.
"""
