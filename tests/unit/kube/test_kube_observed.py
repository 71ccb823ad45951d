"""A recorded k3s cluster (10.42/16 pods, 10.43/16 services, dual-stack, two pages of
pods) read and turned into podnet's model: observed IPs, nodes, readiness and
ClusterIPs win; host-network, finished and IPv6-only pods handled; cluster policy CRDs
absent (404) or present; and the verbs on top through a kubeconfig."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import yaml
from support.recorded_api import FakeApi, fixture, k3s

from podnet.cli.main import main
from podnet.kube.client import Client
from podnet.kube.config import KubeConfig
from podnet.kube.observed import to_state
from podnet.kube.read import read_cluster

API = "shop/api-58d9b7f4c6-9xwqk"
TERMINATING = "shop/api-58d9b7f4c6-q2v8t"


def _read(api: FakeApi, namespace: str | None = None):  # type: ignore[no-untyped-def]
    with Client(KubeConfig(server=api.url, context="k3s")) as client:
        return to_state(read_cluster(client, namespace))


def test_observed_facts_replace_computed_ones(api: FakeApi) -> None:
    k3s(api)
    observed = _read(api)
    state = observed.state
    pods = {p.key: p for p in state.pods}
    assert sorted(pods) == sorted(
        [API, TERMINATING, "shop/web-pending", "shop/loadgen", "shop/v6only"]
    )  # the host-network svclb pod and the Succeeded job pod are left out
    api_pod = pods[API]
    assert (api_pod.ip, api_pod.node, api_pod.owner) == (
        "10.42.0.7",
        "k3s-server",
        "Deployment/api",
    )
    assert pods["shop/web-pending"].ip is None and pods["shop/web-pending"].node is None
    assert pods["shop/v6only"].ip is None  # dual-stack keeps IPv4; IPv6-only has none here
    assert observed.ready[TERMINATING] is False and observed.ready[API] is True
    nodes = {n.name: (n.pod_cidr, n.address) for n in state.nodes}
    assert nodes == {
        "k3s-server": ("10.42.0.0/24", "192.168.5.10"),
        "k3s-agent-1": ("10.42.1.0/24", "192.168.5.11"),
    }
    ips = {s.key: s.cluster_ip for s in state.services}
    assert ips == {
        "default/kubernetes": "10.43.0.1",
        "shop/api": "10.43.12.5",
        "shop/legacy-db": "10.43.99.2",
    }
    api_eps = state.endpoints["shop/api"]["http"]
    assert [(e.pod, e.ip, e.port) for e in api_eps] == [(API, "10.42.0.7", 8080)]
    legacy = state.endpoints["shop/legacy-db"]["pg"]
    assert [(e.pod, e.ip, e.port) for e in legacy] == [("shop/loadgen", "10.42.1.9", 5432)]
    assert [p.key for p in state.policies] == ["shop/api-ingress"]
    assert state.cluster_policies == ()
    warnings = " | ".join(state.warnings)
    assert "1 host-network pod(s) left out" in warnings
    assert "1 finished pod(s)" in warnings and "1 IPv6-only pod(s)" in warnings
    ns_labels = state.namespace_labels()
    assert ns_labels["shop"] == {"kubernetes.io/metadata.name": "shop", "team": "web"}
    # the pods came in two pages; the policy CRD group was looked up once, not listed
    paths = [p for p, _, _ in api.seen]
    assert paths.count("/api/v1/pods") == 2
    assert "/apis/policy.networking.k8s.io" in paths
    assert not any("adminnetworkpolicies" in p for p in paths)


def test_one_namespace_reads_namespaced_paths(api: FakeApi) -> None:
    k3s(api)
    api.add("/api/v1/namespaces/shop", fixture("namespaces.json")["items"][2])
    for (path, token), (_, body) in list(api.routes.items()):
        if path.rpartition("/")[2] in ("pods", "services", "endpointslices"):
            group, _, plural = path.rpartition("/")
            api.add(f"{group}/namespaces/shop/{plural}", body, token=token)
    api.add(
        "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies",
        fixture("networkpolicies.json"),
    )
    state = _read(api, "shop").state
    assert [n.name for n in state.namespaces if n.meta and n.meta.location] == ["shop"]
    assert "/api/v1/namespaces" not in [p for p, _, _ in api.seen]


def test_cluster_policies_are_read_when_the_crds_are_installed(api: FakeApi) -> None:
    k3s(api)
    api.add("/apis/policy.networking.k8s.io", fixture("policy-group.json"))
    api.add("/apis/policy.networking.k8s.io/v1alpha1", fixture("policy-v1alpha1-resources.json"))
    base = "/apis/policy.networking.k8s.io/v1alpha1/"
    api.add(base + "adminnetworkpolicies", fixture("adminnetworkpolicies.json"))
    api.add(base + "baselineadminnetworkpolicies", fixture("baselineadminnetworkpolicies.json"))
    state = _read(api).state
    assert [c.key for c in state.cluster_policies] == ["AdminNetworkPolicy/deny-loadgen-to-api"]
    assert not any("clusternetworkpolicies" in p for p, _, _ in api.seen)  # not served


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _kubeconfig(tmp: Path, url: str) -> str:
    path = tmp / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "current-context": "k3s",
                "clusters": [{"name": "k3s", "cluster": {"server": url}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "k3s", "context": {"cluster": "k3s", "user": "u"}}],
            }
        )
    )
    return str(path)


def test_verbs_from_the_recorded_cluster(api: FakeApi, tmp_path: Path) -> None:
    k3s(api)
    kc = _kubeconfig(tmp_path, api.url)
    rc, out, err = _cli("explain", "--from-cluster", "--kubeconfig", kc, "shop/loadgen", "api")
    assert rc == 1 and "10.43.12.5" in out and "denied" in out, out + err
    assert "warning: 1 host-network pod(s) left out" in err
    rc, out, _ = _cli("analyze", "--from-cluster", "--kubeconfig", kc, "-o", "json")
    pods = {p["name"]: p["ip"] for p in json.loads(out)["pods"]}
    assert rc == 0 and pods["loadgen"] == "10.42.1.9" and pods["web-pending"] is None
    with pytest.raises(SystemExit) as usage:  # argparse's usage error: exit 2
        _cli("analyze", "--from-cluster", "-f", "x.yaml", "--kubeconfig", kc)
    assert usage.value.code == 2


def test_a_403_stops_the_verb_with_the_permission(api: FakeApi, tmp_path: Path) -> None:
    k3s(api)
    api.add("/api/v1/pods", fixture("forbidden-pods.json"), status=403)
    rc, out, err = _cli("lint", "--from-cluster", "--kubeconfig", _kubeconfig(tmp_path, api.url))
    assert rc == 2 and out == ""  # lint: 2 when it could not run (1 is findings)
    assert err.startswith("error: cannot list pods cluster-wide: needs get/list on pods"), err
