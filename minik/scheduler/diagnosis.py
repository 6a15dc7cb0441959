"""Why a pod fits nowhere: the per-node verdicts and upstream's one-line summary.

When no node passes Filter, every node has a :class:`Status` saying why (the
first plugin that rejected it). :class:`FitError` turns them into the message
``kubectl describe pod`` shows under the ``FailedScheduling`` event and in the
``PodScheduled=False`` condition, in kube-scheduler's exact format::

    0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.

* ``0/N`` — N is every node in the snapshot;
* then each distinct reason with the number of nodes that gave it, as
  ``"<count> <reason>"``, **sorted as strings** (so ``"10 Insufficient cpu"``
  sorts before ``"2 Insufficient memory"``, exactly like Go's ``sort.Strings``),
  joined by ``", "`` and ended by ``"."``; a node rejected for several
  reasons by one plugin (``Insufficient cpu`` *and* ``Insufficient memory``)
  counts once under each;
* if PreFilter already rejected the pod, its message replaces the histogram
  (every node would repeat it);
* a PostFilter message (preemption's ``preemption: 0/3 nodes are available:
  ...``, or why the pod may not preempt) is appended as a further sentence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from minik.scheduler.framework.types import PodInfo, Status

NO_NODES_AVAILABLE = "no nodes available to schedule pods"


@dataclass(slots=True)
class Diagnosis:
    """Node name -> the status that rejected it, and who rejected the pod."""

    node_to_status: dict[str, Status] = field(default_factory=dict)
    #: statuses for nodes PreFilter excluded (counted once per such node)
    absent_status: Status | None = None
    absent_count: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_msg: str = ""
    post_filter_msg: str = ""


class FitError(Exception):
    """No node can take the pod right now (upstream ``framework.FitError``)."""

    def __init__(self, pod: PodInfo, num_all_nodes: int, diagnosis: Diagnosis) -> None:
        self.pod = pod
        self.num_all_nodes = num_all_nodes
        self.diagnosis = diagnosis
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.num_all_nodes == 0:
            return NO_NODES_AVAILABLE
        d = self.diagnosis
        text = f"0/{self.num_all_nodes} nodes are available:"
        if d.pre_filter_msg:
            text += f" {d.pre_filter_msg}."
        else:
            histogram: Counter[str] = Counter()
            for status in d.node_to_status.values():
                histogram.update(status.reasons)
            if d.absent_status is not None and d.absent_count:
                for reason in d.absent_status.reasons:
                    histogram[reason] += d.absent_count
            parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
            if parts:
                text += " " + ", ".join(parts) + "."
        if d.post_filter_msg:
            text += f" {d.post_filter_msg}."
        return text
