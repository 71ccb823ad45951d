"""Pods beyond a node's capacity stay Pending (kubelet's default --max-pods, 110)."""

from __future__ import annotations

import ipaddress

from support.ctl_builders import pod

from podnet.control.cluster import build_cluster
from podnet.control.scheduler import MAX_PODS, make_nodes, place
from podnet.model.cluster import ClusterState
from podnet.model.objects import Manifests

DNS = "kube-system/coredns-0"


def _replicas(count: int) -> Manifests:
    return Manifests(pods=tuple(pod(f"web-{i:04}", {"app": "web"}) for i in range(count)))


def _running(state: ClusterState) -> list[str]:
    return [p.key for p in state.pods if p.ip is not None]


def test_523_pods_on_one_node_are_110_running_and_the_rest_pending() -> None:
    state = build_cluster(_replicas(523))
    running = _running(state)
    assert len(running) == MAX_PODS == 110
    assert DNS in running  # the cluster DNS is placed first (system-cluster-critical)
    pending = [p for p in state.pods if p.ip is None]
    assert len(pending) == 523 + 1 - 110
    assert all(p.node is None for p in pending)
    assert len({p.ip for p in state.pods if p.ip}) == 110
    node_net = ipaddress.ip_network(state.nodes[0].pod_cidr)
    assert all(ipaddress.ip_address(p.ip) in node_net for p in state.pods if p.ip)
    (warning,) = [w for w in state.warnings if "--max-pods" in w]
    assert warning.startswith("414 pod(s) Pending") and "--nodes" in warning
    assert "default/web-0109" in warning and "and 409 more" in warning


def test_more_nodes_make_room() -> None:
    state = build_cluster(_replicas(523), nodes=5)
    assert len(_running(state)) == 524
    assert not state.warnings
    loads = [sum(1 for p in state.pods if p.node == n.name) for n in state.nodes]
    assert max(loads) <= MAX_PODS and sum(loads) == 524


def test_daemonset_pods_count() -> None:
    agent = pod("agent", {"app": "agent"}, namespace="kube-system", owner="DaemonSet/agent")
    m = Manifests(
        pods=tuple(pod(f"web-{i:04}", {"app": "web"}) for i in range(2 * MAX_PODS)),
        daemonsets=(agent,),
    )
    state = build_cluster(m, nodes=2)
    # 2 DaemonSet pods (bound to their node) + the DNS pod + 220 replicas > 220 places
    agents = [p for p in state.pods if p.owner == "DaemonSet/agent"]
    assert len(agents) == 2 and all(p.ip is not None for p in agents)
    pending = [p.key for p in state.pods if p.ip is None]
    assert pending == ["default/web-0217", "default/web-0218", "default/web-0219"]
    assert any(w.startswith("3 pod(s) Pending") for w in state.warnings)


def test_node_name_beyond_capacity_is_refused() -> None:
    pods = [pod(f"p{i:03}", node_name="node-1") for i in range(MAX_PODS + 2)]
    placed, warnings = place(pods, make_nodes(2))
    assert [k for k, n in placed.items() if n is None] == ["default/p110", "default/p111"]
    assert sum(1 for n in placed.values() if n == "node-1") == MAX_PODS
    assert len(warnings) == 1 and warnings[0].startswith("2 pod(s) Pending")


def test_node_selector_pending_and_full_are_told_apart() -> None:
    pods = [pod(f"p{i:03}") for i in range(MAX_PODS + 1)]
    pods.append(pod("gpu", node_selector={"gpu": "yes"}))
    placed, warnings = place(pods, make_nodes(1))
    assert placed["default/gpu"] is None and placed["default/p110"] is None
    assert len(warnings) == 2
    assert "nodeSelector gpu=yes" in warnings[0] and "default/p110" in warnings[1]
