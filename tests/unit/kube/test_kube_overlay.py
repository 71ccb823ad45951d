"""``diff --from-cluster --to FILES``: the recorded k3s cluster after applying files."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from support.recorded_api import FakeApi, k3s

from podnet.analyze.diff import compute_diff
from podnet.kube.client import Client
from podnet.kube.config import KubeConfig
from podnet.kube.observed import Observed, to_state
from podnet.kube.overlay import apply_files
from podnet.kube.read import read_cluster
from podnet.manifests import load_paths

ALLOW_LOADGEN = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-ingress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
    - podSelector: {matchLabels: {app: loadgen}}
    ports: [{protocol: TCP, port: 8080}]
"""
NEW_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: frontend, namespace: shop}
spec:
  selector: {app: frontend}
  ports: [{port: 80}]
"""


def _observed(api: FakeApi) -> Observed:
    k3s(api)
    with Client(KubeConfig(server=api.url, context="k3s")) as client:
        return to_state(read_cluster(client))


def test_changing_a_policy_opens_what_it_now_allows(api: FakeApi, tmp_path: Path) -> None:
    observed = _observed(api)
    (tmp_path / "p.yaml").write_text(ALLOW_LOADGEN)
    new = apply_files(observed.state, observed.ready, load_paths([str(tmp_path / "p.yaml")]))
    d = compute_diff(observed.state, new)
    opened = {(c.src, c.dst, c.port) for c in d.connections if c.opened}
    # the terminating pod still runs and still answers: it is opened to as well
    assert opened == {
        ("shop/loadgen", "shop/api-58d9b7f4c6-9xwqk", 8080),
        ("shop/loadgen", "shop/api-58d9b7f4c6-q2v8t", 8080),
    }
    assert not [c for c in d.connections if not c.opened] and not d.endpoints


def test_new_pods_get_free_addresses_of_the_nodes_pod_cidrs(api: FakeApi, tmp_path: Path) -> None:
    observed = _observed(api)
    (tmp_path / "d.yaml").write_text(NEW_DEPLOYMENT)
    new = apply_files(observed.state, observed.ready, load_paths([str(tmp_path / "d.yaml")]))
    frontends = [p for p in new.pods if p.owner == "Deployment/frontend"]
    assert len(frontends) == 2
    used = {p.ip for p in observed.state.pods}
    for p in frontends:
        assert p.ip is not None and p.ip not in used
        assert ipaddress.ip_address(p.ip) in ipaddress.ip_network("10.42.0.0/16")
    # the least used node first: k3s-server runs 1 pod, k3s-agent-1 runs 3
    assert [p.node for p in frontends] == ["k3s-server", "k3s-server"]
    svc = new.service("shop/frontend")
    assert svc is not None and svc.cluster_ip is not None
    assert ipaddress.ip_address(svc.cluster_ip) in ipaddress.ip_network("10.43.0.0/16")
    assert len(new.endpoints["shop/frontend"][""]) == 2
    # everything else stays as observed
    assert {p.key: p.ip for p in new.pods if p.owner != "Deployment/frontend"} == {
        p.key: p.ip for p in observed.state.pods
    }
