"""helm against `podnet up` (issue 10: "a helm chart installs and uninstalls"): a chart
with a Deployment, a Service and a NetworkPolicy through install --wait, upgrade,
rollback and uninstall --wait, with helm 3 (v3.8) and helm 4."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.kube import UpCluster, eventually, helm_path, podnet_up
from support.live import require_live

pytestmark = pytest.mark.kernel

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
    "values.yaml": "replicas: 2\n",
    "templates/deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}-web}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}-web}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}-web}}
    spec:
      containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
""",
    "templates/service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}-web}
spec:
  selector: {app: {{ .Release.Name }}-web}
  ports: [{port: 80}]
""",
    "templates/netpol.yaml": """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: {{ .Release.Name }}-web}
spec:
  podSelector: {matchLabels: {app: {{ .Release.Name }}-web}}
  ingress: [{ports: [{port: 80}]}]
""",
}


def _chart(tmp: Path) -> Path:
    root = tmp / "chart"
    for name, text in CHART.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _helm(up: UpCluster, version: str, *args: str) -> str:
    env = {
        **os.environ,
        "KUBECONFIG": str(up.kubeconfig),
        "HOME": str(up.kubeconfig.parent),
        "HELM_CACHE_HOME": str(up.kubeconfig.parent / "helm-cache"),
        "HELM_CONFIG_HOME": str(up.kubeconfig.parent / "helm-config"),
        "HELM_DATA_HOME": str(up.kubeconfig.parent / "helm-data"),
    }
    done = subprocess.run(
        [str(helm_path(version)), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"helm {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.parametrize("version", ["3", "4"])
def test_helm_chart_lifecycle(tmp_path: Path, version: str) -> None:
    require_live()
    chart = _chart(tmp_path)
    with podnet_up(tmp_path, "--nodes", "2") as up:
        k = up.kubectl("1.37")
        _helm(up, version, "install", "r1", str(chart), "--wait", "--timeout", "60s")
        deploy = k.json("get", "deploy", "r1-web")
        assert deploy["status"]["readyReplicas"] == 2, deploy["status"]
        assert k.json("get", "netpol", "r1-web")["spec"]["podSelector"]
        _helm(up, version, "upgrade", "r1", str(chart), "--set", "replicas=3", "--wait",
              "--timeout", "60s")  # fmt: skip
        assert k.json("get", "deploy", "r1-web")["status"]["readyReplicas"] == 3
        _helm(up, version, "rollback", "r1", "1", "--wait", "--timeout", "60s")
        eventually(
            lambda: k.json("get", "deploy", "r1-web")["spec"]["replicas"] == 2, 30, "rolled back"
        )
        history = _helm(up, version, "history", "r1")
        assert len([ln for ln in history.splitlines()[1:] if ln.strip()]) == 3, history
        _helm(up, version, "uninstall", "r1", "--wait", "--timeout", "60s")
        assert (
            k.json("get", "deploy,svc,netpol", "-l", "app.kubernetes.io/managed-by")["items"] == []
        )
        assert "r1-web" not in k.ok("get", "deploy,svc,netpol", "-o", "name")
        eventually(
            lambda: not [p for p in k.json("get", "pods")["items"]
                         if p["metadata"]["name"].startswith("r1-web")],
            60, "the release's pods gone",
        )  # fmt: skip
        rc, err = up.stop()
    assert rc == 0, err
