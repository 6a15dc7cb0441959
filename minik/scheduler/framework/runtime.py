"""The framework: one profile's plugins, instantiated and called in order.

:class:`Framework` turns a :class:`~minik.scheduler.config.Profile` into
plugin instances and runs the extension points for one pod at a time:

1. **Which plugins where.** The profile's merged plugin sets are expanded like
   upstream's ``frameworkImpl``: plugins named at a specific extension point
   come first if they override a ``multiPoint`` plugin, then every
   ``multiPoint`` plugin that *implements* that point (``isinstance``), then
   the rest of the specific ones. A plugin disabled at a point is skipped
   there even if ``multiPoint`` enables it. Exactly one QueueSort and at least
   one Bind plugin are required.
2. **Score weights** come from the ``score`` list first, then ``multiPoint``;
   0 means 1.
3. **Args**: ``pluginConfig[].args`` merged over the plugin's ``default_args``.
   One instance per plugin serves all its extension points.

The node loop (:meth:`Framework.find_feasible`) is the hot path: the filter
functions are bound once per pod (plugins that answered SKIP in PreFilter
left out), nodes are visited from a rotating start index, and the loop stops
as soon as ``limit`` feasible nodes were found — the mechanism behind
``percentageOfNodesToScore``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from minik.scheduler.config import Profile
from minik.scheduler.framework.interface import (
    FILTER_RUNNER_KEY,
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
)
from minik.scheduler.framework.types import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    Code,
    CycleState,
    FrameworkError,
    NodeInfo,
    PodInfo,
    Status,
)

__all__ = ["Framework", "FrameworkError", "Registry", "plugin_args"]

log = logging.getLogger(__name__)

#: Plugin name -> plugin class.
Registry = Mapping[str, type[Plugin]]

_POINT_TYPES: dict[str, type[Plugin]] = {
    "queueSort": QueueSortPlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "bind": BindPlugin,
}


class Framework:
    """The plugins of one scheduling profile (see the module docs)."""

    def __init__(self, profile: Profile, registry: Registry, handle: Handle) -> None:
        self.profile_name = profile.scheduler_name
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score
        self.handle = handle
        plugins = profile.plugins
        needed: list[str] = []
        for point_set in plugins.values():
            for ref in point_set.enabled:
                if ref.name not in needed:
                    needed.append(ref.name)
        for unknown in sorted(set(profile.plugin_config) - set(registry)):
            raise ValueError(f"profile {self.profile_name!r}: pluginConfig for unknown plugin {unknown!r}")
        self.plugins: dict[str, Plugin] = {}
        for name in needed:
            cls = registry.get(name)
            if cls is None:
                raise ValueError(
                    f"profile {self.profile_name!r}: plugin {name!r} does not exist "
                    f"(known: {', '.join(sorted(registry))})"
                )
            args = {**cls.default_args, **profile.plugin_config.get(name, {})}
            try:
                self.plugins[name] = cls(args, handle)
            except (ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"profile {self.profile_name!r}: plugin {name}: {exc}") from exc

        lists: dict[str, list[Plugin]] = {}
        for point, kind in _POINT_TYPES.items():
            lists[point] = self._expand(point, kind, profile)
        if len(lists["queueSort"]) != 1:
            raise ValueError(
                f"profile {self.profile_name!r}: exactly one queueSort plugin is required, "
                f"got {len(lists['queueSort'])}"
            )
        if not lists["bind"]:
            raise ValueError(f"profile {self.profile_name!r}: at least one bind plugin is required")
        self.queue_sort: QueueSortPlugin = lists["queueSort"][0]  # type: ignore[assignment]
        self.pre_filter_plugins: list[PreFilterPlugin] = lists["preFilter"]  # type: ignore[assignment]
        self.filter_plugins: list[FilterPlugin] = lists["filter"]  # type: ignore[assignment]
        self.post_filter_plugins: list[PostFilterPlugin] = lists["postFilter"]  # type: ignore[assignment]
        self.pre_score_plugins: list[PreScorePlugin] = lists["preScore"]  # type: ignore[assignment]
        self.score_plugins: list[ScorePlugin] = lists["score"]  # type: ignore[assignment]
        self.reserve_plugins: list[ReservePlugin] = lists["reserve"]  # type: ignore[assignment]
        self.bind_plugins: list[BindPlugin] = lists["bind"]  # type: ignore[assignment]

        self.score_weights: dict[str, int] = {}
        for ref in [*plugins["score"].enabled, *plugins["multiPoint"].enabled]:
            plugin = self.plugins.get(ref.name)
            if isinstance(plugin, ScorePlugin) and ref.name not in self.score_weights:
                self.score_weights[ref.name] = ref.weight or 1

    def _expand(self, point: str, kind: type[Plugin], profile: Profile) -> list[Plugin]:
        """Upstream's ``expandMultiPointPlugins`` for one extension point."""
        specific = profile.plugins[point]
        enabled = [ref.name for ref in specific.enabled]
        for name in enabled:
            if not isinstance(self.plugins[name], kind):
                raise ValueError(f"profile {self.profile_name!r}: plugin {name!r} does not implement {point}")
        if len(set(enabled)) != len(enabled):
            raise ValueError(f"profile {self.profile_name!r}: a plugin is enabled twice at {point}")
        disabled = {ref.name for ref in specific.disabled}
        if "*" in disabled:
            return [self.plugins[name] for name in enabled]
        overrides: list[str] = []
        multi: list[str] = []
        for ref in profile.plugins["multiPoint"].enabled:
            plugin = self.plugins[ref.name]
            if not isinstance(plugin, kind) or ref.name in disabled:
                continue
            if ref.name in enabled:
                overrides.append(ref.name)
                continue
            if ref.name in multi:
                raise ValueError(
                    f"profile {self.profile_name!r}: plugin {ref.name!r} already registered at {point}"
                )
            multi.append(ref.name)
        ordered = [n for n in enabled if n in overrides] + multi + [n for n in enabled if n not in overrides]
        return [self.plugins[name] for name in ordered]

    # -- introspection --------------------------------------------------------------------------

    def list_plugins(self) -> dict[str, list[str]]:
        """Extension point -> plugin names in call order (weights for score)."""
        return {
            "queueSort": [self.queue_sort.name],
            "preFilter": [p.name for p in self.pre_filter_plugins],
            "filter": [p.name for p in self.filter_plugins],
            "postFilter": [p.name for p in self.post_filter_plugins],
            "preScore": [p.name for p in self.pre_score_plugins],
            "score": [f"{p.name}={self.score_weights[p.name]}" for p in self.score_plugins],
            "reserve": [p.name for p in self.reserve_plugins],
            "bind": [p.name for p in self.bind_plugins],
        }

    def events_to_register(self) -> dict[str, list[ClusterEventWithHint]]:
        """Plugin name -> the cluster events that may make pods it rejected schedulable."""
        return {
            name: plugin.events_to_register()
            for name, plugin in self.plugins.items()
            if isinstance(plugin, EnqueueExtensions)
        }

    # -- PreFilter / Filter ------------------------------------------------------------------------

    def run_pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status | None]:
        """Run PreFilter plugins. A rejection stops at once (``status.plugin`` names
        the plugin); the results of all plugins are intersected."""
        result: PreFilterResult | None = None
        narrowing: list[str] = []
        for plugin in self.pre_filter_plugins:
            res, status = plugin.pre_filter(state, pod, nodes)
            if status is not None:
                if status.code == Code.SKIP:
                    state.skip_filter.add(plugin.name)
                    continue
                status.plugin = plugin.name
                if status.code == Code.ERROR:
                    raise FrameworkError(status)
                return None, status
            if res is not None and res.node_names is not None:
                narrowing.append(plugin.name)
                res = PreFilterResult(res.node_names, (plugin.name,))
                result = res if result is None else result.merge(res)
                if not result.node_names:
                    names = " ".join(sorted(narrowing))
                    reason = f"node(s) didn't satisfy plugin(s) [{names}]"
                    if len(narrowing) > 1:
                        reason += " simultaneously"
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,), plugin.name)
        return result, None

    def filters(
        self, state: CycleState
    ) -> list[tuple[str, Callable[[CycleState, PodInfo, NodeInfo], Status | None]]]:
        skip = state.skip_filter
        return [(p.name, p.filter) for p in self.filter_plugins if p.name not in skip]

    def run_filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """Every (non-skipped) filter on one node; the first rejection wins."""
        for name, check in self.filters(state):
            status = check(state, pod, node)
            if status is not None:
                status.plugin = name
                if status.code == Code.ERROR:
                    raise FrameworkError(status)
                return status
        return None

    def find_feasible(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        *,
        start: int,
        limit: int,
        statuses: dict[str, Status],
    ) -> tuple[list[NodeInfo], int]:
        """Filter ``nodes`` from index ``start`` (wrapping) until ``limit`` fit.

        Rejections are recorded in ``statuses`` by node name. Returns the
        feasible nodes and how many nodes were looked at.

        Nodes go through the filters in chunks — each plugin's
        :meth:`~FilterPlugin.filter_nodes` over the nodes that passed the
        previous plugins — sized to what is still needed, so the common case
        is one pass. The result is exactly the node-by-node loop's: a node's
        status comes from the first plugin that rejects it, and a chunk that
        overshoots ``limit`` is cut back at the limit-th feasible node.
        """
        total = len(nodes)
        if total == 0 or limit <= 0:
            return [], 0
        start %= total
        ordered = [*nodes[start:], *nodes[:start]] if start else list(nodes)
        skip = state.skip_filter
        plugins = [p for p in self.filter_plugins if p.name not in skip]
        if not plugins:
            return ordered[:limit], min(limit, total)
        feasible: list[NodeInfo] = []
        processed = 0
        while processed < total and len(feasible) < limit:
            need = limit - len(feasible)
            chunk = ordered[processed : processed + max(need, 32)]
            found: dict[str, Status] = {}
            passed = chunk
            for plugin in plugins:
                passed = plugin.filter_nodes(state, pod, passed, found)
                if not passed:
                    break
            if len(passed) > need:
                passed = passed[:need]
                last = passed[-1]
                cut = next(i for i, node in enumerate(chunk) if node is last) + 1
                for node in chunk[cut:]:
                    found.pop(node.name, None)
                chunk = chunk[:cut]
            statuses.update(found)
            feasible.extend(passed)
            processed += len(chunk)
        return feasible, processed

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]
    ) -> tuple[str | None, Status | None]:
        """PostFilter plugins in order until one nominates a node."""
        messages: list[str] = []
        state.write(FILTER_RUNNER_KEY, self.run_filter)
        for plugin in self.post_filter_plugins:
            nominated, status = plugin.post_filter(state, pod, statuses)
            if nominated:
                return nominated, None
            if status is not None and status.reasons:
                status.plugin = plugin.name
                messages.extend(status.reasons)
        if messages:
            return None, Status(Code.UNSCHEDULABLE, tuple(messages))
        return None, None

    # -- PreScore / Score --------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> None:
        for plugin in self.pre_score_plugins:
            status = plugin.pre_score(state, pod, nodes)
            if status is None:
                continue
            if status.code == Code.SKIP:
                state.skip_score.add(plugin.name)
                continue
            status.plugin = plugin.name
            raise FrameworkError(status)

    def run_score(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        *,
        breakdown: dict[str, list[int]] | None = None,
    ) -> list[int]:
        """Weighted total score per node (same order as ``nodes``)."""
        totals: list[int] | None = None
        skip = state.skip_score
        for plugin in self.score_plugins:
            name = plugin.name
            if name in skip:
                continue
            scores = plugin.score_nodes(state, pod, nodes)
            status = plugin.normalize_score(state, pod, nodes, scores)
            if status is not None:
                status.plugin = name
                raise FrameworkError(status)
            if scores and (max(scores) > MAX_NODE_SCORE or min(scores) < MIN_NODE_SCORE):
                raise FrameworkError(
                    Status(
                        Code.ERROR, (f"plugin {name} returned scores outside [0, 100]: {scores[:10]}",), name
                    )
                )
            if breakdown is not None:
                breakdown[name] = list(scores)
            weight = self.score_weights[name]
            if totals is None:
                totals = scores if weight == 1 else [s * weight for s in scores]
            elif weight == 1:
                totals = [t + s for t, s in zip(totals, scores, strict=True)]
            else:
                totals = [t + s * weight for t, s in zip(totals, scores, strict=True)]
        return totals if totals is not None else [0] * len(nodes)

    # -- Reserve / Bind ------------------------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for plugin in self.reserve_plugins:
            status = plugin.reserve(state, pod, node_name)
            if status is not None:
                status.plugin = plugin.name
                return status
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        """Unreserve in reverse order; a failing plugin is logged, not fatal."""
        for plugin in reversed(self.reserve_plugins):
            try:
                plugin.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve of %s for %s failed", plugin.name, pod.key)

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status | None:
        for plugin in self.bind_plugins:
            status = await plugin.bind(state, pod, node_name)
            if status is not None and status.code == Code.SKIP:
                continue
            if status is not None:
                status.plugin = plugin.name
            return status
        return Status(Code.ERROR, (f"no bind plugin bound pod {pod.key}",))


def plugin_args(args: Mapping[str, Any], key: str, default: Any) -> Any:
    """``args[key]`` or ``default`` (helper for plugins reading their args)."""
    value = args.get(key)
    return default if value is None else value
