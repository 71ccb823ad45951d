"""Scheduler decisions (pure) and its loop: binding, Unschedulable past 110 pods per node,
retry when room appears."""

from __future__ import annotations

from typing import Any

import pytest
from support.ctrl_loop import PODS, pods, res, running, wait_for

from podnet.controllers.nodes import node_objects
from podnet.controllers.scheduler import pick_node, wants_scheduling

NODES = node_objects(3, 0.0)
HOST = "kubernetes.io/hostname"


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [], **spec}}


def test_fewest_pods_wins_then_node_order() -> None:
    assert pick_node(pod(), NODES, {}) == ("node-0", "")
    assert pick_node(pod(), NODES, {"node-0": 2, "node-1": 1, "node-2": 1}) == ("node-1", "")


def test_node_order_is_numeric() -> None:
    nodes = node_objects(11, 0.0)
    load = {f"node-{i}": 1 for i in range(11) if i != 10}
    assert pick_node(pod(), nodes[::-1], load)[0] == "node-10"
    assert pick_node(pod(), nodes[::-1], {})[0] == "node-0"


def test_full_nodes_make_the_fit_error_message() -> None:
    load = {f"node-{i}": 110 for i in range(3)}
    assert pick_node(pod(), NODES, load) == (None, "0/3 nodes are available: 3 Too many pods.")


def test_node_selector_and_reasons_sorted() -> None:
    p = pod(nodeSelector={"kubernetes.io/hostname": "node-2"})
    assert pick_node(p, NODES, {})[0] == "node-2"
    node, message = pick_node(p, NODES, {"node-2": 110})
    assert node is None
    assert message == (
        "0/3 nodes are available: 1 Too many pods, "
        "2 node(s) didn't match Pod's node affinity/selector."
    )


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]},
            "node-1",
        ),
        (
            {"matchExpressions": [{"key": HOST, "operator": "NotIn", "values": ["node-0"]}]},
            "node-1",
        ),
        ({"matchExpressions": [{"key": "missing", "operator": "Exists"}]}, None),
    ],
)
def test_required_node_affinity(term: dict[str, Any], expected: str | None) -> None:
    p = pod(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
            }
        }
    )
    assert pick_node(p, NODES, {})[0] == expected


def test_only_unbound_live_default_scheduler_pods_are_scheduled() -> None:
    assert wants_scheduling(pod())
    assert not wants_scheduling(pod(nodeName="node-0"))
    assert not wants_scheduling(pod(schedulerName="other"))
    done = pod()
    done["status"] = {"phase": "Succeeded"}
    assert not wants_scheduling(done)


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "x"}]}}


def test_loop_binds_spreads_and_reports_unschedulable_past_110_per_node() -> None:
    with running(nodes=2) as (registry, _):
        for i in range(221):
            registry.create(PODS, "default", _pod(f"p{i:03d}"))

        def settled() -> bool:
            ps = pods(registry)
            bound = [p for p in ps if p["spec"].get("nodeName")]
            return len(bound) == 220 and any(
                c.get("reason") == "Unschedulable"
                for p in ps
                for c in (p.get("status") or {}).get("conditions") or ()
            )

        wait_for(settled, timeout=20, what="220 bound and one Unschedulable")
        ps = pods(registry)
        per_node: dict[str, int] = {}
        for p in ps:
            if p["spec"].get("nodeName"):
                per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
                bound = [c for c in p["status"]["conditions"] if c["type"] == "PodScheduled"]
                assert bound[0]["status"] == "True"
        assert per_node == {"node-0": 110, "node-1": 110}
        (waiting,) = [p for p in ps if not p["spec"].get("nodeName")]
        cond = next(c for c in waiting["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "False",
            "Unschedulable",
            "0/2 nodes are available: 2 Too many pods.",
        )
        events = {
            (e["reason"], e["message"], e["source"]["component"])
            for e in registry.list(res("", "Event"), "default").items
        }
        assert (
            "Scheduled",
            "Successfully assigned default/p000 to node-0",
            "default-scheduler",
        ) in events
        assert (
            "FailedScheduling",
            "0/2 nodes are available: 2 Too many pods.",
            "default-scheduler",
        ) in events
        # room appears: the waiting pod is scheduled
        registry.delete(PODS, "default", "p000", grace_period=0)
        name = waiting["metadata"]["name"]
        wait_for(
            lambda: registry.get(PODS, "default", name)["spec"].get("nodeName"),
            what="the waiting pod bound after a delete",
        )


def test_loop_pod_waits_for_a_node_label_then_binds() -> None:
    nodes_res = res("", "Node")
    with running(nodes=2) as (registry, _):
        p = _pod("picky")
        p["spec"]["nodeSelector"] = {"disk": "ssd"}
        registry.create(PODS, "default", p)

        def reason() -> str:
            conds = (registry.get(PODS, "default", "picky").get("status") or {}).get("conditions")
            return str(next((c.get("message") for c in conds or ()), ""))

        wait_for(reason, what="Unschedulable")
        assert (
            reason()
            == "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        )
        node = registry.get(nodes_res, None, "node-1")
        labels = {**node["metadata"]["labels"], "disk": "ssd"}
        registry.update(
            nodes_res, None, "node-1", {**node, "metadata": {**node["metadata"], "labels": labels}}
        )
        wait_for(
            lambda: registry.get(PODS, "default", "picky")["spec"].get("nodeName") == "node-1",
            what="bound once the label is there",
        )


def test_taints_need_tolerations() -> None:
    nodes = node_objects(2, 0.0)
    nodes[0]["spec"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    nodes[1]["spec"]["taints"] = [{"key": "other", "effect": "PreferNoSchedule"}]
    assert pick_node(pod(), nodes, {"node-1": 110}) == (
        None,
        "0/2 nodes are available: 1 Too many pods, "
        "1 node(s) had untolerated taint {dedicated: gpu}.",
    )
    for toleration in (
        {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"},
        {"key": "dedicated", "operator": "Exists"},
        {"operator": "Exists"},
    ):
        assert pick_node(pod(tolerations=[toleration]), nodes, {"node-1": 110})[0] == "node-0"
    wrong = {"key": "dedicated", "operator": "Equal", "value": "cpu"}
    assert pick_node(pod(tolerations=[wrong]), nodes, {"node-1": 110})[0] is None
