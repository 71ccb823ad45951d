"""The lint rule ``pod-ip-literal`` judges "an address in the pod network" by the pod network
the analysed cluster has: podnet's configured 10.244.0.0/16 from files, the Nodes'
observed podCIDRs with ``--from-cluster`` (the recorded k3s cluster: 10.42.0.0/24 and
10.42.1.0/24), and none when the nodes carry no podCIDR (then only current pod IPs)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from support.recorded_api import FakeApi, fixture, k3s

from podnet.analyze.lint.context import build_context, context_for_state
from podnet.analyze.lint.finding import Finding
from podnet.analyze.lint.usage import check, pod_networks
from podnet.errors import Location
from podnet.kube.client import Client
from podnet.kube.config import load_config
from podnet.kube.observed import to_state
from podnet.kube.read import read_cluster
from podnet.manifests import from_documents
from podnet.model.cluster import ClusterState


def _pod(name: str, ns: str, url: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["wget", url]}]},
    }


def _literal(findings: list[Finding]) -> dict[str, str]:
    return {f.object: f.message for f in findings if f.rule == "pod-ip-literal"}


def test_from_files_the_configured_pod_cidr() -> None:
    docs = [
        ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, Location("t", 1)),
        (_pod("old", "x", "http://10.244.7.9"), Location("t", 2)),
        (_pod("k3s", "x", "http://10.42.0.99"), Location("t", 3)),
    ]
    ctx = build_context(from_documents(docs))
    assert [str(n) for n in pod_networks(ctx.state)] == ["10.244.0.0/16"]
    found = _literal(check(ctx))
    assert list(found) == ["Pod/x/old"]
    assert (
        "10.244.7.9, an address in the pod network (10.244.0.0/16) no pod has now"
        in (found["Pod/x/old"])
    )


def _cluster(api: FakeApi, tmp: Path, nodes: Any = None) -> ClusterState:
    k3s(api)
    pods = copy.deepcopy(fixture("pods-page2.json"))
    for name, url in (("gone", "http://10.42.1.99:8080"), ("kind", "http://10.244.0.5")):
        p = _pod(name, "shop", url)
        p["spec"]["nodeName"] = "k3s-agent-1"
        p["status"] = {"phase": "Pending"}
        pods["items"].append(p)
    first = fixture("pods-page1.json")
    api.add("/api/v1/pods", pods, token=first["metadata"]["continue"])
    if nodes is not None:
        api.add("/api/v1/nodes", nodes)
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(
        f"clusters: [{{name: c, cluster: {{server: {api.url}}}}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
        "current-context: c\n"
    )
    with Client(load_config(str(kubeconfig), None)) as client:
        return to_state(read_cluster(client)).state


def test_from_cluster_the_nodes_pod_cidrs(api: FakeApi, tmp_path: Path) -> None:
    state = _cluster(api, tmp_path)
    assert [str(n) for n in pod_networks(state)] == ["10.42.0.0/23"]
    found = _literal(check(context_for_state(state)))
    assert "Pod/shop/kind" not in found  # 10.244.0.5 is not this cluster's pod network
    assert (
        "10.42.1.99, an address in the pod network (10.42.0.0/23) no pod has now"
        in (found["Pod/shop/gone"])
    )


def test_nodes_without_pod_cidrs_flag_only_current_pod_ips(api: FakeApi, tmp_path: Path) -> None:
    nodes = copy.deepcopy(fixture("nodes.json"))
    for n in nodes["items"]:
        n["spec"].pop("podCIDR", None)
        n["spec"].pop("podCIDRs", None)
    state = _cluster(api, tmp_path, nodes)
    assert pod_networks(state) == ()
    found = _literal(check(context_for_state(state)))
    assert "Pod/shop/gone" not in found and "Pod/shop/kind" not in found
