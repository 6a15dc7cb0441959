"""Decoding benchmark: what a body costs ``minik.apiserver.decoding``, friendly or hostile.

Run: ``.venv/bin/python bench/bench_decoding.py``. In process, no server. Prints the
time per decode and the peak memory (tracemalloc, measured in a separate run so it
does not slow the timing) for:

* a ~2 KiB Deployment as YAML, next to PyYAML's ``safe_load`` (what the API server used
  before) — bar: not slower;
* a 2 MiB YAML list and the same as JSON;
* the hostile bodies of issue 13 — the 9-level alias bomb, a ~1 KiB wide alias bomb,
  100,000 levels of ``[`` as YAML and as JSON — bar: each refused in ≤ 50 ms and
  ≤ 20 MiB peak.
"""

from __future__ import annotations

import functools
import itertools
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import contextlib

from minik.api import errors
from minik.apiserver import decoding

YAML, JSON = "application/yaml", "application/json"


def alias_bomb(levels: int, fan_out: int) -> bytes:
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * fan_out)}]"]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * fan_out)}]")
    return ("\n".join(lines) + "\n").encode()


def deployment() -> dict[str, Any]:
    container = {
        "name": "web",
        "image": "nginx:1.25",
        "ports": [{"containerPort": 80}],
        "env": [{"name": f"E{i}", "value": str(i)} for i in range(20)],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container]}},
        },
    }


def measure(fn: Callable[[], object], repeat: int) -> tuple[float, int, str]:
    """Seconds per call, peak bytes of one call, and how it ended."""
    outcome = "ok"
    start = time.perf_counter()
    for _ in range(repeat):
        try:
            fn()
        except errors.APIError as e:
            outcome = f"{e.code} " + " ".join(e.message.split())[:70]
    per_call = (time.perf_counter() - start) / repeat
    tracemalloc.start()
    with contextlib.suppress(errors.APIError):
        fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return per_call, peak, outcome


def main() -> None:
    dep_yaml = yaml.safe_dump(deployment()).encode()
    big = {"items": [{"a": i, "b": f"x{i}"} for i in range(100_000)]}
    big_yaml, big_json = yaml.safe_dump(big, default_flow_style=True).encode(), orjson.dumps(big)
    cases: list[tuple[str, Callable[[], object], int]] = [
        ("deployment YAML, PyYAML safe_load", lambda: yaml.safe_load(dep_yaml), 200),
        ("deployment YAML, decoding", lambda: decoding.decode(dep_yaml, YAML), 200),
        (f"{len(big_yaml) >> 20} MiB YAML list, decoding", lambda: decoding.decode(big_yaml, YAML), 1),
        (f"{len(big_json) >> 20} MiB JSON list, decoding", lambda: decoding.decode(big_json, JSON), 3),
    ]
    hostile = {
        "9-level alias bomb": (alias_bomb(9, 9), YAML),
        "wide alias bomb (8 x 24)": (alias_bomb(8, 24), YAML),
        "100k levels of [ as YAML": (b"[" * 100_000 + b"]" * 100_000, YAML),
        "100k levels of [ as JSON": (b"[" * 100_000 + b"]" * 100_000, JSON),
    }
    for name, (raw, content_type) in hostile.items():
        cases.append((f"{name} ({len(raw)} B)", functools.partial(decoding.decode, raw, content_type), 20))
    width = max(len(name) for name, _, _ in cases)
    for name, fn, repeat in cases:
        per_call, peak, outcome = measure(fn, repeat)
        print(f"{name:<{width}}  {per_call * 1000:9.2f} ms  peak {peak / 2**20:7.1f} MiB  {outcome}")


if __name__ == "__main__":
    main()
