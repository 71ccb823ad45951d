"""build_cluster end to end on the seed example and small variations."""

from __future__ import annotations

import dataclasses

import pytest
from support.ctl_builders import pod, seed, svc

from podnet.control.cluster import build_cluster
from podnet.errors import ClusterError
from podnet.model.cluster import DNS_SERVICE_IP, KUBERNETES_SERVICE_IP
from podnet.model.objects import Manifests


def test_seed_example() -> None:
    state = build_cluster(seed())
    a, b = state.pod("default/pod-a"), state.pod("default/pod-b")
    assert a is not None and b is not None
    assert a.node == b.node == "node-0"
    assert a.ip == "10.244.0.2" and b.ip == "10.244.0.3"
    my = state.service("default/my-service")
    assert my is not None and my.cluster_ip == "10.96.0.11"
    eps = state.endpoints["default/my-service"][""]
    assert [(e.pod, e.ip, e.port) for e in eps] == [("default/pod-b", "10.244.0.3", 80)]


def test_builtins_present() -> None:
    state = build_cluster(Manifests())
    k8s = state.service("default/kubernetes")
    dns = state.service("kube-system/kube-dns")
    assert k8s is not None and k8s.cluster_ip == KUBERNETES_SERVICE_IP
    assert dns is not None and dns.cluster_ip == DNS_SERVICE_IP
    assert [e.pod for e in state.endpoints["kube-system/kube-dns"]["dns"]] == [
        "kube-system/coredns-0"
    ]
    assert state.endpoints["default/kubernetes"] == {"https": ()}
    assert {ns.name for ns in state.namespaces} >= {"default", "kube-system"}


def test_deterministic_regardless_of_order() -> None:
    m = seed()
    rev = dataclasses.replace(m, pods=m.pods[::-1])
    s1, s2 = build_cluster(m, nodes=3), build_cluster(rev, nodes=3)
    assert {p.key: (p.node, p.ip) for p in s1.pods} == {p.key: (p.node, p.ip) for p in s2.pods}
    assert s1.endpoints == s2.endpoints


def test_spread_over_nodes() -> None:
    m = Manifests(pods=tuple(pod(f"p{i}") for i in range(5)))
    state = build_cluster(m, nodes=2)
    nodes = [p.node for p in state.pods]
    # 6 pods with coredns; kube-system/coredns-0 sorts last
    assert nodes.count("node-0") == 3 and nodes.count("node-1") == 3


def test_pending_pod_has_no_ip_and_warns() -> None:
    m = Manifests(pods=(pod("gpu", node_selector={"gpu": "yes"}),))
    state = build_cluster(m)
    p = state.pod("default/gpu")
    assert p is not None and p.node is None and p.ip is None
    assert any("default/gpu" in w and "Pending" in w for w in state.warnings)


def test_unknown_node_name() -> None:
    with pytest.raises(ClusterError):
        build_cluster(Manifests(pods=(pod("x", node_name="node-7"),)), nodes=2)


def test_duplicate_pod() -> None:
    with pytest.raises(ClusterError):
        build_cluster(Manifests(pods=(pod("x"), pod("x"))))


def test_daemonset_expansion() -> None:
    tpl = pod("agent", {"app": "agent"}, namespace="kube-system", owner="DaemonSet/agent")
    m = Manifests(
        services=(svc("agent", {"app": "agent"}, namespace="kube-system"),), daemonsets=(tpl,)
    )
    state = build_cluster(m, nodes=3)
    agents = [p for p in state.pods if p.owner == "DaemonSet/agent"]
    assert sorted(p.node or "" for p in agents) == ["node-0", "node-1", "node-2"]
    assert all(p.name.startswith("agent-") and len(p.name) == len("agent-") + 5 for p in agents)
    assert len(state.endpoints["kube-system/agent"][""]) == 3


def test_daemonset_node_selector() -> None:
    tpl = pod("agent", node_selector={"kubernetes.io/hostname": "node-1"})
    m = Manifests(daemonsets=(tpl,))
    state = build_cluster(m, nodes=3)
    assert [p.node for p in state.pods if p.name.startswith("agent-")] == ["node-1"]
