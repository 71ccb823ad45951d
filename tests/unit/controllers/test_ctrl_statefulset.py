"""StatefulSet and DaemonSet decisions and loops: ordered start, scale-down from the top,
one pod per node pinned by node affinity."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import DAEMONSETS, PODS, STATEFULSETS, mark, pods, running, wait_for

from podnet.apiserver.registry import Registry
from podnet.controllers.daemonset import (
    daemonset_status,
    plan_daemonset,
    pod_node,
    with_daemon_tolerations,
)
from podnet.controllers.nodes import node_objects
from podnet.controllers.statefulset import new_pod, plan_statefulset, revision_name


def sts(replicas: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default", "uid": "u"},
        "spec": {
            "replicas": replicas,
            "serviceName": "db-hl",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
            **spec,
        },
    }


def running_pod(name: str, rev: str = "r1", ready: bool = True) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"controller-revision-hash": rev}},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_identity_of_a_stateful_pod() -> None:
    p = new_pod(sts(), 2, "db-abc")
    assert p["metadata"]["name"] == "db-2"
    assert p["metadata"]["labels"] == {
        "app": "db",
        "statefulset.kubernetes.io/pod-name": "db-2",
        "apps.kubernetes.io/pod-index": "2",
        "controller-revision-hash": "db-abc",
    }
    assert (p["spec"]["hostname"], p["spec"]["subdomain"]) == ("db-2", "db-hl")


def test_ordered_ready_one_at_a_time_parallel_all_at_once() -> None:
    assert plan_statefulset(sts(), {}, "r1").create == [0]
    assert plan_statefulset(sts(), {0: running_pod("db-0", ready=False)}, "r1").create == []
    assert plan_statefulset(sts(), {0: running_pod("db-0")}, "r1").create == [1]
    assert plan_statefulset(sts(podManagementPolicy="Parallel"), {}, "r1").create == [0, 1, 2]


def test_scale_down_from_the_highest_ordinal_and_roll_from_the_top() -> None:
    have = {i: running_pod(f"db-{i}") for i in range(4)}
    assert plan_statefulset(sts(2), have, "r1").delete == ["db-3"]
    three = {i: running_pod(f"db-{i}") for i in range(3)}
    assert plan_statefulset(sts(3), three, "r2").delete == ["db-2"]
    parted = sts(3, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    three[2] = running_pod("db-2", rev="r2")
    assert plan_statefulset(parted, three, "r2").delete == []


def _ordinals(registry: Registry) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods(registry))


def test_loop_statefulset_starts_in_order() -> None:
    with running(nodes=2) as (registry, _):
        registry.create(STATEFULSETS, "default", sts(3))
        wait_for(lambda: _ordinals(registry) == ["db-0"], what="db-0 first")
        # db-1 waits until db-0 is Running and Ready
        wait_for(lambda: registry.get(PODS, "default", "db-0")["spec"].get("nodeName"))
        assert _ordinals(registry) == ["db-0"]
        mark(registry, registry.get(PODS, "default", "db-0"), ip="10.244.0.2")
        wait_for(lambda: _ordinals(registry) == ["db-0", "db-1"], what="db-1 next")
        mark(registry, registry.get(PODS, "default", "db-1"), ip="10.244.1.2")
        wait_for(lambda: _ordinals(registry) == ["db-0", "db-1", "db-2"], what="db-2 last")
        mark(registry, registry.get(PODS, "default", "db-2"), ip="10.244.0.3")
        st = wait_for(
            lambda: (
                (registry.get(STATEFULSETS, "default", "db").get("status") or {}).get(
                    "readyReplicas"
                )
                == 3
                and registry.get(STATEFULSETS, "default", "db")["status"]
            ),
            what="status",
        )
        assert st["replicas"] == st["currentReplicas"] == st["updatedReplicas"] == 3  # type: ignore[index]
        assert st["collisionCount"] == 0  # type: ignore[index]  # a *int32: set, so shown


def test_daemonset_plan_one_pod_per_eligible_node() -> None:
    nodes = node_objects(3, 0.0)
    ds = {
        "metadata": {"name": "agent", "generation": 1},
        "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
    }
    on1 = {
        "metadata": {"name": "agent-x", "labels": {"controller-revision-hash": "h"}},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    plan = plan_daemonset(ds, nodes, [on1], "h")
    assert (plan.create, plan.delete) == (["node-0", "node-2"], [])
    st = daemonset_status(ds, nodes, [on1], "h", 0.0)
    assert st["desiredNumberScheduled"] == 3
    assert st["currentNumberScheduled"] == st["numberReady"] == st["numberAvailable"] == 1
    picky = {
        "metadata": {"name": "agent"},
        "spec": {"template": {"spec": {"nodeSelector": {"x": "y"}}}},
    }
    assert plan_daemonset(picky, nodes, [on1], "h").delete == ["agent-x"]


def test_loop_daemonset_pod_per_node_pinned_by_affinity_and_bound_by_the_scheduler() -> None:
    with running(nodes=3) as (registry, _):
        registry.create(
            DAEMONSETS,
            "default",
            {
                "metadata": {"name": "agent"},
                "spec": {
                    "selector": {"matchLabels": {"app": "agent"}},
                    "template": {
                        "metadata": {"labels": {"app": "agent"}},
                        "spec": {"containers": [{"name": "c", "image": "x"}]},
                    },
                },
            },
        )

        def placed() -> list[str]:
            return sorted(p["spec"].get("nodeName") or "" for p in pods(registry))

        wait_for(lambda: placed() == ["node-0", "node-1", "node-2"], what="one per node")
        for p in pods(registry):
            assert pod_node({"spec": {"affinity": p["spec"]["affinity"]}}) == p["spec"]["nodeName"]
            mark(registry, p)
        wait_for(
            lambda: (
                (registry.get(DAEMONSETS, "default", "agent").get("status") or {}).get(
                    "numberReady"
                )
                == 3
            ),
            what="status",
        )
        st = registry.get(DAEMONSETS, "default", "agent")["status"]
        assert st["desiredNumberScheduled"] == st["currentNumberScheduled"] == 3
        assert st["updatedNumberScheduled"] == st["numberAvailable"] == 3


def test_revision_is_stable_once_the_status_records_collision_count_0() -> None:
    before = sts()
    after = {**sts(), "status": {"collisionCount": 0}}
    assert revision_name(before) == revision_name(after)
    assert revision_name({**sts(), "status": {"collisionCount": 1}}) != revision_name(before)


def test_daemon_pods_tolerate_node_conditions_once() -> None:
    pod: dict[str, Any] = {
        "spec": {
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
            ]
        }
    }
    with_daemon_tolerations(pod)
    with_daemon_tolerations(pod)
    keys = [t["key"] for t in pod["spec"]["tolerations"]]
    assert len(keys) == len(set(keys)) == 6
    assert "node.kubernetes.io/network-unavailable" not in keys


def test_daemonset_skips_tainted_nodes_unless_tolerated() -> None:
    nodes = node_objects(2, 0.0)
    nodes[1]["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    ds: dict[str, Any] = {"metadata": {"name": "agent"}, "spec": {"template": {"spec": {}}}}
    assert plan_daemonset(ds, nodes, [], "h").create == ["node-0"]
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    assert plan_daemonset(ds, nodes, [], "h").create == ["node-0", "node-1"]
    cordoned = node_objects(1, 0.0)
    cordoned[0]["spec"]["taints"] = [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    ]
    assert plan_daemonset({"metadata": {"name": "a"}, "spec": {}}, cordoned, [], "h").create == [
        "node-0"
    ]
