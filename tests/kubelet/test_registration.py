"""``--node-labels`` and ``--register-with-taints`` in upstream's syntax."""

from __future__ import annotations

import argparse

import pytest

from minik.kubelet.main import parser
from minik.kubelet.registration import node_labels, node_taints


def test_labels() -> None:
    assert node_labels("type=kwok,example.com/pool=a") == {"type": "kwok", "example.com/pool": "a"}
    assert node_labels("empty=") == {"empty": ""}
    for bad in ("novalue", "bad key=x", "k=bad value"):
        with pytest.raises(argparse.ArgumentTypeError, match="invalid label"):
            node_labels(bad)


def test_taints() -> None:
    assert node_taints("kwok.x-k8s.io/node=fake:NoSchedule,gpu:NoExecute") == [
        {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"},
        {"key": "gpu", "effect": "NoExecute"},
    ]
    assert node_taints("a=:PreferNoSchedule") == [{"key": "a", "value": "", "effect": "PreferNoSchedule"}]
    for bad in ("a=b", "a=b:Sometimes", ":NoSchedule"):
        with pytest.raises(argparse.ArgumentTypeError, match="invalid taint"):
            node_taints(bad)


def test_the_kubelet_flags() -> None:
    args = parser().parse_args(["--node-labels", "type=kwok", "--register-with-taints", "k=v:NoExecute"])
    assert args.node_labels == {"type": "kwok"}
    assert args.register_with_taints == [{"key": "k", "value": "v", "effect": "NoExecute"}]
    defaults = parser().parse_args([])
    assert defaults.node_labels == {} and defaults.register_with_taints == []
