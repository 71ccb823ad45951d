"""The cluster admin's policies are modelled kinds: no "not modelled; skipped" warning
from the loader, nor from ``podnet analyze`` (what the engine does with them is tested
with the engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podnet.cli.main import main
from podnet.manifests import from_documents, parse_text

POLICIES = """\
apiVersion: policy.networking.k8s.io/v1alpha1
kind: AdminNetworkPolicy
metadata: {name: deny-all}
spec:
  priority: 1
  subject: {namespaces: {}}
  ingress: [{action: Deny, from: [{namespaces: {}}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha1
kind: BaselineAdminNetworkPolicy
metadata: {name: default}
spec:
  subject: {namespaces: {}}
  egress: [{action: Deny, to: [{networks: ["0.0.0.0/0"]}]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: pass}
spec:
  tier: Admin
  priority: 0
  subject: {namespaces: {}}
  ingress: [{action: Pass, from: [{namespaces: {}}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: busybox}]}
"""
CONFIG_MAP = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"


def test_loader_does_not_skip_them() -> None:
    m = from_documents(parse_text(POLICIES + CONFIG_MAP, "anp.yaml"))
    assert len(m.cluster_policies) == 3
    # Only the ConfigMap is skipped: the control that the warning exists at all.
    assert [w for w in m.warnings if "not modelled" in w] == [
        "anp.yaml:30: ConfigMap/c: kind ConfigMap (v1) is not modelled by podnet; skipped"
    ]


def test_analyze_does_not_warn_unknown_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "anp.yaml"
    f.write_text(POLICIES)
    assert main(["analyze", "-f", str(f)]) == 0
    err = capsys.readouterr().err
    assert "not modelled" not in err and "unknown kind" not in err.lower()
    assert "AdminNetworkPolicy" not in err
