"""Real clients against the API server: kubectl 1.20 and 1.37, and the Python
``kubernetes`` client, over HTTPS with the kubeconfig podnet writes.

A ServerThread over Registry(MemoryStore()) on 127.0.0.1 (no controllers, no pods
running); every subprocess is bounded in time.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.paths import REPO

from podnet.apiserver import auth, certs, kubeconfig, resources
from podnet.apiserver.http.app import ServerThread
from podnet.apiserver.registry import Registry
from podnet.apiserver.store.memory import MemoryStore

TOOLS = REPO / ".tools" / "bin"
VERSIONS = ("1.20", "1.37")
NAMESPACES = resources.RESOURCES[0]


@dataclass
class Cluster:
    port: int
    config: Path
    home: Path

    def kubectl(
        self, version: str, *args: str, stdin: str | None = None, timeout: float = 30.0
    ) -> subprocess.CompletedProcess[str]:
        binary = TOOLS / f"kubectl-{version}"
        if not os.access(binary, os.X_OK):
            pytest.skip(f"{binary} missing: ./dev.sh installs it (install_clients)")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.config),
        }
        return subprocess.run(
            [str(binary), "--cache-dir", str(self.home / f"cache-{version}"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )

    def ok(self, version: str, *args: str, stdin: str | None = None) -> str:
        done = self.kubectl(version, *args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    data = tmp_path / "data"
    tls = certs.ensure(data)
    token = auth.ensure_token(data)
    store = MemoryStore()
    registry = Registry(store)
    for ns in ("default", "kube-system"):
        registry.create(NAMESPACES, None, {"metadata": {"name": ns}})
    server = ServerThread(registry, tls=tls, authenticator=auth.Authenticator(token))
    port = server.start()
    home = tmp_path / "home"
    home.mkdir()
    config = home / "config"
    kubeconfig.install("test", f"https://127.0.0.1:{port}", tls, token, config)
    try:
        yield Cluster(port, config, home)
    finally:
        server.stop()
        store.close()


CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  color: blue
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_namespaces(version: str, cluster: Cluster) -> None:
    out = cluster.ok(version, "get", "ns")
    assert out.split("\n")[0].split() == ["NAME", "STATUS", "AGE"]
    assert [line.split()[:2] for line in out.strip().split("\n")[1:]] == [
        ["default", "Active"],
        ["kube-system", "Active"],
    ]
    assert cluster.ok(version, "create", "namespace", "x").strip() == "namespace/x created"
    done = cluster.kubectl(version, "create", "namespace", "x")
    assert done.returncode == 1
    assert 'Error from server (AlreadyExists): namespaces "x" already exists' in done.stderr


@pytest.mark.parametrize("version", VERSIONS)
def test_apply_get_label_patch_delete(version: str, cluster: Cluster) -> None:
    out = cluster.ok(version, "apply", "-f", "-", stdin=CONFIGMAP + "---\n" + SERVICE)
    assert out.split("\n")[:2] == ["configmap/settings created", "service/web created"]
    out = cluster.ok(version, "apply", "-f", "-", stdin=CONFIGMAP.replace("blue", "green"))
    assert out.strip() == "configmap/settings configured"
    out = cluster.ok(version, "apply", "-f", "-", stdin=SERVICE)
    assert out.strip() == "service/web unchanged"

    got = yaml.safe_load(cluster.ok(version, "get", "cm", "settings", "-o", "yaml"))
    assert got["data"] == {"color": "green"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]

    wide = cluster.ok(version, "get", "svc", "-o", "wide").strip().split("\n")
    assert wide[0].split() == [
        "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR",
    ]  # fmt: skip
    row = wide[1].split()
    assert row[0:2] == ["web", "ClusterIP"] and row[4] == "80/TCP" and row[6] == "app=web"

    assert cluster.ok(version, "label", "cm", "settings", "tier=x").strip() == (
        "configmap/settings labeled"
    )
    out = cluster.ok(version, "get", "cm", "-l", "tier=x", "-o", "name")
    assert out.strip() == "configmap/settings"

    for kind, patch in (
        ("strategic", '{"data":{"a":"1"}}'),
        ("merge", '{"data":{"b":"2"}}'),
        ("json", '[{"op":"add","path":"/data/c","value":"3"}]'),
    ):
        out = cluster.ok(version, "patch", "cm", "settings", "--type", kind, "-p", patch)
        assert out.strip() == "configmap/settings patched", kind
    got = json.loads(cluster.ok(version, "get", "cm", "settings", "-o", "json"))
    assert got["data"] == {"color": "green", "a": "1", "b": "2", "c": "3"}

    out = cluster.ok(version, "delete", "cm", "settings")
    where = " from default namespace" if version != "1.20" else ""  # kubectl 1.32+ wording
    assert out.strip() == f'configmap "settings" deleted{where}'
    done = cluster.kubectl(version, "get", "cm", "settings")
    assert done.returncode == 1
    assert 'Error from server (NotFound): configmaps "settings" not found' in done.stderr
    assert cluster.ok(version, "delete", "svc", "web").strip() == f'service "web" deleted{where}'


@pytest.mark.parametrize("version", VERSIONS)
def test_get_watch_sees_a_change(version: str, cluster: Cluster) -> None:
    cluster.ok(version, "apply", "-f", "-", stdin=CONFIGMAP)
    binary = TOOLS / f"kubectl-{version}"
    if not os.access(binary, os.X_OK):
        pytest.skip(f"{binary} missing")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cluster.home)}
    env["KUBECONFIG"] = str(cluster.config)
    argv = [str(binary), "--cache-dir", str(cluster.home / "cache-w"), "get", "cm", "-w"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        try:
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first.split() == ["NAME", "DATA", "AGE"]
            assert proc.stdout.readline().split()[:2] == ["settings", "1"]
            time.sleep(0.3)
            cluster.ok(version, "label", "cm", "settings", "seen=yes")
            patched = '{"data":{"x":"1"}}'
            cluster.ok(version, "patch", "cm", "settings", "-p", patched)
            deadline = time.monotonic() + 10
            rows: list[list[str]] = []
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                rows.append(line.split())
                if line.split()[:2] == ["settings", "2"]:
                    break
            assert rows[-1][:2] == ["settings", "2"], rows
        finally:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize("version", VERSIONS)
def test_without_credentials_is_unauthorized(version: str, cluster: Cluster) -> None:
    config = yaml.safe_load(cluster.config.read_text())
    # a user with no credentials makes kubectl prompt for a password: a wrong token
    config["users"][0]["user"] = {"token": "0" * 64}
    cluster.config.write_text(yaml.safe_dump(config))
    done = cluster.kubectl(version, "get", "pods")
    assert done.returncode == 1
    # 1.20 prints the Status message; 1.37 fails in discovery, which reads the raw body
    # and words a 401 itself ("the server has asked for the client to provide
    # credentials"), as against any kube-apiserver
    assert "error: You must be logged in to the server (" in done.stderr
    assert ("(Unauthorized)" in done.stderr) == (version == "1.20")


def test_python_client_lists_and_creates(cluster: Cluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    api_client = kubernetes.config.new_client_from_config(config_file=str(cluster.config))
    try:
        core = kubernetes.client.CoreV1Api(api_client)
        names = [ns.metadata.name for ns in core.list_namespace().items]
        assert names == ["default", "kube-system"]
        body: dict[str, Any] = {"metadata": {"name": "py"}, "data": {"k": "v"}}
        created = core.create_namespaced_config_map("default", body)
        assert created.metadata.name == "py" and created.metadata.resource_version
        listed = core.list_namespaced_config_map("default")
        assert [c.metadata.name for c in listed.items] == ["py"]
        with pytest.raises(kubernetes.client.ApiException) as e:
            core.read_namespaced_config_map("nope", "default")
        assert e.value.status == 404
        assert json.loads(e.value.body)["reason"] == "NotFound"
    finally:
        api_client.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_create_commands(version: str, cluster: Cluster) -> None:
    """kubectl's typed clients: JSON bodies from 1.20, protobuf bodies from 1.37."""
    out = cluster.ok(version, "create", "configmap", "c", "--from-literal=a=b")
    assert out.strip() == "configmap/c created"
    cluster.ok(version, "create", "secret", "generic", "s", "--from-literal=p=q")
    secret = json.loads(cluster.ok(version, "get", "secret", "s", "-o", "json"))
    assert secret["data"] == {"p": "cQ=="}  # base64 of "q"
    cluster.ok(version, "create", "service", "clusterip", "svc", "--tcp=80:8080")
    svc = json.loads(cluster.ok(version, "get", "svc", "svc", "-o", "json"))
    assert svc["spec"]["ports"][0]["port"] == 80
    assert svc["spec"]["ports"][0]["targetPort"] == 8080
    assert svc["metadata"]["labels"] == {"app": "svc"}
    if version != "1.20":  # 1.20's create deployment has no --replicas
        cluster.ok(version, "create", "deployment", "web", "--image=nginx", "--replicas=0")
        deploy = json.loads(cluster.ok(version, "get", "deploy", "web", "-o", "json"))
        assert deploy["spec"]["replicas"] == 0  # a pointer field set to zero stays
        assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
