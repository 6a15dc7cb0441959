"""Node selectors: which nodes a pod's ``nodeSelector`` and node affinity allow.

The scheduler (NodeAffinity, PodTopologySpread) and the DaemonSet controller
(which node should run a daemon pod) must agree on this, so it lives here
once, as upstream keeps it in ``component-helpers/scheduling/corev1/nodeaffinity``.

:class:`RequiredNodeAffinity` (upstream ``nodeaffinity.RequiredNodeAffinity``)
is a pod's ``spec.nodeSelector`` (every label must equal) AND its
``requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms``, which
are ORed. :class:`NodeSelectorTerm` is one term: its ``matchExpressions`` (on
labels) and ``matchFields`` (only ``metadata.name``) are ANDed. Operators:
``In``, ``NotIn`` (also true when the label is missing), ``Exists``,
``DoesNotExist``, ``Gt``/``Lt`` (the label value and the single requirement
value are compared as integers); ``matchFields`` takes only ``In``/``NotIn``
with exactly one value.

Corner cases, as upstream: a term with no requirements matches nothing; a
term with an invalid requirement (unknown operator, ``In`` without values,
``Exists`` with values, a non-integer ``Gt``) is dropped, as if it were not
there; and a ``requiredDuringScheduling...`` with no usable terms matches no
node at all.

Everything is compiled once (label selectors from :mod:`minik.api.selectors`),
because the scheduler matches the same pod against every node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minik.api.selectors import (
    DOES_NOT_EXIST,
    EXISTS,
    GREATER_THAN,
    IN,
    LESS_THAN,
    NOT_IN,
    LabelSelector,
    Requirement,
    SelectorError,
)

__all__ = ["NodeSelectorTerm", "RequiredNodeAffinity", "compile_terms"]

_NODE_OPERATORS = {
    "In": IN,
    "NotIn": NOT_IN,
    "Exists": EXISTS,
    "DoesNotExist": DOES_NOT_EXIST,
    "Gt": GREATER_THAN,
    "Lt": LESS_THAN,
}


def _requirements(expressions: Any, *, fields: bool) -> list[Requirement]:
    out: list[Requirement] = []
    for expr in expressions or ():
        if not isinstance(expr, dict):
            raise SelectorError("node selector requirements must be objects")
        key = str(expr.get("key") or "")
        op = _NODE_OPERATORS.get(str(expr.get("operator")))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid node selector operator")
        values = [str(v) for v in expr.get("values") or ()]
        if fields:
            if key != "metadata.name":
                raise SelectorError(f"{key!r} is not a valid field selector key (only metadata.name)")
            if op not in (IN, NOT_IN) or len(values) != 1:
                raise SelectorError("matchFields metadata.name needs In/NotIn with exactly one value")
            out.append(Requirement(key, op, tuple(values)))
        else:
            out.append(Requirement.create(key, op, values))
    return out


class NodeSelectorTerm:
    """One compiled ``NodeSelectorTerm``: label requirements AND field requirements.

    Raises ``SelectorError`` for an invalid requirement (see :func:`compile_terms`).
    """

    __slots__ = ("empty", "fields", "labels")

    def __init__(self, term: Mapping[str, Any]) -> None:
        label_reqs = _requirements(term.get("matchExpressions"), fields=False)
        field_reqs = _requirements(term.get("matchFields"), fields=True)
        self.empty = not label_reqs and not field_reqs
        self.labels = LabelSelector(label_reqs) if label_reqs else None
        self.fields = LabelSelector(field_reqs) if field_reqs else None

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        """Whether a node with these ``labels`` and this ``name`` satisfies the term."""
        if self.empty:
            return False
        if self.labels is not None and not self.labels.matches(labels):
            return False
        return self.fields is None or self.fields.matches({"metadata.name": name})


def compile_terms(terms: Any) -> list[NodeSelectorTerm]:
    """Compile ``nodeSelectorTerms``, dropping terms that fail to parse (upstream logs and skips)."""
    out: list[NodeSelectorTerm] = []
    for term in terms or ():
        if not isinstance(term, dict):
            continue
        try:
            out.append(NodeSelectorTerm(term))
        except SelectorError:
            continue
    return out


class RequiredNodeAffinity:
    """``nodeSelector`` + required node affinity of a pod spec (see the module docs)."""

    __slots__ = ("node_selector", "terms")

    def __init__(self, pod_spec: Mapping[str, Any]) -> None:
        selector = pod_spec.get("nodeSelector")
        self.node_selector = (
            LabelSelector.from_set(selector) if isinstance(selector, dict) and selector else None
        )
        #: ``None``: no required node affinity at all (every node passes this half).
        self.terms: list[NodeSelectorTerm] | None = None
        affinity = pod_spec.get("affinity")
        node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
        if isinstance(node_affinity, dict):
            required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
            if isinstance(required, dict):
                self.terms = compile_terms(required.get("nodeSelectorTerms"))

    @property
    def empty(self) -> bool:
        """Neither a ``nodeSelector`` nor required node affinity: every node matches."""
        return self.node_selector is None and self.terms is None

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        """Whether a node with these ``labels`` and this ``name`` is allowed."""
        if self.node_selector is not None and not self.node_selector.matches(labels):
            return False
        if self.terms is None:
            return True
        return any(term.matches(labels, name) for term in self.terms)
