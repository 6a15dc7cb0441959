"""Tests of minik.api.protobuf: the wire reader, the special types, and real kubectl bodies.

The fixtures under ``protobuf_fixtures/`` are request bodies that the real kubectl 1.37
sent to a fake API server (``FakeAPIServer`` below), each next to the JSON it should
decode to.  Where kubectl has ``--dry-run=client -o json`` that JSON is kubectl's own
rendering of the very object it sends, so the expectation is independent of the decoder;
the few commands without a dry-run carry a hand-written expectation.  Regenerate them with::

    .venv/bin/python -m tests.api.test_protobuf

The ``compat`` test at the end does the same live when a kubectl binary is installed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from minik.api.protobuf import (
    CONTENT_TYPE,
    MAGIC,
    MESSAGES,
    ProtobufError,
    decode_body,
    go_duration,
    is_protobuf,
    iter_fields,
    message_for,
    read_varint,
)

FIXTURES = Path(__file__).parent / "protobuf_fixtures"

# ------------------------------------------------------------------ a tiny protobuf writer


def varint(v: int) -> bytes:
    if v < 0:
        v += 1 << 64  # int32/int64 negatives are 10-byte two's complement varints
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def f_varint(number: int, v: int) -> bytes:
    return key(number, 0) + varint(v)


def f_bytes(number: int, data: bytes) -> bytes:
    return key(number, 2) + varint(len(data)) + data


def f_str(number: int, s: str) -> bytes:
    return f_bytes(number, s.encode())


def envelope(
    api_version: str, kind: str, raw: bytes, content_type: str = "", content_encoding: str = ""
) -> bytes:
    type_meta = f_str(1, api_version) + f_str(2, kind)
    body = f_bytes(1, type_meta) + f_bytes(2, raw)
    if content_encoding:
        body += f_str(3, content_encoding)
    if content_type:
        body += f_str(4, content_type)
    return MAGIC + body


def meta(name: str, **extra: bytes) -> bytes:
    """An ObjectMeta as Go writes it: every non-pointer string present, even when empty."""
    out = f_str(1, name) + f_str(2, "") + f_str(3, "default") + f_str(4, "") + f_str(5, "")
    out += f_str(6, "") + f_varint(7, 0) + f_bytes(8, b"")  # zero creationTimestamp
    return out + b"".join(extra.values())


# ---------------------------------------------------------------------------- wire reader


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 2**31 - 1, 2**32, 2**63 - 1, 2**64 - 1])
def test_varint_round_trip(value: int) -> None:
    encoded = varint(value)
    assert read_varint(encoded + b"\xff", 0) == (value, len(encoded))


def test_varint_known_encodings() -> None:
    assert read_varint(b"\xac\x02", 0) == (300, 2)
    assert read_varint(b"\x96\x01", 0) == (150, 2)
    assert len(varint(-1)) == 10


@pytest.mark.parametrize("data", [b"", b"\x80", b"\xff\xff"])
def test_truncated_varint(data: bytes) -> None:
    with pytest.raises(ProtobufError, match="truncated varint"):
        read_varint(data, 0)


def test_overlong_varint() -> None:
    with pytest.raises(ProtobufError, match="longer than 10"):
        read_varint(b"\xff" * 11, 0)
    with pytest.raises(ProtobufError, match="overflows"):
        read_varint(b"\xff" * 9 + b"\x02", 0)


def test_iter_fields_all_wire_types() -> None:
    buf = (
        f_varint(1, 150)
        + key(2, 1)
        + struct.pack("<d", 1.5)
        + f_str(3, "hi")
        + key(4, 5)
        + struct.pack("<f", 2.0)
        + key(5, 3)
        + f_varint(1, 7)
        + key(5, 4)  # a group: skipped
        + f_varint(6, 1)
    )
    assert list(iter_fields(buf)) == [
        (1, 0, 150),
        (2, 1, struct.pack("<d", 1.5)),
        (3, 2, b"hi"),
        (4, 5, struct.pack("<f", 2.0)),
        (6, 0, 1),
    ]


@pytest.mark.parametrize(
    "buf",
    [
        f_str(1, "hello")[:-1],  # length says 5, 4 bytes follow
        key(1, 1) + b"\x00" * 7,  # fixed64 short
        key(1, 5) + b"\x00" * 3,  # fixed32 short
        key(1, 2),  # length missing
        key(1, 0),  # value missing
        key(1, 3) + f_varint(2, 1),  # group never ended
    ],
)
def test_truncated_fields(buf: bytes) -> None:
    with pytest.raises(ProtobufError):
        list(iter_fields(buf))


@pytest.mark.parametrize(
    "buf", [key(1, 6) + b"\x00", key(1, 7), key(0, 0) + b"\x00", key(1, 4), key(1, 3) + key(2, 4)]
)
def test_invalid_keys(buf: bytes) -> None:
    with pytest.raises(ProtobufError):
        list(iter_fields(buf))


# ---------------------------------------------------------------------------- the envelope


def configmap(*fields: bytes) -> bytes:
    return envelope("v1", "ConfigMap", f_bytes(1, meta("x")) + b"".join(fields))


def test_is_protobuf() -> None:
    assert is_protobuf("application/vnd.kubernetes.protobuf")
    assert is_protobuf("Application/vnd.kubernetes.protobuf; charset=binary")
    assert not is_protobuf("application/json")
    assert not is_protobuf(None)


def test_minimal_configmap() -> None:
    entry = f_str(1, "a") + f_str(2, "b")
    assert decode_body(configmap(f_bytes(2, entry))) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "x", "namespace": "default"},
        "data": {"a": "b"},
    }


def test_wrong_magic() -> None:
    body = configmap()
    for bad in (b"", b"k8s", b"k8s\x01" + body[4:], b'{"kind": "ConfigMap"}', body[4:]):
        with pytest.raises(ProtobufError, match="k8s"):
            decode_body(bad)


def test_unknown_kind_and_missing_type_meta() -> None:
    with pytest.raises(ProtobufError, match=r"example\.com/v1 Widget"):
        decode_body(envelope("example.com/v1", "Widget", b""))
    with pytest.raises(ProtobufError, match="apiVersion/kind"):
        decode_body(MAGIC + f_bytes(2, b""))


def test_content_encoding_and_type() -> None:
    with pytest.raises(ProtobufError, match="contentEncoding"):
        decode_body(envelope("v1", "ConfigMap", b"", content_encoding="gzip"))
    with pytest.raises(ProtobufError, match="contentType"):
        decode_body(envelope("v1", "ConfigMap", b"", content_type="application/yaml"))
    assert decode_body(envelope("v1", "ConfigMap", b"", content_type=CONTENT_TYPE)) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
    }
    as_json = envelope(
        "v1",
        "ConfigMap",
        b'{"kind":"ConfigMap","apiVersion":"v1","data":{"a":"b"}}',
        content_type="application/json",
    )
    assert decode_body(as_json)["data"] == {"a": "b"}


def test_unknown_fields_are_skipped() -> None:
    unknown = (
        f_varint(99, 5)
        + f_str(100, "future")
        + key(101, 1)
        + b"\x00" * 8
        + key(102, 5)
        + b"\x00" * 4
        + key(103, 3)
        + f_varint(1, 1)
        + key(103, 4)
    )
    body = configmap(unknown, f_bytes(2, f_str(1, "a") + f_str(2, "b")), unknown)
    assert decode_body(body)["data"] == {"a": "b"}
    # ...also inside nested messages, and in the envelope itself
    nested = envelope("v1", "ConfigMap", f_bytes(1, f_str(1, "x") + unknown))
    assert decode_body(nested)["metadata"] == {"name": "x"}
    assert decode_body(nested + f_str(9, "extra"))["metadata"] == {"name": "x"}


def test_wrong_wire_type_for_known_field() -> None:
    with pytest.raises(ProtobufError, match="'immutable'"):
        decode_body(configmap(f_str(4, "yes")))  # immutable is a bool (varint)
    with pytest.raises(ProtobufError, match="'metadata'"):
        decode_body(envelope("v1", "ConfigMap", f_varint(1, 1)))


def test_every_truncation_of_a_real_body_fails_cleanly() -> None:
    body = (FIXTURES / "deployment.pb").read_bytes()
    for n in range(len(body)):
        # ProtobufError is the only exception allowed; a prefix may also be a valid message
        with contextlib.suppress(ProtobufError):
            decode_body(body[:n])


def test_nesting_limit() -> None:
    # JSONSchemaProps-like self nesting does not exist in core types, but RawExtension can
    # nest envelopes: make a deep chain of ControllerRevisions holding each other.
    body = envelope("v1", "ConfigMap", b"")
    for _ in range(150):
        body = envelope("apps/v1", "ControllerRevision", f_bytes(2, f_bytes(1, body)))
    with pytest.raises(ProtobufError, match="too deep"):
        decode_body(body)


# -------------------------------------------------------------- field semantics and types


def test_zero_values_follow_go_json_tags() -> None:
    # Deployment.spec.replicas is *int32: an explicit 0 must survive (else it defaults to 1),
    # while ObjectMeta's always-written empty strings and zero generation are omitted.
    spec = f_varint(1, 0) + f_bytes(3, b"")  # replicas=0, template={}
    body = envelope("apps/v1", "Deployment", f_bytes(1, meta("d")) + f_bytes(2, spec))
    assert decode_body(body) == {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": 0, "template": {}},
    }
    # A non-pointer field without omitempty keeps its zero value (ContainerPort.containerPort).
    container = f_str(1, "c") + f_bytes(6, f_varint(3, 0))
    pod = envelope("v1", "Pod", f_bytes(2, f_bytes(2, container)))
    assert decode_body(pod)["spec"] == {"containers": [{"name": "c", "ports": [{"containerPort": 0}]}]}


def test_absent_slice_without_omitempty_is_null() -> None:
    # EndpointSlice.endpoints/ports and Role.rules have no omitempty: Go's JSON says null
    # for nil ones, and protobuf cannot tell nil from empty.
    eps = decode_body(envelope("discovery.k8s.io/v1", "EndpointSlice", f_str(4, "IPv4")))
    assert eps == {
        "kind": "EndpointSlice",
        "apiVersion": "discovery.k8s.io/v1",
        "addressType": "IPv4",
        "endpoints": None,
        "ports": None,
    }
    role = decode_body(envelope("rbac.authorization.k8s.io/v1", "Role", f_bytes(1, f_str(1, "r"))))
    assert role["rules"] is None
    rule = f_str(1, "get") + f_str(3, "pods")
    assert decode_body(envelope("rbac.authorization.k8s.io/v1", "Role", f_bytes(2, rule)))["rules"] == [
        {"verbs": ["get"], "resources": ["pods"]}
    ]


def test_negative_and_64_bit_integers() -> None:
    lease = envelope("coordination.k8s.io/v1", "Lease", f_bytes(2, f_varint(5, -1)))
    assert decode_body(lease)["spec"] == {"leaseTransitions": -1}
    job = envelope("batch/v1", "Job", f_bytes(2, f_varint(3, 2**40)))  # activeDeadlineSeconds: int64
    assert decode_body(job)["spec"] == {"activeDeadlineSeconds": 2**40}
    opts = envelope("meta.k8s.io/v1", "DeleteOptions", f_varint(1, -1))
    assert decode_body(opts)["gracePeriodSeconds"] == -1


def test_packed_and_unpacked_repeated_scalars() -> None:
    # ContainerRestartRuleOnExitCodes.values is repeated int32; Go writes it unpacked,
    # protobuf readers must accept both encodings (and mixtures).
    packed = f_bytes(2, varint(1) + varint(2) + varint(300) + varint(-1))
    unpacked = f_varint(2, 42) + f_varint(2, 7)
    on_exit = f_str(1, "In") + packed + unpacked
    container = f_str(1, "c") + f_bytes(25, f_str(1, "Restart") + f_bytes(2, on_exit))
    pod = envelope("v1", "Pod", f_bytes(2, f_bytes(2, container)))
    rules = decode_body(pod)["spec"]["containers"][0]["restartPolicyRules"]
    assert rules == [{"action": "Restart", "exitCodes": {"operator": "In", "values": [1, 2, 300, -1, 42, 7]}}]


def test_inlined_embedded_structs() -> None:
    # EnvFromSource.configMapRef is ConfigMapEnvSource{LocalObjectReference (inline), optional}
    env_from = f_bytes(2, f_bytes(1, f_str(1, "cm")) + f_varint(2, 1))
    probe = f_bytes(1, f_bytes(2, f_str(1, "/healthz") + f_bytes(2, f_varint(1, 1) + f_str(3, "http"))))
    volume = f_str(1, "v") + f_bytes(2, f_bytes(2, b""))  # Volume{name, VolumeSource (inline){emptyDir}}
    container = f_str(1, "c") + f_bytes(19, env_from) + f_bytes(10, probe + f_varint(4, 5))
    pod = envelope("v1", "Pod", f_bytes(2, f_bytes(1, volume) + f_bytes(2, container)))
    spec = decode_body(pod)["spec"]
    assert spec["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert spec["containers"][0]["envFrom"] == [{"configMapRef": {"name": "cm", "optional": True}}]
    assert spec["containers"][0]["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": 5,
    }


def test_bytes_are_base64() -> None:
    data = f_bytes(2, f_str(1, "k") + f_bytes(2, b"\x00\xffv"))
    secret = envelope("v1", "Secret", data + f_str(3, "Opaque"))
    assert decode_body(secret) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "data": {"k": base64.b64encode(b"\x00\xffv").decode()},
        "type": "Opaque",
    }


def test_map_entries_with_missing_key_or_value() -> None:
    assert decode_body(configmap(f_bytes(2, f_str(1, "only-key"))))["data"] == {"only-key": ""}
    assert decode_body(configmap(f_bytes(2, f_str(2, "only-value"))))["data"] == {"": "only-value"}


def timestamp(seconds: int, nanos: int = 0) -> bytes:
    return f_varint(1, seconds) + (f_varint(2, nanos) if nanos else b"")


def test_time_and_micro_time() -> None:
    spec = (
        f_str(1, "holder")
        + f_bytes(3, timestamp(1700000000, 123456789))
        + f_bytes(4, timestamp(0))
        + f_varint(2, 15)
    )
    md = f_bytes(1, meta("l", ts=f_bytes(9, timestamp(1700000000, 999))))
    got = decode_body(envelope("coordination.k8s.io/v1", "Lease", md + f_bytes(2, spec)))
    assert got["metadata"]["deletionTimestamp"] == "2023-11-14T22:13:20Z"  # Time drops nanos
    assert "creationTimestamp" not in got["metadata"]  # zero + omitzero
    assert got["spec"] == {
        "holderIdentity": "holder",
        "leaseDurationSeconds": 15,
        "acquireTime": "2023-11-14T22:13:20.123456Z",
        "renewTime": "1970-01-01T00:00:00.000000Z",
    }


def test_zero_time_without_omitzero_is_null() -> None:
    cond = f_str(1, "Ready") + f_str(2, "True") + f_bytes(3, b"") + f_bytes(4, timestamp(86400))
    got = decode_body(envelope("v1", "Node", f_bytes(3, f_bytes(4, cond))))
    assert got["status"]["conditions"] == [
        {
            "type": "Ready",
            "status": "True",
            "lastHeartbeatTime": None,
            "lastTransitionTime": "1970-01-02T00:00:00Z",
        }
    ]


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5\u00b5s"),
        (2_000_000, "2ms"),
        (1_500_000_000, "1.5s"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9, "1h0m0s"),
        (-(3723 * 10**9 + 5), "-1h2m3.000000005s"),
    ],
)
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_int_or_string_and_quantity() -> None:
    port = f_str(1, "http") + f_str(2, "TCP") + f_varint(3, 80)
    target_int = f_bytes(4, f_varint(1, 0) + f_varint(2, 8080) + f_str(3, ""))
    target_str = f_bytes(4, f_varint(1, 1) + f_varint(2, 0) + f_str(3, "web"))
    svc = envelope("v1", "Service", f_bytes(2, f_bytes(1, port + target_int) + f_bytes(1, port + target_str)))
    ports = decode_body(svc)["spec"]["ports"]
    assert [p["targetPort"] for p in ports] == [8080, "web"]
    limits = f_bytes(1, f_str(1, "cpu") + f_bytes(2, f_str(1, "500m")))
    container = f_str(1, "c") + f_bytes(8, limits)
    pod = envelope("v1", "Pod", f_bytes(2, f_bytes(2, container)))
    assert decode_body(pod)["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "500m"}}


def test_raw_extension_and_fields_v1() -> None:
    inner = envelope("v1", "ConfigMap", f_bytes(2, f_str(1, "a") + f_str(2, "b")))
    rev_json = envelope(
        "apps/v1", "ControllerRevision", f_bytes(2, f_bytes(1, b'{"spec":{"template":{}}}')) + f_varint(3, 2)
    )
    rev_pb = envelope("apps/v1", "ControllerRevision", f_bytes(2, f_bytes(1, inner)))
    assert decode_body(rev_json) == {
        "kind": "ControllerRevision",
        "apiVersion": "apps/v1",
        "data": {"spec": {"template": {}}},
        "revision": 2,
    }
    assert decode_body(rev_pb)["data"] == {"kind": "ConfigMap", "apiVersion": "v1", "data": {"a": "b"}}
    with pytest.raises(ProtobufError, match="RawExtension"):
        decode_body(envelope("apps/v1", "ControllerRevision", f_bytes(2, f_bytes(1, b"\x01not json"))))
    entry = (
        f_str(1, "kubectl")
        + f_str(2, "Update")
        + f_str(3, "v1")
        + f_str(6, "FieldsV1")
        + f_bytes(7, f_bytes(1, b'{"f:data":{"f:a":{}}}'))
    )
    cm = envelope("v1", "ConfigMap", f_bytes(1, f_str(1, "x") + f_bytes(17, entry)))
    assert decode_body(cm)["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Update",
            "apiVersion": "v1",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}},
        }
    ]


def test_string_list_map_values() -> None:
    extra = f_bytes(5, f_str(1, "scopes") + f_bytes(2, f_str(1, "a") + f_str(1, "b")))
    spec = f_bytes(1, f_str(2, "get")) + f_str(3, "alice") + extra
    sar = envelope("authorization.k8s.io/v1", "SubjectAccessReview", f_bytes(2, spec))
    assert decode_body(sar)["spec"] == {
        "resourceAttributes": {"verb": "get"},
        "user": "alice",
        "extra": {"scopes": ["a", "b"]},
    }


def test_delete_options_in_any_group() -> None:
    raw = f_varint(1, 0) + f_str(4, "Foreground") + f_str(5, "All")
    expected = {"gracePeriodSeconds": 0, "propagationPolicy": "Foreground", "dryRun": ["All"]}
    for api_version in ("meta.k8s.io/v1", "v1", "apps/v1", "batch/v1"):
        got = decode_body(envelope(api_version, "DeleteOptions", raw))
        assert got == {"kind": "DeleteOptions", "apiVersion": api_version, **expected}


def test_kinds_minik_serves_are_covered() -> None:
    kinds = [
        ("v1", k)
        for k in (
            "Namespace",
            "Node",
            "Pod",
            "Service",
            "Endpoints",
            "Event",
            "ConfigMap",
            "Secret",
            "ReplicationController",
            "PersistentVolumeClaim",
            "ServiceAccount",
            "Binding",
        )
    ]
    kinds += [
        ("apps/v1", k) for k in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision")
    ]
    kinds += [
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("discovery.k8s.io/v1", "EndpointSlice"),
        ("coordination.k8s.io/v1", "Lease"),
        ("autoscaling/v1", "Scale"),
        ("policy/v1", "Eviction"),
        ("meta.k8s.io/v1", "DeleteOptions"),
    ]
    for api_version, kind in kinds:
        name = message_for(api_version, kind)
        assert name is not None and name in MESSAGES, (api_version, kind)
    # every message a field refers to is in the table
    specials = {
        "string",
        "bool",
        "int",
        "uint",
        "double",
        "float",
        "bytes",
        "Time",
        "MicroTime",
        "Duration",
        "Quantity",
        "IntOrString",
        "RawExtension",
        "FieldsV1",
        "StringList",
    }
    for message in MESSAGES.values():
        for f in message.fields:
            assert f.type in specials or f.type in MESSAGES, (message.name, f)


# ------------------------------------------------------------------- kubectl's own bodies


def fixture_names() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.pb"))


@pytest.mark.parametrize("name", fixture_names())
def test_kubectl_fixture(name: str) -> None:
    body = (FIXTURES / f"{name}.pb").read_bytes()
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    assert body.startswith(MAGIC)
    assert decode_body(body) == expected["object"], expected["kubectl"]


def test_fixtures_exist() -> None:
    assert len(fixture_names()) >= 15


# ------------------------------------------------------- a fake API server for kubectl


def _resources(group_version: str, items: list[tuple[str, str, bool]]) -> dict[str, Any]:
    resources = []
    for name, kind, namespaced in items:
        sub = "/" in name
        resources.append(
            {
                "name": name,
                "singularName": "" if sub else kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "get", "patch", "update"]
                if sub
                else ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
        )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


_CORE = [
    ("namespaces", "Namespace", False),
    ("nodes", "Node", False),
    ("pods", "Pod", True),
    ("pods/eviction", "Eviction", True),
    ("configmaps", "ConfigMap", True),
    ("secrets", "Secret", True),
    ("services", "Service", True),
    ("serviceaccounts", "ServiceAccount", True),
    ("serviceaccounts/token", "TokenRequest", True),
    ("resourcequotas", "ResourceQuota", True),
    ("endpoints", "Endpoints", True),
    ("events", "Event", True),
    ("replicationcontrollers", "ReplicationController", True),
    ("persistentvolumeclaims", "PersistentVolumeClaim", True),
]
_GROUPS: dict[str, list[tuple[str, str, bool]]] = {
    "apps/v1": [
        ("deployments", "Deployment", True),
        ("deployments/scale", "Scale", True),
        ("replicasets", "ReplicaSet", True),
        ("statefulsets", "StatefulSet", True),
        ("daemonsets", "DaemonSet", True),
        ("controllerrevisions", "ControllerRevision", True),
    ],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "scheduling.k8s.io/v1": [("priorityclasses", "PriorityClass", False)],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler", True)],
    "authorization.k8s.io/v1": [("selfsubjectaccessreviews", "SelfSubjectAccessReview", False)],
}


@dataclass
class Recorded:
    method: str
    path: str
    content_type: str
    accept: str
    body: bytes


@dataclass
class FakeAPIServer:
    """Just enough of kube-apiserver for kubectl: discovery, and a dict of objects.

    Request bodies are recorded; protobuf ones are decoded with ``decode_body`` and every
    response is JSON, which is how minik answers protobuf clients.
    """

    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    server: ThreadingHTTPServer | None = None

    def discovery(self, path: str) -> dict[str, Any] | None:
        if path == "/api":
            return {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            }
        if path == "/apis":
            groups = []
            for gv in _GROUPS:
                g, v = gv.split("/")
                groups.append(
                    {
                        "name": g,
                        "versions": [{"groupVersion": gv, "version": v}],
                        "preferredVersion": {"groupVersion": gv, "version": v},
                    }
                )
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        if path == "/api/v1":
            return _resources("v1", _CORE)
        if path.startswith("/apis/") and path[6:] in _GROUPS:
            return _resources(path[6:], _GROUPS[path[6:]])
        return None

    def handle(self, method: str, path: str, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
        doc = self.discovery(path)
        if method == "GET" and doc is not None:
            return 200, doc
        parts = path.strip("/").split("/")
        sub = ""
        if parts[-1] in ("scale", "eviction", "token", "status") and len(parts) >= 5:
            sub = parts.pop()
        key = "/" + "/".join(parts)
        if method == "POST" and body is not None:
            if sub == "token":
                return 201, {
                    **body,
                    "status": {"token": "fake-token", "expirationTimestamp": "2030-01-01T00:00:00Z"},
                }
            if sub == "eviction":
                self.objects.pop(key, None)
                return 201, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
            if body.get("kind") == "SelfSubjectAccessReview":
                return 201, {**body, "status": {"allowed": True}}
            obj = json.loads(json.dumps(body))
            md = obj.setdefault("metadata", {})
            md.setdefault("uid", f"uid-{len(self.objects)}")
            md.setdefault("resourceVersion", "1")
            md.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
            self.objects[key + "/" + md.get("name", "")] = obj
            return 201, obj
        if key in self.objects:
            obj = self.objects[key]
            if method == "DELETE":
                del self.objects[key]
                return 200, obj
            if sub == "scale":
                replicas = obj.get("spec", {}).get("replicas", 1)
                return 200, {
                    "kind": "Scale",
                    "apiVersion": "autoscaling/v1",
                    "metadata": obj["metadata"],
                    "spec": {"replicas": replicas},
                    "status": {"replicas": replicas},
                }
            return 200, obj  # GET, and PATCH/PUT (applied nowhere: bodies are what is tested)
        items = [o for k, o in self.objects.items() if k.rsplit("/", 1)[0] == key]
        kinds = {r: (k, gv) for gv, rs in [("v1", _CORE), *_GROUPS.items()] for r, k, _ in rs}
        if method == "GET" and parts[-1] in kinds:
            kind, group_version = kinds[parts[-1]]
            return 200, {
                "kind": kind + "List",
                "apiVersion": group_version,
                "metadata": {"resourceVersion": "1"},
                "items": items,
            }
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "message": f"{path} not found",
            "code": 404,
        }

    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                content_type = self.headers.get("Content-Type", "")
                fake.requests.append(
                    Recorded(self.command, self.path, content_type, self.headers.get("Accept", ""), raw)
                )
                body: dict[str, Any] | None = None
                out: dict[str, Any] = {}
                status = 400
                try:
                    if content_type.startswith(CONTENT_TYPE):
                        body = decode_body(raw)
                    elif raw and "json" in content_type and "patch" not in content_type:
                        body = json.loads(raw)
                    status, out = fake.handle(self.command, path, body)
                except ProtobufError as exc:
                    out = {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "BadRequest",
                        "message": str(exc),
                        "code": 400,
                    }
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = serve

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # kubectl's parallel discovery overflows the default 5

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def find_kubectl() -> str | None:
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.exists() else shutil.which("kubectl")


class Kubectl:
    """Runs kubectl against a FakeAPIServer with a throwaway kubeconfig and HOME."""

    def __init__(self, binary: str, server: FakeAPIServer, workdir: Path) -> None:
        self.binary, self.server, self.workdir = binary, server, workdir
        url = server.start()
        kubeconfig = workdir / "kubeconfig"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters: [{{name: fake, cluster: {{server: '{url}'}}}}]\n"
            "users: [{name: fake, user: {}}]\n"
            "contexts: [{name: fake, context: {cluster: fake, user: fake, namespace: default}}]\n"
            "current-context: fake\n"
        )
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(workdir)}

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def dry_run(self, args: list[str]) -> dict[str, Any]:
        cut = args.index("--") if "--" in args else len(args)
        result = self.run([*args[:cut], "--dry-run=client", "-o", "json", *args[cut:]])
        assert result.returncode == 0, result.stderr
        out: dict[str, Any] = json.loads(result.stdout)
        return out

    def capture(self, args: list[str]) -> Recorded:
        """Run a command and return the one protobuf request body it sent."""
        start = len(self.server.requests)
        result = self.run(args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        sent = [r for r in self.server.requests[start:] if r.content_type.startswith(CONTENT_TYPE)]
        assert len(sent) == 1, (
            args,
            [(r.method, r.path, r.content_type) for r in self.server.requests[start:]],
        )
        return sent[0]


# name -> kubectl arguments; {blob} is a file with bytes that are not UTF-8
COMMANDS: dict[str, list[str]] = {
    "configmap": ["create", "configmap", "x", "--from-literal=a=b", "--from-literal=c=d"],
    "configmap-binary": [
        "create",
        "configmap",
        "bin",
        "--from-file=blob.bin={blob}",
        "--from-literal=text=hello",
    ],
    "secret-generic": [
        "create",
        "secret",
        "generic",
        "s",
        "--from-literal=k=v",
        "--from-literal=password=s3cr=t",
    ],
    "secret-docker-registry": [
        "create",
        "secret",
        "docker-registry",
        "d",
        "--docker-server=registry.example",
        "--docker-username=u",
        "--docker-password=p",
        "--docker-email=u@example.com",
    ],
    "namespace": ["create", "namespace", "n"],
    "serviceaccount": ["create", "serviceaccount", "sa"],
    "deployment": ["create", "deployment", "web", "--image=nginx:1.25", "--replicas=3", "--port=80"],
    "deployment-zero-replicas": [
        "create",
        "deployment",
        "idle",
        "--image=nginx",
        "--image=busybox",
        "--replicas=0",
    ],
    "service-clusterip": ["create", "service", "clusterip", "s", "--tcp=80:8080", "--tcp=443:https"],
    "service-nodeport": ["create", "service", "nodeport", "np", "--tcp=80:8080", "--node-port=30080"],
    "service-externalname": ["create", "service", "externalname", "en", "--external-name=example.com"],
    "job": ["create", "job", "j", "--image=busybox", "--", "echo", "hi"],
    "cronjob": [
        "create",
        "cronjob",
        "cj",
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--restart=OnFailure",
        "--",
        "date",
    ],
    "quota": ["create", "quota", "q", "--hard=cpu=1,memory=1G,pods=2", "--scopes=NotBestEffort"],
    "pdb-percent": ["create", "poddisruptionbudget", "pdb", "--selector=app=x", "--min-available=50%"],
    "pdb-int": ["create", "poddisruptionbudget", "pdb2", "--selector=app=y", "--max-unavailable=1"],
    "priorityclass": [
        "create",
        "priorityclass",
        "pc",
        "--value=1000",
        "--description=d",
        "--preemption-policy=Never",
    ],
    "role": ["create", "role", "r", "--verb=get", "--verb=list", "--resource=pods,deployments.apps"],
    "rolebinding": [
        "create",
        "rolebinding",
        "rb",
        "--role=r",
        "--user=u",
        "--group=g",
        "--serviceaccount=default:sa",
    ],
    "ingress": [
        "create",
        "ingress",
        "ing",
        "--class=nginx",
        "--rule=foo.com/bar*=svc1:8080",
        "--rule=bar.com/=svc2:http",
    ],
    "hpa": ["autoscale", "deployment", "web", "--min=1", "--max=3", "--cpu=50"],
}

# Commands without --dry-run: their bodies are checked against hand-written objects.
HAND_CHECKED: dict[str, tuple[list[str], dict[str, Any]]] = {
    "tokenrequest": (
        ["create", "token", "sa", "--duration=1h", "--audience=aud1", "--audience=aud2"],
        {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},  # the name is in the URL
            "spec": {"audiences": ["aud1", "aud2"], "expirationSeconds": 3600},
            # Go's JSON would say the same: TokenRequestStatus has no omitempty and a
            # zero metav1.Time is null.
            "status": {"token": "", "expirationTimestamp": None},
        },
    ),
    "selfsubjectaccessreview": (
        ["auth", "can-i", "get", "pods"],
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}},
            "status": {"allowed": False},  # SubjectAccessReviewStatus.allowed has no omitempty
        },
    ),
}

BLOB = bytes(range(250, 256)) + b"\x00binary\x80"


def capture_all(kubectl: Kubectl) -> dict[str, tuple[Recorded, dict[str, Any]]]:
    blob = kubectl.workdir / "blob.bin"
    blob.write_bytes(BLOB)
    out: dict[str, tuple[Recorded, dict[str, Any]]] = {}
    for name, template in COMMANDS.items():
        args = [a.replace("{blob}", str(blob)) for a in template]
        expected = kubectl.dry_run(args)
        out[name] = (kubectl.capture(args), expected)
    for name, (args, expected) in HAND_CHECKED.items():
        out[name] = (kubectl.capture(args), expected)
    return out


def regenerate_fixtures() -> None:
    binary = find_kubectl()
    if binary is None:
        raise SystemExit("kubectl not found")
    version = subprocess.run(
        [binary, "version", "--client", "-o", "json"], capture_output=True, text=True, check=True
    )
    kubectl_version = json.loads(version.stdout)["clientVersion"]["gitVersion"]
    FIXTURES.mkdir(exist_ok=True)
    server = FakeAPIServer()
    with tempfile.TemporaryDirectory() as tmp:
        kubectl = Kubectl(binary, server, Path(tmp))
        try:
            captured = capture_all(kubectl)
        finally:
            server.stop()
    for name, (request, expected) in captured.items():
        template = COMMANDS.get(name) or HAND_CHECKED[name][0]
        (FIXTURES / f"{name}.pb").write_bytes(request.body)
        meta_doc = {
            "kubectl": "kubectl " + " ".join(template).replace("{blob}", "blob.bin"),
            "kubectlVersion": kubectl_version,
            "request": f"{request.method} {request.path}",
            "contentType": request.content_type,
            "expectedFrom": "kubectl --dry-run=client -o json" if name in COMMANDS else "hand-written",
            "object": expected,
        }
        (FIXTURES / f"{name}.json").write_text(json.dumps(meta_doc, indent=2, sort_keys=False) + "\n")
        print(f"{name}: {len(request.body)} bytes")


@pytest.fixture
def kubectl() -> Iterator[Kubectl]:
    binary = find_kubectl()
    if binary is None:
        pytest.skip("kubectl is not installed")
    server = FakeAPIServer()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            yield Kubectl(binary, server, Path(tmp))
        finally:
            server.stop()


@pytest.mark.compat
def test_live_kubectl_bodies_match_dry_run(kubectl: Kubectl) -> None:
    """kubectl sends protobuf, accepts minik-style JSON answers, and the bodies decode exactly."""
    for name, (request, expected) in capture_all(kubectl).items():
        assert request.method == "POST", name
        assert "application/json" in request.accept, request.accept
        assert decode_body(request.body) == expected, name


@pytest.mark.compat
def test_live_kubectl_reads_json_error_status(kubectl: Kubectl) -> None:
    """A 400 JSON Status in answer to a protobuf body reaches the user intact."""
    kubectl.server.handle = lambda method, path, body: (  # type: ignore[method-assign]
        400,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "BadRequest",
            "message": "minik says no",
            "code": 400,
        },
    )
    result = kubectl.run(["create", "configmap", "x", "--from-literal=a=b"])
    assert result.returncode != 0
    assert "minik says no" in result.stderr


if __name__ == "__main__":
    regenerate_fixtures()
