"""PrioritySort: the order of the active queue (QueueSort extension point).

Higher ``spec.priority`` first; among equal priorities, the pod that entered
the queue first. The API server's priority admission fills ``spec.priority``
(0 unless a PriorityClass says otherwise), so every pod has one.
"""

from __future__ import annotations

from typing import Any

from minik.scheduler.framework.interface import QueueSortPlugin
from minik.scheduler.framework.types import QueuedPodInfo
from minik.scheduler.queue import priority_sort_key


class PrioritySort(QueueSortPlugin):
    name = "PrioritySort"

    def sort_key(self, pod: QueuedPodInfo) -> Any:
        return priority_sort_key(pod)
