"""The in-tree plugins, by name: what a profile's plugin sets may refer to.

=================================  ==============================================  ========================
plugin                             extension points                                module
=================================  ==============================================  ========================
PrioritySort                       QueueSort                                       ``queuesort``
NodeUnschedulable                  Filter                                          ``nodeunschedulable``
NodeName                           PreFilter, Filter                               ``nodename``
TaintToleration                    PreFilter, Filter, PreScore, Score              ``tainttoleration``
NodeAffinity                       PreFilter, Filter, PreScore, Score              ``nodeaffinity``
NodePorts                          PreFilter, Filter                               ``nodeports``
NodeResourcesFit                   Filter, PreScore, Score                         ``noderesources``
NodeResourcesBalancedAllocation    PreScore, Score                                 ``noderesources``
InterPodAffinity                   PreFilter, Filter, PreScore, Score              ``interpodaffinity``
PodTopologySpread                  PreFilter, Filter, PreScore, Score              ``podtopologyspread``
ImageLocality                      PreScore, Score                                 ``imagelocality``
DefaultPreemption                  PostFilter                                      ``defaultpreemption``
DefaultBinder                      Bind                                            ``defaultbinder``
=================================  ==============================================  ========================

An out-of-tree plugin is registered by passing a registry that includes it to
:class:`~minik.scheduler.scheduler.Scheduler` (``{**IN_TREE_PLUGINS, "MyPlugin": MyPlugin}``).
"""

from __future__ import annotations

from collections.abc import Mapping

from minik.scheduler.framework.interface import Plugin
from minik.scheduler.plugins.defaultbinder import DefaultBinder
from minik.scheduler.plugins.defaultpreemption import DefaultPreemption
from minik.scheduler.plugins.imagelocality import ImageLocality
from minik.scheduler.plugins.interpodaffinity import InterPodAffinity
from minik.scheduler.plugins.nodeaffinity import NodeAffinity
from minik.scheduler.plugins.nodename import NodeName
from minik.scheduler.plugins.nodeports import NodePorts
from minik.scheduler.plugins.noderesources import NodeResourcesBalancedAllocation, NodeResourcesFit
from minik.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from minik.scheduler.plugins.podtopologyspread import PodTopologySpread
from minik.scheduler.plugins.queuesort import PrioritySort
from minik.scheduler.plugins.tainttoleration import TaintToleration

IN_TREE_PLUGINS: Mapping[str, type[Plugin]] = {
    cls.name: cls
    for cls in (
        PrioritySort,
        NodeUnschedulable,
        NodeName,
        TaintToleration,
        NodeAffinity,
        NodePorts,
        NodeResourcesFit,
        NodeResourcesBalancedAllocation,
        InterPodAffinity,
        PodTopologySpread,
        DefaultPreemption,
        ImageLocality,
        DefaultBinder,
    )
}

__all__ = ["IN_TREE_PLUGINS"]
