"""Namespace deletion, the namespaces every cluster has, node registration and default
ServiceAccounts, over the registry."""

from __future__ import annotations

from typing import Any

from support.ctrl_loop import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    NODES,
    PODS,
    SERVICES,
    deployment,
    found,
    pods,
    res,
    running,
    wait_for,
)

from podnet.apiserver.errors import ApiError
from podnet.apiserver.registry import Registry
from podnet.controllers.namespace import INITIAL, without_finalizer
from podnet.controllers.nodes import node_objects

SERVICEACCOUNTS = res("", "ServiceAccount")


def test_node_objects_as_a_kubelet_registers_them() -> None:
    nodes = node_objects(3, 1767225600.0, arch="arm64", cpu="4", memory="8Gi")
    assert [n["metadata"]["name"] for n in nodes] == ["node-0", "node-1", "node-2"]
    n1 = nodes[1]
    assert n1["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"
    assert n1["metadata"]["labels"]["kubernetes.io/os"] == "linux"
    assert n1["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert n1["spec"] == {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]}
    st = n1["status"]
    assert st["allocatable"]["pods"] == st["capacity"]["pods"] == "110"
    assert st["addresses"] == [
        {"type": "InternalIP", "address": "172.18.0.3"},
        {"type": "Hostname", "address": "node-1"},
    ]
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert st["nodeInfo"]["kubeletVersion"] == "v1.37.0"


def test_without_finalizer() -> None:
    ns: dict[str, Any] = {
        "metadata": {"name": "x"},
        "spec": {"finalizers": ["kubernetes", "other"]},
    }
    assert without_finalizer(ns)["spec"]["finalizers"] == ["other"]
    assert ns["spec"]["finalizers"] == ["kubernetes", "other"]


def _exists(registry: Registry, name: str) -> bool:
    try:
        registry.get(NAMESPACES, None, name)
    except ApiError as e:
        assert e.code == 404
        return False
    return True


def test_start_state_nodes_namespaces_default_service_accounts() -> None:
    with running(nodes=3) as (registry, _):
        assert all(_exists(registry, ns) for ns in INITIAL)
        node = registry.get(NODES, None, "node-2")
        assert node["spec"]["podCIDR"] == "10.244.2.0/24"
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.37.0"
        wait_for(lambda: all(found(registry, SERVICEACCOUNTS, n, "default") for n in INITIAL))
        registry.create(NAMESPACES, None, {"metadata": {"name": "team"}})
        wait_for(lambda: found(registry, SERVICEACCOUNTS, "team", "default"), what="team's SA")
        registry.delete(SERVICEACCOUNTS, "team", "default")
        wait_for(lambda: found(registry, SERVICEACCOUNTS, "team", "default"), what="recreated")
        registry.delete(NODES, None, "node-1")
        wait_for(lambda: found(registry, NODES, None, "node-1"), what="node re-registered")


def test_namespace_deletion_empties_it_then_removes_it() -> None:
    with running(nodes=2) as (registry, _):
        registry.create(NAMESPACES, None, {"metadata": {"name": "gone"}})
        registry.create(CONFIGMAPS, "gone", {"metadata": {"name": "cm"}})
        registry.create(
            SERVICES, "gone", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
        )
        registry.create(DEPLOYMENTS, "gone", deployment("web", 2))
        wait_for(lambda: len(pods(registry, "gone")) == 2, what="pods")
        registry.delete(NAMESPACES, None, "gone")
        assert registry.get(NAMESPACES, None, "gone")["status"]["phase"] == "Terminating"

        def kubelet() -> bool:  # bound pods wait for their kubelet: finish them
            for p in pods(registry, "gone"):
                if p["metadata"].get("deletionTimestamp"):
                    try:
                        registry.delete(PODS, "gone", p["metadata"]["name"], grace_period=0)
                    except ApiError as e:
                        assert e.code == 404
            return not _exists(registry, "gone")

        wait_for(kubelet, timeout=15, what="namespace removed")
        assert registry.list(CONFIGMAPS, "gone").items == []
        assert registry.list(DEPLOYMENTS, "gone").items == []
        assert pods(registry, "gone") == []
