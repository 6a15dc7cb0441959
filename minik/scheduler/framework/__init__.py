"""The scheduling framework: data model, extension points and the runtime that calls them.

* :mod:`~minik.scheduler.framework.types` — :class:`PodInfo`, :class:`NodeInfo`,
  :class:`Status`, :class:`CycleState`, cluster events;
* :mod:`~minik.scheduler.framework.interface` — the plugin base classes, one
  per extension point, and the :class:`Handle` plugins get;
* :mod:`~minik.scheduler.framework.runtime` — :class:`Framework`: a profile's
  plugins instantiated, ordered and weighted, and the loops that call them.
"""

from minik.scheduler.framework.interface import (
    BindPlugin,
    ClusterEventWithHint,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    Plugin,
    PostFilterPlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
    default_normalize_score,
)
from minik.scheduler.framework.runtime import Framework, FrameworkError, Registry
from minik.scheduler.framework.types import (
    MAX_NODE_SCORE,
    ActionType,
    AffinityTerm,
    ClusterEvent,
    Code,
    CycleState,
    NodeInfo,
    PodInfo,
    Resource,
    Status,
    Taint,
)

__all__ = [
    "MAX_NODE_SCORE",
    "ActionType",
    "AffinityTerm",
    "BindPlugin",
    "ClusterEvent",
    "ClusterEventWithHint",
    "Code",
    "CycleState",
    "EnqueueExtensions",
    "FilterPlugin",
    "Framework",
    "FrameworkError",
    "Handle",
    "NodeInfo",
    "Plugin",
    "PodInfo",
    "PostFilterPlugin",
    "PreFilterPlugin",
    "PreFilterResult",
    "PreScorePlugin",
    "QueueSortPlugin",
    "Registry",
    "ReservePlugin",
    "Resource",
    "ScorePlugin",
    "Status",
    "Taint",
    "default_normalize_score",
]
