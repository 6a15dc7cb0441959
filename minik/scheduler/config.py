"""The scheduler's configuration file: upstream's ``KubeSchedulerConfiguration`` (v1).

A file in the same shape as kube-scheduler's ``--config`` is accepted, so a
profile written for one works for the other as far as minik implements it::

    apiVersion: kubescheduler.config.k8s.io/v1
    kind: KubeSchedulerConfiguration
    percentageOfNodesToScore: 0          # 0 = adaptive (50% - nodes/125, at least 5%)
    podInitialBackoffSeconds: 1
    podMaxBackoffSeconds: 10
    leaderElection:
      leaderElect: true
      leaseDuration: 15s
      renewDeadline: 10s
      retryPeriod: 2s
      resourceNamespace: kube-system
      resourceName: minik-scheduler
    profiles:
    - schedulerName: default-scheduler
      plugins:
        score:
          disabled: [{name: NodeResourcesBalancedAllocation}]
          enabled: [{name: ImageLocality, weight: 5}]
      pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
            resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]

**Plugin sets** are merged with the defaults exactly as upstream does: each
extension point (``multiPoint``, ``queueSort``, ``preFilter``, ``filter``,
``postFilter``, ``preScore``, ``score``, ``reserve``, ``bind``) has
``enabled`` and ``disabled`` lists; ``disabled: [{name: "*"}]`` drops every
default at that point; an enabled plugin that is also a default keeps the
default's position with the new settings (weight); other enabled plugins are
appended. ``multiPoint`` enables a plugin at every extension point it
implements. The resolution into per-point lists happens in
:mod:`minik.scheduler.framework.runtime`; this module only parses, defaults
and validates, with errors that name the field (``profiles[0].plugins.score
.enabled[1].weight: must be ...``).

Durations are Go-style strings (``15s``, ``1m30s``, ``500ms``) as in the
upstream file, or plain numbers of seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = [
    "API_VERSION",
    "DEFAULT_PLUGINS",
    "EXTENSION_POINTS",
    "ConfigError",
    "LeaderElectionConfig",
    "PluginRef",
    "PluginSet",
    "Profile",
    "SchedulerConfig",
    "load_config",
    "parse_config",
    "parse_duration",
]

API_VERSION: Final = "kubescheduler.config.k8s.io/v1"
KIND: Final = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"

#: Extension points a profile may configure, in the order the cycle reaches them.
EXTENSION_POINTS: Final = (
    "multiPoint",
    "queueSort",
    "preFilter",
    "filter",
    "postFilter",
    "preScore",
    "score",
    "reserve",
    "bind",
)
#: Upstream extension points minik does not have (yet): enabling a plugin there is an error.
_UNSUPPORTED_POINTS: Final = ("preEnqueue", "permit", "preBind", "postBind")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the field."""


@dataclass(frozen=True, slots=True)
class PluginRef:
    name: str
    weight: int = 0  # 0 = "not set" (becomes 1 for score plugins), as upstream


@dataclass(slots=True)
class PluginSet:
    enabled: list[PluginRef] = field(default_factory=list)
    disabled: list[PluginRef] = field(default_factory=list)


#: kube-scheduler's default profile (v1 ``getDefaultPlugins``), minus the volume
#: plugins, which minik does not have.
DEFAULT_PLUGINS: Final[tuple[PluginRef, ...]] = (
    PluginRef("PrioritySort"),
    PluginRef("NodeUnschedulable"),
    PluginRef("NodeName"),
    PluginRef("TaintToleration", 3),
    PluginRef("NodeAffinity", 2),
    PluginRef("NodePorts"),
    PluginRef("NodeResourcesFit", 1),
    PluginRef("PodTopologySpread", 2),
    PluginRef("InterPodAffinity", 2),
    PluginRef("DefaultPreemption"),
    PluginRef("NodeResourcesBalancedAllocation", 1),
    PluginRef("ImageLocality", 1),
    PluginRef("DefaultBinder"),
)


@dataclass(slots=True)
class Profile:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    #: extension point -> merged plugin set (defaults applied, see module docs)
    plugins: dict[str, PluginSet] = field(default_factory=dict)
    plugin_config: dict[str, dict[str, Any]] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None


@dataclass(slots=True)
class LeaderElectionConfig:
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    resource_namespace: str = "kube-system"
    resource_name: str = "minik-scheduler"


@dataclass(slots=True)
class SchedulerConfig:
    profiles: list[Profile] = field(default_factory=lambda: [default_profile()])
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    leader_election: LeaderElectionConfig = field(default_factory=LeaderElectionConfig)

    def profile(self, scheduler_name: str) -> Profile | None:
        for profile in self.profiles:
            if profile.scheduler_name == scheduler_name:
                return profile
        return None


def default_profile(scheduler_name: str = DEFAULT_SCHEDULER_NAME) -> Profile:
    return Profile(scheduler_name=scheduler_name, plugins=merge_plugins({}))


# --- durations -------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS: Final = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: Any, path: str = "duration") -> float:
    """Seconds from a Go duration (``"1m30s"``, ``"500ms"``) or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{path}: must be a duration like 15s, not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value:
        text = value.strip()
        if text == "0":
            return 0.0
        pos, seconds = 0, 0.0
        while pos < len(text):
            m = _DURATION_PART.match(text, pos)
            if m is None:
                raise ConfigError(f"{path}: {value!r} is not a duration (use e.g. 15s, 1m30s, 500ms)")
            seconds += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
    else:
        raise ConfigError(f"{path}: must be a duration like 15s, not {value!r}")
    if seconds < 0:
        raise ConfigError(f"{path}: must not be negative")
    return seconds


# --- plugin set merging ----------------------------------------------------------------------


def _merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """Upstream ``mergePluginSet``: defaults minus disabled, overridden in place, customs appended."""
    disabled = [PluginRef(p.name) for p in custom.disabled] + [PluginRef(p.name) for p in default.disabled]
    disabled_names = {p.name for p in disabled}
    custom_index = {p.name: i for i, p in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginRef] = []
    if "*" not in disabled_names:
        for plugin in default.enabled:
            if plugin.name in disabled_names:
                continue
            if plugin.name in custom_index:
                index = custom_index[plugin.name]
                plugin = custom.enabled[index]
                replaced.add(index)
            enabled.append(plugin)
    enabled.extend(p for i, p in enumerate(custom.enabled) if i not in replaced)
    return PluginSet(enabled, disabled)


def merge_plugins(custom: Mapping[str, PluginSet]) -> dict[str, PluginSet]:
    """The profile's plugin sets with the defaults merged in (every point present)."""
    defaults = {point: PluginSet() for point in EXTENSION_POINTS}
    defaults["multiPoint"] = PluginSet(list(DEFAULT_PLUGINS))
    return {
        point: _merge_plugin_set(defaults[point], custom.get(point, PluginSet()))
        for point in EXTENSION_POINTS
    }


# --- parsing ---------------------------------------------------------------------------------


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{path}: must be a list, not {type(value).__name__}")
    return value


def _int(value: Any, path: str, *, low: int | None = None, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{path}: must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{path}: must be {bounds}, not {value}")
    return value


def _known(raw: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    for key in raw:
        if key not in allowed:
            where = f"{path}." if path else ""
            raise ConfigError(f"{where}{key}: unknown field (known: {', '.join(allowed)})")


def _plugin_set(raw: Any, path: str) -> PluginSet:
    data = _mapping(raw, path)
    _known(data, ("enabled", "disabled"), path)
    out = PluginSet()
    for which in ("enabled", "disabled"):
        for i, item in enumerate(_list(data.get(which), f"{path}.{which}")):
            item_path = f"{path}.{which}[{i}]"
            entry = _mapping(item, item_path)
            _known(entry, ("name", "weight"), item_path)
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{item_path}.name: required")
            weight = _int(entry.get("weight", 0), f"{item_path}.weight", low=0, high=100)
            getattr(out, which).append(PluginRef(name, weight))
    return out


def _profile(raw: Any, path: str) -> Profile:
    data = _mapping(raw, path)
    _known(data, ("schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore"), path)
    name = data.get("schedulerName", DEFAULT_SCHEDULER_NAME)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}.schedulerName: must be a non-empty string")
    plugins_raw = _mapping(data.get("plugins"), f"{path}.plugins")
    _known(plugins_raw, EXTENSION_POINTS + _UNSUPPORTED_POINTS, f"{path}.plugins")
    custom: dict[str, PluginSet] = {}
    for point, value in plugins_raw.items():
        plugin_set = _plugin_set(value, f"{path}.plugins.{point}")
        if point in _UNSUPPORTED_POINTS:
            if plugin_set.enabled:
                raise ConfigError(
                    f"{path}.plugins.{point}: minik has no {point} extension point yet "
                    f"(supported: {', '.join(EXTENSION_POINTS)})"
                )
            continue
        custom[point] = plugin_set
    plugin_config: dict[str, dict[str, Any]] = {}
    for i, item in enumerate(_list(data.get("pluginConfig"), f"{path}.pluginConfig")):
        item_path = f"{path}.pluginConfig[{i}]"
        entry = _mapping(item, item_path)
        _known(entry, ("name", "args"), item_path)
        plugin = entry.get("name")
        if not isinstance(plugin, str) or not plugin:
            raise ConfigError(f"{item_path}.name: required")
        if plugin in plugin_config:
            raise ConfigError(f"{item_path}.name: {plugin!r} is configured twice")
        args = dict(_mapping(entry.get("args"), f"{item_path}.args"))
        args.pop("apiVersion", None)
        args.pop("kind", None)
        plugin_config[plugin] = args
    percentage = data.get("percentageOfNodesToScore")
    return Profile(
        scheduler_name=name,
        plugins=merge_plugins(custom),
        plugin_config=plugin_config,
        percentage_of_nodes_to_score=None
        if percentage is None
        else _int(percentage, f"{path}.percentageOfNodesToScore", low=0, high=100),
    )


def _leader_election(raw: Any, path: str) -> LeaderElectionConfig:
    data = _mapping(raw, path)
    _known(
        data,
        (
            "leaderElect",
            "leaseDuration",
            "renewDeadline",
            "retryPeriod",
            "resourceLock",
            "resourceName",
            "resourceNamespace",
        ),
        path,
    )
    out = LeaderElectionConfig()
    if "leaderElect" in data:
        if not isinstance(data["leaderElect"], bool):
            raise ConfigError(f"{path}.leaderElect: must be true or false")
        out.leader_elect = data["leaderElect"]
    for key, attr in (
        ("leaseDuration", "lease_duration"),
        ("renewDeadline", "renew_deadline"),
        ("retryPeriod", "retry_period"),
    ):
        if key in data:
            setattr(out, attr, parse_duration(data[key], f"{path}.{key}"))
    lock = data.get("resourceLock", "leases")
    if lock != "leases":
        raise ConfigError(f"{path}.resourceLock: only 'leases' is supported, not {lock!r}")
    for key, attr in (("resourceName", "resource_name"), ("resourceNamespace", "resource_namespace")):
        if key in data:
            value = data[key]
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{path}.{key}: must be a non-empty string")
            setattr(out, attr, value)
    validate_leader_election(out, path)
    return out


def validate_leader_election(le: LeaderElectionConfig, path: str = "leaderElection") -> None:
    if le.lease_duration <= le.renew_deadline:
        raise ConfigError(f"{path}: leaseDuration must be greater than renewDeadline")
    if le.renew_deadline <= 1.2 * le.retry_period:
        raise ConfigError(f"{path}: renewDeadline must be greater than 1.2 x retryPeriod")


def parse_config(doc: Any) -> SchedulerConfig:
    """A :class:`SchedulerConfig` from a decoded document (see the module docs)."""
    data = _mapping(doc, "config")
    api_version = data.get("apiVersion")
    if api_version != API_VERSION:
        raise ConfigError(f"apiVersion: must be {API_VERSION!r}, not {api_version!r}")
    if data.get("kind") != KIND:
        raise ConfigError(f"kind: must be {KIND!r}, not {data.get('kind')!r}")
    _known(
        data,
        (
            "apiVersion",
            "kind",
            "profiles",
            "percentageOfNodesToScore",
            "podInitialBackoffSeconds",
            "podMaxBackoffSeconds",
            "leaderElection",
            "parallelism",
            "clientConnection",
            "enableProfiling",
            "enableContentionProfiling",
            "healthzBindAddress",
            "metricsBindAddress",
            "extenders",
            "delayCacheUntilActive",
        ),
        "",
    )
    if data.get("extenders"):
        raise ConfigError("extenders: scheduler extenders are not supported by minik")
    out = SchedulerConfig()
    if "percentageOfNodesToScore" in data:
        out.percentage_of_nodes_to_score = _int(
            data["percentageOfNodesToScore"], "percentageOfNodesToScore", low=0, high=100
        )
    if "podInitialBackoffSeconds" in data:
        out.pod_initial_backoff_seconds = _int(
            data["podInitialBackoffSeconds"], "podInitialBackoffSeconds", low=1
        )
    if "podMaxBackoffSeconds" in data:
        out.pod_max_backoff_seconds = _int(data["podMaxBackoffSeconds"], "podMaxBackoffSeconds", low=1)
    if out.pod_max_backoff_seconds < out.pod_initial_backoff_seconds:
        raise ConfigError("podMaxBackoffSeconds: must be at least podInitialBackoffSeconds")
    if "leaderElection" in data:
        out.leader_election = _leader_election(data["leaderElection"], "leaderElection")
    profiles_raw = _list(data.get("profiles"), "profiles")
    if profiles_raw:
        out.profiles = [_profile(p, f"profiles[{i}]") for i, p in enumerate(profiles_raw)]
    seen: set[str] = set()
    for i, profile in enumerate(out.profiles):
        if profile.scheduler_name in seen:
            raise ConfigError(f"profiles[{i}].schedulerName: {profile.scheduler_name!r} is used twice")
        seen.add(profile.scheduler_name)
    return out


def load_config(path: str | Path) -> SchedulerConfig:
    """Read and parse a configuration file (YAML or JSON)."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file} is not valid YAML: {exc}") from exc
    try:
        return parse_config(doc)
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
