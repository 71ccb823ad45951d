"""Which pod changes wake the EndpointSlice and ReplicaSet controllers.

A label edit that leaves a pod's Service memberships and endpoint alone queues no
Service sync (endpoint/controller_utils.go GetServicesToUpdateOnPodChange), and one
that leaves what a ReplicaSet counts and claims alone queues no set sync; every
change that matters still does. The informers run over a real Registry; the
controllers' workers do not, so their queues show what was asked.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support.ctrl_loop import NAMESPACES, PODS, REPLICASETS, SERVICES, mark, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.endpointslice import EndpointSliceController
from podnet.controllers.informer import Informers, WorkQueue
from podnet.controllers.replicaset import ReplicaSetController

Obj = dict[str, Any]


@contextmanager
def watching() -> Iterator[tuple[Registry, EndpointSliceController, ReplicaSetController]]:
    """Both controllers set up over started informers, their workers not running."""
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    slices = EndpointSliceController(registry, informers)
    sets = ReplicaSetController(registry, informers)
    slices.setup()
    sets.setup()
    informers.start()
    try:
        assert informers.wait_synced(10.0)
        yield registry, slices, sets
    finally:
        informers.stop()
        registry.store.close()


def drain(queue: WorkQueue, wait: float = 0.3) -> set[str]:
    """Every key queued (delayed ones included) within ``wait`` seconds."""
    keys: set[str] = set()
    end = time.monotonic() + wait
    while (left := end - time.monotonic()) > 0:
        key = queue.get(left)
        if key is None:
            break
        keys.add(key)
        queue.done(key)
    return keys


def settle(registry: Registry, slices: EndpointSliceController, sets: ReplicaSetController) -> None:
    """Wait until both informers show the newest write, then empty both queues."""
    rv = str(registry.store.current_rv())
    pod_inf = slices.pods
    wait_for(
        lambda: (
            any(p["metadata"]["resourceVersion"] == rv for p in pod_inf.objects())
            or all(int(p["metadata"]["resourceVersion"]) < int(rv) for p in pod_inf.objects())
        ),
        what="informer caught up",
    )
    time.sleep(0.05)
    drain(slices.queue)
    drain(sets.queue)


def relabel(registry: Registry, name: str, **labels: str | None) -> Obj:
    current = registry.get(PODS, "default", name)
    fresh = copy.deepcopy(current)
    lab = fresh["metadata"].setdefault("labels", {})
    for k, v in labels.items():
        if v is None:
            lab.pop(k, None)
        else:
            lab[k] = v
    out: Obj = registry.update(PODS, "default", name, fresh)
    return out


def web_pod(registry: Registry, name: str, owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": {"app": "web"}}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": owner["metadata"]["name"],
                "uid": owner["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    pod: Obj = registry.create(
        PODS,
        "default",
        {
            "metadata": meta,
            "spec": {"nodeName": "node-0", "containers": [{"name": "c", "image": "nginx"}]},
        },
    )
    return mark(registry, pod, ip="10.244.0.9")


def service(registry: Registry) -> None:
    registry.create(
        SERVICES,
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        },
    )


def replicaset(registry: Registry) -> Obj:
    rs: Obj = registry.create(
        REPLICASETS,
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web", "tier": "front"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    return rs


def test_label_edit_inside_a_service_queues_no_service_sync() -> None:
    with watching() as (registry, slices, sets):
        service(registry)
        web_pod(registry, "a")
        settle(registry, slices, sets)
        relabel(registry, "a", seq="1")
        settle_keys = drain(slices.queue)
        assert settle_keys == set()


def test_changes_that_move_endpoints_or_memberships_queue_the_service() -> None:
    with watching() as (registry, slices, sets):
        service(registry)
        web_pod(registry, "a")
        settle(registry, slices, sets)
        relabel(registry, "a", app="other")  # left the Service
        assert drain(slices.queue) == {"default/web"}
        relabel(registry, "a", app="web")  # joined it again
        assert drain(slices.queue) == {"default/web"}
        mark(registry, registry.get(PODS, "default", "a"), ready=False)  # readiness
        assert drain(slices.queue) == {"default/web"}
        mark(registry, registry.get(PODS, "default", "a"), ready=False, ip="10.244.0.10")
        assert drain(slices.queue) == {"default/web"}  # its IP


def test_label_edit_a_replicaset_does_not_count_queues_no_set_sync() -> None:
    with watching() as (registry, slices, sets):
        rs = replicaset(registry)
        wait_for(lambda: sets.sets.get("default/web") is not None, what="set cached")
        web_pod(registry, "a", owner=rs)
        settle(registry, slices, sets)
        relabel(registry, "a", seq="1")
        assert drain(sets.queue) == set()
        # the template's labels: fullyLabeledReplicas counts the pod now
        relabel(registry, "a", tier="front")
        assert drain(sets.queue) == {"default/web"}
        relabel(registry, "a", app=None)  # the selector lets it go: released
        assert drain(sets.queue) == {"default/web"}


def test_a_create_observed_while_the_set_lists_its_pods_is_not_made_twice() -> None:
    """The informer observes an in-flight create between the sync's read of the pods
    and its look at the expectations: the sync must not count that pod as missing."""
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    sets = ReplicaSetController(registry, informers)
    sets.setup()
    try:
        rs = replicaset(registry)
        rs = registry.update(
            REPLICASETS, "default", "web", {**rs, "spec": {**rs["spec"], "replicas": 2}}
        )
        web_pod(registry, "a", owner=rs)
        sets.sets._relist()
        sets.pods._relist()  # the cache holds a
        sets.expectations.expect("default/web", adds=1)  # b is being created
        web_pod(registry, "b", owner=rs)  # in the store, not yet in the cache
        real = sets.pods.by_index
        raced: list[bool] = []

        def by_index(name: str, value: str) -> list[Obj]:
            out = real(name, value)
            if name == "controller" and not raced:
                raced.append(True)
                sets.pods._relist()  # the informer thread sees b now: expectation met
            return out

        sets.pods.by_index = by_index  # type: ignore[method-assign]
        sets.sync("default/web")
        assert raced
        assert sorted(p["metadata"]["name"] for p in registry.list(PODS, "default").items) == [
            "a",
            "b",
        ]
    finally:
        registry.store.close()
