"""Server-side columns of CronJobs and Ingresses, as upstream prints them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from minik.apiserver import tables
from minik.client.objects import format_time

NOW = time.time()


def ts(seconds_ago: float) -> str:
    return format_time(datetime.fromtimestamp(NOW - seconds_ago, UTC))


def columns(kind: str) -> list[tuple[str, int]]:
    return [(c.name, c.priority) for c in tables.printer_for(kind).columns]


def test_cronjob_columns_and_cells() -> None:
    assert columns("CronJob") == [
        ("Name", 0),
        ("Schedule", 0),
        ("Timezone", 0),
        ("Suspend", 0),
        ("Active", 0),
        ("Last Schedule", 0),
        ("Age", 0),
        ("Containers", 1),
        ("Images", 1),
        ("Selector", 1),
    ]
    cj: dict[str, Any] = {
        "metadata": {"name": "tick", "creationTimestamp": ts(600)},
        "spec": {
            "schedule": "*/1 * * * *",
            "suspend": False,
            "jobTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
            },
        },
        "status": {"active": [{"name": "tick-1"}, {"name": "tick-2"}], "lastScheduleTime": ts(30)},
    }
    assert tables.cronjob_cells(cj, NOW) == [
        "tick",
        "*/1 * * * *",
        "<none>",
        "False",
        2,
        "30s",
        "10m",
        "c",
        "busybox",
        "<none>",
    ]
    cj["spec"] |= {"timeZone": "Europe/Berlin", "suspend": True}
    cj["status"] = {}
    assert tables.cronjob_cells(cj, NOW)[2:6] == ["Europe/Berlin", "True", 0, "<none>"]


def test_ingress_columns_and_cells() -> None:
    assert [name for name, _ in columns("Ingress")] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    ing: dict[str, Any] = {
        "metadata": {"name": "web", "creationTimestamp": ts(60)},
        "spec": {"rules": [{"host": "a.example"}, {"host": "b.example"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "127.1.0.1"}]}},
    }
    assert tables.ingress_cells(ing, NOW) == [
        "web",
        "<none>",
        "a.example,b.example",
        "127.1.0.1",
        "80",
        "60s",
    ]
    ing["spec"] = {
        "ingressClassName": "nginx",
        "rules": [{"host": f"h{i}.example"} for i in range(5)],
        "tls": [{"hosts": ["h0.example"]}],
    }
    cells = tables.ingress_cells(ing, NOW)
    assert cells[1:5] == ["nginx", "h0.example,h1.example,h2.example + 2 more...", "127.1.0.1", "80, 443"]
    assert tables.ingress_cells({"metadata": {"name": "x"}, "spec": {"defaultBackend": {}}}, NOW)[2] == "*"
