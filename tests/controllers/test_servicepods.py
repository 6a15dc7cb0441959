"""ServicePodEvents: which Services a Service or Pod event concerns (both endpoint controllers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from minik.client.controller import Controller
from minik.client.informer import Informer
from minik.client.objects import Obj, object_key
from minik.controllers.servicepods import ServicePodEvents, has_selected_endpoints


class FakeInformer:
    """A cache of objects plus the handlers registered on it."""

    def __init__(self, *objs: Obj) -> None:
        self.objs = list(objs)
        self.handlers: dict[str, Callable[..., Any]] = {}

    def add_event_handler(self, **handlers: Callable[..., Any]) -> None:
        self.handlers.update({k: v for k, v in handlers.items() if v is not None})

    def list(self, namespace: str | None = None) -> list[Obj]:
        return [o for o in self.objs if namespace is None or o["metadata"].get("namespace") == namespace]


class Keys:
    """Stands in for the Controller: collects what would be enqueued."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def enqueue(self, key: str) -> None:
        self.keys.append(key)

    def enqueue_object(self, obj: Obj) -> None:
        self.keys.append(object_key(obj))


def service(name: str, selector: dict[str, str] | None, rv: str = "1", **spec: Any) -> Obj:
    body: Obj = {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv}, "spec": dict(spec)}
    if selector is not None:
        body["spec"]["selector"] = selector
    return body


def pod(name: str, labels: dict[str, str], *, ip: str = "10.0.0.1", ready: bool = True) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": labels},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def wire(
    *services: Obj, pods: tuple[Obj, ...] = ()
) -> tuple[ServicePodEvents, FakeInformer, FakeInformer, Keys]:
    svc_informer, pod_informer, keys = FakeInformer(*services), FakeInformer(*pods), Keys()
    events = ServicePodEvents(
        cast(Informer, svc_informer), cast(Informer, pod_informer), cast(Controller, keys)
    )
    return events, svc_informer, pod_informer, keys


def test_a_pod_event_enqueues_the_services_that_select_it() -> None:
    _, _, pods, keys = wire(
        service("web", {"app": "web"}), service("all-db", {"app": "db"}), service("ext", None)
    )
    pods.handlers["on_add"](pod("a", {"app": "web"}))
    assert keys.keys == ["ns/web"]
    keys.keys.clear()
    pods.handlers["on_delete"](pod("b", {"app": "db"}))
    assert keys.keys == ["ns/all-db"]


def test_a_relabelled_pod_leaves_its_old_service_and_joins_the_new_one() -> None:
    _, _, pods, keys = wire(service("web", {"app": "web"}), service("db", {"app": "db"}))
    pods.handlers["on_update"](pod("a", {"app": "web"}), pod("a", {"app": "db"}))
    assert sorted(keys.keys) == ["ns/db", "ns/web"]


def test_a_pod_update_nobody_can_see_enqueues_nothing() -> None:
    _, _, pods, keys = wire(service("web", {"app": "web"}))
    before = pod("a", {"app": "web"})
    after = {**before, "status": {**before["status"], "containerStatuses": [{"restartCount": 1}]}}
    pods.handlers["on_update"](before, after)
    assert keys.keys == []
    pods.handlers["on_update"](before, pod("a", {"app": "web"}, ready=False))  # readiness shows
    assert keys.keys == ["ns/web"]


def test_selectors_are_reparsed_when_the_service_changes() -> None:
    web = service("web", {"app": "web"}, rv="1")
    events, services, _, keys = wire(web, pods=(pod("a", {"app": "web"}), pod("b", {"app": "api"})))
    assert [p["metadata"]["name"] for p in events.selected_pods(web)] == ["a"]
    changed = service("web", {"app": "api"}, rv="2")
    services.objs = [changed]
    assert [p["metadata"]["name"] for p in events.selected_pods(changed)] == ["b"]
    services.handlers["on_delete"](changed)
    assert keys.keys == ["ns/web"]


def test_which_services_get_endpoints() -> None:
    assert has_selected_endpoints(service("web", {"app": "web"}))
    assert not has_selected_endpoints(service("manual", None))  # hand-made Endpoints
    assert not has_selected_endpoints(service("alias", {"app": "web"}, type="ExternalName"))
    assert not has_selected_endpoints(None)
