"""The FailedScheduling summary, in kube-scheduler's exact words and order."""

from __future__ import annotations

from minik.scheduler.diagnosis import Diagnosis, FitError
from minik.scheduler.framework.types import Code, PodInfo, Status
from tests.scheduler.builders import make_pod

POD = PodInfo.from_pod(make_pod())
TAINT = Status(
    Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
    ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",),
)


def test_upstream_example() -> None:
    d = Diagnosis({"n1": Status(Code.UNSCHEDULABLE, ("Insufficient cpu",)), "n2": TAINT, "n3": TAINT})
    assert FitError(POD, 3, d).message == (
        "0/3 nodes are available: 1 Insufficient cpu, "
        "2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    )


def test_each_reason_counts_and_sorting_is_by_string() -> None:
    statuses = {
        f"n{i}": Status(Code.UNSCHEDULABLE, ("Insufficient cpu", "Insufficient memory")) for i in range(10)
    }
    statuses["x"] = Status(Code.UNSCHEDULABLE, ("Insufficient memory",))
    statuses["y"] = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) were unschedulable",))
    statuses["z"] = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) were unschedulable",))
    message = FitError(POD, 13, Diagnosis(statuses)).message
    # "10 ..." sorts before "11 ..." and "2 ..." (Go's sort.Strings)
    assert message == (
        "0/13 nodes are available: 10 Insufficient cpu, 11 Insufficient memory, 2 node(s) were unschedulable."
    )


def test_prefilter_message_replaces_the_histogram() -> None:
    d = Diagnosis({"n1": TAINT}, pre_filter_msg="pod affinity terms conflict")
    assert FitError(POD, 4, d).message == "0/4 nodes are available: pod affinity terms conflict."


def test_nodes_excluded_by_prefilter_are_counted() -> None:
    d = Diagnosis(
        {"n1": Status(Code.UNSCHEDULABLE, ("Insufficient cpu",))},
        absent_status=Status(
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't satisfy plugin(s) [NodeAffinity]",)
        ),
        absent_count=2,
    )
    assert FitError(POD, 3, d).message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )


def test_postfilter_message_is_appended() -> None:
    d = Diagnosis(
        {"n1": TAINT},
        post_filter_msg="preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling",
    )
    assert FitError(POD, 1, d).message.endswith(
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/1 nodes are available: "
        "1 Preemption is not helpful for scheduling."
    )


def test_no_nodes() -> None:
    assert FitError(POD, 0, Diagnosis()).message == "no nodes available to schedule pods"
