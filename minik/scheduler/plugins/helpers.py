"""Matching rules shared by several plugins: tolerations and node selectors.

**Tolerations** (upstream ``Toleration.ToleratesTaint``): a toleration matches
a taint when its effect is empty or equal, its key is empty or equal, and —
with operator ``Exists`` — always, or — with ``Equal`` (the default) — when
the values are equal. So ``{operator: Exists}`` with no key and no effect
tolerates *every* taint, the classic escape hatch for DaemonSets.

**Node selectors** (upstream ``nodeaffinity.RequiredNodeAffinity``): a pod's
``spec.nodeSelector`` (every label must equal) AND its
``requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms``, which
are ORed; inside a term the ``matchExpressions`` (on labels) and
``matchFields`` (only ``metadata.name``) are ANDed. Operators: ``In``,
``NotIn`` (also true when the label is missing), ``Exists``,
``DoesNotExist``, ``Gt``/``Lt`` (the label value and the single requirement
value are compared as integers). A term with no requirements matches
nothing, and a term with an invalid requirement is ignored, as upstream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

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
from minik.client.objects import Obj
from minik.scheduler.framework.types import NodeInfo, Taint

__all__ = [
    "NodeSelectorTerm",
    "RequiredNodeAffinity",
    "Toleration",
    "find_untolerated_taint",
    "tolerations_of",
]


class Toleration(NamedTuple):
    key: str
    operator: str
    value: str
    effect: str

    @classmethod
    def from_dict(cls, raw: Obj) -> Toleration:
        return cls(
            str(raw.get("key") or ""),
            str(raw.get("operator") or "Equal"),
            str(raw.get("value") or ""),
            str(raw.get("effect") or ""),
        )

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        if self.operator == "Equal":
            return self.value == taint.value
        return False


def tolerations_of(spec: Obj) -> tuple[Toleration, ...]:
    return tuple(Toleration.from_dict(t) for t in spec.get("tolerations") or () if isinstance(t, dict))


def tolerates_taint(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    return any(t.tolerates(taint) for t in tolerations)


def find_untolerated_taint(taints: Sequence[Taint], tolerations: Sequence[Toleration]) -> Taint | None:
    """The first of ``taints`` no toleration matches (``None``: all tolerated)."""
    for taint in taints:
        if not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


# --- node selectors --------------------------------------------------------------------------

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
    """One compiled ``NodeSelectorTerm``: label requirements AND field requirements."""

    __slots__ = ("empty", "fields", "labels")

    def __init__(self, term: Obj) -> None:
        label_reqs = _requirements(term.get("matchExpressions"), fields=False)
        field_reqs = _requirements(term.get("matchFields"), fields=True)
        self.empty = not label_reqs and not field_reqs
        self.labels = LabelSelector(label_reqs) if label_reqs else None
        self.fields = LabelSelector(field_reqs) if field_reqs else None

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
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
    """``nodeSelector`` + required node affinity of a pod (see the module docs)."""

    __slots__ = ("node_selector", "terms")

    def __init__(self, spec: Obj) -> None:
        selector = spec.get("nodeSelector")
        self.node_selector = (
            LabelSelector.from_set(selector) if isinstance(selector, dict) and selector else None
        )
        self.terms: list[NodeSelectorTerm] | None = None
        affinity = spec.get("affinity")
        node_affinity = affinity.get("nodeAffinity") if isinstance(affinity, dict) else None
        if isinstance(node_affinity, dict):
            required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
            if isinstance(required, dict):
                self.terms = compile_terms(required.get("nodeSelectorTerms"))

    @property
    def empty(self) -> bool:
        return self.node_selector is None and self.terms is None

    def matches(self, node: NodeInfo) -> bool:
        if self.node_selector is not None and not self.node_selector.matches(node.labels):
            return False
        if self.terms is None:
            return True
        labels, name = node.labels, node.name
        return any(term.matches(labels, name) for term in self.terms)
