"""The ReplicaSet sync reads each pod version once (PodViews) and counts the same;
a change waits for a set's sync in proportion to what its last one cost (SyncCosts).

A pod dict the informer has not replaced keeps its view from the last sync; a new
version of the pod, a new selector or new template labels get one worked out again;
and the status counted through views equals the one counted from the pods.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from support.ctrl_loop import NAMESPACES, PODS, REPLICASETS, wait_for

from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore
from podnet.controllers.base import SyncCosts, label_selector
from podnet.controllers.informer import Informers
from podnet.controllers.replicaset import (
    PodViews,
    ReplicaSetController,
    pod_view,
    replica_status,
)

Obj = dict[str, Any]
NOW = 1_800_000_000.0
C: Obj = {"name": "c", "image": "nginx"}


def pod(name: str, *, ready: bool = True, phase: str = "Running", **labels: str) -> Obj:
    meta: Obj = {"name": name, "namespace": "default", "labels": labels}
    return {
        "metadata": meta,
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": "2027-01-15T07:00:00Z",
                }
            ],
        },
    }


def owner(min_ready: int = 0) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "generation": 2},
        "spec": {"minReadySeconds": min_ready},
        "status": {"terminatingReplicas": 0},
    }


SEL = label_selector({"matchLabels": {"app": "web"}})
WANTED = (("app", "web"), ("tier", "front"))


def test_a_pod_dict_keeps_its_view_a_new_version_gets_a_new_one() -> None:
    views = PodViews()
    a, b = pod("a", app="web", tier="front"), pod("b", app="web", ready=False)
    view = views.viewer("default/web", SEL, WANTED, ("sel", WANTED))
    va, vb = view(a), view(b)
    assert (va.claimed, va.active, va.labelled, va.ready) == (True, True, True, True)
    assert (vb.claimed, vb.labelled, vb.ready) == (True, False, False)
    # next sync: a unchanged, b replaced by a new version (the informer's new dict)
    b2 = pod("b", app="other", tier="front")
    b2["metadata"]["deletionTimestamp"] = "2027-01-15T08:01:00Z"
    view = views.viewer("default/web", SEL, WANTED, ("sel", WANTED))
    assert view(a) is va
    vb2 = view(b2)
    assert vb2 is not vb
    assert (vb2.claimed, vb2.active, vb2.labelled, vb2.deleting) == (False, False, False, True)


def test_a_pod_not_seen_by_a_sync_is_dropped_and_a_new_selector_starts_afresh() -> None:
    views = PodViews()
    a, b = pod("a", app="web"), pod("b", app="web")
    view = views.viewer("default/web", SEL, WANTED, 1)
    va, vb = view(a), view(b)
    view = views.viewer("default/web", SEL, WANTED, 1)
    assert view(a) is va  # b not read by this sync
    view = views.viewer("default/web", SEL, WANTED, 1)
    assert view(b) is not vb and view(b) == vb
    other = label_selector({"matchLabels": {"app": "api"}})
    view = views.viewer("default/web", other, WANTED, 2)
    assert view(a) is not va and not view(a).claimed
    views.forget("default/web")
    view = views.viewer("default/web", other, WANTED, 2)
    assert view(a) is not va


def test_status_counted_through_views_equals_status_counted_from_pods() -> None:
    pods = [
        pod("a", app="web", tier="front"),
        pod("b", app="web", ready=False),
        pod("c", app="web", tier="front", phase="Succeeded"),
        pod("d", app="web", tier="front"),
    ]
    pods[3]["metadata"]["deletionTimestamp"] = "2027-01-15T08:01:00Z"
    labels = dict(WANTED)
    for min_ready in (0, 30, 10**9):
        rs = owner(min_ready)
        views = PodViews()
        view = views.viewer("default/web", SEL, WANTED, 0)
        plain = replica_status(rs, pods, NOW, labels)
        assert replica_status(rs, pods, NOW, labels, view) == plain
        assert replica_status(rs, pods, NOW, labels, view) == plain  # from the memo
        assert plain["replicas"] == 2 and plain["readyReplicas"] == 1
        assert plain["fullyLabeledReplicas"] == 1 and plain["terminatingReplicas"] == 1
        assert plain["availableReplicas"] == (0 if min_ready == 10**9 else 1)


def test_pod_view_without_a_selector_claims_nothing() -> None:
    v = pod_view(pod("a", app="web"), None, WANTED)
    assert not v.claimed and v.active and not v.labelled


def test_sync_costs_wait_at_least_the_period_and_a_multiple_of_the_cost_capped() -> None:
    costs = SyncCosts(0.05, 20.0, max_delay=1.0)
    assert costs.delay("a") == 0.05 and costs.cost("a") is None
    costs.record("a", 0.001)
    assert costs.delay("a") == 0.05  # 20 ms: under the period
    costs.record("a", 0.01)
    assert costs.delay("a") == pytest.approx(0.2)
    costs.record("a", 0.5)
    assert costs.delay("a") == 1.0
    spent: list[float] = []

    def busy() -> None:
        end = time.thread_time() + 0.01
        while time.thread_time() < end:
            spent.append(0.0)
        raise ValueError("sync failed")

    with pytest.raises(ValueError):
        costs.measure("b", busy)
    cost = costs.cost("b")
    assert cost is not None and cost >= 0.01  # kept although the sync raised
    costs.forget("b")
    assert costs.cost("b") is None and costs.delay("b") == 0.05


def test_a_set_sync_that_creates_pods_counts_only_its_reading_as_its_cost() -> None:
    """A scale-up's next batch of creates must not wait for what the last batch cost."""
    registry = Registry(MemoryStore())
    registry.create(NAMESPACES, None, {"metadata": {"name": "default"}})
    informers = Informers(registry)
    sets = ReplicaSetController(registry, informers)
    sets.setup()
    informers.start()
    try:
        assert informers.wait_synced(10.0)
        template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [C]}}
        spec = {"replicas": 300, "selector": {"matchLabels": {"app": "web"}}, "template": template}
        registry.create(REPLICASETS, "default", {"metadata": {"name": "web"}, "spec": spec})
        wait_for(lambda: sets.sets.get("default/web") is not None, what="set cached")
        started = time.thread_time()
        sets.sync("default/web")
        spent = time.thread_time() - started
        assert len(registry.list(PODS, "default").items) == 300
        cost = sets.sync_costs.cost("default/web")
        assert cost is not None and 0 < cost < spent / 4
    finally:
        informers.stop()
        registry.store.close()
