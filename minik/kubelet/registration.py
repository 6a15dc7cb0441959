"""The kubelet's registration flags, in upstream's syntax.

``--node-labels``
    ``key=value[,key=value...]``: labels put on the Node when it registers (merged
    into an existing Node's labels).
``--register-with-taints``
    ``key[=value]:Effect[,...]``: taints the Node registers with, ``Effect`` one of
    ``NoSchedule``, ``PreferNoSchedule``, ``NoExecute``. Only pods that tolerate them
    land there — the usual way to keep ordinary workloads off fake nodes
    (``--register-with-taints kwok.x-k8s.io/node=fake:NoSchedule``).

Both fail with a message naming the bad item, which the process shell turns into a
usage error, exit status 2.
"""

from __future__ import annotations

import argparse

from minik.api.validation.names import is_label_value, is_qualified_name

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _check_label(key: str, value: str, what: str) -> None:
    problems = is_qualified_name(key) + is_label_value(value)
    if problems:
        raise argparse.ArgumentTypeError(f"invalid {what} {key}={value}: {'; '.join(problems)}")


def node_labels(text: str) -> dict[str, str]:
    """``a=b,c=d`` → ``{"a": "b", "c": "d"}``."""
    labels: dict[str, str] = {}
    for item in (x.strip() for x in str(text).split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError(f"invalid label {item!r}: expected key=value")
        _check_label(key, value, "label")
        labels[key] = value
    return labels


def node_taints(text: str) -> list[dict[str, str]]:
    """``k=v:NoSchedule,k2:NoExecute`` → taint objects (``key``, ``value`` if given, ``effect``)."""
    taints: list[dict[str, str]] = []
    for item in (x.strip() for x in str(text).split(",")):
        if not item:
            continue
        spec, sep, effect = item.rpartition(":")
        if not sep or effect not in EFFECTS:
            raise argparse.ArgumentTypeError(
                f"invalid taint {item!r}: expected key=value:Effect with Effect one of {', '.join(EFFECTS)}"
            )
        key, has_value, value = spec.partition("=")
        _check_label(key, value, "taint")
        taint = {"key": key, "effect": effect}
        if has_value:
            taint["value"] = value
        taints.append(taint)
    return taints
