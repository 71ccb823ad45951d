"""``podnet analyze`` in-process: the JSON contract, the table, --all, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podnet.cli.main import main

MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x, labels: {app: a}}
spec:
  containers:
  - {name: web, image: docker.io/library/nginx:1.25}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: x, labels: {app: b}}
spec:
  containers:
  - name: srv
    image: busybox
    ports: [{containerPort: 8080, name: http}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-a, namespace: x}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: a}}}]
    ports: [{port: http}]
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    f = tmp_path / "m.yaml"
    f.write_text(MANIFEST)
    return f


def test_json_contract(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", str(manifest), "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(p["namespace"], p["name"]) for p in data["pods"]] == [("x", "a"), ("x", "b")]
    assert set(data["pods"][0]) == {"namespace", "name", "ip", "node"}
    conns = {(c["from"], c["to"], c["port"], c["protocol"]): c for c in data["connections"]}
    assert set(conns) == {("x/a", "x/b", 8080, "TCP"), ("x/b", "x/a", 80, "TCP")}
    assert conns[("x/a", "x/b", 8080, "TCP")]["allowed"] is True
    assert conns[("x/b", "x/a", 80, "TCP")]["allowed"] is True
    assert conns[("x/a", "x/b", 8080, "TCP")]["reason"].startswith("allowed: ")
    assert set(data["connections"][0]) == {"from", "to", "port", "protocol", "allowed", "reason"}


def test_all_includes_system_pods(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", str(manifest), "-o", "json", "--all"]) == 0
    data = json.loads(capsys.readouterr().out)
    names = {f"{p['namespace']}/{p['name']}" for p in data["pods"]}
    assert any(n.startswith("kube-system/coredns-") for n in names)
    denied = [c for c in data["connections"] if not c["allowed"]]
    assert {(c["from"], c["to"]) for c in denied} == {("kube-system/coredns-0", "x/b")}
    assert "x/only-a" in denied[0]["reason"]


def test_table(manifest: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "-f", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "8080/TCP" in out and "80/TCP" in out and "only-a" in out
    assert "\x1b[" not in out  # no colour when not a terminal
    assert max(len(line) for line in out.splitlines()) <= 80


def test_bad_manifest_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name}\nspec: {containers: []}\n")
    assert main(["analyze", "-f", str(f)]) == 1
    assert "error:" in capsys.readouterr().err


def test_big_cluster_falls_back_to_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
        "  replicas: 30\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: w, image: nginx}]}\n"
    )
    assert main(["analyze", "-f", str(f)]) == 0
    out = capsys.readouterr().out
    assert "default/web-" in out and "(30 pods)" in out and "870/870" in out


def test_big_table_fits_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = [MANIFEST]
    for i in range(40):
        docs.append(
            "apiVersion: v1\nkind: Pod\n"
            f"metadata: {{name: p{i}, namespace: x, labels: {{n: '{i}'}}}}\n"
            "spec: {containers: [{name: w, image: nginx}]}\n"
        )
    docs.append(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: some-quite-long-policy-name-for-width, namespace: x}\nspec:\n"
        "  podSelector: {matchExpressions: [{key: n, operator: In, values: ['1', '2', '3']}]}\n"
        "  ingress: [{from: [{podSelector: {matchLabels: {n: '4'}}}]}]\n"
    )
    f = tmp_path / "wide.yaml"
    f.write_text("---\n".join(docs))
    assert main(["analyze", "-f", str(f)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines), [ln for ln in lines if len(ln) > 80]
    assert any(line.startswith("TO ") for line in lines)


def test_streamed_json_equals_to_json(manifest: Path) -> None:
    import io

    from podnet.analyze.matrix import compute_matrix
    from podnet.analyze.matrix_format import to_json, write_json
    from podnet.control.cluster import build_cluster
    from podnet.manifests import load_paths

    state = build_cluster(load_paths([str(manifest)]))
    m = compute_matrix(state)
    buf = io.StringIO()
    write_json(m, state.pods, buf)
    assert json.loads(buf.getvalue()) == to_json(m, state.pods)


def test_pending_and_daemonset_pods(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "p.yaml"
    f.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
        "spec: {containers: [{name: w, image: nginx}]}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
        "spec: {nodeSelector: {disk: ssd}, containers: [{name: w, image: nginx}]}\n---\n"
        "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n"
        "  selector: {matchLabels: {app: agent}}\n  template:\n"
        "    metadata: {labels: {app: agent}}\n"
        "    spec: {containers: [{name: a, image: busybox, ports: [{containerPort: 9100}]}]}\n"
    )
    assert main(["analyze", "-f", str(f), "--nodes", "2", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    pods = {p["name"]: p for p in data["pods"]}
    assert pods["b"]["ip"] is None and pods["b"]["node"] is None
    assert sum(n.startswith("agent-") for n in pods) == 2
    assert len(data["connections"]) == 6
    assert all("default/b" not in (c["from"], c["to"]) for c in data["connections"])
    assert main(["analyze", "-f", str(f), "--nodes", "2"]) == 0
    assert "pending (not scheduled, no IP, in no connection): default/b" in capsys.readouterr().out
