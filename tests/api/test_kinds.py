"""The catalogue of kinds is one list: the API server serves entries of it, clients address them."""

from __future__ import annotations

import pytest

from minik.api import kinds
from minik.apiserver.registry import RESOURCES


def test_every_served_resource_is_the_catalogue_entry_of_its_kind() -> None:
    for served in RESOURCES:
        ref = kinds.for_kind(served.api_version, served.kind)
        assert (served.group, served.version, served.plural, served.namespaced, served.short_names) == (
            ref.group,
            ref.version,
            ref.plural,
            ref.namespaced,
            ref.short_names,
        )


def test_clients_read_the_same_catalogue() -> None:
    from minik.client import kinds as client_kinds

    assert client_kinds.BUILTIN is kinds.BUILTIN
    assert client_kinds.ResourceRef is kinds.ResourceRef
    assert client_kinds.lookup("deploy") is kinds.DEPLOYMENTS


def test_names_are_unique_across_the_catalogue() -> None:
    plurals = [(r.group, r.plural) for r in kinds.BUILTIN]
    gvks = [(r.api_version, r.kind) for r in kinds.BUILTIN]
    shorts = [s for r in kinds.BUILTIN for s in r.short_names]
    assert len(set(plurals)) == len(plurals)
    assert len(set(gvks)) == len(gvks)
    assert len(set(shorts)) == len(shorts)


@pytest.mark.parametrize(
    ("ref", "kwargs", "path"),
    [
        (
            kinds.PODS,
            {"namespace": "ns", "name": "web", "subresource": "status"},
            "/api/v1/namespaces/ns/pods/web/status",
        ),
        (kinds.NODES, {"name": "n1"}, "/api/v1/nodes/n1"),
        (kinds.DEPLOYMENTS, {}, "/apis/apps/v1/deployments"),
        (kinds.LEASES, {"namespace": "a b"}, "/apis/coordination.k8s.io/v1/namespaces/a%20b/leases"),
    ],
)
def test_paths(ref: kinds.ResourceRef, kwargs: dict[str, str], path: str) -> None:
    assert ref.path(**kwargs) == path


def test_a_cluster_scoped_resource_has_no_namespace() -> None:
    with pytest.raises(ValueError, match="cluster-scoped"):
        kinds.NODES.path(namespace="default", name="n1")
