"""``diff`` and ``report`` with the cluster admin's policies: listed as changed objects,
with the connections their rules close or open, and explained by tier."""

from __future__ import annotations

from pathlib import Path

from podnet.analyze.diff import compute_diff
from podnet.analyze.diff_format import format_text, to_dict
from podnet.analyze.report.data import build_report_data, cell_text
from podnet.analyze.report.page import render_report
from podnet.control.cluster import build_cluster
from podnet.manifests import load_paths
from podnet.model.cluster import ClusterState

APP = """\
apiVersion: v1
kind: Namespace
metadata: {name: app}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: app}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: app, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox, command: [sleep, 1d]}]
"""
DENY = """\
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-client}
spec:
  priority: 3
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress:
    - name: no-client
      action: Deny
      from: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}]
"""


def cluster(tmp_path: Path, name: str, text: str) -> ClusterState:
    (tmp_path / name).write_text(text)
    return build_cluster(load_paths([str(tmp_path / name)]))


def test_added_anp_is_listed_with_what_it_closes(tmp_path: Path) -> None:
    d = compute_diff(cluster(tmp_path, "a.yaml", APP), cluster(tmp_path, "b.yaml", APP + DENY))
    assert d.cluster_policies_added == ("AdminNetworkPolicy/deny-client",)
    assert [c.src for c in d.closed] == ["app/client", "app/client"] and not d.opened
    assert {c.denied_by for c in d.closed} == {"AdminNetworkPolicy/deny-client"}
    assert "[Admin, Deny]" in d.closed[0].reason and d.closed[0].was.startswith("allowed")
    text = format_text(d, wide=True)
    assert (
        "Cluster policies added:\n  AdminNetworkPolicy/deny-client (closes 2 connections)" in text
    )
    assert "was: allowed" in text
    assert to_dict(d)["cluster_policies"]["added"] == ["AdminNetworkPolicy/deny-client"]


def test_removed_anp_opens_and_an_edit_is_a_change(tmp_path: Path) -> None:
    with_deny = cluster(tmp_path, "b.yaml", APP + DENY)
    d = compute_diff(with_deny, cluster(tmp_path, "a.yaml", APP))
    assert d.cluster_policies_removed == ("AdminNetworkPolicy/deny-client",)
    assert d.closes_and_opens("AdminNetworkPolicy/deny-client") == (0, 2)
    assert "AdminNetworkPolicy/deny-client (opens 2 connections)" in format_text(d)
    edited = cluster(tmp_path, "c.yaml", APP + DENY.replace("priority: 3", "priority: 4"))
    e = compute_diff(with_deny, edited)
    assert e.changed and e.cluster_policies_changed == ("AdminNetworkPolicy/deny-client",)
    assert not e.connections
    # The same policy loaded from another file (another location) is no change.
    assert not compute_diff(with_deny, cluster(tmp_path, "d.yaml", APP + DENY)).changed


def test_report_lists_cluster_policies_and_explains_cells_by_tier(tmp_path: Path) -> None:
    state = cluster(tmp_path, "b.yaml", APP + DENY)
    data = build_report_data(state, [])
    [pol] = data["cluster_policies"]
    assert (pol["name"], pol["tier"], pol["priority"]) == (
        "AdminNetworkPolicy/deny-client",
        "Admin",
        3,
    )
    assert pol["subject"] == "pods app=web in namespaces <all>"
    assert pol["rules"] == [
        "ingress #0 (no-client): Deny from pods app=client in namespaces <all> on every port"
    ]
    assert pol["selects"] == ["app/deployment/web"]
    web = next(g for g in data["groups"] if g["id"] == "app/deployment/web")
    assert web["cluster_policies"] == ["AdminNetworkPolicy/deny-client"]
    cell = data["matrix"]["80/TCP"]["app/deployment/web"]["app/pod/client"]
    why = cell_text(data, cell)[1]
    assert cell[0] == "none" and "Admin tier" in why and "(no-client)" in why
    html = render_report(state, [], "t")
    assert "Cluster policies (Admin and Baseline tiers)" in html
    assert "ingress #0 (no-client): Deny from pods app=client" in html


def test_report_orders_tiers_and_says_allow_in_v1alpha1(tmp_path: Path) -> None:
    banp = """\
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress: [{action: Allow, to: [{networks: [10.0.0.0/8]}]}]
"""
    state = cluster(tmp_path, "b.yaml", APP + banp + DENY)
    rows = build_report_data(state, [])["cluster_policies"]
    assert [r["tier"] for r in rows] == ["Admin", "Baseline"]
    assert rows[1]["rules"] == ["egress #0: Allow to networks 10.0.0.0/8 on every port"]
    none = build_report_data(cluster(tmp_path, "a.yaml", APP), [])
    assert none["cluster_policies"] == []
    assert "NetworkPolicies alone decide" in render_report(cluster(tmp_path, "a.yaml", APP), [])
