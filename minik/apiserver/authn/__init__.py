"""Authentication: who sent a request (issue 15).

* ``chain.py`` -- the authenticator chain (client certificate, then bearer tokens) and
  its picture; every user it finds joins ``system:authenticated``;
* ``x509.py`` -- client certificates signed by ``--client-ca-file`` (CN = user, O = groups);
* ``tls.py`` -- how the certificate gets from the TLS handshake to the request (uvicorn);
* ``serviceaccount.py`` -- ServiceAccount tokens: JWTs the API server signs and checks;
* ``endpoints.py`` -- TokenRequest (``kubectl create token``), TokenReview and
  SelfSubjectReview (``kubectl auth whoami``);
* ``setup.py`` -- the chain the API server's flags describe.

The user is a :class:`minik.api.identity.UserInfo`; the API server puts it on
``request.state.user`` for the authorizer.
"""
