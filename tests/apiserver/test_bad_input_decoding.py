"""Hostile bodies: decoding bombs, values JSON cannot hold, field names a header cannot carry.

Like ``test_bad_input.py``, every rejected request must leave etcd's revision where
it was. A bomb must also leave the API server's memory where it was (its resident
set, read from ``/proc``) and get its answer within the client's timeout; after
all of them the server must still be ready.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from minik.apiserver import decoding
from tests.apiserver.test_bad_input import etcd_revision

pytestmark = pytest.mark.integration

#: How much the API server's resident memory may grow while it refuses one bomb.
RSS_SLACK = 64 * 1024 * 1024


def rss(pid: int) -> int:
    """The resident set of a process, in bytes (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def alias_bomb(levels: int, fan_out: int = 9, indent: str = "") -> str:
    """YAML whose aliases expand to ``fan_out ** levels`` strings."""
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{indent}{names[0]}: &{names[0]} [{', '.join(['lol'] * fan_out)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{indent}{name}: &{name} [{', '.join([f'*{prev}'] * fan_out)}]")
    return "\n".join(lines) + "\n"


CONFIGMAP_YAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n"
#: The report's 582 bytes that expanded to 302 MB, in the same shape.
BOMB = (CONFIGMAP_YAML + "data:\n" + alias_bomb(9, indent="  ")).encode()
#: About a kilobyte, eight levels of aliases with a wider fan-out (the one that crashed the server).
WIDE_BOMB = (CONFIGMAP_YAML + alias_bomb(8, fan_out=24)).encode()
DELETE_BOMB = ("kind: DeleteOptions\napiVersion: v1\n" + alias_bomb(9)).encode()


def deep_json(depth: int, leaf: str = "1") -> bytes:
    return b'{"n":' * depth + leaf.encode() + b"}" * depth


def deep_configmap(depth: int) -> bytes:
    return b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":' + deep_json(depth) + b"}"


def deep_patch_ops() -> list[dict[str, Any]]:
    """Two adds, each within the depth limit, whose result is twice as deep as allowed."""
    half = decoding.MAX_DEPTH - 5
    value = json.loads(deep_json(half))
    return [
        {"op": "add", "path": "/x", "value": value},
        {"op": "add", "path": "/x" + "/n" * (half - 1) + "/m", "value": value},
    ]


YAML = {"Content-Type": "application/yaml"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
APPLY = {"Content-Type": "application/apply-patch+yaml"}
JSON_BODY = {"Content-Type": "application/json"}
CM = "/api/v1/namespaces/NS/configmaps"
EXISTS = CM + "/exists"

BOMBS: list[tuple[str, str, str, dict[str, str], bytes, int, str]] = [
    # (id, method, path, headers, body, code, reason)
    ("yaml alias bomb, create", "POST", CM, YAML, BOMB, 400, "BadRequest"),
    ("wide yaml alias bomb, create", "POST", CM, YAML, WIDE_BOMB, 400, "BadRequest"),
    ("yaml alias bomb, strict create", "POST", CM + "?fieldValidation=Strict", YAML, BOMB, 400, "BadRequest"),
    (
        "yaml alias bomb, update",
        "PUT",
        EXISTS,
        YAML,
        BOMB.replace(b"name: bomb", b"name: exists"),
        400,
        "BadRequest",
    ),
    (
        "yaml alias bomb, server-side apply",
        "PATCH",
        EXISTS + "?fieldManager=m&fieldValidation=Strict",
        APPLY,
        BOMB.replace(b"name: bomb", b"name: exists"),
        400,
        "BadRequest",
    ),
    ("yaml alias bomb, delete options", "DELETE", EXISTS, YAML, DELETE_BOMB, 400, "BadRequest"),
    ("deep yaml flow", "POST", CM, YAML, b"[" * 100_000 + b"]" * 100_000, 400, "BadRequest"),
    (
        "deep yaml block",
        "POST",
        CM,
        YAML,
        (CONFIGMAP_YAML + "".join("  " * i + f"k{i}:\n" for i in range(300))).encode(),
        400,
        "BadRequest",
    ),
    ("deep json, create", "POST", CM, JSON_BODY, deep_configmap(decoding.MAX_DEPTH + 5), 400, "BadRequest"),
    ("very deep json, create", "POST", CM, JSON_BODY, deep_configmap(200_000), 400, "BadRequest"),
    (
        "deep json, warn create",  # an explicit Warn runs the duplicate-field scanner, key by key
        "POST",
        CM + "?fieldValidation=Warn",
        JSON_BODY,
        deep_configmap(900),
        400,
        "BadRequest",
    ),
    ("deep merge patch", "PATCH", EXISTS, MERGE_PATCH, b'{"x":' + deep_json(500) + b"}", 400, "BadRequest"),
    ("deep strategic merge patch", "PATCH", EXISTS, SMP, b'{"x":' + deep_json(500) + b"}", 400, "BadRequest"),
    (
        "json patch building a deep object",
        "PATCH",
        EXISTS,
        JSON_PATCH,
        json.dumps(deep_patch_ops()).encode(),
        400,
        "BadRequest",
    ),
    (
        "json patch copy bomb",
        "PATCH",
        EXISTS,
        JSON_PATCH,
        json.dumps(
            [{"op": "add", "path": "/x", "value": {"k": "v"}}]
            + [{"op": "copy", "from": "/x", "path": f"/x/{i}"} for i in range(60)]
        ).encode(),
        413,
        "RequestEntityTooLarge",
    ),
    (
        "json patch with too many operations",
        "PATCH",
        EXISTS,
        JSON_PATCH,
        json.dumps([{"op": "test", "path": "/data/k", "value": "v"}] * 10_001).encode(),
        413,
        "RequestEntityTooLarge",
    ),
    (
        "deep delete options",
        "DELETE",
        EXISTS,
        JSON_BODY,
        b'{"kind":"DeleteOptions","x":' + deep_json(500) + b"}",
        400,
        "BadRequest",
    ),
]


@pytest.fixture()
def existing(api: httpx.Client, ns: str) -> str:
    r = api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "exists"}, "data": {"k": "v"}},
    )
    assert r.status_code == 201, r.text
    return ns


@pytest.mark.parametrize(
    ("case", "method", "path", "headers", "body", "code", "reason"), BOMBS, ids=[b[0] for b in BOMBS]
)
def test_bombs_are_refused_without_memory_or_writes(
    apiserver: Any,
    etcd_server: Any,
    existing: str,
    case: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
    code: int,
    reason: str,
) -> None:
    pid = apiserver.process.pid
    before_rev, before_rss = etcd_revision(etcd_server.url), rss(pid)
    with apiserver.client(timeout=10) as client:  # a bomb that is expanded cannot answer in time
        r = client.request(method, path.replace("NS", existing), content=body, headers=headers)
        assert r.status_code == code, r.text[:500]
        status = r.json()
        assert status["kind"] == "Status" and status["reason"] == reason and status["message"]
        assert len(r.content) < 64 * 1024, "the answer must not echo the bomb"
        assert client.get("/readyz").status_code == 200
    assert rss(pid) - before_rss < RSS_SLACK, (
        f"{case}: the server's memory grew by {rss(pid) - before_rss} bytes"
    )
    assert etcd_revision(etcd_server.url) == before_rev, "a rejected request must not write anything"


def test_the_alias_bomb_messages_say_why(api: httpx.Client, existing: str) -> None:
    r = api.post(f"/api/v1/namespaces/{existing}/configmaps", content=BOMB, headers=YAML)
    assert "document contains excessive aliasing" in r.json()["message"]
    r = api.post(f"/api/v1/namespaces/{existing}/configmaps", content=deep_configmap(150), headers=JSON_BODY)
    assert f"exceeded max depth of {decoding.MAX_DEPTH}" in r.json()["message"]
    r = api.patch(
        f"/api/v1/namespaces/{existing}/configmaps/exists",
        content=json.dumps(deep_patch_ops()).encode(),
        headers=JSON_PATCH,
    )
    assert r.json()["message"].startswith("the patched object: exceeded max depth"), r.text


# -- YAML that JSON cannot hold ------------------------------------------------------------------

NOT_JSON = [
    ("set", "data: !!set {a, b}", "!!set"),
    ("list as key", "data:\n  ? [a]\n  : x", "a map key must be a string"),
    ("float that is not one", "data:\n  k: !!float 'x'", "cannot decode 'x' as !!float"),
    ("python object", "data: !!python/object/apply:os.system ['true']", "unsupported YAML tag"),
    ("infinity", "data:\n  k: .inf", "JSON cannot hold the number"),
    ("two documents", "data: {}\n---\nkind: Pod", "expected a single document"),
]


@pytest.mark.parametrize(("case", "text", "message"), NOT_JSON, ids=[n[0] for n in NOT_JSON])
def test_yaml_json_cannot_hold_is_a_400(
    api: httpx.Client, etcd_server: Any, ns: str, case: str, text: str, message: str
) -> None:
    before = etcd_revision(etcd_server.url)
    r = api.post(
        f"/api/v1/namespaces/{ns}/configmaps", content=(CONFIGMAP_YAML + text).encode(), headers=YAML
    )
    assert r.status_code == 400, r.text
    assert r.json()["reason"] == "BadRequest" and message in r.json()["message"]
    assert etcd_revision(etcd_server.url) == before


def test_yaml_timestamps_and_scalar_keys_become_strings_as_upstream(api: httpx.Client, ns: str) -> None:
    body = CONFIGMAP_YAML + "data:\n  when: 2001-12-14\n  at: 2001-12-14T21:59:43.10-05:00\n  1: one\n"
    r = api.post(f"/api/v1/namespaces/{ns}/configmaps", content=body.encode(), headers=YAML)
    assert r.status_code == 201, r.text
    data = api.get(f"/api/v1/namespaces/{ns}/configmaps/bomb").json()["data"]
    assert data == {"when": "2001-12-14", "at": "2001-12-14T21:59:43.10-05:00", "1": "one"}


# -- warnings about field names a header cannot carry ------------------------------------------

ODD_NAMES = ["caf\u00e9\u2713", "new\nline", 'quote"and\\slash', "nul\x00byte"]


def _warnings(r: httpx.Response) -> list[bytes]:
    return [v for k, v in r.headers.raw if k.lower() == b"warning"]


def _odd_configmap(name: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"k": "v"},
    }
    for odd in ODD_NAMES:
        body[odd] = 1
    return body


def _assert_warned(r: httpx.Response) -> None:
    values = _warnings(r)
    assert len(values) == len(ODD_NAMES), values
    assert all(v.startswith(b'299 - "unknown field \\"') and v.endswith(b'\\""') for v in values), values
    joined = b"\n".join(values)
    assert "caf\u00e9\u2713".encode() in joined  # sent as UTF-8, as upstream
    assert b"new line" in joined and b"nul byte" in joined  # what a header cannot carry became a space
    assert b'quote\\"and\\\\slash' in joined


@pytest.mark.parametrize("query", ["", "?fieldValidation=Warn"])
def test_odd_unknown_field_names_warn_after_the_write_without_breaking_it(
    api: httpx.Client, ns: str, query: str
) -> None:
    cms = f"/api/v1/namespaces/{ns}/configmaps"
    r = api.post(cms + query, json=_odd_configmap("odd"))
    assert r.status_code == 201, r.text
    _assert_warned(r)
    assert r.json()["metadata"]["name"] == "odd" and "new\nline" not in r.json()

    r = api.put(f"{cms}/odd{query}", json=_odd_configmap("odd"))
    assert r.status_code == 200, r.text
    _assert_warned(r)

    patch = {k: v for k, v in _odd_configmap("odd").items() if k in ODD_NAMES}
    r = api.patch(f"{cms}/odd{query}", content=json.dumps(patch).encode(), headers=MERGE_PATCH)
    assert r.status_code == 200, r.text
    _assert_warned(r)

    r = api.get(f"{cms}/odd")
    assert r.status_code == 200 and not (set(ODD_NAMES) & set(r.json()))


def test_odd_unknown_field_names_under_strict_write_nothing(
    api: httpx.Client, etcd_server: Any, existing: str
) -> None:
    cms = f"/api/v1/namespaces/{existing}/configmaps"
    requests = [
        ("POST", cms, JSON_BODY, json.dumps(_odd_configmap("strict")).encode()),
        ("PUT", f"{cms}/exists", JSON_BODY, json.dumps(_odd_configmap("exists")).encode()),
        ("PATCH", f"{cms}/exists", MERGE_PATCH, json.dumps({ODD_NAMES[0]: 1, ODD_NAMES[1]: 2}).encode()),
    ]
    for method, url, headers, body in requests:
        before = etcd_revision(etcd_server.url)
        r = api.request(method, url + "?fieldValidation=Strict", content=body, headers=headers)
        assert r.status_code == 400, r.text
        assert "strict decoding error" in r.json()["message"] and "caf\u00e9\u2713" in r.json()["message"]
        assert etcd_revision(etcd_server.url) == before, (
            f"{method}: a rejected request must not write anything"
        )
    assert api.get(f"{cms}/strict").status_code == 404
