"""``podnet report`` in-process: writes one HTML file."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.main import main

ROOT = REPO


def test_writes_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    rc = main(
        ["report", "-f", str(ROOT / "examples/seed/pod-to-service.yaml"), "--output", str(out)]
    )
    assert rc == 0
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and "default/my-service" in html
    assert "wrote" in capsys.readouterr().err


def test_unwritable_output_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "r.html"
    rc = main(
        ["report", "-f", str(ROOT / "examples/seed/pod-to-service.yaml"), "--output", str(target)]
    )
    assert rc == 1 and capsys.readouterr().err.startswith("error: cannot write")


ANP = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {app: client}}
spec:
  containers: [{name: c, image: busybox, command: [sleep, 1d]}]
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: deny-in}
spec:
  tier: Admin
  priority: 7
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}}
  ingress: [{name: all, action: Deny, from: [{namespaces: {}}]}]
"""


def test_cluster_policies_section(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(ANP)
    out = tmp_path / "r.html"
    assert main(["report", "-f", str(tmp_path / "m.yaml"), "--output", str(out)]) == 0
    html = out.read_text()
    assert "ClusterNetworkPolicy/deny-in" in html
    assert "ingress #0 (all): Deny from namespaces &lt;all&gt; on every port" in html
    assert "[Admin, Deny]" in html  # a cell's explanation names the tier and rule
