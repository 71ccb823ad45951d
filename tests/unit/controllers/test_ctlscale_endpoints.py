"""The EndpointSlice controller's cost cuts keep what it writes: the Endpoints object
is synced under a key of its own, after a wait that grows with what its write costs,
and a pod's endpoint is worked out again only when the pod or the Service changed.

The informers run over a real Registry; the controller's worker does not, so each
test processes the queued keys itself and sees what each sync wrote.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.ctrl_loop import ENDPOINTS, NAMESPACES, PODS, SERVICES, SLICES, mark, wait_for

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.endpointslice import (
    BATCH_PERIOD,
    ENDPOINTS_COST_FACTOR,
    ENDPOINTS_KEY,
    ENDPOINTS_MAX_DELAY,
    EndpointSliceController,
)
from podnet.controllers.informer import Informers

Obj = dict[str, Any]


@contextmanager
def controller() -> Iterator[tuple[Registry, EndpointSliceController]]:
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    ctl = EndpointSliceController(registry, informers)
    ctl.setup()
    informers.start()
    try:
        assert informers.wait_synced(10.0)
        yield registry, ctl
    finally:
        informers.stop()
        registry.store.close()


def caught_up(registry: Registry, ctl: EndpointSliceController) -> None:
    """Wait until the pod and Service informers hold the store's newest write."""
    rv = registry.store.current_rv()

    def newest() -> int:
        objs = ctl.pods.objects() + ctl.services.objects()
        return max((int(o["metadata"]["resourceVersion"]) for o in objs), default=0)

    wait_for(lambda: newest() >= rv, what="informers caught up")


def process_all(
    ctl: EndpointSliceController, until: str | None = None, wait: float = 0.5
) -> list[str]:
    """Process every key queued (delayed ones included) within ``wait`` seconds, or,
    with ``until``, until that key has been processed (the Endpoints key may wait up
    to ENDPOINTS_MAX_DELAY on a loaded machine)."""
    keys: list[str] = []
    end = time.monotonic() + (ENDPOINTS_MAX_DELAY + 5.0 if until else wait)
    while (left := end - time.monotonic()) > 0:
        key = ctl.queue.get(left)
        if key is None:
            break
        keys.append(key)
        try:
            ctl.process(key)
        finally:
            ctl.queue.done(key)
        if key == until:
            break
    return keys


def service(registry: Registry) -> Obj:
    out: Obj = registry.create(
        SERVICES,
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )
    return out


def pod(registry: Registry, name: str, ip: str) -> Obj:
    created = registry.create(
        PODS,
        "default",
        {
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": "node-0", "containers": [{"name": "c", "image": "nginx"}]},
        },
    )
    return mark(registry, created, ip=ip)


def endpoints_ips(registry: Registry) -> list[str]:
    try:
        ep = registry.get(ENDPOINTS, "default", "web")
    except ApiError as e:
        assert e.code == 404
        return []
    return sorted(a["ip"] for s in ep.get("subsets") or () for a in s.get("addresses") or ())


def slice_ips(registry: Registry) -> list[str]:
    return sorted(
        a
        for sl in registry.list(SLICES, "default").items
        for ep in sl.get("endpoints") or ()
        for a in ep["addresses"]
    )


def test_the_endpoints_object_is_written_by_its_own_key_after_the_slices() -> None:
    with controller() as (registry, ctl):
        service(registry)
        pod(registry, "a", "10.0.0.1")
        caught_up(registry, ctl)
        while (key := ctl.queue.get(0.2)) is not None:  # what the informers queued
            ctl.queue.done(key)
        ctl.process("default/web")
        assert slice_ips(registry) == ["10.0.0.1"]
        assert endpoints_ips(registry) == []  # not in the slices sync
        keys = process_all(ctl, until=ENDPOINTS_KEY + "default/web")
        assert ENDPOINTS_KEY + "default/web" in keys
        assert endpoints_ips(registry) == ["10.0.0.1"]
        # a second pod: both objects follow, the Endpoints by its own key again
        pod(registry, "b", "10.0.0.2")
        caught_up(registry, ctl)
        keys = process_all(ctl, until=ENDPOINTS_KEY + "default/web")
        assert "default/web" in keys and ENDPOINTS_KEY + "default/web" in keys
        assert slice_ips(registry) == endpoints_ips(registry) == ["10.0.0.1", "10.0.0.2"]


def test_the_endpoints_wait_grows_with_what_its_last_write_cost() -> None:
    with controller() as (registry, ctl):
        assert ctl.endpoints_costs.delay("default/web") == BATCH_PERIOD  # never written
        service(registry)
        for i in range(300):  # an Endpoints of 300 addresses costs more than a tick
            pod(registry, f"p{i}", f"10.0.{i // 200}.{i % 200 + 1}")
        caught_up(registry, ctl)
        process_all(ctl, until=ENDPOINTS_KEY + "default/web")
        assert len(endpoints_ips(registry)) == 300
        cost = ctl.endpoints_costs.cost("default/web")
        assert cost is not None and cost > 0
        want = min(ENDPOINTS_MAX_DELAY, max(BATCH_PERIOD, ENDPOINTS_COST_FACTOR * cost))
        assert ctl.endpoints_costs.delay("default/web") == want
        slices_cost = ctl.sync_costs.cost("default/web")
        assert slices_cost is not None and slices_cost > 0
        # a Service that goes forgets it
        registry.delete(SERVICES, "default", "web")
        wait_for(lambda: ctl.services.get("default/web") is None, what="Service gone")
        process_all(ctl)
        assert ctl.endpoints_costs.cost("default/web") is None
        assert ctl.sync_costs.cost("default/web") is None
        assert endpoints_ips(registry) == []


def test_an_unchanged_pod_keeps_its_endpoint_a_changed_one_is_worked_out_again() -> None:
    with controller() as (registry, ctl):
        svc = service(registry)
        pod(registry, "a", "10.0.0.1")
        pod(registry, "b", "10.0.0.2")
        caught_up(registry, ctl)
        svc = ctl.services.get("default/web") or svc
        first = {i.ip: i for i in ctl._pod_endpoints("default/web", svc)}
        assert sorted(first) == ["10.0.0.1", "10.0.0.2"]
        mark(registry, registry.get(PODS, "default", "b"), ready=False, ip="10.0.0.2")
        caught_up(registry, ctl)
        second = {i.ip: i for i in ctl._pod_endpoints("default/web", svc)}
        assert second["10.0.0.1"] is first["10.0.0.1"]  # the same pod dict: reused
        assert second["10.0.0.2"] is not first["10.0.0.2"]
        assert second["10.0.0.2"].ready is False and first["10.0.0.2"].ready is True
        # a changed Service (a new dict) works every pod out again
        registry.update(
            SERVICES,
            "default",
            "web",
            {**svc, "spec": {**svc["spec"], "publishNotReadyAddresses": True}},
        )
        caught_up(registry, ctl)
        svc2 = ctl.services.get("default/web")
        assert svc2 is not None and svc2 is not svc
        third = {i.ip: i for i in ctl._pod_endpoints("default/web", svc2)}
        assert third["10.0.0.1"] is not second["10.0.0.1"]
        assert third["10.0.0.2"].ready is True  # published although not ready
