"""Container runtimes the kubelet drives: Docker for real pods, a fake one for scale tests.

The kubelet speaks to a runtime only through :class:`~minik.kubelet.runtime.base.Runtime`,
a small CRI-like protocol (sandbox, containers, logs, exec, stats, events), so the pod
workers do not know which one they are talking to.
"""

from minik.kubelet.runtime.base import (
    ContainerConfig,
    ContainerNotFound,
    ContainerRuntimeError,
    ContainerState,
    ContainerStats,
    ExecResult,
    ImagePullError,
    Mount,
    PodSandboxConfig,
    PortMapping,
    Runtime,
    RuntimeEvent,
)

__all__ = [
    "ContainerConfig",
    "ContainerNotFound",
    "ContainerRuntimeError",
    "ContainerState",
    "ContainerStats",
    "ExecResult",
    "ImagePullError",
    "Mount",
    "PodSandboxConfig",
    "PortMapping",
    "Runtime",
    "RuntimeEvent",
]
