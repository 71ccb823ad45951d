"""``podnet diff`` in-process: exit 1 on changes, 0 without."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.paths import REPO

from podnet.cli.main import main

SHOP = REPO / "examples/shop"
OLD = ["-f", str(SHOP / "base"), "-f", str(SHOP / "broken")]


def test_changes_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", *OLD, "--to", str(SHOP / "base"), str(SHOP / "fixed")]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Connections: 8 opened, 0 closed")
    assert "+opened" in out and "Services removed:" in out


def test_json_and_no_change(capsys: pytest.CaptureFixture[str]) -> None:
    new = ["--to", str(SHOP / "base"), "--to", str(SHOP / "broken")]
    assert main(["diff", *OLD, *new, "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False


def test_added_cluster_policy_is_a_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pods = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {app: a}}\n"
        "spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}\n"
        "---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {app: b}}\n"
        "spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}\n"
    )
    banp = (
        "---\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "kind: BaselineAdminNetworkPolicy\nmetadata: {name: default}\n"
        "spec:\n  subject: {namespaces: {}}\n"
        "  ingress: [{action: Deny, from: [{namespaces: {}}]}]\n"
    )
    (tmp_path / "old.yaml").write_text(pods)
    (tmp_path / "new.yaml").write_text(pods + banp)
    argv = ["diff", "-f", str(tmp_path / "old.yaml"), "--to", str(tmp_path / "new.yaml")]
    assert main([*argv, "-o", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["cluster_policies"]["added"] == ["BaselineAdminNetworkPolicy/default"]
    assert {c["denied_by"] for c in data["closed"]} == {"BaselineAdminNetworkPolicy/default"}
    closed = len(data["closed"])
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert f"BaselineAdminNetworkPolicy/default (closes {closed} connections)" in out
