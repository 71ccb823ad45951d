"""ReplicaSet decisions (which pods go first, slow start, status) and its loop."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import PODS, REPLICASETS, mark, pods, res, running, wait_for

from podnet.controllers.replicaset import (
    deletion_rank,
    plan_replicas,
    replica_status,
    slow_start_batches,
)


def pod(
    name: str,
    *,
    node: str = "node-0",
    phase: str = "Running",
    ready: bool = True,
    created: str = "2026-01-01T00:00:00Z",
    ready_since: str = "2026-01-01T00:00:10Z",
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": created},
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": ready_since,
                }
            ],
        },
    }


def test_deletion_order_follows_active_pods_ranking() -> None:
    pods_ = [
        pod("running-old", created="2026-01-01T00:00:00Z"),
        pod("running-new", created="2026-01-02T00:00:00Z"),
        pod("not-ready", ready=False),
        pod("pending", phase="Pending", ready=False),
        pod("unassigned", node="", phase="Pending", ready=False),
        pod("ready-recently", ready_since="2026-01-03T00:00:00Z"),
    ]
    order = [p["metadata"]["name"] for p in sorted(pods_, key=deletion_rank)]
    assert order == [
        "unassigned",
        "pending",
        "not-ready",
        "ready-recently",
        "running-new",
        "running-old",
    ]


def test_plan_creates_the_difference_capped_by_burst_and_deletes_the_first_ranked() -> None:
    assert plan_replicas(5, []) == (5, [])
    assert plan_replicas(1000, [], burst=500) == (500, [])
    create, delete = plan_replicas(1, [pod("a"), pod("b", ready=False)])
    assert create == 0
    assert [p["metadata"]["name"] for p in delete] == ["b"]


def test_slow_start_batches_double() -> None:
    assert slow_start_batches(10) == [1, 2, 4, 3]
    assert slow_start_batches(0) == []
    assert sum(slow_start_batches(1000)) == 1000


def test_status_counts_only_active_pods_and_honours_min_ready_seconds() -> None:
    rs = {
        "metadata": {"name": "rs", "generation": 3},
        "spec": {"replicas": 3, "minReadySeconds": 60},
    }
    gone = pod("gone")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    labelled = pod("labelled")
    labelled["metadata"]["labels"] = {"app": "x"}
    now = 1767225600.0 + 30  # 2026-01-01T00:00:30Z: ready 20 s, not yet available
    status = replica_status(rs, [labelled, pod("b", ready=False), gone], now, {"app": "x"})
    assert status == {
        "replicas": 2,
        "fullyLabeledReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 0,
        "observedGeneration": 3,
    }
    later = replica_status(rs, [labelled], now + 60, {"app": "x"})
    assert later["availableReplicas"] == 1


def replicaset(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"rs": name}},
            "template": {
                "metadata": {"labels": {"rs": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }


def test_loop_creates_owned_pods_then_scales_down_not_ready_first() -> None:
    with running(nodes=2) as (registry, _):
        rs = registry.create(REPLICASETS, "default", replicaset("web", 4))
        wait_for(lambda: len(pods(registry, selector="rs=web")) == 4)
        made = pods(registry)
        for p in made:
            assert p["metadata"]["generateName"] == "web-"
            assert p["metadata"]["name"].startswith("web-")
            assert p["metadata"]["labels"] == {"rs": "web"}
            (ref,) = p["metadata"]["ownerReferences"]
            assert ref == {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web",
                "uid": rs["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        wait_for(lambda: all(p["spec"].get("nodeName") for p in pods(registry)), what="bound")
        names = sorted(p["metadata"]["name"] for p in made)
        for i, name in enumerate(names):
            mark(
                registry, registry.get(PODS, "default", name), ready=i != 0, ip=f"10.244.0.{i + 2}"
            )

        def status() -> dict[str, Any]:
            st: dict[str, Any] = registry.get(REPLICASETS, "default", "web").get("status") or {}
            return st

        wait_for(lambda: status().get("readyReplicas") == 3, what="ready 3")
        assert status()["replicas"] == 4
        assert status()["availableReplicas"] == 3
        fresh = registry.get(REPLICASETS, "default", "web")
        registry.update(
            REPLICASETS,
            "default",
            "web",
            {**fresh, "spec": {**fresh["spec"], "replicas": 3}},
        )
        # the not-ready pod goes first (pods bound to a node terminate gracefully)
        wait_for(
            lambda: registry.get(PODS, "default", names[0])["metadata"].get("deletionTimestamp"),
            what="the not-ready pod deleted",
        )
        others = [registry.get(PODS, "default", n) for n in names[1:]]
        assert not any(p["metadata"].get("deletionTimestamp") for p in others)
        wait_for(lambda: status().get("replicas") == 3, what="status replicas 3")
        events = registry.list(res("", "Event"), "default").items
        assert {"SuccessfulCreate", "SuccessfulDelete"} <= {e["reason"] for e in events}


def test_loop_replication_controller_keeps_its_replicas() -> None:
    rcs = res("", "ReplicationController")
    with running(nodes=1) as (registry, _):
        registry.create(
            rcs,
            "default",
            {
                "metadata": {"name": "old"},
                "spec": {
                    "replicas": 2,
                    "selector": {"rc": "old"},
                    "template": {
                        "metadata": {"labels": {"rc": "old"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                    },
                },
            },
        )
        wait_for(lambda: len(pods(registry, selector="rc=old")) == 2, what="2 pods")
        victim = pods(registry)[0]["metadata"]["name"]
        registry.delete(PODS, "default", victim, grace_period=0)
        wait_for(
            lambda: (
                len(pods(registry, selector="rc=old")) == 2
                and victim not in {p["metadata"]["name"] for p in pods(registry)}
            ),
            what="replaced",
        )
        kinds = {p["metadata"]["ownerReferences"][0]["kind"] for p in pods(registry)}
        assert kinds == {"ReplicationController"}
        wait_for(
            lambda: (registry.get(rcs, "default", "old").get("status") or {}).get("replicas") == 2
        )


def _relabel(registry: Any, pod_name: str, value: str) -> None:
    for _ in range(10):
        p = registry.get(PODS, "default", pod_name)
        fresh = {**p, "metadata": {**p["metadata"], "labels": {"rs": value}}}
        try:
            registry.update(PODS, "default", pod_name, fresh)
            return
        except Exception as e:
            if getattr(e, "code", None) != 409:
                raise
    raise AssertionError("relabel kept conflicting")


def test_loop_relabelled_pod_is_released_and_replaced_then_adopted_back() -> None:
    with running(nodes=1) as (registry, _):
        registry.create(REPLICASETS, "default", replicaset("web", 2))
        wait_for(lambda: len(pods(registry, selector="rs=web")) == 2, what="2 pods")
        victim = pods(registry)[0]["metadata"]["name"]
        _relabel(registry, victim, "debug")
        wait_for(
            lambda: "ownerReferences" not in registry.get(PODS, "default", victim)["metadata"],
            what="released",
        )
        wait_for(lambda: len(pods(registry, selector="rs=web")) == 2, what="replaced")
        assert len(pods(registry)) == 3
        _relabel(registry, victim, "web")
        wait_for(
            lambda: registry.get(PODS, "default", victim)["metadata"].get("ownerReferences"),
            what="adopted",
        )
        # three pods for two replicas: one is deleted (bound ones wait for their kubelet)
        wait_for(
            lambda: (
                len([p for p in pods(registry) if not p["metadata"].get("deletionTimestamp")]) == 2
            ),
            what="back to 2",
        )
