"""What a client is told when etcd fails a request (upstream's ``storage.Interpret*Error``).

The storage layer raises :class:`~minik.apiserver.etcd.EtcdError` subclasses; this
module turns each into the ``Status`` a Kubernetes client knows how to act on,
so an etcd failure is never answered with a bare 500:

* etcd down, restarting or without a leader → **503 ServiceUnavailable** with
  ``Retry-After``: nothing was written, try again shortly;
* etcd did not answer in time → **504 Timeout** with ``Retry-After``: a write
  may or may not have been applied (a retried create then meets 409
  AlreadyExists, a retried update simply applies again);
* an object larger than etcd accepts per request (``--max-request-bytes``,
  1.5 MiB by default) → **413 RequestEntityTooLarge**, as for a body over the
  API server's own 3 MiB limit;
* anything else → 500 InternalError naming etcd's message.
"""

from __future__ import annotations

from minik.api import errors
from minik.apiserver import etcd

#: Seconds a client is asked to wait before retrying while etcd is unreachable.
RETRY_AFTER_SECONDS = 1


def to_api_error(error: etcd.EtcdError) -> errors.APIError:
    """The ``Status`` to answer for an etcd failure."""
    if isinstance(error, etcd.RequestTooLargeError):
        return errors.entity_too_large("etcdserver: request is too large")
    if isinstance(error, etcd.UnavailableError):
        retry = {"retryAfterSeconds": RETRY_AFTER_SECONDS}
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if error.timed_out:
            return errors.APIError(
                504,
                "Timeout",
                "Timeout: etcd did not answer in time; the request may or may not have been applied",
                details=retry,
                headers=headers,
            )
        return errors.APIError(
            503,
            "ServiceUnavailable",
            "the storage backend (etcd) is unavailable; try again shortly",
            details=retry,
            headers=headers,
        )
    return errors.internal(str(error))
