"""The real kubectl reading ``/openapi/v2`` (gnostic protobuf, ``minik/apiserver/swagger_pb.py``).

kubectl reads v2 only where v3 does not serve: ``kubectl explain
--output=plaintext-openapiv2`` is one such place, and it decodes the answer as protobuf
whatever its Content-Type says, so a JSON document there would fail.
"""

from __future__ import annotations

import pytest

from tests.compat.test_kubectl import Kubectl, kubectl, kubectl_cache  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def test_explain_from_openapi_v2(kubectl: Kubectl) -> None:  # noqa: F811
    out = kubectl("explain", "deployment.spec.strategy", "--output=plaintext-openapiv2", namespaced=False)
    assert "KIND:     Deployment" in out and "VERSION:  apps/v1" in out
    assert "rollingUpdate\t<Object>" in out and "type\t<string>" in out
    ports = kubectl("explain", "pods.spec.containers.ports", "--output=plaintext-openapiv2", namespaced=False)
    assert "containerPort\t<integer> -required-" in ports
    recursive = kubectl("explain", "leases", "--recursive", "--output=plaintext-openapiv2", namespaced=False)
    assert "holderIdentity\t<string>" in recursive
