"""``kubectl debug`` reads ``details`` of a NotFound without checking that it is there.

minik serves no ``pods/ephemeralcontainers``; upstream's 404 for a missing subresource
has empty ``details``, from which kubectl tells the user that ephemeral containers are
off. A 404 without ``details`` made kubectl panic (nil pointer).
"""

from __future__ import annotations

import pytest

from tests.compat.test_kubectl import Kubectl, kubectl, kubectl_cache  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.compat]


def test_debug_says_ephemeral_containers_are_off(kubectl: Kubectl) -> None:  # noqa: F811
    kubectl("run", "dbg", "--image=busybox:1.36", "--", "sleep", "1000")
    done = kubectl.run("debug", "dbg", "--image=busybox:1.36")
    assert "panic" not in done.stderr
    assert "ephemeral containers are disabled for this cluster" in done.stderr
