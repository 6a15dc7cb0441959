"""The kubelet API's authentication and authorization (:mod:`minik.kubelet.auth`), without a server.

A fake API server answers the TokenReviews and SubjectAccessReviews and counts them, so
the tests see what the kubelet asks, what it caches and for how long, and how it fails
closed when no authorizer serves SubjectAccessReview.
"""

from __future__ import annotations

from typing import Any

import pytest

from minik.api.identity import UserInfo
from minik.client.errors import APIConnectionError, NotFoundError
from minik.kubelet.auth import ACCESS_REVIEWS, TOKEN_REVIEWS, Attributes, KubeletAuth, request_attributes


class FakeAPI:
    """TokenReview: ``tokens`` maps a token to (user, groups). SubjectAccessReview: ``allowed``
    holds (user, verb, subresource) triples; ``serves_sar=False`` is a server without an authorizer."""

    def __init__(self, *, serves_sar: bool = True) -> None:
        self.tokens: dict[str, tuple[str, list[str]]] = {}
        self.allowed: set[tuple[str, str, str]] = set()
        self.serves_sar = serves_sar
        self.calls: list[tuple[str, Any]] = []
        self.down = False
        self.breaks = 0  # this many next calls fail as a dropped connection

    async def request(self, method: str, path: str, *, body: Any = None) -> Any:
        self.calls.append((path, body))
        if self.down or self.breaks:
            self.breaks = max(0, self.breaks - 1)
            raise APIConnectionError("Server disconnected without sending a response")
        if path == TOKEN_REVIEWS:
            found = self.tokens.get(body["spec"]["token"])
            if found is None:
                return {"status": {"authenticated": False}}
            return {"status": {"authenticated": True, "user": {"username": found[0], "groups": found[1]}}}
        assert path == ACCESS_REVIEWS
        if not self.serves_sar:
            raise NotFoundError(404, "NotFound", "the server could not find the requested resource")
        spec = body["spec"]
        attrs = spec["resourceAttributes"]
        key = (spec["user"], attrs["verb"], attrs["subresource"])
        assert attrs["resource"] == "nodes"
        return {"status": {"allowed": key in self.allowed}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


LOGS = Attributes("get", "proxy", "node-1")


@pytest.mark.parametrize(
    ("method", "path", "verb", "subresource"),
    [
        ("GET", "/containerLogs/ns/p/c", "get", "proxy"),
        ("POST", "/exec/ns/p/c", "create", "proxy"),
        ("GET", "/pods", "get", "proxy"),
        ("GET", "/stats/summary", "get", "stats"),
        ("GET", "/metrics/cadvisor", "get", "metrics"),
        ("GET", "/logs/syslog", "get", "log"),
        ("GET", "/statsfoo", "get", "proxy"),  # a prefix is a path segment, not a string
    ],
)
def test_requests_map_to_upstreams_node_attributes(
    method: str, path: str, verb: str, subresource: str
) -> None:
    assert request_attributes(method, path, "n") == Attributes(verb, subresource, "n")


async def test_no_credential_is_401_and_anonymous_only_when_enabled() -> None:
    api = FakeAPI()
    denial = await KubeletAuth(api, client_ca=None).check({}, {}, LOGS)
    assert denial is not None and denial.code == 401
    api.allowed.add(("system:anonymous", "get", "proxy"))
    assert await KubeletAuth(api, client_ca=None, anonymous=True).check({}, {}, LOGS) is None


async def test_a_rejected_token_is_401_even_with_anonymous_auth() -> None:
    api = FakeAPI()
    api.allowed.add(("system:anonymous", "get", "proxy"))
    denial = await KubeletAuth(api, client_ca=None, anonymous=True).check({}, bearer("wrong"), LOGS)
    assert denial is not None and denial.code == 401


async def test_allowed_and_denied_users_and_the_403_message() -> None:
    api = FakeAPI()
    api.tokens |= {"t-ops": ("ops", ["team"]), "t-dev": ("dev", ["team"])}
    api.allowed.add(("ops", "get", "proxy"))
    auth = KubeletAuth(api, client_ca=None)
    assert await auth.check({}, bearer("t-ops"), LOGS) is None
    denial = await auth.check({}, bearer("t-dev"), LOGS)
    assert denial is not None and denial.code == 403
    assert denial.message == "Forbidden (user=dev, verb=get, resource=nodes, subresource=proxy)"
    sar = [body for path, body in api.calls if path == ACCESS_REVIEWS]
    assert sar[0]["spec"]["resourceAttributes"] == {
        "verb": "get",
        "resource": "nodes",
        "subresource": "proxy",
        "name": "node-1",
    }
    assert sar[0]["spec"]["groups"] == ["team"]


async def test_without_subjectaccessreview_only_masters_pass() -> None:
    api = FakeAPI(serves_sar=False)
    api.tokens |= {"t-admin": ("admin", ["system:masters"]), "t-dev": ("dev", ["team"])}
    auth = KubeletAuth(api, client_ca=None)
    assert await auth.check({}, bearer("t-admin"), LOGS) is None
    denial = await auth.check({}, bearer("t-dev"), LOGS)
    assert denial is not None and denial.code == 403


async def test_token_reviews_are_cached_two_minutes_and_rejections_thirty_seconds() -> None:
    api, clock = FakeAPI(), Clock()
    api.tokens["t"] = ("ops", [])
    auth = KubeletAuth(api, client_ca=None, authorization_mode="AlwaysAllow", clock=clock)

    def reviews() -> int:
        return sum(1 for path, _ in api.calls if path == TOKEN_REVIEWS)

    assert await auth.authenticate({}, bearer("t")) == UserInfo.of("ops")
    clock.now += 119
    await auth.authenticate({}, bearer("t"))
    assert reviews() == 1
    clock.now += 2
    await auth.authenticate({}, bearer("t"))
    assert reviews() == 2

    assert await auth.authenticate({}, bearer("nope")) is None
    clock.now += 29
    await auth.authenticate({}, bearer("nope"))
    assert reviews() == 3
    clock.now += 2
    await auth.authenticate({}, bearer("nope"))
    assert reviews() == 4


async def test_decisions_are_cached_five_minutes_allowed_thirty_seconds_denied() -> None:
    api, clock = FakeAPI(), Clock()
    auth = KubeletAuth(api, client_ca=None, clock=clock)
    ops, dev = UserInfo.of("ops"), UserInfo.of("dev")
    api.allowed.add(("ops", "get", "proxy"))

    def reviews() -> int:
        return sum(1 for path, _ in api.calls if path == ACCESS_REVIEWS)

    assert await auth.authorize(ops, LOGS) and not await auth.authorize(dev, LOGS)
    api.allowed = {("dev", "get", "proxy")}  # the policy changes
    clock.now += 29
    assert await auth.authorize(ops, LOGS) and not await auth.authorize(dev, LOGS)
    assert reviews() == 2
    clock.now += 2
    assert await auth.authorize(dev, LOGS)  # a denial is forgotten after 30 s
    assert await auth.authorize(ops, LOGS)  # an allowance lasts 5 min
    clock.now += 300
    assert not await auth.authorize(ops, LOGS)
    assert await auth.authorize(ops, Attributes("get", "stats", "node-1")) is False


async def test_an_unreachable_api_server_fails_closed() -> None:
    api = FakeAPI()
    api.down = True
    auth = KubeletAuth(api, client_ca=None)
    denial = await auth.check({}, bearer("t"), LOGS)
    assert denial is not None and denial.code == 401
    admin = UserInfo.of("admin", ["system:masters"])
    with pytest.raises(APIConnectionError):
        await auth.authorize(admin, LOGS)


async def test_a_dropped_connection_is_retried_once() -> None:
    api = FakeAPI()
    api.tokens["t"] = ("ops", [])
    api.allowed.add(("ops", "get", "proxy"))
    auth = KubeletAuth(api, client_ca=None)
    api.breaks = 1
    assert await auth.authenticate({}, bearer("t")) == UserInfo.of("ops")
    api.breaks = 1
    assert await auth.authorize(UserInfo.of("ops"), LOGS)
    api.breaks = 2
    with pytest.raises(APIConnectionError):
        await auth.authorize(UserInfo.of("dev"), LOGS)
